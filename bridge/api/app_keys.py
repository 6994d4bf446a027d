"""Typed keys of the objects the aiohttp application carries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bridge.api.ratelimit import FailureLimiter
    from bridge.daemon import Bridge

BRIDGE_KEY: web.AppKey[Bridge] = web.AppKey("bridge")
LIMITER_KEY: web.AppKey[FailureLimiter] = web.AppKey("limiter")
