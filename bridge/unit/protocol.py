"""The wall unit's protocol: its polls and the server's answers (``THERMOSMART_UNIT.md``).

A poll is ``GET /api?_<HWID>_<HEX>``: :func:`split_request` takes the raw
query (after ``?``) apart, :func:`decrypt_poll` turns the hex into the
plaintext query, and :func:`parse_poll` into a :class:`Poll`, checking the
password. The server answers with :func:`render_answer` and
:func:`encrypt_answer`. The unit's side (for the simulated unit) is
:func:`render_poll`, :func:`encrypt_poll`, :func:`build_request_path`,
:func:`decrypt_answer` and :func:`parse_answer`.

Everything is bounded (:data:`MAX_QUERY_LENGTH`, :data:`MAX_PLAINTEXT_LENGTH`,
:data:`MAX_FIELDS`, :data:`MAX_VALUE_LENGTH`, :data:`MAX_ANSWER_LENGTH`) and
every failure is a :class:`UnitProtocolError` whose message says what is
wrong and never contains the password.

Choices where the spec is silent:

* The query is ``name=value`` pairs joined by ``&``; a name is 1-16 letters,
  digits or ``_``; a value is printable ASCII, ``%XX`` escapes decoded, ``+``
  a literal plus (the unit is no web form). Empty pairs and repeated names
  are refused. ``init`` may come bare, ``init=`` or ``init=1``.
* Revision 5 pads the plaintext with ``0xFF`` up to the next multiple of 16
  bytes (none when it already is one) and writes lower-case hex; revisions
  1-4 write upper-case hex and do not pad. The server strips trailing
  ``0xFF`` from every poll and answers in lower-case hex.
* ``kp``, ``ti``, ``td`` are decimals with at most 2 places: ``kp`` in °C of
  flow per K of room error, ``ti`` and ``td`` in seconds.
* The answer's elements come in a fixed order, that of the spec's table:
  ``CAL``, ``SVSET``, ``BVSET``, ``PAUSE``, ``INIT``, ``TS``, ``TZ``, ``TA``,
  ``DIM``, ``SLS``, ``SD``, ``PID``, ``TH``; no whitespace. ``TZ`` carries
  its sign (``+60``), the others only a minus. ``FW`` is never sent, and
  :func:`parse_answer` refuses it like any unknown element.
* With throttle factor N ≥ 1 the unit polls every 5 + 5·N seconds (10, 15,
  20, 25 …), with 0 every 5 s (:func:`poll_interval`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from enum import IntEnum
import hmac
import math
import re
from typing import Any, Final, TypeVar

from bridge.core.programs import round_temperature
from bridge.core.unit import (
    HARDWARE_ID_MAX,
    LOCALES as UNIT_LOCALES,
    SOURCES as UNIT_SOURCES,
    check_hardware_id,
)
from bridge.unit.calendar import MAX_CALENDAR_LENGTH, Calendar, parse_calendar, render_calendar
from bridge.unit.crypto import arc4, unit_key
from bridge.unit.errors import UnitProtocolError
from bridge.unit.limits import (
    BRIGHTNESS_RANGE,
    CALIBRATION_RANGE,
    CLOCK_RANGE,
    KP_RANGE,
    MAX_THROTTLE,
    OUTSIDE_RANGE,
    PID_DECIMALS,
    ROOM_RANGE,
    TARGET_RANGE,
    TD_RANGE,
    TI_RANGE,
    TZ_RANGE,
)

__all__ = [
    "CLOCK_TOLERANCE_S",
    "LOCALES",
    "MAX_ANSWER_LENGTH",
    "MAX_FIELDS",
    "MAX_HARDWARE_ID_LENGTH",
    "MAX_PLAINTEXT_LENGTH",
    "MAX_QUERY_LENGTH",
    "MAX_VALUE_LENGTH",
    "NOT_AVAILABLE",
    "OPENTHERM_IDS",
    "POLL_INTERVAL_S",
    "REVISIONS",
    "Answer",
    "InitBlock",
    "Pid",
    "Poll",
    "UnitProtocolError",
    "UnitSource",
    "build_request_path",
    "clock_is_off",
    "decrypt_answer",
    "decrypt_poll",
    "encrypt_answer",
    "encrypt_poll",
    "parse_answer",
    "parse_poll",
    "poll_interval",
    "render_answer",
    "render_poll",
    "split_request",
]

#: Hardware revisions.
REVISIONS = range(1, 6)
#: The display languages a unit has (``INIT``'s ``LOCALE``).
LOCALES: tuple[str, ...] = UNIT_LOCALES
#: The OpenTherm data ids a unit reports (``ot<id>``).
OPENTHERM_IDS: tuple[int, ...] = (0, 1, 3, 17, 18, 19, 25, 26, 27, 28, 34, 56, 125)
#: An ``ot*`` value that means "not available".
NOT_AVAILABLE = 0xDEAD
#: The unit's poll interval without throttle, and the step each throttle factor adds (s).
POLL_INTERVAL_S = 5.0
THROTTLE_STEP_S = 5.0
#: How far the unit's clock may be off before the server sends ``TS`` (s).
CLOCK_TOLERANCE_S = 60.0

MAX_HARDWARE_ID_LENGTH = HARDWARE_ID_MAX
#: The longest plaintext poll (bytes, padding included).
MAX_PLAINTEXT_LENGTH = 1024
#: The longest raw query (``_<HWID>_<HEX>``).
MAX_QUERY_LENGTH = 2 + MAX_HARDWARE_ID_LENGTH + 2 * MAX_PLAINTEXT_LENGTH
MAX_FIELDS = 64
MAX_NAME_LENGTH = 16
#: The longest field value, once its escapes are decoded.
MAX_VALUE_LENGTH = 64
#: The longest answer XML: a full calendar and every other element.
MAX_ANSWER_LENGTH = MAX_CALENDAR_LENGTH + 512
_PAD = 0xFF
_T = TypeVar("_T")
_PAD_BLOCK = 16

_HEX_RE = re.compile(r"(?:[0-9a-fA-F]{2})+")
_NAME_RE = re.compile(rf"[A-Za-z0-9_]{{1,{MAX_NAME_LENGTH}}}")
_FIRMWARE_RE = re.compile(r"[A-Za-z0-9._-]{1,32}")
_INT_RE = re.compile(r"-?[0-9]{1,10}")
_SIGNED_RE = re.compile(r"[+-]?[0-9]{1,10}")
_DECIMAL_RE = re.compile(rf"[0-9]{{1,6}}(?:\.[0-9]{{1,{PID_DECIMALS}}})?")
_OT_RE = re.compile(r"(?:0[xX])?([0-9a-fA-F]{1,4})")
_ESCAPE_RE = re.compile(r"%([0-9a-fA-F]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


class UnitSource(IntEnum):
    """What the unit follows (``src``, and ``INIT``'s ``SRC``)."""

    CRASH = 0
    MANUAL = 1
    SERVER = 2
    WEEK = 3
    EXCEPTION = 4
    PAUSE = 5


# the names the bridge shows are core's, in the same order as the numbers
assert tuple(s.name.lower() for s in UnitSource) == UNIT_SOURCES


# ---------------------------------------------------------------- checks


def _check_int(value: object, low: int, high: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise UnitProtocolError(f"{what} must be a whole number {low}-{high}")
    return value


def _check_tenths(value: object, bounds: tuple[float, float], what: str, unit: str) -> float:
    """``value`` rounded to 0.1, within ``bounds``."""
    low, high = bounds
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not low <= round_temperature(value) <= high
    ):
        raise UnitProtocolError(f"{what} must be {low:g}-{high:g} {unit}")
    return round_temperature(value)


def _check_bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise UnitProtocolError(f"{what} must be true or false")
    return value


def _check_hardware_id(value: object) -> str:
    try:
        return check_hardware_id(value)
    except ValueError as err:
        raise UnitProtocolError(str(err)) from None


def _optional(value: _T | None, check: Callable[[_T], _T]) -> _T | None:
    return None if value is None else check(value)


@dataclass(frozen=True)
class Pid:
    """The unit's PID parameters (0.01 steps; finer input is rounded).

    ``kp`` is °C of flow temperature per K of room error, ``ti`` (integral
    time) and ``td`` (derivative time) are seconds; ``ti`` 0 turns the
    integral off.
    """

    kp: float
    ti: float
    td: float

    def __post_init__(self) -> None:
        for name, (low, high) in (("kp", KP_RANGE), ("ti", TI_RANGE), ("td", TD_RANGE)):
            value = getattr(self, name)
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not math.isfinite(value)
                or not low <= round(value, PID_DECIMALS) <= high
            ):
                raise UnitProtocolError(f"PID {name} must be {low:g}-{high:g}")
            object.__setattr__(self, name, float(round(value, PID_DECIMALS)))


