"""The wall units' port: ``GET /api?_<HWID>_<HEX>`` and nothing else.

ThermoSmart wall units poll here (see ``THERMOSMART_UNIT.md``); the answer
is the hexadecimal text of the encrypted answer, HTTP 200. Anything the
unit service refuses is HTTP 400 with a short reason (nothing changed); a
flood of polls from one address gets HTTP 429; a poll the bridge cannot
record while its disk takes no writes gets 503; every other path is 404.
There is no authentication header: the unit's password (its encryption
key) is the credential, and the Host header is whatever name the unit was
pointed at (``hw.thermosmart.nl`` with a local DNS entry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aiohttp import web

from bridge.api.app import server_header
from bridge.api.ratelimit import RequestLimiter
from bridge.core.errors import StorageUnavailableError
from bridge.services.unit import UnitRefused

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.services.unit import UnitService

POLL_RATE: Final = 2.0
"""Polls per second one address may keep up (a unit polls every 5 s or slower)."""
POLL_BURST: Final = 20
"""Polls one address may send at once (several units behind one router)."""

UNIT_SERVICE: web.AppKey[UnitService] = web.AppKey("unit_service")
UNIT_LIMITER: web.AppKey[RequestLimiter] = web.AppKey("unit_limiter")


def _text(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


async def poll(request: web.Request) -> web.Response:
    """One poll of a wall unit."""
    address = request.remote or "unknown"
    if not request.app[UNIT_LIMITER].allow(address):
        return _text(429, "too many polls from this address; slow down")
    try:  # the codec bounds and checks the query (split_request)
        answer = await request.app[UNIT_SERVICE].poll(request.rel_url.raw_query_string, address)
    except UnitRefused as err:
        return _text(400, str(err))
    except StorageUnavailableError as err:
        # the bridge's disk, not the unit: it keeps heating on its calendar and polls again
        return _text(503, str(err))
    return _text(200, answer)


def create_unit_app(service: UnitService, clock: Clock) -> web.Application:
    """The application the wall units' port serves."""
    app = web.Application(client_max_size=1024)
    app[UNIT_SERVICE] = service
    app[UNIT_LIMITER] = RequestLimiter(clock, rate=POLL_RATE, burst=POLL_BURST)
    app.on_response_prepare.append(server_header)
    app.router.add_get("/api", poll, allow_head=False)
    return app


__all__ = ["POLL_BURST", "POLL_RATE", "create_unit_app"]
