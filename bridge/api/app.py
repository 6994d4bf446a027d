"""The aiohttp application: routes, authentication and limits."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from aiohttp import web
import voluptuous as vol

from bridge import __version__
from bridge.api import cloud, native, oauth, openapi, privacy, webhooks, ws
from bridge.api.context import API_VERSION, BRIDGE_KEY, LIMITER_KEY, TOKEN_KEY, BridgeServices
from bridge.api.errors import json_error, unauthorized
from bridge.api.ratelimit import FailureLimiter
from bridge.api.util import read_json
from bridge.core.validation import errors_from_invalid

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


MAX_BODY = 64 * 1024


# Routes that need no token: health, pairing (it checks its own code), OpenAPI,
# and the login and OAuth2 pages (they check their own secrets).
PUBLIC_PATHS = frozenset(
    {
        "/api/v1/health",
        "/api/v1/pair",
        "/openapi.json",
        "/login",
        "/oauth2/authorize",
        "/oauth2/authorize/decision",
        "/oauth2/token",
    }
)

PAIR_SCHEMA = vol.Schema(
    {
        vol.Required("code"): vol.All(str, vol.Length(min=4, max=32)),
        vol.Optional("client_name", default="client"): vol.All(str, vol.Length(min=1, max=64)),
    },
    extra=vol.PREVENT_EXTRA,
)


def _client_address(request: web.Request) -> str:
    return request.remote or "unknown"


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query.get("access_token") or None


@web.middleware
async def auth_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every route but the public ones needs an active token."""
    if request.path in PUBLIC_PATHS:
        return await handler(request)
    token = _bearer(request)
    if token is None:
        return unauthorized()
    info = await request.app[BRIDGE_KEY].access.authenticate(token)
    if info is None:
        return unauthorized("the token is unknown, expired or revoked")
    request[TOKEN_KEY] = info
    return await handler(request)


async def health(request: web.Request) -> web.Response:
    """Who this bridge is; needs no token."""
    bridge = request.app[BRIDGE_KEY]
    return web.json_response(
        {
            "status": "ok",
            "bridge_id": bridge.bridge_id,
            "api_version": API_VERSION,
            "version": __version__,
            "name": bridge.name,
        }
    )


async def pair(request: web.Request) -> web.Response:
    """Exchange a one-time pairing code for a token."""
    bridge = request.app[BRIDGE_KEY]
    limiter = request.app[LIMITER_KEY]
    address = _client_address(request)
    wait = limiter.blocked(address)
    if wait > 0:
        return json_error(
            429,
            "rate_limited",
            "too many wrong pairing codes; wait and try again",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    body = await read_json(request)
    try:
        data = PAIR_SCHEMA(body)
    except vol.Invalid as err:
        return json_error(
            400, "invalid", "the pairing request is not valid", errors=errors_from_invalid(err)
        )
    issued = await bridge.access.pair(data["code"], data["client_name"])
    if issued is None:
        limiter.failed(address)
        return json_error(401, "invalid_code", "the pairing code is wrong, used or expired")
    return web.json_response(
        {
            "access_token": issued.token,
            "token_id": str(issued.info.id),
            "bridge_id": bridge.bridge_id,
        }
    )


async def state(request: web.Request) -> web.Response:
    """The bridge's whole native state."""
    return web.json_response(request.app[BRIDGE_KEY].native_state())


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn aiohttp's plain-text errors into JSON ones."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        return json_error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)


def create_app(bridge: BridgeServices) -> web.Application:
    """The bridge's web application."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[error_middleware, auth_middleware])
    app[BRIDGE_KEY] = bridge
    app[LIMITER_KEY] = FailureLimiter(bridge.clock)
    app.router.add_get("/api/v1/health", health)
    app.router.add_post("/api/v1/pair", pair)
    app.router.add_get("/api/v1/state", state)
    cloud.add_routes(app)
    oauth.add_routes(app)
    webhooks.add_routes(app)
    native.add_routes(app)
    privacy.add_routes(app)
    ws.add_routes(app)
    openapi.add_routes(app)
    return app
