"""A wall unit's own PID, stock against the bridge's proposal, on the simulator.

``python -m bench.unit_pid [--houses NAME ...] [--learn-days N] [--days N] [--json PATH]
[--save-learning DIR]``

For each simulated house:

1. **Learn.** The real bridge serves a simulated unit (stock PID) over
   loopback on a virtual clock for ``--learn-days`` days, as in the unit
   tests; then its learned house, emitters and PID proposal are read.
2. **Compare.** A fresh simulated house and unit (same seed, so the same
   weather) run ``--days`` days twice, once on the unit's stock PID and once
   on the proposal, both following the same day: 17 °C at night, 20 °C from
   06:00 to 22:00 (local time), sent as the server's target. No bridge is
   needed for this part: the unit is the boiler's master.

``--save-learning DIR`` writes what the bridge learned of each house to
``DIR/<house>_learning.json`` (the document its database keeps): the tests
of the integration start a bridge from the underfloor one.

Per run it reports, over the 20 °C periods: the mean overshoot above 20 °C
(the highest of each period), the minutes from 06:00 until the room is
within 0.2 K, the mean distance from 20 °C after that, and the gas used.
The JSON holds the same per house (:func:`bench.report.write_results`).
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import asdict, dataclass
import json
from pathlib import Path
import sys
import tempfile
from typing import Any

from bridge.opentherm.sim.house import PROFILE_NAMES
from bridge.opentherm.sim.world import SimWorld
from bridge.services.learning import STATE_NAME
from bridge.unit.pid import STOCK_PID
from bridge.unit.protocol import Answer, Pid
from bridge.unit.sim import SimUnit, UnitSettings
from bridge.unit.tuning import BAND_K

from .report import write_results

__all__ = ["DayFigures", "compare_on_simulator", "main", "run_days"]

START = 1_767_225_600.0  # 2026-01-01 00:00 UTC, a Thursday
DAY = 86400.0
NIGHT_C, DAY_C = 17.0, 20.0
DAY_FROM_H, DAY_TO_H = 6.0, 22.0
UTC_OFFSET_H = 1.0
SEED = 4
HWID = "TS000001"
PASSWORD = "bench-pw"
SAMPLE_S = 60.0


@dataclass(frozen=True, slots=True)
class DayFigures:
    """A PID on the simulator over the 20 °C periods of some days."""

    overshoot_k: float
    """Mean of each period's highest room temperature above 20 °C (K)."""
    rise_min: float
    """Mean minutes from 06:00 until the room is within 0.2 K of 20 °C."""
    settled_error_k: float
    """Mean distance from 20 °C after that (K)."""
    gas_kwh: float
    """Gas for heating over the whole run (kWh)."""


def _target_at(ts: float) -> float:
    hour = ((ts + UTC_OFFSET_H * 3600.0) % DAY) / 3600.0
    return DAY_C if DAY_FROM_H <= hour < DAY_TO_H else NIGHT_C


def run_days(house: str, pid: Pid, *, days: int, seed: int = SEED) -> DayFigures:
    """``days`` days (after a day to settle) of the simulated unit on ``pid`` in ``house``."""
    world = SimWorld(house, seed=seed, start=START, initial_room_c=NIGHT_C, dhw_taps=False)
    unit = SimUnit(
        world, hardware_id=HWID, password=PASSWORD, settings=UnitSettings(pid=pid, hot_water=False)
    )
    end = START + (days + 1) * DAY
    scored_from = START + DAY
    gas_at_start: float | None = None
    overshoots: list[float] = []
    rises: list[float] = []
    settled: list[float] = []
    period: tuple[float, float, float | None] | None = None  # (start, highest, arrived)
    ts = START
    while ts < end:
        ts += SAMPLE_S
        target = _target_at(ts)
        unit.apply(Answer(setpoint=target))  # the server's target, as every poll answers
        unit.advance_to(ts)
        if ts < scored_from:
            continue
        truth = world.truth()
        if gas_at_start is None:
            gas_at_start = truth.gas_ch_kwh
        room = truth.room_c
        if target == DAY_C:
            if period is None:
                period = (ts, room - DAY_C, None)
            start, highest, arrived = period
            if arrived is None and abs(room - DAY_C) <= BAND_K:
                arrived = ts
                rises.append((ts - start) / 60.0)
            if arrived is not None:
                settled.append(abs(room - DAY_C))
            period = (start, max(highest, room - DAY_C), arrived)
        elif period is not None:
            overshoots.append(max(0.0, period[1]))
            period = None
    gas = world.truth().gas_ch_kwh - (gas_at_start or 0.0)
    return DayFigures(
        overshoot_k=round(sum(overshoots) / max(1, len(overshoots)), 3),
        rise_min=round(sum(rises) / max(1, len(rises)), 1),
        settled_error_k=round(sum(settled) / max(1, len(settled)), 3),
        gas_kwh=round(gas, 2),
    )


