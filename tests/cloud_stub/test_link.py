"""Linking a bridge to an owner's account: the device authorization grant (RFC 8628).

The bridge's side is plain HTTP (the device authorization request, the token
polls); the owner's side is a browser that logs in and answers the approval
page, following its forms.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import aiohttp
import pytest
from yarl import URL

from bench.cloud_scale import SimBridge
from tests.cloud_stub.browser import browser, log_in, only_form
from tests.cloud_stub.conftest import (
    BRIDGE_ID,
    DEVICE_GRANT,
    HW,
    OWNER,
    Cloud,
    poll_link,
    start_link,
    thermostat_object,
)


async def _approval_page(
    jar: aiohttp.ClientSession, cloud: Cloud, started: dict[str, Any], password: str
) -> str:
    """Open the bridge's link as the owner would, logging in on the way; the page."""
    async with jar.get(started["verification_uri_complete"]) as resp:
        assert resp.status == 200
        page = await resp.text()
    status, path, page = await log_in(jar, page, cloud.url, OWNER, password)
    assert (status, path) == (200, "/device")
    return page


async def _decide(
    jar: aiohttp.ClientSession, cloud: Cloud, page: str, decision: str
) -> tuple[int, str]:
    action, fields = only_form(page)
    assert action == "/device/decision"
    fields["decision"] = decision
    async with jar.post(f"{cloud.url}{action}", data=fields) as resp:
        return resp.status, await resp.text()


