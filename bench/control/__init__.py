"""The control benchmark: every controller on every simulated house, same weather, same schedule.

Run ``python -m bench.control [--json PATH] [--quick] [--plots DIR]`` (or
``scripts/bench control``).

Protocol
    * Houses: every profile of the simulator (``new_build``,
      ``terraced_1970s``, ``old_draughty``, ``underfloor``) and any brought
      with ``--house-module MODULE:FACTORY`` (the house protocol of
      ``docs/learning.md``; :mod:`bench.control.five_node` is an example), each with the
      simulated 24 kW condensing boiler (20 % minimum modulation), household
      hot-water taps, the noisy 0.1 °C room sensor, and seeded synthetic
      Dutch winter weather from Thursday 1 January 2026 (seed 1 unless
      ``--seed``); the same seed for every controller.
    * Schedule (Europe/Amsterdam): weekdays comfort (21 °C) 06:30-08:30 and
      home (19.5 °C) 17:00-22:30, away (15 °C) by day and night; weekends
      home 08:00-23:00.
    * Controllers (:mod:`bench.control.controllers`): ``thermosmart``, the
      bridge's own control path (the daemon's ThermostatControl, learner
      and optimal start, stepped every 30 s on a virtual clock against the
      simulator, fed a measurement every 60 s, with its maximum CH
      setpoint set to the house's highest flow, the bound the oracle has);
      ``onoff``, a 0.3 K
      hysteresis with a fixed 70 °C flow; ``curve``, a fixed weather curve
      without room feedback or early start. Two more at like comfort:
      ``thermosmart_no_preheat`` (ours with optimal start off: it heats at
      each period's start, as late as the baselines) and ``onoff_early``
      (the on/off thermostat with every rise of the schedule moved earlier
      by the shortest lead of :data:`LEADS_H` that makes it on time over
      days 1-7, as an owner would tune it; the table shows the lead).
      ``oracle`` (:mod:`bench.control.oracle`): the least gas that keeps the
      comfort rule with perfect knowledge, planned from half a day before
      the scored week and replayed through the simulator (the plain on/off
      thermostat before it). ``thermosmart`` is given the synthetic
      weather's hourly forecast with a lead-growing error
      (:func:`~bench.control.runner.weather_forecast`);
      ``thermosmart_no_forecast`` is ours without it.
    * Learning: ours starts with nothing learned and preheat on; until its
      model is confident it heats at each period's start (no preheat). Week
      one (days 0-7) is learning for every controller alike; the control
      indicators are scored on week two (days 7-14). Ours runs on to day 16
      for the forecast score.
    * Learning (``learning``): from every whole hour of days 1-3 (``1d``),
      3-5 (``3d``), 7-9 (``7d``) and 14-16 (``14d``) the learner's 1 h and
      3 h room forecast, given the heat and outside temperature that then
      came, against the room sensor without noise; and how late ours is warm
      for home and comfort periods (p90) in each of those windows and over
      all of days 3-16 (``late_p90_minutes_from_3d``).
    * Indicators (:mod:`bench.control.scoring`), over week two: gas for
      heating (kWh; hot water excluded) and its ratio to the ideal: an
      ideal heater putting heat straight into the room air so that it
      follows the schedule's target exactly, at the boiler's best
      efficiency; discomfort (K·h below target - 0.3 K in home and comfort
      periods); arrival (minutes late until the room air is within 0.3 K of
      each home or comfort period's target, p90); overshoot (max K above
      target in home and comfort periods); burner starts per hour in
      low-load hours (the ideal heater needs less than the boiler's minimum
      output and the target holds all hour); condensing share (heating
      burner time with return water below 55 °C while it is above 0 °C
      outside); gas as a ratio to the oracle's.
    * Robustness (``robustness``): every controller again per variant of
      :func:`variants`: two more seeds, a 0.5 °C-step and a ±0.2 K-noise
      room sensor.
    * ``--quick``: one house (``terraced_1970s``), two days, scored on the
      second; no forecast score (null), no robustness variants.

The learner sees only what the bridge measures; the simulator's truth is
used for scoring, the fixed curve's installer settings and the oracle only.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from typing import Any

from bridge.opentherm.sim import PROFILE_NAMES, BoilerSpec

from .controllers import CONTROLLER_NAMES
from .oracle import OracleController, network_of
from .runner import (
    DAY,
    DEFAULT_SENSOR,
    HOUR,
    ORACLE_SETBACK,
    START,
    Ideal,
    Sensor,
    Trace,
    house_spec,
    ideal,
    simulate,
)
from .scoring import (
    arrivals,
    controller_metrics,
    extra_metrics,
    forecast_rmse,
    percentile,
    ratio_to_oracle,
)

QUICK_HOUSE = "terraced_1970s"


def _days(quick: bool) -> tuple[float, float, float]:
    """(score from, score to, ours runs to), in days."""
    return (1.0, 2.0, 2.0) if quick else (7.0, 14.0, 16.0)


LEARNING_DAYS = (1.0, 3.0, 7.0, 14.0)
"""Days of learning after which the forecast and warm-ups are scored (each over two days)."""
ORACLE_LEAD_D = 0.5
"""The oracle plans from this long before the scored week (the evening before it), so that
the week's first morning is not decided by the house it inherits."""
LEADS_H = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0)
"""The leads an owner of ``onoff_early`` tries, shortest first."""
ON_TIME_MINUTES = 10.0


