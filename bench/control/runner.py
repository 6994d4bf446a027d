"""Running one controller on one simulated house, and the ideal heater that bounds them all."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime
import functools
import importlib
import math
import random
from typing import TYPE_CHECKING, cast

from bridge.core import state as core
from bridge.core.clock import VirtualClock
from bridge.core.programs import Programs, ScheduleEntry, WeekSchedule
from bridge.learning import OutsideForecast
from bridge.opentherm.sim import DEFAULT_START, PHYSICS_STEP_S, SimWorld, get_profile
from bridge.opentherm.sim.weather import SyntheticWeather

from .controllers import Controller, Curve, OnOff, OnOffEarly, OpenThermPort, Ours

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.learning import Predictor
    from bridge.opentherm.sim import HouseSpec
    from bridge.opentherm.sim.weather import WeatherSource

DAY = 86_400.0
HOUR = 3_600.0
START = DEFAULT_START
"""Thursday 1 January 2026, 00:00 UTC."""
CONTROL_S = 30.0
"""Seconds between control steps (the daemon's CONTROL_INTERVAL)."""
UTC_OFFSET_H = 1.0
"""Local time of the simulated household (Europe/Amsterdam in winter)."""
OCCUPIED = frozenset({"home", "comfort"})
SAMPLE_S = 600.0
"""The learner's sample period (for the forecast score)."""


FORECAST_HOURS = 24
"""How far the weather forecast the benchmark gives ours reaches, h."""
FORECAST_SD_6H_K = 1.0
"""The forecast's error (standard deviation) 6 h ahead; it grows as a random walk with lead."""


def weather_forecast(weather: WeatherSource, seed: int) -> Callable[[float], OutsideForecast]:
    """The hourly outside forecast issued at a time: the truth plus a seeded random walk.

    Each issue draws its own error path, which starts at zero and grows with the
    lead (standard deviation :data:`FORECAST_SD_6H_K` at 6 h, twice that at 24 h),
    as a weather service's forecast does.
    """
    step_sd = FORECAST_SD_6H_K / math.sqrt(6.0)

    def issued(now: float) -> OutsideForecast:
        first = math.floor(now / HOUR) * HOUR
        rng = random.Random(f"thermosmart-bench-forecast:{seed}:{round(first)}")
        error = 0.0
        points: list[tuple[float, float]] = []
        for h in range(FORECAST_HOURS + 1):
            if h:
                error += rng.gauss(0.0, step_sd)
            ts = first + h * HOUR
            points.append((ts, weather.sample(ts)[0] + error))
        return OutsideForecast.of(points)

    return issued


def house_spec(ref: str) -> HouseSpec:
    """A house by its reference: a simulator profile's name, or ``MODULE:FACTORY``.

    ``MODULE:FACTORY`` imports ``MODULE`` and calls ``FACTORY()``, which returns
    a house from outside the project (the protocol of
    :class:`~bridge.opentherm.sim.house.HouseSpec`, see ``docs/learning.md``).
    ValueError says what is wrong with a reference or the house it gives.
    """
    if ":" not in ref:
        return get_profile(ref)
    return _load_house(ref)


#: What the benchmark reads of a house from outside the project (HouseSpec's members).
HOUSE_SPEC_MEMBERS = (
    "name",
    "emitter",
    "internal_gains_w",
    "boiler_outside_sensor",
    "max_flow_c",
    "heat_loss_w_per_k",
    "c_air_j_per_k",
    "make_house",
)


@functools.cache
def _load_house(ref: str) -> HouseSpec:
    module_name, _, factory_name = ref.partition(":")
    if not module_name or not factory_name:
        raise ValueError(f"house module {ref!r}: give it as MODULE:FACTORY")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"house module {ref!r}: cannot import {module_name!r}: {err}") from err
    factory = getattr(module, factory_name, None)
    spec = factory() if callable(factory) else None
    if spec is None:
        raise ValueError(f"house module {ref!r}: {module_name} has no factory {factory_name!r}")
    missing = [m for m in HOUSE_SPEC_MEMBERS if not hasattr(spec, m)]
    if missing:
        raise ValueError(f"house module {ref!r}: its house lacks {', '.join(missing)}")
    return cast("HouseSpec", spec)


