"""Repair issues about the bridge itself: too old for the integration, and a lost pairing.

The boiler's faults have their own issues (see :mod:`.faults`), and so has
a missing outside-temperature entity (see :mod:`.outside`). A bridge
whose API is older than the integration needs gets an issue with a fix
flow: update the bridge, confirm, and the entry loads again. A refused
token starts Home Assistant's re-authentication flow; the issue here says
how to get a new pairing code and goes away when a pairing works. The
wall units' issues are raised by :mod:`.units`; the PID proposal's fix flow
(confirm, and the bridge sends the proposal to the unit) is here. A bridge
whose signed update check refused the cloud's manifest (tampered, replayed
or malformed) gets an issue until it accepts a manifest again.
When the cloud publishes new terms, the purposes the owner allowed under older ones
are paused on the bridge (its state's ``cloud.paused``); an issue names them
and the new version, and goes away once each is allowed again or turned off.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Final

from homeassistant import data_entry_flow
from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
import voluptuous as vol

from .client import (
    UPDATE_REJECTIONS,
    BridgeInfo,
    BridgeState,
    ThermoSmartClient,
    ThermoSmartError,
)
from .const import DOMAIN

if TYPE_CHECKING:
    from . import ThermoSmartConfigEntry

MIN_API_VERSION: Final = 1
"""The oldest bridge API this integration can work with."""

ISSUE_BRIDGE_TOO_OLD: Final = "bridge_too_old"
ISSUE_PAIRING_LOST: Final = "pairing_lost"
ISSUE_OUTSIDE_ENTITY_MISSING: Final = "outside_entity_missing"
"""Raised by :mod:`.outside` when the entity chosen for the outside temperature is gone."""
ISSUE_UNIT_PID_PROPOSAL: Final = "unit_pid_proposal"
"""Raised by :mod:`.units` when the bridge proposes PID parameters for the house's unit."""
ISSUE_UPDATE_REJECTED: Final = "update_rejected"
"""The bridge refused the cloud's update manifest; its text is ``update_manifest_{kind}``."""
ISSUE_CLOUD_TERMS: Final = "cloud_terms_changed"


def issue_id(kind: str, entry_id: str) -> str:
    """The id of an issue of one kind about one config entry."""
    return f"{kind}_{entry_id}"


@callback
def async_check_bridge_api(
    hass: HomeAssistant, entry: ThermoSmartConfigEntry, info: BridgeInfo
) -> None:
    """Refuse to set up a bridge whose API is too old, and tell the user to update it.

    Raises ``ConfigEntryNotReady`` so the entry loads by itself once the
    bridge is updated; the issue's fix flow checks at once.
    """
    ident = issue_id(ISSUE_BRIDGE_TOO_OLD, entry.entry_id)
    if info.api_version >= MIN_API_VERSION:
        ir.async_delete_issue(hass, DOMAIN, ident)
        return
    placeholders = {
        "name": entry.title,
        "version": info.version,
        "api_version": str(info.api_version),
        "min_api_version": str(MIN_API_VERSION),
    }
    ir.async_create_issue(
        hass,
        DOMAIN,
        ident,
        data={"entry_id": entry.entry_id},
        is_fixable=True,
        severity=ir.IssueSeverity.ERROR,
        translation_key=ISSUE_BRIDGE_TOO_OLD,
        translation_placeholders=placeholders,
    )
    raise ConfigEntryNotReady(
        translation_domain=DOMAIN,
        translation_key=ISSUE_BRIDGE_TOO_OLD,
        translation_placeholders=placeholders,
    )


@callback
def async_watch_reauth(hass: HomeAssistant) -> CALLBACK_TYPE:
    """Raise the lost-pairing issue whenever a re-authentication flow of a bridge starts."""
    flows = hass.config_entries.flow

    @callback
    def on_flow(event: str, flow_id: str) -> None:
        if event != "added":
            return
        reauths = flows.async_progress_by_handler(DOMAIN, match_context={"source": SOURCE_REAUTH})
        for flow in reauths:
            context = flow["context"]
            if flow["flow_id"] == flow_id and "entry_id" in context:
                name = (context.get("title_placeholders") or {}).get("name", "")
                async_create_pairing_lost_issue(hass, context["entry_id"], name)

    return flows.async_subscribe_flow(on_flow)


