"""The owner's login and consent pages of the OAuth2 authorization-code flow.

- ``GET /login``, ``POST /login``: the owner logs in; a server-side session
  (:mod:`bridge.api.oauth_sessions`) behind an HttpOnly, SameSite=Lax cookie.
- ``GET /oauth2/authorize``: a login form without a session, a consent form
  holding a hidden ``transaction_id`` with one; a PKCE ``code_challenge``
  (``S256`` only) is bound to the code it leads to.
- ``POST /oauth2/authorize/decision``: 302 to ``redirect_uri?code=…&state=…``.

These routes are public (no bearer token): they check their own secrets.
The pages are plain HTML without external assets; every value in them is
escaped. The token endpoint is :mod:`bridge.api.oauth`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from aiohttp import web
from yarl import URL

from bridge.api.context import BRIDGE_KEY, LIMITER_KEY
from bridge.api.oauth_sessions import (
    SCOPE,
    SESSION_COOKIE,
    SESSION_TTL,
    SESSIONS_KEY,
    SessionStore,
    one_field,
)
from bridge.api.routing import (
    HTML_PAGE,
    PUBLIC,
    STR,
    Route,
    form_body,
    operation,
    query,
    register,
    response_ref,
)
from bridge.api.util import read_form
from bridge.core import pkce
from bridge.core.pages import PAGE_HEADERS, escape, render_page
from bridge.core.payloads.access import DecisionForm, LoginForm

if TYPE_CHECKING:
    from bridge.services.access import OAuthClient

AUTHORIZE_PATH = "/oauth2/authorize"


def _e(value: object) -> str:
    """``value`` escaped for HTML text and attributes."""
    return escape(value)


def _page(
    title: str, body: str, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A complete HTML page; ``body`` must already be escaped HTML."""
    return web.Response(
        text=render_page(title, body, site="ThermoSmart Local"),
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={**PAGE_HEADERS, **(headers or {})},
    )


def _error_page(status: int, message: str) -> web.Response:
    return _page("Cannot continue", f"<p class='error'>{_e(message)}</p>", status=status)


def _login_page(next_path: str, *, error: str | None = None, status: int = 200) -> web.Response:
    notice = f"<p class='error'>{_e(error)}</p>" if error else ""
    body = (
        f"{notice}<p>Log in as the owner of this ThermoSmart Local bridge.</p>"
        "<form method='post' action='/login'>"
        "<label for='username'>Hardware id or e-mail</label>"
        "<input id='username' name='username' type='text' autocomplete='username' required>"
        "<label for='password'>Pairing code or API token</label>"
        "<input id='password' name='password' type='password' "
        "autocomplete='current-password' required>"
        f"<input type='hidden' name='next' value='{_e(next_path)}'>"
        "<button type='submit'>Log in</button></form>"
        "<p>Get a pairing code with <code>thermosmart-bridge pair</code>.</p>"
    )
    return _page("Log in", body, status=status)


def _consent_page(client: OAuthClient, hw: str, redirect_uri: str, transaction_id: str) -> str:
    name = client.name or client.client_id
    target = URL(redirect_uri).host or redirect_uri
    return (
        f"<p><strong>{_e(name)}</strong> asks to read and change the thermostat "
        f"<strong>{_e(hw)}</strong>, including its OpenTherm boiler data "
        f"(scope <code>{_e(SCOPE)}</code>).</p>"
        f"<p>It will be sent back to <code>{_e(target)}</code>.</p>"
        f"<form method='post' action='{_e(AUTHORIZE_PATH)}/decision'>"
        f"<input type='hidden' name='transaction_id' value='{_e(transaction_id)}'>"
        "<button type='submit' name='allow' value='1'>Allow</button>"
        "<button type='submit' name='cancel' value='1'>Deny</button></form>"
    )


def _redirect(location: str, *, status: int = 302) -> web.Response:
    return web.Response(status=status, headers={"Location": location, "Cache-Control": "no-store"})


def _with_query(redirect_uri: str, params: dict[str, str | None]) -> str:
    """``redirect_uri`` with ``params`` added to its query (None values left out)."""
    return str(URL(redirect_uri).update_query({k: v for k, v in params.items() if v is not None}))


def _safe_next(value: str) -> str:
    """Only the authorize page may be the target after a login (no open redirect)."""
    if value == AUTHORIZE_PATH or value.startswith(AUTHORIZE_PATH + "?"):
        return value
    return ""


# -- login ---------------------------------------------------------------------------


async def get_login(request: web.Request) -> web.Response:
    """``GET /login``: the login form."""
    return _login_page(_safe_next(request.query.get("next", "")))


