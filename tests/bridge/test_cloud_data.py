"""Terms, weather by city, statistics, revocation and erase against the real stand-in.

The bridge (``--cloud-url`` set, simulated boiler without an outside sensor)
and the stand-in run on loopback in the test's process on one virtual clock,
so the flows' hours pass in milliseconds. The bridge is linked by the real
device grant (``CloudLinker``, the owner approving at the stand-in's store).
What the bridge sent is read from its egress log and from the stand-in's
database; what the bridge does with it from its native state.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass
import json
from pathlib import Path
import sqlite3
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from bridge.config import validate
from bridge.core.clock import VirtualClock
from bridge.core.payloads.privacy import Purpose
from bridge.core.purposes import ALLOWED, FieldNotAllowedError
from bridge.daemon import Bridge
from bridge.services import cloud_data
from bridge.services.cloud_link import CloudLinker, DeviceCode
from bridge.storage import STATISTICS_PSEUDONYM, Sample
from cloud_stub import store as cloud_store
from cloud_stub.server import CloudServer
from cloud_stub.store import BRIDGE_TABLES, CloudStore
from tests.bridge.conftest import make_token
from tests.bridge.native_helpers import call

OWNER = "owner@example.org"
CITY = "Utrecht"
TERMS = cloud_store.INITIAL_TERMS_VERSION
#: The flows' intervals in these tests (virtual seconds).
INTERVAL = 300.0


@pytest.fixture(autouse=True)
def quick_flows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hourly flows every five virtual minutes, and a first retry after one."""
    monkeypatch.setattr(cloud_data, "TERMS_INTERVAL_S", INTERVAL)
    monkeypatch.setattr(cloud_data, "WEATHER_INTERVAL_S", INTERVAL)
    monkeypatch.setattr(cloud_data, "RETRY_MIN_S", 60.0)
    monkeypatch.setattr(cloud_store, "LINK_INTERVAL", 1.0)


