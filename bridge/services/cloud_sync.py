"""The bridge's end of the sync connection: one outbound WebSocket to the linked cloud.

It runs only while the bridge is linked (``db.cloud``) to the configured
cloud AND the ``cloud_sync`` consent holds under the cloud's current terms
(:class:`~bridge.services.cloud_client.CloudGate`); a revocation or a terms
change closes the connection at once (the gate's listener), and every frame
is checked against the gate again before it is sent.

On connect the cloud says ``hello`` (its terms version goes to the gate),
the bridge states its retention and uploads the thermostat; afterwards it
uploads on change, coalesced (only the latest object waits, so nothing
queues up) and at most once per :data:`UPLOAD_INTERVAL_S`; the answer to a
command carries the object at once. Each frame is checked against the
purpose's allow-list and written to the egress log before it is sent.

Commands go through the same rules as local changes
(``ThermostatService.update(remote=True)``, ``set_paused``) unless a later
change on the bridge superseded them (:class:`bridge.core.cloud_sync.Timeline`).

Reconnecting waits with exponential backoff and full jitter
(:func:`~bridge.core.cloud_sync.backoff_delay`) on the bridge's clock; an
outage is logged once when it starts and once when it ends. Whatever the
cloud does (garbage, a hang, a close) changes nothing local: the thermostat
heats on by itself.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
import contextlib
import dataclasses
import logging
import random
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
from yarl import URL

from bridge.core import cloud_sync as proto
from bridge.core.clock import sleep_or_wake
from bridge.core.errors import StorageUnavailableError
from bridge.core.payloads.native import CloudSync
from bridge.core.payloads.privacy import Purpose
from bridge.core.purposes import FieldNotAllowedError, require_allowed
from bridge.core.validation import ValidationError
from bridge.services.cloud_client import NotAllowed, clip

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.services.cloud_client import CloudClient
    from bridge.services.thermostat import ThermostatService
    from bridge.storage import Database

__all__ = ["CONNECT_TIMEOUT_S", "IDLE_RECHECK_S", "UPLOAD_INTERVAL_S", "CloudSyncService"]

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

UPLOAD_INTERVAL_S = 60.0
"""At most one thermostat upload per minute (a command's answer goes at once)."""
CONNECT_TIMEOUT_S = 30.0
"""Connecting and the cloud's hello, on the bridge's clock."""
IDLE_RECHECK_S = 300.0
"""Not linked or not allowed: look again this often (a consent change wakes it sooner)."""
HEARTBEAT_S = 30.0
"""WebSocket pings: a connection whose cloud stopped answering is dropped."""
REMEMBERED_RESULTS = 256
"""Answers kept to answer a command the cloud delivers again (after a reconnect) the same."""

_PURPOSE = Purpose.CLOUD_SYNC


class _SyncError(Exception):
    """The connection failed or the cloud spoke outside the protocol."""


class CloudSyncService:
    """Keeps the sync connection while it is wanted (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        client: CloudClient,
        thermostat: ThermostatService,
        *,
        retention_days: int,
        on_change: Callable[[], None] | None = None,
        rand: Callable[[], float] = random.random,
        upload_interval: float = UPLOAD_INTERVAL_S,
    ) -> None:
        self._db = db
        self._clock = clock
        self._client = client
        self._gate = client.gate
        self._thermostat = thermostat
        self._retention_days = retention_days
        self._on_change = on_change
        self._rand = rand
        self._upload_interval = upload_interval
        self._wake = asyncio.Event()
        self._dirty = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._http: aiohttp.ClientSession | None = None
        self._url: URL | None = None
        self._answered: OrderedDict[int, tuple[str, list[dict[str, str]]]] = OrderedDict()
        self._removers: list[Callable[[], None]] = []
        self._checks: set[asyncio.Task[None]] = set()
        self._last_upload_mono: float | None = None
        self._status = CloudSync(
            connected=False,
            since=None,
            last_upload=None,
            uploads=0,
            commands=0,
            outage_since=None,
            last_error=None,
            not_running=None,
        )

    # -- state ------------------------------------------------------------------------

    def view(self) -> CloudSync:
        """The ``cloud_sync`` section of the native state."""
        return self._status

    def _update(self, **changes: Any) -> None:
        self._status = dataclasses.replace(self._status, **changes)
        if self._on_change is not None:
            self._on_change()

    # -- listeners --------------------------------------------------------------------

    def wake(self) -> None:
        """Look again now whether the connection is wanted: call it when the bridge was
        linked, unlinked or erased (a consent or terms change calls it by itself)."""
        self._wake.set()
        task = asyncio.get_running_loop().create_task(self._recheck())
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _recheck(self) -> None:
        """Close the connection at once if it is no longer wanted."""
        ws = self._ws
        if ws is None:
            return
        reason = await self._stop_reason()
        if reason is not None:
            _LOGGER.info("Cloud sync: stopped, %s", reason)
            await ws.close()

    async def _stop_reason(self) -> str | None:
        """Why the connection must not go on (None: it may)."""
        reason = await self._gate.why_not(_PURPOSE)
        if reason is None and await self._db.cloud.credential() is None:
            reason = "the bridge is no longer linked"
        return reason

    def _thermostat_changed(self, _changed: dict[str, Any]) -> None:
        self._dirty.set()

    # -- the loop ---------------------------------------------------------------------

    async def run(self) -> None:
        """Keep the connection while it is wanted; never returns (cancel to stop)."""
        self._removers = [
            self._gate.add_listener(self.wake),
            self._thermostat.add_listener(self._thermostat_changed),
        ]
        attempt = 0
        try:
            while True:
                self._wake.clear()
                try:
                    credential = await self._wanted()
                except StorageUnavailableError as err:
                    _LOGGER.warning("Cloud sync: the database cannot be read: %s", err)
                    credential = None
                if credential is None:
                    attempt = 0
                    await self._sleep_or_wake(IDLE_RECHECK_S)
                    continue
                try:
                    greeted = await self._session(credential)
                    error = "the cloud closed the connection"
                except NotAllowed:
                    continue
                except (
                    _SyncError,
                    TimeoutError,
                    OSError,
                    aiohttp.ClientError,
                    StorageUnavailableError,
                ) as err:
                    greeted = False
                    error = _describe(err)
                if await self._stop_reason() is not None:
                    continue  # stopped on purpose: no outage
                if greeted:
                    attempt = 0
                self._outage(error)
                delay = proto.backoff_delay(attempt, self._rand())
                attempt += 1
                await self._sleep_or_wake(delay)
        finally:
            for remove in self._removers:
                remove()
            if self._http is not None:
                await self._http.close()

    async def _wanted(self) -> str | None:
        """The credential when the connection is wanted now; else None (and why, in the
        state)."""
        link = await self._db.cloud.get()
        reason: str | None
        credential = None
        if link is None:
            reason = "the bridge is not linked to a cloud account"
        elif URL(link.cloud_url.rstrip("/")) != self._client.base:
            reason = "the bridge is linked to another cloud than the configured one"
        else:
            reason = await self._gate.why_not(_PURPOSE)
            if reason is None:
                credential = await self._db.cloud.credential()
                self._url = _sync_url(self._client.base, link.bridge_id)
        if reason != self._status.not_running:
            if reason is not None:
                _LOGGER.info("Cloud sync: not running, %s", reason)
            self._update(not_running=reason, outage_since=None)
        return credential

    async def _sleep_or_wake(self, seconds: float) -> None:
        await sleep_or_wake(self._clock, self._wake, seconds)

    async def _within(self, aw: Awaitable[_T], seconds: float, what: str) -> _T:
        """``aw``'s result, or TimeoutError after ``seconds`` of the bridge's clock."""
        task = asyncio.ensure_future(aw)
        timer = asyncio.ensure_future(self._clock.sleep(seconds))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                return task.result()
            raise TimeoutError(f"the cloud did not {what} within {seconds:g} s")
        finally:
            for pending in (task, timer):
                if not pending.done():
                    pending.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await pending

    def _outage(self, error: str) -> None:
        if self._status.outage_since is None:
            _LOGGER.warning(
                "Cloud sync: the cloud cannot be reached (%s); the thermostat works on by"
                " itself and the bridge keeps trying",
                error,
            )
            self._update(outage_since=self._clock.time(), last_error=error)
        elif error != self._status.last_error:
            self._update(last_error=error)

    # -- one connection -----------------------------------------------------------------

    def _session_http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._client.ssl_context)
            )
        return self._http

    async def _session(self, credential: str) -> bool:
        """One connection, until it closes; True if the cloud said hello."""
        assert self._url is not None
        url = self._url

        async def connect() -> aiohttp.ClientWebSocketResponse:
            return await self._session_http().ws_connect(
                url,
                headers={"Authorization": f"Bearer {credential}"},
                heartbeat=HEARTBEAT_S,
                max_msg_size=proto.MAX_FRAME,
            )

        # the connection request leaves the LAN too: logged (no fields) before it is made
        await self._gate.require(_PURPOSE)
        await self._client.log_egress(url, _PURPOSE, [], 0)
        try:
            ws = await self._within(connect(), CONNECT_TIMEOUT_S, "accept the connection")
        except aiohttp.WSServerHandshakeError as err:
            raise _SyncError(f"the cloud refused the connection (HTTP {err.status})") from None
        self._ws = ws
        try:
            msg = await self._within(ws.receive(), CONNECT_TIMEOUT_S, "say hello")
            hello = self._hello(msg)
            self._gate.set_terms_version(hello.terms_version)
            await self._gate.require(_PURPOSE)
            self._connected()
            await self._send(ws, proto.retention_frame(self._retention_days))
            self._dirty.set()
            uploader = asyncio.create_task(self._uploads(ws))
            try:
                await self._receive(ws)
            finally:
                uploader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await uploader
            return True
        finally:
            self._ws = None
            await ws.close()
            if self._status.connected:
                self._update(connected=False, since=None)

    @staticmethod
    def _hello(msg: aiohttp.WSMessage) -> proto.Hello:
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise _SyncError("the cloud closed the connection before its hello")
        try:
            frame = proto.parse_cloud_frame(msg.data)
        except proto.FrameError as err:
            raise _SyncError(f"the cloud's first frame is not the protocol: {err}") from None
        if not isinstance(frame, proto.Hello):
            raise _SyncError("the cloud's first frame is not a hello")
        return frame

    def _connected(self) -> None:
        now = self._clock.time()
        if self._status.outage_since is not None:
            _LOGGER.info(
                "Cloud sync: connected again after %.0f s",
                now - self._status.outage_since,
            )
        else:
            _LOGGER.info("Cloud sync: connected")
        self._update(connected=True, since=now, outage_since=None, last_error=None)

    async def _send(self, ws: aiohttp.ClientWebSocketResponse, frame: dict[str, Any]) -> None:
        """Check the gate, the link and the allow-list, log the egress, then send."""
        await self._gate.require(_PURPOSE)
        if await self._db.cloud.credential() is None:
            raise NotAllowed("the bridge is no longer linked")
        fields = proto.frame_fields(frame)
        require_allowed(_PURPOSE, fields)
        text = proto.encode(frame)
        assert self._url is not None
        await self._client.log_egress(self._url, _PURPOSE, fields, len(text.encode()))
        await ws.send_str(text)

    async def _upload(self, ws: aiohttp.ClientWebSocketResponse, frame: dict[str, Any]) -> None:
        await self._send(ws, frame)
        self._last_upload_mono = self._clock.monotonic()
        self._update(last_upload=self._clock.time(), uploads=self._status.uploads + 1)

    async def _uploads(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Upload the latest thermostat on change, at most once per interval."""
        try:
            while True:
                await self._dirty.wait()
                if self._last_upload_mono is not None:
                    due = self._last_upload_mono + self._upload_interval
                    await self._clock.sleep(due - self._clock.monotonic())
                self._dirty.clear()
                service = self._thermostat
                seq = service.timeline.stamp(self._clock.time())
                await self._upload(ws, proto.thermostat_frame(seq, service.cloud_object()))
        except (NotAllowed, FieldNotAllowedError, ConnectionError, RuntimeError) as err:
            _LOGGER.debug("Cloud sync: upload stopped: %s", err)
            await ws.close()

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        ignored: set[str] = set()
        while True:
            msg = await ws.receive()
            if msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.ERROR,
            ):
                return
            problem = None
            frame: proto.CloudFrame | None = None
            if msg.type != aiohttp.WSMsgType.TEXT:
                problem = "a frame that is not text"
            else:
                try:
                    frame = proto.parse_cloud_frame(msg.data)
                except proto.FrameError as err:
                    problem = f"a frame outside the protocol ({clip(err)})"
                if frame is None and problem is None:
                    problem = "a frame of an unknown type"
            if problem is not None:
                if problem not in ignored:  # once per kind of problem and connection
                    ignored.add(problem)
                    _LOGGER.warning("Cloud sync: ignored %s", problem)
                continue
            if isinstance(frame, proto.Hello):
                self._gate.set_terms_version(frame.terms_version)
            elif isinstance(frame, proto.Command):
                try:
                    await self._command(ws, frame)
                except (NotAllowed, FieldNotAllowedError):
                    return

    async def _command(self, ws: aiohttp.ClientWebSocketResponse, command: proto.Command) -> None:
        """Apply a command by the bridge's rules (or not, when superseded) and answer it."""
        service = self._thermostat
        remembered = self._answered.get(command.id)
        errors: list[dict[str, str]] = []
        if remembered is not None:
            status, errors = remembered
        elif service.timeline.superseded(command):
            status = proto.SUPERSEDED
        else:
            try:
                if command.kind == proto.UPDATE:
                    await service.update(command.body, remote=True, from_cloud=True)
                else:
                    await service.set_paused(bool(command.body["pause"]), from_cloud=True)
                status = proto.APPLIED
            except ValidationError as err:
                status = proto.REJECTED
                errors = [{"field": str(e["field"]), "rule": str(e["rule"])} for e in err.errors]
            except StorageUnavailableError as err:
                # not answered: the command stays pending and comes again
                _LOGGER.warning("Cloud sync: a remote command could not be stored: %s", err)
                return
        self._answered[command.id] = (status, errors)
        while len(self._answered) > REMEMBERED_RESULTS:
            self._answered.popitem(last=False)
        self._dirty.clear()  # the answer carries the object as it is now
        seq = service.timeline.stamp(self._clock.time())
        frame = proto.result_frame(command.id, status, seq, service.cloud_object(), errors)
        self._update(commands=self._status.commands + 1)
        await self._upload(ws, frame)


def _sync_url(base: URL, bridge_id: str) -> URL:
    url = base.joinpath("api", "v1", "bridges", bridge_id, "sync")
    return url.with_scheme("wss" if url.scheme == "https" else "ws")


def _describe(err: BaseException) -> str:
    if isinstance(err, aiohttp.ClientSSLError):
        return f"the cloud's certificate was not accepted: {clip(err)}"
    return clip(err) or type(err).__name__