def _check_pid(value: object) -> Pid:
    if not isinstance(value, Pid):
        raise UnitProtocolError("pid must be a Pid")
    return value


# ---------------------------------------------------------------- the poll


@dataclass(frozen=True, slots=True)
class Poll:
    """One poll of a unit, checked.

    Temperatures are °C to 0.1; ``opentherm`` maps each reported data id
    (of :data:`OPENTHERM_IDS`) to its raw 16-bit data value, None when the
    unit says it is not available; ``unknown`` names the fields ignored.
    """

    hardware_id: str
    revision: int | None = None
    firmware: str | None = None
    room_temperature: float | None = None
    source: UnitSource | None = None
    dial_setpoint: float | None = None
    opentherm: Mapping[int, int | None] = field(default_factory=dict)
    opentherm_boiler: bool | None = None
    pid: Pid | None = None
    clock: int | None = None
    init: bool = False
    unknown: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_hardware_id(self.hardware_id)
        set_ = object.__setattr__
        _optional(self.revision, lambda v: _check_int(v, REVISIONS[0], REVISIONS[-1], "hw"))
        if self.firmware is not None and (
            not isinstance(self.firmware, str) or _FIRMWARE_RE.fullmatch(self.firmware) is None
        ):
            raise UnitProtocolError("fw has 1-32 letters, digits, '.', '_' or '-'")
        set_(
            self,
            "room_temperature",
            _optional(self.room_temperature, lambda v: _check_tenths(v, ROOM_RANGE, "pv", "°C")),
        )
        if self.source is not None:
            set_(self, "source", UnitSource(_check_int(self.source, 0, len(UnitSource) - 1, "src")))
        set_(
            self,
            "dial_setpoint",
            _optional(self.dial_setpoint, lambda v: _check_tenths(v, TARGET_RANGE, "csv", "°C")),
        )
        opentherm = dict(self.opentherm)
        for data_id, raw in opentherm.items():
            if data_id not in OPENTHERM_IDS:
                raise UnitProtocolError(f"ot{data_id} is not an id the unit reports")
            if raw is not None:
                _check_int(raw, 0, 0xFFFF, f"ot{data_id}")
        set_(self, "opentherm", dict(sorted(opentherm.items())))
        _optional(self.opentherm_boiler, lambda v: _check_bool(v, "oo"))
        _optional(self.pid, _check_pid)
        _optional(self.clock, lambda v: _check_int(v, *CLOCK_RANGE, "ts"))
        _check_bool(self.init, "init")
        set_(self, "unknown", tuple(self.unknown))


