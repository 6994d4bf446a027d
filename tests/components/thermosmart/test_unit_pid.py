"""The wall unit's PID proposal in Home Assistant: a fixable repair that sends it, and the
*Proposed PID* switch that sends it or takes it back.

The bridge starts from what it learned of the simulated underfloor house in four
simulated days with a wall unit (``fixtures/underfloor_learning.json``, written by
``python -m bench.unit_pid --houses underfloor --save-learning DIR``); the simulated
unit on that house reports the stock PID, on which the learned house overshoots, and the
bridge works out its proposal in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import json
from pathlib import Path
from typing import Any

from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.const import ATTR_ENTITY_ID, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest

from bridge.admin import DB_FILE
from bridge.core.clock import VirtualClock
from bridge.opentherm.sim.world import SimWorld
from bridge.services.learning import STATE_NAME
from bridge.storage import Database
from bridge.unit.protocol import Pid
from bridge.unit.sim import STOCK_PID, SimUnit
from custom_components.thermosmart.const import DOMAIN
from tests.bridge.unit_rig import HWID, PASSWORD, START, Rig, register, unit_bridge

from .conftest import entry_for, setup_integration, wait_until

LEARNED = Path(__file__).parent / "fixtures" / "underfloor_learning.json"
LEARNED_DAYS = 4


@pytest.fixture
async def learned_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """A bridge that learned the underfloor house, and the house's unit on its stock PID."""
    data = tmp_path / "learned"
    await register(data)
    db = await Database.open(data / DB_FILE, VirtualClock(START))
    try:
        await db.learning.put(STATE_NAME, json.loads(LEARNED.read_text()))
    finally:
        await db.close()
    start = START + LEARNED_DAYS * 86400  # where the learning left off
    clock = VirtualClock(start)
    world = SimWorld("underfloor", seed=4, start=start, outside_sensor=True)
    unit = SimUnit(world, hardware_id=HWID, password=PASSWORD)
    async with unit_bridge(data, clock) as bridge:
        rig = Rig(bridge, clock, unit)
        try:
            yield rig
        finally:
            await rig.close()


def _issue(hass: HomeAssistant, entry_id: str) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"unit_pid_proposal_{entry_id}")


async def test_a_pid_proposal_is_a_repair_that_sends_it_and_the_switch_takes_it_back(
    hass: HomeAssistant, learned_rig: Rig
) -> None:
    rig = learned_rig
    bridge = rig.bridge
    token = (await bridge.db.auth.create_token("Home Assistant")).token
    entry = entry_for(bridge, token)
    await setup_integration(hass, entry)
    proposal: dict[str, Any] | None = None
    for _ in range(100):  # the unit polls, the bridge keeps its own PID and proposes
        await rig.run(10)
        await asyncio.sleep(0.1)
        proposal = bridge.native_state()["units"][0]["pid_proposal"]
        if proposal is not None:
            break
    assert proposal is not None
    proposed = Pid(**proposal["pid"])
    await wait_until(hass, lambda: _issue(hass, entry.entry_id) is not None)
    issue = _issue(hass, entry.entry_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_key == "unit_pid_proposal"
    assert issue.translation_placeholders == {
        "name": entry.title,
        "hardware_id": HWID,
        "kp": f"{proposed.kp:g}",
        "ti": f"{proposed.ti:g}",
        "td": f"{proposed.td:g}",
        "own_overshoot": f"{proposal['own']['overshoot_k']:.2f}",
        "own_error": f"{proposal['own']['settled_error_k']:.2f}",
        "proposed_overshoot": f"{proposal['proposed']['overshoot_k']:.2f}",
        "proposed_error": f"{proposal['proposed']['settled_error_k']:.2f}",
    }

    switch_id = er.async_get(hass).async_get_entity_id(
        "switch", DOMAIN, f"{bridge.bridge_id}_unit_{HWID}_unit_pid_tuning"
    )
    assert switch_id is not None
    registered = er.async_get(hass).async_get(switch_id)
    assert registered is not None
    assert registered.entity_category is EntityCategory.CONFIG
    assert hass.states.get(switch_id).state == "off"
    assert rig.unit.settings.pid == STOCK_PID

    # the repair's fix: confirm, and the bridge sends the proposal on the next poll
    assert await async_setup_component(hass, "repairs", {})
    manager = repairs_flow_manager(hass)
    assert manager is not None
    result: Any = await manager.async_init(DOMAIN, data={"issue_id": issue.issue_id})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"]["kp"] == f"{proposed.kp:g}"
    result = await manager.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert bridge.thermostat.options()["unit_pid_tuning"] is True
    await wait_until(hass, lambda: hass.states.get(switch_id).state == "on")
    await wait_until(hass, lambda: _issue(hass, entry.entry_id) is None)
    await rig.run(10)
    assert (rig.unit.settings.pid, rig.unit.pids_received) == (proposed, 1)

    # the switch gives the unit its own back; the proposal still stands
    await hass.services.async_call("switch", "turn_off", {ATTR_ENTITY_ID: switch_id}, blocking=True)
    assert bridge.thermostat.options()["unit_pid_tuning"] is False
    await wait_until(hass, lambda: hass.states.get(switch_id).state == "off")
    await rig.run(10)
    assert (rig.unit.settings.pid, rig.unit.pids_received) == (STOCK_PID, 2)
    await wait_until(hass, lambda: _issue(hass, entry.entry_id) is not None)
    await hass.services.async_call("switch", "turn_on", {ATTR_ENTITY_ID: switch_id}, blocking=True)
    await rig.run(10)
    assert (rig.unit.settings.pid, rig.unit.pids_received) == (proposed, 3)

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert _issue(hass, entry.entry_id) is None
