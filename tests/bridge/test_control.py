"""Tests of the first control loop: heating curve, boiler controller and relay TPC."""

from __future__ import annotations

from dataclasses import dataclass
import itertools
import math

from hypothesis import given, settings, strategies as st
import pytest

from bridge.core.boiler_config import (
    DEFAULT_DHW_RANGE,
    MODE_HEAT,
    MODE_LOW_LOAD,
    MODE_OFF,
    BoilerBounds,
    BoilerCommand,
    BoilerControlConfig,
)
from bridge.core.control import BoilerController
from bridge.core.curve import HeatingCurve
from bridge.core.relay import RelayCommand, RelayControlConfig, RelayController

# -- helpers ---------------------------------------------------------------------


def runs(trace: list[tuple[float, bool]]) -> list[tuple[bool, float]]:
    """(state, duration) of every complete run of equal states in a trace."""
    changes = [trace[0]]
    changes += [(t, on) for (_, prev), (t, on) in itertools.pairwise(trace) if on != prev]
    return [(a_on, b_t - a_t) for (a_t, a_on), (b_t, _) in itertools.pairwise(changes)][1:]


def starts(trace: list[tuple[float, bool]]) -> int:
    return sum(1 for (_, a), (_, b) in itertools.pairwise(trace) if b and not a)


@dataclass
class Room:
    """A one-node room heated through a water loop, for closed-loop tests.

    C dT/dt = P_emit - H (T - T_out); the emitter gives k (T_flow - T)^1.3;
    the boiler holds the flow at the setpoint with an output between p_min
    and p_max, and stops itself 5 K above the setpoint.
    """

    outside: float
    room: float = 16.0
    flow: float = 16.0
    c: float = 1.5e7
    h: float = 200.0
    c_water: float = 2.0e5
    k_emit: float = 6000.0 / 50.0**1.3
    p_min: float = 1500.0  # 0.25 of the 6 kW design load
    p_max: float = 12000.0

    def step(self, dt: float, ch_enable: bool, setpoint: float) -> None:
        emit = self.k_emit * max(0.0, self.flow - self.room) ** 1.3
        power = 0.0
        if ch_enable and self.flow <= setpoint + 5.0:
            wanted = emit + self.c_water * (setpoint - self.flow) / 300.0
            power = min(max(wanted, self.p_min), self.p_max)
        self.flow += (power - emit) * dt / self.c_water
        self.room += (emit - self.h * (self.room - self.outside)) * dt / self.c


def run_boiler(
    outside: float, hours: float, config: BoilerControlConfig | None = None, dt: float = 30.0
) -> tuple[Room, list[tuple[float, float, BoilerCommand]]]:
    room = Room(outside)
    ctl = BoilerController(config)
    log: list[tuple[float, float, BoilerCommand]] = []
    for k in range(int(hours * 3600 / dt)):
        t = k * dt
        cmd = ctl.step(t, target=20.0, room=round(room.room, 1), outside=outside)
        room.step(dt, cmd.ch_enable, cmd.control_setpoint)
        log.append((t, room.room, cmd))
    return room, log


# -- heating curve -----------------------------------------------------------------


def test_curve_meets_its_design_point() -> None:
    curve = HeatingCurve.radiators()
    assert curve.load(20.0, -10.0) == pytest.approx(1.0)
    assert curve.flow_for(20.0, -10.0) == pytest.approx(70.0)
    assert curve.return_temperature(20.0, 1.0) == pytest.approx(50.0)
    # no load, no lift: the flow is the room target (plus the footpoint shift)
    assert curve.flow_for(20.0, 25.0) == pytest.approx(20.0)
    assert HeatingCurve(footpoint=3.0).flow_for(20.0, 25.0) == pytest.approx(23.0)


def test_curve_falls_as_it_gets_warmer_outside_and_rises_with_the_target() -> None:
    curve = HeatingCurve.radiators()
    flows = [curve.flow_for(20.0, t) for t in range(-20, 21, 5)]
    assert flows == sorted(flows, reverse=True)
    assert curve.flow_for(21.0, 0.0) > curve.flow_for(20.0, 0.0)
    ufh = HeatingCurve.underfloor()
    assert ufh.flow_for(20.0, -10.0) == pytest.approx(35.0)
    assert ufh.flow_for(20.0, 0.0) < curve.flow_for(20.0, 0.0)


