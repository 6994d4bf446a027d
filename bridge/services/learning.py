"""Self-learning in the running bridge: the glue between the thermostat and the Learner.

:class:`LearningService` owns the :class:`~bridge.learning.Learner` of one
house. The thermostat feeds it a :class:`~bridge.learning.Measurement` every
sample period, built only from what the bridge measures; the service

* runs the work that can take long (closing a sample period, a refit, the
  forecasts) in its own single worker thread, so the event loop never waits
  for a fit; the cheap observations in between run inline;
* keeps an immutable :class:`~bridge.learning.views.Snapshot` of the outputs
  (model, confidence, room forecast, time to target, the optimal start of
  the next home or comfort period), which the control path and the API read
  without locks;
* learns the emitters (radiators or floor) from the boiler's flow, return
  and heat: :class:`~bridge.learning.emitters.EmitterEstimator`;
* plans and times the warm-ups the control path
  (:class:`~bridge.core.heating.ThermostatControl`) runs, and tunes its
  boiler control with what was learned;
* persists everything as one JSON document in ``db.learning`` (hourly and on
  stop) and restores it on start; a damaged or unknown document gives a
  fresh learner, with one warning.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
import contextlib
from dataclasses import replace
import logging
import math
import time
from typing import TYPE_CHECKING, Any, TypeVar

from bridge.core import state as core
from bridge.core.boiler_config import BoilerControlConfig
from bridge.core.contract import render
from bridge.core.heating import BOOST_BAND_K, PREHEAT_SOURCES, PlanContext, Preheat
from bridge.core.payloads.native import Predictions
from bridge.learning.config import LEARNER_VERSION, LearnerConfig
from bridge.learning.emitters import EmitterEstimator
from bridge.learning.learner import Learner
from bridge.learning.outlook import FORECAST_HOURS, FORECAST_STEP_S, follow_schedule, hold_heat
from bridge.learning.predict import Forecast, StartPlan
from bridge.learning.screening import HeatSource, Measurement
from bridge.learning.views import Snapshot, Tuning, predictions_body
from bridge.learning.weather import OutsideForecast

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
#: No warm-up starts earlier than this before its period.
MAX_PREHEAT_S = 10 * 3600.0
#: Periods further away than this are not planned yet.
_PLAN_AHEAD_S = 16 * 3600.0
#: Heat samples of full-power warm-ups kept, needed, and the minutes skipped at their start.
_BOOST_KEPT = 360
_BOOST_NEEDED = 30
_BOOST_SETTLE_S = 1200.0
#: Warm-ups remembered for the start correction, and how many it needs.
_WARMUPS_KEPT = 12
_WARMUPS_NEEDED = 3
#: Where the full-power warm-up hands over to holding (the boost band), K below the
#: target: the optimal start aims there, and a warm-up that reads it has arrived (the
#: last tenth is the holding control's, and takes the model's slow asymptote).
_AIM_K = BOOST_BAND_K
#: A warm-up not arrived this long after its period's start counts as arrived then.
_ARRIVAL_WAIT_S = 3600.0
#: The start correction never stretches a planned lead more than this.
_MAX_START_FACTOR = 1.5


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


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
        self._outside_forecast: OutsideForecast | None = None
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

    @property
    def outside_forecast(self) -> OutsideForecast | None:
        """The hourly outside forecast the warm-up plan uses (None: none)."""
        return self._outside_forecast

    def set_outside_forecast(self, forecast: OutsideForecast | None) -> None:
        """The hourly outside forecast the warm-up plan uses from its next refresh (None: none).

        Without one (or once it is stale) the plan holds the last outside temperature.
        """
        self._outside_forecast = forecast

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
                weather = self._outside_forecast
                plan = predictor.optimal_start(
                    ctx.next_start,
                    ctx.next_target - _AIM_K,
                    setback_c=ctx.target,
                    max_heat_w=boost_w,
                    outside=None if weather is None else weather.series(ctx.now),
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
                hold = hold_heat(
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
        if m.ts - start <= 120.0 and room >= target - _AIM_K:
            self._warmup = None  # warm already: nothing to time
            return
        if room >= target - _AIM_K or m.ts >= period + _ARRIVAL_WAIT_S:
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
            or str(res.source) not in PREHEAT_SOURCES
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

    def predictions_model(self, now: float, res: core.Resolution | None = None) -> Predictions:
        """The ``GET /api/v1/predictions`` body (also the native state's ``predictions``)."""
        active = None if res is None else self.active_preheat(res, now)
        return predictions_body(
            self._snapshot, preheat_enabled=self.preheat_enabled, preheating=active is not None
        )

    def predictions(self, now: float, res: core.Resolution | None = None) -> dict[str, Any]:
        """:meth:`predictions_model` as JSON."""
        out: dict[str, Any] = render(self.predictions_model(now, res))
        return out


__all__ = [
    "MAX_PREHEAT_S",
    "SAVE_INTERVAL_S",
    "STATE_NAME",
    "STATE_VERSION",
    "LearningService",
]
