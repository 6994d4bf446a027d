"""The schedule calendar against a real bridge on a virtual clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.components.calendar import DOMAIN as CALENDAR_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from bridge.core.schedule import block_at
from bridge.daemon import Bridge

from .conftest import setup_integration, wait_until

CALENDAR = "calendar.thermosmart_schedule"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
LABELS = {
    "anti_freeze": "Anti-freeze",
    "not_home": "Away",
    "home": "Home",
    "comfort": "Comfort",
    "pause": "Pause",
}


@pytest.fixture
def bridge(virtual_bridge: Bridge) -> Bridge:
    """These tests run on the virtual clock."""
    return virtual_bridge


async def _events(hass: HomeAssistant, start: str, end: str) -> list[dict[str, Any]]:
    response = await hass.services.async_call(
        CALENDAR_DOMAIN,
        "get_events",
        {ATTR_ENTITY_ID: CALENDAR, "start_date_time": start, "end_date_time": end},
        blocking=True,
        return_response=True,
    )
    events: list[dict[str, Any]] = response[CALENDAR]["events"]  # type: ignore[index]
    return events


def _wall(value: str) -> str:
    """An event time as the bridge's wall clock shows it: day and time."""
    return datetime.fromisoformat(value).astimezone(AMSTERDAM).strftime("%a %H:%M")


async def test_entry(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await setup_integration(hass, config_entry)
    assert entity_registry.async_get(CALENDAR) == snapshot


async def test_state_is_the_block_in_force_now(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    """The calendar's state follows Home Assistant's clock, not the bridge's."""
    await setup_integration(hass, config_entry)
    state = hass.states.get(CALENDAR)
    assert state is not None
    assert state.state == STATE_ON
    core = bridge.thermostat.state
    block = block_at(core.schedule, core.exceptions, dt_util.utcnow(), core.tz)
    assert state.attributes["message"] == LABELS[block.program]
    start = dt_util.as_local(block.start).replace(tzinfo=None)
    assert state.attributes["start_time"] == start.isoformat(sep=" ")


async def test_week_schedule(
    hass: HomeAssistant, config_entry: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    await setup_integration(hass, config_entry)
    # Monday 2026-03-23 to Monday 2026-03-30: clocks go forward on Sunday the 29th
    events = await _events(hass, "2026-03-23T00:00:00+01:00", "2026-03-30T00:00:00+02:00")
    assert events == snapshot
    summaries = {event["summary"] for event in events}
    assert summaries == {"Home", "Away"}
    # Sunday: home from 08:00 (already summer time) to 23:00
    sunday = [e for e in events if e["start"].startswith("2026-03-29T08:00")]
    assert len(sunday) == 1
    assert datetime.fromisoformat(sunday[0]["start"]).utcoffset() == timedelta(hours=2)


async def test_exceptions_cut_the_schedule(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    # a holiday from Tuesday 12:00 to Wednesday 10:00 (months count from 0)
    await bridge.thermostat.update(
        {
            "exceptions": [
                {
                    "start": [2026, 0, 6, 12, 0],
                    "end": [2026, 0, 7, 10, 0],
                    "temperature": "anti_freeze",
                    "description": "Skiing",
                }
            ]
        }
    )
    # the bridge pushes the new exception
    coordinator = config_entry.runtime_data.coordinator
    await wait_until(hass, lambda: len(coordinator.data.thermostat.exceptions) == 1)
    events = await _events(hass, "2026-01-06T00:00:00+01:00", "2026-01-08T00:00:00+01:00")
    local = [
        (_wall(e["start"]), _wall(e["end"]), e["summary"], e.get("description")) for e in events
    ]
    assert local == [
        ("Mon 22:30", "Tue 06:30", "Away", None),
        ("Tue 06:30", "Tue 08:30", "Home", None),
        ("Tue 08:30", "Tue 12:00", "Away", None),
        ("Tue 12:00", "Wed 10:00", "Anti-freeze", "Skiing"),
        ("Wed 10:00", "Wed 17:00", "Away", None),
        ("Wed 17:00", "Wed 22:30", "Home", None),
        ("Wed 22:30", "Thu 06:30", "Away", None),
    ]


async def test_follows_a_new_timezone_of_the_bridge(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    """A bridge moved to another timezone (its configuration) shows its schedule there."""
    await setup_integration(hass, config_entry)
    events = await _events(hass, "2026-01-05T00:00:00+00:00", "2026-01-06T00:00:00+00:00")
    assert events[1]["start"] == "2026-01-05T06:30:00+01:00"
    service = bridge.thermostat
    service.state = replace(service.state, timezone="Europe/London")
    await service.update({"target_temperature": 20.0}, remote=False)  # a change to push
    calendar = hass.data[CALENDAR_DOMAIN].get_entity(CALENDAR)
    await wait_until(hass, lambda: calendar._timezone_name == "Europe/London")
    events = await _events(hass, "2026-01-05T00:00:00+00:00", "2026-01-06T00:00:00+00:00")
    assert events[1]["start"] == "2026-01-05T06:30:00+00:00"
