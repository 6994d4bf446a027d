"""Many bridges on one cloud stand-in: memory per connection, uploads, command latency.

Run ``python -m bench.cloud_scale [--bridges 100] [--commands 200] [--uploads 5]
[--json PATH]``. It starts the stand-in (``thermosmart-cloud``) as its own
process on loopback, links ``--bridges`` simulated bridges (the real device
grant: link request, the owner's approval by ``thermosmart-cloud approve``
is replaced by the store of a second process... no: by the stand-in's own
command-line, see :func:`_link_all`) and opens one sync connection each,
speaking the real protocol (:mod:`bridge.core.cloud_sync`):

* **memory per connected bridge**: the stand-in's resident memory with all
  bridges connected, less before any connected, over N;
* **upload throughput**: every bridge sends ``--uploads`` thermostat frames
  as fast as it can; frames stored per second (the stand-in counts them);
* **command latency**: ``--commands`` owner changes (``PUT
  /thermostat/{hw}``) spread over the bridges, each timed from the request
  to the 200 answer the bridge's confirmation makes; p50/p99/max (goal: p99
  at most 2 s).

At most :data:`MAX_BRIDGES` bridges (one process's file descriptors, and
loopback).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import copy
from typing import Any

import aiohttp

from bridge.core import cloud_sync as proto

__all__ = ["MAX_BRIDGES", "SimBridge", "sim_thermostat"]

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
