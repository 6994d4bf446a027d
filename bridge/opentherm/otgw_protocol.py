"""The OpenTherm Gateway (OTGW) text protocol, shared by the link and the simulator.

The gateway prints one line per event, ending in ``\\r\\n``:

* monitor lines ``T``/``B``/``R``/``A`` + eight hex digits (a frame from the
  thermostat, from the boiler, a request the gateway sent to the boiler, an
  answer it sent to the thermostat) and ``E`` + eight hex digits (a frame
  received with an error);
* command replies ``XX: value`` (``CS: 45.00``), or an error code, either
  bare (``BV``) or as the value (``CS: BV``);
* ``Error 01`` .. ``Error 04`` (line errors the gateway detected);
* in summary mode (``PS=1``) a comma-separated status line of 25 fields
  (firmware before 5.0) or 34 fields (5.0 and later);
* the banner ``OpenTherm Gateway 6.5`` after a reset.

Commands are ``XX=value\\r\\n``. The builders here check their values and
raise :class:`ValueError` with a message naming the command and the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import re
from typing import TYPE_CHECKING, Final

from bridge.opentherm.formats import (
    F8_8_MAX,
    DayTime,
    decode_f8_8,
    decode_s8,
    decode_s16,
    encode_day_time,
    encode_f8_8,
    encode_s8,
    encode_s16,
)
from bridge.opentherm.frame import Direction, Frame, FrameError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

# ------------------------------------------------------------------ line kinds

#: What each monitor-line prefix means.
SOURCES: Final[dict[str, str]] = {
    "T": "thermostat",
    "B": "boiler",
    "R": "gateway-request",
    "A": "gateway-answer",
    "E": "error",
}

#: The gateway's error replies.
ERROR_CODES: Final[dict[str, str]] = {
    "NG": "No Good: unknown command",
    "SE": "Syntax Error",
    "BV": "Bad Value",
    "OR": "Out of Range",
    "NS": "No Space: alternative table full",
    "NF": "Not Found: alternative not in table",
    "OE": "Overrun Error",
}

#: Informational lines the gateway prints on its own.
INFO_LINES: Final[frozenset[str]] = frozenset(
    {"Thermostat disconnected", "Thermostat connected", "Low power", "Medium power", "High power"}
)

_MONITOR_RE = re.compile(r"^(T|B|R|A|E)([0-9A-F]{8})$")
_REPLY_RE = re.compile(r"^([A-Z][A-Z0-9]):\s*(.*)$")
_GATEWAY_ERROR_RE = re.compile(r"^Error (0[1-4])$")
_BANNER_RE = re.compile(r"^OpenTherm Gateway ([0-9]+(?:\.[0-9]+)*\S*)$")


@dataclass(frozen=True, slots=True)
class MonitorFrame:
    """A valid frame on a monitor line; ``source`` is the prefix letter (T, B, R, A)."""

    source: str
    frame: Frame


@dataclass(frozen=True, slots=True)
class BadFrame:
    """An ``E`` line, or a monitor line whose frame fails validation."""

    source: str
    raw: str
    reason: str


@dataclass(frozen=True, slots=True)
class CommandReply:
    """A good reply ``XX: value``."""

    code: str
    value: str


@dataclass(frozen=True, slots=True)
class CommandError:
    """An error reply; ``command`` is set when the reply named the command (``CS: BV``)."""

    error: str
    command: str | None = None

    @property
    def meaning(self) -> str:
        """The error code spelled out."""
        return ERROR_CODES[self.error]


@dataclass(frozen=True, slots=True)
class GatewayError:
    """An ``Error 0N`` line."""

    number: int


@dataclass(frozen=True, slots=True)
class Banner:
    """The ``OpenTherm Gateway x.y`` line printed after a reset."""

    version: str


@dataclass(frozen=True, slots=True)
class InfoLine:
    """A known informational line (``Thermostat disconnected`` and the like)."""

    text: str


@dataclass(frozen=True, slots=True)
class Garbage:
    """Anything else: noise, a truncated line, an unknown message."""

    text: str


# ------------------------------------------------------------------ summary (PS=1)


class SummaryKind:
    """How a summary field is printed."""

    FLAGS = "flag8/flag8"  # 00000011/00001010, HB then LB, bit 7 first
    FLOAT = "f8.8"  # 45.00
    U8_U8 = "u8/u8"  # 24/20
    S8_S8 = "s8/s8"  # 65/40
    S16 = "s16"  # -3
    U8 = "u8"  # 50 (low byte)
    U16 = "u16"  # 12345


_F = SummaryKind

#: The data-ids of the 34-field summary (firmware 5.0 and later), in order.
SUMMARY_FIELDS_V5: Final[tuple[tuple[int, str], ...]] = (
    (0, _F.FLAGS),
    (1, _F.FLOAT),
    (6, _F.FLAGS),
    (7, _F.FLOAT),
    (8, _F.FLOAT),
    (14, _F.FLOAT),
    (15, _F.U8_U8),
    (16, _F.FLOAT),
    (17, _F.FLOAT),
    (18, _F.FLOAT),
    (19, _F.FLOAT),
    (23, _F.FLOAT),
    (24, _F.FLOAT),
    (25, _F.FLOAT),
    (26, _F.FLOAT),
    (27, _F.FLOAT),
    (28, _F.FLOAT),
    (31, _F.FLOAT),
    (33, _F.S16),
    (48, _F.S8_S8),
    (49, _F.S8_S8),
    (56, _F.FLOAT),
    (57, _F.FLOAT),
    (70, _F.FLAGS),
    (71, _F.U8),
    (77, _F.U8),
    (116, _F.U16),
    (117, _F.U16),
    (118, _F.U16),
    (119, _F.U16),
    (120, _F.U16),
    (121, _F.U16),
    (122, _F.U16),
    (123, _F.U16),
)

#: The data-ids of the 25-field summary (firmware before 5.0), in order.
SUMMARY_FIELDS_V4: Final[tuple[tuple[int, str], ...]] = tuple(
    item
    for item in SUMMARY_FIELDS_V5
    if item[0] in {0, 1, 6, 14, 15, 16, 17, 18, 24, 25, 26, 27, 28, 48, 49, 56, 57}
    or item[0] >= 116
)

#: Half the last printed digit of a summary number: 127.996 prints as 128.00.
_HALF_CENT = 0.005 + 1e-9
# [0-9], not \d: the gateway prints ASCII digits only, and \d also matches "٣"
_FLAGS_RE = re.compile(r"^([01]{8})/([01]{8})$")
_PAIR_RE = re.compile(r"^(-?[0-9]{1,3})/(-?[0-9]{1,3})$")
_FLOAT_RE = re.compile(r"^-?[0-9]{1,3}\.[0-9]{2}$")
_INT_RE = re.compile(r"^-?[0-9]{1,5}$")


@dataclass(frozen=True, slots=True)
class Summary:
    """A parsed ``PS=1`` line: the raw fields and each field's 16-bit data value."""

    fields: tuple[str, ...]
    values: Mapping[int, int] = field(default_factory=dict)

    @property
    def firmware5(self) -> bool:
        """True for the 34-field layout of firmware 5.0 and later."""
        return len(self.fields) == len(SUMMARY_FIELDS_V5)

    def value(self, data_id: int) -> int | None:
        """The 16-bit data value the summary reports for ``data_id``."""
        return self.values.get(data_id)

    def temperature(self, data_id: int) -> float | None:
        """An f8.8 field as a number."""
        word = self.values.get(data_id)
        return None if word is None else decode_f8_8(word)