def _too_many_logins(wait: float) -> web.Response:
    return _page(
        "Too many attempts",
        "<p class='error'>Too many failed logins from this address; wait and try again.</p>",
        status=429,
        headers={"Retry-After": str(math.ceil(wait))},
    )


async def post_login(request: web.Request) -> web.Response:
    """``POST /login`` with form ``username``, ``password`` (and ``next``).

    On the bridge the owner is whoever holds its pairing secret: ``username``
    is the thermostat's hardware id or the owner's e-mail setting;
    ``password`` is a valid one-time pairing code (used up) or an active API
    token of kind ``api`` or ``paired``. Success sets a new session cookie
    (HttpOnly, SameSite=Lax, Secure over TLS) and redirects (303) to ``next``
    when it is the authorize page, else shows a page. A failure answers 401
    with the form; repeated failures from one address answer 429 (the limiter
    that also guards pairing).
    """
    bridge = request.app[BRIDGE_KEY]
    limiter = request.app[LIMITER_KEY]
    address = request.remote or "unknown"
    wait = limiter.blocked(address)
    if wait > 0:
        return _too_many_logins(wait)
    form = await read_form(request)
    username = one_field(form, "username") or ""
    password = one_field(form, "password") or ""
    next_path = _safe_next(one_field(form, "next") or "")
    # counted before the await, so concurrent guesses are limited like sequential ones
    wait = limiter.reserve(address)
    if wait > 0:
        return _too_many_logins(wait)
    if not await bridge.access.owner_login(username, password):
        return _login_page(next_path, error="Wrong username or password.", status=401)
    limiter.succeeded(address)
    store = request.app[SESSIONS_KEY]
    store.end(request.cookies.get(SESSION_COOKIE))
    session_id = store.create(username.strip())
    response = (
        _redirect(next_path, status=303)
        if next_path
        else _page("Logged in", "<p>You are logged in to this ThermoSmart Local bridge.</p>")
    )
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(SESSION_TTL),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.secure,
    )
    return response


# -- authorize -----------------------------------------------------------------------


async def authorize(request: web.Request) -> web.Response:
    """``GET /oauth2/authorize?client_id&response_type=code&redirect_uri&scope=ot&state``
    (``&code_challenge&code_challenge_method=S256`` for PKCE).

    An unknown client or a redirect URI not registered for it answers a 400
    page, never a redirect. With a valid redirect URI, other errors go back
    to it as ``error=`` (RFC 6749 4.1.2.1). Without a session: the login
    form; with one: the consent form.
    """
    query = request.query
    bridge = request.app[BRIDGE_KEY]
    client_ids = query.getall("client_id", [])
    client = None
    if len(client_ids) == 1 and 0 < len(client_ids[0]) <= 100:
        client = await bridge.access.oauth_client(client_ids[0])
    if client is None:
        return _error_page(400, "Unknown client: the application is not registered on this bridge.")
    uris = query.getall("redirect_uri", [])
    if len(uris) > 1 or (uris and uris[0] not in client.redirect_uris):
        return _error_page(400, "The redirect URI is not registered for this application.")
    if uris:
        redirect_uri = uris[0]
    elif len(client.redirect_uris) == 1:
        redirect_uri = client.redirect_uris[0]
    else:
        return _error_page(400, "The redirect URI is missing.")
    states = query.getall("state", [])
    state = states[0] if len(states) == 1 else None

    def error(code: str, description: str) -> web.Response:
        return _redirect(
            _with_query(
                redirect_uri, {"error": code, "error_description": description, "state": state}
            )
        )

    for name in ("response_type", "scope", "state", "code_challenge", "code_challenge_method"):
        if len(query.getall(name, [])) > 1:
            return error("invalid_request", f"{name} given more than once")
    if state is not None and len(state) > 500:
        return error("invalid_request", "state is longer than 500 characters")
    response_type = query.get("response_type")
    if response_type is None:
        return error("invalid_request", "response_type is missing")
    if response_type != "code":
        return error("unsupported_response_type", "only response_type=code is supported")
    scopes = set(query.get("scope", SCOPE).split())
    if scopes != {SCOPE}:
        return error("invalid_scope", f"the only scope is {SCOPE}")
    challenge = query.get("code_challenge")
    method = query.get("code_challenge_method")
    if challenge is None and method is not None:
        return error("invalid_request", "code_challenge_method given without code_challenge")
    if challenge is not None and (rule := pkce.challenge_rule(challenge, method)):
        return error("invalid_request", rule)

    store = request.app[SESSIONS_KEY]
    session = store.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return _login_page(request.path_qs)
    transaction_id = store.add_transaction(
        session, client.client_id, redirect_uri, state, SCOPE, code_challenge=challenge
    )
    return _page(
        "Allow access?",
        _consent_page(client, bridge.thermostat.hardware_id, redirect_uri, transaction_id),
    )


