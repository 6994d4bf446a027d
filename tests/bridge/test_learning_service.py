"""Self-learning in the bridge: the LearningService, the control path that uses it, the API.

The simulator plays the house. A learner is trained for a week on a plain
on/off thermostat (the same way as in test_learning.py) and handed to the
service through its stored JSON form, so the restore path is exercised on
every use.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
import copy
from dataclasses import dataclass, replace
from datetime import UTC, datetime
import functools
import json
import logging
import math
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridge.admin import DB_FILE
from bridge.config import validate
from bridge.core import state as core
from bridge.core.boiler_config import BoilerBounds, BoilerCommand
from bridge.core.clock import VirtualClock
from bridge.core.curve import HeatingCurve
from bridge.core.heating import PlanContext, ThermostatControl
from bridge.daemon import Bridge
from bridge.learning import HeatSource, Learner, Measurement, OutsideForecast
from bridge.learning.emitters import EmitterEstimator
from bridge.opentherm.links.sim import SimLink
from bridge.opentherm.sim import SimWorld, get_profile
from bridge.services.learning import STATE_NAME, STATE_VERSION, LearningService
from bridge.storage import OPTIONS, Database, TokenKind

from .native_helpers import call, make_token

DAY = 86_400.0
HOUR = 3_600.0
BOILER = HeatSource.from_opentherm(24, 20)
BOUNDS = BoilerBounds(ch_lower=25, ch_upper=85, dhw_lower=40, dhw_upper=65)


class Targets:
    """The default schedule's resolution, resolved once per block (it is constant within one)."""

    def __init__(self, state: core.ThermostatState) -> None:
        self.state = state
        self.res: core.Resolution | None = None

    def at(self, ts: float) -> core.Resolution:
        res = self.res
        if res is None or not res.block_start.timestamp() <= ts < res.next_start.timestamp():
            res = self.res = core.resolve(self.state, datetime.fromtimestamp(ts, tz=UTC))
        return res


def _f88(value: float) -> float:
    return round(value * 256.0) / 256.0


def _measure(world: SimWorld, room: float | None = None) -> Measurement:
    """What the bridge reads of the simulated boiler (f8.8) and its room sensor."""
    b = world.boiler
    return Measurement(
        ts=world.now,
        room_c=world.room_sensor_c() if room is None else room,
        outside_c=round(world.outside_c, 1),
        flow_c=_f88(b.t_flow),
        return_c=_f88(b.t_return),
        modulation_pct=_f88(b.modulation_pct),
        flame_on=b.flame,
        dhw_active=b.dhw_mode,
    )


@functools.cache
def _trained(profile: str) -> tuple[SimWorld, dict[str, Any]]:
    """A week of a house on an on/off thermostat (0.2 K) following the default schedule."""
    world = SimWorld(profile, seed=1)
    learner = Learner(BOILER)
    targets = Targets(core.ThermostatState())
    heating = False
    while world.now < world.start + 7 * DAY:
        world.step(60.0)
        m = _measure(world)
        target = targets.at(world.now).target
        assert m.room_c is not None
        if m.room_c < target - 0.2:
            heating = True
        elif m.room_c > target + 0.2:
            heating = False
        flow = min(80.0, max(30.0, target + 10.0 + 2.2 * (target - world.outside_c)))
        world.boiler.command(ch_enable=heating, control_setpoint_c=flow, dhw_enable=True)
        learner.observe(m)
    assert learner.ready
    return world, {"version": STATE_VERSION, "learner": learner.to_dict()}


def trained(profile: str = "terraced_1970s") -> tuple[SimWorld, dict[str, Any]]:
    """The trained house (a copy: tests run it on) and the stored learning state."""
    world, state = _trained(profile)
    return copy.deepcopy(world), copy.deepcopy(state)


@dataclass
class Step:
    ts: float
    target: float
    preheat: bool
    cmd: BoilerCommand
    sensor: float


