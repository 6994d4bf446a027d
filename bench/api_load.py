"""The bridge under push load with the worst valid schedule, on loopback.

Run ``python -m bench.api_load [--json PATH] [--clients 200] [--seconds 20]
[--write-rate 5] [--health-rate 20]``. It starts ``thermosmart-bridge run``
in its own process (as ``bench.api`` does), loads the worst valid schedule
through the API (672 entries and 100 exceptions, see ``bench.schedule``),
connects ``--clients`` WebSocket clients that read every message, and then,
for ``--seconds``, changes the target ``--write-rate`` times a second while
``GET /api/v1/health`` is asked ``--health-rate`` times a second (open loop).
It reports:

* ``health``: the health check's latency; goal p99 < 50 ms;
* ``push``: from just before a target change's ``PUT`` to each client's
  message carrying the new target, over every client; goal p99 < 50 ms;
* ``rss_mb``: the bridge's largest resident memory during the load, and its
  CPU share; goal RSS < 80 MB.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
import json
from pathlib import Path
import sys
import time
from typing import Any
import zoneinfo

import aiohttp

from bench.api import _load, _proc_stats, _summary, bridge_process
from bench.report import write_results
from bench.schedule import worst_exceptions, worst_schedule
from bridge.core.programs import DEFAULT_TIMEZONE, wall_to_list

GOALS = {"health_p99_ms": 50.0, "push_p99_ms": 50.0, "rss_mb": 80.0}


def worst_body() -> dict[str, Any]:
    """The worst valid schedule and exceptions as a ``PUT /thermostat/{hw}`` body."""
    tz = zoneinfo.ZoneInfo(DEFAULT_TIMEZONE)
    return {
        "schedule": [entry.to_dict() for entry in worst_schedule().entries],
        "exceptions": [
            {
                "start": wall_to_list(exc.start),
                "end": wall_to_list(exc.end),
                "temperature": exc.program,
                "description": exc.description,
            }
            for exc in worst_exceptions(datetime.now(UTC), tz)
        ],
    }


class _Clients:
    """The WebSocket clients and the push latencies they saw."""

    def __init__(self) -> None:
        self.sent: dict[float, float] = {}
        """target -> perf_counter() just before the PUT that set it."""
        self.latencies: list[float] = []
        self.messages = 0
        self.closed = 0

    async def read(self, ws: aiohttp.ClientWebSocketResponse, ready: asyncio.Event) -> None:
        first = True
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            self.messages += 1
            if first:
                ready.set()
                first = False
            data = json.loads(msg.data).get("data") or {}
            target = (data.get("thermostat") or {}).get("target_temperature")
            began = self.sent.get(target) if isinstance(target, float) else None
            if began is not None:
                self.latencies.append((time.perf_counter() - began) * 1000)
        self.closed += 1


async def _writes(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    clients: _Clients,
    *,
    rate: float,
    seconds: float,
) -> int:
    """Change the target ``rate`` times a second; returns the number of failed writes."""
    errors = 0
    begin = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = begin + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        target = round(15.0 + (i % 100) * 0.1, 1)
        clients.sent[target] = time.perf_counter()
        async with session.put(url, json={"target_temperature": target}, headers=headers) as resp:
            if resp.status != 200:
                errors += 1
    return errors


async def run(
    clients: int, seconds: float, write_rate: float, health_rate: float
) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        bridge_process(session) as bridge,
    ):
        url = f"{bridge.base}/thermostat/{bridge.hw}"
        async with session.put(url, json=worst_body(), headers=bridge.headers) as resp:
            if resp.status != 200:
                raise RuntimeError(f"the worst schedule was refused: {await resp.text()}")
        await asyncio.sleep(2)  # let the master finish its start-up reads
        seen = _Clients()
        sockets = []
        readers = []
        for _ in range(clients):
            ws = await session.ws_connect(f"{bridge.base}/api/v1/ws", headers=bridge.headers)
            ready = asyncio.Event()
            sockets.append(ws)
            readers.append(asyncio.create_task(seen.read(ws, ready)))
            await ready.wait()
        rss_before, cpu0 = _proc_stats(bridge.proc.pid)
        t0 = time.monotonic()
        rss_max = rss_before

        async def sample() -> None:
            nonlocal rss_max
            while True:
                rss_max = max(rss_max, _proc_stats(bridge.proc.pid)[0])
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        (health, health_errors), write_errors = await asyncio.gather(
            _load(session, f"{bridge.base}/api/v1/health", {}, health_rate, seconds),
            _writes(session, url, bridge.headers, seen, rate=write_rate, seconds=seconds),
        )
        await asyncio.sleep(1)  # the last pushes
        sampler.cancel()
        rss_after, cpu1 = _proc_stats(bridge.proc.pid)
        cpu_percent = 100 * (cpu1 - cpu0) / (time.monotonic() - t0)
        dropped = seen.closed
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*readers)
    push = _summary(seen.latencies)
    health_summary = _summary(health)
    rss = round(max(rss_max, rss_after), 1)
    return {
        "clients": clients,
        "seconds": seconds,
        "write_rate": write_rate,
        "health_rate": health_rate,
        "schedule_entries": len(worst_schedule().entries),
        "health": {**health_summary, "errors": health_errors},
        "push": {**push, "write_errors": write_errors, "clients_closed_early": dropped},
        "messages_received": seen.messages,
        "rss_mb": rss,
        "cpu_percent": round(cpu_percent, 1),
        "goals": GOALS,
        "met": {
            "health_p99": health_summary["p99_ms"] < GOALS["health_p99_ms"],
            "push_p99": push["p99_ms"] < GOALS["push_p99_ms"],
            "rss": rss < GOALS["rss_mb"],
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="health and push latency under WebSocket load")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--write-rate", type=float, default=5.0)
    parser.add_argument("--health-rate", type=float, default=20.0)
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.clients, args.seconds, args.write_rate, args.health_rate))
    health, push = results["health"], results["push"]
    print(
        f"{results['clients']} WebSocket clients, {results['write_rate']:g} writes/s, "
        f"{results['schedule_entries']}-entry schedule, {results['seconds']:g} s"
    )
    print(f"{'measure':<34}{'value':>12}  goal")
    print(f"{'health p50 (ms)':<34}{health['p50_ms']:>12}")
    print(f"{'health p99 (ms)':<34}{health['p99_ms']:>12}  < {GOALS['health_p99_ms']:g}")
    print(f"{'  requests, errors':<34}{health['count']:>8}, {health['errors']}")
    print(f"{'push p50 (ms)':<34}{push['p50_ms']:>12}")
    print(f"{'push p99 (ms)':<34}{push['p99_ms']:>12}  < {GOALS['push_p99_ms']:g}")
    print(f"{'  pushes seen, write errors':<34}{push['count']:>8}, {push['write_errors']}")
    print(f"{'  clients closed early':<34}{push['clients_closed_early']:>12}")
    print(f"{'bridge RSS, max (MB)':<34}{results['rss_mb']:>12}  < {GOALS['rss_mb']:g}")
    print(f"{'bridge CPU (%)':<34}{results['cpu_percent']:>12}")
    write_results(args.json, "api_load", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
