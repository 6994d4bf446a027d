"""The cloud-compatible API (THERMOSMART_API.md) against the real bridge on loopback."""

from __future__ import annotations

from pathlib import Path
import re
from typing import Any

import aiohttp
import pytest

from bridge.config import validate
from bridge.daemon import Bridge

from .conftest import base_url


@pytest.fixture
async def token(bridge: Bridge) -> str:
    issued = await bridge.db.auth.create_token("client")
    return issued.token


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _get(http: aiohttp.ClientSession, b: Bridge, auth: dict[str, str]) -> dict[str, Any]:
    async with http.get(f"{base_url(b)}/thermostat/{b.thermostat.hardware_id}", headers=auth) as r:
        assert r.status == 200
        body: dict[str, Any] = await r.json()
        return body


async def _put(
    http: aiohttp.ClientSession, b: Bridge, auth: dict[str, str], body: Any
) -> tuple[int, Any]:
    async with http.put(
        f"{base_url(b)}/thermostat/{b.thermostat.hardware_id}", json=body, headers=auth
    ) as r:
        return r.status, (await r.json() if r.status != 204 else None)


async def test_thermostat_object_has_every_field(
    bridge: Bridge, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    async with http.get(f"{base_url(bridge)}/thermostat", headers=auth) as r:
        hw = (await r.json())["hw"]
    assert hw == bridge.thermostat.hardware_id
    obj = await _get(http, bridge, auth)
    assert set(obj) == {
        "name",
        "room_temperature",
        "target_temperature",
        "outside_temperature",
        "outside_temperature_icon",
        "programs",
        "schedule",
        "exceptions",
        "source",
        "fw",
        "location",
        "geofence_enabled",
        "geofence_devices",
        "ot",
    }
    assert set(obj["programs"]) == {"anti_freeze", "not_home", "home", "comfort", "pause"}
    assert obj["source"] in {"schedule", "exception"}
    assert obj["ot"]["enabled"] is True
    for key, value in obj["ot"]["raw"].items():
        assert re.fullmatch(r"ot\d+", key)
        assert re.fullmatch(r"0x[0-9A-F]{4}", value)
    for entry in obj["schedule"]:
        day, hour, minute = entry["start"]
        assert 0 <= day <= 6
        assert 0 <= hour <= 23
        assert minute in (0, 15, 30, 45)


async def test_unknown_thermostat_and_missing_token(
    bridge: Bridge, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    async with http.get(f"{base_url(bridge)}/thermostat/NOPE", headers=auth) as r:
        assert r.status == 404
    async with http.get(f"{base_url(bridge)}/thermostat/{bridge.thermostat.hardware_id}") as r:
        assert r.status == 401
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


async def test_target_is_a_remote_override_that_persists(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    cfg = validate({"data_dir": str(tmp_path), "host": "127.0.0.1", "port": 0, "zeroconf": False})
    b = Bridge(cfg)
    await b.start()
    try:
        headers = {"Authorization": f"Bearer {(await b.db.auth.create_token('c')).token}"}
        status, obj = await _put(http, b, headers, {"target_temperature": 23.5})
        assert status == 200
        assert obj["target_temperature"] == 23.5
        assert obj["source"] == "remote"
    finally:
        await b.stop()
    again = Bridge(cfg)
    await again.start()
    try:
        obj = await _get(http, again, headers)
        assert obj["target_temperature"] == 23.5
        assert obj["source"] == "remote"
    finally:
        await again.stop()


async def test_form_body_is_accepted(
    bridge: Bridge, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    async with http.put(
        f"{base_url(bridge)}/thermostat/{bridge.thermostat.hardware_id}",
        data={"target_temperature": "20.5"},
        headers=auth,
    ) as r:
        assert r.status == 200
        assert (await r.json())["target_temperature"] == 20.5


async def test_programs_also_under_schedule_key(
    bridge: Bridge, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    status, obj = await _put(http, bridge, auth, {"programs": {"comfort": 22.5}})
    assert status == 200
    assert obj["programs"]["comfort"] == 22.5
    status, obj = await _put(http, bridge, auth, {"schedule": {"home": 20, "not_home": 16}})
    assert status == 200
    assert obj["programs"]["home"] == 20
    assert obj["programs"]["not_home"] == 16
    assert obj["programs"]["comfort"] == 22.5


async def test_schedule_and_exceptions_replace_whole(
    bridge: Bridge, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    schedule = [
        {"start": [0, 7, 0], "temperature": "home"},
        {"start": [0, 22, 45], "temperature": "not_home"},
    ]
    exceptions = [
        {
            "start": [2030, 0, 1, 8, 0],
            "end": [2030, 0, 2, 8, 0],
            "temperature": "comfort",
            "description": "New year",
        }
    ]
    status, obj = await _put(http, bridge, auth, {"schedule": schedule, "exceptions": exceptions})
    assert status == 200
    assert obj["schedule"] == schedule
    assert obj["exceptions"] == exceptions
    stored = await bridge.db.schedule.get()
    assert [(b.day, b.hour, b.minute, b.program) for b in stored] == [
        (0, 7, 0, "home"),
        (0, 22, 45, "not_home"),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target_temperature": 31}, "target_temperature"),
        ({"target_temperature": "warm"}, "target_temperature"),
        ({"programs": {"home": 4}}, "programs.home"),
        ({"programs": {"sauna": 20}}, "programs.sauna"),
        ({"schedule": [{"start": [0, 7, 10], "temperature": "home"}]}, "schedule[0].start[2]"),
        ({"schedule": [{"start": [7, 7, 0], "temperature": "home"}]}, "schedule[0].start[0]"),
        ({"schedule": [{"start": [0, 7], "temperature": "home"}]}, "schedule[0].start"),
        ({"schedule": [{"start": [0, 7, 0], "temperature": "sauna"}]}, "schedule[0].temperature"),
        ({"schedule": []}, "schedule"),
        (
            {
                "exceptions": [
                    {
                        "start": [2030, 12, 1, 8, 0],
                        "end": [2030, 11, 2, 8, 0],
                        "temperature": "home",
                    }
                ]
            },
            "exceptions[0].start[1]",
        ),
        (
            {
                "exceptions": [
                    {"start": [2030, 1, 2, 8, 0], "end": [2030, 1, 1, 8, 0], "temperature": "home"}
                ]
            },
            "exceptions[0].end",
        ),
        (
            {
                "exceptions": [
                    {
                        "start": [2030, 1, 1, 8, 0],
                        "end": [2030, 1, 2, 8, 0],
                        "temperature": "home",
                        "description": "x" * 31,
                    }
                ]
            },
            "exceptions[0].description",
        ),
        ({"colour": "red"}, "colour"),
        ({"room_temperature": 85}, "room_temperature"),
        ({"geofence_enabled": "yes"}, "geofence_enabled"),
    ],
)
async def test_bad_updates_change_nothing(
    bridge: Bridge,
    http: aiohttp.ClientSession,
    auth: dict[str, str],
    body: dict[str, Any],
    field: str,
) -> None:
    before = await _get(http, bridge, auth)
    stored_before = await bridge.db.export()
    # a valid part alongside must not be applied either
    status, error = await _put(http, bridge, auth, body)
    assert status == 400
    assert any(e["field"] == field for e in error["errors"]), error
    status, error = await _put(http, bridge, auth, {"target_temperature": 21, **body})
    assert status == 400
    after = await _get(http, bridge, auth)
    for key in ("target_temperature", "programs", "schedule", "exceptions", "source"):
        assert after[key] == before[key]
    stored_after = await bridge.db.export()
    for key in ("settings", "schedule", "exceptions"):
        assert stored_after[key] == stored_before[key]


async def test_empty_update_and_bad_json(
    bridge: Bridge, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    status, _ = await _put(http, bridge, auth, {})
    assert status == 204
    async with http.put(
        f"{base_url(bridge)}/thermostat/{bridge.thermostat.hardware_id}",
        data="{",
        headers={**auth, "Content-Type": "application/json"},
    ) as r:
        assert r.status == 400
    async with http.put(
        f"{base_url(bridge)}/thermostat/{bridge.thermostat.hardware_id}",
        data="target=1",
        headers={**auth, "Content-Type": "text/plain"},
    ) as r:
        assert r.status == 415


async def test_pause_holds_frost_protection_and_unpause_resumes(
    bridge: Bridge, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    hw = bridge.thermostat.hardware_id
    async with http.post(
        f"{base_url(bridge)}/thermostat/{hw}/pause", json={"pause": True}, headers=auth
    ) as r:
        assert r.status == 200
        obj = await r.json()
    programs = obj["programs"]
    assert obj["source"] == "pause"
    assert obj["target_temperature"] == max(programs["pause"], programs["anti_freeze"], 5)
    async with http.post(
        f"{base_url(bridge)}/thermostat/{hw}/pause", json={"pause": "yes"}, headers=auth
    ) as r:
        assert r.status == 400
    async with http.post(f"{base_url(bridge)}/thermostat/{hw}/pause", json={}, headers=auth) as r:
        assert r.status == 400
        assert (await r.json())["errors"] == [{"field": "pause", "rule": "required"}]
    async with http.post(f"{base_url(bridge)}/thermostat/{hw}/unpause", headers=auth) as r:
        assert r.status == 200
        assert (await r.json())["source"] in {"schedule", "exception"}


async def test_outside_temperature_push_and_auto(
    bridge: Bridge, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    status, obj = await _put(http, bridge, auth, {"outside_temperature": -3.5})
    assert status == 200
    # the simulated 1970s house's boiler has no outside sensor, so the pushed value is used
    assert obj["outside_temperature"] == -3.5
    status, obj = await _put(http, bridge, auth, {"outside_temperature": "auto"})
    assert status == 200
    assert obj["outside_temperature"] is None
