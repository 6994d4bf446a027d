"""The daemon on loopback: health, pairing, authentication, native state, zeroconf."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from bridge.config import validate
from bridge.daemon import Bridge
from bridge.services.discovery import SERVICE_TYPE

from .conftest import base_url


async def _pair(b: Bridge, http: aiohttp.ClientSession) -> str:
    code = await b.db.auth.create_pairing_code()
    async with http.post(
        f"{base_url(b)}/api/v1/pair", json={"code": code, "client_name": "test"}
    ) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["bridge_id"] == b.bridge_id
    token: str = body["access_token"]
    return token


async def test_health_needs_no_token(bridge: Bridge, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{base_url(bridge)}/api/v1/health") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["status"] == "ok"
    assert body["api_version"] == 1
    assert len(body["bridge_id"]) == 16
    assert body["name"] == "ThermoSmart"


async def test_bridge_id_survives_restart(tmp_path: Path) -> None:
    cfg = validate({"data_dir": str(tmp_path), "host": "127.0.0.1", "port": 0, "zeroconf": False})
    first = Bridge(cfg)
    await first.start()
    bridge_id = first.bridge_id
    await first.stop()
    second = Bridge(cfg)
    await second.start()
    try:
        assert second.bridge_id == bridge_id
    finally:
        await second.stop()


async def test_pairing_code_works_once(bridge: Bridge, http: aiohttp.ClientSession) -> None:
    code = await bridge.db.auth.create_pairing_code()
    url = f"{base_url(bridge)}/api/v1/pair"
    async with http.post(url, json={"code": code, "client_name": "ha"}) as resp:
        assert resp.status == 200
    async with http.post(url, json={"code": code, "client_name": "ha"}) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"] == "invalid_code"


async def test_pairing_rejects_bad_bodies(bridge: Bridge, http: aiohttp.ClientSession) -> None:
    url = f"{base_url(bridge)}/api/v1/pair"
    async with http.post(url, json={"code": "ABCD-EFGH", "extra": 1}) as resp:
        assert resp.status == 400
        body = await resp.json()
    assert {"field": "extra", "rule": "unknown field"} in body["errors"]
    async with http.post(url, json={"client_name": "x"}) as resp:
        assert resp.status == 400
        # the one converter every route uses: the API's words, not the library's
        assert (await resp.json())["errors"] == [{"field": "code", "rule": "required"}]
    async with http.post(url, data="code=1", headers={"Content-Type": "text/plain"}) as resp:
        assert resp.status == 415
        assert (await resp.json())["error"] == "content_type"
    async with http.post(
        url, data="{not json", headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "bad_json"
    async with http.post(
        url, data="x" * 70_000, headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 413
    # nothing was issued by any of these
    assert await bridge.db.auth.list_tokens() == []


async def test_wrong_codes_are_slowed_down(bridge: Bridge, http: aiohttp.ClientSession) -> None:
    url = f"{base_url(bridge)}/api/v1/pair"
    statuses = []
    for _ in range(7):
        async with http.post(url, json={"code": "WRNG-CODE"}) as resp:
            statuses.append(resp.status)
            retry_after = resp.headers.get("Retry-After")
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]
    assert retry_after is not None
    assert int(retry_after) > 0
    # a good code is refused too while the address is blocked
    code = await bridge.db.auth.create_pairing_code()
    async with http.post(url, json={"code": code}) as resp:
        assert resp.status == 429


async def test_concurrent_wrong_codes_are_limited_like_sequential_ones(
    bridge: Bridge, http: aiohttp.ClientSession
) -> None:
    url = f"{base_url(bridge)}/api/v1/pair"

    async def attempt() -> int:
        async with http.post(url, json={"code": "WRNG-CODE"}) as resp:
            return resp.status

    statuses = await asyncio.gather(*(attempt() for _ in range(50)))
    assert sorted(statuses) == [401] * 5 + [429] * 45


async def test_successful_pairings_do_not_use_up_the_failure_budget(
    bridge: Bridge, http: aiohttp.ClientSession
) -> None:
    for _ in range(6):
        await _pair(bridge, http)
    url = f"{base_url(bridge)}/api/v1/pair"
    statuses = []
    for _ in range(6):
        async with http.post(url, json={"code": "WRNG-CODE"}) as resp:
            statuses.append(resp.status)
    assert statuses == [401] * 5 + [429]


async def test_state_needs_a_valid_token(bridge: Bridge, http: aiohttp.ClientSession) -> None:
    url = f"{base_url(bridge)}/api/v1/state"
    async with http.get(url) as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    async with http.get(url, headers={"Authorization": "Bearer nope"}) as resp:
        assert resp.status == 401
    token = await _pair(bridge, http)
    async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 200
        state = await resp.json()
    assert state["bridge"]["bridge_id"] == bridge.bridge_id
    assert state["link"] == {"kind": "sim", "opentherm": True, "state": "connected"}
    async with http.get(url, params={"access_token": token}) as resp:
        assert resp.status == 200
    tokens = await bridge.db.auth.list_tokens()
    assert await bridge.db.auth.revoke_token(tokens[0].id)
    async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 401


async def test_master_talks_to_the_simulated_boiler(
    bridge: Bridge, http: aiohttp.ClientSession
) -> None:
    token = await _pair(bridge, http)
    state: dict[str, object] = {}
    for _ in range(50):
        async with http.get(
            f"{base_url(bridge)}/api/v1/state", headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            state = await resp.json()
        boiler = state["boiler"]
        assert isinstance(boiler, dict)
        if "flow_temperature" in boiler["values"]:
            break
        await asyncio.sleep(0.1)
    boiler = state["boiler"]
    assert isinstance(boiler, dict)
    assert boiler["connected"] is True
    assert "flow_temperature" in boiler["values"]
    assert boiler["values"]["status"]["raw"].startswith("0x")


async def test_zeroconf_announces_bridge_id_on_loopback(tmp_path: Path) -> None:
    cfg = validate(
        {
            "data_dir": str(tmp_path),
            "host": "127.0.0.1",
            "port": 0,
            "zeroconf_interfaces": ["127.0.0.1"],
        }
    )
    b = Bridge(cfg)
    await b.start()
    zc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    found: asyncio.Queue[str] = asyncio.Queue()

    def on_change(**kwargs: object) -> None:
        found.put_nowait(str(kwargs["name"]))

    browser = AsyncServiceBrowser(zc.zeroconf, SERVICE_TYPE, handlers=[on_change])
    try:
        name = await asyncio.wait_for(found.get(), 10)
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        assert await info.async_request(zc.zeroconf, 3000)
        assert info.properties[b"bridge_id"] == b.bridge_id.encode()
        assert info.properties[b"api_version"] == b"1"
        assert info.port == b.port
        assert info.parsed_addresses() == ["127.0.0.1"]
    finally:
        await browser.async_cancel()
        await zc.async_close()
        await b.stop()