def bench_schedule() -> WeekSchedule:
    """Weekdays: comfort in the morning, home in the evening, away by day and night; weekends home."""
    entries = []
    for day in range(5):
        entries += [
            ScheduleEntry(day, 6, 30, "comfort"),
            ScheduleEntry(day, 8, 30, "not_home"),
            ScheduleEntry(day, 17, 0, "home"),
            ScheduleEntry(day, 22, 30, "not_home"),
        ]
    for day in (5, 6):
        entries += [ScheduleEntry(day, 8, 0, "home"), ScheduleEntry(day, 23, 0, "not_home")]
    return WeekSchedule.of(entries)


def bench_state() -> core.ThermostatState:
    """The thermostat every controller follows: default programs, the bench schedule."""
    return core.ThermostatState(
        programs=Programs(), schedule=bench_schedule(), timezone="Europe/Amsterdam"
    )


class Schedule:
    """The schedule's resolution at a time, resolved once per block (it is constant within one)."""

    def __init__(self, state: core.ThermostatState) -> None:
        self.state = state
        self._res: core.Resolution | None = None
        self._span = (math.inf, -math.inf)

    def at(self, ts: float) -> core.Resolution:
        begin, end = self._span
        if self._res is None or not begin <= ts < end:
            res = core.resolve(self.state, datetime.fromtimestamp(ts, tz=UTC))
            self._res = res
            self._span = (res.block_start.timestamp(), res.next_start.timestamp())
        return self._res


@dataclass(frozen=True, slots=True)
class Sensor:
    """The room sensor a run reads: noise (standard deviation) and resolution, °C."""

    noise_sd_c: float = 0.05
    resolution_c: float = 0.1


DEFAULT_SENSOR = Sensor()
"""The simulator's room sensor: 0.05 K noise, 0.1 °C steps."""


@dataclass
class Trace:
    """One run, sampled at every control step (true values, for scoring and plots)."""

    t: array[float] = field(default_factory=lambda: array("d"))
    air: array[float] = field(default_factory=lambda: array("d"))
    target: array[float] = field(default_factory=lambda: array("d"))
    occupied: array[int] = field(default_factory=lambda: array("b"))
    outside: array[float] = field(default_factory=lambda: array("d"))
    flow: array[float] = field(default_factory=lambda: array("d"))
    ret: array[float] = field(default_factory=lambda: array("d"))
    modulation: array[float] = field(default_factory=lambda: array("d"))
    gas_ch_kwh: array[float] = field(default_factory=lambda: array("d"))
    ch_starts: array[int] = field(default_factory=lambda: array("q"))
    burner_s: array[float] = field(default_factory=lambda: array("d"))
    dhw_burner_s: array[float] = field(default_factory=lambda: array("d"))
    condensing_s: array[float] = field(default_factory=lambda: array("d"))
    controlled_target: array[float] = field(default_factory=lambda: array("d"))

    def index(self, ts: float) -> int:
        """The first sample at or after ``ts``."""
        lo, hi = 0, len(self.t)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.t[mid] < ts:
                lo = mid + 1
            else:
                hi = mid
        return lo


@dataclass
class LearningLog:
    """What the forecast score needs from a run of ours."""

    origins: list[tuple[float, Predictor]] = field(default_factory=list)
    heat: dict[int, float] = field(default_factory=dict)
    outside: dict[int, list[float]] = field(default_factory=dict)
    sensor: dict[int, float] = field(default_factory=dict)


def comfort_floor(schedule: Schedule, *, setback: bool = False) -> Callable[[float], float | None]:
    """The comfort band's lower edge at a time in a home or comfort period (None outside).

    ``setback``: in the other periods too (the band below the setback the owner set).
    """
    from .scoring import COMFORT_BAND_K  # scoring imports this module

    def at(ts: float) -> float | None:
        res = schedule.at(ts)
        return res.target - COMFORT_BAND_K if setback or res.program in OCCUPIED else None

    return at


