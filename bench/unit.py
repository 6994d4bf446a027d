"""The wall units' port under load, on loopback.

Run ``python -m bench.unit [--json PATH] [--units 100] [--rates 20,50,100,200,400]
[--seconds 10]``. It registers ``--units`` wall units, starts
``thermosmart-bridge run --boiler thermosmart-unit://127.0.0.1:PORT`` as its
own process and, for each rate, sends polls at that rate (open loop: on
schedule whether or not earlier ones have answered) spread over the units,
each unit from its own loopback address (127.0.1.x) as real units behind
one LAN would be, so the per-address flood limit (2 polls/s) is not what is
measured. Each poll is a real one (encrypted as revision 5 does), answered
with the encrypted answer.

It reports latency per rate and the highest rate up to which every rate's
p99 stays under the goal (10 ms). A unit polls every 5 s, so 200 polls/s is a thousand units.
"""

from __future__ import annotations

import argparse
import asyncio
import math
from pathlib import Path
import subprocess
import sys
import time
from typing import Any

import aiohttp

from bench.api import _free_port, _proc_stats, _summary, bridge_process
from bench.report import write_results
from bridge.unit.protocol import build_request_path, encrypt_poll

GOAL_P99_MS = 10.0
PER_ADDRESS_RATE = 1.5
"""Polls per second each loopback address sends (under the bridge's 2/s limit)."""


def _poll_path(index: int, password: str) -> str:
    hardware_id = f"TSB{index:05d}"
    fields = {
        "u": hardware_id,
        "p": password,
        "hw": "5",
        "fw": "A30050046",
        "pv": str(195 + index % 20),
        "src": "2",
        "ot0": "030A",
        "ot25": "2D80",
        "ot28": "2480",
        "ot17": "DEAD",
        "kp": "15",
        "ti": "3600",
        "td": "0",
    }
    return build_request_path(hardware_id, encrypt_poll(fields, password, revision=5))


async def _rate(base: str, paths: list[str], rate: float, seconds: float) -> dict[str, Any]:
    addresses = max(1, math.ceil(rate / PER_ADDRESS_RATE))
    sessions = [
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(f"127.0.1.{1 + i % 250}", 0), limit=8)
        )
        for i in range(min(addresses, 250))
    ]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0

    async def one(i: int) -> None:
        nonlocal errors
        session = sessions[i % len(sessions)]
        start = time.perf_counter()
        try:
            async with session.get(base + paths[i % len(paths)]) as resp:
                await resp.read()
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
                if resp.status != 200:
                    return
        except aiohttp.ClientError:
            errors += 1
            return
        latencies.append((time.perf_counter() - start) * 1000)

    try:
        tasks: list[asyncio.Task[None]] = []
        begin = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    finally:
        for session in sessions:
            await session.close()
    return {
        **_summary(latencies),
        "rate": rate,
        "addresses": len(sessions),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": errors,
    }


async def _wait_for_units(base: str, path: str) -> None:
    async with aiohttp.ClientSession() as probe:
        for _ in range(300):
            try:
                async with probe.get(base + path) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the bridge did not answer the unit port")


async def run(units: int, rates: list[float], seconds: float) -> dict[str, Any]:
    unit_port = _free_port()
    password = "bench-pw"
    base = f"http://127.0.0.1:{unit_port}"
    paths = [_poll_path(i, password) for i in range(units)]

    def register(cmd: list[str], env: dict[str, str]) -> None:
        for i in range(units):
            subprocess.run(
                [*cmd, "unit", "add", "--hardware-id", f"TSB{i:05d}", "--password", password],
                env=env,
                capture_output=True,
                check=True,
            )

    async with (
        aiohttp.ClientSession() as session,
        bridge_process(
            session, boiler=f"thermosmart-unit://127.0.0.1:{unit_port}", setup=register
        ) as bridge,
    ):
        await _wait_for_units(base, paths[0])
        await _rate(base, paths, min(rates), 1.0)  # every unit's first poll, warm-up
        results = []
        for rate in rates:
            results.append(await _rate(base, paths, rate, seconds))
            await asyncio.sleep(1.0)
        rss_mb, _cpu = _proc_stats(bridge.proc.pid)
    held: list[float] = []
    for r in sorted(results, key=lambda r: r["rate"]):  # every rate up to it must hold
        if r["p99_ms"] >= GOAL_P99_MS or r["errors"]:
            break
        held.append(r["rate"])
    return {
        "units": units,
        "seconds": seconds,
        "rates": results,
        "max_rate_at_goal": max(held) if held else None,
        "rss_after_mb": round(rss_mb, 1),
        "goal_p99_ms": GOAL_P99_MS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the wall units' port under load")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--rates", default="20,50,100,200,400", help="polls per second, comma list")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    results = asyncio.run(run(args.units, rates, args.seconds))
    print(f"{'polls/s':>8}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}  statuses")
    for r in results["rates"]:
        print(
            f"{r['rate']:>8g}{r['p50_ms']:>10}{r['p99_ms']:>10}{r['max_ms']:>10}"
            f"  {r['statuses']} errors {r['errors']}"
        )
    print(
        f"highest rate with p99 < {GOAL_P99_MS:g} ms: {results['max_rate_at_goal']} polls/s "
        f"({results['units']} units); bridge RSS after {results['rss_after_mb']} MB"
    )
    write_results(args.json, "unit", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
