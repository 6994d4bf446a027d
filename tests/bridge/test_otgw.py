"""The OpenTherm Gateway link against the simulated gateway, over loopback TCP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import logging
import random
import socket

import pytest

from bridge.core.clock import VirtualClock
from bridge.opentherm import otgw_protocol as proto
from bridge.opentherm.formats import DayTime, decode_f8_8, encode_day_time, encode_f8_8
from bridge.opentherm.frame import Frame, MsgType
from bridge.opentherm.links.base import BoilerLink, LinkError, LinkState, LinkTimeout
from bridge.opentherm.links.otgw import (
    DEFAULT_PORT,
    OtgwLink,
    OtgwTarget,
    backoff_delay,
    parse_otgw_url,
)
from bridge.opentherm.links.otgw_stream import OtgwCommandError, OtgwUnsupportedError
from bridge.opentherm.sim import LinkFault, SimWorld
from bridge.opentherm.sim.otgw_server import SimOtgwServer, serve_sim_otgw
from bridge.opentherm.sim.world import WorldSlave

LINK_LOGGER = "bridge.opentherm.links.otgw"


def f88(value: float) -> int:
    return encode_f8_8(value)


class FakeBoiler:
    """A small OpenThermSlave: fixed values, and a flow temperature that follows TSet."""

    def __init__(self) -> None:
        self.values: dict[int, int] = {
            3: 0x0100,
            5: 0x0000,
            15: 24 << 8 | 20,
            17: f88(0.0),
            18: f88(1.5),
            25: f88(30.0),
            26: f88(45.0),
            27: f88(8.0),
            28: f88(27.0),
            48: 65 << 8 | 40,
            49: 85 << 8 | 20,
            56: f88(55.0),
            57: f88(75.0),
            116: 1234,
        }
        self.tset = 0.0
        self.master_flags = 0
        self.requests: list[Frame] = []

    def handle(self, request: Frame) -> Frame | None:
        self.requests.append(request)
        data_id = request.data_id
        if request.msg_type is MsgType.READ_DATA:
            if data_id == 0:
                self.master_flags = request.hb
                ch_on = bool(self.master_flags & 1) and self.tset > 0
                if ch_on:  # the flow moves halfway to the setpoint per status exchange
                    flow = decode_f8_8(self.values[25])
                    self.values[25] = f88(round(flow + (self.tset - flow) / 2, 2))
                return Frame(MsgType.READ_ACK, 0, self.master_flags << 8 | (0x0A if ch_on else 0))
            if data_id == 1:
                return Frame(MsgType.READ_ACK, 1, f88(self.tset))
            if data_id in self.values:
                return Frame(MsgType.READ_ACK, data_id, self.values[data_id])
            return Frame(MsgType.UNKNOWN_DATAID, data_id, request.value)
        if request.msg_type is MsgType.WRITE_DATA:
            if data_id == 1:
                self.tset = decode_f8_8(request.value)
            elif data_id in (14, 56, 57):
                self.values[data_id] = request.value
            else:
                return Frame(MsgType.UNKNOWN_DATAID, data_id, request.value)
            return Frame(MsgType.WRITE_ACK, data_id, request.value)
        return Frame(MsgType.DATA_INVALID, data_id, request.value)


async def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.002)


async def wait_for_attempt(otgw: OtgwLink, attempts: int) -> None:
    await wait_until(lambda: otgw.counters.extra["connect_attempts"] >= attempts)


def state_of(otgw: OtgwLink) -> LinkState:
    return otgw.state


@pytest.fixture
def boiler() -> FakeBoiler:
    return FakeBoiler()


@pytest.fixture
async def server(boiler: FakeBoiler) -> AsyncIterator[SimOtgwServer]:
    sim = SimOtgwServer(boiler, VirtualClock(), "127.0.0.1", 0)
    await sim.start()
    yield sim
    await sim.stop()


def make_link(sim: SimOtgwServer, clock: VirtualClock | None = None, **options: float) -> OtgwLink:
    options.setdefault("command_timeout", 0.5)
    options.setdefault("min_timeout", 0.0)
    return OtgwLink(
        f"otgw+tcp://127.0.0.1:{sim.port}",
        clock=clock or VirtualClock(),
        rng=random.Random(7),
        **options,
    )


@pytest.fixture
async def link(server: SimOtgwServer) -> AsyncIterator[OtgwLink]:
    otgw = make_link(server)
    await otgw.start()
    assert otgw.state is LinkState.CONNECTED
    yield otgw
    await otgw.stop()


def read(data_id: int, value: int = 0) -> Frame:
    return Frame(MsgType.READ_DATA, data_id, value)


def write(data_id: int, value: int) -> Frame:
    return Frame(MsgType.WRITE_DATA, data_id, value)


# ------------------------------------------------------------------ the protocol


def test_parse_monitor_lines() -> None:
    t = proto.parse_line("T80000200")
    assert isinstance(t, proto.MonitorFrame)
    assert t.source == "T"
    assert t.frame == Frame(MsgType.READ_DATA, 0, 0x0200)
    b = proto.parse_line("B40000200\r\n")
    assert isinstance(b, proto.MonitorFrame)
    assert b.frame.msg_type is MsgType.READ_ACK
    for source, msg_type in (("R", MsgType.WRITE_DATA), ("A", MsgType.WRITE_ACK)):
        line = proto.monitor_line(source, Frame(msg_type, 1, f88(45)))
        parsed = proto.parse_line(line)
        assert isinstance(parsed, proto.MonitorFrame)
        assert parsed.source == source
    assert proto.parse_line("E40000200") == proto.BadFrame("E", "40000200", "error")
    # a boiler line with the parity bit flipped, and one with a master-only type
    assert proto.parse_line("BC0000200") == proto.BadFrame("B", "C0000200", "parity")
    assert proto.parse_line("B80000200") == proto.BadFrame("B", "80000200", "msg_type")


def test_parse_replies_errors_and_noise() -> None:
    assert proto.parse_line("CS: 45.00") == proto.CommandReply("CS", "45.00")
    assert proto.parse_line("PR: A=OpenTherm Gateway 6.5") == proto.CommandReply(
        "PR", "A=OpenTherm Gateway 6.5"
    )
    for code in ("NG", "SE", "BV", "OR", "NS", "NF", "OE"):
        assert proto.parse_line(code) == proto.CommandError(code)
    assert proto.parse_line("CS: BV") == proto.CommandError("BV", "CS")
    assert proto.CommandError("OR").meaning == "Out of Range"
    for n in range(1, 5):
        assert proto.parse_line(f"Error 0{n}") == proto.GatewayError(n)
    assert proto.parse_line("Error 05") == proto.Garbage("Error 05")
    assert proto.parse_line("OpenTherm Gateway 6.5") == proto.Banner("6.5")
    assert proto.parse_line("Thermostat disconnected") == proto.InfoLine("Thermostat disconnected")
    assert proto.parse_line("B4019") == proto.Garbage("B4019")  # truncated
    assert proto.parse_line("b40000200") == proto.Garbage("b40000200")
    assert proto.parse_line("1,2,3") == proto.Garbage("1,2,3")
    assert proto.split_report("A=OpenTherm Gateway 6.5") == ("A", "OpenTherm Gateway 6.5")
    assert proto.firmware_version("OpenTherm Gateway 6.5") == "6.5"
    assert proto.reply_clock("09:35/1") == DayTime(1, 9, 35)
    with pytest.raises(ValueError, match="not a number"):
        proto.reply_number("abc")


def test_summary_round_trip_34_and_25_fields() -> None:
    values = {
        0: 0x030A,
        1: f88(45.0),
        15: 24 << 8 | 20,
        25: f88(52.25),
        27: f88(-3.5),
        33: 0xFFFD,  # -3 as s16
        48: 65 << 8 | 40,
        71: 50,
        116: 4321,
        123: 65535,
    }
    line = proto.format_summary(values)
    fields = line.split(",")
    assert len(fields) == 34
    assert fields[0] == "00000011/00001010"
    assert fields[1] == "45.00"
    assert fields[13] == "52.25"
    assert fields[15] == "-3.50"
    assert fields[18] == "-3"
    parsed = proto.parse_line(line)
    assert isinstance(parsed, proto.Summary)
    assert parsed.firmware5
    for data_id, value in values.items():
        assert parsed.value(data_id) == value
    assert parsed.temperature(25) == 52.25
    old = proto.parse_summary(proto.format_summary(values, firmware5=False))
    assert len(old.fields) == 25
    assert not old.firmware5
    assert old.value(25) == f88(52.25)
    assert old.value(33) is None
    with pytest.raises(ValueError, match="25 or 34"):
        proto.parse_summary("0,1,2")
    broken = fields.copy()
    broken[1] = "hot"
    with pytest.raises(ValueError, match="two-decimal"):
        proto.parse_summary(",".join(broken))


def test_command_builders() -> None:
    assert proto.control_setpoint(45).encode() == b"CS=45.00\r\n"
    assert proto.ch_enable(True).line == "CH=1"
    assert proto.max_ch_setpoint(70).line == "SH=70.00"
    assert proto.dhw_setpoint(55.5).line == "SW=55.50"
    assert proto.max_modulation(50).line == "MM=50"
    assert proto.max_modulation(None).line == "MM=T"
    assert proto.outside_temperature(-3.5).line == "OT=-3.50"
    assert proto.outside_temperature(None).line == "OT=99"
    assert proto.outside_temperature(99).line == "OT=99"
    assert proto.set_clock(9, 5, 1).line == "SC=09:05/1"
    assert proto.summary_mode(on=True).line == "PS=1"
    assert proto.report("a").line == "PR=A"
    assert proto.gateway_mode(mode=True).line == "GW=1"
    assert proto.gateway_mode(mode="R").line == "GW=R"
    assert proto.dhw_enable(None).line == "HW=A"
    assert proto.dhw_enable(False).line == "HW=0"
    assert proto.priority_message(25).line == "PM=25"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: proto.control_setpoint(100.5),
            r"CS \(control setpoint\) value 100.5 is outside 0..100",
        ),
        (lambda: proto.control_setpoint(-1), "outside 0..100"),
        (lambda: proto.control_setpoint(float("nan")), "not finite"),
        (lambda: proto.control_setpoint("45"), "needs a number"),  # type: ignore[arg-type]
        (lambda: proto.max_modulation(101), "outside 0..100"),
        (lambda: proto.max_modulation(-1), "outside 0..100"),
        (lambda: proto.max_modulation(50.5), "whole percentage"),  # type: ignore[arg-type]
        (lambda: proto.outside_temperature(-40.5), "outside -40..64"),
        (lambda: proto.outside_temperature(64.5), "outside -40..64"),
        (lambda: proto.set_clock(24, 0, 1), "hour 24 is outside 0..23"),
        (lambda: proto.set_clock(9, 60, 1), "minute 60"),
        (lambda: proto.set_clock(9, 0, 0), "day of week 0"),
        (lambda: proto.report("X"), "not one of"),
        (lambda: proto.gateway_mode(mode="X"), "GW"),
        (lambda: proto.priority_message(256), "outside 0..255"),
        (lambda: proto.dhw_setpoint(120), "SW"),
        (lambda: proto.Command("cs", "1"), "two upper-case"),
        (lambda: proto.Command("CS", ""), "printable"),
    ],
)
def test_command_builders_reject_bad_values(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


# ------------------------------------------------------------------ URLs and backoff


def test_otgw_link_is_a_boiler_link() -> None:
    otgw: BoilerLink = OtgwLink("socket://otgw.local:7686")
    assert otgw.kind == "otgw"
    assert otgw.state is LinkState.STOPPED
    assert OtgwLink("socket://otgw.local")._min_timeout == 2.0


def test_parse_urls() -> None:
    assert parse_otgw_url("otgw+tcp://192.168.1.20:7686") == OtgwTarget(
        "tcp", host="192.168.1.20", port=7686
    )
    assert parse_otgw_url("socket://otgw.local:25238") == OtgwTarget(
        "tcp", host="otgw.local", port=25238
    )
    assert parse_otgw_url("otgw+tcp://otgw.local").port == DEFAULT_PORT
    assert parse_otgw_url("otgw+serial:///dev/ttyUSB0") == OtgwTarget(
        "serial", device="/dev/ttyUSB0"
    )
    assert parse_otgw_url("otgw+serial://COM3").device == "COM3"
    assert parse_otgw_url("otgw+serial:///dev/ttyUSB0").describe() == "/dev/ttyUSB0"
    for bad, message in [
        ("http://otgw.local:80", "otgw\\+tcp://"),
        ("otgw+tcp://:25238", "host is required"),
        ("otgw+tcp://host:99999", "port"),
        ("otgw+serial://", "serial device is required"),
        ("otgw+tcp://host:1/x", "no path"),
        ("otgw+tcp://host:1?unit=1", "no query"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_otgw_url(bad)


def test_backoff_grows_caps_and_jitters() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, initial=1.0, cap=60.0, rng=rng) for n in range(12)]
    for n, delay in enumerate(delays):
        base = min(60.0, 2.0**n)
        assert base / 2 <= delay <= base
    assert max(delays) <= 60.0
    assert delays[8] >= 30.0  # capped at 60 s, never below half of it
    assert len({round(d, 6) for d in delays[6:]}) > 1  # jittered, not constant


# ------------------------------------------------------------------ the link on the simulator


async def test_start_sends_gateway_setup_and_reads_firmware(
    link: OtgwLink, server: SimOtgwServer
) -> None:
    assert server.commands[:3] == ["PS=0", "GW=1", "PR=A"]
    assert link.firmware == "OpenTherm Gateway 6.5"
    assert link.kind == "otgw"
    assert link.opentherm
    diag = link.diagnostics()
    assert diag["firmware"] == "OpenTherm Gateway 6.5"
    assert diag["state"] == "connected"


async def test_read_answers_from_a_boiler_frame_after_the_request(
    link: OtgwLink, server: SimOtgwServer, boiler: FakeBoiler
) -> None:
    boiler.values[25] = f88(41.5)
    # a line already under way when the request is made is not its answer
    server.emit_line(proto.monitor_line("B", Frame(MsgType.READ_ACK, 25, f88(99.0))))
    answer = await link.transact(read(25))
    assert answer == Frame(MsgType.READ_ACK, 25, f88(41.5))
    assert "PM=25" in server.commands
    assert boiler.requests[-1] == read(25)
    assert link.latest_answer(25) == answer
    unknown = await link.transact(read(99))
    assert unknown.msg_type is MsgType.UNKNOWN_DATAID
    assert link.counters.requests == 2
    assert link.counters.answers == 2


async def test_status_read_sets_ch_and_dhw_enable(
    link: OtgwLink, server: SimOtgwServer, boiler: FakeBoiler
) -> None:
    answer = await link.transact(read(0, 0x0300))
    assert answer.msg_type is MsgType.READ_ACK
    assert answer.hb == 0x03
    assert server.ch_override is True
    assert server.dhw_override == "1"
    assert boiler.master_flags == 0x03
    sent = len(server.commands)
    await link.transact(read(0, 0x0300))
    assert server.commands[sent:] == ["PM=0"]  # unchanged flags are not sent again
    answer = await link.transact(read(0, 0x0000))
    assert answer.hb == 0
    assert server.commands[-3:] == ["CH=0", "HW=0", "PM=0"]


async def test_control_setpoint_write_reaches_the_boiler(
    link: OtgwLink, server: SimOtgwServer, boiler: FakeBoiler
) -> None:
    ack = await link.transact(write(1, f88(60.0)))
    assert ack == Frame(MsgType.WRITE_ACK, 1, f88(60.0))
    assert server.commands[-1] == "CS=60.00"
    assert server.control_setpoint == 60.0
    await link.transact(read(0, 0x0100))  # CH enable
    flow_before = decode_f8_8((await link.transact(read(25))).value)
    for _ in range(4):
        server.run_cycle()
    assert boiler.tset == 60.0
    assert (await link.transact(read(1))).value == f88(60.0)
    flow_after = decode_f8_8((await link.transact(read(25))).value)
    assert flow_after > flow_before + 20


@pytest.mark.parametrize(
    ("data_id", "value", "command", "check"),
    [
        (56, f88(52.0), "SW=52.00", lambda s: s.dhw_setpoint == 52.0),
        (57, f88(70.0), "SH=70.00", lambda s: s.max_ch_setpoint == 70.0),
        (14, f88(40.0), "MM=40", lambda s: s.max_modulation == 40),
        (27, f88(-3.5), "OT=-3.50", lambda s: s.outside_temperature == -3.5),
        (
            20,
            encode_day_time(DayTime(3, 14, 30)),
            "SC=14:30/3",
            lambda s: s.clock_setting == "14:30/3",
        ),
    ],
)
async def test_writes_go_through_override_commands(
    link: OtgwLink,
    server: SimOtgwServer,
    boiler: FakeBoiler,
    data_id: int,
    value: int,
    command: str,
    check: Callable[[SimOtgwServer], bool],
) -> None:
    ack = await link.transact(write(data_id, value))
    assert ack == Frame(MsgType.WRITE_ACK, data_id, value)
    assert server.commands[-1] == command
    assert check(server)
    if data_id in (56, 57, 14):
        server.run_cycle()
        assert boiler.values[data_id] == value


async def test_unwritable_and_invalid_writes_send_nothing(
    link: OtgwLink, server: SimOtgwServer
) -> None:
    sent = list(server.commands)
    with pytest.raises(OtgwUnsupportedError, match="data-id 16"):
        await link.transact(write(16, f88(20.0)))
    with pytest.raises(LinkError, match=r"outside 0\.\.100"):
        await link.transact(write(1, f88(110.0)))
    with pytest.raises(LinkError, match="cannot send INVALID-DATA"):
        await link.transact(Frame(MsgType.INVALID_DATA, 25, 0))
    assert server.commands == sent
    assert server.control_setpoint is None


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (proto.Command("CS", "120"), "OR"),
        (proto.Command("CS", "warm"), "BV"),
        (proto.Command("MM", "101"), "OR"),
        (proto.Command("OT", "-41"), "OR"),
        (proto.Command("SC", "25:00/1"), "OR"),
        (proto.Command("SC", "noon"), "SE"),
        (proto.Command("PR", "Z"), "BV"),
        (proto.Command("XX", "1"), "NG"),
    ],
)
async def test_error_replies_raise_and_change_nothing(
    link: OtgwLink, server: SimOtgwServer, command: proto.Command, code: str
) -> None:
    with pytest.raises(OtgwCommandError) as excinfo:
        await link.command(command)
    assert isinstance(excinfo.value, LinkError)
    assert excinfo.value.code == code
    assert code in str(excinfo.value)
    assert server.control_setpoint is None
    assert server.max_modulation is None
    assert server.outside_temperature is None
    assert server.clock_setting is None
    assert link.counters.adapter_errors == 1
    # the link goes on
    assert (await link.command(proto.control_setpoint(40))).value == "40.00"


async def test_refused_write_raises_and_writes_nothing(
    link: OtgwLink, server: SimOtgwServer, boiler: FakeBoiler
) -> None:
    server.refuse["SW"] = "OR"
    before = boiler.values[56]
    with pytest.raises(OtgwCommandError, match="OR") as excinfo:
        await link.transact(write(56, f88(60.0)))
    assert excinfo.value.code == "OR"
    server.run_cycle()
    assert boiler.values[56] == before
    assert server.dhw_setpoint is None
    assert link.counters.answers == 0
    assert link.counters.adapter_errors == 1


async def test_garbage_and_truncated_lines_are_counted_and_survived(
    link: OtgwLink, server: SimOtgwServer
) -> None:
    server.emit_garbage()
    server.emit_raw(b"B4019\r\n")  # truncated monitor line
    server.emit_raw(b"\xff\xfe\x00\r\n")  # not ASCII
    server.emit_raw(b"Q" * 400)  # an endless line ...
    server.emit_raw(b"QQQ\r\n")  # ... ended later: one garbage line, not two
    server.emit_line("Thermostat connected")
    answer = await link.transact(read(26))
    assert answer.value == f88(45.0)
    assert link.counters.garbage_lines == 4
    assert link.counters.bad_frames == 0


async def test_error_frames_and_error_lines(
    link: OtgwLink, server: SimOtgwServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LINK_LOGGER)
    server.emit_error_frame()
    server.emit_error_frame(Frame(MsgType.READ_ACK, 0, 0x0300))
    server.emit_line("BC0000200")  # a boiler line with bad parity
    server.emit_line("Error 02")
    server.emit_line("Error 02")
    assert (await link.transact(read(18))).value == f88(1.5)
    assert link.counters.bad_frames == 3
    assert link.counters.extra["error_lines"] == 2
    assert link.counters.adapter_errors == 2
    warnings = [r for r in caplog.records if r.name == LINK_LOGGER and "Error 02" in r.message]
    assert len(warnings) == 1


async def test_silent_gateway_times_out(link: OtgwLink, server: SimOtgwServer) -> None:
    server.silent = True
    with pytest.raises(LinkTimeout):
        await link.transact(read(25), timeout=0.2)
    with pytest.raises(LinkTimeout):
        await link.transact(write(1, f88(50.0)), timeout=0.2)
    assert link.counters.timeouts == 2
    assert link.counters.answers == 0
    assert server.control_setpoint is None
    assert link.state is LinkState.CONNECTED
    server.silent = False
    assert (await link.transact(read(25))).msg_type is MsgType.READ_ACK


async def test_silent_connection_is_dropped_after_idle_timeout(server: SimOtgwServer) -> None:
    otgw = make_link(server, idle_timeout=0.3)
    states: list[LinkState] = []
    otgw.add_state_listener(states.append)
    await otgw.start()
    try:
        server.silent = True
        await wait_until(lambda: otgw.state is LinkState.DISCONNECTED)
        assert states[-1] is LinkState.DISCONNECTED
    finally:
        await otgw.stop()
    assert otgw.state is LinkState.STOPPED


async def test_reconnects_with_backoff_and_logs_once(
    server: SimOtgwServer, caplog: pytest.LogCaptureFixture
) -> None:
    clock = VirtualClock()
    otgw = make_link(server, clock)
    states: list[LinkState] = []
    remove = otgw.add_state_listener(states.append)
    await otgw.start()
    caplog.clear()
    caplog.set_level(logging.DEBUG, logger=LINK_LOGGER)
    try:
        server.accepting = False
        await server.drop_clients()
        await wait_until(lambda: clock.next_wakeup() is not None)
        assert otgw.state is LinkState.DISCONNECTED
        with pytest.raises(LinkError, match="not connected"):
            await otgw.transact(read(25))
        delays = [otgw.next_retry_delay]
        for _ in range(3):  # three refused attempts, each waiting longer
            attempts = otgw.counters.extra["connect_attempts"]
            wake = clock.next_wakeup()
            assert wake is not None
            await clock.run_until(wake)
            await wait_for_attempt(otgw, attempts + 1)
            await wait_until(lambda: clock.next_wakeup() is not None)
            delays.append(otgw.next_retry_delay)
        assert all(d is not None for d in delays)
        assert delays == sorted(delays)  # type: ignore[type-var]
        assert delays[0] is not None
        assert delays[0] <= 1.0 < delays[-1]  # type: ignore[operator]
        server.accepting = True
        wake = clock.next_wakeup()
        assert wake is not None
        await clock.run_until(wake)
        await wait_until(lambda: otgw.state is LinkState.CONNECTED)
        assert (await otgw.transact(read(25))).msg_type is MsgType.READ_ACK
    finally:
        remove()
        await otgw.stop()
    records = [r for r in caplog.records if r.name == LINK_LOGGER]
    warnings = [r for r in records if r.levelno == logging.WARNING]
    infos = [r for r in records if r.levelno == logging.INFO]
    assert len(warnings) == 1
    assert "lost the OpenTherm Gateway" in warnings[0].getMessage()
    assert len(infos) == 1
    assert "reachable again" in infos[0].getMessage()
    assert otgw.counters.reconnects == 1
    assert otgw.counters.extra["connect_attempts"] == 5
    assert states[:2] == [LinkState.CONNECTING, LinkState.CONNECTED]
    assert states[2:4] == [LinkState.DISCONNECTED, LinkState.CONNECTING]
    assert states[-1] is LinkState.CONNECTED


async def test_connection_drop_fails_a_pending_read_fast(
    link: OtgwLink, server: SimOtgwServer
) -> None:
    server.silent = True  # the PM is swallowed, the read waits for its B frame

    async def drop_soon() -> None:
        await asyncio.sleep(0.05)
        await server.drop_clients()

    dropper = asyncio.create_task(drop_soon())
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(LinkError) as excinfo:
        await link.transact(read(25), timeout=5.0)
    await dropper
    assert not isinstance(excinfo.value, LinkTimeout)
    assert loop.time() - started < 2.0


async def test_summary_mode(link: OtgwLink, server: SimOtgwServer, boiler: FakeBoiler) -> None:
    boiler.values[25] = f88(48.0)
    await link.transact(read(25))
    summary = await link.read_summary()
    assert summary.firmware5
    assert len(summary.fields) == 34
    assert summary.temperature(25) == 48.0
    assert server.commands[-2:] == ["PS=1", "PS=0"]
    assert not server.summary_mode
    assert link.last_summary == summary
    # summary lines printed every cycle while PS=1 is on are parsed too
    server.summary_mode = True
    server.run_cycle()
    await wait_until(lambda: link.counters.extra.get("summary_lines", 0) >= 2)
    assert link.counters.garbage_lines == 0


async def test_summary_of_old_firmware(boiler: FakeBoiler) -> None:
    sim = SimOtgwServer(boiler, VirtualClock(), "127.0.0.1", 0, firmware="4.2")
    await sim.start()
    otgw = make_link(sim)
    await otgw.start()
    try:
        await otgw.transact(read(26))
        summary = await otgw.read_summary()
        assert len(summary.fields) == 25
        assert summary.temperature(26) == 45.0
        assert otgw.firmware == "OpenTherm Gateway 4.2"
    finally:
        await otgw.stop()
        await sim.stop()


async def test_unmatched_reply_is_ignored(link: OtgwLink, server: SimOtgwServer) -> None:
    server.emit_line("CS: 10.00")
    assert (await link.command(proto.report("M"))).value == "M=G"
    assert link.counters.extra["unmatched_replies"] == 1


# ------------------------------------------------------------------ the simulated gateway itself


def test_sim_command_replies(boiler: FakeBoiler) -> None:
    sim = SimOtgwServer(boiler, VirtualClock(), "127.0.0.1", 0)
    assert sim.handle_command("CS=45") == ["CS: 45.00"]
    assert sim.handle_command("CS=0") == ["CS: 0.00"]
    assert sim.control_setpoint is None
    assert sim.handle_command("CH=2") == ["BV"]
    assert sim.handle_command("MM=abc") == ["MM: -"]
    assert sim.handle_command("MM=55") == ["MM: 55"]
    assert sim.handle_command("OT=99") == ["OT: -"]
    assert sim.handle_command("HW=x") == ["HW: A"]
    assert sim.handle_command("HW=P") == ["HW: P"]
    assert sim.handle_command("PR=W") == ["PR: W=P"]
    assert sim.handle_command("PR=O") == ["PR: O=N"]
    assert sim.handle_command("GW=0") == ["GW: 0"]
    assert sim.handle_command("PR=M") == ["PR: M=M"]
    assert sim.handle_command("GW=R") == ["OpenTherm Gateway 6.5"]
    assert sim.handle_command("PR=Q") == ["PR: Q=C"]
    assert sim.max_modulation is None
    assert sim.handle_command("PM=300") == ["OR"]
    assert sim.handle_command("CS") == ["SE"]
    assert sim.handle_command("CS=") == ["SE"]
    assert sim.handle_command("ZZ=1") == ["NG"]
    ps = sim.handle_command("PS=1")
    assert ps[0] == "PS: 1"
    assert isinstance(proto.parse_line(ps[1]), proto.Summary)


def test_sim_master_cycle(boiler: FakeBoiler) -> None:
    sim = SimOtgwServer(boiler, VirtualClock(), "127.0.0.1", 0, reads_per_cycle=3)
    sim.handle_command("CS=50")
    sim.handle_command("SW=50")
    sim.run_cycle()
    kinds = [(f.msg_type, f.data_id) for f in boiler.requests]
    assert kinds[:3] == [
        (MsgType.READ_DATA, 0),
        (MsgType.WRITE_DATA, 1),
        (MsgType.WRITE_DATA, 56),
    ]
    assert len(kinds) == 6
    assert boiler.requests[0].hb == 0x03  # CH on with a setpoint, DHW on by default
    sim.run_cycle()
    assert (MsgType.WRITE_DATA, 56) not in [(f.msg_type, f.data_id) for f in boiler.requests[6:]]


def test_sim_drops_unknown_ids_from_the_round_robin(boiler: FakeBoiler) -> None:
    sim = SimOtgwServer(
        boiler, VirtualClock(), "127.0.0.1", 0, read_ids=(25, 99), reads_per_cycle=2
    )
    for _ in range(5):
        sim.run_cycle()
    reads_of_99 = [f for f in boiler.requests if f.data_id == 99]
    assert len(reads_of_99) == 3


async def test_sim_cycles_on_its_clock(boiler: FakeBoiler) -> None:
    clock = VirtualClock()
    sim = SimOtgwServer(boiler, clock, "127.0.0.1", 0)
    await sim.start()
    try:
        await wait_until(lambda: sim.cycles == 1)
        await clock.advance(5.0)
        assert sim.cycles == 6
    finally:
        await sim.stop()


# ------------------------------------------------------------------ serial


async def test_missing_serial_device_retries_without_crashing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=LINK_LOGGER)
    clock = VirtualClock()
    otgw = OtgwLink.from_url(
        "otgw+serial:///dev/thermosmart-no-such-tty", clock=clock, rng=random.Random(3)
    )
    assert otgw.target == OtgwTarget("serial", device="/dev/thermosmart-no-such-tty")
    await otgw.start()
    try:
        assert otgw.state is LinkState.DISCONNECTED
        with pytest.raises(LinkError, match="not connected"):
            await otgw.transact(read(25))
        for _ in range(3):
            attempts = otgw.counters.extra["connect_attempts"]
            wake = clock.next_wakeup()
            assert wake is not None
            await clock.run_until(wake)
            await wait_for_attempt(otgw, attempts + 1)
            await wait_until(lambda: clock.next_wakeup() is not None)
        assert otgw.state is LinkState.DISCONNECTED
    finally:
        await otgw.stop()
    assert state_of(otgw) is LinkState.STOPPED
    warnings = [r for r in caplog.records if r.name == LINK_LOGGER and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "/dev/thermosmart-no-such-tty" in warnings[0].getMessage()
    assert "cannot connect" in warnings[0].getMessage()
    assert otgw.counters.extra["connect_attempts"] == 4


# ------------------------------------------------------------------ on the simulated house's boiler


async def test_link_drives_the_simulated_boiler() -> None:
    world = SimWorld(seed=1)
    boiler = world.boiler
    sim = SimOtgwServer(WorldSlave(world), VirtualClock(), "127.0.0.1", 0)
    await sim.start()
    otgw = make_link(sim)
    await otgw.start()
    try:
        flow = await otgw.transact(read(25))
        assert flow.msg_type is MsgType.READ_ACK
        assert decode_f8_8(flow.value) == pytest.approx(boiler.t_flow, abs=0.01)
        status = await otgw.transact(read(0, 0x0100))
        assert status.hb == 0x01
        assert boiler.ch_enable
        assert not boiler.dhw_enable
        ack = await otgw.transact(write(1, f88(55.0)))
        assert ack == Frame(MsgType.WRITE_ACK, 1, f88(55.0))
        sim.run_cycle()
        assert boiler.control_setpoint_c == 55.0
        for _ in range(90):  # 15 simulated minutes, a gateway cycle every 10 s
            world.step(10.0)
            sim.run_cycle()
        hot = decode_f8_8((await otgw.transact(read(25))).value)
        assert hot > decode_f8_8(flow.value) + 15
        assert (await otgw.transact(read(0, 0x0100))).lb & 0x02  # CH active
        summary = await otgw.read_summary()
        assert summary.temperature(1) == 55.0
        assert summary.temperature(25) == pytest.approx(hot, abs=1.0)
        # a garbling line: the gateway prints E lines and the read times out
        boiler.set_link_fault(LinkFault.GARBLE_PARITY)
        bad_before = otgw.counters.bad_frames
        with pytest.raises(LinkTimeout):
            await otgw.transact(read(25), timeout=0.2)
        assert otgw.counters.bad_frames > bad_before
        boiler.set_link_fault(LinkFault.NONE)
        assert (await otgw.transact(read(25))).msg_type is MsgType.READ_ACK
    finally:
        await otgw.stop()
        await sim.stop()


async def test_serve_sim_otgw_entry_point() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    task = asyncio.create_task(serve_sim_otgw("127.0.0.1", port, seed=2, speed=20.0))
    otgw = OtgwLink(f"socket://127.0.0.1:{port}", command_timeout=1.0, backoff_min=0.01)
    try:
        await otgw.start()
        await wait_until(lambda: otgw.state is LinkState.CONNECTED)
        assert otgw.firmware is not None
        assert otgw.firmware.startswith("OpenTherm Gateway")
        answer = await otgw.transact(read(25), timeout=2.0)
        assert answer.msg_type is MsgType.READ_ACK
        assert 0 < decode_f8_8(answer.value) < 100
    finally:
        await otgw.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
