"""The integration's actions against a real bridge on loopback."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from bridge.daemon import Bridge
from custom_components.thermosmart.client import (
    ThermoSmartResponseError,
    ThermoSmartValidationError,
)
from custom_components.thermosmart.const import DOMAIN

from .conftest import setup_integration

BRIDGE_ZONE = ZoneInfo("Europe/Amsterdam")
"""The simulated bridge's timezone (Home Assistant's tests run in US/Pacific)."""


async def _call(hass: HomeAssistant, entry: MockConfigEntry, service: str, **data: Any) -> None:
    await hass.services.async_call(
        DOMAIN, service, {ATTR_CONFIG_ENTRY_ID: entry.entry_id, **data}, blocking=True
    )


def _future_quarter(hours: float) -> datetime:
    """A time ``hours`` from now on a quarter hour, in the bridge's timezone."""
    when = (dt_util.utcnow() + timedelta(hours=hours)).astimezone(BRIDGE_ZONE)
    return when.replace(minute=when.minute - when.minute % 15, second=0, microsecond=0)


def _wall(when: datetime) -> list[int]:
    local = when.astimezone(BRIDGE_ZONE)
    return [local.year, local.month - 1, local.day, local.hour, local.minute]


def _exceptions(bridge: Bridge) -> list[dict[str, Any]]:
    exceptions: list[dict[str, Any]] = bridge.thermostat.cloud_object()["exceptions"]
    return exceptions


@pytest.fixture
async def entry(hass: HomeAssistant, config_entry: MockConfigEntry) -> MockConfigEntry:
    """The bridge, set up in Home Assistant."""
    return await setup_integration(hass, config_entry)


async def test_actions_are_registered_without_an_entry(hass: HomeAssistant) -> None:
    from homeassistant.helpers.service import async_get_all_descriptions
    from homeassistant.setup import async_setup_component

    assert await async_setup_component(hass, DOMAIN, {})
    assert set(hass.services.async_services_for_domain(DOMAIN)) == {
        "set_schedule",
        "add_exception",
        "clear_exceptions",
        "pause",
        "resume",
        "set_program_temperatures",
        "export",
        "erase",
    }
    # services.yaml loads, with a bridge selector on every action
    descriptions = await async_get_all_descriptions(hass)
    for description in descriptions[DOMAIN].values():
        assert description["fields"]["config_entry_id"]["selector"] == {
            "config_entry": {"integration": DOMAIN}
        }


async def test_set_schedule(hass: HomeAssistant, bridge: Bridge, entry: MockConfigEntry) -> None:
    await _call(
        hass,
        entry,
        "set_schedule",
        schedule=[
            {"day": "monday", "time": "06:30", "program": "home"},
            {"day": "Monday", "time": "22:45:00", "program": "not_home"},
            {"day": "saturday", "time": "08:00", "program": "comfort"},
        ],
    )
    assert bridge.thermostat.cloud_object()["schedule"] == [
        {"start": [0, 6, 30], "temperature": "home"},
        {"start": [0, 22, 45], "temperature": "not_home"},
        {"start": [5, 8, 0], "temperature": "comfort"},
    ]
    # Home Assistant shows the new schedule at once, without waiting for a read
    schedule = entry.runtime_data.coordinator.data.thermostat.schedule
    assert [(e.day, e.hour, e.minute, e.program) for e in schedule] == [
        (0, 6, 30, "home"),
        (0, 22, 45, "not_home"),
        (5, 8, 0, "comfort"),
    ]


@pytest.mark.parametrize(
    ("schedule", "key", "placeholders"),
    [
        (
            [{"day": "monday", "time": "06:10", "program": "home"}],
            "time_not_quarter",
            {"time": "monday 06:10"},
        ),
        (
            [
                {"day": "friday", "time": "07:00", "program": "home"},
                {"day": "friday", "time": "07:00:00", "program": "comfort"},
            ],
            "schedule_duplicate",
            {"time": "friday 07:00"},
        ),
    ],
)
async def test_set_schedule_refuses_what_the_bridge_would(
    hass: HomeAssistant,
    bridge: Bridge,
    entry: MockConfigEntry,
    schedule: list[dict[str, str]],
    key: str,
    placeholders: dict[str, str],
) -> None:
    before = bridge.thermostat.cloud_object()["schedule"]
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, entry, "set_schedule", schedule=schedule)
    assert err.value.translation_key == key
    assert err.value.translation_placeholders == placeholders
    assert placeholders["time"] in str(err.value)  # the message is translated and says where
    assert bridge.thermostat.cloud_object()["schedule"] == before


