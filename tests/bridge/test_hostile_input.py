"""Hostile bytes against a real bridge on loopback: each is a clear 4xx, never a 5xx.

The requests are written byte by byte on a raw socket where an HTTP client
would clean them up (a non-UTF-8 header, a body that is not UTF-8), and with
aiohttp where it sends them as they are. Each case also checks that the
refusal changed nothing.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridge.api.hosts import HostPolicy
from bridge.core.bodies import MAX_BODY, MAX_DEPTH
from bridge.core.clock import VirtualClock
from bridge.daemon import Bridge

from .conftest import base_url, make_token, virtual_bridge
from .native_helpers import call

VB = tuple[Bridge, VirtualClock]


async def raw_request(
    port: int, head: bytes, body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (request line and headers, without the blank line) and ``body`` on a
    fresh connection; the status, the headers (lower-case names) and the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        length = f"Content-Length: {len(body)}\r\n".encode() if body else b""
        writer.write(head.rstrip(b"\r\n") + b"\r\n" + length + b"Connection: close\r\n\r\n" + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    header_block, _, payload = data.partition(b"\r\n\r\n")
    lines = header_block.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, payload


def _host(port: int) -> bytes:
    return f"Host: 127.0.0.1:{port}\r\n".encode()


async def _thermostat(http: aiohttp.ClientSession, b: Bridge, token: str) -> dict[str, Any]:
    status, body = await call(http, b, "GET", "/api/v1/state", token)
    assert status == 200
    return {k: body[k] for k in ("thermostat", "options", "settings") if k in body} or body


def _stable(state: dict[str, Any]) -> Any:
    """What a refused write must leave alone (readings that move on their own dropped)."""
    text = json.dumps(state, sort_keys=True)
    data = json.loads(text)
    thermostat = data.get("thermostat", {})
    for key in ("room_temperature", "outside_temperature", "boiler", "updated", "readings"):
        thermostat.pop(key, None)
    return data


# -- 1. the body reader --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/thermostat/{hw}"),
        ("PATCH", "/api/v1/thermostat"),
        ("POST", "/api/v1/pair"),
        ("PUT", "/api/v1/options"),
        ("POST", "/"),
    ],
)
async def test_json_nested_30000_deep_is_a_400_not_a_recursion_error(
    vb: VB, http: aiohttp.ClientSession, token: str, method: str, path: str
) -> None:
    b, _ = vb
    path = path.format(hw=b.thermostat.hardware_id)
    body = b'{"target_temperature": ' + b"[" * 30000 + b"]" * 30000 + b"}"
    status, answer = await call(
        http, b, method, path, token, data=body, headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert answer["error"] == "bad_json"
    assert str(MAX_DEPTH) in answer["message"]


async def test_json_nested_within_the_limit_is_read(
    vb: VB, http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    body = b'{"target_temperature": ' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}"
    status, answer = await call(
        http, b, "PATCH", "/api/v1/thermostat", token, data=body,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert status == 400
    assert answer["error"] == "invalid"  # parsed, then refused by the number check


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/api/v1/thermostat", b'{"target_temperature": 20, "x": "caf\xe9"}'),
        ("PUT", "/thermostat/{hw}", b'{"target_temperature": "\xff\xfe"}'),
        ("POST", "/api/v1/pair", b'{"code": "\xed\xa0\x80abcd"}'),  # an encoded surrogate
    ],
)
async def test_a_json_body_that_is_not_utf8_is_a_400(
    vb: VB, http: aiohttp.ClientSession, token: str, method: str, path: str, body: bytes
) -> None:
    b, _ = vb
    path = path.format(hw=b.thermostat.hardware_id)
    before = _stable(await _thermostat(http, b, token))
    status, answer = await call(
        http, b, method, path, token, data=body, headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert answer["error"] == "bad_json"
    assert "UTF-8" in answer["message"]
    assert _stable(await _thermostat(http, b, token)) == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/login", b"username=caf\xe9&password=x"),
        ("/login", b"username=caf%E9&password=x"),
        ("/oauth2/token", b"grant_type=refresh_token&refresh_token=\xff"),
        ("/oauth2/token", b"grant_type=refresh_token&refresh_token=%ED%A0%80"),
        ("/oauth2/authorize/decision", b"transaction_id=\xe9"),
        ("/thermostat/{hw}", b"target_temperature=2\xb2"),
    ],
)
async def test_a_form_that_is_not_utf8_is_a_400(vb: VB, token: str, path: str, body: bytes) -> None:
    b, _ = vb
    method = b"PUT" if path.startswith("/thermostat") else b"POST"
    path = path.format(hw=b.thermostat.hardware_id)
    head = (
        method + b" " + path.encode() + b" HTTP/1.1\r\n" + _host(b.port)
        + f"Authorization: Bearer {token}\r\n".encode()
        + b"Content-Type: application/x-www-form-urlencoded\r\n"
    )  # fmt: skip
    status, _headers, payload = await raw_request(b.port, head, body)
    assert status == 400
    answer = json.loads(payload)
    assert answer["error"] in ("bad_form", "invalid_request")
    assert "UTF-8" in answer.get("message", answer.get("error_description", ""))


async def test_a_body_over_the_limit_is_a_413(
    vb: VB, http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    body = b'{"name": "' + b"x" * MAX_BODY + b'"}'
    status, answer = await call(
        http, b, "PUT", "/api/v1/settings", token, data=body,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert status == 413
    assert answer["error"] == "too_large"


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"", None, 200),
        (b"{}", "application/json", 200),
        (b'{"pause": true}', "application/json", 400),
        (b"[]", "application/json", 400),
        (b"garbage", "application/json", 400),
        (b"garbage", "text/plain", 415),
    ],
)
async def test_unpause_takes_no_body_or_an_empty_object(
    vb: VB,
    http: aiohttp.ClientSession,
    token: str,
    body: bytes,
    content_type: str | None,
    expected: int,
) -> None:
    b, _ = vb
    hw = b.thermostat.hardware_id
    await b.thermostat.set_paused(True)
    headers = {"Content-Type": content_type} if content_type else {}
    status, _ = await call(
        http, b, "POST", f"/thermostat/{hw}/unpause", token, data=body, headers=headers
    )
    assert status == expected
    assert b.thermostat.state.paused is (expected != 200)


# -- 2. the number check ---------------------------------------------------------------------

HUGE = "1" + "0" * 400


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PUT", "/thermostat/{hw}", f'{{"target_temperature": {HUGE}}}', "target_temperature"),
        ("PATCH", "/api/v1/thermostat", f'{{"target_temperature": -{HUGE}}}', "target_temperature"),
        ("PUT", "/thermostat/{hw}", f'{{"room_temperature": {HUGE}}}', "room_temperature"),
        ("PUT", "/thermostat/{hw}", f'{{"outside_temperature": {HUGE}}}', "outside_temperature"),
        ("PUT", "/thermostat/{hw}", f'{{"programs": {{"home": {HUGE}}}}}', "programs.home"),
        ("PUT", "/api/v1/options", f'{{"max_ch_setpoint": {HUGE}}}', "max_ch_setpoint"),
        ("PUT", "/api/v1/options", f'{{"dhw_setpoint": {HUGE}}}', "dhw_setpoint"),
        ("PUT", "/thermostat/{hw}", '{"target_temperature": true}', "target_temperature"),
        ("PUT", "/api/v1/options", '{"max_ch_setpoint": true}', "max_ch_setpoint"),
        ("PUT", "/thermostat/{hw}", '{"target_temperature": 1e400}', "target_temperature"),
    ],
)
async def test_numbers_that_are_not_finite_and_bounded_are_a_400(
    vb: VB,
    http: aiohttp.ClientSession,
    token: str,
    method: str,
    path: str,
    body: str,
    field: str,
) -> None:
    b, _ = vb
    path = path.format(hw=b.thermostat.hardware_id)
    before = _stable(await _thermostat(http, b, token))
    status, answer = await call(
        http, b, method, path, token, data=body, headers={"Content-Type": "application/json"}
    )
    assert status == 400, answer
    assert field in {e["field"] for e in answer.get("errors", [])} or answer["error"] == "bad_json"
    assert _stable(await _thermostat(http, b, token)) == before


@pytest.mark.parametrize("value", ["2\u00b2", "\u0662\u0660", "\uff12\uff10", "2_0", "nan", "inf"])
async def test_form_numbers_are_ascii_decimals(vb: VB, token: str, value: str) -> None:
    b, _ = vb
    hw = b.thermostat.hardware_id
    body = "target_temperature=" + "".join(f"%{c:02X}" for c in value.encode())
    head = (
        f"PUT /thermostat/{hw} HTTP/1.1\r\n".encode() + _host(b.port)
        + f"Authorization: Bearer {token}\r\n".encode()
        + b"Content-Type: application/x-www-form-urlencoded\r\n"
    )  # fmt: skip
    status, _headers, payload = await raw_request(b.port, head, body.encode())
    assert status == 400
    assert json.loads(payload)["errors"][0]["field"] == "target_temperature"


# -- 3. the text check -----------------------------------------------------------------------

LONE = '"\\ud800"'


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/v1/pair", f'{{"code": {LONE}}}', "code"),
        ("POST", "/api/v1/pair", f'{{"code": "ABCD1234", "client_name": {LONE}}}', "client_name"),
        ("PUT", "/api/v1/settings", f'{{"name": {LONE}}}', "name"),
        ("PUT", "/api/v1/settings", f'{{"location": {LONE}}}', "location"),
        ("PUT", "/api/v1/settings", '{"email": "a@b\\udfff"}', "email"),
        (
            "PUT",
            "/api/v1/privacy/consents/cloud_sync",
            f'{{"granted": true, "terms_version": {LONE}}}',
            "terms_version",
        ),
        (
            "PUT",
            "/thermostat/{hw}",
            '{"exceptions": [{"start": [2030, 0, 1, 0, 0], "end": [2030, 0, 2, 0, 0], '
            f'"temperature": "home", "description": {LONE}}}]}}',
            "exceptions[0].description",
        ),
        ("POST", "/", '{"webhook_url": "http://192.168.1.5/\\udc80"}', "webhook_url"),
        ("POST", "/webhook", f'{{"webhook": {LONE}}}', "webhook"),
    ],
)
async def test_lone_surrogates_in_text_fields_are_a_400(
    vb: VB,
    http: aiohttp.ClientSession,
    token: str,
    method: str,
    path: str,
    body: str,
    field: str,
) -> None:
    b, _ = vb
    path = path.format(hw=b.thermostat.hardware_id)
    before = _stable(await _thermostat(http, b, token))
    status, answer = await call(
        http, b, method, path, token, data=body, headers={"Content-Type": "application/json"}
    )
    assert status == 400, answer
    [error] = [e for e in answer["errors"] if e["field"] == field]
    assert "surrogate" in error["rule"]
    assert _stable(await _thermostat(http, b, token)) == before


# -- 4. query and path integers, time bounds -------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/events?limit=%C2%B2", "limit"),  # ²
        ("/api/v1/events?limit=%D9%A2", "limit"),  # Arabic-Indic two
        ("/api/v1/events?limit=%EF%BC%92", "limit"),  # full-width two
        ("/api/v1/events?limit=+5", "limit"),
        ("/api/v1/events?limit=1" + "0" * 400, "limit"),
        ("/api/v1/privacy/egress?limit=%C2%B2", "limit"),
        ("/api/v1/events?since=%D9%A1%D9%A2", "since"),
        ("/api/v1/history?key=room_temperature&start=0001-01-01T00:00:00%2B00:00", "start"),
        ("/api/v1/history?key=room_temperature&end=9999-12-31T00:00:00Z", "end"),
        ("/api/v1/history?key=room_temperature&start=1e400", "start"),
        ("/api/v1/schedule/blocks?start=2100-01-01T00:00:00Z", "start"),
    ],
)
async def test_query_numbers_are_ascii_and_times_share_one_range(
    vb: VB, http: aiohttp.ClientSession, token: str, path: str, field: str
) -> None:
    b, _ = vb
    status, answer = await call(http, b, "GET", path, token)
    assert status == 400, answer
    assert field in {e["field"] for e in answer["errors"]}


async def test_the_time_range_is_the_same_for_unix_and_iso(
    vb: VB, http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    for value in ("2099-12-31T00:00:00Z", "4102358400", "1970-01-01T00:00:00Z", "0"):
        status, _ = await call(http, b, "GET", f"/api/v1/events?since={value}", token)
        assert status == 200, value
    for value in ("2100-01-01T00:00:00Z", "4102444800", "1969-12-31T23:59:59Z", "-1"):
        status, answer = await call(http, b, "GET", f"/api/v1/events?since={value}", token)
        assert status == 400, value
        assert "1970 to 2099" in answer["errors"][0]["rule"]


@pytest.mark.parametrize("token_id", ["%C2%B2", "%D9%A1", "%EF%BC%91", "-1", "1" + "0" * 30])
async def test_token_ids_are_ascii_whole_numbers(
    vb: VB, http: aiohttp.ClientSession, token: str, token_id: str
) -> None:
    b, _ = vb
    status, answer = await call(http, b, "DELETE", f"/api/v1/tokens/{token_id}", token)
    assert status == 400
    assert answer["errors"][0]["field"] == "id"
    assert all(not t.revoked for t in await b.access.list_tokens())


# -- 5. tokens that are not text ---------------------------------------------------------------

PROTECTED = [
    "GET /thermostat",
    "GET /api/v1/state",
    "GET /api/v1/tokens",
    "PUT /api/v1/options",
    "GET /api/v1/ws",
]


@pytest.mark.parametrize("route", PROTECTED)
@pytest.mark.parametrize(
    "credential",
    [
        b"Authorization: Bearer caf\xe9\r\n",
        b"Authorization: Bearer \xed\xa0\x80\r\n",
        b"Authorization: bearer \xff\xfe\xfd\r\n",
    ],
)
async def test_a_token_that_is_not_utf8_is_a_401(vb: VB, route: str, credential: bytes) -> None:
    b, _ = vb
    method, path = route.split()
    upgrade = (
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        if path.endswith("/ws")
        else b""
    )
    head = f"{method} {path} HTTP/1.1\r\n".encode() + _host(b.port) + credential + upgrade
    status, headers, _ = await raw_request(b.port, head)
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "query", ["access_token=caf%E9", "access_token=%ED%A0%80", "access_token=caf\xe9"]
)
async def test_an_access_token_query_with_odd_bytes_is_a_401(vb: VB, query: str) -> None:
    b, _ = vb
    head = f"GET /api/v1/state?{query} HTTP/1.1\r\n".encode("latin-1") + _host(b.port)
    status, _, _ = await raw_request(b.port, head)
    assert status in (400, 401)


@pytest.mark.parametrize(
    "path", ["GET /oauth2/authorize?client_id=x", "POST /oauth2/authorize/decision"]
)
async def test_a_session_cookie_that_is_not_utf8_is_no_session(vb: VB, path: str) -> None:
    b, _ = vb
    head = (
        f"{path} HTTP/1.1\r\n".encode()
        + _host(b.port)
        + b"Cookie: thermosmart_session=caf\xe9\xed\xa0\x80\r\n"
    )
    status, _, _ = await raw_request(b.port, head)
    assert 400 <= status < 500


# -- 6. the Server header ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/state", "/no/such/route"])
async def test_the_server_header_names_no_versions(vb: VB, path: str) -> None:
    b, _ = vb
    status, headers, _ = await raw_request(
        b.port, f"GET {path} HTTP/1.1\r\n".encode() + _host(b.port)
    )
    assert status in (200, 401, 404)
    assert headers["server"] == "ThermoSmart Local"
    assert "python" not in headers["server"].lower()
    assert "aiohttp" not in headers["server"].lower()


# -- 7. the Host allow-list ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:{port}",
        "127.0.0.1",
        "localhost:{port}",
        "LOCALHOST.",
        "[::1]:{port}",
        "thermosmart-{short}.local:{port}",
        "thermosmart-{short}.local",
    ],
)
async def test_the_bridge_answers_to_its_own_names(vb: VB, host: str) -> None:
    b, _ = vb
    name = host.format(port=b.port, short=b.bridge_id[:8])
    head = f"GET /api/v1/health HTTP/1.1\r\nHost: {name}\r\n".encode()
    status, _, _ = await raw_request(b.port, head)
    assert status == 200, name


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example", "[::2]", "a:b:c", "caf\xe9"],
)
async def test_another_host_name_is_a_421(vb: VB, host: str) -> None:
    b, _ = vb
    name = host.format(port=b.port)
    for path in ("/api/v1/health", "/api/v1/state", "/login", "/api/v1/ws"):
        head = f"GET {path} HTTP/1.1\r\nHost: {name}\r\n".encode("latin-1")
        status, _, payload = await raw_request(b.port, head)
        assert status == 421, (name, path)
        assert json.loads(payload)["error"] == "misdirected"


async def test_a_request_without_host_is_served(vb: VB) -> None:
    b, _ = vb
    status, _, payload = await raw_request(b.port, b"GET /api/v1/health HTTP/1.0\r\n")
    assert status == 200
    assert json.loads(payload)["status"] == "ok"


async def test_allowed_hosts_adds_names_and_star_allows_any(tmp_path: Path) -> None:
    async with virtual_bridge(tmp_path, allowed_hosts=["Thermostat.Home.Example"]) as (b, _):
        for name, expected in (("thermostat.home.example:80", 200), ("other.example", 421)):
            head = f"GET /api/v1/health HTTP/1.1\r\nHost: {name}\r\n".encode()
            assert (await raw_request(b.port, head))[0] == expected, name
    async with virtual_bridge(tmp_path / "any", allowed_hosts=["*"]) as (b, _):
        head = b"GET /api/v1/health HTTP/1.1\r\nHost: anything.example\r\n"
        assert (await raw_request(b.port, head))[0] == 200


async def test_the_integration_style_client_reaches_the_bridge_by_address(
    vb: VB, http: aiohttp.ClientSession
) -> None:
    b, _ = vb
    token = await make_token(b)
    async with http.get(
        f"{base_url(b)}/api/v1/state", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 200


@pytest.mark.parametrize(
    ("header", "local", "allowed"),
    [
        ("192.168.1.5:8722", "192.168.1.5", True),  # the address the request arrived on
        ("192.168.1.5", "::ffff:192.168.1.5", True),  # an IPv4 client of a dual-stack socket
        ("[::1]:80", None, True),
        ("LocalHost.", None, True),
        ("192.168.1.6", "192.168.1.5", False),
        ("[::1", None, False),
        ("127.0.0.1:http", None, False),
        ("evil.example", "192.168.1.5", False),
        ("", None, True),  # no name to check (HTTP/1.0)
    ],
)
def test_the_host_policy_reads_every_form_of_host(
    header: str, local: str | None, allowed: bool
) -> None:
    assert HostPolicy().allows(header, local) is allowed
