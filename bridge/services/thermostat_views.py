"""What the thermostat service shows: its readings and the payload models built from them.

:class:`ThermostatViews` is the reading half of
:class:`~bridge.services.thermostat.ThermostatService`: the target in force
and why, the room and outside temperatures, the options, and the cloud,
native, thermostat-state, schedule-block and prediction models the API
renders. It only reads the state the service keeps (and writes nothing).
"""

from __future__ import annotations

from datetime import UTC, datetime
import math
from typing import TYPE_CHECKING, Any

from bridge import __version__
from bridge.core import options as opts, state as core
from bridge.core.contract import keep_rendered, render
from bridge.core.heating import PlanContext
from bridge.core.payloads import thermostat as p
from bridge.core.schedule import Block, iter_blocks, resolve_schedule
from bridge.opentherm.links.base import RoomSensor, SetpointLink

if TYPE_CHECKING:
    from bridge.core.boiler_config import BoilerCommand
    from bridge.core.clock import Clock
    from bridge.core.payloads.native import Predictions
    from bridge.opentherm.boiler_state import BoilerState
    from bridge.opentherm.links.base import BoilerLink
    from bridge.opentherm.master import OpenThermMaster
    from bridge.services.energy import EnergyMeter
    from bridge.services.learning import LearningService


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat() if dt is not None else None


def _iso_ts(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()


def _wall(value: datetime) -> tuple[int, int, int, int, int]:
    """An exception time as the API's ``[Y, M, D, h, m]`` (M 0-11)."""
    return (value.year, value.month - 1, value.day, value.hour, value.minute)


def _number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, 2)


