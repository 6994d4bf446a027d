"""The learning's outputs as the rest of the bridge reads them.

A :class:`Snapshot` is immutable: the control path and the API read it from
any thread while the learning service's worker computes the next one.
:func:`predictions_body` makes it the ``GET /api/v1/predictions`` payload model.

Pure code: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
import math
from typing import TYPE_CHECKING, Any

from bridge.core.payloads.native import (
    Emitters,
    NoPredictions,
    OptimalStart,
    Predictions,
    PredictionValues,
    RoomForecast,
)

if TYPE_CHECKING:
    from bridge.learning.emitters import EmitterFit
    from bridge.learning.predict import Forecast, Predictor, StartPlan


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


def _iso(ts: float | None) -> str | None:
    if ts is None or not math.isfinite(ts):
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()


def _iso_at(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()


def _value(summary: dict[str, Any], key: str) -> Any:
    """A learner summary figure (its type is the learner's)."""
    return summary.get(key)


def _round(value: float | None, digits: int = 1) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


def predictions_body(snap: Snapshot, *, preheat_enabled: bool, preheating: bool) -> Predictions:
    """The ``GET /api/v1/predictions`` body for ``snap``.

    ``preheat_enabled``: the owner's option; ``preheating``: a warm-up is in progress.
    """
    if snap.predictor is None:
        return Predictions(
            available=False, status=snap.status, updated=snap.updated, predictions=NoPredictions()
        )
    summary = snap.summary
    plan = snap.plan if preheat_enabled else None
    optimal: OptimalStart | None = None
    if plan is not None and snap.plan_key is not None:
        period, target, program = snap.plan_key
        start = snap.start_ts if snap.start_ts is not None else plan.start_ts
        optimal = OptimalStart(
            start_ts=round(start, 1),
            start=_iso_at(start),
            period_start=_iso_at(period),
            program=program,
            target=target,
            arrival_ts=_round(plan.arrival_ts),
            margin_s=round(plan.margin_s),
            on_time=plan.on_time,
            start_factor=round(snap.start_factor, 3),
        )
    forecast = snap.forecast
    room_forecast: RoomForecast | None = None
    if forecast is not None:
        room_forecast = RoomForecast(
            start_ts=forecast.start_ts,
            step_s=forecast.step_s,
            room_c=[round(v, 2) for v in forecast.room_c],
            target_c=list(snap.forecast_targets),
        )
    tuning = snap.tuning
    emitters = snap.emitters
    values = PredictionValues(
        learned=bool(summary.get("learned")),
        confidence=_value(summary, "confidence"),
        progress=_value(summary, "progress"),
        heat_loss_w_per_k=_value(summary, "heat_loss_w_per_k"),
        time_constant_h=_value(summary, "time_constant_h"),
        rmse_1h=summary.get("rmse_1h"),
        rmse_3h=summary.get("rmse_3h"),
        notes=summary.get("notes", []),
        room_forecast=room_forecast,
        target_temperature=snap.target_c,
        time_to_target_s=_round(snap.time_to_target_s, 0),
        optimal_start=optimal,
        preheat_start=None if optimal is None else optimal.start,
        preheating=preheating,
        preheat_enabled=preheat_enabled,
        balance_offset_k=round(tuning.gains_k, 2),
        emitters=None
        if emitters is None
        else Emitters(
            coefficient_w=round(emitters.coefficient, 2),
            exponent=emitters.exponent,
            loop_w_per_k=round(emitters.loop_w_per_k, 1),
        ),
    )
    return Predictions(available=True, status=snap.status, updated=snap.updated, predictions=values)


__all__ = ["Snapshot", "Tuning", "predictions_body"]