def _parse_summary_field(text: str, kind: str) -> int:
    if kind == _F.FLAGS:
        m = _FLAGS_RE.match(text)
        if m is None:
            raise ValueError(f"summary flags field {text!r} is not 8 bits/8 bits")
        return int(m.group(1), 2) << 8 | int(m.group(2), 2)
    if kind in (_F.U8_U8, _F.S8_S8):
        m = _PAIR_RE.match(text)
        if m is None:
            raise ValueError(f"summary pair field {text!r} is not two numbers")
        hb, lb = int(m.group(1)), int(m.group(2))
        if kind == _F.U8_U8:
            if not (0 <= hb <= 255 and 0 <= lb <= 255):
                raise ValueError(f"summary u8/u8 field {text!r} is out of range")
            return hb << 8 | lb
        return encode_s8(hb) << 8 | encode_s8(lb)
    if kind == _F.FLOAT:
        if _FLOAT_RE.match(text) is None:
            raise ValueError(f"summary number {text!r} is not a two-decimal number")
        number = float(text)
        # two decimals round the largest f8.8 values (127.996) up to 128.00
        if F8_8_MAX < number < F8_8_MAX + _HALF_CENT:
            number = F8_8_MAX
        return encode_f8_8(number)
    if _INT_RE.match(text) is None:
        raise ValueError(f"summary field {text!r} is not an integer")
    number = int(text)
    if kind == _F.S16:
        return encode_s16(number)
    if kind == _F.U8:
        if not 0 <= number <= 255:
            raise ValueError(f"summary u8 field {text!r} is out of range")
        return number
    if not 0 <= number <= 0xFFFF:
        raise ValueError(f"summary u16 field {text!r} is out of range")
    return number


