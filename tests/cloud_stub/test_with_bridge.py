"""A real bridge syncs to the stand-in and applies what the cloud API queued."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bridge.config import validate
from bridge.daemon import Bridge
from tests.cloud_stub.conftest import Cloud, auth, enrol


@pytest.fixture
async def real_bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    """A running bridge on the simulated boiler (no zeroconf)."""
    cfg = validate(
        {"data_dir": str(tmp_path / "bridge"), "host": "127.0.0.1", "port": 0, "zeroconf": False}
    )
    b = Bridge(cfg)
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


async def test_a_real_bridge_syncs_and_applies_the_queued_commands(
    cloud: Cloud, http: aiohttp.ClientSession, real_bridge: Bridge
) -> None:
    """The bridge's own object uploads as is, and what the cloud queues the bridge accepts."""
    service = real_bridge.thermostat
    hw = service.hardware_id
    assert hw is not None
    secret = await enrol(http, cloud, real_bridge.bridge_id, hw)
    sync_url = f"{cloud.url}/api/v1/bridges/{real_bridge.bridge_id}/thermostat"
    snapshot = service.cloud_object()  # the simulated house moves on: compare one snapshot
    async with http.put(sync_url, json=snapshot, headers=auth(secret)) as resp:
        assert resp.status == 200, await resp.text()
    _, token = cloud.store.create_owner_token(real_bridge.bridge_id)
    async with http.get(f"{cloud.url}/thermostat/{hw}", headers=auth(token)) as resp:
        assert await resp.json() == snapshot

    exceptions = [
        {
            "start": [2026, 1, 2, 8, 0],
            "end": [2026, 1, 4, 20, 0],
            "temperature": "not_home",
            "description": "Weg",
        }
    ]
    async with http.put(
        f"{cloud.url}/thermostat/{hw}",
        json={"programs": {"comfort": 22.5}, "exceptions": exceptions, "target_temperature": 21},
        headers=auth(token),
    ) as resp:
        assert resp.status == 200
    async with http.post(
        f"{cloud.url}/thermostat/{hw}/pause", json={"pause": True}, headers=auth(token)
    ) as resp:
        assert resp.status == 200
    async with http.get(
        f"{cloud.url}/api/v1/bridges/{real_bridge.bridge_id}/commands", headers=auth(secret)
    ) as resp:
        pulled = (await resp.json())["commands"]
    for command in pulled:
        if command["type"] == "update":
            await service.update(command["body"], remote=True)
        else:
            await service.set_paused(command["body"]["pause"])
    obj = service.cloud_object()
    assert obj["programs"]["comfort"] == 22.5
    assert obj["exceptions"] == exceptions
    assert obj["source"] == "pause"
    async with http.put(sync_url, json=obj, headers=auth(secret)) as resp:
        assert resp.status == 200
    async with http.get(f"{cloud.url}/thermostat/{hw}", headers=auth(token)) as resp:
        assert await resp.json() == obj
