"""``/api/v1/cloud/link``: a running bridge links to the real stand-in in the background.

The stand-in serves on loopback in the test's process; the owner approves
or denies with the stand-in's store while the bridge polls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
import socket
from typing import Any

import aiohttp
import pytest

from bridge.config import validate
from bridge.daemon import Bridge
from bridge.storage import Purpose, TokenKind
from cloud_stub import store as cloud_store
from tests.bridge.test_cloud_link import OWNER, TERMS, Cloud, _serve_cloud

from .native_helpers import call, make_token

LINK = "/api/v1/cloud/link"


@pytest.fixture
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in asks for a poll every second instead of every five."""
    monkeypatch.setattr(cloud_store, "LINK_INTERVAL", 1.0)


@pytest.fixture
async def cloud(tmp_path: Path, quick_polls: None) -> AsyncIterator[Cloud]:
    async with _serve_cloud(tmp_path) as c:
        yield c


async def _bridge(tmp_path: Path, cloud_url: str | None) -> Bridge:
    raw: dict[str, Any] = {
        "data_dir": str(tmp_path / "bridge"),
        "host": "127.0.0.1",
        "port": 0,
        "zeroconf": False,
    }
    if cloud_url is not None:
        raw["cloud_url"] = cloud_url
    bridge = Bridge(validate(raw))
    await bridge.start()
    return bridge


@pytest.fixture
async def linked_bridge(tmp_path: Path, cloud: Cloud) -> AsyncIterator[Bridge]:
    """A bridge with the stand-in as its cloud_url (no consent yet)."""
    bridge = await _bridge(tmp_path, cloud.url)
    try:
        yield bridge
    finally:
        await bridge.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _owner_token(bridge: Bridge) -> str:
    return (await bridge.db.auth.create_token("owner")).token


async def _grant(bridge: Bridge) -> None:
    await bridge.privacy.record_consent(Purpose.CLOUD_SYNC, granted=True, terms_version=TERMS)


async def _until(
    http: aiohttp.ClientSession, bridge: Bridge, token: str, done: Callable[[Any], bool]
) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            status, body = await call(http, bridge, "GET", LINK, token)
            assert status == 200, body
            if done(body):
                return body
            await asyncio.sleep(0.1)


def _owner_id(cloud: Cloud) -> int:
    found = cloud.store.owner(OWNER)
    return found.owner_id if found is not None else cloud.store.create_owner(OWNER)[0].owner_id


