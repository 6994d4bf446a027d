"""Retention: the stand-in keeps a bridge's data no longer than the bridge says (else its
default), pruned on its own clock."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.cloud_stub.conftest import BRIDGE_ID, HW, Cloud, auth, synced, thermostat_object

DAY = 86_400.0


async def _object_status(http: aiohttp.ClientSession, cloud: Cloud, secret: str) -> int:
    url = f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/thermostat"
    async with http.get(url, headers=auth(secret)) as resp:
        return resp.status


async def test_a_bridge_data_goes_after_its_stated_retention(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret, token = await synced(http, cloud)
    url = f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/retention"
    async with http.put(url, json={"days": 2}, headers=auth(secret)) as resp:
        assert resp.status == 200
        assert await resp.json() == {"days": 2}
    await cloud.clock.advance(DAY)
    async with http.put(
        f"{cloud.url}/thermostat/{HW}", json={"target_temperature": 21}, headers=auth(token)
    ) as resp:
        assert resp.status == 200
    await cloud.clock.advance(DAY + 3600)  # the upload is now older than two days
    assert await _object_status(http, cloud, secret) == 404
    assert len(cloud.store.pending_commands(BRIDGE_ID)) == 1  # queued a day later: kept
    await cloud.clock.advance(DAY)
    assert cloud.store.pending_commands(BRIDGE_ID) == []
    # the link itself stays: the bridge uploads again and carries on
    obj_url = f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/thermostat"
    async with http.put(obj_url, json=thermostat_object(), headers=auth(secret)) as resp:
        assert resp.status == 200
    assert await _object_status(http, cloud, secret) == 200


async def test_a_shorter_retention_applies_at_once(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret, _ = await synced(http, cloud)
    await cloud.clock.advance(3 * DAY)
    assert await _object_status(http, cloud, secret) == 200  # the default is 90 days
    async with http.put(
        f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/retention", json={"days": 1}, headers=auth(secret)
    ) as resp:
        assert resp.status == 200
    assert await _object_status(http, cloud, secret) == 404


async def test_the_default_retention_covers_bridges_and_statistics(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret, _ = await synced(http, cloud)
    pseudonym = "Q7xYz9Kw2mLq4RpPpPpPpP"
    stats: dict[str, Any] = {
        "pseudonym": pseudonym,
        "day": "2026-01-14",
        "degree_days": 14.2,
        "mean_modulation": 31.0,
        "burner_hours": 6.5,
    }
    async with http.post(f"{cloud.url}/api/v1/statistics", json=stats, headers=auth(secret)) as r:
        assert r.status == 201
    await cloud.clock.advance(89 * DAY)
    assert await _object_status(http, cloud, secret) == 200
    await cloud.clock.advance(2 * DAY)
    assert await _object_status(http, cloud, secret) == 404
    assert cloud.store.erase_statistics(pseudonym) == 0  # already pruned


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ({"days": 0}, "must be between 1 and 3650"),
        ({"days": 3651}, "must be between 1 and 3650"),
        ({"days": "7"}, "must be a whole number of days"),
        ({"days": 7.5}, "must be a whole number of days"),
        ({"days": True}, "must be a whole number of days"),
        ({}, "required"),
        ({"days": 7, "keep": "forever"}, "unknown field"),
    ],
)
async def test_bad_retention_is_400_and_changes_nothing(
    cloud: Cloud, http: aiohttp.ClientSession, body: Any, rule: str
) -> None:
    secret, _ = await synced(http, cloud)
    async with http.put(
        f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/retention", json=body, headers=auth(secret)
    ) as resp:
        assert resp.status == 400
        errors = (await resp.json())["errors"]
    assert any(rule in e["rule"] for e in errors), errors
    record = cloud.store.bridge(BRIDGE_ID)
    assert record is not None
    assert record.retention_days is None


async def test_retention_needs_the_bridge_own_credential(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    _, token = await synced(http, cloud)
    other, _ = await synced(http, cloud, bridge_id="b2", hardware_id="TSLOTHER0002")
    url = f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/retention"
    for headers, status in (({}, 401), (auth(token), 401), (auth(other), 403)):
        async with http.put(url, json={"days": 1}, headers=headers) as resp:
            assert resp.status == status
    record = cloud.store.bridge(BRIDGE_ID)
    assert record is not None
    assert record.retention_days is None
