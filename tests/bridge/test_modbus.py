"""Modbus OpenTherm gateway links, the relay link and the simulated gateway, over loopback TCP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
import logging
import socket
from typing import Any

import pytest

from bridge.core.clock import VirtualClock
from bridge.opentherm.formats import decode_f8_8, encode_f8_8
from bridge.opentherm.frame import Frame, MsgType
from bridge.opentherm.links.base import BoilerLink, LinkError, LinkState, LinkTimeout
from bridge.opentherm.links.modbus import ModbusLink, parse_modbus_url
from bridge.opentherm.links.modbus_target import ModbusUrlError
from bridge.opentherm.links.onoff import OnOffLink, parse_onoff_url
from bridge.opentherm.modbus_maps import (
    SETECNA,
    Access,
    OtFormat,
    ProfileError,
    RegisterMap,
    Scale,
    build_profile,
    build_profiles,
    clamp_write,
    decode_register,
    encode_register,
)
from bridge.opentherm.sim import SimWorld
from bridge.opentherm.sim.modbus_server import SimModbusServer, serve_sim_modbus
from bridge.opentherm.sim.world import WorldSlave

LINK_LOGGER = "bridge.opentherm.links.modbus"


class FakeBoiler:
    """A small OpenTherm slave with fixed readings and remembered writes."""

    def __init__(self) -> None:
        self.readings: dict[int, int] = {
            3: 0x0309,  # slave config flags / member id
            17: encode_f8_8(30.0),  # modulation %
            18: encode_f8_8(1.5),  # pressure bar
            25: encode_f8_8(45.5),  # flow temperature
            27: encode_f8_8(-3.5),  # outside temperature
            33: 65,  # exhaust temperature, s16
            120: 1234,  # burner hours
        }
        self.writes: dict[int, float] = {}
        self.master_flags = 0
        self.requests: list[Frame] = []

    def handle(self, request: Frame) -> Frame | None:
        self.requests.append(request)
        did = request.data_id
        if did == 0:
            self.master_flags = request.hb
            ch = request.hb & 0x01
            slave = 0b1010 if ch and self.writes.get(1, 0) > 0 else 0  # CH active + flame
            return Frame(MsgType.READ_ACK, 0, request.hb << 8 | slave)
        if request.msg_type is MsgType.WRITE_DATA and did in (1, 14, 56):
            self.writes[did] = decode_f8_8(request.value)
            return Frame(MsgType.WRITE_ACK, did, request.value)
        if request.msg_type is MsgType.READ_DATA and did in self.readings:
            return Frame(MsgType.READ_ACK, did, self.readings[did])
        return Frame(MsgType.UNKNOWN_DATAID, did, request.value)

    @property
    def ch_enable(self) -> bool:
        return bool(self.master_flags & 0x01)


async def eventually(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    """Wait (real time) until ``predicate`` holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def advance_until(
    clock: VirtualClock, predicate: Callable[[], bool], step: float = 8.0, tries: int = 15
) -> None:
    """Move simulated time in steps, giving real I/O time in between, until ``predicate``."""
    for _ in range(tries):
        if predicate():
            return
        await clock.advance(step)
        for _ in range(30):
            if predicate():
                return
            await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in simulated time")


def state_of(link: ModbusLink | OnOffLink) -> LinkState:
    """The link's state (a call, so type narrowing does not outlive an await)."""
    return link.state


def demand(relay: OnOffLink) -> bool | None:
    return relay.heat_demand


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def boiler() -> FakeBoiler:
    return FakeBoiler()


@pytest.fixture
async def server(clock: VirtualClock, boiler: FakeBoiler) -> AsyncIterator[SimModbusServer]:
    srv = SimModbusServer(boiler, clock, "127.0.0.1", 0)
    await srv.start()
    yield srv
    await srv.stop()


def tcp_url(server: SimModbusServer, query: str = "unit=1&profile=setecna") -> str:
    return f"modbus+tcp://127.0.0.1:{server.port}?{query}"