ORACLE_SETBACK = "oracle_setback"
"""The oracle that also keeps the band below the setback (the away and night target): the least
gas for a thermostat that holds every target the owner set, as ours does. Context for the
oracle's figure, run on the houses themselves only (not their variants)."""


def make_controller(
    name: str,
    port: OpenThermPort,
    profile: HouseSpec,
    *,
    lead_s: float = 0.0,
    window: tuple[float, float] | None = None,
) -> Controller:
    """A fresh controller by its benchmark name.

    ``lead_s``: for ``onoff_early``; ``window`` (Unix s): the week the oracle plans.
    """
    if name in ("oracle", ORACLE_SETBACK):
        from .oracle import OracleController  # the solver only when the oracle runs

        if window is None:
            raise ValueError("the oracle needs the window it plans")
        return OracleController(
            port.world,
            begin=window[0],
            end=window[1],
            lower_at=comfort_floor(Schedule(bench_state()), setback=name == ORACLE_SETBACK),
            utc_offset_h=UTC_OFFSET_H,
        )
    if name == "thermosmart":
        world = port.world
        return Ours(
            port,
            underfloor=profile.emitter.kind == "underfloor",
            weather=weather_forecast(world.weather, world.seed),
        )
    if name == "thermosmart_no_forecast":
        return Ours(port, underfloor=profile.emitter.kind == "underfloor")
    if name == "thermosmart_no_preheat":
        return Ours(port, underfloor=profile.emitter.kind == "underfloor", preheat=False)
    if name == "onoff":
        return OnOff()
    if name == "onoff_early":
        return OnOffEarly(lead_s)
    if name == "curve":
        return Curve(profile)
    raise ValueError(f"unknown controller {name!r}")


def simulate(
    house: str,
    controller_name: str,
    *,
    seed: int,
    days: float,
    record_from: float = 0.0,
    score_windows: tuple[tuple[float, float], ...] = (),
    lead_s: float = 0.0,
    window: tuple[float, float] | None = None,
    sensor: Sensor = DEFAULT_SENSOR,
) -> tuple[Trace, LearningLog | None, Controller]:
    """Run ``controller_name`` on ``house`` for ``days``; trace from ``record_from`` days on.

    ``score_windows`` (days, for ours): where to keep hourly forecasts for
    the forecast score. ``lead_s``: the lead of ``onoff_early``; ``window``
    (days): the week the oracle plans; ``sensor``: the room sensor every controller reads.
    """
    profile = house_spec(house)
    world = SimWorld(
        profile,
        seed=seed,
        start=START,
        utc_offset_h=UTC_OFFSET_H,
        sensor_noise_c=sensor.noise_sd_c,
    )
    world.sensor.resolution_c = sensor.resolution_c
    port = OpenThermPort(world, pushed_outside=not profile.boiler_outside_sensor)
    controller = make_controller(
        controller_name,
        port,
        profile,
        lead_s=lead_s,
        window=None if window is None else (START + window[0] * DAY, START + window[1] * DAY),
    )
    state = bench_state()
    schedule = Schedule(state)
    clock = VirtualClock(START)
    boiler = world.boiler
    trace = Trace()
    log: LearningLog | None = None
    ours = controller if isinstance(controller, Ours) else None
    windows = [(START + a * DAY, START + b * DAY) for a, b in score_windows]
    if ours is not None and windows:
        log = LearningLog()
        ours.keep_measurements = True
    end = START + days * DAY
    record_start = START + record_from * DAY
    steps = round(days * DAY / CONTROL_S)
    seen = 0
    for k in range(steps + 1):
        now = START + k * CONTROL_S
        clock.set(now)
        world.advance_to(now)
        readings = port.read()
        res = schedule.at(now)
        cmd = controller.step(clock.time(), clock.monotonic(), state, res, readings)
        port.write(cmd)
        if log is not None and ours is not None:
            seen = _log_learning(log, ours=ours, world=world, now=now, windows=windows, seen=seen)
        if now >= record_start:
            trace.t.append(now)
            trace.air.append(world.house.t_air)
            trace.target.append(res.target)
            trace.occupied.append(1 if res.program in OCCUPIED else 0)
            trace.outside.append(world.outside_c)
            trace.flow.append(boiler.t_flow)
            trace.ret.append(boiler.t_return)
            trace.modulation.append(boiler.modulation_pct if boiler.flame else -1.0)
            trace.gas_ch_kwh.append(boiler.gas_ch_j / 3.6e6)
            trace.ch_starts.append(boiler.ch_burner_starts)
            trace.burner_s.append(boiler.burner_s)
            trace.dhw_burner_s.append(boiler.dhw_burner_s)
            trace.condensing_s.append(boiler.condensing_burner_s)
            preheat = None if ours is None else ours.learning.active_preheat(res, now)
            trace.controlled_target.append(res.target if preheat is None else preheat.target)
        if now >= end:
            break
    return trace, log, controller


