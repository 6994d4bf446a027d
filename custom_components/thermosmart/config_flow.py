"""Config flow: discover or enter a bridge, then pair with its one-time code.

The options flow is a menu. Its settings pick the entity whose temperature
is pushed to the bridge as the outside temperature (kept in the entry's
options), and set warm-up and the heating system, which the bridge keeps
itself. "Cloud and privacy" shows each consent purpose as the bridge
describes it (what it sends) and grants or revokes it on the bridge; "Link to
the cloud" starts the bridge's link to the owner's cloud account and waits
for the owner's answer there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import contextlib
from typing import TYPE_CHECKING, Any

from homeassistant.components.sensor import DOMAIN as SENSOR_DOMAIN, SensorDeviceClass
from homeassistant.components.weather.const import DOMAIN as WEATHER_DOMAIN
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_TOKEN
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    EntityFilterSelectorConfig,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from homeassistant.loader import async_get_integration
import voluptuous as vol

from .client import (
    HEATING_SYSTEMS,
    BridgeInfo,
    CloudLinkStatus,
    Options,
    Purposes,
    ThermoSmartAuthenticationError,
    ThermoSmartClient,
    ThermoSmartConflictError,
    ThermoSmartConnectionError,
    ThermoSmartError,
    ThermoSmartRateLimitError,
    ThermoSmartValidationError,
)
from .const import (
    CLIENT_NAME,
    CONF_BRIDGE_ID,
    CONF_HEATING_SYSTEM,
    CONF_OUTSIDE_ENTITY,
    CONF_PREHEAT,
    CONF_TOKEN_ID,
    DEFAULT_PORT,
    DOMAIN,
    LOGGER,
)
from .errors import describe_refusal

if TYPE_CHECKING:
    from . import ThermoSmartConfigEntry

CONF_CODE = "code"

HOST_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_HOST): TextSelector(),
        vol.Required(CONF_PORT, default=DEFAULT_PORT): NumberSelector(
            NumberSelectorConfig(min=1, max=65535, mode=NumberSelectorMode.BOX)
        ),
    }
)
CODE_SCHEMA = vol.Schema({vol.Required(CONF_CODE): TextSelector()})
OUTSIDE_ENTITY_SELECTOR = EntitySelector(
    EntitySelectorConfig(
        filter=[
            EntityFilterSelectorConfig(
                domain=SENSOR_DOMAIN, device_class=SensorDeviceClass.TEMPERATURE
            ),
            EntityFilterSelectorConfig(domain=WEATHER_DOMAIN),
        ]
    )
)
BRIDGE_OPTIONS_SCHEMA: dict[vol.Marker, Any] = {
    vol.Required(CONF_PREHEAT): BooleanSelector(),
    vol.Required(CONF_HEATING_SYSTEM): SelectSelector(
        SelectSelectorConfig(
            options=list(HEATING_SYSTEMS),
            mode=SelectSelectorMode.LIST,
            translation_key=CONF_HEATING_SYSTEM,
        )
    ),
}
"""The options the bridge keeps: shown when the bridge is loaded and tells them."""
MENU_LOADED = ["settings", "privacy", "cloud_link"]
"""The options menu while the bridge is loaded; else only the settings."""
LINK_POLL_S = 2.0
"""How often the link step asks the bridge whether the owner has answered."""
PRIVACY_DOC = "privacy.md"
"""The privacy page, beside the documentation page the manifest names."""


class ThermoSmartConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a ThermoSmart Local bridge."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with no bridge chosen."""
        self._host: str | None = None
        self._port: int = DEFAULT_PORT
        self._info: BridgeInfo | None = None

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> ThermoSmartOptionsFlow:
        """The options: the outside temperature entity, warm-up and the heating system."""
        return ThermoSmartOptionsFlow()

    def _client(self, host: str, port: int) -> ThermoSmartClient:
        return ThermoSmartClient(host, port, session=async_get_clientsession(self.hass))

    async def _async_probe(self, host: str, port: int) -> tuple[BridgeInfo | None, str | None]:
        """Ask the bridge who it is; return the info or an error key."""
        try:
            return await self._client(host, port).health(), None
        except ThermoSmartConnectionError:
            return None, "cannot_connect"
        except ThermoSmartError:
            return None, "invalid_bridge"

    async def _async_pair(self, code: str) -> tuple[dict[str, Any] | None, str | None]:
        """Exchange the pairing code; return entry data or an error key."""
        assert self._host is not None
        client = self._client(self._host, self._port)
        try:
            result = await client.pair(code.strip(), CLIENT_NAME)
        except (ThermoSmartAuthenticationError, ThermoSmartValidationError):
            return None, "invalid_code"
        except ThermoSmartRateLimitError:
            return None, "rate_limited"
        except ThermoSmartConnectionError:
            return None, "cannot_connect"
        except ThermoSmartError:
            LOGGER.exception("Unexpected answer from the bridge while pairing")
            return None, "unknown"
        return {
            CONF_HOST: self._host,
            CONF_PORT: self._port,
            CONF_TOKEN: result.access_token,
            CONF_TOKEN_ID: result.token_id,
            CONF_BRIDGE_ID: result.bridge_id,
        }, None

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the bridge's host and port."""
        errors: dict[str, str] = {}
        if user_input is not None:
            host = user_input[CONF_HOST].strip()
            port = int(user_input[CONF_PORT])
            info, error = await self._async_probe(host, port)
            if info is None:
                errors["base"] = error or "unknown"
            else:
                await self.async_set_unique_id(info.bridge_id, raise_on_progress=False)
                self._abort_if_unique_id_configured(updates={CONF_HOST: host, CONF_PORT: port})
                self._host, self._port, self._info = host, port, info
                return await self.async_step_pair()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(HOST_SCHEMA, user_input or {}),
            errors=errors,
        )

    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """A bridge announced itself on the LAN."""
        bridge_id = discovery_info.properties.get("bridge_id")
        if not bridge_id:
            return self.async_abort(reason="invalid_bridge")
        host = discovery_info.host
        port = discovery_info.port or DEFAULT_PORT
        await self.async_set_unique_id(bridge_id)
        self._abort_if_unique_id_configured(updates={CONF_HOST: host, CONF_PORT: port})
        info, error = await self._async_probe(host, port)
        if info is None or info.bridge_id != bridge_id:
            return self.async_abort(reason=error or "invalid_bridge")
        self._host, self._port, self._info = host, port, info
        self.context["title_placeholders"] = {"name": info.name}
        return await self.async_step_zeroconf_confirm()

    async def async_step_zeroconf_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Let the user confirm the discovered bridge."""
        assert self._info is not None
        if user_input is not None:
            return await self.async_step_pair()
        self._set_confirm_only()
        return self.async_show_form(
            step_id="zeroconf_confirm",
            description_placeholders={"name": self._info.name, "host": str(self._host)},
        )

    async def async_step_pair(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the one-time pairing code and exchange it for a token."""
        assert self._info is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            data, error = await self._async_pair(user_input[CONF_CODE])
            if data is None:
                errors["base"] = error or "unknown"
            else:
                return self.async_create_entry(title=self._info.name, data=data)
        return self.async_show_form(
            step_id="pair",
            data_schema=CODE_SCHEMA,
            errors=errors,
            description_placeholders={"name": self._info.name},
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The bridge refused our token: pair again."""
        self._host = entry_data[CONF_HOST]
        self._port = entry_data[CONF_PORT]
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new pairing code."""
        errors: dict[str, str] = {}
        entry = self._get_reauth_entry()
        if user_input is not None:
            data, error = await self._async_pair(user_input[CONF_CODE])
            if data is None:
                errors["base"] = error or "unknown"
            else:
                await self.async_set_unique_id(data[CONF_BRIDGE_ID])
                self._abort_if_unique_id_mismatch(reason="wrong_bridge")
                return self.async_update_reload_and_abort(entry, data_updates=data)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=CODE_SCHEMA,
            errors=errors,
            description_placeholders={"name": entry.title},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the bridge's host or port."""
        errors: dict[str, str] = {}
        entry = self._get_reconfigure_entry()
        if user_input is not None:
            host = user_input[CONF_HOST].strip()
            port = int(user_input[CONF_PORT])
            info, error = await self._async_probe(host, port)
            if info is None:
                errors["base"] = error or "unknown"
            else:
                await self.async_set_unique_id(info.bridge_id)
                self._abort_if_unique_id_mismatch(reason="wrong_bridge")
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_HOST: host, CONF_PORT: port}
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                HOST_SCHEMA,
                user_input or {CONF_HOST: entry.data[CONF_HOST], CONF_PORT: entry.data[CONF_PORT]},
            ),
            errors=errors,
        )