@pytest.fixture
async def link(server: SimModbusServer, clock: VirtualClock) -> AsyncIterator[ModbusLink]:
    lnk = ModbusLink.from_url(
        tcp_url(server, "unit=1&profile=setecna&timeout=0.5"),
        clock=clock,
        backoff_min=1.0,
        backoff_max=8.0,
    )
    await lnk.start()
    assert lnk.state is LinkState.CONNECTED
    yield lnk
    await lnk.stop()


def read(data_id: int) -> Frame:
    return Frame(MsgType.READ_DATA, data_id, 0)


def write(data_id: int, value: float) -> Frame:
    return Frame(MsgType.WRITE_DATA, data_id, encode_f8_8(value))


# ---------------------------------------------------------------- reads


async def test_reads_are_scaled_into_opentherm_formats(
    link: ModbusLink, server: SimModbusServer
) -> None:
    # the gateway keeps the values x10 ...
    assert server.register(8) == 455
    assert server.register(10) == (-35) & 0xFFFF
    assert server.register(7) == 15
    # ... and the link gives them back in the id's OpenTherm format
    flow = await link.transact(read(25))
    assert flow.msg_type is MsgType.READ_ACK
    assert decode_f8_8(flow.value) == 45.5
    outside = await link.transact(read(27))
    assert decode_f8_8(outside.value) == -3.5
    assert decode_f8_8((await link.transact(read(18))).value) == 1.5
    assert decode_f8_8((await link.transact(read(17))).value) == 30.0
    assert (await link.transact(read(3))).value == 0x0309  # byte pair, as is
    assert (await link.transact(read(120))).value == 1234  # u16, raw
    assert (await link.transact(read(33))).value == 65  # x10 register, s16 id
    assert link.counters.requests == link.counters.answers == 7


async def test_unmapped_ids_answer_unknown_dataid(
    link: ModbusLink, server: SimModbusServer
) -> None:
    before = server.requests
    answer = await link.transact(read(100))
    assert answer == Frame(MsgType.UNKNOWN_DATAID, 100, 0)
    # a write-only id cannot be read, an id without a write register cannot be written
    assert (await link.transact(read(1))).msg_type is MsgType.UNKNOWN_DATAID
    assert (await link.transact(write(24, 20.5))).msg_type is MsgType.UNKNOWN_DATAID
    assert server.requests == before  # answered without touching the gateway


async def test_not_used_value_answers_data_invalid(
    link: ModbusLink, server: SimModbusServer
) -> None:
    # the fake boiler does not know id 26: the gateway shows its "not used" value
    assert server.register(9) == 0x8000
    answer = await link.transact(read(26))
    assert answer == Frame(MsgType.DATA_INVALID, 26, 0)


# ---------------------------------------------------------------- writes


async def test_ch_setpoint_write_reaches_the_boiler(
    link: ModbusLink, server: SimModbusServer, boiler: FakeBoiler, clock: VirtualClock
) -> None:
    answer = await link.transact(write(1, 55.0))
    assert answer == Frame(MsgType.WRITE_ACK, 1, encode_f8_8(55.0))
    assert server.register(25) == 550
    await link.transact(write(56, 48.5))
    await link.transact(write(14, 100.0))
    assert server.register(26) == 485
    assert server.register(27) == 1000  # full power
    await clock.advance(1.0)  # the gateway's next OpenTherm cycle
    assert boiler.writes == {1: 55.0, 56: 48.5, 14: 100.0}


async def test_writes_are_clamped_never_negative_or_absurd(
    link: ModbusLink, server: SimModbusServer
) -> None:
    high = await link.transact(write(1, 120.0))
    assert high == Frame(MsgType.WRITE_ACK, 1, encode_f8_8(100.0))
    assert server.register(25) == 1000
    low = await link.transact(write(1, -10.0))
    assert low == Frame(MsgType.WRITE_ACK, 1, encode_f8_8(0.0))
    assert server.register(25) == 0
    assert link.counters.extra["clamped_writes"] == 2


