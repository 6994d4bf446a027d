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

The Modbus connection, kept open with backoff, is
:class:`~bridge.opentherm.links.modbus_channel.ModbusChannel` (the relay
link, :mod:`bridge.opentherm.links.onoff`, uses it too); the URL's target and
common parameters are :mod:`bridge.opentherm.links.modbus_target`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
import logging
import random

from bridge.core.clock import Clock
from bridge.opentherm.frame import Frame, MsgType
from bridge.opentherm.links.base import (
    LinkCounters,
    LinkError,
    LinkState,
    LinkTimeout,
    StateListener,
)
from bridge.opentherm.links.modbus_channel import ModbusChannel
from bridge.opentherm.links.modbus_target import (
    ModbusTarget,
    ModbusUrlError,
    name_param,
    parse_target,
)
from bridge.opentherm.modbus_maps import (
    BUILTIN_PROFILES,
    CoilMap,
    ModbusProfile,
    clamp_write,
    decode_register,
)

_LOGGER = logging.getLogger(__name__)

DEFAULT_PROFILE = "setecna"


def parse_modbus_url(
    url: str, profiles: Mapping[str, ModbusProfile] | None = None
) -> tuple[ModbusTarget, ModbusProfile]:
    """The target and profile of a ``modbus+tcp://`` or ``modbus+rtu://`` URL.

    ``profiles`` are the known profiles (default: the built-in ones); the
    ``profile`` parameter defaults to ``setecna``.
    """
    known = BUILTIN_PROFILES if profiles is None else profiles
    target, extra = parse_target(
        url, {"modbus+tcp": "tcp", "modbus+rtu": "rtu"}, {"profile": name_param}
    )
    name = str(extra.get("profile", DEFAULT_PROFILE))
    if name not in known:
        raise ModbusUrlError(
            f"{url!r}: profile={name!r} is not known (known: {', '.join(sorted(known))})"
        )
    return target, known[name]


def _runs(addresses: Iterable[int]) -> list[tuple[int, int]]:
    """Contiguous runs of addresses as (start, count), in order."""
    runs: list[tuple[int, int]] = []
    for address in sorted(set(addresses)):
        if runs and runs[-1][0] + runs[-1][1] == address:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((address, 1))
    return runs


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
