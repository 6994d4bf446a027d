"""OAuth 2.0 on the stand-in: the owner's login, the authorization-code flow of the
cloud-compatible API (THERMOSMART_API.md) and the device authorization grant
(RFC 8628) that links a bridge to an owner's account.

Owner side (HTML pages, :mod:`cloud_stub.pages`):

* ``GET``/``POST /login``: e-mail (or a linked thermostat's hardware id) and
  the password ``thermosmart-cloud owner create`` printed; sets the session.
* ``GET /oauth2/authorize`` (``client_id``, ``response_type=code``,
  ``redirect_uri``, ``scope=ot``, ``state``, PKCE ``code_challenge`` with
  ``S256``) and ``POST /oauth2/authorize/decision`` (``transaction_id``;
  ``cancel`` denies): 302 to ``redirect_uri?code=…&state=…``.
* ``GET /device`` (``?user_code=…``) shows the link request a bridge made,
  ``POST /device/decision`` (``transaction_id``, ``decision=approve|deny``)
  answers it. Both need a logged-in owner; an owner who enters
  :data:`~cloud_stub.pages.MAX_CODE_FAILURES` wrong codes within an hour
  waits (429).

Token endpoint ``POST /oauth2/token`` (a form; errors as RFC 6749 JSON):

* ``authorization_code`` and ``refresh_token`` for registered OAuth clients
  (``thermosmart-cloud oauth-client create``), credentials by HTTP Basic or
  as form fields; refresh tokens rotate (the used pair stops working);
* ``urn:ietf:params:oauth:grant-type:device_code`` for the bridge (public
  client ``thermosmart-bridge``): ``authorization_pending``, ``slow_down``,
  ``access_denied``, ``expired_token``, ``invalid_grant``, or the bridge's
  credential (``access_token``), once.

``POST /oauth2/device_authorization`` starts a link: form ``client_id=
thermosmart-bridge``, ``bridge_id``, ``hardware_id``, ``terms_version`` (and
optionally ``scope=bridge``).
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web
from yarl import URL

from bridge.core import pkce
from bridge.core.bodies import BodyError, form_fields, parse_form
from bridge.core.validation import ValidationError, is_text
from cloud_stub import schemas
from cloud_stub.context import store_of
from cloud_stub.pages import (
    CODE_LIMITER_KEY,
    SESSION_COOKIE,
    SESSIONS_KEY,
    e,
    error_page,
    login_page,
    page,
    redirect,
    session_of,
    set_session_cookie,
)
from cloud_stub.store import AlreadyEnrolled, BridgeRecord

_LOGGER = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
SCOPE = "ot"
"""The one scope of the cloud-compatible API."""
BRIDGE_CLIENT_ID = "thermosmart-bridge"
"""The public client a bridge links as (RFC 8628)."""
BRIDGE_SCOPE = "bridge"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
AUTHORIZE_PATH = "/oauth2/authorize"
DEVICE_PATH = "/device"
MAX_FIELD = 2000
_CONSENT = "consent"
_LINK = "link"
_JSON_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}

#: The query parameters of the pages, for the server's query check.
QUERY: dict[str, frozenset[str]] = {
    "/login": frozenset({"next"}),
    AUTHORIZE_PATH: frozenset(
        {
            "client_id",
            "response_type",
            "redirect_uri",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
        }
    ),
    DEVICE_PATH: frozenset({"user_code"}),
}


class _FormError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def _form(request: web.Request) -> dict[str, str]:
    """The form body: UTF-8, each field once and at most :data:`MAX_FIELD` characters."""
    if request.content_type != FORM or request.charset not in (None, "utf-8"):
        raise _FormError(f"the body must be {FORM} (UTF-8)")
    try:
        fields = form_fields(parse_form(await request.read()))
    except BodyError as err:
        raise _FormError(err.message) from None
    for name, value in fields.items():
        if len(value) > MAX_FIELD:
            raise _FormError(f"{name} is longer than {MAX_FIELD} characters")
    return fields


def _oauth_error(
    error: str,
    description: str,
    *,
    status: int = 400,
    basic: bool = False,
    errors: list[dict[str, str]] | None = None,
) -> web.Response:
    headers = dict(_JSON_HEADERS)
    if basic:
        headers["WWW-Authenticate"] = 'Basic realm="thermosmart-cloud"'
    body: dict[str, Any] = {"error": error, "error_description": description}
    if errors:
        body["errors"] = errors
    return web.json_response(body, status=status, headers=headers)


def _with_query(uri: str, params: dict[str, str | None]) -> str:
    return str(URL(uri).update_query({k: v for k, v in params.items() if v is not None}))


def _safe_next(value: str) -> str:
    """Only the authorize and device pages may follow a login (no open redirect)."""
    for path in (AUTHORIZE_PATH, DEVICE_PATH):
        if value == path or value.startswith(path + "?"):
            return value
    return ""


# -- login ---------------------------------------------------------------------------


async def get_login(request: web.Request) -> web.Response:
    """``GET /login``: the login form."""
    return login_page(_safe_next(request.query.get("next", "")))


async def post_login(request: web.Request) -> web.Response:
    """``POST /login`` with form ``username``, ``password`` (and ``next``)."""
    try:
        form = await _form(request)
    except _FormError as err:
        return error_page(400, err.message)
    next_path = _safe_next(form.get("next", ""))
    found = store_of(request).owner_login(
        form.get("username", "").strip(), form.get("password", "")
    )
    if found is None:
        return login_page(next_path, error="Wrong e-mail or password.", status=401)
    owner, bridge = found
    sessions = request.app[SESSIONS_KEY]
    sessions.end(request.cookies.get(SESSION_COOKIE))
    session_id = sessions.create(owner.owner_id, bridge.bridge_id if bridge else None)
    response = (
        redirect(next_path, status=303)
        if next_path
        else page("Logged in", f"<p>You are logged in as {e(owner.email)}.</p>")
    )
    set_session_cookie(request, response, session_id)
    return response


# -- the authorization-code flow -------------------------------------------------------


async def authorize(request: web.Request) -> web.Response:
    """``GET /oauth2/authorize``: the consent form (or the login form first)."""
    query = request.query
    client_ids = query.getall("client_id", [])
    store = store_of(request)
    uris = None
    if len(client_ids) == 1 and 0 < len(client_ids[0]) <= 100:
        uris = store.oauth_client(client_ids[0])
    if uris is None:
        return error_page(400, "Unknown client: the application is not registered.")
    given = query.getall("redirect_uri", [])
    if len(given) > 1 or (given and given[0] not in uris):
        return error_page(400, "The redirect URI is not registered for this application.")
    if given:
        redirect_uri = given[0]
    elif len(uris) == 1:
        redirect_uri = uris[0]
    else:
        return error_page(400, "The redirect URI is missing.")
    state = query.get("state")

    def error(code: str, description: str) -> web.Response:
        params = {"error": code, "error_description": description, "state": state}
        return redirect(_with_query(redirect_uri, params))

    for name in ("response_type", "scope", "state", "code_challenge", "code_challenge_method"):
        if len(query.getall(name, [])) > 1:
            return error("invalid_request", f"{name} given more than once")
    if state is not None and len(state) > 500:
        return error("invalid_request", "state is longer than 500 characters")
    if query.get("response_type") != "code":
        return error("unsupported_response_type", "only response_type=code is supported")
    if set(query.get("scope", SCOPE).split()) != {SCOPE}:
        return error("invalid_scope", f"the only scope is {SCOPE}")
    challenge = query.get("code_challenge")
    method = query.get("code_challenge_method")
    if challenge is None and method is not None:
        return error("invalid_request", "code_challenge_method given without code_challenge")
    if challenge is not None and (rule := pkce.challenge_rule(challenge, method)):
        return error("invalid_request", rule)

    session = session_of(request)
    if session is None:
        return login_page(request.path_qs)
    bridge = store.bridge(session.bridge_id) if session.bridge_id else None
    if bridge is None:
        return error_page(400, "No thermostat is linked to your account yet.")
    transaction_id = request.app[SESSIONS_KEY].add_transaction(
        session,
        _CONSENT,
        {
            "client_id": client_ids[0],
            "redirect_uri": redirect_uri,
            "state": state,
            "bridge_id": bridge.bridge_id,
            "code_challenge": challenge,
        },
    )
    target = URL(redirect_uri).host or redirect_uri
    body = (
        f"<p>An application asks to read and change the thermostat "
        f"<strong>{e(bridge.hardware_id)}</strong> (scope <code>{SCOPE}</code>).</p>"
        f"<p>It will be sent back to <code>{e(target)}</code>.</p>"
        f"<form method='post' action='{AUTHORIZE_PATH}/decision'>"
        f"<input type='hidden' name='transaction_id' value='{e(transaction_id)}'>"
        "<button type='submit' name='allow' value='1'>Allow</button>"
        "<button type='submit' name='cancel' value='1'>Deny</button></form>"
    )
    return page("Allow access?", body)


async def authorize_decision(request: web.Request) -> web.Response:
    """``POST /oauth2/authorize/decision`` with form ``transaction_id`` (+ ``cancel``)."""
    try:
        form = await _form(request)
    except _FormError as err:
        return error_page(400, err.message)
    session = session_of(request)
    if session is None:
        return error_page(403, "You are not logged in, or your session has expired.")
    transaction = request.app[SESSIONS_KEY].take_transaction(
        session, form.get("transaction_id", ""), _CONSENT
    )
    if transaction is None:
        return error_page(400, "This request expired or was already answered.")
    data = transaction.data
    if "cancel" in form:
        params = {
            "error": "access_denied",
            "error_description": "the owner denied access",
            "state": data["state"],
        }
        return redirect(_with_query(data["redirect_uri"], params))
    store = store_of(request)
    if store.bridge(data["bridge_id"]) is None or store.oauth_client(data["client_id"]) is None:
        return error_page(400, "The thermostat or the application is gone.")
    code = store.create_auth_code(
        data["client_id"], data["bridge_id"], data["redirect_uri"], data["code_challenge"]
    )
    return redirect(_with_query(data["redirect_uri"], {"code": code, "state": data["state"]}))


# -- linking a bridge (RFC 8628) ----------------------------------------------------------


def _origin(request: web.Request) -> str:
    return str(request.url.origin())


async def device_authorization(request: web.Request) -> web.Response:
    """``POST /oauth2/device_authorization``: a bridge asks to be linked."""
    try:
        form = await _form(request)
    except _FormError as err:
        return _oauth_error("invalid_request", err.message)
    if form.get("client_id") != BRIDGE_CLIENT_ID:
        return _oauth_error("invalid_client", f"client_id must be {BRIDGE_CLIENT_ID}", status=401)
    scope = form.get("scope")
    if scope is not None and scope != BRIDGE_SCOPE:
        return _oauth_error("invalid_scope", f"the only scope is {BRIDGE_SCOPE}")
    fields = {k: v for k, v in form.items() if k not in ("client_id", "scope")}
    try:
        data = schemas.parse_enrolment(fields)
    except ValidationError as err:
        return _oauth_error(
            "invalid_request",
            "the link request is not valid",
            errors=[{"field": x["field"], "rule": x["rule"]} for x in err.errors],
        )
    try:
        started = store_of(request).start_link(
            data["bridge_id"], data["hardware_id"], data["terms_version"]
        )
    except AlreadyEnrolled as exc:
        return _oauth_error(
            "invalid_request",
            "already linked: the bridge must erase its cloud copy first",
            errors=[{"field": exc.field, "rule": "already linked"}],
        )
    verification_uri = _origin(request) + DEVICE_PATH
    return web.json_response(
        {
            "device_code": started.device_code,
            "user_code": started.user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": _with_query(
                verification_uri, {"user_code": started.user_code}
            ),
            "expires_in": round(started.expires_in),
            "interval": round(started.interval),
        },
        headers=_JSON_HEADERS,
    )


def _code_form(message: str = "") -> str:
    notice = f"<p class='error'>{e(message)}</p>" if message else ""
    return (
        f"{notice}<p>Enter the code your ThermoSmart Local bridge shows.</p>"
        f"<form method='get' action='{DEVICE_PATH}'>"
        "<label for='user_code'>Code</label>"
        "<input id='user_code' name='user_code' type='text' autocomplete='off' "
        "autocapitalize='characters' required>"
        "<button type='submit'>Continue</button></form>"
    )


async def device_page(request: web.Request) -> web.Response:
    """``GET /device`` (``?user_code=…``): what the bridge asks, with Approve and Deny."""
    session = session_of(request)
    if session is None:
        return login_page(request.path_qs)
    user_code = request.query.get("user_code")
    if user_code is None:
        return page("Link a bridge", _code_form())
    limiter = request.app[CODE_LIMITER_KEY]
    wait = limiter.blocked(session.owner_id)
    if wait > 0:
        return page(
            "Too many attempts",
            "<p class='error'>Too many wrong codes; wait and try again.</p>",
            status=429,
            headers={"Retry-After": str(math.ceil(wait))},
        )
    store = store_of(request)
    link = store.link_request(user_code) if len(user_code) <= 20 else None
    if link is None:
        limiter.failed(session.owner_id)
        body = _code_form("No bridge is waiting with that code, or it has expired.")
        return page("Link a bridge", body, status=400)
    owner = store.owner_by_id(session.owner_id)
    if owner is None:
        return error_page(403, "Your account no longer exists.")
    transaction_id = request.app[SESSIONS_KEY].add_transaction(
        session, _LINK, {"user_code": link.user_code}
    )
    body = (
        f"<p>Link the bridge of thermostat <strong>{e(link.hardware_id)}</strong> "
        f"(code <code>{e(link.user_code)}</code>) to your account "
        f"<strong>{e(owner.email)}</strong>?</p>"
        "<p>Only approve a code that your own bridge shows right now.</p>"
        f"<form method='post' action='{DEVICE_PATH}/decision'>"
        f"<input type='hidden' name='transaction_id' value='{e(transaction_id)}'>"
        "<button type='submit' name='decision' value='approve'>Approve</button>"
        "<button type='submit' name='decision' value='deny'>Deny</button></form>"
    )
    return page("Link this bridge?", body)


async def device_decision(request: web.Request) -> web.Response:
    """``POST /device/decision`` with form ``transaction_id`` and ``decision``."""
    try:
        form = await _form(request)
    except _FormError as err:
        return error_page(400, err.message)
    session = session_of(request)
    if session is None:
        return error_page(403, "You are not logged in, or your session has expired.")
    decision = form.get("decision")
    if decision not in ("approve", "deny"):
        return error_page(400, "The decision must be approve or deny.")
    transaction = request.app[SESSIONS_KEY].take_transaction(
        session, form.get("transaction_id", ""), _LINK
    )
    if transaction is None:
        return error_page(400, "This request expired or was already answered.")
    link = store_of(request).decide_link(
        transaction.data["user_code"], session.owner_id, approve=decision == "approve"
    )
    if link is None:
        return error_page(400, "The bridge's request has expired; start again on the bridge.")
    if decision == "deny":
        return page("Denied", "<p>The bridge was not linked.</p>")
    return page(
        "Approved",
        f"<p>The bridge of thermostat {e(link.hardware_id)} will be linked to your account "
        "when it next asks; you can close this page.</p>",
    )


# -- the token endpoint ------------------------------------------------------------------


def _basic_credentials(request: web.Request) -> tuple[str, str] | bool | None:
    """``(client_id, client_secret)`` from HTTP Basic; None if absent, False if malformed."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not is_text(value):
        return False
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return False
    return unquote_plus(client_id), unquote_plus(secret)


