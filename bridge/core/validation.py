"""Voluptuous schemas for programs, schedule, exceptions and temperatures.

The HTTP API and the config file share these. A schema returns the model
object (:class:`Programs`, :class:`WeekSchedule`, a tuple of
:class:`ExceptionPeriod`), so a caller gets checked data or nothing.

Rules (each error names its field, e.g. ``schedule[3].start[2]``, and one
of these rules):

* temperatures are numbers (a numeric string is accepted, for form bodies),
  finite, and are rounded to 0.1 °C; a program or a target is 5-30 °C (so
  ``anti_freeze`` is never below 5 °C);
* programs: all five names for :data:`PROGRAMS_SCHEMA`, any of them for
  :data:`PROGRAM_CHANGES_SCHEMA`; other names are unknown fields;
* schedule: a list of 1-672 entries ``{"start": [day, hour, minute],
  "temperature": program}``, day 0-6 (0 = Monday), hour 0-23, minute 0, 15,
  30 or 45; entries may come in any order and are stored sorted; two entries
  with the same start are rejected;
* exceptions: at most 100 of ``{"start": [Y, M, D, h, m], "end": [...],
  "temperature": program, "description": text}``, Y 2000-2099, M 0-11
  (January = 0), D 1-31 and a real date, hour 0-23, minute 0/15/30/45, end
  after start, description optional (default ``""``) and at most 30
  characters;
* unknown fields are rejected everywhere.

This module holds the error shape and the scalar validators; the programs,
schedule and exceptions schemas are in :mod:`bridge.core.schemas`, the
self-describing :class:`~bridge.core.rules.Rule` objects in
:mod:`bridge.core.rules` and the request-body :func:`~bridge.core.decoding.decode`
in :mod:`bridge.core.decoding`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from datetime import date, datetime
import math
import re
from typing import Any, TypedDict, TypeGuard, TypeVar
import zoneinfo

import voluptuous as vol

from bridge.core.programs import (
    MINUTE_STEP,
    PROGRAM_NAMES,
    TEMPERATURE_MAX,
    TEMPERATURE_MIN,
    round_temperature,
    wall_time,
)

_T = TypeVar("_T")

#: Years an exception may fall in.
YEAR_MIN = 2000
YEAR_MAX = 2099
#: Plausible ranges for pushed sensor values (°C).
ROOM_TEMPERATURE_RANGE = (-20.0, 50.0)
OUTSIDE_TEMPERATURE_RANGE = (-50.0, 60.0)

_MINUTES = tuple(range(0, 60, MINUTE_STEP))
_MINUTE_RULE = "must be " + ", ".join(str(m) for m in _MINUTES[:-1]) + f" or {_MINUTES[-1]}"

#: Voluptuous's own messages, in the words of this API.
_RULE_WORDS = {
    "extra keys not allowed": "unknown field",
    "required key not provided": "required",
    "expected a dictionary": "must be an object",
    "expected a list": "must be a list",
}


class FieldError(TypedDict):
    """One validation failure: the field's path and the rule it broke."""

    field: str
    rule: str


class ValidationError(ValueError):
    """Input that breaks one or more rules; ``errors`` lists them."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['field'] or '(body)'}: {e['rule']}" for e in errors))


def format_path(path: Sequence[Hashable]) -> str:
    """``["schedule", 3, "start", 2]`` -> ``"schedule[3].start[2]"``."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _flatten(err: vol.Invalid) -> Iterator[vol.Invalid]:
    if isinstance(err, vol.MultipleInvalid):
        for inner in err.errors:
            yield from _flatten(inner)
    else:
        yield err


def errors_from_invalid(err: vol.Invalid, prefix: Sequence[Hashable] = ()) -> list[FieldError]:
    """The ``{"field", "rule"}`` list for a voluptuous error (nested ones flattened)."""
    out: list[FieldError] = []
    for one in _flatten(err):
        rule = _RULE_WORDS.get(one.msg, one.msg)
        item = FieldError(field=format_path([*prefix, *one.path]), rule=rule)
        if item not in out:
            out.append(item)
    return out


def validate(schema: Callable[[Any], _T], data: Any, field: str = "") -> _T:
    """Run ``schema`` on ``data``; raise :class:`ValidationError` naming ``field``."""
    try:
        return schema(data)
    except vol.Invalid as err:
        raise ValidationError(errors_from_invalid(err, [field] if field else [])) from None


# -- scalar validators ----------------------------------------------------------


#: The largest magnitude a number in a request may have (a Unix time in milliseconds
#: fits; an integer of hundreds of digits does not, nor does anything a float cannot hold).
NUMBER_LIMIT = 1e15
#: A decimal number as text: ASCII digits only (no ``²``, no Arabic or full-width digits,
#: no ``_`` separators, no ``nan`` or ``inf``).
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")
_DECIMAL_MAX_LEN = 40
_NUMBER_RULE = "must be a number"