async def test_raw_register_server_value_reaches_slave(
    server: SimModbusServer, boiler: FakeBoiler, clock: VirtualClock, link: ModbusLink
) -> None:
    """HR25 = 550 written by any Modbus client becomes ID 1 = 55.0 at the boiler."""
    from pymodbus.client import AsyncModbusTcpClient

    client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=1, retries=0)
    assert await client.connect()
    try:
        rr = await client.write_register(25, 550, device_id=1)
        assert not rr.isError()
    finally:
        client.close()
    await clock.advance(1.0)
    assert boiler.writes[1] == 55.0
    last_id1 = [f for f in boiler.requests if f.data_id == 1][-1]
    assert last_id1 == Frame(MsgType.WRITE_DATA, 1, 0x3700)


# ---------------------------------------------------------------- ID 0


async def test_id0_ch_enable_goes_to_coil_48(
    link: ModbusLink, server: SimModbusServer, boiler: FakeBoiler, clock: VirtualClock
) -> None:
    answer = await link.transact(Frame(MsgType.READ_DATA, 0, 0x0100))
    assert answer.msg_type is MsgType.READ_ACK
    assert answer.hb == 0x01
    assert answer.lb == 0  # the SETECNA profile mirrors no slave flags
    assert server.coil(48) is True
    await clock.advance(1.0)
    assert boiler.ch_enable
    await link.transact(Frame(MsgType.READ_DATA, 0, 0x0000))
    assert server.coil(48) is False
    with pytest.raises(LinkError, match="ID 0"):
        await link.transact(Frame(MsgType.WRITE_DATA, 0, 0x0100))


async def test_slave_flags_from_coils_of_a_custom_profile(
    clock: VirtualClock, boiler: FakeBoiler
) -> None:
    profiles = build_profiles(
        {"flags": {"base": "setecna", "coils": {0: "fault", 1: "ch_active", 3: "flame"}}}
    )
    srv = SimModbusServer(boiler, clock, "127.0.0.1", 0, profile=profiles["flags"])
    await srv.start()
    lnk = ModbusLink.from_url(tcp_url(srv, "profile=flags"), profiles=profiles, clock=clock)
    await lnk.start()
    try:
        await lnk.transact(write(1, 60.0))
        await lnk.transact(Frame(MsgType.READ_DATA, 0, 0x0100))
        await clock.advance(2.0)  # cycle 1 passes CH enable and TSet, cycle 2 reads the flags
        answer = await lnk.transact(Frame(MsgType.READ_DATA, 0, 0x0100))
        assert answer.value == 0x0100 | 0b1010  # CH active and flame, no fault
    finally:
        await lnk.stop()
        await srv.stop()


# ---------------------------------------------------------------- faults


async def test_modbus_exception_raises_and_writes_nothing(
    link: ModbusLink, server: SimModbusServer, boiler: FakeBoiler, clock: VirtualClock
) -> None:
    await link.transact(write(1, 50.0))
    await clock.advance(1.0)
    server.fail_with(2, addresses=[25])
    with pytest.raises(LinkError, match=r"exception 2 \(illegal data address\)"):
        await link.transact(write(1, 70.0))
    assert server.register(25) == 500
    await clock.advance(1.0)
    assert boiler.writes[1] == 50.0
    assert link.counters.adapter_errors == 1

    server.fail_with(4)
    with pytest.raises(LinkError, match="exception 4"):
        await link.transact(read(25))
    server.fail_with(None)
    assert decode_f8_8((await link.transact(read(25))).value) == 45.5
    assert link.state is LinkState.CONNECTED


