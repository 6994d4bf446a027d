"""Repair issues: a too old bridge, a lost pairing, and boiler faults that need the user."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path
from typing import Any, cast
from unittest.mock import patch

import aiohttp
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.config_entries import SOURCE_ZEROCONF, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_TOKEN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, UnknownStep
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bridge.core.clock import VirtualClock
from bridge.core.payloads.privacy import Purpose
from bridge.daemon import Bridge
from bridge.opentherm.links.sim import SimLink
from bridge.opentherm.sim.boiler_spec import OemCode
from bridge.services import cloud_data
from cloud_stub import store as cloud_store
from custom_components.thermosmart.client import BridgeState
from custom_components.thermosmart.const import CONF_BRIDGE_ID, DOMAIN
from custom_components.thermosmart.repairs import (
    BridgeTooOldRepairFlow,
    UnitPidProposalRepairFlow,
    async_create_fix_flow,
)
from tests.bridge.conftest import make_token
from tests.bridge.test_cloud_data import INTERVAL, Setup, running_bridge, serve_cloud

from .conftest import setup_integration, start_virtual_bridge, stop_virtual, wait_until


def _issue(hass: HomeAssistant, kind: str, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"{kind}_{entry.entry_id}")


async def _start_fix(hass: HomeAssistant, issue_id: str) -> dict[str, Any]:
    assert await async_setup_component(hass, "repairs", {})
    manager = repairs_flow_manager(hass)
    assert manager is not None
    result: dict[str, Any] = await manager.async_init(DOMAIN, data={"issue_id": issue_id})
    return result


async def _fix(hass: HomeAssistant, flow_id: str) -> dict[str, Any]:
    manager = repairs_flow_manager(hass)
    assert manager is not None
    result: dict[str, Any] = await manager.async_configure(flow_id, {})
    return result


# -- a bridge too old for the integration ---------------------------------------------------


async def test_too_old_bridge_is_not_loaded_and_can_be_fixed(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    config_entry.add_to_hass(hass)
    with patch("bridge.api.meta.API_VERSION", 0):
        assert not await hass.config_entries.async_setup(config_entry.entry_id)
        assert config_entry.state is ConfigEntryState.SETUP_RETRY
        issue = _issue(hass, "bridge_too_old", config_entry)
        assert issue is not None
        assert issue.is_fixable
        assert issue.severity is ir.IssueSeverity.ERROR
        assert issue.translation_key == "bridge_too_old"
        assert issue.translation_placeholders == {
            "name": config_entry.title,
            "version": "0.1.0",
            "api_version": "0",
            "min_api_version": "1",
        }
        assert "API version 0" in config_entry.reason  # type: ignore[operator]

        # not updated yet: the fix flow says so and keeps the issue
        result = await _start_fix(hass, issue.issue_id)
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "confirm"
        assert result["description_placeholders"]["api_version"] == "0"
        result = await _fix(hass, result["flow_id"])
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {"base": "still_too_old"}

    # the bridge is updated now
    result = await _fix(hass, result["flow_id"])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    assert _issue(hass, "bridge_too_old", config_entry) is None
    await wait_until(hass, lambda: config_entry.runtime_data.client.connected)


async def test_too_old_fix_flow_bridge_gone_or_entry_removed(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry, closed_port: int
) -> None:
    config_entry.add_to_hass(hass)
    with patch("bridge.api.meta.API_VERSION", 0):
        assert not await hass.config_entries.async_setup(config_entry.entry_id)
    issue_id = f"bridge_too_old_{config_entry.entry_id}"
    result = await _start_fix(hass, issue_id)
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_PORT: closed_port}
    )
    result = await _fix(hass, result["flow_id"])
    assert result["errors"] == {"base": "cannot_connect"}

    await hass.config_entries.async_remove(config_entry.entry_id)
    await hass.async_block_till_done()
    # removing the entry removed its issue; a flow left open has nothing to fix
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    result = await _fix(hass, result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_removed"


async def test_only_a_too_old_bridge_and_a_pid_proposal_have_fix_flows(
    hass: HomeAssistant,
) -> None:
    assert isinstance(
        await async_create_fix_flow(hass, "bridge_too_old_x", {"entry_id": "x"}),
        BridgeTooOldRepairFlow,
    )
    assert isinstance(
        await async_create_fix_flow(hass, "unit_pid_proposal_x", {"entry_id": "x"}),
        UnitPidProposalRepairFlow,
    )
    with pytest.raises(UnknownStep):
        await async_create_fix_flow(hass, "pairing_lost_x", {"entry_id": "x"})
    with pytest.raises(UnknownStep):
        await async_create_fix_flow(hass, "bridge_too_old_x", None)
    with pytest.raises(UnknownStep):
        await async_create_fix_flow(hass, "unit_pid_proposal_x", {"entry_id": 1})


# -- a lost pairing ------------------------------------------------------------------------


async def test_refused_token_raises_pairing_issue_until_paired_again(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry, pairing_code: str
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=config_entry.title,
        unique_id=bridge.bridge_id,
        data={**config_entry.data, CONF_TOKEN: "revoked"},
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    issue = _issue(hass, "pairing_lost", entry)
    assert issue is not None
    assert not issue.is_fixable
    assert issue.translation_placeholders == {"name": entry.title}

    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"]
    # a wrong code changes nothing
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {"code": "WRNG-CODE"}
    )
    assert result["errors"] == {"base": "invalid_code"}
    assert _issue(hass, "pairing_lost", entry) is not None

    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {"code": pairing_code}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert _issue(hass, "pairing_lost", entry) is None
    await wait_until(hass, lambda: entry.runtime_data.client.connected)


async def test_token_revoked_while_running(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry, api_token: str
) -> None:
    await setup_integration(hass, config_entry)
    token = await bridge.db.auth.authenticate(api_token)
    assert token is not None
    assert _issue(hass, "pairing_lost", config_entry) is None
    with patch("custom_components.thermosmart.coordinator.RECONNECT_MIN", 60.0):
        # revoked through the bridge's API: the bridge closes the push channel (4401)
        async with aiohttp.ClientSession() as session:
            response = await session.delete(
                f"http://127.0.0.1:{bridge.port}/api/v1/tokens/{token.id}",
                headers={"Authorization": f"Bearer {api_token}"},
            )
            assert response.status == 200
        await wait_until(hass, lambda: _issue(hass, "pairing_lost", config_entry) is not None)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"]


async def test_discovery_flow_raises_no_pairing_issue(hass: HomeAssistant, bridge: Bridge) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=ZeroconfServiceInfo(
            ip_address=ip_address("127.0.0.1"),
            ip_addresses=[ip_address("127.0.0.1")],
            hostname="thermosmart.local.",
            name="ThermoSmart._thermosmart._tcp.local.",
            port=bridge.port,
            type="_thermosmart._tcp.local.",
            properties={"bridge_id": bridge.bridge_id},
        ),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "zeroconf_confirm"
    await hass.async_block_till_done()
    assert not [i for i in ir.async_get(hass).issues if i[0] == DOMAIN]
    hass.config_entries.flow.async_abort(result["flow_id"])


async def test_removing_the_entry_removes_its_issues(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=bridge.bridge_id,
        data={**config_entry.data, CONF_TOKEN: "revoked"},
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert _issue(hass, "pairing_lost", entry) is not None
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert _issue(hass, "pairing_lost", entry) is None


# -- new cloud terms ---------------------------------------------------------------------------


async def test_new_cloud_terms_raise_an_issue_until_each_paused_purpose_is_answered(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    privacy = bridge.privacy
    await privacy.record_consent(Purpose.WEATHER_BY_CITY, granted=True, terms_version="2026-01")
    await privacy.record_consent(Purpose.STATISTICS, granted=True, terms_version="2026-01")
    await setup_integration(hass, config_entry)
    assert bridge.cloud_gate is not None
    bridge.cloud_gate.set_terms_version("2026-01")
    await hass.async_block_till_done()
    assert _issue(hass, "cloud_terms_changed", config_entry) is None

    bridge.cloud_gate.set_terms_version("2026-02")  # the cloud published new terms
    await wait_until(hass, lambda: _issue(hass, "cloud_terms_changed", config_entry) is not None)
    issue = _issue(hass, "cloud_terms_changed", config_entry)
    assert issue is not None
    assert not issue.is_fixable
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_placeholders == {
        "name": config_entry.title,
        "purposes": "weather_by_city, statistics",
        "version": "2026-02",
    }

    # one answered (allowed again under the new terms): the other is still named
    await privacy.record_consent(Purpose.WEATHER_BY_CITY, granted=True, terms_version="2026-02")

    def names_statistics_only() -> bool:
        found = _issue(hass, "cloud_terms_changed", config_entry)
        return found is not None and found.translation_placeholders == {
            "name": config_entry.title,
            "purposes": "statistics",
            "version": "2026-02",
        }

    await wait_until(hass, names_statistics_only)
    # the other turned off: nothing is paused, the issue goes
    await privacy.record_consent(Purpose.STATISTICS, granted=False, terms_version="2026-02")
    await wait_until(hass, lambda: _issue(hass, "cloud_terms_changed", config_entry) is None)


async def test_terms_published_at_the_cloud_raise_the_issue_until_answered(
    hass: HomeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: the stand-in publishes new terms, the bridge pauses, Home Assistant says so."""
    monkeypatch.setattr(cloud_data, "TERMS_INTERVAL_S", INTERVAL)  # hourly is 5 minutes here
    monkeypatch.setattr(cloud_store, "LINK_INTERVAL", 1.0)
    clock = VirtualClock()
    async with (
        serve_cloud(clock, tmp_path / "cloud") as (server, store),
        running_bridge(clock, tmp_path / "bridge", server.url) as bridge,
        aiohttp.ClientSession() as http,
    ):
        s = Setup(clock, bridge, await make_token(bridge), http, server, store, tmp_path / "cloud")
        await s.link()
        await s.consent(Purpose.WEATHER_BY_CITY, granted=True)
        entry = await _entry_for(bridge)
        await setup_integration(hass, entry)
        assert _issue(hass, "cloud_terms_changed", entry) is None

        store.publish_terms("2026-02")
        await s.tick()
        await wait_until(hass, lambda: _issue(hass, "cloud_terms_changed", entry) is not None)
        issue = _issue(hass, "cloud_terms_changed", entry)
        assert issue is not None
        assert issue.translation_placeholders == {
            "name": entry.title,
            "purposes": "cloud_sync, weather_by_city",
            "version": "2026-02",
        }

        for purpose in (Purpose.CLOUD_SYNC, Purpose.WEATHER_BY_CITY):
            await s.consent(purpose, granted=True, terms="2026-02")
        await wait_until(hass, lambda: _issue(hass, "cloud_terms_changed", entry) is None)
        await hass.config_entries.async_unload(entry.entry_id)


