"""``/openapi.json``: an OpenAPI 3.1 document of every route the app serves.

The document is built once, when the app starts, from the app's router and
the descriptions in :mod:`bridge.api.openapi_spec`, so it lists exactly the
routes that are served. A served route without a description is left out
and logged (the OpenAPI test fails on it).
"""

from __future__ import annotations

from collections.abc import Iterable
import copy
import json
import logging
from typing import Any

from aiohttp import hdrs, web

from bridge import __version__
from bridge.api.openapi_spec import COMPONENTS, OPERATIONS, TAGS, TOKEN_SECURITY

_LOGGER = logging.getLogger(__name__)

DOC_KEY: web.AppKey[bytes] = web.AppKey("openapi", bytes)

Route = tuple[str, str]


def served_routes(app: web.Application) -> set[Route]:
    """``(METHOD, path)`` of every route in the app's router (HEAD twins of GET left out)."""
    out: set[Route] = set()
    for route in app.router.routes():
        if route.method == hdrs.METH_HEAD or route.resource is None:
            continue
        out.add((route.method, route.resource.canonical))
    return out


def undocumented(routes: Iterable[Route]) -> list[Route]:
    """The routes that have no description."""
    return sorted(r for r in routes if r not in OPERATIONS)


def build_document(routes: Iterable[Route] | None = None) -> dict[str, Any]:
    """The OpenAPI document for ``routes`` (default: every described route)."""
    wanted = set(OPERATIONS) if routes is None else set(routes)
    paths: dict[str, dict[str, Any]] = {}
    for method, path in sorted(wanted & set(OPERATIONS), key=lambda r: (r[1], r[0])):
        paths.setdefault(path, {})[method.lower()] = copy.deepcopy(OPERATIONS[(method, path)])
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ThermoSmart Local bridge",
            "version": __version__,
            "summary": "The local thermostat's cloud-compatible and native API",
            "description": "Served on TCP 8722. The cloud-compatible routes are those of the "
            "ThermoSmart cloud API; the native API under /api/v1/ adds decoded OpenTherm "
            "values, history, diagnostics, privacy and a WebSocket push channel. Every route "
            "except health, pairing, the OAuth pages and this document needs a token.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "tags": copy.deepcopy(TAGS),
        "security": copy.deepcopy(TOKEN_SECURITY),
        "paths": paths,
        "components": copy.deepcopy(COMPONENTS),
    }


async def get_openapi(request: web.Request) -> web.Response:
    """``GET /openapi.json`` (no token needed)."""
    return web.Response(body=request.app[DOC_KEY], content_type="application/json")


async def _on_startup(app: web.Application) -> None:
    routes = served_routes(app)
    missing = undocumented(routes)
    if missing:
        _LOGGER.warning("Routes without an OpenAPI description: %s", missing)
    app[DOC_KEY] = json.dumps(build_document(routes)).encode()


def add_routes(app: web.Application) -> None:
    """Register ``/openapi.json``; the document is built when the app starts."""
    app.on_startup.append(_on_startup)
    app.router.add_get("/openapi.json", get_openapi)
