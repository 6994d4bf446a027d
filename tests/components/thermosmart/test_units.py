"""ThermoSmart wall units in Home Assistant: a real bridge on a unit link, a simulated unit
polling it over loopback, and the integration on that bridge.

The bridge runs on a virtual clock (see ``tests/bridge/unit_rig.py``); the
unit polls when a test moves the clock, and every change reaches Home
Assistant by the bridge's push.
"""

from __future__ import annotations

import json
from pathlib import Path

from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.components.select import ATTR_OPTION, SERVICE_SELECT_OPTION
from homeassistant.components.water_heater import WaterHeaterEntityFeature
from homeassistant.const import ATTR_ENTITY_ID, ATTR_SUPPORTED_FEATURES, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bridge.core.clock import VirtualClock
from bridge.daemon import Bridge
from bridge.opentherm.sim.world import SimWorld
from bridge.unit.sim import SimUnit
from custom_components.thermosmart import async_remove_config_entry_device
from custom_components.thermosmart.const import DOMAIN
from custom_components.thermosmart.diagnostics import async_get_device_diagnostics
from custom_components.thermosmart.units import unit_issue_id
from tests.bridge.unit_rig import HWID, PASSWORD, START, Rig, register, settle, unit_bridge

from .conftest import entry_for, setup_integration, wait_until

SECOND = "TS654321"
SECOND_PASSWORD = "other-pw"


@pytest.fixture
def rig(unit_rig: Rig) -> Rig:
    """The bridge on a unit link with one registered unit that has polled."""
    return unit_rig


@pytest.fixture
def bridge(rig: Rig) -> Bridge:
    """The config entry's bridge is the rig's."""
    return rig.bridge


def unit_entity(hass: HomeAssistant, bridge: Bridge, hardware_id: str, key: str) -> str:
    """The entity id of a unit's entity, by its unique id."""
    platform = {
        "connectivity": "binary_sensor",
        "room_temperature": "sensor",
        "unit_brightness": "number",
        "unit_calibration": "number",
        "unit_poll_throttle": "number",
        "unit_status_led": "select",
        "unit_display": "select",
        "unit_language": "select",
    }[key]
    entity_id = er.async_get(hass).async_get_entity_id(
        platform, DOMAIN, f"{bridge.bridge_id}_unit_{hardware_id}_{key}"
    )
    assert entity_id is not None, (hardware_id, key)
    return entity_id


def unit_device(hass: HomeAssistant, bridge: Bridge, hardware_id: str) -> dr.DeviceEntry | None:
    return dr.async_get(hass).async_get_device(
        identifiers={(DOMAIN, f"{bridge.bridge_id}_unit_{hardware_id}")}
    )


async def test_a_unit_is_a_device_of_its_own_with_its_entities(
    hass: HomeAssistant, rig: Rig, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    bridge = rig.bridge
    device = unit_device(hass, bridge, HWID)
    assert device is not None
    assert device.manufacturer == "ThermoSmart"
    assert device.model == "Wall unit (revision 5)"
    assert device.sw_version == rig.unit.firmware
    assert device.serial_number == HWID
    assert device.name == f"Wall unit {HWID}"
    bridge_device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, bridge.bridge_id)})
    assert bridge_device is not None
    assert device.via_device_id == bridge_device.id
    entities = {
        e.unique_id.removeprefix(f"{bridge.bridge_id}_unit_{HWID}_")
        for e in er.async_entries_for_device(er.async_get(hass), device.id)
    }
    assert entities == {
        "connectivity",
        "room_temperature",
        "unit_brightness",
        "unit_calibration",
        "unit_poll_throttle",
        "unit_status_led",
        "unit_display",
        "unit_language",
        "unit_pid_tuning",
    }
    assert hass.states.get(unit_entity(hass, bridge, HWID, "connectivity")).state == "on"
    room = hass.states.get(unit_entity(hass, bridge, HWID, "room_temperature"))
    assert float(room.state) == bridge.native_state()["units"][0]["room_temperature"]
    assert room.attributes["unit_of_measurement"] == "°C"
    # unset settings: the unit keeps its own, Home Assistant does not know them
    assert hass.states.get(unit_entity(hass, bridge, HWID, "unit_language")).state == "unknown"
    brightness = hass.states.get(unit_entity(hass, bridge, HWID, "unit_brightness"))
    assert brightness.state == "unknown"
    assert brightness.attributes["unit_of_measurement"] == "%"
    calibration = hass.states.get(unit_entity(hass, bridge, HWID, "unit_calibration"))
    assert (calibration.attributes["min"], calibration.attributes["max"]) == (-2.5, 2.5)
    assert calibration.attributes["step"] == 0.1
    language = hass.states.get(unit_entity(hass, bridge, HWID, "unit_language"))
    assert language.attributes["options"] == ["nl_nl", "nl_be", "de_de", "fr_fr", "fr_be", "en_gb"]


