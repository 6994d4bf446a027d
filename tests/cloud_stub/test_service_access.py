"""Service access (consent ``service_access``): a real bridge shares its technical facts, only them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridge.config import validate
from bridge.core.payloads.privacy import Purpose
from bridge.core.purposes import ALLOWED, SERVICE_FIELDS
from bridge.daemon import Bridge
from tests.cloud_stub.conftest import BRIDGE_ID, Cloud, auth, enrol

TERMS = "2026-01"


@pytest.fixture
async def linked_bridge(
    tmp_path: Path, cloud: Cloud, http: aiohttp.ClientSession
) -> AsyncIterator[Bridge]:
    """A running bridge (simulated boiler) with the stand-in as its cloud, linked to an
    owner's account by the device grant."""
    cfg = validate(
        {
            "data_dir": str(tmp_path / "bridge"),
            "host": "127.0.0.1",
            "port": 0,
            "zeroconf": False,
            "cloud_url": cloud.url,
        }
    )
    bridge = Bridge(cfg)
    await bridge.start()
    try:
        hw = bridge.thermostat.hardware_id
        assert hw is not None
        secret = await enrol(http, cloud, bridge.bridge_id, hw)
        await bridge.db.cloud.store(cloud.url, bridge.bridge_id, hw, secret)
        yield bridge
    finally:
        await bridge.stop()


async def _egress(bridge: Bridge, purpose: Purpose) -> list[Any]:
    """The egress records of ``purpose`` (the terms questions are logged as ``terms``)."""
    return list((await bridge.privacy.egress(purpose=purpose.value)).records)


async def _shared(cloud: Cloud, bridge: Bridge) -> tuple[dict[str, Any], str]:
    """The report the stand-in holds once the bridge has shared it (waits up to 10 s)."""
    for _ in range(200):
        found = cloud.store.service_report(bridge.bridge_id)
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("the bridge shared no service report")


async def test_service_facts_leave_only_with_the_consent_and_only_the_allowed_members(
    cloud: Cloud, http: aiohttp.ClientSession, linked_bridge: Bridge
) -> None:
    bridge = linked_bridge
    assert bridge.service_share is not None
    # linked, but no consent: nothing is shared, nothing is logged
    assert await bridge.service_share.share_once() is False
    assert cloud.store.service_report(bridge.bridge_id) is None
    assert await _egress(bridge, Purpose.SERVICE_ACCESS) == []

    await bridge.privacy.record_consent(Purpose.SERVICE_ACCESS, granted=True, terms_version=TERMS)
    report, _ = await _shared(cloud, bridge)  # the grant wakes the share at once
    assert set(report) == SERVICE_FIELDS
    assert report["versions"]["bridge"]
    assert report["link"]["kind"] == bridge.link.kind
    # nothing of the household: no name, city, schedule or hardware id anywhere in it
    text = json.dumps(report)
    hw = bridge.thermostat.hardware_id
    assert hw is not None
    for personal in (hw, bridge.bridge_id, '"schedule"', '"programs"', '"location"'):
        assert personal not in text
    [record] = await _egress(bridge, Purpose.SERVICE_ACCESS)
    assert record.path == f"/api/v1/bridges/{bridge.bridge_id}/service"
    assert set(record.fields) == SERVICE_FIELDS <= ALLOWED[Purpose.SERVICE_ACCESS]
    assert record.bytes > 0

    # the owner reads it with an owner token
    _, token = cloud.store.create_owner_token(bridge.bridge_id)
    async with http.get(
        f"{cloud.url}/api/v1/thermostats/{hw}/service", headers=auth(token)
    ) as resp:
        assert resp.status == 200
        assert (await resp.json())["report"] == report

    # revoked: the report is deleted in the cloud (a request with no data), and the next
    # share sends nothing
    await bridge.privacy.record_consent(Purpose.SERVICE_ACCESS, granted=False, terms_version=TERMS)
    for _ in range(200):
        if cloud.store.service_report(bridge.bridge_id) is None:
            break
        await asyncio.sleep(0.05)
    assert cloud.store.service_report(bridge.bridge_id) is None
    assert await bridge.service_share.share_once() is False
    put, delete = sorted(await _egress(bridge, Purpose.SERVICE_ACCESS), key=lambda r: r.id)
    assert (put.path, set(put.fields)) == (record.path, SERVICE_FIELDS)
    assert (delete.path, list(delete.fields), delete.bytes) == (record.path, [], 0)


async def test_the_stand_in_refuses_a_report_with_anything_else(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret = await enrol(http, cloud)
    bridge_id = BRIDGE_ID
    url = f"{cloud.url}/api/v1/bridges/{bridge_id}/service"
    report: dict[str, Any] = dict.fromkeys(SERVICE_FIELDS)
    report["recent_faults"] = []
    async with http.put(url, json={**report, "name": "Thuis"}, headers=auth(secret)) as resp:
        assert resp.status == 400
        body = await resp.json()
    assert {"field": "name", "rule": "unknown field (not shared under service_access)"} in body[
        "errors"
    ]
    async with http.put(url, json={**report, "faults": 3}, headers=auth(secret)) as resp:
        assert resp.status == 400
    assert cloud.store.service_report(bridge_id) is None  # nothing stored
    async with http.put(url, json=report, headers=auth(secret)) as resp:
        assert resp.status == 200
    assert cloud.store.service_report(bridge_id) is not None
    async with http.delete(url, headers=auth(secret)) as resp:
        assert resp.status == 204
    assert cloud.store.service_report(bridge_id) is None
    # another bridge's credential, or none, gets nowhere
    async with http.put(url, json=report) as resp:
        assert resp.status == 401
