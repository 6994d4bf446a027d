"""Self-learning in the running bridge: the glue between the thermostat and the Learner.

:class:`LearningService` owns the :class:`~bridge.learning.Learner` of one
house. The thermostat feeds it a :class:`~bridge.learning.Measurement` every
sample period, built only from what the bridge measures; the service

* runs the work that can take long (closing a sample period, a refit, the
  forecasts) in its own single worker thread, so the event loop never waits
  for a fit; the cheap observations in between run inline;
* keeps an immutable :class:`Snapshot` of the outputs (model, confidence,
  room forecast, time to target, the optimal start of the next home or
  comfort period), which the control path and the API read without locks;
* learns the emitters (radiators or floor) from the boiler's flow, return
  and heat: :class:`EmitterEstimator`;
* persists everything as one JSON document in ``db.learning`` (hourly and on
  stop) and restores it on start; a damaged or unknown document gives a
  fresh learner, with one warning.

:class:`ThermostatControl` is the control path the daemon runs each step and
the control benchmark drives directly against the simulator: optimal start
(the target becomes the next period's from the planned start), the heating
curve from the learned heat-loss coefficient, gains and emitters, and the
low-load threshold from the boiler's minimum output (OpenTherm ID 15) over
the learned design load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
import contextlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
import logging
import math
import time
from typing import TYPE_CHECKING, Any, TypeVar

from bridge.core import thermostat as core
from bridge.core.control import (
    BoilerBounds,
    BoilerCommand,
    BoilerControlConfig,
    BoilerController,
    HeatingCurve,
    RelayCommand,
    RelayController,
)
from bridge.learning.config import LEARNER_VERSION, LearnerConfig
from bridge.learning.learner import Learner
from bridge.learning.predict import Forecast, Predictor, StartPlan
from bridge.learning.screening import HeatSource, Measurement

if TYPE_CHECKING:
    from bridge.storage.learning import LearningRepo

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

#: The name of the learning document in ``db.learning``.
STATE_NAME = "house_model"
#: Version of the document :meth:`LearningService.to_dict` writes.
STATE_VERSION = 1
#: Seconds of clock time between saves of the learning state.
SAVE_INTERVAL_S = 3600.0
#: The room forecast: how far and at what step.
FORECAST_HOURS = 6.0
FORECAST_STEP_S = 900.0
#: The forecast's inner step (heat decisions), s.
_FORECAST_SUBSTEP_S = 300.0
#: Programs whose periods the thermostat heats up for in advance.
PREHEAT_PROGRAMS = frozenset({"home", "comfort"})
#: No warm-up starts earlier than this before its period.
MAX_PREHEAT_S = 10 * 3600.0
#: Periods further away than this are not planned yet.
_PLAN_AHEAD_S = 16 * 3600.0
#: A room this far above its target floats down to it (no heating): setbacks save gas.
FLOAT_BAND_K = 0.5
#: A room this far below its target warms up at full power (what the optimal start plans on).
BOOST_BAND_K = 0.2
#: Heat samples of full-power warm-ups kept, needed, and the minutes skipped at their start.
_BOOST_KEPT = 360
_BOOST_NEEDED = 30
_BOOST_SETTLE_S = 1200.0
#: Warm-ups remembered for the start correction, and how many it needs.
_WARMUPS_KEPT = 12
_WARMUPS_NEEDED = 3
#: A warm-up counts as arrived when the room reading is this close to its target (K):
#: where the full-power warm-up hands over to holding (the boost band).
_ARRIVED_K = BOOST_BAND_K
#: The optimal start aims this far below the target: the sensor's resolution (the last
#: tenths are the holding control's, and take the model's slow asymptote).
_AIM_K = 0.1
#: A warm-up not arrived this long after its period's start counts as arrived then.
_ARRIVAL_WAIT_S = 3600.0
#: The start correction never stretches a planned lead more than this.
_MAX_START_FACTOR = 1.5
#: Schedule sources under which the thermostat may heat up early (not manual, remote or pause).
_PREHEAT_SOURCES = frozenset({"schedule", "exception"})


# ---------------------------------------------------------------- schedule context


@dataclass(frozen=True, slots=True)
class PlanContext:
    """What the schedule says now (before any preheat), for planning and forecasts.

    ``state`` is the thermostat's state (immutable), from which the target at
    later times is resolved for the forecast; without it the target is held.
    """

    now: float
    target: float
    source: str
    program: str | None
    next_start: float
    next_program: str
    next_target: float
    state: core.ThermostatState | None = None

    @classmethod
    def of(
        cls, state: core.ThermostatState | None, res: core.Resolution, now: float
    ) -> PlanContext:
        """From a resolution (``core.resolve``) of ``state`` at ``now``."""
        return cls(
            now=now,
            target=res.target,
            source=str(res.source),
            program=res.program,
            next_start=res.next_start.timestamp(),
            next_program=res.next_program,
            next_target=res.next_target,
            state=state,
        )

    @property
    def key(self) -> tuple[float, str, float, float]:
        """What a plan depends on: the target, its source and the next period."""
        return (self.target, self.source, self.next_start, self.next_target)

    @property
    def warmup_ahead(self) -> bool:
        """True when the next period is a warmer home or comfort period worth heating up for."""
        return (
            self.source in _PREHEAT_SOURCES
            and self.next_program in PREHEAT_PROGRAMS
            and self.next_target > self.target + 0.05
        )

    def targets(self) -> Callable[[float], float]:
        """The schedule's target (no preheat) as a function of time, resolving once per block."""
        state = self.state
        cache: list[tuple[float, float, float]] = [(self.now, self.next_start, self.target)]

        def at(ts: float) -> float:
            for begin, end, value in cache:
                if begin <= ts < end:
                    return value
            if state is None:
                return self.target
            res = core.resolve(state, datetime.fromtimestamp(ts, tz=UTC))
            end = res.next_start.timestamp()
            cache.append((ts, end, res.target))
            return res.target

        return at


