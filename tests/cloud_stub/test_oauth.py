"""The owner's OAuth2 login on the stand-in, as the legacy ThermoSmart client uses it.

A browser-like client logs in and answers the consent form; the client then
talks to the token endpoint and the cloud-compatible API exactly as it does
against the bridge (THERMOSMART_API.md), by changing only the base URL.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from yarl import URL

from bridge.core import pkce
from tests.cloud_stub.browser import browser, log_in, only_form
from tests.cloud_stub.conftest import BRIDGE_ID, HW, OWNER, Cloud, auth, online, synced

REDIRECT = "http://127.0.0.1:9/callback"


@dataclass
class Setup:
    client_id: str
    client_secret: str
    password: str
    secret: str


@pytest.fixture
async def setup(cloud: Cloud, http: aiohttp.ClientSession) -> Setup:
    """An owner with a linked, synced thermostat, and a registered client."""
    _, password = cloud.store.create_owner(OWNER)
    secret, _ = await synced(http, cloud)
    client_id, client_secret = cloud.store.create_oauth_client([REDIRECT])
    return Setup(client_id, client_secret, password, secret)


def _authorize_url(cloud: Cloud, client_id: str, **extra: str) -> URL:
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "ot",
        "state": "st-123",
        **extra,
    }
    return URL(cloud.url).with_path("/oauth2/authorize").with_query(params)


async def _code(
    cloud: Cloud, s: Setup, *, username: str = OWNER, cancel: bool = False, **extra: str
) -> URL:
    """Authorize → login → consent → decision; the redirect it ends in."""
    async with browser() as jar:
        async with jar.get(_authorize_url(cloud, s.client_id, **extra)) as resp:
            page = await resp.text()
        status, path, page = await log_in(jar, page, cloud.url, username, s.password)
        assert (status, path) == (200, "/oauth2/authorize")
        assert HW in page
        action, fields = only_form(page)
        assert action == "/oauth2/authorize/decision"
        form = {"transaction_id": fields["transaction_id"]}
        if cancel:
            form["cancel"] = "1"
        async with jar.post(f"{cloud.url}{action}", data=form, allow_redirects=False) as resp:
            assert resp.status == 302
            return URL(resp.headers["Location"])


async def _token(
    http: aiohttp.ClientSession, cloud: Cloud, form: dict[str, str], s: Setup, *, basic: bool
) -> tuple[int, dict[str, Any]]:
    headers = {}
    if basic:
        pair = f"{s.client_id}:{s.client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    else:
        form = {**form, "client_id": s.client_id, "client_secret": s.client_secret}
    async with http.post(f"{cloud.url}/oauth2/token", data=form, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_the_legacy_login_flow_gives_a_token_for_the_thermostat(
    cloud: Cloud, http: aiohttp.ClientSession, setup: Setup
) -> None:
    back = await _code(cloud, setup)
    assert str(back.with_query(None)) == REDIRECT
    assert back.query["state"] == "st-123"
    status, grant = await _token(
        http,
        cloud,
        {"grant_type": "authorization_code", "code": back.query["code"], "redirect_uri": REDIRECT},
        setup,
        basic=True,
    )
    assert status == 200, grant
    assert grant["token_type"] == "Bearer"
    assert grant["scope"] == "ot"
    assert grant["thermostat"] == HW
    assert grant["expires_in"] == 3600
    token = grant["access_token"]
    async with http.get(f"{cloud.url}/thermostat", headers=auth(token)) as resp:
        assert await resp.json() == {"hw": HW}
    async with (
        online(http, cloud, setup.secret),
        http.put(
            f"{cloud.url}/thermostat/{HW}",
            data={"target_temperature": "20.5"},
            params={"access_token": token},
        ) as resp,
    ):
        assert resp.status == 200  # the thermostat confirmed it
        assert (await resp.json())["target_temperature"] == 20.5
    # a refresh token is no access token
    async with http.get(f"{cloud.url}/thermostat", headers=auth(grant["refresh_token"])) as resp:
        assert resp.status == 401
    # the code was used
    status, again = await _token(
        http,
        cloud,
        {"grant_type": "authorization_code", "code": back.query["code"], "redirect_uri": REDIRECT},
        setup,
        basic=True,
    )
    assert (status, again["error"]) == (400, "invalid_grant")


async def test_login_by_hardware_id_with_pkce_and_form_credentials(
    cloud: Cloud, http: aiohttp.ClientSession, setup: Setup
) -> None:
    verifier = "v" * 43 + "-._~"
    back = await _code(
        cloud,
        setup,
        username=HW,
        code_challenge=pkce.challenge_of(verifier),
        code_challenge_method="S256",
    )
    form = {"grant_type": "authorization_code", "code": back.query["code"]}
    status, refused = await _token(
        http, cloud, {**form, "code_verifier": "w" * 43}, setup, basic=False
    )
    assert (status, refused["error"]) == (400, "invalid_grant")
    back = await _code(
        cloud,
        setup,
        username=HW,
        code_challenge=pkce.challenge_of(verifier),
        code_challenge_method="S256",
    )
    form = {"grant_type": "authorization_code", "code": back.query["code"]}
    status, grant = await _token(
        http, cloud, {**form, "code_verifier": verifier}, setup, basic=False
    )
    assert status == 200, grant
    assert grant["thermostat"] == HW


async def test_refresh_tokens_rotate(
    cloud: Cloud, http: aiohttp.ClientSession, setup: Setup
) -> None:
    back = await _code(cloud, setup)
    _, first = await _token(
        http,
        cloud,
        {"grant_type": "authorization_code", "code": back.query["code"]},
        setup,
        basic=True,
    )
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    status, second = await _token(http, cloud, refresh, setup, basic=False)
    assert status == 200, second
    assert second["access_token"] != first["access_token"]
    status, reused = await _token(http, cloud, refresh, setup, basic=True)
    assert (status, reused["error"]) == (400, "invalid_grant")
    async with http.get(f"{cloud.url}/thermostat", headers=auth(first["access_token"])) as resp:
        assert resp.status == 401
    async with http.get(f"{cloud.url}/thermostat", headers=auth(second["access_token"])) as resp:
        assert resp.status == 200
    # an access token lasts an hour
    await cloud.clock.advance(3601)
    async with http.get(f"{cloud.url}/thermostat", headers=auth(second["access_token"])) as resp:
        assert resp.status == 401
    status, third = await _token(
        http,
        cloud,
        {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
        setup,
        basic=True,
    )
    assert status == 200, third


async def test_a_revoked_grant_is_refused_at_once(
    cloud: Cloud, http: aiohttp.ClientSession, setup: Setup
) -> None:
    back = await _code(cloud, setup)
    _, grant = await _token(
        http,
        cloud,
        {"grant_type": "authorization_code", "code": back.query["code"]},
        setup,
        basic=True,
    )
    owner = cloud.store.owner(OWNER)
    assert owner is not None
    tokens = cloud.store.owner_tokens(owner.owner_id)
    assert [(t.kind, t.client_id) for t in tokens] == [
        ("api", None),
        ("access", setup.client_id),
        ("refresh", setup.client_id),
    ]
    assert cloud.store.revoke_token(tokens[1].id)
    async with http.get(f"{cloud.url}/thermostat", headers=auth(grant["access_token"])) as resp:
        assert resp.status == 401
    status, refused = await _token(
        http,
        cloud,
        {"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]},
        setup,
        basic=True,
    )
    assert (status, refused["error"]) == (400, "invalid_grant")
    assert [t.kind for t in cloud.store.owner_tokens(owner.owner_id)] == ["api"]


async def test_the_owner_can_deny(cloud: Cloud, setup: Setup) -> None:
    back = await _code(cloud, setup, cancel=True)
    assert back.query["error"] == "access_denied"
    assert back.query["state"] == "st-123"
    assert "code" not in back.query


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"redirect_uri": "http://127.0.0.1:9/other"}, 400, "invalid_grant"),
        ({"code": "nonsense"}, 400, "invalid_grant"),
        ({"code_verifier": "short"}, 400, "invalid_request"),
        ({"code_verifier": "v" * 43}, 400, "invalid_grant"),  # the code had no challenge
    ],
)
async def test_bad_code_exchanges_are_refused(
    cloud: Cloud,
    http: aiohttp.ClientSession,
    setup: Setup,
    change: dict[str, str],
    status: int,
    error: str,
) -> None:
    back = await _code(cloud, setup)
    form = {
        "grant_type": "authorization_code",
        "code": back.query["code"],
        "redirect_uri": REDIRECT,
        "client_id": setup.client_id,
        "client_secret": setup.client_secret,
        **change,
    }
    async with http.post(f"{cloud.url}/oauth2/token", data=form) as resp:
        assert resp.status == status
        assert (await resp.json())["error"] == error
    owner = cloud.store.owner(OWNER)
    assert owner is not None
    assert [t.kind for t in cloud.store.owner_tokens(owner.owner_id)] == ["api"]


async def test_bad_authorize_requests(
    cloud: Cloud, http: aiohttp.ClientSession, setup: Setup
) -> None:
    async with http.get(_authorize_url(cloud, "unknown")) as resp:
        assert resp.status == 400
        assert "Unknown client" in await resp.text()
    async with http.get(
        _authorize_url(cloud, setup.client_id, redirect_uri="http://evil/cb")
    ) as resp:
        assert resp.status == 400
        assert "not registered" in await resp.text()
    for extra, error in (
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "admin"}, "invalid_scope"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
    ):
        async with http.get(
            _authorize_url(cloud, setup.client_id, **extra), allow_redirects=False
        ) as resp:
            assert resp.status == 302
            assert URL(resp.headers["Location"]).query["error"] == error
    async with http.get(f"{cloud.url}/oauth2/authorize", params={"debug": "1"}) as resp:
        assert resp.status == 400
        assert (await resp.json())["errors"] == [
            {"field": "debug", "rule": "unknown query parameter"}
        ]


async def test_an_owner_without_a_thermostat_gets_no_code(
    cloud: Cloud, http: aiohttp.ClientSession, setup: Setup
) -> None:
    _, password = cloud.store.create_owner("new@example.org")
    async with browser() as jar:
        async with jar.get(_authorize_url(cloud, setup.client_id)) as resp:
            page = await resp.text()
        status, _, page = await log_in(jar, page, cloud.url, "new@example.org", password)
        assert status == 400
        assert "No thermostat is linked to your account yet" in page


async def test_an_erased_bridge_takes_its_codes_and_grants_along(
    cloud: Cloud, http: aiohttp.ClientSession, setup: Setup
) -> None:
    back = await _code(cloud, setup)
    _, grant = await _token(
        http,
        cloud,
        {"grant_type": "authorization_code", "code": back.query["code"]},
        setup,
        basic=True,
    )
    unused = await _code(cloud, setup)
    async with http.delete(
        f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}", headers=auth(setup.secret)
    ) as resp:
        assert resp.status == 204
    status, refused = await _token(
        http,
        cloud,
        {"grant_type": "authorization_code", "code": unused.query["code"]},
        setup,
        basic=True,
    )
    assert (status, refused["error"]) == (400, "invalid_grant")
    status, refused = await _token(
        http,
        cloud,
        {"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]},
        setup,
        basic=True,
    )
    assert (status, refused["error"]) == (400, "invalid_grant")
    async with http.get(f"{cloud.url}/thermostat", headers=auth(grant["access_token"])) as resp:
        assert resp.status == 401


async def test_login_only_returns_to_the_owner_pages(cloud: Cloud, setup: Setup) -> None:
    async with browser() as jar:
        form = {"username": OWNER, "password": setup.password, "next": "https://evil.example/"}
        async with jar.post(f"{cloud.url}/login", data=form, allow_redirects=False) as resp:
            assert resp.status == 200
            assert "You are logged in as owner@example.org" in await resp.text()
            cookie = resp.cookies["thermosmart_cloud_session"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