# ---------------------------------------------------------------- the request


def split_request(query: str) -> tuple[str, str]:
    """``(hardware_id, hex_text)`` from the raw query of ``GET /api?_<HWID>_<HEX>``."""
    if not isinstance(query, str):
        raise UnitProtocolError("the query is not text")
    if len(query) > MAX_QUERY_LENGTH:
        raise UnitProtocolError(f"the query is longer than {MAX_QUERY_LENGTH} characters")
    parts = query.split("_")
    if len(parts) != 3 or parts[0]:
        raise UnitProtocolError("the query is not _<hardware id>_<hex payload>")
    _, hardware_id, hex_text = parts
    _check_hardware_id(hardware_id)
    _check_hex(hex_text)
    return hardware_id, hex_text


def build_request_path(hardware_id: str, hex_text: str) -> str:
    """``/api?_<HWID>_<HEX>``, the path and query a unit requests."""
    _check_hardware_id(hardware_id)
    _check_hex(hex_text)
    return f"/api?_{hardware_id}_{hex_text}"


def _check_hex(hex_text: str) -> None:
    if len(hex_text) > 2 * MAX_PLAINTEXT_LENGTH:
        raise UnitProtocolError(f"the payload is longer than {MAX_PLAINTEXT_LENGTH} bytes")
    if not hex_text:
        raise UnitProtocolError("the payload is empty")
    if len(hex_text) % 2:
        raise UnitProtocolError("the payload has an odd number of hex digits")
    if _HEX_RE.fullmatch(hex_text) is None:
        raise UnitProtocolError("the payload is not hexadecimal")


