"""The control benchmark: its quick mode as a smoke test, and its scoring on known traces."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench.control import QUICK_HOUSE
from bench.control.__main__ import main
from bench.control.controllers import (
    Curve,
    OnOff,
    OnOffEarly,
    OpenThermPort,
    Ours,
    Readings,
    installer_curve,
)
from bench.control.markdown import TABLES, markdown
from bench.control.oracle import STEP_S, network_of, phi_slope, plan_week, state_of
from bench.control.runner import (
    DAY,
    HOUR,
    START,
    Schedule,
    Trace,
    bench_state,
    comfort_floor,
    house_spec,
    ideal,
    weather_forecast,
)
from bench.control.scoring import CONTROLLER_KEYS, arrivals, controller_metrics, percentile
from bridge.opentherm.sim import (
    BEST_EFFICIENCY,
    BoilerSpec,
    ConstantWeather,
    SimWorld,
    efficiency,
    get_profile,
)


def test_quick_run_writes_exactly_the_documented_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "control.json"
    assert main(["--quick", "--json", str(out), "--jobs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "thermosmart" in printed
    assert "onoff" in printed
    doc = json.loads(out.read_text())
    assert set(doc) == {"houses"}
    assert set(doc["houses"]) == {QUICK_HOUSE}
    house = doc["houses"][QUICK_HOUSE]
    assert set(house) == {"radiators", "controllers", "learning", "oracle", "forecast"}
    assert house["radiators"] is True
    assert set(house["controllers"]) == {
        "thermosmart",
        "onoff",
        "curve",
        "thermosmart_no_preheat",
        "onoff_early",
        "oracle",
        "thermosmart_no_forecast",
    }
    for metrics in house["controllers"].values():
        assert set(metrics) == set(CONTROLLER_KEYS)
        assert metrics["energy_kwh"] > 0.0
        assert metrics["energy_ratio_to_ideal"] > 0.5
        assert metrics["discomfort_kh"] >= 0.0
        assert metrics["overshoot_k_max"] >= 0.0
    learning = house["learning"]
    assert set(learning) == {"1d", "3d", "7d", "14d", "late_p90_minutes_from_3d"}
    assert learning["late_p90_minutes_from_3d"] is None  # two days: nothing learned yet
    for horizon in ("1d", "3d", "7d", "14d"):
        assert learning[horizon] == {"rmse_1h": None, "rmse_3h": None, "late_p90_minutes": None}
    # one house, one weather: the controllers really differ, except ours with and without
    # optimal start, which are the same until something has been learned
    controllers = house["controllers"]
    assert controllers["thermosmart"] == controllers["thermosmart_no_preheat"]
    assert controllers["thermosmart"] == controllers["thermosmart_no_forecast"]
    assert house["forecast"]["gas_ratio_to_no_forecast"] == 1.0
    energies = {m["energy_kwh"] for m in controllers.values()}
    assert len(energies) == 5
    assert "onoff_early -" in printed  # with the lead it was tuned to
    # the oracle keeps the comfort rule, and its replay through the simulator matches the plan
    oracle = controllers["oracle"]
    assert oracle["energy_ratio_to_oracle"] == 1.0
    assert oracle["arrival_late_minutes_p90"] <= 10.0
    assert oracle["discomfort_kh"] <= 0.5
    assert all(
        oracle["discomfort_kh"] < m["discomfort_kh"]
        for m in controllers.values()
        if m is not oracle
    )
    for metrics in controllers.values():
        assert metrics["energy_ratio_to_oracle"] == pytest.approx(
            metrics["energy_kwh"] / oracle["energy_kwh"], abs=1e-3
        )
    plan = house["oracle"]
    assert plan["solver_discomfort_kh"] == 0.0
    assert plan["replayed_gas_kwh"] == oracle["energy_kwh"]
    assert 0.97 < plan["gas_replayed_over_solver"] < 1.03
    assert "oracle plan" in printed
    # the page's tables come from this JSON, one row per house
    tables = markdown(doc).split("\n\n")
    assert len(tables) == len(TABLES)
    ours, plan_row, learning_row, forecast_row = (t.splitlines()[2] for t in tables[:4])
    assert ours.startswith(
        f"| {QUICK_HOUSE} | {controllers['thermosmart']['energy_ratio_to_oracle']:.3f}, "
    )
    assert f"| {plan['lp_gas_kwh']:.1f} | {plan['solver_gas_kwh']:.1f} |" in plan_row
    assert learning_row == f"| {QUICK_HOUSE} | - / -, - | - / -, - | - / -, - | - / -, - | - |"
    assert forecast_row.startswith(f"| {QUICK_HOUSE} | 1.0000 | ")
    assert tables[4].count("\n") == 1  # no variants in quick mode: the header only


def test_percentile_and_arrivals_on_a_known_trace() -> None:
    assert percentile([], 0.9) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([0.0, 10.0], 0.9) == pytest.approx(9.0)
    trace = Trace()
    # 15 °C setback until t=100 min, then a 20 °C home period; the room crosses 19.7 at 130 min
    for minute in range(300):
        trace.t.append(START + minute * 60.0)
        home = minute >= 100
        trace.target.append(20.0 if home else 15.0)
        trace.occupied.append(1 if home else 0)
        trace.air.append(15.0 + max(0.0, minute - 70) * 0.08)
    late = arrivals(trace, START, START + 300 * 60.0)
    assert late == [pytest.approx(130.0 - 100.0, abs=1.0)]
    strict = arrivals(trace, START, START + 300 * 60.0, band=0.1)
    assert strict[0] > late[0]


def test_the_ideal_heater_follows_the_schedule_exactly_and_bounds_the_gas() -> None:
    best = ideal(QUICK_HOUSE, seed=1, days=2.0)
    heat = best.heat_kwh(START, START + 2 * DAY)
    profile = get_profile(QUICK_HOUSE)
    # at most the house's whole heat loss at 20 °C and -10 °C outside, at least something
    assert 20.0 < heat < profile.heat_loss_w_per_k * 30.0 * 48.0 / 1000.0
    schedule = Schedule(bench_state())
    # setback hours need less than home hours
    night = best.mean_w(START + 3 * HOUR)  # 04:00 local, 15 °C
    evening = best.mean_w(START + DAY + 18 * HOUR)  # Friday 19:00 local, 19.5 °C
    assert schedule.at(START + 3 * HOUR).target == 15.0
    assert schedule.at(START + DAY + 18 * HOUR).target == 19.5
    assert evening > night
    # a controller's gas over the ideal is the ratio the benchmark reports
    trace = Trace()
    for k, kwh in enumerate((0.0, heat / BEST_EFFICIENCY * 1.2)):
        trace.t.append(START + k * 2 * DAY)
        trace.gas_ch_kwh.append(kwh)
        for arr in (trace.air, trace.target, trace.outside, trace.burner_s):
            arr.append(0.0)
        trace.dhw_burner_s.append(0.0)
        trace.condensing_s.append(0.0)
        trace.occupied.append(0)
        trace.ch_starts.append(0)
    metrics = controller_metrics(trace, best, START, START + 2 * DAY + 1.0, boiler_min_w=4800.0)
    assert metrics["energy_ratio_to_ideal"] == pytest.approx(1.2, rel=1e-3)


def test_baselines_talk_opentherm_to_the_simulated_boiler() -> None:
    profile = get_profile("terraced_1970s")
    world = SimWorld(profile, seed=1)
    port = OpenThermPort(world, pushed_outside=True)
    assert (port.max_kw, port.min_modulation_pct) == (24.0, 20.0)
    assert port.bounds.ch_upper == 85.0
    state = bench_state()
    res = Schedule(state).at(world.now)
    onoff = OnOff()
    cmd = onoff.step(world.now, 0.0, state, res, port.read())
    port.write(cmd)
    world.step(600.0)
    r = port.read()
    assert cmd.setpoint_c == 70.0
    assert r.flame_on == world.boiler.flame
    assert r.flow_c == pytest.approx(world.boiler.t_flow, abs=1 / 256)
    # the installer's curve is the emitters' design point: 80/60-sized radiators run cooler
    curve = installer_curve(profile)
    assert 55.0 < curve.design_flow < 75.0
    assert curve.gains_k > 0.0
    fixed = Curve(profile).step(world.now, 0.0, state, res, r)
    assert fixed.ch_enable
    assert fixed.setpoint_c == pytest.approx(
        curve.flow_for(res.target, r.outside_c or 0.0), abs=0.01
    )


@pytest.mark.parametrize("house", ["old_draughty", "underfloor"])
def test_ours_may_use_the_house_s_highest_flow_as_the_oracle_may(house: str) -> None:
    profile = get_profile(house)
    world = SimWorld(profile, seed=1)
    port = OpenThermPort(world, pushed_outside=True)
    ours = Ours(port, underfloor=profile.emitter.kind == "underfloor")
    assert ours.control.base_config.max_ch_setpoint == profile.max_flow_c
    state = bench_state()
    cmd = ours.step(world.now, 0.0, state, Schedule(state).at(world.now), port.read())
    assert cmd.max_ch_setpoint_c == profile.max_flow_c
    assert cmd.setpoint_c <= profile.max_flow_c


def test_the_early_on_off_thermostat_moves_only_the_rises_earlier() -> None:
    state = bench_state()
    schedule = Schedule(state)
    early, plain = OnOffEarly(HOUR), OnOff()

    def heating(controller: OnOff, ts: float, room: float) -> bool:
        readings = Readings(
            ts=ts,
            room_c=room,
            outside_c=5.0,
            flow_c=None,
            return_c=None,
            modulation_pct=None,
            flame_on=False,
            dhw_active=False,
            ch_active=False,
        )
        return controller.step(ts, ts, state, schedule.at(ts), readings).ch_enable

    # Thursday 05:45 in Amsterdam: away (15 °C) until comfort (21 °C) at 06:30
    before = START + 4.75 * HOUR
    assert schedule.at(before).target == 15.0
    assert schedule.at(before + HOUR).target == 21.0
    assert heating(early, before, 17.0) is True  # the comfort period an hour early
    assert heating(plain, before, 17.0) is False
    # 08:00, half an hour before comfort ends at 08:30: no early drop to the setback
    end = START + 7.0 * HOUR
    assert schedule.at(end + HOUR).target == 15.0
    assert heating(early, end, 20.0) is True
    assert heating(early, end, 21.5) is False
    with pytest.raises(ValueError, match="lead"):
        OnOffEarly(-1.0)


def test_the_oracle_plans_on_the_convex_hull_of_the_efficiency_curve() -> None:
    slopes = [phi_slope(r) for r in range(10, 100, 5)]
    # gas per heat rises with the return temperature, ever more steeply: a convex hull
    assert all(s > 0.0 for s in slopes)
    assert slopes == sorted(slopes)
    # below the hull's corners it never asks more than the curve: a lower bound of it
    assert phi_slope(70.0) < (1 / efficiency(55.0) - 1 / efficiency(50.0)) / 5.0


def test_the_oracle_plan_keeps_the_comfort_rule_within_the_boiler_limits() -> None:
    profile = get_profile(QUICK_HOUSE)
    spec = BoilerSpec()
    steps = round(12 * HOUR / STEP_S)
    # a cold day: 21 °C wanted from hour 6 on, a 15 °C house with cold fabric at the start
    plan = plan_week(
        profile,
        spec,
        ConstantWeather(-5.0),
        x0=(15.0, 12.0, 15.0),
        begin=START,
        steps=steps,
        lower_at=lambda ts: 20.7 if ts >= START + 6 * HOUR else None,
        hot_water=lambda ts: False,
        utc_offset_h=1.0,
    )
    assert len(plan.q_w) == steps
    assert plan.q_w.min() >= 0.0
    assert plan.q_w.max() <= spec.max_w
    # the house model the plan was made in is warm on time and stays so
    occupied = plan.air[round(6 * HOUR / STEP_S) :]
    assert occupied.min() >= 20.7 - 1e-6
    # warm from the period's start: the heating starts before it
    assert plan.q_w[: round(6 * HOUR / STEP_S)].sum() > 0.0
    figures = plan.figures(START, START + 12 * HOUR)
    assert figures["solver_discomfort_kh"] == 0.0
    gas = figures["solver_gas_kwh"]
    assert gas is not None
    assert gas > 0.0
    assert plan.heat_until(START + 12 * HOUR) == pytest.approx(plan.q_w.sum() * STEP_S)


def test_the_setback_oracle_also_keeps_the_band_below_the_away_target_and_pays_for_it() -> None:
    schedule = Schedule(bench_state())
    noon = START + 12 * HOUR  # Thursday 1 January 2026, 13:00 local: away (15 °C)
    assert schedule.at(noon).program == "not_home"
    assert comfort_floor(schedule)(noon) is None
    assert comfort_floor(schedule, setback=True)(noon) == pytest.approx(14.7)
    evening = START + 17 * HOUR  # 18:00 local: home (19.5 °C)
    assert comfort_floor(schedule)(evening) == comfort_floor(schedule, setback=True)(evening)
    profile = get_profile(QUICK_HOUSE)
    steps = round(12 * HOUR / STEP_S)
    comfort = START + 5.5 * HOUR  # 06:30 local: comfort (21 °C) until 08:30, away again after
    assert schedule.at(comfort).program == "comfort"

    def plan(setback: bool) -> tuple[float, float]:
        p = plan_week(
            profile,
            BoilerSpec(),
            ConstantWeather(-5.0),
            x0=(15.0, 12.0, 15.0),
            begin=START,
            steps=steps,
            lower_at=comfort_floor(schedule, setback=setback),  # the setback oracle's floor
            hot_water=lambda ts: False,
            utc_offset_h=1.0,
        )
        gas = p.figures(START, START + 12 * HOUR)["solver_gas_kwh"]
        assert gas is not None
        # from the first hour on: the emitters need time to reach a house that starts cold
        away = p.air[round(HOUR / STEP_S) : round((comfort - START) / STEP_S)]
        return gas, float(away.min())

    free_gas, free_low = plan(setback=False)
    held_gas, held_low = plan(setback=True)
    assert free_low < 14.7 - 0.1  # left alone, the cold house floats below the setback
    assert held_low >= 14.7 - 1e-6
    assert held_gas > free_gas


def test_a_house_from_outside_the_project_runs_through_the_house_protocol() -> None:
    spec = house_spec("bench.control.five_node:five_node")
    assert spec.name == "five_node_1990s"
    world = SimWorld(spec, seed=1)
    house = world.house
    stored = house.stored_heat_j()
    world.boiler.command(ch_enable=True, control_setpoint_c=60.0)
    world.step(6 * HOUR)
    # its energy book closes: the loop's heat and the gains are stored or lost
    gained = (
        world.boiler.heat_to_loop_j + house.solar_gain_j + house.internal_gain_j - house.heat_loss_j
    )
    assert house.stored_heat_j() - stored == pytest.approx(gained, rel=1e-6)
    assert house.t_air > 19.3  # six hours of heating warmed it from 19 °C
    # the oracle reads its heat network and state through the same protocol
    net = network_of(spec)
    assert net is not None
    assert len(net.capacity_j_per_k) == len(state_of(house)) == 5
    assert state_of(house)[net.air] == house.t_air


def test_a_house_module_that_is_not_one_says_what_is_wrong(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(ValueError, match="MODULE:FACTORY"):
        house_spec("bench.control.five_node:")
    with pytest.raises(ValueError, match="cannot import"):
        house_spec("bench.control.no_such_house:five_node")
    with pytest.raises(ValueError, match="no factory 'nothing'"):
        house_spec("bench.control.five_node:nothing")
    with pytest.raises(ValueError, match=r"lacks name, emitter, .*make_house"):
        house_spec("builtins:dict")  # a factory, but of no house
    with pytest.raises(SystemExit):
        main(["--house-module", "bench.control.five_node:nothing"])
    assert "no factory 'nothing'" in capsys.readouterr().err


def test_the_weather_forecast_errs_more_the_further_ahead() -> None:
    issue = weather_forecast(ConstantWeather(4.0), seed=1)
    errors: dict[int, list[float]] = {0: [], 6: [], 24: []}
    for k in range(300):
        forecast = issue(START + k * HOUR + 60.0)
        assert forecast.ts[0] == START + k * HOUR  # issued on the hour
        for lead, values in errors.items():
            values.append(forecast.at(START + (k + lead) * HOUR) - 4.0)
    sd = {lead: math.sqrt(sum(e * e for e in v) / len(v)) for lead, v in errors.items()}
    assert sd[0] == 0.0
    assert 0.8 < sd[6] < 1.2  # about 1 K six hours ahead
    assert 1.6 < sd[24] < 2.4  # twice that a day ahead
    assert issue(START + 60.0) == issue(START + 120.0)  # the same issue within the hour