@dataclass(frozen=True, slots=True)
class Preheat:
    """A warm-up in progress: from ``start_ts`` the target is ``target`` (``program``'s)."""

    start_ts: float
    period_ts: float
    target: float
    program: str


# ---------------------------------------------------------------- emitters


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


class _Regression:
    """Least squares of ``y = a x1 + b x2`` (a > 0, b >= 0) with exponential forgetting."""

    __slots__ = ("n", "s1y", "s2y", "s11", "s12", "s22")

    def __init__(self) -> None:
        self.n = 0.0
        self.s11 = self.s12 = self.s22 = self.s1y = self.s2y = 0.0

    def add(self, x1: float, x2: float, y: float, keep: float) -> None:
        self.n = self.n * keep + 1.0
        self.s11 = self.s11 * keep + x1 * x1
        self.s12 = self.s12 * keep + x1 * x2
        self.s22 = self.s22 * keep + x2 * x2
        self.s1y = self.s1y * keep + x1 * y
        self.s2y = self.s2y * keep + x2 * y

    def solve(self) -> tuple[float, float] | None:
        det = self.s11 * self.s22 - self.s12 * self.s12
        if self.s11 <= 0.0:
            return None
        if det > 1e-9 * self.s11 * max(self.s22, 1e-12):
            a = (self.s1y * self.s22 - self.s2y * self.s12) / det
            b = (self.s2y * self.s11 - self.s1y * self.s12) / det
            if a > 0.0 and b >= 0.0:
                return a, b
        a = self.s1y / self.s11
        return (a, 0.0) if a > 0.0 else None

    def to_list(self) -> list[float]:
        return [self.n, self.s11, self.s12, self.s22, self.s1y, self.s2y]

    @classmethod
    def from_list(cls, data: object) -> _Regression:
        out = cls()
        if (
            isinstance(data, list)
            and len(data) == 6
            and all(isinstance(v, int | float) for v in data)
        ):
            values = [float(v) for v in data]
            if all(math.isfinite(v) for v in values):
                out.n, out.s11, out.s12, out.s22, out.s1y, out.s2y = values
        return out


@dataclass(frozen=True, slots=True)
class EmitterFit:
    """The emitters as the boiler's water sees them.

    Heat out ``= coefficient * (mean water - room) ** exponent`` W, with the
    mean water temperature the average of flow and return; ``loop_w_per_k``
    is the water flow's heat capacity rate (heat over flow-return spread).
    """

    coefficient: float
    exponent: float
    loop_w_per_k: float
    samples: int

    def curve(
        self, design_load_w: float, gains_k: float, base: HeatingCurve
    ) -> HeatingCurve | None:
        """The heating curve that delivers ``design_load_w`` at ``base``'s design point."""
        excess = (design_load_w / self.coefficient) ** (1.0 / self.exponent)
        spread = design_load_w / self.loop_w_per_k
        mean = base.design_room + excess
        spread = min(spread, 1.6 * excess)  # keeps the return above the room
        flow, ret = mean + spread / 2.0, mean - spread / 2.0
        if not (math.isfinite(flow) and base.design_room + 1.0 < ret < flow <= 100.0):
            return None
        return replace(
            base,
            design_flow=round(flow, 2),
            design_return=round(ret, 2),
            exponent=self.exponent,
            gains_k=round(gains_k, 2),
        )


