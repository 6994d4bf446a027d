"""The push channel /api/v1/ws against the real bridge on loopback."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime
import json
from pathlib import Path
import time
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from hypothesis import example, given, strategies as st
import pytest

from bridge.api import ws as push
from bridge.api.ws import PUSH_KEY, merge_diff
from bridge.config import validate
from bridge.core.clock import VirtualClock
from bridge.daemon import Bridge

from .native_helpers import bearer, call, make_token


def ws_url(b: Bridge) -> str:
    return f"http://127.0.0.1:{b.port}/api/v1/ws"


def apply_patch(state: dict[str, Any], patch: dict[str, Any]) -> None:
    """The client's side of a ``changed`` message: a deep merge."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(state.get(key), dict):
            apply_patch(state[key], value)
        else:
            state[key] = value


async def receive(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), timeout)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def receive_until(
    ws: aiohttp.ClientWebSocketResponse, state: dict[str, Any], done: Any, timeout: float = 5.0
) -> dict[str, Any]:
    """Apply messages to ``state`` until ``done(state)``; returns the last message."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        msg = await receive(ws, max(left, 0.01))
        if msg["type"] == "state":
            state.clear()
            state.update(msg["data"])
        elif msg["type"] == "changed":
            apply_patch(state, msg["data"])
        if done(state):
            return msg


async def closed(ws: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    """Skip pushed messages until the socket closes; returns the closing message."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), 5)
        if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.PING):
            return msg


# -- access ------------------------------------------------------------------------------