def _key(password: str) -> bytes:
    try:
        return unit_key(password)
    except ValueError as err:
        raise UnitProtocolError(f"the unit's password cannot be a key: {err}") from None


def _decrypt_text(hex_text: str, password: str, what: str) -> str:
    _check_hex(hex_text)
    plain = arc4(_key(password), bytes.fromhex(hex_text)).rstrip(bytes([_PAD]))
    try:
        text = plain.decode("ascii")
    except UnicodeDecodeError:
        raise UnitProtocolError(
            f"the {what} does not decrypt to text (wrong password, or not this unit)"
        ) from None
    if not text or not text.isprintable():
        raise UnitProtocolError(
            f"the {what} does not decrypt to text (wrong password, or not this unit)"
        )
    return text


def decrypt_poll(hex_text: str, password: str) -> str:
    """The plaintext query of a poll: hex, ARC4, trailing ``0xFF`` padding stripped, ASCII."""
    return _decrypt_text(hex_text, password, "payload")


def _unquote(raw: str, name: str) -> str:
    if "%" in raw:
        out = bytearray()
        pos = 0
        for match in _ESCAPE_RE.finditer(raw):
            out += raw[pos : match.start()].encode("ascii")
            out.append(int(match.group(1), 16))
            pos = match.end()
        out += raw[pos:].encode("ascii")
        if "%" in _ESCAPE_RE.sub("", raw):
            raise UnitProtocolError(f"field {name}: a % is not followed by two hex digits")
        try:
            value = out.decode("ascii")
        except UnicodeDecodeError:
            raise UnitProtocolError(f"field {name}: the value is not ASCII") from None
    else:
        value = raw
    if len(value) > MAX_VALUE_LENGTH:
        raise UnitProtocolError(f"field {name}: the value is longer than {MAX_VALUE_LENGTH}")
    if not value.isprintable() or not value.isascii():
        raise UnitProtocolError(f"field {name}: the value has characters a unit does not send")
    return value


def _quote(value: str) -> str:
    return "".join(c if c in _UNRESERVED else f"%{ord(c):02X}" for c in value)


def _query_pairs(plaintext: str) -> dict[str, str]:
    if len(plaintext) > MAX_PLAINTEXT_LENGTH:
        raise UnitProtocolError(f"the poll is longer than {MAX_PLAINTEXT_LENGTH} characters")
    parts = plaintext.split("&")
    if len(parts) > MAX_FIELDS:
        raise UnitProtocolError(f"the poll has more than {MAX_FIELDS} fields")
    pairs: dict[str, str] = {}
    for part in parts:
        name, _, raw = part.partition("=")
        if _NAME_RE.fullmatch(name) is None:
            raise UnitProtocolError(
                "the payload is not a query of name=value fields (wrong password?)"
            )
        if name in pairs:
            raise UnitProtocolError(f"field {name} appears more than once")
        pairs[name] = _unquote(raw, name)
    return pairs


def _int_field(value: str, name: str, low: int, high: int) -> int:
    if _INT_RE.fullmatch(value) is None:
        raise UnitProtocolError(f"{name} must be a whole number")
    return _check_int(int(value), low, high, name)


def _tenths_field(value: str, name: str) -> float:
    if _INT_RE.fullmatch(value) is None:
        raise UnitProtocolError(f"{name} must be a whole number of tenths")
    return int(value) / 10


def _decimal_field(value: str, name: str) -> float:
    if _DECIMAL_RE.fullmatch(value) is None:
        raise UnitProtocolError(f"{name} must be a decimal number")
    return float(value)


