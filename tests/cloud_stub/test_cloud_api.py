"""The cloud-compatible API (THERMOSMART_API.md) on the stand-in, for synced thermostats.

A change is a command the bridge answers over its sync connection: the
tests here connect a simulated bridge (:class:`bench.cloud_scale.SimBridge`,
the real protocol) where the answer matters; the real bridge's answers are
``test_with_bridge.py``'s."""

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
    online,
    synced,
    thermostat_object,
)


async def _commands(http: aiohttp.ClientSession, cloud: Cloud, token: str) -> list[Any]:
    async with http.get(
        f"{cloud.url}/api/v1/thermostats/{HW}/commands", headers=auth(token)
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
        ("GET", "/commands", None),
    ]
    async with http.get(f"{cloud.url}/thermostat") as resp:
        assert resp.status == 401
    for method, suffix, body in routes:
        root = "/api/v1/thermostats" if suffix == "/commands" else "/thermostat"
        url = f"{cloud.url}{root}/{HW}{suffix}"
        for headers in ({}, auth("wrong"), auth(secret)):  # a bridge secret is no owner token
            async with http.request(method, url, json=body, headers=headers) as resp:
                assert resp.status == 401, (method, url)
                assert resp.headers["WWW-Authenticate"] == 'Bearer realm="thermosmart-cloud"'
                assert (await resp.json())["error"] == "unauthorized"
        async with http.request(method, url, json=body, params={"access_token": "wrong"}) as resp:
            assert resp.status == 401
        async with http.request(method, url, json=body, headers=auth(other_token)) as resp:
            assert resp.status == 403, (method, url)
        unknown = f"{cloud.url}{root}/TSLNOSUCHONE{suffix}"
        async with http.request(method, unknown, json=body, headers=auth(token)) as resp:
            assert resp.status == 404, (method, unknown)
    assert await _commands(http, cloud, token) == []


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


