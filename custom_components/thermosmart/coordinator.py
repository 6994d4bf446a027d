"""One coordinator per bridge: a first read over REST, then the bridge's pushes.

After the first refresh a background task keeps the bridge's WebSocket open
and feeds every pushed state into ``async_set_updated_data``. When the
channel is lost the entities become unavailable, one warning is logged and
the task reconnects with a growing delay; the first state after that makes
them available again and logs one line. Everything the entities show
(the schedule blocks in force, the predictions, the energy counters)
arrives with the pushed state; nothing is polled.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .client import (
    BridgeState,
    ThermoSmartAuthenticationError,
    ThermoSmartClient,
    ThermoSmartError,
)
from .const import DOMAIN, LOGGER

if TYPE_CHECKING:
    from . import ThermoSmartConfigEntry

RECONNECT_MIN = 1.0
RECONNECT_MAX = 300.0
"""Seconds between reconnection attempts: doubling from the first to the last."""


class ThermoSmartCoordinator(DataUpdateCoordinator[BridgeState]):
    """The state of one bridge, pushed over its WebSocket."""

    config_entry: ThermoSmartConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: ThermoSmartConfigEntry, client: ThermoSmartClient
    ) -> None:
        """Set up the coordinator; nothing is read yet."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=None,
        )
        self.client = client
        self.connection = 0
        """Counts the push connections (shown in the diagnostics)."""
        self._lost = False
        self._received = False

    async def _async_update_data(self) -> BridgeState:
        """Read the whole state over REST."""
        try:
            return await self.client.native_state()
        except ThermoSmartAuthenticationError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="auth_failed"
            ) from err
        except ThermoSmartError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="update_failed",
                translation_placeholders={"error": str(err)},
            ) from err

    @callback
    def async_start_push(self) -> None:
        """Start listening to the bridge; stops on unload and on Home Assistant stop."""
        entry = self.config_entry
        entry.async_create_background_task(
            self.hass, self._async_listen(), f"{DOMAIN} push {entry.entry_id}"
        )
        entry.async_on_unload(
            self.hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, self._async_on_stop)
        )

    async def _async_on_stop(self, _event: Event) -> None:
        await self.async_stop_push()

    async def async_stop_push(self) -> None:
        """Close the push channel (the listening task then ends)."""
        await self.client.disconnect()

    async def _async_listen(self) -> None:
        delay = RECONNECT_MIN
        while True:
            self._received = False
            try:
                await self.client.connect()
                self.connection += 1
                await self.client.listen(self._async_on_state)
            except ThermoSmartAuthenticationError:
                await self.client.disconnect()
                self._async_mark_lost("the bridge refused the token")
                self.config_entry.async_start_reauth(self.hass)
                return
            except ThermoSmartError as err:
                await self.client.disconnect()
                self._async_mark_lost(str(err))
            else:
                return  # closed on purpose
            if self._received:
                delay = RECONNECT_MIN
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)

    @callback
    def _async_on_state(self, state: BridgeState) -> None:
        self._received = True
        if self._lost:
            self._lost = False
            LOGGER.info(
                "Connection to the ThermoSmart Local bridge %s restored", self.config_entry.title
            )
        self.async_set_updated_data(state)

    @callback
    def _async_mark_lost(self, reason: str) -> None:
        if self._lost:
            LOGGER.debug("Still no connection to the bridge: %s", reason)
            return
        self._lost = True
        LOGGER.warning(
            "Lost the connection to the ThermoSmart Local bridge %s (%s); reconnecting",
            self.config_entry.title,
            reason,
        )
        self.last_update_success = False
        self.async_update_listeners()

    @callback
    def async_apply_client_state(self) -> None:
        """Show what the last command returned without waiting for the push."""
        if (state := self.client.current_state) is not None:
            self.async_set_updated_data(state)