def _ot_field(value: str, name: str) -> int | None:
    match = _OT_RE.fullmatch(value)
    if match is None:
        raise UnitProtocolError(f"{name} must be 1-4 hex digits")
    raw = int(match.group(1), 16)
    return None if raw == NOT_AVAILABLE else raw


_OT_NAMES: dict[str, int] = {f"ot{data_id}": data_id for data_id in OPENTHERM_IDS}
_FIELDS: Final = frozenset(
    {"u", "p", "hw", "fw", "pv", "src", "csv", "oo", "kp", "ti", "td", "ts", "init", *_OT_NAMES}
)


def parse_poll(plaintext: str, *, hardware_id: str, password: str) -> Poll:
    """The :class:`Poll` in a decrypted query, if ``p`` is ``password`` (and ``u`` the unit)."""
    if not isinstance(plaintext, str):
        raise UnitProtocolError("the poll is not text")
    pairs = _query_pairs(plaintext)
    sent = pairs.get("p")
    if sent is None:
        raise UnitProtocolError("the poll has no password (p)")
    if not hmac.compare_digest(sent.encode("ascii"), password.encode("utf-8")):
        raise UnitProtocolError("wrong password")
    if "u" in pairs and pairs["u"] != hardware_id:
        raise UnitProtocolError("u is not the hardware id the poll was sent for")
    init = pairs.get("init")
    if init not in (None, "", "1"):
        raise UnitProtocolError("init is bare, empty or 1")
    pid_parts = [pairs.get(name) for name in ("kp", "ti", "td")]
    if any(part is not None for part in pid_parts) and None in pid_parts:
        raise UnitProtocolError("kp, ti and td come together")
    pid = None
    if pid_parts[0] is not None and pid_parts[1] is not None and pid_parts[2] is not None:
        pid = Pid(
            _decimal_field(pid_parts[0], "kp"),
            _decimal_field(pid_parts[1], "ti"),
            _decimal_field(pid_parts[2], "td"),
        )

    def get(name: str, convert: Callable[[str, str], _T]) -> _T | None:
        value = pairs.get(name)
        return None if value is None else convert(value, name)

    oo = get("oo", lambda v, n: _int_field(v, n, 0, 1))
    return Poll(
        hardware_id=hardware_id,
        revision=get("hw", lambda v, n: _int_field(v, n, REVISIONS[0], REVISIONS[-1])),
        firmware=pairs.get("fw"),
        room_temperature=get("pv", _tenths_field),
        source=get("src", lambda v, n: UnitSource(_int_field(v, n, 0, len(UnitSource) - 1))),
        dial_setpoint=get("csv", _tenths_field),
        opentherm={
            data_id: _ot_field(pairs[name], name)
            for name, data_id in _OT_NAMES.items()
            if name in pairs
        },
        opentherm_boiler=None if oo is None else bool(oo),
        pid=pid,
        clock=get("ts", lambda v, n: _int_field(v, n, *CLOCK_RANGE)),
        init=init is not None,
        unknown=tuple(name for name in pairs if name not in _FIELDS),
    )


def _tenths_text(value: float) -> str:
    return str(round(value * 10))


def _decimal_text(value: float) -> str:
    return f"{value:.{PID_DECIMALS}f}".rstrip("0").rstrip(".")


def render_poll(poll: Poll, password: str) -> dict[str, str]:
    """The fields a unit sends for ``poll`` (the unit's side; ``unknown`` is not sent)."""
    out = {"u": poll.hardware_id, "p": password}
    if poll.revision is not None:
        out["hw"] = str(poll.revision)
    if poll.firmware is not None:
        out["fw"] = poll.firmware
    if poll.room_temperature is not None:
        out["pv"] = _tenths_text(poll.room_temperature)
    if poll.source is not None:
        out["src"] = str(int(poll.source))
    if poll.dial_setpoint is not None:
        out["csv"] = _tenths_text(poll.dial_setpoint)
    for data_id, raw in poll.opentherm.items():
        out[f"ot{data_id}"] = "DEAD" if raw is None else f"{raw:04X}"
    if poll.opentherm_boiler is not None:
        out["oo"] = str(int(poll.opentherm_boiler))
    if poll.pid is not None:
        out["kp"] = _decimal_text(poll.pid.kp)
        out["ti"] = _decimal_text(poll.pid.ti)
        out["td"] = _decimal_text(poll.pid.td)
    if poll.clock is not None:
        out["ts"] = str(poll.clock)
    if poll.init:
        out["init"] = "1"
    return out


