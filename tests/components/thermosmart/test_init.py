"""Setting up and unloading a config entry against the real bridge."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_PORT, CONF_TOKEN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bridge.daemon import Bridge
from custom_components.thermosmart.const import DOMAIN


async def test_setup_and_unload(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    assert config_entry.runtime_data.info.bridge_id == bridge.bridge_id
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, bridge.bridge_id)})
    assert device is not None
    assert device.sw_version == "0.1.0"
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.NOT_LOADED


async def test_refused_token_starts_reauth(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=bridge.bridge_id,
        data={**config_entry.data, CONF_TOKEN: "revoked"},
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress()
    assert [f["context"]["source"] for f in flows] == ["reauth"]


async def test_bridge_down_retries(
    hass: HomeAssistant, config_entry: MockConfigEntry, closed_port: int
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=config_entry.unique_id,
        data={**config_entry.data, CONF_PORT: closed_port},
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
