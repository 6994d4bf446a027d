"""The simulated wall unit: its model on the simulated house and boiler, its poll client.

The model tests drive :class:`SimUnit` on simulated time with no server; the
client tests run a real HTTP server on loopback that speaks the protocol with
the codec, and a :class:`VirtualClock` that moves only when the test says.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
from dataclasses import dataclass, field
import logging
import socket
import statistics

from aiohttp import web
from hypothesis import HealthCheck, given, settings
import pytest

from bridge import cli
from bridge.core.clock import VirtualClock
from bridge.opentherm.formats import decode_f8_8
from bridge.opentherm.sim import SimWorld
from bridge.unit.calendar import Calendar, ExceptionRecord, WeekRecord
from bridge.unit.protocol import (
    OPENTHERM_IDS,
    Answer,
    InitBlock,
    Pid,
    Poll,
    UnitProtocolError,
    UnitSource,
    build_request_path,
    decrypt_poll,
    encrypt_answer,
    encrypt_poll,
    parse_poll,
    render_answer,
    render_poll,
    split_request,
)
from bridge.unit.sim import SERVER_HOLD_S, STOCK_PID, SimUnit
from bridge.unit.sim.client import check_server_url, run_unit, serve_sim_unit

from .test_unit_protocol import ANSWERS

HWID = "TS424242"
PASSWORD = "unit-pw"
START = 1_767_225_600  # 2026-01-01 00:00 UTC, a Thursday; 01:00 in the unit's UTC+1
HOUR = 3600
DAY = 24 * HOUR


def block_calendar(version: int = 1) -> Calendar:
    """Every day: 16 °C from midnight, 20 from 06:00, 17 from 12:00, 21 from 16:00 (local)."""
    return Calendar(
        version,
        tuple(
            WeekRecord(day, hour, 0, temperature, True)
            for day in range(1, 8)
            for hour, temperature in ((0, 16.0), (6, 20.0), (12, 17.0), (16, 21.0))
        ),
    )


def make_unit(*, revision: int = 5, clock_error_s: float = 0.0) -> SimUnit:
    world = SimWorld(seed=3, start=START, initial_room_c=17.0)
    unit = SimUnit(
        world,
        hardware_id=HWID,
        password=PASSWORD,
        revision=revision,
        clock_error_s=clock_error_s,
    )
    unit.apply(Answer(calendar=block_calendar(), tz_minutes=60))
    unit.last_answer_at = None  # as if the server went away after giving the calendar
    return unit


def local(hour: float, day: int = 0) -> float:
    """Unix time of ``hour`` local (UTC+1) on the ``day``-th day from the start."""
    return START + day * DAY + (hour - 1) * HOUR


# ---------------------------------------------------------------- the model


@dataclass
class Recorder:
    """The room, target and source each minute."""

    rows: list[tuple[float, float, float, UnitSource]] = field(default_factory=list)

    def run(self, unit: SimUnit, start: float, end: float, step: float = 60.0) -> None:
        now = start
        while now <= end:
            unit.advance_to(now)
            self.rows.append((now, unit.world.truth().room_c, unit.target, unit.source))
            now += step

    def mean_room(self, start: float, end: float) -> float:
        return statistics.fmean(room for t, room, _, _ in self.rows if start <= t < end)


def test_the_room_reaches_each_block_of_the_stored_calendar() -> None:
    unit = make_unit()
    recorder = Recorder()
    recorder.run(unit, START, local(24, day=1))
    assert {source for *_, source in recorder.rows} == {UnitSource.WEEK}
    for start, end, target in ((0, 6, 16.0), (6, 12, 20.0), (12, 16, 17.0), (16, 24, 21.0)):
        last_hour = recorder.mean_room(local(end - 1, day=1), local(end, day=1))
        assert abs(last_hour - target) < 0.5, (start, end, target, last_hour)
        assert {tgt for t, _, tgt, _ in recorder.rows if local(start, 1) <= t < local(end, 1)} == {
            target
        }
    assert unit.world.truth().gas_ch_kwh > 1.0  # the unit really drove the boiler


def test_an_exception_record_overrides_the_week_with_src_4() -> None:
    unit = make_unit()
    begin, end = int(local(8)), int(local(10))
    calendar = Calendar(2, block_calendar().week, (ExceptionRecord(begin, end, 22.5, False),))
    unit.apply(Answer(calendar=calendar))
    unit.last_answer_at = None
    unit.advance_to(local(9))
    assert (unit.target, unit.source) == (22.5, UnitSource.EXCEPTION)
    assert unit.poll().source is UnitSource.EXCEPTION
    unit.advance_to(local(10))
    assert (unit.target, unit.source) == (20.0, UnitSource.WEEK)
    assert unit.calendar is not None
    assert unit.calendar.version == 2


def test_the_dial_holds_until_the_next_block() -> None:
    unit = make_unit()
    unit.advance_to(local(7))
    unit.turn_dial(22.5)
    assert (unit.target, unit.source) == (22.5, UnitSource.MANUAL)
    poll = unit.poll()
    assert (poll.source, poll.dial_setpoint) == (UnitSource.MANUAL, 22.5)
    fields = render_poll(poll, PASSWORD)
    assert (fields["src"], fields["csv"]) == ("1", "225")
    unit.advance_to(local(11, 0) + 45 * 60)
    assert unit.source is UnitSource.MANUAL
    assert unit.world.truth().room_c > 21.5  # it heated to the dial
    unit.advance_to(local(12))
    assert (unit.target, unit.source) == (17.0, UnitSource.WEEK)
    assert unit.poll().dial_setpoint is None


def test_the_dial_refuses_what_it_cannot_show() -> None:
    unit = make_unit()
    with pytest.raises(ValueError, match="from 5 to 25"):
        unit.turn_dial(26.0)


@pytest.mark.parametrize(("throttle", "interval"), [(0, 5.0), (1, 10.0), (2, 15.0), (4, 25.0)])
def test_the_throttle_sets_the_poll_interval(throttle: int, interval: float) -> None:
    unit = make_unit()
    unit.apply(Answer(throttle=throttle))
    assert unit.poll_interval == interval
    assert unit.settings.throttle == throttle


def test_after_a_restart_the_polls_carry_init_until_a_server_answers() -> None:
    unit = make_unit()
    unit.apply(Answer(calibration=0.5, brightness=40, pid=Pid(20.0, 2400.0, 0.0)))
    unit.advance_to(local(7))
    assert not unit.poll().init
    unit.restart()
    first, second = unit.poll(), unit.poll()
    assert first.init
    assert second.init  # no server answered the first
    assert first.source is UnitSource.CRASH
    assert unit.target == 20.0  # meanwhile it holds its calendar
    # the flash kept the calendar and the settings
    assert unit.calendar == block_calendar()
    assert (unit.settings.calibration, unit.settings.brightness) == (0.5, 40)
    assert unit.settings.pid == Pid(20.0, 2400.0, 0.0)
    unit.advance_to(local(12))
    assert unit.source is UnitSource.WEEK  # the next block
    unit.apply(Answer())
    assert not unit.poll().init


def test_init_tells_the_unit_what_to_follow() -> None:
    unit = make_unit()
    unit.advance_to(local(7))
    unit.restart()
    unit.apply(Answer(init=InitBlock(UnitSource.WEEK, "en-GB", False)))
    assert unit.source is UnitSource.WEEK
    assert (unit.settings.locale, unit.settings.hot_water) == ("en-GB", False)
    unit.apply(Answer(init=InitBlock(UnitSource.SERVER, "nl-NL", True), setpoint=18.5))
    assert (unit.target, unit.source) == (18.5, UnitSource.SERVER)


def test_the_server_setpoint_holds_while_the_server_answers() -> None:
    unit = make_unit()
    unit.advance_to(local(7))
    unit.apply(Answer(setpoint=21.5))
    assert (unit.target, unit.source) == (21.5, UnitSource.SERVER)
    unit.advance_to(local(7) + SERVER_HOLD_S)
    assert unit.source is UnitSource.SERVER
    unit.advance_to(local(7) + SERVER_HOLD_S + 10)
    assert (unit.target, unit.source) == (20.0, UnitSource.WEEK)


def test_a_throttled_unit_holds_the_server_setpoint_between_its_polls() -> None:
    unit = make_unit()
    unit.advance_to(local(7))
    unit.apply(Answer(setpoint=21.5, throttle=100))  # it polls every 505 s
    assert unit.server_hold_s == 3 * 505
    unit.advance_to(local(7) + 600)
    assert unit.source is UnitSource.SERVER
    unit.advance_to(local(7) + 3 * 505 + 10)
    assert unit.source is UnitSource.WEEK


def test_pause_holds_frost_protection_with_src_5() -> None:
    unit = make_unit()
    unit.advance_to(local(7))
    unit.apply(Answer(pause=True))
    assert (unit.target, unit.source) == (5.0, UnitSource.PAUSE)
    unit.apply(Answer(pause=False))
    assert (unit.target, unit.source) == (20.0, UnitSource.WEEK)


def test_ts_sets_the_clock_and_tz_moves_the_week() -> None:
    unit = make_unit(clock_error_s=-2 * HOUR)
    unit.advance_to(local(7))  # its clock says 05:00 local: still the night block
    assert unit.poll().clock == int(local(7)) - 2 * HOUR
    assert unit.target == 16.0
    unit.apply(Answer(time=int(unit.now)))
    assert unit.poll().clock == int(local(7))
    assert unit.target == 20.0
    unit.apply(Answer(tz_minutes=-60))  # 05:00 local now
    assert unit.target == 16.0


def test_calibration_moves_the_reported_room_temperature() -> None:
    unit = make_unit()
    unit.advance_to(local(7))
    sensor = unit.world.sensor.t_sensor
    unit.apply(Answer(calibration=-2.0))
    reading = unit.poll().room_temperature
    assert reading is not None
    assert abs(reading - (sensor - 2.0)) < 0.3


def test_the_unit_reports_the_boiler_it_drives() -> None:
    unit = make_unit()
    unit.advance_to(local(7))  # warming up to 20
    poll = unit.poll()
    assert set(poll.opentherm) == set(OPENTHERM_IDS)
    assert poll.opentherm[34] is None  # the simulated boiler has no ID 34
    setpoint = poll.opentherm[1]
    assert setpoint is not None
    assert unit.flow_setpoint > 30.0
    assert abs(decode_f8_8(setpoint) - unit.flow_setpoint) < 0.01
    assert poll.opentherm_boiler is True
    assert poll.pid == STOCK_PID
    status = poll.opentherm[0]
    assert status is not None
    assert status & 0x0100  # heating enabled by the unit, as master
    assert unit.heating


# ---------------------------------------------------------------- round trips with the codec


@pytest.mark.parametrize("revision", [1, 2, 3, 4, 5])
def test_the_sim_poll_is_what_the_codec_parses(revision: int) -> None:
    unit = make_unit(revision=revision)
    unit.advance_to(local(7))
    poll = unit.poll()
    hex_text = encrypt_poll(render_poll(poll, PASSWORD), PASSWORD, revision=revision)
    hardware_id, hex_back = split_request(build_request_path(HWID, hex_text).split("?", 1)[1])
    assert hardware_id == HWID
    assert parse_poll(decrypt_poll(hex_back, PASSWORD), hardware_id=HWID, password=PASSWORD) == (
        poll
    )
    # and what it puts on the wire is the same kind of poll
    path = unit.request_path()
    _, wire_hex = split_request(path.split("?", 1)[1])
    assert wire_hex == (wire_hex.lower() if revision == 5 else wire_hex.upper())
    wire = parse_poll(decrypt_poll(wire_hex, PASSWORD), hardware_id=HWID, password=PASSWORD)
    assert (wire.revision, wire.firmware, wire.source, wire.unknown) == (
        revision,
        unit.firmware,
        UnitSource.WEEK,
        (),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANSWERS)
def test_the_sim_takes_any_answer_the_codec_renders(answer: Answer) -> None:
    unit = SimUnit(SimWorld(seed=1, start=START), hardware_id=HWID, password=PASSWORD)
    assert unit.receive(encrypt_answer(render_answer(answer), PASSWORD)) == answer
    if answer.calendar is not None:
        assert unit.calendar == answer.calendar
    if answer.throttle is not None:
        assert unit.settings.throttle == answer.throttle


def test_the_sim_refuses_an_answer_under_another_key() -> None:
    unit = make_unit()
    with pytest.raises(UnitProtocolError):
        unit.receive(encrypt_answer(render_answer(Answer(setpoint=21.0)), "other"))
    assert unit.source is UnitSource.WEEK


# ---------------------------------------------------------------- the poll client


@dataclass
class UnitServer:
    """A protocol server on loopback that answers with ``answer(poll)``, recording polls."""

    clock: VirtualClock
    answer: Callable[[Poll], Answer] = lambda poll: Answer()
    polls: list[tuple[float, Poll]] = field(default_factory=list)
    runner: web.AppRunner | None = None
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        if request.path != "/api":
            return web.Response(status=404)
        try:
            hardware_id, hex_text = split_request(request.query_string)
            poll = parse_poll(
                decrypt_poll(hex_text, PASSWORD), hardware_id=hardware_id, password=PASSWORD
            )
        except UnitProtocolError as err:
            return web.Response(status=400, text=str(err))
        self.polls.append((self.clock.time(), poll))
        return web.Response(text=encrypt_answer(render_answer(self.answer(poll)), PASSWORD))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def parked(clock: VirtualClock) -> None:
    """Wait (real time) until the unit is asleep on the clock again."""
    for _ in range(5000):
        if clock.next_wakeup() is not None:
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the unit never went back to sleep")


async def run_for(clock: VirtualClock, seconds: float, step: float = 5.0) -> None:
    end = clock.time() + seconds
    while clock.time() < end:
        await parked(clock)
        await clock.advance(min(step, end - clock.time()))
    await parked(clock)


@pytest.fixture
async def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
async def server(clock: VirtualClock) -> AsyncIterator[UnitServer]:
    srv = UnitServer(clock)
    await srv.start()
    yield srv
    await srv.stop()


@contextlib.asynccontextmanager
async def running(unit: SimUnit, url: str, clock: VirtualClock) -> AsyncIterator[None]:
    task = asyncio.create_task(run_unit(unit, url, clock))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_client_polls_every_5_s_and_follows_the_answers(
    clock: VirtualClock, server: UnitServer
) -> None:
    server.answer = lambda poll: Answer(
        calendar=block_calendar(7) if poll.init else None, setpoint=19.0, tz_minutes=60
    )
    unit = SimUnit(SimWorld(seed=3, start=START), hardware_id=HWID, password=PASSWORD)
    async with running(unit, server.url, clock):
        await run_for(clock, 60)
    times = [t for t, _ in server.polls]
    assert times == [START + 5 * i for i in range(13)]
    assert [poll.init for _, poll in server.polls] == [True] + [False] * 12
    assert unit.calendar == block_calendar(7)
    assert unit.calendars_received == 1
    assert (unit.target, unit.source) == (19.0, UnitSource.SERVER)
    assert server.polls[-1][1].source is UnitSource.SERVER


async def test_the_client_polls_at_the_throttled_interval(
    clock: VirtualClock, server: UnitServer
) -> None:
    server.answer = lambda poll: Answer(throttle=2)
    unit = SimUnit(SimWorld(seed=3, start=START), hardware_id=HWID, password=PASSWORD)
    async with running(unit, server.url, clock):
        await run_for(clock, 60)
    times = [t for t, _ in server.polls]
    assert times == [START + 15 * i for i in range(5)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_the_client_keeps_heating_while_the_server_is_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bridge.unit.sim.client")
    clock = VirtualClock(local(5))
    srv = UnitServer(clock, port=free_port())
    srv.answer = lambda poll: Answer(
        calendar=block_calendar(3) if poll.init else None, tz_minutes=60
    )
    world = SimWorld(seed=3, start=local(5), initial_room_c=16.0)
    unit = SimUnit(world, hardware_id=HWID, password=PASSWORD)
    async with running(unit, srv.url, clock):
        await srv.start()
        await run_for(clock, 10)
        assert unit.calendar == block_calendar(3)
        await srv.stop()
        await run_for(clock, 2 * HOUR, step=60)  # the bridge is down 05:00-07:00
        assert "heating on the stored calendar" in caplog.text
        # it went from the night's 16 °C to the 06:00 block's 20 °C on its own
        assert (unit.target, unit.source) == (20.0, UnitSource.WEEK)
        assert world.truth().room_c > 18.0
        assert unit.last_answer_at == local(5) + 10
        polls_before = len(srv.polls)
        await srv.start()  # back on the same port
        await run_for(clock, 10)
    assert len(srv.polls) > polls_before
    assert "the server answers" in caplog.text


async def test_the_client_ignores_an_error_status(clock: VirtualClock, server: UnitServer) -> None:
    unit = SimUnit(SimWorld(seed=3, start=START), hardware_id=HWID, password="not-the-pw")
    async with running(unit, server.url, clock):
        await run_for(clock, 10)
    assert server.polls == []  # every poll was refused with 400
    assert unit.last_answer_at is None


async def test_sim_unit_serves_polls_on_real_time(clock: VirtualClock) -> None:
    srv = UnitServer(clock)
    await srv.start()
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                serve_sim_unit(
                    srv.url, hardware_id=HWID, password=PASSWORD, revision=3, speed=50.0
                ),
                timeout=1.0,
            )
    finally:
        await srv.stop()
    assert len(srv.polls) >= 3
    assert srv.polls[0][1].init
    assert srv.polls[0][1].revision == 3


# ---------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ("https://127.0.0.1:8080", "plain HTTP only"),
        ("ftp://127.0.0.1", "plain HTTP only"),
        ("127.0.0.1:80", "plain HTTP only"),
        ("http://127.0.0.1:80/api", "the unit adds /api itself"),
        ("http://127.0.0.1:80?x=1", "the unit adds /api itself"),
        ("http://user:pw@127.0.0.1", "no user name or password"),
        ("http://127.0.0.1:0", "port is 1-65535"),
        ("http://:80", "is not a URL"),
        ("http://", "needs a host"),
    ],
)
def test_a_server_url_a_unit_could_not_poll_is_refused(server: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_server_url(server)


def test_a_plain_http_server_url_is_taken() -> None:
    assert str(check_server_url("http://bridge.local:8080/")) == "http://bridge.local:8080"
    assert check_server_url("http://hw.thermosmart.nl").port == 80


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--server", "https://127.0.0.1"], "plain HTTP only"),
        (["--hardware-id", "TS_1"], "hardware id"),
        (["--password", "x" * 25], "1 to 24 printable ASCII characters"),
        (["--speed", "0"], "--speed must be positive"),
    ],
)
def test_sim_unit_refuses_what_a_unit_could_not_do(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {"--server": "http://127.0.0.1:1", "--hardware-id": HWID, "--password": PASSWORD}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = ["sim-unit", *[part for pair in base.items() for part in pair]]
    assert cli.main(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err
    assert PASSWORD not in err


def test_sim_unit_refuses_a_sixth_revision(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["sim-unit", "--server", "http://127.0.0.1", "--hardware-id", HWID,
                  "--password", PASSWORD, "--revision", "6"])  # fmt: skip
    assert exited.value.code == 2
    assert "--revision" in capsys.readouterr().err