def drive(
    world: SimWorld,
    service: LearningService,
    until: float,
    *,
    reading: Callable[[Measurement], Measurement | None] | None = None,
) -> list[Step]:
    """The daemon's control path on the simulator: a step every 30 s, a measurement every 60 s."""
    control = ThermostatControl(service)
    state = core.ThermostatState()
    targets = Targets(state)
    steps: list[Step] = []
    while world.now < until:
        world.step(30.0)
        now = world.now
        m = _measure(world)
        if reading is not None:
            m2 = reading(m)
            m = m2 if m2 is not None else Measurement(ts=now, room_c=None)
        res = targets.at(now)
        ctx = PlanContext.of(state, res, now)
        cmd = control.boiler_step(
            now - world.start,
            ctx,
            room=m.room_c,
            outside=m.outside_c,
            bounds=BOUNDS,
            max_kw=24,
            min_modulation_pct=20,
        )
        world.boiler.command(
            ch_enable=cmd.ch_enable,
            control_setpoint_c=cmd.control_setpoint,
            max_modulation_pct=cmd.max_modulation,
            max_ch_setpoint_c=cmd.max_ch_setpoint,
            dhw_enable=True,
        )
        if now % 60.0 == 0.0:
            service.observe(m, ctx, pump=world.boiler.ch_pump, boost=control.boiler.boosting)
        preheat = service.active_preheat(res, now)
        steps.append(
            Step(
                now,
                res.target if preheat is None else preheat.target,
                preheat is not None,
                cmd,
                world.sensor.t_sensor,
            )
        )
    return steps


def restored(state: dict[str, Any], *, preheat: bool = True) -> LearningService:
    service = LearningService(preheat=preheat, heat_source=BOILER)
    assert service.restore(json.loads(json.dumps(state)))
    return service


# ---------------------------------------------------------------- optimal start


def test_optimal_start_heats_up_before_the_period_once_confident() -> None:
    world, state = trained()
    cold = copy.deepcopy(world)
    # Thursday 8 January, 00:00 UTC: 15 °C until 06:30 local (05:30 UTC), then home 19.5 °C
    period = world.now + 5.5 * HOUR
    service = restored(state)
    steps = drive(world, service, period + 30 * 60)
    first = next(s for s in steps if s.preheat)
    lead = period - first.ts
    assert 0.5 * HOUR < lead < 6 * HOUR  # a real warm-up, started well before the period
    assert all(s.target == 15.0 for s in steps if s.ts < first.ts)
    assert all(s.target == 19.5 for s in steps if first.ts <= s.ts < period)
    # the burner goes on for it, at full power, before the period starts
    assert any(s.cmd.ch_enable and s.cmd.mode == "heat" for s in steps if first.ts <= s.ts < period)
    assert service.snapshot.ready

    # the same morning without preheat: the target rises only at the period start
    late = restored(state, preheat=False)
    plain = drive(cold, late, period + 30 * 60)
    assert not any(s.preheat for s in plain)
    assert all(s.target == 15.0 for s in plain if s.ts < period)
    assert late.predictions(cold.now)["predictions"]["optimal_start"] is None
    # the warm-up made the room warm by the period start (the sensor without its noise);
    # the first plan, with no warm-up history, comes within a kelvin
    warm = next(s for s in steps if s.ts >= period).sensor
    cool = next(s for s in plain if s.ts >= period).sensor
    assert warm >= 18.5
    assert warm - cool > 3.0


def test_the_warmup_plan_takes_the_hourly_outside_forecast() -> None:
    world, state = trained()
    service = restored(state)
    thermostat = core.ThermostatState()
    # Thursday 8 January, 00:00 UTC: 15 °C until home (19.5 °C) at 05:30 UTC
    now = world.now
    ctx = PlanContext.of(thermostat, Targets(thermostat).at(now), now)
    plain = service.refresh(ctx).plan
    assert plain is not None
    assert plain.on_time
    # a hard frost coming: the warm-up starts earlier than on the last measured outside
    frost = OutsideForecast.of([(now + h * HOUR, -15.0) for h in range(25)])
    service.set_outside_forecast(frost)
    cold = service.refresh(ctx).plan
    assert cold is not None
    assert cold.start_ts < plain.start_ts - 15 * 60
    # a forecast that has run out is not used: the plan holds the last outside temperature
    service.set_outside_forecast(
        OutsideForecast.of([(now - 30 * HOUR + h * HOUR, -15.0) for h in range(25)])
    )
    stale = service.refresh(ctx).plan
    assert stale is not None
    assert stale.start_ts == plain.start_ts


