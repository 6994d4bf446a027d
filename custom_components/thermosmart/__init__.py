"""The ThermoSmart Local integration: a local-first OpenTherm thermostat."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_TOKEN, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .client import BridgeInfo, ThermoSmartClient, ThermoSmartError
from .const import CONF_OUTSIDE_ENTITY, DOMAIN
from .coordinator import ThermoSmartCoordinator
from .entity import DeviceKind, device_info
from .faults import async_watch_boiler_faults
from .outside import OutsideTemperatureFeed
from .repairs import (
    async_check_bridge_api,
    async_entry_working,
    async_remove_entry_issues,
    async_watch_cloud_terms,
    async_watch_reauth,
    async_watch_update_check,
)
from .services import async_setup_services
from .units import async_watch_units, registered_unit

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.CALENDAR,
    Platform.CLIMATE,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
    Platform.UPDATE,
    Platform.WATER_HEATER,
]


@dataclass(kw_only=True, slots=True)
class ThermoSmartData:
    """What a set-up bridge keeps at runtime."""

    client: ThermoSmartClient
    coordinator: ThermoSmartCoordinator
    info: BridgeInfo


type ThermoSmartConfigEntry = ConfigEntry[ThermoSmartData]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions, and the lost-pairing issue of re-authentication flows."""
    async_setup_services(hass)
    async_watch_reauth(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: ThermoSmartConfigEntry) -> bool:
    """Connect to the bridge, read its state, and start listening to its pushes."""
    client = ThermoSmartClient(
        entry.data[CONF_HOST],
        entry.data[CONF_PORT],
        token=entry.data[CONF_TOKEN],
        session=async_get_clientsession(hass),
    )
    try:
        info = await client.health()
    except ThermoSmartError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"error": str(err)},
        ) from err
    async_check_bridge_api(hass, entry, info)

    coordinator = ThermoSmartCoordinator(hass, entry, client)
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = ThermoSmartData(client=client, coordinator=coordinator, info=info)
    # the bridge first: the thermostat and the boiler are reached through it
    dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **device_info(coordinator, DeviceKind.BRIDGE)
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    coordinator.async_start_push()
    async_watch_boiler_faults(hass, entry)
    async_watch_units(hass, entry)
    async_watch_update_check(hass, entry)
    async_watch_cloud_terms(hass, entry)
    if outside_entity := entry.options.get(CONF_OUTSIDE_ENTITY):
        OutsideTemperatureFeed(hass, entry, outside_entity).async_start()
    async_entry_working(hass, entry)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: ThermoSmartConfigEntry) -> bool:
    """Unload the platforms and close the push channel."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.coordinator.async_stop_push()
    return unloaded


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: ThermoSmartConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Only a wall unit the bridge no longer has may be deleted by hand."""
    return registered_unit(entry.runtime_data.coordinator.data, device) is False


async def async_remove_entry(hass: HomeAssistant, entry: ThermoSmartConfigEntry) -> None:
    """Drop the entry's repair issues."""
    async_remove_entry_issues(hass, entry.entry_id)