async def test_the_unit_device_diagnostics_show_the_unit_and_its_settings(
    hass: HomeAssistant, rig: Rig, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    device = unit_device(hass, rig.bridge, HWID)
    assert device is not None
    found = await async_get_device_diagnostics(hass, config_entry, device)
    assert found["device"] == "unit"
    assert found["unit"]["revision"] == 5
    assert found["unit"]["hardware_id"] == "**REDACTED**"
    assert found["settings"]["unit_language"] is None
    assert PASSWORD not in json.dumps(found)


async def test_with_a_unit_no_flow_limit_and_no_hot_water_temperature(
    hass: HomeAssistant, rig: Rig, config_entry: MockConfigEntry
) -> None:
    """The unit drives the boiler: the bridge refuses both, so neither is offered."""
    await setup_integration(hass, config_entry)
    registry = er.async_get(hass)
    assert (
        registry.async_get_entity_id(
            "number", DOMAIN, f"{rig.bridge.bridge_id}_max_ch_setpoint_limit"
        )
        is None
    )
    # the boiler's sensors come from the unit's OpenTherm values
    assert registry.async_get_entity_id(
        "sensor", DOMAIN, f"{rig.bridge.bridge_id}_flow_temperature"
    )
    # hot water: on and off (the bridge's dhw_enable), no temperature
    heater_id = registry.async_get_entity_id("water_heater", DOMAIN, f"{rig.bridge.bridge_id}_dhw")
    assert heater_id is not None
    features = hass.states.get(heater_id).attributes[ATTR_SUPPORTED_FEATURES]
    assert not features & WaterHeaterEntityFeature.TARGET_TEMPERATURE
    assert features & WaterHeaterEntityFeature.ON_OFF


async def test_settings_reach_the_bridge_and_the_unit_on_its_next_poll(
    hass: HomeAssistant, rig: Rig, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    bridge = rig.bridge
    language = unit_entity(hass, bridge, HWID, "unit_language")
    await hass.services.async_call(
        "select",
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: language, ATTR_OPTION: "en_gb"},
        blocking=True,
    )
    display = unit_entity(hass, bridge, HWID, "unit_display")
    await hass.services.async_call(
        "select",
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: display, ATTR_OPTION: "clock"},
        blocking=True,
    )
    for key, value in (("unit_brightness", 40), ("unit_calibration", -0.5)):
        await hass.services.async_call(
            "number",
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: unit_entity(hass, bridge, HWID, key), ATTR_VALUE: value},
            blocking=True,
        )
    options = bridge.thermostat.options()
    assert options["unit_language"] == "en-GB"
    assert options["unit_display"] == "clock"
    assert options["unit_brightness"] == 40
    assert options["unit_calibration"] == -0.5
    assert hass.states.get(language).state == "en_gb"
    assert hass.states.get(unit_entity(hass, bridge, HWID, "unit_brightness")).state == "40"
    await rig.run(5)
    settings = rig.unit.settings
    assert settings.locale == "en-GB"
    assert settings.display == 1
    assert settings.brightness == 40
    assert settings.calibration == -0.5


async def test_a_refused_setting_is_a_translated_error_and_changes_nothing(
    hass: HomeAssistant, rig: Rig, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    brightness = unit_entity(hass, rig.bridge, HWID, "unit_brightness")
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            "number",
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: brightness, ATTR_VALUE: 40.5},
            blocking=True,
        )
    assert caught.value.translation_key == "invalid_request"
    assert "unit_brightness" in str(caught.value)
    assert rig.bridge.thermostat.options()["unit_brightness"] is None
    assert hass.states.get(brightness).state == "unknown"