# -- boiler faults ---------------------------------------------------------------------------


@pytest.fixture
def vbridge(virtual_bridge: Bridge) -> Bridge:
    """Fault tests run on the virtual clock."""
    return virtual_bridge


async def _entry_for(bridge: Bridge, title: str = "ThermoSmart") -> MockConfigEntry:
    issued = await bridge.db.auth.create_token("Home Assistant")
    return MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=bridge.bridge_id if title == "ThermoSmart" else title,
        data={
            CONF_HOST: "127.0.0.1",
            CONF_PORT: bridge.port,
            CONF_TOKEN: issued.token,
            CONF_BRIDGE_ID: bridge.bridge_id,
        },
    )


@pytest.fixture
async def fault_entry(vbridge: Bridge) -> MockConfigEntry:
    """A config entry for the virtual-clock bridge."""
    return await _entry_for(vbridge)


def _boiler(bridge: Bridge) -> Any:
    link = bridge.link
    assert isinstance(link, SimLink)
    return link.world.boiler


async def _advance(bridge: Bridge, seconds: float = 30) -> None:
    await cast(VirtualClock, bridge.clock).advance(seconds)


async def test_lockout_raises_issue_with_oem_code_until_reset(
    hass: HomeAssistant, vbridge: Bridge, fault_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, fault_entry)
    assert _issue(hass, "boiler_fault", fault_entry) is None

    _boiler(vbridge).force_lockout(OemCode.IGNITION_FAILURE)
    await _advance(vbridge)
    await wait_until(hass, lambda: _issue(hass, "boiler_fault", fault_entry) is not None)
    issue = _issue(hass, "boiler_fault", fault_entry)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert not issue.is_fixable
    assert issue.translation_key == "boiler_gas_flame_fault"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["code"] == "1"
    assert issue.translation_placeholders["diagnostic_code"] == "100"

    _boiler(vbridge).reset_lockout()
    await _advance(vbridge)
    await wait_until(hass, lambda: _issue(hass, "boiler_fault", fault_entry) is None)