async def test_missing_or_bad_token_is_refused_before_the_upgrade(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession
) -> None:
    b, _ = vb
    for headers in ({}, {"Authorization": "Bearer nope"}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await http.ws_connect(ws_url(b), headers=headers)
        assert err.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await http.ws_connect(ws_url(b) + "?access_token=nope")
    assert err.value.status == 401
    assert b_hub(b).stats()["clients"] == 0


async def test_token_in_the_query_and_plain_get(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    async with http.ws_connect(ws_url(b) + f"?access_token={token}") as ws:
        first = await receive(ws)
        assert first["type"] == "state"
    status, body = await call(http, b, "GET", "/api/v1/ws", token)
    assert status == 426
    assert body["error"] == "upgrade_required"


# -- messages -------------------------------------------------------------------------------


async def test_first_message_is_the_whole_state_then_changes(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    _, rest_state = await call(http, b, "GET", "/api/v1/state", token)
    async with http.ws_connect(ws_url(b), headers=bearer(token)) as ws:
        first = await receive(ws)
        assert first["type"] == "state"
        state = first["data"]
        assert set(state) == set(rest_state)
        assert state["thermostat"]["hardware_id"] == b.thermostat.hardware_id
        seq = first["seq"]
        status, _ = await call(
            http, b, "PATCH", "/api/v1/thermostat", token, json={"target_temperature": 23}
        )
        assert status == 200
        # how fast is bench.api's business; here: it comes, within receive()'s timeout
        msg = await receive_until(ws, state, lambda s: s["thermostat"]["target_temperature"] == 23)
        assert msg["type"] == "changed"
        assert msg["seq"] > seq
        assert state["thermostat"]["source"] == "manual"
        # a changed message carries only what changed
        assert "bridge" not in msg["data"]
        assert "link" not in msg["data"]
        # once the pushes settle, the merged state is the bridge's state
        while True:
            try:
                msg = await receive(ws, 0.3)
            except TimeoutError:
                break
            apply_patch(state, msg["data"])
        _, now_state = await call(http, b, "GET", "/api/v1/state", token)
        for key in ("target_temperature", "source", "program", "paused", "control", "next"):
            assert state["thermostat"][key] == now_state["thermostat"][key]
        assert state["bridge"] == now_state["bridge"]
        assert state["boiler"]["targets"] == now_state["boiler"]["targets"]


async def test_boiler_changes_are_pushed(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, clock = vb
    async with http.ws_connect(ws_url(b), headers=bearer(token)) as ws:
        state = (await receive(ws))["data"]
        b.link.world.boiler.force_lockout()  # type: ignore[attr-defined]
        await clock.advance(15)
        await receive_until(ws, state, lambda s: s["faults"]["fault"] is True)
        await receive_until(ws, state, lambda s: s["faults"]["oem_fault_code"] == 1)
        assert state["boiler"]["faults"]["gas_flame_fault"] is True
        assert (
            state["boiler"]["values"]["status"]["raw"]
            == b.native_state()["boiler"]["values"]["status"]["raw"]
        )


async def test_every_client_gets_every_change_in_order(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    sockets = [await http.ws_connect(ws_url(b), headers=bearer(token)) for _ in range(3)]
    try:
        states = [(await receive(ws))["data"] for ws in sockets]
        for target in (20.5, 21.0, 21.5):
            await call(
                http, b, "PATCH", "/api/v1/thermostat", token, json={"target_temperature": target}
            )
        for ws, state in zip(sockets, states, strict=True):
            await receive_until(ws, state, lambda s: s["thermostat"]["target_temperature"] == 21.5)
        _, diag = await call(http, b, "GET", "/api/v1/diagnostics", token)
        assert diag["push"]["clients"] == 3
        assert diag["push"]["messages_sent"] >= 6
    finally:
        for ws in sockets:
            await ws.close()


async def test_ping_resync_and_bad_messages(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    async with http.ws_connect(ws_url(b), headers=bearer(token)) as ws:
        first = await receive(ws)
        await ws.send_json({"type": "ping"})
        assert await receive(ws) == {"type": "pong"}
        await ws.send_json({"type": "resync"})
        again = await receive(ws)
        assert again["type"] == "state"
        assert again["seq"] >= first["seq"]
        assert set(again["data"]) == set(first["data"])
        for bad in ("not json", json.dumps({"type": "subscribe"}), json.dumps([1])):
            await ws.send_str(bad)
            error = await receive(ws)
            assert error["type"] == "error"
            assert error["errors"] == [{"field": "type", "rule": "must be ping or resync"}]
        await ws.send_bytes(b"\x00")
        msg = await closed(ws)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert msg.data == 1003
        assert ws.close_code == 1003


async def test_revoking_the_token_closes_its_sockets(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    other = await b.db.auth.create_token("tablet")
    async with (
        http.ws_connect(ws_url(b), headers=bearer(other.token)) as revoked,
        http.ws_connect(ws_url(b), headers=bearer(token)) as kept,
    ):
        await receive(revoked)
        await receive(kept)
        status, _ = await call(http, b, "DELETE", f"/api/v1/tokens/{other.info.id}", token)
        assert status == 200
        msg = await closed(revoked)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert msg.extra == "token revoked"
        assert revoked.close_code == 4401
        await kept.send_json({"type": "ping"})
        assert (await receive(kept))["type"] == "pong"


async def test_a_token_revoked_elsewhere_is_noticed(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession
) -> None:
    b, clock = vb
    other = await b.db.auth.create_token("cli")
    async with http.ws_connect(ws_url(b), headers=bearer(other.token)) as ws:
        await receive(ws)
        await b.db.auth.revoke_token(other.info.id)  # as `token revoke` from the CLI does
        await clock.advance(push.TOKEN_CHECK_INTERVAL + 1)
        msg = await closed(ws)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4401


async def test_dead_clients_are_dropped_by_the_heartbeat(
    vb: tuple[Bridge, VirtualClock],
    http: aiohttp.ClientSession,
    token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    b, _ = vb
    monkeypatch.setattr(push, "HEARTBEAT", 0.2)
    hub = b_hub(b)
    async with http.ws_connect(ws_url(b), headers=bearer(token), autoping=False) as ws:
        await receive(ws)
        assert hub.stats()["clients"] == 1
        # this client never answers the server's pings
        while True:
            msg = await asyncio.wait_for(ws.receive(), 5)
            if msg.type not in (aiohttp.WSMsgType.PING, aiohttp.WSMsgType.TEXT):
                break
        assert msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR,
        )
    for _ in range(100):
        if hub.stats()["clients"] == 0:
            break
        await asyncio.sleep(0.01)
    assert hub.stats()["clients"] == 0


def b_hub(b: Bridge) -> push.PushHub:
    """The running app's push hub."""
    runner = b._runner
    assert runner is not None
    return runner.app[PUSH_KEY]


class StalledSocket:
    """A socket whose sends never finish (a client that stopped reading)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self._never = asyncio.Event()

    async def send_str(self, text: str) -> None:
        self.sent.append(text)
        await self._never.wait()


async def test_a_slow_client_is_coalesced_then_dropped_and_never_blocks(
    vb: tuple[Bridge, VirtualClock],
    http: aiohttp.ClientSession,
    token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    b, _ = vb
    monkeypatch.setattr(push, "SEND_TIMEOUT", 60.0)
    hub = b_hub(b)
    stalled = StalledSocket()
    client = push._Client(stalled, 0, hub)  # type: ignore[arg-type]
    writer = asyncio.create_task(client.write())
    try:
        async with http.ws_connect(ws_url(b), headers=bearer(token)) as ws:
            state = (await receive(ws))["data"]
            hub.attach(client)
            await asyncio.sleep(0.01)
            assert len(stalled.sent) == 1  # the state; its send never completes
            resyncs_before = hub.resyncs
            target = 20.0
            for _ in range(push.MAX_QUEUE * 2):
                target = 21.0 if target == 20.0 else 20.0
                started = time.perf_counter()
                status, _ = await call(
                    http,
                    b,
                    "PATCH",
                    "/api/v1/thermostat",
                    token,
                    json={"target_temperature": target},
                )
                assert status == 200
                # a blocked send would hold the request for SEND_TIMEOUT (60 s here)
                assert time.perf_counter() - started < 10.0
                await asyncio.sleep(0)
            # its queue collapsed into one state message instead of growing
            assert len(client._queue) <= push.MAX_QUEUE
            assert hub.resyncs > resyncs_before
            assert any(json.loads(t)["type"] == "state" for t in client._queue)
            # the healthy client saw every change
            await receive_until(
                ws, state, lambda s: s["thermostat"]["target_temperature"] == target
            )
            # keep overflowing and it is dropped
            for _ in range(push.MAX_QUEUE * (push.MAX_RESYNCS + 1)):
                client.offer("{}")
            assert client.close_code == push.CLOSE_TOO_SLOW
    finally:
        hub.detach(client)
        writer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writer


async def test_a_stalled_send_times_out_and_closes(
    vb: tuple[Bridge, VirtualClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    b, _ = vb
    monkeypatch.setattr(push, "SEND_TIMEOUT", 0.05)
    hub = b_hub(b)
    stalled = StalledSocket()
    client = push._Client(stalled, 0, hub)  # type: ignore[arg-type]
    writer = asyncio.create_task(client.write())
    hub.attach(client)
    try:
        await asyncio.wait_for(writer, 2)
    finally:
        hub.detach(client)
    assert client.close_code == push.CLOSE_TOO_SLOW
    assert client.close_reason == "too slow"
    assert hub.stats()["dropped_clients"] == 1


async def test_bridge_stop_closes_every_socket_quickly(
    tmp_path: Path, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # waiting out each client's close handshake would take 30 s or more
    monkeypatch.setattr(push, "CLOSE_TIMEOUT", 30.0)
    cfg = validate(
        {"data_dir": str(tmp_path / "d"), "host": "127.0.0.1", "port": 0, "zeroconf": False}
    )
    clock = VirtualClock()
    b = Bridge(cfg, clock=clock)
    await b.start()
    stopping: asyncio.Task[None] | None = None
    try:
        token = await make_token(b)
        sockets = [await http.ws_connect(ws_url(b), headers=bearer(token)) for _ in range(3)]
        for ws in sockets:
            await receive(ws)
        # clients that keep reading, as a real client does
        readers = [asyncio.create_task(closed(ws)) for ws in sockets]
        started = time.perf_counter()
        stopping = asyncio.create_task(b.stop())
        while not stopping.done():
            await clock.advance(1)
        await stopping
        assert time.perf_counter() - started < 10.0
        for ws, reader in zip(sockets, readers, strict=True):
            msg = await reader
            assert msg.type is aiohttp.WSMsgType.CLOSE
            assert msg.extra == "bridge stopping"
            assert ws.close_code == 1001
            await ws.close()
    finally:
        if stopping is None:
            stopping = asyncio.create_task(b.stop())
            while not stopping.done():
                await clock.advance(1)


# -- the merge patch ------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(-5, 5).map(lambda f: f + 0.0)  # no -0.0
    | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abcd"), inner, max_size=4)
    ),
    max_leaves=12,
)
_objects = st.dictionaries(st.sampled_from("abcdef"), _json, max_size=5)


@given(_objects, _objects)
@example({"a": [True, None, True]}, {"a": [True, None, 1]})  # true is not 1 in JSON
def test_merge_diff_brings_old_to_new(old: dict[str, Any], new: dict[str, Any]) -> None:
    patch = merge_diff(old, new)
    if patch is None:
        # only when a key disappeared somewhere
        assert json.dumps(old) != json.dumps(new)
        return
    merged = copy.deepcopy(old)
    apply_patch(merged, patch)
    assert json.dumps(merged, sort_keys=True) == json.dumps(new, sort_keys=True)
    if json.dumps(old, sort_keys=True) == json.dumps(new, sort_keys=True):
        assert patch == {}


def test_merge_diff_sends_only_what_changed() -> None:
    old = {"a": {"x": 1, "y": [1, 2]}, "b": None, "c": True}
    new = {"a": {"x": 1, "y": [1, 3]}, "b": None, "c": 1, "d": {}}
    assert merge_diff(old, new) == {"a": {"y": [1, 3]}, "c": 1, "d": {}}
    assert merge_diff({"a": {"x": 1}}, {"a": {}}) is None


async def test_an_options_change_is_pushed(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    async with http.ws_connect(ws_url(b), headers=bearer(token)) as ws:
        state = (await receive(ws))["data"]
        assert state["options"]["dhw_enable"] is True
        status, _ = await call(http, b, "PUT", "/api/v1/options", token, json={"dhw_enable": False})
        assert status == 200
        await receive_until(ws, state, lambda s: s["options"]["dhw_enable"] is False)


async def test_program_and_schedule_changes_are_pushed(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, _ = vb
    async with http.ws_connect(ws_url(b), headers=bearer(token)) as ws:
        state = (await receive(ws))["data"]
        assert state["thermostat"]["programs"]["comfort"] == 21.0
        status, _ = await call(
            http, b, "PATCH", "/api/v1/thermostat", token, json={"programs": {"comfort": 22.5}}
        )
        assert status == 200
        await receive_until(ws, state, lambda s: s["thermostat"]["programs"]["comfort"] == 22.5)
        schedule = [{"start": [0, 7, 0], "temperature": "home"}]
        status, _ = await call(
            http, b, "PATCH", "/api/v1/thermostat", token, json={"schedule": schedule}
        )
        assert status == 200
        await receive_until(ws, state, lambda s: s["thermostat"]["schedule"] == schedule)


async def test_energy_counters_and_blocks_are_pushed(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession, token: str
) -> None:
    b, clock = vb
    status, _ = await call(
        http, b, "PATCH", "/api/v1/thermostat", token, json={"target_temperature": 25}
    )
    assert status == 200
    async with http.ws_connect(ws_url(b), headers=bearer(token)) as ws:
        state = (await receive(ws))["data"]
        assert "current_block" in state["thermostat"]
        start = (state.get("energy") or {}).get("ch_gas_kwh", 0.0)
        for _ in range(10):  # five minutes of heating
            await clock.advance(30)
        await receive_until(
            ws, state, lambda s: (s.get("energy") or {}).get("ch_gas_kwh", 0.0) > start + 0.2
        )
        total = b.native_state()["energy"]
        assert total["ch_gas_kwh"] > start + 0.2
        await receive_until(ws, state, lambda s: s.get("energy") == total)
        # a new exception now: the pushed current block is the exception
        now = datetime.fromtimestamp(clock.time(), UTC).astimezone(AMSTERDAM)
        wall = [now.year, now.month - 1, now.day, now.hour, 0]
        later = [now.year, now.month - 1, now.day, now.hour + 2, 0]
        exception = {"start": wall, "end": later, "temperature": "comfort", "description": "X"}
        status, _ = await call(
            http, b, "PATCH", "/api/v1/thermostat", token, json={"exceptions": [exception]}
        )
        assert status == 200
        await receive_until(
            ws, state, lambda s: s["thermostat"]["current_block"]["source"] == "exception"
        )
        assert state["thermostat"]["current_block"]["description"] == "X"
        assert state["thermostat"]["next_block"]["source"] == "schedule"


AMSTERDAM = ZoneInfo("Europe/Amsterdam")