@dataclass
class Calls:
    """A running bridge and what a test needs to talk to it."""

    clock: VirtualClock
    bridge: Bridge
    token: str
    http: aiohttp.ClientSession

    @property
    def b(self) -> Bridge:
        return self.bridge

    async def api(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await call(self.http, self.bridge, method, path, self.token, **kwargs)

    async def consent(self, purpose: Purpose, *, granted: bool, terms: str = TERMS) -> None:
        status, body = await self.api(
            "PUT",
            f"/api/v1/privacy/consents/{purpose.value}",
            json={"granted": granted, "terms_version": terms},
        )
        assert status == 200, body

    async def state(self) -> dict[str, Any]:
        status, body = await self.api("GET", "/api/v1/state")
        assert status == 200, body
        cloud: dict[str, Any] = body["cloud"]
        return cloud

    async def egress(self, path_part: str = "") -> list[dict[str, Any]]:
        status, body = await self.api("GET", "/api/v1/privacy/egress")
        assert status == 200, body
        return [r for r in body["records"] if path_part in r["path"]]

    async def tick(self, seconds: float = INTERVAL + 60) -> None:
        """Let ``seconds`` of virtual time pass, a minute at a time, the flows settling."""
        for _ in range(int(seconds // 60)):
            await self.clock.advance(60)
            await settle()


@dataclass
class Setup(Calls):
    """:class:`Calls` with the stand-in it is configured for."""

    cloud: CloudServer
    store: CloudStore
    cloud_dir: Path

    async def link(self) -> None:
        await self.consent(Purpose.CLOUD_SYNC, granted=True)
        found = self.store.owner(OWNER)
        owner_id = (found or self.store.create_owner(OWNER)[0]).owner_id

        def show(code: DeviceCode) -> None:
            assert self.store.decide_link(code.user_code, owner_id, approve=True) is not None

        await CloudLinker(self.bridge.db, self.bridge.cloud, sleep=self.clock.advance).link(show)


async def settle() -> None:
    """Let the loop's pending HTTP round trips finish (real time, loopback)."""
    for _ in range(5):
        await asyncio.sleep(0.02)


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(500):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


@contextlib.asynccontextmanager
async def running_bridge(
    clock: VirtualClock, data_dir: Path, url: str, **config: Any
) -> AsyncIterator[Bridge]:
    cfg = validate(
        {
            "data_dir": str(data_dir),
            "host": "127.0.0.1",
            "port": 0,
            "zeroconf": False,
            "cloud_url": url,
            **config,
        }
    )
    bridge = Bridge(cfg, clock=clock)
    await bridge.start()
    try:
        yield bridge
    finally:
        stopping = asyncio.create_task(bridge.stop())
        while not stopping.done():
            await clock.advance(1)
        await stopping


@contextlib.asynccontextmanager
async def serve_cloud(
    clock: VirtualClock, cloud_dir: Path, port: int = 0
) -> AsyncIterator[tuple[CloudServer, CloudStore]]:
    store = CloudStore.open(cloud_dir, clock)
    server = CloudServer(store, host="127.0.0.1", port=port, clock=clock)
    await server.start()
    try:
        yield server, store
    finally:
        await server.stop()
        store.close()


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    clock = VirtualClock()
    async with (
        serve_cloud(clock, tmp_path / "cloud") as (server, store),
        running_bridge(clock, tmp_path / "bridge", server.url) as bridge,
        aiohttp.ClientSession() as http,
    ):
        token = await make_token(bridge)
        yield Setup(clock, bridge, token, http, server, store, tmp_path / "cloud")


def cloud_rows(db_path: Path, table: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        return conn.execute(f"SELECT * FROM {table}").fetchall()


def cloud_db(s: Setup) -> Path:
    return s.cloud_dir / cloud_store.DB_NAME


# -- terms ---------------------------------------------------------------------------------


async def test_the_owner_asks_the_terms_version_before_consenting(s: Setup) -> None:
    """With nothing granted the bridge asks nothing; the owner's question is one request
    without data, logged as ``terms``, and the version it brings is what a consent needs."""
    await s.tick()
    assert (await s.state())["terms_version"] is None
    assert await s.egress() == []
    status, body = await s.api("POST", "/api/v1/privacy/terms", json={"x": 1})
    assert status == 400, body  # takes no body
    assert await s.egress() == []
    status, body = await s.api("POST", "/api/v1/privacy/terms")
    assert status == 200, body
    assert body["terms_version"] == TERMS
    assert not any(p["granted"] for p in body["purposes"])
    [record] = await s.egress()
    assert (record["path"], record["purpose"], record["fields"], record["bytes"]) == (
        "/api/v1/terms",
        "terms",
        [],
        0,
    )
    assert (await s.state())["terms_version"] == TERMS
    await s.consent(Purpose.WEATHER_BY_CITY, granted=True)
    status, body = await s.api("GET", "/api/v1/privacy/purposes")
    assert {p["purpose"]: p["allowed"] for p in body["purposes"]}["weather_by_city"] is True


async def test_a_cloud_that_does_not_answer_the_terms_is_a_409_and_changes_nothing(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    async with (
        running_bridge(clock, tmp_path / "bridge", "http://127.0.0.1:9") as bridge,
        aiohttp.ClientSession() as http,
    ):
        token = await make_token(bridge)
        status, body = await call(http, bridge, "POST", "/api/v1/privacy/terms", token)
        assert status == 409, body
        assert body["error"] == "cloud_failed"
        assert bridge.cloud_gate is not None
        assert bridge.cloud_gate.terms_version is None


async def test_new_terms_pause_the_flows_until_the_owner_grants_again(s: Setup) -> None:
    await s.link()
    await s.consent(Purpose.WEATHER_BY_CITY, granted=True)
    assert (await s.api("PUT", "/api/v1/settings", json={"location": CITY}))[0] == 200
    await until(lambda: _has_weather(s), "weather fetched")
    assert (await s.state())["terms_version"] == TERMS
    assert (await s.state())["paused"] == []

    s.store.publish_terms("2026-02")
    await s.tick()  # the bridge asks for the terms again
    await until(lambda: _paused(s, ["cloud_sync", "weather_by_city"]), "flows paused")
    assert (await s.state())["terms_version"] == "2026-02"
    assert (await s.state())["weather"] is None  # the old answer is not used any more
    sent = len(await s.egress("/api/v1/weather"))
    await s.tick(3 * INTERVAL)
    assert len(await s.egress("/api/v1/weather")) == sent  # nothing for a paused purpose

    await s.consent(Purpose.WEATHER_BY_CITY, granted=True, terms="2026-02")
    await until(lambda: _paused(s, ["cloud_sync"]), "weather answered")
    await until(lambda: _has_weather(s), "weather resumed")
    assert len(await s.egress("/api/v1/weather")) == sent + 1


async def test_paused_purposes_stay_paused_across_a_restart_with_the_cloud_down(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    cloud_dir, data_dir = tmp_path / "cloud", tmp_path / "bridge"
    async with aiohttp.ClientSession() as http:
        async with serve_cloud(clock, cloud_dir) as (server, store):
            url = server.url
            async with running_bridge(clock, data_dir, url) as bridge:
                s = Setup(clock, bridge, await make_token(bridge), http, server, store, cloud_dir)
                await s.link()
                await s.consent(Purpose.WEATHER_BY_CITY, granted=True)
                store.publish_terms("2026-02")
                await s.tick()
                await until(lambda: _paused(s, ["cloud_sync", "weather_by_city"]), "paused")
        async with running_bridge(clock, data_dir, url) as bridge:
            s.bridge, s.token = bridge, await make_token(bridge)
            state = await s.state()
            assert (state["terms_version"], state["paused"]) == (
                "2026-02",
                ["cloud_sync", "weather_by_city"],
            )
            assert bridge.cloud_gate is not None
            assert not await bridge.cloud_gate.allowed(Purpose.WEATHER_BY_CITY)


async def test_new_terms_learned_during_a_refresh_never_pause_half_the_purposes(
    s: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state names its paused purposes under the terms version it reports, even when
    the cloud's new version arrives while the consents are being read. The timing is
    forced: the version is learned right after the refresh's k-th consent read, for
    every k up to one past the last read."""
    await s.consent(Purpose.WEATHER_BY_CITY, granted=True)
    await s.consent(Purpose.STATISTICS, granted=True)
    await until(lambda: _asked_terms(s), "the terms asked")  # not again for an hour
    service, gate = s.b.cloud_data, s.b.cloud_gate
    assert service is not None
    assert gate is not None
    both = ["weather_by_city", "statistics"]
    consents = s.b.db.consents
    refreshing: list[asyncio.Task[None]] = []
    reads = [0, 0]  # consent reads by the refresh under test; the read that learns

    def learning_new_terms(read: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapped(*args: Any, **kwargs: Any) -> Any:
            answer = await read(*args, **kwargs)
            if asyncio.current_task() in refreshing:  # not the service's own loop
                reads[0] += 1
                if reads[0] == reads[1]:
                    gate.set_terms_version("2026-02")  # the sync connection's hello, say
            return answer

        return wrapped

    monkeypatch.setattr(consents, "get", learning_new_terms(consents.get))
    monkeypatch.setattr(consents, "current", learning_new_terms(consents.current))
    seen = set()
    for k in range(1, 2 * len(Purpose) + 2):
        gate.set_terms_version(TERMS)
        await service.refresh()
        assert (service.model().terms_version, service.model().paused) == (TERMS, [])
        reads[:] = [0, k]
        refreshing[:] = [asyncio.create_task(service.refresh())]
        await refreshing[0]
        model = service.model()  # what this refresh pushed, before the next one runs
        assert model.paused == ([] if model.terms_version == TERMS else both), k
        seen.add(model.terms_version)
        if reads[0] < k:  # the refresh read less than k times: the sweep is complete
            break
        await service.refresh()  # the next refresh (the wake-up the gate gave) catches up
        assert (service.model().terms_version, service.model().paused) == ("2026-02", both)
    assert seen == {TERMS}  # the version is read once, before the consents
    assert k > 1
    state = await s.state()
    assert (state["terms_version"], state["paused"]) == (TERMS, [])


async def _asked_terms(s: Calls) -> bool:
    return bool(await s.egress("/api/v1/terms"))


async def _paused(s: Calls, purposes: list[str]) -> bool:
    return bool((await s.state())["paused"] == purposes)


async def _has_weather(s: Calls) -> bool:
    return (await s.state())["weather"] is not None


# -- weather by city -------------------------------------------------------------------------


async def test_weather_by_city_is_the_outside_source_only_without_a_better_one(s: Setup) -> None:
    await s.link()
    await s.consent(Purpose.WEATHER_BY_CITY, granted=True)
    await s.tick(2 * INTERVAL)
    assert await s.egress("/api/v1/weather") == []  # no city, no request
    assert (await s.api("PUT", "/api/v1/settings", json={"location": CITY}))[0] == 200
    await until(lambda: _has_weather(s), "weather fetched")

    [record] = await s.egress("/api/v1/weather")
    assert (record["purpose"], record["fields"]) == ("weather_by_city", ["city"])
    weather = (await s.state())["weather"]
    thermostat = s.b.thermostat
    assert thermostat.outside() == (weather["outside_temperature"], "weather")
    assert weather["forecast_hours"] == 48
    forecast = thermostat.learning.outside_forecast
    assert forecast is not None
    assert forecast.series(s.clock.time()) is not None
    for path in s.cloud_dir.iterdir():  # the stand-in keeps the city nowhere
        assert CITY.encode() not in path.read_bytes(), path

    # a value Home Assistant pushes is the better source
    hw = thermostat.hardware_id
    status, _ = await s.api("PUT", f"/thermostat/{hw}", json={"outside_temperature": -7.5})
    assert status == 200
    assert thermostat.outside() == (-7.5, "pushed")

    await s.consent(Purpose.WEATHER_BY_CITY, granted=False)
    await until(lambda: _no_weather(s), "weather dropped at once")
    assert thermostat.cloud_weather is None
    assert thermostat.learning.outside_forecast is None
    await s.tick(3 * INTERVAL)
    assert len(await s.egress("/api/v1/weather")) == 1  # revoking stopped the flow


async def test_the_boilers_outside_sensor_comes_before_the_clouds_weather(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    async with (
        serve_cloud(clock, tmp_path / "cloud") as (server, store),
        running_bridge(
            clock, tmp_path / "bridge", server.url, sim={"house": "new_build"}
        ) as bridge,  # its boiler has an outside sensor (OpenTherm id 27)
        aiohttp.ClientSession() as http,
    ):
        s = Setup(clock, bridge, await make_token(bridge), http, server, store, tmp_path / "cloud")
        await s.link()
        await s.consent(Purpose.WEATHER_BY_CITY, granted=True)
        assert (await s.api("PUT", "/api/v1/settings", json={"location": CITY}))[0] == 200
        await until(lambda: _has_weather(s), "weather fetched")
        await s.tick(120)
        sensor = bridge.thermostat.boiler_number(27)
        assert sensor is not None
        assert bridge.thermostat.outside() == (sensor, "boiler")
        assert bridge.thermostat.cloud_weather is not None  # fetched, kept, not used


async def _no_weather(s: Calls) -> bool:
    return not await _has_weather(s)


async def test_no_weather_request_without_consent(s: Setup) -> None:
    await s.link()
    assert (await s.api("PUT", "/api/v1/settings", json={"location": CITY}))[0] == 200
    await s.tick(3 * INTERVAL)
    assert await s.egress("/api/v1/weather") == []
    assert s.b.thermostat.outside() == (None, None)


# -- statistics ------------------------------------------------------------------------------


async def _yesterday(s: Setup) -> None:
    """The day before the clock's: 4 °C outside, the burner on 6 h at 40 %."""
    start = s.clock.time() - 86_400.0
    samples = []
    for minute in range(24 * 60):
        ts = start + 60.0 * minute
        on = minute < 6 * 60
        samples += [
            Sample(ts, "outside_temperature", 4.0),
            Sample(ts, "flame_on", 1.0 if on else 0.0),
        ]
        if on:
            samples.append(Sample(ts, "modulation", 40.0))
    await s.b.db.measurements.add_samples(samples)


async def test_statistics_carry_one_days_aggregates_under_a_random_pseudonym(s: Setup) -> None:
    await _yesterday(s)
    await s.link()
    await s.tick()
    assert cloud_rows(cloud_db(s), "statistics") == []  # not without consent
    await s.consent(Purpose.STATISTICS, granted=True)
    await until(lambda: _stats(s, 1), "statistics shared")

    [(pseudonym, day, degree_days, modulation, burner_hours)] = cloud_rows(
        cloud_db(s), "statistics"
    )
    assert (day, degree_days, modulation, burner_hours) == ("2025-12-31", 14.0, 40.0, 6.0)
    identifiers = (s.b.bridge_id, s.b.thermostat.hardware_id, OWNER, CITY)
    assert len(pseudonym) >= 22
    assert not any(i.lower() in pseudonym.lower() for i in identifiers)
    assert await s.b.db.settings.get(STATISTICS_PSEUDONYM) == pseudonym
    [record] = await s.egress("/api/v1/statistics")
    assert record["purpose"] == "statistics"
    assert set(record["fields"]) == set(ALLOWED[Purpose.STATISTICS])
    await s.tick(3 * INTERVAL)
    assert len(await s.egress("/api/v1/statistics")) == 1  # once a day

    await s.consent(Purpose.STATISTICS, granted=False)
    await until(lambda: _stats(s, 0), "statistics deleted in the cloud")
    deletion = (await s.egress(f"/api/v1/statistics/{pseudonym}"))[0]
    assert (deletion["purpose"], deletion["fields"], deletion["bytes"]) == ("statistics", [], 0)
    assert await s.b.db.settings.get(STATISTICS_PSEUDONYM) is None


async def _stats(s: Setup, rows: int) -> bool:
    return len(cloud_rows(cloud_db(s), "statistics")) == rows


# -- revocation ------------------------------------------------------------------------------


async def test_revoking_cloud_sync_deletes_the_synced_thermostat_and_keeps_the_link(
    s: Setup,
) -> None:
    await s.link()
    s.store.put_object(s.b.bridge_id, {"name": "as synced"}, 1)
    await s.consent(Purpose.CLOUD_SYNC, granted=False)

    async def gone() -> bool:
        return s.store.get_object(s.b.bridge_id) is None

    await until(gone, "the synced object deleted")
    assert s.store.bridge(s.b.bridge_id) is not None
    assert (await s.state())["linked"] is True
    [record] = await s.egress("/thermostat")
    assert record["path"] == f"/api/v1/bridges/{s.b.bridge_id}/thermostat"
    assert (record["purpose"], record["fields"], record["bytes"]) == ("cloud_sync", [], 0)


async def test_a_request_without_data_may_carry_no_field(s: Setup) -> None:
    client = s.b.cloud
    assert client is not None
    with pytest.raises(FieldNotAllowedError, match="may not carry city"):
        await client.request(
            "GET", "/api/v1/terms", purpose=Purpose.STATISTICS, query={"city": CITY}, no_data=True
        )
    assert await s.egress() == []


# -- erase everywhere ------------------------------------------------------------------------


async def test_erase_erases_the_cloud_copy(s: Setup) -> None:
    await _yesterday(s)
    await s.link()
    await s.consent(Purpose.STATISTICS, granted=True)
    await until(lambda: _stats(s, 1), "statistics shared")
    s.store.put_object(s.b.bridge_id, {"name": "as synced"}, 1)
    s.store.create_owner_token(s.b.bridge_id)

    status, body = await s.api("POST", "/api/v1/erase", json={"confirm": True})
    assert status == 200, body
    assert body["cloud"] == "erased"
    for table in (*BRIDGE_TABLES, "statistics"):
        assert cloud_rows(cloud_db(s), table) == [], table
    assert (await s.state())["linked"] is False
    assert (await s.state())["erase_pending"] is False
    assert s.b.thermostat.resolution().target > 0  # heating on its defaults


async def test_erase_of_an_unlinked_bridge_says_so(s: Setup) -> None:
    status, body = await s.api("POST", "/api/v1/erase", json={"confirm": True})
    assert status == 200, body
    assert body["cloud"] == "not_linked"
    assert await s.egress() == []


async def test_erase_with_the_cloud_down_is_queued_and_done_once_it_is_back(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    cloud_dir, data_dir = tmp_path / "cloud", tmp_path / "bridge"
    async with aiohttp.ClientSession() as http:
        async with serve_cloud(clock, cloud_dir) as (server, store):
            port = int(server.url.rsplit(":", 1)[1])
            url = server.url
            async with running_bridge(clock, data_dir, url) as bridge:
                s = Setup(clock, bridge, await make_token(bridge), http, server, store, cloud_dir)
                await s.link()
                bridge_id = bridge.bridge_id
        # the stand-in is down: the erase is queued, and survives a restart of the bridge
        async with running_bridge(clock, data_dir, url) as bridge:
            s.bridge, s.token = bridge, await make_token(bridge)
            status, body = await s.api("POST", "/api/v1/erase", json={"confirm": True})
            assert status == 200, body
            assert body["cloud"] == "queued"
            assert (await s.state())["erase_pending"] is True
            assert bridge.thermostat.resolution().target > 0
        async with running_bridge(clock, data_dir, url) as bridge:
            s.bridge, s.token = bridge, await make_token(bridge)
            assert (await s.state())["erase_pending"] is True
            async with serve_cloud(clock, cloud_dir, port) as (_, store):
                assert store.bridge(bridge_id) is not None
                s.store = store
                for _ in range(20):  # backoff: at most a few virtual minutes here
                    await s.tick(60)
                    if store.bridge(bridge_id) is None:
                        break
                assert store.bridge(bridge_id) is None
                await until(lambda: _erased(s), "the queue emptied")
                for table in BRIDGE_TABLES:
                    assert cloud_rows(cloud_dir / cloud_store.DB_NAME, table) == [], table
            deletions = [r for r in await s.egress() if r["path"] == f"/api/v1/bridges/{bridge_id}"]
            assert deletions
            assert all(r["purpose"] == "cloud_sync" for r in deletions)


async def _erased(s: Setup) -> bool:
    return (await s.state())["erase_pending"] is False


@pytest.fixture
def s(setup: Setup) -> Setup:
    return setup


# -- a cloud that answers garbage ------------------------------------------------------------


@contextlib.asynccontextmanager
async def garbage_cloud() -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback server that answers every request with something outside the protocol."""
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path}")
        if request.path == "/api/v1/terms":
            return web.json_response({"version": "\u0000" * 5})
        if request.path == "/api/v1/weather":
            return web.json_response({"outside_temperature": float("nan")}, dumps=_loose)
        return web.Response(status=500, text="<html>oops</html>")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


def _loose(value: Any) -> str:
    return json.dumps(value)  # NaN as the bare word, which is not JSON


async def test_a_cloud_that_answers_garbage_changes_nothing_local(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = VirtualClock()
    async with (
        garbage_cloud() as (url, seen),
        running_bridge(clock, tmp_path / "bridge", url) as bridge,
        aiohttp.ClientSession() as http,
    ):
        # the fault: a link to a cloud that cannot do the device grant
        await bridge.db.cloud.store(url, bridge.bridge_id, bridge.thermostat.hardware_id, "x" * 32)
        s = Calls(clock, bridge, await make_token(bridge), http)
        await s.consent(Purpose.WEATHER_BY_CITY, granted=True)
        assert (await s.api("PUT", "/api/v1/settings", json={"location": CITY}))[0] == 200
        await s.tick(5 * INTERVAL)
        assert "GET /api/v1/weather" in seen
        state = await s.state()
        assert (state["terms_version"], state["weather"]) == (None, None)
        assert bridge.thermostat.outside() == (None, None)
        assert bridge.thermostat.resolution().target > 0
        warnings = [r for r in caplog.records if "Cloud weather failed" in r.getMessage()]
        assert len(warnings) == 1  # once per outage

        status, body = await s.api("POST", "/api/v1/erase", json={"confirm": True})
        assert status == 200, body
        assert body["cloud"] == "queued"  # a 500 is no confirmation
        assert (await s.state())["erase_pending"] is True
