"""The OpenTherm Gateway (OTGW) link, over TCP or a serial port.

The gateway sits on the OpenTherm line and prints every frame it sees; the
bridge steers it with override commands. This link keeps reading that
stream, remembers the boiler's latest answer per data-id, and carries the
master's conversations as follows:

* READ-DATA id N: ask the gateway to send that read next (``PM=N``) and
  answer with the first matching boiler frame (``B…``) that follows the
  gateway's reply to that command in the stream. For id 0 the master's CH and DHW enable bits are first set
  with ``CH=`` and ``HW=``.
* WRITE-DATA: carried out with the gateway's override command for the id
  (1 ``CS=``, 14 ``MM=``, 20 ``SC=``, 27 ``OT=``, 56 ``SW=``, 57 ``SH=``);
  the answer is a WRITE-ACK carrying the value the gateway reports back.
  An error reply (``BV``, ``OR`` ...) raises :class:`OtgwCommandError`.

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
import re
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit

from bridge.core.clock import SystemClock
from bridge.core.listeners import Listeners
from bridge.opentherm import otgw_protocol as proto
from bridge.opentherm.formats import decode_day_time, decode_f8_8, encode_day_time, encode_f8_8
from bridge.opentherm.frame import Frame, FrameError, MsgType, check_answer
from bridge.opentherm.links.backoff import Backoff, backoff_delay
from bridge.opentherm.links.base import (
    LinkCounters,
    LinkError,
    LinkState,
    LinkTimeout,
    StateListener,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.core.clock import Clock

_LOGGER = logging.getLogger(__name__)

#: The port a networked gateway listens on when the URL gives none.
DEFAULT_PORT: Final = 25238
#: The gateway's serial speed; the frame is 8 data bits, no parity, 1 stop bit.
SERIAL_BAUDRATE: Final = 9600
#: Longest line accepted from the gateway; longer ones are counted as garbage.
MAX_LINE: Final = 256

_SCHEMES: Final[dict[str, Literal["tcp", "serial"]]] = {
    "otgw+tcp": "tcp",
    "socket": "tcp",
    "otgw+serial": "serial",
}
_LINE_SPLIT = re.compile(rb"[\r\n]")


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


# ------------------------------------------------------------------ errors


class OtgwCommandError(LinkError):
    """The gateway answered a command with an error code (``NG``, ``SE``, ``BV``, ``OR`` ...)."""

    def __init__(self, command: proto.Command, code: str) -> None:
        meaning = proto.ERROR_CODES.get(code, "error")
        super().__init__(f"the OpenTherm Gateway refused {command.line}: {code} ({meaning})")
        self.command = command
        self.code = code


class OtgwUnsupportedError(LinkError):
    """A request the gateway has no way to carry (a write without an override command)."""


# ------------------------------------------------------------------ helpers


def _write_command(request: Frame) -> proto.Command:
    """The override command that carries a WRITE-DATA (ValueError on a bad value)."""
    data_id = request.data_id
    if data_id == 1:
        return proto.control_setpoint(decode_f8_8(request.value))
    if data_id == 14:
        return proto.max_modulation(round(decode_f8_8(request.value)))
    if data_id == 20:
        when = decode_day_time(request.value)
        return proto.set_clock(when.hour, when.minute, when.day_of_week)
    if data_id == 27:
        return proto.outside_temperature(decode_f8_8(request.value))
    if data_id == 56:
        return proto.dhw_setpoint(decode_f8_8(request.value))
    if data_id == 57:
        return proto.max_ch_setpoint(decode_f8_8(request.value))
    raise OtgwUnsupportedError(
        f"the OpenTherm Gateway has no command that writes data-id {data_id}"
    )


#: The data-ids a WRITE-DATA can be carried for.
WRITABLE_IDS: Final = frozenset({1, 14, 20, 27, 56, 57})


def _ack_value(request: Frame, reply: proto.CommandReply) -> int:
    """The data value the gateway took, from its reply to the override command."""
    if reply.value == "-":  # a cleared override (OT=99, MM=T)
        return request.value
    if request.data_id == 20:
        return encode_day_time(proto.reply_clock(reply.value))
    return encode_f8_8(proto.reply_number(reply.value))


_NOT_FOR_ID0: Final = frozenset({MsgType.DATA_INVALID, MsgType.UNKNOWN_DATAID})

_Pending = tuple[proto.Command, "asyncio.Future[proto.CommandReply | proto.CommandError]"]


@dataclass(eq=False, slots=True)
class _ReadWaiter:
    """A read waiting for its boiler frame; armed once the gateway replied to its ``PM=``.

    Only frames after that reply count: lines already on their way (a
    backlog in the stream) describe conversations from before the request.
    """

    request: Frame
    future: asyncio.Future[Frame]
    armed: bool = False


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
        self.last_summary: proto.Summary | None = None
        self._clock: Clock = clock or SystemClock()
        self._command_timeout = command_timeout
        self._connect_timeout = connect_timeout
        self._idle_timeout = idle_timeout
        self._min_timeout = min_timeout
        self._backoff = Backoff(backoff_min, backoff_max, rng)
        self._state = LinkState.STOPPED
        self._listeners: Listeners[[LinkState]] = Listeners(_LOGGER, "link state listener failed")
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._first_attempt = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None
        self._cmd_lock = asyncio.Lock()
        self._pending: _Pending | None = None
        self._waiters: dict[int, list[_ReadWaiter]] = {}
        self._summary_waiters: list[asyncio.Future[proto.Summary]] = []
        self._latest: dict[int, Frame] = {}
        self._ch_enabled: bool | None = None
        self._dhw_enabled: bool | None = None
        self._error_lines_seen: set[int] = set()
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
        if self._state is not LinkState.CONNECTED or self._writer is None:
            raise LinkError(f"not connected to the OpenTherm Gateway at {self.target.describe()}")
        limit = max(timeout, self._min_timeout)
        try:
            if request.msg_type is MsgType.READ_DATA:
                answer = await self._read(request, limit)
            elif request.msg_type is MsgType.WRITE_DATA:
                answer = await self._write(request, limit)
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
        return MappingProxyType(self._latest)

    def latest_answer(self, data_id: int) -> Frame | None:
        """The latest boiler frame seen for ``data_id``, or None."""
        return self._latest.get(data_id)

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
            return await self._command(command, timeout)
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
        fut: asyncio.Future[proto.Summary] = asyncio.get_running_loop().create_future()
        self._summary_waiters.append(fut)
        try:
            async with asyncio.timeout(timeout or self._command_timeout):
                await self._command(proto.summary_mode(on=True))
                return await fut
        except TimeoutError:
            self.counters.timeouts += 1
            raise LinkTimeout("the OpenTherm Gateway printed no summary line") from None
        finally:
            with contextlib.suppress(ValueError):
                self._summary_waiters.remove(fut)
            try:
                await self._command(proto.summary_mode(on=False))
            except LinkError as err:
                _LOGGER.debug("could not leave summary mode: %s", err)

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

    # -------------------------------------------------------------- conversations

    async def _read(self, request: Frame, limit: float) -> Frame:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Frame] = loop.create_future()
        waiter = _ReadWaiter(request, fut)
        try:
            async with asyncio.timeout(limit):
                if request.data_id == 0:
                    await self._apply_master_flags(request.hb)
                self._waiters.setdefault(request.data_id, []).append(waiter)
                try:
                    await self._command(proto.priority_message(request.data_id))
                except OtgwCommandError as err:
                    # the id may still come by in the gateway's own cycle
                    _LOGGER.debug("%s; waiting for the id in the normal cycle", err)
                return await fut
        except TimeoutError:
            raise LinkTimeout(
                f"no boiler answer for data-id {request.data_id} within {limit:g} s"
            ) from None
        finally:
            waiters = self._waiters.get(request.data_id)
            if waiters is not None:
                with contextlib.suppress(ValueError):
                    waiters.remove(waiter)
                if not waiters:
                    del self._waiters[request.data_id]

    async def _apply_master_flags(self, master_flags: int) -> None:
        ch = bool(master_flags & 0x01)
        dhw = bool(master_flags & 0x02)
        if self._ch_enabled is not ch:
            await self._command(proto.ch_enable(ch))
            self._ch_enabled = ch
        if self._dhw_enabled is not dhw:
            await self._command(proto.dhw_enable(dhw))
            self._dhw_enabled = dhw

    async def _write(self, request: Frame, limit: float) -> Frame:
        try:
            command = _write_command(request)
        except ValueError as err:
            raise LinkError(f"data-id {request.data_id}: {err}") from err
        reply = await self._command(command, limit)
        try:
            value = _ack_value(request, reply)
        except ValueError as err:
            self.counters.adapter_errors += 1
            raise LinkError(f"unexpected reply to {command.line}: {reply.value!r}") from err
        return Frame(MsgType.WRITE_ACK, request.data_id, value)

    async def _command(
        self, command: proto.Command, limit: float | None = None
    ) -> proto.CommandReply:
        async with self._cmd_lock:
            writer = self._writer
            if writer is None:
                raise LinkError(
                    f"not connected to the OpenTherm Gateway at {self.target.describe()}"
                )
            fut: asyncio.Future[proto.CommandReply | proto.CommandError] = (
                asyncio.get_running_loop().create_future()
            )
            self._pending = (command, fut)
            if limit is None:
                limit = self._command_timeout
            try:
                writer.write(command.encode())
                await writer.drain()
                async with asyncio.timeout(limit):
                    result = await fut
            except TimeoutError:
                raise LinkTimeout(
                    f"the OpenTherm Gateway did not answer {command.line} within {limit:g} s"
                ) from None
            except OSError as err:
                raise LinkError(f"could not send {command.line}: {err}") from err
            finally:
                self._pending = None
        if isinstance(result, proto.CommandError):
            self.counters.adapter_errors += 1
            raise OtgwCommandError(command, result.error)
        return result

    # -------------------------------------------------------------- the stream

    def _handle_line(self, text: str) -> None:
        parsed = proto.parse_line(text)
        extra = self.counters.extra
        if isinstance(parsed, proto.MonitorFrame):
            extra["monitor_lines"] = extra.get("monitor_lines", 0) + 1
            if parsed.source == "B":
                self._on_boiler_frame(parsed.frame)
        elif isinstance(parsed, proto.BadFrame):
            self.counters.bad_frames += 1
            _LOGGER.debug(
                "bad frame from the gateway: %s%s (%s)", parsed.source, parsed.raw, parsed.reason
            )
        elif isinstance(parsed, (proto.CommandReply, proto.CommandError)):
            self._on_reply(parsed)
        elif isinstance(parsed, proto.GatewayError):
            self.counters.adapter_errors += 1
            extra["error_lines"] = extra.get("error_lines", 0) + 1
            if parsed.number not in self._error_lines_seen:
                self._error_lines_seen.add(parsed.number)
                _LOGGER.warning(
                    "the OpenTherm Gateway at %s reports Error %02d (a line error)",
                    self.target.describe(),
                    parsed.number,
                )
        elif isinstance(parsed, proto.Summary):
            extra["summary_lines"] = extra.get("summary_lines", 0) + 1
            self.last_summary = parsed
            for fut in self._summary_waiters:
                if not fut.done():
                    fut.set_result(parsed)
        elif isinstance(parsed, proto.Banner):
            _LOGGER.info("the OpenTherm Gateway restarted (firmware %s)", parsed.version)
            self._ch_enabled = None
            self._dhw_enabled = None
        elif isinstance(parsed, proto.InfoLine):
            _LOGGER.debug("gateway: %s", parsed.text)
        else:
            self.counters.garbage_lines += 1
            _LOGGER.debug("garbage from the gateway: %r", parsed.text)

    def _on_reply(self, reply: proto.CommandReply | proto.CommandError) -> None:
        pending = self._pending
        code = reply.code if isinstance(reply, proto.CommandReply) else reply.command
        if pending is not None and not pending[1].done() and code in (None, pending[0].code):
            if pending[0].code == "PM":
                for waiter in self._waiters.get(int(pending[0].value), ()):
                    waiter.armed = True
            pending[1].set_result(reply)
            return
        extra = self.counters.extra
        extra["unmatched_replies"] = extra.get("unmatched_replies", 0) + 1
        _LOGGER.debug("reply without a pending command: %r", reply)

    def _on_boiler_frame(self, frame: Frame) -> None:
        self._latest[frame.data_id] = frame
        for waiter in list(self._waiters.get(frame.data_id, ())):
            fut = waiter.future
            if fut.done() or not waiter.armed:
                continue
            try:
                check_answer(waiter.request, frame)
            except FrameError as err:
                if frame.data_id == 0 and frame.msg_type in _NOT_FOR_ID0:
                    self.counters.bad_frames += 1
                    fut.set_exception(LinkError(f"invalid boiler answer: {err}"))
                continue
            fut.set_result(frame)

    async def _read_loop(self, reader: asyncio.StreamReader) -> str:
        """Read lines until the stream ends; returns why it ended."""
        buf = b""
        discarding = False
        while True:
            try:
                async with asyncio.timeout(self._idle_timeout):
                    chunk = await reader.read(4096)
            except TimeoutError:
                return f"nothing received for {self._idle_timeout:g} s"
            except OSError as err:
                return str(err) or type(err).__name__
            if not chunk:
                return "the connection was closed"
            *lines, buf = _LINE_SPLIT.split(buf + chunk)
            for raw in lines:
                if discarding:
                    discarding = False
                    continue
                if raw:
                    self._handle_raw(raw)
            if len(buf) > MAX_LINE:
                self.counters.garbage_lines += 1
                buf = b""
                discarding = True

    def _handle_raw(self, raw: bytes) -> None:
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            self.counters.garbage_lines += 1
            return
        if not text.isprintable():
            self.counters.garbage_lines += 1
            return
        if text.strip():
            self._handle_line(text)

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
                await self._command(command)
            except OtgwCommandError as err:
                _LOGGER.warning("%s", err)
        try:
            reply = await self._command(proto.report("A"))
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
        self._writer = writer
        self._ch_enabled = None
        self._dhw_enabled = None
        self._error_lines_seen.clear()
        read_task = asyncio.create_task(self._read_loop(reader))
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
            self._writer = None
            self._fail_waiters(LinkError("the connection to the OpenTherm Gateway was lost"))
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

    def _fail_waiters(self, error: LinkError) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and not pending[1].done():
            pending[1].set_exception(error)
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.future.done():
                    waiter.future.set_exception(error)
        for summary in self._summary_waiters:
            if not summary.done():
                summary.set_exception(error)

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
    "WRITABLE_IDS",
    "OtgwCommandError",
    "OtgwLink",
    "OtgwTarget",
    "OtgwUnsupportedError",
    "backoff_delay",
    "parse_otgw_url",
]
