"""End to end: a real bridge on its simulated boiler, paired and driven from Home Assistant."""

from __future__ import annotations

import aiohttp
from homeassistant.components.climate import (
    ATTR_HVAC_MODE,
    DOMAIN as CLIMATE_DOMAIN,
    SERVICE_SET_HVAC_MODE,
    SERVICE_SET_TEMPERATURE,
    HVACMode,
)
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, ATTR_TEMPERATURE, CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from bridge.daemon import Bridge
from custom_components.thermosmart.const import DOMAIN

from .conftest import wait_until

ENTITY = "climate.thermosmart"


def _target(hass: HomeAssistant) -> object:
    state = hass.states.get(ENTITY)
    return None if state is None else state.attributes.get(ATTR_TEMPERATURE)


async def test_pair_drive_and_follow_the_bridge(
    hass: HomeAssistant, bridge: Bridge, pairing_code: str
) -> None:
    # set up from the UI: host and port, then the code `thermosmart-bridge pair` printed
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: bridge.port}
    )
    assert result["step_id"] == "pair"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"code": pairing_code}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await wait_until(hass, lambda: entry.runtime_data.client.connected)

    # Home Assistant drives the thermostat
    await hass.services.async_call(
        CLIMATE_DOMAIN,
        SERVICE_SET_TEMPERATURE,
        {ATTR_ENTITY_ID: ENTITY, ATTR_TEMPERATURE: 22.5},
        blocking=True,
    )
    thermostat = bridge.thermostat.thermostat_state()
    assert thermostat["target_temperature"] == 22.5
    assert thermostat["source"] == "manual"
    assert _target(hass) == 22.5

    await hass.services.async_call(
        CLIMATE_DOMAIN,
        SERVICE_SET_HVAC_MODE,
        {ATTR_ENTITY_ID: ENTITY, ATTR_HVAC_MODE: HVACMode.OFF},
        blocking=True,
    )
    assert bridge.thermostat.thermostat_state()["paused"] is True
    assert hass.states.get(ENTITY).state == HVACMode.OFF  # type: ignore[union-attr]

    # another client (the phone app, on its own token) changes the bridge: Home Assistant
    # hears it over the push channel, with no polling
    phone = await bridge.db.auth.create_token("phone")
    headers = {"Authorization": f"Bearer {phone.token}"}
    base = f"http://127.0.0.1:{bridge.port}/api/v1/thermostat"
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.post(f"{base}/pause", json={"pause": False}) as response:
            assert response.status == 200
        async with session.patch(base, json={"target_temperature": 17.5}) as response:
            assert response.status == 200
    await wait_until(hass, lambda: _target(hass) == 17.5)
    state = hass.states.get(ENTITY)
    assert state is not None
    assert state.state == HVACMode.HEAT
    assert state.attributes["source"] == "manual"

    client = entry.runtime_data.client
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert not client.connected
