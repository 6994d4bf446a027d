"""Who the bridge is, pairing, and the whole native state."""

from __future__ import annotations

import math

from aiohttp import web

from bridge import __version__
from bridge.api.context import API_VERSION, BRIDGE_KEY, LIMITER_KEY
from bridge.api.errors import json_error
from bridge.api.routing import (
    AUTH_ERRORS,
    PUBLIC,
    Route,
    error_response,
    json_body,
    json_ok,
    operation,
    register,
    response_ref,
)
from bridge.api.util import read_json
from bridge.core.contract import render
from bridge.core.decoding import decode
from bridge.core.payloads.access import Health, PairRequest, PairResponse
from bridge.core.payloads.native import NativeState


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


async def health(request: web.Request) -> web.Response:
    """Who this bridge is; needs no token."""
    bridge = request.app[BRIDGE_KEY]
    body = Health(
        status="ok",
        bridge_id=bridge.bridge_id,
        api_version=API_VERSION,
        version=__version__,
        name=bridge.name,
    )
    return web.json_response(render(body))


def _too_many_codes(wait: float) -> web.Response:
    return json_error(
        429,
        "rate_limited",
        "too many wrong pairing codes; wait and try again",
        headers={"Retry-After": str(math.ceil(wait))},
    )


async def pair(request: web.Request) -> web.Response:
    """Exchange a one-time pairing code for a token."""
    bridge = request.app[BRIDGE_KEY]
    limiter = request.app[LIMITER_KEY]
    address = client_address(request)
    wait = limiter.blocked(address)
    if wait > 0:
        return _too_many_codes(wait)
    data = decode(PairRequest, await read_json(request))
    # counted before the await, so concurrent guesses are limited like sequential ones
    wait = limiter.reserve(address)
    if wait > 0:
        return _too_many_codes(wait)
    issued = await bridge.access.pair(data.code, str(data.client_name))
    if issued is None:
        return json_error(401, "invalid_code", "the pairing code is wrong, used or expired")
    limiter.succeeded(address)
    body = PairResponse(
        access_token=issued.token, token_id=str(issued.info.id), bridge_id=bridge.bridge_id
    )
    return web.json_response(render(body))


async def state(request: web.Request) -> web.Response:
    """The bridge's whole native state."""
    return web.json_response(request.app[BRIDGE_KEY].native_state())


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/api/v1/health",
        health,
        operation(
            "getHealth",
            "Who this bridge is (no token needed)",
            "meta",
            {"200": json_ok(Health)},
            security=PUBLIC,
        ),
    ),
    Route(
        "POST",
        "/api/v1/pair",
        pair,
        operation(
            "pair",
            "Exchange a one-time pairing code for a token",
            "access",
            {
                "200": json_ok(PairResponse),
                "400": response_ref("BadRequest"),
                "401": error_response("The code is wrong, used or expired."),
                "413": response_ref("PayloadTooLarge"),
                "415": response_ref("UnsupportedMediaType"),
                "429": response_ref("TooManyRequests"),
            },
            description="Codes come from `thermosmart-bridge pair`, are valid 10 minutes and work "
            "once. Repeated wrong codes from one address are answered 429.",
            security=PUBLIC,
            body=json_body(PairRequest),
        ),
    ),
    Route(
        "GET",
        "/api/v1/state",
        state,
        operation(
            "getState",
            "The whole native state",
            "native",
            {"200": json_ok(NativeState), **AUTH_ERRORS},
        ),
    ),
)


def add_routes(app: web.Application) -> None:
    """Register health, pairing and the native state."""
    register(app, ROUTES)
