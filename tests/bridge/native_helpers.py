"""Helpers for the native API tests: a bridge on a virtual clock, tokens, requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from pathlib import Path
from typing import Any

import aiohttp

from bridge.clock import VirtualClock
from bridge.config import validate
from bridge.daemon import Bridge
from bridge.storage import TokenKind

from .conftest import base_url


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


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


async def call(
    http: aiohttp.ClientSession,
    bridge: Bridge,
    method: str,
    path: str,
    token: str | None = None,
    **kwargs: Any,
) -> tuple[int, Any]:
    """One request; returns the status and the JSON body (None when there is none)."""
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers.update(bearer(token))
    async with http.request(method, base_url(bridge) + path, headers=headers, **kwargs) as resp:
        text = await resp.text()
        body = await resp.json() if text and resp.content_type == "application/json" else None
        return resp.status, body


def fields_of(body: Any) -> set[str]:
    """The fields named in an error answer."""
    return {e["field"] for e in body.get("errors", [])}