class ThermostatViews:
    """The thermostat's readings and payload models (the service sets these attributes)."""

    clock: Clock
    link: BoilerLink
    master: OpenThermMaster | None
    state: core.ThermostatState
    hardware_id: str
    name: str
    location: str | None
    geofence_enabled: bool
    geofence_devices: list[Any]
    learning: LearningService
    last_command: BoilerCommand | None
    relay_on: bool | None
    energy: EnergyMeter
    _options: dict[str, Any]
    cloud_weather: core.SensorValue | None = None
    """What the cloud's weather for the city last gave (``weather_by_city``), set by the
    cloud service; the outside temperature only when no better source has one."""

    def now(self) -> datetime:
        """The clock's time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.clock.time(), tz=UTC)

    def schedule_resolution(self) -> core.Resolution:
        """The target the schedule, overrides and pause set now (before any warm-up)."""
        return core.resolve(self.state, self.now())

    def resolution(self) -> core.Resolution:
        """The target in force now and why (during a warm-up: the next period's target)."""
        return self.learning.apply(self.schedule_resolution(), self.clock.time())

    def plan_context(self) -> PlanContext:
        """What the schedule says now, for the learner's plans and forecasts."""
        return PlanContext.of(self.state, self.schedule_resolution(), self.clock.time())

    def predictions_model(self) -> Predictions:
        """The learning outputs (``GET /api/v1/predictions``)."""
        return self.learning.predictions_model(self.clock.time(), self.schedule_resolution())

    def predictions(self) -> dict[str, Any]:
        """The learning outputs as JSON."""
        out: dict[str, Any] = render(self.predictions_model())
        return out

    def options(self) -> dict[str, Any]:
        """The per-bridge options the owner can set (see :mod:`bridge.core.options`)."""
        return dict(self._options)

    def boiler_state(self) -> BoilerState | None:
        """The boiler as the bridge knows it: its own master's model, or a wall unit's reports."""
        if self.master is not None:
            return self.master.state
        if isinstance(self.link, SetpointLink):
            return self.link.boiler
        return None

    def boiler_limits(self) -> opts.BoilerLimits:
        """What the boiler takes, for checking options against it."""
        unit = isinstance(self.link, SetpointLink)
        boiler = self.boiler_state()
        if boiler is None or not self.link.opentherm:
            return opts.BoilerLimits(opentherm=False, unit=unit)
        caps = boiler.capabilities

        def floats(pair: tuple[int, int] | None) -> tuple[float, float] | None:
            return None if pair is None else (float(pair[0]), float(pair[1]))

        return opts.BoilerLimits(
            opentherm=True,
            unit=unit,
            dhw_present=caps.dhw_present,
            dhw_bounds=floats(caps.dhw_setpoint_bounds),
            max_ch_bounds=floats(caps.max_ch_setpoint_bounds),
        )

    def local_room_temperature(self) -> float | None:
        """The bridge's own room reading (a link with a room sensor), if it has one."""
        if isinstance(self.link, RoomSensor):
            return self.link.room_temperature()
        return None

    def room_temperature(self) -> float | None:
        """The room temperature the thermostat controls on."""
        return core.select_room_temperature(self.state, self.now(), self.local_room_temperature())

    def boiler_number(self, data_id: int) -> float | None:
        """A fresh numeric value the boiler reported for ``data_id``."""
        boiler = self.boiler_state()
        if boiler is None:
            return None
        entry = boiler.values.get(data_id)
        if entry is None or entry.stale:
            return None
        return boiler.number(data_id)

    def outside(self) -> tuple[float | None, str | None]:
        """The outside temperature and where it came from."""
        return core.select_outside_temperature(
            self.state, self.now(), self.boiler_number(27), self.cloud_weather
        )

    def ot_raw(self) -> dict[str, str]:
        """``{"ot25": "0x2A80", …}``: the last raw value per OpenTherm id."""
        boiler = self.boiler_state()
        return boiler.raw_map() if boiler is not None else {}

    def cloud_model(self) -> p.CloudThermostat:
        """The thermostat object of ``GET /thermostat/{hw}``, as its payload model."""
        res = self.resolution()
        outside, _ = self.outside()
        return p.CloudThermostat(
            name=self.name,
            room_temperature=_number(self.room_temperature()),
            target_temperature=res.target,
            outside_temperature=_number(outside),
            outside_temperature_icon=None,
            programs=self.state.programs.to_dict(),
            schedule=self._schedule_entries(),
            exceptions=self._exception_entries(),
            source=res.source,
            fw=__version__,
            location=self.location or "",
            geofence_enabled=self.geofence_enabled,
            geofence_devices=list(self.geofence_devices),
            ot=p.OtState(enabled=self.link.opentherm, raw=self.ot_raw()),
        )

    def cloud_object(self) -> dict[str, Any]:
        """The thermostat as ``GET /thermostat/{hw}`` shows it."""
        out: dict[str, Any] = render(self.cloud_model())
        return out

    # The schedule (up to 672 entries) and the exceptions are in every view and
    # change rarely: their models are made once per schedule and exceptions
    # object, and their JSON is kept (so renderings share it, and comparing two
    # states is an identity check per entry).
    _schedule_models: tuple[object, tuple[p.ScheduleEntry, ...]] = (None, ())
    _exception_models: tuple[object, tuple[p.ExceptionEntry, ...]] = (None, ())

    def _schedule_entries(self) -> list[p.ScheduleEntry]:
        schedule = self.state.schedule
        if self._schedule_models[0] is not schedule:
            models = tuple(
                p.ScheduleEntry(start=(e.day, e.hour, e.minute), temperature=e.program)
                for e in schedule.entries
            )
            keep_rendered(models)
            self._schedule_models = (schedule, models)
        return list(self._schedule_models[1])

    def _exception_entries(self) -> list[p.ExceptionEntry]:
        exceptions = self.state.exceptions
        if self._exception_models[0] is not exceptions:
            models = tuple(
                p.ExceptionEntry(
                    start=_wall(e.start),
                    end=_wall(e.end),
                    temperature=e.program,
                    description=e.description,
                )
                for e in exceptions
            )
            keep_rendered(models)
            self._exception_models = (exceptions, models)
        return list(self._exception_models[1])

    def native_model(self) -> p.NativeThermostat:
        """The native thermostat: the live state plus programs, schedule and exceptions.

        On the push path (every boiler change): it builds only these parts, not the
        whole cloud object with its second resolution and the raw OpenTherm map.
        """
        return p.NativeThermostat(
            **self._state_fields(),
            name=self.name,
            programs=self.state.programs.to_dict(),
            schedule=self._schedule_entries(),
            exceptions=self._exception_entries(),
            geofence_enabled=self.geofence_enabled,
        )

    def native_view(self) -> dict[str, Any]:
        """The native thermostat as JSON (see :meth:`native_model`)."""
        out: dict[str, Any] = render(self.native_model())
        return out

    def block_model(self, block: Block) -> p.ScheduleBlock:
        """A schedule block as the native API shows it (times in UTC, ISO 8601)."""
        return p.ScheduleBlock(
            start=block.start.astimezone(UTC).isoformat(),
            end=block.end.astimezone(UTC).isoformat(),
            program=block.program,
            target=self.state.programs.temperature(block.program),
            source=block.source,
            description=block.description or None,
        )

    def schedule_blocks(self, start: float, end: float) -> list[p.ScheduleBlock]:
        """The schedule's blocks overlapping ``[start, end)`` (Unix times), unclipped."""
        state = self.state
        return [
            self.block_model(block)
            for block in iter_blocks(
                state.schedule,
                state.exceptions,
                datetime.fromtimestamp(start, tz=UTC),
                datetime.fromtimestamp(end, tz=UTC),
                state.tz,
            )
        ]

    def energy_view(self) -> dict[str, float] | None:
        """The energy counters, kWh (None when the boiler cannot be metered)."""
        return self.energy.view()

    def _state_fields(self) -> dict[str, Any]:
        """The :class:`~bridge.core.payloads.thermostat.ThermostatState` fields, by name."""
        base = self.schedule_resolution()
        now = self.clock.time()
        res = self.learning.apply(base, now)
        preheat = self.learning.active_preheat(base, now)
        outside, outside_source = self.outside()
        cmd = self.last_command
        blocks = resolve_schedule(
            self.state.schedule, self.state.exceptions, self.now(), self.state.tz
        )
        return {
            "hardware_id": self.hardware_id,
            "room_temperature": _number(self.room_temperature()),
            "target_temperature": res.target,
            "program": res.program,
            "source": res.source,
            "until": _iso(res.until),
            "paused": self.state.paused,
            "next": p.NextBlock(
                start=_iso(res.next_start), program=res.next_program, target=res.next_target
            ),
            "frost_limited": res.frost_limited,
            "outside_temperature": _number(outside),
            "outside_temperature_source": outside_source,
            "timezone": self.state.timezone,
            "control": None
            if cmd is None
            else p.ControlStatus(
                mode=cmd.mode,
                ch_enable=cmd.ch_enable,
                control_setpoint=cmd.control_setpoint,
                max_modulation=cmd.max_modulation,
                demand=_number(cmd.demand),
                notes=list(cmd.notes),
            ),
            "relay_on": self.relay_on,
            "preheating": preheat is not None,
            "preheat_start": None if preheat is None else _iso_ts(preheat.start_ts),
            "current_block": self.block_model(blocks.current),
            "next_block": self.block_model(blocks.next),
        }

    def thermostat_model(self) -> p.ThermostatState:
        """The native view of the thermostat (more than the cloud object)."""
        return p.ThermostatState(**self._state_fields())

    def thermostat_state(self) -> dict[str, Any]:
        """The native view of the thermostat as JSON."""
        out: dict[str, Any] = render(self.thermostat_model())
        return out