def test_an_outside_forecast_is_checked_and_interpolated() -> None:
    forecast = OutsideForecast.of([(0.0, 2.0), (HOUR, 4.0)])
    assert forecast.at(HOUR / 2) == pytest.approx(3.0)
    assert forecast.at(-HOUR) == 2.0  # held flat past either end
    assert forecast.at(5 * HOUR) == 4.0
    with pytest.raises(ValueError, match="2 to 240 points"):
        OutsideForecast.of([(0.0, 2.0)])
    with pytest.raises(ValueError, match="rising"):
        OutsideForecast.of([(HOUR, 2.0), (0.0, 3.0)])
    with pytest.raises(ValueError, match="not plausible"):
        OutsideForecast.of([(0.0, 2.0), (HOUR, math.nan)])


def test_a_warmup_that_came_late_moves_the_next_start_earlier() -> None:
    service = LearningService()
    for _ in range(3):
        service._warmup = (0.0, 3600.0, 4000.0, 20.0, "home")  # planned: arrive after 1 h
        service._track_warmup(Measurement(ts=60.0, room_c=16.0))
        service._track_warmup(Measurement(ts=5400.0, room_c=20.0))  # came after 1.5 h
    assert service.start_factor("home") == pytest.approx(1.5)
    assert service.start_factor("comfort") == pytest.approx(1.5)  # all warm-ups stand in
    early = LearningService()
    for _ in range(3):
        early._warmup = (0.0, 3600.0, 4000.0, 20.0, "home")
        early._track_warmup(Measurement(ts=60.0, room_c=16.0))
        early._track_warmup(Measurement(ts=1800.0, room_c=20.0))
    assert early.start_factor("home") == 1.0  # never later than planned


# ---------------------------------------------------------------- bad input


def test_outliers_dropouts_and_a_frozen_sensor_never_break_control() -> None:
    world, state = trained()
    service = restored(state)
    start = world.now
    frozen: list[float] = []
    count = {"n": 0}

    def corrupt(m: Measurement) -> Measurement | None:
        count["n"] += 1
        n = count["n"]
        t = m.ts - start
        if 2 * HOUR <= t < 2 * HOUR + 40 * 60:
            return None  # the bridge sees nothing at all
        if 6 * HOUR <= t < 10 * HOUR:  # frozen room sensor
            if not frozen:
                frozen.append(m.room_c or 18.0)
            return replace(m, room_c=frozen[0])
        if 12 * HOUR <= t < 30 * HOUR:  # no outside temperature for 18 hours
            m = replace(m, outside_c=None)
        if n % 17 == 0:
            return replace(m, room_c=85.0)
        if n % 37 == 0:
            return replace(m, room_c=math.nan)
        if n % 29 == 0:
            return replace(m, outside_c=-60.0)
        return m

    statuses: set[str] = set()
    steps: list[Step] = []
    until = start + 36 * HOUR
    while world.now < until:
        steps += drive(world, service, world.now + HOUR, reading=corrupt)
        statuses.add(service.snapshot.status)
    for s in steps:
        cmd = s.cmd
        assert 5.0 <= s.target <= 30.0  # never below the frost floor
        assert 25.0 <= cmd.max_ch_setpoint <= 85.0  # the boiler's bounds (ID 49)
        assert 0.0 <= cmd.control_setpoint <= cmd.max_ch_setpoint
        assert 0.0 <= cmd.max_modulation <= 100.0
        if cmd.ch_enable:
            assert cmd.control_setpoint >= 25.0
    learner = service.learner
    assert learner.counters["room_rejected"] > 50
    assert learner.counters["outside_rejected"] > 20
    assert learner.counters["frozen"] >= 1
    assert any(s.startswith("fallback") for s in statuses)
    # the room stayed livable: heated in home periods, never cold
    assert min(s.sensor for s in steps) > 13.0
    assert service.snapshot.status == "ready"


