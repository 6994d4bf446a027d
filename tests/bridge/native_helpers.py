"""Helpers for the native API tests: a bridge on a virtual clock, tokens, requests."""

from __future__ import annotations

from typing import Any

import aiohttp

from bridge.daemon import Bridge

from .conftest import base_url, make_token, virtual_bridge

__all__ = ["base_url", "bearer", "call", "fields_of", "make_token", "virtual_bridge"]


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
