"""Fixtures for the bridge tests: a real bridge on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bridge.config import validate
from bridge.daemon import Bridge


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