async def test_a_silent_unit_goes_unavailable_with_an_issue_until_it_polls_again(
    hass: HomeAssistant, rig: Rig, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    bridge = rig.bridge
    connectivity = unit_entity(hass, bridge, HWID, "connectivity")
    room = unit_entity(hass, bridge, HWID, "room_temperature")
    language = unit_entity(hass, bridge, HWID, "unit_language")
    issue = unit_issue_id(config_entry.entry_id, HWID)
    for _ in range(20):  # 200 s without a poll; the bridge looks every 10 s
        await rig.clock.advance(10)
        await settle()
    await wait_until(hass, lambda: hass.states.get(connectivity).state == "off")
    assert hass.states.get(room).state == STATE_UNAVAILABLE
    assert hass.states.get(language).state == STATE_UNAVAILABLE
    registered = ir.async_get(hass).async_get_issue(DOMAIN, issue)
    assert registered is not None
    assert registered.translation_key == "unit_offline"
    assert registered.translation_placeholders is not None
    assert registered.translation_placeholders["hardware_id"] == HWID

    await rig.run(5)
    await wait_until(hass, lambda: hass.states.get(connectivity).state == "on")
    assert hass.states.get(room).state != STATE_UNAVAILABLE
    assert hass.states.get(language).state == "unknown"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue) is None


async def test_a_unit_silent_since_the_bridge_restarted_raises_the_issue(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    data = tmp_path / "restarted"
    await register(data)
    clock = VirtualClock(START)
    unit = SimUnit(SimWorld(seed=4, start=START), hardware_id=HWID, password=PASSWORD)
    async with unit_bridge(data, clock) as first:
        before = Rig(first, clock, unit)
        await before.run(10)
        await before.close()
    async with unit_bridge(data, clock) as bridge:  # the unit does not poll again
        token = (await bridge.db.auth.create_token("Home Assistant")).token
        entry = entry_for(bridge, token)
        await setup_integration(hass, entry)
        connectivity = unit_entity(hass, bridge, HWID, "connectivity")
        issue = unit_issue_id(entry.entry_id, HWID)
        # just after the start: not known yet, and no issue
        assert hass.states.get(connectivity).state == "unknown"
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue) is None
        for _ in range(20):  # 200 s without a poll; the bridge looks every 10 s
            await clock.advance(10)
            await settle()
        await wait_until(hass, lambda: hass.states.get(connectivity).state == "off")
        registered = ir.async_get(hass).async_get_issue(DOMAIN, issue)
        assert registered is not None
        assert registered.translation_placeholders is not None
        # the first poll of the bridge's previous run (the next would be kept a minute later)
        assert registered.translation_placeholders["last_seen"] == "2026-01-01T00:00:05+00:00"
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_unit_registered_while_running_becomes_a_device_and_goes_when_removed(
    hass: HomeAssistant, rig: Rig, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    bridge = rig.bridge
    await bridge.db.units.add(SECOND, SECOND_PASSWORD)  # as `unit add` does
    await rig.run(10)  # the bridge re-reads its registrations every 10 s
    second = SimUnit(
        SimWorld(seed=5, start=START), hardware_id=SECOND, password=SECOND_PASSWORD, revision=3
    )
    rig.others.append(second)
    await rig.run(15)
    await wait_until(hass, lambda: unit_device(hass, bridge, SECOND) is not None)
    device = unit_device(hass, bridge, SECOND)
    assert device is not None
    assert device.model == "Wall unit (revision 3)"
    assert device.sw_version == second.firmware
    keys = {
        e.unique_id.removeprefix(f"{bridge.bridge_id}_unit_{SECOND}_")
        for e in er.async_entries_for_device(er.async_get(hass), device.id)
    }
    assert keys == {"connectivity", "room_temperature"}  # the settings are the house unit's
    await wait_until(
        hass,
        lambda: hass.states.get(unit_entity(hass, bridge, SECOND, "connectivity")).state == "on",
    )

    # a registered unit's device cannot be deleted by hand
    assert not await async_remove_config_entry_device(hass, config_entry, device)

    assert await bridge.db.units.remove(SECOND)
    rig.others.clear()
    await rig.run(10)
    await wait_until(hass, lambda: unit_device(hass, bridge, SECOND) is None)
    assert not er.async_entries_for_device(er.async_get(hass), device.id)
    assert unit_device(hass, bridge, HWID) is not None
    # one left behind (say, removed while Home Assistant was down) can be
    assert await async_remove_config_entry_device(hass, config_entry, device)


async def test_unloading_the_entry_drops_the_silent_unit_issue(
    hass: HomeAssistant, rig: Rig, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    connectivity = unit_entity(hass, rig.bridge, HWID, "connectivity")
    for _ in range(20):
        await rig.clock.advance(10)
        await settle()
    await wait_until(hass, lambda: hass.states.get(connectivity).state == "off")
    issue = unit_issue_id(config_entry.entry_id, HWID)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue) is not None
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue) is None
