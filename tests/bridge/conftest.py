"""Fixtures for the bridge tests: a real bridge on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridge.config import validate
from bridge.core.clock import VirtualClock
from bridge.daemon import Bridge
from bridge.storage import TokenKind


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    """A running bridge on the simulated boiler, on a free loopback port, no zeroconf."""
    cfg = validate(
        {"data_dir": str(tmp_path / "data"), "host": "127.0.0.1", "port": 0, "zeroconf": False}
    )
    b = Bridge(cfg)
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session."""
    async with aiohttp.ClientSession() as session:
        yield session


def base_url(b: Bridge) -> str:
    """The bridge's API root."""
    return f"http://127.0.0.1:{b.port}"


@contextlib.asynccontextmanager
async def virtual_bridge(
    tmp_path: Path, **config: Any
) -> AsyncIterator[tuple[Bridge, VirtualClock]]:
    """A bridge on the simulator whose time moves only when the test advances it."""
    cfg = validate(
        {
            "data_dir": str(tmp_path / "vdata"),
            "host": "127.0.0.1",
            "port": 0,
            "zeroconf": False,
            **config,
        }
    )
    clock = VirtualClock()
    bridge = Bridge(cfg, clock=clock)
    await bridge.start()
    try:
        yield bridge, clock
    finally:
        # handing the boiler back takes a few conversations of clock time
        stopping = asyncio.create_task(bridge.stop())
        while not stopping.done():
            await clock.advance(1)
        await stopping


async def make_token(bridge: Bridge, kind: TokenKind = TokenKind.API) -> str:
    """A new token of ``kind``."""
    return (await bridge.db.auth.create_token("test", kind)).token


@pytest.fixture
async def vb(tmp_path: Path) -> AsyncIterator[tuple[Bridge, VirtualClock]]:
    """A running bridge on a virtual clock (HTTP on loopback stays real)."""
    async with virtual_bridge(tmp_path) as pair:
        yield pair


@pytest.fixture
async def token(vb: tuple[Bridge, VirtualClock]) -> str:
    """An API token of ``vb``'s bridge."""
    return await make_token(vb[0])
