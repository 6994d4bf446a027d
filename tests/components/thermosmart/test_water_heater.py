"""The hot-water entity against a real bridge on a virtual clock."""

from __future__ import annotations

from typing import cast

from homeassistant.components.water_heater import (
    ATTR_OPERATION_MODE,
    DOMAIN as WATER_HEATER_DOMAIN,
    SERVICE_SET_OPERATION_MODE,
    SERVICE_SET_TEMPERATURE,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    WaterHeaterEntityFeature,
)
from homeassistant.const import ATTR_ENTITY_ID, ATTR_SUPPORTED_FEATURES, ATTR_TEMPERATURE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from bridge.core.clock import VirtualClock
from bridge.daemon import Bridge
from custom_components.thermosmart.client import BridgeState

from .conftest import setup_integration, setup_platform

WATER_HEATER = "water_heater.thermosmart_boiler_hot_water"


@pytest.fixture
def bridge(virtual_bridge: Bridge) -> Bridge:
    """These tests run on the virtual clock."""
    return virtual_bridge


def _state(hass: HomeAssistant) -> tuple[str, dict[str, object]]:
    state = hass.states.get(WATER_HEATER)
    assert state is not None
    return state.state, dict(state.attributes)


async def _call(hass: HomeAssistant, service: str, **data: object) -> None:
    await hass.services.async_call(
        WATER_HEATER_DOMAIN, service, {ATTR_ENTITY_ID: WATER_HEATER, **data}, blocking=True
    )


async def test_snapshot(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await setup_platform(hass, config_entry, Platform.WATER_HEATER)
    await snapshot_platform(hass, entity_registry, snapshot, config_entry.entry_id)


async def test_shows_what_the_boiler_reports(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    state, attributes = _state(hass)
    assert state == "gas"
    assert attributes["temperature"] == 60.0
    assert attributes["min_temp"] == 40.0
    assert attributes["max_temp"] == 65.0
    assert attributes["operation_list"] == ["gas", "off"]


async def test_setting_the_temperature_reaches_the_boiler(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    await _call(hass, SERVICE_SET_TEMPERATURE, **{ATTR_TEMPERATURE: 55})
    assert bridge.thermostat.options()["dhw_setpoint"] == 55.0
    # shown at once, before the boiler has taken it
    assert _state(hass)[1]["temperature"] == 55.0
    await cast(VirtualClock, bridge.clock).advance(120)
    values = bridge.native_state()["boiler"]["values"]
    assert values["dhw_setpoint"]["value"] == 55.0


async def test_setting_the_temperature_and_the_operation(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    await _call(hass, SERVICE_SET_TEMPERATURE, **{ATTR_TEMPERATURE: 50, ATTR_OPERATION_MODE: "off"})
    assert bridge.thermostat.options()["dhw_setpoint"] == 50.0
    assert bridge.thermostat.options()["dhw_enable"] is False
    assert _state(hass)[0] == "off"
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass, SERVICE_SET_TEMPERATURE, **{ATTR_TEMPERATURE: 52, ATTR_OPERATION_MODE: "eco"}
        )
    assert err.value.translation_key == "invalid_operation_mode"
    assert bridge.thermostat.options()["dhw_setpoint"] == 50.0


async def test_on_off_and_operation_mode(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    await _call(hass, SERVICE_TURN_OFF)
    assert bridge.thermostat.options()["dhw_enable"] is False
    assert _state(hass)[0] == "off"
    await cast(VirtualClock, bridge.clock).advance(30)
    # the bridge no longer asks the boiler for hot water (ID 0, master status)
    status = bridge.native_state()["boiler"]["values"]["status"]["value"]
    assert status["hb"]["dhw_enable"] is False
    await _call(hass, SERVICE_TURN_ON)
    assert bridge.thermostat.options()["dhw_enable"] is True
    assert _state(hass)[0] == "gas"
    await _call(hass, SERVICE_SET_OPERATION_MODE, **{ATTR_OPERATION_MODE: "off"})
    assert bridge.thermostat.options()["dhw_enable"] is False
    await _call(hass, SERVICE_SET_OPERATION_MODE, **{ATTR_OPERATION_MODE: "gas"})
    assert bridge.thermostat.options()["dhw_enable"] is True
    assert _state(hass)[0] == "gas"


async def test_out_of_the_boilers_range_is_refused(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, SERVICE_SET_TEMPERATURE, **{ATTR_TEMPERATURE: 70})
    assert err.value.translation_key == "invalid_request"
    assert "dhw_setpoint" in str(err.value.translation_placeholders)
    assert bridge.thermostat.options()["dhw_setpoint"] is None
    assert _state(hass)[1]["temperature"] == 60.0


async def test_read_only_on_a_bridge_without_options(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """An older bridge shows no options and takes none: the entity only shows the boiler."""
    await setup_integration(hass, config_entry)
    coordinator = config_entry.runtime_data.coordinator
    document = config_entry.runtime_data.client.document
    assert document is not None
    del document["options"]
    coordinator.async_set_updated_data(BridgeState.from_dict(document))
    state, attributes = _state(hass)
    assert state == "gas"  # what the bridge last asked of the boiler
    assert attributes[ATTR_SUPPORTED_FEATURES] == WaterHeaterEntityFeature(0)
    assert attributes["temperature"] == 60.0
    # no status from the boiler yet: the operation is unknown; no bounds: Home Assistant's
    del document["boiler"]["values"]["status"]
    del document["capabilities"]["dhw"]["setpoint_bounds"]
    coordinator.async_set_updated_data(BridgeState.from_dict(document))
    state, attributes = _state(hass)
    assert state == "unknown"
    assert (attributes["min_temp"], attributes["max_temp"]) == (43.3, 60.0)