async def test_ot_comm_failed_means_boiler_not_answering(
    link: ModbusLink, server: SimModbusServer, boiler: FakeBoiler, clock: VirtualClock
) -> None:
    server.set_ot_comm_failed(True)
    assert server.register(23) == 1
    with pytest.raises(LinkTimeout, match="boiler not answering the gateway"):
        await link.transact(read(25))
    # nothing is written while the gateway cannot reach the boiler
    with pytest.raises(LinkTimeout):
        await link.transact(write(1, 65.0))
    with pytest.raises(LinkTimeout):
        await link.transact(Frame(MsgType.READ_DATA, 0, 0x0100))
    assert server.register(25) == 0
    assert server.coil(48) is False
    await clock.advance(2.0)
    assert server.register(22) >= 2  # the gateway counts its failed conversations
    server.set_ot_comm_failed(False)
    await clock.advance(1.0)
    assert server.register(23) == 0
    assert decode_f8_8((await link.transact(read(25))).value) == 45.5
    assert link.counters.extra["ot_comm_failed"] == 3
    assert link.counters.extra["gateway_ot_errors"] >= 2


async def test_wrong_unit_is_a_gateway_exception(
    server: SimModbusServer, clock: VirtualClock
) -> None:
    lnk = ModbusLink.from_url(tcp_url(server, "unit=7"), clock=clock)
    await lnk.start()
    try:
        with pytest.raises(LinkError, match="exception 11"):
            await lnk.transact(read(25))
    finally:
        await lnk.stop()


async def test_server_stopped_reconnects_with_one_log_line_each_way(
    link: ModbusLink,
    server: SimModbusServer,
    clock: VirtualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=LINK_LOGGER)
    states: list[LinkState] = []
    link.add_state_listener(states.append)
    await server.stop()
    await eventually(lambda: link.state is LinkState.DISCONNECTED)
    with pytest.raises(LinkError, match="not connected"):
        await link.transact(read(25))
    await clock.advance(1.0)  # a failed attempt while the gateway is away
    await clock.advance(2.0)
    await asyncio.sleep(0.3)
    assert link.state is LinkState.DISCONNECTED
    await server.start()
    await advance_until(clock, lambda: link.state is LinkState.CONNECTED)
    assert decode_f8_8((await link.transact(read(25))).value) == 45.5
    records = [r for r in caplog.records if r.name == LINK_LOGGER]
    warnings = [r for r in records if r.levelno == logging.WARNING]
    infos = [r for r in records if r.levelno == logging.INFO]
    assert len(warnings) == 1
    assert "reconnecting" in warnings[0].getMessage()
    assert len(infos) == 1
    assert "restored" in infos[0].getMessage()
    assert states == [LinkState.DISCONNECTED, LinkState.CONNECTED]
    assert link.counters.reconnects == 1


async def test_silent_gateway_times_out_then_link_reconnects(
    link: ModbusLink, server: SimModbusServer, clock: VirtualClock
) -> None:
    server.set_silent(True)
    for _ in range(3):
        with pytest.raises(LinkTimeout):
            await link.transact(read(25), timeout=0.1)
    assert link.state is LinkState.DISCONNECTED  # dropped after three unanswered requests
    server.set_silent(False)
    await advance_until(clock, lambda: link.state is LinkState.CONNECTED)
    assert decode_f8_8((await link.transact(read(25))).value) == 45.5


async def test_first_connect_failure_keeps_trying(clock: VirtualClock, boiler: FakeBoiler) -> None:
    srv = SimModbusServer(boiler, clock, "127.0.0.1", 0)
    await srv.start()
    port = srv.port
    await srv.stop()
    lnk = ModbusLink.from_url(f"modbus+tcp://127.0.0.1:{port}", clock=clock)
    await lnk.start()
    try:
        assert lnk.state is LinkState.DISCONNECTED
        await srv.start()
        await advance_until(clock, lambda: lnk.state is LinkState.CONNECTED)
        assert (await lnk.transact(read(25))).msg_type is MsgType.READ_ACK
    finally:
        await lnk.stop()
        await srv.stop()
    assert state_of(lnk) is LinkState.STOPPED


async def test_opentherm_link_has_no_relay_and_rejects_slave_frames(link: ModbusLink) -> None:
    with pytest.raises(LinkError):
        await link.set_heat_demand(True)
    with pytest.raises(LinkError, match="not a master request"):
        await link.transact(Frame(MsgType.READ_ACK, 25, 0))
    as_protocol: BoilerLink = link  # checked by mypy: the link implements BoilerLink
    assert as_protocol.kind == "modbus"
    assert as_protocol.opentherm is True


