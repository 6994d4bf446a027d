"""The native API's diagnostics and predictions under ``/api/v1/``:
counters, versions and uptime with no personal data, and the learning
module's outputs.
"""

from __future__ import annotations

from aiohttp import web

from bridge.api.context import BRIDGE_KEY, BridgeServices
from bridge.api.routing import QUERY_ERRORS, Route, json_ok, operation, register
from bridge.api.util import query_params
from bridge.api.ws import PUSH_KEY
from bridge.core.contract import render
from bridge.core.payloads.native import Diagnostics, Predictions, PushStats

STARTED_KEY: web.AppKey[float] = web.AppKey("started", float)
"""The clock's monotonic time when the API started (for uptime)."""


def _bridge(request: web.Request) -> BridgeServices:
    return request.app[BRIDGE_KEY]


# -- diagnostics and predictions ---------------------------------------------------------


async def diagnostics(request: web.Request) -> web.Response:
    """``GET /api/v1/diagnostics``: counters, versions and uptime, with no personal data."""
    query_params(request, ())
    bridge = _bridge(request)
    hub = request.app.get(PUSH_KEY)
    report = await bridge.diagnostics.report(
        uptime_s=round(bridge.clock.monotonic() - request.app[STARTED_KEY], 3),
        push=None if hub is None else PushStats(**hub.stats()),
    )
    return web.json_response(render(report))


async def predictions(request: web.Request) -> web.Response:
    """``GET /api/v1/predictions``: the learning module's outputs.

    ``available`` is false until the first room reading; then ``predictions``
    holds the room forecast, time to target, the next warm-up start, the
    learned figures and the learning progress (see
    :meth:`bridge.services.learning.LearningService.predictions`); ``status``
    says ``learning``, ``ready`` or ``fallback: <why>``. Fields are only added.
    """
    query_params(request, ())
    return web.json_response(_bridge(request).thermostat.predictions())


async def _on_startup(app: web.Application) -> None:
    app[STARTED_KEY] = app[BRIDGE_KEY].clock.monotonic()


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/api/v1/diagnostics",
        diagnostics,
        operation(
            "getDiagnostics",
            "Link and master counters, unknown ids, versions, uptime",
            "native",
            {"200": json_ok(Diagnostics), **QUERY_ERRORS},
        ),
    ),
    Route(
        "GET",
        "/api/v1/predictions",
        predictions,
        operation(
            "getPredictions",
            "What the learning module predicts",
            "native",
            {"200": json_ok(Predictions), **QUERY_ERRORS},
            description='`{"available": false, "status": "learning not started"}` until the '
            "first room reading; later fields are added, never renamed.",
        ),
    ),
)


def add_routes(app: web.Application) -> None:
    """Register the diagnostics and predictions routes (and note when the API started)."""
    app.on_startup.append(_on_startup)
    register(app, ROUTES)