async def decision(request: web.Request) -> web.Response:
    """``POST /oauth2/authorize/decision`` with form ``transaction_id`` (+ ``cancel``).

    Needs the session that opened the transaction (the cookie is SameSite=Lax
    and the transaction id is a secret of that session, so another site
    cannot forge a decision). Allow: 302 to ``redirect_uri?code=…&state=…``;
    cancel: ``error=access_denied``. A transaction is used once.
    """
    store = request.app[SESSIONS_KEY]
    session = store.get(request.cookies.get(SESSION_COOKIE))
    form = await read_form(request)
    if session is None:
        return _error_page(403, "You are not logged in, or your session has expired.")
    transaction = store.take_transaction(session, one_field(form, "transaction_id") or "")
    if transaction is None:
        return _error_page(
            400, "This request expired or was already answered. Start again from the application."
        )
    if "cancel" in form:
        return _redirect(
            _with_query(
                transaction.redirect_uri,
                {
                    "error": "access_denied",
                    "error_description": "the owner denied access",
                    "state": transaction.state,
                },
            )
        )
    try:
        code = await request.app[BRIDGE_KEY].access.create_auth_code(
            transaction.client_id,
            transaction.redirect_uri,
            code_challenge=transaction.code_challenge,
        )
    except ValueError:
        return _error_page(400, "The application is no longer registered on this bridge.")
    return _redirect(
        _with_query(transaction.redirect_uri, {"code": code, "state": transaction.state})
    )


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/login",
        get_login,
        operation(
            "loginPage",
            "The owner's login page",
            "oauth",
            {"200": {"description": "HTML login form", "content": HTML_PAGE}},
            security=PUBLIC,
        ),
    ),
    Route(
        "POST",
        "/login",
        post_login,
        operation(
            "login",
            "Log the owner in (sets a session cookie)",
            "oauth",
            {
                "200": {"description": "Logged in", "content": HTML_PAGE},
                "302": {"description": "Logged in; back to the page that asked for it"},
                "400": response_ref("BadRequest"),
                "401": {"description": "Wrong username or password", "content": HTML_PAGE},
                "429": response_ref("TooManyRequests"),
            },
            description="`username` is the hardware id or the owner's e-mail; the password is the "
            "bridge's pairing secret.",
            security=PUBLIC,
            body=form_body(LoginForm),
        ),
    ),
    Route(
        "GET",
        "/oauth2/authorize",
        authorize,
        operation(
            "authorize",
            "Start the authorization-code flow",
            "oauth",
            {
                "200": {
                    "description": "Consent form (with a hidden transaction_id), or the login form",
                    "content": HTML_PAGE,
                },
                "302": {"description": "To the login page, or back to redirect_uri with an error"},
                "400": {"description": "Unknown client or redirect_uri", "content": HTML_PAGE},
            },
            security=PUBLIC,
            parameters=[
                query("client_id", "the registered client", required=True),
                query("response_type", "always code", {"const": "code"}, required=True),
                query("redirect_uri", "one of the client's registered URIs", required=True),
                query("scope", "ot", {"const": "ot"}),
                query("state", "returned unchanged"),
                query(
                    "code_challenge",
                    "PKCE (RFC 7636): BASE64URL(SHA256(code_verifier)), 43 characters; the "
                    "token request must then send the code_verifier",
                    {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"},
                ),
                query(
                    "code_challenge_method",
                    "S256 (plain is refused); required with code_challenge",
                    {"const": pkce.METHOD},
                ),
            ],
        ),
    ),
    Route(
        "POST",
        "/oauth2/authorize/decision",
        decision,
        operation(
            "authorizeDecision",
            "The owner allows (or denies) the client",
            "oauth",
            {
                "302": {
                    "description": "To redirect_uri?code=…&state=… (or ?error=access_denied)",
                    "headers": {"Location": {"schema": STR}},
                },
                "400": {"description": "Unknown or used transaction", "content": HTML_PAGE},
                "401": {"description": "Not logged in", "content": HTML_PAGE},
            },
            security=PUBLIC,
            body=form_body(DecisionForm),
        ),
    ),
)


def add_routes(app: web.Application) -> None:
    """Register the login and consent pages (public: listed in ``app.PUBLIC_PATHS``)."""
    app[SESSIONS_KEY] = SessionStore(app[BRIDGE_KEY].clock)
    register(app, ROUTES)