def test_curve_inverse_and_return_cap() -> None:
    curve = HeatingCurve(design_flow=80.0, design_return=60.0)
    for load in (0.1, 0.5, 1.0, 1.5):
        assert curve.load_for_flow(20.0, curve.flow(20.0, load)) == pytest.approx(load, abs=1e-6)
    assert curve.load_for_flow(20.0, 19.0) == 0.0
    cap = curve.flow_at_return(20.0, 55.0)
    assert cap is not None
    assert curve.return_temperature(20.0, curve.load_for_flow(20.0, cap)) == pytest.approx(55.0)
    assert 70.0 < cap < 73.0
    assert HeatingCurve.underfloor().flow_at_return(20.0, 55.0) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"design_flow": 40.0, "design_return": 45.0},
        {"design_outside": 25.0},
        {"exponent": 3.0},
        {"footpoint": math.nan},
    ],
)
def test_curve_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - several messages
        HeatingCurve(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_load_fraction": 0.0},
        {"min_on": 0.0},
        {"max_pulse_period": 600.0},
        {"max_modulation": 120.0},
        {"min_flow": 80.0},
        {"ti": 0.0},
        {"default_outside": 99.0},
    ],
)
def test_boiler_config_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - several messages
        BoilerControlConfig(**kwargs)  # type: ignore[arg-type]


def test_bounds_from_opentherm_pairs() -> None:
    bounds = BoilerBounds.from_opentherm(id48=(65, 40), id49=(85, 25))
    assert bounds == BoilerBounds(ch_lower=25.0, ch_upper=85.0, dhw_lower=40.0, dhw_upper=65.0)


# -- boiler controller: fallbacks and bounds ------------------------------------------


def test_missing_outside_temperature_uses_a_default_and_says_so() -> None:
    ctl = BoilerController()
    cmd = ctl.step(0.0, target=20.0, room=20.0, outside=None)
    assert cmd.outside_used == 0.0
    assert "outside temperature unknown: using default 0 °C" in cmd.notes
    nan = BoilerController().step(0.0, target=20.0, room=20.0, outside=math.nan)
    assert nan.outside_used == 0.0
    hot = BoilerController().step(0.0, target=20.0, room=20.0, outside=85.0)
    assert hot.outside_used == 0.0
    assert any("85 °C implausible" in note for note in hot.notes)
    fine = BoilerController().step(0.0, target=20.0, room=20.0, outside=3.0)
    assert fine.outside_used == 3.0
    assert fine.notes == ()


def test_nan_room_heats_on_the_weather_curve() -> None:
    cmd = BoilerController().step(0.0, target=20.0, room=math.nan, outside=-5.0)
    assert cmd.ch_enable
    assert cmd.mode == MODE_HEAT
    assert cmd.control_setpoint == pytest.approx(HeatingCurve().flow_for(20.0, -5.0), abs=0.01)
    assert "room temperature unknown: weather curve only" in cmd.notes


def test_85_degree_room_is_a_broken_sensor_not_a_reason_to_freeze() -> None:
    cmd = BoilerController().step(0.0, target=20.0, room=85.0, outside=-5.0)
    assert cmd.ch_enable
    assert any("85 °C implausible" in note for note in cmd.notes)


def test_warm_room_turns_ch_off() -> None:
    cmd = BoilerController().step(0.0, target=20.0, room=23.0, outside=18.0)
    assert (cmd.ch_enable, cmd.mode, cmd.control_setpoint) == (False, MODE_OFF, 10.0)


def test_frost_protection_heats_a_freezing_room_even_with_a_silly_target() -> None:
    cmd = BoilerController().step(0.0, target=math.nan, room=3.0, outside=45.0)
    assert cmd.ch_enable
    assert cmd.control_setpoint >= BoilerControlConfig().min_flow
    assert any(note.startswith("frost protection") for note in cmd.notes)
    assert any(note.startswith("target unusable") for note in cmd.notes)


def cold_step(bounds: BoilerBounds) -> BoilerCommand:
    return BoilerController().step(0.0, target=22.0, room=15.0, outside=-25.0, bounds=bounds)


