"""The client on its own: models, the schedule timeline, REST and the push channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
import json
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
import pytest

from bridge.core.schedule import iter_blocks
from bridge.daemon import Bridge
from custom_components.thermosmart.client import (
    PROGRAM_NAMES,
    Boiler,
    BridgeInfo,
    BridgeState,
    PairingResult,
    Predictions,
    Programs,
    ScheduleEntry,
    ThermoSmartAuthenticationError,
    ThermoSmartClient,
    ThermoSmartConnectionError,
    ThermoSmartError,
    ThermoSmartResponseError,
    ThermoSmartValidationError,
    Thermostat,
)
from custom_components.thermosmart.client.models import (
    BoilerValue,
    Capabilities,
    Faults,
    LinkInfo,
    Options,
    merge_patch,
)

from .conftest import stop_virtual

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def bridge(virtual_bridge: Bridge) -> Bridge:
    """These tests run on the virtual clock."""
    return virtual_bridge


@pytest.fixture
async def client(bridge: Bridge, api_token: str) -> AsyncIterator[ThermoSmartClient]:
    """A client with its own session, for the bridge."""
    async with ThermoSmartClient("127.0.0.1", bridge.port, token=api_token) as made:
        yield made


# -- models --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parse", "data"),
    [
        (BridgeState.from_dict, []),
        (BridgeState.from_dict, {"bridge": {}}),
        (Thermostat.from_dict, "x"),
        (Thermostat.from_dict, {"room_temperature": "warm"}),
        (Thermostat.from_dict, {"paused": "yes"}),
        (Thermostat.from_dict, {"source": 3}),
        (Thermostat.from_dict, {"until": "tomorrow"}),
        (Thermostat.from_dict, {"until": "2026-01-01T00:00:00"}),  # no offset
        (Thermostat.from_dict, {"next": []}),
        (Thermostat.from_dict, {"schedule": {"a": 1}}),
        (Thermostat.from_dict, {"schedule": ["x"]}),
        (Thermostat.from_dict, {"schedule": [{"start": [0, 25, 0], "temperature": "home"}]}),
        (Thermostat.from_dict, {"schedule": [{"start": [0, 6], "temperature": "home"}]}),
        (Thermostat.from_dict, {"exceptions": [7]}),
        (Thermostat.from_dict, {"exceptions": [{"start": [2026, 1, 30, 0, 0]}]}),
        (Thermostat.from_dict, {"exceptions": [{"start": [2026, 0, 1], "end": []}]}),
        (Thermostat.from_dict, {"programs": []}),
        (Thermostat.from_dict, {"programs": {"home": 19}}),
        (Programs.from_dict, None),
        (BoilerValue.from_dict, 1),
        (BoilerValue.from_dict, {"id": 1, "stale": 1}),
        (Capabilities.from_dict, []),
        (Capabilities.from_dict, {"dhw": 1}),
        (Capabilities.from_dict, {"product": {"type": 1.5}}),
        (Faults.from_dict, 0),
        (Faults.from_dict, {"active": "fault"}),
        (LinkInfo.from_dict, None),
        (Predictions.from_dict, []),
        (BridgeInfo.from_dict, "x"),
        (PairingResult.from_dict, None),
        (Boiler.from_dict, 5),
        (Predictions.from_dict, {"updated": True}),
        (Options.from_dict, []),
        (Options.from_dict, {"preheat": "yes"}),
        (Options.from_dict, {"heating_system": 1}),
        (Options.from_dict, {"max_ch_setpoint": "hot"}),
        (Thermostat.from_dict, {"until": 1e20}),  # past the last datetime
        (Thermostat.from_dict, {"paused": 1}),  # a number is not a bool
        (Programs.from_dict, {**dict.fromkeys(PROGRAM_NAMES, 12), "home": float("inf")}),
        (BoilerValue.from_dict, {"id": True}),  # a bool is not a number
        (Predictions.from_dict, {"predictions": [1]}),
        (BridgeState.from_dict, {"counters": {"boiler": {"burner_starts": 1.5}}}),
    ],
)
def test_garbage_is_refused(parse: Callable[[Any], object], data: Any) -> None:
    with pytest.raises(ThermoSmartResponseError):
        parse(data)


def test_models_read_what_they_need() -> None:
    thermostat = Thermostat.from_dict(
        {
            "room_temperature": float("nan"),
            "until": 1767225600,
            "schedule": [{"start": [0, 6, 30], "temperature": "home"}],
            "exceptions": [
                {"start": [2026, 0, 2, 8, 0], "end": [2026, 0, 3, 8, 0], "temperature": "comfort"}
            ],
        }
    )
    assert thermostat.room_temperature is None
    assert thermostat.until == datetime(2026, 1, 1, tzinfo=UTC)
    assert thermostat.schedule == (ScheduleEntry(day=0, hour=6, minute=30, program="home"),)
    assert thermostat.exceptions[0].start == datetime(2026, 1, 2, 8, 0)  # noqa: DTZ001
    assert thermostat.exceptions[0].description == ""
    assert not thermostat.overridden
    programs = Programs.from_dict(dict.fromkeys(PROGRAM_NAMES, 12))
    with pytest.raises(KeyError):
        programs.temperature("sauna")
    caps = Capabilities.from_dict({"dhw": {"setpoint_bounds": {"min": 40}}})
    assert caps.dhw_setpoint_bounds is None
    off = Predictions(available=False, status=None, updated=None, values={"progress": 50})
    assert off.progress is None
    assert off.preheat_start is None
    on = Predictions.from_dict({"available": True, "predictions": {"optimal_start": None}})
    assert on.preheat_start is None


def test_models_ignore_what_they_do_not_read() -> None:
    """A newer bridge's extra keys are ignored; nulls stay None or take the default."""
    value = BoilerValue.from_dict({"id": 25, "value": None, "stale": None, "new": [1]})
    assert value == BoilerValue(data_id=25, value=None, updated=None, stale=False)
    options = Options.from_dict({"preheat": True, "dhw_setpoint": float("nan"), "later": 1})
    assert options.dhw_setpoint is None
    assert Faults.from_dict({}).active == ()
    assert Boiler.from_dict({"values": {"status": {"id": 0, "value": 3}}}).dhw_enable is None