async def test_set_schedule_schema(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    for schedule in (
        [],
        [{"day": "someday", "time": "06:00", "program": "home"}],
        [{"day": "monday", "time": "06:00", "program": "party"}],
    ):
        with pytest.raises(vol.Invalid):
            await _call(hass, entry, "set_schedule", schedule=schedule)


async def test_add_exception_in_the_bridges_timezone(
    hass: HomeAssistant, bridge: Bridge, entry: MockConfigEntry
) -> None:
    start, end = _future_quarter(24), _future_quarter(72)
    # an offset-aware time, and a naive one meaning Home Assistant's timezone
    naive_end = end.astimezone(dt_util.get_default_time_zone()).replace(tzinfo=None)
    await _call(
        hass,
        entry,
        "add_exception",
        start=start.isoformat(),
        end=naive_end.isoformat(sep=" "),
        program="comfort",
        description="Family visit",
    )
    assert _exceptions(bridge) == [
        {
            "start": _wall(start),
            "end": _wall(end),
            "temperature": "comfort",
            "description": "Family visit",
        }
    ]
    # a second one keeps the first
    await _call(
        hass,
        entry,
        "add_exception",
        start=_future_quarter(100).isoformat(),
        end=_future_quarter(110).isoformat(),
        program="not_home",
    )
    found = _exceptions(bridge)
    assert [e["temperature"] for e in found] == ["comfort", "not_home"]
    assert found[1]["description"] == ""
    assert len(entry.runtime_data.coordinator.data.thermostat.exceptions) == 2


async def test_add_exception_that_has_begun(
    hass: HomeAssistant, bridge: Bridge, entry: MockConfigEntry
) -> None:
    await _call(
        hass,
        entry,
        "add_exception",
        start=_future_quarter(-2).isoformat(),
        end=_future_quarter(3).isoformat(),
        program="comfort",
    )
    assert bridge.thermostat.thermostat_state()["source"] == "exception"
    assert bridge.thermostat.thermostat_state()["program"] == "comfort"


@pytest.mark.parametrize(
    ("start", "end", "description", "key"),
    [
        (-30, -2, "", "exception_in_past"),
        (5, 4, "", "exception_end_before_start"),
        (5, 5, "", "exception_end_before_start"),
        (5, 8, "x" * 31, "description_too_long"),
    ],
)
async def test_add_exception_refusals(
    hass: HomeAssistant,
    bridge: Bridge,
    entry: MockConfigEntry,
    start: float,
    end: float,
    description: str,
    key: str,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            entry,
            "add_exception",
            start=_future_quarter(start).isoformat(),
            end=_future_quarter(end).isoformat(),
            program="home",
            description=description,
        )
    assert err.value.translation_key == key
    assert _exceptions(bridge) == []


async def test_add_exception_off_the_quarter_hour(
    hass: HomeAssistant, bridge: Bridge, entry: MockConfigEntry
) -> None:
    start = _future_quarter(5) + timedelta(minutes=7)
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            entry,
            "add_exception",
            start=start.isoformat(),
            end=_future_quarter(8).isoformat(),
            program="home",
        )
    assert err.value.translation_key == "time_not_quarter"
    assert err.value.translation_placeholders == {"time": f"{start:%Y-%m-%d %H:%M}"}


async def test_bridge_refusal_names_field_and_rule(
    hass: HomeAssistant, bridge: Bridge, entry: MockConfigEntry
) -> None:
    # the bridge keeps at most 100 exceptions; Home Assistant leaves that rule to it
    base = _future_quarter(24)
    full = [
        {
            "start": _wall(base + timedelta(hours=2 * i)),
            "end": _wall(base + timedelta(hours=2 * i + 1)),
            "temperature": "home",
        }
        for i in range(100)
    ]
    await bridge.thermostat.update({"exceptions": full})
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            entry,
            "add_exception",
            start=_future_quarter(400).isoformat(),
            end=_future_quarter(401).isoformat(),
            program="home",
        )
    assert err.value.translation_key == "invalid_request"
    assert err.value.translation_placeholders == {"error": "exceptions: at most 100 entries"}
    assert len(_exceptions(bridge)) == 100


async def test_clear_exceptions(
    hass: HomeAssistant, bridge: Bridge, entry: MockConfigEntry
) -> None:
    spans = [(24, 30), (48, 50), (72, 80)]
    for start, end in spans:
        await _call(
            hass,
            entry,
            "add_exception",
            start=_future_quarter(start).isoformat(),
            end=_future_quarter(end).isoformat(),
            program="comfort",
            description=f"from {start}",
        )
    # overlapping the second one only (its end is exclusive of the range's start and vice versa)
    await _call(
        hass,
        entry,
        "clear_exceptions",
        start=_future_quarter(30).isoformat(),
        end=_future_quarter(72).isoformat(),
    )
    assert [e["description"] for e in _exceptions(bridge)] == ["from 24", "from 72"]

    # nothing overlaps: nothing changes
    await _call(hass, entry, "clear_exceptions", end=_future_quarter(10).isoformat())
    assert len(_exceptions(bridge)) == 2

    # open-ended: from a time on
    await _call(hass, entry, "clear_exceptions", start=_future_quarter(60).isoformat())
    assert [e["description"] for e in _exceptions(bridge)] == ["from 24"]

    await _call(hass, entry, "clear_exceptions")
    assert _exceptions(bridge) == []
    assert entry.runtime_data.coordinator.data.thermostat.exceptions == ()


