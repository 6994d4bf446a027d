"""The native API's token routes under ``/api/v1/tokens``: list the API
tokens (never their secrets) and revoke one. Both need an owner token.
"""

from __future__ import annotations

from aiohttp import web

from bridge.api.context import BRIDGE_KEY, BridgeServices, token_of
from bridge.api.errors import json_error
from bridge.api.routing import (
    OWNER_ERRORS,
    QUERY_ERRORS,
    Route,
    json_ok,
    operation,
    path_param,
    register,
    response_ref,
)
from bridge.api.util import owner_only, query_params
from bridge.api.ws import PUSH_KEY
from bridge.core.contract import render
from bridge.core.payloads.access import RevokedToken, Token, Tokens
from bridge.core.validation import parse_whole
from bridge.services.access import TokenInfo

#: The largest token id (SQLite's largest row id).
TOKEN_ID_MAX = 2**63 - 1


def _bridge(request: web.Request) -> BridgeServices:
    return request.app[BRIDGE_KEY]


# -- tokens --------------------------------------------------------------------------------


def token_view(info: TokenInfo, now: float, current: int | None = None) -> Token:
    """A token as the API lists it (never its secret)."""
    return Token(
        id=str(info.id),
        name=info.name,
        kind=info.kind,
        created=info.created,
        last_used=info.last_used,
        expires=info.expires,
        revoked=info.revoked,
        client_id=info.client_id,
        active=info.is_active(now),
        current=info.id == current,
    )


@owner_only
async def list_tokens(request: web.Request) -> web.Response:
    """``GET /api/v1/tokens``: every token, active or not, without secrets."""
    query_params(request, ())
    bridge = _bridge(request)
    now = bridge.clock.time()
    own = token_of(request).id
    tokens = await bridge.access.list_tokens()
    return web.json_response(render(Tokens(tokens=[token_view(t, now, own) for t in tokens])))


@owner_only
async def revoke_token(request: web.Request) -> web.Response:
    """``DELETE /api/v1/tokens/{id}``: revoke a token (idempotent); its push sockets close."""
    query_params(request, ())
    token_id = parse_whole(
        request.match_info["id"], "id", 0, TOKEN_ID_MAX, "must be a token id (a whole number)"
    )
    bridge = _bridge(request)
    info = await bridge.access.revoke_token(token_id)
    if info is None:
        return json_error(404, "not_found", "no token with that id")
    hub = request.app.get(PUSH_KEY)
    if hub is not None:
        hub.close_token(token_id)
    now = bridge.clock.time()
    return web.json_response(
        render(RevokedToken(token=token_view(info, now, token_of(request).id)))
    )


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/api/v1/tokens",
        list_tokens,
        operation(
            "listTokens",
            "Every token, active or not (never a secret)",
            "native",
            {"200": json_ok(Tokens), **QUERY_ERRORS, **OWNER_ERRORS},
        ),
    ),
    Route(
        "DELETE",
        "/api/v1/tokens/{id}",
        revoke_token,
        operation(
            "revokeToken",
            "Revoke a token (idempotent); its push sockets close with 4401",
            "native",
            {
                "200": json_ok(RevokedToken),
                **QUERY_ERRORS,
                **OWNER_ERRORS,
                "404": response_ref("NotFound"),
            },
            parameters=[
                path_param("id", "the token's id", {"type": "string", "pattern": "^[0-9]+$"})
            ],
        ),
    ),
)


def add_routes(app: web.Application) -> None:
    """Register the token routes."""
    register(app, ROUTES)
