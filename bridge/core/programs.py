"""Programs, week schedule and exceptions: the thermostat's configuration model.

The wire forms are those of the ThermoSmart API (``THERMOSMART_API.md``):
programs ``{"anti_freeze": 7.0, ...}``, schedule entries
``{"start": [day, hour, minute], "temperature": "<program>"}`` with day 0 =
Monday, and exceptions ``{"start": [Y, M, D, h, m], "end": [...],
"temperature": "<program>", "description": "..."}`` with **M 0-11**.

These dataclasses check their own invariants (and raise ``ValueError``);
user-facing checks with field names live in :mod:`bridge.core.validation`.

Defaults (documented choices):

* programs: ``anti_freeze`` 7.0, ``not_home`` 15.0, ``home`` 19.5,
  ``comfort`` 21.0, ``pause`` 10.0 (°C). ``anti_freeze`` is also the frost
  floor under every target, so 7 °C keeps the coldest corners of a house well
  above 0 °C; ``pause`` is an open-ended stop, a little warmer so that the
  house comes back in a few hours.
* week schedule: Monday-Friday ``home`` 06:30, ``not_home`` 08:30, ``home``
  17:00, ``not_home`` 22:30; Saturday and Sunday ``home`` 08:00, ``not_home``
  23:00.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time
import itertools
import math
from typing import Any

#: The five programs, in the API's order.
PROGRAM_NAMES: tuple[str, ...] = ("anti_freeze", "not_home", "home", "comfort", "pause")

#: No target is ever below this, whatever the programs say (°C).
FROST_MINIMUM = 5.0
#: The range of a program temperature and of a manual target (°C).
TEMPERATURE_MIN = 5.0
TEMPERATURE_MAX = 30.0
#: Temperatures are kept to this resolution (°C); finer input is rounded.
TEMPERATURE_STEP = 0.1
#: Schedule and exception times are on this grid (minutes).
MINUTE_STEP = 15
MINUTES_PER_WEEK = 7 * 24 * 60
#: The most entries a week schedule may hold (one per quarter hour).
MAX_SCHEDULE_ENTRIES = MINUTES_PER_WEEK // MINUTE_STEP
#: The most exceptions kept at once.
MAX_EXCEPTIONS = 100
#: The longest exception description (characters).
MAX_DESCRIPTION = 30

DEFAULT_TIMEZONE = "Europe/Amsterdam"


def round_temperature(value: float) -> float:
    """``value`` rounded to 0.1 °C (half away from zero, no float noise)."""
    scaled = abs(value) * 10.0
    rounded = math.floor(scaled + 0.5 + 1e-9) / 10.0
    return math.copysign(rounded, value) if rounded else 0.0


@dataclass(frozen=True, kw_only=True)
class Programs:
    """The temperature (°C) of each of the five programs."""

    anti_freeze: float = 7.0
    not_home: float = 15.0
    home: float = 19.5
    comfort: float = 21.0
    pause: float = 10.0

    def __post_init__(self) -> None:
        for name in PROGRAM_NAMES:
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"program {name}: temperature must be a finite number")

    def temperature(self, program: str) -> float:
        """The temperature of ``program``; ``KeyError`` for an unknown name."""
        if program not in PROGRAM_NAMES:
            raise KeyError(program)
        value: float = getattr(self, program)
        return value

    @property
    def frost_floor(self) -> float:
        """The lowest target allowed: ``anti_freeze``, never below 5 °C."""
        return max(FROST_MINIMUM, self.anti_freeze)

    def to_dict(self) -> dict[str, float]:
        """The API's ``programs`` object."""
        return {name: float(getattr(self, name)) for name in PROGRAM_NAMES}

    @classmethod
    def from_dict(cls, data: Mapping[str, float]) -> Programs:
        """Programs from a (validated) mapping; missing names keep their defaults."""
        unknown = set(data) - set(PROGRAM_NAMES)
        if unknown:
            raise ValueError(f"unknown programs: {sorted(unknown)}")
        return cls(**{name: float(value) for name, value in data.items()})

    def updated(self, changes: Mapping[str, float]) -> Programs:
        """A copy with some program temperatures changed."""
        unknown = set(changes) - set(PROGRAM_NAMES)
        if unknown:
            raise ValueError(f"unknown programs: {sorted(unknown)}")
        return replace(self, **{name: float(value) for name, value in changes.items()})