# ---------------------------------------------------------------- emitters and tuning


def test_the_emitters_are_learned_from_flow_return_and_heat() -> None:
    profile = get_profile("terraced_1970s")
    e = profile.emitter
    world = SimWorld(profile, seed=3, dhw_taps=False)
    est = EmitterEstimator(e.exponent)
    world.boiler.command(ch_enable=True, dhw_enable=False)
    for k in range(6 * 60):
        # a slowly varying flow setpoint: warm-ups, holds and cool-downs
        world.boiler.command(control_setpoint_c=50.0 + 15.0 * math.sin(k / 40.0))
        world.step(60.0)
        m = _measure(world)
        est.observe(
            m.ts,
            room=world.house.t_air,
            flow=m.flow_c,
            ret=m.return_c,
            heat_w=BOILER.heat_w(m),
            pump=world.boiler.ch_pump,
        )
    fit = est.fit()
    assert fit is not None
    # the loop's heat-capacity rate: pump flow times water's heat capacity
    assert fit.loop_w_per_k == pytest.approx(e.pump_flow_kg_s * 4186.0, rel=0.15)
    # the curve it gives holds the design load near the emitter design (80/60-sized radiators)
    curve = fit.curve(profile.heat_loss_w_per_k * 30.0, 0.0, HeatingCurve())
    assert curve is not None
    assert 60.0 < curve.design_flow < 75.0
    assert curve.design_return < curve.design_flow
    stored = EmitterEstimator.from_dict(json.loads(json.dumps(est.to_dict())), e.exponent)
    assert stored.fit() == fit


def test_the_learned_model_tunes_the_boiler_control() -> None:
    _, state = trained()
    service = restored(state)
    service.refresh(None)
    control = ThermostatControl(service)
    base = control.base_config
    assert base.float_band is not None
    assert base.boost_band is not None
    tuned = service.boiler_config(base, max_kw=24, min_modulation_pct=20)
    h = service.learner.model.heat_loss_w_per_k
    # the low-load threshold: minimum output (24 kW x 20 %) over the learned design load
    assert tuned.min_load_fraction == pytest.approx(4800.0 / (h * 30.0), rel=1e-6)
    assert tuned.low_load_flow_fraction == pytest.approx(4800.0 / (h * 30.0), rel=1e-6)
    # the free heat shifts the curve's balance point
    assert tuned.curve.gains_k == pytest.approx(service.snapshot.tuning.gains_k, abs=0.01)
    assert tuned.curve.gains_k > 0.0
    # nothing learned: the configuration stands
    fresh = LearningService()
    assert fresh.boiler_config(base, max_kw=24, min_modulation_pct=20) == base


# ---------------------------------------------------------------- persistence


async def test_state_round_trips_through_the_database_and_bad_blobs_start_afresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, state = trained()
    clock = VirtualClock()
    db = await Database.open(tmp_path / "t.db", clock)
    a = restored(state)
    b = LearningService()
    try:
        await a.save(db.learning)
        assert await b.load(db.learning)
        assert b.learner.fitted == a.learner.fitted
        assert b.learner.usable_hours() == a.learner.usable_hours()
        assert b.snapshot.ready
        for bad in ({"version": 99}, {"version": STATE_VERSION, "learner": "nonsense"}, [1, 2]):
            await db.learning.put(STATE_NAME, bad)
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="bridge.services.learning"):
                assert not await b.load(db.learning)
            assert len(caplog.records) == 1
            assert b.learner.fitted is None
            assert b.learner.usable_hours() == 0.0
            assert not b.snapshot.ready
    finally:
        await a.close()
        await b.close()
        await db.close()


@contextlib.asynccontextmanager
async def running_bridge(
    data: Path, clock: VirtualClock, world: SimWorld | None = None
) -> AsyncIterator[Bridge]:
    cfg = validate({"data_dir": str(data), "host": "127.0.0.1", "port": 0, "zeroconf": False})
    link = None if world is None else SimLink(world, clock)
    bridge = Bridge(cfg, clock=clock, link=link)
    await bridge.start()
    try:
        yield bridge
    finally:
        stopping = asyncio.create_task(bridge.stop())
        while not stopping.done():
            await clock.advance(1)
        await stopping


