"""The program temperatures and the boiler's flow limit against a real bridge on a virtual clock."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

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

from bridge.core.clock import VirtualClock
from bridge.daemon import Bridge
from custom_components.thermosmart.client import BridgeState
from custom_components.thermosmart.number import MAX_CH_SETPOINT, has_flow_limit, max_ch_bounds

from .conftest import setup_integration, setup_platform, wait_until

FLOW_LIMIT = "number.thermosmart_boiler_flow_temperature_limit"


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
    # the bridge pushes the change
    await wait_until(
        hass,
        lambda: hass.states.get("number.thermosmart_comfort_temperature").state == "22.5",  # type: ignore[union-attr]
    )


async def test_flow_limit_reaches_the_boiler(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    state = hass.states.get(FLOW_LIMIT)
    assert state is not None
    # no limit set: the maximum the boiler reports, within the boiler's bounds
    assert state.state == "75.0"
    assert (state.attributes["min"], state.attributes["max"]) == (25.0, 85.0)
    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: FLOW_LIMIT, ATTR_VALUE: 55},
        blocking=True,
    )
    assert bridge.thermostat.options()["max_ch_setpoint"] == 55.0
    assert hass.states.get(FLOW_LIMIT).state == "55.0"  # type: ignore[union-attr]
    await cast(VirtualClock, bridge.clock).advance(120)
    values = bridge.native_state()["boiler"]["values"]
    assert values["max_ch_setpoint"]["value"] == 55.0
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            NUMBER_DOMAIN,
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: FLOW_LIMIT, ATTR_VALUE: 88},
            blocking=True,
        )
    assert bridge.thermostat.options()["max_ch_setpoint"] == 55.0


async def test_flow_limit_needs_options_and_opentherm(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """A relay takes no flow limit, and a bridge that shows no options cannot set one."""
    await setup_integration(hass, config_entry)
    document = config_entry.runtime_data.client.document
    assert document is not None
    assert has_flow_limit(MAX_CH_SETPOINT, BridgeState.from_dict(document))
    document["link"]["opentherm"] = False
    assert not has_flow_limit(MAX_CH_SETPOINT, BridgeState.from_dict(document))
    document["link"]["opentherm"] = True
    del document["options"]
    assert not has_flow_limit(MAX_CH_SETPOINT, BridgeState.from_dict(document))


async def test_flow_limit_bounds(hass: HomeAssistant, config_entry: MockConfigEntry) -> None:
    """The boiler's bounds within 20-90 °C; 20-90 °C when it gave none that fit."""
    await setup_integration(hass, config_entry)
    state = config_entry.runtime_data.coordinator.data
    caps = state.capabilities
    assert caps is not None

    def bounds(value: tuple[float, float] | None) -> tuple[float, float]:
        return max_ch_bounds(
            replace(state, capabilities=replace(caps, max_ch_setpoint_bounds=value))
        )

    assert max_ch_bounds(state) == (25.0, 85.0)
    assert bounds(None) == (20.0, 90.0)
    assert bounds((10.0, 95.0)) == (20.0, 90.0)
    assert bounds((92.0, 99.0)) == (20.0, 90.0)
    assert max_ch_bounds(replace(state, capabilities=None)) == (20.0, 90.0)
