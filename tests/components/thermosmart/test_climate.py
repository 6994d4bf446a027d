"""The climate entity against a real bridge on a virtual clock."""

from __future__ import annotations

from typing import cast
from unittest.mock import patch

from homeassistant.components.climate import (
    ATTR_HVAC_ACTION,
    ATTR_HVAC_MODE,
    ATTR_PRESET_MODE,
    DOMAIN as CLIMATE_DOMAIN,
    SERVICE_SET_HVAC_MODE,
    SERVICE_SET_PRESET_MODE,
    SERVICE_SET_TEMPERATURE,
    SERVICE_TURN_ON,
    HVACAction,
    HVACMode,
)
from homeassistant.const import ATTR_ENTITY_ID, ATTR_TEMPERATURE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from bridge.core.clock import VirtualClock
from bridge.daemon import Bridge
from custom_components.thermosmart.client import ThermoSmartResponseError

from .conftest import setup_integration, setup_platform, wait_until

ENTITY = "climate.thermosmart"


@pytest.fixture
def bridge(virtual_bridge: Bridge) -> Bridge:
    """These tests run on the virtual clock."""
    return virtual_bridge


def _thermostat(bridge: Bridge) -> dict[str, object]:
    return bridge.thermostat.thermostat_state()


async def _call(hass: HomeAssistant, service: str, **data: object) -> None:
    await hass.services.async_call(
        CLIMATE_DOMAIN, service, {ATTR_ENTITY_ID: ENTITY, **data}, blocking=True
    )