def test_merge_patch() -> None:
    state: dict[str, Any] = {"a": {"b": 1, "c": [1]}, "d": 1, "e": None}
    merge_patch(state, {"a": {"c": [2]}, "d": {"x": {"y": 1}}, "e": {"f": 2}, "g": 3})
    assert state == {"a": {"b": 1, "c": [2]}, "d": {"x": {"y": 1}}, "e": {"f": 2}, "g": 3}


# -- the schedule blocks, as the bridge resolves them -----------------------------------------


async def test_schedule_blocks_from_the_bridge(bridge: Bridge, client: ThermoSmartClient) -> None:
    """The spring change: Sunday 2026-03-29, 02:00 +01:00 jumps to 03:00 +02:00."""
    start = datetime(2026, 3, 28, 12, tzinfo=AMSTERDAM)
    end = start + timedelta(days=2)
    blocks = await client.schedule_blocks(start, end)
    core = bridge.thermostat.state
    expected = list(iter_blocks(core.schedule, core.exceptions, start, end, core.tz))
    assert [(b.start, b.end, b.program, b.source) for b in blocks] == [
        (b.start, b.end, b.program, b.source) for b in expected
    ]
    assert all(b.start.utcoffset() == timedelta(0) for b in blocks)
    assert blocks[0].target == core.programs.temperature(blocks[0].program)
    with pytest.raises(ThermoSmartValidationError):
        await client.schedule_blocks(start, start + timedelta(days=32))


# -- REST ------------------------------------------------------------------------------


async def test_rest_calls(bridge: Bridge, client: ThermoSmartClient) -> None:
    assert client.current_state is None
    assert client.document is None
    state = await client.native_state()
    assert state.bridge.bridge_id == bridge.bridge_id
    assert client.document is not None
    assert client.thermostat_view["programs"]["home"] == 19.5
    thermostat = await client.set_program_temperatures({"home": 20.0})
    assert thermostat.programs is not None
    assert thermostat.programs.home == 20.0
    thermostat = await client.set_paused(True)
    assert thermostat.paused
    assert client.current_state.thermostat.paused  # type: ignore[union-attr]
    thermostat = await client.set_target_temperature(21.0)
    assert thermostat.source == "manual"
    assert (await client.clear_override()).source == "schedule"
    assert (await client.thermostat()).source == "schedule"
    diagnostics = await client.diagnostics()
    assert diagnostics["link"]["kind"] == "sim"
    with pytest.raises(ThermoSmartValidationError) as err:
        await client.update_thermostat({"target_temperature": 40})
    assert err.value.errors[0]["field"] == "target_temperature"