async def test_clear_exceptions_range_backwards(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            entry,
            "clear_exceptions",
            start=_future_quarter(10).isoformat(),
            end=_future_quarter(5).isoformat(),
        )
    assert err.value.translation_key == "range_end_before_start"


async def test_pause_and_resume(
    hass: HomeAssistant, bridge: Bridge, entry: MockConfigEntry
) -> None:
    await _call(hass, entry, "pause")
    assert bridge.thermostat.thermostat_state()["paused"] is True
    state = hass.states.get("climate.thermosmart")
    assert state is not None
    assert state.state == "off"

    await _call(hass, entry, "resume")
    assert bridge.thermostat.thermostat_state()["paused"] is False
    state = hass.states.get("climate.thermosmart")
    assert state is not None
    assert state.state == "auto"


async def test_set_program_temperatures(
    hass: HomeAssistant, bridge: Bridge, entry: MockConfigEntry
) -> None:
    before = bridge.thermostat.cloud_object()["programs"]
    await _call(hass, entry, "set_program_temperatures", comfort=21.5, not_home=14)
    programs = bridge.thermostat.cloud_object()["programs"]
    assert programs == {**before, "comfort": 21.5, "not_home": 14.0}
    shown = entry.runtime_data.coordinator.data.thermostat.programs
    assert shown is not None
    assert (shown.comfort, shown.not_home) == (21.5, 14.0)


async def test_set_program_temperatures_refusals(
    hass: HomeAssistant, bridge: Bridge, entry: MockConfigEntry
) -> None:
    before = bridge.thermostat.cloud_object()["programs"]
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, entry, "set_program_temperatures")
    assert err.value.translation_key == "no_program_temperature"

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, entry, "set_program_temperatures", home=20, anti_freeze=4.5)
    assert err.value.translation_key == "temperature_out_of_range"
    assert err.value.translation_placeholders == {
        "program": "anti_freeze",
        "temperature": "4.5",
        "minimum": "5",
        "maximum": "30",
    }
    assert "4.5 °C for anti_freeze" in str(err.value)
    assert bridge.thermostat.cloud_object()["programs"] == before


async def test_unknown_and_unloaded_entries(
    hass: HomeAssistant, bridge: Bridge, entry: MockConfigEntry
) -> None:
    other = MockConfigEntry(domain="sun")
    other.add_to_hass(hass)
    for entry_id in ("nope", other.entry_id):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN, "pause", {ATTR_CONFIG_ENTRY_ID: entry_id}, blocking=True
            )
        assert err.value.translation_key == "entry_not_found"

    assert await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, entry, "pause")
    assert err.value.translation_key == "entry_not_loaded"
    assert err.value.translation_placeholders == {"name": entry.title}
    assert bridge.thermostat.thermostat_state()["paused"] is False


async def test_unreachable_bridge(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.runtime_data.client.port = 1  # nobody listens there
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, entry, "pause")
    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "communication_error"


async def test_unexpected_answer(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    client = entry.runtime_data.client
    with (
        patch.object(client, "thermostat", side_effect=ThermoSmartResponseError("garbage")),
        pytest.raises(HomeAssistantError) as err,
    ):
        await _call(hass, entry, "clear_exceptions")
    assert err.value.translation_key == "unexpected_error"
    assert err.value.translation_placeholders == {"error": "garbage"}


async def test_bridge_refusal_without_details(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    client = entry.runtime_data.client
    refusal = ThermoSmartValidationError("the bridge rejected the request")
    with (
        patch.object(client, "set_paused", side_effect=refusal),
        pytest.raises(ServiceValidationError) as err,
    ):
        await _call(hass, entry, "resume")
    assert err.value.translation_placeholders == {"error": "the bridge rejected the request"}


async def test_refused_token(
    hass: HomeAssistant, bridge: Bridge, entry: MockConfigEntry, api_token: str
) -> None:
    token = await bridge.db.auth.authenticate(api_token)
    assert token is not None
    with patch("custom_components.thermosmart.coordinator.RECONNECT_MIN", 60.0):
        await bridge.db.auth.revoke_token(token.id)
        with pytest.raises(HomeAssistantError) as err:
            await _call(hass, entry, "set_program_temperatures", home=20)
        assert err.value.translation_key == "auth_failed"
        await hass.async_block_till_done()
        flows = hass.config_entries.flow.async_progress()
        assert [f["context"]["source"] for f in flows] == ["reauth"]
