"""The program temperatures against a real bridge on a virtual clock."""

from __future__ import annotations

from homeassistant.components.number import (
    ATTR_VALUE,
    DOMAIN as NUMBER_DOMAIN,
    SERVICE_SET_VALUE,
)
from homeassistant.const import ATTR_ENTITY_ID, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from bridge.daemon import Bridge

from .conftest import setup_integration, setup_platform, wait_until


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
    await setup_platform(hass, config_entry, Platform.NUMBER)
    await snapshot_platform(hass, entity_registry, snapshot, config_entry.entry_id)


async def test_setting_a_program_changes_the_bridge(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: "number.thermosmart_away_temperature", ATTR_VALUE: 16.5},
        blocking=True,
    )
    assert bridge.thermostat.state.programs.not_home == 16.5
    state = hass.states.get("number.thermosmart_away_temperature")
    assert state is not None
    assert state.state == "16.5"
    # the schedule is in an away block: the climate's target follows the program
    climate = hass.states.get("climate.thermosmart")
    assert climate is not None
    assert climate.attributes["temperature"] == 16.5


async def test_out_of_range_is_refused(hass: HomeAssistant, config_entry: MockConfigEntry) -> None:
    await setup_integration(hass, config_entry)
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            NUMBER_DOMAIN,
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: "number.thermosmart_comfort_temperature", ATTR_VALUE: 31},
            blocking=True,
        )


async def test_programs_changed_elsewhere_show_up(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    await bridge.thermostat.update({"programs": {"comfort": 22.5}})
    # programs are not pushed: they are read again every few minutes
    await config_entry.runtime_data.coordinator.async_refresh_extras()
    await wait_until(
        hass,
        lambda: hass.states.get("number.thermosmart_comfort_temperature").state == "22.5",  # type: ignore[union-attr]
    )
