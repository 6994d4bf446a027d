"""The cloud-compatible API (THERMOSMART_API.md) on the stand-in, for synced thermostats."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bridge.core.requests import parse_update
from tests.cloud_stub.conftest import (
    BRIDGE_ID,
    HW,
    Cloud,
    auth,
    enrol,
    synced,
    thermostat_object,
)


async def _commands(http: aiohttp.ClientSession, cloud: Cloud, secret: str) -> list[Any]:
    async with http.get(
        f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/commands", headers=auth(secret)
    ) as resp:
        assert resp.status == 200
        commands: list[Any] = (await resp.json())["commands"]
        return commands


async def test_get_own_and_get_thermostat(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    _, token = await synced(http, cloud)
    async with http.get(f"{cloud.url}/thermostat", headers=auth(token)) as resp:
        assert resp.status == 200
        assert await resp.json() == {"hw": HW}
    async with http.get(f"{cloud.url}/thermostat/{HW}", headers=auth(token)) as resp:
        assert resp.status == 200
        assert await resp.json() == thermostat_object()
    # older clients pass the token in the query
    async with http.get(f"{cloud.url}/thermostat/{HW}", params={"access_token": token}) as resp:
        assert resp.status == 200


async def test_tokens_401_403_404(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    secret, token = await synced(http, cloud)
    _, other_token = await synced(http, cloud, bridge_id="b2", hardware_id="TSLOTHER0002")
    routes: list[tuple[str, str, Any]] = [
        ("GET", "", None),
        ("PUT", "", {"target_temperature": 20}),
        ("POST", "/pause", {"pause": True}),
        ("POST", "/unpause", None),
    ]
    async with http.get(f"{cloud.url}/thermostat") as resp:
        assert resp.status == 401
    for method, suffix, body in routes:
        url = f"{cloud.url}/thermostat/{HW}{suffix}"
        for headers in ({}, auth("wrong"), auth(secret)):  # a bridge secret is no owner token
            async with http.request(method, url, json=body, headers=headers) as resp:
                assert resp.status == 401, (method, url)
                assert resp.headers["WWW-Authenticate"] == 'Bearer realm="thermosmart-cloud"'
                assert (await resp.json())["error"] == "unauthorized"
        async with http.request(method, url, json=body, params={"access_token": "wrong"}) as resp:
            assert resp.status == 401
        async with http.request(method, url, json=body, headers=auth(other_token)) as resp:
            assert resp.status == 403, (method, url)
        unknown = f"{cloud.url}/thermostat/TSLNOSUCHONE{suffix}"
        async with http.request(method, unknown, json=body, headers=auth(token)) as resp:
            assert resp.status == 404, (method, unknown)
    assert await _commands(http, cloud, secret) == []


async def test_a_thermostat_that_has_not_synced_is_404(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    await enrol(http, cloud)
    _, token = cloud.store.create_owner_token(BRIDGE_ID)
    async with http.get(f"{cloud.url}/thermostat", headers=auth(token)) as resp:
        assert await resp.json() == {"hw": HW}
    async with http.get(f"{cloud.url}/thermostat/{HW}", headers=auth(token)) as resp:
        assert resp.status == 404
    with pytest.raises(LookupError):
        cloud.store.create_owner_token("notlinked")


async def test_put_applies_and_queues(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    secret, token = await synced(http, cloud)
    schedule = [
        {"start": [0, 7, 15], "temperature": "comfort"},
        {"start": [0, 6, 0], "temperature": "home"},
    ]
    body = {
        "target_temperature": "20.55",
        "programs": {"comfort": 22},
        "schedule": schedule,
        "outside_temperature": -2.5,
        "room_temperature": 18.25,
        "geofence_enabled": True,
    }
    async with http.put(f"{cloud.url}/thermostat/{HW}", json=body, headers=auth(token)) as resp:
        assert resp.status == 200
        updated = await resp.json()
    sorted_schedule = [schedule[1], schedule[0]]
    assert updated["target_temperature"] == 20.6
    assert updated["source"] == "remote"
    assert updated["programs"]["comfort"] == 22.0
    assert updated["programs"]["home"] == 19.5
    assert updated["schedule"] == sorted_schedule
    assert updated["outside_temperature"] == -2.5
    assert updated["room_temperature"] == 18.3
    assert updated["geofence_enabled"] is True
    async with http.get(f"{cloud.url}/thermostat/{HW}", headers=auth(token)) as resp:
        assert await resp.json() == updated
    (command,) = await _commands(http, cloud, secret)
    assert command["type"] == "update"
    # the queued body means to the bridge exactly what the client sent
    assert parse_update(command["body"]) == parse_update(body)
    assert command["body"] == {
        "target_temperature": 20.6,
        "programs": {"comfort": 22.0},
        "schedule": sorted_schedule,
        "outside_temperature": -2.5,
        "room_temperature": 18.3,
        "geofence_enabled": True,
    }


async def test_put_form_body_and_legacy_programs_under_schedule(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret, token = await synced(http, cloud)
    url = f"{cloud.url}/thermostat/{HW}"
    async with http.put(url, data={"target_temperature": "18.5"}, headers=auth(token)) as resp:
        assert resp.status == 200
        assert (await resp.json())["target_temperature"] == 18.5
    async with http.put(
        url, json={"schedule": {"home": 20, "pause": 6}}, headers=auth(token)
    ) as resp:
        assert resp.status == 200
        obj = await resp.json()
    assert obj["programs"]["home"] == 20.0
    assert obj["programs"]["pause"] == 6.0
    assert obj["schedule"] == thermostat_object()["schedule"]
    async with http.put(url, json={"outside_temperature": "auto"}, headers=auth(token)) as resp:
        assert (await resp.json())["outside_temperature"] == 3.2  # the bridge reports it
    types = [(c["type"], c["body"]) for c in await _commands(http, cloud, secret)]
    assert types == [
        ("update", {"target_temperature": 18.5}),
        ("update", {"programs": {"home": 20.0, "pause": 6.0}}),
        ("update", {"outside_temperature": "auto"}),
    ]


async def test_empty_put_is_204_and_queues_nothing(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret, token = await synced(http, cloud)
    async with http.put(f"{cloud.url}/thermostat/{HW}", json={}, headers=auth(token)) as resp:
        assert resp.status == 204
    assert await _commands(http, cloud, secret) == []


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"target_temperature": 31}, "target_temperature", "must be between 5 and 30 °C"),
        ({"target_temperature": True}, "target_temperature", "must be a number"),
        ({"programs": {"sauna": 80}}, "programs.sauna", "unknown field"),
        (
            {"schedule": [{"start": [0, 6, 10], "temperature": "home"}]},
            "schedule[0].start[2]",
            "must be 0, 15, 30 or 45",
        ),
        (
            {
                "exceptions": [
                    {"start": [2026, 1, 30, 0, 0], "end": [2026, 2, 1, 0, 0], "temperature": "home"}
                ]
            },
            "exceptions[0].start[2]",
            "no such date",
        ),
        ({"room_temperature": 80}, "room_temperature", "must be between -20 and 50 °C"),
        ({"location": "Amsterdam"}, "location", "unknown field"),
        ({"target_temperature": 20, "email": "a@b"}, "email", "unknown field"),
        (
            {"schedule": {"home": 20}, "programs": {"home": 19}},
            "schedule",
            "programs given twice (programs and schedule)",
        ),
        ([20], "(body)", "must be an object"),
    ],
)
async def test_bad_put_is_400_and_changes_nothing(
    cloud: Cloud, http: aiohttp.ClientSession, body: Any, field: str, rule: str
) -> None:
    secret, token = await synced(http, cloud)
    async with http.put(f"{cloud.url}/thermostat/{HW}", json=body, headers=auth(token)) as resp:
        assert resp.status == 400
        data = await resp.json()
    assert {"field": field, "rule": rule} in data["errors"], data
    async with http.get(f"{cloud.url}/thermostat/{HW}", headers=auth(token)) as resp:
        assert await resp.json() == thermostat_object()
    assert await _commands(http, cloud, secret) == []


async def test_pause_and_unpause(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    secret, token = await synced(http, cloud)
    url = f"{cloud.url}/thermostat/{HW}"
    async with http.post(f"{url}/pause", json={"pause": True}, headers=auth(token)) as resp:
        assert resp.status == 200
        paused = await resp.json()
    assert paused["source"] == "pause"
    assert paused["target_temperature"] == 10.0
    async with http.post(f"{url}/pause", json={"pause": "yes"}, headers=auth(token)) as resp:
        assert resp.status == 400
        assert (await resp.json())["errors"] == [
            {"field": "pause", "rule": "must be true or false"}
        ]
    async with http.post(f"{url}/pause", json={}, headers=auth(token)) as resp:
        assert resp.status == 400
    async with http.post(f"{url}/unpause", json={"pause": True}, headers=auth(token)) as resp:
        assert resp.status == 400
    async with http.post(f"{url}/unpause", headers=auth(token)) as resp:
        assert resp.status == 200
        assert (await resp.json())["source"] == "schedule"
    async with http.post(f"{url}/pause", json={"pause": False}, headers=auth(token)) as resp:
        assert resp.status == 200
    assert [c["body"] for c in await _commands(http, cloud, secret)] == [
        {"pause": True},
        {"pause": False},
        {"pause": False},
    ]
