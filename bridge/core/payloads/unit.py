"""The ThermoSmart wall units: as stored (the export) and as they are now (the native state)."""

from __future__ import annotations

from typing import Annotated

from bridge.core.contract import Keywords, model, spec
from bridge.core.payloads.common import Timestamp
from bridge.core.unit import PID_REASONS, SOURCES

UnitSourceName = Annotated[str, Keywords(enum=list(SOURCES))]
"""What a unit follows (its ``src`` 0-5), by name."""
PidReason = Annotated[str, Keywords(enum=list(PID_REASONS))]


@model
class StoredUnit:
    """A registered wall unit as the database keeps it (never its password)."""

    hardware_id: str
    house: bool = spec(description="this unit is the house's thermostat")
    created: Timestamp
    revision: int | None = spec(description="hardware revision 1-5, as the unit last said")
    firmware: str | None
    calendar_version: int | None = spec(description="the calendar version the unit last received")
    last_seen: Timestamp | None = spec(
        description="when the unit last polled, to the minute (null: never)"
    )
    own_pid: list[float] | None = spec(
        description="[kp, ti, td]: the PID parameters the unit first reported"
    )


@model
class UnitPid:
    """The unit's own PID parameters, as it reports them."""

    kp: float = spec(description="°C of flow temperature per K of room error")
    ti: float = spec(description="integral time, s (0: no integral)")
    td: float = spec(description="derivative time, s")


@model
class PidFigures:
    """How a PID does on the learned house, averaged over a cold, a usual and a mild day:
    a night 3 K below the home temperature, then the home temperature."""

    overshoot_k: float = spec(description="the highest room temperature above the target, K")
    rise_s: float | None = spec(
        description="seconds from the end of the night until the room is within 0.2 K"
        " (null: not on every day)"
    )
    settled_error_k: float = spec(description="mean distance from the target after that, K")


@model
class UnitPidProposal:
    """PID parameters the learned house says do better than the unit's own."""

    pid: UnitPid
    reasons: list[PidReason] = spec(
        description="what is wrong with the unit's own: it overshoots, or it is slow"
    )
    own: PidFigures = spec(description="the unit's own parameters on the learned house")
    proposed: PidFigures = spec(description="the proposal on the learned house")


@model
class WallUnit:
    """A registered wall unit and what it said on its last poll."""

    hardware_id: str
    house: bool = spec(description="this unit is the house's thermostat")
    connected: bool | None = spec(
        description="the unit polled within the last few minutes; null: not yet heard from"
        " since the bridge started, and the bridge has not run those minutes yet"
    )
    last_seen: Timestamp | None = spec(
        description="the unit's last poll (kept across restarts, to the minute)"
    )
    revision: int | None = spec(description="hardware revision 1-5")
    firmware: str | None
    room_temperature: float | None = spec(description="°C, as the unit measures it")
    source: UnitSourceName | None = spec(description="what the unit follows")
    setpoint: float | None = spec(description="the target the unit follows now, °C")
    pid: UnitPid | None = spec(description="the PID parameters the unit runs, as it reports them")
    pid_proposal: UnitPidProposal | None = spec(
        description="better PID parameters from the learned house (the house's unit only;"
        " sent when the option unit_pid_tuning is on)"
    )
    calendar_version: int | None = spec(description="the calendar version the unit last received")
