"""Binary sensors against a real bridge on a virtual clock."""

from __future__ import annotations

from typing import cast

from homeassistant.const import STATE_OFF, STATE_ON, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from bridge.core.clock import VirtualClock
from bridge.daemon import Bridge
from bridge.opentherm.links.sim import SimLink

from .conftest import setup_integration, setup_platform, wait_until


@pytest.fixture
def bridge(virtual_bridge: Bridge) -> Bridge:
    """These tests run on the virtual clock."""
    return virtual_bridge


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_snapshot(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await setup_platform(hass, config_entry, Platform.BINARY_SENSOR)
    await snapshot_platform(hass, entity_registry, snapshot, config_entry.entry_id)


async def test_flame_and_heating_come_on_with_demand(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    flame = "binary_sensor.thermosmart_boiler_flame"
    heating = "binary_sensor.thermosmart_boiler_central_heating"
    assert _state(hass, flame) == STATE_OFF
    assert _state(hass, heating) == STATE_OFF
    await config_entry.runtime_data.client.set_target_temperature(25.0)
    clock = cast(VirtualClock, bridge.clock)
    for _ in range(30):
        await clock.advance(10)
        if _state(hass, flame) == STATE_ON and _state(hass, heating) == STATE_ON:
            break
    await wait_until(
        hass, lambda: _state(hass, flame) == STATE_ON and _state(hass, heating) == STATE_ON
    )


async def test_low_water_pressure_is_a_fault(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    fault = "binary_sensor.thermosmart_boiler_fault"
    low_pressure = "binary_sensor.thermosmart_boiler_low_water_pressure"
    assert _state(hass, fault) == STATE_OFF
    assert _state(hass, low_pressure) == STATE_OFF
    link = bridge.link
    assert isinstance(link, SimLink)
    link.world.boiler.set_pressure(0.3)
    await cast(VirtualClock, bridge.clock).advance(30)
    await wait_until(
        hass, lambda: _state(hass, fault) == STATE_ON and _state(hass, low_pressure) == STATE_ON
    )
    pressure = hass.states.get("sensor.thermosmart_boiler_water_pressure")
    assert pressure is not None
    assert float(pressure.state) == pytest.approx(0.3, abs=0.02)