async def test_snapshot(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await setup_platform(hass, config_entry, Platform.CLIMATE)
    await snapshot_platform(hass, entity_registry, snapshot, config_entry.entry_id)


async def test_set_temperature_is_a_manual_target(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    await _call(hass, SERVICE_SET_TEMPERATURE, **{ATTR_TEMPERATURE: 21.5})
    thermostat = _thermostat(bridge)
    assert thermostat["source"] == "manual"
    assert thermostat["target_temperature"] == 21.5
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.state == HVACMode.HEAT
    assert state.attributes[ATTR_TEMPERATURE] == 21.5
    assert state.attributes[ATTR_PRESET_MODE] is None


async def test_hvac_modes(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)

    await _call(hass, SERVICE_SET_HVAC_MODE, **{ATTR_HVAC_MODE: HVACMode.OFF})
    assert _thermostat(bridge)["paused"] is True
    assert _thermostat(bridge)["source"] == "pause"
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.state == HVACMode.OFF
    assert state.attributes[ATTR_HVAC_ACTION] == HVACAction.OFF
    assert state.attributes[ATTR_TEMPERATURE] == 10.0  # the pause program
    assert state.attributes[ATTR_PRESET_MODE] is None

    # heat after a pause: hold what the schedule says now, not the pause temperature
    await _call(hass, SERVICE_SET_HVAC_MODE, **{ATTR_HVAC_MODE: HVACMode.HEAT})
    thermostat = _thermostat(bridge)
    assert thermostat["paused"] is False
    assert thermostat["source"] == "manual"
    assert thermostat["target_temperature"] == 15.0
    assert hass.states.get(ENTITY).state == HVACMode.HEAT  # type: ignore[union-attr]

    # heat again changes nothing
    await _call(hass, SERVICE_SET_HVAC_MODE, **{ATTR_HVAC_MODE: HVACMode.HEAT})
    assert _thermostat(bridge)["source"] == "manual"

    await _call(hass, SERVICE_SET_HVAC_MODE, **{ATTR_HVAC_MODE: HVACMode.AUTO})
    assert _thermostat(bridge)["source"] == "schedule"
    assert hass.states.get(ENTITY).state == HVACMode.AUTO  # type: ignore[union-attr]

    # heat from auto holds the scheduled target as a manual one
    await _call(hass, SERVICE_SET_HVAC_MODE, **{ATTR_HVAC_MODE: HVACMode.HEAT})
    assert _thermostat(bridge)["source"] == "manual"
    assert _thermostat(bridge)["target_temperature"] == 15.0

    # auto from a pause resumes and follows the schedule
    await _call(hass, SERVICE_SET_HVAC_MODE, **{ATTR_HVAC_MODE: HVACMode.OFF})
    await _call(hass, SERVICE_TURN_ON)
    thermostat = _thermostat(bridge)
    assert thermostat["paused"] is False
    assert thermostat["source"] == "schedule"
    assert hass.states.get(ENTITY).state == HVACMode.AUTO  # type: ignore[union-attr]


async def test_presets(hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry) -> None:
    await setup_integration(hass, config_entry)
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.attributes[ATTR_PRESET_MODE] == "away"  # the schedule's not_home block

    for preset, temperature in (
        ("comfort", 21.0),
        ("home", 19.5),
        ("anti_freeze", 7.0),
        ("away", 15.0),
    ):
        await _call(hass, SERVICE_SET_PRESET_MODE, **{ATTR_PRESET_MODE: preset})
        thermostat = _thermostat(bridge)
        assert thermostat["source"] == "manual"
        assert thermostat["target_temperature"] == temperature
        state = hass.states.get(ENTITY)
        assert state is not None
        assert state.attributes[ATTR_PRESET_MODE] == preset
        assert state.state == HVACMode.HEAT


async def test_heating_shows_as_heating(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    await _call(hass, SERVICE_SET_TEMPERATURE, **{ATTR_TEMPERATURE: 25})
    clock = cast(VirtualClock, bridge.clock)
    for _ in range(60):
        await clock.advance(10)
        status = bridge.thermostat.master.state.slave_status  # type: ignore[union-attr]
        if status is not None and status.flame_on and status.ch_active:
            break
    else:
        pytest.fail("the simulated boiler never started heating")

    def heating() -> bool:
        state = hass.states.get(ENTITY)
        return state is not None and state.attributes[ATTR_HVAC_ACTION] == HVACAction.HEATING

    await wait_until(hass, heating)


async def test_bridge_refusal_is_a_translated_validation_error(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    entity = hass.data["climate"].get_entity(ENTITY)
    # Home Assistant checks the range first; the bridge's own check is the last word
    with pytest.raises(ServiceValidationError) as err:
        await entity._async_set_target(31.0)
    assert err.value.translation_key == "invalid_request"
    assert "target_temperature" in err.value.translation_placeholders["error"]


async def test_refused_token_is_a_translated_error_and_starts_reauth(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry, api_token: str
) -> None:
    await setup_integration(hass, config_entry)
    token = await bridge.db.auth.authenticate(api_token)
    assert token is not None
    with patch("custom_components.thermosmart.coordinator.RECONNECT_MIN", 60.0):
        await bridge.db.auth.revoke_token(token.id)
        with pytest.raises(HomeAssistantError) as err:
            await _call(hass, SERVICE_SET_TEMPERATURE, **{ATTR_TEMPERATURE: 20})
        assert err.value.translation_key == "auth_failed"
        await hass.async_block_till_done()
        flows = hass.config_entries.flow.async_progress()
        assert [f["context"]["source"] for f in flows] == ["reauth"]


async def test_unreachable_bridge_is_a_translated_error(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    client = config_entry.runtime_data.client
    client.port = 1  # nobody listens there
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, SERVICE_SET_PRESET_MODE, **{ATTR_PRESET_MODE: "home"})
    assert err.value.translation_key == "communication_error"


async def test_unexpected_answer_is_a_translated_error(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    client = config_entry.runtime_data.client
    with (
        patch.object(client, "set_paused", side_effect=ThermoSmartResponseError("garbage")),
        pytest.raises(HomeAssistantError) as err,
    ):
        await _call(hass, SERVICE_SET_HVAC_MODE, **{ATTR_HVAC_MODE: HVACMode.OFF})
    assert err.value.translation_key == "unexpected_error"
    assert err.value.translation_placeholders == {"error": "garbage"}