class EmitterEstimator:
    """Learns the emitters from flow, return and heat while the CH pump runs.

    Between two readings (at most :attr:`MAX_SPACING_S` apart) with the pump
    running and no hot water, the heat the boiler gave is split into what
    the emitters gave the room and what warmed the water and emitters::

        Q = k * (Tw - room) ** n + C * dTw/dt       (Tw the mean water temperature)
        Q = G * (flow - return) + C2 * dflow/dt     (G the loop's W/K)

    both fitted by least squares with a forgetting of about a week. ``n`` is
    the emitter exponent of the configured heating curve (1.3 radiators,
    1.1 underfloor).
    """

    MAX_SPACING_S = 150.0
    MIN_SAMPLES = 120
    KEEP = 0.5 ** (1.0 / 5000.0)  # half weight after ~3.5 days of pump-running minutes

    def __init__(self, exponent: float = 1.3) -> None:
        self.exponent = exponent
        self._emit = _Regression()
        self._loop = _Regression()
        self._last: tuple[float, float, float, float, float] | None = None

    def observe(
        self,
        ts: float,
        *,
        room: float | None,
        flow: float | None,
        ret: float | None,
        heat_w: float | None,
        pump: bool,
    ) -> None:
        """One reading; ``pump`` True when the CH pump circulates (and no hot water is made)."""
        if (
            not pump
            or room is None
            or flow is None
            or ret is None
            or heat_w is None
            or not all(math.isfinite(v) for v in (room, flow, ret, heat_w))
        ):
            self._last = None
            return
        if not (0.0 <= ret <= 100.0 and 0.0 <= flow <= 100.0 and -5.0 <= room <= 40.0):
            self._last = None
            return
        last = self._last
        self._last = (ts, room, flow, ret, heat_w)
        if last is None or not 0.0 < ts - last[0] <= self.MAX_SPACING_S:
            return
        t0, room0, flow0, ret0, heat0 = last
        dt = ts - t0
        tw0, tw1 = (flow0 + ret0) / 2.0, (flow + ret) / 2.0
        excess = (tw0 + tw1) / 2.0 - (room0 + room) / 2.0
        if excess >= 2.0:
            self._emit.add(excess**self.exponent, (tw1 - tw0) / dt, heat0, self.KEEP)
        spread = (flow0 - ret0 + flow - ret) / 2.0
        if spread >= 1.0:
            self._loop.add(spread, (flow - flow0) / dt, heat0, self.KEEP)

    def fit(self) -> EmitterFit | None:
        """The emitters, once enough pump-running readings were seen; None before."""
        if self._emit.n < self.MIN_SAMPLES or self._loop.n < self.MIN_SAMPLES:
            return None
        emit, loop = self._emit.solve(), self._loop.solve()
        if emit is None or loop is None:
            return None
        k, g = emit[0], loop[0]
        if not (1.0 <= k <= 1e5 and 50.0 <= g <= 1e5):
            return None
        return EmitterFit(k, self.exponent, g, round(min(self._emit.n, self._loop.n)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "exponent": self.exponent,
            "emit": self._emit.to_list(),
            "loop": self._loop.to_list(),
        }

    @classmethod
    def from_dict(cls, data: object, exponent: float = 1.3) -> EmitterEstimator:
        """The estimator stored by :meth:`to_dict`; a fresh one for anything else or another exponent."""
        out = cls(exponent)
        if isinstance(data, dict) and data.get("exponent") == exponent:
            out._emit = _Regression.from_list(data.get("emit"))
            out._loop = _Regression.from_list(data.get("loop"))
        return out


# ---------------------------------------------------------------- snapshot


@dataclass(frozen=True, slots=True)
class Tuning:
    """What the learned model changes in the boiler control."""

    design_load_w: float | None
    """The learned heat loss at the curve's design point, W."""
    gains_k: float
    """Free heat over the heat-loss coefficient, K."""
    hold_target: float | None = None
    """The target :attr:`hold_gains_k` was worked out for."""
    hold_gains_k: float | None = None
    """The balance offset that makes the curve give the heat that holds ``hold_target``
    with the building as it is now (a cold mass after a setback takes more)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The learner's outputs at one moment (immutable: read from any thread)."""

    updated: float | None
    status: str
    ready: bool
    confidence: float
    summary: dict[str, Any]
    predictor: Predictor | None
    forecast: Forecast | None
    forecast_targets: tuple[float, ...]
    target_c: float | None
    time_to_target_s: float | None
    plan: StartPlan | None
    plan_key: tuple[float, float, str] | None
    """(period start, target, program) the plan is for."""
    context_key: tuple[float, str, float, float] | None
    tuning: Tuning
    emitters: EmitterFit | None
    start_factor: float = 1.0
    """How much longer than planned recent warm-ups took (the plan's lead is stretched by it)."""

    @property
    def start_ts(self) -> float | None:
        """When the planned warm-up starts, with the learned correction."""
        if self.plan is None or self.plan_key is None:
            return None
        if not self.plan.on_time:
            return self.plan.start_ts  # late already: start now
        period = self.plan_key[0]
        return period - self.start_factor * (period - self.plan.start_ts)

    @classmethod
    def empty(cls) -> Snapshot:
        """Before any measurement."""
        return cls(
            updated=None,
            status="learning not started",
            ready=False,
            confidence=0.0,
            summary={},
            predictor=None,
            forecast=None,
            forecast_targets=(),
            target_c=None,
            time_to_target_s=None,
            plan=None,
            plan_key=None,
            context_key=None,
            tuning=Tuning(None, 0.0),
            emitters=None,
        )


def _hold_heat(
    predictor: Predictor, x: tuple[float, float, float], target: float, ts: float, cap: float
) -> float:
    """The constant heat (0..cap) that brings the room to ``target`` after the emitter lag."""
    model = predictor.model
    disc = model.discretize(_FORECAST_SUBSTEP_S)
    steps = max(1, round(max(1800.0, model.emitter_lag_s) / _FORECAST_SUBSTEP_S))
    row, total = disc.ahead(steps)
    sun = predictor.solar_w_m2(ts) if callable(predictor.solar_w_m2) else predictor.solar_w_m2
    free = (
        row[0] * x[0] + row[1] * x[1] + row[2] * x[2]
        + total[1] * predictor.outside_c + total[2] + total[3] * sun
    )  # fmt: skip
    if total[0] <= 0.0:
        return 0.0
    return min(cap, max(0.0, (target - free) / total[0]))


def follow_schedule(
    predictor: Predictor,
    target_at: Callable[[float], float],
    hours: float = FORECAST_HOURS,
    step_s: float = FORECAST_STEP_S,
    *,
    boost_w: float | None = None,
) -> tuple[Forecast, tuple[float, ...]]:
    """The room over the next ``hours`` if the thermostat follows ``target_at``.

    Below the target it heats at ``boost_w`` (default: the learner's
    warm-up profile), at or above it holds the target. Returns the forecast
    at ``step_s`` and the target at each of its times.
    """
    model = predictor.model
    disc = model.discretize(_FORECAST_SUBSTEP_S)
    profile = predictor.warmup_w if boost_w is None else (boost_w,)
    cap = profile[-1] if profile else 0.0
    x = predictor.state.vector
    ts = predictor.state.ts
    start = ts
    per_out = max(1, round(step_s / _FORECAST_SUBSTEP_S))
    n_out = max(1, math.ceil(hours * 3600.0 / (per_out * _FORECAST_SUBSTEP_S)))
    rooms: list[float] = []
    heats: list[float] = []
    targets: list[float] = []
    since: float | None = None
    heat_sum = 0.0
    solar = predictor.solar_w_m2
    for k in range(n_out * per_out):
        target = target_at(ts)
        if x[0] < target - 0.05:
            since = ts if since is None else since
            i = (
                min(len(profile) - 1, int((ts - since) // predictor.warmup_step_s))
                if profile
                else 0
            )
            q = profile[i] if profile else 0.0
        else:
            since = None
            q = _hold_heat(predictor, x, target, ts, cap)
        sun = solar(ts) if callable(solar) else solar
        x = disc.step(x, q, predictor.outside_c, sun)
        ts += _FORECAST_SUBSTEP_S
        heat_sum += q
        if (k + 1) % per_out == 0:
            rooms.append(x[0])
            heats.append(heat_sum / per_out)
            targets.append(target_at(ts))
            heat_sum = 0.0
    return Forecast(start, per_out * _FORECAST_SUBSTEP_S, tuple(rooms), tuple(heats)), tuple(
        targets
    )


def _iso(ts: float | None) -> str | None:
    if ts is None or not math.isfinite(ts):
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()


def _round(value: float | None, digits: int = 1) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


# ---------------------------------------------------------------- the service


class LearningService:
    """The house's learner in the running bridge (see the module docstring).

    Synchronous use (the benchmark, tests): :meth:`observe`, :meth:`restore`,
    :meth:`to_dict`. In the daemon: :meth:`observe_async`, :meth:`load`,
    :meth:`save` and :meth:`close`, which keep the learner on one worker
    thread. Everything else reads the :attr:`snapshot`.
    """

    def __init__(
        self,
        *,
        config: LearnerConfig | None = None,
        heat_source: HeatSource | None = None,
        preheat: bool = True,
        emitter_exponent: float = 1.3,
    ) -> None:
        self._config = config
        self._learner = Learner(heat_source, config)
        self._emitter = EmitterEstimator(emitter_exponent)
        self._snapshot = Snapshot.empty()
        self.preheat_enabled = preheat
        """The owner's option: heat up early for home and comfort periods."""
        self._active: Preheat | None = None
        self._warmup: tuple[float, float, float, float, str] | None = None
        self._warmup_ratios: dict[str, list[float]] = {}
        self._boost_since: float | None = None
        self._boost_heat: list[float] = []
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future[Any] | None = None
        self._last_index: int | None = None
        self._refresh_wanted = True
        self._tuned: tuple[tuple[Any, ...], BoilerControlConfig] | None = None
        self.stats: dict[str, float] = {
            "observations": 0,
            "inline": 0,
            "thread_jobs": 0,
            "thread_cpu_s": 0.0,
            "thread_cpu_max_s": 0.0,
        }
        """Counts and the CPU seconds the worker thread spent (for diagnostics)."""

    # ------------------------------------------------------------ reading

    @property
    def learner(self) -> Learner:
        """The learner (touch it only from the worker thread, or when nothing runs there)."""
        return self._learner

    @property
    def snapshot(self) -> Snapshot:
        """The outputs as of the last refresh."""
        return self._snapshot

    @property
    def emitter_exponent(self) -> float:
        """The emitter exponent the estimator fits with."""
        return self._emitter.exponent

    # ------------------------------------------------------------ input (synchronous)

    def set_heat_source(self, source: HeatSource) -> None:
        """How the boiler's reports become watts (from OpenTherm ID 15 once it is read)."""
        if source != self._learner.heat_source:
            self._learner.set_heat_source(source)

    def needs_refresh(self, m: Measurement, ctx: PlanContext | None) -> bool:
        """True when :meth:`observe` of ``m`` closes a sample period or must replan (the slow kind)."""
        index = int(m.ts // self._learner.config.sample_s) if math.isfinite(m.ts) else None
        if self._refresh_wanted or index != self._last_index:
            return True
        return ctx is not None and ctx.key != self._snapshot.context_key

    def observe(
        self,
        m: Measurement,
        ctx: PlanContext | None = None,
        *,
        pump: bool | None = None,
        boost: bool | None = None,
    ) -> bool:
        """Feed one measurement; refresh the snapshot when due. True if it was refreshed.

        ``pump`` says whether the CH pump ran (OpenTherm CH active); without
        it, the flame stands in. ``boost``: whether the controller is warming
        up at full power (:attr:`BoilerController.boosting`); the heat then
        is what the optimal start plans with. Runs the fit when one is due:
        call it from the worker thread (:meth:`observe_async`) in the event
        loop.
        """
        refresh = self.needs_refresh(m, ctx)
        if math.isfinite(m.ts):
            self._last_index = int(m.ts // self._learner.config.sample_s)
        self._learner.observe(m)
        self._track_warmup(m)
        heat = self._learner.heat_source.heat_w(m)
        self._track_boost(m, heat, boost)
        running = pump if pump is not None else bool(m.flame_on)
        self._emitter.observe(
            m.ts,
            room=m.room_c,
            flow=m.flow_c,
            ret=m.return_c,
            heat_w=heat,
            pump=running and not m.dhw_active,
        )
        self.stats["observations"] += 1
        if refresh:
            self.refresh(ctx)
        return refresh

    def refresh(self, ctx: PlanContext | None) -> Snapshot:
        """Recompute the snapshot from the learner (forecast, time to target, plan)."""
        self._refresh_wanted = False
        learner = self._learner
        predictor = learner.predictor()
        summary = learner.summary()
        ready = learner.ready
        model = learner.model
        fit = self._emitter.fit()
        gains_k = 0.0
        design_load: float | None = None
        if ready:
            h = model.heat_loss_w_per_k
            gains_k = min(6.0, max(0.0, model.gains_w / h))
            design_load = h * 30.0  # the curves' design point: 20 °C room at -10 °C outside
        forecast: Forecast | None = None
        targets: tuple[float, ...] = ()
        target_c: float | None = None
        to_target: float | None = None
        plan: StartPlan | None = None
        plan_key: tuple[float, float, str] | None = None
        factor = self.start_factor(ctx.next_program if ctx is not None else None)
        hold_target: float | None = None
        hold_gains: float | None = None
        boost_w = self.boost_power_w()
        warm_from = math.inf
        if predictor is not None and ctx is not None:
            target_c = ctx.target
            if ready and ctx.warmup_ahead and 0.0 < ctx.next_start - ctx.now <= _PLAN_AHEAD_S:
                plan = predictor.optimal_start(
                    ctx.next_start,
                    ctx.next_target - _AIM_K,
                    setback_c=ctx.target,
                    max_heat_w=boost_w,
                )
                plan_key = (ctx.next_start, ctx.next_target, ctx.next_program)
                if self.preheat_enabled:
                    lead = ctx.next_start - plan.start_ts
                    warm_from = ctx.next_start - (factor * lead if plan.on_time else lead)
                if ctx.now >= warm_from:
                    target_c = ctx.next_target
            base = ctx.targets()
            end, warm = ctx.next_start, ctx.next_target

            def target_at(ts: float) -> float:
                value = base(ts)
                return max(value, warm) if warm_from <= ts < end else value

            forecast, targets = follow_schedule(predictor, target_at, boost_w=boost_w)
            if design_load is not None and target_c is not None:
                x = predictor.state.vector
                hold = _hold_heat(
                    predictor, (target_c, x[1], x[2]), target_c, predictor.state.ts, 3 * design_load
                )
                offset = target_c - predictor.outside_c - 30.0 * hold / design_load
                hold_target, hold_gains = target_c, min(12.0, max(-8.0, offset))
            to_target = predictor.time_to_target(target_c, max_heat_w=boost_w)
        elif predictor is not None:
            forecast = predictor.forecast(FORECAST_HOURS, step_s=FORECAST_STEP_S)
        self._snapshot = Snapshot(
            updated=learner.state.ts if learner.state is not None else None,
            status=learner.status,
            ready=ready,
            confidence=learner.confidence,
            summary=summary,
            predictor=predictor,
            forecast=forecast,
            forecast_targets=targets,
            target_c=target_c,
            time_to_target_s=to_target,
            plan=plan,
            plan_key=plan_key,
            context_key=None if ctx is None else ctx.key,
            tuning=Tuning(design_load, gains_k, hold_target, hold_gains),
            emitters=fit,
            start_factor=factor,
        )
        return self._snapshot

    def start_factor(self, program: str | None = None) -> float:
        """The 75th percentile of (actual / planned) warm-up time of recent warm-ups, 1-1.5.

        Warm-ups for ``program`` (home or comfort: different targets, times
        of day, lengths) when three were seen, else all; 1 before. A model
        that is optimistic by a steady share (a boiler weaker than it
        reports, a colder week) is corrected by starting that much earlier;
        it never starts later than planned.
        """
        ratios = list(self._warmup_ratios.get(program or "", ()))
        if len(ratios) < _WARMUPS_NEEDED:
            ratios = [r for values in self._warmup_ratios.values() for r in values]
        if len(ratios) < _WARMUPS_NEEDED:
            return 1.0
        ordered = sorted(ratios)
        k = 0.75 * (len(ordered) - 1)
        lo = math.floor(k)
        hi = min(lo + 1, len(ordered) - 1)
        value = ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)
        return min(_MAX_START_FACTOR, max(1.0, value))

    def _track_boost(self, m: Measurement, heat: float | None, boost: bool | None) -> None:
        """Keep the heat of warm-ups at full power, past their first minutes."""
        if not boost or m.dhw_active or heat is None or not math.isfinite(m.ts):
            self._boost_since = None
            return
        if self._boost_since is None:
            self._boost_since = m.ts
        elif m.ts - self._boost_since >= _BOOST_SETTLE_S:
            self._boost_heat = [*self._boost_heat[-(_BOOST_KEPT - 1) :], round(heat, 1)]

    def boost_power_w(self) -> float | None:
        """The heat a warm-up at full power gives, W (median of recent ones); None before."""
        values = self._boost_heat
        if len(values) < _BOOST_NEEDED:
            return None
        return _median(values)

    def _track_warmup(self, m: Measurement) -> None:
        """Time a warm-up in progress against its plan."""
        warmup = self._warmup
        room = m.room_c
        if warmup is None or room is None or not math.isfinite(room):
            return
        start, planned, period, target, program = warmup
        if m.ts <= start:
            return
        if m.ts - start <= 120.0 and room >= target - _ARRIVED_K:
            self._warmup = None  # warm already: nothing to time
            return
        if room >= target - _ARRIVED_K or m.ts >= period + _ARRIVAL_WAIT_S:
            ratio = (m.ts - start) / (planned - start)
            kept = self._warmup_ratios.get(program, [])
            self._warmup_ratios = {
                **self._warmup_ratios,
                program: [*kept, min(2.0, max(0.3, ratio))][-_WARMUPS_KEPT:],
            }
            if self._warmup is warmup:
                self._warmup = None

    # ------------------------------------------------------------ persistence (synchronous)

    def to_dict(self) -> dict[str, Any]:
        """The whole learning state as one JSON-able document, with a version."""
        return {
            "version": STATE_VERSION,
            "learner": self._learner.to_dict(),
            "emitter": self._emitter.to_dict(),
            "warmups": {k: list(v) for k, v in self._warmup_ratios.items()},
            "boost_w": list(self._boost_heat),
            "preheat": None
            if self._active is None
            else {
                "start_ts": self._active.start_ts,
                "period_ts": self._active.period_ts,
                "target": self._active.target,
                "program": self._active.program,
            },
        }

    def restore(self, data: object) -> bool:
        """Take the state stored by :meth:`to_dict`; a fresh learner (and a warning) otherwise."""
        heat_source = self._learner.heat_source
        exponent = self._emitter.exponent
        ok = isinstance(data, dict) and data.get("version") == STATE_VERSION
        learner: Learner | None = None
        stored = data.get("learner") if ok and isinstance(data, dict) else None
        if isinstance(stored, dict) and stored.get("version") == LEARNER_VERSION:
            learner = Learner.from_dict(stored)
            bins = stored.get("bins")
            kept = isinstance(bins, dict) and bool(bins.get("index"))
            if kept and learner.usable_hours() == 0.0 and learner.fitted is None:
                learner = None  # the learner's document was damaged
        if learner is None:
            _LOGGER.warning("Stored learning state is unknown or damaged; learning starts afresh")
            self._learner = Learner(heat_source, self._config)
            self._emitter = EmitterEstimator(exponent)
            self._after_reset()
            return False
        assert isinstance(data, dict)
        self._learner = learner
        self._emitter = EmitterEstimator.from_dict(data.get("emitter"), exponent)
        self._after_reset()
        active = data.get("preheat")
        if isinstance(active, dict):
            try:
                self._active = Preheat(
                    float(active["start_ts"]),
                    float(active["period_ts"]),
                    float(active["target"]),
                    str(active["program"]),
                )
            except (KeyError, TypeError, ValueError):
                self._active = None
        boost = data.get("boost_w")
        if isinstance(boost, list):
            self._boost_heat = [
                float(v) for v in boost[-_BOOST_KEPT:] if isinstance(v, int | float) and v >= 0
            ]
        warmups = data.get("warmups")
        if isinstance(warmups, dict):
            self._warmup_ratios = {
                str(program): [
                    min(2.0, max(0.3, float(v)))
                    for v in values[-_WARMUPS_KEPT:]
                    if isinstance(v, int | float) and math.isfinite(v)
                ]
                for program, values in warmups.items()
                if isinstance(values, list)
            }
        return True

    async def set_emitter_exponent(self, exponent: float) -> None:
        """Fit the emitters with ``exponent`` (another heating system): a fresh emitter fit."""
        if exponent != self._emitter.exponent:
            await self._call(self._set_emitter_exponent, exponent)

    def _set_emitter_exponent(self, exponent: float) -> None:
        self._emitter = EmitterEstimator(exponent)
        self._tuned = None
        self._refresh_wanted = True

    def reset(self) -> None:
        """Forget everything learned (after an erase)."""
        self._learner = Learner(self._learner.heat_source, self._config)
        self._emitter = EmitterEstimator(self._emitter.exponent)
        self._after_reset()

    def _after_reset(self) -> None:
        self._snapshot = Snapshot.empty()
        self._active = None
        self._warmup = None
        self._warmup_ratios = {}
        self._boost_since = None
        self._boost_heat = []
        self._last_index = None
        self._refresh_wanted = True
        self._tuned = None

    # ------------------------------------------------------------ the worker thread

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="learning")

        def timed() -> T:
            cpu = time.thread_time()
            try:
                return fn(*args)
            finally:
                spent = time.thread_time() - cpu
                self.stats["thread_jobs"] += 1
                self.stats["thread_cpu_s"] += spent
                self.stats["thread_cpu_max_s"] = max(self.stats["thread_cpu_max_s"], spent)

        job = self._executor.submit(timed)
        self._pending = job
        return await asyncio.wrap_future(job)

    async def wait_idle(self) -> None:
        """Wait until the worker thread's current job (if any) has finished."""
        pending = self._pending
        if pending is not None and not pending.done():
            with contextlib.suppress(Exception):
                await asyncio.wrap_future(pending)

    def _idle(self) -> bool:
        return self._pending is None or self._pending.done()

    async def observe_async(
        self,
        m: Measurement,
        ctx: PlanContext | None = None,
        *,
        pump: bool | None = None,
        boost: bool | None = None,
    ) -> bool:
        """:meth:`observe` without blocking the event loop: slow ones go to the worker thread."""
        if self._idle() and not self.needs_refresh(m, ctx):
            self.stats["inline"] += 1
            return self.observe(m, ctx, pump=pump, boost=boost)
        return await self._call(lambda: self.observe(m, ctx, pump=pump, boost=boost))

    async def refresh_async(self, ctx: PlanContext | None) -> Snapshot:
        """:meth:`refresh` on the worker thread."""
        return await self._call(self.refresh, ctx)

    async def load(self, repo: LearningRepo, ctx: PlanContext | None = None) -> bool:
        """Restore the stored state (True if there was a usable one) and compute the outputs."""
        entry = await repo.get(STATE_NAME)
        restored = False
        if entry is not None:
            restored = await self._call(self.restore, entry.value)
        else:
            await self._call(self.reset)
        await self.refresh_async(ctx)
        return restored

    async def forget_if_erased(self, repo: LearningRepo) -> bool:
        """Reset when the stored state is gone (an erase); True if it was."""
        if await repo.get(STATE_NAME) is not None:
            return False
        await self._call(self.reset)
        return True

    async def save(self, repo: LearningRepo) -> None:
        """Store the state in ``db.learning`` (serialized on the worker thread)."""
        document = await self._call(self.to_dict)
        await repo.put(STATE_NAME, document)

    async def close(self, repo: LearningRepo | None = None) -> None:
        """Save (when ``repo`` is given) and stop the worker thread."""
        try:
            if repo is not None:
                await self.save(repo)
        finally:
            executor, self._executor = self._executor, None
            if executor is not None:
                pending = self._pending
                if pending is not None and not pending.done():
                    await asyncio.wrap_future(pending)
                executor.shutdown(wait=True)

    # ------------------------------------------------------------ control

    def preheat(self, ctx: PlanContext) -> Preheat | None:
        """The warm-up to run now, if any; starts one when the plan's start has come.

        A warm-up, once begun, holds until its period starts (or the schedule
        changes), so a plan that moves later as the room warms does not stop it.
        """
        if not (self.preheat_enabled and ctx.warmup_ahead):
            self._active = None
            warmup = self._warmup
            if warmup is not None and ctx.now < warmup[2]:
                self._warmup = None  # cancelled (an override, a schedule change): not timed
            return None
        active = self._active
        if (
            active is not None
            and active.period_ts == ctx.next_start
            and active.target == ctx.next_target
        ):
            return active if ctx.now < ctx.next_start else None
        self._active = None
        snap = self._snapshot
        plan = snap.plan
        if (
            plan is None
            or not snap.ready
            or snap.plan_key != (ctx.next_start, ctx.next_target, ctx.next_program)
        ):
            return None
        start = snap.start_ts
        if start is not None and ctx.now >= start and ctx.next_start - ctx.now <= MAX_PREHEAT_S:
            self._active = Preheat(ctx.now, ctx.next_start, ctx.next_target, ctx.next_program)
            self._refresh_wanted = True  # the time to target now counts to the warm target
            arrival = plan.arrival_ts
            self._warmup = None
            if arrival is not None and arrival > ctx.now:
                self._warmup = (
                    ctx.now,
                    arrival,
                    ctx.next_start,
                    ctx.next_target,
                    ctx.next_program,
                )
            return self._active
        return None

    def active_preheat(self, res: core.Resolution, now: float) -> Preheat | None:
        """The warm-up in progress for ``res`` (a resolution without preheat), if any."""
        active = self._active
        if (
            active is None
            or not self.preheat_enabled
            or str(res.source) not in _PREHEAT_SOURCES
            or res.next_start.timestamp() != active.period_ts
            or res.next_target != active.target
            or now >= active.period_ts
        ):
            return None
        return active

    def apply(self, res: core.Resolution, now: float) -> core.Resolution:
        """``res`` with a warm-up in progress applied: the next period's target from its start."""
        active = self.active_preheat(res, now)
        if active is None:
            return res
        return replace(res, target=active.target, program=active.program)

    def boiler_config(
        self,
        base: BoilerControlConfig,
        *,
        max_kw: float | None = None,
        min_modulation_pct: float | None = None,
        target: float | None = None,
    ) -> BoilerControlConfig:
        """``base`` with what was learned: heating curve, gains and the low-load threshold.

        The curve comes from the learned emitters and the learned design
        load (heat-loss coefficient times the curve's design difference),
        shifted by the free heat; for ``target`` the shift is the one that
        makes the curve give the heat holding the target with the building
        as the model sees it now (more while the mass is still cold after a
        warm-up). The low-load threshold is the boiler's minimum output
        (ID 15: capacity times minimum modulation) over that design load.
        Until the model is confident, ``base`` stands.
        """
        snap = self._snapshot
        tuning = snap.tuning
        gains = tuning.gains_k
        if tuning.hold_gains_k is not None and target is not None and target == tuning.hold_target:
            gains = tuning.hold_gains_k
        key = (id(base), max_kw, min_modulation_pct, tuning, snap.emitters, gains)
        if self._tuned is not None and self._tuned[0] == key:
            return self._tuned[1]
        config = base
        design_load = tuning.design_load_w
        if design_load is not None and design_load > 0.0:
            curve = base.curve
            if snap.emitters is not None:
                curve = snap.emitters.curve(design_load, gains, base.curve) or curve
            if curve is base.curve:
                curve = replace(curve, gains_k=round(gains, 2))
            changes: dict[str, Any] = {"curve": curve}
            if max_kw and min_modulation_pct is not None and max_kw > 0.0:
                min_w = max_kw * 1000.0 * max(0.0, min_modulation_pct) / 100.0
                ratio = min_w / design_load
                if ratio > 0.0:
                    changes["min_load_fraction"] = min(0.95, max(0.05, ratio))
                    changes["low_load_flow_fraction"] = min(4.0, ratio)
            try:
                config = replace(base, **changes)
            except ValueError:
                _LOGGER.warning("Learned heating curve rejected; keeping the configured one")
                config = base
        self._tuned = (key, config)
        return config

    # ------------------------------------------------------------ output

    def predictions(self, now: float, res: core.Resolution | None = None) -> dict[str, Any]:
        """The ``GET /api/v1/predictions`` body (also the native state's ``predictions``)."""
        snap = self._snapshot
        available = snap.predictor is not None
        active = None if res is None else self.active_preheat(res, now)
        if not available:
            return {
                "available": False,
                "status": snap.status,
                "updated": snap.updated,
                "predictions": {},
            }
        summary = snap.summary
        plan = snap.plan if self.preheat_enabled else None
        optimal: dict[str, Any] | None = None
        if plan is not None and snap.plan_key is not None:
            period, target, program = snap.plan_key
            start = snap.start_ts if snap.start_ts is not None else plan.start_ts
            optimal = {
                "start_ts": round(start, 1),
                "start": _iso(start),
                "period_start": _iso(period),
                "program": program,
                "target": target,
                "arrival_ts": _round(plan.arrival_ts),
                "margin_s": round(plan.margin_s),
                "on_time": plan.on_time,
                "start_factor": round(snap.start_factor, 3),
            }
        forecast = snap.forecast
        room_forecast: dict[str, Any] | None = None
        if forecast is not None:
            room_forecast = {
                "start_ts": forecast.start_ts,
                "step_s": forecast.step_s,
                "room_c": [round(v, 2) for v in forecast.room_c],
                "target_c": list(snap.forecast_targets),
            }
        tuning = snap.tuning
        emitters = snap.emitters
        values = {
            "learned": bool(summary.get("learned")),
            "confidence": summary.get("confidence"),
            "progress": summary.get("progress"),
            "heat_loss_w_per_k": summary.get("heat_loss_w_per_k"),
            "time_constant_h": summary.get("time_constant_h"),
            "rmse_1h": summary.get("rmse_1h"),
            "rmse_3h": summary.get("rmse_3h"),
            "notes": summary.get("notes", []),
            "room_forecast": room_forecast,
            "target_temperature": snap.target_c,
            "time_to_target_s": _round(snap.time_to_target_s, 0),
            "optimal_start": optimal,
            "preheat_start": None if optimal is None else optimal["start"],
            "preheating": active is not None,
            "preheat_enabled": self.preheat_enabled,
            "balance_offset_k": round(tuning.gains_k, 2),
            "emitters": None
            if emitters is None
            else {
                "coefficient_w": round(emitters.coefficient, 2),
                "exponent": emitters.exponent,
                "loop_w_per_k": round(emitters.loop_w_per_k, 1),
            },
        }
        return {
            "available": True,
            "status": snap.status,
            "updated": snap.updated,
            "predictions": values,
        }


# ---------------------------------------------------------------- the control path


class ThermostatControl:
    """One control step with what was learned: the path the daemon and the benchmark share.

    Given the schedule's resolution (without preheat) it starts a warm-up
    when the plan says so, tunes the boiler controller from the learned
    model and boiler size, and runs the :class:`BoilerController` (OpenTherm)
    or :class:`RelayController` (on/off) on the resulting target. A room
    more than :data:`FLOAT_BAND_K` above its target floats and one more
    than :data:`BOOST_BAND_K` below it warms up at full power: the optimal
    start plans on both.
    """

    def __init__(
        self,
        learning: LearningService,
        *,
        boiler: BoilerControlConfig | None = None,
        relay: RelayController | None = None,
    ) -> None:
        self.learning = learning
        self.base_config = BoilerControlConfig()
        self.set_base(boiler if boiler is not None else BoilerControlConfig())
        self.boiler = BoilerController(self.base_config)
        self.relay = relay if relay is not None else RelayController()

    def set_base(self, boiler: BoilerControlConfig) -> None:
        """Control on ``boiler``'s defaults from the next step (the loop's state is kept)."""
        if boiler.float_band is None:
            boiler = replace(boiler, float_band=FLOAT_BAND_K)
        if boiler.boost_band is None:
            boiler = replace(boiler, boost_band=BOOST_BAND_K)
        self.base_config = boiler

    def target(self, ctx: PlanContext) -> tuple[float, Preheat | None]:
        """The target to control on now, and the warm-up in progress."""
        preheat = self.learning.preheat(ctx)
        return (ctx.target if preheat is None else preheat.target), preheat

    def boiler_step(
        self,
        mono: float,
        ctx: PlanContext,
        *,
        room: float | None,
        outside: float | None,
        bounds: BoilerBounds | None = None,
        max_kw: float | None = None,
        min_modulation_pct: float | None = None,
        dhw_enable: bool = True,
        dhw_setpoint: float | None = None,
    ) -> BoilerCommand:
        """The OpenTherm command for now (``mono``: the clock's monotonic seconds).

        ``dhw_enable`` and ``dhw_setpoint`` (None: leave the boiler's) are the owner's.
        """
        target, _ = self.target(ctx)
        self.boiler.config = self.learning.boiler_config(
            self.base_config, max_kw=max_kw, min_modulation_pct=min_modulation_pct, target=target
        )
        return self.boiler.step(
            mono,
            target=target,
            room=room,
            outside=outside,
            bounds=bounds,
            dhw_setpoint=dhw_setpoint,
            dhw_enable=dhw_enable,
        )

    def relay_step(self, mono: float, ctx: PlanContext, *, room: float | None) -> RelayCommand:
        """The relay output for now."""
        target, _ = self.target(ctx)
        return self.relay.step(mono, target=target, room=room)


__all__ = [
    "FORECAST_HOURS",
    "FORECAST_STEP_S",
    "MAX_PREHEAT_S",
    "PREHEAT_PROGRAMS",
    "SAVE_INTERVAL_S",
    "STATE_NAME",
    "STATE_VERSION",
    "EmitterEstimator",
    "EmitterFit",
    "LearningService",
    "PlanContext",
    "Preheat",
    "Snapshot",
    "ThermostatControl",
    "Tuning",
    "follow_schedule",
]
