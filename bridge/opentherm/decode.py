"""``thermosmart-bridge ot decode``: OpenTherm frames and OTGW lines as JSON.

A line is either a bare frame of eight hex digits (``80000200``) or an
OpenTherm Gateway monitor line: one letter and eight hex digits
(``T80000200``). The letter gives the source and the direction the frame
must fit: ``T`` (thermostat) and ``R`` (gateway request to the boiler) carry
master-to-slave frames, ``B`` (boiler) and ``A`` (gateway answer to the
thermostat) slave-to-master frames, ``E`` an erroneous frame. Lower-case
letters and hex digits are accepted; surrounding whitespace is ignored.

Each line decodes to one object with the keys ``raw``, ``source``, ``valid``,
``error`` (only when ``valid`` is false), ``msg_type``, ``data_id``,
``name``, ``data_value``, ``value`` and ``unit``. An invalid line still
shows the message type, data-id and data value its bits carry, when it has
eight hex digits; its ``value`` and ``unit`` are null.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TextIO

from bridge.opentherm.frame import Direction, Frame, FrameError, MsgType
from bridge.opentherm.ids import data_id_name, decode_value, get_spec

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["SOURCES", "decode_line", "decode_stream", "main"]

#: OTGW line prefixes and the source each names.
SOURCES: dict[str, str] = {
    "T": "thermostat",
    "B": "boiler",
    "R": "gateway-request",
    "A": "gateway-answer",
}
_DIRECTIONS: dict[str, Direction] = {
    "T": Direction.MASTER_TO_SLAVE,
    "R": Direction.MASTER_TO_SLAVE,
    "B": Direction.SLAVE_TO_MASTER,
    "A": Direction.SLAVE_TO_MASTER,
}
_PREFIXES = frozenset("TBRAE")
_HEX = frozenset("0123456789abcdefABCDEF")


def _split(raw: str) -> tuple[str | None, str | None]:
    """(prefix, eight hex digits); either is None when not there."""
    if len(raw) == 8 and _HEX.issuperset(raw):
        return None, raw
    prefix = raw[:1].upper()
    if len(raw) == 9 and prefix in _PREFIXES and _HEX.issuperset(raw[1:]):
        return prefix, raw[1:]
    # A malformed line still names its source when the letter cannot be a hex digit.
    return (prefix if prefix in {"T", "R"} else None), None


def _invalid(raw: str, source: str | None, error: str, bits: int | None) -> dict[str, Any]:
    result: dict[str, Any] = {"raw": raw, "source": source, "valid": False, "error": error}
    if bits is None:
        result.update(msg_type=None, data_id=None, name=None, data_value=None)
    else:
        data_id = (bits >> 16) & 0xFF
        result.update(
            msg_type=MsgType((bits >> 28) & 0x7).spec_name,
            data_id=data_id,
            name=data_id_name(data_id),
            data_value=f"0x{bits & 0xFFFF:04X}",
        )
    result.update(value=None, unit=None)
    return result


def decode_line(text: str) -> dict[str, Any]:
    """Decode one bare frame or OTGW monitor line (see the module docstring)."""
    raw = text.strip()
    prefix, digits = _split(raw)
    source = SOURCES.get(prefix) if prefix else None
    if digits is None:
        return _invalid(raw, source, "format", None)
    bits = int(digits, 16)
    if prefix == "E":
        # The gateway already rejected this frame; report what is wrong with
        # its bits, or the gateway's own verdict when the bits look fine.
        try:
            Frame.from_int(bits)
        except FrameError as err:
            return _invalid(raw, None, err.reason, bits)
        return _invalid(raw, None, "parity", bits)
    try:
        frame = Frame.from_int(bits, direction=_DIRECTIONS.get(prefix or ""))
    except FrameError as err:
        return _invalid(raw, source, err.reason, bits)
    spec = get_spec(frame.data_id)
    return {
        "raw": raw,
        "source": source,
        "valid": True,
        "msg_type": frame.msg_type.spec_name,
        "data_id": frame.data_id,
        "name": data_id_name(frame.data_id),
        "data_value": f"0x{frame.value:04X}",
        "value": decode_value(frame.data_id, frame.value),
        "unit": spec.unit if spec is not None else None,
    }


def decode_stream(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Decode every non-blank line."""
    for line in lines:
        if line.strip():
            yield decode_line(line)


def main(argv: list[str], stdin: Iterable[str], stdout: TextIO) -> int:
    """Decode the lines in ``argv`` (or, when empty or ``-``, from ``stdin``).

    Writes one JSON object per line to ``stdout`` and returns 0; invalid
    frames are reported in the output, not by the exit status.
    """
    lines: Iterable[str] = stdin if not argv or argv == ["-"] else argv
    for result in decode_stream(lines):
        # ASCII JSON: a line given as an argument may hold bytes that are not
        # UTF-8 (surrogate escapes), which no text stream can write as they are
        stdout.write(json.dumps(result) + "\n")
    stdout.flush()
    return 0
