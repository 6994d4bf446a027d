"""docs/home-assistant.md against the entity registry of a running integration.

The "Every entity" table of the doc is parsed and compared, row by row, with
the registry entries the integration makes against a real bridge on
loopback: platform, English name, device, entity category and whether it is
enabled by default. The simulated boiler does not report everything (no
outside sensor, no hot-water flow), so every entity description is made
present for this test; names, categories and defaults stay the
integration's own. The rows of the *wall unit* device are checked against a
bridge on a unit link with a simulated unit polling it, and the update
entity against a bridge with a cloud that serves a signed manifest.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bridge.daemon import Bridge
from custom_components.thermosmart import binary_sensor, sensor
from tests.bridge.unit_rig import Rig
from tests.cloud_stub.update_cloud import update_cloud

from .conftest import entry_for, setup_integration, start_virtual_bridge, stop_virtual

DOC = Path(__file__).resolve().parents[3] / "docs" / "home-assistant.md"
HEADER = ["platform", "entity", "device", "category", "enabled by default"]
WALL_UNIT = "wall unit"
UPDATE = "update"
"""The platform whose entity exists only for a bridge with a cloud."""
Row = tuple[str, str | None, str, str | None, bool]


def documented_entities() -> list[Row]:
    """(platform, name, device, category, enabled) from the doc's "Every entity" table."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| platform | entity |"))
    assert [c.strip() for c in lines[start].strip("|").split("|")] == HEADER
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        platform, name, device, category, enabled = (c.strip() for c in line.strip("|").split("|"))
        assert enabled in ("yes", "no"), line
        rows.append(
            (
                platform,
                None if name.startswith("(") else name,
                device,
                category or None,
                enabled == "yes",
            )
        )
    return rows


@pytest.fixture
def bridge(virtual_bridge: Bridge) -> Bridge:
    """These tests run on the virtual clock."""
    return virtual_bridge


@contextlib.contextmanager
def every_description_present() -> Iterator[None]:
    """Create every sensor and binary sensor, also those the simulator has no value for."""
    descriptions: list[Any] = [
        *sensor.SENSORS,
        *sensor.ENERGY_SENSORS,
        *binary_sensor.BINARY_SENSORS,
    ]
    saved = [d.exists_fn for d in descriptions]
    for d in descriptions:
        object.__setattr__(d, "exists_fn", lambda _state: True)
    try:
        yield
    finally:
        for d, fn in zip(descriptions, saved, strict=True):
            object.__setattr__(d, "exists_fn", fn)


def _device_kind(device: dr.DeviceEntry | None) -> str:
    """The device by its model: the bridge, the thermostat, a wall unit, else the boiler."""
    model = (device.model if device else None) or ""
    if model.startswith("Wall unit"):
        return WALL_UNIT
    return {"Bridge": "bridge", "Thermostat": "thermostat"}.get(model, "boiler")


def registered_entities(
    hass: HomeAssistant, entry: MockConfigEntry, entity_registry: er.EntityRegistry
) -> list[Row]:
    devices = dr.async_get(hass)
    return [
        (
            item.domain,
            item.original_name,
            _device_kind(devices.async_get(item.device_id or "")),
            item.entity_category.value if item.entity_category else None,
            item.disabled_by is None,
        )
        for item in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    ]


def compare(documented: list[Row], real: list[Row]) -> None:
    documented = sorted(documented, key=lambda row: tuple(map(str, row)))
    real = sorted(real, key=lambda row: tuple(map(str, row)))
    missing = [row for row in documented if row not in real]
    undocumented = [row for row in real if row not in documented]
    assert not missing, f"the doc names entities that are not so: {missing}"
    assert not undocumented, f"entities the doc does not list (or lists otherwise): {undocumented}"


async def test_every_documented_entity_exists_as_documented(
    hass: HomeAssistant, config_entry: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    with every_description_present():
        await setup_integration(hass, config_entry)
    compare(
        [row for row in documented_entities() if row[2] != WALL_UNIT and row[0] != UPDATE],
        registered_entities(hass, config_entry, entity_registry),
    )


async def test_the_documented_update_entity_exists_as_documented(
    hass: HomeAssistant, tmp_path: Path, entity_registry: er.EntityRegistry
) -> None:
    async with update_cloud(tmp_path / "cloud-side") as cloud:
        bridge = await start_virtual_bridge(tmp_path / "vbridge", **cloud.config())
        try:
            token = (await bridge.db.auth.create_token("Home Assistant")).token
            entry = await setup_integration(hass, entry_for(bridge, token))
            real = registered_entities(hass, entry, entity_registry)
            compare(
                [row for row in documented_entities() if row[0] == UPDATE],
                [row for row in real if row[0] == UPDATE],
            )
            await hass.config_entries.async_unload(entry.entry_id)
        finally:
            await stop_virtual(bridge)


async def test_every_documented_wall_unit_entity_exists_as_documented(
    hass: HomeAssistant, unit_rig: Rig, entity_registry: er.EntityRegistry
) -> None:
    token = (await unit_rig.bridge.db.auth.create_token("Home Assistant")).token
    entry = await setup_integration(hass, entry_for(unit_rig.bridge, token))
    real = registered_entities(hass, entry, entity_registry)
    compare(
        [row for row in documented_entities() if row[2] == WALL_UNIT],
        [row for row in real if row[2] == WALL_UNIT],
    )
