"""The privacy routes (PRIVACY.md): export, erase, consents, egress log, retention."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridge.core import state as core
from bridge.core.clock import VirtualClock
from bridge.core.purposes import ALLOWED, DESCRIPTIONS
from bridge.daemon import Bridge
from bridge.storage import (
    DEFAULT_PROGRAMS,
    Database,
    EventKind,
    Purpose,
    Retention,
    Sample,
    TokenKind,
)

from .native_helpers import bearer, call, fields_of, make_token

PRIVACY_ROUTES = [
    ("GET", "/api/v1/export"),
    ("POST", "/api/v1/erase"),
    ("GET", "/api/v1/privacy/consents"),
    ("GET", "/api/v1/privacy/purposes"),
    ("POST", "/api/v1/privacy/terms"),
    ("PUT", "/api/v1/privacy/consents/cloud_sync"),
    ("GET", "/api/v1/privacy/egress"),
]
DAY = 86400.0


@pytest.mark.parametrize(("method", "path"), PRIVACY_ROUTES)
async def test_privacy_routes_need_an_owner_token(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, method: str, path: str
) -> None:
    b, _ = vb
    await b.db.settings.set_many({"email": "owner@example.org"})
    body = {"confirm": True} if path.endswith("erase") else {"granted": True, "terms_version": "1"}
    kwargs: dict[str, Any] = {"json": body} if method != "GET" else {}
    status, error = await call(http, b, method, path, **kwargs)
    assert status == 401
    assert error["error"] == "unauthorized"
    status, error = await call(http, b, method, path, "not-a-token", **kwargs)
    assert status == 401
    oauth = await make_token(b, TokenKind.OAUTH_ACCESS)
    status, error = await call(http, b, method, path, oauth, **kwargs)
    assert status == 403
    # nothing was erased or recorded
    assert (await b.db.settings.get_all())["email"] == "owner@example.org"
    assert await b.db.consents.history() == []


async def test_export_is_a_json_download_without_secrets(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, clock = vb
    await b.db.settings.set_many({"email": "owner@example.org", "location": "Delft"})
    await b.db.measurements.add("room_temperature", 19.5)
    async with http.get(f"http://127.0.0.1:{b.port}/api/v1/export", headers=bearer(token)) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        stamp = datetime.fromtimestamp(clock.time(), tz=UTC).strftime("%Y%m%dT%H%M%SZ")
        assert (
            resp.headers["Content-Disposition"]
            == f'attachment; filename="thermosmart-export-{stamp}.json"'
        )
        assert resp.headers["Cache-Control"] == "no-store"
        text = await resp.text()
        data = await resp.json()
    assert data["format"] == "thermosmart-local-export"
    assert data["settings"]["email"] == "owner@example.org"
    assert data["settings"]["location"] == "Delft"
    assert data["settings"]["hardware_id"] == b.thermostat.hardware_id
    assert [clock.time(), 19.5] in data["measurements"]["samples"]["room_temperature"]
    assert [t["name"] for t in data["tokens"]] == ["test"]
    assert token not in text
    assert "hash" not in text


async def _wait_for_new_command(b: Bridge, previous: object) -> None:
    for _ in range(200):
        if b.thermostat.last_command is not previous:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no control step after the erase")


async def test_erase_removes_personal_data_and_heating_follows_the_schedule(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, clock = vb
    # a household with a name, a city, an e-mail, own programs, schedule, override, history
    status, _ = await call(
        http,
        b,
        "PUT",
        "/api/v1/settings",
        token,
        json={"name": "Oma's huis", "location": "Groningen", "email": "oma@example.org"},
    )
    assert status == 200
    status, _ = await call(
        http,
        b,
        "PATCH",
        "/api/v1/thermostat",
        token,
        json={
            "programs": {"home": 22.5, "not_home": 17.5},
            "schedule": [{"start": [0, 0, 0], "temperature": "home"}],
            "exceptions": [
                {
                    "start": [2030, 0, 1, 8, 0],
                    "end": [2030, 0, 2, 8, 0],
                    "temperature": "comfort",
                    "description": "Oma jarig",
                }
            ],
            "target_temperature": 26,
        },
    )
    assert status == 200
    await clock.advance(120)  # the thermostat records samples
    await b.db.events.log(EventKind.INFO, "something happened")
    await b.db.egress.record("weather.example", "/v1", "weather_by_city", ["city"], 120)
    await b.db.consents.record(Purpose.WEATHER_BY_CITY, granted=True, terms_version="2026-1")
    await b.db.learning.put("house", {"tau_h": 40})
    before = await b.db.export()
    assert before["measurements"]["samples"]
    previous_command = b.thermostat.last_command

    for bad, field in (
        ({}, "confirm"),
        ({"confirm": False}, "confirm"),
        ({"confirm": "yes"}, "confirm"),
        ({"confirm": True, "keep": "history"}, "keep"),
        ({"confirm": True, "revoke_tokens": "no"}, "revoke_tokens"),
        ([True], "(body)"),
    ):
        status, error = await call(http, b, "POST", "/api/v1/erase", token, json=bad)
        assert status == 400
        assert field in fields_of(error), error
    unchanged = await b.db.export()
    for key in set(before) - {"exported_at", "tokens"}:  # tokens: last_used moves
        assert unchanged[key] == before[key], key

    status, result = await call(http, b, "POST", "/api/v1/erase", token, json={"confirm": True})
    assert status == 200
    assert result["tokens_revoked"] is False
    erased = result["erased"]
    assert erased["samples"] > 0
    assert erased["events"] == 1
    assert erased["egress_log"] == 1
    assert erased["exceptions"] == 1
    assert erased["learning"] == 1

    after = await b.db.export()
    text = str(after)
    for personal in ("Oma", "Groningen", "oma@example.org", "Oma jarig"):
        assert personal not in text
    assert after["settings"]["name"] == "ThermoSmart"
    assert after["settings"]["location"] is None
    assert after["settings"]["email"] is None
    assert after["settings"]["programs"] == dict(DEFAULT_PROGRAMS)
    assert after["settings"]["control_state"] == {}
    assert after["measurements"] == {"samples": {}, "hourly": {}}
    assert after["events"] == []
    assert after["egress_log"] == []
    assert after["exceptions"] == []
    assert after["learning"] == {}
    # what stays: the consent record, the hardware id, the tokens
    assert [c["purpose"] for c in after["consents"]] == ["weather_by_city"]
    assert after["settings"]["hardware_id"] == b.thermostat.hardware_id
    status, _ = await call(http, b, "GET", "/api/v1/state", token)
    assert status == 200

    # the thermostat keeps heating on the default programs and week schedule
    expected = core.resolve(core.ThermostatState(timezone=b.config.timezone), b.thermostat.now())
    _, view = await call(http, b, "GET", "/api/v1/thermostat", token)
    assert view["source"] == "schedule"
    assert view["program"] == expected.program
    assert view["target_temperature"] == expected.target
    assert view["name"] == "ThermoSmart"
    assert b.name == "ThermoSmart"
    await _wait_for_new_command(b, previous_command)
    command = b.thermostat.last_command
    assert command is not None
    master = b.thermostat.master
    assert master is not None
    assert master.targets.control_setpoint == command.control_setpoint
    assert master.targets.ch_enable == command.ch_enable
    # and it keeps recording on the defaults
    await clock.advance(120)
    samples = await b.db.measurements.samples("target_temperature", 0, clock.time() + 1)
    assert samples
    assert samples[-1].value == expected.target


async def test_erase_can_revoke_every_token(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    other = await make_token(b)
    status, result = await call(
        http, b, "POST", "/api/v1/erase", token, json={"confirm": True, "revoke_tokens": True}
    )
    assert status == 200
    assert result["tokens_revoked"] is True
    assert result["erased"]["tokens"] == 2
    for t in (token, other):
        status, _ = await call(http, b, "GET", "/api/v1/thermostat", t)
        assert status == 401


async def test_asking_the_terms_without_a_cloud_is_a_409_and_sends_nothing(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    status, body = await call(http, b, "POST", "/api/v1/privacy/terms", token)
    assert status == 409
    assert body["error"] == "no_cloud"
    assert (await b.privacy.egress()).records == []


async def test_consents_grant_revoke_and_history(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, clock = vb
    status, body = await call(http, b, "GET", "/api/v1/privacy/consents", token)
    assert status == 200
    assert set(body["consents"]) == {
        "cloud_sync",
        "weather_by_city",
        "statistics",
        "service_access",
        "update_check",
    }
    assert all(not c["granted"] for c in body["consents"].values())
    assert body["history"] == []
    status, consent = await call(
        http,
        b,
        "PUT",
        "/api/v1/privacy/consents/weather_by_city",
        token,
        json={"granted": True, "terms_version": "2026-1"},
    )
    assert status == 200
    assert consent["purpose"] == "weather_by_city"
    assert consent["granted"] is True
    assert consent["ts"] == clock.time()
    assert await b.db.consents.is_granted(Purpose.WEATHER_BY_CITY, "2026-1")
    await clock.advance(60)
    status, _ = await call(
        http,
        b,
        "PUT",
        "/api/v1/privacy/consents/weather_by_city",
        token,
        json={"granted": False, "terms_version": "2026-1"},
    )
    assert status == 200
    assert not await b.db.consents.is_granted(Purpose.WEATHER_BY_CITY)
    _, body = await call(http, b, "GET", "/api/v1/privacy/consents", token)
    assert body["consents"]["weather_by_city"] == {
        "granted": False,
        "terms_version": "2026-1",
        "ts": clock.time(),
    }
    assert [c["granted"] for c in body["history"]] == [True, False]


@pytest.mark.parametrize(
    ("purpose", "body", "fields"),
    [
        ("marketing", {"granted": True, "terms_version": "1"}, {"purpose"}),
        ("cloud_sync", {"granted": "yes", "terms_version": "1"}, {"granted"}),
        ("cloud_sync", {"granted": True}, {"terms_version"}),
        ("cloud_sync", {"terms_version": "1"}, {"granted"}),
        ("cloud_sync", {"granted": True, "terms_version": ""}, {"terms_version"}),
        ("cloud_sync", {"granted": True, "terms_version": "x" * 33}, {"terms_version"}),
        ("cloud_sync", {"granted": True, "terms_version": 3}, {"terms_version"}),
        ("cloud_sync", {"granted": True, "terms_version": "1", "until": 5}, {"until"}),
        ("marketing", {"granted": 1, "terms_version": "1"}, {"purpose", "granted"}),
        ("cloud_sync", [], {"(body)"}),
    ],
)
async def test_bad_consents_record_nothing(
    vb: tuple[Bridge, VirtualClock],
    http: aiohttp.ClientSession,
    token: str,
    purpose: str,
    body: Any,
    fields: set[str],
) -> None:
    b, _ = vb
    status, error = await call(
        http, b, "PUT", f"/api/v1/privacy/consents/{purpose}", token, json=body
    )
    assert status == 400
    assert fields_of(error) == fields
    assert await b.db.consents.history() == []


async def test_egress_log_lists_what_left_the_lan(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, clock = vb
    now = clock.time()
    await b.db.egress.record(
        "cloud.example", "/sync?secret=1", "cloud_sync", ["programs"], 300, ts=now - 100
    )
    await b.db.egress.record("weather.example", "/v1", "weather_by_city", ["city"], 80, ts=now)
    status, body = await call(http, b, "GET", "/api/v1/privacy/egress", token)
    assert status == 200
    assert [r["host"] for r in body["records"]] == ["weather.example", "cloud.example"]
    assert body["records"][1]["path"] == "/sync"
    assert body["records"][1]["fields"] == ["programs"]
    status, body = await call(
        http, b, "GET", "/api/v1/privacy/egress?purpose=cloud_sync&limit=5", token
    )
    assert [r["purpose"] for r in body["records"]] == ["cloud_sync"]
    status, body = await call(http, b, "GET", f"/api/v1/privacy/egress?since={now - 50}", token)
    assert [r["host"] for r in body["records"]] == ["weather.example"]
    for query, field in (
        ("since=later", "since"),
        ("purpose=Cloud%20Sync", "purpose"),
        ("limit=0", "limit"),
        ("until=1&since=2", "until"),
        ("host=x", "host"),
    ):
        status, body = await call(http, b, "GET", f"/api/v1/privacy/egress?{query}", token)
        assert status == 400, query
        assert fields_of(body) == {field}


async def test_retention_prunes_old_rows_and_keeps_recent_ones(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, clock = vb
    now = clock.time()
    await b.db.measurements.add_samples(
        [
            Sample(now - 100 * DAY, "flow_temperature", 55.0),  # older than 90 days
            Sample(now - 89 * DAY, "flow_temperature", 50.0),
            Sample(now - DAY, "flow_temperature", 45.0),
        ]
    )
    await b.db.events.log(EventKind.BOILER_FAULT, "old fault", code=3, ts=now - 400 * DAY)
    await b.db.events.log(EventKind.BOILER_FAULT, "recent fault", code=4, ts=now - 300 * DAY)
    await b.db.egress.record("a.example", "/", "cloud_sync", [], 1, ts=now - 400 * DAY)
    await b.db.egress.record("b.example", "/", "cloud_sync", [], 1, ts=now - DAY)

    async def raw(start: float) -> list[Any]:
        status, body = await call(
            http,
            b,
            "GET",
            f"/api/v1/history?key=flow_temperature&start={start}&end={start + 2 * DAY}",
            token,
        )
        assert status == 200
        points: list[Any] = body["points"]
        return points

    assert len(await raw(now - 101 * DAY)) == 1
    # the bridge's own maintenance prunes once an hour of its clock: jump an hour ahead
    # (as after a suspend) and let every task that is due run
    clock.set(now + 3600)
    await clock.advance(0)
    for _ in range(200):
        if await raw(now - 101 * DAY) == []:
            break
        await asyncio.sleep(0.01)
    assert await raw(now - 101 * DAY) == []
    assert await raw(now - 90 * DAY) == [[now - 89 * DAY, 50.0]]
    assert await raw(now - 2 * DAY) == [[now - DAY, 45.0]]
    # hourly aggregates are kept two years, so the old hour is still there
    _, body = await call(
        http,
        b,
        "GET",
        f"/api/v1/history?key=flow_temperature&resolution=hourly&start={now - 101 * DAY}"
        f"&end={now - 99 * DAY}",
        token,
    )
    assert [p["mean"] for p in body["points"]] == [55.0]
    _, body = await call(http, b, "GET", "/api/v1/events?kind=boiler_fault", token)
    assert [e["message"] for e in body["events"]] == ["recent fault"]
    _, body = await call(http, b, "GET", "/api/v1/privacy/egress", token)
    assert [r["host"] for r in body["records"]] == ["b.example"]


async def test_purposes_say_what_each_sends_from_the_allow_lists(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    status, body = await call(http, b, "GET", "/api/v1/privacy/purposes", token)
    assert status == 200
    assert body["terms_version"] is None
    assert [p["purpose"] for p in body["purposes"]] == [p.value for p in Purpose]
    for item in body["purposes"]:
        purpose = Purpose(item["purpose"])
        assert item["description"] == DESCRIPTIONS[purpose]
        assert item["fields"] == sorted(ALLOWED[purpose])
        assert (item["granted"], item["terms_version"], item["allowed"]) == (False, None, False)
    weather = {p["purpose"]: p for p in body["purposes"]}["weather_by_city"]
    assert weather["fields"] == ["city"]

    await b.privacy.record_consent(Purpose.STATISTICS, granted=True, terms_version="2026-01")
    _, body = await call(http, b, "GET", "/api/v1/privacy/purposes", token)
    stats = {p["purpose"]: p for p in body["purposes"]}["statistics"]
    assert (stats["granted"], stats["terms_version"], stats["allowed"]) == (True, "2026-01", True)

    # the cloud publishes new terms: still granted, but not allowed until answered again
    assert b.cloud_gate is not None
    b.cloud_gate.set_terms_version("2026-02")
    _, body = await call(http, b, "GET", "/api/v1/privacy/purposes", token)
    assert body["terms_version"] == "2026-02"
    stats = {p["purpose"]: p for p in body["purposes"]}["statistics"]
    assert (stats["granted"], stats["allowed"]) == (True, False)


async def _privacy_pushed(ws: aiohttp.ClientWebSocketResponse) -> Any:
    """The next pushed change of the ``privacy`` section (other sections change too)."""
    while True:
        message = json.loads((await ws.receive(timeout=5)).data)
        if message["type"] == "changed" and "privacy" in message["data"]:
            return message["data"]["privacy"]


async def test_last_egress_in_the_native_state_follows_the_log(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, clock = vb
    async with http.ws_connect(f"ws://127.0.0.1:{b.port}/api/v1/ws", headers=bearer(token)) as ws:
        first = json.loads((await ws.receive(timeout=5)).data)
        assert first["data"]["privacy"] == {"last_egress": None}
        await clock.advance(30)
        await b.db.egress.record("cloud.example", "/v1", "cloud_sync", ["name"], 10)
        assert (await _privacy_pushed(ws)) == {"last_egress": clock.time()}
        status, _ = await call(http, b, "POST", "/api/v1/erase", token, json={"confirm": True})
        assert status == 200
        assert (await _privacy_pushed(ws)) == {"last_egress": None}
    assert b.native_state()["privacy"] == {"last_egress": None}


async def test_last_egress_survives_a_restart_and_goes_with_retention(
    tmp_path: Path,
) -> None:
    clock = VirtualClock(1_768_478_400.0)
    db = await Database.open(tmp_path / "t.db", clock)
    try:
        assert db.egress.last is None
        await db.egress.record("cloud.example", "/v1", "cloud_sync", ["name"], 10)
    finally:
        await db.close()
    db = await Database.open(
        tmp_path / "t.db", clock, retention=Retention(egress_log=timedelta(days=1))
    )
    try:
        assert db.egress.last == clock.time()
        await clock.advance(2 * DAY)
        await db.prune()
        assert db.egress.last is None
    finally:
        await db.close()