# ---------------------------------------------------------------- URLs


def test_url_parsing_tcp_and_rtu() -> None:
    target, profile = parse_modbus_url("modbus+tcp://gw.local?unit=3")
    assert (target.transport, target.host, target.port, target.unit) == ("tcp", "gw.local", 502, 3)
    assert profile is SETECNA
    target, _ = parse_modbus_url(
        "modbus+rtu:///dev/ttyUSB0?unit=1&profile=setecna&baudrate=9600&parity=e&stopbits=2&bytesize=8&timeout=0.5"
    )
    assert target.transport == "rtu"
    assert target.host == "/dev/ttyUSB0"
    assert (target.baudrate, target.parity, target.stopbits, target.bytesize) == (9600, "E", 2, 8)
    assert target.timeout == 0.5
    target, coil = parse_onoff_url("onoff+modbus+tcp://10.0.0.5:1502?unit=2&coil=17")
    assert (target.host, target.port, target.unit, coil) == ("10.0.0.5", 1502, 2, 17)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("modbus+tcp://gw:502?unit=1&speed=3", "unknown parameter 'speed'"),
        ("modbus+tcp://gw:502?unit=1&unit=2", "given twice"),
        ("modbus+tcp://gw:502?unit=300", "unit=300"),
        ("modbus+tcp://gw:502?unit=abc", "whole number"),
        ("modbus+tcp://gw:502?profile=nope", "profile='nope' is not known"),
        ("modbus+tcp://gw:502?timeout=0", "timeout"),
        ("modbus+tcp://gw:99999", "Port out of range"),
        ("modbus+tcp://:502", "a host is required"),
        ("modbus+tcp://gw:502/path", "no path"),
        ("modbus+tcp://user:pw@gw:502", "no user"),
        ("modbus+udp://gw:502", "scheme"),
        ("modbus+tcp://gw:502?baudrate=9600", "unknown parameter 'baudrate'"),
        ("modbus+rtu:///dev/ttyUSB0?baudrate=1234", "baudrate"),
        ("modbus+rtu:///dev/ttyUSB0?parity=X", "parity"),
        ("modbus+rtu:///dev/ttyUSB0?stopbits=3", "stopbits"),
        ("modbus+rtu:///dev/ttyUSB0?unit=0", "between 1 and 247"),
        ("modbus+rtu://", "serial device"),
        ("modbus+tcp://gw?unit", "malformed query"),
    ],
)
def test_bad_modbus_urls_are_rejected(url: str, message: str) -> None:
    with pytest.raises(ModbusUrlError, match=message.replace("(", r"\(")):
        ModbusLink.from_url(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("onoff+modbus+tcp://gw:502?unit=1", "coil parameter is required"),
        ("onoff+modbus+tcp://gw:502?coil=70000", "coil=70000"),
        ("onoff+modbus+tcp://gw:502?coil=1&profile=setecna", "unknown parameter 'profile'"),
        ("modbus+tcp://gw:502?coil=1", "scheme"),
    ],
)
def test_bad_onoff_urls_are_rejected(url: str, message: str) -> None:
    with pytest.raises(ModbusUrlError, match=message):
        OnOffLink.from_url(url)


# ---------------------------------------------------------------- profiles


def test_setecna_profile_is_the_manual_map() -> None:
    reads = {r.address: r.data_id for r in SETECNA.registers if r.readable}
    assert reads == {
        2: 3, 3: 5, 4: 6, 5: 15, 6: 17, 7: 18, 8: 25, 9: 26, 10: 27,
        11: 28, 12: 33, 13: 35, 14: 36, 15: 48, 16: 49, 17: 120, 18: 121,
    }  # fmt: skip
    writes = {r.address: r.data_id for r in SETECNA.registers if r.writable}
    assert writes == {25: 1, 26: 56, 27: 14}
    assert [(c.address, c.flag) for c in SETECNA.coils] == [(48, "ch_enable")]
    assert (SETECNA.error_count_register, SETECNA.comm_failed_register) == (22, 23)
    assert SETECNA.register_write_function == 6


