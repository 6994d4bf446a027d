"""``python -m bench.control.markdown PATH``: the tables of ``docs/learning.md`` from a JSON result.

The JSON is what ``python -m bench.control --json PATH`` writes; the tables
are printed as Markdown, in the order the page shows them, so the page's
figures are the benchmark's and nothing is typed in by hand.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
import json
from pathlib import Path
from typing import Any

LEARNING_KEYS = ("1d", "3d", "7d", "14d")
"""The learning windows, as the JSON keys them."""


def _num(value: Any, spec: str, unit: str = "") -> str:
    return "-" if value is None else f"{format(value, spec)}{unit}"


def _late(value: Any) -> str:
    return _num(value, ".0f", " min")


def _table(head: Sequence[str], rows: list[list[str]]) -> str:
    lines = [
        "| " + " | ".join(head) + " |",
        "| " + " | ".join("---" for _ in head) + " |",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
    return "\n".join(lines)


def _ours(m: dict[str, Any]) -> str:
    return (
        f"{_num(m['energy_ratio_to_oracle'], '.3f')}, {_num(m['discomfort_kh'], '.2f', ' K·h')}, "
        f"{_late(m['arrival_late_minutes_p90'])}, {_num(m['starts_per_hour'], '.2f')}"
    )


def controllers_table(houses: dict[str, Any]) -> str:
    """Ours against the oracle (and the oracle that holds the setback) and the baselines."""
    rows = []
    for house, entry in houses.items():
        c = entry["controllers"]
        ours, oracle, early = c["thermosmart"], c.get("oracle"), c["onoff_early"]
        late_ = c["thermosmart_no_preheat"]
        held = (entry.get("oracle") or {}).get("holding_setback")
        ours_early = ours["energy_kwh"] / early["energy_kwh"] if early["energy_kwh"] else None
        rows.append(
            [
                house,
                f"{_ours(ours)}, {_num(ours['condensing_share'], '.2f')}",
                "-"
                if oracle is None
                else f"{_num(oracle['energy_ratio_to_ideal'], '.3f')}, "
                f"{_num(oracle['condensing_share'], '.2f')}",
                "-"
                if held is None
                else f"{_num(held['energy_ratio_to_oracle'], '.3f')}; ours "
                f"{_num(held['thermosmart_ratio'], '.3f')}",
                f"{_num(early['energy_ratio_to_oracle'], '.3f')}, "
                f"{_late(early['arrival_late_minutes_p90'])}",
                _num(ours_early, ".3f"),
                f"{_num(late_['energy_ratio_to_oracle'], '.3f')}, "
                f"{_late(late_['arrival_late_minutes_p90'])}",
            ]
        )
    return _table(
        (
            "house",
            "ours: gas / oracle, discomfort, p90 late, starts/h at low load, condensing",
            "oracle: gas / ideal, condensing",
            "oracle holding the setback: gas / oracle; ours / it",
            "early on/off: gas / oracle, p90 late",
            "ours / early on/off",
            "ours without preheat: gas / oracle, p90 late",
        ),
        rows,
    )


def oracle_table(houses: dict[str, Any]) -> str:
    """How tight the oracle's linearisation is."""
    rows = []
    for house, entry in houses.items():
        plan = entry.get("oracle")
        if plan is None:
            continue
        replayed = entry["controllers"]["oracle"]
        rows.append(
            [
                house,
                f"{plan['lp_gas_kwh']:.1f}",
                f"{plan['solver_gas_kwh']:.1f}",
                f"{plan['replayed_gas_kwh']:.1f}",
                _num(plan["gas_replayed_over_solver"], ".4f"),
                f"{plan['solver_discomfort_kh']:.2f}, {plan['replayed_discomfort_kh']:.2f}",
                _late(replayed["arrival_late_minutes_p90"]),
                f"{plan['solve_s']:.0f} s",
            ]
        )
    return _table(
        (
            "house",
            "programme's gas (kWh)",
            "plan in the house model",
            "replayed",
            "replayed / plan",
            "discomfort: plan, replayed (K·h)",
            "p90 late replayed",
            "solve",
        ),
        rows,
    )


def learning_table(houses: dict[str, Any]) -> str:
    """The forecast error after 1, 3, 7 and 14 days and how late ours is warm."""
    rows = []
    for house, entry in houses.items():
        learn = entry["learning"]
        cells = [
            f"{_num(learn[k]['rmse_1h'], '.2f')} / {_num(learn[k]['rmse_3h'], '.2f')}, "
            f"{_late(learn[k]['late_p90_minutes'])}"
            for k in LEARNING_KEYS
        ]
        rows.append([house, *cells, _late(learn["late_p90_minutes_from_3d"])])
    return _table(
        (
            "house",
            "1 h / 3 h forecast RMSE (K) and p90 late after 1 day",
            "3 days",
            "7 days",
            "14 days",
            "p90 late from day 3",
        ),
        rows,
    )


def forecast_table(houses: dict[str, Any]) -> str:
    """What the weather forecast gives ours."""
    rows = [
        [
            house,
            _num(g["gas_ratio_to_no_forecast"], ".4f"),
            f"{_late(g['late_p90_minutes'])}, {_late(g['late_p90_minutes_no_forecast'])}",
            f"{_num(g['discomfort_kh'], '.2f')}, {_num(g['discomfort_kh_no_forecast'], '.2f')}",
        ]
        for house, entry in houses.items()
        for g in (entry["forecast"],)
    ]
    return _table(
        (
            "house",
            "gas with / without the forecast",
            "p90 late with, without",
            "discomfort with, without (K·h)",
        ),
        rows,
    )


def robustness_table(houses: dict[str, Any]) -> str:
    """Every house's variants: ours against the oracle and early on/off, and its learning."""
    rows = []
    for house, entry in houses.items():
        for variant, v in entry.get("robustness", {}).items():
            c, learn = v["controllers"], v["learning"]
            ours, early = c["thermosmart"], c["onoff_early"]
            oracle = c.get("oracle")
            rows.append(
                [
                    f"{house}, {variant}",
                    _ours(ours),
                    f"{_num(early['energy_ratio_to_oracle'], '.3f')}, "
                    f"{_late(early['arrival_late_minutes_p90'])}",
                    _num(
                        ours["energy_kwh"] / early["energy_kwh"] if early["energy_kwh"] else None,
                        ".3f",
                    ),
                    "-" if oracle is None else _num(oracle["discomfort_kh"], ".2f", " K·h"),
                    f"{_num(learn['3d']['rmse_3h'], '.2f', ' K')}, "
                    f"{_late(learn['late_p90_minutes_from_3d'])}",
                ]
            )
    return _table(
        (
            "house, variant",
            "ours: gas / oracle, discomfort, p90 late, starts/h",
            "early on/off: gas / oracle, p90 late",
            "ours / early on/off",
            "oracle discomfort",
            "3 h RMSE after 3 days, p90 late from day 3",
        ),
        rows,
    )


TABLES: tuple[Callable[[dict[str, Any]], str], ...] = (
    controllers_table,
    oracle_table,
    learning_table,
    forecast_table,
    robustness_table,
)
"""The page's tables, in its order."""


def markdown(doc: dict[str, Any]) -> str:
    """Every table of a benchmark result, separated by blank lines."""
    houses = doc["houses"]
    return "\n\n".join(t(houses) for t in TABLES)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the tables of the JSON result given."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.control.markdown", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("path", type=Path, help="a JSON result of python -m bench.control")
    args = parser.parse_args(argv)
    print(markdown(json.loads(args.path.read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