async def test_low_water_pressure_issue_shows_the_pressure(
    hass: HomeAssistant, vbridge: Bridge, fault_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, fault_entry)
    _boiler(vbridge).set_pressure(0.3)
    await _advance(vbridge)
    await wait_until(hass, lambda: _issue(hass, "boiler_fault", fault_entry) is not None)
    issue = _issue(hass, "boiler_fault", fault_entry)
    assert issue is not None
    assert issue.translation_key == "boiler_low_water_pressure"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["pressure"] == "0.3"
    assert issue.translation_placeholders["code"] == "10"

    _boiler(vbridge).set_pressure(1.8)
    await _advance(vbridge)
    await wait_until(hass, lambda: _issue(hass, "boiler_fault", fault_entry) is None)


async def test_fault_present_at_setup_and_unload(
    hass: HomeAssistant, vbridge: Bridge, fault_entry: MockConfigEntry
) -> None:
    _boiler(vbridge).force_lockout(OemCode.NONE)
    await _advance(vbridge)
    await setup_integration(hass, fault_entry)
    issue = _issue(hass, "boiler_fault", fault_entry)
    assert issue is not None
    assert issue.translation_key == "boiler_fault"  # a lockout with no more specific flag
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["code"] == "0"

    # unloading forgets the fault issues; the next setup looks again
    await hass.config_entries.async_unload(fault_entry.entry_id)
    assert _issue(hass, "boiler_fault", fault_entry) is None


