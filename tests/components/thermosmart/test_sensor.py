"""Sensors against a real bridge on a virtual clock."""

from __future__ import annotations

from typing import Any, cast
from unittest.mock import patch

from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from bridge.core.clock import VirtualClock
from bridge.core.payloads.native import NoPredictions, Predictions
from bridge.daemon import Bridge
from bridge.opentherm.links.sim import SimLink

from .conftest import setup_integration, setup_platform, wait_until

GAS = "sensor.thermosmart_boiler_estimated_gas_use"


@pytest.fixture
def bridge(virtual_bridge: Bridge) -> Bridge:
    """These tests run on the virtual clock."""
    return virtual_bridge


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_snapshot(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await setup_platform(hass, config_entry, Platform.SENSOR)
    await snapshot_platform(hass, entity_registry, snapshot, config_entry.entry_id)


async def test_noisy_sensors_are_disabled_by_default(
    hass: HomeAssistant, config_entry: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    await setup_platform(hass, config_entry, Platform.SENSOR)
    disabled = {
        entry.translation_key
        for entry in er.async_entries_for_config_entry(entity_registry, config_entry.entry_id)
        if entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    }
    assert disabled == {
        "ch_pump_starts",
        "dhw_pump_starts",
        "dhw_burner_starts",
        "ch_pump_hours",
        "dhw_pump_hours",
        "dhw_burner_hours",
        "oem_diagnostic_code",
    }


def _float(hass: HomeAssistant, entity_id: str) -> float:
    state = hass.states.get(entity_id)
    assert state is not None
    return float(state.state)


ENERGY = {
    GAS: "gas_kwh",
    "sensor.thermosmart_boiler_gas_use_heating": "ch_gas_kwh",
    "sensor.thermosmart_boiler_gas_use_hot_water": "dhw_gas_kwh",
    "sensor.thermosmart_boiler_heat_delivered_heating": "ch_heat_kwh",
    "sensor.thermosmart_boiler_heat_delivered_hot_water": "dhw_heat_kwh",
}


async def _heat_for(hass: HomeAssistant, bridge: Bridge, seconds: int) -> None:
    clock = cast(VirtualClock, bridge.clock)
    for _ in range(seconds // 15):  # letting the pushes through as they come
        await clock.advance(15)
        await hass.async_block_till_done()


async def test_energy_sensors_show_the_bridges_counters(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    for entity_id in ENERGY:
        state = hass.states.get(entity_id)
        assert state is not None, entity_id
        assert state.attributes["state_class"] == "total_increasing"
        assert state.attributes["device_class"] == "energy"
        assert state.attributes["unit_of_measurement"] == "kWh"
    link = bridge.link
    assert isinstance(link, SimLink)
    boiler = link.world.boiler
    gas_before = boiler.gas_ch_j + boiler.gas_dhw_j
    shown_before = _float(hass, GAS)
    await config_entry.runtime_data.client.set_target_temperature(24.0)
    await _heat_for(hass, bridge, 900)
    gas_kwh = (boiler.gas_ch_j + boiler.gas_dhw_j - gas_before) / 3.6e6
    assert gas_kwh > 0.5  # the burner really ran

    def shown_is_the_bridges() -> bool:
        energy = bridge.native_state()["energy"]
        return _float(hass, GAS) == round(energy["ch_gas_kwh"] + energy["dhw_gas_kwh"], 3)

    await wait_until(hass, shown_is_the_bridges)
    energy = bridge.native_state()["energy"]
    # the bridge's samples (every 60 s; the output of one holds until the next) against
    # the simulated boiler's own gas meter
    assert _float(hass, GAS) - shown_before == pytest.approx(gas_kwh, rel=0.2)
    for entity_id, key in ENERGY.items():
        if key != "gas_kwh":
            assert _float(hass, entity_id) == energy[key]
    assert _float(hass, "sensor.thermosmart_boiler_heat_delivered_heating") < _float(
        hass, "sensor.thermosmart_boiler_gas_use_heating"
    )


async def test_energy_counted_while_home_assistant_was_away(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    """The bridge counts with no client connected; Home Assistant catches up when back."""
    await setup_integration(hass, config_entry)
    await config_entry.runtime_data.client.set_target_temperature(24.0)
    await _heat_for(hass, bridge, 120)
    before = _float(hass, GAS)
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    await cast(VirtualClock, bridge.clock).advance(600)  # ten minutes of heating, nobody looking
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert _float(hass, GAS) > before + 0.5


async def test_outside_temperature_appears_when_the_bridge_has_one(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    entity_id = "sensor.thermosmart_outside_temperature"
    assert hass.states.get(entity_id) is None  # the simulated boiler has no outside sensor
    await bridge.thermostat.update({"outside_temperature": 3.5})
    await wait_until(hass, lambda: hass.states.get(entity_id) is not None)
    assert _float(hass, entity_id) == 3.5


LEARNING = (
    "sensor.thermosmart_learning_progress",
    "sensor.thermosmart_heat_loss_coefficient",
    "sensor.thermosmart_time_constant",
    "sensor.thermosmart_time_to_target",
)
NOT_YET = Predictions(available=False, status="learning", updated=None, predictions=NoPredictions())


async def test_learning_outputs_appear_when_the_bridge_has_them(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    with patch.object(bridge.thermostat, "predictions_model", return_value=NOT_YET):
        await setup_integration(hass, config_entry)
        assert all(hass.states.get(name) is None for name in LEARNING)
    # the next change the bridge pushes carries its predictions
    await bridge.thermostat.update({"target_temperature": 21.0}, remote=False)
    await wait_until(hass, lambda: all(hass.states.get(name) is not None for name in LEARNING))
    values = bridge.thermostat.predictions()["predictions"]
    assert [_float(hass, name) for name in LEARNING] == [
        values["progress"],
        values["heat_loss_w_per_k"],
        values["time_constant_h"],
        pytest.approx(values["time_to_target_s"] / 60),  # shown in minutes
    ]


PREDICTIONS: dict[str, Any] = {
    "available": True,
    "status": "ready",
    "updated": 1767226200.0,
    "predictions": {
        "progress": 80,
        "heat_loss_w_per_k": 212.5,
        "time_constant_h": 31.4,
        "time_to_target_s": 5400,
        "optimal_start": {"start_ts": 1767244200.0, "arrival_ts": 1767245400.0},
    },
}


async def test_values_go_unknown_when_the_boiler_stops_answering(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    flow = "sensor.thermosmart_boiler_flow_temperature"
    assert _float(hass, flow) > 0
    link = bridge.link
    assert isinstance(link, SimLink)
    await link.stop()  # the adapter goes away: the bridge marks every value stale
    await cast(VirtualClock, bridge.clock).advance(5)
    await wait_until(hass, lambda: hass.states.get(flow).state == STATE_UNAVAILABLE)  # type: ignore[union-attr]
    link_state = hass.states.get("binary_sensor.thermosmart_bridge_boiler_link")
    assert link_state is not None
    assert link_state.state == "off"  # the bridge itself is still there
