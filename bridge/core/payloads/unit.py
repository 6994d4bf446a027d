"""The ThermoSmart wall units: as stored (the export) and as they are now (the native state)."""

from __future__ import annotations

from typing import Annotated

from bridge.core.contract import Keywords, model, spec
from bridge.core.payloads.common import Timestamp
from bridge.core.unit import SOURCES

UnitSourceName = Annotated[str, Keywords(enum=list(SOURCES))]
"""What a unit follows (its ``src`` 0-5), by name."""


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


@model
class UnitPid:
    """The unit's own PID parameters, as it reports them."""

    kp: float
    ti: float
    td: float


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
    pid: UnitPid | None
    calendar_version: int | None = spec(description="the calendar version the unit last received")
