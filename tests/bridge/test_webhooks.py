"""Webhooks: registration routes, delivery, retries, expiry and egress.

Every request goes to a receiver on 127.0.0.1; the LAN/egress rule is
tested on addresses alone (no traffic), and the egress log path by telling
the dispatcher that loopback is outside the LAN.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
import time
from typing import Any

import aiohttp
from aiohttp import web
import pytest
from yarl import URL

from bridge.core.clock import VirtualClock
from bridge.daemon import Bridge
from bridge.services.webhook_delivery import WebhookDispatcher
from bridge.services.webhook_destinations import (
    REFUSED_NETWORKS,
    OwnApi,
    addresses_rule,
    check_destination,
    check_url,
    is_lan_address,
    leaves_lan,
    resolve,
)
from bridge.services.webhook_policy import (
    EXPIRED_MESSAGE,
    DeliveryPolicy,
    coalesce,
    field_names,
    is_permanent,
)
from bridge.storage import Database, TokenKind

from .conftest import base_url

HW = "TSLTEST00001"


# -- a receiver on loopback ------------------------------------------------------------


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POSTed JSON body."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        """Answers to give in order; 200 once they are used up."""
        self.bodies: list[Any] = []
        self.answers: list[int] = []
        self.raw_sizes: list[int] = []
        self.gate: asyncio.Event | None = None
        """When set to an unset event, requests wait for it before answering."""
        self.arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.raw_sizes.append(len(raw))
        self.bodies.append(await request.json())
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        status = self.statuses.pop(0) if self.statuses else 200
        self.answers.append(status)
        return web.Response(status=status)

    async def close(self) -> None:
        if self.gate is not None:
            self.gate.set()
        if self._runner is not None:
            await self._runner.cleanup()


class HangingReceiver:
    """Accepts connections and reads, but never answers."""

    def __init__(self) -> None:
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.url = ""

    async def start(self) -> HangingReceiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        while await reader.read(4096):
            pass
        writer.close()

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` (real time: HTTP on loopback) until true or fail."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    try:
        yield r
    finally:
        await r.close()


# -- pure rules (no traffic) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "lan"),
    [
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("172.31.255.254", True),
        ("172.32.0.1", False),
        ("192.168.1.20", True),
        ("192.169.0.1", False),
        ("169.254.10.1", False),  # link-local: refused as a destination anyway
        ("100.64.0.1", False),  # carrier-grade NAT is the ISP's, not the LAN
        ("8.8.8.8", False),
        ("0.0.0.0", False),
        ("224.0.0.251", False),
        ("::1", True),
        ("fe80::1", False),
        ("fd00::1%eth0", True),
        ("fd12:3456::1", True),
        ("fc00::1", True),
        ("2001:db8::1", False),
        ("2a00:1450::1", False),
        ("::ffff:192.168.0.1", True),
        ("::ffff:8.8.8.8", False),
        ("64:ff9b::c0a8:105", False),  # NAT64 of 192.168.1.5: through a gateway
        ("example.com", False),
        ("", False),
    ],
)
def test_lan_classification(address: str, lan: bool) -> None:
    assert is_lan_address(address) is lan


def test_leaves_lan_checks_every_address() -> None:
    assert leaves_lan(["192.168.1.2", "fd00::2"]) is False
    assert leaves_lan(["192.168.1.2", "8.8.8.8"]) is True
    assert leaves_lan([]) is True


async def test_resolve_ip_literals_without_lookup() -> None:
    assert await resolve("127.0.0.1", 80) == ["127.0.0.1"]
    assert await resolve("::1", 80) == ["::1"]


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://192.168.1.5:8123/api/webhook/abc", None),
        ("https://example.com/hook?x=1", None),
        (42, "must be a string"),
        ("ftp://example.com/hook", "must be an http or https URL"),
        ("/hook", "must be an http or https URL"),
        ("http:///hook", "must name a host"),
        ("http://user:pw@example.com/", "must not contain a user name or password"),
        ("http://example.com:99999/", "must be a valid URL"),
        ("http://example.com:0/", "must have a port between 1 and 65535"),
        ("http://exa mple.com/", "must not contain spaces or control characters"),
        ("http://example.com/\nx", "must not contain spaces or control characters"),
        ("http://example.com/" + "a" * 2000, "must be at most 2000 characters"),
    ],
)
def test_url_rules(url: Any, rule: str | None) -> None:
    assert check_url(url) == rule


async def test_plain_http_only_inside_the_lan() -> None:
    assert await check_destination("http://8.8.8.8/hook") == (
        "must use https for an address outside the LAN"
    )
    assert await check_destination("http://[2001:db8::1]/hook") is not None
    assert await check_destination("https://8.8.8.8/hook") is None
    assert await check_destination("http://192.168.1.5/hook") is None
    assert await check_destination("http://127.0.0.1:1/hook") is None


LINK_LOCAL = "must not point to a link-local address (cloud metadata services live there)"
OWN = OwnApi(8722, frozenset({"192.168.1.10"}))


@pytest.mark.parametrize(
    ("address", "port", "rule"),
    [
        ("169.254.169.254", 80, f"{LINK_LOCAL}: 169.254.169.254"),
        ("169.254.1.1", 8123, f"{LINK_LOCAL}: 169.254.1.1"),
        ("::ffff:169.254.169.254", 80, f"{LINK_LOCAL}: 169.254.169.254"),
        ("[::ffff:a9fe:a9fe]", 80, f"{LINK_LOCAL}: 169.254.169.254"),
        ("64:ff9b::a9fe:a9fe", 80, f"{LINK_LOCAL}: 169.254.169.254"),  # NAT64
        ("fe80::1", 80, f"{LINK_LOCAL}: fe80::1"),
        ("fe80::1%eth0", 80, f"{LINK_LOCAL}: fe80::1"),
        ("fd00:ec2::254", 80, "must not point to a cloud metadata address: fd00:ec2::254"),
        ("100.100.100.200", 80, "must not point to a cloud metadata address: 100.100.100.200"),
        (
            "0.0.0.0",
            80,
            "must not point to a 'this network' address (0.0.0.0 reaches the bridge "
            "itself): 0.0.0.0",
        ),
        ("::", 80, "must not point to the unspecified address: ::"),
        ("224.0.0.251", 80, "must not point to a multicast address: 224.0.0.251"),
        ("ff02::1", 80, "must not point to a multicast address: ff02::1"),
        (
            "255.255.255.255",
            80,
            "must not point to a reserved or broadcast address: 255.255.255.255",
        ),
        ("127.0.0.1", 8722, "must not point to the bridge's own API: 127.0.0.1 port 8722"),
        ("127.0.0.2", 8722, "must not point to the bridge's own API: 127.0.0.2 port 8722"),
        ("::1", 8722, "must not point to the bridge's own API: ::1 port 8722"),
        (
            "::ffff:127.0.0.1",
            8722,
            "must not point to the bridge's own API: 127.0.0.1 port 8722",
        ),
        ("192.168.1.10", 8722, "must not point to the bridge's own API: 192.168.1.10 port 8722"),
        # what stays legitimate: the LAN, and loopback on other ports
        ("127.0.0.1", 8123, None),
        ("::1", 8721, None),
        ("192.168.1.10", 8123, None),
        ("192.168.1.5", 8722, None),
        ("10.0.0.7", 80, None),
        ("172.16.0.1", 80, None),
        ("fd12:3456::1", 80, None),
        ("100.64.0.1", 443, None),  # carrier-grade NAT (a VPN) is outside the LAN, not refused
        ("8.8.8.8", 443, None),
        ("not-an-address", 80, None),
    ],
)
def test_refused_addresses(address: str, port: int, rule: str | None) -> None:
    assert addresses_rule([address], port, OWN) == rule


def test_one_refused_address_refuses_the_destination() -> None:
    assert addresses_rule(["192.168.1.5", "169.254.169.254"], 80, None) is not None
    assert addresses_rule(["127.0.0.1"], 8722, None) is None  # the port is not known yet
    for network, reason in REFUSED_NETWORKS:  # every listed range is refused, on any port
        first = str(network.network_address)
        assert addresses_rule([first], 8123, None) == f"must not point to {reason}: {first}"


async def test_refused_destinations_whatever_the_scheme() -> None:
    assert await check_destination("http://169.254.169.254/latest/meta-data/") == (
        f"{LINK_LOCAL}: 169.254.169.254"
    )
    assert await check_destination("https://[::ffff:169.254.169.254]/") == (
        f"{LINK_LOCAL}: 169.254.169.254"
    )
    assert await check_destination("https://[fe80::1]:8443/") == f"{LINK_LOCAL}: fe80::1"
    own = OwnApi(8722)
    assert await check_destination("http://127.0.0.1:8722/", own_api=own) is not None
    assert await check_destination("http://127.0.0.1:8123/", own_api=own) is None

    async def rebinding(host: str, port: int) -> list[str]:
        return ["192.168.1.5", "169.254.169.254"] if host == "hooks.lan" else []

    assert await check_destination("http://hooks.lan:8123/", resolver=rebinding) == (
        f"{LINK_LOCAL}: 169.254.169.254"
    )


def test_coalesce_keeps_latest_and_merges_ot_raw() -> None:
    a = {"thermostat": HW, "target_temperature": 20, "ot": {"raw": {"ot25": "0x2A00"}}}
    b = {"thermostat": HW, "target_temperature": 21, "ot": {"raw": {"ot1": "0x2800"}}}
    c = {"thermostat": HW, "source": "remote", "ot": {"raw": {"ot25": "0x2B00"}}}
    merged = coalesce(coalesce(a, b), c)
    assert merged == {
        "thermostat": HW,
        "target_temperature": 21,
        "source": "remote",
        "ot": {"raw": {"ot25": "0x2B00", "ot1": "0x2800"}},
    }
    assert a["ot"] == {"raw": {"ot25": "0x2A00"}}  # inputs untouched
    assert field_names(merged) == [
        "thermostat",
        "target_temperature",
        "ot.raw.ot25",
        "ot.raw.ot1",
        "source",
    ]


def test_policy_backoff_and_permanent_statuses() -> None:
    policy = DeliveryPolicy(retry_base=5, retry_max=60)
    assert [policy.backoff(n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]
    assert [s for s in (200, 301, 400, 404, 408, 410, 425, 429, 500, 503) if is_permanent(s)] == [
        400,
        404,
        410,
    ]
    assert not is_permanent(None)


# -- the dispatcher on a virtual clock -------------------------------------------------


class FakeSource:
    """Stands in for the thermostat service: a hardware id and change listeners."""

    hardware_id = HW

    def __init__(self) -> None:
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def add_listener(self, listener: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def emit(self, changed: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            listener(changed)


@dataclass
class Env:
    clock: VirtualClock
    db: Database
    source: FakeSource
    dispatcher: WebhookDispatcher


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    clock = VirtualClock()
    db = await Database.open(tmp_path / "t.db", clock)
    source = FakeSource()
    dispatcher = WebhookDispatcher(
        db, clock, source, policy=DeliveryPolicy(timeout=3.0, max_failures=4)
    )
    await dispatcher.start()
    try:
        yield Env(clock, db, source, dispatcher)
    finally:
        await dispatcher.stop()
        await db.close()


def _state(env: Env, webhook_id: int) -> str | None:
    deliverer = env.dispatcher.deliverer(webhook_id)
    return None if deliverer is None else deliverer.state


async def test_change_is_delivered_with_the_hardware_id(env: Env, receiver: Receiver) -> None:
    token = (await env.db.auth.create_token("ha")).info
    await env.dispatcher.register(receiver.url, token)
    env.source.emit({"target_temperature": 21.5, "source": "remote"})
    await wait_until(lambda: len(receiver.bodies) == 1)
    assert receiver.bodies[0] == {"thermostat": HW, "target_temperature": 21.5, "source": "remote"}
    assert await env.db.egress.query() == []  # loopback is not egress


async def test_slow_receiver_gets_coalesced_changes(env: Env, receiver: Receiver) -> None:
    token = (await env.db.auth.create_token("ha")).info
    webhook = await env.dispatcher.register(receiver.url, token)
    receiver.gate = asyncio.Event()
    env.source.emit({"target_temperature": 18.0})
    await wait_until(lambda: len(receiver.bodies) == 1)
    deliverer = env.dispatcher.deliverer(webhook.id)
    assert deliverer is not None
    for i in range(2000):
        env.source.emit(
            {"room_temperature": 15 + i / 1000, "ot": {"raw": {f"ot{i % 50}": "0x0001"}}}
        )
        assert deliverer.pending is not None
        assert len(deliverer.pending) == 3  # thermostat, room_temperature, ot: bounded
    receiver.gate.set()
    await wait_until(lambda: len(receiver.bodies) == 2)
    last = receiver.bodies[1]
    assert last["room_temperature"] == 15 + 1999 / 1000
    assert len(last["ot"]["raw"]) == 50
    await wait_until(lambda: _state(env, webhook.id) == "idle")
    assert len(receiver.bodies) == 2


async def test_retry_with_exponential_backoff_on_the_clock(env: Env, receiver: Receiver) -> None:
    receiver.statuses = [500, 503, 200]
    token = (await env.db.auth.create_token("ha")).info
    webhook = await env.dispatcher.register(receiver.url, token)
    t0 = env.clock.time()
    env.source.emit({"target_temperature": 19.0})
    await wait_until(lambda: _state(env, webhook.id) == "retrying")
    deliverer = env.dispatcher.deliverer(webhook.id)
    assert deliverer is not None
    assert deliverer.next_attempt == t0 + 5
    env.source.emit({"source": "remote"})  # merged into the retry
    await env.clock.advance(4.9)
    assert len(receiver.bodies) == 1
    await env.clock.advance(0.1)
    await wait_until(lambda: len(receiver.bodies) == 2)
    await wait_until(lambda: _state(env, webhook.id) == "retrying")
    assert deliverer.next_attempt == pytest.approx(t0 + 5 + 10)
    stored = (await env.db.webhooks.all())[0]
    assert (stored.failures, stored.last_status) == (2, 503)
    await env.clock.advance(10)
    await wait_until(lambda: len(receiver.bodies) == 3 and _state(env, webhook.id) == "idle")
    assert receiver.answers == [500, 503, 200]
    assert receiver.bodies[2] == {"thermostat": HW, "target_temperature": 19.0, "source": "remote"}
    stored = (await env.db.webhooks.all())[0]
    assert (stored.failures, stored.last_status) == (0, 200)


async def test_failed_after_max_failures_then_told_it_expired(env: Env, receiver: Receiver) -> None:
    policy = env.dispatcher.policy
    receiver.statuses = [500] * policy.max_failures
    token = (await env.db.auth.create_token("ha")).info
    webhook = await env.dispatcher.register(receiver.url, token)
    env.source.emit({"target_temperature": 19.0})
    for n in range(1, policy.max_failures):

        def retrying(n: int = n) -> bool:
            return len(receiver.bodies) == n and _state(env, webhook.id) == "retrying"

        await wait_until(retrying)
        await env.clock.advance(policy.backoff(n))
    await wait_until(lambda: _state(env, webhook.id) == "failed")
    stored = (await env.db.webhooks.all())[0]
    assert stored.failures == policy.max_failures
    # failed: changes are no longer delivered
    env.source.emit({"target_temperature": 22.0})
    await env.clock.advance(policy.probe_interval - 1)
    assert len(receiver.bodies) == policy.max_failures
    # the receiver answers again: it is told that its webhook expired, and it is gone
    await env.clock.advance(1)
    await wait_until(lambda: env.dispatcher.deliverer(webhook.id) is None)
    assert receiver.bodies[-1] == EXPIRED_MESSAGE
    assert len(receiver.bodies) == policy.max_failures + 1
    assert await env.db.webhooks.all() == []


async def test_permanent_refusal_fails_at_once(env: Env, receiver: Receiver) -> None:
    receiver.statuses = [410]
    token = (await env.db.auth.create_token("ha")).info
    webhook = await env.dispatcher.register(receiver.url, token)
    env.source.emit({"target_temperature": 19.0})
    await wait_until(lambda: env.dispatcher.deliverer(webhook.id) is None)
    assert receiver.bodies == [{"thermostat": HW, "target_temperature": 19.0}, EXPIRED_MESSAGE]
    assert await env.db.webhooks.all() == []


async def test_failed_state_survives_a_restart(env: Env, receiver: Receiver) -> None:
    token = (await env.db.auth.create_token("ha")).info
    webhook = await env.db.webhooks.register(receiver.url, token.id)
    for _ in range(env.dispatcher.policy.max_failures):
        await env.db.webhooks.record_delivery(webhook.id, 502, ok=False)
    again = WebhookDispatcher(env.db, env.clock, env.source, policy=env.dispatcher.policy)
    await again.start()
    try:
        env.source.emit({"target_temperature": 23.0})
        await wait_until(lambda: again.deliverer(webhook.id) is not None)
        assert again.status()[0]["state"] == "failed"
        await asyncio.sleep(0.05)
        assert receiver.bodies == []
        # registering again clears the failure
        await again.register(receiver.url, token)
        env.source.emit({"target_temperature": 23.5})
        await wait_until(lambda: len(receiver.bodies) >= 1)
        assert receiver.bodies[-1]["target_temperature"] == 23.5
    finally:
        await again.stop()


async def test_revoked_token_stops_deliveries_silently(env: Env, receiver: Receiver) -> None:
    token = (await env.db.auth.create_token("ha")).info
    webhook = await env.dispatcher.register(receiver.url, token)
    await env.db.auth.revoke_token(token.id)
    env.source.emit({"target_temperature": 19.0})
    await wait_until(lambda: env.dispatcher.deliverer(webhook.id) is None)
    assert receiver.bodies == []
    assert await env.db.webhooks.all() == []


async def test_expired_token_gets_code_510(env: Env, receiver: Receiver) -> None:
    token = (await env.db.auth.create_token("short", ttl=60)).info
    webhook = await env.dispatcher.register(receiver.url, token)
    await env.clock.advance(61)
    env.source.emit({"target_temperature": 19.0})
    await wait_until(lambda: env.dispatcher.deliverer(webhook.id) is None)
    assert receiver.bodies == [EXPIRED_MESSAGE]
    assert await env.db.webhooks.all() == []


async def test_oauth_webhook_lives_with_the_grant(env: Env, receiver: Receiver) -> None:
    client, _ = await env.db.auth.create_oauth_client(["http://127.0.0.1:9/cb"], "app")
    code = await env.db.auth.create_auth_code(client.client_id, "http://127.0.0.1:9/cb")
    grant = await env.db.auth.exchange_auth_code(code, client.client_id, "http://127.0.0.1:9/cb")
    assert grant is not None
    webhook = await env.dispatcher.register(receiver.url, grant.access.info)
    # the access token expires; the client still holds its refresh token
    await env.clock.advance(3601)
    env.source.emit({"target_temperature": 19.0})
    await wait_until(lambda: len(receiver.bodies) == 1)
    assert receiver.bodies[0]["target_temperature"] == 19.0
    stored = await env.db.webhooks.all()
    assert [w.token_id for w in stored] == [grant.refresh.info.id]  # moved off the old token
    assert stored[0].id != webhook.id
    # refreshing moves it to the new grant; the webhook keeps working
    new = await env.db.auth.rotate_refresh_token(grant.refresh.token)
    assert new is not None
    await env.dispatcher.adopt(client.client_id, new.refresh.info.id)
    env.source.emit({"target_temperature": 20.0})
    await wait_until(lambda: len(receiver.bodies) == 2)
    assert [w.token_id for w in await env.db.webhooks.all()] == [new.refresh.info.id]
    # registering from another token of the client replaces the webhook (one per client)
    other = await Receiver().start()
    try:
        await env.dispatcher.register(other.url, new.access.info)
        assert [(w.url, w.token_id) for w in await env.db.webhooks.all()] == [
            (other.url, new.access.info.id)
        ]
        # revoking the whole grant ends it without a message
        await env.db.auth.revoke_all_tokens()
        env.source.emit({"target_temperature": 21.0})
        await wait_until(lambda: env.dispatcher.status() == [])
        assert other.bodies == []
        assert await env.db.webhooks.all() == []
    finally:
        await other.close()


async def test_egress_is_recorded_outside_the_lan(tmp_path: Path, receiver: Receiver) -> None:
    clock = VirtualClock()
    db = await Database.open(tmp_path / "t.db", clock)
    source = FakeSource()
    # pretend loopback is outside the LAN, so the real request can be checked
    dispatcher = WebhookDispatcher(
        db,
        clock,
        source,
        policy=DeliveryPolicy(https_outside_lan=False),
        is_lan=lambda _address: False,
    )
    await dispatcher.start()
    try:
        token = (await db.auth.create_token("ha")).info
        await dispatcher.register(receiver.url + "?secret=abc", token)
        source.emit({"target_temperature": 20.5, "ot": {"raw": {"ot25": "0x2A80"}}})
        await wait_until(lambda: len(receiver.bodies) == 1)
        records = await db.egress.query()
        assert [(r.host, r.path, r.purpose) for r in records] == [("127.0.0.1", "/hook", "webhook")]
        assert records[0].fields == ("thermostat", "target_temperature", "ot.raw.ot25")
        assert records[0].bytes == receiver.raw_sizes[0]
    finally:
        await dispatcher.stop()
        await db.close()


async def test_plain_http_outside_the_lan_is_never_sent(tmp_path: Path, receiver: Receiver) -> None:
    clock = VirtualClock()
    db = await Database.open(tmp_path / "t.db", clock)
    source = FakeSource()
    dispatcher = WebhookDispatcher(db, clock, source, is_lan=lambda _address: False)
    await dispatcher.start()
    try:
        token = (await db.auth.create_token("ha")).info
        webhook = await dispatcher.register(receiver.url, token)
        source.emit({"target_temperature": 20.5})
        await wait_until(lambda: dispatcher.status()[0]["state"] == "failed")
        await asyncio.sleep(0.05)
        assert receiver.bodies == []
        assert await db.egress.query() == []
        assert dispatcher.status()[0]["next_attempt"] is None  # no probes either
        stored = (await db.webhooks.all())[0]
        assert (stored.id, stored.failures) == (webhook.id, 1)
    finally:
        await dispatcher.stop()
        await db.close()


# -- the routes on the real bridge -------------------------------------------------------


@pytest.fixture
async def token(bridge: Bridge) -> str:
    return (await bridge.db.auth.create_token("client")).token


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _put_target(
    http: aiohttp.ClientSession, b: Bridge, auth: dict[str, str], target: float
) -> float:
    """PUT a target temperature; returns how long the answer took (seconds)."""
    start = time.monotonic()
    async with http.put(
        f"{base_url(b)}/thermostat/{b.thermostat.hardware_id}",
        json={"target_temperature": target},
        headers=auth,
    ) as r:
        assert r.status == 200
    return time.monotonic() - start


def _with_target(bodies: list[Any], target: float) -> list[Any]:
    return [b for b in bodies if b.get("target_temperature") == target]


@pytest.mark.parametrize(("path", "field"), [("/", "webhook_url"), ("/webhook", "webhook")])
async def test_put_reaches_the_webhook(
    bridge: Bridge,
    http: aiohttp.ClientSession,
    auth: dict[str, str],
    receiver: Receiver,
    path: str,
    field: str,
) -> None:
    async with http.post(
        f"{base_url(bridge)}{path}", json={field: receiver.url}, headers=auth
    ) as r:
        assert r.status == 200
        assert await r.json() == {field: receiver.url}
    stored = await bridge.db.webhooks.all()
    assert [w.url for w in stored] == [receiver.url]
    await _put_target(http, bridge, auth, 23.5)
    await wait_until(lambda: bool(_with_target(receiver.bodies, 23.5)))
    message = _with_target(receiver.bodies, 23.5)[0]
    assert message["thermostat"] == bridge.thermostat.hardware_id
    assert message["source"] == "remote"
    assert set(message) <= {"thermostat", *bridge.thermostat.cloud_object()}


async def test_removing_the_webhook_stops_deliveries(
    bridge: Bridge, http: aiohttp.ClientSession, auth: dict[str, str], receiver: Receiver
) -> None:
    sentinel = await Receiver().start()
    try:
        other = {"Authorization": f"Bearer {(await bridge.db.auth.create_token('x')).token}"}
        url = f"{base_url(bridge)}/"
        async with http.post(url, json={"webhook_url": receiver.url}, headers=auth) as r:
            assert r.status == 200
        async with http.post(url, json={"webhook_url": sentinel.url}, headers=other) as r:
            assert r.status == 200
        await _put_target(http, bridge, auth, 21.0)
        await wait_until(lambda: bool(_with_target(receiver.bodies, 21.0)))
        async with http.post(url, json={"webhook_url": ""}, headers=auth) as r:
            assert r.status == 200
        assert [w.url for w in await bridge.db.webhooks.all()] == [sentinel.url]
        seen = len(receiver.bodies)
        await _put_target(http, bridge, auth, 22.0)
        await wait_until(lambda: bool(_with_target(sentinel.bodies, 22.0)))
        await asyncio.sleep(0.1)
        assert len(receiver.bodies) == seen
    finally:
        await sentinel.close()


async def test_receiver_failing_then_recovering_gets_the_message(
    bridge: Bridge, http: aiohttp.ClientSession, auth: dict[str, str], receiver: Receiver
) -> None:
    bridge.webhooks.policy = DeliveryPolicy(retry_base=0.05, timeout=2.0)
    receiver.statuses = [500]
    async with http.post(
        f"{base_url(bridge)}/", json={"webhook_url": receiver.url}, headers=auth
    ) as r:
        assert r.status == 200
    await _put_target(http, bridge, auth, 24.0)
    await wait_until(lambda: 200 in receiver.answers and bool(_with_target(receiver.bodies, 24.0)))
    refused = receiver.bodies[0]
    assert receiver.answers[0] == 500
    delivered = receiver.bodies[receiver.answers.index(200)]
    # the refused message came again (merged with later changes, which win)
    assert set(refused) <= set(delivered)
    await wait_until(lambda: bridge.webhooks.status()[0]["failures"] == 0)
    stored = (await bridge.db.webhooks.all())[0]
    assert (stored.failures, stored.last_status) == (0, 200)


async def test_dead_receiver_does_not_slow_down_put(
    bridge: Bridge, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    bridge.webhooks.policy = DeliveryPolicy(timeout=30.0)
    dead = await HangingReceiver().start()
    try:
        async with http.post(
            f"{base_url(bridge)}/", json={"webhook_url": dead.url}, headers=auth
        ) as r:
            assert r.status == 200
        await _put_target(http, bridge, auth, 20.0)
        await wait_until(lambda: dead.connections >= 1)
        assert bridge.webhooks.status()[0]["state"] == "sending"  # stuck on the dead receiver
        for target in (20.5, 21.0, 21.5, 22.0):
            # waiting for the dead receiver would take its 30 s timeout
            assert await _put_target(http, bridge, auth, target) < 5.0
        assert bridge.webhooks.status()[0]["pending"] is True
    finally:
        await bridge.webhooks.stop()  # cancels the hanging request before the server goes
        await dead.close()


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"webhook_url": "ftp://127.0.0.1/x"}, "webhook_url", "must be an http or https URL"),
        ({"webhook_url": "http://"}, "webhook_url", "must name a host"),
        (
            {"webhook_url": "not a url"},
            "webhook_url",
            "must not contain spaces or control characters",
        ),
        (
            {"webhook_url": "http://u:p@127.0.0.1/"},
            "webhook_url",
            "must not contain a user name or password",
        ),
        (
            {"webhook_url": "http://h/" + "x" * 2000},
            "webhook_url",
            "must be at most 2000 characters",
        ),
        ({"webhook_url": 42}, "webhook_url", "must be a string"),
        (
            {"webhook_url": "http://8.8.8.8/hook"},
            "webhook_url",
            "must use https for an address outside the LAN",
        ),
        (
            {"webhook_url": "http://169.254.169.254/latest/meta-data/"},
            "webhook_url",
            f"{LINK_LOCAL}: 169.254.169.254",
        ),
        (
            {"webhook_url": "https://[::ffff:169.254.169.254]/"},
            "webhook_url",
            f"{LINK_LOCAL}: 169.254.169.254",
        ),
        ({"webhook": "http://[fe80::1]:8123/hook"}, "webhook", f"{LINK_LOCAL}: fe80::1"),
        ({"webhook_url": "http://127.0.0.1/", "colour": "red"}, "colour", "unknown field"),
        ({}, "webhook_url", "required"),
        ([], "(body)", "must be an object"),
    ],
)
async def test_bad_webhook_urls(
    bridge: Bridge,
    http: aiohttp.ClientSession,
    auth: dict[str, str],
    body: Any,
    field: str,
    rule: str,
) -> None:
    path = "/webhook" if "webhook" in body else "/"
    async with http.post(f"{base_url(bridge)}{path}", json=body, headers=auth) as r:
        assert r.status == 400
        error = await r.json()
    assert {"field": field, "rule": rule} in error["errors"]
    assert await bridge.db.webhooks.all() == []


async def test_webhook_routes_need_a_token(bridge: Bridge, http: aiohttp.ClientSession) -> None:
    for path, field in (("/", "webhook_url"), ("/webhook", "webhook")):
        async with http.post(f"{base_url(bridge)}{path}", json={field: "http://127.0.0.1/"}) as r:
            assert r.status == 401
    assert await bridge.db.webhooks.all() == []


async def test_a_token_has_one_webhook(
    bridge: Bridge, http: aiohttp.ClientSession, auth: dict[str, str], receiver: Receiver
) -> None:
    url = f"{base_url(bridge)}/"
    for target in ("http://127.0.0.1:9/a", receiver.url):
        async with http.post(url, json={"webhook_url": target}, headers=auth) as r:
            assert r.status == 200
    stored = await bridge.db.webhooks.all()
    assert [w.url for w in stored] == [receiver.url]
    info = await bridge.db.auth.get_token(stored[0].token_id or 0)
    assert info is not None
    assert info.kind is TokenKind.API


async def test_the_bridges_own_api_is_refused(
    bridge: Bridge, http: aiohttp.ClientSession, auth: dict[str, str], receiver: Receiver
) -> None:
    port = bridge.port
    for url, address in (
        (f"http://127.0.0.1:{port}/thermostat", "127.0.0.1"),
        (f"http://[::1]:{port}/", "::1"),
        (f"http://localhost:{port}/hook", None),  # resolved by the bridge
    ):
        async with http.post(f"{base_url(bridge)}/", json={"webhook_url": url}, headers=auth) as r:
            assert r.status == 400, url
            (error,) = (await r.json())["errors"]
        assert error["field"] == "webhook_url"
        assert error["rule"].startswith("must not point to the bridge's own API: ")
        assert error["rule"].endswith(f" port {port}")
        if address is not None:
            assert address in error["rule"]
    assert await bridge.db.webhooks.all() == []
    # loopback on another port (a receiver on this machine) stays legitimate
    async with http.post(
        f"{base_url(bridge)}/", json={"webhook_url": receiver.url}, headers=auth
    ) as r:
        assert r.status == 200


async def test_name_resolving_to_a_refused_address_is_not_sent_to(
    bridge: Bridge,
    http: aiohttp.ClientSession,
    auth: dict[str, str],
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers = {"hooks.lan": ["127.0.0.1"]}

    async def resolver(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"{host} does not resolve")
        return answers[host]

    bridge.webhooks.resolver = resolver
    port = URL(receiver.url).port
    url = f"http://hooks.lan:{port}/hook"
    async with http.post(f"{base_url(bridge)}/", json={"webhook_url": url}, headers=auth) as r:
        assert r.status == 200
    await _put_target(http, bridge, auth, 21.5)
    await wait_until(lambda: bool(_with_target(receiver.bodies, 21.5)))  # delivered by name
    # the name now resolves to the cloud metadata address: nothing is sent there
    answers["hooks.lan"] = ["169.254.169.254"]
    seen = len(receiver.bodies)
    await _put_target(http, bridge, auth, 22.5)
    await wait_until(lambda: bridge.webhooks.status()[0]["state"] == "failed")
    status = bridge.webhooks.status()[0]
    assert status["error"] == f"hooks.lan: {LINK_LOCAL}: 169.254.169.254"
    assert status["next_attempt"] is None  # never probed either
    assert len(receiver.bodies) == seen
    stored = (await bridge.db.webhooks.all())[0]
    assert (stored.failures, stored.last_status) == (1, None)
    assert any(
        rec.levelname == "WARNING"
        and "not sent" in rec.message
        and "169.254.169.254" in rec.message
        for rec in caplog.records
    )
    # registering it again is refused now, with the reason
    async with http.post(f"{base_url(bridge)}/", json={"webhook_url": url}, headers=auth) as r:
        assert r.status == 400
        assert (await r.json())["errors"] == [
            {"field": "webhook_url", "rule": f"{LINK_LOCAL}: 169.254.169.254"}
        ]


async def test_localhost_on_the_own_port_is_refused_at_send_time(
    env: Env, receiver: Receiver
) -> None:
    port = URL(receiver.url).port
    assert port is not None
    env.dispatcher.own_api = OwnApi(port)  # as if the receiver were the bridge's own API
    token = (await env.db.auth.create_token("ha")).info
    # registered past the route's check: the delivery checks again, after resolving
    await env.dispatcher.register(f"http://localhost:{port}/hook", token)
    env.source.emit({"target_temperature": 20.5})
    await wait_until(lambda: env.dispatcher.status()[0]["state"] == "failed")
    error = env.dispatcher.status()[0]["error"]
    assert error.startswith("localhost: must not point to the bridge's own API: ")
    assert receiver.bodies == []