def parse_summary(line: str) -> Summary:
    """Parse a ``PS=1`` summary line (25 or 34 fields); ValueError if it is not one."""
    fields = tuple(part.strip() for part in line.strip().split(","))
    if len(fields) == len(SUMMARY_FIELDS_V5):
        layout = SUMMARY_FIELDS_V5
    elif len(fields) == len(SUMMARY_FIELDS_V4):
        layout = SUMMARY_FIELDS_V4
    else:
        raise ValueError(f"a summary line has 25 or 34 fields, this one has {len(fields)}")
    values = {
        data_id: _parse_summary_field(text, kind)
        for text, (data_id, kind) in zip(fields, layout, strict=True)
    }
    return Summary(fields, values)


def _format_summary_field(word: int, kind: str) -> str:
    hb, lb = word >> 8, word & 0xFF
    if kind == _F.FLAGS:
        return f"{hb:08b}/{lb:08b}"
    if kind == _F.U8_U8:
        return f"{hb}/{lb}"
    if kind == _F.S8_S8:
        return f"{decode_s8(hb)}/{decode_s8(lb)}"
    if kind == _F.FLOAT:
        return f"{decode_f8_8(word):.2f}"
    if kind == _F.S16:
        return str(decode_s16(word))
    if kind == _F.U8:
        return str(lb)
    return str(word)


def format_summary(values: Mapping[int, int], *, firmware5: bool = True) -> str:
    """The summary line for the given data values (missing ids print as zero)."""
    layout = SUMMARY_FIELDS_V5 if firmware5 else SUMMARY_FIELDS_V4
    return ",".join(
        _format_summary_field(values.get(data_id, 0) & 0xFFFF, kind) for data_id, kind in layout
    )


# ------------------------------------------------------------------ line parser

ParsedLine = (
    MonitorFrame
    | BadFrame
    | CommandReply
    | CommandError
    | GatewayError
    | Summary
    | Banner
    | InfoLine
    | Garbage
)


def parse_line(line: str) -> ParsedLine:
    """Classify one line the gateway printed (without its line ending)."""
    text = line.strip()
    m = _MONITOR_RE.match(text)
    if m is not None:
        source, digits = m.group(1), m.group(2)
        if source == "E":
            return BadFrame(source, digits, "error")
        direction = Direction.SLAVE_TO_MASTER if source in ("B", "A") else Direction.MASTER_TO_SLAVE
        try:
            return MonitorFrame(source, Frame.from_hex(digits, direction=direction))
        except FrameError as err:
            return BadFrame(source, digits, err.reason)
    if text in ERROR_CODES:
        return CommandError(text)
    m = _GATEWAY_ERROR_RE.match(text)
    if m is not None:
        return GatewayError(int(m.group(1)))
    m = _REPLY_RE.match(text)
    if m is not None:
        code, value = m.group(1), m.group(2).strip()
        if value in ERROR_CODES:
            return CommandError(value, code)
        return CommandReply(code, value)
    if "," in text:
        try:
            return parse_summary(text)
        except ValueError:
            return Garbage(text)
    m = _BANNER_RE.match(text)
    if m is not None:
        return Banner(m.group(1))
    if text in INFO_LINES:
        return InfoLine(text)
    return Garbage(text)