def encrypt_poll(fields: Mapping[str, str], password: str, *, revision: int) -> str:
    """A poll's hex payload, as a unit of hardware ``revision`` sends it.

    The fields are query-encoded (``%XX`` for all but letters, digits and
    ``-._~``); revision 5 pads with ``0xFF`` to a multiple of 16 bytes and
    writes lower-case hex, revisions 1-4 upper-case hex.
    """
    _check_int(revision, REVISIONS[0], REVISIONS[-1], "the revision")
    text = "&".join(f"{_quote(name)}={_quote(value)}" for name, value in fields.items())
    data = text.encode("ascii")
    if revision == REVISIONS[-1]:
        data += bytes([_PAD]) * (-len(data) % _PAD_BLOCK)
    if len(data) > MAX_PLAINTEXT_LENGTH:
        raise UnitProtocolError(f"the poll is longer than {MAX_PLAINTEXT_LENGTH} bytes")
    cipher = arc4(_key(password), data).hex()
    return cipher if revision == REVISIONS[-1] else cipher.upper()


def poll_interval(throttle: int) -> float:
    """Seconds between polls at throttle factor ``throttle`` (0: 5 s; N ≥ 1: 5 + 5·N s)."""
    _check_int(throttle, 0, MAX_THROTTLE, "TH")
    return POLL_INTERVAL_S + THROTTLE_STEP_S * throttle


def clock_is_off(poll: Poll, now: float) -> bool:
    """Whether the server should send ``TS``: the poll has no ``ts``, or it is more than
    :data:`CLOCK_TOLERANCE_S` from ``now`` (Unix seconds)."""
    return poll.clock is None or abs(poll.clock - now) > CLOCK_TOLERANCE_S


# ---------------------------------------------------------------- the answer


@dataclass(frozen=True, slots=True)
class InitBlock:
    """``INIT``: what the unit follows, its display language, hot water on or off."""

    source: UnitSource
    locale: str
    hot_water: bool

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "source", UnitSource(_check_int(self.source, 0, len(UnitSource) - 1, "SRC"))
        )
        if self.locale not in LOCALES:
            raise UnitProtocolError(f"LOCALE must be one of {', '.join(LOCALES)}")
        _check_bool(self.hot_water, "DHW")


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """What the server tells a unit; None leaves the element out.

    ``setpoint`` (``SVSET``), ``outside`` (``BVSET``) in °C and
    ``calibration`` (``TA``) in K are kept to 0.1; ``time`` (``TS``) is Unix
    seconds; ``tz_minutes`` (``TZ``) the local offset from UTC.
    """

    calendar: Calendar | None = None
    setpoint: float | None = None
    outside: float | None = None
    pause: bool | None = None
    init: InitBlock | None = None
    time: int | None = None
    tz_minutes: int | None = None
    calibration: float | None = None
    brightness: int | None = None
    status_led: int | None = None
    display: int | None = None
    pid: Pid | None = None
    throttle: int | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.calendar is not None and not isinstance(self.calendar, Calendar):
            raise UnitProtocolError("calendar must be a Calendar")
        set_(
            self,
            "setpoint",
            _optional(self.setpoint, lambda v: _check_tenths(v, TARGET_RANGE, "SVSET", "°C")),
        )
        set_(
            self,
            "outside",
            _optional(self.outside, lambda v: _check_tenths(v, OUTSIDE_RANGE, "BVSET", "°C")),
        )
        _optional(self.pause, lambda v: _check_bool(v, "PAUSE"))
        if self.init is not None and not isinstance(self.init, InitBlock):
            raise UnitProtocolError("init must be an InitBlock")
        _optional(self.time, lambda v: _check_int(v, *CLOCK_RANGE, "TS"))
        _optional(self.tz_minutes, lambda v: _check_int(v, *TZ_RANGE, "TZ"))
        set_(
            self,
            "calibration",
            _optional(self.calibration, lambda v: _check_tenths(v, CALIBRATION_RANGE, "TA", "K")),
        )
        _optional(self.brightness, lambda v: _check_int(v, *BRIGHTNESS_RANGE, "DIM"))
        _optional(self.status_led, lambda v: _check_int(v, 0, 2, "SLS"))
        _optional(self.display, lambda v: _check_int(v, 0, 1, "SD"))
        _optional(self.pid, _check_pid)
        _optional(self.throttle, lambda v: _check_int(v, 0, MAX_THROTTLE, "TH"))


