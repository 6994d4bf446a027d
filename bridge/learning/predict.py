"""Forecasts from the house model: room temperature, time to target, optimal start.

All functions take a :class:`~bridge.learning.model.ThermalModel`, a
:class:`~bridge.learning.model.ModelState` (where the house is now) and
the inputs over the horizon: the heat input as a constant, a per-step
sequence, a function of time or the :class:`HeatToTarget` policy ("heat at
max until the target, then hold it"), and the outside temperature as a
constant (persistence of the last value) or a function of time (a weather
forecast). Times are Unix seconds; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
import math
from typing import TYPE_CHECKING

from bridge.learning.model import ModelState, ThermalModel

if TYPE_CHECKING:
    from bridge.learning.model import Discrete

#: A value over time: a constant or a function of Unix time.
Series = float | Callable[[float], float]

#: Forecasts go no further than this.
MAX_HORIZON_H = 72.0
#: Default step of the forecasts, s.
DEFAULT_STEP_S = 300.0


def _value(series: Series, ts: float) -> float:
    return series(ts) if callable(series) else float(series)


@dataclass(frozen=True, slots=True)
class HeatToTarget:
    """Heat at full power until the room reaches ``target_c``, then hold it there.

    ``max_heat_w`` is the full power in watts, or a warm-up profile: the
    heat in each ``profile_step_s`` since the policy began (a boiler gives
    more while its emitters are cold), its last value held after the end.
    Holding picks, each step, the constant heat that brings the room to the
    target after ``lookahead_s`` (at least the model's emitter lag), within
    0 and full power.
    """

    target_c: float
    max_heat_w: float | tuple[float, ...]
    profile_step_s: float = 600.0
    lookahead_s: float = 1800.0

    def full_power(self, since_s: float) -> float:
        """Full power ``since_s`` seconds after the policy began, W."""
        if isinstance(self.max_heat_w, tuple):
            if not self.max_heat_w:
                return 0.0
            i = min(len(self.max_heat_w) - 1, max(0, int(since_s // self.profile_step_s)))
            return self.max_heat_w[i]
        return self.max_heat_w


HeatPlan = float | Sequence[float] | Callable[[float], float] | HeatToTarget


@dataclass(frozen=True, slots=True)
class Forecast:
    """Room temperature at ``start_ts + (i + 1) * step_s``, and the heat used in each step."""

    start_ts: float
    step_s: float
    room_c: tuple[float, ...]
    heat_w: tuple[float, ...]

    @property
    def times(self) -> tuple[float, ...]:
        """The time of each value in :attr:`room_c`."""
        return tuple(self.start_ts + (i + 1) * self.step_s for i in range(len(self.room_c)))

    def at(self, ts: float) -> float:
        """The room temperature at ``ts`` (linear between steps, held past either end)."""
        if not self.room_c:
            raise ValueError("an empty forecast")
        pos = (ts - self.start_ts) / self.step_s
        if pos >= len(self.room_c):
            return self.room_c[-1]
        if pos <= 1.0:
            return self.room_c[0]
        i = math.floor(pos)
        frac = pos - i
        return self.room_c[i - 1] + (self.room_c[i] - self.room_c[i - 1]) * frac

    def to_dict(self) -> dict[str, object]:
        """JSON-able form (for the API)."""
        return {
            "start_ts": self.start_ts,
            "step_s": self.step_s,
            "room_c": [round(v, 2) for v in self.room_c],
            "heat_w": [round(v) for v in self.heat_w],
        }


def _hold_heat(
    model: ThermalModel,
    disc: Discrete,
    x: tuple[float, float, float],
    *,
    target_c: float,
    cap_w: float,
    lookahead_s: float,
    outside_c: float,
    solar: float,
) -> float:
    """The constant heat (0..cap) that brings the room to the target after the lookahead."""
    steps = max(1, round(max(lookahead_s, model.emitter_lag_s) / disc.dt_s))
    row, total = disc.ahead(steps)
    free = (
        row[0] * x[0] + row[1] * x[1] + row[2] * x[2]
        + total[1] * outside_c + total[2] + total[3] * solar
    )  # fmt: skip
    if total[0] <= 0.0:
        return 0.0
    return min(cap_w, max(0.0, (target_c - free) / total[0]))


class _Runner:
    """Steps a model from a state under a heat plan, one step at a time."""

    def __init__(
        self,
        model: ThermalModel,
        state: ModelState,
        step_s: float,
        *,
        heat: HeatPlan,
        outside: Series,
        solar: Series,
    ) -> None:
        self.model = model
        self.disc = model.discretize(step_s)
        self.step_s = step_s
        self.begin = state.ts
        self.ts = state.ts
        self.x = state.vector
        self.k = 0
        self.heat = heat
        self.outside = outside
        self.solar = solar
        self.holding = False

    @property
    def state(self) -> ModelState:
        return ModelState(self.ts, self.x[0], self.x[1], self.x[2])

    def step(self) -> float:
        """Advance one step; the heat used."""
        ts, x, heat = self.ts, self.x, self.heat
        out, sun = _value(self.outside, ts), _value(self.solar, ts)
        if isinstance(heat, HeatToTarget):
            cap = heat.full_power(ts - self.begin)
            self.holding = self.holding or x[0] >= heat.target_c
            q = cap
            if self.holding:
                q = _hold_heat(
                    self.model,
                    self.disc,
                    x,
                    target_c=heat.target_c,
                    cap_w=cap,
                    lookahead_s=heat.lookahead_s,
                    outside_c=out,
                    solar=sun,
                )
        elif callable(heat):
            q = heat(ts)
        elif isinstance(heat, (int, float)):
            q = float(heat)
        elif heat:
            q = float(heat[min(self.k, len(heat) - 1)])
        else:
            q = 0.0
        q = max(0.0, q)
        self.x = self.disc.step(x, q, out, sun)
        self.ts = ts + self.step_s
        self.k += 1
        return q

    def run_until(self, target_c: float, steps: int) -> float | None:
        """Step until the room reaches ``target_c``: the time it does (interpolated), or None."""
        if self.x[0] >= target_c:
            return self.ts
        for _ in range(steps):
            before, t0 = self.x[0], self.ts
            self.step()
            if self.x[0] >= target_c:
                frac = (target_c - before) / (self.x[0] - before)
                return t0 + min(1.0, max(0.0, frac)) * self.step_s
        return None


def forecast(
    model: ThermalModel,
    state: ModelState,
    hours: float,
    *,
    heat: HeatPlan = 0.0,
    outside: Series,
    solar: Series = 0.0,
    step_s: float = DEFAULT_STEP_S,
) -> Forecast:
    """The room temperature over the next ``hours`` from ``state``, given the inputs."""
    hours = min(max(0.0, hours), MAX_HORIZON_H)
    steps = max(1, math.ceil(hours * 3600.0 / step_s))
    runner = _Runner(model, state, step_s, heat=heat, outside=outside, solar=solar)
    rooms: list[float] = []
    heats: list[float] = []
    for _ in range(steps):
        heats.append(runner.step())
        rooms.append(runner.x[0])
    return Forecast(state.ts, step_s, tuple(rooms), tuple(heats))


def time_to_target(
    model: ThermalModel,
    current_room_c: float,
    target_c: float,
    outside: Series,
    max_heat_w: float | tuple[float, ...],
    *,
    state: ModelState | None = None,
    solar: Series = 0.0,
    horizon_h: float = 48.0,
    step_s: float = 120.0,
    profile_step_s: float = 600.0,
) -> float | None:
    """Seconds of heating at full power until the room reaches ``target_c``.

    ``max_heat_w`` as in :class:`HeatToTarget`. 0 when the room is there
    already; None when it is not reached within ``horizon_h`` (unreachable
    at this outside temperature and power). Without ``state`` the mass is
    taken in balance with the room and the outside, the emitters cold.
    """
    if current_room_c >= target_c:
        return 0.0
    if state is None:
        state = ModelState.at_rest(model, 0.0, current_room_c, _value(outside, 0.0))
    else:
        state = ModelState(state.ts, current_room_c, state.mass_c, state.emitter_w)
    steps = max(1, math.ceil(min(horizon_h, MAX_HORIZON_H) * 3600.0 / step_s))
    policy = HeatToTarget(target_c, max_heat_w, profile_step_s)
    runner = _Runner(model, state, step_s, heat=policy, outside=outside, solar=solar)
    reached = runner.run_until(target_c, steps)
    return None if reached is None else reached - state.ts


@dataclass(frozen=True, slots=True)
class StartPlan:
    """When to start heating for a period, and what the model expects."""

    start_ts: float
    """The latest start that reaches the target ``margin_s`` before the period."""
    arrival_ts: float | None
    """When the room is expected to reach the target starting then (None: never)."""
    margin_s: float
    """How early the plan aims to arrive (grows as confidence falls)."""
    on_time: bool
    """False when even starting now arrives late (or never)."""

    def to_dict(self) -> dict[str, object]:
        """JSON-able form (for the API)."""
        return {
            "start_ts": self.start_ts,
            "arrival_ts": self.arrival_ts,
            "margin_s": self.margin_s,
            "on_time": self.on_time,
        }


def safety_margin_s(heatup_s: float, confidence: float) -> float:
    """How early to aim: 2 minutes and 5 % of the heat-up, plus up to 40 % more at no confidence."""
    c = min(1.0, max(0.0, confidence))
    return 120.0 + max(0.0, heatup_s) * (0.05 + 0.4 * (1.0 - c) ** 2)


def optimal_start(
    model: ThermalModel,
    next_period_start: float,
    target_c: float,
    now_state: ModelState,
    *,
    outside: Series,
    max_heat_w: float | tuple[float, ...],
    confidence: float = 1.0,
    setback_c: float | None = None,
    solar: Series = 0.0,
    step_s: float = 120.0,
    profile_step_s: float = 600.0,
) -> StartPlan:
    """The latest start time that reaches ``target_c`` by ``next_period_start``.

    Until the start the room floats (held at ``setback_c`` if given); from
    the start it heats at full power (``max_heat_w`` as in
    :class:`HeatToTarget`). The plan aims :func:`safety_margin_s` early and
    is exact to ``step_s``. When even starting now is late, the plan starts
    now with ``on_time`` False. Call it again as time passes: the state
    moves on, and the start that is due is the one to act on.
    """
    now = now_state.ts
    period = max(now, next_period_start)
    horizon = math.ceil(MAX_HORIZON_H * 3600.0 / step_s)
    boost = HeatToTarget(target_c, max_heat_w, profile_step_s)
    # the house until each candidate start: one run, the same for every candidate
    hold: HeatPlan = 0.0
    if setback_c is not None:
        full = max_heat_w[-1] if isinstance(max_heat_w, tuple) and max_heat_w else max_heat_w
        hold = HeatToTarget(setback_c, full)
    pre = _Runner(model, now_state, step_s, heat=hold, outside=outside, solar=solar)
    states = [now_state]
    while pre.ts < period:
        pre.step()
        states.append(pre.state)

    def arrival(k: int) -> float | None:
        runner = _Runner(model, states[k], step_s, heat=boost, outside=outside, solar=solar)
        return runner.run_until(target_c, horizon)

    hi = len(states) - 1
    if states[hi].room_c >= target_c:
        return StartPlan(states[hi].ts, states[hi].ts, 0.0, on_time=True)  # warm enough as it is
    first = arrival(0)
    if first is None:
        return StartPlan(now, None, 0.0, on_time=False)
    # the margin scales with the warm-up that starts at the last moment
    last = arrival(hi)
    heatup = first - now if last is None else last - states[hi].ts
    margin = safety_margin_s(heatup, confidence)
    deadline = period - margin
    if first > deadline:
        return StartPlan(now, first, margin, on_time=False)
    lo = 0
    best = first
    while hi - lo > 1:
        mid = (lo + hi) // 2
        at = arrival(mid)
        if at is not None and at <= deadline:
            lo, best = mid, at
        else:
            hi = mid
    return StartPlan(states[lo].ts, best, margin, on_time=True)


@dataclass(frozen=True, slots=True)
class Predictor:
    """A model, where the house is now and how far to trust it: the learner's outputs."""

    model: ThermalModel
    state: ModelState
    confidence: float
    warmup_w: tuple[float, ...]
    """What the boiler gives in a warm-up, per ``warmup_step_s`` (the default full power)."""
    outside_c: float
    """The last outside temperature (persistence when no weather forecast is given)."""
    warmup_step_s: float = 600.0
    solar_w_m2: Series = 0.0
    """The irradiance to expect when none is given (the learner's sun forecast)."""

    @property
    def heat_loss_w_per_k(self) -> float:
        """Heat-loss coefficient, W/K."""
        return self.model.heat_loss_w_per_k

    @property
    def time_constant_h(self) -> float:
        """Lumped time constant, h."""
        return self.model.time_constant_h

    def _full(self, max_heat_w: float | None) -> float | tuple[float, ...]:
        return self.warmup_w if max_heat_w is None else max_heat_w

    def forecast(
        self,
        hours: float,
        *,
        heat: HeatPlan = 0.0,
        outside: Series | None = None,
        solar: Series | None = None,
        step_s: float = DEFAULT_STEP_S,
    ) -> Forecast:
        """:func:`forecast` from the current state."""
        return forecast(
            self.model,
            self.state,
            hours,
            heat=heat,
            outside=self.outside_c if outside is None else outside,
            solar=self.solar_w_m2 if solar is None else solar,
            step_s=step_s,
        )

    def heat_to_target(self, target_c: float, max_heat_w: float | None = None) -> HeatToTarget:
        """The "heat at full power until the target, then hold" policy for :meth:`forecast`."""
        return HeatToTarget(target_c, self._full(max_heat_w), self.warmup_step_s)

    def time_to_target(
        self,
        target_c: float,
        *,
        max_heat_w: float | None = None,
        outside: Series | None = None,
    ) -> float | None:
        """:func:`time_to_target` from the current state, seconds."""
        return time_to_target(
            self.model,
            self.state.room_c,
            target_c,
            self.outside_c if outside is None else outside,
            self._full(max_heat_w),
            state=self.state,
            solar=self.solar_w_m2,
            profile_step_s=self.warmup_step_s,
        )

    def optimal_start(
        self,
        next_period_start: float,
        target_c: float,
        *,
        max_heat_w: float | None = None,
        outside: Series | None = None,
        setback_c: float | None = None,
    ) -> StartPlan:
        """:func:`optimal_start` from the current state, with the learner's confidence."""
        return optimal_start(
            self.model,
            next_period_start,
            target_c,
            self.state,
            outside=self.outside_c if outside is None else outside,
            max_heat_w=self._full(max_heat_w),
            confidence=self.confidence,
            setback_c=setback_c,
            solar=self.solar_w_m2,
            profile_step_s=self.warmup_step_s,
        )