def pick_lead(
    house: str,
    *,
    seed: int,
    best: Ideal,
    begin_d: float,
    end_d: float,
    sensor: Sensor = DEFAULT_SENSOR,
) -> float:
    """The shortest lead (h) that makes the early on/off thermostat on time over the days given.

    On time: p90 arrival at most :data:`ON_TIME_MINUTES` late; the longest lead tried
    when none is. Chosen on the learning week, so the scored week is not the one it was
    tuned on. A longer lead is never later, so the leads are bisected.
    """
    spec = BoilerSpec()
    begin, end = START + begin_d * DAY, START + end_d * DAY

    def on_time(lead_h: float) -> bool:
        trace, _, _ = simulate(
            house,
            "onoff_early",
            seed=seed,
            days=end_d,
            record_from=max(0.0, begin_d - 1.0),
            lead_s=lead_h * HOUR,
            sensor=sensor,
        )
        late = controller_metrics(trace, best, begin, end, boiler_min_w=spec.min_w)
        p90 = late["arrival_late_minutes_p90"]
        return p90 is not None and p90 <= ON_TIME_MINUTES

    lo, hi = 0, len(LEADS_H) - 1  # the answer is in LEADS_H[lo..hi]
    while lo < hi:
        mid = (lo + hi) // 2
        if on_time(LEADS_H[mid]):
            hi = mid
        else:
            lo = mid + 1
    return LEADS_H[lo]


def run_house(
    house: str,
    *,
    seed: int = 1,
    quick: bool = False,
    sensor: Sensor = DEFAULT_SENSOR,
    setback_oracle: bool = False,
) -> dict[str, Any]:
    """Every controller on one house: its JSON entry, the table extras and the traces.

    ``setback_oracle``: also plan and replay the oracle that holds the setback
    (:data:`~bench.control.runner.ORACLE_SETBACK`), under ``oracle.holding_setback``.
    """
    begin_d, end_d, ours_d = _days(quick)
    begin, end = START + begin_d * DAY, START + end_d * DAY
    best = ideal(house, seed=seed, days=ours_d)
    spec = BoilerSpec()
    controllers: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    traces: dict[str, Trace] = {}
    learning: dict[str, Any] = {
        f"{d:g}d": {"rmse_1h": None, "rmse_3h": None, "late_p90_minutes": None}
        for d in LEARNING_DAYS
    }
    learning["late_p90_minutes_from_3d"] = None
    oracle: dict[str, Any] | None = None
    held: dict[str, Any] | None = None
    plannable = network_of(house_spec(house)) is not None
    extra = (ORACLE_SETBACK,) if setback_oracle and not quick else ()
    for name in (*CONTROLLER_NAMES, *extra):
        planned = name in ("oracle", ORACLE_SETBACK)
        if planned and not plannable:
            continue  # a house that tells no heat network has no oracle
        ours = name == "thermosmart"
        windows = () if quick or not ours else tuple((d, d + 2.0) for d in LEARNING_DAYS)
        lead_h = None
        if name == "onoff_early":
            # tuned on the days before the scored ones (day 0, the house settling, only
            # when there is nothing else)
            lead_h = pick_lead(
                house,
                seed=seed,
                best=best,
                begin_d=1.0 if begin_d > 1.0 else 0.0,
                end_d=begin_d,
                sensor=sensor,
            )
        trace, log, controller = simulate(
            house,
            name,
            seed=seed,
            days=ours_d if ours else end_d,
            record_from=LEARNING_DAYS[0] if windows else max(0.0, begin_d - 1.0),
            score_windows=windows,
            lead_s=0.0 if lead_h is None else lead_h * HOUR,
            window=(begin_d - ORACLE_LEAD_D, end_d) if planned else None,
            sensor=sensor,
        )
        metrics = controller_metrics(trace, best, begin, end, boiler_min_w=spec.min_w)
        if name == ORACLE_SETBACK:
            held = metrics  # context for the oracle's figures, not a controller of the table
            continue
        controllers[name] = metrics
        plan = controller.plan if isinstance(controller, OracleController) else None
        if plan is not None:
            oracle = plan.figures(begin, end)
        extras[name] = extra_metrics(trace, begin, end)
        extras[name]["lead_h"] = lead_h
        traces[name] = trace
        if ours and log is not None:
            for d in LEARNING_DAYS:
                a, b = START + d * DAY, START + (d + 2.0) * DAY
                late = percentile(arrivals(trace, a, b), 0.9)
                learning[f"{d:g}d"] = {
                    **forecast_rmse(log, a, b),
                    "late_p90_minutes": None if late is None else round(late, 1),
                }
            late = percentile(arrivals(trace, START + 3 * DAY, START + ours_d * DAY), 0.9)
            learning["late_p90_minutes_from_3d"] = None if late is None else round(late, 1)
    ratio_to_oracle(controllers)
    if oracle is not None:
        replayed = controllers["oracle"]["energy_kwh"]
        solver = oracle["solver_gas_kwh"]
        oracle["replayed_gas_kwh"] = replayed
        oracle["gas_replayed_over_solver"] = round(replayed / solver, 4) if solver else None
        oracle["replayed_discomfort_kh"] = controllers["oracle"]["discomfort_kh"]
        if held is not None:
            gas, ours_gas = held["energy_kwh"], controllers["thermosmart"]["energy_kwh"]
            oracle["holding_setback"] = {
                "energy_kwh": gas,
                "discomfort_kh": held["discomfort_kh"],
                "energy_ratio_to_oracle": round(gas / replayed, 4) if replayed else None,
                "thermosmart_ratio": round(ours_gas / gas, 4) if gas else None,
            }
    entry = {
        "radiators": house_spec(house).emitter.kind != "underfloor",
        "controllers": controllers,
        "learning": learning,
        "oracle": oracle,
        "forecast": forecast_gain(controllers),
    }
    return {"entry": entry, "extras": extras, "traces": traces}


