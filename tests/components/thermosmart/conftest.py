"""Fixtures: a real bridge on loopback, and config entries pointing at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
import contextlib
from pathlib import Path
from typing import Any, cast
from unittest.mock import PropertyMock, patch

import aiohttp
from aiohttp import web
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_TOKEN, Platform
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bridge.config import validate
from bridge.core.clock import VirtualClock
from bridge.daemon import Bridge
from bridge.opentherm.links.sim import SimLink
from bridge.opentherm.sim.world import SimWorld
from bridge.unit.sim import SimUnit
from custom_components.thermosmart.const import CONF_BRIDGE_ID, CONF_TOKEN_ID, DOMAIN
from tests.bridge.unit_rig import HWID, PASSWORD, START, Rig, register, unit_bridge

BRIDGE_ID = "0123456789abcdef"
HARDWARE_ID = "TSL0000C0FFEE"
WARM_UP = 600.0
"""Seconds of bridge time before Home Assistant connects: every data-id has been read."""


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/thermosmart."""


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    """A real bridge on the simulated boiler, on a free loopback port."""
    b = Bridge(bridge_config(tmp_path / "bridge"))
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


@pytest.fixture
async def pairing_code(bridge: Bridge) -> str:
    """A fresh one-time pairing code of the bridge."""
    return await bridge.db.auth.create_pairing_code()


@pytest.fixture
async def api_token(bridge: Bridge) -> str:
    """A token the bridge accepts."""
    issued = await bridge.db.auth.create_token("Home Assistant")
    return issued.token


@pytest.fixture
def config_entry(bridge: Bridge, api_token: str) -> MockConfigEntry:
    """A config entry for the running bridge."""
    return entry_for(bridge, api_token)


def entry_for(bridge: Bridge, api_token: str) -> MockConfigEntry:
    """A config entry for ``bridge`` with a token it accepts."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=bridge.name,
        unique_id=bridge.bridge_id,
        data={
            CONF_HOST: "127.0.0.1",
            CONF_PORT: bridge.port,
            CONF_TOKEN: api_token,
            CONF_TOKEN_ID: "1",
            CONF_BRIDGE_ID: bridge.bridge_id,
        },
    )


@contextlib.asynccontextmanager
async def serve(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[int]:
    """A loopback HTTP server answering every route with ``handler``; yields its port."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


@pytest.fixture
async def garbage_server() -> AsyncIterator[int]:
    """A loopback HTTP server that is not a bridge: it answers HTML to everything."""

    async def html(_: web.Request) -> web.Response:
        return web.Response(text="<html>router login</html>", content_type="text/html")

    async with serve(html) as port:
        yield port


@pytest.fixture
async def bridge_proxy(bridge: Bridge) -> AsyncIterator[tuple[int, dict[tuple[str, str], Any]]]:
    """A loopback server in front of the bridge that answers some routes as a test says.

    ``answers[(method, path)] = (status, body)`` answers that route with
    ``body`` as JSON; everything else goes through to the real bridge. For
    answers a healthy bridge never gives to what the integration sends.
    """
    answers: dict[tuple[str, str], Any] = {}

    async def handle(request: web.Request) -> web.StreamResponse:
        answer = answers.get((request.method, request.path))
        if answer is not None:
            status, body = answer
            return web.json_response(body, status=status)
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                f"http://127.0.0.1:{bridge.port}{request.path_qs}",
                headers={"Authorization": request.headers.get("Authorization", "")},
                data=await request.read(),
            ) as upstream,
        ):
            return web.Response(
                body=await upstream.read(), status=upstream.status, content_type="application/json"
            )

    async with serve(handle) as port:
        yield port, answers


@pytest.fixture
async def unit_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """A bridge on a unit link (virtual clock) with one registered wall unit, revision 5,
    that has polled; the test moves the clock and the unit with ``unit_rig.run``."""
    data = tmp_path / "unit-bridge"
    await register(data)
    clock = VirtualClock(START)
    unit = SimUnit(SimWorld(seed=4, start=START), hardware_id=HWID, password=PASSWORD, revision=5)
    async with unit_bridge(data, clock) as bridge:
        rig = Rig(bridge, clock, unit)
        try:
            await rig.run(10)
            yield rig
        finally:
            await rig.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def bridge_config(data_dir: Path, port: int = 0, **extra: Any) -> Any:
    """A bridge on the simulated boiler, on loopback, without zeroconf (``extra``: more keys)."""
    return validate(
        {"data_dir": str(data_dir), "host": "127.0.0.1", "port": port, "zeroconf": False, **extra}
    )


async def stop_virtual(bridge: Bridge) -> None:
    """Stop a bridge on a virtual clock (handing the boiler back takes clock time)."""
    clock = cast(VirtualClock, bridge.clock)
    stopping = asyncio.create_task(bridge.stop())
    while not stopping.done():
        await clock.advance(1)
    await stopping


async def start_virtual_bridge(data_dir: Path, port: int = 0, **extra: Any) -> Bridge:
    """A real bridge on the simulated boiler whose time moves only when a test moves it.

    It starts at 2026-01-01 00:00 UTC with a fixed bridge id and hardware id
    and has run WARM_UP seconds, so its values are the same in every run
    (the simulator is deterministic). Stop it with :func:`stop_virtual`.
    """
    clock = VirtualClock()
    bridge = Bridge(bridge_config(data_dir, port, **extra), clock=clock)
    with (
        patch("bridge.daemon._new_bridge_id", return_value=BRIDGE_ID),
        patch("bridge.services.thermostat._new_hardware_id", return_value=HARDWARE_ID),
    ):
        await bridge.start()
    assert isinstance(bridge.link, SimLink)
    # the room thermometer's noise draws a number per reading: without it, readings do
    # not depend on how often the state was read
    bridge.link.world.sensor.noise_sd_c = 0.0
    await clock.advance(WARM_UP)
    return bridge


@pytest.fixture
async def virtual_bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    """A bridge on a virtual clock (see :func:`start_virtual_bridge`)."""
    bridge = await start_virtual_bridge(tmp_path / "vbridge")
    try:
        yield bridge
    finally:
        await stop_virtual(bridge)


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Create every entity enabled, also the ones disabled by default."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


async def setup_integration(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add ``entry``, set it up, and wait until its push channel is open.

    Waiting matters for the bridge's teardown too: a socket still being
    opened while the bridge stops would hold the stop up.
    """
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await wait_until(hass, lambda: entry.runtime_data.client.connected)
    return entry


async def wait_until(hass: HomeAssistant, check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (real time, briefly) until a pushed change has reached Home Assistant."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)
    await hass.async_block_till_done()


async def setup_platform(
    hass: HomeAssistant, entry: MockConfigEntry, platform: Platform
) -> MockConfigEntry:
    """Set up ``entry`` with one platform only (for snapshots)."""
    with patch("custom_components.thermosmart.PLATFORMS", [platform]):
        return await setup_integration(hass, entry)
