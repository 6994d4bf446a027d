"""The thermostat's state and what target it sets: pure functions of state and time.

Priority, highest first: pause, a manual or remote override, an exception,
the week schedule. Whatever wins, the target is never below the frost floor
(the ``anti_freeze`` program, never below 5 °C).

* A manual override (``set_target``) holds until the next block starts
  after the moment it was set: the next schedule entry, or an exception's
  start or end, whichever comes first. The end is worked out from the
  schedule in force, so a schedule edit moves it too.
* Pause holds the ``pause`` program until un-paused. Pausing drops any
  override; setting a target ends a pause.
* Commands return a new state and never change the old one, so a caller can
  apply a whole update or none of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
import math
import zoneinfo

from bridge.core.programs import (
    DEFAULT_TIMEZONE,
    TEMPERATURE_MAX,
    TEMPERATURE_MIN,
    ExceptionPeriod,
    Programs,
    WeekSchedule,
    default_schedule,
    round_temperature,
)
from bridge.core.schedule import block_at, resolve_schedule, to_utc

#: How long a pushed room temperature counts (then the bridge's own sensor is used).
ROOM_MAX_AGE = timedelta(minutes=30)
#: How long a pushed or fetched outside temperature counts.
OUTSIDE_MAX_AGE = timedelta(hours=3)
_FUTURE_SKEW = timedelta(minutes=-5)


class Source(StrEnum):
    """What sets the target now, with the API's names."""

    SCHEDULE = "schedule"
    EXCEPTION = "exception"
    MANUAL = "manual"
    REMOTE = "remote"
    PAUSE = "pause"


@dataclass(frozen=True)
class Override:
    """A target set by hand: ``remote`` when it came through the API from a remote client."""

    target: float
    set_at: datetime
    remote: bool = False


@dataclass(frozen=True)
class SensorValue:
    """A measured value and when it was taken (aware datetime)."""

    value: float
    at: datetime

    def fresh(self, now: datetime, max_age: timedelta) -> bool:
        """Whether the value is at most ``max_age`` old at ``now``.

        Up to five minutes "from the future" count as fresh (clock skew).
        """
        age = to_utc(now) - to_utc(self.at)
        return _FUTURE_SKEW <= age <= max_age


@dataclass(frozen=True, kw_only=True)
class ThermostatState:
    """Everything the target depends on."""

    programs: Programs = field(default_factory=Programs)
    schedule: WeekSchedule = field(default_factory=default_schedule)
    exceptions: tuple[ExceptionPeriod, ...] = ()
    timezone: str = DEFAULT_TIMEZONE
    override: Override | None = None
    paused: bool = False
    room_temperature: SensorValue | None = None
    outside_temperature: SensorValue | None = None

    @property
    def tz(self) -> tzinfo:
        """The bridge's timezone (schedule and exception times are in it)."""
        return zoneinfo.ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Resolution:
    """The target in force and why.

    ``program`` is the program whose temperature is the target (``None`` for
    a manual or remote override); ``until`` is when this state ends by itself
    (``None`` while paused). ``scheduled_program`` is what the schedule and
    exceptions say underneath; ``next_start``/``next_program``/``next_target``
    describe the next block (for optimal start). ``frost_limited`` is true
    when the target was raised to the frost floor. Times are UTC.
    """

    target: float
    program: str | None
    source: Source
    until: datetime | None
    scheduled_program: str
    block_start: datetime
    next_start: datetime
    next_program: str
    next_target: float
    frost_limited: bool


def override_until(state: ThermostatState, override: Override) -> datetime:
    """When ``override`` ends: the end of the block it was set in (UTC)."""
    return block_at(state.schedule, state.exceptions, override.set_at, state.tz).end


def _override_active(state: ThermostatState, now: datetime) -> datetime | None:
    if state.override is None:
        return None
    until = override_until(state, state.override)
    return until if to_utc(now) < until else None


def resolve(state: ThermostatState, now: datetime) -> Resolution:
    """The target at ``now`` (an aware datetime), with its program and source."""
    tz = state.tz
    sched = resolve_schedule(state.schedule, state.exceptions, now, tz)
    programs = state.programs
    floor = programs.frost_floor
    program: str | None
    until: datetime | None
    if state.paused:
        wanted, program, source, until = programs.pause, "pause", Source.PAUSE, None
    elif state.override is not None and (ends := _override_active(state, now)) is not None:
        wanted, program, until = state.override.target, None, ends
        source = Source.REMOTE if state.override.remote else Source.MANUAL
    else:
        program = sched.program
        wanted = programs.temperature(program)
        source = Source(sched.source)
        until = sched.next_start
    if not math.isfinite(wanted):
        wanted = floor
    target = max(wanted, floor)
    return Resolution(
        target=round_temperature(target),
        program=program,
        source=source,
        until=until,
        scheduled_program=sched.program,
        block_start=sched.block_start,
        next_start=sched.next_start,
        next_program=sched.next_program,
        next_target=round_temperature(max(programs.temperature(sched.next_program), floor)),
        frost_limited=target > wanted,
    )


