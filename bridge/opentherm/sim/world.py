"""The simulated world: house, boiler, weather, taps and room sensor on one clock.

Physics advances on a fixed grid of ``PHYSICS_STEP_S`` seconds anchored at
the start time, so the result depends only on the seed, the inputs and the
times at which they were given, not on how often the world was stepped or
read. :meth:`SimWorld.step` and :meth:`SimWorld.advance_to` move the
world's time and integrate every whole grid step on the way; commands (over
OpenTherm or :meth:`Boiler.command`) take effect from the next grid step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import math
from typing import TYPE_CHECKING

from bridge.opentherm.sim.boiler import Boiler
from bridge.opentherm.sim.boiler_spec import BoilerSpec
from bridge.opentherm.sim.house import HouseModel, HouseSpec, RoomSensor, get_profile
from bridge.opentherm.sim.taps import TapSchedule
from bridge.opentherm.sim.weather import SyntheticWeather, WeatherSource

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.opentherm.frame import Frame

#: 2026-01-01 00:00 UTC, the same default as :class:`bridge.core.clock.VirtualClock`.
DEFAULT_START = 1_767_225_600.0
#: The seed of a simulated world nobody chose one for (``sim://``, ``[sim]``, ``sim-otgw``).
DEFAULT_SEED = 0
PHYSICS_STEP_S = 10.0
WEATHER_STEP_S = 60.0
J_PER_KWH = 3.6e6


@dataclass(frozen=True, slots=True)
class SimTruth:
    """What really happened, for scoring (never visible to the thermostat)."""

    time: float
    room_c: float
    mass_c: float
    emitter_c: float
    flow_c: float
    return_c: float
    outside_c: float
    solar_w_m2: float
    internal_gains_w: float
    flame: bool
    burner_power_w: float
    modulation_pct: float
    ch_pump: bool
    dhw_active: bool
    pressure_bar: float
    gas_kwh: float
    gas_ch_kwh: float
    gas_dhw_kwh: float
    heat_to_ch_kwh: float
    heat_to_dhw_kwh: float
    heat_to_loop_kwh: float
    heat_to_tap_kwh: float
    heat_emitted_kwh: float
    heat_loss_kwh: float
    solar_gain_kwh: float
    internal_gain_kwh: float
    purge_loss_kwh: float
    burner_starts: int
    ch_burner_starts: int
    dhw_burner_starts: int
    failed_ignitions: int
    burner_hours: float
    condensing_burner_hours: float
    fault: bool
    lockout: bool
    low_pressure: bool


class SimWorld:
    """A house with a boiler under a weather series, advanced on simulated time.

    ``profile`` is a profile name (see :data:`bridge.opentherm.sim.PROFILES`)
    or a :class:`~bridge.opentherm.sim.house.HouseSpec` (a :class:`HouseProfile`, or
    a house from outside the project). ``weather`` defaults to
    :class:`SyntheticWeather` with the same seed. ``outside_sensor`` overrides
    the profile's flag for the boiler's outside sensor (ID 27). With
    ``dhw_taps`` the household draws hot water on a seeded daily pattern.
    ``utc_offset_h`` places local time (internal gains, taps).
    """

    def __init__(
        self,
        profile: str | HouseSpec = "terraced_1970s",
        *,
        seed: int = DEFAULT_SEED,
        start: float = DEFAULT_START,
        weather: WeatherSource | None = None,
        boiler_spec: BoilerSpec | None = None,
        outside_sensor: bool | None = None,
        dhw_taps: bool = True,
        internal_gains: bool = True,
        initial_room_c: float = 19.0,
        utc_offset_h: float = 1.0,
        sensor_noise_c: float = 0.05,
    ) -> None:
        self.profile: HouseSpec = get_profile(profile) if isinstance(profile, str) else profile
        self.seed = seed
        self.weather: WeatherSource = weather or SyntheticWeather(seed)
        spec = boiler_spec or BoilerSpec()
        sensor_flag = (
            self.profile.boiler_outside_sensor if outside_sensor is None else outside_sensor
        )
        if spec.outside_sensor != sensor_flag:
            spec = replace(spec, outside_sensor=sensor_flag)
        out0, sol0 = self.weather.sample(start)
        self.house: HouseModel = self.profile.make_house(t_air=initial_room_c, t_outside=out0)
        self.boiler = Boiler(self.profile.emitter, spec, seed=seed, t_initial=initial_room_c)
        self.boiler.outside_c = out0
        self.boiler.command(max_ch_setpoint_c=self.profile.max_flow_c)
        self.boiler.now = start
        self.sensor = RoomSensor(seed, initial_room_c, noise_sd_c=sensor_noise_c)
        self.taps = TapSchedule(seed, utc_offset_h=utc_offset_h, automatic=dhw_taps)
        self.internal_gains = internal_gains
        self.start = start
        self._offset_s = utc_offset_h * 3600.0
        self._now = start
        self._phys_t = start
        self._outside = out0
        self._solar = sol0
        self._next_weather = start
        self._internal_w = 0.0
        self._next_gain = start
        self._binding: tuple[Clock, float, float, float] | None = None

    # ------------------------------------------------------------ time

    @property
    def now(self) -> float:
        """The world's time (Unix seconds)."""
        return self._now

    def step(self, dt: float) -> None:
        """Advance ``dt`` seconds."""
        if dt < 0:
            raise ValueError("a world never goes backwards")
        self.advance_to(self._now + dt)

    def advance_to(self, ts: float) -> None:
        """Advance to time ``ts`` (no-op if it is not later than now)."""
        if ts <= self._now:
            return
        self._now = ts
        self._integrate(ts)

    def _integrate(self, ts: float) -> None:
        h = PHYSICS_STEP_S
        house, boiler, sensor, taps = self.house, self.boiler, self.sensor, self.taps
        weather = self.weather
        t = self._phys_t
        while t + h <= ts + 1e-3:
            if t >= self._next_weather:
                self._outside, self._solar = weather.sample(t + WEATHER_STEP_S / 2)
                self._next_weather = t + WEATHER_STEP_S
            if t >= self._next_gain:
                self._update_gains(t)
            boiler.dhw_flow_l_min = taps.flow_at(t)
            q_loop = boiler.step(t, h, house.t_emitter, self._outside)
            house.step(h, q_loop, self._outside, self._solar, self._internal_w)
            sensor.update(house.t_air, h)
            t += h
            self._phys_t = t

    def _update_gains(self, t: float) -> None:
        local = t + self._offset_s
        hour = int(local // 3600.0) % 24
        self._next_gain = (math.floor(local / 3600.0) + 1) * 3600.0 - self._offset_s
        self._internal_w = self.profile.internal_gains_w[hour] if self.internal_gains else 0.0

    def attach(self, clock: Clock, speed: float = 1.0) -> None:
        """Tie the world to ``clock``: from now on :meth:`sync` follows it at ``speed``."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._binding = (clock, clock.monotonic(), self._now, speed)

    def detach(self) -> None:
        """Stop following a clock."""
        self._binding = None

    @property
    def attached(self) -> bool:
        """True while the world follows a clock."""
        return self._binding is not None

    def sync(self) -> None:
        """Catch up with the attached clock (no-op when not attached)."""
        if self._binding is None:
            return
        clock, mono0, world0, speed = self._binding
        self.advance_to(world0 + (clock.monotonic() - mono0) * speed)

    async def run(
        self,
        clock: Clock,
        *,
        speed: float = 1.0,
        step_s: float = PHYSICS_STEP_S,
        until: float | None = None,
    ) -> None:
        """Step the world as ``clock`` advances, ``speed`` simulated seconds per clock second.

        Wakes every ``step_s`` simulated seconds; runs until cancelled, or
        until the world's time reaches ``until``.
        """
        self.attach(clock, speed)
        while until is None or self._now < until:
            await clock.sleep(step_s / speed)
            self.sync()

    # ------------------------------------------------------------ what the bridge sees

    def room_sensor_c(self) -> float:
        """A reading of the room thermometer: lagged, noisy, rounded to 0.1 °C."""
        self.sync()
        return self.sensor.read()

    def tap_dhw(self, duration_s: float, flow_l_min: float = 7.0) -> None:
        """Open a hot-water tap now."""
        self.sync()
        self.taps.add(self._phys_t, duration_s, flow_l_min)

    # ------------------------------------------------------------ truth

    @property
    def outside_c(self) -> float:
        """True outside temperature now."""
        return self._outside

    def truth(self) -> SimTruth:
        """The true state and counters now."""
        h, b = self.house, self.boiler
        k = J_PER_KWH
        return SimTruth(
            time=self._now,
            room_c=h.t_air,
            mass_c=h.t_mass,
            emitter_c=h.t_emitter,
            flow_c=b.t_flow,
            return_c=b.t_return,
            outside_c=self._outside,
            solar_w_m2=self._solar,
            internal_gains_w=self._internal_w,
            flame=b.flame,
            burner_power_w=b.power_w,
            modulation_pct=b.modulation_pct,
            ch_pump=b.ch_pump,
            dhw_active=b.dhw_mode,
            pressure_bar=b.pressure_bar,
            gas_kwh=b.gas_j / k,
            gas_ch_kwh=b.gas_ch_j / k,
            gas_dhw_kwh=b.gas_dhw_j / k,
            heat_to_ch_kwh=b.heat_ch_j / k,
            heat_to_dhw_kwh=b.heat_dhw_j / k,
            heat_to_loop_kwh=b.heat_to_loop_j / k,
            heat_to_tap_kwh=b.heat_to_tap_j / k,
            heat_emitted_kwh=h.heat_emitted_j / k,
            heat_loss_kwh=h.heat_loss_j / k,
            solar_gain_kwh=h.solar_gain_j / k,
            internal_gain_kwh=h.internal_gain_j / k,
            purge_loss_kwh=b.purge_loss_j / k,
            burner_starts=b.burner_starts,
            ch_burner_starts=b.ch_burner_starts,
            dhw_burner_starts=b.dhw_burner_starts,
            failed_ignitions=b.failed_ignitions,
            burner_hours=b.burner_s / 3600.0,
            condensing_burner_hours=b.condensing_burner_s / 3600.0,
            fault=b.fault,
            lockout=b.lockout,
            low_pressure=b.low_pressure,
        )


class WorldSlave:
    """A :class:`SimWorld`'s boiler as an OpenTherm slave that first catches the world up.

    The simulated gateways (OTGW and Modbus) serve this: each answer, and
    each relay switch, happens at the world's current time.
    """

    def __init__(self, world: SimWorld) -> None:
        self.world = world

    def handle(self, request: Frame) -> Frame | None:
        """Bring the world to now, then let its boiler answer."""
        self.world.sync()
        return self.world.boiler.handle(request)

    def handle_raw(self, raw: int) -> int | None:
        """The boiler's answer as bits on the wire (a garbling link fault shows here)."""
        self.world.sync()
        return self.world.boiler.handle_raw(raw)

    def set_relay_demand(self, on: bool) -> None:
        """The boiler's on/off thermostat input."""
        self.world.sync()
        self.world.boiler.set_relay_demand(on)