def _element(name: str, text: str) -> str:
    return f"<{name}>{text}</{name}>"


# Each element: its tag, how the answer's value is written, how it is read back.
_Render = Callable[[Any], str]
_Parse = Callable[[str], object]


def _render_init(value: object) -> str:
    assert isinstance(value, InitBlock)
    return (
        _element("SRC", str(int(value.source)))
        + _element("LOCALE", value.locale)
        + _element("DHW", str(int(value.hot_water)))
    )


def _render_pid(value: object) -> str:
    assert isinstance(value, Pid)
    return (
        _element("KP", _decimal_text(value.kp))
        + _element("TI", _decimal_text(value.ti))
        + _element("TD", _decimal_text(value.td))
    )


def _parse_int(text: str, tag: str) -> int:
    if _SIGNED_RE.fullmatch(text) is None:
        raise UnitProtocolError(f"{tag} must be a whole number")
    return int(text)


def _parse_flag(text: str, tag: str) -> bool:
    if text not in ("0", "1"):
        raise UnitProtocolError(f"{tag} must be 0 or 1")
    return text == "1"


def _parse_decimal(text: str, tag: str) -> float:
    if _DECIMAL_RE.fullmatch(text) is None:
        raise UnitProtocolError(f"{tag} must be a decimal number")
    return float(text)


def _parse_init(text: str) -> InitBlock:
    parts = dict(_exact_children(text, ("SRC", "LOCALE", "DHW"), "INIT"))
    source = _parse_int(parts["SRC"], "SRC")
    return InitBlock(
        UnitSource(_check_int(source, 0, len(UnitSource) - 1, "SRC")),
        parts["LOCALE"],
        _parse_flag(parts["DHW"], "DHW"),
    )


def _parse_pid(text: str) -> Pid:
    parts = dict(_exact_children(text, ("KP", "TI", "TD"), "PID"))
    return Pid(
        _parse_decimal(parts["KP"], "KP"),
        _parse_decimal(parts["TI"], "TI"),
        _parse_decimal(parts["TD"], "TD"),
    )


_ELEMENTS: tuple[tuple[str, str, _Render, _Parse], ...] = (
    ("calendar", "CAL", render_calendar, parse_calendar),
    ("setpoint", "SVSET", _tenths_text, lambda t: _parse_int(t, "SVSET") / 10),
    ("outside", "BVSET", _tenths_text, lambda t: _parse_int(t, "BVSET") / 10),
    ("pause", "PAUSE", lambda v: str(int(v)), lambda t: _parse_flag(t, "PAUSE")),
    ("init", "INIT", _render_init, _parse_init),
    ("time", "TS", str, lambda t: _parse_int(t, "TS")),
    ("tz_minutes", "TZ", lambda v: f"{v:+d}", lambda t: _parse_int(t, "TZ")),
    ("calibration", "TA", _tenths_text, lambda t: _parse_int(t, "TA") / 10),
    ("brightness", "DIM", str, lambda t: _parse_int(t, "DIM")),
    ("status_led", "SLS", str, lambda t: _parse_int(t, "SLS")),
    ("display", "SD", str, lambda t: _parse_int(t, "SD")),
    ("pid", "PID", _render_pid, _parse_pid),
    ("throttle", "TH", str, lambda t: _parse_int(t, "TH")),
)
_BY_TAG = {tag: (attr, parse) for attr, tag, _, parse in _ELEMENTS}
_ROOT = "ITHERMOSTAT"
_OPEN_RE = re.compile(r"<([A-Z]{1,12})>")
_LEAF_RE = re.compile(r"[0-9A-Za-z+.\-]*")


