"""The OpenTherm Gateway's line protocol on one connection, for :mod:`.otgw`.

:class:`OtgwStream` sends commands one at a time and matches the gateway's
replies to them, parses every line the gateway prints, remembers the
boiler's latest answer per data-id, and carries the master's requests:

* READ-DATA id N: ask the gateway to send that read next (``PM=N``) and
  answer with the first matching boiler frame (``B…``) that follows the
  gateway's reply to that command in the stream. For id 0 the master's CH
  and DHW enable bits are first set with ``CH=`` and ``HW=``.
* WRITE-DATA: carried out with the gateway's override command for the id
  (1 ``CS=``, 14 ``MM=``, 20 ``SC=``, 27 ``OT=``, 56 ``SW=``, 57 ``SH=``);
  the answer is a WRITE-ACK carrying the value the gateway reports back.
  An error reply (``BV``, ``OR`` ...) raises :class:`OtgwCommandError`.

Opening, reopening and supervising the connection is
:class:`~bridge.opentherm.links.otgw.OtgwLink`'s part; it logs under its
own logger, which it hands to the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import re
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from bridge.opentherm import otgw_protocol as proto
from bridge.opentherm.formats import decode_day_time, decode_f8_8, encode_day_time, encode_f8_8
from bridge.opentherm.frame import Frame, FrameError, MsgType, check_answer
from bridge.opentherm.links.base import LinkCounters, LinkError, LinkTimeout

if TYPE_CHECKING:
    import logging

__all__ = [
    "MAX_LINE",
    "WRITABLE_IDS",
    "LineBuffer",
    "OtgwCommandError",
    "OtgwStream",
    "OtgwUnsupportedError",
]

#: Longest line accepted from the gateway; longer ones are counted as garbage.
MAX_LINE: Final = 256

_LINE_SPLIT = re.compile(rb"[\r\n]")


# ------------------------------------------------------------------ lines


class LineBuffer:
    """Splits the gateway's bytes into lines at CR or LF, holding at most ``limit`` bytes.

    :meth:`feed` gives each complete, non-empty line, and ``None`` once for
    each line longer than ``limit`` (as soon as it is known to be too long;
    its rest is dropped). The result does not depend on how the bytes were
    split into chunks.
    """

    def __init__(self, limit: int = MAX_LINE) -> None:
        self.limit = limit
        self._buf = b""
        self._overlong = False  # dropping the rest of a line already reported as too long

    def feed(self, chunk: bytes) -> list[bytes | None]:
        """The lines ``chunk`` completes (``None`` for a line that is too long)."""
        *complete, rest = _LINE_SPLIT.split(self._buf + chunk)
        out: list[bytes | None] = []
        for raw in complete:
            if self._overlong:
                self._overlong = False
            elif len(raw) > self.limit:
                out.append(None)
            elif raw:
                out.append(raw)
        if self._overlong:
            rest = b""
        elif len(rest) > self.limit:
            out.append(None)
            self._overlong = True
            rest = b""
        self._buf = rest
        return out


def _retrieve(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


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


# ------------------------------------------------------------------ writes


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


class OtgwStream:
    """Commands, replies and boiler frames on one connection to the gateway."""

    def __init__(
        self,
        describe: str,
        counters: LinkCounters,
        logger: logging.Logger,
        *,
        command_timeout: float,
        idle_timeout: float,
    ) -> None:
        self._describe = describe
        self.counters = counters
        self._log = logger
        self._command_timeout = command_timeout
        self._idle_timeout = idle_timeout
        self.writer: asyncio.StreamWriter | None = None
        """The open connection's writer; None while there is none."""
        self.last_summary: proto.Summary | None = None
        self._cmd_lock = asyncio.Lock()
        self._pending: _Pending | None = None
        self._waiters: dict[int, list[_ReadWaiter]] = {}
        self._summary_waiters: list[asyncio.Future[proto.Summary]] = []
        self._latest: dict[int, Frame] = {}
        self._ch_enabled: bool | None = None
        self._dhw_enabled: bool | None = None
        self._error_lines_seen: set[int] = set()

    @property
    def latest(self) -> MappingProxyType[int, Frame]:
        """The latest boiler frame seen per data-id (any answer type)."""
        return MappingProxyType(self._latest)

    def attach(self, writer: asyncio.StreamWriter) -> None:
        """A new connection: commands go to ``writer``; the gateway's flags are unknown."""
        self.writer = writer
        self._ch_enabled = None
        self._dhw_enabled = None
        self._error_lines_seen.clear()

    def detach(self, error: LinkError) -> None:
        """The connection is gone: fail everything that waits for it with ``error``."""
        self.writer = None
        pending, self._pending = self._pending, None
        futures: list[asyncio.Future[Any]] = [] if pending is None else [pending[1]]
        futures += [waiter.future for waiters in self._waiters.values() for waiter in waiters]
        futures += self._summary_waiters
        for fut in futures:
            if not fut.done():
                fut.set_exception(error)
                # its waiter may be cancelled in the same breath (the session ends):
                # then nobody reads the error, and asyncio would log it as never retrieved
                fut.add_done_callback(_retrieve)

    async def read_summary(self, timeout: float | None = None) -> proto.Summary:
        """Switch to summary mode (``PS=1``), read one summary line, switch back."""
        fut: asyncio.Future[proto.Summary] = asyncio.get_running_loop().create_future()
        self._summary_waiters.append(fut)
        try:
            async with asyncio.timeout(timeout or self._command_timeout):
                await self.command(proto.summary_mode(on=True))
                return await fut
        except TimeoutError:
            self.counters.timeouts += 1
            raise LinkTimeout("the OpenTherm Gateway printed no summary line") from None
        finally:
            with contextlib.suppress(ValueError):
                self._summary_waiters.remove(fut)
            try:
                await self.command(proto.summary_mode(on=False))
            except LinkError as err:
                self._log.debug("could not leave summary mode: %s", err)

    # -------------------------------------------------------------- requests

    async def read(self, request: Frame, limit: float) -> Frame:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Frame] = loop.create_future()
        waiter = _ReadWaiter(request, fut)
        try:
            async with asyncio.timeout(limit):
                if request.data_id == 0:
                    await self._apply_master_flags(request.hb)
                self._waiters.setdefault(request.data_id, []).append(waiter)
                try:
                    await self.command(proto.priority_message(request.data_id))
                except OtgwCommandError as err:
                    # the id may still come by in the gateway's own cycle
                    self._log.debug("%s; waiting for the id in the normal cycle", err)
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
            await self.command(proto.ch_enable(ch))
            self._ch_enabled = ch
        if self._dhw_enabled is not dhw:
            await self.command(proto.dhw_enable(dhw))
            self._dhw_enabled = dhw

    async def write(self, request: Frame, limit: float) -> Frame:
        try:
            command = _write_command(request)
        except ValueError as err:
            raise LinkError(f"data-id {request.data_id}: {err}") from err
        reply = await self.command(command, limit)
        try:
            value = _ack_value(request, reply)
        except ValueError as err:
            self.counters.adapter_errors += 1
            raise LinkError(f"unexpected reply to {command.line}: {reply.value!r}") from err
        return Frame(MsgType.WRITE_ACK, request.data_id, value)

    async def command(
        self, command: proto.Command, limit: float | None = None
    ) -> proto.CommandReply:
        """Send one command and wait for its reply (one command at a time)."""
        async with self._cmd_lock:
            writer = self.writer
            if writer is None:
                raise LinkError(f"not connected to the OpenTherm Gateway at {self._describe}")
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
            self._log.debug(
                "bad frame from the gateway: %s%s (%s)", parsed.source, parsed.raw, parsed.reason
            )
        elif isinstance(parsed, (proto.CommandReply, proto.CommandError)):
            self._on_reply(parsed)
        elif isinstance(parsed, proto.GatewayError):
            self.counters.adapter_errors += 1
            extra["error_lines"] = extra.get("error_lines", 0) + 1
            if parsed.number not in self._error_lines_seen:
                self._error_lines_seen.add(parsed.number)
                self._log.warning(
                    "the OpenTherm Gateway at %s reports Error %02d (a line error)",
                    self._describe,
                    parsed.number,
                )
        elif isinstance(parsed, proto.Summary):
            extra["summary_lines"] = extra.get("summary_lines", 0) + 1
            self.last_summary = parsed
            for fut in self._summary_waiters:
                if not fut.done():
                    fut.set_result(parsed)
        elif isinstance(parsed, proto.Banner):
            self._log.info("the OpenTherm Gateway restarted (firmware %s)", parsed.version)
            self._ch_enabled = None
            self._dhw_enabled = None
        elif isinstance(parsed, proto.InfoLine):
            self._log.debug("gateway: %s", parsed.text)
        else:
            self.counters.garbage_lines += 1
            self._log.debug("garbage from the gateway: %r", parsed.text)

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
        self._log.debug("reply without a pending command: %r", reply)

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

    async def read_loop(self, reader: asyncio.StreamReader) -> str:
        """Read lines until the stream ends; returns why it ended."""
        lines = LineBuffer()
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
            for raw in lines.feed(chunk):
                if raw is None:
                    self.counters.garbage_lines += 1
                else:
                    self._handle_raw(raw)

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