def monitor_line(source: str, frame: Frame) -> str:
    """The monitor line for a frame (``B40000200``), without line ending."""
    if source not in SOURCES or source == "E":
        raise ValueError(f"monitor source {source!r} is not one of T, B, R, A")
    return f"{source}{frame.to_hex()}"


# ------------------------------------------------------------------ commands

_COMMAND_CODE_RE = re.compile(r"^[A-Z][A-Z0-9]$")
_COMMAND_VALUE_RE = re.compile(r"^[ -~]{1,20}$")


@dataclass(frozen=True, slots=True)
class Command:
    """One gateway command ``code=value``."""

    code: str
    value: str

    def __post_init__(self) -> None:
        if _COMMAND_CODE_RE.match(self.code) is None:
            raise ValueError(f"command code {self.code!r} is not two upper-case characters")
        if _COMMAND_VALUE_RE.match(self.value) is None or self.value != self.value.strip():
            raise ValueError(f"command value {self.value!r} is not 1-20 printable characters")

    @property
    def line(self) -> str:
        """The command as text, without line ending (``CS=45.00``)."""
        return f"{self.code}={self.value}"

    def encode(self) -> bytes:
        """The bytes to send, with ``\\r\\n``."""
        return f"{self.line}\r\n".encode("ascii")


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} needs a number, got {value!r}")  # noqa: TRY004 (builders raise ValueError)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} value {value!r} is not finite")
    return number


def _ranged(value: object, low: float, high: float, what: str) -> float:
    number = _number(value, what)
    if not low <= number <= high:
        raise ValueError(f"{what} value {value!r} is outside {low:g}..{high:g}")
    return number


#: Limits of the override commands (degrees Celsius or percent).
CONTROL_SETPOINT_RANGE: Final = (0.0, 100.0)
WATER_SETPOINT_RANGE: Final = (0.0, 100.0)
MAX_MODULATION_RANGE: Final = (0, 100)
OUTSIDE_TEMPERATURE_RANGE: Final = (-40.0, 64.0)
#: The outside-temperature value that clears the override.
OUTSIDE_TEMPERATURE_CLEAR: Final = 99
#: The report letters of ``PR=``.
REPORT_LETTERS: Final = "ABCDGILMOPQRSTVW"


def control_setpoint(temperature: float) -> Command:
    """``CS=t``: override the control setpoint (ID 1); 0 hands control back."""
    t = _ranged(temperature, *CONTROL_SETPOINT_RANGE, "CS (control setpoint)")
    return Command("CS", f"{t:.2f}")


def ch_enable(on: bool) -> Command:
    """``CH=0/1``: the CH-enable bit while the control setpoint is overridden."""
    if not isinstance(on, bool):
        raise ValueError(f"CH (central heating enable) needs a boolean, got {on!r}")  # noqa: TRY004 (builders raise ValueError)
    return Command("CH", "1" if on else "0")


def max_ch_setpoint(temperature: float) -> Command:
    """``SH=t``: the maximum CH water setpoint (ID 57)."""
    t = _ranged(temperature, *WATER_SETPOINT_RANGE, "SH (max CH water setpoint)")
    return Command("SH", f"{t:.2f}")


def dhw_setpoint(temperature: float) -> Command:
    """``SW=t``: the DHW setpoint (ID 56)."""
    t = _ranged(temperature, *WATER_SETPOINT_RANGE, "SW (DHW setpoint)")
    return Command("SW", f"{t:.2f}")


def max_modulation(percent: int | None) -> Command:
    """``MM=pct``: maximum relative modulation (ID 14), 0-100; None clears it."""
    if percent is None:
        return Command("MM", "T")
    number = _ranged(percent, *MAX_MODULATION_RANGE, "MM (max relative modulation)")
    if number != int(number):
        raise ValueError(f"MM (max relative modulation) needs a whole percentage, got {percent!r}")
    return Command("MM", str(int(number)))


def outside_temperature(temperature: float | None) -> Command:
    """``OT=t``: outside temperature for the thermostat, -40..64; None (or 99) clears it."""
    if temperature is None or (
        not isinstance(temperature, bool)
        and isinstance(temperature, (int, float))
        and temperature == OUTSIDE_TEMPERATURE_CLEAR
    ):
        return Command("OT", str(OUTSIDE_TEMPERATURE_CLEAR))
    t = _ranged(temperature, *OUTSIDE_TEMPERATURE_RANGE, "OT (outside temperature)")
    return Command("OT", f"{t:.2f}")


