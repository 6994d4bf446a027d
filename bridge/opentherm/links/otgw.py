"""The OpenTherm Gateway (OTGW) link, over TCP or a serial port.

The gateway sits on the OpenTherm line and prints every frame it sees; the
bridge steers it with override commands. :class:`OtgwLink` opens the
connection (``otgw+tcp://``, ``socket://`` or ``otgw+serial://``), keeps it
up and carries the master's conversations over it; the line protocol on one
connection (commands and replies, reads as ``PM=`` priority messages,
writes as override commands, the stream parsed line by line) is
:class:`~bridge.opentherm.links.otgw_stream.OtgwStream`.

Commands go one at a time, each with a timeout. A lost connection is
retried with jittered exponential backoff; the loss is logged once as a
warning and the recovery once at info level.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import logging
import random
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit

from bridge.core.clock import SystemClock
from bridge.core.listeners import Listeners
from bridge.opentherm import otgw_protocol as proto
from bridge.opentherm.frame import Frame, MsgType
from bridge.opentherm.links.backoff import Backoff, backoff_delay
from bridge.opentherm.links.base import (
    LinkCounters,
    LinkError,
    LinkState,
    LinkTimeout,
    StateListener,
)
from bridge.opentherm.links.otgw_stream import OtgwCommandError, OtgwStream, OtgwUnsupportedError

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.core.clock import Clock

_LOGGER = logging.getLogger(__name__)

#: The port a networked gateway listens on when the URL gives none.
DEFAULT_PORT: Final = 25238
#: The gateway's serial speed; the frame is 8 data bits, no parity, 1 stop bit.
SERIAL_BAUDRATE: Final = 9600

_SCHEMES: Final[dict[str, Literal["tcp", "serial"]]] = {
    "otgw+tcp": "tcp",
    "socket": "tcp",
    "otgw+serial": "serial",
}


# ------------------------------------------------------------------ URLs


@dataclass(frozen=True, slots=True)
class OtgwTarget:
    """Where the gateway is: a TCP host and port, or a serial device."""

    transport: Literal["tcp", "serial"]
    host: str = ""
    port: int = 0
    device: str = ""

    def describe(self) -> str:
        """``host:port`` or the device path, for logs."""
        return f"{self.host}:{self.port}" if self.transport == "tcp" else self.device


def parse_otgw_url(url: str) -> OtgwTarget:
    """Parse ``otgw+tcp://HOST:PORT``, ``socket://HOST:PORT`` or ``otgw+serial:///dev/X``.

    A missing TCP port means 25238. Raises ValueError for anything else.
    """
    parts = urlsplit(url)
    transport = _SCHEMES.get(parts.scheme.lower())
    if transport is None:
        raise ValueError(
            f"boiler URL {url!r}: the OpenTherm Gateway needs otgw+tcp://, socket:// "
            "or otgw+serial://"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"boiler URL {url!r}: the OpenTherm Gateway takes no query or fragment")
    if transport == "tcp":
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"boiler URL {url!r}: the port is not a number 0-65535") from None
        if not parts.hostname:
            raise ValueError(f"boiler URL {url!r}: a host is required")
        if parts.path not in ("", "/"):
            raise ValueError(f"boiler URL {url!r}: a TCP gateway URL has no path")
        return OtgwTarget("tcp", host=parts.hostname, port=port or DEFAULT_PORT)
    device = parts.path if not parts.netloc else parts.netloc + parts.path
    if not device or device == "/":
        raise ValueError(
            f"boiler URL {url!r}: a serial device is required (otgw+serial:///dev/ttyUSB0)"
        )
    return OtgwTarget("serial", device=device)


# ------------------------------------------------------------------ the link


class OtgwLink:
    """A :class:`~bridge.opentherm.links.base.BoilerLink` to an OpenTherm Gateway."""

    kind = "otgw"
    opentherm = True

    def __init__(
        self,
        target: OtgwTarget | str,
        *,
        clock: Clock | None = None,
        command_timeout: float = 2.0,
        connect_timeout: float = 5.0,
        idle_timeout: float = 60.0,
        min_timeout: float = 2.0,
        backoff_min: float = 1.0,
        backoff_max: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        """Build a link; nothing is opened before :meth:`start`.

        ``min_timeout`` raises the timeout of every :meth:`transact` to at
        least that many seconds: a gateway sends a priority read in its next
        slot, which can be a second away, so the master's usual 0.8 s is too
        short for it. ``idle_timeout`` drops and
        reopens a connection on which nothing arrived for that long.
        """
        self.target = parse_otgw_url(target) if isinstance(target, str) else target
        self.counters = LinkCounters()
        self.firmware: str | None = None
        self._clock: Clock = clock or SystemClock()
        self._command_timeout = command_timeout
        self._connect_timeout = connect_timeout
        self._min_timeout = min_timeout
        self._backoff = Backoff(backoff_min, backoff_max, rng)
        self._state = LinkState.STOPPED
        self._listeners: Listeners[[LinkState]] = Listeners(_LOGGER, "link state listener failed")
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._first_attempt = asyncio.Event()
        self._stream = OtgwStream(
            self.target.describe(),
            self.counters,
            _LOGGER,
            command_timeout=command_timeout,
            idle_timeout=idle_timeout,
        )
        self._down_logged = False
        self.next_retry_delay: float | None = None

    @classmethod
    def from_url(cls, url: str, *, clock: Clock | None = None, **options: Any) -> OtgwLink:
        """A link for ``otgw+tcp://``, ``socket://`` or ``otgw+serial://`` URLs."""
        return cls(parse_otgw_url(url), clock=clock, **options)

    # -------------------------------------------------------------- BoilerLink

    @property
    def state(self) -> LinkState:
        """The connection state."""
        return self._state

    def add_state_listener(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener`` on every state change; returns a function that removes it."""
        return self._listeners.add(listener)

    async def start(self) -> None:
        """Start connecting; returns after the first attempt, connected or not."""
        if self._task is not None:
            return
        self._stopping = False
        self._down_logged = False
        self._first_attempt = asyncio.Event()
        self._task = asyncio.create_task(self._supervise(), name=f"otgw {self.target.describe()}")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._connect_timeout + 4 * self._command_timeout):
                await self._first_attempt.wait()

    async def stop(self) -> None:
        """Close the connection and stop reconnecting."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._set_state(LinkState.STOPPED)

    async def transact(self, request: Frame, timeout: float = 0.8) -> Frame:
        """Carry one master request through the gateway and return the boiler's answer."""
        self.counters.requests += 1
        if self._state is not LinkState.CONNECTED or self._stream.writer is None:
            raise LinkError(f"not connected to the OpenTherm Gateway at {self.target.describe()}")
        limit = max(timeout, self._min_timeout)
        try:
            if request.msg_type is MsgType.READ_DATA:
                answer = await self._stream.read(request, limit)
            elif request.msg_type is MsgType.WRITE_DATA:
                answer = await self._stream.write(request, limit)
            else:
                raise OtgwUnsupportedError(
                    f"the OpenTherm Gateway cannot send {request.msg_type.spec_name}"
                )
        except LinkTimeout:
            self.counters.timeouts += 1
            raise
        self.counters.answers += 1
        return answer

    async def set_heat_demand(self, on: bool) -> None:
        """Not for OpenTherm links: heat demand is CH enable plus the control setpoint."""
        raise LinkError(
            "the OpenTherm Gateway link has no heat-demand relay; "
            "write CH enable (id 0) and the control setpoint (id 1)"
        )

    # -------------------------------------------------------------- extras

    @property
    def latest(self) -> MappingProxyType[int, Frame]:
        """The latest boiler frame seen per data-id (any answer type)."""
        return self._stream.latest

    @property
    def last_summary(self) -> proto.Summary | None:
        """The last summary line the gateway printed, or None."""
        return self._stream.last_summary

    def latest_answer(self, data_id: int) -> Frame | None:
        """The latest boiler frame seen for ``data_id``, or None."""
        return self._stream.latest.get(data_id)

    async def command(
        self,
        command: proto.Command,
        timeout: float | None = None,
    ) -> proto.CommandReply:
        """Send one command and return its reply.

        Raises :class:`OtgwCommandError` on an error reply, :class:`LinkTimeout`
        without a reply, :class:`LinkError` when not connected.
        """
        if self._state is not LinkState.CONNECTED:
            raise LinkError(f"not connected to the OpenTherm Gateway at {self.target.describe()}")
        try:
            return await self._stream.command(command, timeout)
        except LinkTimeout:
            self.counters.timeouts += 1
            raise

    async def read_summary(
        self,
        timeout: float | None = None,
    ) -> proto.Summary:
        """Switch to summary mode (``PS=1``), read one summary line, switch back."""
        if self._state is not LinkState.CONNECTED:
            raise LinkError(f"not connected to the OpenTherm Gateway at {self.target.describe()}")
        return await self._stream.read_summary(timeout)

    def diagnostics(self) -> dict[str, object]:
        """State, firmware and counters, for the bridge's diagnostics."""
        return {
            "kind": self.kind,
            "target": self.target.describe(),
            "transport": self.target.transport,
            "state": str(self._state),
            "firmware": self.firmware,
            "counters": {
                "requests": self.counters.requests,
                "answers": self.counters.answers,
                "timeouts": self.counters.timeouts,
                "bad_frames": self.counters.bad_frames,
                "garbage_lines": self.counters.garbage_lines,
                "adapter_errors": self.counters.adapter_errors,
                "reconnects": self.counters.reconnects,
                **self.counters.extra,
            },
        }

    # -------------------------------------------------------------- connection

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.target.transport == "tcp":
            return await asyncio.open_connection(self.target.host, self.target.port)
        import serial_asyncio_fast

        reader, writer = await serial_asyncio_fast.open_serial_connection(
            url=self.target.device, baudrate=SERIAL_BAUDRATE, bytesize=8, parity="N", stopbits=1
        )
        return reader, writer

    async def _initialise(self) -> None:
        """Summary mode off, gateway mode on, read the firmware version."""
        for command in (proto.summary_mode(on=False), proto.gateway_mode(mode=True)):
            try:
                await self._stream.command(command)
            except OtgwCommandError as err:
                _LOGGER.warning("%s", err)
        try:
            reply = await self._stream.command(proto.report("A"))
            self.firmware = proto.split_report(reply.value)[1]
        except (OtgwCommandError, ValueError) as err:
            _LOGGER.debug("no firmware version from the gateway: %s", err)

    async def _session(self) -> tuple[bool, str]:
        """One connection: open, initialise, read until it ends. Returns (was up, why it ended)."""
        try:
            async with asyncio.timeout(self._connect_timeout):
                reader, writer = await self._open()
        except TimeoutError:
            return False, f"no connection within {self._connect_timeout:g} s"
        except (OSError, ValueError) as err:
            return False, str(err) or type(err).__name__
        self._stream.attach(writer)
        read_task = asyncio.create_task(self._stream.read_loop(reader))
        init_task = asyncio.create_task(self._initialise())
        try:
            await asyncio.wait({read_task, init_task}, return_when=asyncio.FIRST_COMPLETED)
            if not init_task.done():
                return False, read_task.result()
            init_error = init_task.exception()
            if init_error is not None:
                return False, f"gateway did not answer the start-up commands: {init_error}"
            self._on_connected()
            return True, await read_task
        finally:
            self._stream.detach(LinkError("the connection to the OpenTherm Gateway was lost"))
            for task in (read_task, init_task):
                task.cancel()
            await asyncio.gather(read_task, init_task, return_exceptions=True)
            writer.close()
            with contextlib.suppress(OSError, RuntimeError):
                await writer.wait_closed()

    def _on_connected(self) -> None:
        self._set_state(LinkState.CONNECTED)
        self._first_attempt.set()
        if self._down_logged:
            self._down_logged = False
            self.counters.reconnects += 1
            _LOGGER.info(
                "the OpenTherm Gateway at %s is reachable again (firmware %s)",
                self.target.describe(),
                self.firmware,
            )
        else:
            _LOGGER.info(
                "connected to the OpenTherm Gateway at %s (firmware %s)",
                self.target.describe(),
                self.firmware,
            )

    async def _supervise(self) -> None:
        self._backoff.reset()
        extra = self.counters.extra
        while not self._stopping:
            self._set_state(LinkState.CONNECTING)
            extra["connect_attempts"] = extra.get("connect_attempts", 0) + 1
            was_up, reason = await self._session()
            if self._stop_requested():
                return
            self._set_state(LinkState.DISCONNECTED)
            if was_up:
                self._backoff.reset()
            if not self._down_logged:
                self._down_logged = True
                if was_up:
                    _LOGGER.warning(
                        "lost the OpenTherm Gateway at %s (%s); reconnecting with backoff",
                        self.target.describe(),
                        reason,
                    )
                else:
                    _LOGGER.warning(
                        "cannot connect to the OpenTherm Gateway at %s (%s); retrying with backoff",
                        self.target.describe(),
                        reason,
                    )
            else:
                _LOGGER.debug(
                    "OpenTherm Gateway at %s: attempt failed (%s)", self.target.describe(), reason
                )
            self._first_attempt.set()
            delay = self._backoff.next_delay()
            self.next_retry_delay = delay
            await self._clock.sleep(delay)

    def _stop_requested(self) -> bool:
        return self._stopping

    def _set_state(self, state: LinkState) -> None:
        if state is self._state:
            return
        self._state = state
        self._listeners.notify(state)


__all__ = [
    "DEFAULT_PORT",
    "OtgwLink",
    "OtgwTarget",
    "backoff_delay",
    "parse_otgw_url",
]
