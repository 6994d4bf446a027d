"""The native API under /api/v1/ against the real bridge on loopback."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridge.api.history import HISTORY_KEYS
from bridge.core.clock import VirtualClock
from bridge.daemon import Bridge
from bridge.opentherm.links.base import LinkCounters
from bridge.services.state import boiler_parts
from bridge.storage import EventKind, Sample, TokenKind

from .conftest import virtual_bridge
from .native_helpers import call, fields_of, make_token

NATIVE_ROUTES = [
    ("GET", "/api/v1/thermostat"),
    ("PATCH", "/api/v1/thermostat"),
    ("POST", "/api/v1/thermostat/override/clear"),
    ("POST", "/api/v1/thermostat/pause"),
    ("GET", "/api/v1/history?key=room_temperature"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/diagnostics"),
    ("GET", "/api/v1/predictions"),
    ("GET", "/api/v1/settings"),
    ("PUT", "/api/v1/settings"),
    ("GET", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/1"),
]


# -- access ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), NATIVE_ROUTES)
async def test_every_native_route_needs_a_token(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, method: str, path: str
) -> None:
    b, _ = vb
    owner = await make_token(b)
    before = await b.db.export()
    body = {"name": "Intruder"} if method == "PUT" else {"target_temperature": 25}
    kwargs: dict[str, Any] = {} if method in ("GET", "DELETE") else {"json": body}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}):
        async with http.request(
            method, f"http://127.0.0.1:{b.port}{path}", headers=headers, **kwargs
        ) as resp:
            assert resp.status == 401, (method, path, headers)
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            assert (await resp.json())["error"] == "unauthorized"
    after = await b.db.export()
    for key in ("settings", "schedule", "exceptions", "tokens"):
        assert after[key] == before[key]
    # the same token in the query works
    if method == "GET":
        sep = "&" if "?" in path else "?"
        status, _ = await call(http, b, "GET", f"{path}{sep}access_token={owner}")
        assert status == 200


async def test_owner_routes_refuse_oauth_access_tokens(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession
) -> None:
    b, _ = vb
    oauth = await make_token(b, TokenKind.OAUTH_ACCESS)
    for method, path in (
        ("GET", "/api/v1/settings"),
        ("PUT", "/api/v1/settings"),
        ("GET", "/api/v1/tokens"),
        ("DELETE", "/api/v1/tokens/1"),
    ):
        status, body = await call(http, b, method, path, oauth, json={"name": "x"})
        assert status == 403, path
        assert body["error"] == "forbidden"
    assert (await b.db.settings.get_all())["name"] == "ThermoSmart"
    assert all(t.revoked is None for t in await b.db.auth.list_tokens())
    # but it may read and steer the thermostat
    status, _ = await call(http, b, "GET", "/api/v1/thermostat", oauth)
    assert status == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/thermostat",
        "/api/v1/events",
        "/api/v1/diagnostics",
        "/api/v1/predictions",
        "/api/v1/settings",
        "/api/v1/tokens",
        "/api/v1/history?key=room_temperature",
        "/api/v1/schedule/blocks",
    ],
)
async def test_unknown_and_repeated_query_parameters_are_refused(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str, path: str
) -> None:
    b, _ = vb
    sep = "&" if "?" in path else "?"
    status, body = await call(http, b, "GET", f"{path}{sep}colour=red", token)
    assert status == 400
    assert {"field": "colour", "rule": "unknown field"} in body["errors"]
    if "?" in path:
        status, body = await call(http, b, "GET", f"{path}&key=flame_on", token)
        assert status == 400
        assert {"field": "key", "rule": "must be given at most once"} in body["errors"]


# -- state ------------------------------------------------------------------------------------


async def test_state_has_decoded_capabilities_faults_and_counters(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, clock = vb
    await clock.advance(60)
    status, state = await call(http, b, "GET", "/api/v1/state", token)
    assert status == 200
    assert set(state) == {
        "bridge",
        "link",
        "thermostat",
        "boiler",
        "capabilities",
        "faults",
        "counters",
        "predictions",
        "options",
        "energy",
        "units",
        "update",
        "privacy",
        "cloud",
        "cloud_sync",
    }
    assert state["units"] is None  # no wall-unit link
    assert state["update"] is None  # no cloud_url
    assert state["cloud"] == {
        "linked": False,
        "terms_version": None,
        "paused": [],
        "erase_pending": False,
        "weather": None,
    }
    assert state["cloud_sync"] is None  # no cloud configured
    assert state["options"]["heating_system"] == "radiators"
    caps = state["capabilities"]
    # the simulated boiler: 24 kW, 20 % minimum modulation, DHW 40-65 °C, CH 25-85 °C
    assert caps["known"] is True
    assert caps["max_capacity_kw"] == 24
    assert caps["min_modulation_pct"] == 20
    assert caps["dhw"]["present"] is True
    assert caps["dhw"]["setpoint_bounds"] == {"min": 40, "max": 65}
    assert caps["ch"]["max_setpoint_bounds"] == {"min": 25, "max": 85}
    assert caps["opentherm_version"] == pytest.approx(2.2, abs=0.01)
    assert state["faults"]["fault"] is False
    assert state["faults"]["active"] == []
    counters = state["counters"]
    assert set(counters["boiler"]) == {
        "burner_starts",
        "ch_pump_starts",
        "dhw_pump_starts",
        "dhw_burner_starts",
        "burner_hours",
        "ch_pump_hours",
        "dhw_pump_hours",
        "dhw_burner_hours",
    }
    assert all(isinstance(v, int) for v in counters["boiler"].values())
    assert counters["link"]["requests"] > 0
    assert counters["opentherm"]["conversations"] >= counters["opentherm"]["acks"] > 0
    # the shape the state had before stays
    assert state["link"] == {"kind": "sim", "opentherm": True, "state": "connected"}
    assert state["boiler"]["connected"] is True


async def test_boiler_fault_shows_in_state_events_and_diagnostics(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, clock = vb
    await clock.advance(10)
    b.link.world.boiler.force_lockout()  # type: ignore[attr-defined]
    await clock.advance(35)  # the fault bit, ID 5 and 115, then a control step logs it
    _, state = await call(http, b, "GET", "/api/v1/state", token)
    faults = state["faults"]
    assert faults["fault"] is True
    assert faults["flags"]["gas_flame_fault"] is True
    assert faults["flags"]["remote_reset_enabled"] is True
    assert faults["oem_fault_code"] == 1
    assert faults["oem_diagnostic_code"] == 100
    assert faults["active"] == ["fault", "remote_reset_enabled", "gas_flame_fault"]
    status, body = await call(http, b, "GET", "/api/v1/events?kind=boiler_fault", token)
    assert status == 200
    [event] = body["events"]
    assert event["code"] == "1"
    assert event["data"]["gas_flame_fault"] is True
    _, diag = await call(http, b, "GET", "/api/v1/diagnostics", token)
    assert diag["faults"] == faults
    assert [e["id"] for e in diag["recent_faults"]] == [event["id"]]


def test_boiler_parts_of_a_relay_boiler() -> None:
    class Relay:
        kind = "onoff"
        opentherm = False
        counters = LinkCounters(requests=3)

    parts = boiler_parts(None, Relay())  # type: ignore[arg-type]
    assert parts.capabilities is None
    assert parts.faults is None
    assert parts.counters.boiler is None
    assert parts.counters.link.requests == 3


# -- thermostat ----------------------------------------------------------------------------


async def test_patch_sets_a_manual_target_and_clear_goes_back(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    status, view = await call(http, b, "GET", "/api/v1/thermostat", token)
    assert status == 200
    assert view["source"] == "schedule"
    scheduled = view["target_temperature"]
    assert {"programs", "schedule", "exceptions", "name", "hardware_id", "next"} <= set(view)
    status, view = await call(
        http, b, "PATCH", "/api/v1/thermostat", token, json={"target_temperature": 23.5}
    )
    assert status == 200
    assert view["target_temperature"] == 23.5
    assert view["source"] == "manual"
    assert (await b.db.settings.get_all())["control_state"]["override"]["remote"] is False
    status, view = await call(http, b, "POST", "/api/v1/thermostat/override/clear", token)
    assert status == 200
    assert view["source"] == "schedule"
    assert view["target_temperature"] == scheduled
    # {} is a body too
    status, _ = await call(http, b, "POST", "/api/v1/thermostat/override/clear", token, json={})
    assert status == 200


async def test_patch_programs_and_schedule(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    schedule = [{"start": [0, 6, 30], "temperature": "comfort"}]
    status, view = await call(
        http,
        b,
        "PATCH",
        "/api/v1/thermostat",
        token,
        json={"programs": {"comfort": 21.5}, "schedule": schedule},
    )
    assert status == 200
    assert view["programs"]["comfort"] == 21.5
    assert view["schedule"] == schedule
    assert view["target_temperature"] == 21.5  # the only block is comfort
    status, cloud = await call(http, b, "GET", f"/thermostat/{b.thermostat.hardware_id}", token)
    assert cloud["schedule"] == schedule


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target_temperature": 31}, "target_temperature"),
        ({"target_temperature": "warm"}, "target_temperature"),
        ({"programs": {"home": 4}}, "programs.home"),
        ({"schedule": [{"start": [0, 7, 10], "temperature": "home"}]}, "schedule[0].start[2]"),
        ({"exceptions": [{"start": [2030, 12, 1, 8, 0], "end": [2030, 11, 2, 8, 0]}]}, None),
        ({"colour": "red"}, "colour"),
        ({}, "(body)"),
        ([1, 2], "(body)"),
        ("text", "(body)"),
    ],
)
async def test_bad_patches_change_nothing(
    vb: tuple[Bridge, VirtualClock],
    http: aiohttp.ClientSession,
    token: str,
    body: Any,
    field: str | None,
) -> None:
    b, _ = vb
    before = await b.db.export()
    _, view_before = await call(http, b, "GET", "/api/v1/thermostat", token)
    status, error = await call(http, b, "PATCH", "/api/v1/thermostat", token, json=body)
    assert status == 400
    assert error["error"] == "invalid"
    assert error["errors"]
    if field is not None:
        assert field in fields_of(error), error
    if isinstance(body, dict) and body:
        status, _ = await call(
            http, b, "PATCH", "/api/v1/thermostat", token, json={"target_temperature": 22, **body}
        )
        assert status == 400
    after = await b.db.export()
    for key in ("settings", "schedule", "exceptions"):
        assert after[key] == before[key]
    _, view_after = await call(http, b, "GET", "/api/v1/thermostat", token)
    for key in ("target_temperature", "source", "programs", "schedule"):
        assert view_after[key] == view_before[key]


async def test_patch_wants_json(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    status, body = await call(
        http, b, "PATCH", "/api/v1/thermostat", token, data={"target_temperature": "20"}
    )
    assert status == 415
    assert body["error"] == "content_type"
    status, body = await call(
        http,
        b,
        "PATCH",
        "/api/v1/thermostat",
        token,
        data="{nope",
        headers={"Content-Type": "application/json"},
    )
    assert status == 400
    assert body["error"] == "bad_json"
    status, _ = await call(
        http,
        b,
        "PATCH",
        "/api/v1/thermostat",
        token,
        data="x" * 70_000,
        headers={"Content-Type": "application/json"},
    )
    assert status == 413


async def test_pause_and_its_bad_input(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    for body, field in (
        ({"pause": "yes"}, "pause"),
        ({}, "pause"),
        ({"pause": True, "for": 3}, "for"),
        ([True], "(body)"),
    ):
        status, error = await call(http, b, "POST", "/api/v1/thermostat/pause", token, json=body)
        assert status == 400
        assert field in fields_of(error)
        assert b.thermostat.state.paused is False
    status, view = await call(
        http, b, "POST", "/api/v1/thermostat/pause", token, json={"pause": True}
    )
    assert status == 200
    assert view["source"] == "pause"
    assert view["paused"] is True
    assert view["target_temperature"] == max(view["programs"]["pause"], 5)
    status, view = await call(
        http, b, "POST", "/api/v1/thermostat/pause", token, json={"pause": False}
    )
    assert view["source"] == "schedule"


async def test_clear_takes_no_arguments(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    await call(http, b, "PATCH", "/api/v1/thermostat", token, json={"target_temperature": 24})
    status, error = await call(
        http, b, "POST", "/api/v1/thermostat/override/clear", token, json={"now": True}
    )
    assert status == 400
    assert {"field": "now", "rule": "unknown field"} in error["errors"]
    assert b.thermostat.resolution().target == 24  # still overridden


# -- history and events --------------------------------------------------------------------


async def test_history_raw_and_hourly(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, clock = vb
    now = clock.time()
    hour = int(now // 3600) * 3600
    samples = [Sample(hour - 7200 + i * 600, "flow_temperature", 40.0 + i) for i in range(12)]
    await b.db.measurements.add_samples(samples)
    start = datetime.fromtimestamp(hour - 7200, tz=UTC).isoformat()
    status, body = await call(
        http,
        b,
        "GET",
        "/api/v1/history",
        token,
        params={"key": "flow_temperature", "start": start, "end": str(hour)},
    )
    assert status == 200
    assert body["resolution"] == "raw"
    assert body["start"] == hour - 7200
    assert body["end"] == hour
    assert body["points"] == [[s.ts, s.value] for s in samples]
    status, body = await call(
        http,
        b,
        "GET",
        "/api/v1/history",
        token,
        params={
            "key": "flow_temperature",
            "start": str(hour - 7200),
            "end": str(hour),
            "resolution": "hourly",
        },
    )
    assert status == 200
    assert body["points"] == [
        {"hour": hour - 7200, "min": 40.0, "max": 45.0, "mean": 42.5, "count": 6},
        {"hour": hour - 3600, "min": 46.0, "max": 51.0, "mean": 48.5, "count": 6},
    ]
    # an offset whose "+" arrived unencoded, and Z
    start_iso = datetime.fromtimestamp(hour - 3600, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    end_iso = datetime.fromtimestamp(hour, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    status, body = await call(
        http,
        b,
        "GET",
        f"/api/v1/history?key=flow_temperature&start={start_iso}+00:00&end={end_iso}Z",
        token,
    )
    assert status == 200, body
    assert body["points"][0] == [hour - 3600, 46.0]
    # defaults: the last 24 hours
    status, body = await call(http, b, "GET", "/api/v1/history?key=flow_temperature", token)
    assert body["end"] == now
    assert body["start"] == now - 86400
    assert len(body["points"]) == 12
    # a series recorded by the thermostat that has no data yet is empty, not an error
    assert "relay_on" in HISTORY_KEYS
    status, body = await call(http, b, "GET", "/api/v1/history?key=relay_on", token)
    assert status == 200
    assert body["points"] == []


@pytest.mark.parametrize(
    ("query", "field", "rule_part"),
    [
        ("", "key", "required"),
        ("key=humidity", "key", "must be a recorded series"),
        ("key=flow_temperature&resolution=daily", "resolution", "raw or hourly"),
        ("key=flow_temperature&start=yesterday", "start", "ISO 8601"),
        ("key=flow_temperature&start=2026-01-01T00:00:00", "start", "offset"),
        ("key=flow_temperature&end=nan", "end", "Unix time"),
        ("key=flow_temperature&start=-5", "start", "Unix time"),
        ("key=flow_temperature&start=1767225600&end=1767225600", "end", "after start"),
        ("key=flow_temperature&start=1767225600&end=1767225000", "end", "after start"),
        ("key=flow_temperature&start=1760000000&end=1767225600", "start", "at most 7 days"),
        (
            "key=flow_temperature&resolution=hourly&start=1600000000&end=1767225600",
            "start",
            "at most 731 days",
        ),
    ],
)
async def test_history_bad_input(
    vb: tuple[Bridge, VirtualClock],
    http: aiohttp.ClientSession,
    token: str,
    query: str,
    field: str,
    rule_part: str,
) -> None:
    b, _ = vb
    status, body = await call(http, b, "GET", f"/api/v1/history?{query}", token)
    assert status == 400
    [error] = [e for e in body["errors"] if e["field"] == field]
    assert rule_part in error["rule"]


async def test_events_since_kind_and_limit(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, clock = vb
    now = clock.time()
    for i in range(5):
        await b.db.events.log(EventKind.INFO, f"info {i}", ts=now - 500 + i * 100)
    await b.db.events.log(EventKind.LINK, "link lost", ts=now - 50, data={"reconnects": 1})
    status, body = await call(http, b, "GET", "/api/v1/events", token)
    assert status == 200
    assert [e["message"] for e in body["events"]] == [
        "link lost",
        "info 4",
        "info 3",
        "info 2",
        "info 1",
        "info 0",
    ]
    since = datetime.fromtimestamp(now - 250, tz=UTC).isoformat().replace("+00:00", "Z")
    status, body = await call(
        http, b, "GET", "/api/v1/events", token, params={"since": since, "kind": "info"}
    )
    assert [e["message"] for e in body["events"]] == ["info 4", "info 3"]
    status, body = await call(http, b, "GET", "/api/v1/events?limit=2&kind=info,link", token)
    assert [e["kind"] for e in body["events"]] == ["link", "info"]
    assert body["events"][0]["data"] == {"reconnects": 1}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("kind=gossip", "kind"),
        ("kind=info,", "kind"),
        ("since=soon", "since"),
        ("since=1767225600&until=1767225500", "until"),
    ],
)
async def test_events_bad_input(
    vb: tuple[Bridge, VirtualClock],
    http: aiohttp.ClientSession,
    token: str,
    query: str,
    field: str,
) -> None:
    b, _ = vb
    status, body = await call(http, b, "GET", f"/api/v1/events?{query}", token)
    assert status == 400
    assert fields_of(body) == {field}


# -- diagnostics and predictions -------------------------------------------------------------


async def test_diagnostics_has_counters_and_no_personal_data(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, clock = vb
    await call(
        http,
        b,
        "PUT",
        "/api/v1/settings",
        token,
        json={"name": "Attic", "location": "Zwolle", "email": "owner@example.org"},
    )
    await clock.advance(20)
    async with http.get(
        f"http://127.0.0.1:{b.port}/api/v1/diagnostics",
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        assert resp.status == 200
        text = await resp.text()
        diag = await resp.json()
    for secret in (token, b.thermostat.hardware_id, "Attic", "Zwolle", "owner@example.org"):
        assert secret not in text
    assert diag["versions"]["bridge"]
    assert diag["versions"]["schema"] >= 1
    assert diag["uptime_s"] >= 20
    assert diag["link"]["counters"]["requests"] > 0
    ot = diag["opentherm"]
    assert ot["connected"] is True
    assert ot["cycles"] >= 15
    per_id = {row["id"]: row for row in ot["per_id"]}
    assert per_id[0]["key"] == "status"
    assert per_id[0]["conversations"] >= ot["cycles"] - 1
    assert per_id[25]["raw"].startswith("0x")
    assert ot["totals"]["conversations"] == sum(r["conversations"] for r in ot["per_id"])
    assert diag["storage"]["retention_days"] == {
        "raw_samples": 90,
        "hourly_aggregates": 730,
        "events": 365,
        "egress_log": 365,
    }
    assert diag["push"]["clients"] == 0


async def test_predictions_say_the_learner_is_still_learning(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    # the full shape is tested in test_learning_service.py
    b, _ = vb
    status, body = await call(http, b, "GET", "/api/v1/predictions", token)
    assert status == 200
    assert set(body) == {"available", "status", "updated", "predictions"}
    assert body["predictions"]["learned"] is False
    assert body["predictions"]["progress"] < 100


# -- settings ------------------------------------------------------------------------------


async def test_settings_change_name_location_and_email(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    status, body = await call(http, b, "GET", "/api/v1/settings", token)
    assert status == 200
    assert body == {"name": "ThermoSmart", "location": None, "email": None}
    status, body = await call(
        http,
        b,
        "PUT",
        "/api/v1/settings",
        token,
        json={"name": "Living room", "location": "Utrecht", "email": "me@example.org"},
    )
    assert status == 200
    assert body == {"name": "Living room", "location": "Utrecht", "email": "me@example.org"}
    # visible through every client (P9): cloud object, health, native state
    _, cloud = await call(http, b, "GET", f"/thermostat/{b.thermostat.hardware_id}", token)
    assert cloud["name"] == "Living room"
    assert cloud["location"] == "Utrecht"
    _, health = await call(http, b, "GET", "/api/v1/health")
    assert health["name"] == "Living room"
    _, state = await call(http, b, "GET", "/api/v1/state", token)
    assert state["bridge"]["name"] == "Living room"
    # a partial update leaves the rest; null clears
    status, body = await call(http, b, "PUT", "/api/v1/settings", token, json={"email": None})
    assert body == {"name": "Living room", "location": "Utrecht", "email": None}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": 3}, "name"),
        ({"location": ""}, "location"),
        ({"location": "x" * 101}, "location"),
        ({"email": "not an address"}, "email"),
        ({"email": "@example.org"}, "email"),
        ({"email": ""}, "email"),
        ({"address": "Dorpsstraat 1"}, "address"),
        ({"timezone": "UTC"}, "timezone"),
        ({"name": "Good", "email": "bad"}, "email"),
        ({}, "(body)"),
        (["name"], "(body)"),
    ],
)
async def test_bad_settings_change_nothing(
    vb: tuple[Bridge, VirtualClock],
    http: aiohttp.ClientSession,
    token: str,
    body: Any,
    field: str,
) -> None:
    b, _ = vb
    before = await b.db.settings.get_all()
    status, error = await call(http, b, "PUT", "/api/v1/settings", token, json=body)
    assert status == 400
    assert field in fields_of(error), error
    assert await b.db.settings.get_all() == before
    assert b.name == "ThermoSmart"


# -- tokens --------------------------------------------------------------------------------


async def test_list_and_revoke_tokens(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    other = await b.db.auth.create_token("script")
    status, body = await call(http, b, "GET", "/api/v1/tokens", token)
    assert status == 200
    listed = {t["name"]: t for t in body["tokens"]}
    assert listed["test"]["current"] is True
    assert listed["script"]["current"] is False
    assert listed["script"]["active"] is True
    assert token not in str(body)
    assert other.token not in str(body)
    status, body = await call(http, b, "DELETE", f"/api/v1/tokens/{other.info.id}", token)
    assert status == 200
    assert body["token"]["active"] is False
    assert body["token"]["revoked"] is not None
    status, _ = await call(http, b, "GET", "/api/v1/thermostat", other.token)
    assert status == 401
    # idempotent
    status, body = await call(http, b, "DELETE", f"/api/v1/tokens/{other.info.id}", token)
    assert status == 200
    status, body = await call(http, b, "DELETE", "/api/v1/tokens/999", token)
    assert status == 404
    for bad in ("abc", "-1", "1.5", "9" * 19):
        status, body = await call(http, b, "DELETE", f"/api/v1/tokens/{bad}", token)
        assert status == 400
        assert fields_of(body) == {"id"}
    # the caller's own token is still good, and may revoke itself
    own = next(t for t in (await b.db.auth.list_tokens()) if t.name == "test")
    status, _ = await call(http, b, "DELETE", f"/api/v1/tokens/{own.id}", token)
    assert status == 200
    status, _ = await call(http, b, "GET", "/api/v1/tokens", token)
    assert status == 401


# -- schedule blocks ----------------------------------------------------------------------------

# the spring change in Europe/Amsterdam: Sunday 2026-03-29, 02:00 +01:00 jumps to 03:00 +02:00
DST_WEEK = [
    {"start": [5, 7, 0], "temperature": "home"},
    {"start": [5, 23, 0], "temperature": "not_home"},
    {"start": [6, 2, 30], "temperature": "comfort"},  # in the skipped hour: starts at the jump
    {"start": [6, 12, 0], "temperature": "not_home"},
]


async def test_schedule_blocks_across_a_daylight_saving_change(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    body = {
        "schedule": DST_WEEK,
        "exceptions": [
            {
                "start": [2026, 2, 29, 14, 0],
                "end": [2026, 2, 29, 16, 0],
                "temperature": "comfort",
                "description": "Visit",
            }
        ],
        "programs": {"comfort": 21.5},
    }
    status, _ = await call(http, b, "PATCH", "/api/v1/thermostat", token, json=body)
    assert status == 200
    status, answer = await call(
        http,
        b,
        "GET",
        "/api/v1/schedule/blocks?start=2026-03-28T12:00:00Z&end=2026-03-29T18:00:00%2B02:00",
        token,
    )
    assert status == 200, answer
    assert answer["timezone"] == "Europe/Amsterdam"
    assert answer["start"] == datetime(2026, 3, 28, 12, tzinfo=UTC).timestamp()
    spans = [
        (blk["start"], blk["end"], blk["program"], blk["source"], blk["description"])
        for blk in answer["blocks"]
    ]
    assert spans == [
        ("2026-03-28T06:00:00+00:00", "2026-03-28T22:00:00+00:00", "home", "schedule", None),
        # 23:00 +01:00 to the jump: three hours, not four
        ("2026-03-28T22:00:00+00:00", "2026-03-29T01:00:00+00:00", "not_home", "schedule", None),
        ("2026-03-29T01:00:00+00:00", "2026-03-29T10:00:00+00:00", "comfort", "schedule", None),
        ("2026-03-29T10:00:00+00:00", "2026-03-29T12:00:00+00:00", "not_home", "schedule", None),
        ("2026-03-29T12:00:00+00:00", "2026-03-29T14:00:00+00:00", "comfort", "exception", "Visit"),
        # the schedule resumes after the exception, until Saturday 07:00 +02:00
        ("2026-03-29T14:00:00+00:00", "2026-04-04T05:00:00+00:00", "not_home", "schedule", None),
    ]
    assert {blk["program"]: blk["target"] for blk in answer["blocks"]}["comfort"] == 21.5


async def test_thermostat_state_carries_the_current_and_next_block(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb  # the virtual clock starts at 2026-01-01 00:00 UTC (01:00 in Amsterdam)
    exception = {
        "start": [2025, 11, 31, 23, 0],
        "end": [2026, 0, 1, 3, 0],
        "temperature": "comfort",
        "description": "New year",
    }
    status, view = await call(
        http, b, "PATCH", "/api/v1/thermostat", token, json={"exceptions": [exception]}
    )
    assert status == 200
    current, upcoming = view["current_block"], view["next_block"]
    assert current["source"] == "exception"
    assert current["description"] == "New year"
    assert (current["start"], current["end"]) == (
        "2025-12-31T22:00:00+00:00",
        "2026-01-01T02:00:00+00:00",
    )
    assert current["target"] == view["target_temperature"]
    assert upcoming["start"] == current["end"]
    assert upcoming["source"] == "schedule"
    status, state = await call(http, b, "GET", "/api/v1/state", token)
    assert state["thermostat"]["current_block"] == current
    assert state["thermostat"]["next_block"] == upcoming


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z", "end"),
        ("start=2026-01-01T00:00:00Z&end=2026-02-01T00:00:01Z", "end"),
        ("start=yesterday", "start"),
        ("start=2026-01-01T00:00:00", "start"),
        ("end=-5", "end"),
        ("days=3", "days"),
    ],
)
async def test_schedule_blocks_range_is_checked(
    vb: tuple[Bridge, VirtualClock],
    http: aiohttp.ClientSession,
    token: str,
    query: str,
    field: str,
) -> None:
    b, _ = vb
    _, before = await call(http, b, "GET", "/api/v1/thermostat", token)
    status, body = await call(http, b, "GET", f"/api/v1/schedule/blocks?{query}", token)
    assert status == 400
    assert body["error"] == "invalid"
    assert field in {e["field"] for e in body["errors"]}
    _, after = await call(http, b, "GET", "/api/v1/thermostat", token)
    for key in ("schedule", "exceptions", "programs", "current_block", "next_block"):
        assert after[key] == before[key]
    # 31 days is the most; no token, no blocks
    status, body = await call(
        http,
        b,
        "GET",
        "/api/v1/schedule/blocks?start=2026-01-01T00:00:00Z&end=2026-02-01T00:00:00Z",
        token,
    )
    assert status == 200
    assert len(body["blocks"]) > 31
    status, _ = await call(http, b, "GET", "/api/v1/schedule/blocks")
    assert status == 401


# -- energy counters ---------------------------------------------------------------------------


async def _run(clock: VirtualClock, seconds: float) -> None:
    """Move the clock a minute at a time, letting the recorder's database writes (on their
    own thread, in real time) finish each minute: one big step would outrun them."""
    for _ in range(round(seconds / 60)):
        await clock.advance(60)
        for _ in range(5):
            await asyncio.sleep(0.01)


async def test_energy_counters_grow_without_clients_and_survive_a_restart(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    async with virtual_bridge(tmp_path) as (b, clock):
        token = await make_token(b)
        status, _ = await call(
            http, b, "PATCH", "/api/v1/thermostat", token, json={"target_temperature": 25}
        )
        assert status == 200
        await _run(clock, 1800)  # half an hour heating, no client connected
        status, state = await call(http, b, "GET", "/api/v1/state", token)
        first = state["energy"]
        assert first["ch_heat_kwh"] > 0.5
        # gas burnt is more than the heat delivered (efficiency below 100 %)
        assert first["ch_heat_kwh"] < first["ch_gas_kwh"] < first["ch_heat_kwh"] / 0.85
    async with virtual_bridge(tmp_path) as (b, clock):
        token = await make_token(b)
        status, state = await call(http, b, "GET", "/api/v1/state", token)
        restarted = state["energy"]
        # continues from the stored totals (which kept growing while the bridge stopped)
        stored = await b.db.energy.totals()
        assert restarted == {f"{name}_kwh": round(kwh, 3) for name, kwh in stored.items()}
        assert all(restarted[key] >= first[key] for key in first)
        await call(http, b, "PATCH", "/api/v1/thermostat", token, json={"target_temperature": 25})
        await _run(clock, 1800)
        status, state = await call(http, b, "GET", "/api/v1/state", token)
        second = state["energy"]
        assert all(second[key] >= restarted[key] for key in first)
        assert second["ch_heat_kwh"] > restarted["ch_heat_kwh"] + 0.5
