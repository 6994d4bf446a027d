"""Boiler faults: an event for automations and a repair issue for the user.

Watches the bridge's pushed state. When the boiler reports a new fault
(the fault bit, low water pressure, a gas or flame fault, an air pressure
fault, overheating, or a service request) it fires ``thermosmart_boiler_fault``
with ``type: fault`` and the details; when every fault has cleared it fires
``type: cleared``. The device triggers ``boiler_fault`` and
``boiler_fault_cleared`` listen to these events. A fault that needs the
user also raises a repair issue showing the boiler's OEM code; it goes away
by itself when the boiler clears the fault.

A boiler tells a fault in parts (the fault bit first, the flags and the OEM
code a few seconds later), so the event waits until the faults have held
still for ``FAULT_SETTLE`` and then tells them whole, once. A fault that
clears within that time fires nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.event import async_call_later

from .client import BridgeState, Faults
from .const import DOMAIN
from .entity import DeviceKind

if TYPE_CHECKING:
    from . import ThermoSmartConfigEntry

EVENT_BOILER_FAULT: Final = "thermosmart_boiler_fault"
EVENT_TYPE_FAULT: Final = "fault"
EVENT_TYPE_CLEARED: Final = "cleared"

ISSUE_BOILER_FAULT: Final = "boiler_fault"
ISSUE_SERVICE_REQUEST: Final = "service_request"

NOT_FAULTS: Final = frozenset({"remote_reset_enabled"})
"""Flags the bridge lists as active that tell a capability, not a fault."""

FAULT_ISSUES: Final[tuple[tuple[str, str], ...]] = (
    ("low_water_pressure", "boiler_low_water_pressure"),
    ("gas_flame_fault", "boiler_gas_flame_fault"),
    ("air_pressure_fault", "boiler_air_pressure_fault"),
    ("water_over_temperature", "boiler_water_over_temperature"),
    ("fault", "boiler_fault"),
)
"""Active fault -> the issue that explains it, most specific first."""

UNKNOWN_CODE: Final = "-"
FAULT_SETTLE: Final = timedelta(seconds=5)
"""How long the faults must hold still before the event tells them."""


@dataclass(frozen=True, slots=True)
class FaultReport:
    """The faults the boiler reports at one moment."""

    active: frozenset[str]
    oem_fault_code: int | None
    oem_diagnostic_code: int | None

    @classmethod
    def of(cls, faults: Faults | None) -> FaultReport:
        """The report in the bridge's fault information (none for an on/off boiler)."""
        if faults is None:
            return NO_FAULTS
        active = frozenset(faults.active) - NOT_FAULTS
        return cls(
            active=active,
            oem_fault_code=faults.oem_fault_code if active else None,
            oem_diagnostic_code=faults.oem_diagnostic_code if active else None,
        )


NO_FAULTS: Final = FaultReport(frozenset(), None, None)


def _code(value: int | None) -> str:
    return UNKNOWN_CODE if value is None else str(value)


def _pressure(state: BridgeState) -> str:
    value = None if state.boiler is None else state.boiler.number("ch_water_pressure")
    return UNKNOWN_CODE if value is None else f"{value:.1f}"