async def test_a_bridge_is_linked_once_the_owner_approves_on_the_page(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    _, password = cloud.store.create_owner(OWNER)
    started = await start_link(http, cloud)
    assert set(started) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert started["verification_uri"] == f"{cloud.url}/device"
    assert URL(started["verification_uri_complete"]).query["user_code"] == started["user_code"]
    assert (started["expires_in"], started["interval"]) == (600, 5)
    code = started["user_code"]
    assert len(code) == 9
    assert code[4] == "-"
    assert set(code.replace("-", "")) <= set("BCDFGHJKLMNPQRSTVWXZ")

    assert (await poll_link(http, cloud, started["device_code"]))[1]["error"] == (
        "authorization_pending"
    )
    async with browser() as jar:
        page = await _approval_page(jar, cloud, started, password)
        assert HW in page
        assert OWNER in page
        assert code in page
        await cloud.clock.advance(5)
        assert (await poll_link(http, cloud, started["device_code"]))[1]["error"] == (
            "authorization_pending"
        )
        status, answer = await _decide(jar, cloud, page, "approve")
        assert status == 200
        assert "Approved" in answer
        # the form was used: sending it again changes nothing
        assert (await _decide(jar, cloud, page, "approve"))[0] == 400

    await cloud.clock.advance(5)
    status, linked = await poll_link(http, cloud, started["device_code"])
    assert status == 200, linked
    assert linked["token_type"] == "Bearer"
    assert linked["bridge_id"] == BRIDGE_ID
    assert linked["thermostat"] == HW
    secret = linked["access_token"]
    # the credential opens the bridge's sync connection
    bridge = SimBridge(http, cloud.url, BRIDGE_ID, secret, thermostat_object())
    await bridge.connect()
    await bridge.close()
    assert cloud.store.get_object(BRIDGE_ID) is not None
    record = cloud.store.bridge(BRIDGE_ID)
    assert record is not None
    assert record.owner_id == cloud.store.owner(OWNER).owner_id  # type: ignore[union-attr]
    data = cloud.db_path.read_bytes()
    assert secret.encode() not in data
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in data
    assert started["device_code"].encode() not in data
    # the device code works once
    await cloud.clock.advance(5)
    assert (await poll_link(http, cloud, started["device_code"]))[1]["error"] == "invalid_grant"


async def test_polling_faster_than_the_interval_slows_down(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    started = await start_link(http, cloud)
    code = started["device_code"]
    assert (await poll_link(http, cloud, code))[1]["error"] == "authorization_pending"
    status, answer = await poll_link(http, cloud, code)
    assert (status, answer["error"]) == (400, "slow_down")
    await cloud.clock.advance(5)  # the interval is now 10 s: still too soon
    assert (await poll_link(http, cloud, code))[1]["error"] == "slow_down"
    await cloud.clock.advance(15)  # 15 s after the last poll, the interval now
    assert (await poll_link(http, cloud, code))[1]["error"] == "authorization_pending"


async def test_a_denied_link_links_nothing(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    _, password = cloud.store.create_owner(OWNER)
    started = await start_link(http, cloud)
    async with browser() as jar:
        page = await _approval_page(jar, cloud, started, password)
        status, answer = await _decide(jar, cloud, page, "deny")
    assert status == 200
    assert "not linked" in answer
    assert (await poll_link(http, cloud, started["device_code"]))[1]["error"] == "access_denied"
    assert (await poll_link(http, cloud, started["device_code"]))[1]["error"] == "invalid_grant"
    assert cloud.store.bridge(BRIDGE_ID) is None


async def test_an_unanswered_link_expires(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    owner_id = cloud.store.create_owner(OWNER)[0].owner_id
    started = await start_link(http, cloud)
    await cloud.clock.advance(601)
    assert cloud.store.decide_link(started["user_code"], owner_id, approve=True) is None
    status, answer = await poll_link(http, cloud, started["device_code"])
    assert (status, answer["error"]) == (400, "expired_token")
    assert cloud.store.bridge(BRIDGE_ID) is None
    # a new request starts afresh
    again = await start_link(http, cloud)
    assert again["user_code"] != started["user_code"]


async def test_the_approval_page_needs_the_logged_in_owner(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    _, password = cloud.store.create_owner(OWNER)
    started = await start_link(http, cloud)
    async with browser() as stranger:
        # not logged in: the page is the login form, and a forged decision is refused
        async with stranger.get(started["verification_uri_complete"]) as resp:
            page = await resp.text()
        action, fields = only_form(page)
        assert action == "/login"
        assert fields["next"] == f"/device?user_code={started['user_code']}"
        async with stranger.post(
            f"{cloud.url}/device/decision", data={"transaction_id": "x", "decision": "approve"}
        ) as resp:
            assert resp.status == 403
        status, _, page = await log_in(stranger, page, cloud.url, OWNER, password + "x")
        assert status == 401
        assert "Wrong e-mail or password" in page
        status, _, _ = await log_in(stranger, page, cloud.url, "nobody@example.org", password)
        assert status == 401

    async with browser() as owner, browser() as other:
        page = await _approval_page(owner, cloud, started, password)
        # another logged-in session cannot use the owner's form
        other_owner = "other@example.org"
        _, other_password = cloud.store.create_owner(other_owner)
        async with other.get(f"{cloud.url}/device") as resp:
            login_page = await resp.text()
        status, path, code_page = await log_in(
            other, login_page, cloud.url, other_owner, other_password
        )
        assert (status, path) == (200, "/device")
        assert only_form(code_page)[1] == {"user_code": ""}
        _, fields = only_form(page)
        async with other.post(
            f"{cloud.url}/device/decision", data={**fields, "decision": "approve"}
        ) as resp:
            assert resp.status == 400
        # a code nobody waits with, and a decision that is neither
        async with owner.get(f"{cloud.url}/device", params={"user_code": "BBBB-BBBB"}) as resp:
            assert resp.status == 400
            assert "No bridge is waiting with that code" in await resp.text()
        async with owner.post(
            f"{cloud.url}/device/decision", data={**fields, "decision": "maybe"}
        ) as resp:
            assert resp.status == 400
        async with owner.post(f"{cloud.url}/device/decision", json={"x": 1}) as resp:
            assert resp.status == 400
    assert (await poll_link(http, cloud, started["device_code"]))[1]["error"] == (
        "authorization_pending"
    )


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": DEVICE_GRANT, "client_id": "thermosmart-bridge"}, 400, "invalid_request"),
        (
            {"grant_type": DEVICE_GRANT, "device_code": "x", "client_id": "other"},
            401,
            "invalid_client",
        ),
        ({"grant_type": DEVICE_GRANT, "device_code": "x"}, 401, "invalid_client"),
        (
            {"grant_type": DEVICE_GRANT, "device_code": "x", "client_id": "thermosmart-bridge"},
            400,
            "invalid_grant",
        ),
        ({"grant_type": "password", "username": "a"}, 400, "unsupported_grant_type"),
        ({"device_code": "x"}, 400, "invalid_request"),
    ],
)
async def test_bad_token_requests_are_rfc_errors(
    cloud: Cloud, http: aiohttp.ClientSession, form: dict[str, str], status: int, error: str
) -> None:
    await start_link(http, cloud)
    async with http.post(f"{cloud.url}/oauth2/token", data=form) as resp:
        assert resp.status == status
        body = await resp.json()
        assert resp.headers["Cache-Control"] == "no-store"
    assert body["error"] == error
    assert body["error_description"]
    assert cloud.store.bridge(BRIDGE_ID) is None


async def test_token_requests_must_be_forms(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    for kwargs in (
        {"json": {"grant_type": DEVICE_GRANT}},
        {
            "data": b"grant_type=a&grant_type=b",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        },
        {
            "data": b"grant_type=%FF",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        },
        {"data": {"grant_type": DEVICE_GRANT, "device_code": "x" * 2001}},
    ):
        async with http.post(f"{cloud.url}/oauth2/token", **kwargs) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"] == "invalid_request"


async def test_two_approved_requests_of_one_bridge_link_it_once(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    owner_id = cloud.store.create_owner(OWNER)[0].owner_id
    first = await start_link(http, cloud)
    second = await start_link(http, cloud)
    for started in (first, second):
        assert cloud.store.decide_link(started["user_code"], owner_id, approve=True) is not None
    assert (await poll_link(http, cloud, second["device_code"]))[0] == 200
    status, answer = await poll_link(http, cloud, first["device_code"])
    assert (status, answer["error"]) == (400, "invalid_grant")
    assert len(cloud.store.owner_bridges(owner_id)) == 1


async def test_odd_input_on_the_owner_pages_is_never_a_server_error(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    _, password = cloud.store.create_owner(OWNER)
    await start_link(http, cloud)
    odd = ["%FF", "%00", "%ED%A0%80", "x" * 3000, "<script>", "%0D%0A"]
    async with browser() as jar:
        async with jar.get(f"{cloud.url}/device") as resp:
            page = await resp.text()
        await log_in(jar, page, cloud.url, OWNER, password)
        for value in odd:
            for path in (
                "/device?user_code=",
                "/login?next=",
                "/oauth2/authorize?response_type=code&client_id=",
                "/oauth2/authorize?client_id=x&state=",
            ):
                async with jar.get(URL(f"{cloud.url}{path}{value}", encoded=True)) as resp:
                    assert resp.status < 500, (path, value)
                    assert "<script>" not in await resp.text()
            for path in ("/login", "/device/decision", "/oauth2/authorize/decision"):
                for body in (f"username={value}&password={value}", f"transaction_id={value}"):
                    async with jar.post(
                        f"{cloud.url}{path}",
                        data=body.encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                    ) as resp:
                        assert resp.status < 500, (path, body)
    # header bytes that are not UTF-8, sent as they are
    for header in (b"Cookie: thermosmart_cloud_session=\xff\xfe", b"Authorization: Basic \xff"):
        reader, writer = await asyncio.open_connection("127.0.0.1", cloud.server.port)
        raw = b"grant_type=refresh_token&refresh_token=x"
        writer.write(
            b"POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            + f"Content-Length: {len(raw)}\r\n".encode()
            + header
            + b"\r\n\r\n"
            + raw
        )
        status = await reader.readline()
        writer.close()
        assert status.split()[1] in (b"400", b"401"), (header, status)
        reader, writer = await asyncio.open_connection("127.0.0.1", cloud.server.port)
        writer.write(
            b"GET /device HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            + header
            + b"\r\n\r\n"
        )
        status = await reader.readline()
        writer.close()
        assert status.split()[1] == b"200", (header, status)  # the login form


async def test_guessing_codes_is_limited_per_owner(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    """RFC 8628 section 5.1: an owner who guesses codes would link other households' bridges."""
    _, password = cloud.store.create_owner(OWNER)
    started = await start_link(http, cloud)
    async with browser() as jar:
        async with jar.get(f"{cloud.url}/device") as resp:
            page = await resp.text()
        await log_in(jar, page, cloud.url, OWNER, password)
        for _ in range(10):
            async with jar.get(f"{cloud.url}/device", params={"user_code": "BBBB-BBBB"}) as r:
                assert r.status == 400
        # now even the right code waits
        async with jar.get(started["verification_uri_complete"]) as resp:
            assert resp.status == 429
            assert int(resp.headers["Retry-After"]) > 0
    async with browser() as jar:  # and a new login does not help
        async with jar.get(f"{cloud.url}/device") as resp:
            page = await resp.text()
        await log_in(jar, page, cloud.url, OWNER, password)
        async with jar.get(started["verification_uri_complete"]) as resp:
            assert resp.status == 429
        await cloud.clock.advance(3600)
        async with jar.get(f"{cloud.url}/device") as resp:  # the session has ended too
            page = await resp.text()
        await log_in(jar, page, cloud.url, OWNER, password)
        started = await start_link(http, cloud)  # the first one has expired meanwhile
        async with jar.get(started["verification_uri_complete"]) as resp:
            assert resp.status == 200
            assert HW in await resp.text()
