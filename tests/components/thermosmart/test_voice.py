"""Voice: Assist's built-in climate intents, through Home Assistant's own conversation agent."""

from __future__ import annotations

from homeassistant.components import conversation
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.const import ATTR_TEMPERATURE
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import area_registry as ar, device_registry as dr, intent
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bridge.daemon import Bridge
from custom_components.thermosmart.const import DOMAIN

from .conftest import setup_integration

ENTITY = "climate.thermosmart"


@pytest.fixture
def bridge(virtual_bridge: Bridge) -> Bridge:
    """A virtual-clock bridge: the room temperature stays put while we talk."""
    return virtual_bridge


async def _assist(hass: HomeAssistant, bridge: Bridge, entry: MockConfigEntry, area: str) -> None:
    """Set up the integration and Assist, with the thermostat in ``area`` and exposed."""
    await setup_integration(hass, entry)
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    assert await async_setup_component(hass, "intent", {})
    room = ar.async_get(hass).async_create(area)
    devices = dr.async_get(hass)
    thermostat = devices.async_get_device(identifiers={(DOMAIN, f"{bridge.bridge_id}_thermostat")})
    assert thermostat is not None
    devices.async_update_device(thermostat.id, area_id=room.id)
    async_expose_entity(hass, conversation.DOMAIN, ENTITY, True)
    await hass.async_block_till_done()


async def _say(hass: HomeAssistant, text: str, language: str = "en") -> intent.IntentResponse:
    result = await conversation.async_converse(hass, text, None, Context(), language=language)
    return result.response


def _speech(response: intent.IntentResponse) -> str:
    return str(response.speech["plain"]["speech"]).strip()


def _room_temperature(hass: HomeAssistant) -> float:
    state = hass.states.get(ENTITY)
    assert state is not None
    current = state.attributes["current_temperature"]
    assert isinstance(current, float)
    return current


async def test_ask_and_set_the_temperature(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await _assist(hass, bridge, config_entry, "Living Room")
    room = _room_temperature(hass)

    response = await _say(hass, "what is the temperature in the living room")
    assert response.response_type is intent.IntentResponseType.QUERY_ANSWER
    assert response.intent is not None
    assert response.intent.intent_type == "HassClimateGetTemperature"
    assert [s.entity_id for s in response.matched_states] == [ENTITY]
    assert _speech(response) == f"{room} degrees"

    response = await _say(hass, "set the temperature to 21 degrees")
    assert response.response_type is intent.IntentResponseType.ACTION_DONE, _speech(response)
    assert response.intent is not None
    assert response.intent.intent_type == "HassClimateSetTemperature"
    assert _speech(response) == "Temperature set to 21 degrees"
    thermostat = bridge.thermostat.thermostat_state()
    assert thermostat["target_temperature"] == 21.0
    assert thermostat["source"] == "manual"
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.attributes[ATTR_TEMPERATURE] == 21.0

    response = await _say(hass, "set the living room temperature to 19.5")
    assert _speech(response) == "Temperature set to 19.5 degrees"
    assert bridge.thermostat.thermostat_state()["target_temperature"] == 19.5


async def test_dutch(hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry) -> None:
    await _assist(hass, bridge, config_entry, "Woonkamer")
    room = _room_temperature(hass)

    response = await _say(hass, "wat is de temperatuur in de woonkamer", "nl")
    assert response.response_type is intent.IntentResponseType.QUERY_ANSWER, _speech(response)
    assert [s.entity_id for s in response.matched_states] == [ENTITY]
    assert _speech(response) == f"{room} graden"

    response = await _say(hass, "zet de temperatuur in de woonkamer op 20 graden", "nl")
    assert response.response_type is intent.IntentResponseType.ACTION_DONE, _speech(response)
    assert bridge.thermostat.thermostat_state()["target_temperature"] == 20.0


async def test_out_of_range_is_refused(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await _assist(hass, bridge, config_entry, "Living Room")
    before = bridge.thermostat.thermostat_state()["target_temperature"]
    response = await _say(hass, "set the temperature to 35 degrees")
    assert response.response_type is intent.IntentResponseType.ERROR
    assert bridge.thermostat.thermostat_state()["target_temperature"] == before
