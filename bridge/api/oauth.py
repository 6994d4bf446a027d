"""OAuth2 authorization-code flow of the cloud-compatible API (THERMOSMART_API.md).

- ``GET /login``, ``POST /login``: the owner logs in; a server-side session
  (in memory, :data:`SESSION_TTL`) behind an HttpOnly, SameSite=Lax cookie.
- ``GET /oauth2/authorize``: a login form without a session, a consent form
  holding a hidden ``transaction_id`` with one.
- ``POST /oauth2/authorize/decision``: 302 to ``redirect_uri?code=…&state=…``.
- ``POST /oauth2/token``: ``authorization_code`` and ``refresh_token`` grants
  (refresh tokens rotate); errors as RFC 6749 JSON.

These routes are public (no bearer token): they check their own secrets.
The pages are plain HTML without external assets; every value in them is
escaped.
"""

from __future__ import annotations

import base64
import binascii
from collections import OrderedDict
from dataclasses import dataclass, field
import html
import logging
import math
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from aiohttp import web
from multidict import MultiDictProxy
from yarl import URL

from bridge.api.context import BRIDGE_KEY, LIMITER_KEY
from bridge.api.routing import (
    HTML_PAGE,
    PUBLIC,
    STR,
    Route,
    form_body,
    json_ok,
    operation,
    query,
    register,
    response_ref,
)
from bridge.core.payloads.access import DecisionForm, LoginForm, OAuthError, OAuthToken, TokenForm
from bridge.services.access import ACCESS_TOKEN_TTL, hash_secret

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.services.access import OAuthClient, OAuthGrant

_LOGGER = logging.getLogger(__name__)

SCOPE = "ot"
SESSION_COOKIE = "thermosmart_session"
SESSION_TTL = 3600.0
"""A login session lasts one hour."""
TRANSACTION_TTL = 600.0
"""A consent form must be answered within 10 minutes."""
MAX_SESSIONS = 64
MAX_TRANSACTIONS = 16
"""Open consent forms per session; the oldest is dropped beyond this."""
MAX_FIELD = 2000
AUTHORIZE_PATH = "/oauth2/authorize"

_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_JSON_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;"
    "color:#222}label{display:block;margin:.8rem 0 .2rem}input[type=text],"
    "input[type=password]{width:100%;padding:.4rem;box-sizing:border-box}"
    "button{margin:1rem .5rem 0 0;padding:.4rem 1rem}.error{color:#a00}"
)


# -- sessions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transaction:
    """One authorization request waiting for the owner's decision."""

    client_id: str
    redirect_uri: str
    state: str | None
    scope: str
    expires: float


@dataclass(slots=True)
class Session:
    """A logged-in owner."""

    user: str
    expires: float
    transactions: OrderedDict[str, Transaction] = field(default_factory=OrderedDict)


class SessionStore:
    """Login sessions and their pending authorization transactions, in memory.

    Ids are random and kept only as hashes, so a lookup compares no secret.
    Both are bounded: the oldest session or transaction is dropped first.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        ttl: float = SESSION_TTL,
        transaction_ttl: float = TRANSACTION_TTL,
    ) -> None:
        self._clock = clock
        self._ttl = ttl
        self._transaction_ttl = transaction_ttl
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def _purge(self) -> None:
        now = self._clock.monotonic()
        for key in [k for k, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[key]

    def create(self, user: str) -> str:
        """A new session for ``user``; returns its id (the cookie value)."""
        self._purge()
        while len(self._sessions) >= MAX_SESSIONS:
            self._sessions.popitem(last=False)
        session_id = secrets.token_urlsafe(32)
        self._sessions[hash_secret(session_id)] = Session(user, self._clock.monotonic() + self._ttl)
        return session_id

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None."""
        if not session_id or len(session_id) > 100:
            return None
        self._purge()
        return self._sessions.get(hash_secret(session_id))

    def end(self, session_id: str | None) -> None:
        """Forget a session (on a new login)."""
        if session_id and len(session_id) <= 100:
            self._sessions.pop(hash_secret(session_id), None)

    def add_transaction(
        self, session: Session, client_id: str, redirect_uri: str, state: str | None, scope: str
    ) -> str:
        """Open a consent transaction in ``session``; returns its id."""
        now = self._clock.monotonic()
        for key in [k for k, t in session.transactions.items() if t.expires <= now]:
            del session.transactions[key]
        while len(session.transactions) >= MAX_TRANSACTIONS:
            session.transactions.popitem(last=False)
        transaction_id = secrets.token_urlsafe(24)
        session.transactions[hash_secret(transaction_id)] = Transaction(
            client_id, redirect_uri, state, scope, now + self._transaction_ttl
        )
        return transaction_id

    def take_transaction(self, session: Session, transaction_id: str) -> Transaction | None:
        """Use a transaction of ``session`` once; None if unknown, used or expired."""
        if not transaction_id or len(transaction_id) > 100:
            return None
        found = session.transactions.pop(hash_secret(transaction_id), None)
        if found is None or found.expires <= self._clock.monotonic():
            return None
        return found


