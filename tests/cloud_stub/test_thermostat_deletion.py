"""``DELETE /api/v1/bridges/{id}/thermostat``: a revoked ``cloud_sync`` leaves no synced object."""

from __future__ import annotations

import aiohttp

from tests.cloud_stub.conftest import BRIDGE_ID, Cloud, auth, enrol, synced


async def test_deleting_the_thermostat_forgets_object_and_commands_and_keeps_the_link(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret, token = await synced(http, cloud)
    cloud.store.add_command(BRIDGE_ID, "pause", {"pause": True}, based_on=1)
    url = f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/thermostat"
    async with http.delete(url, headers=auth(secret)) as resp:
        assert resp.status == 200
        assert await resp.json() == {"erased": 2}
    assert cloud.store.get_object(BRIDGE_ID) is None
    assert cloud.store.commands(BRIDGE_ID) == []
    assert cloud.store.bridge(BRIDGE_ID) is not None  # still linked
    assert cloud.store.bridge_for_owner_token(token) is not None
    async with http.delete(url, headers=auth(secret)) as resp:  # nothing left: still fine
        assert resp.status == 200
        assert await resp.json() == {"erased": 0}


async def test_deleting_the_thermostat_needs_that_bridges_secret(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    await synced(http, cloud)
    other = await enrol(http, cloud, bridge_id="fedcba9876543210", hardware_id="TSL00FFEEDDCC")
    url = f"{cloud.url}/api/v1/bridges/{BRIDGE_ID}/thermostat"
    async with http.delete(url) as resp:
        assert resp.status == 401
    async with http.delete(url, headers=auth(other)) as resp:
        assert resp.status == 403
    async with http.delete(url, json={"x": 1}, headers=auth(other)) as resp:
        assert resp.status == 400
    assert cloud.store.get_object(BRIDGE_ID) is not None
