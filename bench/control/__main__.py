"""``python -m bench.control``: run the control benchmark, print a table, write JSON and plots."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import json
import os
from pathlib import Path
import platform
import time
from typing import Any

from bridge.opentherm.sim import PROFILE_NAMES

from . import QUICK_HOUSE, __doc__ as package_doc, run, variants
from .runner import DAY, HOUR, START, UTC_OFFSET_H, house_spec


def _fmt(value: Any, spec: str) -> str:
    if value is None:
        width = spec.split(".", maxsplit=1)[0]
        return "-".rjust(int(width)) if width.isdigit() else "-"
    return format(value, spec)


def table(results: dict[str, dict[str, Any]]) -> str:
    """The results as a text table."""
    rows = [
        f"{'house':<15} {'controller':<22} {'gas kWh':>8} {'/ideal':>7} {'/oracle':>7} "
        f"{'disc Kh':>8} "
        f"{'late p90':>8} {'strict':>7} {'over K':>7} {'starts/h':>8} {'cond':>6} "
        f"{'mean dT':>8}"
    ]
    for house, r in results.items():
        entry, extras = r["entry"], r["extras"]
        for name, m in entry["controllers"].items():
            x = extras[name]
            label = name if x.get("lead_h") is None else f"{name} -{x['lead_h']:g}h"
            rows.append(
                f"{house:<15} {label:<22} {_fmt(m['energy_kwh'], '8.1f')} "
                f"{_fmt(m['energy_ratio_to_ideal'], '7.3f')} "
                f"{_fmt(m['energy_ratio_to_oracle'], '7.3f')} {_fmt(m['discomfort_kh'], '8.2f')} "
                f"{_fmt(m['arrival_late_minutes_p90'], '8.1f')} "
                f"{_fmt(x['arrival_late_minutes_p90_strict'], '7.1f')} "
                f"{_fmt(m['overshoot_k_max'], '7.2f')} {_fmt(m['starts_per_hour'], '8.2f')} "
                f"{_fmt(m['condensing_share'], '6.3f')} {_fmt(x['mean_error_occupied_k'], '8.2f')}"
            )
        plan = entry.get("oracle")
        if plan is not None:
            rows.append(
                f"{house:<15} {'oracle plan':<22} solver {plan['solver_gas_kwh']:.1f} kWh "
                f"(LP {plan['lp_gas_kwh']:.1f}), replayed {plan['replayed_gas_kwh']:.1f} kWh "
                f"(x{_fmt(plan['gas_replayed_over_solver'], '.4f')}); discomfort solver "
                f"{plan['solver_discomfort_kh']:.2f} K·h, replayed "
                f"{plan['replayed_discomfort_kh']:.2f} K·h; {plan['iterations']} LPs, "
                f"{plan['solve_s']:.0f} s"
            )
            held = plan.get("holding_setback")
            if held is not None:
                rows.append(
                    f"{house:<15} {'oracle holding setback':<22} {held['energy_kwh']:.1f} kWh "
                    f"(x{_fmt(held['energy_ratio_to_oracle'], '.4f')} the oracle), discomfort "
                    f"{held['discomfort_kh']:.2f} K·h; ours "
                    f"x{_fmt(held['thermosmart_ratio'], '.4f')} of it"
                )
        gain = entry["forecast"]
        rows.append(
            f"{house:<15} {'weather forecast':<22} gas x{_fmt(gain['gas_ratio_to_no_forecast'], '.4f')} "
            f"of ours without it; late p90 {_fmt(gain['late_p90_minutes'], '.1f')} min "
            f"(without {_fmt(gain['late_p90_minutes_no_forecast'], '.1f')}), discomfort "
            f"{_fmt(gain['discomfort_kh'], '.2f')} K·h (without "
            f"{_fmt(gain['discomfort_kh_no_forecast'], '.2f')})"
        )
        learn = entry["learning"]
        parts = [
            f"{key}: {_fmt(v['rmse_1h'], '.3f')}/{_fmt(v['rmse_3h'], '.3f')} K "
            f"late {_fmt(v['late_p90_minutes'], '.0f')} min"
            for key, v in learn.items()
            if isinstance(v, dict)
        ]
        rows.append(
            f"{house:<15} {'learning 1h/3h rmse':<22} {'; '.join(parts)}; late p90 from day 3: "
            f"{_fmt(learn['late_p90_minutes_from_3d'], '.0f')} min"
        )
    return "\n".join(rows)


ROBUST_SHOWN = ("thermosmart", "onoff_early", "oracle")


def robustness_table(results: dict[str, dict[str, Any]]) -> str:
    """The robustness variants as a text table (ours, early on/off and the oracle)."""
    rows = [
        f"{'house':<15} {'variant':<11} {'controller':<16} {'gas kWh':>8} {'/oracle':>7} "
        f"{'disc Kh':>8} {'late p90':>8} {'starts/h':>8} {'rmse 3h 3d':>10} {'late 3d+':>8}"
    ]
    for house, r in results.items():
        for variant, v in r["entry"].get("robustness", {}).items():
            learn = v["learning"]
            for name in ROBUST_SHOWN:
                m = v["controllers"][name]
                ours = name == "thermosmart"
                rows.append(
                    f"{house:<15} {variant:<11} {name:<16} {_fmt(m['energy_kwh'], '8.1f')} "
                    f"{_fmt(m['energy_ratio_to_oracle'], '7.3f')} "
                    f"{_fmt(m['discomfort_kh'], '8.2f')} "
                    f"{_fmt(m['arrival_late_minutes_p90'], '8.1f')} "
                    f"{_fmt(m['starts_per_hour'], '8.2f')} "
                    f"{_fmt(learn['3d']['rmse_3h'] if ours else None, '10.3f')} "
                    f"{_fmt(learn['late_p90_minutes_from_3d'] if ours else None, '8.1f')}"
                )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.control", description=(package_doc or "").split("\n")[0]
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    parser.add_argument("--quick", action="store_true", help="one house, two days (a smoke test)")
    parser.add_argument(
        "--plots", type=Path, metavar="DIR", help="save PNG plots of a day per house"
    )
    parser.add_argument("--seed", type=int, default=1, help="weather and household seed (1)")
    parser.add_argument(
        "--house", action="append", choices=PROFILE_NAMES, help="only this house (repeatable)"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="houses run in parallel processes (default: CPUs, at most 4)",
    )
    parser.add_argument(
        "--house-module",
        action="append",
        metavar="MODULE:FACTORY",
        help="also a house from outside the project: FACTORY() in MODULE returns it "
        "(the house protocol of docs/learning.md; repeatable)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        choices=tuple(variants(1)),
        help="only this robustness variant (repeatable; default: all, none with --quick; "
        "seed variants are named for --seed 1)",
    )
    parser.add_argument(
        "--no-variants", action="store_true", help="no robustness variants (the houses only)"
    )
    args = parser.parse_args(argv)
    all_variants = tuple(variants(args.seed))
    if args.no_variants or (args.quick and not args.variant):
        chosen: tuple[str, ...] = ()
    elif args.variant:
        # the seed variants are the next seeds after --seed, whatever it is
        names = dict(zip(variants(1), all_variants, strict=True))
        chosen = tuple(names[v] for v in args.variant)
    else:
        chosen = all_variants
    houses: tuple[str, ...] | None = tuple(args.house) if args.house else None
    if args.house_module:
        for ref in args.house_module:
            try:
                house_spec(ref)
            except ValueError as err:
                parser.error(str(err))
        base = houses or ((QUICK_HOUSE,) if args.quick else PROFILE_NAMES)
        houses = (*base, *args.house_module)
    began = time.perf_counter()
    results = run(
        seed=args.seed,
        quick=args.quick,
        houses=houses,
        jobs=args.jobs,
        robustness=chosen,
    )
    took = time.perf_counter() - began
    mode = "quick: one house, scored on day 2" if args.quick else "scored on days 7-14"
    print(
        f"Control benchmark, Python {platform.python_version()}, seed {args.seed}, {mode}, "
        f"{took:.0f} s"
    )
    print(table(results))
    if chosen:
        print()
        print(f"Robustness: {', '.join(chosen)}")
        print(robustness_table(results))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        doc = {"houses": {house: r["entry"] for house, r in results.items()}}
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    if args.plots is not None:
        from .plots import coldest_day, plot_against_oracle, plot_day  # matplotlib only now

        day = 1 if args.quick else 8  # Friday 2 or 9 January
        local_midnight = START + day * DAY - UTC_OFFSET_H * HOUR
        scored = (
            (START + DAY, START + 2 * DAY) if args.quick else (START + 7 * DAY, START + 14 * DAY)
        )
        for house, r in results.items():
            traces = r["traces"]
            print(f"plot: {plot_day(house, traces, local_midnight, args.plots)}")
            if "oracle" in traces:
                cold = coldest_day(traces["oracle"], *scored)
                print(f"plot: {plot_against_oracle(house, traces, cold, args.plots)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
