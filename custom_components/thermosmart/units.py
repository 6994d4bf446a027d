"""ThermoSmart wall units: their devices follow the bridge's registrations, and a unit
that stops polling raises a repair issue.

A bridge on a unit link (``thermosmart-unit://``) lists its registered wall
units in its state. Each has a device (see :func:`.entity.unit_device_info`)
whose entities are added as the unit appears (:func:`.entity.async_add_unit_entities`);
when a unit is no longer registered its device, and with it its entities,
is removed. A unit's model and firmware follow what it reports (a unit
registered while the bridge runs has a device before its first poll tells
them). The bridge marks a unit disconnected when it has not polled for
3 minutes, or, after the bridge restarts, when it has not polled in its first
3 minutes (it keeps each unit's last poll across restarts): its entities then
become unavailable and an issue tells the user; the issue goes away when the
unit polls again or is removed. A unit that never polled raises none: it is
not set up yet.

When the bridge proposes PID parameters for the house's unit (it learned
that the unit's own overshoot or are slow) and the owner has not turned them
on, a fixable issue shows the figures; its fix turns the bridge's
``unit_pid_tuning`` option on (the *Proposed PID* switch does the same). It
goes away when the option is on or the bridge no longer proposes any.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir

from .client import BridgeState
from .const import DOMAIN
from .entity import unit_hardware_id, unit_identifier, unit_model
from .repairs import ISSUE_UNIT_PID_PROPOSAL, issue_id

if TYPE_CHECKING:
    from . import ThermoSmartConfigEntry

ISSUE_UNIT_OFFLINE: Final = "unit_offline"


def unit_issue_id(entry_id: str, hardware_id: str) -> str:
    """The id of the issue about one silent wall unit of one config entry."""
    return f"{ISSUE_UNIT_OFFLINE}_{entry_id}_{hardware_id}"


def registered_unit(state: BridgeState, device: dr.DeviceEntry) -> bool | None:
    """Whether ``device`` is a wall unit the bridge still has (None: not a unit's device)."""
    hardware_id = unit_hardware_id(state.bridge.bridge_id, device)
    return None if hardware_id is None else state.unit(hardware_id) is not None


class UnitWatcher:
    """Keeps the wall units' devices and issues in step with the bridge's state."""

    def __init__(self, hass: HomeAssistant, entry: ThermoSmartConfigEntry) -> None:
        """Watch one bridge."""
        self.hass = hass
        self.entry = entry
        self._issues: set[str] = set()
        self._pid_issue: dict[str, str] | None = None

    @callback
    def async_update(self) -> None:
        """Look at the coordinator's current state (a coordinator listener)."""
        coordinator = self.entry.runtime_data.coordinator
        if not coordinator.last_update_success:
            return  # what the bridge shows now is stale: keep what we had
        state = coordinator.data
        self._async_remove_stale_devices(state)
        self._async_update_devices(state)
        self._async_update_issues(state)
        self._async_update_pid_issue(state)

    @callback
    def _async_remove_stale_devices(self, state: BridgeState) -> None:
        registry = dr.async_get(self.hass)
        for device in dr.async_entries_for_config_entry(registry, self.entry.entry_id):
            if registered_unit(state, device) is False:
                registry.async_update_device(device.id, remove_config_entry_id=self.entry.entry_id)

    @callback
    def _async_update_devices(self, state: BridgeState) -> None:
        """Keep each unit's model and firmware as the unit last reported them."""
        registry = dr.async_get(self.hass)
        for unit in state.units or ():
            identifier = unit_identifier(state.bridge.bridge_id, unit.hardware_id)
            device = registry.async_get_device(identifiers={(DOMAIN, identifier)})
            if device is None:
                continue  # its entities are not added yet
            model = unit_model(unit)
            if (device.model, device.sw_version) != (model, unit.firmware):
                registry.async_update_device(device.id, model=model, sw_version=unit.firmware)

    @callback
    def _async_update_issues(self, state: BridgeState) -> None:
        silent = {
            unit.hardware_id: unit
            for unit in state.units or ()
            if unit.connected is False and unit.last_seen is not None
        }
        for hardware_id in self._issues - set(silent):
            ir.async_delete_issue(
                self.hass, DOMAIN, unit_issue_id(self.entry.entry_id, hardware_id)
            )
        for hardware_id, unit in silent.items():
            if hardware_id in self._issues:
                continue
            assert unit.last_seen is not None
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                unit_issue_id(self.entry.entry_id, hardware_id),
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key=ISSUE_UNIT_OFFLINE,
                translation_placeholders={
                    "name": self.entry.title,
                    "hardware_id": hardware_id,
                    "last_seen": unit.last_seen.isoformat(timespec="seconds"),
                },
            )
        self._issues = set(silent)

    @callback
    def _async_update_pid_issue(self, state: BridgeState) -> None:
        house = next((unit for unit in state.units or () if unit.house), None)
        proposal = None if house is None else house.pid_proposal
        tuning = state.options is not None and bool(state.options.unit_pid_tuning)
        ident = issue_id(ISSUE_UNIT_PID_PROPOSAL, self.entry.entry_id)
        if house is None or proposal is None or tuning:
            if self._pid_issue is not None:
                ir.async_delete_issue(self.hass, DOMAIN, ident)
                self._pid_issue = None
            return
        placeholders = {
            "name": self.entry.title,
            "hardware_id": house.hardware_id,
            "kp": f"{proposal.pid.kp:g}",
            "ti": f"{proposal.pid.ti:g}",
            "td": f"{proposal.pid.td:g}",
            "own_overshoot": f"{proposal.own.overshoot_k:.2f}",
            "own_error": f"{proposal.own.settled_error_k:.2f}",
            "proposed_overshoot": f"{proposal.proposed.overshoot_k:.2f}",
            "proposed_error": f"{proposal.proposed.settled_error_k:.2f}",
        }
        if placeholders == self._pid_issue:
            return
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            ident,
            data={"entry_id": self.entry.entry_id},
            is_fixable=True,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_UNIT_PID_PROPOSAL,
            translation_placeholders=placeholders,
        )
        self._pid_issue = placeholders

    @callback
    def async_remove_issues(self) -> None:
        """Forget the issues (the entry is unloaded; the next setup looks again)."""
        for hardware_id in self._issues:
            ir.async_delete_issue(
                self.hass, DOMAIN, unit_issue_id(self.entry.entry_id, hardware_id)
            )
        self._issues = set()
        ir.async_delete_issue(
            self.hass, DOMAIN, issue_id(ISSUE_UNIT_PID_PROPOSAL, self.entry.entry_id)
        )
        self._pid_issue = None


@callback
def async_watch_units(hass: HomeAssistant, entry: ThermoSmartConfigEntry) -> None:
    """Start watching the wall units of a set-up entry, until it unloads."""
    watcher = UnitWatcher(hass, entry)
    coordinator = entry.runtime_data.coordinator
    entry.async_on_unload(coordinator.async_add_listener(watcher.async_update))
    entry.async_on_unload(watcher.async_remove_issues)
    watcher.async_update()
