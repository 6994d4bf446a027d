"""A simulated Modbus TCP OpenTherm gateway in front of a simulated boiler.

:class:`SimModbusServer` plays the gateway: once per simulated second it
talks OpenTherm to its slave (ID 0 with the master flags from the master
coils, the write registers the clients have set, then a read of every
mapped id) and publishes the answers in its holding registers, scaled as
its profile says (SETECNA by default), with the gateway status registers
(OpenTherm error count, "communication failed"). A further coil is an on/off
relay on the boiler's room-thermostat contacts: a slave with an on/off
input (``set_relay_demand``, as the simulated boiler has) gets the relay
state there; for any other slave the gateway stands in for the contacts,
enabling CH while the relay is on and, unless a client has written the CH
setpoint register, asking for ``relay_flow_setpoint``.

Fault hooks for tests: :meth:`SimModbusServer.fail_with` (answer every
request with a Modbus exception, changing nothing),
:meth:`SimModbusServer.set_ot_comm_failed` (the boiler stops answering the
gateway) and :meth:`SimModbusServer.set_silent` (requests get no answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusBaseDeviceContext, ModbusServerContext
from pymodbus.server import ModbusTcpServer

from bridge.opentherm.frame import Frame, FrameError, MsgType, check_answer
from bridge.opentherm.modbus_maps import (
    MASTER_FLAGS,
    SETECNA,
    ModbusProfile,
    OtFormat,
    decode_register,
    encode_register,
    number_to_ot,
)
from bridge.opentherm.sim.serve import serve_world
from bridge.opentherm.sim.world import DEFAULT_SEED

if TYPE_CHECKING:
    from collections.abc import Iterable

    from bridge.core.clock import Clock
    from bridge.opentherm.slave import OpenThermSlave

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORT = 5020
DEFAULT_RELAY_COIL = 100

_REGISTER_FUNCTIONS = frozenset({3, 6, 16, 23})
_COIL_FUNCTIONS = frozenset({1, 5, 15})


@runtime_checkable
class RelayInput(Protocol):
    """A boiler's on/off thermostat input."""

    def set_relay_demand(self, on: bool) -> None:
        """Heat demand from the relay contacts."""