def test_setpoint_stays_within_the_boiler_bounds() -> None:
    low = cold_step(BoilerBounds(ch_lower=25, ch_upper=60))
    assert low.max_ch_setpoint == 60.0
    assert low.control_setpoint == 60.0
    high = cold_step(BoilerBounds(ch_lower=80, ch_upper=90))
    assert high.max_ch_setpoint == 80.0  # the configured 75 lifted to the boiler's lower bound
    bad = cold_step(BoilerBounds(ch_lower=70, ch_upper=40))
    assert bad.max_ch_setpoint == 75.0
    assert "boiler CH setpoint bounds (id 49) unusable: ignored" in bad.notes


def test_dhw_setpoint_passes_through_within_id48_bounds() -> None:
    bounds = BoilerBounds(dhw_lower=40, dhw_upper=60)
    ctl = BoilerController()

    def step(now: float, dhw: float | None, enable: bool = True) -> BoilerCommand:
        return ctl.step(
            now,
            target=20.0,
            room=20.0,
            outside=5.0,
            bounds=bounds,
            dhw_setpoint=dhw,
            dhw_enable=enable,
        )

    assert step(0.0, 55.0).dhw_setpoint == 55.0
    assert step(1.0, 75.0).dhw_setpoint == 60.0
    assert step(2.0, 20.0).dhw_setpoint == 40.0
    assert step(3.0, None).dhw_setpoint is None
    off = step(4.0, 50.0, enable=False)
    assert (off.dhw_enable, off.dhw_setpoint) == (False, 50.0)
    nan = step(5.0, math.nan)
    assert nan.dhw_setpoint is None
    assert "DHW setpoint unusable: left unchanged" in nan.notes
    free = ctl.step(6.0, target=20.0, room=20.0, outside=5.0, dhw_setpoint=99.0)
    assert free.dhw_setpoint == DEFAULT_DHW_RANGE[1]


# -- boiler controller: feedback, anti-windup, return cap --------------------------------


def hold_room(
    ctl: BoilerController, room: float, outside: float, hours: float, start: float = 0.0
) -> list[BoilerCommand]:
    return [
        ctl.step(start + k * 60.0, target=20.0, room=room, outside=outside)
        for k in range(int(hours * 60))
    ]


def test_a_stuck_low_room_raises_the_flow_up_to_the_return_cap() -> None:
    curve = HeatingCurve(design_flow=80.0, design_return=60.0)
    config = BoilerControlConfig(curve=curve, max_ch_setpoint=80.0)
    ctl = BoilerController(config)
    cmds = hold_room(ctl, 18.5, 5.0, 24)
    flows = [cmds[i].control_setpoint for i in (0, 60, 6 * 60, 24 * 60 - 1)]
    assert flows == sorted(flows)
    assert flows[-1] > flows[0] + 10.0
    cap = curve.flow_at_return(20.0, 55.0)
    assert cap is not None
    assert flows[-1] == pytest.approx(cap, abs=0.05)  # not 80: the return stays at 55 °C
    # anti-windup: the integrator stopped where the output saturated
    assert 0.0 < ctl.integral < config.integral_limit
    assert ctl.integral == pytest.approx(cap - curve.flow_for(20.0, 5.0) - 4.0 * 1.5, abs=0.2)
    # so the flow comes down at once when the room warms up
    warm = ctl.step(24 * 3600.0, target=20.0, room=21.0, outside=5.0)
    assert warm.control_setpoint < curve.flow_for(20.0, 5.0) + ctl.integral


def test_the_return_cap_gives_way_when_the_weather_needs_more() -> None:
    curve = HeatingCurve(design_flow=80.0, design_return=60.0)
    ctl = BoilerController(BoilerControlConfig(curve=curve, max_ch_setpoint=85.0))
    cmd = ctl.step(0.0, target=20.0, room=20.0, outside=-12.0)
    cap = curve.flow_at_return(20.0, 55.0)
    assert cap is not None
    assert cmd.control_setpoint == pytest.approx(curve.flow_for(20.0, -12.0), abs=0.01)
    assert cmd.control_setpoint > cap


