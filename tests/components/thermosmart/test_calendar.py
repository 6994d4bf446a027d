"""The schedule calendar against a real bridge on a virtual clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

from homeassistant.components.calendar import DOMAIN as CALENDAR_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from bridge.core.schedule import iter_blocks
from bridge.daemon import Bridge
from custom_components.thermosmart.client import ThermoSmartConnectionError

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


async def test_event_is_the_block_the_bridge_pushed(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    """The block in force comes with the bridge's push; no schedule is resolved here."""
    await setup_integration(hass, config_entry)
    pushed = bridge.native_state()["thermostat"]
    current, upcoming = pushed["current_block"], pushed["next_block"]
    calendar = hass.data[CALENDAR_DOMAIN].get_entity(CALENDAR)
    # the bridge's clock is virtual: look at the entity at the bridge's time (no await inside)
    with patch("homeassistant.util.dt.utcnow", return_value=_utc(bridge.clock.time())):
        event = calendar.event
    assert event is not None
    assert event.summary == LABELS[current["program"]]
    assert event.start == datetime.fromisoformat(current["start"])
    assert event.end == datetime.fromisoformat(current["end"])
    # Home Assistant's clock passed the block's end before the bridge's next push: the next one
    later = datetime.fromisoformat(current["end"]) + timedelta(minutes=1)
    with patch("homeassistant.util.dt.utcnow", return_value=later):
        event = calendar.event
    assert event is not None
    assert event.summary == LABELS[upcoming["program"]]
    assert event.start == datetime.fromisoformat(upcoming["start"])
    # and the entity's state is built from the pushed block
    await bridge.thermostat.update({"exceptions": []})  # a change to push
    await hass.async_block_till_done()
    assert hass.states.get(CALENDAR) is not None


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


async def test_events_come_from_the_bridges_blocks_route(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    """Six weeks (more than one request may span) are asked of the bridge in pieces."""
    await setup_integration(hass, config_entry)
    client = config_entry.runtime_data.client
    with patch.object(client, "schedule_blocks", wraps=client.schedule_blocks) as route:
        events = await _events(hass, "2026-03-02T00:00:00+01:00", "2026-04-13T00:00:00+02:00")
    assert route.call_count == 2
    start = datetime(2026, 3, 2, tzinfo=AMSTERDAM)
    end = datetime(2026, 4, 13, tzinfo=AMSTERDAM)
    core = bridge.thermostat.state
    expected = list(iter_blocks(core.schedule, core.exceptions, start, end, core.tz))
    assert [(e["start"], e["end"]) for e in events] == [
        (b.start.astimezone(AMSTERDAM).isoformat(), b.end.astimezone(AMSTERDAM).isoformat())
        for b in expected
    ]
    # a bridge that does not answer is an error, not an empty calendar
    with (
        patch.object(client, "schedule_blocks", side_effect=ThermoSmartConnectionError("gone")),
        pytest.raises(HomeAssistantError, match="gone"),
    ):
        await _events(hass, "2026-03-02T00:00:00+01:00", "2026-03-03T00:00:00+01:00")


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
