"""A real bridge, linked by the real device grant, syncs with the stand-in by itself.

Both run in the test's process on loopback, over HTTPS with a throwaway test
CA: the bridge opens its sync connection, uploads its thermostat, and
answers the owner's remote commands; the owner uses the cloud-compatible
API of the stand-in with an owner token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass
from pathlib import Path
import ssl
from typing import Any

import aiohttp
import pytest

from bridge.config import validate
from bridge.core.clock import SystemClock
from bridge.core.payloads.privacy import Purpose
from bridge.core.purposes import THERMOSTAT_FIELDS
from bridge.daemon import Bridge
from bridge.services.cloud_link import CloudLinker, DeviceCode
from cloud_stub import cli as cloud_cli
from cloud_stub.server import CloudServer
from cloud_stub.store import CloudStore
from tests.cloud_stub.certs import Pki, make_pki
from tests.cloud_stub.conftest import OWNER, auth

TERMS = "2026-01"
NEW_TERMS = "2026-07"


@dataclass
class Setup:
    server: CloudServer
    store: CloudStore
    pki: Pki
    tmp_path: Path

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    """The stand-in over HTTPS (test CA) on loopback, on the real clock."""
    pki = make_pki(tmp_path / "pki")
    store = CloudStore.open(tmp_path / "cloud", SystemClock())
    server = CloudServer(
        store,
        host="127.0.0.1",
        port=0,
        ssl_context=cloud_cli.tls_context(pki.server_cert, pki.server_key),
    )
    await server.start()
    try:
        yield Setup(server, store, pki, tmp_path)
    finally:
        await server.stop()
        store.close()


@contextlib.asynccontextmanager
async def running_bridge(setup: Setup) -> AsyncIterator[Bridge]:
    cfg = validate(
        {
            "data_dir": str(setup.tmp_path / "bridge"),
            "host": "127.0.0.1",
            "port": 0,
            "zeroconf": False,
            "cloud_url": setup.url,
            "cloud_ca_file": str(setup.pki.ca_cert),
        }
    )
    bridge = Bridge(cfg)
    await bridge.start()
    try:
        yield bridge
    finally:
        await bridge.stop()


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait (bounded) until ``check()`` holds: the bridge works on its own schedule."""
    for _ in range(400):
        if await check():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"never happened: {what}")


async def link(setup: Setup, bridge: Bridge) -> str:
    """Consent, then the device grant as the owner runs it; returns the owner's token."""
    await bridge.privacy.record_consent(Purpose.CLOUD_SYNC, granted=True, terms_version=TERMS)
    owner, _ = setup.store.create_owner(OWNER)
    shown: list[DeviceCode] = []

    def approve(code: DeviceCode) -> None:
        shown.append(code)
        assert setup.store.decide_link(code.user_code, owner.owner_id, approve=True) is not None

    # the bridge's own cloud client: its configured CA file verifies the stand-in
    linker = CloudLinker(bridge.db, bridge.cloud, sleep=lambda _s: asyncio.sleep(0))
    await linker.link(approve)
    assert shown
    sync = bridge.cloud_sync
    assert sync is not None
    sync.wake()
    await eventually(lambda: _confirmed(setup, bridge), "the first upload")
    _, token = setup.store.create_owner_token(bridge.bridge_id)
    return token


async def _confirmed(setup: Setup, bridge: Bridge) -> bool:
    return setup.store.get_object(bridge.bridge_id) is not None


@pytest.fixture
async def http(setup: Setup) -> AsyncIterator[aiohttp.ClientSession]:
    context = ssl.create_default_context(cafile=str(setup.pki.ca_cert))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        yield session


async def owner_get(http: aiohttp.ClientSession, setup: Setup, hw: str, token: str) -> Any:
    async with http.get(f"{setup.url}/thermostat/{hw}", headers=auth(token)) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def commands(http: aiohttp.ClientSession, setup: Setup, hw: str, token: str) -> Any:
    url = f"{setup.url}/api/v1/thermostats/{hw}/commands"
    async with http.get(url, headers=auth(token)) as resp:
        assert resp.status == 200, await resp.text()
        return (await resp.json())["commands"]