def set_clock(hour: int, minute: int, day_of_week: int) -> Command:
    """``SC=HH:MM/D``: the thermostat clock; day 1 = Monday .. 7 = Sunday."""
    for value, low, high, what in (
        (hour, 0, 23, "hour"),
        (minute, 0, 59, "minute"),
        (day_of_week, 1, 7, "day of week"),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"SC (set clock) {what} needs an integer, got {value!r}")  # noqa: TRY004 (builders raise ValueError)
        if not low <= value <= high:
            raise ValueError(f"SC (set clock) {what} {value} is outside {low}..{high}")
    return Command("SC", f"{hour:02d}:{minute:02d}/{day_of_week}")


def set_clock_from(when: datetime) -> Command:
    """``SC=`` for a datetime (its local fields as given)."""
    return set_clock(when.hour, when.minute, when.isoweekday())


def summary_mode(*, on: bool) -> Command:
    """``PS=0/1``: print a summary line instead of every message."""
    if not isinstance(on, bool):
        raise ValueError(f"PS (summary mode) needs a boolean, got {on!r}")  # noqa: TRY004 (builders raise ValueError)
    return Command("PS", "1" if on else "0")


def report(letter: str) -> Command:
    """``PR=x``: ask for one of the gateway's reports (A = about, M = mode ...)."""
    if not isinstance(letter, str) or len(letter) != 1 or letter.upper() not in REPORT_LETTERS:
        raise ValueError(f"PR (report) letter {letter!r} is not one of {REPORT_LETTERS}")
    return Command("PR", letter.upper())


def gateway_mode(*, mode: bool | str) -> Command:
    """``GW=1`` gateway mode, ``GW=0`` monitor mode, ``GW=R`` reset."""
    if mode is True or mode is False:
        return Command("GW", "1" if mode else "0")
    if mode == "R":
        return Command("GW", "R")
    raise ValueError(f"GW (gateway mode) needs True, False or 'R', got {mode!r}")


def dhw_enable(state: bool | None) -> Command:
    """``HW=0/1``: override the DHW-enable bit; None returns it to the thermostat."""
    if state is None:
        return Command("HW", "A")
    if not isinstance(state, bool):
        raise ValueError(f"HW (DHW enable) needs a boolean or None, got {state!r}")  # noqa: TRY004 (builders raise ValueError)
    return Command("HW", "1" if state else "0")


def priority_message(data_id: int) -> Command:
    """``PM=id``: send a read of ``data_id`` to the boiler at the next opportunity."""
    if isinstance(data_id, bool) or not isinstance(data_id, int) or not 0 <= data_id <= 255:
        raise ValueError(f"PM (priority message) data-id {data_id!r} is outside 0..255")
    return Command("PM", str(data_id))


# ------------------------------------------------------------------ reply values


def reply_number(value: str) -> float:
    """A numeric reply value (``45.00``); ValueError if it is not one."""
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"reply value {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"reply value {value!r} is not finite")
    return number


_CLOCK_REPLY_RE = re.compile(r"^([0-9]{1,2}):([0-9]{2})/([1-7])$")


def reply_clock(value: str) -> DayTime:
    """The ``HH:MM/D`` value of an ``SC:`` reply."""
    m = _CLOCK_REPLY_RE.match(value)
    if m is None:
        raise ValueError(f"clock reply {value!r} is not HH:MM/D")
    result = DayTime(int(m.group(3)), int(m.group(1)), int(m.group(2)))
    encode_day_time(result)  # range check
    return result


def split_report(value: str) -> tuple[str, str]:
    """The letter and text of a ``PR:`` reply value (``A=OpenTherm Gateway 6.5``)."""
    letter, sep, text = value.partition("=")
    if not sep or len(letter) != 1:
        raise ValueError(f"report reply {value!r} is not X=text")
    return letter, text


def firmware_version(about: str) -> str | None:
    """The version in a ``PR=A`` text (``OpenTherm Gateway 6.5`` -> ``6.5``)."""
    m = _BANNER_RE.match(about.strip())
    return m.group(1) if m else None