def test_without_a_return_limit_a_stuck_room_reaches_the_max_setpoint() -> None:
    ctl = BoilerController(BoilerControlConfig(return_limit=None))
    cmds = hold_room(ctl, 15.0, 0.0, 24)
    assert cmds[-1].control_setpoint == 75.0
    assert ctl.integral <= BoilerControlConfig().integral_limit


# -- boiler controller: low load -----------------------------------------------------


def test_low_load_runs_long_cycles_at_minimum_modulation() -> None:
    config = BoilerControlConfig()
    ctl = BoilerController(config)
    trace: list[tuple[float, bool]] = []
    for k in range(4 * 120):  # 4 h, 30 s steps, room held at target, 15 °C outside
        t = k * 30.0
        cmd = ctl.step(t, target=20.0, room=20.0, outside=15.0)
        trace.append((t, cmd.ch_enable))
        assert cmd.mode == MODE_LOW_LOAD
        if cmd.ch_enable:
            assert cmd.max_modulation == 0.0
            low_flow = config.curve.flow(20.0, config.min_load_fraction) + config.low_load_margin
            assert cmd.control_setpoint == pytest.approx(low_flow, abs=0.01)
        else:
            assert cmd.control_setpoint == config.off_setpoint
    # load 5/30 of design against a minimum of 0.25: duty 2/3 -> 20 min on, 10 min off
    assert {(on, d) for on, d in runs(trace)} == {(True, 1200.0), (False, 600.0)}
    assert starts([(-30.0, False), *trace]) == 8  # two an hour


def test_a_tiny_load_gives_one_short_burn_an_hour() -> None:
    ctl = BoilerController()
    trace = [
        (k * 30.0, ctl.step(k * 30.0, target=20.0, room=20.0, outside=19.5).ch_enable)
        for k in range(4 * 120)
    ]
    assert {(on, d) for on, d in runs(trace)} == {(True, 300.0), (False, 3300.0)}


# -- boiler controller: closed loop on a first-order room ------------------------------


@pytest.mark.parametrize("outside", [-5.0, 5.0])
def test_closed_loop_holds_the_target(outside: float) -> None:
    _, log = run_boiler(outside, 36)
    settled = [room for t, room, _ in log if t >= 12 * 3600]
    assert min(settled) > 19.5
    assert max(settled) < 20.5
    trace = [(t, cmd.ch_enable) for t, _, cmd in log if t >= 12 * 3600]
    assert starts(trace) <= 1  # a steady load above the minimum: the burner just runs
    # it did warm up from 16 °C
    assert log[0][1] < 16.1


def test_closed_loop_at_low_load_keeps_min_times_and_few_starts() -> None:
    config = BoilerControlConfig()
    _, log = run_boiler(14.0, 36, config)
    trace = [(t, cmd.ch_enable) for t, _, cmd in log]
    for on, duration in runs(trace):
        assert duration >= (config.min_on if on else config.min_off)
    late = [(t, on) for t, on in trace if t >= 12 * 3600]
    assert starts(late) <= 4 * 24
    assert starts(late) >= 6  # it does heat
    settled = [room for t, room, _ in log if t >= 12 * 3600]
    assert min(settled) > 19.5
    assert max(settled) < 20.7
    assert any(cmd.mode == MODE_LOW_LOAD for _, _, cmd in log[-100:])


# -- boiler controller: properties ---------------------------------------------------

ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)
MAYBE_FLOAT = st.one_of(st.none(), ANY_FLOAT)
STEP = st.tuples(
    st.floats(min_value=0.0, max_value=1800.0),  # dt
    ANY_FLOAT,  # target
    MAYBE_FLOAT,  # room
    MAYBE_FLOAT,  # outside
    st.one_of(st.none(), st.floats(min_value=-200, max_value=200), st.just(math.nan)),  # dhw
)
BOUNDS = st.builds(
    BoilerBounds,
    ch_lower=MAYBE_FLOAT,
    ch_upper=MAYBE_FLOAT,
    dhw_lower=MAYBE_FLOAT,
    dhw_upper=MAYBE_FLOAT,
)


