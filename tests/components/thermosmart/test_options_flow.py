"""Options flow settings: the outside temperature entity in Home Assistant, warm-up and heating
on the bridge."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_DEVICE_CLASS, ATTR_UNIT_OF_MEASUREMENT, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult, FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bridge.daemon import Bridge
from custom_components.thermosmart.client import BridgeState
from custom_components.thermosmart.const import (
    CONF_HEATING_SYSTEM,
    CONF_OUTSIDE_ENTITY,
    CONF_PREHEAT,
)

from .conftest import setup_integration, stop_virtual, wait_until

GARDEN = "sensor.garden"
CELSIUS = {ATTR_UNIT_OF_MEASUREMENT: "°C", ATTR_DEVICE_CLASS: "temperature"}


@pytest.fixture
def bridge(virtual_bridge: Bridge) -> Bridge:
    """These tests run on the virtual clock."""
    return virtual_bridge


def _fields(result: FlowResult) -> dict[str, Any]:
    """The form's fields and the values it suggests."""
    schema = result["data_schema"]
    assert schema is not None
    return {str(key): (key.description or {}).get("suggested_value") for key in schema.schema}


async def _settings(hass: HomeAssistant, entry: MockConfigEntry) -> FlowResult:
    """Open the options and, from the menu (shown while the bridge is loaded), the settings."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    if result["type"] is FlowResultType.MENU:
        assert result["menu_options"] == ["settings", "privacy", "cloud_link"]
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": "settings"}
        )
    assert result["step_id"] == "settings"
    return result


def _outside(bridge: Bridge) -> tuple[Any, Any]:
    view = bridge.thermostat.thermostat_state()
    return view["outside_temperature"], view["outside_temperature_source"]


async def test_options_go_to_the_bridge_and_the_entity_is_fed_at_once(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    hass.states.async_set(GARDEN, "6.5", CELSIUS)
    await setup_integration(hass, config_entry)
    result = await _settings(hass, config_entry)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "settings"
    assert _fields(result) == {
        CONF_OUTSIDE_ENTITY: None,
        CONF_PREHEAT: True,
        CONF_HEATING_SYSTEM: "radiators",
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_OUTSIDE_ENTITY: GARDEN, CONF_PREHEAT: False, CONF_HEATING_SYSTEM: "underfloor"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert config_entry.options == {CONF_OUTSIDE_ENTITY: GARDEN}
    options = bridge.thermostat.options()
    assert options["preheat"] is False
    assert options["heating_system"] == "underfloor"
    # the entry reloads with the new entity: no restart needed
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    await wait_until(hass, lambda: _outside(bridge) == (6.5, "pushed"))
    await wait_until(hass, lambda: config_entry.runtime_data.client.connected)

    # the form shows what is set now; clearing the entity stops the feed
    result = await _settings(hass, config_entry)
    assert _fields(result) == {
        CONF_OUTSIDE_ENTITY: GARDEN,
        CONF_PREHEAT: False,
        CONF_HEATING_SYSTEM: "underfloor",
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PREHEAT: False, CONF_HEATING_SYSTEM: "underfloor"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert config_entry.options == {}
    await hass.async_block_till_done()
    await wait_until(hass, lambda: config_entry.runtime_data.client.connected)
    hass.states.async_set(GARDEN, "7.5", CELSIUS)
    await hass.async_block_till_done()
    assert _outside(bridge) == (6.5, "pushed")
    assert await hass.config_entries.async_unload(config_entry.entry_id)


async def test_unchanged_bridge_options_are_not_sent(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    await stop_virtual(bridge)  # a request would fail now
    result = await _settings(hass, config_entry)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PREHEAT: True, CONF_HEATING_SYSTEM: "radiators"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert config_entry.options == {}


async def test_bridge_out_of_reach(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    result = await _settings(hass, config_entry)
    await stop_virtual(bridge)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_OUTSIDE_ENTITY: GARDEN, CONF_PREHEAT: False, CONF_HEATING_SYSTEM: "radiators"},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    assert "cannot reach the bridge" in (result["description_placeholders"] or {})["error"]
    # what the user chose stays on the form
    assert _fields(result) == {
        CONF_OUTSIDE_ENTITY: GARDEN,
        CONF_PREHEAT: False,
        CONF_HEATING_SYSTEM: "radiators",
    }
    assert config_entry.options == {}


async def test_revoked_token_starts_reauth(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry, api_token: str
) -> None:
    await setup_integration(hass, config_entry)
    result = await _settings(hass, config_entry)
    info = await bridge.db.auth.authenticate(api_token)
    assert info is not None
    await bridge.db.auth.revoke_token(info.id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PREHEAT: False, CONF_HEATING_SYSTEM: "radiators"}
    )
    assert result["errors"] == {"base": "auth_failed"}
    await wait_until(
        hass,
        lambda: any(
            flow["context"]["source"] == "reauth"
            for flow in hass.config_entries.flow.async_progress()
        ),
    )
    assert bridge.thermostat.options()["preheat"] is True


@pytest.mark.parametrize(
    ("status", "body", "error", "detail"),
    [
        (
            400,
            {"error": "invalid", "errors": [{"field": "heating_system", "rule": "not now"}]},
            "options_refused",
            "heating_system: not now",
        ),
        (500, {"message": "disk full"}, "unknown", "disk full"),
    ],
)
async def test_bridge_refuses(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    bridge_proxy: tuple[int, dict[tuple[str, str], Any]],
    status: int,
    body: dict[str, Any],
    error: str,
    detail: str,
) -> None:
    await setup_integration(hass, config_entry)
    # a healthy bridge takes every value the form offers
    port, answers = bridge_proxy
    answers["PUT", "/api/v1/options"] = (status, body)
    config_entry.runtime_data.client.port = port
    result = await _settings(hass, config_entry)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PREHEAT: True, CONF_HEATING_SYSTEM: "underfloor"}
    )
    assert result["errors"] == {"base": error}
    assert detail in (result["description_placeholders"] or {})["error"]


async def test_only_the_entity_without_bridge_options(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """A bridge that shows no options gets only the entity field."""
    await setup_integration(hass, config_entry)
    document = config_entry.runtime_data.client.document
    assert document is not None
    del document["options"]
    config_entry.runtime_data.coordinator.async_set_updated_data(BridgeState.from_dict(document))
    result = await _settings(hass, config_entry)
    assert _fields(result) == {CONF_OUTSIDE_ENTITY: None}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_OUTSIDE_ENTITY: GARDEN}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert config_entry.options == {CONF_OUTSIDE_ENTITY: GARDEN}
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(config_entry.entry_id)


async def test_entity_while_the_bridge_is_not_loaded(
    hass: HomeAssistant, config_entry: MockConfigEntry, closed_port: int
) -> None:
    entry = MockConfigEntry(
        domain=config_entry.domain,
        title=config_entry.title,
        unique_id=config_entry.unique_id,
        data={**config_entry.data, CONF_PORT: closed_port},
        options={CONF_OUTSIDE_ENTITY: GARDEN, "other": 1},
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    result = await _settings(hass, entry)
    assert _fields(result) == {CONF_OUTSIDE_ENTITY: GARDEN}
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {"other": 1}
    await hass.async_block_till_done()
