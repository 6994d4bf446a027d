"""The sync connection: its frames (pure), and a real bridge against a loopback sink.

The sink is a small aiohttp server of the test's own on 127.0.0.1: it counts
every request the bridge makes (any path), answers the sync route with a
hello (or with faults: garbage, no hello, a hang, refusal) and records every
frame, so the tests read every byte that would have left the LAN. The
bridge runs on a virtual clock, so a day of it takes seconds; sockets stay
real. The stand-in's own end is tested in ``tests/cloud_stub``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
from dataclasses import dataclass, field
import json
import logging
from pathlib import Path
import socket
from typing import Any

from aiohttp import WSMsgType, web
import pytest

from bridge.core import cloud_sync as proto
from bridge.core.clock import VirtualClock
from bridge.core.payloads.privacy import Purpose
from bridge.core.purposes import ALLOWED, THERMOSTAT_FIELDS
from bridge.daemon import Bridge
from bridge.storage.settings import LOCATION
from tests.bridge.conftest import virtual_bridge

TERMS = "2026-01"
GARBAGE = (
    "not json",
    '{"type":"surprise"}',
    '{"type":"command","id":1}',
    '{"type":"command","id":2,"kind":"update","body":{"target_temperature":5},"issued_at":"t"}',
    "[1]",
)
DAY = 86_400.0
CREDENTIAL = "c" * 43


# -- the frames (pure) -----------------------------------------------------------------


def _object() -> dict[str, Any]:
    return dict.fromkeys(THERMOSTAT_FIELDS) | {"location": "Utrecht"}


def test_the_upload_carries_the_allow_list_and_never_the_city() -> None:
    frame = proto.thermostat_frame(7, _object())
    assert set(frame["thermostat"]) == THERMOSTAT_FIELDS
    assert "location" not in proto.frame_fields(frame)
    assert set(proto.frame_fields(frame)) <= ALLOWED[Purpose.CLOUD_SYNC]
    result = proto.result_frame(3, proto.REJECTED, 8, _object(), [{"field": "x", "rule": "y"}])
    assert set(proto.frame_fields(result)) <= ALLOWED[Purpose.CLOUD_SYNC]
    assert set(proto.frame_fields(proto.retention_frame(30))) <= ALLOWED[Purpose.CLOUD_SYNC]


def test_both_ends_read_what_the_other_builds() -> None:
    obj = dict.fromkeys(THERMOSTAT_FIELDS, 1)
    upload = proto.parse_bridge_frame(proto.encode(proto.thermostat_frame(4, obj)))
    assert upload == proto.ThermostatUpload(4, obj)
    result = proto.parse_bridge_frame(proto.encode(proto.result_frame(5, "applied", 6, obj)))
    assert result == proto.Result(5, "applied", 6, obj, [])
    command = proto.Command(9, "pause", {"pause": True}, "2026-01-15T12:00:00+00:00", 4)
    assert proto.parse_cloud_frame(proto.encode(proto.command_frame(command))) == command
    assert proto.parse_cloud_frame('{"type":"hello","terms_version":"2026-02"}') == proto.Hello(
        "2026-02"
    )
    # a newer other end: unknown types are not errors
    assert proto.parse_cloud_frame('{"type":"weather","x":1}') is None
    assert proto.parse_bridge_frame('{"type":"statistics"}') is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("nope", "not JSON"),
        ("[]", "must be a JSON object"),
        ('{"kind": "hello"}', "no type"),
        ('{"type": "hello"}', "needs terms_version"),
        ('{"type": "hello", "terms_version": "1", "x": 1}', "has no x"),
        ('{"type": "hello", "terms_version": ""}', "1-64 printable"),
        ('{"type": "hello", "terms_version": "a\\nb"}', "1-64 printable"),
        ('{"type": "hello", "terms_version": "1", "terms_version": "2"}', "given twice"),
        (
            '{"type":"command","id":0,"kind":"update","body":{},"issued_at":"t","based_on":0}',
            "id must be a whole number from 1",
        ),
        (
            '{"type":"command","id":1,"kind":"update","body":{},"issued_at":"t","based_on":true}',
            "based_on must be a whole number",
        ),
        (
            '{"type":"command","id":1,"kind":"erase","body":{},"issued_at":"t","based_on":0}',
            "kind must be one of update, pause",
        ),
        (
            '{"type":"command","id":1,"kind":"update","body":[],"issued_at":"t","based_on":0}',
            "body must be an object",
        ),
        (
            '{"type":"command","id":1,"kind":"pause","body":{"pause":1},"issued_at":"t",'
            '"based_on":0}',
            "pause command",
        ),
        ("[" * 40 + "]" * 40, "nests deeper"),
        ('{"type": "hello", "terms_version": "' + "x" * proto.MAX_FRAME + '"}', "larger than"),
    ],
)
def test_a_frame_outside_the_protocol_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(proto.FrameError, match=says):
        proto.parse_cloud_frame(text)


def test_a_thermostat_with_other_members_is_refused() -> None:
    obj = dict.fromkeys(THERMOSTAT_FIELDS, 1)
    with pytest.raises(proto.FrameError, match="may not carry location"):
        proto.parse_bridge_frame(
            json.dumps({"type": "thermostat", "seq": 1, "thermostat": {**obj, "location": "x"}})
        )
    del obj["fw"]
    with pytest.raises(proto.FrameError, match="needs fw"):
        proto.parse_bridge_frame(json.dumps({"type": "thermostat", "seq": 1, "thermostat": obj}))


def test_a_command_is_superseded_only_by_a_later_local_change_of_the_same_thing() -> None:
    timeline = proto.Timeline()
    seen = timeline.stamp(1000.0)  # the upload the owner saw
    dial = proto.Command(1, "update", {"target_temperature": 23}, "t", seen)
    pause = proto.Command(2, "pause", {"pause": True}, "t", seen)
    programs = proto.Command(3, "update", {"programs": {"home": 20}}, "t", seen)
    assert not timeline.superseded(dial)
    timeline.changed(["target_temperature"], 1000.0)  # the dial, at the same instant, later
    assert timeline.superseded(dial)
    assert timeline.superseded(pause)  # a pause and the dial are one thing: the setpoint
    assert not timeline.superseded(programs)
    # a command issued against an upload that showed the dial turn is not superseded
    later = timeline.stamp(1000.0)
    assert not timeline.superseded(
        proto.Command(4, "update", {"target_temperature": 20}, "t", later)
    )


def test_stamps_always_increase_even_when_the_clock_steps_back() -> None:
    timeline = proto.Timeline()
    first = timeline.stamp(2000.0)
    assert timeline.stamp(1000.0) > first
    assert timeline.stamp(2000.0005) >= 2_000_001


def test_backoff_is_full_jitter_up_to_five_minutes() -> None:
    assert proto.backoff_delay(0, 0.0) == 0.0
    assert proto.backoff_delay(0, 0.999) < proto.BACKOFF_MIN_S
    assert proto.backoff_delay(3, 0.5) == 4.0
    assert proto.backoff_delay(10_000, 0.999) < proto.BACKOFF_MAX_S


# -- a real bridge against a loopback sink --------------------------------------------------


@dataclass
class Sink:
    """A loopback stand-in for a cloud: records everything that reaches it."""

    mode: str = "ok"
    terms: str = TERMS
    requests: list[str] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    port: int = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path}")
        if self.mode == "refuse" or not request.path.endswith("/sync"):
            return web.json_response({"error": "unavailable"}, status=503)
        if request.headers.get("Authorization") != f"Bearer {CREDENTIAL}":
            return web.json_response({"error": "unauthorized"}, status=401)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        if self.mode == "ok":
            await ws.send_str(proto.encode(proto.hello_frame(self.terms)))
        elif self.mode == "garbage":
            await ws.send_str(proto.encode(proto.hello_frame(self.terms)))
            for text in (*GARBAGE, *GARBAGE):
                await ws.send_str(text)
            await ws.send_bytes(b"\x00\x01")
        elif self.mode == "bad-hello":
            await ws.send_str('{"type":"command","id":1}')
        # "silent": never a word
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                self.raw.append(msg.data)
                self.frames.append(json.loads(msg.data))
        return ws

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]

    async def command(self, command: proto.Command) -> None:
        await self.sockets[-1].send_str(proto.encode(proto.command_frame(command)))


@contextlib.asynccontextmanager
async def serving(sink: Sink, port: int = 0) -> AsyncIterator[Sink]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", sink.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    sink.port = runner.addresses[0][1]
    try:
        yield sink
    finally:
        for ws in sink.sockets:
            await ws.close()
        await runner.cleanup()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def run_for(clock: VirtualClock, seconds: float, step: float = 60.0) -> None:
    """Move the bridge's clock on by ``seconds``, letting real I/O happen between steps."""
    end = clock.time() + seconds
    while clock.time() < end:
        await clock.advance(min(step, end - clock.time()))
        await asyncio.sleep(0.001)


