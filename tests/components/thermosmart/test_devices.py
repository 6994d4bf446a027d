"""The devices of a bridge: the bridge, the thermostat (the room) and the boiler."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from bridge.daemon import Bridge
from custom_components.thermosmart.const import DOMAIN

from .conftest import BRIDGE_ID, setup_integration


@pytest.fixture
def bridge(virtual_bridge: Bridge) -> Bridge:
    """These tests run on the virtual clock."""
    return virtual_bridge


async def test_devices(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await setup_integration(hass, config_entry)
    devices = sorted(
        dr.async_entries_for_config_entry(device_registry, config_entry.entry_id),
        key=lambda device: sorted(device.identifiers),
    )
    assert devices == snapshot
    bridge_device = device_registry.async_get_device(identifiers={(DOMAIN, BRIDGE_ID)})
    assert bridge_device is not None
    for device in devices:
        if device.id != bridge_device.id:
            assert device.via_device_id == bridge_device.id
    by_device = {
        device.name: sorted(
            e.entity_id for e in er.async_entries_for_device(entity_registry, device.id)
        )
        for device in devices
    }
    assert by_device["ThermoSmart bridge"] == [
        "binary_sensor.thermosmart_bridge_boiler_link",
        "sensor.thermosmart_bridge_last_data_sent_off_the_lan",
    ]
    assert "climate.thermosmart" in by_device["ThermoSmart"]
    assert "water_heater.thermosmart_boiler_hot_water" in by_device["ThermoSmart boiler"]
