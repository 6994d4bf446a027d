"""Diagnostics of a bridge and its devices, with secrets and personal data redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_TOKEN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from . import ThermoSmartConfigEntry
from .client import ThermoSmartError
from .const import DOMAIN
from .entity import DeviceKind, unit_hardware_id

TO_REDACT = {
    CONF_TOKEN,
    "access_token",
    "token",
    "hardware_id",
    "email",
    "location",
    "city",
    "geofence_devices",
}
"""Tokens, the hardware id, the owner's e-mail and city (location), geofence devices."""
EGRESS_RECORDS = 50
"""How many of the newest egress-log records diagnostics show (field names, never values)."""


async def _egress(entry: ThermoSmartConfigEntry) -> list[dict[str, Any]] | dict[str, str]:
    """The newest egress-log records as the bridge keeps them: when, where, purpose, field
    names, size."""
    try:
        records = await entry.runtime_data.client.egress(EGRESS_RECORDS)
    except ThermoSmartError as err:
        return {"error": str(err)}
    return [{**asdict(r), "ts": r.ts.isoformat(), "fields": list(r.fields)} for r in records]


def _push_status(entry: ThermoSmartConfigEntry) -> dict[str, Any]:
    coordinator = entry.runtime_data.coordinator
    return {
        "connected": entry.runtime_data.client.connected,
        "connections": coordinator.connection,
        "last_update_success": coordinator.last_update_success,
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: ThermoSmartConfigEntry
) -> dict[str, Any]:
    """Everything the integration knows about the bridge, and the bridge's own diagnostics."""
    data = entry.runtime_data
    client = data.client
    try:
        bridge_diagnostics: dict[str, Any] = await client.diagnostics()
    except ThermoSmartError as err:
        bridge_diagnostics = {"error": str(err)}
    return async_redact_data(
        {
            "entry": {
                "title": entry.title,
                "data": dict(entry.data),
                "options": dict(entry.options),
            },
            "bridge": asdict(data.info),
            "push": _push_status(entry),
            "state": client.document,
            "thermostat": client.thermostat_view,
            "predictions": asdict(data.coordinator.data.predictions),
            "bridge_diagnostics": bridge_diagnostics,
            "egress_log": await _egress(entry),
        },
        TO_REDACT,
    )


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: ThermoSmartConfigEntry, device: dr.DeviceEntry
) -> dict[str, Any]:
    """What the integration knows about one device of the bridge."""
    data = entry.runtime_data
    document = data.client.document or {}
    bridge_id = data.info.bridge_id
    kinds = {
        (DOMAIN, bridge_id): DeviceKind.BRIDGE,
        (DOMAIN, f"{bridge_id}_{DeviceKind.THERMOSTAT}"): DeviceKind.THERMOSTAT,
        (DOMAIN, f"{bridge_id}_{DeviceKind.BOILER}"): DeviceKind.BOILER,
    }
    kind = next((kinds[i] for i in device.identifiers if i in kinds), None)
    hardware_id = unit_hardware_id(bridge_id, device)
    if hardware_id is not None:
        kind = DeviceKind.UNIT
    found: dict[str, Any] = {"device": None if kind is None else str(kind)}
    if kind is DeviceKind.BRIDGE:
        found.update(
            bridge=document.get("bridge"), link=document.get("link"), push=_push_status(entry)
        )
    elif kind is DeviceKind.THERMOSTAT:
        found.update(
            thermostat={**data.client.thermostat_view, **(document.get("thermostat") or {})},
            predictions=asdict(data.coordinator.data.predictions),
        )
    elif kind is DeviceKind.UNIT:
        units = document.get("units") or []
        options = document.get("options") or {}
        found.update(
            unit=next((u for u in units if u.get("hardware_id") == hardware_id), None),
            settings={k: v for k, v in options.items() if k.startswith("unit_")},
        )
    elif kind is DeviceKind.BOILER:
        found.update(
            boiler=document.get("boiler"),
            capabilities=document.get("capabilities"),
            faults=document.get("faults"),
            counters=document.get("counters"),
        )
    return async_redact_data(found, TO_REDACT)