async def until(clock: VirtualClock, check: Callable[[], bool], what: str) -> None:
    """Move the clock a second at a time (real I/O between) until ``check()`` holds."""
    for _ in range(2000):
        if check():
            return
        await clock.advance(1)
        await asyncio.sleep(0.002)
    raise AssertionError(f"never happened: {what}")


async def linked(bridge: Bridge, sink_port: int, *, consent: bool) -> None:
    """The bridge linked to the sink's URL (as ``cloud link`` leaves it), with or without the
    ``cloud_sync`` consent."""
    await bridge.db.settings.set(LOCATION, "Utrecht")  # the city must never leave
    await bridge.thermostat.reload()
    await bridge.db.cloud.store(
        f"http://127.0.0.1:{sink_port}", bridge.bridge_id, bridge.thermostat.hardware_id, CREDENTIAL
    )
    if consent:
        await bridge.privacy.record_consent(Purpose.CLOUD_SYNC, granted=True, terms_version=TERMS)
    assert bridge.cloud_sync is not None
    bridge.cloud_sync.wake()


@contextlib.asynccontextmanager
async def bridge_with_cloud(
    tmp_path: Path, port: int
) -> AsyncIterator[tuple[Bridge, VirtualClock]]:
    async with virtual_bridge(tmp_path, cloud_url=f"http://127.0.0.1:{port}") as pair:
        yield pair


