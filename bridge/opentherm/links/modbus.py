"""Modbus OpenTherm gateways (TCP or RTU) as a boiler link.

A Modbus gateway speaks OpenTherm to the boiler on its own and shows the
results in holding registers and coils (see :mod:`bridge.opentherm.modbus_maps`).
:class:`ModbusLink` turns each master request into Modbus reads and writes
and synthesizes the boiler's answer: a READ reads the mapped register and
answers READ-ACK with the value in the id's OpenTherm format, an id without
a register answers UNKNOWN-DATAID (so the master learns to skip it), a WRITE
writes the clamped value and answers WRITE-ACK with what was written, and
ID 0 writes the master flags to their coils and reads the slave flags back.

URLs::

    modbus+tcp://HOST[:PORT]?unit=1&profile=setecna&timeout=1.0
    modbus+rtu:///dev/ttyUSB0?unit=1&profile=setecna&baudrate=9600&parity=N&stopbits=1&bytesize=8

:class:`ModbusChannel` keeps one Modbus connection open, reconnecting with
backoff; the relay link (:mod:`bridge.opentherm.links.onoff`) uses it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
import logging
import math
import random
from typing import TYPE_CHECKING, Literal, TypeVar
from urllib.parse import parse_qsl, urlsplit

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from bridge.core.clock import Clock, SystemClock
from bridge.core.listeners import Listeners
from bridge.opentherm.frame import Frame, MsgType
from bridge.opentherm.links.backoff import Backoff
from bridge.opentherm.links.base import (
    LinkCounters,
    LinkError,
    LinkState,
    LinkTimeout,
    StateListener,
)
from bridge.opentherm.modbus_maps import (
    BUILTIN_PROFILES,
    CoilMap,
    ModbusProfile,
    clamp_write,
    decode_register,
)

if TYPE_CHECKING:
    from pymodbus.pdu import ModbusPDU

_LOGGER = logging.getLogger(__name__)

DEFAULT_TCP_PORT = 502
DEFAULT_PROFILE = "setecna"
DEFAULT_IO_TIMEOUT = 1.0
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)

_EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class ModbusUrlError(ValueError):
    """A boiler URL for a Modbus adapter that is malformed or has a bad parameter."""


@dataclass(frozen=True, slots=True)
class ModbusTarget:
    """Where a Modbus device is and how to talk to it."""

    transport: Literal["tcp", "rtu"]
    host: str
    """The TCP host, or the serial device path for RTU."""
    port: int = DEFAULT_TCP_PORT
    unit: int = 1
    timeout: float = DEFAULT_IO_TIMEOUT
    """Seconds to wait for one Modbus answer."""
    baudrate: int = 9600
    parity: str = "N"
    stopbits: int = 1
    bytesize: int = 8

    def describe(self) -> str:
        """A short human name for logs (``tcp://host:502 unit 1``)."""
        where = f"{self.host}:{self.port}" if self.transport == "tcp" else self.host
        return f"{self.transport}://{where} unit {self.unit}"


ParamParser = Callable[[str, str], object]


def int_param(low: int, high: int) -> ParamParser:
    def parse(name: str, text: str) -> int:
        if not text.isdigit():
            raise ModbusUrlError(f"{name}={text!r}: must be a whole number {low}-{high}")
        value = int(text)
        if not low <= value <= high:
            raise ModbusUrlError(f"{name}={value}: must be between {low} and {high}")
        return value

    return parse


def _choice_param(choices: Iterable[object]) -> ParamParser:
    allowed = {str(c): c for c in choices}

    def parse(name: str, text: str) -> object:
        key = text.upper() if name == "parity" else text
        if key not in allowed:
            raise ModbusUrlError(f"{name}={text!r}: must be one of {', '.join(allowed)}")
        return allowed[key]

    return parse


def _timeout_param(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ModbusUrlError(f"{name}={text!r}: must be a number of seconds") from None
    if not math.isfinite(value) or not 0.05 <= value <= 30:
        raise ModbusUrlError(f"{name}={text!r}: must be between 0.05 and 30 seconds")
    return value


def _name_param(name: str, text: str) -> str:
    if not text:
        raise ModbusUrlError(f"{name}: must not be empty")
    return text


_COMMON_PARAMS: dict[str, ParamParser] = {"timeout": _timeout_param}
_TCP_PARAMS: dict[str, ParamParser] = {**_COMMON_PARAMS, "unit": int_param(0, 255)}
_RTU_PARAMS: dict[str, ParamParser] = {
    **_COMMON_PARAMS,
    "unit": int_param(1, 247),
    "baudrate": _choice_param(BAUDRATES),
    "parity": _choice_param(["N", "E", "O"]),
    "stopbits": _choice_param([1, 2]),
    "bytesize": _choice_param([7, 8]),
}


_T = TypeVar("_T", int, float, str)


def _take(values: dict[str, object], name: str, default: _T) -> _T:
    value = values.pop(name, default)
    if not isinstance(value, type(default)):
        raise TypeError(f"{name} parsed to {type(value).__name__}")
    return value


def parse_target(
    url: str, schemes: Mapping[str, Literal["tcp", "rtu"]], extra: Mapping[str, ParamParser]
) -> tuple[ModbusTarget, dict[str, object]]:
    """Split a Modbus URL into its target and the values of ``extra`` parameters.

    ``schemes`` maps each accepted URL scheme to its transport. Every query
    parameter is checked; an unknown or repeated one is an error.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise ModbusUrlError(f"{url!r}: {err}") from None
    transport = schemes.get(parts.scheme)
    if transport is None:
        raise ModbusUrlError(f"{url!r}: the scheme must be one of {', '.join(schemes)}")
    if parts.fragment or parts.username or parts.password:
        raise ModbusUrlError(f"{url!r}: no user, password or #fragment allowed")
    allowed = {**(_TCP_PARAMS if transport == "tcp" else _RTU_PARAMS), **extra}
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ModbusUrlError(f"{url!r}: malformed query {parts.query!r}") from None
    values: dict[str, object] = {}
    for name, text in pairs:
        if name not in allowed:
            raise ModbusUrlError(
                f"{url!r}: unknown parameter {name!r} (allowed: {', '.join(sorted(allowed))})"
            )
        if name in values:
            raise ModbusUrlError(f"{url!r}: parameter {name!r} given twice")
        values[name] = allowed[name](name, text)
    if transport == "tcp":
        if not parts.hostname:
            raise ModbusUrlError(f"{url!r}: a host is required ({parts.scheme}://HOST:PORT)")
        if parts.path not in ("", "/"):
            raise ModbusUrlError(f"{url!r}: a TCP address has no path")
        if port == 0:
            raise ModbusUrlError(f"{url!r}: port 0 is not a port")
        target = ModbusTarget(
            "tcp",
            parts.hostname,
            port=DEFAULT_TCP_PORT if port is None else port,
            unit=_take(values, "unit", 1),
            timeout=_take(values, "timeout", DEFAULT_IO_TIMEOUT),
        )
    else:
        if parts.netloc or not parts.path or parts.path == "/":
            raise ModbusUrlError(
                f"{url!r}: give the serial device as a path ({parts.scheme}:///dev/ttyUSB0)"
            )
        target = ModbusTarget(
            "rtu",
            parts.path,
            port=0,
            unit=_take(values, "unit", 1),
            timeout=_take(values, "timeout", DEFAULT_IO_TIMEOUT),
            baudrate=_take(values, "baudrate", 9600),
            parity=_take(values, "parity", "N"),
            stopbits=_take(values, "stopbits", 1),
            bytesize=_take(values, "bytesize", 8),
        )
    return target, values


def parse_modbus_url(
    url: str, profiles: Mapping[str, ModbusProfile] | None = None
) -> tuple[ModbusTarget, ModbusProfile]:
    """The target and profile of a ``modbus+tcp://`` or ``modbus+rtu://`` URL.

    ``profiles`` are the known profiles (default: the built-in ones); the
    ``profile`` parameter defaults to ``setecna``.
    """
    known = BUILTIN_PROFILES if profiles is None else profiles
    target, extra = parse_target(
        url, {"modbus+tcp": "tcp", "modbus+rtu": "rtu"}, {"profile": _name_param}
    )
    name = str(extra.get("profile", DEFAULT_PROFILE))
    if name not in known:
        raise ModbusUrlError(
            f"{url!r}: profile={name!r} is not known (known: {', '.join(sorted(known))})"
        )
    return target, known[name]


def _exception_text(pdu: ModbusPDU) -> str:
    code = pdu.exception_code
    return f"Modbus exception {code} ({_EXCEPTION_NAMES.get(code, 'unknown')})"


def _runs(addresses: Iterable[int]) -> list[tuple[int, int]]:
    """Contiguous runs of addresses as (start, count), in order."""
    runs: list[tuple[int, int]] = []
    for address in sorted(set(addresses)):
        if runs and runs[-1][0] + runs[-1][1] == address:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((address, 1))
    return runs


class ModbusChannel:
    """One Modbus client connection, kept open with backoff.

    Logs one warning when the connection is lost (or the first connect
    fails) and one info line when it comes back; attempts in between log at
    debug level. Every request raises :class:`LinkError` (or
    :class:`LinkTimeout`) with the reason instead of returning an error.
    """

    def __init__(
        self,
        target: ModbusTarget,
        *,
        counters: LinkCounters,
        clock: Clock | None = None,
        backoff_min: float = 1.0,
        backoff_max: float = 60.0,
        max_unanswered: int = 3,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < backoff_min <= backoff_max:
            raise ValueError("backoff needs 0 < backoff_min <= backoff_max")
        self.target = target
        self.counters = counters
        self._clock: Clock = clock or SystemClock()
        self._backoff = Backoff(backoff_min, backoff_max, rng)
        self._delay = backoff_min
        self._state = LinkState.STOPPED
        self._listeners: Listeners[[LinkState]] = Listeners(_LOGGER, "Link state listener failed")
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
        self._generation = 0
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lost_at: float | None = None
        self._max_unanswered = max_unanswered
        self._unanswered = 0

    @property
    def state(self) -> LinkState:
        """The connection state."""
        return self._state

    @property
    def connected(self) -> bool:
        """True while the connection is up."""
        return self._state is LinkState.CONNECTED and self._client is not None

    def add_state_listener(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener`` on every state change; returns a function that removes it."""
        return self._listeners.add(listener)

    def _set_state(self, state: LinkState) -> None:
        if state is self._state:
            return
        self._state = state
        self._listeners.notify(state)

    async def start(self) -> None:
        """Connect once, then keep the connection up in the background."""
        if self._task is not None:
            return
        self._set_state(LinkState.CONNECTING)
        self._restart_backoff()
        if await self._connect_once():
            _LOGGER.info("Modbus %s: connected", self.target.describe())
            self._set_state(LinkState.CONNECTED)
        else:
            self._mark_lost("cannot connect")
        self._task = asyncio.create_task(self._supervise(), name="modbus-link-supervisor")

    async def stop(self) -> None:
        """Close the connection and stop reconnecting."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        self._close_client()
        self._set_state(LinkState.STOPPED)

    def _make_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        self._generation += 1
        generation = self._generation

        def on_connect(up: bool) -> None:
            if not up and generation == self._generation:
                self._mark_lost("connection closed")

        t = self.target
        # reconnect_delay=0: this class does the reconnecting (with its own clock and logs)
        if t.transport == "tcp":
            return AsyncModbusTcpClient(
                t.host,
                port=t.port,
                timeout=t.timeout,
                retries=0,
                reconnect_delay=0,
                trace_connect=on_connect,
            )
        return AsyncModbusSerialClient(
            t.host,
            baudrate=t.baudrate,
            parity=t.parity,
            stopbits=t.stopbits,
            bytesize=t.bytesize,
            timeout=t.timeout,
            retries=0,
            reconnect_delay=0,
            trace_connect=on_connect,
        )

    async def _connect_once(self) -> bool:
        self._close_client()
        try:
            client = self._make_client()
            ok = await client.connect()
        except (OSError, TimeoutError, ModbusException) as err:
            _LOGGER.debug("Modbus %s: connect failed: %s", self.target.describe(), err)
            return False
        if not ok:
            client.close()
            return False
        self._client = client
        return True

    def _close_client(self) -> None:
        client, self._client = self._client, None
        self._generation += 1  # callbacks of the old client no longer count
        if client is not None:
            client.close()

    def _mark_lost(self, reason: str) -> None:
        if self._state in (LinkState.DISCONNECTED, LinkState.STOPPED):
            return
        self._close_client()
        self._lost_at = self._clock.monotonic()
        _LOGGER.warning(
            "Modbus %s: %s; reconnecting in the background", self.target.describe(), reason
        )
        self._set_state(LinkState.DISCONNECTED)
        self._lost.set()

    async def _supervise(self) -> None:
        while True:
            if self._state is LinkState.CONNECTED:
                await self._lost.wait()
                self._lost.clear()
                self._restart_backoff()
                continue
            self._lost.clear()
            await self._clock.sleep(self._delay)
            if await self._connect_once():
                self.counters.reconnects += 1
                down = self._clock.monotonic() - (self._lost_at or self._clock.monotonic())
                _LOGGER.info(
                    "Modbus %s: connection restored after %.1f s", self.target.describe(), down
                )
                self._set_state(LinkState.CONNECTED)
            else:
                self._delay = self._backoff.next_delay()
                _LOGGER.debug(
                    "Modbus %s: still unreachable, next attempt in %.1f s",
                    self.target.describe(),
                    self._delay,
                )

    def _restart_backoff(self) -> None:
        self._backoff.reset()
        self._delay = self._backoff.next_delay()

    def note_unanswered(self) -> None:
        """Count a request that got no answer; drop the connection after several in a row.

        A connection that the gateway no longer serves (a half-open TCP
        connection, a hung gateway) is then reopened instead of timing out forever.
        """
        self._unanswered += 1
        if self._unanswered >= self._max_unanswered:
            self._unanswered = 0
            self._mark_lost(f"no answer to {self._max_unanswered} requests in a row")

    async def _call(self, what: str, request: Callable[[], Awaitable[ModbusPDU]]) -> ModbusPDU:
        client = self._client
        if client is None or self._state is not LinkState.CONNECTED:
            raise LinkError(f"Modbus {self.target.describe()} is not connected")
        try:
            response = await request()
        except ModbusIOException as err:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                # pymodbus turns a cancellation into an I/O error; give it back
                raise asyncio.CancelledError from err
            if not client.connected:
                self.counters.extra["io_errors"] = self.counters.extra.get("io_errors", 0) + 1
                self._mark_lost(f"connection lost ({err})")
                raise LinkError(f"Modbus {what}: connection lost") from err
            self.counters.timeouts += 1
            self.note_unanswered()
            raise LinkTimeout(f"Modbus {what}: no answer from the gateway") from err
        except ConnectionException as err:
            self.counters.extra["io_errors"] = self.counters.extra.get("io_errors", 0) + 1
            self._mark_lost(f"connection lost ({err})")
            raise LinkError(f"Modbus {what}: not connected") from err
        except ModbusException as err:
            self.counters.extra["io_errors"] = self.counters.extra.get("io_errors", 0) + 1
            raise LinkError(f"Modbus {what}: {err}") from err
        self._unanswered = 0
        if response.isError():
            self.counters.adapter_errors += 1
            raise LinkError(f"{_exception_text(response)} on {what}")
        return response

    async def read_registers(self, address: int, count: int) -> list[int]:
        """Read ``count`` holding registers from ``address`` (function 0x03)."""
        what = f"reading holding register {address}" + (f"+{count}" if count > 1 else "")
        unit = self.target.unit
        client = self._require_client()
        pdu = await self._call(
            what, lambda: client.read_holding_registers(address, count=count, device_id=unit)
        )
        if len(pdu.registers) != count:
            self.counters.bad_frames += 1
            raise LinkError(f"Modbus {what}: got {len(pdu.registers)} registers")
        return list(pdu.registers)

    async def read_coils(self, address: int, count: int) -> list[bool]:
        """Read ``count`` coils from ``address`` (function 0x01)."""
        what = f"reading coil {address}" + (f"+{count}" if count > 1 else "")
        unit = self.target.unit
        client = self._require_client()
        pdu = await self._call(
            what, lambda: client.read_coils(address, count=count, device_id=unit)
        )
        if len(pdu.bits) < count:
            self.counters.bad_frames += 1
            raise LinkError(f"Modbus {what}: got {len(pdu.bits)} coils")
        return [bool(b) for b in pdu.bits[:count]]

    async def write_register(self, address: int, value: int, function: int = 6) -> None:
        """Write one holding register with function 0x06 or 0x10."""
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"register value {value} is not 16 bits")
        what = f"writing holding register {address}"
        unit = self.target.unit
        client = self._require_client()
        if function == 16:
            await self._call(what, lambda: client.write_registers(address, [value], device_id=unit))
            return
        pdu = await self._call(what, lambda: client.write_register(address, value, device_id=unit))
        if pdu.registers and pdu.registers[0] != value:
            self.counters.bad_frames += 1
            raise LinkError(f"Modbus {what}: the gateway echoed {pdu.registers[0]}, not {value}")

    async def write_coil(self, address: int, value: bool, function: int = 5) -> None:
        """Write one coil with function 0x05 or 0x0F."""
        what = f"writing coil {address}"
        unit = self.target.unit
        client = self._require_client()
        if function == 15:
            await self._call(what, lambda: client.write_coils(address, [value], device_id=unit))
        else:
            await self._call(what, lambda: client.write_coil(address, value, device_id=unit))

    def _require_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        if self._client is None or self._state is not LinkState.CONNECTED:
            raise LinkError(f"Modbus {self.target.describe()} is not connected")
        return self._client


class ModbusLink:
    """A boiler behind a Modbus OpenTherm gateway.

    Requests are carried one at a time. A request whose Modbus exchange
    fails raises :class:`LinkError` (a Modbus exception response, counted in
    ``adapter_errors``) or :class:`LinkTimeout` (no answer, or the gateway
    reports that the boiler does not answer it); a WRITE is only sent after
    the gateway's status was read and the value clamped, so a failed
    request writes nothing.
    """

    kind = "modbus"
    opentherm = True

    def __init__(
        self,
        target: ModbusTarget,
        profile: ModbusProfile,
        *,
        clock: Clock | None = None,
        backoff_min: float = 1.0,
        backoff_max: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        self.target = target
        self.profile = profile
        self.counters = LinkCounters()
        self._channel = ModbusChannel(
            target,
            counters=self.counters,
            clock=clock,
            backoff_min=backoff_min,
            backoff_max=backoff_max,
            rng=rng,
        )
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        profiles: Mapping[str, ModbusProfile] | None = None,
        clock: Clock | None = None,
        backoff_min: float = 1.0,
        backoff_max: float = 60.0,
    ) -> ModbusLink:
        """A link for a ``modbus+tcp://`` or ``modbus+rtu://`` URL; raises :class:`ModbusUrlError`."""
        target, profile = parse_modbus_url(url, profiles)
        return cls(target, profile, clock=clock, backoff_min=backoff_min, backoff_max=backoff_max)

    @property
    def state(self) -> LinkState:
        """The connection state."""
        return self._channel.state

    def add_state_listener(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener`` on every state change; returns a function that removes it."""
        return self._channel.add_state_listener(listener)

    async def start(self) -> None:
        """Connect (one attempt now, then in the background with backoff)."""
        await self._channel.start()

    async def stop(self) -> None:
        """Close the connection and stop reconnecting."""
        await self._channel.stop()

    async def set_heat_demand(self, on: bool) -> None:
        """Not for OpenTherm links: heat goes through ID 0 (CH enable) and ID 1."""
        raise LinkError("a Modbus OpenTherm link switches heat with ID 0 and ID 1, not a relay")

    async def transact(self, request: Frame, timeout: float = 0.8) -> Frame:
        """Carry one master request through the gateway and return the synthesized answer."""
        if not request.msg_type.from_master or request.msg_type is MsgType.RESERVED:
            raise LinkError(f"{request.msg_type.spec_name} is not a master request")
        self.counters.requests += 1
        async with self._lock:
            deadline = asyncio.timeout(timeout)
            try:
                async with deadline:
                    answer = await self._carry(request)
            except TimeoutError:
                self.counters.timeouts += 1
                self._channel.note_unanswered()
                raise LinkTimeout(
                    f"Modbus gateway did not complete id {request.data_id} within {timeout} s"
                ) from None
        self.counters.answers += 1
        return answer

    async def _carry(self, request: Frame) -> Frame:
        if not self._channel.connected:
            raise LinkError(f"Modbus {self.target.describe()} is not connected")
        data_id = request.data_id
        if data_id == 0:
            if request.msg_type is not MsgType.READ_DATA:
                raise LinkError(f"ID 0 is read, not {request.msg_type.spec_name}")
            return await self._status_exchange(request)
        if request.msg_type is MsgType.INVALID_DATA:
            return Frame(MsgType.DATA_INVALID, data_id, request.value)
        if request.msg_type is MsgType.READ_DATA:
            reg = self.profile.read_register(data_id)
            if reg is None:
                return Frame(MsgType.UNKNOWN_DATAID, data_id, 0)
            await self._check_gateway()
            (raw,) = await self._channel.read_registers(reg.address, 1)
            if raw in self.profile.not_used:
                return Frame(MsgType.DATA_INVALID, data_id, 0)
            value = decode_register(reg, raw)
            if value is None:
                self.counters.extra["out_of_range"] = self.counters.extra.get("out_of_range", 0) + 1
                return Frame(MsgType.DATA_INVALID, data_id, 0)
            return Frame(MsgType.READ_ACK, data_id, value)
        reg = self.profile.write_register(data_id)
        if reg is None:
            return Frame(MsgType.UNKNOWN_DATAID, data_id, request.value)
        raw, written = clamp_write(reg, request.value)
        if written != request.value:
            self.counters.extra["clamped_writes"] = self.counters.extra.get("clamped_writes", 0) + 1
            _LOGGER.debug(
                "Modbus: id %d value %#06x clamped to %#06x", data_id, request.value, written
            )
        await self._check_gateway()
        await self._channel.write_register(reg.address, raw, self.profile.register_write_function)
        return Frame(MsgType.WRITE_ACK, data_id, written)

    async def _status_exchange(self, request: Frame) -> Frame:
        master = request.hb
        await self._check_gateway()
        for coil in self.profile.master_coils:
            await self._channel.write_coil(
                coil.address, bool(master >> coil.bit & 1), self.profile.coil_write_function
            )
        slave = await self._read_slave_flags(self.profile.slave_coils)
        return Frame(MsgType.READ_ACK, 0, master << 8 | slave)

    async def _read_slave_flags(self, coils: tuple[CoilMap, ...]) -> int:
        if not coils:
            return 0
        states: dict[int, bool] = {}
        for start, count in _runs(c.address for c in coils):
            bits = await self._channel.read_coils(start, count)
            states.update(zip(range(start, start + count), bits, strict=True))
        flags = 0
        for coil in coils:
            if states[coil.address]:
                flags |= 1 << coil.bit
        return flags

    async def _check_gateway(self) -> None:
        """Read the gateway's status registers; raise if its OpenTherm side is down."""
        profile = self.profile
        values: dict[int, int] = {}
        for start, count in _runs(profile.status_registers):
            regs = await self._channel.read_registers(start, count)
            values.update(zip(range(start, start + count), regs, strict=True))
        if profile.error_count_register is not None:
            self.counters.extra["gateway_ot_errors"] = values[profile.error_count_register]
        if profile.comm_failed_register is not None and values[profile.comm_failed_register]:
            self.counters.extra["ot_comm_failed"] = self.counters.extra.get("ot_comm_failed", 0) + 1
            self.counters.timeouts += 1
            raise LinkTimeout("boiler not answering the gateway (OpenTherm communication failed)")
