"""The unit's calendar: the ``<CAL>`` text, and how the bridge's schedule becomes one.

The text is ``v`` + the 16-bit version in 4 hex digits, then records, with
no separators:

* a week record ``s`` + day (1 Monday … 7 Sunday) + ``HH`` + ``MM`` + the
  temperature in tenths (3 digits) + the hot-water flag (1 digit):
  ``s106301950`` is Monday 06:30, 19.5 °C, no hot water. From that local
  time on, until the next week record, the unit holds that temperature.
* an exception record ``x`` + begin and end (Unix UTC seconds, 8 hex digits
  each) + temperature (3 digits) + hot-water flag + ``X``. While
  ``begin <= t < end`` it overrides the week; when exceptions overlap, the
  one that began last wins, on equal begins the later record (the core's
  rule, :mod:`bridge.core.schedule`).

Hex digits are written lower case (revision 5 reads only those) and read in
either case. Week records come sorted by day and time, starts unique.

The unit's flash holds at most :data:`MAX_WEEK_RECORDS` week records (one
per quarter hour: the core's largest schedule) and
:data:`MAX_EXCEPTION_RECORDS` exception records (the core's most
exceptions); a calendar beyond that is refused.

:func:`calendar_from_schedule` builds the calendar from the core's schedule,
exceptions and programs (see its notes); :func:`calendar_target` is what the
unit does with one: the temperature in force at an instant, in its local
time (UTC plus the ``TZ`` offset it was sent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
import itertools
import math
import re
from typing import Final, Literal

from bridge.core.programs import (
    MAX_EXCEPTIONS,
    MAX_SCHEDULE_ENTRIES,
    ExceptionPeriod,
    Programs,
    WeekSchedule,
    round_temperature,
)
from bridge.core.schedule import to_utc, wall_to_utc
from bridge.unit.errors import UnitProtocolError
from bridge.unit.limits import CLOCK_RANGE, TARGET_RANGE, clamp_target

__all__ = [
    "MAX_CALENDAR_LENGTH",
    "MAX_EXCEPTION_RECORDS",
    "MAX_VERSION",
    "MAX_WEEK_RECORDS",
    "Calendar",
    "CalendarTarget",
    "ExceptionRecord",
    "WeekRecord",
    "calendar_from_schedule",
    "calendar_target",
    "parse_calendar",
    "program_target",
    "render_calendar",
    "utc_offset_minutes",
]

MAX_VERSION = 0xFFFF
MAX_WEEK_RECORDS = MAX_SCHEDULE_ENTRIES
MAX_EXCEPTION_RECORDS = MAX_EXCEPTIONS
_VERSION_LEN = 5  # v + 4 hex digits
_WEEK_LEN = 10
_EXCEPTION_LEN = 22
#: The longest calendar text the unit takes.
MAX_CALENDAR_LENGTH = (
    _VERSION_LEN + MAX_WEEK_RECORDS * _WEEK_LEN + MAX_EXCEPTION_RECORDS * _EXCEPTION_LEN
)
_MINUTES_PER_WEEK = 7 * 24 * 60
# 1970-01-01 (day 0 of Unix time) was a Thursday: weekday 3 with Monday 0.
_EPOCH_WEEKDAY = 3

_VERSION_RE = re.compile(r"v([0-9a-fA-F]{4})")
_WEEK_RE = re.compile(r"s([1-7])([0-9]{2})([0-9]{2})([0-9]{3})([01])")
_EXCEPTION_RE = re.compile(r"x([0-9a-fA-F]{8})([0-9a-fA-F]{8})([0-9]{3})([01])X")


def _tenths_temperature(value: float, what: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise UnitProtocolError(f"{what}: the temperature must be a number")
    low, high = TARGET_RANGE
    rounded = round_temperature(float(value)) if math.isfinite(value) else math.nan
    if not low <= rounded <= high:
        raise UnitProtocolError(f"{what}: temperature {value!r} is outside {low:g}-{high:g} °C")
    return float(rounded)


def _int_in(value: int, low: int, high: int, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise UnitProtocolError(f"{what} must be a whole number {low}-{high}")


def _flag(value: bool, what: str) -> None:
    if not isinstance(value, bool):
        raise UnitProtocolError(f"{what} must be true or false")


@dataclass(frozen=True)
class WeekRecord:
    """From ``day`` (1 Monday … 7 Sunday) ``hour``:``minute`` local time on, hold ``temperature``.

    The temperature is kept to 0.1 °C (finer input is rounded).
    """

    day: int
    hour: int
    minute: int
    temperature: float
    hot_water: bool

    def __post_init__(self) -> None:
        _int_in(self.day, 1, 7, "a week record's day")
        _int_in(self.hour, 0, 23, "a week record's hour")
        _int_in(self.minute, 0, 59, "a week record's minute")
        _flag(self.hot_water, "a week record's hot-water flag")
        object.__setattr__(
            self, "temperature", _tenths_temperature(self.temperature, "a week record")
        )

    @property
    def minute_of_week(self) -> int:
        """Minutes since Monday 00:00 local time."""
        return ((self.day - 1) * 24 + self.hour) * 60 + self.minute


@dataclass(frozen=True)
class ExceptionRecord:
    """From ``begin`` until ``end`` (Unix UTC seconds), hold ``temperature``."""

    begin: int
    end: int
    temperature: float
    hot_water: bool

    def __post_init__(self) -> None:
        _int_in(self.begin, *CLOCK_RANGE, "an exception's begin")
        _int_in(self.end, *CLOCK_RANGE, "an exception's end")
        if self.end <= self.begin:
            raise UnitProtocolError("an exception must end after it begins")
        _flag(self.hot_water, "an exception's hot-water flag")
        object.__setattr__(
            self, "temperature", _tenths_temperature(self.temperature, "an exception")
        )


@dataclass(frozen=True)
class Calendar:
    """A versioned calendar: week records in order, then exception records."""

    version: int
    week: tuple[WeekRecord, ...] = ()
    exceptions: tuple[ExceptionRecord, ...] = ()

    def __post_init__(self) -> None:
        _int_in(self.version, 0, MAX_VERSION, "the calendar version")
        object.__setattr__(self, "week", tuple(self.week))
        object.__setattr__(self, "exceptions", tuple(self.exceptions))
        if len(self.week) > MAX_WEEK_RECORDS:
            raise UnitProtocolError(f"a calendar holds at most {MAX_WEEK_RECORDS} week records")
        if len(self.exceptions) > MAX_EXCEPTION_RECORDS:
            raise UnitProtocolError(
                f"a calendar holds at most {MAX_EXCEPTION_RECORDS} exception records"
            )
        if not all(isinstance(r, WeekRecord) for r in self.week) or not all(
            isinstance(r, ExceptionRecord) for r in self.exceptions
        ):
            raise UnitProtocolError("a calendar holds week and exception records")
        starts = [record.minute_of_week for record in self.week]
        if any(b <= a for a, b in itertools.pairwise(starts)):
            raise UnitProtocolError("week records must be in order of day and time, starts unique")


def _tenths(temperature: float) -> str:
    return f"{round(temperature * 10):03d}"


def render_calendar(calendar: Calendar) -> str:
    """The ``<CAL>`` element's text for ``calendar``."""
    parts = [f"v{calendar.version:04x}"]
    parts.extend(
        f"s{r.day}{r.hour:02d}{r.minute:02d}{_tenths(r.temperature)}{int(r.hot_water)}"
        for r in calendar.week
    )
    parts.extend(
        f"x{r.begin:08x}{r.end:08x}{_tenths(r.temperature)}{int(r.hot_water)}X"
        for r in calendar.exceptions
    )
    return "".join(parts)


