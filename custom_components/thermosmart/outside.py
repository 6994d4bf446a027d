"""Push the outside temperature of a Home Assistant entity to the bridge.

The options may name a temperature sensor or a weather entity. Its
temperature, in °C, goes to the bridge on every change and again every
``REPUSH_INTERVAL`` even when it holds still, because the bridge uses a
pushed value for three hours only (a boiler with its own outside sensor
wins over it). Unknown, unavailable and non-numeric values are skipped. A
failing push logs one warning and the first push that works again one info
line. An entity that does not exist (once Home Assistant has started) logs
one warning and raises a repair issue, which goes away when it is back.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
import math
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.weather.const import (
    ATTR_WEATHER_TEMPERATURE,
    ATTR_WEATHER_TEMPERATURE_UNIT,
    DOMAIN as WEATHER_DOMAIN,
)
from homeassistant.const import (
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    UnitOfTemperature,
)
from homeassistant.core import (
    CoreState,
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_state_change_event, async_track_time_interval
from homeassistant.helpers.start import async_at_started
from homeassistant.util.unit_conversion import TemperatureConverter

from .client import ThermoSmartError, ThermoSmartValidationError
from .const import DOMAIN, LOGGER
from .errors import describe_refusal
from .repairs import ISSUE_OUTSIDE_ENTITY_MISSING, issue_id

if TYPE_CHECKING:
    from . import ThermoSmartConfigEntry

REPUSH_INTERVAL: Final = timedelta(minutes=15)
"""How often an unchanged temperature is pushed again (the bridge keeps one 3 hours)."""


def outside_celsius(state: State) -> float | None:
    """The temperature an entity shows, in °C; None when it has no usable one.

    A sensor's state in its ``unit_of_measurement``; a weather entity's
    ``temperature`` attribute in its ``temperature_unit``.
    """
    if state.state in (STATE_UNKNOWN, STATE_UNAVAILABLE):
        return None
    raw: Any
    if state.domain == WEATHER_DOMAIN:
        raw = state.attributes.get(ATTR_WEATHER_TEMPERATURE)
        unit = state.attributes.get(ATTR_WEATHER_TEMPERATURE_UNIT)
    else:
        raw = state.state
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
    if unit not in TemperatureConverter.VALID_UNITS or isinstance(raw, bool):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value):
        return None
    celsius = TemperatureConverter.convert(value, unit, UnitOfTemperature.CELSIUS)
    return round(celsius, 2)


class OutsideTemperatureFeed:
    """Feeds one entity's temperature to one bridge while the entry is loaded."""

    def __init__(self, hass: HomeAssistant, entry: ThermoSmartConfigEntry, entity_id: str) -> None:
        """Feed ``entity_id``; nothing happens before :meth:`async_start`."""
        self.hass = hass
        self.entry = entry
        self.entity_id = entity_id
        self._issue = issue_id(ISSUE_OUTSIDE_ENTITY_MISSING, entry.entry_id)
        self._pending: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_pushed: float | None = None
        self._failing = False
        self._missing = False

    @callback
    def async_start(self) -> None:
        """Listen to the entity and the clock until the entry unloads."""
        entry = self.entry
        entry.async_on_unload(self._async_remove_issue)
        entry.async_on_unload(
            async_track_state_change_event(self.hass, self.entity_id, self._async_on_change)
        )
        entry.async_on_unload(
            async_track_time_interval(
                self.hass,
                self._async_on_interval,
                REPUSH_INTERVAL,
                name=f"{DOMAIN} outside temperature",
                cancel_on_shutdown=True,
            )
        )
        # entities of other integrations may appear while Home Assistant starts
        entry.async_on_unload(async_at_started(self.hass, self._async_on_started))

    @callback
    def _async_on_change(self, event: Event[EventStateChangedData]) -> None:
        self._async_read(event.data["new_state"], force=False)

    @callback
    def _async_on_interval(self, _now: datetime) -> None:
        self._async_read(self.hass.states.get(self.entity_id), force=True)

    @callback
    def _async_on_started(self, _hass: HomeAssistant) -> None:
        self._async_read(self.hass.states.get(self.entity_id), force=True)

    @callback
    def _async_read(self, state: State | None, *, force: bool) -> None:
        """Push what ``state`` shows; ``force`` also when it is what was pushed last."""
        if state is None:
            if self.hass.state is CoreState.running:
                self._async_missing()
            return
        self._async_found()
        value = outside_celsius(state)
        if value is None:
            LOGGER.debug("%s has no usable temperature (%s)", self.entity_id, state.state)
            return
        if not force and value == self._last_pushed:
            return  # an attribute changed, not the temperature
        self._pending = value
        if self._task is None or self._task.done():
            self._task = self.entry.async_create_background_task(
                self.hass,
                self._async_push_pending(),
                f"{DOMAIN} outside temperature {self.entry.entry_id}",
            )

    async def _async_push_pending(self) -> None:
        """Push the newest value until none is waiting (one request at a time)."""
        while (value := self._pending) is not None:
            self._pending = None
            await self._async_push(value)

    async def _async_push(self, value: float) -> None:
        try:
            await self.entry.runtime_data.client.set_outside_temperature(value)
        except ThermoSmartError as err:
            self._last_pushed = None
            reason = describe_refusal(err) if isinstance(err, ThermoSmartValidationError) else err
            if self._failing:
                LOGGER.debug("Still cannot push the outside temperature: %s", reason)
                return
            self._failing = True
            LOGGER.warning(
                "Cannot push the outside temperature of %s to the ThermoSmart Local bridge %s "
                "(%s); trying again on the next change",
                self.entity_id,
                self.entry.title,
                reason,
            )
            return
        self._last_pushed = value
        if self._failing:
            self._failing = False
            LOGGER.info(
                "Pushing the outside temperature of %s to the ThermoSmart Local bridge %s "
                "works again",
                self.entity_id,
                self.entry.title,
            )

    @callback
    def _async_missing(self) -> None:
        if self._missing:
            return
        self._missing = True
        LOGGER.warning(
            "The outside temperature entity %s of the ThermoSmart Local bridge %s does not "
            "exist; choose another one in the integration's options",
            self.entity_id,
            self.entry.title,
        )
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._issue,
            data={"entry_id": self.entry.entry_id},
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_OUTSIDE_ENTITY_MISSING,
            translation_placeholders={"name": self.entry.title, "entity_id": self.entity_id},
        )

    @callback
    def _async_found(self) -> None:
        if not self._missing:
            return
        self._missing = False
        LOGGER.info("The outside temperature entity %s is back", self.entity_id)
        self._async_remove_issue()

    @callback
    def _async_remove_issue(self) -> None:
        ir.async_delete_issue(self.hass, DOMAIN, self._issue)