async def test_options(bridge: Bridge, client: ThermoSmartClient) -> None:
    before = await client.options()  # no state read yet: only the answer
    assert client.current_state is None
    state = await client.native_state()
    assert state.options == before
    assert state.options == Options(
        preheat=True,
        heating_system="radiators",
        max_ch_setpoint=None,
        dhw_enable=True,
        dhw_setpoint=None,
        unit_pid_tuning=False,
    )
    assert await client.options() == state.options
    changed = await client.set_options(heating_system="underfloor", preheat=False, dhw_setpoint=55)
    assert changed.heating_system == "underfloor"
    assert changed.preheat is False
    assert changed.dhw_setpoint == 55.0
    assert bridge.thermostat.options()["heating_system"] == "underfloor"
    # the answer is in the state at once, before the bridge pushes it
    assert client.current_state is not None
    assert client.current_state.options == changed
    with pytest.raises(ThermoSmartValidationError) as err:
        await client.set_options(max_ch_setpoint=95, dhw_setpoint=10)
    assert {e["field"] for e in err.value.errors} == {"max_ch_setpoint", "dhw_setpoint"}
    assert bridge.thermostat.options()["dhw_setpoint"] == 55.0  # nothing changed
    with pytest.raises(ThermoSmartValidationError):
        await client.set_options()


async def test_options_of_an_older_bridge() -> None:
    document = {
        "bridge": {"bridge_id": "b", "api_version": 1, "version": "0.1", "name": "n"},
        "link": {"kind": "sim", "opentherm": True, "state": "connected"},
        "thermostat": {},
    }
    assert BridgeState.from_dict(document).options is None


async def test_pushed_outside_temperature(bridge: Bridge, client: ThermoSmartClient) -> None:
    await client.native_state()
    thermostat = await client.set_outside_temperature(-3.5)
    assert thermostat.outside_temperature == -3.5
    assert thermostat.outside_temperature_source == "pushed"
    assert bridge.thermostat.thermostat_state()["outside_temperature"] == -3.5
    with pytest.raises(ThermoSmartValidationError) as err:
        await client.set_outside_temperature(-80)
    assert err.value.errors[0]["field"] == "outside_temperature"


async def test_refusals_and_silence(bridge: Bridge) -> None:
    async with ThermoSmartClient("127.0.0.1", bridge.port) as client:
        with pytest.raises(ThermoSmartAuthenticationError, match="pair"):
            await client.state()
    async with ThermoSmartClient("127.0.0.1", bridge.port, token="wrong") as client:
        with pytest.raises(ThermoSmartAuthenticationError):
            await client.state()
        client.token = (await bridge.db.auth.create_token("t")).token
        with pytest.raises(ThermoSmartError, match="404"):
            await client._request("GET", "/api/v1/nothing-here")

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with ThermoSmartClient("127.0.0.1", port, token="t", request_timeout=0.1) as client:
            with pytest.raises(ThermoSmartConnectionError, match="timeout"):
                await client.state()
            with pytest.raises(ThermoSmartConnectionError, match="timeout"):
                await client.connect()
    finally:
        server.close()
        await server.wait_closed()


async def test_garbage_answers(garbage_server: int) -> None:
    async with ThermoSmartClient("127.0.0.1", garbage_server, token="t") as client:
        for call in (client.native_state, client.diagnostics, client.thermostat):
            with pytest.raises(ThermoSmartResponseError):
                await call()


@pytest.fixture
async def json_server() -> AsyncIterator[tuple[int, dict[str, Any]]]:
    """A loopback server answering every request with ``answer["body"]`` as JSON."""
    answer: dict[str, Any] = {"body": []}

    async def reply(_: web.Request) -> web.Response:
        return web.json_response(answer["body"])

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", reply)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield int(runner.addresses[0][1]), answer
    finally:
        await runner.cleanup()


async def test_wrong_shapes(json_server: tuple[int, dict[str, Any]]) -> None:
    port, _ = json_server
    async with ThermoSmartClient("127.0.0.1", port, token="t") as client:
        for call in (client.state, client.diagnostics, client.thermostat, client.options):
            with pytest.raises(ThermoSmartResponseError):
                await call()


# -- push ------------------------------------------------------------------------------


async def test_push_channel(bridge: Bridge, client: ThermoSmartClient) -> None:
    with pytest.raises(ThermoSmartConnectionError):
        await client.listen(lambda _: None)
    await client.connect()
    await client.connect()  # already open: nothing happens
    assert client.connected
    seen: list[BridgeState] = []
    listening = asyncio.create_task(client.listen(seen.append))
    await bridge.thermostat.update({"target_temperature": 22.0}, remote=False)
    async with asyncio.timeout(5):
        while not seen or seen[-1].thermostat.target_temperature != 22.0:
            await asyncio.sleep(0.01)
    await client.disconnect()
    assert await listening is None
    assert not client.connected
    assert seen[0].thermostat.target_temperature == 15.0