def _check_program(program: str) -> None:
    if program not in PROGRAM_NAMES:
        raise ValueError(f"unknown program {program!r}")


@dataclass(frozen=True)
class ScheduleEntry:
    """One week-schedule switch point: from (day, hour, minute) on, ``program``."""

    day: int
    hour: int
    minute: int
    program: str

    def __post_init__(self) -> None:
        if not (0 <= self.day <= 6 and 0 <= self.hour <= 23 and 0 <= self.minute <= 59):
            raise ValueError(f"bad schedule start {self.day}/{self.hour}:{self.minute}")
        if self.minute % MINUTE_STEP:
            raise ValueError("schedule minutes must be on a 15-minute step")
        _check_program(self.program)

    @property
    def minute_of_week(self) -> int:
        """Minutes since Monday 00:00."""
        return (self.day * 24 + self.hour) * 60 + self.minute

    def to_dict(self) -> dict[str, Any]:
        """The API's schedule entry."""
        return {"start": [self.day, self.hour, self.minute], "temperature": self.program}


@dataclass(frozen=True)
class WeekSchedule:
    """The week schedule: at least one entry, sorted by start, starts unique."""

    entries: tuple[ScheduleEntry, ...]

    def __post_init__(self) -> None:
        if not self.entries:
            raise ValueError("a week schedule needs at least one entry")
        if len(self.entries) > MAX_SCHEDULE_ENTRIES:
            raise ValueError(f"a week schedule holds at most {MAX_SCHEDULE_ENTRIES} entries")
        starts = [entry.minute_of_week for entry in self.entries]
        if any(b <= a for a, b in itertools.pairwise(starts)):
            raise ValueError("schedule entries must be sorted with unique starts")

    @classmethod
    def of(cls, entries: Iterable[ScheduleEntry]) -> WeekSchedule:
        """A schedule from entries in any order (duplicate starts still raise)."""
        return cls(tuple(sorted(entries, key=lambda entry: entry.minute_of_week)))

    def to_list(self) -> list[dict[str, Any]]:
        """The API's ``schedule`` list."""
        return [entry.to_dict() for entry in self.entries]


@dataclass(frozen=True)
class ExceptionPeriod:
    """A dated override of the week schedule.

    ``start`` and ``end`` are naive wall-clock times in the bridge's timezone
    (as the API carries them); ``end`` is after ``start``.
    """

    start: datetime
    end: datetime
    program: str
    description: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("exception times are naive local wall-clock times")
        if self.end <= self.start:
            raise ValueError("an exception ends after it starts")
        _check_program(self.program)
        if len(self.description) > MAX_DESCRIPTION:
            raise ValueError(f"description longer than {MAX_DESCRIPTION} characters")

    def to_dict(self) -> dict[str, Any]:
        """The API's exception object (month 0-11)."""
        return {
            "start": wall_to_list(self.start),
            "end": wall_to_list(self.end),
            "temperature": self.program,
            "description": self.description,
        }


def wall_time(year: int, month0: int, day: int, hour: int, minute: int) -> datetime:
    """A naive wall-clock time from the API's ``[Y, M, D, h, m]`` (M 0-11)."""
    return datetime.combine(date(year, month0 + 1, day), time(hour, minute))


def wall_to_list(value: datetime) -> list[int]:
    """The API's ``[Y, M, D, h, m]`` (M 0-11) for a wall-clock time."""
    return [value.year, value.month - 1, value.day, value.hour, value.minute]


def _week(days: Iterable[int], *switches: tuple[int, int, str]) -> list[ScheduleEntry]:
    return [
        ScheduleEntry(day, hour, minute, program)
        for day in days
        for hour, minute, program in switches
    ]


def default_schedule() -> WeekSchedule:
    """The default week: weekdays home mornings and evenings, weekends home by day."""
    weekdays = _week(
        range(5), (6, 30, "home"), (8, 30, "not_home"), (17, 0, "home"), (22, 30, "not_home")
    )
    weekend = _week((5, 6), (8, 0, "home"), (23, 0, "not_home"))
    return WeekSchedule.of(weekdays + weekend)
