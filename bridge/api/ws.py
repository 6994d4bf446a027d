"""The push channel ``/api/v1/ws``: every change of the native state, as it happens.

Messages (JSON text frames, server to client):

* ``{"type": "state", "seq": n, "data": <native state>}``: the whole state,
  first on connect, and again whenever the client fell behind or asked for it;
* ``{"type": "changed", "seq": n, "data": <partial state>}``: what changed
  since the previous message. Apply it as a deep merge: objects merge key by
  key; any other value (number, string, bool, null, list) replaces the old
  one. Keys are never removed by a ``changed`` message (a shape change comes
  as a ``state``);
* ``{"type": "pong"}`` and ``{"type": "error", ...}`` answering the client.

``seq`` grows by one per state version, so a client sees where it stands.
Client to server: ``{"type": "ping"}`` and ``{"type": "resync"}`` (send the
whole state now); anything else is answered with an error message.

Cheap and never in the thermostat's way: the change listeners only mark the
state dirty and schedule one flush on the event loop, so a burst of changes
makes one message. The flush builds the native state once, diffs it once,
serializes once and queues the same text for every client. Each client has
a bounded queue: when it overflows, its queue collapses into one ``state``
message; a client that keeps overflowing, or whose send stalls, is closed
(1013), and its connection reset when it does not take the close frame.
Sockets whose token is revoked or expires are closed with 4401. Client
frames are checked at their header as they arrive (``api/server.py``):
unmasked ones close with 1002, a message of MAX_CLIENT_MESSAGE bytes or
more with 1009.
Heartbeat pings drop dead clients; the bridge closes all sockets (1001) when
it stops.
"""

from __future__ import annotations

import asyncio
from collections import deque
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web

from bridge.api.context import BRIDGE_KEY, BridgeServices, token_of
from bridge.api.routing import (
    AUTH_ERRORS,
    Route,
    error_response,
    operation,
    ref,
    register,
)
from bridge.api.server import GuardedProtocol, reset_connection
from bridge.core.bodies import BodyError, parse_json
from bridge.core.payloads.ws import WsServerMessage

if TYPE_CHECKING:
    from collections.abc import Callable


_LOGGER = logging.getLogger(__name__)

HEARTBEAT = 30.0
"""Seconds between pings; a client that does not answer within half of it is dropped."""
CLOSE_TIMEOUT = 2.0
"""Seconds a close waits for the client's close frame."""
SEND_TIMEOUT = 5.0
"""Seconds one send may take before the client counts as stalled."""
MAX_QUEUE = 32
"""Messages queued per client before its queue collapses into one state message."""
MAX_RESYNCS = 3
RESYNC_WINDOW = 60.0
"""More than MAX_RESYNCS collapses within RESYNC_WINDOW seconds drop the client."""
TOKEN_CHECK_INTERVAL = 60.0
"""Seconds of clock time between checks that each socket's token is still active."""
MAX_CLIENT_MESSAGE = 4096
"""Client messages must be shorter than this (bytes), as aiohttp counts its limit."""

CLOSE_TOKEN = 4401
CLOSE_TOO_SLOW = int(WSCloseCode.TRY_AGAIN_LATER)


def _json_equal(a: Any, b: Any) -> bool:
    """Equal as JSON: ``true`` is not ``1`` (Python says they are), at any depth."""
    if a is b:  # kept JSON (the schedule's entries) is shared between renderings
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_json_equal(v, b[k]) for k, v in a.items())
    return bool(a == b)


def merge_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    """What changed from ``old`` to ``new`` as a deep-merge patch (``{}``: nothing).

    None when a key disappeared: a merge patch cannot say that, so the
    caller sends the whole state instead.
    """
    out: dict[str, Any] = {}
    for key, value in new.items():
        if key not in old:
            out[key] = value
            continue
        before = old[key]
        if isinstance(value, dict) and isinstance(before, dict):
            inner = merge_diff(before, value)
            if inner is None:
                return None
            if inner:
                out[key] = inner
        elif not _json_equal(value, before):
            out[key] = value
    if any(key not in new for key in old):
        return None
    return out


