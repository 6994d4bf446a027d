"""Many bridges on one cloud stand-in: memory per connection, uploads, command latency.

Run ``python -m bench.cloud_scale [--bridges 100] [--uploads 5] [--commands 200]
[--json PATH]``. It starts the stand-in (``python -m cloud_stub``) as its own
process on loopback, links ``--bridges`` simulated bridges by the device
grant (the link request and the token poll over HTTP; the owner's approval
through the stand-in's store, as ``thermosmart-cloud approve`` does) and
opens one sync connection each, speaking the real protocol
(:mod:`bridge.core.cloud_sync`) through :class:`SimBridge`:

* **memory per connected bridge**: the stand-in's resident memory with every
  bridge connected and uploaded once, less before any connected, over N;
* **upload throughput**: every bridge sends ``--uploads`` thermostat frames
  at once; frames stored per second, until the stand-in's database holds
  each bridge's last one;
* **command latency**: owner changes (``PUT /thermostat/{hw}`` with an
  owner token), each timed from the request to its 200, which the stand-in
  sends only once the bridge confirmed: first :data:`SERIAL` one at a time
  (the round trip alone), then ``--commands`` with at most 50 in flight,
  spread over the bridges: p50/p99/max against the goal (p99 at most 2 s).

At most :data:`MAX_BRIDGES` bridges. The machine's load average is reported
with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
import contextlib
import copy
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp

from bench.api import _free_port, _proc_stats, _summary, _wait_healthy
from bench.report import write_results
from bridge.core import cloud_sync as proto
from bridge.core.clock import SystemClock
from cloud_stub.store import CloudStore

__all__ = ["MAX_BRIDGES", "SimBridge", "main", "run", "sim_thermostat"]

MAX_BRIDGES = 1000
GOAL_P99_S = 2.0

Answer = Callable[[proto.Command, dict[str, Any]], tuple[str, dict[str, Any], list[Any]]]


def sim_thermostat(**changes: Any) -> dict[str, Any]:
    """A thermostat as a bridge syncs it (the allow-listed members, no ``location``)."""
    obj: dict[str, Any] = {
        "name": "Woonkamer",
        "room_temperature": 19.8,
        "target_temperature": 19.5,
        "outside_temperature": 3.2,
        "outside_temperature_icon": None,
        "programs": {
            "anti_freeze": 7.0,
            "not_home": 15.0,
            "home": 19.5,
            "comfort": 21.0,
            "pause": 10.0,
        },
        "schedule": [
            {"start": [day, hour, 0], "temperature": program}
            for day in range(7)
            for hour, program in ((6, "home"), (9, "not_home"), (17, "comfort"), (23, "not_home"))
        ],
        "exceptions": [],
        "source": "schedule",
        "fw": "0.1.0",
        "geofence_enabled": False,
        "geofence_devices": [],
        "ot": {"enabled": True, "raw": {"ot0": "0x0300", "ot25": "0x2A80"}},
    }
    obj.update(changes)
    return obj


def apply_simply(
    command: proto.Command, obj: dict[str, Any]
) -> tuple[str, dict[str, Any], list[Any]]:
    """What a simulated bridge does with a command: takes the members it knows, applied."""
    out = copy.deepcopy(obj)
    if command.kind == proto.PAUSE:
        out["source"] = "pause" if command.body["pause"] else "schedule"
    for key in ("target_temperature", "schedule", "exceptions"):
        if key in command.body:
            out[key] = command.body[key]
    out["programs"] = {**out["programs"], **command.body.get("programs", {})}
    if "target_temperature" in command.body:
        out["source"] = "remote"
    return proto.APPLIED, out, []


class SimBridge:
    """A simulated bridge's sync connection: the protocol, no thermostat behind it."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        bridge_id: str,
        credential: str,
        thermostat: dict[str, Any] | None = None,
        *,
        answer: Answer = apply_simply,
    ) -> None:
        self.http = http
        self.url = f"{base_url}/api/v1/bridges/{bridge_id}/sync"
        self.credential = credential
        self.thermostat = thermostat if thermostat is not None else sim_thermostat()
        self.answer = answer
        self.seq = 0
        self.terms_version: str | None = None
        self.commands: list[proto.Command] = []
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._answered = asyncio.Condition()

    async def connect(self, *, upload: bool = True) -> None:
        """Open the connection, read the hello, upload the thermostat, answer commands."""
        self.ws = await self.http.ws_connect(
            self.url, headers={"Authorization": f"Bearer {self.credential}"}
        )
        hello = proto.parse_cloud_frame((await self.ws.receive()).data)
        assert isinstance(hello, proto.Hello), hello
        self.terms_version = hello.terms_version
        if upload:
            await self.upload()
        self._reader = asyncio.create_task(self._read())

    async def send(self, frame: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_str(proto.encode(frame))

    async def upload(self, **changes: Any) -> None:
        self.thermostat.update(changes)
        self.seq += 1
        await self.send(proto.thermostat_frame(self.seq, self.thermostat))

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            frame = proto.parse_cloud_frame(msg.data)
            if isinstance(frame, proto.Command):
                self.commands.append(frame)
                status, self.thermostat, errors = self.answer(frame, self.thermostat)
                self.seq += 1
                await self.send(
                    proto.result_frame(frame.id, status, self.seq, self.thermostat, errors)
                )
                async with self._answered:
                    self._answered.notify_all()

    async def answered(self, count: int) -> None:
        """Wait until ``count`` commands have been answered."""
        async with self._answered:
            await self._answered.wait_for(lambda: len(self.commands) >= count)

    async def close(self) -> None:
        """Close the connection; the stand-in has handled every frame sent before."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self.ws is not None:
            await self.ws.close()


# -- the benchmark -------------------------------------------------------------------------

OWNER = "bench@example.org"
IN_FLIGHT = 50
"""Most owner requests (and link requests) at once."""
SERIAL = 20
"""Owner changes sent one at a time first, for the round trip without queueing."""


async def _link(
    http: aiohttp.ClientSession, base: str, store: CloudStore, owner_id: int, index: int
) -> tuple[str, str, str, str]:
    """Link simulated bridge ``index``: (bridge id, hardware id, credential, owner token)."""
    bridge_id = f"{index:016x}"
    hardware_id = f"TSLB{index:08d}"
    form = {
        "client_id": "thermosmart-bridge",
        "bridge_id": bridge_id,
        "hardware_id": hardware_id,
        "terms_version": "2026-01",
    }
    async with http.post(f"{base}/oauth2/device_authorization", data=form) as resp:
        started = await resp.json()
    store.decide_link(started["user_code"], owner_id, approve=True)
    poll = {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "device_code": started["device_code"],
        "client_id": "thermosmart-bridge",
    }
    async with http.post(f"{base}/oauth2/token", data=poll) as resp:
        credential: str = (await resp.json())["access_token"]
    _, token = store.create_owner_token(bridge_id)
    return bridge_id, hardware_id, credential, token


async def _bounded(count: int, make: Callable[[int], Any]) -> list[Any]:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(i: int) -> Any:
        async with gate:
            return await make(i)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def run(bridges: int = 100, uploads: int = 5, commands: int = 200) -> dict[str, Any]:
    """Run the benchmark; the results as :func:`main` writes them."""
    if not 1 <= bridges <= MAX_BRIDGES:
        raise ValueError(f"--bridges must be 1-{MAX_BRIDGES}")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="cloud-scale-") as tmp:
        data_dir = Path(tmp)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cloud_stub",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        connector = aiohttp.TCPConnector(limit=0)
        try:
            async with aiohttp.ClientSession(connector=connector) as http:
                await _wait_healthy(http, base)
                store = CloudStore.open(data_dir, SystemClock())
                try:
                    owner, _ = store.create_owner(OWNER)
                    linked = await _bounded(
                        bridges, lambda i: _link(http, base, store, owner.owner_id, i)
                    )
                    return await _measure(
                        http, base, proc.pid, store, linked, uploads=uploads, commands=commands
                    )
                finally:
                    store.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _measure(
    http: aiohttp.ClientSession,
    base: str,
    pid: int,
    store: CloudStore,
    linked: list[tuple[str, str, str, str]],
    *,
    uploads: int,
    commands: int,
) -> dict[str, Any]:
    n = len(linked)
    rss_before, _ = _proc_stats(pid)
    sims = [SimBridge(http, base, bridge_id, credential) for bridge_id, _, credential, _ in linked]
    started = time.perf_counter()
    await _bounded(n, lambda i: sims[i].connect())
    connect_s = time.perf_counter() - started
    await _stored(store, linked, [sim.seq for sim in sims])
    rss_after, _ = _proc_stats(pid)

    started = time.perf_counter()
    for _ in range(uploads):
        await asyncio.gather(*(sim.upload(room_temperature=19.0 + sim.seq / 100) for sim in sims))
    await _stored(store, linked, [sim.seq for sim in sims])
    upload_s = time.perf_counter() - started
    _, cpu_before = _proc_stats(pid)

    statuses: dict[str, int] = {}
    latencies: list[float] = []

    async def command(i: int) -> None:
        _, hardware_id, _, token = linked[i % n]
        body = {"target_temperature": 15 + (i % 10)}
        t0 = time.perf_counter()
        async with http.put(
            f"{base}/thermostat/{hardware_id}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            await resp.read()
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[str(resp.status)] = statuses.get(str(resp.status), 0) + 1

    for i in range(SERIAL):  # one at a time: the round trip itself
        await command(i)
    serial = _summary(latencies)
    latencies.clear()
    statuses.clear()
    started = time.perf_counter()
    await _bounded(commands, command)
    command_s = time.perf_counter() - started
    _, cpu_after = _proc_stats(pid)
    for sim in sims:
        await sim.close()
    latency = _summary(latencies)
    return {
        "bridges": n,
        "connect_s": round(connect_s, 3),
        "rss_before_mb": round(rss_before, 1),
        "rss_connected_mb": round(rss_after, 1),
        "kb_per_bridge": round((rss_after - rss_before) * 1024 / n, 1),
        "uploads": n * uploads,
        "uploads_per_s": round(n * uploads / upload_s, 1),
        "commands": {
            **latency,
            "statuses": statuses,
            "per_s": round(commands / command_s, 1),
            "cloud_cpu_s": round(cpu_after - cpu_before, 2),
        },
        "serial_commands": serial,
        "goal_p99_ms": GOAL_P99_S * 1000,
        "meets_goal": latency["p99_ms"] <= GOAL_P99_S * 1000,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


async def _stored(
    store: CloudStore, linked: list[tuple[str, str, str, str]], seqs: list[int]
) -> None:
    """Wait until the stand-in's database holds each bridge's upload of ``seqs``."""
    for _ in range(6000):
        if all(
            (found := store.get_object(bridge_id)) is not None and found[1] >= seq
            for (bridge_id, *_), seq in zip(linked, seqs, strict=True)
        ):
            return
        await asyncio.sleep(0.01)
    raise RuntimeError("the stand-in did not store every upload within a minute")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="many bridges on one cloud stand-in")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--bridges", type=int, default=100, help=f"1-{MAX_BRIDGES}")
    parser.add_argument("--uploads", type=int, default=5, help="thermostat frames per bridge")
    parser.add_argument("--commands", type=int, default=200, help="owner changes in all")
    args = parser.parse_args(argv)
    if not 1 <= args.bridges <= MAX_BRIDGES:
        parser.error(f"--bridges must be 1-{MAX_BRIDGES}")
    results = asyncio.run(run(args.bridges, args.uploads, args.commands))
    c = results["commands"]
    one = results["serial_commands"]
    print(
        f"{'bridges':>8}{'KB/bridge':>11}{'uploads/s':>11}{'alone p99 ms':>14}"
        f"{'cmd p50 ms':>12}{'cmd p99 ms':>12}{'cmd max ms':>12}{'cmd/s':>8}  statuses"
    )
    print(
        f"{results['bridges']:>8}{results['kb_per_bridge']:>11}{results['uploads_per_s']:>11}"
        f"{one['p99_ms']:>14}{c['p50_ms']:>12}{c['p99_ms']:>12}{c['max_ms']:>12}"
        f"{c['per_s']:>8}  {c['statuses']}"
    )
    load = " ".join(str(x) for x in results["load_average"])
    print(
        f"goal: command p99 <= {GOAL_P99_S:g} s: {'met' if results['meets_goal'] else 'NOT met'}"
        f" (load average {load} on {results['cpus']} CPUs)"
    )
    write_results(args.json, "cloud_scale", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
