"""The resume-schedule button against a real bridge on a virtual clock."""

from __future__ import annotations

from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.const import ATTR_ENTITY_ID, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from bridge.daemon import Bridge

from .conftest import setup_integration, setup_platform

BUTTON = "button.thermosmart_resume_schedule"


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
    await setup_platform(hass, config_entry, Platform.BUTTON)
    await snapshot_platform(hass, entity_registry, snapshot, config_entry.entry_id)


async def test_press_clears_the_manual_target(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    await bridge.thermostat.update({"target_temperature": 22.0}, remote=False)
    assert bridge.thermostat.thermostat_state()["source"] == "manual"
    await hass.services.async_call(
        BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: BUTTON}, blocking=True
    )
    thermostat = bridge.thermostat.thermostat_state()
    assert thermostat["source"] == "schedule"
    assert thermostat["target_temperature"] == 15.0
    climate = hass.states.get("climate.thermosmart")
    assert climate is not None
    assert climate.state == "auto"
    assert climate.attributes["temperature"] == 15.0
