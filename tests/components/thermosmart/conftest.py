"""Fixtures: a real bridge on loopback, and config entries pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_TOKEN
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bridge.config import validate
from bridge.daemon import Bridge
from custom_components.thermosmart.const import CONF_BRIDGE_ID, CONF_TOKEN_ID, DOMAIN


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/thermosmart."""


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    """A real bridge on the simulated boiler, on a free loopback port."""
    cfg = validate(
        {"data_dir": str(tmp_path / "bridge"), "host": "127.0.0.1", "port": 0, "zeroconf": False}
    )
    b = Bridge(cfg)
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


@pytest.fixture
async def garbage_server() -> AsyncIterator[int]:
    """A loopback HTTP server that is not a bridge: it answers HTML to everything."""

    async def html(_: web.Request) -> web.Response:
        return web.Response(text="<html>router login</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", html)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
