"""Switch: send the house's wall unit the PID parameters the bridge proposes.

It is the bridge's ``unit_pid_tuning`` option, on the house unit's device.
The bridge works out the proposal from the house it learned (when the unit's
own parameters overshoot or are slow there); while the switch is on the
unit runs the proposal, and turned off the unit gets its own parameters
back. With no proposal, the unit keeps its own either way.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import ThermoSmartConfigEntry
from .entity import ThermoSmartUnitEntity, async_add_unit_entities, thermosmart_exception_handler
from .number import is_house_unit

PARALLEL_UPDATES = 1

PID_TUNING = SwitchEntityDescription(
    key="unit_pid_tuning",
    translation_key="unit_pid_tuning",
    entity_category=EntityCategory.CONFIG,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThermoSmartConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the switch to the house unit's device once it is there."""
    async_add_unit_entities(
        entry, (PID_TUNING,), is_house_unit, ThermoSmartPidTuningSwitch, async_add_entities
    )


class ThermoSmartPidTuningSwitch(ThermoSmartUnitEntity, SwitchEntity):
    """Whether the house's unit runs the proposed PID parameters."""

    @property
    def is_on(self) -> bool | None:
        """The bridge's option."""
        value: bool | None = self.option_value(PID_TUNING.key)
        return value

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Send the proposal (now and whenever the bridge proposes another)."""
        await self._async_set(on=True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Give the unit its own parameters back."""
        await self._async_set(on=False)

    @thermosmart_exception_handler
    async def _async_set(self, *, on: bool) -> None:
        await self.coordinator.client.set_options(unit_pid_tuning=on)