def _log_learning(
    log: LearningLog,
    *,
    ours: Ours,
    world: SimWorld,
    now: float,
    windows: list[tuple[float, float]],
    seen: int,
) -> int:
    """Keep the heat and outside per sample period, the noise-free sensor, and hourly predictors."""
    source = ours.learning.learner.heat_source
    for m in ours.measurements[seen:]:
        k = int(m.ts // SAMPLE_S)
        log.heat[k] = log.heat.get(k, 0.0) + (source.heat_w(m) or 0.0) * 60.0 / SAMPLE_S
        if m.outside_c is not None:
            log.outside.setdefault(k, []).append(m.outside_c)
    seen = len(ours.measurements)
    if now % SAMPLE_S == 0:
        log.sensor[round(now)] = world.sensor.t_sensor
        if now % HOUR == 0 and any(a <= now < b for a, b in windows):
            predictor = ours.learning.learner.predictor()
            if predictor is not None:
                log.origins.append((now, predictor))
    return seen


@dataclass
class Ideal:
    """The ideal heater: heat straight into the room air, exactly the schedule's target."""

    heat_j: array[float]
    """Heat per hour since the start, J."""

    def heat_kwh(self, begin: float, end: float) -> float:
        """Heat over whole hours from ``begin`` to ``end`` (Unix s), kWh."""
        a = round((begin - START) / HOUR)
        b = round((end - START) / HOUR)
        return sum(self.heat_j[a:b]) / 3.6e6

    def mean_w(self, hour_start: float) -> float:
        """Mean heat of the hour starting at ``hour_start``, W."""
        return self.heat_j[round((hour_start - START) / HOUR)] / HOUR


def ideal(house: str, *, seed: int, days: float) -> Ideal:
    """Simulate ``house`` following the schedule exactly with an ideal heater into the room air.

    The same profile, weather, internal gains and start as the controllers'
    worlds; the emitters and fabric float and are warmed through the air.
    """
    profile = house_spec(house)
    weather = SyntheticWeather(seed)
    out0, _ = weather.sample(START)
    initial = 19.0
    h = profile.make_house(t_air=initial, t_outside=out0)
    schedule = Schedule(bench_state())
    step = PHYSICS_STEP_S
    c_air = profile.c_air_j_per_k
    gains = profile.internal_gains_w
    hours = math.ceil(days * 24)
    heat = array("d", [0.0] * hours)
    t = START
    outside, solar = out0, 0.0
    next_weather = START
    end = START + hours * HOUR
    while t < end - 1e-6:
        if t >= next_weather:
            outside, solar = weather.sample(t + 30.0)
            next_weather = t + 60.0
        hour_local = int((t + UTC_OFFSET_H * HOUR) // HOUR) % 24
        h.step(step, 0.0, outside, solar, gains[hour_local])
        target = schedule.at(t + step).target
        if h.t_air < target:
            q_j = (target - h.t_air) * c_air
            h.t_air = target
            heat[int((t - START) // HOUR)] += q_j
        t += step
    return Ideal(heat)


__all__ = [
    "CONTROL_S",
    "DAY",
    "DEFAULT_SENSOR",
    "HOUR",
    "OCCUPIED",
    "ORACLE_SETBACK",
    "START",
    "Ideal",
    "LearningLog",
    "Schedule",
    "Sensor",
    "Trace",
    "bench_schedule",
    "bench_state",
    "house_spec",
    "ideal",
    "make_controller",
    "simulate",
    "weather_forecast",
]