class _Client:
    """One socket: its bounded queue and the task that writes it."""

    def __init__(self, ws: web.WebSocketResponse, token_id: int, hub: PushHub) -> None:
        self.ws = ws
        self.token_id = token_id
        self._hub = hub
        self._queue: deque[str] = deque()
        self._wake = asyncio.Event()
        self._resyncs: deque[float] = deque()
        self.close_code: int | None = None
        self.close_reason = ""
        self.finished = asyncio.Event()
        """Set when the socket's handler is done."""

    def offer(self, text: str) -> None:
        """Queue a message; on overflow, collapse the queue into one state message."""
        if self.close_code is not None:
            return
        if len(self._queue) >= MAX_QUEUE:
            now = self._hub.monotonic()
            self._resyncs.append(now)
            while self._resyncs and self._resyncs[0] <= now - RESYNC_WINDOW:
                self._resyncs.popleft()
            if len(self._resyncs) > MAX_RESYNCS:
                self._hub.dropped += 1
                self.close(CLOSE_TOO_SLOW, "too slow")
                return
            self._hub.resyncs += 1
            self._queue.clear()
            self._queue.append(self._hub.state_message())
        else:
            self._queue.append(text)
        self._wake.set()

    def resync(self) -> None:
        """Replace whatever is queued by the whole state."""
        self._queue.clear()
        self._queue.append(self._hub.state_message())
        self._wake.set()

    def close(self, code: int, reason: str) -> None:
        """Ask the writer to close the socket with ``code``."""
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
            self._queue.clear()
        self._wake.set()

    async def write(self) -> None:
        """Send queued messages until a close is asked for (or a send stalls)."""
        ws = self.ws
        while self.close_code is None:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and self.close_code is None:
                text = self._queue.popleft()
                try:
                    async with asyncio.timeout(SEND_TIMEOUT):
                        await ws.send_str(text)
                except TimeoutError:
                    self._hub.dropped += 1
                    self.close(CLOSE_TOO_SLOW, "too slow")
                    return
                except ConnectionError:
                    return  # the connection is gone (or was failed by the frame guard)
                self._hub.sent += 1


async def close_socket(
    ws: web.WebSocketResponse, transport: asyncio.Transport | None, code: int, reason: str
) -> None:
    """Close ``ws``, not waiting more than :data:`CLOSE_TIMEOUT` for the client.

    When the client does not answer with its close frame (a client that does
    not read never does), its connection is reset: closing it would leave
    the kernel trying to deliver what was queued for minutes.
    """
    try:
        with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
            await asyncio.wait_for(ws.close(code=code, message=reason.encode()), CLOSE_TIMEOUT)
    finally:
        # also when the close ends in CancelledError (as it does with aiohttp 3.14)
        if transport is not None and ws.close_code in (None, WSCloseCode.ABNORMAL_CLOSURE):
            reset_connection(transport)


