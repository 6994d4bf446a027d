"""The OpenTherm master's conversation schedule: which ids, when, with what value.

:class:`ConversationSchedule` decides what the master says to the boiler;
:class:`~bridge.opentherm.master.OpenThermMaster` runs the cycle, carries
the conversations over the link and tells the schedule how each ended.

Every cycle starts with ID 0 (READ-DATA, the master status flags CH enable
and DHW enable in the high byte) and ID 1 (WRITE-DATA, the control
setpoint). The other conversations, in this order of precedence:

1. a conversation that got no answer or a bad one (timeout, bad frame) is
   retried at the next slot, up to ``max_retries`` times (a link error while
   the link is up, such as a write an OTGW has no command for, is not);
2. after a (re)connect, the capability reads (IDs 3, 49, 48, 6, 15, 125,
   127) and the master's introductions (WRITE-DATA 2 master configuration,
   124 master OpenTherm version, 126 master product version);
3. writes of targets that changed (57 max CH setpoint, 14 max modulation,
   56 DHW setpoint), each also re-sent every ``rewrite_interval``;
4. periodic reads (``read_periods``), the most overdue first relative to
   its period, so that all periods stretch alike when the line is busy;
   when nothing is due, the cycle's one extra reads the id nearest to due.
   A fault bit that turns on in ID 0 makes IDs 5 and 115 due at once.

An id answered UNKNOWN-DATAID is skipped until ``unknown_retry`` has passed
or the link reconnects (IDs 0 and 1 are never skipped).

Values written are clamped to what the boiler reported: the control
setpoint to at most the max CH setpoint bounds' upper limit (ID 49) and the
max CH setpoint in effect (ID 57); ID 57 into ID 49's bounds; the DHW
setpoint (56) into ID 48's bounds; max modulation (14) to 0-100 %. IDs 56
and 57 are written only when the bridge has a target for them and the
boiler's remote-parameter flags (ID 6, when known) allow it; otherwise they
are read. The master never writes a control setpoint below
``otgw_setpoint_floor`` (10 °C) to an OTGW while it is in control, because
an OTGW reads ID 1 = 0 as "release".
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
import math
from types import MappingProxyType

from bridge.opentherm.boiler_state import BoilerState
from bridge.opentherm.formats import decode_f8_8, encode_f8_8
from bridge.opentherm.frame import Frame, MsgType

__all__ = [
    "CAPABILITY_IDS",
    "DEFAULT_READ_PERIODS",
    "FAILED",
    "OPENTHERM_MAX_INTERVAL",
    "OPENTHERM_MIN_GAP",
    "RETRIED",
    "TARGET_WRITES",
    "ConversationSchedule",
    "MasterConfig",
    "Outcome",
    "Request",
    "Targets",
]

#: The longest time OpenTherm allows between conversations (1 s + 15 %).
OPENTHERM_MAX_INTERVAL = 1.15
#: The shortest time OpenTherm allows from the end of a conversation to the next.
OPENTHERM_MIN_GAP = 0.1

#: The capability reads done after every (re)connect, in this order.
CAPABILITY_IDS: tuple[int, ...] = (3, 49, 48, 6, 15, 125, 127)

#: Seconds between periodic reads per data-id; the order breaks ties.
DEFAULT_READ_PERIODS: Mapping[int, float] = MappingProxyType(
    {
        17: 2.0,  # relative modulation
        25: 2.0,  # flow temperature
        28: 2.0,  # return temperature
        5: 5.0,  # fault flags / OEM fault code
        18: 10.0,  # CH water pressure
        27: 10.0,  # outside temperature
        26: 10.0,  # DHW temperature
        57: 60.0,  # max CH setpoint (read while the bridge does not write it)
        56: 60.0,  # DHW setpoint (read while the bridge does not write it)
        115: 120.0,  # OEM diagnostic code
        **dict.fromkeys(range(116, 124), 600.0),  # starts and hours counters
        **dict.fromkeys((3, 6, 15, 48, 49), 1800.0),  # capabilities, re-read
    }
)

#: The target writes, in order of precedence (57 first: it bounds ID 1).
#: The target writes, in order of precedence (57 first: it bounds ID 1).
TARGET_WRITES = (57, 14, 56)


@dataclass(frozen=True, slots=True, kw_only=True)
class MasterConfig:
    """Timing and identity of the master."""

    cycle_interval: float = 1.0
    """Seconds from one ID 0 to the next (at most 1.15 s)."""
    min_gap: float = OPENTHERM_MIN_GAP
    """Seconds from the end of a conversation to the start of the next (at least 0.1 s)."""
    answer_timeout: float = 0.8
    """Seconds to wait for the boiler's answer (OpenTherm: 20-800 ms)."""
    max_conversations_per_cycle: int = 5
    """Upper limit of conversations per cycle, IDs 0 and 1 included."""
    read_periods: Mapping[int, float] = field(default_factory=lambda: dict(DEFAULT_READ_PERIODS))
    """Seconds between periodic reads per data-id; the order breaks ties."""
    rewrite_interval: float = 60.0
    """Seconds after which an unchanged target (14, 56, 57) is written again."""
    unknown_retry: float = 3600.0
    """Seconds after which an id answered UNKNOWN-DATAID is tried again."""
    max_retries: int = 2
    """Retries of a conversation that got no usable answer."""
    link_poll: float = 5.0
    """Seconds between looks at a down link when it reports no state change."""
    member_id: int = 0
    """The master's MemberID code, sent in ID 2 (0: none)."""
    master_ot_version: float = 2.2
    """The OpenTherm version the master speaks, sent in ID 124."""
    product_type: int = 0
    """The master's product type, sent in ID 126."""
    product_version: int = 1
    """The master's product version, sent in ID 126."""
    otgw_setpoint_floor: float = 10.0
    """Lowest control setpoint written to an OTGW while in control (0 means release)."""

    def __post_init__(self) -> None:
        if not OPENTHERM_MIN_GAP <= self.min_gap < self.cycle_interval:
            raise ValueError(
                f"min_gap must be at least {OPENTHERM_MIN_GAP} s and below cycle_interval"
            )
        if not 0 < self.cycle_interval <= OPENTHERM_MAX_INTERVAL:
            raise ValueError(
                f"cycle_interval must be above 0 and at most {OPENTHERM_MAX_INTERVAL} s"
            )
        if not 0 < self.answer_timeout <= 5:
            raise ValueError("answer_timeout must be above 0 and at most 5 s")
        if self.max_conversations_per_cycle < 3:
            raise ValueError(
                "max_conversations_per_cycle must be at least 3 (IDs 0, 1 and one more)"
            )
        for data_id, period in self.read_periods.items():
            if not 0 <= data_id <= 255 or data_id in {0, 1}:
                raise ValueError(f"read_periods: data-id {data_id} cannot be read periodically")
            if not period > 0:
                raise ValueError(f"read_periods: the period of id {data_id} must be above 0")
        for name in ("rewrite_interval", "unknown_retry", "link_poll"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be above 0")
        if self.max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        for name in ("member_id", "product_type", "product_version"):
            if not 0 <= getattr(self, name) <= 255:
                raise ValueError(f"{name} must be 0-255")
        if not 0 <= self.master_ot_version < 128:
            raise ValueError("master_ot_version must be 0-127")
        if not 1 <= self.otgw_setpoint_floor <= 30:
            raise ValueError("otgw_setpoint_floor must be 1-30 °C")


@dataclass(frozen=True, slots=True)
class Targets:
    """What the bridge asks of the boiler; None means "not managed by the bridge".

    A ``max_modulation`` of None writes no limit (100 % once, if the bridge
    had set one); a ``dhw_setpoint`` or ``max_ch_setpoint`` of None leaves
    the boiler's own value, which is then read.
    """

    ch_enable: bool = False
    control_setpoint: float = 10.0
    max_modulation: float | None = None
    dhw_enable: bool = True
    dhw_setpoint: float | None = None
    max_ch_setpoint: float | None = None


class Outcome(Enum):
    """How one conversation ended."""

    ACK = "ack"
    INVALID = "data_invalid"
    UNKNOWN = "unknown_dataid"
    TIMEOUT = "timeout"
    BAD_FRAME = "bad_frame"
    LINK_ERROR = "link_error"
    DOWN = "link_down"


#: Outcomes that count as a failed conversation (the value turns stale after retries).
FAILED = frozenset({Outcome.TIMEOUT, Outcome.BAD_FRAME, Outcome.LINK_ERROR})
# a link error while connected means the link cannot carry the request (an
# OTGW has no command for some writes): retrying would not help
RETRIED = frozenset({Outcome.TIMEOUT, Outcome.BAD_FRAME})


@dataclass(slots=True)
class Request:
    """One conversation the schedule asks for, and how often it was tried."""

    frame: Frame
    attempts: int = 0


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _remote_writable(transfer: bool | None, rw: bool | None) -> bool:
    """Whether ID 6 allows writing a remote parameter (unknown flags allow it)."""
    if transfer is None or rw is None:
        return True
    return transfer and rw


class ConversationSchedule:
    """Which conversation comes next, and the values the master writes.

    Holds the targets, the start-up conversations still to do, the retry,
    when each id was last read and each target last written, and the ids
    the boiler does not know.
    """

    def __init__(self, config: MasterConfig, state: BoilerState, link_kind: str) -> None:
        self._config = config
        self._state = state
        self._link_kind = link_kind
        self.targets = Targets()
        """The targets as last requested (before clamping)."""
        self.modulation_limited = False
        """Whether the boiler holds a max modulation below 100 % that the bridge wrote."""
        self._setup: deque[Request] = deque()
        self._retry: Request | None = None
        self._last_attempt: dict[int, float] = {}
        self._sent: dict[int, tuple[int, float]] = {}
        self._unknown: dict[int, float] = {}

    def begin_session(self) -> None:
        """Forget what the last session learnt and queue the start-up conversations."""
        self._retry = None
        self._last_attempt.clear()
        self._sent.clear()
        self._unknown.clear()
        cfg = self._config
        setup = [Frame(MsgType.READ_DATA, data_id) for data_id in CAPABILITY_IDS]
        setup[5:5] = [
            Frame(MsgType.WRITE_DATA, 2, cfg.member_id),
            Frame(MsgType.WRITE_DATA, 124, encode_f8_8(cfg.master_ot_version)),
        ]
        setup.append(Frame(MsgType.WRITE_DATA, 126, cfg.product_type << 8 | cfg.product_version))
        self._setup = deque(Request(frame) for frame in setup)

    def drop_retry(self) -> None:
        """Give up the pending retry (the link went down)."""
        self._retry = None

    def status_frame(self) -> Frame:
        """ID 0: the master status flags."""
        flags = (0x01 if self.targets.ch_enable else 0) | (0x02 if self.targets.dhw_enable else 0)
        return Frame(MsgType.READ_DATA, 0, flags << 8)

    def setpoint_frame(self) -> Frame:
        """ID 1: the control setpoint."""
        return Frame(MsgType.WRITE_DATA, 1, encode_f8_8(self.control_setpoint()))

    def control_setpoint(self) -> float:
        """The control setpoint to write: the target, clamped by IDs 49 and 57."""
        upper = 100.0
        bounds = self._state.capabilities.max_ch_setpoint_bounds
        if bounds is not None:
            upper = min(upper, bounds[1])
        max_ch = self._state.number(57)
        if max_ch is not None and max_ch > 0:
            upper = min(upper, max_ch)
        wanted = self.desired_write(57)
        if wanted is not None:
            upper = min(upper, decode_f8_8(wanted))
        value = _clamp(self.targets.control_setpoint, 0.0, upper)
        if self._link_kind == "otgw":
            value = max(value, self._config.otgw_setpoint_floor)
        return value

    def desired_write(self, data_id: int) -> int | None:
        """The word the master wants written to a target id now, or None."""
        targets, caps = self.targets, self._state.capabilities
        if data_id == 14:
            if targets.max_modulation is None:
                return encode_f8_8(100.0) if self.modulation_limited else None
            return encode_f8_8(_clamp(targets.max_modulation, 0.0, 100.0))
        if data_id == 57:
            if targets.max_ch_setpoint is None or not _remote_writable(
                caps.max_ch_setpoint_transfer, caps.max_ch_setpoint_rw
            ):
                return None
            low, high = caps.max_ch_setpoint_bounds or (0, 100)
            return encode_f8_8(_clamp(targets.max_ch_setpoint, low, high))
        if data_id == 56:
            if (
                targets.dhw_setpoint is None
                or caps.dhw_present is False
                or not _remote_writable(caps.dhw_setpoint_transfer, caps.dhw_setpoint_rw)
            ):
                return None
            low, high = caps.dhw_setpoint_bounds or (0, 100)
            return encode_f8_8(_clamp(targets.dhw_setpoint, low, high))
        return None

    def _skipped(self, data_id: int, now: float) -> bool:
        learned = self._unknown.get(data_id)
        return learned is not None and now - learned < self._config.unknown_retry

    def _readable(self, data_id: int) -> bool:
        if data_id in {56, 57}:
            if self.desired_write(data_id) is not None:
                return False
            if data_id == 56 and self._state.capabilities.dhw_present is False:
                return False
        return True

    def next_extra(self, now: float, *, fill: bool = False) -> Request | None:
        """The next conversation after IDs 0 and 1, or None if nothing is due.

        With ``fill`` a read that is not due yet is taken (the one nearest to
        due) rather than nothing, so every cycle carries at least one more id.
        """
        if self._retry is not None:
            return self._retry
        while self._setup:
            request = self._setup.popleft()
            if not self._skipped(request.frame.data_id, now):
                return request
        for data_id in TARGET_WRITES:
            if self._skipped(data_id, now):
                continue
            word = self.desired_write(data_id)
            if word is None:
                continue
            sent = self._sent.get(data_id)
            if sent is None or sent[0] != word or now - sent[1] >= self._config.rewrite_interval:
                return Request(Frame(MsgType.WRITE_DATA, data_id, word))
        best: tuple[float, int] | None = None
        for data_id, period in self._config.read_periods.items():
            if self._skipped(data_id, now) or not self._readable(data_id):
                continue
            last = self._last_attempt.get(data_id)
            score = math.inf if last is None else (now - last) / period
            if (score >= 1 or fill) and (best is None or score > best[0]):
                best = (score, data_id)
        if best is None:
            return None
        return Request(Frame(MsgType.READ_DATA, best[1]))

    def record(self, request: Request, outcome: Outcome, now: float) -> None:
        """Note how an extra conversation ended: when read, retry or written."""
        frame = request.frame
        if frame.msg_type is MsgType.READ_DATA:
            self._last_attempt[frame.data_id] = now
        if outcome in RETRIED:
            request.attempts += 1
            if request.attempts <= self._config.max_retries:
                self._retry = request
                return
        self._retry = None
        if frame.msg_type is MsgType.WRITE_DATA and frame.data_id in TARGET_WRITES:
            self._sent[frame.data_id] = (frame.value, now)
            if frame.data_id == 14:
                self.modulation_limited = frame.value < encode_f8_8(100.0)

    def read_faults_now(self) -> None:
        """Make the fault details (IDs 5 and 115) due at the next slots."""
        for fault_id in (5, 115):
            self._last_attempt.pop(fault_id, None)

    def known(self, data_id: int) -> None:
        """The boiler answered ``data_id``: it knows it."""
        self._unknown.pop(data_id, None)

    def learn_unknown(self, data_id: int, now: float) -> bool:
        """The boiler does not know ``data_id``: skip it; True if that is news."""
        new = data_id not in self._unknown
        self._unknown[data_id] = now
        return new

    def hand_back_frames(self) -> list[Frame]:
        """The conversations that hand the boiler back (see :mod:`bridge.opentherm.master`)."""
        frames: list[Frame] = []
        if self._link_kind != "otgw":
            dhw = 0x02 if self.targets.dhw_enable else 0x00
            frames.append(Frame(MsgType.READ_DATA, 0, dhw << 8))
        frames.append(Frame(MsgType.WRITE_DATA, 1, 0))
        if self.modulation_limited:
            frames.append(Frame(MsgType.WRITE_DATA, 14, encode_f8_8(100.0)))
        return frames