class _GatewayContext(ModbusBaseDeviceContext):
    """The gateway's Modbus data, served by pymodbus for one unit id."""

    def __init__(self, gateway: SimModbusServer) -> None:
        self._gateway = gateway

    def reset(self) -> None:
        """Nothing to reset: the gateway's data is the boiler's."""

    async def async_getValues(  # noqa: N802 (pymodbus API)
        self, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        fault = await self._gateway._admit(address, count)
        if fault is not None:
            return fault
        return self._gateway._read(func_code, address, count)

    async def async_setValues(  # noqa: N802 (pymodbus API)
        self, func_code: int, address: int, values: list[int] | list[bool]
    ) -> ExcCodes | None:
        fault = await self._gateway._admit(address, len(values))
        if fault is not None:
            return fault
        return self._gateway._write(func_code, address, values)


class SimModbusServer:
    """A Modbus TCP OpenTherm gateway (SETECNA map by default) for a simulated boiler."""

    def __init__(
        self,
        slave: OpenThermSlave,
        clock: Clock,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        unit: int = 1,
        profile: ModbusProfile = SETECNA,
        relay_coil: int = DEFAULT_RELAY_COIL,
        relay_flow_setpoint: float = 60.0,
        poll_interval: float = 1.0,
    ) -> None:
        if any(c.address == relay_coil for c in profile.coils):
            raise ValueError(f"relay coil {relay_coil} is already a coil of the profile")
        relay_tset = number_to_ot(OtFormat.F88, relay_flow_setpoint)
        if relay_tset is None or not 0 <= relay_flow_setpoint <= 100:
            raise ValueError("relay_flow_setpoint must be 0-100 C")
        self.slave = slave
        self.clock = clock
        self.host = host
        self.unit = unit
        self.profile = profile
        self.relay_coil = relay_coil
        self._relay_tset = relay_tset
        self._poll_interval = poll_interval
        self._port = port
        self._not_used = min(profile.not_used) if profile.not_used else 0
        self._registers: dict[int, int] = {r.address: self._not_used for r in profile.registers}
        for reg in profile.registers:
            if reg.writable:
                self._registers[reg.address] = 0
        for status in profile.status_registers:
            self._registers[status] = 0
        self._writable_registers = frozenset(r.address for r in profile.registers if r.writable)
        self._coils: dict[int, bool] = {c.address: False for c in profile.coils}
        self._coils[relay_coil] = False
        self._writable_coils = frozenset(
            [c.address for c in profile.coils if c.master] + [relay_coil]
        )
        self._written: set[int] = set()
        self._errors = 0
        self._comm_failed = False
        self._forced_comm_failed = False
        self._exception: ExcCodes | None = None
        self._exception_addresses: frozenset[int] | None = None
        self._answering = asyncio.Event()
        self._answering.set()
        self._server: ModbusTcpServer | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self.requests = 0
        """Modbus requests the gateway has handled (answered or refused)."""
        self.polls = 0
        """Gateway cycles run (each talks OpenTherm to the slave)."""

    # ------------------------------------------------------------------ life

    @property
    def port(self) -> int:
        """The TCP port (the bound one once started, even when created with port 0)."""
        return self._port

    @property
    def running(self) -> bool:
        """True while the server listens."""
        return self._server is not None

    async def start(self) -> None:
        """Run one gateway cycle, listen, and poll the slave every simulated second."""
        if self._server is not None:
            return
        self.poll_once()
        context = ModbusServerContext(  # type: ignore[no-untyped-call]
            devices={self.unit: _GatewayContext(self)}, single=False
        )
        server = ModbusTcpServer(context, address=(self.host, self._port))
        await server.serve_forever(background=True)
        listener = server.transport
        sockets = getattr(listener, "sockets", None) or ()
        if sockets:
            self._port = int(sockets[0].getsockname()[1])
        self._server = server
        if self._poll_task is None:
            self._poll_task = asyncio.create_task(self._poll_loop(), name="sim-modbus-poll")
        _LOGGER.info("Simulated Modbus gateway listening on %s:%d", self.host, self._port)

    async def stop(self) -> None:
        """Stop listening, close client connections and stop polling.

        Requests parked by :meth:`set_silent` are released (silence ends).
        """
        task, self._poll_task = self._poll_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        server, self._server = self._server, None
        if server is not None:
            listener = server.transport
            await server.shutdown()  # type: ignore[no-untyped-call]
            wait_closed = getattr(listener, "wait_closed", None)
            if wait_closed is not None:
                await wait_closed()
        self._answering.set()  # let requests parked by set_silent finish

    async def _poll_loop(self) -> None:
        while True:
            await self.clock.sleep(self._poll_interval)
            self.poll_once()

    # ------------------------------------------------------------ fault hooks

    def fail_with(self, code: int | None, *, addresses: Iterable[int] | None = None) -> None:
        """Answer Modbus requests with exception ``code`` (e.g. 4), changing nothing.

        With ``addresses``, only requests touching one of those registers or
        coils fail. ``None`` as the code restores normal answers.
        """
        self._exception = None if code is None else ExcCodes(code)
        self._exception_addresses = None if addresses is None else frozenset(addresses)

    def set_ot_comm_failed(self, failed: bool) -> None:
        """Cut the gateway's OpenTherm line: the boiler no longer answers (HR23 = 1)."""
        self._forced_comm_failed = failed
        if failed:
            self._comm_failed = True
            self._publish_status()

    def set_silent(self, silent: bool) -> None:
        """Stop answering Modbus requests (they are received, never answered)."""
        if silent:
            self._answering.clear()
        else:
            self._answering.set()

    # ---------------------------------------------------------- inspection

    def register(self, address: int) -> int:
        """A holding register's current value."""
        return self._registers[address]

    def coil(self, address: int) -> bool:
        """A coil's current state."""
        return self._coils[address]

    @property
    def relay_on(self) -> bool:
        """The relay coil's state."""
        return self._coils[self.relay_coil]

    # ---------------------------------------------------------- the gateway

    def poll_once(self) -> None:
        """One gateway cycle: OpenTherm to the slave, answers into the registers."""
        self.polls += 1
        if self._forced_comm_failed:
            self._errors += 1
            self._comm_failed = True
            self._publish_status()
            return
        relay = self._coils[self.relay_coil]
        if isinstance(self.slave, RelayInput):
            self.slave.set_relay_demand(relay)
            relay = False  # the boiler has the contacts; nothing to stand in for
        master = 0
        for coil in self.profile.master_coils:
            if self._coils[coil.address]:
                master |= 1 << coil.bit
        if relay:
            master |= 1 << MASTER_FLAGS["ch_enable"]
        status = self._exchange(Frame(MsgType.READ_DATA, 0, master << 8))
        if status is None:
            self._comm_failed = True
            self._publish_status()
            return
        for coil in self.profile.slave_coils:
            self._coils[coil.address] = bool(status.lb >> coil.bit & 1)
        tset_written = False
        for reg in self.profile.registers:
            if not reg.writable or reg.address not in self._written:
                continue
            value = decode_register(reg, self._registers[reg.address])
            if value is not None:
                self._exchange(Frame(MsgType.WRITE_DATA, reg.data_id, value))
                tset_written = tset_written or reg.data_id == 1
        if relay and not tset_written:
            self._exchange(Frame(MsgType.WRITE_DATA, 1, self._relay_tset))
        for reg in self.profile.registers:
            if not reg.readable:
                continue
            answer = self._exchange(Frame(MsgType.READ_DATA, reg.data_id, 0))
            if answer is None:
                continue
            raw = (
                encode_register(reg, answer.value) if answer.msg_type is MsgType.READ_ACK else None
            )
            if raw is None or raw in self.profile.not_used:
                raw = self._not_used
            self._registers[reg.address] = raw
        self._comm_failed = False
        self._publish_status()

    def _exchange(self, request: Frame) -> Frame | None:
        answer = self.slave.handle(request)
        if answer is None:
            self._errors += 1
            return None
        try:
            check_answer(request, answer)
        except FrameError as err:
            _LOGGER.debug("Simulated gateway: bad answer %s to %s: %s", answer, request, err)
            self._errors += 1
            return None
        return answer

    def _publish_status(self) -> None:
        if self.profile.error_count_register is not None:
            self._registers[self.profile.error_count_register] = self._errors & 0xFFFF
        if self.profile.comm_failed_register is not None:
            self._registers[self.profile.comm_failed_register] = int(self._comm_failed)

    async def _admit(self, address: int, count: int) -> ExcCodes | None:
        """Wait while silent; the exception to answer with, if one applies."""
        await self._answering.wait()
        self.requests += 1
        if self._exception is None or self._exception_addresses is None:
            return self._exception
        touched = range(address, address + count)
        return self._exception if any(a in self._exception_addresses for a in touched) else None

    def _read(self, func_code: int, address: int, count: int) -> list[int] | list[bool] | ExcCodes:
        if func_code in _REGISTER_FUNCTIONS:
            store: dict[int, int] | dict[int, bool] = self._registers
        elif func_code in _COIL_FUNCTIONS:
            store = self._coils
        else:
            return ExcCodes.ILLEGAL_FUNCTION
        addresses = range(address, address + count)
        if any(a not in store for a in addresses):
            return ExcCodes.ILLEGAL_ADDRESS
        if store is self._coils:
            return [self._coils[a] for a in addresses]
        return [self._registers[a] for a in addresses]

    def _write(
        self, func_code: int, address: int, values: list[int] | list[bool]
    ) -> ExcCodes | None:
        addresses = range(address, address + len(values))
        if func_code in _REGISTER_FUNCTIONS:
            if any(a not in self._writable_registers for a in addresses):
                return ExcCodes.ILLEGAL_ADDRESS
            if any(not 0 <= int(v) <= 0xFFFF for v in values):
                return ExcCodes.ILLEGAL_VALUE
            for a, v in zip(addresses, values, strict=True):
                self._registers[a] = int(v)
                self._written.add(a)
            return None
        if func_code in _COIL_FUNCTIONS:
            if any(a not in self._writable_coils for a in addresses):
                return ExcCodes.ILLEGAL_ADDRESS
            for a, v in zip(addresses, values, strict=True):
                self._coils[a] = bool(v)
            if self.relay_coil in addresses and isinstance(self.slave, RelayInput):
                self.slave.set_relay_demand(self._coils[self.relay_coil])
            return None
        return ExcCodes.ILLEGAL_FUNCTION


async def serve_sim_modbus(
    host: str, port: int, *, seed: int = DEFAULT_SEED, speed: float = 1.0
) -> None:
    """Run a simulated house and boiler behind a Modbus TCP gateway until cancelled.

    The world runs ``speed`` times faster than real time, starting now. The
    gateway uses the SETECNA map (unit 1) with the relay on coil
    :data:`DEFAULT_RELAY_COIL`; it polls the boiler every simulated second,
    but at most twenty times per real second.
    """
    await serve_world(
        lambda slave, clock, cycle: SimModbusServer(slave, clock, host, port, poll_interval=cycle),
        seed=seed,
        speed=speed,
        name="sim-modbus-world",
    )
