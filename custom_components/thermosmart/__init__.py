"""The ThermoSmart Local integration: a local-first OpenTherm thermostat."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_TOKEN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .client import (
    BridgeInfo,
    ThermoSmartAuthenticationError,
    ThermoSmartClient,
    ThermoSmartError,
)
from .const import DOMAIN


@dataclass(kw_only=True, slots=True)
class ThermoSmartData:
    """What a set-up bridge keeps at runtime."""

    client: ThermoSmartClient
    info: BridgeInfo


type ThermoSmartConfigEntry = ConfigEntry[ThermoSmartData]


async def async_setup_entry(hass: HomeAssistant, entry: ThermoSmartConfigEntry) -> bool:
    """Connect to the bridge and check that our token is still good."""
    client = ThermoSmartClient(
        entry.data[CONF_HOST],
        entry.data[CONF_PORT],
        token=entry.data[CONF_TOKEN],
        session=async_get_clientsession(hass),
    )
    try:
        info = await client.health()
        await client.state()
    except ThermoSmartAuthenticationError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="auth_failed"
        ) from err
    except ThermoSmartError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"error": str(err)},
        ) from err

    dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, info.bridge_id)},
        manufacturer="ThermoSmart Local",
        model="Bridge",
        name=info.name,
        sw_version=info.version,
    )
    entry.runtime_data = ThermoSmartData(client=client, info=info)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: ThermoSmartConfigEntry) -> bool:
    """Nothing to tear down until platforms are added."""
    return True
