"""Button: clear a manual target and follow the schedule again."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import ThermoSmartConfigEntry
from .entity import ThermoSmartEntity, thermosmart_exception_handler

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThermoSmartConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the button."""
    async_add_entities(
        [ThermoSmartClearOverrideButton(entry.runtime_data.coordinator, "clear_override")]
    )


class ThermoSmartClearOverrideButton(ThermoSmartEntity, ButtonEntity):
    """Drops a manual target: back to the schedule (a pause stays)."""

    _attr_translation_key = "clear_override"

    @thermosmart_exception_handler
    async def async_press(self) -> None:
        """Clear the override on the bridge."""
        await self.coordinator.client.clear_override()