async def _settled(frames: Callable[[], list[Any]], bridge: Bridge) -> None:
    """Wait (real time, bounded) until an upload started at the clock's last step is done:
    the sink has every frame the egress log records (written before a frame is sent; the
    connection request is one record more) and the bridge counted them, for 0.1 s on end."""
    stable = 0
    for _ in range(500):
        records = len(await bridge.db.egress.query(limit=100_000))
        thermostats = sum(1 for f in frames() if f["type"] == "thermostat")
        if len(frames()) + 1 == records and _state(bridge)["uploads"] == thermostats:
            stable += 1
            if stable == 10:
                return
        else:
            stable = 0
        await asyncio.sleep(0.01)


def _state(bridge: Bridge) -> dict[str, Any]:
    state: dict[str, Any] = bridge.native_state()["cloud_sync"]
    return state


@pytest.mark.timeout(600)  # a simulated day of the whole bridge takes a minute
async def test_nothing_leaves_without_consent(tmp_path: Path) -> None:
    async with serving(Sink()) as sink, bridge_with_cloud(tmp_path, sink.port) as (bridge, clock):
        await linked(bridge, sink.port, consent=False)
        await run_for(clock, DAY)
        assert sink.requests == []
        assert await bridge.db.egress.query() == []
        assert "not consented to cloud_sync" in _state(bridge)["not_running"]


async def test_with_consent_only_the_allow_listed_fields_leave_and_a_revocation_stops_them(
    tmp_path: Path,
) -> None:
    async with serving(Sink()) as sink, bridge_with_cloud(tmp_path, sink.port) as (bridge, clock):
        await linked(bridge, sink.port, consent=True)
        await until(clock, lambda: bool(sink.of_type("thermostat")), "the first upload")
        await run_for(clock, 6 * 3600)
        # the clock stands still now: let the frames in flight arrive
        await _settled(lambda: sink.frames, bridge)
        uploads = sink.of_type("thermostat")
        # on change, at most once a minute, never a backlog
        assert 1 < len(uploads) <= 6 * 60 + 1
        assert sink.of_type("retention") == [{"type": "retention", "retention_days": 90}]
        for frame in sink.frames:
            assert set(proto.frame_fields(frame)) <= ALLOWED[Purpose.CLOUD_SYNC], frame
        for frame in uploads:
            assert set(frame["thermostat"]) == THERMOSTAT_FIELDS
        assert not any("Utrecht" in text for text in sink.raw)
        # besides the connection, only the hourly question for the terms (no data)
        sync = f"GET /api/v1/bridges/{bridge.bridge_id}/sync"
        assert [r for r in sink.requests if r != "GET /api/v1/terms"] == [sync]
        # every frame (and the connection) is in the egress log, before it was sent
        records = await bridge.db.egress.query(limit=10_000)
        synced = [r for r in records if r.purpose == "cloud_sync"]
        assert len(synced) == len(sink.frames) + 1
        assert {
            (r.purpose, r.path, tuple(r.fields), r.bytes) for r in records if r not in synced
        } <= {("terms", "/api/v1/terms", (), 0)}
        state = _state(bridge)
        assert state["connected"] is True
        assert state["uploads"] == len(uploads)

        await bridge.privacy.record_consent(Purpose.CLOUD_SYNC, granted=False, terms_version=TERMS)
        await until(clock, lambda: not _state(bridge)["connected"], "the connection closed")
        sent, asked = len(sink.frames), len(sink.requests)
        await bridge.thermostat.update({"target_temperature": 22}, remote=False)
        await run_for(clock, 6 * 3600)
        assert len(sink.frames) == sent
        # after the revocation: only the deletion of the synced object (no data; this sink
        # refuses it, so it is retried), never the connection again, nor a terms question
        later = sink.requests[asked:]
        assert later
        assert set(later) == {f"DELETE /api/v1/bridges/{bridge.bridge_id}/thermostat"}


