"""Every request is checked before its handler runs, and logged without bodies or secrets."""

from __future__ import annotations

from collections.abc import AsyncIterator
import contextlib
import logging
import re
import sqlite3

import aiohttp
import pytest

from bench.cloud_scale import SimBridge
from cloud_stub.server import MAX_BODY
from tests.cloud_stub.conftest import BRIDGE_ID, HW, Cloud, auth, enrol, synced, thermostat_object


def _statistics(cloud: Cloud) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{cloud.db_path}?mode=ro", uri=True)) as db:
        count: int = db.execute("SELECT count(*) FROM statistics").fetchone()[0]
    return count


async def test_health_needs_no_token(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{cloud.url}/api/v1/health") as resp:
        assert resp.status == 200
        assert (await resp.json())["service"] == "thermosmart-cloud"


async def test_oversized_bodies_are_413(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    secret = await enrol(http, cloud)
    url = f"{cloud.url}/api/v1/statistics"
    big = b'{"name": "' + b"x" * MAX_BODY + b'"}'
    headers = {**auth(secret), "Content-Type": "application/json"}
    async with http.post(url, data=big, headers=headers) as resp:
        assert resp.status == 413
        assert (await resp.json())["error"] == "too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: caught while reading
        for _ in range(4):
            yield b" " * (MAX_BODY // 2)

    async with http.post(url, data=chunks(), headers=headers) as resp:
        assert resp.status == 413
        assert resp.content_type == "application/json"
    assert _statistics(cloud) == 0  # nothing stored


@pytest.mark.parametrize(
    ("content_type", "body", "status", "error"),
    [
        ("text/plain", b"{}", 415, "content_type"),
        ("application/x-www-form-urlencoded", b"name=x", 415, "content_type"),
        ("application/json; charset=latin-1", b"{}", 415, "content_type"),
        ("application/json", b"{not json", 400, "bad_json"),
        ("application/json", b'{"name": "a", "name": "b"}', 400, "bad_json"),
        ("application/json", b'{"name": NaN}', 400, "bad_json"),
        ("application/json", b"\xff\xfe", 400, "bad_json"),
        ("application/json", b"", 400, "bad_json"),
    ],
)
async def test_bodies_must_be_json(
    cloud: Cloud,
    http: aiohttp.ClientSession,
    content_type: str,
    body: bytes,
    status: int,
    error: str,
) -> None:
    secret = await enrol(http, cloud)
    url = f"{cloud.url}/api/v1/statistics"
    async with http.post(
        url, data=body, headers={**auth(secret), "Content-Type": content_type}
    ) as resp:
        assert resp.status == status
        assert (await resp.json())["error"] == error
    assert _statistics(cloud) == 0  # nothing stored


async def test_form_bodies_only_where_the_cloud_api_takes_them(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    _, token = await synced(http, cloud)
    async with http.post(
        f"{cloud.url}/thermostat/{HW}/pause", data={"pause": "true"}, headers=auth(token)
    ) as resp:
        assert resp.status == 415
    async with http.put(
        f"{cloud.url}/thermostat/{HW}",
        data="a=1&a=2",
        headers={**auth(token), "Content-Type": "application/x-www-form-urlencoded"},
    ) as resp:
        assert resp.status == 400
    async with http.put(
        f"{cloud.url}/thermostat/{HW}", data={"target_temperature": "hot"}, headers=auth(token)
    ) as resp:
        assert resp.status == 400
        errors = (await resp.json())["errors"]
    assert errors == [{"field": "target_temperature", "rule": "must be a number"}]
    async with http.get(
        f"{cloud.url}/api/v1/thermostats/{HW}/commands", headers=auth(token)
    ) as resp:
        assert await resp.json() == {"commands": []}


async def test_no_body_where_none_belongs(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    secret, token = await synced(http, cloud)
    async with http.get(f"{cloud.url}/thermostat/{HW}", json={"x": 1}, headers=auth(token)) as r:
        assert r.status == 400
    async with http.delete(
        f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}", json={}, headers=auth(secret)
    ) as resp:
        assert resp.status == 400
    async with http.get(f"{cloud.url}/thermostat/{HW}", headers=auth(token)) as resp:
        assert resp.status == 200  # not erased


async def test_only_known_query_parameters(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    secret, token = await synced(http, cloud)
    cases = [
        (f"{cloud.url}/thermostat/{HW}?access_token={token}&debug=1", {}, "debug"),
        (
            f"{cloud.url}/thermostat/{HW}?access_token={token}&access_token={token}",
            {},
            "access_token",
        ),
        (f"{cloud.url}/api/v1/weather?city=Utrecht&city=Delft", auth(secret), "city"),
        (f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/sync?fields=all", auth(secret), "fields"),
        (f"{cloud.url}/api/v1/health?x=1", {}, "x"),
    ]
    for url, headers, field in cases:
        async with http.get(url, headers=headers) as resp:
            assert resp.status == 400, url
            (error,) = (await resp.json())["errors"]
        assert error["field"] == field


async def test_unknown_routes_and_methods_answer_json(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{cloud.url}/nothing/here") as resp:
        assert resp.status == 404
        assert (await resp.json())["error"] == "not_found"
    async with http.get(f"{cloud.url}/thermostat/bad%20id") as resp:
        assert resp.status == 404
    async with http.patch(f"{cloud.url}/thermostat/{HW}", json={}) as resp:
        assert resp.status == 405
        assert (await resp.json())["error"] == "method_not_allowed"
        assert "PUT" in resp.headers["Allow"]


async def test_requests_are_logged_without_bodies_secrets_or_ids(
    cloud: Cloud, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret, token = await synced(http, cloud)
    bridge = SimBridge(http, cloud.url, BRIDGE_ID, secret, thermostat_object(name="Zolderkamer"))
    await bridge.connect()
    await bridge.close()
    async with http.get(f"{cloud.url}/thermostat/{HW}", params={"access_token": token}):
        pass
    async with http.get(
        f"{cloud.url}/api/v1/weather", params={"city": "Amersfoort"}, headers=auth(secret)
    ):
        pass
    async with http.put(
        f"{cloud.url}/thermostat/{HW}", json={"target_temperature": 99}, headers=auth(token)
    ):
        pass
    access = [r.getMessage() for r in caplog.records if r.name == "cloud_stub.access"]
    expected = [
        r"POST /oauth2/device_authorization -> 200",
        r"POST /oauth2/token -> 200",
        r"GET /api/v1/bridges/\{bridge_id\}/sync -> 101",
        r"GET /api/v1/bridges/\{bridge_id\}/sync -> 101",
        r"GET /thermostat/\{hw\}\?access_token -> 200",
        r"GET /api/v1/weather\?city -> 200",
        r"PUT /thermostat/\{hw\} -> 400",
    ]
    # a WebSocket's line is written when it closes: the order may differ from the requests'
    assert len(access) == len(expected)
    for pattern in expected:
        matching = [
            a for a in access if re.fullmatch(pattern + r" \(\d+ bytes in, \d+\.\d ms\)", a)
        ]
        assert matching, pattern
        access.remove(matching[0])
    text = "\n".join(r.getMessage() for r in caplog.records)
    leaks = (secret, token, HW, BRIDGE_ID, "Zolderkamer", "Amersfoort", "target_temperature")
    for leak in leaks:
        assert leak not in text, leak


async def test_odd_query_names_are_not_logged(
    cloud: Cloud, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cloud_stub.access")
    async with http.get(f"{cloud.url}/api/v1/health?evil%0Aline=1&x=2") as resp:
        assert resp.status == 400
    (line,) = [r.getMessage() for r in caplog.records if r.name == "cloud_stub.access"]
    assert line.startswith("GET /api/v1/health?(other)&x -> 400 (")
    assert "evil" not in line
