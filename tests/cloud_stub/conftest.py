"""Fixtures for the cloud stand-in tests: a real server on loopback, on a virtual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.cloud_scale import Answer, SimBridge, apply_simply, sim_thermostat
from bridge.core.clock import VirtualClock
from cloud_stub.server import CloudServer
from cloud_stub.store import DB_NAME, CloudStore

#: 2026-01-15 12:00 UTC (13:00 in Amsterdam).
START = 1_768_478_400.0
HW = "TSL00AABBCCDD"
BRIDGE_ID = "0123456789abcdef"
OWNER = "owner@example.org"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class Cloud:
    """A running stand-in and what a test needs to reach it."""

    server: CloudServer
    store: CloudStore
    clock: VirtualClock
    data_dir: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_NAME


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    """The stand-in on a free loopback port."""
    clock = VirtualClock(START)
    data_dir = tmp_path / "cloud"
    store = CloudStore.open(data_dir, clock)
    server = CloudServer(store, host="127.0.0.1", port=0, clock=clock)
    await server.start()
    try:
        yield Cloud(server, store, clock, data_dir)
    finally:
        await server.stop()
        store.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session."""
    async with aiohttp.ClientSession() as session:
        yield session


def auth(secret: str) -> dict[str, str]:
    """The Bearer header for a secret or token."""
    return {"Authorization": f"Bearer {secret}"}


def owner(cloud: Cloud, email: str = OWNER) -> tuple[int, str]:
    """The owner account of ``email`` (made if it does not exist): (owner id, password)."""
    found = cloud.store.owner(email)
    if found is not None:
        return found.owner_id, ""
    made, password = cloud.store.create_owner(email)
    return made.owner_id, password


async def start_link(
    http: aiohttp.ClientSession,
    cloud: Cloud,
    bridge_id: str = BRIDGE_ID,
    hardware_id: str = HW,
) -> dict[str, Any]:
    """A bridge's device authorization request (RFC 8628); returns the answer."""
    form = {
        "client_id": "thermosmart-bridge",
        "bridge_id": bridge_id,
        "hardware_id": hardware_id,
        "terms_version": "2026-01",
    }
    async with http.post(f"{cloud.url}/oauth2/device_authorization", data=form) as resp:
        assert resp.status == 200, await resp.text()
        started: dict[str, Any] = await resp.json()
    return started


async def poll_link(
    http: aiohttp.ClientSession, cloud: Cloud, device_code: str
) -> tuple[int, dict[str, Any]]:
    """One poll of the token endpoint with a device code: (status, JSON)."""
    form = {
        "grant_type": DEVICE_GRANT,
        "device_code": device_code,
        "client_id": "thermosmart-bridge",
    }
    async with http.post(f"{cloud.url}/oauth2/token", data=form) as resp:
        data: dict[str, Any] = await resp.json()
        return resp.status, data


async def enrol(
    http: aiohttp.ClientSession,
    cloud: Cloud,
    bridge_id: str = BRIDGE_ID,
    hardware_id: str = HW,
    email: str = OWNER,
) -> str:
    """Link a bridge to ``email``'s account (the device grant, approved); returns its secret."""
    owner_id, _ = owner(cloud, email)
    started = await start_link(http, cloud, bridge_id, hardware_id)
    assert cloud.store.decide_link(started["user_code"], owner_id, approve=True) is not None
    status, data = await poll_link(http, cloud, started["device_code"])
    assert status == 200, data
    assert data["bridge_id"] == bridge_id
    secret: str = data["access_token"]
    return secret


def thermostat_object(**changes: Any) -> dict[str, Any]:
    """A thermostat object as ``GET /thermostat/{hw}`` shows it (the cloud never learns the
    city: ``location`` is empty); a bridge syncs it without ``location``. The simulated
    bridge's object, with an exception and one more raw OpenTherm value."""
    exceptions = [
        {
            "start": [2026, 0, 20, 8, 0],
            "end": [2026, 0, 27, 18, 0],
            "temperature": "not_home",
            "description": "Wintersport Oostenrijk",
        }
    ]
    ot = {"enabled": True, "raw": {"ot0": "0x0300", "ot1": "0x2800", "ot25": "0x2A80"}}
    return sim_thermostat(**{"exceptions": exceptions, "location": "", "ot": ot, **changes})


async def synced(
    http: aiohttp.ClientSession,
    cloud: Cloud,
    *,
    bridge_id: str = BRIDGE_ID,
    hardware_id: str = HW,
) -> tuple[str, str]:
    """An enrolled bridge that has synced its object once (then went offline) and an owner
    token: (secret, token)."""
    secret = await enrol(http, cloud, bridge_id, hardware_id)
    bridge = SimBridge(http, cloud.url, bridge_id, secret, thermostat_object())
    await bridge.connect()
    await bridge.close()
    _, token = cloud.store.create_owner_token(bridge_id)
    return secret, token


@contextlib.asynccontextmanager
async def online(
    http: aiohttp.ClientSession,
    cloud: Cloud,
    secret: str,
    *,
    bridge_id: str = BRIDGE_ID,
    answer: Answer = apply_simply,
) -> AsyncIterator[SimBridge]:
    """A simulated bridge connected, answering commands with ``answer``."""
    bridge = SimBridge(http, cloud.url, bridge_id, secret, thermostat_object(), answer=answer)
    await bridge.connect(upload=False)
    try:
        yield bridge
    finally:
        await bridge.close()
