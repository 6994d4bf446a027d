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

Request bodies are decoded with their payload models (:func:`decode`): a
model field names its :class:`Rule`, which both checks the value and
describes itself in the field's JSON Schema, so each bound is written once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
import dataclasses
from datetime import date, datetime
import math
from typing import Any, TypedDict, TypeVar, cast, get_args, get_type_hints
import zoneinfo

import voluptuous as vol

from bridge.core.contract import Unset, is_optional
from bridge.core.programs import (
    MAX_DESCRIPTION,
    MAX_EXCEPTIONS,
    MAX_SCHEDULE_ENTRIES,
    MINUTE_STEP,
    PROGRAM_NAMES,
    TEMPERATURE_MAX,
    TEMPERATURE_MIN,
    ExceptionPeriod,
    Programs,
    ScheduleEntry,
    WeekSchedule,
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


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise vol.Invalid("must be a number")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise vol.Invalid("must be a number") from None
    else:
        raise vol.Invalid("must be a number")
    if not math.isfinite(number):
        raise vol.Invalid("must be a number")
    return number


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


def _description(value: Any) -> str:
    if not isinstance(value, str):
        raise vol.Invalid("must be a string")
    if len(value) > MAX_DESCRIPTION:
        raise vol.Invalid(f"at most {MAX_DESCRIPTION} characters")
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


def _list_of(low: int, high: int) -> Callable[[Any], list[Any]]:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise vol.Invalid("must be a list")
        if len(value) < low:
            raise vol.Invalid("must have at least one entry")
        if len(value) > high:
            raise vol.Invalid(f"at most {high} entries")
        return list(value)

    return check


def _each(item: Callable[[Any], Any]) -> Callable[[list[Any]], list[Any]]:
    """Validate every item of a list, collecting the errors of all items."""
    schema = vol.Schema(item)

    def check(value: list[Any]) -> list[Any]:
        out: list[Any] = []
        errors: list[vol.Invalid] = []
        for index, one in enumerate(value):
            try:
                out.append(schema(one))
            except vol.Invalid as err:
                err.prepend([index])
                errors.append(err)
        if errors:
            raise vol.MultipleInvalid(errors)
        return out

    return check


# -- programs -------------------------------------------------------------------

#: The five programs, all required -> :class:`Programs`.
PROGRAMS_SCHEMA = vol.Schema(
    vol.All(
        vol.Schema({vol.Required(name): program_temperature for name in PROGRAM_NAMES}),
        Programs.from_dict,
    )
)

#: Some of the programs -> ``{name: temperature}`` (for a partial update).
PROGRAM_CHANGES_SCHEMA = vol.Schema(
    {vol.Optional(name): program_temperature for name in PROGRAM_NAMES}
)


# -- week schedule --------------------------------------------------------------

_SCHEDULE_ENTRY = vol.Schema(
    {vol.Required("start"): week_start, vol.Required("temperature"): program_name}
)


def _to_schedule(entries: list[dict[str, Any]]) -> WeekSchedule:
    seen: dict[tuple[int, int, int], int] = {}
    errors: list[vol.Invalid] = []
    for index, entry in enumerate(entries):
        start = entry["start"]
        if start in seen:
            rule = f"duplicate start (same as schedule entry {seen[start]})"
            errors.append(vol.Invalid(rule, path=[index, "start"]))
        else:
            seen[start] = index
    if errors:
        raise vol.MultipleInvalid(errors)
    return WeekSchedule.of(
        ScheduleEntry(day, hour, minute, entry["temperature"])
        for entry in entries
        for day, hour, minute in (entry["start"],)
    )


#: The week schedule -> :class:`WeekSchedule` (sorted by start).
SCHEDULE_SCHEMA = vol.Schema(
    vol.All(_list_of(1, MAX_SCHEDULE_ENTRIES), _each(_SCHEDULE_ENTRY), _to_schedule)
)


# -- exceptions -----------------------------------------------------------------


def _to_exception(data: dict[str, Any]) -> ExceptionPeriod:
    if data["end"] <= data["start"]:
        raise vol.Invalid("must be after start", path=["end"])
    return ExceptionPeriod(data["start"], data["end"], data["temperature"], data["description"])


def _as_tuple(items: list[ExceptionPeriod]) -> tuple[ExceptionPeriod, ...]:
    return tuple(items)


_EXCEPTION = vol.All(
    vol.Schema(
        {
            vol.Required("start"): wall_clock,
            vol.Required("end"): wall_clock,
            vol.Required("temperature"): program_name,
            vol.Optional("description", default=""): _description,
        }
    ),
    _to_exception,
)

#: The exceptions list -> ``tuple[ExceptionPeriod, ...]`` (order kept; may be empty).
EXCEPTIONS_SCHEMA = vol.Schema(vol.All(_list_of(0, MAX_EXCEPTIONS), _each(_EXCEPTION), _as_tuple))


# -- typed entry points ---------------------------------------------------------


def parse_programs(data: Any, field: str = "programs") -> Programs:
    """All five programs -> :class:`Programs`, or :class:`ValidationError`."""
    result: Programs = validate(PROGRAMS_SCHEMA, data, field)
    return result


def parse_program_changes(data: Any, field: str = "programs") -> dict[str, float]:
    """Some programs -> ``{name: temperature}``, or :class:`ValidationError`."""
    result: dict[str, float] = validate(PROGRAM_CHANGES_SCHEMA, data, field)
    return result


def parse_schedule(data: Any, field: str = "schedule") -> WeekSchedule:
    """The week schedule -> :class:`WeekSchedule`, or :class:`ValidationError`."""
    result: WeekSchedule = validate(SCHEDULE_SCHEMA, data, field)
    return result


def parse_exceptions(data: Any, field: str = "exceptions") -> tuple[ExceptionPeriod, ...]:
    """The exceptions list -> a tuple of :class:`ExceptionPeriod`, or :class:`ValidationError`."""
    result: tuple[ExceptionPeriod, ...] = validate(EXCEPTIONS_SCHEMA, data, field)
    return result


def parse_target_temperature(data: Any, field: str = "target_temperature") -> float:
    """A manual target (5-30 °C, rounded to 0.1), or :class:`ValidationError`."""
    return validate(target_temperature, data, field)


def parse_room_temperature(data: Any, field: str = "room_temperature") -> float:
    """A pushed room temperature (-20-50 °C), or :class:`ValidationError`."""
    return validate(room_temperature, data, field)


def parse_outside_temperature(data: Any, field: str = "outside_temperature") -> float | None:
    """A pushed outside temperature (-50-60 °C) or ``None`` for ``"auto"``."""
    return validate(outside_temperature, data, field)


# -- the owner's settings -------------------------------------------------------

#: Longest thermostat name, city and e-mail address.
NAME_MAX = 64
LOCATION_MAX = 100
EMAIL_MAX = 254


def check_text(value: Any, max_len: int) -> None:
    """A string of at most ``max_len`` characters, or :class:`ValueError`."""
    if not isinstance(value, str):
        raise ValueError("must be a string")  # noqa: TRY004
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


# -- rules that describe themselves, and request models -------------------------


class Rule:
    """A validator that also says, as JSON Schema keywords, what it checks.

    A request model's field names it (``spec(rule=...)``): :func:`decode`
    checks the field with it and the field's schema in ``/openapi.json``
    carries :meth:`json_schema`, so a bound is written once.
    """

    __slots__ = ("_check", "_schema")

    def __init__(self, check: Callable[[Any], Any], **schema: Any) -> None:
        self._check = check
        self._schema = schema

    def __call__(self, value: Any) -> Any:
        return self._check(value)

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema keywords of what the rule accepts."""
        return dict(self._schema)


def temperature_rule(low: float, high: float) -> Rule:
    """A number within ``[low, high]`` °C (a numeric string too), rounded to 0.1 °C."""
    return Rule(temperature_in(low, high), minimum=low, maximum=high)


def text_rule(min_length: int, max_length: int) -> Rule:
    """A string of ``min_length`` to ``max_length`` characters."""
    return Rule(
        vol.All(str, vol.Length(min=min_length, max=max_length)),
        minLength=min_length,
        maxLength=max_length,
    )


def setting_rule(check: Callable[[Any], None], *, allow_empty: bool = True, **schema: Any) -> Rule:
    """A rule from a stored setting's checker (its :class:`ValueError` words are the rule)."""

    def run(value: Any) -> Any:
        try:
            check(value)
        except ValueError as err:
            raise vol.Invalid(str(err)) from None
        if not allow_empty and value == "":
            raise vol.Invalid("must not be empty (null clears it)")
        return value

    return Rule(run, **schema)


#: The thermostat's name, the city and the e-mail address, as the owner sets them.
NAME_RULE = setting_rule(check_name, minLength=1, maxLength=NAME_MAX)
LOCATION_RULE = setting_rule(
    optional_text(LOCATION_MAX), allow_empty=False, minLength=1, maxLength=LOCATION_MAX
)
EMAIL_RULE = setting_rule(check_email, allow_empty=False, minLength=3, maxLength=EMAIL_MAX)

#: A manual target: 5-30 °C.
TARGET_RULE = temperature_rule(TEMPERATURE_MIN, TEMPERATURE_MAX)
#: An external room temperature: -20-50 °C.
ROOM_RULE = temperature_rule(*ROOM_TEMPERATURE_RANGE)
#: A pushed outside temperature (-50-60 °C), or ``"auto"`` -> ``None``.
OUTSIDE_RULE = Rule(
    outside_temperature,
    minimum=OUTSIDE_TEMPERATURE_RANGE[0],
    maximum=OUTSIDE_TEMPERATURE_RANGE[1],
)
#: All five programs -> :class:`Programs`.
PROGRAMS_RULE = Rule(PROGRAMS_SCHEMA)
#: Some programs -> ``{name: temperature}``.
PROGRAM_CHANGES_RULE = Rule(PROGRAM_CHANGES_SCHEMA)
#: The week schedule -> :class:`WeekSchedule`.
SCHEDULE_RULE = Rule(SCHEDULE_SCHEMA)
#: The exceptions -> a tuple of :class:`ExceptionPeriod`.
EXCEPTIONS_RULE = Rule(EXCEPTIONS_SCHEMA, maxItems=MAX_EXCEPTIONS)


def _confirm(value: Any) -> bool:
    if value is not True:
        raise vol.Invalid("must be true to erase")
    return True


def _text_or_null(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise vol.Invalid("must be a string")


#: A string or null (a webhook URL: what makes a good one the webhook service checks).
TEXT_OR_NULL_RULE = Rule(_text_or_null)

TERMS_VERSION_MAX = 32


def _terms_version(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > TERMS_VERSION_MAX:
        raise vol.Invalid(f"must be a non-empty string of at most {TERMS_VERSION_MAX} characters")
    return value


#: The version of the terms a consent was given under.
TERMS_VERSION_RULE = Rule(_terms_version, minLength=1, maxLength=TERMS_VERSION_MAX)

#: ``true`` and nothing else (an erase's confirmation).
CONFIRM_RULE = Rule(_confirm)


def _json_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise vol.Invalid("must be a number")
    return float(value)


_TYPE_RULES: dict[Any, Callable[[Any], Any]] = {bool: bool, str: str, int: int, float: _json_number}
_MODEL_SCHEMAS: dict[type, vol.Schema] = {}

FieldRules = Mapping[str, Callable[[Any], Any]]


def _field_rule(
    model: type, f: dataclasses.Field[Any], hint: Any, rules: FieldRules
) -> Callable[[Any], Any]:
    rule = rules.get(f.name, f.metadata.get("rule"))
    if rule is not None:
        return cast("Callable[[Any], Any]", rule)
    args = [a for a in get_args(hint) if a is not Unset] or [hint]
    if len(args) == 1 and args[0] in _TYPE_RULES:
        return _TYPE_RULES[args[0]]
    raise TypeError(f"{model.__name__}.{f.name}: a request field needs a rule for {hint!r}")


def model_schema(model: type, rules: FieldRules | None = None) -> vol.Schema:
    """The voluptuous schema of a request model: each field with its rule (or, without
    one, its plain type); ``rules`` replaces some fields' rules (a stricter reader)."""
    hints = get_type_hints(model, include_extras=True)
    keys: dict[Any, Any] = {}
    for f in dataclasses.fields(model):
        marker = vol.Optional if is_optional(f) else vol.Required
        keys[marker(f.name)] = _field_rule(model, f, hints[f.name], rules or {})
    return vol.Schema(keys, extra=vol.PREVENT_EXTRA)


def _model_schema(model: type) -> vol.Schema:
    schema = _MODEL_SCHEMAS.get(model)
    if schema is None:
        schema = _MODEL_SCHEMAS[model] = model_schema(model)
    return schema


def decode_fields(model: type, data: Any) -> dict[str, Any]:
    """The checked values of the fields ``data`` holds, by name, for request ``model``.

    Each field is checked with its rule (or, without one, its plain type);
    unknown fields are "unknown field", missing required ones "required".
    Raises :class:`ValidationError` listing every broken rule.
    """
    if not isinstance(data, Mapping):
        raise ValidationError([{"field": "(body)", "rule": "must be an object"}])
    try:
        checked: dict[str, Any] = _model_schema(model)(dict(data))
    except vol.Invalid as err:
        raise ValidationError(errors_from_invalid(err)) from None
    return checked


def decode(model: type[_T], data: Any) -> _T:
    """A request body as an instance of ``model``, or :class:`ValidationError`.

    Absent optional fields are :data:`~bridge.core.contract.UNSET`, or the
    default the schema documents (``spec(json_default=...)``).
    """
    values = decode_fields(model, data)
    for f in dataclasses.fields(cast("Any", model)):
        if f.name not in values and "default" in f.metadata.get("keywords", {}):
            values[f.name] = f.metadata["keywords"]["default"]
    return model(**values)
