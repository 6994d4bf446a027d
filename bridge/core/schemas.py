"""The programs, week schedule and exceptions schemas, and their typed readers.

Each schema returns the model object (:class:`Programs`, :class:`WeekSchedule`,
a tuple of :class:`ExceptionPeriod`); the rules are those listed in
:mod:`bridge.core.validation`, built from its scalar validators.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import voluptuous as vol

from bridge.core.programs import (
    MAX_DESCRIPTION,
    MAX_EXCEPTIONS,
    MAX_SCHEDULE_ENTRIES,
    PROGRAM_NAMES,
    ExceptionPeriod,
    Programs,
    ScheduleEntry,
    WeekSchedule,
)
from bridge.core.validation import (
    program_name,
    program_temperature,
    text,
    validate,
    wall_clock,
    week_start,
)


def _description(value: Any) -> str:
    description = text(value)
    if len(description) > MAX_DESCRIPTION:
        raise vol.Invalid(f"at most {MAX_DESCRIPTION} characters")
    return description


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


def each(item: Callable[[Any], Any]) -> Callable[[list[Any]], list[Any]]:
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
    vol.All(_list_of(1, MAX_SCHEDULE_ENTRIES), each(_SCHEDULE_ENTRY), _to_schedule)
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
EXCEPTIONS_SCHEMA = vol.Schema(vol.All(_list_of(0, MAX_EXCEPTIONS), each(_EXCEPTION), _as_tuple))


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
