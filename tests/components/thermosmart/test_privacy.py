"""Cloud and privacy in Home Assistant: the options step, linking, export and erase,
the egress log in diagnostics and the "last data sent off the LAN" sensor.

A real bridge on loopback (and for linking the real cloud stand-in, also on
loopback); the owner approves or denies the link with the stand-in's store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import json
from pathlib import Path
from typing import Any
from unittest.mock import patch

from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult, FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from bridge.config import validate
from bridge.core.purposes import ALLOWED, DESCRIPTIONS
from bridge.daemon import Bridge
from bridge.storage import Purpose
from cloud_stub import store as cloud_store
from custom_components.thermosmart.const import DOMAIN
from tests.bridge.test_cloud_link import OWNER, Cloud, _serve_cloud

from .conftest import setup_integration, wait_until

TERMS = "2026-01"


@pytest.fixture
def terms_known(bridge: Bridge) -> None:
    """The bridge has learned the cloud's current terms version."""
    assert bridge.cloud_gate is not None
    bridge.cloud_gate.set_terms_version(TERMS)


async def _menu(hass: HomeAssistant, entry: MockConfigEntry, step: str) -> FlowResult:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": step}
    )


def _switches(result: FlowResult) -> dict[str, Any]:
    schema = result["data_schema"]
    assert schema is not None
    return {str(key): (key.description or {}).get("suggested_value") for key in schema.schema}


async def _granted(bridge: Bridge) -> dict[str, tuple[bool, str | None]]:
    current = (await bridge.privacy.consents()).consents
    return {p.value: (c.granted, c.terms_version) for p, c in current.items()}


async def test_privacy_step_shows_what_each_purpose_sends_and_grants_and_revokes(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry, terms_known: None
) -> None:
    await setup_integration(hass, config_entry)
    result = await _menu(hass, config_entry, "privacy")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "privacy"
    # every purpose is off: nothing is granted yet
    assert _switches(result) == {p.value: False for p in Purpose}
    placeholders = result["description_placeholders"] or {}
    for purpose in Purpose:
        line = next(x for x in placeholders["purposes"].splitlines() if f"**{purpose}**" in x)
        assert DESCRIPTIONS[purpose] in line
        assert all(field in line for field in ALLOWED[purpose])
    assert placeholders["terms_version"] == TERMS
    assert placeholders["privacy_url"].endswith("/docs/privacy.md")

    wanted = {p.value: False for p in Purpose} | {"cloud_sync": True, "statistics": True}
    result = await hass.config_entries.options.async_configure(result["flow_id"], wanted)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    granted = await _granted(bridge)
    assert granted["cloud_sync"] == (True, TERMS)
    assert granted["statistics"] == (True, TERMS)
    assert not granted["weather_by_city"][0]
    assert config_entry.options == {}  # consents live on the bridge

    # the form shows the bridge's decisions; switching one off revokes it there
    result = await _menu(hass, config_entry, "privacy")
    assert _switches(result)["statistics"] is True
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], wanted | {"statistics": False}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    granted = await _granted(bridge)
    assert granted["statistics"] == (False, TERMS)
    assert granted["cloud_sync"] == (True, TERMS)
    history = (await bridge.privacy.consents()).history
    assert [(c.purpose, c.granted) for c in history] == [
        ("cloud_sync", True),
        ("statistics", True),
        ("statistics", False),
    ]


async def test_opening_the_step_asks_the_clouds_terms_and_grants_under_them(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    """Nothing granted, so the bridge has not asked the terms: opening the step asks them
    (one request without data, logged as ``terms``), and a purpose is granted under them."""
    await setup_integration(hass, config_entry)
    assert bridge.cloud_gate is not None
    assert bridge.cloud_gate.terms_version is None
    result = await _menu(hass, config_entry, "privacy")
    assert (result["description_placeholders"] or {})["terms_version"] == TERMS
    [record] = (await bridge.privacy.egress()).records
    assert (record.path, record.purpose, record.fields) == ("/api/v1/terms", "terms", [])
    wanted = {p.value: p is Purpose.CLOUD_SYNC for p in Purpose}
    result = await hass.config_entries.options.async_configure(result["flow_id"], wanted)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert (await _granted(bridge))["cloud_sync"] == (True, TERMS)


async def test_nothing_is_granted_while_the_cloud_cannot_tell_its_terms(
    hass: HomeAssistant, bridge: Bridge, cloud: Cloud, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    await cloud.server.stop()  # the cloud is down: the bridge cannot learn the terms
    result = await _menu(hass, config_entry, "privacy")
    assert (result["description_placeholders"] or {})["terms_version"] == "—"
    wanted = {p.value: p is Purpose.CLOUD_SYNC for p in Purpose}
    result = await hass.config_entries.options.async_configure(result["flow_id"], wanted)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "terms_unknown"}
    assert (await bridge.privacy.consents()).history == []


# -- linking ----------------------------------------------------------------------------


@pytest.fixture
async def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Cloud]:
    """The stand-in on loopback; it asks for a poll every second."""
    monkeypatch.setattr(cloud_store, "LINK_INTERVAL", 1.0)
    async with _serve_cloud(tmp_path) as c:
        yield c