@callback
def async_create_pairing_lost_issue(hass: HomeAssistant, entry_id: str, name: str) -> None:
    """Tell the user the bridge refused Home Assistant's token and how to pair again."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(ISSUE_PAIRING_LOST, entry_id),
        data={"entry_id": entry_id},
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=ISSUE_PAIRING_LOST,
        translation_placeholders={"name": name},
    )


@callback
def async_entry_working(hass: HomeAssistant, entry: ThermoSmartConfigEntry) -> None:
    """The entry is set up: the token works and the bridge is recent enough."""
    ir.async_delete_issue(hass, DOMAIN, issue_id(ISSUE_PAIRING_LOST, entry.entry_id))
    ir.async_delete_issue(hass, DOMAIN, issue_id(ISSUE_BRIDGE_TOO_OLD, entry.entry_id))


@callback
def async_watch_update_check(hass: HomeAssistant, entry: ThermoSmartConfigEntry) -> None:
    """Raise an issue while the bridge reports a refused update manifest (its ``update``
    problem is a rejection); remove it once the bridge accepts one again."""
    coordinator = entry.runtime_data.coordinator
    ident = issue_id(ISSUE_UPDATE_REJECTED, entry.entry_id)
    shown: str | None = None

    @callback
    def check() -> None:
        nonlocal shown
        if not coordinator.last_update_success:
            return  # what the bridge showed last still holds
        status = coordinator.data.update
        problem = None if status is None else status.problem
        kind = None if problem is None or problem.kind not in UPDATE_REJECTIONS else problem.kind
        if kind == shown:
            return
        shown = kind
        if kind is None:
            ir.async_delete_issue(hass, DOMAIN, ident)
            return
        ir.async_create_issue(
            hass,
            DOMAIN,
            ident,
            data={"entry_id": entry.entry_id},
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR if kind == "tampered" else ir.IssueSeverity.WARNING,
            translation_key=f"update_manifest_{kind}",
            translation_placeholders={"name": entry.title},
        )

    check()
    entry.async_on_unload(coordinator.async_add_listener(check))


def async_update_cloud_terms_issue(
    hass: HomeAssistant, entry: ThermoSmartConfigEntry, state: BridgeState
) -> None:
    """Raise the new-terms issue while the bridge has paused purposes; remove it after."""
    ident = issue_id(ISSUE_CLOUD_TERMS, entry.entry_id)
    cloud = state.cloud
    if cloud is None or not cloud.paused or cloud.terms_version is None:
        ir.async_delete_issue(hass, DOMAIN, ident)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        ident,
        data={"entry_id": entry.entry_id},
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_CLOUD_TERMS,
        translation_placeholders={
            "name": entry.title,
            "purposes": ", ".join(cloud.paused),
            "version": cloud.terms_version,
        },
    )


@callback
def async_watch_cloud_terms(hass: HomeAssistant, entry: ThermoSmartConfigEntry) -> None:
    """Keep the new-terms issue in step with the bridge's state, until the entry unloads."""
    coordinator = entry.runtime_data.coordinator

    @callback
    def update() -> None:
        if coordinator.last_update_success:  # else what the bridge shows is stale
            async_update_cloud_terms_issue(hass, entry, coordinator.data)

    entry.async_on_unload(coordinator.async_add_listener(update))
    update()


class _ConfirmRepairFlow(RepairsFlow, ABC):
    """A fix flow of one config entry's issue: a confirmation, then :meth:`_async_fix`."""

    def __init__(self, entry_id: str) -> None:
        """Fix the issue of one config entry."""
        self._entry_id = entry_id

    async def async_step_init(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Start with the confirmation."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        """Show the issue's text; on Submit, fix it (or say why not)."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None:
            return self.async_abort(reason="entry_removed")
        errors: dict[str, str] = {}
        if user_input is not None:
            error = await self._async_fix(entry)
            if error is None:
                return self.async_create_entry(data={})
            errors["base"] = error
        issue = ir.async_get(self.hass).async_get_issue(DOMAIN, self.issue_id)
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema({}),
            errors=errors,
            description_placeholders=None if issue is None else issue.translation_placeholders,
        )

    @abstractmethod
    async def _async_fix(self, entry: ThermoSmartConfigEntry) -> str | None:
        """Fix the issue: None when fixed, else the error's translation key."""


class BridgeTooOldRepairFlow(_ConfirmRepairFlow):
    """After updating the bridge: check its API version and load the entry again."""

    async def _async_fix(self, entry: ThermoSmartConfigEntry) -> str | None:
        """Ask the bridge which API it speaks now."""
        client = ThermoSmartClient(
            entry.data[CONF_HOST],
            entry.data[CONF_PORT],
            session=async_get_clientsession(self.hass),
        )
        try:
            info = await client.health()
        except ThermoSmartError:
            return "cannot_connect"
        if info.api_version < MIN_API_VERSION:
            return "still_too_old"
        self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return None


class UnitPidProposalRepairFlow(_ConfirmRepairFlow):
    """Confirm, and the bridge sends its proposed PID parameters to the house's unit."""

    async def _async_fix(self, entry: ThermoSmartConfigEntry) -> str | None:
        """Turn the bridge's ``unit_pid_tuning`` option on."""
        if entry.state is not ConfigEntryState.LOADED:
            return "cannot_connect"
        data = entry.runtime_data
        try:
            await data.client.set_options(unit_pid_tuning=True)
        except ThermoSmartError:
            return "cannot_connect"
        await data.coordinator.async_request_refresh()
        return None


_FIX_FLOWS: Final = {
    ISSUE_BRIDGE_TOO_OLD: BridgeTooOldRepairFlow,
    ISSUE_UNIT_PID_PROPOSAL: UnitPidProposalRepairFlow,
}


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """The fix flow of a fixable issue: a too old bridge, or a proposed unit PID."""
    entry_id = (data or {}).get("entry_id")
    for kind, flow in _FIX_FLOWS.items():
        if issue_id.startswith(f"{kind}_") and isinstance(entry_id, str):
            return flow(entry_id)
    raise data_entry_flow.UnknownStep(f"issue {issue_id} has no fix flow")


@callback
def async_remove_entry_issues(hass: HomeAssistant, entry_id: str) -> None:
    """The entry is gone: so are its issues about the bridge."""
    for kind in (
        ISSUE_PAIRING_LOST,
        ISSUE_BRIDGE_TOO_OLD,
        ISSUE_OUTSIDE_ENTITY_MISSING,
        ISSUE_UPDATE_REJECTED,
        ISSUE_CLOUD_TERMS,
    ):
        ir.async_delete_issue(hass, DOMAIN, issue_id(kind, entry_id))
