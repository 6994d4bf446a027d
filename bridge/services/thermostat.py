"""The thermostat service: the bridge's brain between storage, control and the API.

It holds the :class:`~bridge.core.state.ThermostatState` in memory,
loads it from and writes it through to the database (an update applies
whole or not at all), runs the control loop on the injected clock, records
measurements and boiler faults, and tells listeners which fields of the
ThermoSmart thermostat object changed. What it shows (readings and the
payload models) is :class:`~bridge.services.thermostat_views.ThermostatViews`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import contextlib
from dataclasses import replace
from datetime import UTC, datetime
import logging
import math
import secrets
from typing import TYPE_CHECKING, Any

from bridge.core import options as opts, state as core
from bridge.core.boiler_config import BoilerBounds, BoilerCommand
from bridge.core.clock import sleep_or_wake
from bridge.core.cloud_sync import Timeline
from bridge.core.errors import StorageUnavailableError
from bridge.core.heating import ThermostatControl
from bridge.core.listeners import Listeners
from bridge.core.payloads.history import EventKind
from bridge.core.programs import Programs, WeekSchedule
from bridge.core.requests import parse_update
from bridge.core.validation import ValidationError
from bridge.learning import Measurement, heat_source_for
from bridge.opentherm.links.base import SetpointLink
from bridge.services.energy import EnergyMeter
from bridge.services.learning import SAVE_INTERVAL_S, LearningService
from bridge.services.thermostat_views import ThermostatViews
from bridge.storage import Sample
from bridge.storage.settings import (
    CONTROL_STATE,
    GEOFENCE_DEVICES,
    GEOFENCE_ENABLED,
    HARDWARE_ID,
    LOCATION,
    NAME,
    OPTIONS,
    PROGRAMS,
)

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.opentherm.links.base import BoilerLink
    from bridge.opentherm.master import OpenThermMaster
    from bridge.storage import Database

_LOGGER = logging.getLogger(__name__)

CONTROL_INTERVAL = 30.0
"""Seconds of clock time between control steps."""
RECORD_INTERVAL = 60.0
"""Seconds of clock time between measurement samples."""

ChangeListener = Callable[[dict[str, Any]], None]
StateListener = Callable[[], None]

# OpenTherm ids recorded as measurements, by sample key.
RECORDED_IDS = {
    "flow_temperature": 25,
    "return_temperature": 28,
    "dhw_temperature": 26,
    "modulation": 17,
    "control_setpoint": 1,
    "water_pressure": 18,
    "boiler_outside_temperature": 27,
}


class ThermostatService(ThermostatViews):
    """The thermostat: state, control loop, records, change notification."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        link: BoilerLink,
        master: OpenThermMaster | None,
        *,
        timezone: str = "Europe/Amsterdam",
    ) -> None:
        self.db = db
        self.clock = clock
        self.link = link
        self.master = master
        self.state = core.ThermostatState(timezone=timezone)
        self.hardware_id = ""
        self.name = ""
        self.location: str | None = None
        self.geofence_enabled = False
        self.geofence_devices: list[Any] = []
        self._options: dict[str, Any] = opts.current({})
        control = opts.control_config(self._options)
        self.learning = LearningService(emitter_exponent=control.curve.exponent)
        """The house's learner: predictions, optimal start, the learned heating curve."""
        self.control = ThermostatControl(self.learning, boiler=control)
        self._boiler_ctl = self.control.boiler
        self._relay_ctl = self.control.relay
        self.last_command: BoilerCommand | None = None
        self.relay_on: bool | None = None
        self._listeners: Listeners[[dict[str, Any]]] = Listeners(
            _LOGGER, "A change listener failed"
        )
        self._state_listeners: Listeners[[]] = Listeners(_LOGGER, "A state listener failed")
        self._learning_loaded = False
        self._next_save: float | None = None
        self._last_object: dict[str, Any] | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._storage_down = False  # a write failed for want of disk; logged once
        self._last_faults: dict[str, Any] = {}
        self.energy = EnergyMeter()
        """Heat delivered and gas used, kWh, kept in the database."""
        self.timeline = Timeline()
        """The order of changes made on the bridge, against which cloud commands are
        judged (:mod:`bridge.core.cloud_sync`)."""

    # -- loading and saving ---------------------------------------------------

    async def load(self) -> None:
        """Read the thermostat's settings, schedule and runtime state from storage."""
        db = self.db
        hardware_id: str | None = await db.settings.get_or_create(HARDWARE_ID, _new_hardware_id)
        self.hardware_id = hardware_id or ""
        self.name = await db.settings.get(NAME)
        self.location = await db.settings.get(LOCATION)
        self.geofence_enabled = await db.settings.get(GEOFENCE_ENABLED)
        self.geofence_devices = await db.settings.get(GEOFENCE_DEVICES)
        stored_programs: dict[str, float] = await db.settings.get(PROGRAMS)
        programs = Programs.from_dict(stored_programs)
        schedule = WeekSchedule.of(await db.schedule.get())
        exceptions = tuple(await db.schedule.get_exceptions())
        runtime = await db.settings.get(CONTROL_STATE)
        await self.energy.load(db.energy)
        stored_options: dict[str, Any] = await db.settings.get(OPTIONS)
        await self._apply_options(opts.current(stored_options))
        self.state = replace(
            self.state,
            programs=programs,
            schedule=schedule,
            exceptions=exceptions,
            **_runtime_from_dict(runtime),
        )
        if not self._learning_loaded:
            self._learning_loaded = True
            await self.learning.load(db.learning, self.plan_context())
        elif await self.learning.forget_if_erased(db.learning):
            await self.learning.refresh_async(self.plan_context())
        override = self.state.override
        if override is not None and not override.remote:
            # the dial's last turn outlives a restart: a remote command older than it loses
            self.timeline.changed(["target_temperature"], override.set_at.timestamp())
        self._last_object = self.cloud_object()

    def _runtime_dict(self, state: core.ThermostatState) -> dict[str, Any]:
        out: dict[str, Any] = {"paused": state.paused}
        if state.override is not None:
            out["override"] = {
                "target": state.override.target,
                "set_at": state.override.set_at.timestamp(),
                "remote": state.override.remote,
            }
        for key in ("room_temperature", "outside_temperature"):
            value: core.SensorValue | None = getattr(state, key)
            if value is not None:
                out[key] = {"value": value.value, "at": value.at.timestamp()}
        return out

    # -- options ----------------------------------------------------------------

    async def _apply_options(self, options: dict[str, Any]) -> None:
        """Make ``options`` the ones in effect: warm-up, control defaults, the emitter model."""
        self._options = options
        self.learning.preheat_enabled = bool(options["preheat"])
        config = opts.control_config(options)
        self.control.set_base(config)
        await self.learning.set_emitter_exponent(config.curve.exponent)

    # -- change notification ------------------------------------------------------

    def add_listener(self, listener: ChangeListener) -> Callable[[], None]:
        """Call ``listener`` with the changed fields of the thermostat object."""
        return self._listeners.add(listener)

    def add_state_listener(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener()`` when the native view changes outside the thermostat object
        (new predictions); returns a remover."""
        return self._state_listeners.add(listener)

    def notify_state(self) -> None:
        """Tell the state listeners the native view changed outside the thermostat object."""
        self._state_listeners.notify()

    def notify_changes(self) -> None:
        """Compare the thermostat object with the last one and tell listeners what changed."""
        current = self.cloud_object()
        previous = self._last_object or {}
        self._last_object = current
        changed = {k: v for k, v in current.items() if k != "ot" and previous.get(k) != v}
        old_raw = (previous.get("ot") or {}).get("raw", {})
        raw_changes = {k: v for k, v in current["ot"]["raw"].items() if old_raw.get(k) != v}
        if raw_changes:
            changed["ot"] = {"raw": raw_changes}
        if not changed:
            return
        self._listeners.notify(changed)

    # -- commands -------------------------------------------------------------------

    async def update(
        self, body: Any, *, remote: bool = True, from_cloud: bool = False
    ) -> dict[str, Any]:
        """Apply a validated ``PUT /thermostat/{hw}`` body whole or not at all.

        Raises :class:`ValidationError` (nothing changed) for bad input.
        Returns the updated thermostat object. A change made on the bridge
        (not ``from_cloud``) goes on the :attr:`timeline`.
        """
        data = parse_update(body)
        async with self._lock:
            now = self.now()
            state = self.state
            settings: dict[str, Any] = {}
            schedule_blocks = None
            stored_exceptions = None
            if "programs" in data:
                state = core.set_programs(state, state.programs.updated(data["programs"]))
                settings[PROGRAMS.key] = state.programs.to_dict()
            if "schedule" in data:
                state = core.set_schedule(state, data["schedule"])
                schedule_blocks = list(state.schedule.entries)
            if "exceptions" in data:
                state = core.set_exceptions(state, data["exceptions"])
                stored_exceptions = list(state.exceptions)
            if "target_temperature" in data:
                state = core.set_target(state, data["target_temperature"], now, remote=remote)
            if "room_temperature" in data:
                state = core.push_room_temperature(state, data["room_temperature"], now)
            if "outside_temperature" in data:
                state = core.push_outside_temperature(state, data["outside_temperature"], now)
            if "geofence_enabled" in data:
                settings[GEOFENCE_ENABLED.key] = data["geofence_enabled"]
            settings[CONTROL_STATE.key] = self._runtime_dict(state)
            await self.db.apply_update(
                settings=settings, schedule=schedule_blocks, exceptions=stored_exceptions
            )
            self.state = state
            if "geofence_enabled" in data:
                self.geofence_enabled = data["geofence_enabled"]
            if not from_cloud:
                self.timeline.changed(data, self.clock.time())
        self._wake.set()
        self.notify_changes()
        return self.cloud_object()

    async def set_paused(self, paused: bool, *, from_cloud: bool = False) -> dict[str, Any]:
        """Pause (hold the pause program, frost protection stays) or resume."""
        async with self._lock:
            state = core.pause(self.state, paused)
            await self.db.settings.set(CONTROL_STATE, self._runtime_dict(state))
            self.state = state
            if not from_cloud:
                self.timeline.changed(["pause"], self.clock.time())
        self._wake.set()
        self.notify_changes()
        return self.cloud_object()

    async def clear_override(self) -> dict[str, Any]:
        """Drop a manual or remote override: back to the schedule."""
        async with self._lock:
            state = core.clear_override(self.state)
            await self.db.settings.set(CONTROL_STATE, self._runtime_dict(state))
            self.state = state
            self.timeline.changed(["target_temperature"], self.clock.time())
        self._wake.set()
        self.notify_changes()
        return self.cloud_object()

    async def set_options(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change some of the per-bridge options: checked whole, stored, then in effect.

        Raises :class:`ValidationError` (and changes nothing) for an unknown
        option, a wrong type, a temperature outside what the boiler takes, or
        a boiler option on a relay or a hot-water option on a boiler without it.
        """
        checked = opts.check(changes, self.boiler_limits())
        async with self._lock:
            stored: dict[str, Any] = await self.db.settings.get(OPTIONS)
            options = opts.current({**stored, **checked})
            await self.db.settings.set(OPTIONS, options)
            await self._apply_options(options)
        self._wake.set()
        self.notify_state()
        self.notify_changes()
        return self.options()

    async def reload(self) -> None:
        """Re-read everything from storage (after an erase)."""
        async with self._lock:
            previous = self._last_object
            await self.load()
            self._last_object = previous  # so listeners hear what the reload changed
        self._wake.set()
        self.notify_changes()

    # -- control loop --------------------------------------------------------------------

    async def control_step(self) -> None:
        """One control step: resolve the target, drive the boiler, keep state tidy."""
        now = self.now()
        async with self._lock:
            expired = core.expire_override(self.state, now)
            if expired is not self.state and expired != self.state:
                self.state = expired
                try:
                    await self.db.settings.set(CONTROL_STATE, self._runtime_dict(expired))
                except StorageUnavailableError as err:
                    # the override ends by its time: after a restart it expires again
                    self._storage_lost(err)
        ctx = self.plan_context()
        room = self.room_temperature()
        mono = self.clock.monotonic()
        if self.master is not None:
            outside, _ = self.outside()
            caps = self.master.state.capabilities
            bounds = None
            if caps.max_ch_setpoint_bounds is not None or caps.dhw_setpoint_bounds is not None:
                ch = caps.max_ch_setpoint_bounds or (20, 80)
                dhw = caps.dhw_setpoint_bounds or (35, 65)
                bounds = BoilerBounds(
                    ch_lower=ch[0], ch_upper=ch[1], dhw_lower=dhw[0], dhw_upper=dhw[1]
                )
            cmd = self.control.boiler_step(
                mono,
                ctx,
                room=room,
                outside=outside,
                bounds=bounds,
                max_kw=caps.max_capacity_kw,
                min_modulation_pct=caps.min_modulation_pct,
                dhw_enable=bool(self._options["dhw_enable"]),
                dhw_setpoint=self._options["dhw_setpoint"],
            )
            self.master.apply_command(cmd, max_ch_setpoint=cmd.max_ch_setpoint)
            self.last_command = cmd
        elif isinstance(self.link, SetpointLink):
            # a wall unit runs the boiler on its own PID: the bridge moves its room target
            target, _ = self.control.target(ctx)
            self.link.set_room_setpoint(target)
        else:
            relay = self.control.relay_step(mono, ctx, room=room)
            if relay.on != self.relay_on:
                try:
                    await self.link.set_heat_demand(relay.on)
                    self.relay_on = relay.on
                except Exception as err:  # noqa: BLE001 - the loop must survive any link fault
                    _LOGGER.warning("Could not switch the relay: %s", err)
        await self._log_faults()
        self.notify_changes()

    async def _log_faults(self) -> None:
        boiler = self.boiler_state()
        if boiler is None:
            return
        faults = boiler.faults
        current = {
            "fault": faults.fault,
            "low_water_pressure": faults.low_water_pressure,
            "gas_flame_fault": faults.gas_flame_fault,
            "service_request": faults.service_request,
            "oem_fault_code": faults.oem_fault_code,
        }
        if current == self._last_faults:
            return
        previous, self._last_faults = self._last_faults, current
        if current.get("fault") and not previous.get("fault"):
            await self.db.events.log(
                EventKind.BOILER_FAULT,
                "boiler reports a fault",
                code=str(faults.oem_fault_code) if faults.oem_fault_code is not None else None,
                data={k: v for k, v in current.items() if v is not None},
            )
        elif previous.get("fault") and not current.get("fault"):
            await self.db.events.log(EventKind.INFO, "boiler fault cleared")

    def samples(self) -> list[Sample]:
        """The measurements to record now."""
        ts = self.clock.time()
        out: list[Sample] = []

        def add(key: str, value: float | None) -> None:
            if value is not None and math.isfinite(value):
                out.append(Sample(ts, key, float(value)))

        add("room_temperature", self.room_temperature())
        add("target_temperature", self.resolution().target)
        add("outside_temperature", self.outside()[0])
        for key, data_id in RECORDED_IDS.items():
            add(key, self.boiler_number(data_id))
        boiler = self.boiler_state()
        if boiler is not None and boiler.slave_status is not None:
            status = boiler.slave_status
            add("flame_on", 1.0 if status.flame_on else 0.0)
            add("ch_active", 1.0 if status.ch_active else 0.0)
            add("dhw_active", 1.0 if status.dhw_active else 0.0)
        if self.relay_on is not None:
            add("relay_on", 1.0 if self.relay_on else 0.0)
        return out

    def measurement(self) -> tuple[Measurement, bool | None]:
        """What the learner gets now, from the bridge's own readings; and whether the CH pump runs."""
        outside, _ = self.outside()
        boiler = self.boiler_state()
        status = boiler.slave_status if boiler is not None else None
        m = Measurement(
            ts=self.clock.time(),
            room_c=self.room_temperature(),
            outside_c=outside,
            flow_c=self.boiler_number(25),
            return_c=self.boiler_number(28),
            modulation_pct=self.boiler_number(17),
            flame_on=None if status is None else status.flame_on,
            dhw_active=None if status is None else status.dhw_active,
            relay_on=self.relay_on if boiler is None else None,
        )
        return m, None if status is None else status.ch_active

    async def _meter_energy(self) -> None:
        """Book the burner's output since the last sample; push the new totals."""
        source = None
        boiler = self.boiler_state()
        if boiler is not None:
            caps = boiler.capabilities
            source = heat_source_for(caps.max_capacity_kw, caps.min_modulation_pct)
        m, _pump = self.measurement()
        if await self.energy.observe(self.db.energy, m, source):
            self.notify_state()

    async def _learn(self) -> None:
        """Feed the learner; push new predictions; save the learning state now and then."""
        boiler = self.boiler_state()
        if boiler is not None:
            caps = boiler.capabilities
            source = heat_source_for(caps.max_capacity_kw, caps.min_modulation_pct)
            if source is not None:
                self.learning.set_heat_source(source)
        m, pump = self.measurement()
        boost = self._boiler_ctl.boosting if self.master is not None else None
        if await self.learning.observe_async(m, self.plan_context(), pump=pump, boost=boost):
            self.notify_state()
        now = self.clock.monotonic()  # a step of the wall clock moves no save
        if self._next_save is None:
            self._next_save = now + SAVE_INTERVAL_S
        elif now >= self._next_save:
            self._next_save = now + SAVE_INTERVAL_S
            await self.learning.save(self.db.learning)

    def _storage_lost(self, err: StorageUnavailableError) -> None:
        if not self._storage_down:
            self._storage_down = True
            _LOGGER.warning("Not recording until the disk takes writes again: %s", err)

    def _storage_back(self) -> None:
        if self._storage_down:
            self._storage_down = False
            _LOGGER.warning("The disk takes writes again: recording")

    async def save_learning(self) -> None:
        """Store the learning state now."""
        await self.learning.save(self.db.learning)

    async def close(self) -> None:
        """Save the learning state and stop its worker thread (the control loop has stopped)."""
        try:
            await self.learning.close(self.db.learning)
        except StorageUnavailableError as err:
            _LOGGER.warning("Could not save the learning state: %s", err)
        except Exception:
            _LOGGER.exception("Could not save the learning state")

    async def run(self) -> None:
        """The control loop and the recorder, until cancelled.

        A disk that takes no writes stops the recording, never the control:
        the boiler is driven on, one line is logged when the disk fills and
        one when it takes writes again.
        """
        # on the monotonic clock: stepping the wall clock back must not stop the recording
        next_record = self.clock.monotonic()
        while True:
            try:
                await self.control_step()
                if self.clock.monotonic() >= next_record:
                    next_record = self.clock.monotonic() + RECORD_INTERVAL
                    samples = self.samples()
                    if samples:
                        await self.db.measurements.add_samples(samples)
                    await self._meter_energy()
                    await self._learn()
                    self._storage_back()
            except asyncio.CancelledError:
                raise
            except StorageUnavailableError as err:
                self._storage_lost(err)
            except Exception:
                _LOGGER.exception("Control step failed; holding the last command")
                with contextlib.suppress(StorageUnavailableError):
                    await self.db.events.log(EventKind.SOFTWARE_ERROR, "control step failed")
            self._wake.clear()
            await sleep_or_wake(self.clock, self._wake, CONTROL_INTERVAL)


def _new_hardware_id() -> str | None:

    return "TSL" + secrets.token_hex(5).upper()


def _runtime_from_dict(data: Mapping[str, Any]) -> dict[str, Any]:
    """The ThermostatState fields stored in ``control_state``; bad parts are dropped."""
    # what is not stored is absent: a reload after an erase drops an override in memory
    out: dict[str, Any] = {
        "paused": bool(data.get("paused", False)),
        "override": None,
        "room_temperature": None,
        "outside_temperature": None,
    }
    ov = data.get("override")
    try:
        if isinstance(ov, Mapping):
            out["override"] = core.Override(
                target=float(ov["target"]),
                set_at=datetime.fromtimestamp(float(ov["set_at"]), tz=UTC),
                remote=bool(ov.get("remote", False)),
            )
    except (KeyError, TypeError, ValueError):
        _LOGGER.warning("Stored override is unreadable; dropped")
    for key in ("room_temperature", "outside_temperature"):
        item = data.get(key)
        try:
            if isinstance(item, Mapping):
                out[key] = core.SensorValue(
                    float(item["value"]), datetime.fromtimestamp(float(item["at"]), tz=UTC)
                )
        except (KeyError, TypeError, ValueError):
            _LOGGER.warning("Stored %s is unreadable; dropped", key)
    return out


__all__ = ["ThermostatService", "ValidationError"]