def test_register_conversions() -> None:
    tenth = RegisterMap(8, 25, Access.READ, Scale.TENTH, True, OtFormat.F88)
    assert decode_register(tenth, 550) == encode_f8_8(55.0)
    assert decode_register(tenth, (-55) & 0xFFFF) == encode_f8_8(-5.5)
    assert encode_register(tenth, encode_f8_8(-5.5)) == (-55) & 0xFFFF
    assert decode_register(tenth, 2000) is None  # 200.0 does not fit f8.8
    f88 = RegisterMap(30, 24, Access.READ, Scale.F88, False, OtFormat.F88)
    assert decode_register(f88, 0x1580) == 0x1580
    unsigned = RegisterMap(6, 17, Access.READ, Scale.TENTH, False, OtFormat.F88)
    assert encode_register(unsigned, encode_f8_8(-1.0)) is None
    setpoint = SETECNA.write_register(1)
    assert setpoint is not None
    assert clamp_write(setpoint, encode_f8_8(55.0)) == (550, encode_f8_8(55.0))
    assert clamp_write(setpoint, encode_f8_8(-20.0)) == (0, 0)
    raw, acked = clamp_write(setpoint, encode_f8_8(42.33))
    assert raw == 423
    assert acked == encode_f8_8(42.3)


CUSTOM = {
    "base": "setecna",
    "register_write_function": 16,
    "coil_write_function": 15,
    "not_used": [0x8000, 0x7FFF],
    "registers": {
        "12": None,
        30: {"id": 24, "access": "write", "scale": "tenth", "signed": True, "min": -20, "max": 50},
        31: {"id": 57, "access": "readwrite", "scale": "raw", "ot": "f8.8", "min": 20, "max": 80},
    },
    "coils": {3: "flame"},
    "status": {"error_count": None},
}


async def test_custom_profile_from_config_dict(clock: VirtualClock, boiler: FakeBoiler) -> None:
    profiles = build_profiles({"mygw": CUSTOM})
    mygw = profiles["mygw"]
    assert mygw.read_register(33) is None  # removed from the base
    assert mygw.error_count_register is None
    assert mygw.comm_failed_register == 23
    assert mygw.not_used == frozenset({0x8000, 0x7FFF})
    boiler.readings[57] = encode_f8_8(70.0)
    srv = SimModbusServer(boiler, clock, "127.0.0.1", 0, profile=mygw)
    await srv.start()
    lnk = ModbusLink.from_url(tcp_url(srv, "profile=mygw"), profiles=profiles, clock=clock)
    await lnk.start()
    try:
        # room temperature: signed x10 register, written with function 16
        answer = await lnk.transact(write(24, -3.0))
        assert answer == Frame(MsgType.WRITE_ACK, 24, encode_f8_8(-3.0))
        assert srv.register(30) == (-30) & 0xFFFF
        # max CH setpoint: a raw integer register carrying an f8.8 id, clamped
        assert (await lnk.transact(write(57, 95.0))).value == encode_f8_8(80.0)
        assert srv.register(31) == 80
        assert decode_f8_8((await lnk.transact(read(57))).value) == 80.0
        await clock.advance(1.0)
        assert decode_f8_8((await lnk.transact(read(57))).value) == 70.0  # the boiler's value
        # CH enable with function 15
        await lnk.transact(Frame(MsgType.READ_DATA, 0, 0x0100))
        assert srv.coil(48) is True
    finally:
        await lnk.stop()
        await srv.stop()