class ThermoSmartOptionsFlow(OptionsFlowWithReload):
    """A menu: the settings, "Cloud and privacy", and linking the bridge to the cloud.

    The settings: the outside temperature entity is kept in the entry's
    options, and a change reloads the entry so the new one is fed at once.
    Warm-up and the heating system are the bridge's own options: they are
    sent to it, and a refusal is shown on the form. Consents and the cloud
    link live on the bridge; nothing of them is kept in Home Assistant.
    """

    def __init__(self) -> None:
        """No link started yet."""
        self._link_task: asyncio.Task[CloudLinkStatus | None] | None = None
        self._link_status: CloudLinkStatus | None = None
        self._link_placeholders: dict[str, str] = {}

    def _loaded(self) -> ThermoSmartConfigEntry | None:
        entry: ThermoSmartConfigEntry = self.config_entry
        return entry if entry.state is ConfigEntryState.LOADED else None

    def _bridge_options(self) -> Options | None:
        entry = self._loaded()
        return None if entry is None else entry.runtime_data.coordinator.data.options

    def _failure(self, err: ThermoSmartError) -> tuple[str, str]:
        """An error key and why, for a client error."""
        entry: ThermoSmartConfigEntry = self.config_entry
        if isinstance(err, ThermoSmartValidationError):
            return "options_refused", describe_refusal(err)
        if isinstance(err, ThermoSmartAuthenticationError):
            entry.async_start_reauth(self.hass)
            return "auth_failed", str(err)
        if isinstance(err, ThermoSmartConnectionError):
            return "cannot_connect", str(err)
        LOGGER.error("Unexpected answer from the bridge in the options: %s", err)
        return "unknown", str(err)

    async def _async_set_bridge_options(self, changes: dict[str, Any]) -> tuple[str, str] | None:
        """Send ``changes`` to the bridge: None when it took them, else an error key and why."""
        entry: ThermoSmartConfigEntry = self.config_entry
        try:
            await entry.runtime_data.client.set_options(**changes)
        except ThermoSmartError as err:
            return self._failure(err)
        entry.runtime_data.coordinator.async_apply_client_state()
        return None

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The menu (only the settings while the bridge is not loaded)."""
        if self._loaded() is None:
            return await self.async_step_settings()
        return self.async_show_menu(step_id="init", menu_options=MENU_LOADED)

    async def async_step_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """One form for the outside temperature entity, warm-up and the heating system."""
        current = self._bridge_options()
        fields: dict[vol.Marker, Any] = {vol.Optional(CONF_OUTSIDE_ENTITY): OUTSIDE_ENTITY_SELECTOR}
        shown: dict[str, Any] = {
            CONF_OUTSIDE_ENTITY: self.config_entry.options.get(CONF_OUTSIDE_ENTITY)
        }
        if current is not None:
            fields.update(BRIDGE_OPTIONS_SCHEMA)
            shown[CONF_PREHEAT] = current.preheat
            shown[CONF_HEATING_SYSTEM] = current.heating_system
        errors: dict[str, str] = {}
        placeholders = {"error": ""}
        if user_input is not None:
            changes: dict[str, Any] = {}
            if current is not None:
                changes = {
                    key: user_input[key]
                    for key in (CONF_PREHEAT, CONF_HEATING_SYSTEM)
                    if key in user_input and user_input[key] != getattr(current, key)
                }
            failure = await self._async_set_bridge_options(changes) if changes else None
            if failure is None:
                options = {
                    key: value
                    for key, value in self.config_entry.options.items()
                    if key != CONF_OUTSIDE_ENTITY
                }
                if outside := user_input.get(CONF_OUTSIDE_ENTITY):
                    options[CONF_OUTSIDE_ENTITY] = outside
                return self.async_create_entry(data=options)
            errors["base"], placeholders["error"] = failure
            shown = {**shown, CONF_OUTSIDE_ENTITY: None, **user_input}
        return self.async_show_form(
            step_id="settings",
            data_schema=self.add_suggested_values_to_schema(vol.Schema(fields), shown),
            errors=errors,
            description_placeholders=placeholders,
        )

    # -- cloud and privacy ------------------------------------------------------------

    async def _async_privacy_doc(self) -> str:
        """The privacy page's URL, beside the documentation page of the manifest."""
        integration = await async_get_integration(self.hass, DOMAIN)
        documentation = integration.documentation or ""
        return f"{documentation.rsplit('/', 1)[0]}/{PRIVACY_DOC}"

    async def async_step_privacy(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Each purpose as the bridge describes it, on only where it may send now."""
        entry = self._loaded()
        if entry is None:
            return self.async_abort(reason="not_loaded")
        client = entry.runtime_data.client
        errors: dict[str, str] = {}
        placeholders = {"error": ""}
        try:
            purposes = await client.purposes()
        except ThermoSmartError as err:
            return self.async_abort(
                reason="cannot_read_privacy", description_placeholders={"error": str(err)}
            )
        if purposes.terms_version is None:
            # the owner opened the cloud's consents: the bridge asks the cloud's terms version
            # (nothing of the home leaves), so a purpose can be granted under it
            with contextlib.suppress(ThermoSmartConflictError):  # no cloud, or unreachable
                purposes = await client.ask_terms()
        if user_input is not None:
            failure = await self._async_set_consents(purposes, user_input)
            if failure is None:
                return self.async_create_entry(data=dict(self.config_entry.options))
            errors["base"], placeholders["error"] = failure
        placeholders.update(
            purposes=_describe(purposes),
            terms_version=purposes.terms_version or "—",
            privacy_url=await self._async_privacy_doc(),
        )
        schema = vol.Schema({vol.Required(p.purpose): BooleanSelector() for p in purposes.purposes})
        shown = user_input or {p.purpose: p.allowed for p in purposes.purposes}
        return self.async_show_form(
            step_id="privacy",
            data_schema=self.add_suggested_values_to_schema(schema, shown),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_set_consents(
        self, purposes: Purposes, wanted: Mapping[str, Any]
    ) -> tuple[str, str] | None:
        """Grant what is switched on and may not send yet, revoke what is switched off and
        granted; None when the bridge took every change, else an error key and why."""
        terms = purposes.terms_version
        grants = [p for p in purposes.purposes if wanted.get(p.purpose) and not p.allowed]
        revokes = [p for p in purposes.purposes if not wanted.get(p.purpose) and p.granted]
        if grants and terms is None:
            return "terms_unknown", ""
        client = self.config_entry.runtime_data.client
        try:
            for purpose in grants:
                assert terms is not None
                await client.set_consent(purpose.purpose, granted=True, terms_version=terms)
            for purpose in revokes:
                version = terms or purpose.terms_version
                assert version is not None  # a granted purpose has its terms version
                await client.set_consent(purpose.purpose, granted=False, terms_version=version)
        except ThermoSmartError as err:
            return self._failure(err)
        return None

    # -- linking to the cloud ----------------------------------------------------------

    async def async_step_cloud_link(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Start the bridge's link, show the code and the link, wait for the owner's answer."""
        entry = self._loaded()
        if entry is None:
            return self.async_abort(reason="not_loaded")
        client = entry.runtime_data.client
        if self._link_task is None:
            try:
                status = await client.cloud_link()
                if status.state == "linked":
                    return self.async_abort(
                        reason="cloud_already_linked",
                        description_placeholders={"cloud_url": status.cloud_url or ""},
                    )
                code = await client.start_cloud_link()
            except ThermoSmartConflictError as err:
                reason = err.error if err.error in ("no_cloud", "no_consent") else "failed"
                return self.async_abort(
                    reason=f"cloud_link_{reason}", description_placeholders={"message": str(err)}
                )
            except ThermoSmartError as err:
                return self.async_abort(
                    reason="cloud_link_failed", description_placeholders={"message": str(err)}
                )
            self._link_placeholders = {
                "user_code": code.user_code,
                "url": code.verification_uri_complete or code.verification_uri,
            }
            self._link_task = self.hass.async_create_task(
                _async_wait_for_answer(client, code.expires_in + LINK_POLL_S)
            )
        if not self._link_task.done():
            return self.async_show_progress(
                step_id="cloud_link",
                progress_action="cloud_link",
                description_placeholders=self._link_placeholders,
                progress_task=self._link_task,
            )
        self._link_status = self._link_task.result()
        return self.async_show_progress_done(next_step_id="cloud_link_done")

    async def async_step_cloud_link_done(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """How the link ended, as the bridge says."""
        status = self._link_status
        if status is None:
            return self.async_abort(
                reason="cloud_link_failed",
                description_placeholders={"message": "the bridge could not be asked"},
            )
        if status.state == "linked":
            return self.async_abort(
                reason="cloud_linked",
                description_placeholders={"cloud_url": status.cloud_url or ""},
            )
        reason = status.state if status.state in ("denied", "expired") else "failed"
        return self.async_abort(
            reason=f"cloud_link_{reason}",
            description_placeholders={"message": status.message or status.state},
        )


async def _async_wait_for_answer(
    client: ThermoSmartClient, most_s: float
) -> CloudLinkStatus | None:
    """Ask the bridge until the link no longer waits; None if the bridge cannot be asked
    (or has not been reachable for longer than the code is valid)."""
    deadline = asyncio.get_running_loop().time() + most_s
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(LINK_POLL_S)
        try:
            status = await client.cloud_link()
        except ThermoSmartConnectionError:
            continue  # a moment without the bridge; it keeps polling the cloud meanwhile
        except ThermoSmartError as err:
            LOGGER.warning("The bridge could not say how the cloud link stands: %s", err)
            return None
        if not status.waiting:
            return status
    return None


def _describe(purposes: Purposes) -> str:
    """Each purpose and what it sends, as the bridge says, one Markdown item each."""
    return "\n".join(
        f"- **{p.purpose}**: {p.description} ({', '.join(p.fields) or '—'})"
        for p in purposes.purposes
    )
