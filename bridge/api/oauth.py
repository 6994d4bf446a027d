"""The OAuth2 token endpoint of the cloud-compatible API (THERMOSMART_API.md).

- ``POST /oauth2/token``: ``authorization_code`` (with the PKCE
  ``code_verifier`` when the code was issued with a challenge) and
  ``refresh_token`` grants; errors as RFC 6749 JSON.

Following RFC 9700: refresh tokens rotate, and a used one presented again
revokes its whole grant; a code redeemed twice revokes what it issued.

The route is public (no bearer token): it checks the client's own secret.
The owner's login and consent pages that hand out the codes are
:mod:`bridge.api.oauth_pages`.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from aiohttp import web
from multidict import MultiDictProxy

from bridge.api.context import BRIDGE_KEY
from bridge.api.oauth_sessions import SCOPE, one_field
from bridge.api.routing import Route, form_body, json_ok, operation, register, response_ref
from bridge.api.util import FORM, read_form
from bridge.core import pkce
from bridge.core.bodies import BodyError
from bridge.core.payloads.access import OAuthError, OAuthToken, TokenForm
from bridge.services.access import ACCESS_TOKEN_TTL, GrantRefused

if TYPE_CHECKING:
    from bridge.services.access import OAuthClient, OAuthGrant

_LOGGER = logging.getLogger(__name__)

_JSON_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


# -- token ---------------------------------------------------------------------------


def _token_error(
    error: str, description: str, *, status: int = 400, basic: bool = False
) -> web.Response:
    headers = dict(_JSON_HEADERS)
    if basic:
        headers["WWW-Authenticate"] = 'Basic realm="thermosmart"'
    return web.json_response(
        {"error": error, "error_description": description}, status=status, headers=headers
    )


def _basic_credentials(request: web.Request) -> tuple[str, str] | bool | None:
    """``(client_id, client_secret)`` from HTTP Basic; None if absent, False if malformed."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return False
    return unquote_plus(client_id), unquote_plus(secret)


async def _client(request: web.Request, form: MultiDictProxy[Any]) -> OAuthClient | web.Response:
    """The authenticated client, or the RFC 6749 error answer."""
    basic = _basic_credentials(request)
    if basic is False:
        return _token_error(
            "invalid_client", "malformed HTTP Basic credentials", status=401, basic=True
        )
    in_form = "client_secret" in form
    if basic is not None and in_form:
        return _token_error("invalid_request", "client credentials given twice")
    if isinstance(basic, tuple):
        client_id, secret = basic
    else:
        client_id, secret = (
            one_field(form, "client_id") or "",
            one_field(form, "client_secret") or "",
        )
    client = None
    if client_id and secret and len(client_id) <= 100:
        client = await request.app[BRIDGE_KEY].access.verify_oauth_client(client_id, secret)
    if client is None:
        return _token_error(
            "invalid_client", "client authentication failed", status=401, basic=True
        )
    form_id = form.get("client_id")
    if isinstance(basic, tuple) and form_id is not None and form_id != client.client_id:
        return _token_error("invalid_request", "client_id does not match the credentials")
    return client


def _grant_body(grant: OAuthGrant, hw: str) -> dict[str, Any]:
    info = grant.access.info
    expires_in = ACCESS_TOKEN_TTL if info.expires is None else max(0.0, info.expires - info.created)
    return {
        "access_token": grant.access.token,
        "token_type": "Bearer",
        "expires_in": round(expires_in),
        "refresh_token": grant.refresh.token,
        "scope": SCOPE,
        "thermostat": hw,
    }


async def token(request: web.Request) -> web.Response:
    """``POST /oauth2/token``: exchange a code, or rotate a refresh token.

    Client credentials by HTTP Basic or as ``client_id``/``client_secret``
    form fields (not both), for both grants. A used refresh token is revoked
    and never works again: presenting it revokes the grant it belongs to.
    """
    if request.content_type != FORM:
        return _token_error("invalid_request", "the body must be a form")
    try:
        form = await read_form(request)
    except BodyError as err:
        return _token_error("invalid_request", err.message)
    for name in form:
        if len(form.getall(name)) > 1:
            return _token_error("invalid_request", f"{name} given more than once")
    grant_type = one_field(form, "grant_type")
    if grant_type is None:
        return _token_error("invalid_request", "grant_type is missing")
    if grant_type not in ("authorization_code", "refresh_token"):
        return _token_error("unsupported_grant_type", f"{grant_type} is not supported")
    client = await _client(request, form)
    if isinstance(client, web.Response):
        return client
    bridge = request.app[BRIDGE_KEY]
    access = bridge.access
    if grant_type == "authorization_code":
        code = one_field(form, "code")
        if not code:
            return _token_error("invalid_request", "code is missing")
        redirect_uri = one_field(form, "redirect_uri")
        if redirect_uri is None and len(client.redirect_uris) == 1:
            redirect_uri = client.redirect_uris[0]
        if redirect_uri is None:
            return _token_error("invalid_request", "redirect_uri is missing")
        verifier = one_field(form, "code_verifier")
        if "code_verifier" in form and (rule := pkce.verifier_rule(verifier or "")):
            return _token_error("invalid_request", rule)
        grant = await access.exchange_auth_code(
            code, client.client_id, redirect_uri, code_verifier=verifier
        )
        if isinstance(grant, GrantRefused):
            return _token_error("invalid_grant", grant.value)
    else:
        refresh = one_field(form, "refresh_token")
        if not refresh:
            return _token_error("invalid_request", "refresh_token is missing")
        scope = one_field(form, "scope")
        if scope is not None and set(scope.split()) != {SCOPE}:
            return _token_error("invalid_scope", f"the only scope is {SCOPE}")
        grant = await access.rotate_refresh_token(refresh, client_id=client.client_id)
        if isinstance(grant, GrantRefused):
            return _token_error("invalid_grant", grant.value)
        try:  # the client's webhook follows its grant; the rotation has happened anyway
            await bridge.webhooks.adopt(client.client_id, grant.refresh.info.id)
        except Exception:
            _LOGGER.exception("Could not move the webhook of OAuth client %s", client.client_id)
    return web.json_response(
        _grant_body(grant, bridge.thermostat.hardware_id), headers=_JSON_HEADERS
    )


ROUTES: tuple[Route, ...] = (
    Route(
        "POST",
        "/oauth2/token",
        token,
        operation(
            "token",
            "Exchange a code, or rotate a refresh token",
            "oauth",
            {
                "200": json_ok(OAuthToken),
                "400": json_ok(OAuthError, "invalid_request, invalid_grant, …"),
                "401": json_ok(OAuthError, "invalid_client"),
                "429": response_ref("TooManyRequests"),
            },
            description="Client credentials by HTTP Basic or as client_id/client_secret form "
            "fields. A code issued with a PKCE code_challenge needs its code_verifier. Refresh "
            "tokens rotate: the old one stops working, and presenting it again revokes the "
            "grant; a code redeemed twice revokes the tokens it issued.",
            security=[{"clientBasic": []}, {}],
            body=form_body(TokenForm),
        ),
    ),
)


def add_routes(app: web.Application) -> None:
    """Register the token endpoint (public: listed in ``app.PUBLIC_PATHS``)."""
    register(app, ROUTES)