async def test_put_is_delivered_and_answered_with_what_the_bridge_confirmed(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
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
    sorted_schedule = [schedule[1], schedule[0]]
    normalised = {
        "target_temperature": 20.6,
        "programs": {"comfort": 22.0},
        "schedule": sorted_schedule,
        "outside_temperature": -2.5,
        "room_temperature": 18.3,
        "geofence_enabled": True,
    }
    confirmed = thermostat_object(target_temperature=20.6, source="remote", name="Confirmed")

    def answer(command: Any, obj: dict[str, Any]) -> tuple[str, dict[str, Any], list[Any]]:
        return "applied", confirmed, []

    async with (
        online(http, cloud, secret, answer=answer) as bridge,
        http.put(f"{cloud.url}/thermostat/{HW}", json=body, headers=auth(token)) as resp,
    ):
        assert resp.status == 200
        updated = await resp.json()
    # the answer is the object the bridge confirmed, not the stand-in's guess
    assert updated == confirmed
    async with http.get(f"{cloud.url}/thermostat/{HW}", headers=auth(token)) as resp:
        assert await resp.json() == confirmed
    (delivered,) = bridge.commands
    assert delivered.kind == "update"
    # the delivered body means to the bridge exactly what the client sent
    assert parse_update(delivered.body) == parse_update(body)
    assert delivered.body == normalised
    (command,) = await _commands(http, cloud, token)
    assert command["status"] == "applied"
    assert command["kind"] == "update"
    assert command["body"] == normalised


async def test_put_form_body_and_legacy_programs_under_schedule(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret, token = await synced(http, cloud)
    url = f"{cloud.url}/thermostat/{HW}"
    async with online(http, cloud, secret) as bridge:
        async with http.put(url, data={"target_temperature": "18.5"}, headers=auth(token)) as resp:
            assert resp.status == 200
            assert (await resp.json())["target_temperature"] == 18.5
        async with http.put(
            url, json={"schedule": {"home": 20, "pause": 6}}, headers=auth(token)
        ) as resp:
            assert resp.status == 200
        async with http.put(url, json={"outside_temperature": "auto"}, headers=auth(token)) as resp:
            assert resp.status == 200
    assert [(c.kind, c.body) for c in bridge.commands] == [
        ("update", {"target_temperature": 18.5}),
        ("update", {"programs": {"home": 20.0, "pause": 6.0}}),
        ("update", {"outside_temperature": "auto"}),
    ]


async def test_empty_put_is_204_and_sends_nothing(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret, token = await synced(http, cloud)
    async with (
        online(http, cloud, secret) as bridge,
        http.put(f"{cloud.url}/thermostat/{HW}", json={}, headers=auth(token)) as resp,
    ):
        assert resp.status == 204
    assert bridge.commands == []
    assert await _commands(http, cloud, token) == []


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
    _, token = await synced(http, cloud)
    async with http.put(f"{cloud.url}/thermostat/{HW}", json=body, headers=auth(token)) as resp:
        assert resp.status == 400
        data = await resp.json()
    assert {"field": field, "rule": rule} in data["errors"], data
    async with http.get(f"{cloud.url}/thermostat/{HW}", headers=auth(token)) as resp:
        assert await resp.json() == thermostat_object()
    assert await _commands(http, cloud, token) == []


async def test_pause_and_unpause(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    secret, token = await synced(http, cloud)
    url = f"{cloud.url}/thermostat/{HW}"
    async with online(http, cloud, secret) as bridge:
        async with http.post(f"{url}/pause", json={"pause": True}, headers=auth(token)) as resp:
            assert resp.status == 200
            assert (await resp.json())["source"] == "pause"
        async with http.post(f"{url}/unpause", headers=auth(token)) as resp:
            assert resp.status == 200
            assert (await resp.json())["source"] == "schedule"
        async with http.post(f"{url}/pause", json={"pause": False}, headers=auth(token)) as resp:
            assert resp.status == 200
    assert [c.body for c in bridge.commands] == [
        {"pause": True},
        {"pause": False},
        {"pause": False},
    ]
    async with http.post(f"{url}/pause", json={"pause": "yes"}, headers=auth(token)) as resp:
        assert resp.status == 400
        assert (await resp.json())["errors"] == [
            {"field": "pause", "rule": "must be true or false"}
        ]
    async with http.post(f"{url}/pause", json={}, headers=auth(token)) as resp:
        assert resp.status == 400
    async with http.post(f"{url}/unpause", json={"pause": True}, headers=auth(token)) as resp:
        assert resp.status == 400
    assert len(await _commands(http, cloud, token)) == 3


async def test_an_offline_bridge_gets_the_change_when_it_connects(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret, token = await synced(http, cloud)
    url = f"{cloud.url}/thermostat/{HW}"
    async with http.put(url, json={"target_temperature": 23}, headers=auth(token)) as resp:
        assert resp.status == 202
        pending = await resp.json()
    assert pending["status"] == "pending"
    # pending is never shown as the state
    async with http.get(url, headers=auth(token)) as resp:
        assert (await resp.json())["target_temperature"] == 19.5
    assert [c["status"] for c in await _commands(http, cloud, token)] == ["pending"]
    async with online(http, cloud, secret) as bridge:
        await bridge.answered(1)  # connecting delivers it; closing waits for the answer
    assert [(c.id, c.body) for c in bridge.commands] == [
        (pending["id"], {"target_temperature": 23.0})
    ]
    assert [c["status"] for c in await _commands(http, cloud, token)] == ["applied"]
    async with http.get(url, headers=auth(token)) as resp:
        assert (await resp.json())["target_temperature"] == 23.0


def _answering(status: str, errors: list[Any]) -> Any:
    def answer(command: Any, obj: dict[str, Any]) -> tuple[str, dict[str, Any], list[Any]]:
        return status, obj, errors

    return answer


async def test_a_refused_change_is_400_with_the_bridge_errors(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret, token = await synced(http, cloud)
    errors = [{"field": "target_temperature", "rule": "the boiler takes at most 25 °C"}]
    async with (
        online(http, cloud, secret, answer=_answering("rejected", errors)),
        http.put(
            f"{cloud.url}/thermostat/{HW}", json={"target_temperature": 28}, headers=auth(token)
        ) as resp,
    ):
        assert resp.status == 400
        data = await resp.json()
    assert data["error"] == "rejected"
    assert data["errors"] == errors
    (command,) = await _commands(http, cloud, token)
    assert (command["status"], command["errors"]) == ("rejected", errors)
    async with http.get(f"{cloud.url}/thermostat/{HW}", headers=auth(token)) as resp:
        assert await resp.json() == thermostat_object()


async def test_a_superseded_change_is_409(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    secret, token = await synced(http, cloud)
    async with (
        online(http, cloud, secret, answer=_answering("superseded", [])),
        http.post(
            f"{cloud.url}/thermostat/{HW}/pause", json={"pause": True}, headers=auth(token)
        ) as resp,
    ):
        assert resp.status == 409
        data = await resp.json()
    assert data["error"] == "superseded"
    assert "a later change made on the thermostat itself won" in data["message"]
    assert [c["status"] for c in await _commands(http, cloud, token)] == ["superseded"]