async def test_service_request_is_a_warning(
    hass: HomeAssistant, vbridge: Bridge, fault_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, fault_entry)
    coordinator = fault_entry.runtime_data.coordinator
    document = fault_entry.runtime_data.client.document
    assert document is not None
    document["faults"]["flags"]["service_request"] = True
    document["faults"]["active"] = ["service_request", "remote_reset_enabled"]
    document["faults"]["oem_fault_code"] = 42
    coordinator.async_set_updated_data(BridgeState.from_dict(document))
    issue = _issue(hass, "service_request", fault_entry)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["code"] == "42"
    assert _issue(hass, "boiler_fault", fault_entry) is None  # a service request only

    # a stale state (boiler link down) changes nothing
    document["faults"]["active"] = []
    document["link"]["state"] = "disconnected"
    coordinator.async_set_updated_data(BridgeState.from_dict(document))
    assert _issue(hass, "service_request", fault_entry) is not None

    document["link"]["state"] = "connected"
    coordinator.async_set_updated_data(BridgeState.from_dict(document))
    assert _issue(hass, "service_request", fault_entry) is None

    # a boiler without OpenTherm has no fault information at all
    document["faults"] = None
    coordinator.async_set_updated_data(BridgeState.from_dict(document))
    assert _issue(hass, "service_request", fault_entry) is None
    assert _issue(hass, "boiler_fault", fault_entry) is None


async def test_issue_translations_are_complete() -> None:
    import json
    from pathlib import Path

    root = Path(__file__).parents[3] / "custom_components" / "thermosmart" / "translations"
    en = json.loads((root / "en.json").read_text(encoding="utf-8"))
    nl = json.loads((root / "nl.json").read_text(encoding="utf-8"))

    def keys(tree: Any, prefix: str = "") -> set[str]:
        if not isinstance(tree, dict):
            return {prefix}
        return {k for key, value in tree.items() for k in keys(value, f"{prefix}/{key}")}

    for section in ("issues", "services", "selector", "device_automation", "exceptions"):
        assert keys(en[section]) == keys(nl[section]), section
    for key in (
        "bridge_too_old",
        "pairing_lost",
        "boiler_fault",
        "boiler_low_water_pressure",
        "boiler_gas_flame_fault",
        "boiler_air_pressure_fault",
        "boiler_water_over_temperature",
        "service_request",
        "cloud_terms_changed",
    ):
        assert key in en["issues"]


async def test_second_bridge_keeps_its_own_issues(
    hass: HomeAssistant, tmp_path: Any, fault_entry: MockConfigEntry
) -> None:
    other_bridge = await start_virtual_bridge(tmp_path / "other")
    try:
        other = await _entry_for(other_bridge, "Other")
        await setup_integration(hass, fault_entry)
        await setup_integration(hass, other)
        _boiler(other_bridge).force_lockout()
        await _advance(other_bridge)
        await wait_until(hass, lambda: _issue(hass, "boiler_fault", other) is not None)
        assert _issue(hass, "boiler_fault", fault_entry) is None
        await hass.config_entries.async_unload(other.entry_id)
    finally:
        await stop_virtual(other_bridge)