def finite_number(value: Any, *, from_text: bool = False) -> float:
    """The one number check: a finite number of at most :data:`NUMBER_LIMIT` in magnitude.

    Booleans are not numbers; with ``from_text``, a decimal string in ASCII digits is read
    (form bodies send numbers as text). Anything else raises :class:`vol.Invalid`.
    """
    if isinstance(value, bool):
        raise vol.Invalid(_NUMBER_RULE)
    if isinstance(value, int):
        if not -NUMBER_LIMIT <= value <= NUMBER_LIMIT:
            raise vol.Invalid(_NUMBER_RULE)
        return float(value)
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) > NUMBER_LIMIT:
            raise vol.Invalid(_NUMBER_RULE)
        return value
    if from_text and isinstance(value, str):
        stripped = value.strip(" \t")
        if len(stripped) > _DECIMAL_MAX_LEN or not _DECIMAL.fullmatch(stripped):
            raise vol.Invalid(_NUMBER_RULE)
        return finite_number(float(stripped))
    raise vol.Invalid(_NUMBER_RULE)


def is_number(value: Any) -> TypeGuard[int | float]:
    """Whether ``value`` passes :func:`finite_number` (a JSON number, not text)."""
    try:
        finite_number(value)
    except vol.Invalid:
        return False
    return True


def _number(value: Any) -> float:
    return finite_number(value, from_text=True)


def temperature_in(low: float, high: float) -> Callable[[Any], float]:
    """A validator: a number within ``[low, high]`` °C, rounded to 0.1 °C."""
    rule = f"must be between {low:g} and {high:g} °C"

    def check(value: Any) -> float:
        number = _number(value)
        if not low <= number <= high:
            raise vol.Invalid(rule)
        return round_temperature(number)

    return check


#: A program temperature or a manual target: 5-30 °C, rounded to 0.1 °C.
program_temperature = temperature_in(TEMPERATURE_MIN, TEMPERATURE_MAX)
target_temperature = program_temperature
#: An external room temperature pushed through the API.
room_temperature = temperature_in(*ROOM_TEMPERATURE_RANGE)
_outside_number = temperature_in(*OUTSIDE_TEMPERATURE_RANGE)


def outside_temperature(value: Any) -> float | None:
    """A pushed outside temperature, or ``None`` for ``"auto"`` (drop the pushed value)."""
    if value == "auto":
        return None
    return _outside_number(value)


def program_name(value: Any) -> str:
    """One of the five program names."""
    if not isinstance(value, str) or value not in PROGRAM_NAMES:
        raise vol.Invalid("unknown program (one of " + ", ".join(PROGRAM_NAMES) + ")")
    return value


def timezone_name(value: Any) -> str:
    """An IANA timezone name that this system knows (e.g. ``Europe/Amsterdam``)."""
    if not isinstance(value, str) or not value:
        raise vol.Invalid("must be a timezone name")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise vol.Invalid("unknown timezone") from None
    return value


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


_Part = tuple[int, int, str]
_DAY: _Part = (0, 6, "must be 0-6 (0 = Monday)")
_HOUR: _Part = (0, 23, "must be 0-23")
_MINUTE: _Part = (0, 59, _MINUTE_RULE)
_YEAR: _Part = (YEAR_MIN, YEAR_MAX, f"must be {YEAR_MIN}-{YEAR_MAX}")
_MONTH: _Part = (0, 11, "must be 0-11 (January = 0)")
_MDAY: _Part = (1, 31, "must be 1-31")


def _int_list(value: Any, parts: Sequence[_Part], shape: str) -> list[int]:
    """Check a fixed-length integer list; errors name the index."""
    if not isinstance(value, list | tuple) or len(value) != len(parts):
        raise vol.Invalid(f"must be {shape}")
    out: list[int] = []
    errors: list[vol.Invalid] = []
    for index, (item, (low, high, rule)) in enumerate(zip(value, parts, strict=True)):
        number = _integer(item)
        if number is None:
            errors.append(vol.Invalid("must be an integer", path=[index]))
        elif not low <= number <= high or (parts[index] is _MINUTE and number % MINUTE_STEP):
            errors.append(vol.Invalid(rule, path=[index]))
        out.append(number if number is not None else 0)
    if errors:
        raise vol.MultipleInvalid(errors)
    return out


def week_start(value: Any) -> tuple[int, int, int]:
    """A schedule start ``[day, hour, minute]``."""
    day, hour, minute = _int_list(value, (_DAY, _HOUR, _MINUTE), "[day, hour, minute]")
    return day, hour, minute


def wall_clock(value: Any) -> datetime:
    """An exception time ``[Y, M, D, h, m]`` (M 0-11) -> a naive local datetime."""
    year, month0, mday, hour, minute = _int_list(
        value, (_YEAR, _MONTH, _MDAY, _HOUR, _MINUTE), "[year, month, day, hour, minute]"
    )
    try:
        date(year, month0 + 1, mday)
    except ValueError:
        raise vol.Invalid("no such date", path=[2]) from None
    return wall_time(year, month0, mday, hour, minute)


def parse_target_temperature(data: Any, field: str = "target_temperature") -> float:
    """A manual target (5-30 °C, rounded to 0.1), or :class:`ValidationError`."""
    return validate(target_temperature, data, field)