def _client(request: web.Request, form: dict[str, str]) -> str | web.Response:
    """The authenticated client's id, or the RFC 6749 error answer."""
    basic = _basic_credentials(request)
    if basic is False:
        return _oauth_error(
            "invalid_client", "malformed HTTP Basic credentials", status=401, basic=True
        )
    if isinstance(basic, tuple):
        if "client_secret" in form:
            return _oauth_error("invalid_request", "client credentials given twice")
        client_id, secret = basic
        if form.get("client_id", client_id) != client_id:
            return _oauth_error("invalid_request", "client_id does not match the credentials")
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    if not (client_id and secret and len(client_id) <= 100) or not store_of(
        request
    ).verify_oauth_client(client_id, secret):
        return _oauth_error(
            "invalid_client", "client authentication failed", status=401, basic=True
        )
    return client_id


def _device_token(request: web.Request, form: dict[str, str]) -> web.Response:
    if form.get("client_id") != BRIDGE_CLIENT_ID:
        return _oauth_error("invalid_client", f"client_id must be {BRIDGE_CLIENT_ID}", status=401)
    device_code = form.get("device_code")
    if not device_code:
        return _oauth_error("invalid_request", "device_code is missing")
    result = store_of(request).poll_link(device_code)
    if result.error is not None:
        descriptions = {
            "invalid_grant": "the device code is unknown or was already used",
            "expired_token": "the device code has expired; start again",
            "slow_down": "polled too often; wait the interval, now 5 seconds longer",
            "authorization_pending": "the owner has not answered yet",
            "access_denied": "the owner denied the link",
        }
        return _oauth_error(result.error, descriptions[result.error])
    bridge: BridgeRecord | None = result.bridge
    assert bridge is not None
    _LOGGER.info("A bridge was linked (terms %s)", bridge.terms_version)
    return web.json_response(
        {
            "access_token": result.secret,
            "token_type": "Bearer",
            "scope": BRIDGE_SCOPE,
            "bridge_id": bridge.bridge_id,
            "thermostat": bridge.hardware_id,
        },
        headers=_JSON_HEADERS,
    )