@pytest.fixture
async def bridge(tmp_path: Path, cloud: Cloud) -> AsyncIterator[Bridge]:
    """A real bridge whose cloud_url is the stand-in."""
    b = Bridge(
        validate(
            {
                "data_dir": str(tmp_path / "bridge"),
                "host": "127.0.0.1",
                "port": 0,
                "zeroconf": False,
                "cloud_url": cloud.url,
            }
        )
    )
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


def _owner_id(cloud: Cloud) -> int:
    found = cloud.store.owner(OWNER)
    return found.owner_id if found is not None else cloud.store.create_owner(OWNER)[0].owner_id


async def _until_done(hass: HomeAssistant, flow_id: str) -> FlowResult:
    """The flow's result once its progress step has ended."""
    await wait_until(
        hass,
        lambda: hass.config_entries.options.async_get(flow_id)["step_id"] == "cloud_link_done",
        timeout=30,
    )
    return await hass.config_entries.options.async_configure(flow_id)


@pytest.mark.parametrize(
    ("approve", "reason"), [(True, "cloud_linked"), (False, "cloud_link_denied")]
)
async def test_linking_shows_the_code_and_ends_with_the_owners_answer(
    hass: HomeAssistant,
    bridge: Bridge,
    cloud: Cloud,
    config_entry: MockConfigEntry,
    approve: bool,
    reason: str,
) -> None:
    await setup_integration(hass, config_entry)
    await bridge.privacy.record_consent(Purpose.CLOUD_SYNC, granted=True, terms_version=TERMS)
    with patch("custom_components.thermosmart.config_flow.LINK_POLL_S", 0.1):
        result = await _menu(hass, config_entry, "cloud_link")
        assert result["type"] is FlowResultType.SHOW_PROGRESS
        assert result["progress_action"] == "cloud_link"
        shown = result["description_placeholders"] or {}
        assert shown["url"] == f"{cloud.url}/device?user_code={shown['user_code']}"
        link = await bridge.cloud_link.status()
        assert link.code is not None
        assert link.code.user_code == shown["user_code"]

        decided = cloud.store.decide_link(shown["user_code"], _owner_id(cloud), approve=approve)
        assert decided is not None
        result = await _until_done(hass, result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    stored = await bridge.db.cloud.get()
    if approve:
        assert stored is not None
        assert (result["description_placeholders"] or {})["cloud_url"] == cloud.url
        again = await _menu(hass, config_entry, "cloud_link")
        assert again["reason"] == "cloud_already_linked"
    else:
        assert stored is None


async def test_linking_without_the_consent_says_so_and_sends_nothing(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    result = await _menu(hass, config_entry, "cloud_link")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cloud_link_no_consent"
    assert (
        "has not consented to cloud_sync" in (result["description_placeholders"] or {})["message"]
    )
    assert await bridge.db.egress.query() == []


# -- export, erase, diagnostics, the sensor ------------------------------------------------


async def test_export_returns_the_household_data(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await bridge.db.settings.set_many({"email": "owner@example.org"})
    await setup_integration(hass, config_entry)
    answer = await hass.services.async_call(
        DOMAIN,
        "export",
        {ATTR_CONFIG_ENTRY_ID: config_entry.entry_id},
        blocking=True,
        return_response=True,
    )
    assert answer is not None
    assert answer["format"] == "thermosmart-local-export"
    assert answer["settings"]["email"] == "owner@example.org"
    assert answer["schedule"]  # the default week
    assert "secret" not in json.dumps(answer)


async def test_erase_needs_confirmation_then_erases(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await bridge.db.settings.set_many({"email": "owner@example.org"})
    await bridge.db.egress.record("cloud.example", "/v1", "cloud_sync", ["name"], 10)
    await setup_integration(hass, config_entry)
    for data in ({}, {"confirm": False}):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN,
                "erase",
                {ATTR_CONFIG_ENTRY_ID: config_entry.entry_id, **data},
                blocking=True,
            )
        assert err.value.translation_key == "erase_not_confirmed"
        assert (await bridge.db.settings.get_all())["email"] == "owner@example.org"
        assert len(await bridge.db.egress.query()) == 1

    answer = await hass.services.async_call(
        DOMAIN,
        "erase",
        {ATTR_CONFIG_ENTRY_ID: config_entry.entry_id, "confirm": True},
        blocking=True,
        return_response=True,
    )
    assert answer is not None
    assert answer["tokens_revoked"] is False
    assert answer["erased"]["egress_log"] == 1
    assert (await bridge.db.settings.get_all()).get("email") in (None, "")
    assert await bridge.db.egress.query() == []
    assert config_entry.runtime_data.client.connected  # Home Assistant's token stays


async def test_diagnostics_show_the_egress_log_without_values(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    bridge: Bridge,
    config_entry: MockConfigEntry,
) -> None:
    await bridge.db.egress.record(
        "cloud.example", "/oauth2/token?device_code=s3cret", "cloud_sync", ["device_code"], 120
    )
    await setup_integration(hass, config_entry)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, config_entry)
    (record,) = diagnostics["egress_log"]
    assert record["host"] == "cloud.example"
    assert record["path"] == "/oauth2/token"
    assert record["purpose"] == "cloud_sync"
    assert record["fields"] == ["device_code"]
    assert record["bytes"] == 120
    assert "s3cret" not in json.dumps(diagnostics)


async def test_last_egress_sensor_follows_the_bridge(
    hass: HomeAssistant, bridge: Bridge, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{bridge.bridge_id}_last_egress"
    )
    assert entity_id is not None
    entity = er.async_get(hass).async_get(entity_id)
    assert entity is not None
    assert entity.entity_category == "diagnostic"
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == "unknown"
    assert state.attributes["device_class"] == "timestamp"

    record = await bridge.db.egress.record("cloud.example", "/v1", "cloud_sync", ["name"], 10)
    expected = dt_util.utc_from_timestamp(record.ts).isoformat(timespec="seconds")
    await wait_until(hass, lambda: hass.states.get(entity_id).state.startswith(expected[:19]))


# -- what goes wrong ------------------------------------------------------------------------


async def _through_proxy(
    hass: HomeAssistant, entry: MockConfigEntry, proxy: tuple[int, dict[tuple[str, str], Any]]
) -> dict[tuple[str, str], Any]:
    await setup_integration(hass, entry)
    port, answers = proxy
    entry.runtime_data.client.port = port
    return answers


async def test_privacy_step_when_the_bridge_cannot_tell_or_refuses(
    hass: HomeAssistant,
    bridge: Bridge,
    config_entry: MockConfigEntry,
    bridge_proxy: tuple[int, dict[tuple[str, str], Any]],
    terms_known: None,
) -> None:
    answers = await _through_proxy(hass, config_entry, bridge_proxy)
    answers["GET", "/api/v1/privacy/purposes"] = (500, {"message": "disk full"})
    result = await _menu(hass, config_entry, "privacy")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_read_privacy"
    assert "disk full" in (result["description_placeholders"] or {})["error"]

    del answers["GET", "/api/v1/privacy/purposes"]
    answers["PUT", "/api/v1/privacy/consents/statistics"] = (
        400,
        {"error": "invalid", "errors": [{"field": "terms_version", "rule": "not now"}]},
    )
    result = await _menu(hass, config_entry, "privacy")
    wanted = {p.value: p is Purpose.STATISTICS for p in Purpose}
    result = await hass.config_entries.options.async_configure(result["flow_id"], wanted)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "options_refused"}
    assert "terms_version: not now" in (result["description_placeholders"] or {})["error"]
    assert _switches(result) == wanted  # what the user chose stays on the form
    assert (await bridge.privacy.consents()).history == []


async def test_linking_when_the_bridge_fails(
    hass: HomeAssistant,
    bridge: Bridge,
    config_entry: MockConfigEntry,
    bridge_proxy: tuple[int, dict[tuple[str, str], Any]],
) -> None:
    answers = await _through_proxy(hass, config_entry, bridge_proxy)
    answers["GET", "/api/v1/cloud/link"] = (500, {"message": "disk full"})
    result = await _menu(hass, config_entry, "cloud_link")
    assert result["reason"] == "cloud_link_failed"
    assert "disk full" in (result["description_placeholders"] or {})["message"]

    # the link starts, then the bridge can no longer say how it stands
    await bridge.privacy.record_consent(Purpose.CLOUD_SYNC, granted=True, terms_version=TERMS)
    answers["GET", "/api/v1/cloud/link"] = (
        200,
        {"state": "idle", "message": None, "code": None, "link": None},
    )
    with patch("custom_components.thermosmart.config_flow.LINK_POLL_S", 0.1):
        result = await _menu(hass, config_entry, "cloud_link")
        assert result["type"] is FlowResultType.SHOW_PROGRESS
        answers["GET", "/api/v1/cloud/link"] = (500, {"message": "disk full"})
        result = await _until_done(hass, result["flow_id"])
    assert result["reason"] == "cloud_link_failed"
    assert (result["description_placeholders"] or {})["message"] == "the bridge could not be asked"


async def test_linking_ends_with_the_state_the_bridge_reports(
    hass: HomeAssistant,
    bridge: Bridge,
    config_entry: MockConfigEntry,
    bridge_proxy: tuple[int, dict[tuple[str, str], Any]],
    closed_port: int,
) -> None:
    answers = await _through_proxy(hass, config_entry, bridge_proxy)
    await bridge.privacy.record_consent(Purpose.CLOUD_SYNC, granted=True, terms_version=TERMS)
    client = config_entry.runtime_data.client
    with patch("custom_components.thermosmart.config_flow.LINK_POLL_S", 0.1):
        result = await _menu(hass, config_entry, "cloud_link")
        assert result["type"] is FlowResultType.SHOW_PROGRESS
        # a moment without the bridge does not end the step
        proxy_port, client.port = client.port, closed_port
        await asyncio.sleep(0.3)
        assert hass.config_entries.options.async_get(result["flow_id"])["step_id"] == "cloud_link"
        client.port = proxy_port
        answers["GET", "/api/v1/cloud/link"] = (
            200,
            {"state": "expired", "message": "the code expired", "code": None, "link": None},
        )
        result = await _until_done(hass, result["flow_id"])
    assert result["reason"] == "cloud_link_expired"
    assert (result["description_placeholders"] or {})["message"] == "the code expired"


async def test_linking_gives_up_when_the_bridge_never_answers(
    hass: HomeAssistant,
    bridge: Bridge,
    config_entry: MockConfigEntry,
    bridge_proxy: tuple[int, dict[tuple[str, str], Any]],
) -> None:
    """A bridge that says "waiting" longer than its code is valid: the step ends."""
    answers = await _through_proxy(hass, config_entry, bridge_proxy)
    code = {
        "user_code": "BCDF-GHJK",
        "verification_uri": "https://cloud.example/device",
        "verification_uri_complete": None,
        "expires_in": 0.3,
    }
    answers["POST", "/api/v1/cloud/link"] = (200, code)
    answers["GET", "/api/v1/cloud/link"] = (
        200,
        {"state": "idle", "message": None, "code": None, "link": None},
    )
    with patch("custom_components.thermosmart.config_flow.LINK_POLL_S", 0.1):
        result = await _menu(hass, config_entry, "cloud_link")
        assert (result["description_placeholders"] or {})["url"] == code["verification_uri"]
        answers["GET", "/api/v1/cloud/link"] = (
            200,
            {"state": "waiting", "message": "waiting", "code": code, "link": None},
        )
        result = await _until_done(hass, result["flow_id"])
    assert result["reason"] == "cloud_link_failed"


async def test_privacy_and_linking_need_a_loaded_bridge(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    for step in ("privacy", "cloud_link"):
        result = await hass.config_entries.options.async_init(config_entry.entry_id)
        assert result["type"] is FlowResultType.MENU
        assert await hass.config_entries.async_unload(config_entry.entry_id)
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": step}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "not_loaded"
        assert await hass.config_entries.async_setup(config_entry.entry_id)
        await wait_until(hass, lambda: config_entry.runtime_data.client.connected)
