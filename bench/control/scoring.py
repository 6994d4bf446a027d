"""The key indicators of CONTROL.md, from a run's trace and the ideal heater."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from bridge.opentherm.sim import BEST_EFFICIENCY

from .runner import HOUR, SAMPLE_S

if TYPE_CHECKING:
    from .runner import Ideal, LearningLog, Trace

COMFORT_BAND_K = 0.3
"""Discomfort counts below target - 0.3 K; a period's temperature counts as reached at it."""
CONDENSING_RETURN_C = 55.0
CONTROLLER_KEYS = (
    "energy_kwh",
    "energy_ratio_to_ideal",
    "discomfort_kh",
    "arrival_late_minutes_p90",
    "overshoot_k_max",
    "starts_per_hour",
    "condensing_share",
    "energy_ratio_to_oracle",
)


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo = math.floor(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def arrivals(trace: Trace, begin: float, end: float, band: float = COMFORT_BAND_K) -> list[float]:
    """Minutes late, per home/comfort period starting in the window (0: warm at its start).

    A period starts where the target rises into a home or comfort program;
    it is reached when the room air is within ``band`` of its target. A
    period never reached counts its whole length.
    """
    t, air, target, occ = trace.t, trace.air, trace.target, trace.occupied
    out: list[float] = []
    i = max(1, trace.index(begin))
    n = len(t)
    while i < n and t[i] < end:
        if occ[i] and target[i] > target[i - 1] + 0.05:
            start, goal = t[i], target[i]
            j = i
            while j < n and occ[j] and target[j] == goal and air[j] < goal - band:
                j += 1
            reached = t[min(j, n - 1)]
            out.append(max(0.0, reached - start) / 60.0)
        i += 1
    return out


def controller_metrics(
    trace: Trace,
    ideal: Ideal,
    begin: float,
    end: float,
    *,
    boiler_min_w: float,
) -> dict[str, Any]:
    """The seven indicators of one run over ``[begin, end)``."""
    a, b = trace.index(begin), trace.index(end)
    t, air, target, occ = trace.t, trace.air, trace.target, trace.occupied
    energy = trace.gas_ch_kwh[b - 1] - trace.gas_ch_kwh[a]
    ideal_gas = ideal.heat_kwh(begin, end) / BEST_EFFICIENCY
    discomfort = 0.0
    overshoot = 0.0
    for i in range(a, b - 1):
        if not occ[i]:
            continue
        dt_h = (t[i + 1] - t[i]) / HOUR
        discomfort += max(0.0, target[i] - COMFORT_BAND_K - air[i]) * dt_h
        overshoot = max(overshoot, air[i] - target[i])
    late = arrivals(trace, begin, end)
    # burner starts in low-load hours: the ideal heater needs less than the boiler's
    # minimum output and the target holds all hour
    starts = 0
    hours = 0
    per_hour = round(HOUR / (t[1] - t[0])) if len(t) > 1 else 120
    hour = begin
    while hour + HOUR <= end:
        i, j = trace.index(hour), trace.index(hour + HOUR)
        if j >= len(t):
            break
        need = ideal.mean_w(hour)
        steady = all(target[k] == target[i] for k in range(i, j + 1, max(1, per_hour // 12)))
        if steady and 0.0 < need < boiler_min_w:
            starts += trace.ch_starts[j] - trace.ch_starts[i]
            hours += 1
        hour += HOUR
    # condensing share of central-heating burner time with the outside above 0 °C
    burn = cond = 0.0
    for i in range(a + 1, b):
        if trace.outside[i - 1] <= 0.0:
            continue
        if trace.dhw_burner_s[i] != trace.dhw_burner_s[i - 1]:
            continue  # hot water in this step: its burner time is not the heating's
        burn += trace.burner_s[i] - trace.burner_s[i - 1]
        cond += trace.condensing_s[i] - trace.condensing_s[i - 1]
    p90 = percentile(late, 0.9)
    return {
        "energy_kwh": round(energy, 2),
        "energy_ratio_to_ideal": round(energy / ideal_gas, 3) if ideal_gas > 0 else None,
        "discomfort_kh": round(discomfort, 2),
        "arrival_late_minutes_p90": None if p90 is None else round(p90, 1),
        "overshoot_k_max": round(overshoot, 2),
        "starts_per_hour": round(starts / hours, 2) if hours else None,
        "condensing_share": round(cond / burn, 3) if burn > 0 else None,
    }


def ratio_to_oracle(controllers: dict[str, dict[str, Any]]) -> None:
    """Add ``energy_ratio_to_oracle`` to every controller's indicators (None without an oracle)."""
    oracle = controllers.get("oracle")
    gas = None if oracle is None else oracle["energy_kwh"]
    for metrics in controllers.values():
        metrics["energy_ratio_to_oracle"] = round(metrics["energy_kwh"] / gas, 3) if gas else None


def extra_metrics(trace: Trace, begin: float, end: float) -> dict[str, Any]:
    """Figures for the printed table only: strict arrival, mean room in occupied periods."""
    strict = percentile(arrivals(trace, begin, end, band=0.1), 0.9)
    a, b = trace.index(begin), trace.index(end)
    occupied = [trace.air[i] - trace.target[i] for i in range(a, b) if trace.occupied[i]]
    return {
        "arrival_late_minutes_p90_strict": None if strict is None else round(strict, 1),
        "mean_error_occupied_k": round(sum(occupied) / len(occupied), 2) if occupied else None,
    }


def forecast_rmse(log: LearningLog, begin: float, end: float) -> dict[str, float | None]:
    """RMSE of the learner's 1 h and 3 h room forecasts from each whole hour in ``[begin, end)``.

    Each forecast starts from the learner's state at that hour with its
    model and is given the heat the boiler then gave and the outside
    temperature the bridge then measured (a forecast of the house, not of
    the controller); it is compared with the simulated room sensor without
    its noise and rounding.
    """
    errors: dict[int, list[float]] = {1: [], 3: []}

    def heat_at(ts: float) -> float:
        return log.heat.get(int(ts // SAMPLE_S), 0.0)

    def outside_at(ts: float) -> float:
        values = log.outside.get(int(ts // SAMPLE_S))
        if not values:
            values = log.outside.get(int(ts // SAMPLE_S) - 1, [0.0])
        return sum(values) / len(values)

    for ts, predictor in log.origins:
        if not begin <= ts < end:
            continue
        later = [log.sensor.get(round(ts + h * HOUR)) for h in (1, 3)]
        if any(v is None for v in later):
            continue
        f = predictor.forecast(3.0, heat=heat_at, outside=outside_at, step_s=SAMPLE_S)
        for h, truth in zip((1, 3), later, strict=True):
            assert truth is not None
            errors[h].append(f.at(ts + h * HOUR) - truth)
    out: dict[str, float | None] = {}
    for h, errs in errors.items():
        out[f"rmse_{h}h"] = (
            round(math.sqrt(sum(e * e for e in errs) / len(errs)), 3) if errs else None
        )
    return out