def variants(seed: int) -> dict[str, tuple[int, Sensor]]:
    """The robustness variants of a run with ``seed``: name -> (seed, room sensor).

    Two more weather and household seeds, a room sensor that reports in 0.5 °C steps (as
    many thermostats and radiator valves do) and one with ±0.2 K noise (standard deviation).
    """
    return {
        f"seed{seed + 1}": (seed + 1, Sensor()),
        f"seed{seed + 2}": (seed + 2, Sensor()),
        "sensor_0.5": (seed, Sensor(resolution_c=0.5)),
        "noise_0.2": (seed, Sensor(noise_sd_c=0.2)),
    }


VARIANT_NAMES = tuple(n for n in variants(1) if not n.startswith("seed"))
"""The sensor variants (the seed variants are named by their seed)."""


def forecast_gain(controllers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What the weather forecast gives ours: its gas against ours without, and both lateness."""
    with_, without = controllers["thermosmart"], controllers["thermosmart_no_forecast"]
    gas = without["energy_kwh"]
    return {
        "gas_ratio_to_no_forecast": round(with_["energy_kwh"] / gas, 4) if gas else None,
        "late_p90_minutes": with_["arrival_late_minutes_p90"],
        "late_p90_minutes_no_forecast": without["arrival_late_minutes_p90"],
        "discomfort_kh": with_["discomfort_kh"],
        "discomfort_kh_no_forecast": without["discomfort_kh"],
    }


def _run_one(
    args: tuple[str, str | None, int, bool, Sensor],
) -> tuple[str, str | None, dict[str, Any]]:
    house, variant, seed, quick, sensor = args
    result = run_house(house, seed=seed, quick=quick, sensor=sensor, setback_oracle=variant is None)
    if variant is not None:
        result["traces"] = {}  # only the houses themselves are plotted
    return house, variant, result


def run(
    *,
    seed: int = 1,
    quick: bool = False,
    houses: tuple[str, ...] | None = None,
    jobs: int = 1,
    robustness: tuple[str, ...] = (),
) -> dict[str, dict[str, Any]]:
    """Every house (one in quick mode), in parallel processes when ``jobs`` > 1.

    ``houses``: simulator profile names or ``MODULE:FACTORY`` references
    (:func:`~bench.control.runner.house_spec`); the results are keyed by the houses' names.

    ``robustness``: the names of :func:`variants` to run too; each goes, without its
    traces, under ``robustness`` in its house's entry.
    """
    names = houses or ((QUICK_HOUSE,) if quick else PROFILE_NAMES)
    known = variants(seed)
    unknown = [v for v in robustness if v not in known]
    if unknown:
        raise ValueError(f"unknown variant {unknown[0]!r}; known: {', '.join(known)}")
    tasks: list[tuple[str, str | None, int, bool, Sensor]] = []
    for h in names:
        tasks.append((h, None, seed, quick, Sensor()))
        tasks += [(h, v, *known[v][:1], quick, known[v][1]) for v in robustness]
    if jobs <= 1 or len(tasks) == 1:
        done = [_run_one(t) for t in tasks]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            done = list(pool.map(_run_one, tasks))
    named = {ref: house_spec(ref).name for ref in names}
    results = {named[ref]: r for ref, variant, r in done if variant is None}
    for ref, variant, r in done:
        if variant is not None:
            entry = r["entry"]
            house = named[ref]
            results[house]["entry"].setdefault("robustness", {})[variant] = {
                key: entry[key] for key in ("controllers", "learning", "oracle", "forecast")
            }
            results[house].setdefault("variant_extras", {})[variant] = r["extras"]
    return results


__all__ = ["QUICK_HOUSE", "run", "run_house", "variants"]
