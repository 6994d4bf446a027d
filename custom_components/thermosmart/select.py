"""Selects: the wall unit's status LED, what its display shows, and its display language.

They are the bridge's ``unit_status_led``, ``unit_display`` and
``unit_language`` options, on the house unit's device; unknown while unset
(the unit keeps its own). The options are the bridge's values, spelled as
Home Assistant state keys (``nl-NL`` is ``nl_nl``) so their names translate.
"""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import ThermoSmartConfigEntry
from .client import UNIT_DISPLAYS, UNIT_LANGUAGES, UNIT_STATUS_LEDS
from .entity import ThermoSmartUnitEntity, async_add_unit_entities, thermosmart_exception_handler
from .number import is_house_unit

PARALLEL_UPDATES = 1


def state_key(value: str) -> str:
    """The bridge's value as a state key (lower case, ``_`` for ``-``)."""
    return value.lower().replace("-", "_")


@dataclass(frozen=True, kw_only=True)
class ThermoSmartUnitSelectDescription(SelectEntityDescription):
    """A wall unit setting with a fixed set of values: the bridge option that holds it."""

    option: str
    values: tuple[str, ...]
    """The bridge's values, in the order shown."""


def _select(key: str, values: tuple[str, ...]) -> ThermoSmartUnitSelectDescription:
    return ThermoSmartUnitSelectDescription(
        key=key,
        translation_key=key,
        option=key,
        values=values,
        options=[state_key(value) for value in values],
        entity_category=EntityCategory.CONFIG,
    )


UNIT_SELECTS: tuple[ThermoSmartUnitSelectDescription, ...] = (
    _select("unit_status_led", UNIT_STATUS_LEDS),
    _select("unit_display", UNIT_DISPLAYS),
    _select("unit_language", UNIT_LANGUAGES),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThermoSmartConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the settings to the house unit's device once it is there."""
    async_add_unit_entities(
        entry, UNIT_SELECTS, is_house_unit, ThermoSmartUnitSelect, async_add_entities
    )


class ThermoSmartUnitSelect(ThermoSmartUnitEntity, SelectEntity):
    """A wall unit setting; unknown while the unit keeps its own."""

    entity_description: ThermoSmartUnitSelectDescription

    @property
    def current_option(self) -> str | None:
        """The bridge's option as a state key, or None while unset."""
        value: str | None = self.option_value(self.entity_description.option)
        return None if value is None else state_key(value)

    @thermosmart_exception_handler
    async def async_select_option(self, option: str) -> None:
        """Keep the value as the bridge's option; the unit gets it on its next poll."""
        description = self.entity_description
        value = next(v for v in description.values if state_key(v) == option)
        await self.coordinator.client.set_options(**{description.option: value})
