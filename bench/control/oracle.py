"""The oracle: the least gas that keeps the comfort rule, with perfect knowledge, and its replay.

The oracle knows the simulated house (its three nodes and emitters), the
boiler (output range, flow temperature bound, efficiency against the return
temperature) and the weather and internal gains over the whole scored week.
:func:`plan_week` finds the boiler heat per :data:`STEP_S` step that
minimises gas subject to

* the house's heat balance (air, fabric, emitters; the emitter law
  ``k * dT ** n`` linearised around the previous iterate);
* the comfort rule: the room air within :data:`~bench.control.scoring.COMFORT_BAND_K`
  of the target (less :data:`MARGIN_K`) at every step of every home and comfort
  period, from its start;
* the boiler: heat between 0 and its maximum output (below the minimum output
  the burner cycles: the plan's heat is a step's mean), the flow temperature
  (emitter body plus heat over the loop conductance) at most the house's max
  CH setpoint;
* gas = heat / efficiency(return temperature), the efficiency curve of the
  simulated boiler linearised around the previous iterate (slope from its
  lower convex hull, so the plan sees the gain of a lower return).

It is a sequential linear programme solved with HiGHS (``highspy``, the
``bench`` extra): each iterate is run through the nonlinear house model
(the simulator's own :class:`~bridge.opentherm.sim.House` step) to find the
next linearisation point and to score it; the plan kept is the one with the
least gas among those that keep the comfort rule in that model (the fewest
kelvin-hours short otherwise).

:class:`OracleController` replays the plan through the same simulator as
every other controller: OpenTherm max modulation (ID 14) and CH enable set
so that the heat into the loop tracks the plan's cumulative heat (hot-water
taps, which the plan does not know, are caught up after), at minimum output
in long cycles where the plan asks for less than it. Before the scored week
it is the plain on/off thermostat, so the house it starts from is an
ordinary one.
"""

from __future__ import annotations

from dataclasses import dataclass
import itertools
import math
import time
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import highspy
import numpy as np

from bridge.opentherm.sim import PHYSICS_STEP_S, House, HouseProfile, TapSchedule, efficiency
from bridge.opentherm.sim.boiler_spec import EFFICIENCY_CURVE

from .controllers import Command, OnOff

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from numpy.typing import NDArray

    from bridge.core.state import Resolution, ThermostatState
    from bridge.opentherm.sim import (
        BoilerSpec,
        EmitterSpec,
        HouseModel,
        HouseSpec,
        SimWorld,
    )
    from bridge.opentherm.sim.weather import WeatherSource

    from .controllers import Readings