def parse_calendar(text: str) -> Calendar:
    """The calendar in a ``<CAL>`` element's text; :class:`UnitProtocolError` if it is not one."""
    if not isinstance(text, str):
        raise UnitProtocolError("a calendar is text")
    if len(text) > MAX_CALENDAR_LENGTH:
        raise UnitProtocolError(f"a calendar is at most {MAX_CALENDAR_LENGTH} characters")
    head = _VERSION_RE.match(text)
    if head is None:
        raise UnitProtocolError("a calendar starts with v and a 4-digit hex version")
    week: list[WeekRecord] = []
    exceptions: list[ExceptionRecord] = []
    pos = head.end()
    while pos < len(text):
        if (m := _WEEK_RE.match(text, pos)) is not None:
            if exceptions:
                raise UnitProtocolError("week records come before exception records")
            day, hour, minute, tenths, dhw = m.groups()
            week.append(WeekRecord(int(day), int(hour), int(minute), int(tenths) / 10, dhw == "1"))
        elif (m := _EXCEPTION_RE.match(text, pos)) is not None:
            begin, end, tenths, dhw = m.groups()
            exceptions.append(
                ExceptionRecord(int(begin, 16), int(end, 16), int(tenths) / 10, dhw == "1")
            )
        else:
            raise UnitProtocolError(f"calendar record at character {pos} is not a record")
        pos = m.end()
    return Calendar(int(head.group(1), 16), tuple(week), tuple(exceptions))