@pytest.mark.parametrize(
    ("data", "path", "rule"),
    [
        ({"registers": {25: {"id": 1, "access": "write", "scale": "tenths"}}}, "registers.25.scale", "must be one of"),
        ({"registers": {25: {"id": 1, "access": "write", "scale": "tenth"}}}, "registers.25.min", "required for a writable register"),
        ({"registers": {25: {"id": 1, "access": "write", "scale": "tenth", "min": 0, "max": 7000}}}, "registers.25.max", "does not fit"),
        ({"registers": {25: {"id": 1, "access": "write", "scale": "tenth", "min": 50, "max": 10}}}, "registers.25.min", "must not exceed max"),
        ({"registers": {2: {"id": 0, "access": "read"}}}, "registers.2.id", "data-id 1-255"),
        ({"registers": {2: {"id": 3, "access": "sometimes"}}}, "registers.2.access", "must be one of"),
        ({"registers": {2: {"id": 3, "access": "read", "colour": "red"}}}, "registers.2.colour", "not a known key"),
        ({"registers": {"x": {"id": 3, "access": "read"}}}, "registers.x", "whole number"),
        ({"registers": {2: {"id": 3, "access": "read", "scale": "bytes", "ot": "f8.8"}}}, "registers.2.ot", "ot must be bytes"),
        ({"registers": {2: {"id": 3, "access": "read", "min": 1}}}, "registers.2.min", "only to writable"),
        ({"base": "setecna", "registers": {40: {"id": 25, "access": "read"}}}, "registers.40.id", "already mapped to register 8"),
        ({"base": "setecna", "status": {"error_count": 8}}, "status.error_count", "already carries"),
        ({"coils": {48: "ch_enabled"}}, "coils.48", "ID 0 flag name"),
        ({"coils": {48: "ch_enable", 49: "ch_enable"}}, "coils.49", "already on coil 48"),
        ({"not_used": [-1]}, "not_used", "16-bit"),
        ({"register_write_function": 5}, "register_write_function", "6 (write single register)"),
        ({"base": "other"}, "base", "must be one of"),
        ({"registerz": {}}, "registerz", "not a known key"),
    ],
)  # fmt: skip
def test_bad_custom_profiles_name_the_key_and_rule(
    data: dict[str, Any], path: str, rule: str
) -> None:
    with pytest.raises(ProfileError) as err:
        build_profile("mygw", data)
    assert err.value.path == f"modbus_profiles.mygw.{path}"
    assert rule in err.value.rule
    assert str(err.value).startswith(f"modbus_profiles.mygw.{path}: ")


def test_custom_profiles_may_not_shadow_builtins() -> None:
    with pytest.raises(ProfileError, match=r"modbus_profiles\.setecna: is a built-in profile"):
        build_profiles({"setecna": {}})
    with pytest.raises(ProfileError, match="letters, digits"):
        build_profiles({"my gw": {}})


# ---------------------------------------------------------------- relay


async def test_relay_link_switches_and_reads_back(
    server: SimModbusServer, boiler: FakeBoiler, clock: VirtualClock
) -> None:
    relay = OnOffLink.from_url(f"onoff+modbus+tcp://127.0.0.1:{server.port}?unit=1&coil=100")
    as_protocol: BoilerLink = relay  # checked by mypy: the relay implements BoilerLink
    assert as_protocol.kind == "onoff"
    assert as_protocol.opentherm is False
    await relay.start()
    assert demand(relay) is None
    await relay.set_heat_demand(True)
    assert server.coil(100)
    assert demand(relay) is True
    # the fake boiler has no on/off input: the gateway stands in for the contacts
    await clock.advance(1.0)
    assert boiler.ch_enable
    assert boiler.writes[1] == 60.0
    await relay.set_heat_demand(False)
    assert not server.coil(100)
    assert demand(relay) is False
    with pytest.raises(LinkError, match="no OpenTherm"):
        await relay.transact(read(0))
    server.fail_with(4, addresses=[100])
    with pytest.raises(LinkError, match="exception 4"):
        await relay.set_heat_demand(True)
    assert not server.coil(100)
    server.fail_with(None)
    await relay.set_heat_demand(True)
    await relay.stop()


