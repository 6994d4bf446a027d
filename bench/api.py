"""The bridge's API under load, on loopback with the simulated boiler.

Run ``python -m bench.api [--json PATH] [--rate 200] [--seconds 20]``. It
starts ``thermosmart-bridge run`` as its own process (so the load generator
does not share its event loop) and measures:

* ``get_thermostat``: latency of ``GET /thermostat/{hw}`` at a fixed rate
  (open loop: requests are sent on schedule whether or not earlier ones
  have answered, so a slow server shows up as latency, not as a lower rate);
  goal p99 < 20 ms at 200 requests per second;
* ``push``: time from a ``PUT /thermostat/{hw}`` that changes the target to
  the WebSocket message carrying the new target (the PUT's own answer time
  included); goal p99 < 50 ms;
* ``idle``: resident memory (VmRSS) and CPU share of the idle daemon over a
  quiet period; goals RSS < 60 MB.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
from dataclasses import dataclass
import json
import os
from pathlib import Path
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp

from bench.report import write_results

GOALS = {"get_p99_ms": 20.0, "push_p99_ms": 50.0, "idle_rss_mb": 60.0}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _summary(ms: list[float]) -> dict[str, float]:
    return {
        "count": len(ms),
        "p50_ms": round(_percentile(ms, 0.50), 3),
        "p90_ms": round(_percentile(ms, 0.90), 3),
        "p99_ms": round(_percentile(ms, 0.99), 3),
        "max_ms": round(max(ms), 3) if ms else float("nan"),
        "mean_ms": round(statistics.fmean(ms), 3) if ms else float("nan"),
    }


def _proc_stats(pid: int) -> tuple[float, float]:
    """(RSS in MB, CPU seconds used) of a process, from /proc."""
    rss_kb = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = float(line.split()[1])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    return rss_kb / 1024, cpu


async def _wait_healthy(session: aiohttp.ClientSession, base: str) -> None:
    for _ in range(300):
        try:
            async with session.get(f"{base}/api/v1/health") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the bridge did not start")


async def _load(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], rate: float, seconds: float
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0

    async def one() -> None:
        nonlocal errors
        start = time.perf_counter()
        try:
            async with session.get(url, headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    errors += 1
                    return
        except aiohttp.ClientError:
            errors += 1
            return
        latencies.append((time.perf_counter() - start) * 1000)

    tasks: list[asyncio.Task[None]] = []
    interval = 1.0 / rate
    begin = time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        delay = begin + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return latencies, errors


async def _push(
    session: aiohttp.ClientSession, base: str, hw: str, headers: dict[str, str], rounds: int
) -> list[float]:
    latencies: list[float] = []
    async with session.ws_connect(f"{base}/api/v1/ws", headers=headers) as ws:
        first = await ws.receive_json(timeout=10)
        assert first["type"] == "state"
        for i in range(rounds):
            target = 18.0 + (i % 20) * 0.5
            start = time.perf_counter()
            async with session.put(
                f"{base}/thermostat/{hw}", json={"target_temperature": target}, headers=headers
            ) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"PUT answered {resp.status}")
            while True:
                msg = await ws.receive_json(timeout=10)
                data = msg.get("data") or {}
                thermostat = data.get("thermostat") or {}
                if thermostat.get("target_temperature") == target:
                    latencies.append((time.perf_counter() - start) * 1000)
                    break
            await asyncio.sleep(0.02)
    return latencies


@dataclass(frozen=True)
class RunningBridge:
    """A ``thermosmart-bridge run`` process on loopback, with a token for it."""

    proc: subprocess.Popen[bytes]
    base: str
    headers: dict[str, str]
    hw: str


@contextlib.asynccontextmanager
async def bridge_process(
    session: aiohttp.ClientSession,
    *,
    boiler: str | None = None,
    setup: Callable[[list[str], dict[str, str]], None] | None = None,
) -> AsyncIterator[RunningBridge]:
    """Start the bridge in its own process on a free port and wait until it answers.

    ``boiler``: its boiler URL (the simulator when None); ``setup(cmd, env)`` runs
    before it starts, to prepare its data with the CLI (``cmd`` starts the CLI).
    """
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="ts-bench-") as data_dir:
        env = dict(os.environ, THERMOSMART_DATA_DIR=data_dir)
        cmd = [sys.executable, "-m", "bridge"]
        if setup is not None:
            setup(cmd, env)
        proc = subprocess.Popen(
            [
                *cmd,
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-zeroconf",
                "--log-level",
                "warning",
                *(["--boiler", boiler] if boiler is not None else []),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            token = json.loads(
                subprocess.run(
                    [*cmd, "token", "create", "--name", "bench", "--json"],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            await _wait_healthy(session, base)
            async with session.get(f"{base}/thermostat", headers=headers) as resp:
                hw = (await resp.json())["hw"]
            yield RunningBridge(proc, base, headers, hw)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


async def run(rate: float, seconds: float, idle_seconds: float, push_rounds: int) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=64)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        bridge_process(session) as bridge,
    ):
        proc, base, headers, hw = bridge.proc, bridge.base, bridge.headers, bridge.hw
        await asyncio.sleep(2)  # let the master finish its start-up reads
        rss0, cpu0 = _proc_stats(proc.pid)
        t0 = time.monotonic()
        await asyncio.sleep(idle_seconds)
        rss1, cpu1 = _proc_stats(proc.pid)
        idle = {
            "rss_mb": round(max(rss0, rss1), 1),
            "cpu_percent": round(100 * (cpu1 - cpu0) / (time.monotonic() - t0), 2),
            "seconds": idle_seconds,
        }
        await _load(session, f"{base}/thermostat/{hw}", headers, rate, 1.0)  # warm up
        latencies, errors = await _load(session, f"{base}/thermostat/{hw}", headers, rate, seconds)
        get = {**_summary(latencies), "rate": rate, "errors": errors}
        push = _summary(await _push(session, base, hw, headers, push_rounds))
        rss_after, _ = _proc_stats(proc.pid)
    return {
        "get_thermostat": get,
        "push": push,
        "idle": idle,
        "rss_after_load_mb": round(rss_after, 1),
        "goals": GOALS,
        "met": {
            "get_p99": get["p99_ms"] < GOALS["get_p99_ms"],
            "push_p99": push["p99_ms"] < GOALS["push_p99_ms"],
            "idle_rss": idle["rss_mb"] < GOALS["idle_rss_mb"],
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="API latency, push latency and idle footprint")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--push-rounds", type=int, default=200)
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.rate, args.seconds, args.idle_seconds, args.push_rounds))
    get, push, idle = results["get_thermostat"], results["push"], results["idle"]
    print(f"{'measure':<34}{'value':>12}  goal")
    print(f"{'GET /thermostat/{hw} p50 (ms)':<34}{get['p50_ms']:>12}")
    print(f"{'GET /thermostat/{hw} p99 (ms)':<34}{get['p99_ms']:>12}  < {GOALS['get_p99_ms']:g}")
    print(f"{'  at rate (req/s), errors':<34}{get['rate']:>8g}, {get['errors']}")
    print(f"{'push p50 (ms)':<34}{push['p50_ms']:>12}")
    print(f"{'push p99 (ms)':<34}{push['p99_ms']:>12}  < {GOALS['push_p99_ms']:g}")
    print(f"{'idle RSS (MB)':<34}{idle['rss_mb']:>12}  < {GOALS['idle_rss_mb']:g}")
    print(f"{'idle CPU (%)':<34}{idle['cpu_percent']:>12}")
    print(f"{'RSS after load (MB)':<34}{results['rss_after_load_mb']:>12}")
    write_results(args.json, "api", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