class PushHub:
    """The bridge's push clients and the state they were last sent."""

    def __init__(self, bridge: BridgeServices) -> None:
        self.stopped = False
        self._bridge = bridge
        self._clients: set[_Client] = set()
        self._snapshot: dict[str, Any] | None = None
        self._seq = 0
        self._dirty = False
        self._scheduled = False
        self._removers: list[Callable[[], None]] = []
        self._checker: asyncio.Task[None] | None = None
        self.sent = 0
        self.resyncs = 0
        self.dropped = 0

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Listen to the thermostat, the boiler and the link."""
        bridge = self._bridge
        service = bridge.thermostat
        self._removers.append(service.add_listener(self._changed))
        self._removers.append(service.add_state_listener(self._changed))
        boiler = service.boiler_state()
        if boiler is not None:
            self._removers.append(boiler.add_listener(self._changed))
        self._removers.append(bridge.link.add_state_listener(self._changed))
        self._removers.append(bridge.privacy.add_listener(self._changed))
        self._checker = asyncio.create_task(self._check_tokens(), name="push-token-check")

    async def stop(self) -> None:
        """Stop listening and close every socket with 1001 (going away)."""
        self.stopped = True
        for remove in self._removers:
            remove()
        self._removers.clear()
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker
            self._checker = None
        clients = list(self._clients)
        for client in clients:
            client.close(WSCloseCode.GOING_AWAY, "bridge stopping")
        if clients:
            await asyncio.wait(
                [asyncio.create_task(c.finished.wait()) for c in clients],
                timeout=CLOSE_TIMEOUT + 1,
            )

    # -- state ---------------------------------------------------------------------

    def monotonic(self) -> float:
        """The bridge clock's monotonic time."""
        return self._bridge.clock.monotonic()

    def stats(self) -> dict[str, int]:
        """Counts for diagnostics."""
        return {
            "clients": len(self._clients),
            "messages_sent": self.sent,
            "resyncs": self.resyncs,
            "dropped_clients": self.dropped,
        }

    def state_message(self) -> str:
        """The whole state as a ``state`` message (at the current ``seq``)."""
        if self._snapshot is None:
            self._snapshot = self._bridge.native_state()
        return json.dumps({"type": "state", "seq": self._seq, "data": self._snapshot})

    def _changed(self, *_args: object) -> None:
        # runs inside the thermostat's and the master's notification: only mark and schedule
        if not self._clients:
            self._snapshot = None
            return
        self._dirty = True
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        if not self._dirty:
            return
        self._dirty = False
        try:
            self._refresh()
        except Exception:
            _LOGGER.exception("Could not push a state change")

    def _refresh(self) -> None:
        """Bring the snapshot up to date and send clients what changed."""
        if not self._clients:
            self._snapshot = None
            return
        current = self._bridge.native_state()
        previous = self._snapshot
        self._snapshot = current
        patch = None if previous is None else merge_diff(previous, current)
        if patch == {}:
            return
        self._seq += 1
        if patch is None:
            text = json.dumps({"type": "state", "seq": self._seq, "data": current})
        else:
            text = json.dumps({"type": "changed", "seq": self._seq, "data": patch})
        for client in list(self._clients):
            client.offer(text)

    # -- clients ---------------------------------------------------------------------

    def attach(self, client: _Client) -> None:
        """Add a client; it gets the whole, fresh state first."""
        if self._clients:
            self._dirty = False
            self._refresh()
        else:
            self._snapshot = self._bridge.native_state()
        self._clients.add(client)
        client.offer(self.state_message())

    def detach(self, client: _Client) -> None:
        """Forget a client."""
        self._clients.discard(client)
        if not self._clients:
            self._snapshot = None

    def close_token(self, token_id: int) -> None:
        """Close the sockets opened with a token that was revoked."""
        for client in list(self._clients):
            if client.token_id == token_id:
                client.close(CLOSE_TOKEN, "token revoked")

    def close_all(self, code: int, reason: str) -> None:
        """Close every socket."""
        for client in list(self._clients):
            client.close(code, reason)

    async def _check_tokens(self) -> None:
        clock = self._bridge.clock
        while True:
            await clock.sleep(TOKEN_CHECK_INTERVAL)
            try:
                for client in list(self._clients):
                    if not await self._bridge.access.token_active(client.token_id):
                        client.close(CLOSE_TOKEN, "token revoked or expired")
            except Exception:
                _LOGGER.exception("Could not check the push clients' tokens")


PUSH_KEY: web.AppKey[PushHub] = web.AppKey("push", PushHub)


def _client_message(hub: PushHub, client: _Client, text: str) -> None:
    try:
        message = parse_json(text.encode("utf-8"))
    except (BodyError, UnicodeEncodeError):
        message = None
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "ping":
        client.offer(json.dumps({"type": "pong"}))
    elif kind == "resync":
        client.resync()
    else:
        client.offer(
            json.dumps(
                {
                    "type": "error",
                    "error": "invalid",
                    "message": 'send {"type": "ping"} or {"type": "resync"}',
                    "errors": [{"field": "type", "rule": "must be ping or resync"}],
                }
            )
        )