class BoilerFaultWatcher:
    """Turns changes of the boiler's faults into events and repair issues."""

    def __init__(self, hass: HomeAssistant, entry: ThermoSmartConfigEntry) -> None:
        """Watch one bridge; nothing is known before its first state."""
        self.hass = hass
        self.entry = entry
        self._last: FaultReport | None = None
        self._announced: FaultReport | None = None
        self._settle: CALLBACK_TYPE | None = None
        self._issues: tuple[str | None, bool, dict[str, str]] | None = None

    @property
    def _fault_issue(self) -> str:
        return f"{ISSUE_BOILER_FAULT}_{self.entry.entry_id}"

    @property
    def _service_issue(self) -> str:
        return f"{ISSUE_SERVICE_REQUEST}_{self.entry.entry_id}"

    @callback
    def async_update(self) -> None:
        """Look at the coordinator's current state (a coordinator listener)."""
        coordinator = self.entry.runtime_data.coordinator
        state = coordinator.data
        if not coordinator.last_update_success or not state.link.connected:
            return  # what the bridge shows now is stale: keep what we had
        report = FaultReport.of(state.faults)
        self._async_update_issues(state, report)
        previous, self._last = self._last, report
        if previous is None:
            self._announced = report  # the first look: what was there was reported before
            return
        if report == previous:
            return
        self.async_cancel()
        self._settle = async_call_later(self.hass, FAULT_SETTLE, self._async_announce)

    @callback
    def _async_announce(self, _now: datetime) -> None:
        """The faults held still: fire the event if they differ from what was told."""
        self._settle = None
        report, told = self._last, self._announced
        assert report is not None
        assert told is not None
        self._announced = report
        new = report.active - told.active
        if new or (report.active and report.oem_fault_code != told.oem_fault_code):
            self._async_fire(EVENT_TYPE_FAULT, report)
        elif told.active and not report.active:
            self._async_fire(EVENT_TYPE_CLEARED, report)

    @callback
    def async_cancel(self) -> None:
        """Drop an event that waits for the faults to settle."""
        if self._settle is not None:
            self._settle()
            self._settle = None

    @callback
    def _async_fire(self, kind: str, report: FaultReport) -> None:
        bridge_id = self.entry.runtime_data.coordinator.data.bridge.bridge_id
        device = dr.async_get(self.hass).async_get_device(
            identifiers={(DOMAIN, f"{bridge_id}_{DeviceKind.BOILER}")}
        )
        self.hass.bus.async_fire(
            EVENT_BOILER_FAULT,
            {
                "device_id": None if device is None else device.id,
                "config_entry_id": self.entry.entry_id,
                "type": kind,
                "faults": sorted(report.active),
                "oem_fault_code": report.oem_fault_code,
                "oem_diagnostic_code": report.oem_diagnostic_code,
            },
        )

    @callback
    def _async_update_issues(self, state: BridgeState, report: FaultReport) -> None:
        placeholders = {
            "name": self.entry.title,
            "code": _code(report.oem_fault_code),
            "diagnostic_code": _code(report.oem_diagnostic_code),
            "pressure": _pressure(state),
        }
        key = next((issue for fault, issue in FAULT_ISSUES if fault in report.active), None)
        service = "service_request" in report.active
        shown = (key, service, placeholders if key or service else {})
        if shown == self._issues:
            return  # what the issues say has not changed
        self._issues = shown
        if key is None:
            ir.async_delete_issue(self.hass, DOMAIN, self._fault_issue)
        else:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self._fault_issue,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key=key,
                translation_placeholders=placeholders,
            )
        if service:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self._service_issue,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=ISSUE_SERVICE_REQUEST,
                translation_placeholders=placeholders,
            )
        else:
            ir.async_delete_issue(self.hass, DOMAIN, self._service_issue)

    @callback
    def async_remove_issues(self) -> None:
        """Forget the fault issues (the entry is unloaded; the next setup looks again)."""
        self._issues = None
        ir.async_delete_issue(self.hass, DOMAIN, self._fault_issue)
        ir.async_delete_issue(self.hass, DOMAIN, self._service_issue)


@callback
def async_watch_boiler_faults(hass: HomeAssistant, entry: ThermoSmartConfigEntry) -> None:
    """Start watching the boiler's faults of a set-up entry, until it unloads."""
    watcher = BoilerFaultWatcher(hass, entry)
    coordinator = entry.runtime_data.coordinator
    entry.async_on_unload(coordinator.async_add_listener(watcher.async_update))
    entry.async_on_unload(watcher.async_remove_issues)
    entry.async_on_unload(watcher.async_cancel)
    watcher.async_update()