async def test_learning_survives_a_bridge_restart(tmp_path: Path) -> None:
    clock = VirtualClock()
    # a house whose boiler has an outside sensor: the learner needs the outside temperature
    world = SimWorld("new_build", seed=2, start=clock.time())
    async with running_bridge(tmp_path, clock, world) as b:
        # two sample periods and a bit. While a sample's model refresh runs on the worker
        # thread the thermostat is not parked on the virtual clock, and a tick passes it
        # by: give the thread real time after each tick, and go on until ten measurements
        # and a filled sample bin (within ten simulated hours)
        for minute in range(600):
            await clock.advance(60)
            await b.thermostat.learning.wait_idle()
            await asyncio.sleep(0.001)
            current = b.thermostat.learning.learner
            if (
                minute >= 25
                and current.counters["measurements"] >= 10
                and current.to_dict()["bins"]["index"]
            ):
                break
        learner = b.thermostat.learning.learner
        measured = learner.counters["measurements"]
        bins = learner.to_dict()["bins"]["index"]
        assert measured >= 10
        assert len(bins) >= 1
    # stopping saved it
    db = await Database.open(tmp_path / DB_FILE, clock)
    try:
        entry = await db.learning.get(STATE_NAME)
    finally:
        await db.close()
    assert entry is not None
    assert entry.value["learner"]["counters"]["measurements"] >= measured
    later = VirtualClock(clock.time() + 60.0)
    world.detach()
    async with running_bridge(tmp_path, later, world) as b2:
        again = b2.thermostat.learning.learner
        assert again.counters["measurements"] >= measured
        assert again.to_dict()["bins"]["index"][: len(bins)] == bins
        # erasing the household's data forgets what was learned
        token = await make_token(b2)
        async with aiohttp.ClientSession() as http:
            status, _ = await call(http, b2, "POST", "/api/v1/erase", token, json={"confirm": True})
        assert status == 200
        assert b2.thermostat.learning.learner.counters["measurements"] <= 1


async def test_a_bridge_restored_before_a_home_period_preheats_and_says_so(
    tmp_path: Path,
) -> None:
    world, state = trained()
    # 05:30 local, an hour before the 06:30 home period: the warm-up has begun
    service = restored(state)
    steps = drive(world, service, world.now + 4.5 * HOUR)
    assert steps[-1].preheat  # and survives the restart
    clock = VirtualClock(world.now)
    db = await Database.open(tmp_path / "vdata" / DB_FILE, clock)
    try:
        await db.learning.put(STATE_NAME, service.to_dict())
    finally:
        await db.close()
    world.detach()
    async with running_bridge(tmp_path / "vdata", clock, world) as b:
        await clock.advance(60)
        view = b.thermostat.thermostat_state()
        assert view["preheating"] is True
        assert view["preheat_start"] is not None
        assert view["program"] == "home"
        assert view["target_temperature"] == 19.5
        assert b.thermostat.schedule_resolution().target == 15.0
        assert b.thermostat.cloud_object()["target_temperature"] == 19.5
        predictions = b.thermostat.predictions()["predictions"]
        assert predictions["preheating"] is True
        assert predictions["optimal_start"] is not None
        assert predictions["learned"] is True
        # the owner turns preheat off: back to the schedule's setback
        await b.thermostat.set_options({"preheat": False})
        await clock.advance(60)
        assert b.thermostat.thermostat_state()["preheating"] is False
        assert b.thermostat.resolution().target == 15.0
        assert (await b.db.settings.get(OPTIONS))["preheat"] is False


# ---------------------------------------------------------------- the API


@pytest.fixture
async def vb(tmp_path: Path) -> AsyncIterator[tuple[Bridge, VirtualClock]]:
    clock = VirtualClock()
    async with running_bridge(tmp_path / "vdata", clock) as b:
        yield b, clock


