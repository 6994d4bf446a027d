"""The outside temperature of a Home Assistant entity, pushed to a real bridge."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
import logging
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_UNIT_OF_MEASUREMENT,
    EVENT_HOMEASSISTANT_STARTED,
)
from homeassistant.core import CoreState, HomeAssistant, State
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bridge.daemon import Bridge
from custom_components.thermosmart.const import CONF_OUTSIDE_ENTITY, DOMAIN
from custom_components.thermosmart.outside import outside_celsius

from .conftest import setup_integration, wait_until

LOGGER_NAME = "custom_components.thermosmart"
GARDEN = "sensor.garden"
CELSIUS = {ATTR_UNIT_OF_MEASUREMENT: "°C", ATTR_DEVICE_CLASS: "temperature"}
FAHRENHEIT = {ATTR_UNIT_OF_MEASUREMENT: "°F", ATTR_DEVICE_CLASS: "temperature"}


@pytest.fixture
def bridge(virtual_bridge: Bridge) -> Bridge:
    """These tests run on the virtual clock."""
    return virtual_bridge


@pytest.fixture(autouse=True)
def fast_repush() -> Iterator[None]:
    """Push again every 50 ms instead of every 15 minutes."""
    with patch("custom_components.thermosmart.outside.REPUSH_INTERVAL", timedelta(milliseconds=50)):
        yield


def _entry(config_entry: MockConfigEntry, entity_id: str) -> MockConfigEntry:
    """The test's entry, with ``entity_id`` chosen for the outside temperature."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=config_entry.title,
        unique_id=config_entry.unique_id,
        data=dict(config_entry.data),
        options={CONF_OUTSIDE_ENTITY: entity_id},
    )


def _outside(bridge: Bridge) -> tuple[Any, Any]:
    view = bridge.thermostat.thermostat_state()
    return view["outside_temperature"], view["outside_temperature_source"]


def _records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER_NAME and r.levelno == level]


def _issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"outside_entity_missing_{entry.entry_id}")


@pytest.mark.parametrize(
    ("entity_id", "state", "attributes", "expected"),
    [
        ("sensor.t", "12.5", CELSIUS, 12.5),
        ("sensor.t", "50", FAHRENHEIT, 10.0),
        ("sensor.t", "273.15", {ATTR_UNIT_OF_MEASUREMENT: "K"}, 0.0),
        ("sensor.t", "-4.25", CELSIUS, -4.25),
        ("sensor.t", "unknown", CELSIUS, None),
        ("sensor.t", "unavailable", CELSIUS, None),
        ("sensor.t", "warm", CELSIUS, None),
        ("sensor.t", "nan", CELSIUS, None),
        ("sensor.t", "12", {}, None),
        ("sensor.t", "12", {ATTR_UNIT_OF_MEASUREMENT: "%"}, None),
        ("weather.home", "sunny", {"temperature": 50, "temperature_unit": "°F"}, 10.0),
        ("weather.home", "rainy", {"temperature": 7.5, "temperature_unit": "°C"}, 7.5),
        ("weather.home", "rainy", {"temperature_unit": "°C"}, None),
        ("weather.home", "rainy", {"temperature": True, "temperature_unit": "°C"}, None),
        ("weather.home", "unavailable", {"temperature": 5, "temperature_unit": "°C"}, None),
    ],
)
def test_outside_celsius(
    entity_id: str, state: str, attributes: dict[str, Any], expected: float | None
) -> None:
    assert outside_celsius(State(entity_id, state, attributes)) == expected


