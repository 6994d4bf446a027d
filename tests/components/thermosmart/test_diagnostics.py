"""Diagnostics of the config entry and of each device, with the secrets redacted."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
    get_diagnostics_for_device,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.amber.serializer import AmberDataSerializer, Repr
from syrupy.filters import props
from syrupy.matchers import path_type

from bridge.daemon import Bridge
from custom_components.thermosmart.const import DOMAIN

from .conftest import BRIDGE_ID, HARDWARE_ID, setup_integration

# The port is new in every run; the bridge's own diagnostics name library versions
# and count push messages that depend on timing; the learner refits on a worker
# thread, so its forecast depends on timing too (its presence is checked apart).
VOLATILE = props("port", "versions", "push", "uptime_s", "predictions")

# What the simulated house and boiler measure, the counters of the OpenTherm
# conversations and the times of the last answers change with the simulator's
# physics and timing: they stand in the snapshot as their type (``float``,
# ``int``), so the snapshot pins the structure, the stable values (capabilities,
# programs, schedule, options) and the redactions, not the weather in the house.
_MEASURED = (
    r"(?!target_)\w*temperature|relative_modulation_level|ch_water_pressure"
    r"|control_setpoint|demand|\w+_(starts|hours)"
)
_NUMBERS = (int, float)
_PHYSICS_PATHS: dict[str, tuple[type, ...]] = {
    rf"(.*\.)?({_MEASURED})": _NUMBERS,  # a measurement or a control output
    rf".*\.values\.({_MEASURED})\.value": _NUMBERS,  # the decoded OpenTherm value of one
    r"(.*\.)?raw(\..*)?": (str,),  # raw OpenTherm words: the same values, encoded again
    r".*\.updated|.*\.age_s": _NUMBERS,  # when a value was last read
    r"(.*\.)?counters\..*|.*\.totals\..*|.*\.cycles|.*\.conversations_per_second": _NUMBERS,
    r".*\.per_id\.\d+\.(acks|bad_frames|conversations|invalid|link_errors|timeouts|unknown)": (
        _NUMBERS
    ),
}


def _type_name(data: object, _match: object) -> object:
    """A number becomes its type's name; a flag (bool) stays, it is part of the structure."""
    if isinstance(data, bool):
        return data
    return Repr(AmberDataSerializer.object_type(data))


PHYSICS = path_type(_PHYSICS_PATHS, regex=True, strict=False, replacer=_type_name)


@pytest.fixture
def bridge(virtual_bridge: Bridge) -> Bridge:
    """These tests run on the virtual clock."""
    return virtual_bridge


async def test_entry_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    config_entry: MockConfigEntry,
    api_token: str,
    snapshot: SnapshotAssertion,
) -> None:
    await setup_integration(hass, config_entry)
    result = await get_diagnostics_for_config_entry(hass, hass_client, config_entry)
    text = json.dumps(result)
    for secret in (api_token, HARDWARE_ID):
        assert secret not in text
    assert result["entry"]["data"]["token"] == "**REDACTED**"
    assert result["state"]["thermostat"]["hardware_id"] == "**REDACTED**"
    assert result["bridge_diagnostics"]["link"]["kind"] == "sim"
    assert result["predictions"]["available"] is True
    assert result == snapshot(exclude=VOLATILE, matcher=PHYSICS)


async def test_entry_diagnostics_with_the_bridge_gone(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    config_entry: MockConfigEntry,
) -> None:
    await setup_integration(hass, config_entry)
    config_entry.runtime_data.client.port = 1
    result = await get_diagnostics_for_config_entry(hass, hass_client, config_entry)
    assert "cannot reach the bridge" in result["bridge_diagnostics"]["error"]
    assert result["state"]["bridge"]["bridge_id"] == BRIDGE_ID


async def test_personal_settings_are_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    bridge: Bridge,
    config_entry: MockConfigEntry,
) -> None:
    await bridge.db.settings.set_many({"location": "Zwolle", "email": "owner@example.org"})
    await bridge.thermostat.reload()
    await setup_integration(hass, config_entry)
    result = await get_diagnostics_for_config_entry(hass, hass_client, config_entry)
    text = json.dumps(result)
    assert "Zwolle" not in text
    assert "owner@example.org" not in text


@pytest.mark.parametrize("device", ["bridge", "thermostat", "boiler"])
async def test_device_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
    device: str,
) -> None:
    await setup_integration(hass, config_entry)
    identifier = BRIDGE_ID if device == "bridge" else f"{BRIDGE_ID}_{device}"
    entry = device_registry.async_get_device(identifiers={(DOMAIN, identifier)})
    assert entry is not None
    result = await get_diagnostics_for_device(hass, hass_client, config_entry, entry)
    assert result["device"] == device
    assert HARDWARE_ID not in json.dumps(result)
    assert result == snapshot(exclude=VOLATILE, matcher=PHYSICS)