def render_answer(answer: Answer) -> str:
    """The ``<ITHERMOSTAT>`` XML of ``answer``, elements in the module's fixed order."""
    body = "".join(
        _element(tag, render(getattr(answer, attr)))
        for attr, tag, render, _ in _ELEMENTS
        if getattr(answer, attr) is not None
    )
    return _element(_ROOT, body)


def _children(text: str, where: str) -> Iterator[tuple[str, str]]:
    """The ``<TAG>content</TAG>`` elements that make up ``text``, in order."""
    pos = 0
    while pos < len(text):
        match = _OPEN_RE.match(text, pos)
        if match is None:
            raise UnitProtocolError(f"{where}: expected an element at character {pos}")
        tag = match.group(1)
        close = text.find(f"</{tag}>", match.end())
        if close < 0:
            raise UnitProtocolError(f"{where}: <{tag}> is not closed")
        yield tag, text[match.end() : close]
        pos = close + len(tag) + 3


def _exact_children(text: str, tags: tuple[str, ...], where: str) -> list[tuple[str, str]]:
    children = list(_children(text, where))
    if [tag for tag, _ in children] != list(tags):
        raise UnitProtocolError(f"{where} holds {', '.join(tags)}, in that order")
    for tag, content in children:
        if _LEAF_RE.fullmatch(content) is None:
            raise UnitProtocolError(f"{tag} holds a plain value")
    return children


def parse_answer(xml: str) -> Answer:
    """The :class:`Answer` in a server's ``<ITHERMOSTAT>`` XML (the unit's side).

    Strict: no whitespace, no attributes, each known element at most once,
    any order; an unknown element (``FW`` too) is refused.
    """
    if not isinstance(xml, str):
        raise UnitProtocolError("the answer is not text")
    if len(xml) > MAX_ANSWER_LENGTH:
        raise UnitProtocolError(f"the answer is longer than {MAX_ANSWER_LENGTH} characters")
    head, tail = f"<{_ROOT}>", f"</{_ROOT}>"
    if not (xml.startswith(head) and xml.endswith(tail)) or len(xml) < len(head) + len(tail):
        raise UnitProtocolError(f"the answer is not one <{_ROOT}> element")
    values: dict[str, object] = {}
    for tag, content in _children(xml[len(head) : -len(tail)], _ROOT):
        known = _BY_TAG.get(tag)
        if known is None:
            raise UnitProtocolError(f"<{tag}> is not an element this unit takes")
        attr, parse = known
        if attr in values:
            raise UnitProtocolError(f"<{tag}> appears more than once")
        if tag not in ("INIT", "PID") and _LEAF_RE.fullmatch(content) is None:
            raise UnitProtocolError(f"<{tag}> holds a plain value")
        values[attr] = parse(content)
    return Answer(**values)  # type: ignore[arg-type]


def encrypt_answer(xml: str, password: str) -> str:
    """The answer's body: ``xml`` ARC4-encrypted, in lower-case hex."""
    if len(xml) > MAX_ANSWER_LENGTH:
        raise UnitProtocolError(f"the answer is longer than {MAX_ANSWER_LENGTH} characters")
    return arc4(_key(password), xml.encode("ascii")).hex()


def decrypt_answer(hex_text: str, password: str) -> str:
    """The XML in an answer's body (the unit's side)."""
    if len(hex_text) > 2 * MAX_ANSWER_LENGTH:
        raise UnitProtocolError(f"the answer is longer than {MAX_ANSWER_LENGTH} characters")
    if not hex_text or len(hex_text) % 2 or _HEX_RE.fullmatch(hex_text) is None:
        raise UnitProtocolError("the answer is not an even number of hex digits")
    plain = arc4(_key(password), bytes.fromhex(hex_text))
    try:
        text = plain.decode("ascii")
    except UnicodeDecodeError:
        raise UnitProtocolError("the answer does not decrypt to text (wrong password)") from None
    if not text.isprintable():
        raise UnitProtocolError("the answer does not decrypt to text (wrong password)")
    return text


_ANSWER_FIELDS = tuple(f.name for f in fields(Answer))
if sorted(_ANSWER_FIELDS) != sorted(attr for attr, *_ in _ELEMENTS):
    raise RuntimeError("every Answer field has exactly one element")
