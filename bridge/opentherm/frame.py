"""The OpenTherm 32-bit frame (OpenTherm v2.2, section 4.2).

Bit 31 is the parity bit (the frame as a whole has an even number of ones),
bits 30-28 the message type, bits 27-24 spare (always zero), bits 23-16 the
data-id and bits 15-0 the data value (high byte, low byte). A frame that
breaks any of these rules is rejected with a :class:`FrameError` whose
``reason`` says which; nothing is half-decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class MsgType(IntEnum):
    """The eight message types, with the specification's names."""

    READ_DATA = 0
    WRITE_DATA = 1
    INVALID_DATA = 2
    RESERVED = 3
    READ_ACK = 4
    WRITE_ACK = 5
    DATA_INVALID = 6
    UNKNOWN_DATAID = 7

    @property
    def spec_name(self) -> str:
        """The name as the specification writes it (``READ-DATA``)."""
        return self.name.replace("_", "-")

    @property
    def from_master(self) -> bool:
        """True for the types a master (thermostat) sends."""
        return self.value < 4


class Direction(StrEnum):
    """Who sent a frame."""

    MASTER_TO_SLAVE = "master-to-slave"
    SLAVE_TO_MASTER = "slave-to-master"


class FrameError(ValueError):
    """A frame that is not a valid OpenTherm frame.

    ``reason`` is a short machine-readable word: ``range`` (not 32 bits),
    ``parity``, ``spare`` (spare bits set), ``msg_type`` (a type that does not
    fit the direction, or the reserved type), ``format`` (text that is not
    eight hex digits).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parity_bit(frame_without_parity: int) -> int:
    """The parity bit that makes the 32-bit frame's count of ones even."""
    return (frame_without_parity & 0x7FFF_FFFF).bit_count() & 1


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded OpenTherm frame: message type, data-id and 16-bit value."""

    msg_type: MsgType
    data_id: int
    value: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.data_id <= 0xFF:
            raise FrameError("range", f"data-id {self.data_id} is outside 0-255")
        if not 0 <= self.value <= 0xFFFF:
            raise FrameError("range", f"data value {self.value} is outside 0-65535")

    @property
    def hb(self) -> int:
        """The data value's high byte."""
        return self.value >> 8

    @property
    def lb(self) -> int:
        """The data value's low byte."""
        return self.value & 0xFF

    def to_int(self) -> int:
        """The 32-bit frame with its parity bit set."""
        raw = (int(self.msg_type) << 28) | (self.data_id << 16) | self.value
        return raw | (parity_bit(raw) << 31)

    def to_hex(self) -> str:
        """Eight upper-case hex digits, as OTGW monitor lines write frames."""
        return f"{self.to_int():08X}"

    @classmethod
    def from_int(cls, raw: int, *, direction: Direction | None = None) -> Frame:
        """Decode a 32-bit frame, checking parity, spare bits and message type.

        With ``direction``, a message type that the sender cannot send (a
        slave answering READ-DATA, a master sending READ-ACK) is rejected.
        """
        if not 0 <= raw <= 0xFFFF_FFFF:
            raise FrameError("range", f"frame {raw:#x} is not 32 bits")
        if raw.bit_count() & 1:
            raise FrameError("parity", f"frame {raw:08X} has odd parity")
        if raw & 0x0F00_0000:
            raise FrameError("spare", f"frame {raw:08X} has spare bits set")
        msg_type = MsgType((raw >> 28) & 0x7)
        if msg_type is MsgType.RESERVED:
            raise FrameError("msg_type", f"frame {raw:08X} uses the reserved message type")
        if direction is Direction.MASTER_TO_SLAVE and not msg_type.from_master:
            raise FrameError(
                "msg_type", f"{msg_type.spec_name} cannot be sent by a master (frame {raw:08X})"
            )
        if direction is Direction.SLAVE_TO_MASTER and msg_type.from_master:
            raise FrameError(
                "msg_type", f"{msg_type.spec_name} cannot be sent by a slave (frame {raw:08X})"
            )
        return cls(msg_type, (raw >> 16) & 0xFF, raw & 0xFFFF)

    @classmethod
    def from_hex(cls, text: str, *, direction: Direction | None = None) -> Frame:
        """Decode eight hex digits (``80000200``)."""
        text = text.strip()
        if len(text) != 8 or any(c not in "0123456789abcdefABCDEF" for c in text):
            raise FrameError("format", f"{text!r} is not eight hex digits")
        return cls.from_int(int(text, 16), direction=direction)


# The answers a slave may give to each request type (v2.2, section 4.4).
ALLOWED_ANSWERS: dict[MsgType, frozenset[MsgType]] = {
    MsgType.READ_DATA: frozenset({MsgType.READ_ACK, MsgType.DATA_INVALID, MsgType.UNKNOWN_DATAID}),
    MsgType.WRITE_DATA: frozenset(
        {MsgType.WRITE_ACK, MsgType.DATA_INVALID, MsgType.UNKNOWN_DATAID}
    ),
    MsgType.INVALID_DATA: frozenset({MsgType.DATA_INVALID, MsgType.UNKNOWN_DATAID}),
}


def check_answer(request: Frame, answer: Frame) -> None:
    """Raise :class:`FrameError` unless ``answer`` is a valid reply to ``request``.

    The reply must carry the same data-id and a message type allowed for the
    request; ID 0 must be answered with READ-ACK.
    """
    allowed = ALLOWED_ANSWERS.get(request.msg_type)
    if allowed is None:
        raise FrameError("msg_type", f"{request.msg_type.spec_name} is not a request")
    if answer.data_id != request.data_id:
        raise FrameError(
            "data_id", f"answer for id {answer.data_id} to a request for id {request.data_id}"
        )
    if answer.msg_type not in allowed:
        raise FrameError(
            "msg_type",
            f"{answer.msg_type.spec_name} does not answer {request.msg_type.spec_name}",
        )
    if request.data_id == 0 and answer.msg_type is not MsgType.READ_ACK:
        raise FrameError("msg_type", "ID 0 must be answered with READ-ACK")