def valid_pair(lower: float | None, upper: float | None) -> tuple[float, float] | None:
    if lower is None or upper is None or not (math.isfinite(lower) and math.isfinite(upper)):
        return None
    return (lower, upper) if 0.0 <= lower <= upper <= 100.0 else None


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(STEP, min_size=1, max_size=40), bounds=BOUNDS)
def test_property_boiler_command_is_always_within_bounds(
    steps: list[tuple[float, float, float | None, float | None, float | None]],
    bounds: BoilerBounds,
) -> None:
    config = BoilerControlConfig()
    ctl = BoilerController(config)
    now = 0.0
    last_switch: float | None = None
    on = False
    ch = valid_pair(bounds.ch_lower, bounds.ch_upper)
    dhw = valid_pair(bounds.dhw_lower, bounds.dhw_upper) or DEFAULT_DHW_RANGE
    for dt, target, room, outside, dhw_setpoint in steps:
        now += dt
        cmd = ctl.step(
            now, target=target, room=room, outside=outside, bounds=bounds, dhw_setpoint=dhw_setpoint
        )
        assert math.isfinite(cmd.control_setpoint)
        assert 0.0 <= cmd.control_setpoint <= cmd.max_ch_setpoint <= 100.0
        if ch is not None:
            assert ch[0] <= cmd.max_ch_setpoint <= ch[1]
        if cmd.ch_enable:
            assert cmd.control_setpoint >= min(config.min_flow, cmd.max_ch_setpoint)
        assert 0.0 <= cmd.max_modulation <= 100.0
        if cmd.dhw_setpoint is not None:
            assert dhw[0] <= cmd.dhw_setpoint <= dhw[1]
        if outside is None or not math.isfinite(outside) or abs(outside) > 50:
            assert cmd.outside_used == config.default_outside
            assert any(note.startswith("outside temperature") for note in cmd.notes)
        # minimum on and off times
        if cmd.ch_enable != on:
            if last_switch is not None:
                assert now - last_switch >= (config.min_on if on else config.min_off)
            on, last_switch = cmd.ch_enable, now
        # frost: a valid freezing room gets heat as soon as the burner may start
        frozen = room is not None and math.isfinite(room) and -30 <= room < 5
        may_start = last_switch is None or on or now - last_switch >= config.min_off
        if frozen and may_start:
            assert cmd.ch_enable


# -- closed loop against the project's simulator -------------------------------------


def test_closed_loop_holds_20_in_the_simulated_terraced_1970s_house() -> None:
    sim = pytest.importorskip("bridge.opentherm.sim")
    world = sim.SimWorld(
        "terraced_1970s",
        weather=sim.ConstantWeather(5.0),
        dhw_taps=False,
        initial_room_c=17.0,
    )
    spec = world.boiler.spec
    design_load = world.profile.heat_loss_w_per_k * (20.0 - -10.0)
    config = BoilerControlConfig(
        curve=HeatingCurve(design_flow=80.0, design_return=60.0),  # the house's radiators
        max_ch_setpoint=80.0,
        min_load_fraction=min(0.95, spec.min_w / design_load),
    )
    ctl = BoilerController(config)
    lower, upper = spec.max_ch_setpoint_bounds
    bounds = BoilerBounds(ch_lower=lower, ch_upper=upper)
    rooms: list[tuple[float, float]] = []
    trace: list[tuple[float, bool]] = []
    for k in range(48 * 120):
        t = k * 30.0
        cmd = ctl.step(
            t, target=20.0, room=world.room_sensor_c(), outside=world.outside_c, bounds=bounds
        )
        world.boiler.command(
            ch_enable=cmd.ch_enable,
            control_setpoint_c=cmd.control_setpoint,
            max_modulation_pct=cmd.max_modulation,
            max_ch_setpoint_c=cmd.max_ch_setpoint,
        )
        world.step(30.0)
        rooms.append((t, world.truth().room_c))
        trace.append((t, cmd.ch_enable))
    settled = [room for t, room in rooms if t >= 24 * 3600]
    assert min(settled) >= 19.5
    assert max(settled) <= 20.5
    truth = world.truth()
    assert truth.condensing_burner_hours >= 0.9 * truth.burner_hours
    for on, duration in runs(trace):
        assert duration >= (config.min_on if on else config.min_off)


