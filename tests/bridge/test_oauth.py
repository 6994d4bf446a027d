"""The OAuth2 authorization-code flow of the cloud-compatible API, end to end.

A real HTTP client with a cookie jar follows the pages as a browser would:
login, the authorize page, the consent form's hidden transaction_id, the
decision's 302 (whose target is never fetched), then the token endpoint.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
import contextlib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from bridge.api.oauth_sessions import MAX_SESSIONS, SessionStore
from bridge.config import validate
from bridge.core import pkce
from bridge.core.clock import VirtualClock
from bridge.daemon import Bridge
from bridge.storage import EMAIL, TokenKind

from .conftest import base_url

REDIRECT = "http://127.0.0.1:9/callback"


class Forms(HTMLParser):
    """The forms of a page: action and fields (name -> value)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append((a.get("action") or "", {}))
        elif tag in ("input", "button") and self.forms and a.get("name"):
            self.forms[-1][1][a["name"] or ""] = a.get("value") or ""


@dataclass
class Client:
    client_id: str
    secret: str


@pytest.fixture
async def jar() -> AsyncIterator[aiohttp.ClientSession]:
    """A browser-like session: keeps cookies, also for 127.0.0.1."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


@pytest.fixture
async def client(bridge: Bridge) -> Client:
    registered, secret = await bridge.db.auth.create_oauth_client([REDIRECT], "Test <app>")
    return Client(registered.client_id, secret)


def _authorize_url(b: Bridge, client_id: str, *, redirect_uri: str = REDIRECT, **extra: str) -> URL:
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": "ot",
        "state": "st-123",
        **extra,
    }
    return URL(base_url(b)).with_path("/oauth2/authorize").with_query(params)


async def _login(
    jar: aiohttp.ClientSession, b: Bridge, password: str, *, username: str | None = None
) -> aiohttp.ClientResponse:
    form = {"username": username or b.thermostat.hardware_id, "password": password}
    async with jar.post(f"{base_url(b)}/login", data=form, allow_redirects=False) as r:
        await r.read()
        return r


async def _consent(jar: aiohttp.ClientSession, b: Bridge, client: Client, **extra: str) -> str:
    """Follow authorize → login form → login → consent; returns the transaction id."""
    async with jar.get(_authorize_url(b, client.client_id, **extra)) as r:
        assert r.status == 200
        assert r.content_type == "text/html"
        page = await r.text()
    (action, fields), *_ = Forms(page).forms
    if action == "/login":  # not logged in yet: the login form brings us back
        assert fields["next"].startswith("/oauth2/authorize?")
        fields["username"] = b.thermostat.hardware_id
        fields["password"] = await b.db.auth.create_pairing_code()
        async with jar.post(f"{base_url(b)}/login", data=fields) as r:
            assert r.status == 200
            assert r.url.path == "/oauth2/authorize"  # 303 back to the authorize page
            page = await r.text()
        (action, fields), *_ = Forms(page).forms
    assert action == "/oauth2/authorize/decision"
    return fields["transaction_id"]


async def _decide(
    jar: aiohttp.ClientSession, b: Bridge, transaction_id: str, *, cancel: bool = False
) -> aiohttp.ClientResponse:
    form = {"transaction_id": transaction_id}
    if cancel:
        form["cancel"] = "1"
    async with jar.post(
        f"{base_url(b)}/oauth2/authorize/decision", data=form, allow_redirects=False
    ) as r:
        await r.read()
        return r


async def _code(jar: aiohttp.ClientSession, b: Bridge, client: Client, **extra: str) -> str:
    r = await _decide(jar, b, await _consent(jar, b, client, **extra))
    assert r.status == 302
    location = URL(r.headers["Location"])
    assert str(location.with_query(None)) == REDIRECT
    assert location.query["state"] == "st-123"
    return location.query["code"]


async def _token(
    http: aiohttp.ClientSession,
    b: Bridge,
    form: dict[str, str],
    *,
    basic: Client | None = None,
) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
    headers = {}
    if basic is not None:
        pair = f"{basic.client_id}:{basic.secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    async with http.post(f"{base_url(b)}/oauth2/token", data=form, headers=headers) as r:
        return r.status, await r.json(), r


async def _get_thermostat(
    http: aiohttp.ClientSession, b: Bridge, token: str, *, query: bool = False
) -> int:
    url = URL(f"{base_url(b)}/thermostat/{b.thermostat.hardware_id}")
    if query:
        async with http.get(url.with_query(access_token=token)) as r:
            return r.status
    async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status


# -- the whole flow ------------------------------------------------------------------------


async def test_full_flow_with_basic_credentials(
    bridge: Bridge, jar: aiohttp.ClientSession, http: aiohttp.ClientSession, client: Client
) -> None:
    code = await _code(jar, bridge, client)
    status, body, r = await _token(
        http,
        bridge,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        basic=client,
    )
    assert status == 200, body
    assert r.headers["Cache-Control"] == "no-store"
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "scope",
        "thermostat",
    }
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "ot"
    assert body["thermostat"] == bridge.thermostat.hardware_id
    assert body["expires_in"] == 3600
    access = body["access_token"]
    assert await _get_thermostat(http, bridge, access) == 200
    assert await _get_thermostat(http, bridge, access, query=True) == 200
    async with http.get(
        f"{base_url(bridge)}/thermostat", headers={"Authorization": f"Bearer {access}"}
    ) as r:
        assert await r.json() == {"hw": bridge.thermostat.hardware_id}
    # the refresh token is not a bearer token
    assert await _get_thermostat(http, bridge, body["refresh_token"]) == 401
    tokens = {t.kind for t in await bridge.db.auth.list_tokens(include_inactive=False)}
    assert {TokenKind.OAUTH_ACCESS, TokenKind.OAUTH_REFRESH} <= tokens


async def test_login_sets_a_protected_session_cookie_and_uses_up_the_code(
    bridge: Bridge, jar: aiohttp.ClientSession
) -> None:
    code = await bridge.db.auth.create_pairing_code()
    r = await _login(jar, bridge, code)
    assert r.status == 200
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("thermosmart_session=")
    for attribute in ("HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback
    # a pairing code works once
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        r = await _login(other, bridge, code)
        assert r.status == 401
        assert "Set-Cookie" not in r.headers
    # exchanging it left no usable token behind
    assert not [
        t
        for t in await bridge.db.auth.list_tokens(include_inactive=False)
        if t.kind is TokenKind.PAIRED
    ]


async def test_login_by_email_with_an_api_token(
    bridge: Bridge, jar: aiohttp.ClientSession, http: aiohttp.ClientSession, client: Client
) -> None:
    await bridge.db.settings.set(EMAIL, "owner@example.org")
    api_token = (await bridge.db.auth.create_token("script")).token
    r = await _login(jar, bridge, api_token, username="Owner@Example.org")
    assert r.status == 200
    # an OAuth access token is not the owner's secret
    code = await _code(jar, bridge, client)
    status, body, _ = await _token(
        http,
        bridge,
        {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client.client_id,
            "client_secret": client.secret,
        },
    )
    assert status == 200  # redirect_uri may be left out: the client has exactly one
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        assert (await _login(other, bridge, body["access_token"])).status == 401
        assert (await _login(other, bridge, api_token, username="someone")).status == 401


async def test_refresh_tokens_rotate(
    bridge: Bridge, jar: aiohttp.ClientSession, http: aiohttp.ClientSession, client: Client
) -> None:
    code = await _code(jar, bridge, client)
    _, first, _ = await _token(
        http,
        bridge,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        basic=client,
    )
    async with http.post(
        f"{base_url(bridge)}/",
        json={"webhook_url": "http://127.0.0.1:9/hook"},
        headers={"Authorization": f"Bearer {first['access_token']}"},
    ) as r:
        assert r.status == 200
    form = {
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
        "client_id": client.client_id,
        "client_secret": client.secret,
    }
    status, second, _ = await _token(http, bridge, form)
    assert status == 200, second
    # the client's webhook follows it to the new grant
    live = await bridge.db.auth.list_tokens(include_inactive=False)
    newest_refresh = max(t.id for t in live if t.kind is TokenKind.OAUTH_REFRESH)
    assert [w.token_id for w in await bridge.db.webhooks.all()] == [newest_refresh]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["thermostat"] == bridge.thermostat.hardware_id
    assert await _get_thermostat(http, bridge, second["access_token"]) == 200
    # another client cannot use this client's refresh token
    other, other_secret = await bridge.db.auth.create_oauth_client([REDIRECT], "other")
    status, error, _ = await _token(
        http,
        bridge,
        {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
        basic=Client(other.client_id, other_secret),
    )
    assert (status, error["error"]) == (400, "invalid_grant")
    # the new one works once more
    status, _, _ = await _token(http, bridge, {**form, "refresh_token": second["refresh_token"]})
    assert status == 200
    # the used refresh token is refused from now on
    status, error, _ = await _token(http, bridge, form)
    assert (status, error["error"]) == (400, "invalid_grant")


async def test_wrong_client_secret(
    bridge: Bridge, jar: aiohttp.ClientSession, http: aiohttp.ClientSession, client: Client
) -> None:
    code = await _code(jar, bridge, client)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    for basic, extra in (
        (Client(client.client_id, client.secret + "x"), {}),
        (None, {"client_id": client.client_id, "client_secret": "wrong"}),
        (None, {"client_id": client.client_id}),
        (None, {}),
        (Client("unknown", client.secret), {}),
    ):
        status, error, r = await _token(http, bridge, {**form, **extra}, basic=basic)
        assert (status, error["error"]) == (401, "invalid_client")
        assert r.headers["WWW-Authenticate"].startswith("Basic")
    # the code was not used up by the failures
    status, _, _ = await _token(http, bridge, form, basic=client)
    assert status == 200


async def test_wrong_redirect_uri_and_reused_code(
    bridge: Bridge, jar: aiohttp.ClientSession, http: aiohttp.ClientSession, client: Client
) -> None:
    code = await _code(jar, bridge, client)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    status, error, _ = await _token(
        http, bridge, {**form, "redirect_uri": "http://127.0.0.1:9/other"}, basic=client
    )
    assert (status, error["error"]) == (400, "invalid_grant")
    status, _, _ = await _token(http, bridge, form, basic=client)
    assert status == 200
    status, error, _ = await _token(http, bridge, form, basic=client)
    assert (status, error["error"]) == (400, "invalid_grant")
    status, error, _ = await _token(http, bridge, {**form, "code": "made-up"}, basic=client)
    assert (status, error["error"]) == (400, "invalid_grant")


async def test_token_request_errors(
    bridge: Bridge, http: aiohttp.ClientSession, client: Client
) -> None:
    cases: list[tuple[dict[str, str], Client | None, str]] = [
        ({"grant_type": "password", "username": "x"}, client, "unsupported_grant_type"),
        ({"code": "x"}, client, "invalid_request"),
        ({"grant_type": "authorization_code"}, client, "invalid_request"),
        ({"grant_type": "refresh_token"}, client, "invalid_request"),
        (
            {"grant_type": "refresh_token", "refresh_token": "x", "scope": "admin"},
            client,
            "invalid_scope",
        ),
        (
            {"grant_type": "authorization_code", "code": "x", "client_secret": client.secret},
            client,
            "invalid_request",  # credentials given twice
        ),
    ]
    for form, basic, expected in cases:
        status, error, _ = await _token(http, bridge, form, basic=basic)
        assert (status, error["error"]) == (400, expected), form
    async with http.post(
        f"{base_url(bridge)}/oauth2/token", json={"grant_type": "authorization_code"}
    ) as r:
        assert r.status == 400
        assert (await r.json())["error"] == "invalid_request"


# -- RFC 9700: PKCE, code reuse, refresh-token replay -----------------------------------

VERIFIER = "k9Jq2mXz7LwP4vRt8YbN3cHs6FdA1eGu5oIy0TlW-._~"
S256 = {"code_challenge": pkce.challenge_of(VERIFIER), "code_challenge_method": "S256"}


async def test_pkce_code_needs_its_verifier(
    bridge: Bridge, jar: aiohttp.ClientSession, http: aiohttp.ClientSession, client: Client
) -> None:
    code = await _code(jar, bridge, client, **S256)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    for extra, error, description in (
        ({}, "invalid_grant", "code_verifier is missing"),
        ({"code_verifier": "x" * 43}, "invalid_grant", "does not match"),
        ({"code_verifier": VERIFIER[:42]}, "invalid_request", "43 to 128 characters"),
        ({"code_verifier": VERIFIER + "+"}, "invalid_request", "43 to 128 characters"),
    ):
        status, body, _ = await _token(http, bridge, {**form, **extra}, basic=client)
        assert (status, body["error"]) == (400, error), extra
        assert description in body["error_description"]
    assert not await bridge.db.auth.list_tokens(include_inactive=False)  # nothing was issued
    # the wrong attempts did not use the code up: the right verifier redeems it
    status, body, _ = await _token(http, bridge, {**form, "code_verifier": VERIFIER}, basic=client)
    assert status == 200, body
    assert await _get_thermostat(http, bridge, body["access_token"]) == 200


async def test_verifier_for_a_code_without_challenge_is_refused(
    bridge: Bridge, jar: aiohttp.ClientSession, http: aiohttp.ClientSession, client: Client
) -> None:
    code = await _code(jar, bridge, client)  # a confidential client without PKCE
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    status, body, _ = await _token(http, bridge, {**form, "code_verifier": VERIFIER}, basic=client)
    assert (status, body["error"]) == (400, "invalid_grant")
    assert "without a code_challenge" in body["error_description"]
    status, _, _ = await _token(http, bridge, form, basic=client)
    assert status == 200


@pytest.mark.parametrize(
    ("extra", "description"),
    [
        (
            {"code_challenge": VERIFIER, "code_challenge_method": "plain"},
            "code_challenge_method must be S256",
        ),
        ({"code_challenge": S256["code_challenge"]}, "code_challenge_method must be S256"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "43 base64url characters"),
        ({"code_challenge_method": "S256"}, "without code_challenge"),
    ],
)
async def test_bad_pkce_challenge_goes_back_with_an_error(
    bridge: Bridge,
    jar: aiohttp.ClientSession,
    client: Client,
    extra: dict[str, str],
    description: str,
) -> None:
    assert (await _login(jar, bridge, await bridge.db.auth.create_pairing_code())).status == 200
    async with jar.get(
        _authorize_url(bridge, client.client_id, **extra), allow_redirects=False
    ) as r:
        assert r.status == 302
        location = URL(r.headers["Location"])
    assert str(location.with_query(None)) == REDIRECT
    assert location.query["error"] == "invalid_request"
    assert description in location.query["error_description"]
    assert location.query["state"] == "st-123"
    assert "code" not in location.query


async def test_reused_code_revokes_what_it_issued(
    bridge: Bridge, jar: aiohttp.ClientSession, http: aiohttp.ClientSession, client: Client
) -> None:
    code = await _code(jar, bridge, client, **S256)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
    }
    status, first, _ = await _token(http, bridge, form, basic=client)
    assert status == 200
    status, rotated, _ = await _token(
        http,
        bridge,
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        basic=client,
    )
    assert status == 200
    assert await _get_thermostat(http, bridge, rotated["access_token"]) == 200
    # the code comes again (stolen, or replayed): refused, and its grant is revoked
    status, error, _ = await _token(http, bridge, form, basic=client)
    assert (status, error["error"]) == (400, "invalid_grant")
    assert "already used" in error["error_description"]
    for access in (first["access_token"], rotated["access_token"]):
        assert await _get_thermostat(http, bridge, access) == 401
    status, error, _ = await _token(
        http,
        bridge,
        {"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]},
        basic=client,
    )
    assert (status, error["error"]) == (400, "invalid_grant")
    assert not await bridge.db.auth.list_tokens(include_inactive=False)


async def test_replayed_refresh_token_revokes_its_family(
    bridge: Bridge, jar: aiohttp.ClientSession, http: aiohttp.ClientSession, client: Client
) -> None:
    grants = []
    for _ in range(2):
        code = await _code(jar, bridge, client)
        status, body, _ = await _token(
            http,
            bridge,
            {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
            basic=client,
        )
        assert status == 200
        grants.append(body)
    stolen, other = grants
    refresh = {"grant_type": "refresh_token", "refresh_token": stolen["refresh_token"]}
    status, current, _ = await _token(http, bridge, refresh, basic=client)
    assert status == 200
    # the old refresh token comes again: refused, and the whole family goes
    status, error, _ = await _token(http, bridge, refresh, basic=client)
    assert (status, error["error"]) == (400, "invalid_grant")
    assert "its grant is revoked" in error["error_description"]
    for access in (stolen["access_token"], current["access_token"]):
        assert await _get_thermostat(http, bridge, access) == 401
    status, error, _ = await _token(
        http, bridge, {**refresh, "refresh_token": current["refresh_token"]}, basic=client
    )
    assert (status, error["error"]) == (400, "invalid_grant")
    # the client's other grant is not part of that family
    assert await _get_thermostat(http, bridge, other["access_token"]) == 200
    status, _, _ = await _token(
        http, bridge, {**refresh, "refresh_token": other["refresh_token"]}, basic=client
    )
    assert status == 200


# -- the authorize page ------------------------------------------------------------------


async def test_unknown_client_or_redirect_uri_is_a_page_not_a_redirect(
    bridge: Bridge, jar: aiohttp.ClientSession, client: Client
) -> None:
    assert (await _login(jar, bridge, await bridge.db.auth.create_pairing_code())).status == 200
    for url in (
        _authorize_url(bridge, "nobody"),
        _authorize_url(bridge, client.client_id, redirect_uri="http://127.0.0.1:9/evil"),
        _authorize_url(bridge, client.client_id, redirect_uri=REDIRECT + "/"),
    ):
        async with jar.get(url, allow_redirects=False) as r:
            assert r.status == 400
            assert r.content_type == "text/html"
            assert "Location" not in r.headers
            assert "transaction_id" not in await r.text()


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "ot admin"}, "invalid_scope"),
        ({"state": "s" * 501}, "invalid_request"),
    ],
)
async def test_bad_request_goes_back_with_an_error(
    bridge: Bridge, jar: aiohttp.ClientSession, client: Client, extra: dict[str, str], error: str
) -> None:
    async with jar.get(
        _authorize_url(bridge, client.client_id, **extra), allow_redirects=False
    ) as r:
        assert r.status == 302
        location = URL(r.headers["Location"])
    assert str(location.with_query(None)) == REDIRECT
    assert location.query["error"] == error
    assert "code" not in location.query
    if "state" not in extra:
        assert location.query["state"] == "st-123"


async def test_owner_can_deny(bridge: Bridge, jar: aiohttp.ClientSession, client: Client) -> None:
    r = await _decide(jar, bridge, await _consent(jar, bridge, client), cancel=True)
    assert r.status == 302
    location = URL(r.headers["Location"])
    assert location.query["error"] == "access_denied"
    assert location.query["state"] == "st-123"
    assert "code" not in location.query


async def test_decision_needs_the_session_that_opened_it(
    bridge: Bridge, jar: aiohttp.ClientSession, client: Client
) -> None:
    transaction_id = await _consent(jar, bridge, client)
    # no session (another site posting the form): refused, nothing issued
    async with aiohttp.ClientSession() as stranger:
        r = await _decide(stranger, bridge, transaction_id)
        assert r.status == 403
        assert "Location" not in r.headers
    # another logged-in session cannot use this session's transaction
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        assert (
            await _login(other, bridge, await bridge.db.auth.create_pairing_code())
        ).status == 200
        r = await _decide(other, bridge, transaction_id)
        assert r.status == 400
    # the owner's own session still can, once
    assert (await _decide(jar, bridge, transaction_id)).status == 302
    assert (await _decide(jar, bridge, transaction_id)).status == 400


async def test_pages_escape_what_they_show(
    bridge: Bridge, jar: aiohttp.ClientSession, client: Client
) -> None:
    evil_state = "\"'><script>alert(1)</script>"
    async with jar.get(_authorize_url(bridge, client.client_id, state=evil_state)) as r:
        page = await r.text()
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert "<script>" not in page
    (_, fields), *_ = Forms(page).forms
    assert evil_state in URL(fields["next"]).query["state"]  # carried through intact
    assert (await _login(jar, bridge, await bridge.db.auth.create_pairing_code())).status == 200
    async with jar.get(_authorize_url(bridge, client.client_id, state=evil_state)) as r:
        page = await r.text()
    assert "Test &lt;app&gt;" in page
    assert "<app>" not in page


async def test_login_redirects_only_to_the_authorize_page(
    bridge: Bridge, jar: aiohttp.ClientSession
) -> None:
    form = {
        "username": bridge.thermostat.hardware_id,
        "password": await bridge.db.auth.create_pairing_code(),
        "next": "https://evil.example/",
    }
    async with jar.post(f"{base_url(bridge)}/login", data=form, allow_redirects=False) as r:
        assert r.status == 200
        assert "Location" not in r.headers


async def test_repeated_failed_logins_answer_429(
    bridge: Bridge, jar: aiohttp.ClientSession
) -> None:
    for _ in range(5):
        assert (await _login(jar, bridge, "WRONG-CODE")).status == 401
    r = await _login(jar, bridge, await bridge.db.auth.create_pairing_code())
    assert r.status == 429
    assert int(r.headers["Retry-After"]) > 0
    assert "Set-Cookie" not in r.headers
    # pairing is slowed down for that address too (one limiter for the pairing secret)
    async with jar.post(f"{base_url(bridge)}/api/v1/pair", json={"code": "ABCD-EFGH"}) as pair:
        assert pair.status == 429


async def test_concurrent_failed_logins_are_limited_like_sequential_ones(
    bridge: Bridge, jar: aiohttp.ClientSession
) -> None:
    statuses = await asyncio.gather(*(_login(jar, bridge, "WRONG-CODE") for _ in range(50)))
    assert sorted(r.status for r in statuses) == [401] * 5 + [429] * 45


# -- expiry, on the bridge's clock ---------------------------------------------------------


@pytest.fixture
async def vbridge(tmp_path: Path) -> AsyncIterator[tuple[Bridge, VirtualClock]]:
    """A bridge on a virtual clock (HTTP on loopback stays real)."""
    clock = VirtualClock()
    cfg = validate(
        {"data_dir": str(tmp_path / "data"), "host": "127.0.0.1", "port": 0, "zeroconf": False}
    )
    b = Bridge(cfg, clock)
    await b.start()
    try:
        yield b, clock
    finally:

        async def pump() -> None:  # the boiler hand-back waits on the clock
            while True:
                await clock.advance(0.5)
                await asyncio.sleep(0.001)

        pumping = asyncio.create_task(pump())
        try:
            await b.stop()
        finally:
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumping


async def test_expired_code_transaction_and_session(
    vbridge: tuple[Bridge, VirtualClock], jar: aiohttp.ClientSession, http: aiohttp.ClientSession
) -> None:
    b, clock = vbridge

    def skip(seconds: float) -> None:
        # jump without running the simulated house through every second in between
        clock.set(clock.time() + seconds)

    registered, secret = await b.db.auth.create_oauth_client([REDIRECT], "app")
    client = Client(registered.client_id, secret)
    form = {"grant_type": "authorization_code", "redirect_uri": REDIRECT}
    # a code expires after 10 minutes
    code = await _code(jar, b, client)
    skip(601)
    status, error, _ = await _token(http, b, {**form, "code": code}, basic=client)
    assert (status, error["error"]) == (400, "invalid_grant")
    # so does an unanswered consent form
    transaction_id = await _consent(jar, b, client)
    skip(601)
    assert (await _decide(jar, b, transaction_id)).status == 400
    # a fresh one within the time works
    code = await _code(jar, b, client)
    skip(599)
    status, body, _ = await _token(http, b, {**form, "code": code}, basic=client)
    assert status == 200
    # the access token expires after an hour; the refresh token still works
    skip(3601)
    assert await _get_thermostat(http, b, body["access_token"]) == 401
    status, _, _ = await _token(
        http,
        b,
        {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        basic=client,
    )
    assert status == 200
    # the login session has expired too: the authorize page asks to log in again
    async with jar.get(_authorize_url(b, client.client_id)) as r:
        (action, _), *_ = Forms(await r.text()).forms
    assert action == "/login"


def test_session_store_is_bounded_and_expires() -> None:
    clock = VirtualClock()
    store = SessionStore(clock, ttl=100, transaction_ttl=10)
    ids = [store.create("owner") for _ in range(MAX_SESSIONS + 5)]
    assert store.get(ids[0]) is None  # the oldest made room
    session = store.get(ids[-1])
    assert session is not None
    tid = store.add_transaction(session, "c", REDIRECT, None, "ot")
    clock.set(clock.time() + 11)
    assert store.take_transaction(session, tid) is None
    clock.set(clock.time() + 90)
    assert store.get(ids[-1]) is None
    assert store.get("") is None
    assert store.get("x" * 500) is None