def parse_room_temperature(data: Any, field: str = "room_temperature") -> float:
    """A pushed room temperature (-20-50 °C), or :class:`ValidationError`."""
    return validate(room_temperature, data, field)


def parse_outside_temperature(data: Any, field: str = "outside_temperature") -> float | None:
    """A pushed outside temperature (-50-60 °C) or ``None`` for ``"auto"``."""
    return validate(outside_temperature, data, field)


# -- text -----------------------------------------------------------------------

#: A lone surrogate: a ``str`` that UTF-8 cannot encode (``"\\ud800"`` in JSON, or a byte
#: that was not UTF-8 read with ``surrogateescape``).
_SURROGATE = re.compile("[\ud800-\udfff]")
TEXT_RULE = "must be text (valid Unicode, no lone surrogates)"


def is_text(value: Any) -> TypeGuard[str]:
    """Whether ``value`` is a string that UTF-8 can encode (no lone surrogates)."""
    return isinstance(value, str) and _SURROGATE.search(value) is None


def text(value: Any) -> str:
    """The one text check: a string that can be stored, logged and sent (valid Unicode).

    Every text field of a request goes through it; :class:`vol.Invalid` otherwise.
    """
    if not isinstance(value, str):
        raise vol.Invalid("must be a string")
    if _SURROGATE.search(value) is not None:
        raise vol.Invalid(TEXT_RULE)
    return value


# -- query and path values ------------------------------------------------------

_DIGITS = re.compile("[0-9]+")


def parse_whole(value: str, field: str, low: int, high: int, rule: str | None = None) -> int:
    """The one integer parser for query and path values: ASCII digits, ``low..high``.

    ``²``, Arabic and full-width digits, signs, spaces and ``_`` are refused,
    as is anything out of range, with :class:`ValidationError` naming ``field``.
    """
    valid = isinstance(value, str) and _DIGITS.fullmatch(value) is not None
    digits = (value.lstrip("0") or "0") if valid else ""
    if not valid or len(digits) > len(str(high)) or not low <= int(digits) <= high:
        raise ValidationError(
            [{"field": field, "rule": rule or f"must be a whole number from {low} to {high}"}]
        )
    return int(digits)


#: Times a request may name: from 1970 up to (not including) the year 2100, whether
#: given as Unix seconds or as ISO 8601.
TIME_MIN = 0.0
TIME_MAX = 4_102_444_800.0
_TIME_RULE = "must be a Unix time or an ISO 8601 time from 1970 to 2099"
_ISO_HINT = "must be an ISO 8601 time with an offset (Z or +01:00) or a Unix time in seconds"
# "+01:00" arrives as " 01:00" when a client does not encode "+" in the query.
_UNENCODED_OFFSET = re.compile(r"(T[0-9][0-9:.]*) ([0-9][0-9](?::?[0-9][0-9])?)$")


def parse_time(value: str, field: str) -> float:
    """A Unix time from ISO 8601 (with an offset) or Unix seconds, within
    :data:`TIME_MIN`..:data:`TIME_MAX` either way; :class:`ValidationError` otherwise."""
    raw = value.strip(" ")
    if not raw.isascii():
        raise ValidationError([{"field": field, "rule": _ISO_HINT}])
    if len(raw) <= _DECIMAL_MAX_LEN and _DECIMAL.fullmatch(raw):
        number = float(raw)
    else:
        try:
            when = datetime.fromisoformat(_UNENCODED_OFFSET.sub(r"\1+\2", raw))
            number = when.timestamp() if when.tzinfo is not None else math.nan
        except (ValueError, OverflowError):
            number = math.nan
        if math.isnan(number):
            raise ValidationError([{"field": field, "rule": _ISO_HINT}])
    if not TIME_MIN <= number < TIME_MAX:
        raise ValidationError([{"field": field, "rule": _TIME_RULE}])
    return number


# -- the owner's settings -------------------------------------------------------

#: Longest thermostat name, city and e-mail address.
NAME_MAX = 64
LOCATION_MAX = 100
EMAIL_MAX = 254


def check_text(value: Any, max_len: int) -> None:
    """A string of at most ``max_len`` characters, or :class:`ValueError`."""
    try:
        text(value)
    except vol.Invalid as err:
        raise ValueError(err.msg) from None
    if len(value) > max_len:
        raise ValueError(f"must be at most {max_len} characters")


def check_name(value: Any) -> None:
    """The thermostat's name: not blank, at most :data:`NAME_MAX` characters."""
    check_text(value, NAME_MAX)
    if not value.strip():
        raise ValueError("must not be empty")


def optional_text(max_len: int) -> Callable[[Any], None]:
    """A checker: ``None`` or a string of at most ``max_len`` characters."""

    def check(value: Any) -> None:
        if value is not None:
            check_text(value, max_len)

    return check


def check_email(value: Any) -> None:
    """``None`` or an e-mail address of at most :data:`EMAIL_MAX` characters."""
    if value is None:
        return
    check_text(value, EMAIL_MAX)
    local, at, domain = value.partition("@")
    if not at or not local or not domain or any(c.isspace() for c in value):
        raise ValueError("must be an e-mail address")
