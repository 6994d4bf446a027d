"""Calendar: the week schedule and its exceptions as events.

Each block of the schedule is an event named after its program; an
exception is an event of its own with its description, and cuts the
schedule blocks it covers. The bridge resolves the blocks (its
``/api/v1/schedule/blocks`` route, at most 31 days a request) and pushes the
block in force and the next one with its state; events are shown in the
bridge's timezone.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from homeassistant.components.calendar import CalendarEntity, CalendarEvent
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util

from . import ThermoSmartConfigEntry
from .client import ScheduleBlock, ThermoSmartError
from .const import DOMAIN
from .entity import ThermoSmartEntity

PARALLEL_UPDATES = 0

MAX_SPAN = timedelta(days=31)
"""The longest range the bridge resolves in one request."""


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

    def _event(self, block: ScheduleBlock, tz: tzinfo) -> CalendarEvent:
        labels = self._labels or {}
        return CalendarEvent(
            start=block.start.astimezone(tz),
            end=block.end.astimezone(tz),
            summary=labels.get(block.program, block.program),
            description=block.description,
        )

    @property
    def event(self) -> CalendarEvent | None:
        """The block in force now, as the bridge pushed it (or the next one once it ended)."""
        thermostat = self.state_data.thermostat
        tz = self._timezone or dt_util.get_default_time_zone()
        now = dt_util.utcnow()
        for block in (thermostat.current_block, thermostat.next_block):
            if block is not None and now < block.end:
                return self._event(block, tz)
        return None

    async def async_get_events(
        self, hass: HomeAssistant, start_date: datetime, end_date: datetime
    ) -> list[CalendarEvent]:
        """The blocks between two times, as the bridge resolves them."""
        tz = self._timezone or dt_util.get_default_time_zone()
        client = self.coordinator.client
        blocks: list[ScheduleBlock] = []
        cursor = start_date
        try:
            while cursor < end_date:
                until = min(end_date, cursor + MAX_SPAN)
                for block in await client.schedule_blocks(cursor, until):
                    if not blocks or block.start >= blocks[-1].end:
                        blocks.append(block)
                cursor = until
        except ThermoSmartError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="schedule_unavailable",
                translation_placeholders={"error": str(err)},
            ) from err
        return [self._event(block, tz) for block in blocks]
