"""Calendar: the week schedule and its exceptions as events.

Each block of the schedule is an event named after its program; an
exception is an event of its own with its description, and cuts the
schedule blocks it covers. Times are resolved in the bridge's timezone, the
way the bridge resolves them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from homeassistant.components.calendar import CalendarEntity, CalendarEvent
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util

from . import ThermoSmartConfigEntry
from .client import Block, blocks_between
from .const import DOMAIN
from .entity import ThermoSmartEntity

PARALLEL_UPDATES = 0

LOOKAHEAD = timedelta(days=15)
"""How far ahead the current or next event is looked for."""


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThermoSmartConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the schedule calendar."""
    async_add_entities([ThermoSmartScheduleCalendar(entry.runtime_data.coordinator, "schedule")])


class ThermoSmartScheduleCalendar(ThermoSmartEntity, CalendarEntity):
    """The thermostat's week schedule and exceptions."""

    _attr_translation_key = "schedule"
    _timezone: tzinfo | None = None
    _timezone_name: str | None = None
    _labels: dict[str, str] | None = None

    async def async_added_to_hass(self) -> None:
        """Load the bridge's timezone and the program names."""
        await self._async_load_timezone()
        translations = await async_get_translations(
            self.hass, self.hass.config.language, "entity", [DOMAIN]
        )
        prefix = f"component.{DOMAIN}.entity.calendar.schedule.state_attributes.message.state."
        self._labels = {
            key.removeprefix(prefix): value
            for key, value in translations.items()
            if key.startswith(prefix)
        }
        await super().async_added_to_hass()

    async def _async_load_timezone(self) -> None:
        name = self.state_data.thermostat.timezone
        zone = None if name is None else await dt_util.async_get_time_zone(name)
        self._timezone_name = name
        self._timezone = zone or dt_util.get_default_time_zone()

    @callback
    def _handle_coordinator_update(self) -> None:
        if self.state_data.thermostat.timezone != self._timezone_name:
            self.hass.async_create_task(self._async_reload_timezone(), eager_start=True)
            return
        super()._handle_coordinator_update()

    async def _async_reload_timezone(self) -> None:
        await self._async_load_timezone()
        self.async_write_ha_state()

    def _event(self, block: Block, tz: tzinfo) -> CalendarEvent:
        labels = self._labels or {}
        summary = labels.get(block.program, block.program)
        exception = block.exception
        return CalendarEvent(
            start=block.start.astimezone(tz),
            end=block.end.astimezone(tz),
            summary=summary,
            description=None if exception is None else exception.description or None,
        )

    def _events(self, start: datetime, end: datetime) -> list[CalendarEvent]:
        tz = self._timezone or dt_util.get_default_time_zone()
        thermostat = self.state_data.thermostat
        blocks = blocks_between(thermostat.schedule, thermostat.exceptions, tz, start, end)
        return [self._event(block, tz) for block in blocks]

    @property
    def event(self) -> CalendarEvent | None:
        """The block in force now (or the next one)."""
        now = dt_util.utcnow()
        events = self._events(now, now + LOOKAHEAD)
        return events[0] if events else None

    async def async_get_events(
        self, hass: HomeAssistant, start_date: datetime, end_date: datetime
    ) -> list[CalendarEvent]:
        """The blocks between two times."""
        return self._events(start_date, end_date)
