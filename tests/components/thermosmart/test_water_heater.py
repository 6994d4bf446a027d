"""The hot-water entity against a real bridge on a virtual clock."""

from __future__ import annotations

from homeassistant.components.water_heater import (
    DOMAIN as WATER_HEATER_DOMAIN,
    SERVICE_SET_TEMPERATURE,
)
from homeassistant.const import ATTR_ENTITY_ID, ATTR_TEMPERATURE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceNotSupported
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from bridge.daemon import Bridge

from .conftest import setup_integration, setup_platform

WATER_HEATER = "water_heater.thermosmart_boiler_hot_water"


@pytest.fixture
def bridge(virtual_bridge: Bridge) -> Bridge:
    """These tests run on the virtual clock."""
    return virtual_bridge


async def test_snapshot(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await setup_platform(hass, config_entry, Platform.WATER_HEATER)
    await snapshot_platform(hass, entity_registry, snapshot, config_entry.entry_id)


async def test_read_only(hass: HomeAssistant, config_entry: MockConfigEntry) -> None:
    """The bridge offers no way to change DHW, so the entity offers none either."""
    await setup_integration(hass, config_entry)
    state = hass.states.get(WATER_HEATER)
    assert state is not None
    assert state.state == "gas"
    assert state.attributes["temperature"] == 60.0
    assert state.attributes["min_temp"] == 40.0
    assert state.attributes["max_temp"] == 65.0
    with pytest.raises(ServiceNotSupported):
        await hass.services.async_call(
            WATER_HEATER_DOMAIN,
            SERVICE_SET_TEMPERATURE,
            {ATTR_ENTITY_ID: WATER_HEATER, ATTR_TEMPERATURE: 55},
            blocking=True,
        )