async def test_link_from_the_api_waits_then_is_linked_and_unlinks(
    linked_bridge: Bridge, cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    b = linked_bridge
    token = await _owner_token(b)
    status, body = await call(http, b, "GET", LINK, token)
    assert (status, body["state"], body["message"]) == (200, "idle", None)
    await _grant(b)

    # two requests at once start one link
    (status, code), (_, twin) = await asyncio.gather(
        *(call(http, b, "POST", LINK, token) for _ in range(2))
    )
    assert status == 200, code
    assert twin == code
    assert code["verification_uri"] == f"{cloud.url}/device"
    assert code["verification_uri_complete"].startswith(f"{cloud.url}/device?user_code=")
    assert code["expires_in"] == 600
    assert "device_code" not in code
    # asking again while it waits answers the same code
    assert (await call(http, b, "POST", LINK, token))[1] == code
    assert len([r for r in await b.db.egress.query() if "device" in r.path]) == 1
    status, waiting = await call(http, b, "GET", LINK, token)
    assert waiting["state"] == "waiting"
    assert waiting["code"] == code

    assert cloud.store.decide_link(code["user_code"], _owner_id(cloud), approve=True) is not None
    linked = await _until(http, b, token, lambda s: s["state"] != "waiting")
    assert linked["state"] == "linked", linked
    assert linked["link"]["cloud_url"] == cloud.url
    assert linked["link"]["thermostat"] == b.thermostat.hardware_id
    assert await b.db.cloud.credential()
    records = await b.db.egress.query()
    linking = [r for r in records if r.path.startswith("/oauth2/")]
    assert {r.path for r in linking} == {"/oauth2/device_authorization", "/oauth2/token"}
    assert all(r.purpose == "cloud_sync" for r in linking)
    # the rest: the terms question (the consent is granted) and, once linked, the sync
    # connection the link woke
    assert {r.path for r in records if r not in linking} <= {
        "/api/v1/terms",
        f"/api/v1/bridges/{b.bridge_id}/sync",
    }
    assert b.native_state()["privacy"]["last_egress"] == max(r.ts for r in records)

    status, again = await call(http, b, "POST", LINK, token)
    assert (status, again["error"]) == (409, "already_linked")

    status, after = await call(http, b, "DELETE", LINK, token)
    assert (status, after["state"]) == (200, "idle")
    assert await b.db.cloud.get() is None


async def test_no_cloud_url_or_no_consent_is_a_clear_409_and_sends_nothing(
    tmp_path: Path, cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    bridge = await _bridge(tmp_path, None)
    try:
        token = await _owner_token(bridge)
        await _grant(bridge)
        status, body = await call(http, bridge, "POST", LINK, token)
        assert (status, body["error"]) == (409, "no_cloud")
        assert "no cloud is configured" in body["message"]
    finally:
        await bridge.stop()
    bridge = await _bridge(tmp_path / "other", cloud.url)
    try:
        token = await _owner_token(bridge)
        status, body = await call(http, bridge, "POST", LINK, token)
        assert (status, body["error"]) == (409, "no_consent")
        assert "has not consented to cloud_sync" in body["message"]
        status, body = await call(http, bridge, "POST", LINK, token, json={"x": 1})
        assert status == 400
        assert await bridge.db.egress.query() == []
        assert (await call(http, bridge, "GET", LINK, token))[1]["state"] == "idle"
    finally:
        await bridge.stop()


async def test_denied_at_the_cloud_is_reported(
    linked_bridge: Bridge, cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    b = linked_bridge
    token = await _owner_token(b)
    await _grant(b)
    _, code = await call(http, b, "POST", LINK, token)
    assert cloud.store.decide_link(code["user_code"], _owner_id(cloud), approve=False) is not None
    ended = await _until(http, b, token, lambda s: s["state"] != "waiting")
    assert ended["state"] == "denied"
    assert "denied" in ended["message"]
    assert await b.db.cloud.get() is None


async def test_expired_code_is_reported(
    tmp_path: Path, quick_polls: None, monkeypatch: pytest.MonkeyPatch, http: aiohttp.ClientSession
) -> None:
    monkeypatch.setattr(cloud_store, "LINK_TTL", 1.5)
    async with _serve_cloud(tmp_path) as cloud:
        b = await _bridge(tmp_path, cloud.url)
        try:
            token = await _owner_token(b)
            await _grant(b)
            assert (await call(http, b, "POST", LINK, token))[0] == 200
            ended = await _until(http, b, token, lambda s: s["state"] != "waiting")
            assert ended["state"] == "expired"
            assert "expired" in ended["message"]
        finally:
            await b.stop()


async def test_revoking_the_consent_stops_a_waiting_link(
    linked_bridge: Bridge, cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    b = linked_bridge
    token = await _owner_token(b)
    await _grant(b)
    assert (await call(http, b, "POST", LINK, token))[0] == 200
    revoked = await b.privacy.record_consent(Purpose.CLOUD_SYNC, granted=False, terms_version=TERMS)
    ended = await _until(http, b, token, lambda s: s["state"] != "waiting")
    assert ended["state"] == "failed"
    assert "the cloud_sync consent was revoked: linking stopped" in ended["message"]
    # the terms question asked for the grant may leave after the revocation; it is no link
    sent = await _sent_besides_terms(b)
    assert [r.path for r in sent] == ["/oauth2/device_authorization"]
    assert all(r.ts <= revoked.ts for r in sent)


async def test_an_unreachable_cloud_is_a_409_and_the_state_says_why(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    b = await _bridge(tmp_path, f"http://127.0.0.1:{port}")
    try:
        token = await _owner_token(b)
        await _grant(b)
        status, body = await call(http, b, "POST", LINK, token)
        assert (status, body["error"]) == (409, "cloud_failed")
        assert "could not be reached" in body["message"]
        _, state = await call(http, b, "GET", LINK, token)
        assert state["state"] == "failed"
        assert "could not be reached" in state["message"]
        assert await b.db.cloud.get() is None
    finally:
        await b.stop()


async def _sent_besides_terms(b: Bridge) -> list[Any]:
    """What left the LAN besides the terms questions (asked once a consent is granted)."""
    return [r for r in await b.db.egress.query() if r.purpose != "terms"]


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
async def test_the_link_routes_need_an_owner_token(
    linked_bridge: Bridge, http: aiohttp.ClientSession, method: str
) -> None:
    b = linked_bridge
    await _grant(b)
    assert (await call(http, b, method, LINK))[0] == 401
    oauth = await make_token(b, TokenKind.OAUTH_ACCESS)
    status, body = await call(http, b, method, LINK, oauth)
    assert (status, body["error"]) == (403, "forbidden")
    assert await _sent_besides_terms(b) == []


async def test_an_erase_stops_a_waiting_link(
    linked_bridge: Bridge, cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    b = linked_bridge
    token = await _owner_token(b)
    await _grant(b)
    _, code = await call(http, b, "POST", LINK, token)
    status, _ = await call(http, b, "POST", "/api/v1/erase", token, json={"confirm": True})
    assert status == 200
    assert (await call(http, b, "GET", LINK, token))[1]["state"] == "idle"
    # the owner approves afterwards: the bridge no longer polls, so nothing is stored
    assert cloud.store.decide_link(code["user_code"], _owner_id(cloud), approve=True) is not None
    await asyncio.sleep(2.5)
    assert await b.db.cloud.get() is None
    assert await _sent_besides_terms(b) == []
