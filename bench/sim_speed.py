"""How much faster than real time the simulated house and boiler run.

Run ``python -m bench.sim_speed [--json PATH] [--days D]``. For each house
profile, a simulated week (default) of seeded winter weather with household
hot-water taps runs twice:

* ``controlled``: a thermostat every simulated minute reads the room sensor
  and talks OpenTherm to the boiler (status, control setpoint, flow
  temperature), with a 0.3 K hysteresis around 20 °C and a 65 °C flow;
* ``physics``: the same week with a fixed weather-compensated flow
  setpoint, stepped an hour at a time (the physics alone).

The speed-up is simulated seconds per wall-clock second; the CPU seconds
per simulated day come from the process clock.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
import platform
import time
from typing import Any

from bench.report import write_results
from bridge.opentherm.frame import Frame, MsgType
from bridge.opentherm.sim import PROFILE_NAMES, SimWorld

DAY_S = 86_400.0


def _f88(value: float) -> int:
    return round(value * 256) & 0xFFFF


def _controlled(world: SimWorld, seconds: float) -> None:
    boiler = world.boiler
    heating = False
    status = Frame(MsgType.READ_DATA, 0, 0x0300)
    flow = Frame(MsgType.READ_DATA, 25, 0)
    for _ in range(round(seconds / 60.0)):
        room = world.room_sensor_c()
        if room < 19.85:
            heating = True
        elif room > 20.15:
            heating = False
        boiler.handle(status)
        boiler.handle(Frame(MsgType.WRITE_DATA, 1, _f88(65.0 if heating else 10.0)))
        boiler.handle(flow)
        world.step(60.0)


def _physics(world: SimWorld, seconds: float) -> None:
    boiler = world.boiler
    boiler.command(ch_enable=True, dhw_enable=True)
    for _ in range(round(seconds / 3600.0)):
        boiler.command(control_setpoint_c=min(75.0, max(25.0, 45.0 - 1.5 * world.outside_c)))
        world.step(3600.0)


def _measure(profile: str, mode: str, days: float, seed: int) -> dict[str, Any]:
    world = SimWorld(profile, seed=seed)
    seconds = days * DAY_S
    drive = _controlled if mode == "controlled" else _physics
    wall0, cpu0 = time.perf_counter(), time.process_time()
    drive(world, seconds)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    truth = world.truth()
    return {
        "simulated_days": days,
        "wall_seconds": round(wall, 4),
        "cpu_seconds": round(cpu, 4),
        "speedup": round(seconds / wall),
        "cpu_seconds_per_simulated_day": round(cpu / days, 4),
        "gas_kwh": round(truth.gas_kwh, 1),
        "burner_starts": truth.burner_starts,
        "final_room_c": round(truth.room_c, 2),
    }


def run(days: float, seed: int) -> dict[str, dict[str, dict[str, Any]]]:
    """Every profile in both modes."""
    return {
        profile: {mode: _measure(profile, mode, days, seed) for mode in ("controlled", "physics")}
        for profile in PROFILE_NAMES
    }


def _table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    rows = [
        f"{'profile':<15} {'mode':<11} {'wall s':>7} {'speed-up':>11} {'CPU s/day':>10} "
        f"{'gas kWh':>8} {'starts':>7}"
    ]
    for profile, modes in results.items():
        for mode, r in modes.items():
            rows.append(
                f"{profile:<15} {mode:<11} {r['wall_seconds']:>7.3f} {r['speedup']:>10,.0f}x "
                f"{r['cpu_seconds_per_simulated_day']:>10.4f} {r['gas_kwh']:>8.1f} "
                f"{r['burner_starts']:>7}"
            )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print a table and optionally write JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.sim_speed", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    parser.add_argument(
        "--days", type=float, default=7.0, metavar="D", help="simulated days (default 7)"
    )
    parser.add_argument("--seed", type=int, default=1, help="weather and household seed")
    args = parser.parse_args(argv)
    if args.days <= 0:
        parser.error("--days must be positive")
    results = run(args.days, args.seed)
    print(
        f"Simulator speed, Python {platform.python_version()}, "
        f"{args.days:g} simulated days per run, seed {args.seed}"
    )
    print(_table(results))
    write_results(args.json, "sim_speed", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