async def websocket(request: web.Request) -> web.StreamResponse:
    """``GET /api/v1/ws``: the push channel (the token is checked before the upgrade)."""
    hub = request.app[PUSH_KEY]
    ws = web.WebSocketResponse(
        heartbeat=HEARTBEAT,
        timeout=CLOSE_TIMEOUT,
        max_msg_size=MAX_CLIENT_MESSAGE,
        # no per-message deflate: a change goes to every client, and compressing it once
        # per client (a browser asks for it) would cost the CPU of a Pi on a fast LAN
        compress=False,
    )
    check = ws.can_prepare(request)
    if not check.ok:
        return web.json_response(
            {"error": "upgrade_required", "message": "this route is a WebSocket"},
            status=426,
            headers={"Upgrade": "websocket", "Connection": "Upgrade"},
        )
    protocol = request.protocol
    if isinstance(protocol, GuardedProtocol):
        # aiohttp checks the size of whole frames only, and not the mask
        protocol.limit_websocket(MAX_CLIENT_MESSAGE)
    transport = request.transport
    await ws.prepare(request)
    if hub.stopped:
        # the upgrade raced the bridge's stop: nobody would ever close this socket
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"bridge stopping")
        return ws
    client = _Client(ws, token_of(request).id, hub)
    hub.attach(client)
    reader = asyncio.create_task(_read(hub, client), name="push-reader")
    writer = asyncio.create_task(client.write(), name="push-writer")
    try:
        await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.detach(client)
        for task in (reader, writer):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            if client.close_code is not None:
                # nobody reads any more, so close() waits for the client's close frame
                await close_socket(ws, transport, client.close_code, client.close_reason)
        finally:
            client.finished.set()
    return ws


async def _read(hub: PushHub, client: _Client) -> None:
    """Handle the client's messages until it closes (or a close is asked for)."""
    async for msg in client.ws:
        if msg.type is WSMsgType.TEXT:
            _client_message(hub, client, msg.data)
        elif msg.type is WSMsgType.BINARY:
            client.close(int(WSCloseCode.UNSUPPORTED_DATA), "send JSON text frames")
            return


async def _on_startup(app: web.Application) -> None:
    app[PUSH_KEY].start()


async def _on_shutdown(app: web.Application) -> None:
    await app[PUSH_KEY].stop()


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/api/v1/ws",
        websocket,
        operation(
            "push",
            "WebSocket: every change of the native state",
            "push",
            {
                "101": {
                    "description": "Switching protocols. Server messages are WsServerMessage: first "
                    "a `state` with the whole native state, then a `changed` deep-merge patch per "
                    "change (objects merge key by key, other values replace, keys are never "
                    "removed), or a new `state` when the client fell behind. Client messages are "
                    "WsClientMessage (`ping`, `resync`) in masked text frames, each message under "
                    f"{MAX_CLIENT_MESSAGE} bytes. Close codes: 1001 bridge stopping, 1002 unmasked "
                    "frame, 1003 binary message, 1009 message too big (at the frame header that "
                    "announces it), 1013 client too slow, 4401 token revoked or expired. The "
                    f"server pings every {HEARTBEAT:g} s.",
                    "content": {"application/json": {"schema": ref(WsServerMessage)}},
                },
                **AUTH_ERRORS,
                "426": error_response("Not a WebSocket upgrade request."),
            },
            description="The token comes in the Authorization header or as ?access_token=; a "
            "missing or bad token is refused with 401 before the upgrade.",
        ),
    ),
)


def add_routes(app: web.Application) -> None:
    """Register the push channel and its start and stop hooks."""
    app[PUSH_KEY] = PushHub(app[BRIDGE_KEY])
    app.on_startup.append(_on_startup)
    app.on_shutdown.append(_on_shutdown)
    register(app, ROUTES)
