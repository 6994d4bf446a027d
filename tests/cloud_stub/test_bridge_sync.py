"""Bridge enrolment, the sync connection's bridge side, and erase (P13) on the stand-in."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
from typing import Any

import aiohttp
import pytest

from bridge.core import cloud_sync as proto
from bridge.core.purposes import SERVICE_FIELDS
from cloud_stub.store import BRIDGE_TABLES
from cloud_stub.sync import REPLACED
from tests.cloud_stub.conftest import (
    BRIDGE_ID,
    HW,
    OWNER,
    Cloud,
    auth,
    enrol,
    start_link,
    synced,
    thermostat_object,
)


def _rows(cloud: Cloud, table: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{cloud.db_path}?mode=ro", uri=True)) as db:
        rows: list[tuple[Any, ...]] = db.execute(f"SELECT * FROM {table}").fetchall()
    return rows


async def test_enrol_stores_only_the_hash_of_the_secret(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret = await enrol(http, cloud)
    assert len(secret) >= 40
    (row,) = _rows(cloud, "bridges")
    assert row[0] == BRIDGE_ID
    assert row[1] == HW
    assert row[2] == hashlib.sha256(secret.encode()).hexdigest()
    assert row[3] == "2026-01"
    assert secret.encode() not in cloud.db_path.read_bytes()


@pytest.mark.parametrize(
    ("form", "field", "rule"),
    [
        ({"hardware_id": HW, "terms_version": "1"}, "bridge_id", "required"),
        ({"bridge_id": "a/b", "hardware_id": HW, "terms_version": "1"}, "bridge_id", "must be"),
        ({"bridge_id": "x" * 65, "hardware_id": HW, "terms_version": "1"}, "bridge_id", "1-64"),
        ({"bridge_id": "b1", "hardware_id": "", "terms_version": "1"}, "hardware_id", "must be"),
        ({"bridge_id": "b1", "hardware_id": HW, "terms_version": ""}, "terms_version", "empty"),
        (
            {"bridge_id": "b1", "hardware_id": HW, "terms_version": "1", "email": "a@b"},
            "email",
            "unknown field",
        ),
    ],
)
async def test_a_link_request_refuses_bad_forms(
    cloud: Cloud, http: aiohttp.ClientSession, form: dict[str, str], field: str, rule: str
) -> None:
    url = f"{cloud.url}/oauth2/device_authorization"
    async with http.post(url, data={"client_id": "thermosmart-bridge", **form}) as resp:
        assert resp.status == 400
        data = await resp.json()
    assert data["error"] == "invalid_request"
    assert any(e["field"] == field and rule in e["rule"] for e in data["errors"]), data
    assert _rows(cloud, "link_requests") == []


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        ({"data": {"client_id": "someone", "bridge_id": "b1"}}, 401, "invalid_client"),
        (
            {"data": {"bridge_id": "b1", "hardware_id": HW, "terms_version": "1"}},
            401,
            "invalid_client",
        ),
        (
            {
                "data": {
                    "client_id": "thermosmart-bridge",
                    "scope": "ot",
                    "bridge_id": "b1",
                    "hardware_id": HW,
                    "terms_version": "1",
                }
            },
            400,
            "invalid_scope",
        ),
        ({"json": {"client_id": "thermosmart-bridge"}}, 400, "invalid_request"),
        (
            {
                "data": "client_id=thermosmart-bridge&client_id=x",
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            },
            400,
            "invalid_request",
        ),
    ],
)
async def test_a_link_request_names_its_client_in_a_form(
    cloud: Cloud, http: aiohttp.ClientSession, kwargs: dict[str, Any], status: int, error: str
) -> None:
    async with http.post(f"{cloud.url}/oauth2/device_authorization", **kwargs) as resp:
        assert resp.status == status
        assert (await resp.json())["error"] == error
    assert _rows(cloud, "link_requests") == []


async def test_a_linked_bridge_cannot_ask_again(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    await enrol(http, cloud)
    for bridge_id, hw, field in (
        (BRIDGE_ID, "TSLOTHER", "bridge_id"),
        ("other", HW, "hardware_id"),
    ):
        form = {
            "client_id": "thermosmart-bridge",
            "bridge_id": bridge_id,
            "hardware_id": hw,
            "terms_version": "1",
        }
        async with http.post(f"{cloud.url}/oauth2/device_authorization", data=form) as resp:
            assert resp.status == 400
            data = await resp.json()
        assert data["errors"] == [{"field": field, "rule": "already linked"}]
    assert len(_rows(cloud, "bridges")) == 1
    assert _rows(cloud, "link_requests") == []


async def _sync(
    http: aiohttp.ClientSession, cloud: Cloud, secret: str, *frames: Any
) -> tuple[str, list[Any]]:
    """Open the sync connection, send ``frames`` (dicts as JSON, or raw text), close;
    returns the hello's terms version and the frames the stand-in sent. Closing waits
    until the stand-in has handled all of them."""
    url = f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/sync"
    async with http.ws_connect(url, headers=auth(secret)) as ws:
        hello = proto.parse_cloud_frame((await ws.receive()).data)
        assert isinstance(hello, proto.Hello)
        for frame in frames:
            await ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))
        await ws.close()
        return hello.terms_version, []


def _stored(cloud: Cloud) -> Any:
    found = cloud.store.get_object(BRIDGE_ID)
    return None if found is None else found[0]


async def test_upload_is_stored_as_the_confirmed_thermostat(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret = await enrol(http, cloud)
    obj = thermostat_object()
    obj["schedule"].reverse()  # any order; stored sorted, as the bridge keeps it
    terms, _ = await _sync(http, cloud, secret, proto.thermostat_frame(5, obj))
    assert terms == "2026-01"
    expected = {k: v for k, v in thermostat_object().items() if k != "location"}
    assert _stored(cloud) == expected
    # a later upload replaces it; an older one (overtaken in flight) does not
    await _sync(
        http,
        cloud,
        secret,
        proto.thermostat_frame(7, thermostat_object(room_temperature=None)),
        proto.thermostat_frame(6, thermostat_object(room_temperature=30.0)),
    )
    assert _stored(cloud)["room_temperature"] is None


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"colour": "red"}, "colour", "may not carry"),
        ({"email": "owner@example.org"}, "email", "may not carry"),
        ({"location": "Utrecht"}, "location", "may not carry"),
        ({"room_temperature": "warm"}, "room_temperature", "must be a number"),
        ({"target_temperature": None}, "target_temperature", "must be a number"),
        ({"geofence_enabled": 1}, "geofence_enabled", "must be true or false"),
        ({"source": "cloud"}, "source", "must be one of"),
        ({"name": 5}, "name", "must be a string"),
        ({"outside_temperature_icon": 3}, "outside_temperature_icon", "must be a string"),
        ({"programs": {"home": 19}}, "programs.anti_freeze", "required"),
        (
            {"programs": {**thermostat_object()["programs"], "sauna": 80}},
            "programs.sauna",
            "unknown field",
        ),
        (
            {"schedule": [{"start": [7, 0, 0], "temperature": "home"}]},
            "schedule[0].start[0]",
            "must be 0-6",
        ),
        (
            {
                "exceptions": [
                    {
                        "start": [2026, 12, 1, 0, 0],
                        "end": [2026, 12, 2, 0, 0],
                        "temperature": "home",
                    }
                ]
            },
            "exceptions[0].start[1]",
            "must be 0-11",
        ),
        ({"ot": {"enabled": True, "raw": {"ot25": "0x2a80"}}}, "ot.raw.ot25", "upper-case"),
        ({"ot": {"enabled": True, "raw": {"ot256": "0x0000"}}}, "ot.raw.ot256", "ot0-ot255"),
        ({"ot": {"enabled": True}}, "ot.raw", "required"),
        ({"geofence_devices": [{"phone": [1]}]}, "geofence_devices[0].phone", "values must be"),
        ({"geofence_devices": "phone"}, "geofence_devices", "must be a list"),
    ],
)
async def test_an_upload_outside_the_thermostat_shape_is_ignored(
    cloud: Cloud,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    changes: dict[str, Any],
    field: str,
    rule: str,
) -> None:
    caplog.set_level(logging.INFO, logger="cloud_stub.sync")
    secret = await enrol(http, cloud)
    obj = {k: v for k, v in thermostat_object(**changes).items() if k != "location"}
    obj.update(changes)
    await _sync(http, cloud, secret, {"type": "thermostat", "seq": 1, "thermostat": obj})
    assert _rows(cloud, "thermostats") == []
    ignored = [r.getMessage() for r in caplog.records if r.name == "cloud_stub.sync"]
    assert len(ignored) == 1
    assert field in ignored[0]
    assert rule in ignored[0]


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1]",
        '{"type": "thermostat", "seq": 1, "seq": 2}',
        '{"no": "type"}',
        '{"type": "thermostat", "seq": -1, "thermostat": {}}',
        '{"type": "result", "id": 1, "status": "done", "seq": 1, "thermostat": {}}',
        '{"type": "retention", "retention_days": 0}',
        "[" * 40 + "]" * 40,
        "too large",
    ],
    ids=["text", "array", "twice", "no-type", "seq", "status", "retention", "deep", "large"],
)
async def test_frames_outside_the_protocol_are_ignored_and_the_connection_stays(
    cloud: Cloud, http: aiohttp.ClientSession, frame: str
) -> None:
    secret = await enrol(http, cloud)
    too_large = frame == "too large"
    if too_large:
        frame = '{"type": "thermostat", "pad": "' + "x" * proto.MAX_FRAME + '"}'
    await _sync(http, cloud, secret, frame, proto.thermostat_frame(1, thermostat_object()))
    assert cloud.server.hub.stats.ignored == 1
    # a frame larger than the limit ends the connection (1009); after any other the
    # connection goes on and the next frame is stored
    assert (_stored(cloud) is None) == too_large


async def test_a_frame_of_an_unknown_type_is_ignored(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret = await enrol(http, cloud)
    await _sync(http, cloud, secret, {"type": "weather", "city": "Utrecht"})
    assert cloud.server.hub.stats.ignored == 1
    assert b"Utrecht" not in cloud.db_path.read_bytes()


async def test_the_bridge_states_its_retention_over_the_connection(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret = await enrol(http, cloud)
    await _sync(http, cloud, secret, proto.retention_frame(30))
    record = cloud.store.bridge(BRIDGE_ID)
    assert record is not None
    assert record.retention_days == 30


async def test_a_newer_connection_replaces_the_older(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret = await enrol(http, cloud)
    url = f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/sync"
    async with http.ws_connect(url, headers=auth(secret)) as first:
        await first.receive()  # hello
        async with http.ws_connect(url, headers=auth(secret)) as second:
            await second.receive()
            closed = await first.receive()
            assert closed.type == aiohttp.WSMsgType.CLOSE
            assert first.close_code == REPLACED
            assert cloud.server.hub.count == 1


async def test_the_sync_route_needs_the_bridge_own_secret(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret = await enrol(http, cloud)
    other = await enrol(http, cloud, "fedcba9876543210", "TSL0000000002")
    base = f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}"
    for headers in ({}, auth("not-a-secret"), {"Authorization": f"Basic {secret}"}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{base}/sync", headers=headers)
        assert refused.value.status == 401
    # the query is not a place for a bridge secret
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(f"{base}/sync?access_token={secret}")
    assert refused.value.status == 400
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(f"{base}/sync", headers=auth(other))
    assert refused.value.status == 403
    async with http.get(f"{base}/sync", headers=auth(secret)) as resp:
        assert resp.status == 400  # not a WebSocket request
        assert (await resp.json())["message"] == "the sync route takes a WebSocket upgrade only"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(
            f"{cloud.url}/api/v1/bridges/unknownbridge/sync", headers=auth(secret)
        )
    assert refused.value.status == 404
    for headers in ({}, auth("not-a-secret"), auth(other)):
        async with http.delete(base, headers=headers) as resp:
            assert resp.status in (401, 403)
    assert _rows(cloud, "thermostats") == []
    assert len(_rows(cloud, "bridges")) == 2


async def test_the_old_polled_routes_are_gone(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    secret, _ = await synced(http, cloud)
    base = f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}"
    for method, path in (
        ("GET", "/thermostat"),
        ("PUT", "/thermostat"),
        ("GET", "/commands"),
        ("PUT", "/retention"),
    ):
        async with http.request(method, f"{base}{path}", headers=auth(secret)) as resp:
            assert resp.status in (404, 405), (method, path)


async def test_erase_leaves_nothing(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    """P13: after DELETE, neither the tables nor the bytes of the file hold the bridge's data."""
    await start_link(http, cloud)  # a second request of the bridge, never answered
    secret, token = await synced(http, cloud)
    other_secret, _ = await synced(
        http, cloud, bridge_id="keepthisbridge", hardware_id="TSLKEEPTHIS01"
    )
    async with http.put(
        f"{cloud.url}/thermostat/{HW}",
        json={
            "exceptions": [
                {
                    "start": [2026, 1, 1, 8, 0],
                    "end": [2026, 1, 3, 8, 0],
                    "temperature": "pause",
                    "description": "Bij oma in Zwolle",
                }
            ]
        },
        headers=auth(token),
    ) as resp:
        assert resp.status == 202  # pending: the bridge is offline
    pseudonym = "p" * 10 + "Q7xYz9Kw2mLq4R"
    stats = {
        "pseudonym": pseudonym,
        "day": "2026-01-14",
        "degree_days": 14.2,
        "mean_modulation": 31.0,
        "burner_hours": 6.5,
    }
    async with http.post(f"{cloud.url}/api/v1/statistics", json=stats, headers=auth(secret)):
        pass
    report: dict[str, Any] = dict.fromkeys(SERVICE_FIELDS)
    report["recent_faults"] = [{"kind": "boiler_fault", "code": "E133"}]
    async with http.put(
        f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/service", json=report, headers=auth(secret)
    ) as resp:
        assert resp.status == 200
    before = cloud.db_path.read_bytes()
    for marker in (HW, BRIDGE_ID, "Woonkamer", "Bij oma in Zwolle"):
        assert marker.encode() in before

    async with http.delete(
        f"{cloud.url}/api/v1/statistics/{pseudonym}", headers=auth(secret)
    ) as resp:
        assert await resp.json() == {"erased": 1}
    async with http.delete(f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}", headers=auth(secret)) as resp:
        assert resp.status == 204

    assert {t: len(_rows(cloud, t)) for t in (*BRIDGE_TABLES, "statistics")} == {
        "bridges": 1,
        "thermostats": 1,
        "commands": 0,
        "owner_tokens": 1,
        "auth_codes": 0,
        "link_requests": 0,
        "service_reports": 0,
        "statistics": 0,
    }
    assert _rows(cloud, "bridges")[0][0] == "keepthisbridge"
    after = cloud.db_path.read_bytes()
    gone = [
        HW,
        BRIDGE_ID,
        "Bij oma in Zwolle",
        pseudonym,
        hashlib.sha256(secret.encode()).hexdigest(),
        hashlib.sha256(token.encode()).hexdigest(),
    ]
    for marker in gone:
        assert marker.encode() not in after, marker
    # the other bridge's data is still there
    assert b"TSLKEEPTHIS01" in after
    # the erased bridge's secret and owner token are dead; its ids are free again
    async with http.get(f"{cloud.url}/thermostat", headers=auth(token)) as resp:
        assert resp.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/sync", headers=auth(secret))
    assert refused.value.status == 401
    async with http.get(
        f"{cloud.url}/api/v1/weather", params={"city": "Utrecht"}, headers=auth(other_secret)
    ) as resp:
        assert resp.status == 200
    await enrol(http, cloud)


async def test_erase_of_the_only_bridge_empties_every_table(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret, _ = await synced(http, cloud)
    async with http.delete(f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}", headers=auth(secret)) as resp:
        assert resp.status == 204
    for table in (*BRIDGE_TABLES, "statistics"):
        assert _rows(cloud, table) == [], table
    # the owner's account is the owner's, not the bridge's
    assert [row[1] for row in _rows(cloud, "owners")] == [OWNER]
    data = cloud.db_path.read_bytes()
    for marker in (HW, BRIDGE_ID, "Woonkamer", "Utrecht", "Wintersport"):
        assert marker.encode() not in data, marker
