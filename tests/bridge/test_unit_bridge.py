"""The real bridge serving a simulated ThermoSmart wall unit over loopback.

The bridge runs with ``thermosmart-unit://127.0.0.1:0`` on a virtual clock;
the simulated unit (:class:`~bridge.unit.sim.SimUnit`, its own house, boiler
and PID) polls the bridge's unit port with real HTTP, one poll per step.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
import json
import logging
import os
from pathlib import Path
import socket
import subprocess
import sys
import time
from typing import Any

import aiohttp
import pytest
from yarl import URL

from bench.unit_pid import run_days
from bridge.config import validate
from bridge.core.clock import VirtualClock
from bridge.daemon import Bridge
from bridge.opentherm.links.base import LinkState
from bridge.opentherm.sim.world import SimWorld
from bridge.unit.protocol import Pid, UnitSource, build_request_path, encrypt_poll
from bridge.unit.sim import STOCK_PID, SimUnit
from bridge.unit.sim.client import poll_once

from .native_helpers import call, make_token
from .unit_rig import (
    HWID,
    PASSWORD,
    START,
    UNIT_URL,
    Rig,
    register,
    settle,
    unit_bridge,
    unit_url,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    data = tmp_path / "data"
    await register(data)
    clock = VirtualClock(START)
    world = SimWorld(seed=4, start=START, initial_room_c=17.0)
    unit = SimUnit(world, hardware_id=HWID, password=PASSWORD, revision=5)
    async with unit_bridge(data, clock) as bridge:
        r = Rig(bridge, clock, unit)
        try:
            yield r
        finally:
            await r.close()


async def test_the_first_poll_brings_the_room_the_boiler_and_the_device(rig: Rig) -> None:
    b = rig.bridge
    assert await rig.poll() is None
    assert b.link.state == LinkState.CONNECTED
    state = b.native_state()
    # the unit's room reading (0.1 °C steps, as the unit measures) is the thermostat's
    room = b.thermostat.room_temperature()
    assert room is not None
    assert room == state["units"][0]["room_temperature"]
    assert round(room * 10) == pytest.approx(room * 10, abs=1e-9)
    assert room == pytest.approx(rig.unit.world.truth().room_c, abs=0.5)
    assert state["link"] == {"kind": "unit", "opentherm": True, "state": "connected"}
    boiler = state["boiler"]
    assert boiler is not None
    reported = rig.unit.poll().opentherm  # the same moment: the same words
    assert boiler["raw"]["ot25"] == f"0x{reported[25]:04X}"
    assert isinstance(boiler["values"]["flow_temperature"]["value"], float)
    [unit] = state["units"]
    assert unit["hardware_id"] == HWID
    assert unit["house"] is True
    assert unit["connected"] is True
    assert unit["pid_proposal"] is None  # nothing learned yet
    assert unit["revision"] == 5
    assert unit["firmware"] == rig.unit.firmware
    assert unit["pid"] == {"kp": 15.0, "ti": 3600.0, "td": 0.0}
    assert "s3cret" not in json.dumps(state)
    # after init the unit got the calendar, version 1, and follows the bridge's target
    assert rig.unit.calendars_received == 1
    assert rig.unit.calendar is not None
    assert rig.unit.calendar.version == 1
    assert rig.unit.target == b.thermostat.resolution().target
    assert rig.unit.source is UnitSource.SERVER


async def test_a_schedule_edit_reaches_the_unit_as_one_new_calendar(rig: Rig) -> None:
    b = rig.bridge
    await rig.run(30)
    assert rig.unit.calendars_received == 1
    token = await make_token(b)
    schedule = [{"start": [day, 7, 0], "temperature": "home"} for day in range(7)] + [
        {"start": [day, 22, 30], "temperature": "not_home"} for day in range(7)
    ]
    async with aiohttp.ClientSession() as http:
        status, body = await call(
            http,
            b,
            "PUT",
            f"/thermostat/{b.thermostat.hardware_id}",
            token,
            json={"schedule": schedule},
        )
    assert status == 200, body
    await rig.run(60)
    assert rig.unit.calendars_received == 2
    calendar = rig.unit.calendar
    assert calendar is not None
    assert calendar.version == 2
    assert len(calendar.week) == 14
    # Monday 07:00 home, 22:30 not home, with the programs' temperatures
    programs = b.thermostat.state.programs
    monday = [r for r in calendar.week if r.day == 1]
    assert [(r.hour, r.minute, r.temperature) for r in monday] == [
        (7, 0, programs.temperature("home")),
        (22, 30, programs.temperature("not_home")),
    ]
    # the same schedule again is no change: no calendar
    async with aiohttp.ClientSession() as http:
        await call(
            http,
            b,
            "PUT",
            f"/thermostat/{b.thermostat.hardware_id}",
            token,
            json={"schedule": schedule},
        )
    await rig.run(60)
    assert rig.unit.calendars_received == 2


async def test_a_dial_turn_is_a_manual_target_pushed_to_clients(rig: Rig) -> None:
    b = rig.bridge
    await rig.run(10)
    token = await make_token(b)
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            f"http://127.0.0.1:{b.port}/api/v1/ws", headers={"Authorization": f"Bearer {token}"}
        ) as ws,
    ):
        first = json.loads((await ws.receive(timeout=5)).data)
        assert first["type"] == "state"
        rig.unit.turn_dial(22.5)
        assert await rig.poll() is None
        target = None
        for _ in range(20):
            message = json.loads((await ws.receive(timeout=5)).data)
            thermostat = (message.get("data") or {}).get("thermostat") or {}
            if thermostat.get("target_temperature") == 22.5:
                target = thermostat
                break
        assert target is not None, "the dial's target was not pushed"
        assert target["source"] == "manual"
    assert b.thermostat.resolution().target == 22.5
    # the unit keeps reporting its dial setpoint; that is not a new change
    await rig.run(30)
    assert b.thermostat.resolution().target == 22.5
    assert rig.unit.target == 22.5


async def raw_poll(bridge: Bridge, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(str(unit_url(bridge)) + path, allow_redirects=False) as resp,
    ):
        return resp.status, await resp.text()


async def test_bad_polls_get_400_and_change_nothing(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    b = rig.bridge
    await rig.run(10)
    before = b.native_state()
    good = {"u": HWID, "p": PASSWORD, "pv": "213", "src": "3"}
    cases = {
        "unknown unit": build_request_path("TS999999", encrypt_poll(good, PASSWORD, revision=5)),
        "wrong password": build_request_path(HWID, encrypt_poll(good, "other-pw", revision=5)),
        "not hex": f"/api?_{HWID}_zz",
        "odd hex": f"/api?_{HWID}_abc",
        "no payload": "/api",
        "absurd pv": build_request_path(
            HWID, encrypt_poll({**good, "pv": "9999"}, PASSWORD, revision=5)
        ),
        "missing p": build_request_path(
            HWID, encrypt_poll({"u": HWID, "pv": "200"}, PASSWORD, revision=5)
        ),
    }
    caplog.set_level(logging.WARNING, logger="bridge.services.unit")
    for name, path in cases.items():
        status, text = await raw_poll(b, path)
        assert status == 400, (name, text)
        assert PASSWORD not in text
    assert (await raw_poll(b, "/other"))[0] == 404
    assert (await raw_poll(b, "/api/v1/health"))[0] == 404
    after = b.native_state()
    assert after["thermostat"] == before["thermostat"]
    assert after["units"] == before["units"]
    assert PASSWORD not in caplog.text
    # the unregistered unit is logged once, with how to register it
    assert caplog.text.count("not registered polls: hardware id TS999999") == 1
    assert "unit add --hardware-id TS999999" in caplog.text
    # the house unit's refusals: at most one line a minute
    assert caplog.text.count(f"Refused a poll of unit {HWID}") == 1


async def test_a_flood_from_one_address_is_slowed_down(rig: Rig) -> None:
    b = rig.bridge
    path = "/api?_TS1_00"
    statuses = await asyncio.gather(*(raw_poll(b, path) for _ in range(40)))
    codes = [s for s, _ in statuses]
    assert codes.count(429) >= 15
    assert set(codes) == {400, 429}


async def test_a_silent_unit_counts_as_gone_and_back_when_it_polls(rig: Rig) -> None:
    b = rig.bridge
    await rig.run(10)
    for _ in range(20):  # the watch runs every 10 s of clock time
        await rig.clock.advance(10)
        await settle()
    assert b.link.state == LinkState.DISCONNECTED
    [unit] = b.native_state()["units"]
    assert unit["connected"] is False
    assert b.thermostat.room_temperature() is None
    await rig.run(5)
    assert str(b.link.state) == "connected"
    assert b.native_state()["units"][0]["connected"] is True


async def test_a_unit_silent_after_a_bridge_restart_is_gone_with_its_last_poll(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    await register(data)
    clock = VirtualClock(START)
    unit = SimUnit(SimWorld(seed=4, start=START), hardware_id=HWID, password=PASSWORD)
    async with unit_bridge(data, clock) as first:
        r = Rig(first, clock, unit)
        await r.run(130)  # the last poll is kept to the minute: at 0 s and 120 s
        last_poll = clock.time()
        await r.close()
    assert first.native_state()["units"][0]["connected"] is True
    caplog.set_level(logging.WARNING, logger="bridge.services.unit")
    async with unit_bridge(data, clock) as second:
        [unit_now] = second.native_state()["units"]
        # not heard from yet, but not silent for long enough either; its last poll is kept
        assert unit_now["connected"] is None
        assert last_poll - 60 <= unit_now["last_seen"] <= last_poll
        for _ in range(17):  # 170 s: the silence (180 s) is not over
            await clock.advance(10)
            await settle()
        assert second.native_state()["units"][0]["connected"] is None
        for _ in range(2):
            await clock.advance(10)
            await settle()
        [unit_now] = second.native_state()["units"]
        assert unit_now["connected"] is False
        assert last_poll - 60 <= unit_now["last_seen"] <= last_poll
        assert caplog.text.count(f"{HWID} has not polled since the bridge started") == 1
        r = Rig(second, clock, unit)
        await r.run(5)
        [unit_now] = second.native_state()["units"]
        assert (unit_now["connected"], unit_now["last_seen"]) == (True, clock.time())
        await r.close()


async def test_unit_settings_reach_the_unit_once(rig: Rig) -> None:
    b = rig.bridge
    await rig.run(10)
    token = await make_token(b)
    change: dict[str, Any] = {
        "unit_brightness": 40,
        "unit_display": "clock",
        "unit_calibration": -0.5,
        "unit_status_led": "off",
        "unit_language": "en-GB",
    }
    async with aiohttp.ClientSession() as http:
        status, body = await call(http, b, "PUT", "/api/v1/options", token, json=change)
        assert status == 200, body
        bad_status, bad = await call(
            http, b, "PUT", "/api/v1/options", token, json={"unit_brightness": 101}
        )
    assert bad_status == 400
    assert bad["errors"][0]["field"] == "unit_brightness"
    assert b.thermostat.options()["unit_brightness"] == 40
    await rig.run(10)
    settings = rig.unit.settings
    assert settings.brightness == 40
    assert settings.display == 1
    assert settings.calibration == -0.5
    assert settings.status_led == 0
    assert settings.locale == "en-GB"
    # sent once: a brightness set on the unit itself afterwards is not overwritten
    rig.unit.settings = replace(settings, brightness=90)
    await rig.run(30)
    assert rig.unit.settings.brightness == 90


async def test_the_calendar_version_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    await register(data)
    clock = VirtualClock(START)
    unit = SimUnit(SimWorld(seed=4, start=START), hardware_id=HWID, password=PASSWORD)
    async with unit_bridge(data, clock) as first:
        r = Rig(first, clock, unit)
        await r.run(10)
        await r.close()
    assert unit.calendar is not None
    assert unit.calendar.version == 1
    async with unit_bridge(data, clock) as second:
        r = Rig(second, clock, unit)
        await r.run(10)
        assert unit.calendars_received == 1  # same calendar, not sent again
        unit.restart()
        await r.run(10)
        assert unit.calendars_received == 2  # after init, the same version again
        assert unit.calendar.version == 1
        await r.close()


async def test_the_unit_heats_on_its_calendar_while_the_bridge_is_down(tmp_path: Path) -> None:
    data = tmp_path / "data"
    await register(data)
    early = START + 4 * 3600  # Thursday 05:00 in Amsterdam; home from 06:30 on weekdays
    clock = VirtualClock(early)
    world = SimWorld(seed=4, start=early, initial_room_c=16.0)
    unit = SimUnit(world, hardware_id=HWID, password=PASSWORD)
    async with unit_bridge(data, clock) as first:
        r = Rig(first, clock, unit)
        await r.run(10)
        gone = unit_url(first)
        home = first.thermostat.state.programs.temperature("home")
    assert unit.calendars_received == 1
    # two hours without a bridge: every poll fails, the unit follows its calendar
    async with aiohttp.ClientSession() as http:
        for _ in range(2 * 3600 // 30):
            await clock.advance(30)
            unit.advance_to(clock.time())
            assert (await poll_once(unit, gone, http)) is not None
    assert (unit.target, unit.source) == (home, UnitSource.WEEK)
    # its own PID ran the boiler from 06:30 and the room warms (a cold house: slowly)
    truth = world.truth()
    assert truth.burner_hours > 0.25
    assert truth.room_c > 16.4
    async with unit_bridge(data, clock) as second:
        r = Rig(second, clock, unit)
        await r.run(10)
        assert unit.source is UnitSource.SERVER
        assert unit.calendars_received == 1  # it kept the calendar; nothing changed
        await r.close()


def _start_bridge(data: Path, api_port: int, unit_port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bridge",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(api_port),
            "--no-zeroconf",
            "--log-level",
            "warning",
            "--boiler",
            f"thermosmart-unit://127.0.0.1:{unit_port}",
        ],
        env=dict(os.environ, THERMOSMART_DATA_DIR=str(data)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _served(unit: SimUnit, url: URL, http: aiohttp.ClientSession) -> None:
    problem: str | None = "not tried"
    for _ in range(300):
        unit.advance_to(time.time())
        problem = await poll_once(unit, url, http)
        if problem is None:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the bridge never served the unit: {problem}")


async def test_a_killed_bridge_serves_the_unit_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    await register(data)
    api_port, unit_port = free_port(), free_port()
    url = URL(f"http://127.0.0.1:{unit_port}")
    unit = SimUnit(SimWorld(seed=4, start=time.time()), hardware_id=HWID, password=PASSWORD)
    async with aiohttp.ClientSession() as http:
        proc = _start_bridge(data, api_port, unit_port)
        try:
            await _served(unit, url, http)
            assert unit.calendars_received == 1
            proc.kill()  # kill -9: no shutdown at all
            proc.wait(timeout=30)
            assert await poll_once(unit, url, http) is not None
            proc = _start_bridge(data, api_port, unit_port)
            await _served(unit, url, http)
        finally:
            proc.kill()
            proc.wait(timeout=30)
    # the calendar it got before the kill is the current one: not sent again
    assert unit.calendars_received == 1


async def test_the_zone_offset_follows_daylight_saving_time(tmp_path: Path) -> None:
    data = tmp_path / "data"
    await register(data)
    before_dst = 1_774_745_400.0  # 2026-03-29 00:50 UTC: 01:50 in Amsterdam, winter time
    clock = VirtualClock(before_dst)
    unit = SimUnit(
        SimWorld(seed=4, start=before_dst),
        hardware_id=HWID,
        password=PASSWORD,
        clock_error_s=-3600.0,
    )
    async with unit_bridge(data, clock) as b:
        r = Rig(b, clock, unit)
        await r.run(10)
        assert unit.settings.tz_minutes == 60
        assert unit.clock == pytest.approx(clock.time(), abs=1)  # TS set its clock right
        await r.run(20 * 60, step=30)  # past 01:00 UTC: summer time
        assert unit.settings.tz_minutes == 120
        await r.close()


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_a_week_with_a_unit_learns_the_house_and_warms_up_on_time(
    tmp_path: Path,
) -> None:
    """A simulated week: the bridge learns the house from the unit's readings alone in
    four days, then for three its warm-ups (sent as SVSET) have the room at the home
    temperature on time."""
    data = tmp_path / "data"
    await register(data)
    clock = VirtualClock(START)
    world = SimWorld(seed=4, start=START, outside_sensor=True)
    unit = SimUnit(world, hardware_id=HWID, password=PASSWORD)
    async with unit_bridge(data, clock) as b:
        await b.thermostat.set_options({"unit_poll_throttle": 10})  # a poll every 55 s
        r = Rig(b, clock, unit)
        home = b.thermostat.state.programs.temperature("home")
        await r.run(4 * 86400, step=55)
        assert b.thermostat.predictions()["status"] == "ready"
        late: list[float] = []
        errors: list[float] = []
        preheated = 0
        period_start: float | None = None
        arrived: float | None = None
        for _ in range(3 * 86400 // 55):
            await r.run(55, step=55)
            res = b.thermostat.schedule_resolution()
            room = world.truth().room_c
            preheated += bool(b.thermostat.thermostat_state()["preheating"])
            in_home = res.program == "home" and res.source == "schedule"
            if in_home and period_start is None:
                period_start, arrived = clock.time(), None
            if in_home and arrived is None and room >= home - 0.3:
                arrived = clock.time()
                late.append(max(0.0, arrived - (period_start or arrived)))
            if in_home and arrived is not None:
                errors.append(abs(room - home))
            if not in_home:
                period_start = None
        await r.close()
    assert len(late) == 6  # Monday to Wednesday, morning and evening
    assert max(late) <= 10 * 60, late
    assert preheated > 0
    assert sum(errors) / len(errors) < 0.3


@pytest.mark.timeout(900)
async def test_four_days_on_underfloor_bring_a_pid_proposal_the_unit_takes_and_gives_back(
    tmp_path: Path,
) -> None:
    """The bridge learns an underfloor house from the unit, proposes other PID parameters
    (the stock ones overshoot there), sends them only while the option is on and gives the
    unit its own back after; on the simulator the proposal does overshoot less."""
    data = tmp_path / "data"
    await register(data)
    clock = VirtualClock(START)
    world = SimWorld("underfloor", seed=4, start=START, outside_sensor=True)
    unit = SimUnit(world, hardware_id=HWID, password=PASSWORD)
    async with unit_bridge(data, clock) as b:
        await b.thermostat.set_options({"unit_poll_throttle": 10})  # a poll every 55 s
        r = Rig(b, clock, unit)
        await r.run(4 * 86400, step=55)
        proposal = None
        for _ in range(120):  # worked out in a worker thread: give it real time
            await r.run(55, step=55)
            await asyncio.sleep(0.2)
            proposal = b.native_state()["units"][0]["pid_proposal"]
            if proposal is not None:
                break
        assert proposal is not None
        assert proposal["reasons"] == ["overshoot"]
        assert proposal["own"]["overshoot_k"] > 0.2
        assert proposal["proposed"]["overshoot_k"] < proposal["own"]["overshoot_k"]
        proposed = Pid(**proposal["pid"])
        assert proposed != STOCK_PID
        # the option is off: the unit keeps its own, and it is stored as its own
        assert (unit.settings.pid, unit.pids_received) == (STOCK_PID, 0)
        [stored] = await b.db.units.list()
        assert stored.own_pid == (STOCK_PID.kp, STOCK_PID.ti, STOCK_PID.td)
        token = await make_token(b)
        async with aiohttp.ClientSession() as http:
            status, body = await call(
                http, b, "PUT", "/api/v1/options", token, json={"unit_pid_tuning": True}
            )
            assert status == 200, body
            await r.run(5 * 55, step=55)
            assert (unit.settings.pid, unit.pids_received) == (proposed, 1)  # sent once
            assert b.native_state()["units"][0]["pid"] == proposal["pid"]
            status, body = await call(
                http, b, "PUT", "/api/v1/options", token, json={"unit_pid_tuning": False}
            )
            assert status == 200, body
            await r.run(5 * 55, step=55)
            assert (unit.settings.pid, unit.pids_received) == (STOCK_PID, 2)
            # an erase forgets the learned house: no proposal is left to send
            status, body = await call(
                http, b, "POST", "/api/v1/erase", token, json={"confirm": True}
            )
            assert status == 200, body
            await r.run(2 * 55, step=55)
            assert b.native_state()["units"][0]["pid_proposal"] is None
        await r.close()
    # the simulator: the same two days on each
    stock = run_days("underfloor", STOCK_PID, days=2)
    tuned = run_days("underfloor", proposed, days=2)
    assert tuned.overshoot_k < stock.overshoot_k / 2
    assert tuned.settled_error_k < stock.settled_error_k
    assert tuned.rise_min <= stock.rise_min + 15
    assert tuned.gas_kwh <= 1.03 * stock.gas_kwh


async def test_hot_water_off_reaches_the_unit_in_init_and_calendar(rig: Rig) -> None:
    b = rig.bridge
    await rig.run(10)
    assert rig.unit.calendar is not None
    assert all(r.hot_water for r in rig.unit.calendar.week)
    await b.thermostat.set_options({"dhw_enable": False})
    await rig.run(10)
    assert rig.unit.settings.hot_water is False
    assert rig.unit.calendars_received == 2
    assert not any(r.hot_water for r in rig.unit.calendar.week)
    [unit] = b.native_state()["units"]
    assert unit["setpoint"] == b.thermostat.resolution().target  # what it was sent


async def test_a_unit_added_or_removed_while_running_is_told_to_clients(rig: Rig) -> None:
    """`unit add` and `unit remove` reach clients within the re-read, without any poll."""
    b = rig.bridge
    await rig.run(10)
    told: list[list[str]] = []
    b.thermostat.add_state_listener(
        lambda: told.append([u["hardware_id"] for u in b.native_state()["units"]])
    )
    await b.db.units.add("TS654321", "other-pw")
    await rig.clock.advance(10)
    await settle()
    assert told[-1:] == [[HWID, "TS654321"]]
    await b.db.units.remove("TS654321")
    await rig.clock.advance(10)
    await settle()
    assert told[-1:] == [[HWID]]


def test_sim_speed_runs_the_bridge_as_fast_as_a_simulated_unit(tmp_path: Path) -> None:
    """`sim-unit --speed 60` polls every 5 simulated seconds: a bridge at the same speed
    takes them at the unit's pace (not as a flood); a real boiler's link never speeds up."""

    def clock_speed(boiler: str) -> float:
        cfg = validate({"data_dir": str(tmp_path), "boiler": boiler, "sim_speed": 60})
        return float(getattr(Bridge(cfg).clock, "speed", 1.0))

    assert clock_speed(UNIT_URL) == 60.0
    assert clock_speed("sim://") == 60.0
    assert clock_speed("otgw+tcp://127.0.0.1:1") == 1.0