async def test_an_erase_closes_the_connection_at_once(tmp_path: Path) -> None:
    async with serving(Sink()) as sink, bridge_with_cloud(tmp_path, sink.port) as (bridge, clock):
        await linked(bridge, sink.port, consent=True)
        await until(clock, lambda: _state(bridge)["connected"], "the connection")
        await bridge.privacy.erase()
        await until(clock, lambda: not _state(bridge)["connected"], "the connection closed")
        sent = len(sink.frames)
        await run_for(clock, 3600)
        assert len(sink.frames) == sent
        assert "not linked" in _state(bridge)["not_running"]


async def test_new_terms_pause_the_sync_until_the_owner_answers(tmp_path: Path) -> None:
    async with (
        serving(Sink(terms="2026-09")) as sink,
        bridge_with_cloud(tmp_path, sink.port) as (bridge, clock),
    ):
        await linked(bridge, sink.port, consent=True)
        await until(clock, lambda: bool(sink.requests), "the connection")
        await run_for(clock, 3600)
        assert sink.frames == []  # not one frame under terms the owner did not accept
        assert bridge.cloud_gate is not None
        assert bridge.cloud_gate.terms_version == "2026-09"
        await bridge.privacy.record_consent(
            Purpose.CLOUD_SYNC, granted=True, terms_version="2026-09"
        )
        await until(clock, lambda: bool(sink.of_type("thermostat")), "the upload")


@pytest.mark.timeout(600)  # a simulated day of the whole bridge takes a minute
async def test_a_day_without_the_cloud_changes_nothing_local_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bridge.services.cloud_sync")
    port = _free_port()  # nothing listens: the cloud is down
    async with bridge_with_cloud(tmp_path, port) as (bridge, clock):
        await linked(bridge, port, consent=True)
        before = bridge.thermostat.last_command
        await run_for(clock, DAY)
        # the thermostat heats on by itself
        assert bridge.thermostat.last_command is not None
        assert bridge.thermostat.last_command is not before
        state = _state(bridge)
        assert state["connected"] is False
        assert state["outage_since"] is not None
        assert "Cannot connect" in state["last_error"]
        # the outage is logged once, not once per attempt
        outages = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
        assert len(outages) == 1
        # attempts back off: a day at up to 5 minutes apart, not one a second
        attempts = len(await bridge.db.egress.query(limit=100_000))
        assert 100 < attempts < 2000
        await bridge.thermostat.update({"target_temperature": 21.5}, remote=False)
        async with serving(Sink(), port) as sink:
            await until(clock, lambda: bool(sink.of_type("thermostat")), "the catch-up")
            # it catches up with the latest state: one upload, no backlog of the day
            await asyncio.sleep(0.05)
            assert len(sink.of_type("thermostat")) == 1
            assert sink.of_type("thermostat")[0]["thermostat"]["target_temperature"] == 21.5
            recovered = [r for r in caplog.records if "connected again" in r.getMessage()]
            assert len(recovered) == 1
            assert _state(bridge)["outage_since"] is None


