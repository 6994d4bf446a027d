"""The bridge's update entity and the rejected-manifest repair issue, end to end.

A real bridge on a virtual clock checks the real stand-in over HTTPS on
loopback; the stand-in's manifest is signed with a test key the bridge is
configured to trust (:mod:`tests.cloud_stub.update_cloud`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
from homeassistant.components.update import UpdateEntityFeature
from homeassistant.const import STATE_ON, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from pytest_homeassistant_custom_component.typing import WebSocketGenerator
from syrupy.assertion import SnapshotAssertion

from bridge.core.manifest import Manifest
from bridge.core.payloads.privacy import Purpose
from bridge.daemon import Bridge
from custom_components.thermosmart.client import UPDATE_REJECTIONS
from custom_components.thermosmart.const import DOMAIN
from tests.cloud_stub.update_cloud import RELEASE, UpdateCloud, update_cloud

from .conftest import (
    entry_for,
    setup_integration,
    setup_platform,
    start_virtual_bridge,
    stop_virtual,
    wait_until,
)

UPDATE = "update.thermosmart_bridge_software"


async def _until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not check():
            await asyncio.sleep(0.01)


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[UpdateCloud]:
    async with update_cloud(tmp_path / "cloud-side") as served:
        yield served


@pytest.fixture
async def bridge(tmp_path: Path, cloud: UpdateCloud) -> AsyncIterator[Bridge]:
    """A virtual-clock bridge with the update_check consent that has accepted RELEASE."""
    bridge = await start_virtual_bridge(tmp_path / "vbridge", **cloud.config())
    try:
        await bridge.privacy.record_consent(
            Purpose.UPDATE_CHECK, granted=True, terms_version="2026-01"
        )
        await _until(lambda: bridge.native_state()["update"]["latest"] == RELEASE.version)
        yield bridge
    finally:
        await stop_virtual(bridge)


def _issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"update_rejected_{entry.entry_id}")


async def test_snapshot(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await setup_platform(hass, config_entry, Platform.UPDATE)
    await snapshot_platform(hass, entity_registry, snapshot, config_entry.entry_id)


async def test_the_accepted_release_and_its_notes_are_shown_with_no_install(
    hass: HomeAssistant,
    bridge: Bridge,
    config_entry: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    await setup_integration(hass, config_entry)
    state = hass.states.get(UPDATE)
    assert state is not None
    assert state.state == STATE_ON  # 0.3.0 is newer than the bridge's own 0.1.0
    assert state.attributes["installed_version"] == bridge.native_state()["bridge"]["version"]
    assert state.attributes["latest_version"] == "0.3.0"
    assert state.attributes["release_summary"] == "Signed update check."
    assert state.attributes["release_url"] is None
    features = UpdateEntityFeature(state.attributes["supported_features"])
    assert features == UpdateEntityFeature.RELEASE_NOTES  # no install
    client = await hass_ws_client(hass)
    await client.send_json({"id": 1, "type": "update/release_notes", "entity_id": UPDATE})
    answer = await client.receive_json()
    assert answer["success"], answer
    assert answer["result"] == RELEASE.notes


async def test_a_rejected_manifest_raises_a_repair_issue_until_one_is_accepted(
    hass: HomeAssistant, bridge: Bridge, cloud: UpdateCloud, config_entry: MockConfigEntry
) -> None:
    await setup_integration(hass, config_entry)
    assert _issue(hass, config_entry) is None
    check = bridge.update_check
    assert check is not None
    tampered = cloud.signed(Manifest(**{**RELEASE.to_dict(), "version": "0.4.0"}))
    tampered["manifest"]["notes"] = "Install this from elsewhere."  # the signature kept
    cloud.serve(tampered)
    await check.check()
    await wait_until(hass, lambda: _issue(hass, config_entry) is not None)
    issue = _issue(hass, config_entry)
    assert issue is not None
    assert issue.translation_key == "update_manifest_tampered"
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders == {"name": config_entry.title}
    state = hass.states.get(UPDATE)
    assert state is not None
    assert state.attributes["latest_version"] == "0.3.0"  # the tampered notes never show
    # a replay of an older release: the same issue, now saying so
    cloud.serve(
        cloud.signed(Manifest(version="0.2.0", date="2026-06-01", notes="Old.", sha256="cd" * 32))
    )
    await check.check()
    await wait_until(
        hass,
        lambda: (
            (found := _issue(hass, config_entry)) is not None
            and found.translation_key == "update_manifest_replayed"
        ),
    )
    # a manifest the trusted key signed, newer: accepted, the issue goes
    cloud.serve(cloud.signed(Manifest(**{**RELEASE.to_dict(), "version": "0.4.0"})))
    await check.check()
    await wait_until(hass, lambda: _issue(hass, config_entry) is None)
    state = hass.states.get(UPDATE)
    assert state is not None
    assert state.attributes["latest_version"] == "0.4.0"


async def test_a_bridge_without_a_cloud_has_no_update_entity(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    plain = await start_virtual_bridge(tmp_path / "plain")
    try:
        token = (await plain.db.auth.create_token("Home Assistant")).token
        entry = await setup_integration(hass, entry_for(plain, token))
        assert hass.states.get(UPDATE) is None
        assert _issue(hass, entry) is None
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await stop_virtual(plain)


async def test_the_rejections_are_the_bridges_problem_kinds_but_unreachable(
    bridge: Bridge,
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{bridge.port}/openapi.json") as resp,
    ):
        document = await resp.json()
    kinds = document["components"]["schemas"]["UpdateProblem"]["properties"]["kind"]["enum"]
    assert sorted(UPDATE_REJECTIONS) == sorted(set(kinds) - {"unreachable"})