# -- commands -------------------------------------------------------------------


def set_target(
    state: ThermostatState, target: float, now: datetime, *, remote: bool = False
) -> ThermostatState:
    """Override the target until the next block starts; ends a pause.

    ``target`` must be 5-30 °C (``ValueError`` otherwise); it is rounded to 0.1 °C.
    """
    if not math.isfinite(target) or not TEMPERATURE_MIN <= target <= TEMPERATURE_MAX:
        raise ValueError(f"target must be between {TEMPERATURE_MIN:g} and {TEMPERATURE_MAX:g} °C")
    override = Override(round_temperature(target), to_utc(now), remote)
    return replace(state, override=override, paused=False)


def pause(state: ThermostatState, paused: bool) -> ThermostatState:
    """Pause (hold the ``pause`` program) or resume; pausing drops an override."""
    if paused:
        return replace(state, paused=True, override=None)
    return replace(state, paused=False)


def clear_override(state: ThermostatState) -> ThermostatState:
    """Drop a manual or remote override: back to schedule or exception."""
    return replace(state, override=None)


def expire_override(state: ThermostatState, now: datetime) -> ThermostatState:
    """Drop the override if it has run out at ``now`` (the same state otherwise)."""
    if state.override is not None and _override_active(state, now) is None:
        return replace(state, override=None)
    return state


def set_programs(state: ThermostatState, programs: Programs) -> ThermostatState:
    """New program temperatures."""
    return replace(state, programs=programs)


def set_schedule(state: ThermostatState, schedule: WeekSchedule) -> ThermostatState:
    """A new week schedule (an override then ends at this schedule's next block)."""
    return replace(state, schedule=schedule)


def set_exceptions(
    state: ThermostatState, exceptions: tuple[ExceptionPeriod, ...]
) -> ThermostatState:
    """A new list of exceptions."""
    return replace(state, exceptions=tuple(exceptions))


def set_timezone(state: ThermostatState, name: str) -> ThermostatState:
    """A new timezone for the schedule (``zoneinfo`` name; ``ValueError`` if unknown)."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown timezone {name!r}") from err
    return replace(state, timezone=name)


def push_room_temperature(
    state: ThermostatState, value: float | None, at: datetime
) -> ThermostatState:
    """An external room temperature (``None`` forgets it)."""
    if value is None:
        return replace(state, room_temperature=None)
    return replace(state, room_temperature=SensorValue(_finite(value), to_utc(at)))


def push_outside_temperature(
    state: ThermostatState, value: float | None, at: datetime
) -> ThermostatState:
    """An outside temperature pushed through the API (``None``: back to ``"auto"``)."""
    if value is None:
        return replace(state, outside_temperature=None)
    return replace(state, outside_temperature=SensorValue(_finite(value), to_utc(at)))


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("a temperature must be a finite number")
    return float(value)


# -- sensor choice --------------------------------------------------------------


def select_room_temperature(
    state: ThermostatState,
    now: datetime,
    local: float | None,
    max_age: timedelta = ROOM_MAX_AGE,
) -> float | None:
    """The room temperature to control on: a fresh pushed one, else ``local``.

    ``local`` is the bridge's own reading (``None`` or NaN when it has none).
    """
    pushed = state.room_temperature
    if pushed is not None and pushed.fresh(now, max_age):
        return pushed.value
    if local is None or not math.isfinite(local):
        return None
    return local


def select_outside_temperature(
    state: ThermostatState,
    now: datetime,
    boiler: float | None = None,
    weather: SensorValue | None = None,
    max_age: timedelta = OUTSIDE_MAX_AGE,
) -> tuple[float | None, str | None]:
    """The outside temperature and where it came from, in CONTROL.md's order.

    ``"boiler"`` (OpenTherm id 27), then ``"pushed"`` (through the API),
    then ``"weather"`` (the cloud, with consent); ``(None, None)`` when none
    is usable.
    """
    if boiler is not None and math.isfinite(boiler):
        return boiler, "boiler"
    pushed = state.outside_temperature
    if pushed is not None and pushed.fresh(now, max_age):
        return pushed.value, "pushed"
    if weather is not None and math.isfinite(weather.value) and weather.fresh(now, max_age):
        return weather.value, "weather"
    return None, None