async def test_pushes_at_setup_and_on_every_change(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    hass.states.async_set(GARDEN, "4.5", CELSIUS)
    entry = await setup_integration(hass, _entry(config_entry, GARDEN))
    await wait_until(hass, lambda: _outside(bridge) == (4.5, "pushed"))
    # changes while a push is under way: only the newest follows it
    for value in ("1", "2", "41"):
        hass.states.async_set(GARDEN, value, FAHRENHEIT)
    await wait_until(hass, lambda: _outside(bridge) == (5.0, "pushed"))
    # the sensor entity of the integration shows what the bridge uses
    await wait_until(
        hass,
        lambda: (
            getattr(hass.states.get("sensor.thermosmart_outside_temperature"), "state", None)
            == "5.0"
        ),
    )
    # an unavailable sensor is skipped: the bridge keeps the last good value
    hass.states.async_set(GARDEN, "unavailable", CELSIUS)
    await hass.async_block_till_done()
    assert _outside(bridge) == (5.0, "pushed")
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_weather_entity(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    hass.states.async_set("weather.home", "cloudy", {"temperature": 23, "temperature_unit": "°F"})
    entry = await setup_integration(hass, _entry(config_entry, "weather.home"))
    await wait_until(hass, lambda: _outside(bridge) == (-5.0, "pushed"))
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_pushes_again_while_the_value_holds_still(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    """The bridge forgets a pushed value after 3 hours: an unchanged one is pushed again."""
    hass.states.async_set(GARDEN, "8", CELSIUS)
    entry = await setup_integration(hass, _entry(config_entry, GARDEN))
    await wait_until(hass, lambda: _outside(bridge) == (8.0, "pushed"))
    # what the bridge had is gone (as after 3 hours); only the timer brings it back
    await bridge.thermostat.update({"outside_temperature": "auto"})
    assert _outside(bridge) == (None, None)
    await wait_until(hass, lambda: _outside(bridge) == (8.0, "pushed"))
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_an_attribute_change_is_not_a_new_value(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    hass.states.async_set("weather.home", "cloudy", {"temperature": 6, "temperature_unit": "°C"})
    with patch("custom_components.thermosmart.outside.REPUSH_INTERVAL", timedelta(hours=1)):
        entry = await setup_integration(hass, _entry(config_entry, "weather.home"))
        await wait_until(hass, lambda: _outside(bridge) == (6.0, "pushed"))
        await bridge.thermostat.update({"outside_temperature": "auto"})
        hass.states.async_set(
            "weather.home", "rainy", {"temperature": 6, "temperature_unit": "°C", "humidity": 90}
        )
        hass.states.async_set(
            "weather.home", "rainy", {"temperature": 6.5, "temperature_unit": "°C"}
        )
        await wait_until(hass, lambda: _outside(bridge) == (6.5, "pushed"))
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_failing_push_logs_once_and_once_when_it_works_again(
    hass: HomeAssistant,
    bridge: Bridge,
    config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hass.states.async_set(GARDEN, "-60", CELSIUS)  # the bridge takes -50 to 60 °C
    with patch("custom_components.thermosmart.outside.REPUSH_INTERVAL", timedelta(hours=1)):
        entry = await setup_integration(hass, _entry(config_entry, GARDEN))
        await wait_until(hass, lambda: bool(_records(caplog, logging.WARNING)))
        hass.states.async_set(GARDEN, "-70", CELSIUS)
        await hass.async_block_till_done()
        hass.states.async_set(GARDEN, "2", CELSIUS)
        await wait_until(hass, lambda: bool(_records(caplog, logging.INFO)))
    assert _outside(bridge) == (2.0, "pushed")
    warnings = _records(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert "Cannot push the outside temperature of sensor.garden" in warnings[0]
    assert "outside_temperature" in warnings[0]  # the bridge's refusal names the field
    infos = [m for m in _records(caplog, logging.INFO) if "outside" in m]
    assert len(infos) == 1
    assert "works again" in infos[0]
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_missing_entity_raises_an_issue_until_it_is_back(
    hass: HomeAssistant,
    bridge: Bridge,
    config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = await setup_integration(hass, _entry(config_entry, GARDEN))
    issue = _issue(hass, entry)
    assert issue is not None
    assert issue.translation_key == "outside_entity_missing"
    assert issue.translation_placeholders == {"name": "ThermoSmart", "entity_id": GARDEN}
    # the timer looks again, but says it only once
    await asyncio.sleep(0.2)
    warnings = [m for m in _records(caplog, logging.WARNING) if GARDEN in m]
    assert len(warnings) == 1

    hass.states.async_set(GARDEN, "3", CELSIUS)
    await wait_until(hass, lambda: _outside(bridge) == (3.0, "pushed"))
    assert _issue(hass, entry) is None

    hass.states.async_remove(GARDEN)
    await hass.async_block_till_done()
    assert _issue(hass, entry) is not None
    # unloading drops the issue; the next setup looks again
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert _issue(hass, entry) is None


async def test_missing_only_counts_once_home_assistant_has_started(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    """While Home Assistant starts, other integrations may not have added the entity yet."""
    hass.set_state(CoreState.starting)
    entry = await setup_integration(hass, _entry(config_entry, GARDEN))
    await asyncio.sleep(0.2)  # the timer looks a few times
    assert _issue(hass, entry) is None
    hass.set_state(CoreState.running)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    await hass.async_block_till_done()
    assert _issue(hass, entry) is not None
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_unload_stops_the_feed(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    hass.states.async_set(GARDEN, "1", CELSIUS)
    entry = await setup_integration(hass, _entry(config_entry, GARDEN))
    await wait_until(hass, lambda: _outside(bridge) == (1.0, "pushed"))
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    hass.states.async_set(GARDEN, "9", CELSIUS)
    await hass.async_block_till_done()
    assert _outside(bridge) == (1.0, "pushed")


async def test_no_entity_no_feed(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    hass.states.async_set(GARDEN, "1", CELSIUS)
    await setup_integration(hass, config_entry)
    hass.states.async_set(GARDEN, "2", CELSIUS)
    await hass.async_block_till_done()
    assert _outside(bridge) == (None, None)
    assert _issue(hass, config_entry) is None