def compare_on_simulator(house: str, proposal: Pid, *, days: int) -> dict[str, DayFigures]:
    """The stock PID and ``proposal`` through the same simulated days."""
    return {
        "stock": run_days(house, STOCK_PID, days=days),
        "proposed": run_days(house, proposal, days=days),
    }


async def learn(house: str, days: float) -> dict[str, Any]:
    """The bridge's PID proposal after ``days`` of serving a simulated unit in ``house``."""
    from bridge.core.clock import VirtualClock
    from tests.bridge.unit_rig import Rig, register, unit_bridge

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        await register(data, HWID, PASSWORD)
        clock = VirtualClock(START)
        world = SimWorld(house, seed=SEED, start=START, outside_sensor=True)
        unit = SimUnit(world, hardware_id=HWID, password=PASSWORD)
        async with unit_bridge(data, clock) as bridge:
            await bridge.thermostat.set_options({"unit_poll_throttle": 10})
            rig = Rig(bridge, clock, unit)
            try:
                await rig.run(days * DAY, step=55)
            finally:
                await rig.close()
            [state] = bridge.native_state()["units"]
            learning = bridge.thermostat.learning
            await learning.save(bridge.db.learning)
            stored = await bridge.db.learning.get(STATE_NAME)
    proposal: dict[str, Any] | None = state.get("pid_proposal")
    return {"proposal": proposal, "learning": None if stored is None else stored.value}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.unit_pid", description=__doc__)
    parser.add_argument("--houses", nargs="+", choices=PROFILE_NAMES, default=list(PROFILE_NAMES))
    parser.add_argument("--learn-days", type=float, default=4.0)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--save-learning", type=Path, default=None, metavar="DIR")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    print(
        f"{'house':<16}{'pid':<10}{'kp':>6}{'ti s':>7}{'td s':>6}"
        f"{'overshoot K':>13}{'rise min':>10}{'error K':>9}{'gas kWh':>9}"
    )
    for house in args.houses:
        learned = asyncio.run(learn(house, args.learn_days))
        proposal = learned["proposal"]
        if args.save_learning is not None:
            args.save_learning.mkdir(parents=True, exist_ok=True)
            target = args.save_learning / f"{house}_learning.json"
            target.write_text(json.dumps(learned["learning"], sort_keys=True) + "\n")
        entry: dict[str, Any] = {"proposal": proposal}
        runs: dict[str, tuple[Pid, DayFigures]] = {
            "stock": (STOCK_PID, run_days(house, STOCK_PID, days=args.days))
        }
        if proposal is not None:
            pid = Pid(**proposal["pid"])
            runs["proposed"] = (pid, run_days(house, pid, days=args.days))
        for name, (pid, figures) in runs.items():
            entry[name] = {"pid": asdict(pid), **asdict(figures)}
            print(
                f"{house:<16}{name:<10}{pid.kp:>6g}{pid.ti:>7g}{pid.td:>6g}"
                f"{figures.overshoot_k:>13.2f}{figures.rise_min:>10.0f}"
                f"{figures.settled_error_k:>9.2f}{figures.gas_kwh:>9.1f}"
            )
        if proposal is None:
            print(f"{house:<16}no proposal: the learned house says the stock PID does well enough")
        results[house] = entry
    if args.json is not None:
        write_results(
            args.json,
            "unit_pid",
            {"learn_days": args.learn_days, "days": args.days, "houses": results},
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
