"""Config flow: every step, error and abort, against a real bridge on loopback."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any

from homeassistant.config_entries import SOURCE_USER, SOURCE_ZEROCONF
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_TOKEN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bridge.daemon import Bridge
from custom_components.thermosmart.const import CONF_BRIDGE_ID, DOMAIN


def _zeroconf(bridge_id: str | None, port: int) -> ZeroconfServiceInfo:
    properties = {"api_version": "1"}
    if bridge_id is not None:
        properties["bridge_id"] = bridge_id
    return ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"),
        ip_addresses=[ip_address("127.0.0.1")],
        hostname="thermosmart.local.",
        name="ThermoSmart abc._thermosmart._tcp.local.",
        port=port,
        type="_thermosmart._tcp.local.",
        properties=properties,
    )


async def test_user_flow_pairs_and_creates_entry(
    hass: HomeAssistant, bridge: Bridge, pairing_code: str
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: bridge.port}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "pair"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"code": pairing_code}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "ThermoSmart"
    assert result["result"].unique_id == bridge.bridge_id
    data = result["data"]
    assert data[CONF_HOST] == "127.0.0.1"
    assert data[CONF_PORT] == bridge.port
    assert data[CONF_BRIDGE_ID] == bridge.bridge_id
    # the token works against the bridge
    assert await bridge.db.auth.authenticate(data[CONF_TOKEN]) is not None
    await hass.async_block_till_done()


async def test_user_flow_cannot_connect_then_recovers(
    hass: HomeAssistant, bridge: Bridge, closed_port: int
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: closed_port}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: bridge.port}
    )
    assert result["step_id"] == "pair"


async def test_user_flow_not_a_bridge(hass: HomeAssistant, garbage_server: int) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: garbage_server}
    )
    assert result["errors"] == {"base": "invalid_bridge"}


async def test_pair_wrong_code_then_right_code(
    hass: HomeAssistant, bridge: Bridge, pairing_code: str
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: bridge.port}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"code": "WRNG-CODE"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_code"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"code": pairing_code.lower()}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def test_pair_rate_limited(hass: HomeAssistant, bridge: Bridge) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: bridge.port}
    )
    for _ in range(5):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"code": "WRNG-CODE"}
        )
        assert result["errors"] == {"base": "invalid_code"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"code": "WRNG-CODE"}
    )
    assert result["errors"] == {"base": "rate_limited"}


async def test_pair_bridge_gone(hass: HomeAssistant, bridge: Bridge, pairing_code: str) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: bridge.port}
    )
    await bridge.stop()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"code": pairing_code}
    )
    assert result["errors"] == {"base": "cannot_connect"}


async def test_pair_unexpected_answer(
    hass: HomeAssistant,
    bridge_proxy: tuple[int, dict[tuple[str, str], Any]],
    pairing_code: str,
) -> None:
    port, answers = bridge_proxy
    answers["POST", "/api/v1/pair"] = (500, {"message": "database locked"})
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: port}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"code": pairing_code}
    )
    assert result["errors"] == {"base": "unknown"}


async def test_user_flow_already_configured_updates_host(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(config_entry, data={**config_entry.data, CONF_PORT: 1})
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: bridge.port}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert config_entry.data[CONF_PORT] == bridge.port


async def test_zeroconf_confirm_pair(
    hass: HomeAssistant, bridge: Bridge, pairing_code: str
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf(bridge.bridge_id, bridge.port),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "zeroconf_confirm"
    assert result["description_placeholders"] == {"name": "ThermoSmart", "host": "127.0.0.1"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "pair"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"code": pairing_code}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == bridge.bridge_id
    await hass.async_block_till_done()


async def test_zeroconf_updates_host_of_existing_entry(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_HOST: "10.0.0.9", CONF_PORT: 1}
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf(bridge.bridge_id, bridge.port),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert config_entry.data[CONF_HOST] == "127.0.0.1"
    assert config_entry.data[CONF_PORT] == bridge.port


async def test_zeroconf_aborts(hass: HomeAssistant, bridge: Bridge, closed_port: int) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(None, bridge.port)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_bridge"
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf("0123", closed_port)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"
    # announced id does not match the bridge answering at that address
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf("ffff", bridge.port)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_bridge"


async def test_reauth_pairs_again(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry, pairing_code: str
) -> None:
    config_entry.add_to_hass(hass)
    old_token = config_entry.data[CONF_TOKEN]
    result = await config_entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"code": "WRNG-CODE"}
    )
    assert result["errors"] == {"base": "invalid_code"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"code": pairing_code}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert config_entry.data[CONF_TOKEN] != old_token
    assert await bridge.db.auth.authenticate(config_entry.data[CONF_TOKEN]) is not None
    await hass.async_block_till_done()


async def test_reauth_wrong_bridge(hass: HomeAssistant, bridge: Bridge, pairing_code: str) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="another-bridge",
        data={
            CONF_HOST: "127.0.0.1",
            CONF_PORT: bridge.port,
            CONF_TOKEN: "x",
            CONF_BRIDGE_ID: "another-bridge",
        },
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"code": pairing_code}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_bridge"


async def test_reconfigure(
    hass: HomeAssistant,
    bridge: Bridge,
    config_entry: MockConfigEntry,
    closed_port: int,
    garbage_server: int,
) -> None:
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(config_entry, data={**config_entry.data, CONF_PORT: 1})
    result = await config_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: closed_port}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: garbage_server}
    )
    assert result["errors"] == {"base": "invalid_bridge"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: " 127.0.0.1 ", CONF_PORT: bridge.port}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert config_entry.data[CONF_HOST] == "127.0.0.1"
    assert config_entry.data[CONF_PORT] == bridge.port
    await hass.async_block_till_done()


async def test_reconfigure_to_other_bridge(hass: HomeAssistant, bridge: Bridge) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="another-bridge",
        data={
            CONF_HOST: "127.0.0.1",
            CONF_PORT: 1,
            CONF_TOKEN: "x",
            CONF_BRIDGE_ID: "another-bridge",
        },
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: bridge.port}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_bridge"
    assert entry.data[CONF_PORT] == 1
