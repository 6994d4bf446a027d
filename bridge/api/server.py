"""The bridge's HTTP server: aiohttp with bounded waits for slow and idle clients.

aiohttp 3.13 (the version Home Assistant pins) leaves holes that this module
closes where it serves the app:

* a new connection may take forever to send its request head: aiohttp starts
  its keep-alive timer only after a first response, so a client trickling
  header bytes (slowloris) or sending nothing holds its socket for good. Here
  a connection that has not sent a complete request head within
  :data:`HEADER_TIMEOUT` seconds is closed;
* an idle keep-alive connection is held for aiohttp's default of an hour;
  here :data:`KEEPALIVE_TIMEOUT` (a request head trickled on a kept-alive
  connection is cut by the same timer);
* the WebSocket reader applies its message size limit only to a frame it has
  buffered whole, and accepts unmasked client frames. A socket whose route
  asked for it with :meth:`GuardedProtocol.limit_websocket` has the header of
  every client frame read as the bytes arrive: a frame whose announced length
  takes the message to the limit fails the connection with 1009 before any of
  its payload is kept, an unmasked frame with 1002 (RFC 6455, 5.1).

aiohttp 3.14 starts the keep-alive timer on a new connection and refuses an
announced length itself, but still accepts unmasked frames; the same code runs
on both (``tests/bridge/test_sockets.py`` holds a reproducer of each).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, web

if TYPE_CHECKING:
    from collections.abc import Callable
    import ssl

HEADER_TIMEOUT = 10.0
"""Seconds a new connection has to send a complete request head."""
KEEPALIVE_TIMEOUT = 30.0
"""Seconds an idle keep-alive connection stays open (aiohttp clients let go after 15)."""
ABORT_AFTER = 2.0
"""Seconds a failed WebSocket has to take its close frame before its connection is reset."""


def reset_connection(transport: asyncio.Transport) -> None:
    """Drop a connection now, with whatever it has unsent: a TCP reset.

    ``abort()`` alone closes the socket, and the kernel would keep trying to
    deliver the unsent bytes to a client that does not read (for minutes).
    """
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def close_frame(code: int, reason: str) -> bytes:
    """A server's (unmasked) WebSocket close frame."""
    payload = code.to_bytes(2, "big") + reason.encode()[:123]
    return bytes((0x88, len(payload))) + payload


class FrameGuard:
    """Reads the header of each client WebSocket frame before aiohttp's reader gets it.

    Wraps the reader aiohttp gives the connection (its ``feed_data`` and
    ``feed_eof``). Only headers are kept (at most 14 bytes); payload bytes
    are counted and passed on. ``refuse(code, reason)`` is called once, on
    the first frame that breaks a rule; nothing is passed on after it.
    """

    def __init__(self, reader: Any, max_message: int, refuse: Callable[[int, str], None]) -> None:
        self._reader = reader
        self._max = max_message
        self._refuse = refuse
        self._head = bytearray()
        self._skip = 0
        """Payload bytes of the current frame still to come."""
        self._message = 0
        """Payload bytes of the current fragmented data message so far."""
        self._failed = False

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        """Check the frame headers in ``data``, then hand it to aiohttp's reader."""
        if self._failed:
            return True, b""
        problem = self._check(data)
        if problem is not None:
            self._failed = True
            self._refuse(*problem)
            return True, b""
        result: tuple[bool, bytes] = self._reader.feed_data(data)
        return result

    def feed_eof(self) -> None:
        """The connection ended."""
        self._reader.feed_eof()

    def _check(self, data: bytes) -> tuple[int, str] | None:
        pos, end = 0, len(data)
        head = self._head
        while pos < end:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                continue
            head.append(data[pos])
            pos += 1
            if len(head) < 2:
                continue
            if not head[1] & 0x80:
                return int(WSCloseCode.PROTOCOL_ERROR), "client frames must be masked"
            flag = head[1] & 0x7F
            size = 4 if flag == 126 else 10 if flag == 127 else 2
            if len(head) < size:
                continue
            length = flag if size == 2 else int.from_bytes(head[2:size], "big")
            opcode = head[0] & 0x0F
            message = length + (self._message if opcode == 0 else 0)
            # data frames only (control frames are at most 125 bytes, aiohttp checks
            # that); the limit is exclusive, as in aiohttp's reader
            if opcode < 8 and message >= self._max:
                return int(WSCloseCode.MESSAGE_TOO_BIG), f"messages must be under {self._max} bytes"
            if len(head) < size + 4:
                continue
            if opcode < 8:
                self._message = 0 if head[0] & 0x80 else message
            self._skip = length
            head.clear()
        return None


class GuardedProtocol(web.RequestHandler):
    """aiohttp's connection handler with a deadline for the first request head
    and, once asked, a :class:`FrameGuard` on the WebSocket it is upgraded to."""

    __slots__ = ("_head_deadline", "_ws_max_message")

    def __init__(self, manager: web.Server, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._ws_max_message = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the clock for the first request head."""
        super().connection_made(transport)
        self._head_deadline = self._loop.call_later(HEADER_TIMEOUT, self._head_late)

    def connection_lost(self, exc: BaseException | None) -> None:
        """Stop the clock."""
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None
        super().connection_lost(exc)

    def _head_late(self) -> None:
        self._head_deadline = None
        # aiohttp counts a request once its head is parsed; later heads on a
        # kept-alive connection are bounded by the keep-alive timer
        if self._request_count == 0:
            self.force_close()

    def limit_websocket(self, max_message: int) -> None:
        """Guard the WebSocket this connection is about to become (call before ``prepare``)."""
        self._ws_max_message = max_message

    def set_parser(self, parser: Any, *args: Any, **kwargs: Any) -> None:
        """aiohttp hands over the WebSocket reader: put the guard in front of it."""
        if self._ws_max_message:
            parser = FrameGuard(parser, self._ws_max_message, self._fail_websocket)
        super().set_parser(parser, *args, **kwargs)

    def _fail_websocket(self, code: int, reason: str) -> None:
        transport = self.transport
        if transport is None:
            return
        transport.write(close_frame(code, reason))
        self.force_close()
        # close() waits for the close frame to be sent; a client that does not
        # read would keep the connection: reset it after a moment
        self._loop.call_later(ABORT_AFTER, reset_connection, transport)


class _Server(web.Server):
    def __call__(self) -> GuardedProtocol:
        return GuardedProtocol(self, loop=self._loop, **self._kwargs)


class _Runner(web.AppRunner):
    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        return _Server(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            **server._kwargs,
        )


async def serve(
    app: web.Application, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None
) -> web.AppRunner:
    """Serve ``app`` on ``host``:``port`` with the limits above; ``cleanup()`` the
    runner to stop. aiohttp's access log is off: it would print query strings
    (``?access_token=``)."""
    runner = _Runner(app, access_log=None, keepalive_timeout=KEEPALIVE_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
