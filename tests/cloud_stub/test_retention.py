"""Retention: the stand-in keeps a bridge's data no longer than the bridge says (else its
default), pruned on its own clock. The bridge states it on its sync connection."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bench.cloud_scale import SimBridge
from bridge.core import cloud_sync as proto
from tests.cloud_stub.conftest import BRIDGE_ID, HW, Cloud, auth, synced, thermostat_object

DAY = 86_400.0


async def _object_status(http: aiohttp.ClientSession, cloud: Cloud, token: str) -> int:
    async with http.get(f"{cloud.url}/thermostat/{HW}", headers=auth(token)) as resp:
        return resp.status


async def _send(http: aiohttp.ClientSession, cloud: Cloud, secret: str, *frames: Any) -> None:
    """Connect as the bridge, send ``frames``, close (the stand-in has handled them)."""
    bridge = SimBridge(http, cloud.url, BRIDGE_ID, secret, thermostat_object())
    await bridge.connect(upload=False)
    for frame in frames:
        await bridge.send(frame)
    await bridge.close()


async def test_a_bridge_data_goes_after_its_stated_retention(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret, token = await synced(http, cloud)
    await _send(http, cloud, secret, proto.retention_frame(2))
    await cloud.clock.advance(DAY)
    async with http.put(
        f"{cloud.url}/thermostat/{HW}", json={"target_temperature": 21}, headers=auth(token)
    ) as resp:
        assert resp.status == 202  # the bridge is offline: pending
    await cloud.clock.advance(DAY + 3600)  # the upload is now older than two days
    assert await _object_status(http, cloud, token) == 404
    assert len(cloud.store.pending_commands(BRIDGE_ID)) == 1  # issued a day later: kept
    await cloud.clock.advance(DAY)
    assert cloud.store.pending_commands(BRIDGE_ID) == []  # expired, never delivered
    # the link itself stays: the bridge uploads again and carries on
    await _send(http, cloud, secret, proto.thermostat_frame(9, thermostat_object()))
    assert await _object_status(http, cloud, token) == 200


async def test_a_shorter_retention_applies_at_once(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret, token = await synced(http, cloud)
    await cloud.clock.advance(3 * DAY)
    assert await _object_status(http, cloud, token) == 200  # the default is 90 days
    await _send(http, cloud, secret, proto.retention_frame(1))
    assert await _object_status(http, cloud, token) == 404


async def test_the_default_retention_covers_bridges_and_statistics(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret, token = await synced(http, cloud)
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
    assert await _object_status(http, cloud, token) == 200
    await cloud.clock.advance(2 * DAY)
    assert await _object_status(http, cloud, token) == 404
    assert cloud.store.erase_statistics(pseudonym) == 0  # already pruned


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "retention", "retention_days": 0},
        {"type": "retention", "retention_days": 3651},
        {"type": "retention", "retention_days": "7"},
        {"type": "retention", "retention_days": 7.5},
        {"type": "retention", "retention_days": True},
        {"type": "retention"},
        {"type": "retention", "retention_days": 7, "keep": "forever"},
    ],
)
async def test_a_bad_retention_is_ignored_and_changes_nothing(
    cloud: Cloud, http: aiohttp.ClientSession, frame: dict[str, Any]
) -> None:
    secret, _ = await synced(http, cloud)
    await _send(http, cloud, secret, frame)
    assert cloud.server.hub.stats.ignored == 1
    record = cloud.store.bridge(BRIDGE_ID)
    assert record is not None
    assert record.retention_days is None
