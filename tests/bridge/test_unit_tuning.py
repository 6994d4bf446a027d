"""The wall unit's PID law and the bridge's PID proposal, on learned houses (pure code)."""

from __future__ import annotations

import math

from hypothesis import given, strategies as st
import pytest

from bridge.learning.emitters import EmitterFit
from bridge.learning.model import ThermalModel
from bridge.unit.pid import DEMAND_MARGIN_K, STOCK_PID, PidLoop
from bridge.unit.protocol import Pid
from bridge.unit.tuning import (
    BAND_K,
    CANDIDATES,
    OVERSHOOT_K,
    Plant,
    loop_figures,
    propose,
    season_figures,
)

# Houses as the learner sees them after four days with a unit on the simulator
# (bench.unit_pid's learning step, rounded): a slow underfloor house on which
# the stock PID overshoots, and a 1970s house with radiators on which it does well.
UNDERFLOOR = Plant(
    model=ThermalModel.from_lumped(
        168.0,
        70.9,
        air_fraction=0.174,
        direct_loss_fraction=0.253,
        coupling=25.1,
        emitter_lag_s=6560.0,
        gains_w=429.0,
        emitter_to_mass=0.261,
    ),
    emitters=EmitterFit(306.0, 1.3, 842.0, 685),
    max_heat_w=24_000.0,
    max_flow_c=45.0,
)
RADIATORS = Plant(
    model=ThermalModel.from_lumped(
        240.0,
        30.0,
        air_fraction=0.08,
        direct_loss_fraction=0.4,
        coupling=8.0,
        emitter_lag_s=1500.0,
        gains_w=400.0,
        emitter_to_mass=0.1,
    ),
    emitters=EmitterFit(95.0, 1.3, 600.0, 1000),
    max_heat_w=24_000.0,
    max_flow_c=75.0,
)


# -- the unit's PID law ------------------------------------------------------------------


def test_the_law_by_hand() -> None:
    loop = PidLoop(Pid(kp=10.0, ti=100.0, td=5.0), max_flow=80.0)
    # e = 2: flow = 20 + 10 * (2 + 0/100 + 0) = 40 (no derivative on the first step)
    assert loop.step(20.0, 18.0, 10.0) == 40.0
    assert loop.heating
    assert loop.integral == 20.0
    # e = 1: flow = 20 + 10 * (1 + 20/100 + 5 * (1 - 2)/10) = 27.0
    assert loop.step(20.0, 19.0, 10.0) == 27.0
    assert loop.integral == 30.0


def test_heating_needs_the_demand_margin() -> None:
    loop = PidLoop(Pid(kp=1.0, ti=0.0, td=0.0), max_flow=80.0)
    # flow = 20 + (20 - 18.1) = 21.9: below 20 + 2, so no heat and no setpoint
    assert loop.step(20.0, 18.1, 10.0) == 0.0
    assert not loop.heating
    # flow = 20 + 2.1 = 22.1: heat
    assert loop.step(20.0, 17.9, 10.0) == pytest.approx(22.1)
    assert loop.heating
    assert DEMAND_MARGIN_K == 2.0


def test_the_integral_stops_while_the_flow_is_clamped() -> None:
    loop = PidLoop(Pid(kp=10.0, ti=100.0, td=0.0), max_flow=50.0)
    # a big error: the flow is clamped at the maximum, the integral does not grow
    assert loop.step(20.0, 10.0, 10.0) == 50.0
    assert loop.integral == 0.0
    # too warm with the flow clamped at 0: it does not wind down either
    loop.step(20.0, 30.0, 10.0)
    assert loop.integral == 0.0
    # a small negative error: it winds down until the flow reaches 0, and stops there
    # (20 + 10 * (-0.5 + I / 100) < 0 once I < -150)
    for _ in range(10_000):
        loop.step(20.0, 20.5, 10.0)
    assert -155.0 <= loop.integral < -150.0
    loop.reset(Pid(kp=5.0, ti=0.0, td=0.0))
    assert (loop.integral, loop.last_error, loop.pid.kp) == (0.0, None, 5.0)
    # no integral at all with ti 0
    loop.step(20.0, 19.0, 10.0)
    assert loop.integral == 0.0


# -- the plant ---------------------------------------------------------------------------------


@given(st.floats(100.0, 20_000.0), st.floats(10.0, 25.0))
def test_flow_for_is_the_inverse_of_heat(heat: float, room: float) -> None:
    plant = Plant(RADIATORS.model, RADIATORS.emitters, max_heat_w=1e9, max_flow_c=100.0)
    flow = plant.flow_for(heat, room)
    assert plant.heat_w(flow, room) == pytest.approx(heat, rel=1e-6)


def test_no_heat_without_flow_and_at_most_the_boiler() -> None:
    assert RADIATORS.heat_w(0.0, 20.0) == 0.0
    assert RADIATORS.heat_w(19.0, 20.0) == 0.0
    assert RADIATORS.flow_for(0.0, 20.0) == 20.0
    small = Plant(RADIATORS.model, RADIATORS.emitters, max_heat_w=1000.0, max_flow_c=75.0)
    assert small.heat_w(75.0, 20.0) == 1000.0
    assert RADIATORS.heat_w(75.0, 20.0) > 5000.0


# -- the day and the proposal ----------------------------------------------------------------


def test_the_stock_pid_overshoots_on_the_slow_underfloor_house() -> None:
    stock = season_figures(UNDERFLOOR, STOCK_PID, target_c=20.0)
    assert stock.overshoot_k > OVERSHOOT_K
    proposal = propose(UNDERFLOOR, STOCK_PID, target_c=20.0)
    assert proposal is not None
    assert proposal.reasons == ("overshoot",)
    assert proposal.current == stock
    assert proposal.pid in CANDIDATES
    assert proposal.pid != STOCK_PID
    assert proposal.proposed.overshoot_k < stock.overshoot_k / 2
    assert proposal.proposed.settled_error_k < stock.settled_error_k
    assert proposal.proposed.score <= 0.8 * stock.score
    # the proposal is the best candidate: no other scores lower
    assert proposal.proposed == season_figures(UNDERFLOOR, proposal.pid, target_c=20.0)
    assert all(
        season_figures(UNDERFLOOR, c, target_c=20.0).score >= proposal.proposed.score
        for c in CANDIDATES[::7]
    )


def test_no_proposal_when_the_own_pid_does_well() -> None:
    stock = season_figures(RADIATORS, STOCK_PID, target_c=20.0)
    assert stock.overshoot_k <= OVERSHOOT_K
    assert propose(RADIATORS, STOCK_PID, target_c=20.0) is None


def test_a_proposal_for_a_slow_own_pid() -> None:
    sluggish = Pid(kp=3.0, ti=10800.0, td=0.0)
    own = season_figures(RADIATORS, sluggish, target_c=20.0)
    proposal = propose(RADIATORS, sluggish, target_c=20.0)
    assert proposal is not None
    assert "slow" in proposal.reasons
    assert own.rise_s is None or proposal.proposed.rise_s is not None
    assert proposal.proposed.score < own.score


def test_the_day_figures() -> None:
    figures = loop_figures(RADIATORS, STOCK_PID, target_c=20.0, outside_c=5.0)
    assert figures.rise_s is not None
    assert figures.rise_s > 0
    assert 0.0 <= figures.settled_error_k <= BAND_K
    assert figures.overshoot_k >= 0.0
    assert math.isfinite(figures.score)
    with pytest.raises(ValueError, match="finite"):
        propose(RADIATORS, STOCK_PID, target_c=math.nan)
