"""Config flow: discover or enter a bridge, then pair with its one-time code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_TOKEN
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import voluptuous as vol

from .client import (
    BridgeInfo,
    ThermoSmartAuthenticationError,
    ThermoSmartClient,
    ThermoSmartConnectionError,
    ThermoSmartError,
    ThermoSmartRateLimitError,
    ThermoSmartValidationError,
)
from .const import CLIENT_NAME, CONF_BRIDGE_ID, CONF_TOKEN_ID, DEFAULT_PORT, DOMAIN, LOGGER

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


class ThermoSmartConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a ThermoSmart Local bridge."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with no bridge chosen."""
        self._host: str | None = None
        self._port: int = DEFAULT_PORT
        self._info: BridgeInfo | None = None

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
