"""Bridge enrolment, thermostat upload, command pull and erase (P13) on the stand-in."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from typing import Any

import aiohttp
import pytest

from bridge.core.purposes import SERVICE_FIELDS
from cloud_stub.store import BRIDGE_TABLES
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


async def test_upload_and_read_back_the_thermostat(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret = await enrol(http, cloud)
    url = f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/thermostat"
    async with http.get(url, headers=auth(secret)) as resp:
        assert resp.status == 404  # nothing uploaded yet
    obj = thermostat_object()
    obj["schedule"].reverse()  # any order; stored sorted, as the bridge keeps it
    async with http.put(url, json=obj, headers=auth(secret)) as resp:
        assert resp.status == 200
        stored = await resp.json()
    async with http.get(url, headers=auth(secret)) as resp:
        assert resp.status == 200
        assert await resp.json() == stored
    assert stored == thermostat_object()
    # a second upload replaces the first
    async with http.put(url, json=thermostat_object(room_temperature=None), headers=auth(secret)):
        pass
    async with http.get(url, headers=auth(secret)) as resp:
        assert (await resp.json())["room_temperature"] is None


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"colour": "red"}, "colour", "unknown field"),
        ({"email": "owner@example.org"}, "email", "unknown field"),
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
async def test_upload_is_checked_against_the_thermostat_shape(
    cloud: Cloud, http: aiohttp.ClientSession, changes: dict[str, Any], field: str, rule: str
) -> None:
    secret = await enrol(http, cloud)
    url = f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/thermostat"
    async with http.put(url, json=thermostat_object(**changes), headers=auth(secret)) as resp:
        assert resp.status == 400
        data = await resp.json()
    assert any(e["field"] == field and rule in e["rule"] for e in data["errors"]), data
    assert _rows(cloud, "thermostats") == []


async def test_upload_needs_every_field(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    secret = await enrol(http, cloud)
    obj = thermostat_object()
    del obj["fw"]
    url = f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/thermostat"
    async with http.put(url, json=obj, headers=auth(secret)) as resp:
        assert resp.status == 400
        assert (await resp.json())["errors"] == [{"field": "fw", "rule": "required"}]


async def test_bridge_routes_need_the_bridge_own_secret(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret = await enrol(http, cloud)
    other = await enrol(http, cloud, "fedcba9876543210", "TSL0000000002")
    base = f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}"
    routes = [
        ("GET", f"{base}/thermostat", None),
        ("PUT", f"{base}/thermostat", thermostat_object()),
        ("GET", f"{base}/commands", None),
        ("DELETE", base, None),
    ]
    for method, url, body in routes:
        for headers in ({}, auth("not-a-secret"), {"Authorization": f"Basic {secret}"}):
            async with http.request(method, url, json=body, headers=headers) as resp:
                assert resp.status == 401, (method, url, headers)
                assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        # the query is not a place for a bridge secret
        async with http.request(method, f"{url}?access_token={secret}", json=body) as resp:
            assert resp.status == 400
        async with http.request(method, url, json=body, headers=auth(other)) as resp:
            assert resp.status == 403, (method, url)
        unknown = url.replace(BRIDGE_ID, "unknownbridge")
        async with http.request(method, unknown, json=body, headers=auth(secret)) as resp:
            assert resp.status == 404, (method, unknown)
    assert _rows(cloud, "thermostats") == []
    assert len(_rows(cloud, "bridges")) == 2


async def test_commands_are_returned_once(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    secret, token = await synced(http, cloud)
    commands_url = f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/commands"
    async with http.get(commands_url, headers=auth(secret)) as resp:
        assert await resp.json() == {"commands": []}
    async with http.put(
        f"{cloud.url}/thermostat/{HW}", json={"target_temperature": 21.04}, headers=auth(token)
    ) as resp:
        assert resp.status == 200
    async with http.post(
        f"{cloud.url}/thermostat/{HW}/pause", json={"pause": True}, headers=auth(token)
    ) as resp:
        assert resp.status == 200
    async with http.get(commands_url, headers=auth(secret)) as resp:
        first = (await resp.json())["commands"]
    assert [(c["type"], c["body"]) for c in first] == [
        ("update", {"target_temperature": 21.0}),
        ("pause", {"pause": True}),
    ]
    assert first[0]["id"] < first[1]["id"]
    assert first[0]["created"].startswith("2026-01-15T12:00:00")
    async with http.get(commands_url, headers=auth(secret)) as resp:
        assert await resp.json() == {"commands": []}
    assert _rows(cloud, "commands") == []


async def test_an_upload_keeps_changes_the_bridge_has_not_pulled(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret, token = await synced(http, cloud)
    async with http.put(
        f"{cloud.url}/thermostat/{HW}", json={"programs": {"comfort": 22.5}}, headers=auth(token)
    ):
        pass
    url = f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/thermostat"
    async with http.put(url, json=thermostat_object(room_temperature=20.1), headers=auth(secret)):
        pass
    async with http.get(f"{cloud.url}/thermostat/{HW}", headers=auth(token)) as resp:
        obj = await resp.json()
    assert obj["room_temperature"] == 20.1
    assert obj["programs"]["comfort"] == 22.5
    # once pulled, the bridge's next upload is the whole truth
    async with http.get(f"{url[: -len('/thermostat')]}/commands", headers=auth(secret)):
        pass
    async with http.put(url, json=thermostat_object(), headers=auth(secret)):
        pass
    async with http.get(f"{cloud.url}/thermostat/{HW}", headers=auth(token)) as resp:
        assert (await resp.json())["programs"]["comfort"] == 21.0


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
        assert resp.status == 200
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
    async with http.get(
        f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/thermostat", headers=auth(secret)
    ) as resp:
        assert resp.status == 401
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
