"""``/openapi.json``: an OpenAPI 3.1 document of every route the app serves.

Each route module declares its routes with their operations
(:class:`~bridge.api.routing.Route`, next to the handlers); the app
registers them, and the document is built once, when the app starts, from
the operations of the routes the app serves. The component schemas are
generated from the payload models (:mod:`bridge.core.payloads`) the
operations refer to. A served route without a description is left out and
logged (the OpenAPI test fails on it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
import copy
import json
import logging
from typing import Any

from aiohttp import hdrs, web

from bridge import __version__
from bridge.api import (
    cloud,
    cloud_link,
    diagnostics,
    history,
    meta,
    oauth,
    oauth_pages,
    privacy,
    thermostat,
    tokens,
    webhooks,
    ws,
)
from bridge.api.routing import (
    OPERATIONS_KEY,
    PUBLIC,
    RESPONSES,
    SECURITY_SCHEMES,
    TAGS,
    TOKEN_SECURITY,
    Route,
    json_ok,
    operation,
    register,
)
from bridge.core.contract import REF_PREFIX, components
from bridge.core.payloads import catalog
from bridge.core.payloads.thermostat import ThermostatState
from bridge.core.payloads.ws import WebhookMessage, WsClientMessage

_LOGGER = logging.getLogger(__name__)

DOC_KEY: web.AppKey[bytes] = web.AppKey("openapi", bytes)

RouteKey = tuple[str, str]

#: Models described although no operation names them: what a webhook receives,
#: what a push client sends, and the thermostat state the native views build on.
EXTRA_MODELS: tuple[Any, ...] = (WebhookMessage, WsClientMessage, ThermostatState)


def served_routes(app: web.Application) -> set[RouteKey]:
    """``(METHOD, path)`` of every route in the app's router (HEAD twins of GET left out)."""
    out: set[RouteKey] = set()
    for route in app.router.routes():
        if route.method == hdrs.METH_HEAD or route.resource is None:
            continue
        out.add((route.method, route.resource.canonical))
    return out


def undocumented(routes: Iterable[RouteKey]) -> list[RouteKey]:
    """The routes that have no description."""
    return sorted(r for r in routes if r not in OPERATIONS)


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        target = value.get("$ref")
        if isinstance(target, str) and target.startswith(REF_PREFIX):
            yield target.removeprefix(REF_PREFIX)
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def schemas(operations: Iterable[Any]) -> dict[str, Any]:
    """The component schemas: every payload model ``operations`` (or the shared
    responses) refer to, and every model those refer to."""
    models = catalog()
    names = sorted({*_refs(list(operations)), *_refs(RESPONSES)})
    unknown = [n for n in names if n not in models]
    if unknown:
        raise KeyError(f"operations refer to schemas without a payload model: {unknown}")
    found = components(*(models[n] for n in names), *EXTRA_MODELS)
    return dict(sorted(found.items()))


def build_document(
    routes: Iterable[RouteKey] | None = None,
    operations: Mapping[RouteKey, Any] | None = None,
) -> dict[str, Any]:
    """The OpenAPI document for ``routes`` (default: every described route).

    ``operations`` are the described routes (default: every route the
    modules of :mod:`bridge.api` declare).
    """
    described = OPERATIONS if operations is None else operations
    wanted = set(described) if routes is None else set(routes)
    paths: dict[str, dict[str, Any]] = {}
    for method, path in sorted(wanted & set(described), key=lambda r: (r[1], r[0])):
        paths.setdefault(path, {})[method.lower()] = copy.deepcopy(described[(method, path)])
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
        "components": {
            "schemas": schemas(described.values()),
            "responses": copy.deepcopy(RESPONSES),
            "securitySchemes": copy.deepcopy(SECURITY_SCHEMES),
        },
    }


async def get_openapi(request: web.Request) -> web.Response:
    """``GET /openapi.json`` (no token needed)."""
    return web.Response(body=request.app[DOC_KEY], content_type="application/json")


async def _on_startup(app: web.Application) -> None:
    routes = served_routes(app)
    operations = app[OPERATIONS_KEY]
    missing = sorted(r for r in routes if r not in operations)
    if missing:
        _LOGGER.warning("Routes without an OpenAPI description: %s", missing)
    document = build_document(routes, operations)
    app[DOC_KEY] = json.dumps(document).encode()


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/openapi.json",
        get_openapi,
        operation(
            "getOpenApi",
            "This document",
            "meta",
            {"200": json_ok({"type": "object"}, "The OpenAPI 3.1 description of every route.")},
            security=PUBLIC,
        ),
    ),
)

#: Every route the bridge's API modules declare, with its operation.
ALL_ROUTES: tuple[Route, ...] = (
    *meta.ROUTES,
    *oauth_pages.ROUTES,
    *oauth.ROUTES,
    *webhooks.ROUTES,
    *cloud.ROUTES,
    *thermostat.ROUTES,
    *history.ROUTES,
    *diagnostics.ROUTES,
    *tokens.ROUTES,
    *privacy.ROUTES,
    *cloud_link.ROUTES,
    *ws.ROUTES,
    *ROUTES,
)
OPERATIONS: dict[RouteKey, Any] = {(r.method, r.path): r.operation for r in ALL_ROUTES}


def add_routes(app: web.Application) -> None:
    """Register ``/openapi.json``; the document is built when the app starts."""
    app.on_startup.append(_on_startup)
    register(app, ROUTES)