async def test_push_channel_closed_by_the_bridge(bridge: Bridge, api_token: str) -> None:
    async with ThermoSmartClient("127.0.0.1", bridge.port, token=api_token) as client:
        await client.connect()
        listening = asyncio.create_task(client.listen(lambda _: None))
        await asyncio.sleep(0.05)
        await stop_virtual(bridge)
        with pytest.raises(ThermoSmartConnectionError, match="1001"):
            await listening
        with pytest.raises(ThermoSmartConnectionError):
            await client.connect()


async def test_push_channel_refuses_a_bad_token(bridge: Bridge) -> None:
    async with ThermoSmartClient("127.0.0.1", bridge.port, token="wrong") as client:
        with pytest.raises(ThermoSmartAuthenticationError):
            await client.connect()
    async with ThermoSmartClient("127.0.0.1", bridge.port) as client:
        with pytest.raises(ThermoSmartAuthenticationError):
            await client.connect()


async def test_push_channel_closed_when_the_token_is_revoked(
    bridge: Bridge, api_token: str
) -> None:
    owner = (await bridge.db.auth.create_token("owner")).token
    info = await bridge.db.auth.authenticate(api_token)
    assert info is not None
    async with ThermoSmartClient("127.0.0.1", bridge.port, token=api_token) as client:
        await client.connect()
        listening = asyncio.create_task(client.listen(lambda _: None))
        async with (
            aiohttp.ClientSession() as session,
            session.delete(
                f"http://127.0.0.1:{bridge.port}/api/v1/tokens/{info.id}",
                headers={"Authorization": f"Bearer {owner}"},
            ) as response,
        ):
            assert response.status == 200
        with pytest.raises(ThermoSmartAuthenticationError):
            await listening


@pytest.fixture
async def push_server(
    bridge: Bridge,
) -> AsyncIterator[tuple[int, list[Any], list[str]]]:
    """A loopback WebSocket server that sends a script of messages and records the replies.

    It speaks the bridge's message format with cases a healthy bridge never
    sends (a missed version, garbage), starting from the real bridge's state.
    """
    script: list[Any] = []
    received: list[str] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for item in script:
            if item == "wait-resync":
                msg = await ws.receive()
                received.append(msg.data)
                continue
            await ws.send_str(item if isinstance(item, str) else json.dumps(item))
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/api/v1/ws", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield int(runner.addresses[0][1]), script, received
    finally:
        await runner.cleanup()


async def test_push_messages_apply_in_order(
    bridge: Bridge, push_server: tuple[int, list[Any], list[str]]
) -> None:
    port, script, received = push_server
    state = bridge.native_state()
    script += [
        {"type": "state", "seq": 1, "data": state},
        {"type": "changed", "seq": 2, "data": {"thermostat": {"target_temperature": 17.0}}},
        {"type": "pong"},
        {"type": "error", "error": "invalid"},
        # version 3 went missing: the client asks for the whole state again
        {"type": "changed", "seq": 4, "data": {"thermostat": {"target_temperature": 30.0}}},
        "wait-resync",
        {
            "type": "state",
            "seq": 4,
            "data": {**state, "thermostat": {**state["thermostat"], "target_temperature": 18.0}},
        },
    ]
    targets: list[float | None] = []
    async with ThermoSmartClient("127.0.0.1", port, token="t") as client:
        await client.connect()
        with pytest.raises(ThermoSmartConnectionError):
            await client.listen(lambda s: targets.append(s.thermostat.target_temperature))
    assert targets == [15.0, 17.0, 18.0]
    assert json.loads(received[0]) == {"type": "resync"}


@pytest.mark.parametrize(
    "message",
    [
        "not json",
        "[1, 2]",
        json.dumps({"type": "state", "seq": 1, "data": []}),
        json.dumps({"type": "state", "seq": 1, "data": {"bridge": {}}}),
        json.dumps({"type": "changed", "seq": 1, "data": 5}),
    ],
)
async def test_push_garbage_ends_the_listening(
    push_server: tuple[int, list[Any], list[str]], message: str
) -> None:
    port, script, _ = push_server
    script.append(message)
    async with ThermoSmartClient("127.0.0.1", port, token="t") as client:
        await client.connect()
        with pytest.raises(ThermoSmartResponseError):
            await client.listen(lambda _: None)
        assert not client.connected


async def test_push_channel_not_there(closed_port: int) -> None:
    async with ThermoSmartClient("127.0.0.1", closed_port, token="t") as client:
        with pytest.raises(ThermoSmartConnectionError):
            await client.connect()


async def test_push_channel_refused(json_server: tuple[int, dict[str, Any]]) -> None:
    port, _ = json_server
    async with ThermoSmartClient("127.0.0.1", port, token="t") as client:
        with pytest.raises(ThermoSmartConnectionError, match="refused"):
            await client.connect()
