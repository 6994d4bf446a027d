"""The thermostat: the cloud object, the native view, and what changes them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from bridge.core.contract import UNSET, Keywords, Unset, model, spec
from bridge.core.payloads.common import (
    DateTime,
    ProgramChanges,
    ProgramName,
    Programs,
    Timestamp,
)
from bridge.core.programs import MAX_DESCRIPTION, MAX_SCHEDULE_ENTRIES
from bridge.core.rules import (
    EXCEPTIONS_RULE,
    OUTSIDE_RULE,
    PROGRAM_CHANGES_RULE,
    PROGRAMS_RULE,
    ROOM_RULE,
    SCHEDULE_RULE,
    TARGET_RULE,
)
from bridge.core.state import Source


@model
class ScheduleEntry:
    start: tuple[int, int, int] = spec(
        description="[day, hour, minute]: day 0 = Monday, minute 0/15/30/45"
    )
    temperature: ProgramName


@model
class ExceptionEntry:
    start: tuple[int, int, int, int, int] = spec(
        description="[Y, M, D, h, m], M 0-11 (January = 0)"
    )
    end: tuple[int, int, int, int, int]
    temperature: ProgramName
    description: str | Unset = spec(default=UNSET, maxLength=MAX_DESCRIPTION)


@model
class Own:
    hw: str


@model
class OtState:
    enabled: bool
    raw: dict[str, str] = spec(
        schema={
            "type": "object",
            "propertyNames": {"pattern": "^ot[0-9]+$"},
            "additionalProperties": {"type": "string", "pattern": "^0x[0-9A-F]{4}$"},
        }
    )


@model
class CloudThermostat:
    """The thermostat object of the ThermoSmart cloud API."""

    name: str
    room_temperature: float | None
    target_temperature: float
    outside_temperature: float | None
    outside_temperature_icon: str | None
    programs: Programs = spec(rule=PROGRAMS_RULE)
    schedule: list[ScheduleEntry] = spec(rule=SCHEDULE_RULE)
    exceptions: list[ExceptionEntry] = spec(rule=EXCEPTIONS_RULE)
    source: Source
    fw: str
    location: str
    geofence_enabled: bool
    geofence_devices: list[Any]
    ot: OtState


@model
class ThermostatUpdate:
    """Any of these fields; applied whole or not at all."""

    target_temperature: float | str | Unset = spec(
        default=UNSET,
        rule=TARGET_RULE,
        description="°C; a manual override until the next schedule block",
    )
    programs: ProgramChanges | Unset = spec(default=UNSET, rule=PROGRAM_CHANGES_RULE)
    schedule: (
        Annotated[list[ScheduleEntry], Keywords(minItems=1, maxItems=MAX_SCHEDULE_ENTRIES)]
        | ProgramChanges
        | Unset
    ) = spec(
        default=UNSET,
        rule=SCHEDULE_RULE,
        description="the week schedule (replaced whole); an object of programs "
        "here is taken as `programs`",
    )
    exceptions: list[ExceptionEntry] | Unset = spec(default=UNSET, rule=EXCEPTIONS_RULE)
    outside_temperature: float | str | Unset = spec(
        default=UNSET,
        rule=OUTSIDE_RULE,
        description='°C pushed by a client, or "auto" to drop the pushed value (then '
        "only a boiler sensor counts)",
    )
    room_temperature: float | str | Unset = spec(
        default=UNSET, rule=ROOM_RULE, description="°C from an external sensor"
    )
    geofence_enabled: bool | Unset = spec(default=UNSET)


@model
class PauseRequest:
    pause: bool


@model
class ScheduleBlock:
    """A stretch of time with one program from the week schedule or one exception, as the
    bridge resolves it (daylight-saving changes included; a schedule block starts at every
    schedule entry, also when the program stays the same)."""

    start: DateTime = spec(description="UTC")
    end: DateTime = spec(description="UTC (exclusive)")
    program: ProgramName
    target: float = spec(description="the program's temperature now, °C")
    source: Literal["schedule", "exception"]
    description: str | None = spec(description="the exception's description")


@model
class ScheduleBlocks:
    start: Timestamp
    end: Timestamp
    timezone: str
    blocks: list[ScheduleBlock] = spec(
        description="the blocks overlapping start <= t < end, in order, unclipped"
    )


@model
class NextBlock:
    start: DateTime | None
    program: str
    target: float


@model
class ControlStatus:
    mode: str
    ch_enable: bool
    control_setpoint: float
    max_modulation: float | None
    demand: float | None
    notes: list[str]


@model
class ThermostatState:
    """The thermostat as the native API sees it (more than the cloud object)."""

    hardware_id: str
    room_temperature: float | None
    target_temperature: float
    program: ProgramName | None
    source: Source
    until: DateTime | None
    paused: bool
    next: NextBlock
    frost_limited: bool
    outside_temperature: float | None
    outside_temperature_source: str | None
    timezone: str
    control: ControlStatus | None
    relay_on: bool | None
    preheating: bool = spec(
        description="heating up early for the next home or comfort period (optimal start); "
        "the target is then that period's"
    )
    preheat_start: DateTime | None = spec(description="when the warm-up in progress began")
    current_block: ScheduleBlock
    next_block: ScheduleBlock


@model
class NativeThermostat(ThermostatState):
    """The live thermostat state plus its programs, schedule and exceptions."""

    name: str
    programs: Programs
    schedule: list[ScheduleEntry]
    exceptions: list[ExceptionEntry]
    geofence_enabled: bool
