"""What the stand-in's handlers find on the application: the store and the clock."""

from __future__ import annotations

from aiohttp import web

from bridge.core.clock import Clock
from cloud_stub.store import CloudStore

STORE_KEY: web.AppKey[CloudStore] = web.AppKey("store")
CLOCK_KEY: web.AppKey[Clock] = web.AppKey("clock")


def store_of(request: web.Request) -> CloudStore:
    """The request's store."""
    return request.app[STORE_KEY]