async def test_relay_stop_state_is_off(server: SimModbusServer) -> None:
    relay = OnOffLink.from_url(f"onoff+modbus+tcp://127.0.0.1:{server.port}?coil=100")
    assert OnOffLink.STOP_STATE is False
    await relay.start()
    await relay.set_heat_demand(True)
    assert server.coil(100)
    await relay.stop()
    assert not server.coil(100)
    assert relay.stopped_safe is True
    assert demand(relay) is False
    assert state_of(relay) is LinkState.STOPPED


async def test_relay_stop_without_gateway_reports_unknown_state(
    server: SimModbusServer, clock: VirtualClock
) -> None:
    relay = OnOffLink.from_url(f"onoff+modbus+tcp://127.0.0.1:{server.port}?coil=100", clock=clock)
    await relay.start()
    await relay.set_heat_demand(True)
    await server.stop()
    await eventually(lambda: relay.state is LinkState.DISCONNECTED)
    await relay.stop()
    assert relay.stopped_safe is False
    assert demand(relay) is None
    assert state_of(relay) is LinkState.STOPPED


# ---------------------------------------------------------------- the simulated boiler


@pytest.fixture
async def world_server(clock: VirtualClock) -> AsyncIterator[tuple[SimWorld, SimModbusServer]]:
    world = SimWorld(seed=1, start=clock.time())
    world.attach(clock)
    srv = SimModbusServer(WorldSlave(world), clock, "127.0.0.1", 0)
    await srv.start()
    yield world, srv
    await srv.stop()


async def test_link_drives_the_simulated_boiler(
    world_server: tuple[SimWorld, SimModbusServer], clock: VirtualClock
) -> None:
    world, srv = world_server
    lnk = ModbusLink.from_url(tcp_url(srv), clock=clock)
    await lnk.start()
    try:
        flow = await lnk.transact(read(25))
        assert flow.msg_type is MsgType.READ_ACK
        assert decode_f8_8(flow.value) == pytest.approx(world.boiler.t_flow, abs=0.06)
        pressure = await lnk.transact(read(18))
        assert decode_f8_8(pressure.value) == pytest.approx(world.boiler.pressure_bar, abs=0.06)
        assert (await lnk.transact(write(1, 55.0))).msg_type is MsgType.WRITE_ACK
        await lnk.transact(write(14, 100.0))
        await lnk.transact(Frame(MsgType.READ_DATA, 0, 0x0100))
        cold = world.boiler.t_flow
        await clock.advance(600.0)  # ten simulated minutes of gateway cycles and physics
        assert world.boiler.ch_enable
        assert world.boiler.control_setpoint_c == 55.0
        assert world.boiler.burner_starts >= 1
        warm = decode_f8_8((await lnk.transact(read(25))).value)
        assert warm > cold + 10
        assert warm == pytest.approx(world.boiler.t_flow, abs=1.0)
    finally:
        await lnk.stop()


async def test_relay_drives_the_simulated_boilers_onoff_input(
    world_server: tuple[SimWorld, SimModbusServer],
) -> None:
    world, srv = world_server
    relay = OnOffLink.from_url(f"onoff+modbus+tcp://127.0.0.1:{srv.port}?coil=100")
    await relay.start()
    await relay.set_heat_demand(True)
    assert world.boiler.relay_demand is True
    await relay.stop()
    assert world.boiler.relay_demand is False


async def test_serve_sim_modbus_answers_a_link() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    task = asyncio.create_task(serve_sim_modbus("127.0.0.1", port, seed=3, speed=60.0))
    lnk = ModbusLink.from_url(f"modbus+tcp://127.0.0.1:{port}?unit=1&profile=setecna")
    try:
        for _ in range(100):
            await lnk.start()
            if lnk.state is LinkState.CONNECTED:
                break
            await lnk.stop()
            await asyncio.sleep(0.02)
        flow = await lnk.transact(read(25))
        assert flow.msg_type is MsgType.READ_ACK
        assert 0 < decode_f8_8(flow.value) < 100
        config = await lnk.transact(read(3))
        assert config.msg_type is MsgType.READ_ACK
    finally:
        await lnk.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