SESSIONS_KEY: web.AppKey[SessionStore] = web.AppKey("oauth_sessions", SessionStore)


# -- pages ---------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _page(
    title: str, body: str, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A complete HTML page; ``body`` must already be escaped HTML."""
    text = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)} · ThermoSmart Local</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{_e(title)}</h1>{body}</main></body></html>"
    )
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={**_PAGE_HEADERS, **(headers or {})},
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


# -- helpers -------------------------------------------------------------------------


def _one(form: MultiDictProxy[Any], name: str) -> str | None:
    """A form field given once as text (None if absent, repeated, or too long)."""
    values = form.getall(name, [])
    if len(values) != 1 or not isinstance(values[0], str) or len(values[0]) > MAX_FIELD:
        return None
    value: str = values[0]
    return value


# -- login ---------------------------------------------------------------------------


async def get_login(request: web.Request) -> web.Response:
    """``GET /login``: the login form."""
    return _login_page(_safe_next(request.query.get("next", "")))


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
        return _page(
            "Too many attempts",
            "<p class='error'>Too many failed logins from this address; wait and try again.</p>",
            status=429,
            headers={"Retry-After": str(math.ceil(wait))},
        )
    form = await request.post()
    username = _one(form, "username") or ""
    password = _one(form, "password") or ""
    next_path = _safe_next(_one(form, "next") or "")
    if not await bridge.access.owner_login(username, password):
        limiter.failed(address)
        return _login_page(next_path, error="Wrong username or password.", status=401)
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
    """``GET /oauth2/authorize?client_id&response_type=code&redirect_uri&scope=ot&state``.

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

    for name in ("response_type", "scope", "state"):
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

    store = request.app[SESSIONS_KEY]
    session = store.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return _login_page(request.path_qs)
    transaction_id = store.add_transaction(session, client.client_id, redirect_uri, state, SCOPE)
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
    form = await request.post()
    if session is None:
        return _error_page(403, "You are not logged in, or your session has expired.")
    transaction = store.take_transaction(session, _one(form, "transaction_id") or "")
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
            transaction.client_id, transaction.redirect_uri
        )
    except ValueError:
        return _error_page(400, "The application is no longer registered on this bridge.")
    return _redirect(
        _with_query(transaction.redirect_uri, {"code": code, "state": transaction.state})
    )


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
        client_id, secret = _one(form, "client_id") or "", _one(form, "client_secret") or ""
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
    and never works again.
    """
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return _token_error("invalid_request", "the body must be a form")
    form = await request.post()
    for name in form:
        if len(form.getall(name)) > 1:
            return _token_error("invalid_request", f"{name} given more than once")
    grant_type = _one(form, "grant_type")
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
        code = _one(form, "code")
        if not code:
            return _token_error("invalid_request", "code is missing")
        redirect_uri = _one(form, "redirect_uri")
        if redirect_uri is None and len(client.redirect_uris) == 1:
            redirect_uri = client.redirect_uris[0]
        if redirect_uri is None:
            return _token_error("invalid_request", "redirect_uri is missing")
        grant = await access.exchange_auth_code(code, client.client_id, redirect_uri)
        if grant is None:
            return _token_error(
                "invalid_grant", "the code is unknown, used, expired, or for another redirect_uri"
            )
    else:
        refresh = _one(form, "refresh_token")
        if not refresh:
            return _token_error("invalid_request", "refresh_token is missing")
        scope = _one(form, "scope")
        if scope is not None and set(scope.split()) != {SCOPE}:
            return _token_error("invalid_scope", f"the only scope is {SCOPE}")
        grant = await access.rotate_refresh_token(refresh, client_id=client.client_id)
        if grant is None:
            return _token_error("invalid_grant", "the refresh token is unknown, used or revoked")
        try:  # the client's webhook follows its grant; the rotation has happened anyway
            await bridge.webhooks.adopt(client.client_id, grant.refresh.info.id)
        except Exception:
            _LOGGER.exception("Could not move the webhook of OAuth client %s", client.client_id)
    return web.json_response(
        _grant_body(grant, bridge.thermostat.hardware_id), headers=_JSON_HEADERS
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
            "fields. Refresh tokens rotate: the old one stops working.",
            security=[{"clientBasic": []}, {}],
            body=form_body(TokenForm),
        ),
    ),
)


def add_routes(app: web.Application) -> None:
    """Register the login and OAuth2 routes (public: listed in ``app.PUBLIC_PATHS``)."""
    app[SESSIONS_KEY] = SessionStore(app[BRIDGE_KEY].clock)
    register(app, ROUTES)