def program_target(programs: Programs, program: str) -> float:
    """The temperature the unit holds for ``program``.

    As the bridge's own target (:func:`bridge.core.state.resolve`): the
    program's temperature, never below the frost floor, to 0.1 °C; then
    moved into what the unit can hold (:data:`~bridge.unit.limits.TARGET_RANGE`).
    """
    wanted = max(programs.temperature(program), programs.frost_floor)
    return clamp_target(round_temperature(wanted))


def utc_offset_minutes(tz: tzinfo, when: datetime) -> int:
    """The ``TZ`` a unit needs at ``when`` (aware): ``tz``'s offset from UTC then, in minutes.

    The unit reads its week records in UTC plus this offset, so the server
    sends it again when daylight saving changes it.
    """
    offset = to_utc(when).astimezone(tz).utcoffset()
    if offset is None:  # pragma: no cover - astimezone always gives an offset
        raise ValueError("the time zone has no offset")
    return round(offset.total_seconds() / 60)


def calendar_from_schedule(
    schedule: WeekSchedule,
    exceptions: Sequence[ExceptionPeriod],
    programs: Programs,
    *,
    tz: tzinfo,
    version: int,
    hot_water: bool = True,
    now: datetime | None = None,
) -> Calendar:
    """The calendar that makes the unit follow the bridge's schedule.

    * Each schedule entry is a week record (core day 0 is the unit's day 1),
      its temperature :func:`program_target`, ``hot_water`` on every record.
      The unit reads week records in its local time (UTC plus the ``TZ``
      offset it was sent), so the server sends the new offset when daylight
      saving changes.
    * Each exception is an exception record, in its order; its wall times
      in ``tz`` become UTC instants with the core's rule
      (:func:`bridge.core.schedule.wall_to_utc`). An exception that is empty
      once converted (it lies in an hour the clocks skip) is left out, as the
      core ignores it; with ``now`` (aware), so is an exception already over
      at ``now``, which the unit would only carry in its flash.

    Raises :class:`UnitProtocolError` when an exception lies outside the
    unit's 32-bit clock or the result is larger than the unit holds.
    """
    week = tuple(
        WeekRecord(
            entry.day + 1,
            entry.hour,
            entry.minute,
            program_target(programs, entry.program),
            hot_water,
        )
        for entry in schedule.entries
    )
    cutoff = to_utc(now).timestamp() if now is not None else None
    records: list[ExceptionRecord] = []
    for exc in exceptions:
        begin = wall_to_utc(exc.start, tz).timestamp()
        end = wall_to_utc(exc.end, tz).timestamp()
        if end <= begin or (cutoff is not None and end <= cutoff):
            continue
        records.append(
            ExceptionRecord(int(begin), int(end), program_target(programs, exc.program), hot_water)
        )
    return Calendar(version, week, tuple(records))


# ---------------------------------------------------------------- what the unit does with it

CalendarSource = Literal["week", "exception"]
SOURCE_WEEK: Final[CalendarSource] = "week"
SOURCE_EXCEPTION: Final[CalendarSource] = "exception"


@dataclass(frozen=True, slots=True)
class CalendarTarget:
    """What a calendar says at an instant.

    ``source`` is ``"week"`` or ``"exception"``; ``since`` is when this
    block began (Unix UTC seconds), so ``(source, index, since)`` names one
    block: when it changes, a new block has begun.
    """

    temperature: float
    hot_water: bool
    source: CalendarSource
    index: int
    since: int


def calendar_target(calendar: Calendar, when: float, tz_minutes: int) -> CalendarTarget | None:
    """The target ``calendar`` sets at ``when`` (Unix UTC seconds), or None if it sets none.

    Week records are read in local time, ``when`` plus ``tz_minutes``.
    """
    active = [
        (record.begin, index)
        for index, record in enumerate(calendar.exceptions)
        if record.begin <= when < record.end
    ]
    if active:
        begin, index = max(active)
        exc = calendar.exceptions[index]
        return CalendarTarget(exc.temperature, exc.hot_water, SOURCE_EXCEPTION, index, begin)
    if not calendar.week:
        return None
    local_minute = int((when + tz_minutes * 60) // 60)
    weekday = (local_minute // 1440 + _EPOCH_WEEKDAY) % 7
    minute_of_week = weekday * 1440 + local_minute % 1440
    index = len(calendar.week) - 1
    for i, record in enumerate(calendar.week):
        if record.minute_of_week > minute_of_week:
            index = i - 1 if i else len(calendar.week) - 1
            break
    record = calendar.week[index]
    back = (minute_of_week - record.minute_of_week) % _MINUTES_PER_WEEK
    since = (local_minute - back - tz_minutes) * 60
    return CalendarTarget(record.temperature, record.hot_water, SOURCE_WEEK, index, since)
