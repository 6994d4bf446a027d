"""PNG plots of a typical day per house: room vs target, flow temperature, modulation."""

from __future__ import annotations

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