STEP_S = 600.0
"""The plan's step, s: the boiler's heat is constant within one."""
SUB_S = 60.0
"""The linear model's inner (backward Euler) step, s; also the weather's."""
MARGIN_K = 0.1
"""The plan keeps the air this much above the comfort band's lower edge (the replay's ripple)."""
FLOW_MARGIN_K = 1.0
"""The plan keeps the flow this much below the max CH setpoint (the boiler's own control)."""
ITERATIONS = 10
WARMUP_LOADS = 3.0
"""The emitters' first linearisation point, in mean loads of the planned days."""
SHORTFALL_KWH_PER_KH = 50.0
"""What the plan pays per kelvin-hour below the comfort band (when the house cannot keep it)."""
MIN_DT_K = 1.0
"""Linearise the emitter law no closer to zero body-room difference than this."""
HOLD_TAU_S = 600.0
"""The replay pays back a heat deficit over this time."""
ROOM_GAIN_W_PER_K = 20_000.0
"""Extra heat per kelvin the room air is behind the plan's (what the plan's model missed)."""
LEAD_S = 120.0
"""The replay runs this far ahead of the plan: ignition and the heat exchanger's lag."""
CYCLE_S = 300.0
"""Below minimum output the replay fires when this long at minimum output is owed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RcNetwork:
    """A house as heat capacities and conductances: what the oracle's linear programme models.

    Nodes are numbered from 0. The emitter law ``k * (body - air) ** n``
    (the house's :class:`~bridge.opentherm.sim.EmitterSpec`) links the
    ``emitter`` node to the ``air`` node; its radiant share goes to
    ``radiant_to`` instead. The sun (``solar_aperture_m2`` times the
    irradiance) and the household's free heat are shared out over the nodes.
    """

    capacity_j_per_k: tuple[float, ...]
    links_w_per_k: tuple[tuple[int, int, float], ...]
    """``(node, node, conductance)`` between nodes."""
    to_outside_w_per_k: tuple[float, ...]
    solar_share: tuple[float, ...]
    internal_share: tuple[float, ...]
    solar_aperture_m2: float
    air: int
    emitter: int
    radiant_to: int


@runtime_checkable
class NetworkHouse(Protocol):
    """A house spec that can tell the oracle its :class:`RcNetwork`."""

    def network(self) -> RcNetwork:
        """The house's heat network."""
        ...


@runtime_checkable
class StateHouse(Protocol):
    """A house state the oracle can read and set, node by node (the network's order)."""

    def state(self) -> tuple[float, ...]:
        """Every node's temperature, °C."""
        ...

    def set_state(self, state: Sequence[float]) -> None:
        """Set every node's temperature."""
        ...


def network_of(spec: HouseSpec) -> RcNetwork | None:
    """The heat network of a house (None when it tells none: no oracle for it)."""
    if isinstance(spec, HouseProfile):
        sol_air = spec.solar_to_air_fraction
        int_air = spec.internal_to_air_fraction
        return RcNetwork(  # air, fabric, emitters: the nodes of bridge.opentherm.sim.House
            capacity_j_per_k=(
                spec.c_air_j_per_k,
                spec.c_mass_j_per_k,
                spec.emitter.capacity_j_per_k,
            ),
            links_w_per_k=((0, 1, spec.h_air_mass_w_per_k),),
            to_outside_w_per_k=(spec.h_air_out_w_per_k, spec.h_mass_out_w_per_k, 0.0),
            solar_share=(sol_air, 1.0 - sol_air, 0.0),
            internal_share=(int_air, 1.0 - int_air, 0.0),
            solar_aperture_m2=spec.solar_aperture_m2,
            air=0,
            emitter=2,
            radiant_to=1,
        )
    if isinstance(spec, NetworkHouse):
        return spec.network()
    return None


def state_of(house: HouseModel) -> tuple[float, ...]:
    """Every node's temperature (the network's order)."""
    if isinstance(house, House):
        return (house.t_air, house.t_mass, house.t_emitter)
    if isinstance(house, StateHouse):
        return house.state()
    raise TypeError("the oracle needs a house whose state it can read (state(), set_state())")


def set_state(house: HouseModel, state: Sequence[float]) -> None:
    """Set every node's temperature (the network's order)."""
    if isinstance(house, House):
        house.t_air, house.t_mass, house.t_emitter = state
    elif isinstance(house, StateHouse):
        house.set_state(state)
    else:
        raise TypeError("the oracle needs a house whose state it can set (state(), set_state())")


@dataclass(frozen=True, slots=True)
class Exogenous:
    """What the house gets besides the boiler's heat, per plan step (means)."""

    outside_c: NDArray[np.float64]
    solar_w_m2: NDArray[np.float64]
    internal_w: NDArray[np.float64]
    free: NDArray[np.float64]
    """Share of the step the boiler is free for heating (not heating hot water)."""


def exogenous(
    profile: HouseSpec,
    *,
    weather: WeatherSource,
    hot_water: Callable[[float], bool],
    begin: float,
    steps: int,
    utc_offset_h: float,
) -> tuple[Exogenous, list[tuple[float, float, float, float]]]:
    """Step means of weather, gains and the boiler's time free for heating; and per minute."""
    per = round(STEP_S / SUB_S)
    inner = round(SUB_S / PHYSICS_STEP_S)
    minutes: list[tuple[float, float, float, float]] = []
    gains = profile.internal_gains_w
    for i in range(steps * per):
        t = begin + i * SUB_S
        out, sol = weather.sample(t + SUB_S / 2)
        hour = int((t + utc_offset_h * 3600.0) // 3600.0) % 24
        busy = sum(hot_water(t + j * PHYSICS_STEP_S) for j in range(inner)) / inner
        minutes.append((out, sol, gains[hour], 1.0 - busy))
    arr = np.array(minutes, dtype=np.float64).reshape(steps, per, 4).mean(axis=1)
    return (
        Exogenous(arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy(), arr[:, 3].copy()),
        minutes,
    )


def _phi_hull() -> list[tuple[float, float]]:
    """The lower convex hull of gas per heat (1 / efficiency) against the return temperature."""
    pts = [(r, 1.0 / eta) for r, eta in EFFICIENCY_CURVE]
    hull: list[tuple[float, float]] = []
    for p in pts:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (y2 - y1) * (p[0] - x1) >= (p[1] - y1) * (x2 - x1):
                hull.pop()  # hull[-1] lies on or above the chord
            else:
                break
        hull.append(p)
    return hull


_HULL = _phi_hull()


def phi_slope(return_c: float) -> float:
    """The slope of the hull of 1/efficiency at ``return_c`` (per K)."""
    for (x0, y0), (x1, y1) in itertools.pairwise(_HULL):
        if return_c <= x1:
            return (y1 - y0) / (x1 - x0)
    (x0, y0), (x1, y1) = _HULL[-2], _HULL[-1]
    return (y1 - y0) / (x1 - x0)


@dataclass(frozen=True, slots=True)
class ModelRun:
    """A heat plan run through the nonlinear house model."""

    air: NDArray[np.float64]
    """Air at each step boundary (steps + 1)."""
    body_minus_air: NDArray[np.float64]
    """Mean emitter body minus air per step."""
    return_c: NDArray[np.float64]
    """Mean return temperature per step while heating."""
    gas_kwh: NDArray[np.float64]
    """Gas per step, kWh."""
    shortfall_kh: float
    """Kelvin-hours of the air below the comfort band's lower edge at step boundaries."""
    min_margin_k: float
    """Least (air - the comfort band's lower edge) at the boundaries in occupied periods."""

    @property
    def total_gas_kwh(self) -> float:
        """Gas over the whole plan, kWh."""
        return float(self.gas_kwh.sum())


def run_model(
    spec: HouseSpec,
    x0: Sequence[float],
    q_w: NDArray[np.float64],
    minutes: Sequence[tuple[float, float, float, float]],
    lower: NDArray[np.float64],
) -> ModelRun:
    """The plan ``q_w`` through the house's own step (10 s), with the loop in steady state.

    A step's heat goes in while the boiler is free of hot water (see :func:`exogenous`).
    """
    e = spec.emitter
    g = e.loop_conductance_w_per_k
    house = spec.make_house(t_air=x0[0], t_outside=minutes[0][0])
    set_state(house, x0)
    per = round(STEP_S / SUB_S)
    inner = round(SUB_S / PHYSICS_STEP_S)
    steps = len(q_w)
    air = np.empty(steps + 1)
    d = np.empty(steps)
    ret = np.empty(steps)
    air[0] = house.t_air
    gas_j = np.zeros(steps)
    for k in range(steps):
        chunk = minutes[k * per : (k + 1) * per]
        free = sum(m[3] for m in chunk) / per
        q_on = float(q_w[k]) / free if free > 0.0 else 0.0
        d_sum = r_sum = 0.0
        for out, sol, gains, free_min in chunk:
            q = q_on * free_min  # that minute's mean
            for _ in range(inner):
                body = house.t_emitter
                r = body + (1.0 - e.effectiveness) * q / g
                gas_j[k] += q * PHYSICS_STEP_S / efficiency(r)
                house.step(PHYSICS_STEP_S, q, out, sol, gains)
            d_sum += house.t_emitter - house.t_air
            r_sum += r
        air[k + 1] = house.t_air
        d[k] = d_sum / per
        ret[k] = r_sum / per
    finite = np.isfinite(lower)
    short = np.where(finite, np.maximum(0.0, lower - air), 0.0)
    margins = (air - lower)[finite]
    return ModelRun(
        air=air,
        body_minus_air=d,
        return_c=ret,
        gas_kwh=gas_j / 3.6e6,
        shortfall_kh=float(short.sum() * STEP_S / 3600.0),
        min_margin_k=float(margins.min()) if margins.size else math.inf,
    )


@dataclass(frozen=True, slots=True)
class OraclePlan:
    """The plan the oracle replays, and the solver's own figures."""

    begin: float
    q_w: NDArray[np.float64]
    """Mean heat into the emitters per :data:`STEP_S` step, W."""
    air: NDArray[np.float64]
    """The room air the plan expects at each step boundary (the nonlinear house model)."""
    lower: NDArray[np.float64]
    """The comfort band's lower edge at each step boundary (NaN outside home and comfort)."""
    model_gas_kwh: NDArray[np.float64]
    """Gas per step in the nonlinear house model (efficiency at the model's return), kWh."""
    lp_gas_kwh: NDArray[np.float64]
    """Gas per step in the linear programme's own model, kWh."""
    iterations: int
    solve_s: float

    def figures(self, begin: float, end: float) -> dict[str, float | int | None]:
        """The solver's own figures over ``[begin, end)`` (the steps that start in it)."""
        a = max(0, math.ceil((begin - self.begin) / STEP_S - 1e-9))
        b = min(len(self.q_w), math.ceil((end - self.begin) / STEP_S - 1e-9))
        lower, air = self.lower[a : b + 1], self.air[a : b + 1]
        occupied = np.isfinite(lower)
        short = np.where(occupied, np.maximum(0.0, lower - air), 0.0)
        margins = (air - lower)[occupied]
        return {
            "solver_gas_kwh": round(float(self.model_gas_kwh[a:b].sum()), 2),
            "lp_gas_kwh": round(float(self.lp_gas_kwh[a:b].sum()), 2),
            "solver_discomfort_kh": round(float(short.sum()) * STEP_S / 3600.0, 3),
            "solver_min_margin_k": round(float(margins.min()), 3) if margins.size else None,
            "iterations": self.iterations,
            "solve_s": round(self.solve_s, 1),
            "step_s": STEP_S,
        }

    def heat_until(self, ts: float) -> float:
        """The plan's cumulative heat from its start to ``ts``, J."""
        k = (ts - self.begin) / STEP_S
        if k <= 0.0:
            return 0.0
        whole = min(int(k), len(self.q_w))
        done = float(self.q_w[:whole].sum()) * STEP_S
        if whole < len(self.q_w):
            done += float(self.q_w[whole]) * (k - whole) * STEP_S
        return done

    def air_at(self, ts: float) -> float:
        """The room air the plan expects at ``ts`` (linear between step boundaries)."""
        k = (ts - self.begin) / STEP_S
        i = min(max(0, math.floor(k)), len(self.air) - 2)
        f = min(1.0, max(0.0, k - i))
        return float(self.air[i] * (1.0 - f) + self.air[i + 1] * f)

    def power_at(self, ts: float) -> float:
        """The plan's heat at ``ts``, W (0 outside the plan)."""
        k = math.floor((ts - self.begin) / STEP_S)
        return float(self.q_w[k]) if 0 <= k < len(self.q_w) else 0.0


def _discretise(
    net: RcNetwork, emitter: EmitterSpec, beta: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(M, S) of one plan step with the emitter law ``beta * (body - air)``.

    ``x[k+1] = M x[k] + S u`` for a constant input ``u`` (K/s per node) over
    the step, from backward Euler at :data:`SUB_S`.
    """
    c = np.array(net.capacity_j_per_k)
    n = len(c)
    a = np.zeros((n, n))
    for i, j, cond in net.links_w_per_k:
        a[i, i] -= cond
        a[i, j] += cond
        a[j, j] -= cond
        a[j, i] += cond
    a[np.arange(n), np.arange(n)] -= np.array(net.to_outside_w_per_k)
    rho = emitter.radiant_fraction
    air, body, radiant = net.air, net.emitter, net.radiant_to
    # the emitters' output beta * (body - air): the convective share to the air, the rest
    # to the node the radiant share warms, all of it from the body
    for node, share in ((air, 1.0 - rho), (radiant, rho)):
        a[node, body] += share * beta
        a[node, air] -= share * beta
    a[body, body] -= beta
    a[body, air] += beta
    a /= c[:, None]
    m = round(STEP_S / SUB_S)
    p = np.linalg.inv(np.eye(n) - SUB_S * a)
    big_m = np.eye(n)
    s = np.zeros((n, n))
    for _ in range(m):
        big_m = p @ big_m
        s += big_m
    return big_m, s * SUB_S


def plan_week(
    house: HouseSpec,
    spec: BoilerSpec,
    weather: WeatherSource,
    *,
    x0: Sequence[float],
    begin: float,
    steps: int,
    lower_at: Callable[[float], float | None],
    hot_water: Callable[[float], bool],
    utc_offset_h: float,
) -> OraclePlan:
    """The least-gas plan over ``steps`` plan steps from ``begin`` (see the module docstring).

    ``x0``: the house's state (:func:`state_of`) at ``begin``; ``lower_at(ts)``:
    the comfort band's lower edge (target - band) at ``ts`` in a home or
    comfort period, None outside them; ``hot_water(ts)``: whether the boiler
    heats hot water then (no heating meanwhile). ValueError for a house
    without an :class:`RcNetwork`.
    """
    began = time.perf_counter()
    net = network_of(house)
    if net is None:
        raise ValueError(f"house {house.name!r} has no heat network for the oracle")
    e = house.emitter
    ex, minutes = exogenous(
        house,
        weather=weather,
        hot_water=hot_water,
        begin=begin,
        steps=steps,
        utc_offset_h=utc_offset_h,
    )
    lower = np.array(
        [math.nan if (v := lower_at(begin + k * STEP_S)) is None else v for k in range(steps + 1)]
    )
    g = e.loop_conductance_w_per_k
    leak = (1.0 - e.effectiveness) / g  # return above body per W
    sol = net.solar_aperture_m2 * ex.solar_w_m2
    # the exogenous heat per node (K/s): outside, sun, household
    w = (
        np.outer(ex.outside_c, net.to_outside_w_per_k)
        + np.outer(sol, net.solar_share)
        + np.outer(ex.internal_w, net.internal_share)
    ) / np.array(net.capacity_j_per_k)

    # the first linearisation point: the emitters warming up (three times the week's mean
    # load); the iterates that start from it end lower than those from the mean load itself
    load = WARMUP_LOADS * max(0.0, house.heat_loss_w_per_k * (18.0 - float(ex.outside_c.mean())))
    d0 = np.full(steps, max(MIN_DT_K, (load / e.coefficient_w) ** (1.0 / e.exponent)))
    r0 = np.full(steps, 40.0)
    q0 = np.zeros(steps)
    best: tuple[tuple[float, float], NDArray[np.float64], ModelRun, NDArray[np.float64]] | None = (
        None
    )
    done = 0
    for _ in range(ITERATIONS):
        q, lp_gas = _solve(
            net,
            e,
            x0=x0,
            d0=d0,
            r0=r0,
            q0=q0,
            w=w,
            lower=lower,
            flow_max=house.max_flow_c - FLOW_MARGIN_K,
            q_max=spec.max_w,
            free=ex.free,
        )
        done += 1
        run = run_model(house, x0, q, minutes, lower)
        key = (round(run.shortfall_kh, 3), run.total_gas_kwh)
        if best is None or key < best[0]:
            best = (key, q, run, lp_gas)
        d0 = 0.5 * (d0 + np.maximum(MIN_DT_K, run.body_minus_air))  # damped: no flip-flop
        # steps without heat are expanded around the plan's typical heat, so that heating
        # there is not taken for heating at a cold return
        on = q[q > 1.0]
        q_ref = float(np.median(on)) if on.size else spec.min_w
        q0 = np.maximum(q, q_ref)
        r0 = run.return_c + np.where(q > 1.0, 0.0, leak * q_ref)
    assert best is not None
    _, q, run, lp_gas = best
    return OraclePlan(
        begin=begin,
        q_w=q,
        air=run.air,
        lower=lower,
        model_gas_kwh=run.gas_kwh,
        lp_gas_kwh=lp_gas,
        iterations=done,
        solve_s=time.perf_counter() - began,
    )


def _solve(
    net: RcNetwork,
    emitter: EmitterSpec,
    *,
    x0: Sequence[float],
    d0: NDArray[np.float64],
    r0: NDArray[np.float64],
    q0: NDArray[np.float64],
    w: NDArray[np.float64],
    lower: NDArray[np.float64],
    flow_max: float,
    q_max: float,
    free: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """One linear programme: the heat per step and its gas per step (its own model), kWh."""
    n = len(d0)
    nodes = len(net.capacity_j_per_k)
    g = emitter.loop_conductance_w_per_k
    leak = (1.0 - emitter.effectiveness) / g
    # the secant through zero: exact where the body is at the air and at the iterate's difference
    beta = emitter.coefficient_w * d0 ** (emitter.exponent - 1.0)
    phi0 = np.array([1.0 / efficiency(float(r)) for r in r0])
    slope = np.array([phi_slope(float(r)) for r in r0])
    # columns: each node's temperature at steps 0..n, heat 0..n-1, shortfall 0..n
    first = [i * (n + 1) for i in range(nodes)]
    ia, ie = first[net.air], first[net.emitter]
    iq = nodes * (n + 1)
    isf = iq + n
    ncol = isf + n + 1
    inf = highspy.kHighsInf
    col_lo = np.full(ncol, -inf)
    col_hi = np.full(ncol, inf)
    cost = np.zeros(ncol)
    for node, v in zip(first, x0, strict=True):
        col_lo[node] = col_hi[node] = v
    col_lo[iq : iq + n] = 0.0
    col_hi[iq : iq + n] = q_max * free
    col_lo[isf:] = 0.0
    kwh = STEP_S / 3.6e6
    # gas ~ q * phi(r0) + q0 * slope * (r - r0), r = body (step mean) + leak * q
    cost[iq : iq + n] = kwh * (phi0 + q0 * slope * leak)
    body_w = kwh * q0 * slope / 2.0
    cost[ie : ie + n] += body_w
    cost[ie + 1 : ie + n + 1] += body_w
    cost[isf:] = SHORTFALL_KWH_PER_KH * STEP_S / 3600.0
    rows_lo: list[float] = []
    rows_hi: list[float] = []
    starts: list[int] = []
    index: list[int] = []
    value: list[float] = []

    def row(cols: Sequence[tuple[int, float]], lo: float, hi: float) -> None:
        starts.append(len(index))
        for c, v in cols:
            index.append(c)
            value.append(v)
        rows_lo.append(lo)
        rows_hi.append(hi)

    cache: dict[float, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
    ce = net.capacity_j_per_k[net.emitter]
    for k in range(n):
        b = round(float(beta[k]), 1)
        mats = cache.get(b)
        if mats is None:
            mats = cache[b] = _discretise(net, emitter, b)
        big_m, s = mats
        const = s @ w[k]
        sq = s[:, net.emitter] / ce  # the heat enters the body
        for j in range(nodes):
            cols = [(first[j] + k + 1, 1.0)]
            cols += [(first[c] + k, -float(big_m[j, c])) for c in range(nodes)]
            cols.append((iq + k, -float(sq[j])))
            row(cols, float(const[j]), float(const[j]))
        # the flow temperature (body + heat over the loop conductance) at both ends of the step
        on = 1.0 / (g * max(float(free[k]), 0.05))  # the heat while the boiler is free
        row([(ie + k, 1.0), (iq + k, on)], -inf, flow_max)
        row([(ie + k + 1, 1.0), (iq + k, on)], -inf, flow_max)
    for k in range(n + 1):
        if math.isfinite(lower[k]):
            row([(ia + k, 1.0), (isf + k, 1.0)], float(lower[k]) + MARGIN_K, inf)
    h = highspy.Highs()  # type: ignore[no-untyped-call]  # its __init__ lacks annotations
    h.setOptionValue("output_flag", False)  # noqa: FBT003 (a pybind11 call)
    h.setOptionValue("threads", 1)
    h.addVars(ncol, col_lo, col_hi)
    h.changeColsCost(ncol, np.arange(ncol, dtype=np.int32), cost)
    h.addRows(
        len(rows_lo),
        np.array(rows_lo),
        np.array(rows_hi),
        len(index),
        np.array(starts, dtype=np.int32),
        np.array(index, dtype=np.int32),
        np.array(value),
    )
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"the oracle's linear programme: {h.modelStatusToString(status)}")
    x = np.array(h.getSolution().col_value)
    q = np.clip(x[iq : iq + n], 0.0, q_max)
    body = x[ie : ie + n + 1]
    r = 0.5 * (body[:-1] + body[1:]) + leak * q
    lp_gas = q * np.array([1.0 / efficiency(float(v)) for v in r]) * kwh
    return q, lp_gas


class OracleController(OnOff):
    """The oracle's plan replayed through the simulator (the plain on/off thermostat before it).

    Perfect knowledge: it reads the simulated world's true state to plan at
    ``begin`` and the boiler's true heat into the loop to track the plan.
    """

    name = "oracle"

    def __init__(
        self,
        world: SimWorld,
        *,
        begin: float,
        end: float,
        lower_at: Callable[[float], float | None],
        utc_offset_h: float,
    ) -> None:
        super().__init__()
        self.world = world
        self.begin = begin
        self.end = end
        self.lower_at = lower_at
        self.utc_offset_h = utc_offset_h
        self.plan: OraclePlan | None = None
        self._heat0 = 0.0
        self._firing = False

    def step(
        self, now: float, mono: float, state: ThermostatState, res: Resolution, r: Readings
    ) -> Command:
        if now < self.begin or now >= self.end:
            return super().step(now, mono, state, res, r)
        world = self.world
        boiler = world.boiler
        if self.plan is None:
            house = world.house
            taps = TapSchedule(world.taps.seed, utc_offset_h=self.utc_offset_h)
            least = boiler.spec.min_dhw_flow_l_min
            self.plan = plan_week(
                world.profile,
                boiler.spec,
                world.weather,
                x0=state_of(house),
                begin=now,
                steps=round((self.end - now) / STEP_S),
                lower_at=self.lower_at,
                hot_water=lambda ts: taps.flow_at(ts) >= least,
                utc_offset_h=self.utc_offset_h,
            )
            self._heat0 = boiler.heat_to_loop_j
        plan = self.plan
        spec = boiler.spec
        ahead = now + LEAD_S
        owed = plan.heat_until(ahead) - (boiler.heat_to_loop_j - self._heat0)
        behind = max(0.0, plan.air_at(now) - world.house.t_air)
        want = plan.power_at(ahead) + owed / HOLD_TAU_S + ROOM_GAIN_W_PER_K * behind
        if want >= spec.min_w:
            self._firing = True
            power = min(spec.max_w, want)
        else:
            # below the minimum output: long cycles at it, paying back what is owed
            band = spec.min_w * CYCLE_S
            self._firing = owed > (-band if self._firing else band)
            power = spec.min_w
        modulation = (power - spec.min_w) / (spec.max_w - spec.min_w) * 100.0
        return Command(
            ch_enable=self._firing,
            setpoint_c=world.profile.max_flow_c,
            max_modulation_pct=modulation,
        )


__all__ = [
    "STEP_S",
    "ModelRun",
    "NetworkHouse",
    "OracleController",
    "OraclePlan",
    "RcNetwork",
    "StateHouse",
    "network_of",
    "phi_slope",
    "plan_week",
    "run_model",
    "set_state",
    "state_of",
]
