"""PNG plots per house: a typical day for ours and the baselines, and ours beside the oracle.

:func:`plot_day` shows room against target, flow temperature and modulation of
ours and the baselines on a weekday; :func:`plot_against_oracle` shows ours
and the oracle on the scored week's coldest day, with the return temperature.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from .runner import HOUR, UTC_OFFSET_H

if TYPE_CHECKING:
    from .runner import Trace

COLOURS = {"thermosmart": "tab:red", "onoff": "tab:blue", "curve": "tab:green"}


def plot_day(house: str, traces: dict[str, Trace], day_start: float, out_dir: Path) -> Path:
    """One PNG of the local day from ``day_start`` (Unix s, local midnight) for every controller."""
    import matplotlib  # only needed with --plots

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(11, 9), sharex=True)
    room_ax, flow_ax, mod_ax = axes
    target_drawn = False
    for name, trace in traces.items():
        if name not in COLOURS:
            continue  # the plot shows ours and the baselines
        a, b = trace.index(day_start), trace.index(day_start + 24 * HOUR)
        hours = [(trace.t[i] - day_start) / HOUR for i in range(a, b)]
        colour = COLOURS.get(name)
        if not target_drawn:
            room_ax.step(
                hours, list(trace.target[a:b]), where="post", color="black", lw=1.2,
                label="target (schedule)",
            )  # fmt: skip
            target_drawn = True
        if name == "thermosmart":
            room_ax.step(
                hours, list(trace.controlled_target[a:b]), where="post", color=colour, lw=0.8,
                ls=":", label="thermosmart target (with preheat)",
            )  # fmt: skip
        room_ax.plot(hours, list(trace.air[a:b]), color=colour, lw=1.2, label=f"{name} room")
        flow_ax.plot(hours, list(trace.flow[a:b]), color=colour, lw=0.9, label=f"{name} flow")
        mods = [v if v >= 0.0 else float("nan") for v in trace.modulation[a:b]]
        mod_ax.plot(hours, mods, color=colour, lw=0.9, label=name)
    room_ax.set_ylabel("room air, °C")
    room_ax.legend(loc="upper left", fontsize=8)
    room_ax.grid(alpha=0.3)
    flow_ax.set_ylabel("flow, °C")
    flow_ax.legend(loc="upper left", fontsize=8)
    flow_ax.grid(alpha=0.3)
    mod_ax.set_ylabel("modulation, % (flame on)")
    mod_ax.set_xlabel(f"local time (UTC+{UTC_OFFSET_H:g}), h")
    mod_ax.set_xlim(0, 24)
    mod_ax.legend(loc="upper left", fontsize=8)
    mod_ax.grid(alpha=0.3)
    fig.suptitle(f"{house}: a weekday of the scored week")
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"control_{house}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def coldest_day(trace: Trace, begin: float, end: float) -> float:
    """The local midnight (Unix s) of the whole local day in ``[begin, end)`` coldest outside."""
    offset = UTC_OFFSET_H * HOUR
    first = math.ceil((begin + offset) / (24 * HOUR)) * 24 * HOUR - offset
    best, best_mean = first - 24 * HOUR, math.inf  # the day around begin when none fits
    day = first
    while day + 24 * HOUR <= end:
        a, b = trace.index(day), trace.index(day + 24 * HOUR)
        if b > a:
            mean = sum(trace.outside[a:b]) / (b - a)
            if mean < best_mean:
                best, best_mean = day, mean
        day += 24 * HOUR
    return best


def plot_against_oracle(
    house: str, traces: dict[str, Trace], day_start: float, out_dir: Path
) -> Path | None:
    """Ours beside the oracle on one local day: room and target, flow and return, burner.

    None when the run has no oracle (a house that tells no heat network).
    """
    if "oracle" not in traces or "thermosmart" not in traces:
        return None
    import matplotlib  # only needed with --plots

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(11, 9), sharex=True)
    room_ax, water_ax, mod_ax = axes
    colours = {"thermosmart": "tab:red", "oracle": "tab:purple"}
    for n, (name, colour) in enumerate(colours.items()):
        trace = traces[name]
        a, b = trace.index(day_start), trace.index(day_start + 24 * HOUR)
        hours = [(trace.t[i] - day_start) / HOUR for i in range(a, b)]
        if n == 0:
            room_ax.step(
                hours, list(trace.target[a:b]), where="post", color="black", lw=1.2,
                label="target (schedule)",
            )  # fmt: skip
            band = [v - 0.3 if trace.occupied[a + i] else float("nan")
                    for i, v in enumerate(trace.target[a:b])]  # fmt: skip
            room_ax.step(hours, band, where="post", color="grey", lw=0.8, ls="--",
                         label="comfort band's lower edge")  # fmt: skip
        room_ax.plot(hours, list(trace.air[a:b]), color=colour, lw=1.2, label=f"{name} room")
        water_ax.plot(hours, list(trace.flow[a:b]), color=colour, lw=0.9, label=f"{name} flow")
        water_ax.plot(
            hours, list(trace.ret[a:b]), color=colour, lw=0.9, ls=":", label=f"{name} return"
        )
        mods = [v if v >= 0.0 else float("nan") for v in trace.modulation[a:b]]
        mod_ax.plot(hours, mods, color=colour, lw=0.9, label=f"{name} (flame on)")
    water_ax.axhline(55.0, color="grey", lw=0.6, ls="--")
    room_ax.set_ylabel("room air, °C")
    water_ax.set_ylabel("flow / return, °C (condensing below 55)")
    mod_ax.set_ylabel("modulation, %")
    mod_ax.set_xlabel(f"local time (UTC+{UTC_OFFSET_H:g}), h")
    mod_ax.set_xlim(0, 24)
    for ax in axes:
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
    outside = traces["oracle"].outside
    a = traces["oracle"].index(day_start)
    b = traces["oracle"].index(day_start + 24 * HOUR)
    mean_out = sum(outside[a:b]) / max(1, b - a)
    fig.suptitle(
        f"{house}: ours and the oracle on the scored week's coldest day ({mean_out:.1f} °C)"
    )
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"control_{house}_oracle.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