# -- relay: time-proportional control -----------------------------------------------


@pytest.mark.parametrize(
    ("duty", "on_time"),
    [
        (0.0, 0.0),
        (0.09, 0.0),  # 54 s: below half the 120 s minimum -> nothing
        (0.15, 120.0),  # 90 s -> the minimum
        (0.5, 300.0),
        (0.85, 480.0),  # 90 s off is too short -> the minimum off time
        (0.95, 600.0),  # 30 s off -> on the whole cycle
        (1.0, 600.0),
        (1.7, 600.0),
    ],
)
def test_relay_on_time_rounds_to_the_minimum_times(duty: float, on_time: float) -> None:
    assert RelayController().on_time(duty) == on_time


def test_relay_runs_six_cycles_an_hour() -> None:
    # kp 0.5/K and a negligible integrator: one kelvin short -> 50 % duty
    ctl = RelayController(RelayControlConfig(kp=0.5, ti=1e12))
    trace: list[tuple[float, bool]] = []
    commands: list[RelayCommand] = []
    for k in range(360):  # 1 h in 10 s steps
        cmd = ctl.step(k * 10.0, target=20.0, room=19.0)
        trace.append((k * 10.0, cmd.on))
        commands.append(cmd)
    assert starts([(-10.0, False), *trace]) == 6
    assert {(on, d) for on, d in runs(trace)} == {(True, 300.0), (False, 300.0)}
    assert sorted({c.cycle_start for c in commands}) == [600.0 * i for i in range(6)]
    assert commands[0].duty == 0.5


def test_relay_fallbacks_and_frost() -> None:
    ctl = RelayController()
    cmd = ctl.step(0.0, target=20.0, room=math.nan)
    assert cmd.requested_duty == 0.2
    assert cmd.duty == pytest.approx(0.2)
    assert "room temperature unusable: fixed duty 0.2" in cmd.notes
    frost = RelayController().step(0.0, target=math.nan, room=2.0)
    assert frost.on
    assert frost.duty == 1.0
    assert any(note.startswith("frost protection") for note in frost.notes)
    warm = RelayController().step(0.0, target=20.0, room=22.0)
    assert not warm.on


def test_relay_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="cycle"):
        RelayControlConfig(cycle=200.0)
    with pytest.raises(ValueError, match="failsafe"):
        RelayControlConfig(failsafe_duty=2.0)


@pytest.mark.parametrize("outside", [-5.0, 5.0, 15.0])
def test_relay_closed_loop_holds_the_target(outside: float) -> None:
    config = RelayControlConfig()
    ctl = RelayController(config)
    room, temp, power = Room(outside), 16.0, 0.0
    trace: list[tuple[float, bool]] = []
    temps: list[tuple[float, float]] = []
    for k in range(36 * 360):  # 36 h, 10 s steps
        t = k * 10.0
        cmd = ctl.step(t, target=20.0, room=round(temp, 1))
        power += ((9000.0 if cmd.on else 0.0) - power) * 10.0 / 600.0  # radiators warm up
        temp += (power - room.h * (temp - outside)) * 10.0 / room.c
        trace.append((t, cmd.on))
        temps.append((t, temp))
    settled = [x for t, x in temps if t >= 12 * 3600]
    assert min(settled) > 19.7
    assert max(settled) < 20.3
    for on, duration in runs(trace):
        assert duration >= (config.min_on if on else config.min_off)
    assert starts([(t, on) for t, on in trace if t >= 12 * 3600]) <= 6 * 24


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=900.0), MAYBE_FLOAT, ANY_FLOAT),
        min_size=1,
        max_size=60,
    )
)
def test_property_relay_keeps_min_on_and_off_times(
    steps: list[tuple[float, float | None, float]],
) -> None:
    config = RelayControlConfig()
    ctl = RelayController(config)
    now, on, last_switch = 0.0, False, None
    for dt, room, target in steps:
        now += dt
        cmd = ctl.step(now, target=target, room=room)
        assert 0.0 <= cmd.duty <= 1.0
        if cmd.on != on:
            if last_switch is not None:
                assert now - last_switch >= (config.min_on if on else config.min_off)
            on, last_switch = cmd.on, now