async def test_a_linked_bridge_syncs_and_answers_remote_commands(
    setup: Setup, http: aiohttp.ClientSession
) -> None:
    async with running_bridge(setup) as bridge:
        token = await link(setup, bridge)
        service = bridge.thermostat
        hw = service.hardware_id
        shown = await owner_get(http, setup, hw, token)
        # the cloud holds the allow-listed members only: no city ever reached it
        assert shown["location"] == ""
        stored = setup.store.get_object(bridge.bridge_id)
        assert stored is not None
        assert set(stored[0]) == THERMOSTAT_FIELDS
        assert shown["programs"] == service.cloud_object()["programs"]

        exceptions = [
            {
                "start": [2026, 1, 2, 8, 0],
                "end": [2026, 1, 4, 20, 0],
                "temperature": "not_home",
                "description": "Weg",
            }
        ]
        body = {"programs": {"comfort": 22.5}, "exceptions": exceptions, "target_temperature": 23}
        async with http.put(f"{setup.url}/thermostat/{hw}", json=body, headers=auth(token)) as resp:
            assert resp.status == 200, await resp.text()
            confirmed = await resp.json()
        # the answer is what the thermostat confirmed, and it is the thermostat's state
        assert confirmed["target_temperature"] == 23
        assert confirmed["source"] == "remote"
        own = service.cloud_object()
        assert own["target_temperature"] == 23
        assert own["programs"]["comfort"] == 22.5
        assert own["exceptions"] == exceptions
        assert (await owner_get(http, setup, hw, token))["target_temperature"] == 23

        async with http.post(
            f"{setup.url}/thermostat/{hw}/pause", json={"pause": True}, headers=auth(token)
        ) as resp:
            assert resp.status == 200
            assert (await resp.json())["source"] == "pause"
        assert service.cloud_object()["source"] == "pause"
        async with http.post(f"{setup.url}/thermostat/{hw}/unpause", headers=auth(token)) as resp:
            assert resp.status == 200
        assert [c["status"] for c in await commands(http, setup, hw, token)] == ["applied"] * 3

        state = bridge.native_state()["cloud_sync"]
        assert state["connected"] is True
        assert state["commands"] == 3
        assert state["not_running"] is None


async def test_a_change_stays_pending_until_the_bridge_confirms_it(
    setup: Setup, http: aiohttp.ClientSession
) -> None:
    async with running_bridge(setup) as bridge:
        token = await link(setup, bridge)
        hw = bridge.thermostat.hardware_id
        before = bridge.thermostat.cloud_object()["target_temperature"]
    # the bridge is offline: the change is pending, and the state is not shown as changed
    async with http.put(
        f"{setup.url}/thermostat/{hw}", json={"target_temperature": 23.5}, headers=auth(token)
    ) as resp:
        assert resp.status == 202
        pending = await resp.json()
    assert pending["status"] == "pending"
    assert (await owner_get(http, setup, hw, token))["target_temperature"] == before
    listed = await commands(http, setup, hw, token)
    assert [(c["id"], c["status"]) for c in listed] == [(pending["id"], "pending")]

    async with running_bridge(setup) as bridge:
        # back online: the command is delivered, applied by the bridge's rules, confirmed
        await eventually(
            lambda: _status_is(http, setup, hw, token, "applied"), "the pending command applied"
        )
        assert bridge.thermostat.cloud_object()["target_temperature"] == 23.5
        assert (await owner_get(http, setup, hw, token))["target_temperature"] == 23.5


async def _status_is(
    http: aiohttp.ClientSession, setup: Setup, hw: str, token: str, status: str
) -> bool:
    return [c["status"] for c in await commands(http, setup, hw, token)] == [status]


async def test_a_later_turn_of_the_dial_wins_over_an_older_remote_command(
    setup: Setup, http: aiohttp.ClientSession
) -> None:
    async with running_bridge(setup) as bridge:
        token = await link(setup, bridge)
        service = bridge.thermostat
        hw = service.hardware_id
        sync = bridge.cloud_sync
        assert sync is not None
        # the connection stops: the cloud publishes new terms, which the bridge learns
        # (the owner's question) and which pause cloud_sync until the owner answers; a
        # revocation would also delete the synced object, so the owner could not send
        # anything against it ...
        setup.store.publish_terms(NEW_TERMS)
        await bridge.privacy.ask_terms()
        await eventually(_disconnected(bridge), "the connection closed")
        # ... the owner sets 23 remotely, against the state the cloud last had ...
        async with http.put(
            f"{setup.url}/thermostat/{hw}", json={"target_temperature": 23}, headers=auth(token)
        ) as resp:
            assert resp.status == 202
        # ... and then someone turns the dial at home (as the wall unit reports it)
        await service.update({"target_temperature": 18.5}, remote=False)
        await bridge.privacy.record_consent(
            Purpose.CLOUD_SYNC, granted=True, terms_version=NEW_TERMS
        )
        await eventually(
            lambda: _status_is(http, setup, hw, token, "superseded"), "the command superseded"
        )
        assert service.cloud_object()["target_temperature"] == 18.5
        await eventually(
            lambda: _shows(http, setup, hw, token, 18.5), "the cloud shows the dial's setting"
        )
        # a command issued after the cloud saw the dial turn is applied
        async with http.put(
            f"{setup.url}/thermostat/{hw}", json={"target_temperature": 20}, headers=auth(token)
        ) as resp:
            assert resp.status == 200, await resp.text()
        assert service.cloud_object()["target_temperature"] == 20


def _disconnected(bridge: Bridge) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return bridge.native_state()["cloud_sync"]["connected"] is False

    return check


async def _shows(
    http: aiohttp.ClientSession, setup: Setup, hw: str, token: str, target: float
) -> bool:
    return bool((await owner_get(http, setup, hw, token))["target_temperature"] == target)