@pytest.mark.parametrize("mode", ["garbage", "bad-hello", "silent", "refuse"])
async def test_a_cloud_outside_the_protocol_changes_nothing_local(
    tmp_path: Path, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        serving(Sink(mode=mode)) as sink,
        bridge_with_cloud(tmp_path, sink.port) as (bridge, clock),
    ):
        await linked(bridge, sink.port, consent=True)
        settings = _settings(bridge)
        await run_for(clock, 3600)
        assert _settings(bridge) == settings
        assert bridge.thermostat.last_command is not None
        if mode == "garbage":
            # after a good hello, garbage is ignored (one line per kind) and the connection stays
            assert _state(bridge)["connected"] is True
            warnings = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
            assert 2 <= len(warnings) == len(set(warnings))
        else:
            assert _state(bridge)["connected"] is False
            assert _state(bridge)["outage_since"] is not None


def _settings(bridge: Bridge) -> dict[str, Any]:
    obj = bridge.thermostat.cloud_object()
    return {k: obj[k] for k in ("programs", "schedule", "exceptions", "target_temperature")}


async def test_remote_commands_follow_the_bridge_rules_and_order(tmp_path: Path) -> None:
    async with serving(Sink()) as sink, bridge_with_cloud(tmp_path, sink.port) as (bridge, clock):
        await linked(bridge, sink.port, consent=True)
        await until(clock, lambda: bool(sink.of_type("thermostat")), "the first upload")
        seen = sink.of_type("thermostat")[-1]["seq"]

        async def answer(command: proto.Command) -> dict[str, Any]:
            count = len(sink.of_type("result"))
            await sink.command(command)
            await until(clock, lambda: len(sink.of_type("result")) > count, "the answer")
            return sink.of_type("result")[-1]

        applied = await answer(proto.Command(1, "update", {"target_temperature": 23}, "t", seen))
        assert (applied["id"], applied["status"]) == (1, "applied")
        assert applied["thermostat"]["target_temperature"] == 23
        assert bridge.thermostat.cloud_object()["source"] == "remote"
        # refused by the bridge's own rules, with its errors
        rejected = await answer(proto.Command(2, "update", {"target_temperature": 99}, "t", seen))
        assert rejected["status"] == "rejected"
        assert rejected["errors"][0]["field"] == "target_temperature"
        # delivered again (after a reconnect): answered the same, not applied twice
        again = await answer(proto.Command(1, "update", {"target_temperature": 23}, "t", seen))
        assert again["status"] == "applied"
        assert _state(bridge)["commands"] == 3
        # the dial is turned after the owner's command was issued: the dial wins
        await bridge.thermostat.update({"target_temperature": 18}, remote=False)
        late = await answer(proto.Command(3, "pause", {"pause": True}, "t", seen))
        assert late["status"] == "superseded"
        assert bridge.thermostat.cloud_object()["target_temperature"] == 18
        # a different thing changed remotely is not superseded by the dial
        programs = await answer(
            proto.Command(4, "update", {"programs": {"comfort": 22.5}}, "t", seen)
        )
        assert programs["status"] == "applied"


async def test_a_dial_turn_before_a_restart_still_wins_over_an_older_command(
    tmp_path: Path,
) -> None:
    async with serving(Sink()) as sink:
        async with bridge_with_cloud(tmp_path, sink.port) as (bridge, clock):
            await linked(bridge, sink.port, consent=True)
            await until(clock, lambda: bool(sink.of_type("thermostat")), "the first upload")
            seen = sink.of_type("thermostat")[-1]["seq"]
            await bridge.privacy.record_consent(
                Purpose.CLOUD_SYNC, granted=False, terms_version=TERMS
            )
            await clock.advance(60)
            await bridge.thermostat.update({"target_temperature": 17.5}, remote=False)
        # restarted: the dial's turn is remembered from the stored override
        async with bridge_with_cloud(tmp_path, sink.port) as (bridge, clock):
            await bridge.privacy.record_consent(
                Purpose.CLOUD_SYNC, granted=True, terms_version=TERMS
            )
            await until(clock, lambda: _state(bridge)["connected"], "the connection")
            await sink.command(proto.Command(1, "update", {"target_temperature": 23}, "t", seen))
            await until(clock, lambda: bool(sink.of_type("result")), "the answer")
            assert sink.of_type("result")[-1]["status"] == "superseded"
            assert bridge.thermostat.cloud_object()["target_temperature"] == 17.5
