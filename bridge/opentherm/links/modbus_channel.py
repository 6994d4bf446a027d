"""One Modbus client connection, kept open with backoff (:class:`ModbusChannel`).

The OpenTherm-over-Modbus boiler link (:mod:`bridge.opentherm.links.modbus`)
and the relay link (:mod:`bridge.opentherm.links.onoff`) both talk through it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import logging
import random
from typing import TYPE_CHECKING

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from bridge.core.clock import Clock, SystemClock
from bridge.core.listeners import Listeners
from bridge.opentherm.links.backoff import Backoff
from bridge.opentherm.links.base import (
    LinkCounters,
    LinkError,
    LinkState,
    LinkTimeout,
    StateListener,
)
from bridge.opentherm.links.modbus_target import ModbusTarget

if TYPE_CHECKING:
    from pymodbus.pdu import ModbusPDU

__all__ = ["ModbusChannel"]

# The channel logs under the Modbus link's name, as it did when both lived in
# one module: logging configurations and log filters keep working.
_LOGGER = logging.getLogger("bridge.opentherm.links.modbus")

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


def _exception_text(pdu: ModbusPDU) -> str:
    code = pdu.exception_code
    return f"Modbus exception {code} ({_EXCEPTION_NAMES.get(code, 'unknown')})"


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
