"""The aiohttp application: routes, authentication and limits."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from bridge.api import (
    cloud,
    cloud_link,
    diagnostics,
    history,
    meta,
    oauth,
    oauth_pages,
    openapi,
    privacy,
    thermostat,
    tokens,
    webhooks,
    ws,
)
from bridge.api.context import BRIDGE_KEY, LIMITER_KEY, TOKEN_KEY, BridgeServices
from bridge.api.errors import json_error, unauthorized
from bridge.api.hosts import HOSTS_KEY, HostPolicy, host_middleware
from bridge.api.ratelimit import FailureLimiter
from bridge.core.bodies import MAX_BODY, BodyError
from bridge.core.errors import StorageUnavailableError
from bridge.core.validation import ValidationError, is_text

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

#: What the ``Server`` header says: the product, never versions of it or its libraries.
SERVER = "ThermoSmart Local"

_LOGGER = logging.getLogger(__name__)

#: Retry-After (seconds) of the 503 answered while the bridge's disk takes no writes.
STORAGE_RETRY_S = 60


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
    # a header byte that was not UTF-8 arrives as a lone surrogate: no token has one
    info = await request.app[BRIDGE_KEY].access.authenticate(token) if is_text(token) else None
    if info is None:
        return unauthorized("the token is unknown, expired or revoked")
    request[TOKEN_KEY] = info
    return await handler(request)


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn aiohttp's plain-text errors into JSON ones, and a :class:`ValidationError`
    raised anywhere in a handler into the one 400 ``Error`` answer."""
    try:
        return await handler(request)
    except ValidationError as err:
        return json_error(400, "invalid", "the request is not valid", errors=err.errors)
    except BodyError as err:
        return json_error(400, err.error, err.message)
    except StorageUnavailableError as err:
        # the bridge's own disk, not the request: 503 says "try again later", honestly
        _LOGGER.warning("%s %s: %s", request.method, request.path, err)
        return json_error(
            503, "storage_unavailable", str(err), headers={"Retry-After": str(STORAGE_RETRY_S)}
        )
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        if exc.status == 413:  # the reason phrase differs between Python versions
            return json_error(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
        return json_error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)


async def server_header(_request: web.Request, response: web.StreamResponse) -> None:
    """Name the product in the ``Server`` header, without versions."""
    response.headers["Server"] = SERVER


def create_app(bridge: BridgeServices, hosts: HostPolicy | None = None) -> web.Application:
    """The bridge's web application; ``hosts``: the names it answers to (loopback only
    when not given)."""
    app = web.Application(
        client_max_size=MAX_BODY,
        middlewares=[error_middleware, host_middleware, auth_middleware],
    )
    app.on_response_prepare.append(server_header)
    app[HOSTS_KEY] = hosts or HostPolicy()
    app[BRIDGE_KEY] = bridge
    app[LIMITER_KEY] = FailureLimiter(bridge.clock)
    meta.add_routes(app)
    cloud.add_routes(app)
    oauth_pages.add_routes(app)
    oauth.add_routes(app)
    webhooks.add_routes(app)
    thermostat.add_routes(app)
    history.add_routes(app)
    diagnostics.add_routes(app)
    tokens.add_routes(app)
    privacy.add_routes(app)
    cloud_link.add_routes(app)
    ws.add_routes(app)
    openapi.add_routes(app)
    return app
