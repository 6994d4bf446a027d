"""The stand-in's end of the sync connections: one WebSocket per linked bridge.

The frames are :mod:`bridge.core.cloud_sync`'s. A bridge connects to
``GET /api/v1/bridges/{bridge_id}/sync`` with its credential; a second
connection of the same bridge replaces the first (closed with
:data:`REPLACED`). On connect the stand-in says ``hello`` with its current
terms version and delivers every command still pending, oldest first.

What the bridge uploads (``thermostat``, and the object in each
``result``) is stored as the thermostat's confirmed state; a command stays
``pending`` until the bridge's ``result`` answers it, and the owner's
request that issued it waits a bounded time for that answer
(:meth:`SyncHub.issue`). A frame outside the protocol is ignored with one
log line (no ids, no values): the connection stays.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass, field
import logging
from typing import Literal

from aiohttp import WSMsgType, web

from bridge.core import cloud_sync as proto
from bridge.core.validation import ValidationError
from cloud_stub import schemas
from cloud_stub.store import CloudStore, Command

_LOGGER = logging.getLogger(__name__)

REPLACED = 4000
"""The close code of a connection a newer one of the same bridge replaced."""
ERASED = 4001
"""The close code of a connection whose bridge was erased."""
HEARTBEAT_S = 30.0
"""Pings keep the connection checked both ways (a dead peer is dropped)."""


@dataclass
class _Connection:
    ws: web.WebSocketResponse
    waiters: dict[int, asyncio.Future[proto.Result]] = field(default_factory=dict)


@dataclass
class SyncStats:
    """What the stand-in counted on its sync connections (the benchmark reads them)."""

    connects: int = 0
    frames_in: int = 0
    uploads: int = 0
    results: int = 0
    ignored: int = 0


class SyncHub:
    """The open sync connections, by bridge id."""

    def __init__(self, store: CloudStore) -> None:
        self._store = store
        self._connections: dict[str, _Connection] = {}
        self.stats = SyncStats()

    def connected(self, bridge_id: str) -> bool:
        """True while the bridge has a sync connection open."""
        return bridge_id in self._connections

    @property
    def count(self) -> int:
        """How many bridges are connected."""
        return len(self._connections)

    async def serve(
        self, request: web.Request, bridge_id: str, retention: Callable[[int], None]
    ) -> web.WebSocketResponse:
        """Run one bridge's connection until it closes. ``retention(days)`` applies a
        retention the bridge states."""
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=proto.MAX_FRAME)
        await ws.prepare(request)
        old = self._connections.get(bridge_id)
        conn = _Connection(ws)
        self._connections[bridge_id] = conn
        self.stats.connects += 1
        if old is not None:
            await old.ws.close(code=REPLACED, message=b"replaced by a newer connection")
        try:
            version, _ = self._store.terms()
            await ws.send_str(proto.encode(proto.hello_frame(version)))
            for command in self._store.pending_commands(bridge_id):
                await ws.send_str(proto.encode(proto.command_frame(_wire(command))))
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._received(bridge_id, conn, msg.data, retention)
                else:
                    self._ignore("a binary frame")
        finally:
            if self._connections.get(bridge_id) is conn:
                del self._connections[bridge_id]
        return ws

    def _ignore(self, what: str) -> None:
        self.stats.ignored += 1
        _LOGGER.info("Sync: ignored %s", what)

    def _received(
        self, bridge_id: str, conn: _Connection, data: str, retention: Callable[[int], None]
    ) -> None:
        self.stats.frames_in += 1
        try:
            frame = proto.parse_bridge_frame(data)
        except proto.FrameError as err:
            self._ignore(f"a frame outside the protocol ({err})")
            return
        if frame is None:
            self._ignore("a frame of an unknown type")
            return
        if isinstance(frame, proto.Retention):
            retention(frame.retention_days)
            return
        try:
            obj = schemas.parse_synced_object(frame.thermostat)
        except ValidationError as err:
            self._ignore(f"a thermostat that is not valid ({err})")
            return
        self._store.put_object(bridge_id, obj, frame.seq)
        if isinstance(frame, proto.ThermostatUpload):
            self.stats.uploads += 1
            return
        self.stats.results += 1
        if not self._store.answer_command(bridge_id, frame.id, frame.status, frame.errors):
            self._ignore("a result for no pending command")
            return
        waiter = conn.waiters.get(frame.id)
        if waiter is not None and not waiter.done():
            waiter.set_result(proto.Result(frame.id, frame.status, frame.seq, obj, frame.errors))

    async def issue(self, bridge_id: str, command: Command, wait: float) -> proto.Result | None:
        """Deliver a stored pending command and wait up to ``wait`` seconds for the bridge's
        answer; None when the bridge is offline or did not answer in time (the command
        stays pending and is delivered again when the bridge connects)."""
        conn = self._connections.get(bridge_id)
        if conn is None:
            return None
        waiter: asyncio.Future[proto.Result] = asyncio.get_running_loop().create_future()
        conn.waiters[command.id] = waiter
        try:
            try:
                await conn.ws.send_str(proto.encode(proto.command_frame(_wire(command))))
            except (ConnectionError, RuntimeError):
                return None
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(waiter, wait)
            return None
        finally:
            conn.waiters.pop(command.id, None)

    async def drop(self, bridge_id: str) -> None:
        """Close the bridge's connection (it was erased)."""
        conn = self._connections.pop(bridge_id, None)
        if conn is not None:
            await conn.ws.close(code=ERASED, message=b"erased")

    async def close(self) -> None:
        """Close every connection (the server stops)."""
        for bridge_id in list(self._connections):
            conn = self._connections.pop(bridge_id)
            await conn.ws.close(code=1001, message=b"the cloud is stopping")


def _wire(command: Command) -> proto.Command:
    kind: Literal["update", "pause"] = proto.UPDATE if command.kind == proto.UPDATE else proto.PAUSE
    return proto.Command(command.id, kind, command.body, command.created_at, command.based_on)