PREDICTION_KEYS = {
    "learned",
    "confidence",
    "progress",
    "heat_loss_w_per_k",
    "time_constant_h",
    "rmse_1h",
    "rmse_3h",
    "notes",
    "room_forecast",
    "target_temperature",
    "time_to_target_s",
    "optimal_start",
    "preheat_start",
    "preheating",
    "preheat_enabled",
    "balance_offset_k",
    "emitters",
}


async def test_predictions_route_serves_the_learners_outputs(
    vb: tuple[Bridge, VirtualClock],
) -> None:
    b, clock = vb
    token = await make_token(b)
    await clock.advance(11 * 60)
    async with aiohttp.ClientSession() as http:
        status, body = await call(http, b, "GET", "/api/v1/predictions", token)
        assert status == 200
        assert set(body) == {"available", "status", "updated", "predictions"}
        assert body["available"] is True
        assert body["status"] in {"learning", "fallback: outside temperature missing"}
        assert isinstance(body["updated"], float)
        values = body["predictions"]
        assert set(values) == PREDICTION_KEYS
        assert values["learned"] is False
        assert 0 <= values["progress"] < 100
        assert values["heat_loss_w_per_k"] == 200.0  # the default model while learning
        forecast = values["room_forecast"]
        assert forecast["step_s"] == 900.0
        assert len(forecast["room_c"]) == len(forecast["target_c"]) == 24  # 6 h
        assert values["optimal_start"] is None  # not confident yet: no early start
        assert values["preheat_enabled"] is True
        status, body = await call(http, b, "GET", "/api/v1/predictions?x=1", token)
        assert status == 400


async def test_predictions_are_pushed_when_they_change(vb: tuple[Bridge, VirtualClock]) -> None:
    b, clock = vb
    token = await make_token(b)
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            f"http://127.0.0.1:{b.port}/api/v1/ws", headers={"Authorization": f"Bearer {token}"}
        ) as ws,
    ):
        first = json.loads((await ws.receive(timeout=5)).data)
        assert first["type"] == "state"
        updated = first["data"]["predictions"]["updated"]
        advancing = asyncio.create_task(clock.advance(11 * 60))
        carried: list[dict[str, Any]] = []
        try:
            while not carried:
                msg = json.loads((await ws.receive(timeout=10)).data)
                data = msg["data"].get("predictions") if msg["type"] == "changed" else None
                if data is not None and data.get("updated", updated) != updated:
                    carried.append(data)
        finally:
            await advancing
        assert carried[0]["updated"] > updated


async def test_options_turn_preheat_off_and_on(vb: tuple[Bridge, VirtualClock]) -> None:
    b, _ = vb
    token = await make_token(b)
    oauth = await make_token(b, TokenKind.OAUTH_ACCESS)
    async with aiohttp.ClientSession() as http:
        status, body = await call(http, b, "GET", "/api/v1/options", token)
        assert (status, body["preheat"]) == (200, True)
        status, body = await call(http, b, "PUT", "/api/v1/options", token, json={"preheat": False})
        assert (status, body["preheat"]) == (200, False)
        assert b.thermostat.learning.preheat_enabled is False
        assert (await b.db.settings.get(OPTIONS))["preheat"] is False
        _, predictions = await call(http, b, "GET", "/api/v1/predictions", token)
        assert predictions["predictions"]["preheat_enabled"] is False
        for bad in ({"preheat": "yes"}, {}, {"preheat": True, "other": 1}, [True]):
            status, body = await call(http, b, "PUT", "/api/v1/options", token, json=bad)
            assert status == 400, bad
            assert body["error"] == "invalid"
        assert b.thermostat.learning.preheat_enabled is False  # nothing changed
        status, _ = await call(http, b, "PUT", "/api/v1/options", oauth, json={"preheat": True})
        assert status == 403
        status, body = await call(http, b, "PUT", "/api/v1/options", token, json={"preheat": True})
        assert (status, body["preheat"]) == (200, True)
    # the option is read back on a reload
    await b.thermostat.reload()
    assert b.thermostat.options()["preheat"] is True
