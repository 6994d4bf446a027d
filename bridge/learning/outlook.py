"""The room's outlook when the thermostat follows its schedule.

:func:`follow_schedule` forecasts the room over the next hours as the
thermostat would drive it: below the target a warm-up at full power, at or
above it the heat that holds the target (:func:`hold_heat`). The learning
service shows it next to the schedule's targets and works out the heating
curve's balance offset from :func:`hold_heat`.

Pure code: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
import math

from bridge.learning.predict import Forecast, Predictor

#: The room forecast: how far and at what step.
FORECAST_HOURS = 6.0
FORECAST_STEP_S = 900.0
#: The forecast's inner step (heat decisions), s.
_FORECAST_SUBSTEP_S = 300.0


def hold_heat(
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
            q = hold_heat(predictor, x, target, ts, cap)
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


__all__ = ["FORECAST_HOURS", "FORECAST_STEP_S", "follow_schedule", "hold_heat"]