async def token(request: web.Request) -> web.Response:
    """``POST /oauth2/token``: the three grants (see the module's description)."""
    try:
        form = await _form(request)
    except _FormError as err:
        return _oauth_error("invalid_request", err.message)
    grant_type = form.get("grant_type")
    if grant_type is None:
        return _oauth_error("invalid_request", "grant_type is missing")
    if grant_type == DEVICE_GRANT:
        return _device_token(request, form)
    if grant_type not in ("authorization_code", "refresh_token"):
        return _oauth_error("unsupported_grant_type", f"{grant_type} is not supported")
    client_id = _client(request, form)
    if isinstance(client_id, web.Response):
        return client_id
    store = store_of(request)
    if grant_type == "authorization_code":
        code = form.get("code")
        if not code:
            return _oauth_error("invalid_request", "code is missing")
        verifier = form.get("code_verifier")
        if verifier is not None and (rule := pkce.verifier_rule(verifier)):
            return _oauth_error("invalid_request", rule)
        issued = store.take_auth_code(code, client_id)
        if issued is None:
            return _oauth_error("invalid_grant", "the code is unknown, used or expired")
        uris = store.oauth_client(client_id) or []
        redirect_uri = form.get("redirect_uri") or (uris[0] if len(uris) == 1 else None)
        if redirect_uri != issued["redirect_uri"]:
            return _oauth_error("invalid_grant", "redirect_uri does not match the code's")
        challenge = issued["code_challenge"]
        if challenge is not None and not pkce.verifier_matches(verifier or "", challenge):
            return _oauth_error("invalid_grant", "code_verifier does not match")
        if challenge is None and verifier is not None:
            return _oauth_error("invalid_grant", "the code was issued without a code_challenge")
        grant = store.issue_grant(issued["bridge_id"], client_id)
    else:
        refresh = form.get("refresh_token")
        if not refresh:
            return _oauth_error("invalid_request", "refresh_token is missing")
        scope = form.get("scope")
        if scope is not None and set(scope.split()) != {SCOPE}:
            return _oauth_error("invalid_scope", f"the only scope is {SCOPE}")
        rotated = store.rotate_refresh_token(refresh, client_id)
        if rotated is None:
            return _oauth_error("invalid_grant", "the refresh token is unknown or was used")
        grant = rotated
    return web.json_response(
        {
            "access_token": grant.access_token,
            "token_type": "Bearer",
            "expires_in": round(grant.expires_in),
            "refresh_token": grant.refresh_token,
            "scope": SCOPE,
            "thermostat": grant.hardware_id,
        },
        headers=_JSON_HEADERS,
    )


def add_routes(app: web.Application) -> None:
    """The login, authorize, device and token routes."""
    app.router.add_get("/login", get_login)
    app.router.add_post("/login", post_login)
    app.router.add_get(AUTHORIZE_PATH, authorize)
    app.router.add_post(f"{AUTHORIZE_PATH}/decision", authorize_decision)
    app.router.add_post("/oauth2/token", token)
    app.router.add_post("/oauth2/device_authorization", device_authorization)
    app.router.add_get(DEVICE_PATH, device_page)
    app.router.add_post(f"{DEVICE_PATH}/decision", device_decision)
