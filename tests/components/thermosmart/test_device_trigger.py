"""Boiler fault events and the boiler's device triggers, with automations that fire."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

from homeassistant.components import automation
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
    async_get_device_automations,
)

from bridge.core.clock import VirtualClock
from bridge.daemon import Bridge
from bridge.opentherm.links.sim import SimLink
from bridge.opentherm.sim.boiler_spec import OemCode
from custom_components.thermosmart.client import Faults
from custom_components.thermosmart.const import DOMAIN
from custom_components.thermosmart.device_trigger import async_get_triggers
from custom_components.thermosmart.faults import EVENT_BOILER_FAULT, FAULT_SETTLE

from .conftest import setup_integration, wait_until


@pytest.fixture
def bridge(virtual_bridge: Bridge) -> Bridge:
    """These tests run on the virtual clock."""
    return virtual_bridge


def _device(hass: HomeAssistant, bridge: Bridge, suffix: str) -> dr.DeviceEntry:
    ident = bridge.bridge_id if not suffix else f"{bridge.bridge_id}_{suffix}"
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, ident)})
    assert device is not None
    return device


async def _advance(bridge: Bridge, seconds: float = 30) -> None:
    await cast(VirtualClock, bridge.clock).advance(seconds)


async def _settle(
    hass: HomeAssistant, entry: MockConfigEntry, shown: Callable[[Faults], bool]
) -> None:
    """Wait until Home Assistant has the faults, then let them hold still."""

    def arrived() -> bool:
        faults = entry.runtime_data.coordinator.data.faults
        return faults is not None and shown(faults)

    await wait_until(hass, arrived)
    async_fire_time_changed(hass, dt_util.utcnow() + FAULT_SETTLE + timedelta(seconds=1))
    await hass.async_block_till_done()


def _boiler(bridge: Bridge) -> Any:
    link = bridge.link
    assert isinstance(link, SimLink)
    return link.world.boiler


async def test_boiler_has_fault_triggers(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    boiler = _device(hass, bridge, "boiler")
    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, boiler.id)
    ours = [t for t in triggers if t["domain"] == DOMAIN]
    assert sorted(t["type"] for t in ours) == ["boiler_fault", "boiler_fault_cleared"]
    assert all(t["device_id"] == boiler.id and t["platform"] == "device" for t in ours)

    # the bridge and the thermostat have none; nor has an unknown device
    for device in (_device(hass, bridge, ""), _device(hass, bridge, "thermostat")):
        assert await async_get_triggers(hass, device.id) == []
    assert await async_get_triggers(hass, "no-such-device") == []


async def test_automations_fire_on_fault_and_clear(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    boiler = _device(hass, bridge, "boiler")
    calls: list[ServiceCall] = []

    async def record(call: ServiceCall) -> None:
        calls.append(call)

    hass.services.async_register("test", "notify", record)
    assert await async_setup_component(
        hass,
        automation.DOMAIN,
        {
            automation.DOMAIN: [
                {
                    "triggers": {
                        "trigger": "device",
                        "domain": DOMAIN,
                        "device_id": boiler.id,
                        "type": kind,
                    },
                    "actions": {
                        "action": "test.notify",
                        "data": {
                            "kind": kind,
                            "code": "{{ trigger.event.data.oem_fault_code }}",
                            "faults": "{{ trigger.event.data.faults | join(',') }}",
                        },
                    },
                }
                for kind in ("boiler_fault", "boiler_fault_cleared")
            ]
        },
    )
    events = async_capture_events(hass, EVENT_BOILER_FAULT)

    _boiler(bridge).force_lockout(OemCode.IGNITION_FAILURE)
    await _advance(bridge)
    await _settle(hass, config_entry, lambda f: f.oem_diagnostic_code == 100)
    assert len(calls) == 1
    assert calls[0].data == {
        "kind": "boiler_fault",
        "code": 1,
        "faults": "fault,gas_flame_fault",
    }
    assert events[0].data == {
        "device_id": boiler.id,
        "config_entry_id": config_entry.entry_id,
        "type": "fault",
        "faults": ["fault", "gas_flame_fault"],
        "oem_fault_code": 1,
        "oem_diagnostic_code": 100,
    }

    # more pushes with the same fault fire nothing more
    await _advance(bridge, 60)
    await _settle(hass, config_entry, lambda f: bool(f.fault))
    assert len(events) == 1

    _boiler(bridge).reset_lockout()
    await _advance(bridge)
    await _settle(hass, config_entry, lambda f: not f.active)
    assert len(calls) == 2
    assert calls[1].data["kind"] == "boiler_fault_cleared"
    assert events[-1].data["type"] == "cleared"
    assert events[-1].data["faults"] == []
    assert len(events) == 2


async def test_a_second_fault_fires_again(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    events = async_capture_events(hass, EVENT_BOILER_FAULT)
    _boiler(bridge).set_pressure(0.3)
    await _advance(bridge)
    await _settle(hass, config_entry, lambda f: f.oem_diagnostic_code == 1000)
    assert len(events) == 1
    assert events[0].data["faults"] == ["fault", "low_water_pressure"]
    assert events[0].data["oem_fault_code"] == 10

    # a lockout on top is news: it fires again with both
    _boiler(bridge).force_lockout(OemCode.FLAME_LOSS)
    await _advance(bridge)
    await _settle(hass, config_entry, lambda f: f.oem_fault_code == 2)
    assert len(events) == 2
    assert events[1].data["type"] == "fault"
    assert "gas_flame_fault" in events[1].data["faults"]
    assert events[1].data["oem_fault_code"] == 2


async def test_fault_already_there_at_setup_fires_nothing(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    _boiler(bridge).force_lockout()
    await _advance(bridge)
    events = async_capture_events(hass, EVENT_BOILER_FAULT)
    await setup_integration(hass, config_entry)
    await _advance(bridge)
    await _settle(hass, config_entry, lambda f: bool(f.fault))
    assert events == []


async def test_fault_that_clears_at_once_fires_nothing(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    events = async_capture_events(hass, EVENT_BOILER_FAULT)
    _boiler(bridge).set_pressure(0.3)
    await _advance(bridge)
    await wait_until(
        hass,
        lambda: config_entry.runtime_data.coordinator.data.faults.fault,  # type: ignore[union-attr]
    )
    _boiler(bridge).set_pressure(1.8)
    await _advance(bridge)
    await _settle(hass, config_entry, lambda f: not f.active)
    assert events == []


async def test_unload_drops_a_waiting_event(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    events = async_capture_events(hass, EVENT_BOILER_FAULT)
    _boiler(bridge).force_lockout()
    await _advance(bridge)
    await wait_until(
        hass,
        lambda: config_entry.runtime_data.coordinator.data.faults.fault,  # type: ignore[union-attr]
    )
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    async_fire_time_changed(hass, dt_util.utcnow() + FAULT_SETTLE + timedelta(seconds=1))
    await hass.async_block_till_done()
    assert events == []
