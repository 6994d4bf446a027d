"""The coordinator: push from the bridge's WebSocket, loss, recovery, reauth, stop."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from unittest.mock import patch

import aiohttp
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    CONF_HOST,
    CONF_PORT,
    CONF_TOKEN,
    EVENT_HOMEASSISTANT_STOP,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bridge.api.ws import PUSH_KEY
from bridge.daemon import Bridge
from custom_components.thermosmart.client import ThermoSmartConnectionError
from custom_components.thermosmart.const import CONF_BRIDGE_ID, CONF_TOKEN_ID, DOMAIN

from .conftest import setup_integration, start_virtual_bridge, stop_virtual, wait_until

CLIMATE = "climate.thermosmart"
LOGGER_NAME = "custom_components.thermosmart"


@pytest.fixture
def bridge(virtual_bridge: Bridge) -> Bridge:
    """These tests run on the virtual clock."""
    return virtual_bridge


def _push_clients(bridge: Bridge) -> int:
    hub = bridge._runner._app[PUSH_KEY]  # type: ignore[union-attr]
    return hub.stats()["clients"]


def _target(hass: HomeAssistant) -> object:
    state = hass.states.get(CLIMATE)
    return None if state is None else state.attributes.get("temperature")


async def test_changes_are_pushed_without_polling(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry, api_token: str
) -> None:
    await setup_integration(hass, config_entry)
    assert _target(hass) == 15.0
    client = config_entry.runtime_data.client
    # from here on Home Assistant may not ask the bridge anything
    with patch.object(client, "_request", side_effect=AssertionError("polled")):
        # another client (the cloud-compatible API, as the old app speaks it) sets a target
        async with (
            aiohttp.ClientSession() as session,
            session.put(
                f"http://127.0.0.1:{bridge.port}/thermostat/{bridge.thermostat.hardware_id}",
                json={"target_temperature": 20.5},
                headers={"Authorization": f"Bearer {api_token}"},
            ) as response,
        ):
            assert response.status == 200
        await wait_until(hass, lambda: _target(hass) == 20.5)
    state = hass.states.get(CLIMATE)
    assert state is not None
    assert state.attributes["source"] == "remote"
    assert state.state == "heat"


def _records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER_NAME and r.levelno == level]


async def test_loss_and_recovery_log_once_each(
    hass: HomeAssistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "restart"
    first = await start_virtual_bridge(data_dir)
    second: Bridge | None = None
    try:
        token = (await first.db.auth.create_token("Home Assistant")).token
        port = first.port
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=first.name,
            unique_id=first.bridge_id,
            data={
                CONF_HOST: "127.0.0.1",
                CONF_PORT: port,
                CONF_TOKEN: token,
                CONF_TOKEN_ID: "1",
                CONF_BRIDGE_ID: first.bridge_id,
            },
        )
        with patch("custom_components.thermosmart.coordinator.RECONNECT_MIN", 0.02):
            await setup_integration(hass, entry)
            assert hass.states.get(CLIMATE).state == "auto"  # type: ignore[union-attr]

            await stop_virtual(first)
            await wait_until(hass, lambda: hass.states.get(CLIMATE).state == STATE_UNAVAILABLE)  # type: ignore[union-attr]
            # several reconnection attempts fail (0.02 s, 0.04 s, 0.08 s, ...)
            await asyncio.sleep(0.5)
            assert len(_records(caplog, logging.WARNING)) == 1
            assert "Lost the connection" in _records(caplog, logging.WARNING)[0]
            for name in (
                "sensor.thermosmart_boiler_flow_temperature",
                "calendar.thermosmart_schedule",
            ):
                assert hass.states.get(name).state == STATE_UNAVAILABLE  # type: ignore[union-attr]

            # the bridge comes back on the same port; a change made while away shows up
            second = await start_virtual_bridge(data_dir, port)
            await second.thermostat.update({"target_temperature": 18.0}, remote=False)
            await wait_until(hass, lambda: _target(hass) == 18.0, timeout=10)
            assert hass.states.get(CLIMATE).state == "heat"  # type: ignore[union-attr]
            infos = [m for m in _records(caplog, logging.INFO) if "restored" in m]
            assert len(infos) == 1
            assert len(_records(caplog, logging.WARNING)) == 1
            assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        for running in (first, second):
            if running is not None and running._runner is not None:
                await stop_virtual(running)


async def test_revoked_token_starts_reauth(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry, api_token: str
) -> None:
    await setup_integration(hass, config_entry)
    owner = (await bridge.db.auth.create_token("owner")).token
    info = await bridge.db.auth.authenticate(api_token)
    assert info is not None
    async with (
        aiohttp.ClientSession() as session,
        session.delete(
            f"http://127.0.0.1:{bridge.port}/api/v1/tokens/{info.id}",
            headers={"Authorization": f"Bearer {owner}"},
        ) as response,
    ):
        assert response.status == 200
    await wait_until(hass, lambda: bool(hass.config_entries.flow.async_progress()))
    flows = hass.config_entries.flow.async_progress()
    assert [f["context"]["source"] for f in flows] == ["reauth"]
    assert hass.states.get(CLIMATE).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    assert not config_entry.runtime_data.client.connected


async def test_unload_closes_the_push_channel(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    assert _push_clients(bridge) == 1
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.NOT_LOADED
    await wait_until(hass, lambda: _push_clients(bridge) == 0)


async def test_home_assistant_stop_closes_the_push_channel(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert not config_entry.runtime_data.client.connected
    await wait_until(hass, lambda: _push_clients(bridge) == 0)


async def test_first_read_failing_retries_setup(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    config_entry.add_to_hass(hass)
    with patch(
        "custom_components.thermosmart.ThermoSmartClient.native_state",
        side_effect=ThermoSmartConnectionError("reset by peer"),
    ):
        assert not await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_schedule_and_program_changes_are_pushed(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry, api_token: str
) -> None:
    """A current bridge pushes programs and the schedule: nothing is read again."""
    await setup_integration(hass, config_entry)
    client = config_entry.runtime_data.client
    with patch.object(client, "_request", side_effect=AssertionError("polled")):
        async with (
            aiohttp.ClientSession() as session,
            session.patch(
                f"http://127.0.0.1:{bridge.port}/api/v1/thermostat",
                json={
                    "programs": {"home": 20.0},
                    "schedule": [{"start": [0, 7, 0], "temperature": "comfort"}],
                },
                headers={"Authorization": f"Bearer {api_token}"},
            ) as response,
        ):
            assert response.status == 200
        await wait_until(
            hass,
            lambda: hass.states.get("number.thermosmart_home_temperature").state == "20.0",  # type: ignore[union-attr]
        )
        state = client.current_state
        assert state is not None
        assert [(e.day, e.hour, e.minute) for e in state.thermostat.schedule] == [(0, 7, 0)]
    assert await hass.config_entries.async_unload(config_entry.entry_id)
