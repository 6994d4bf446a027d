"""Domestic hot water, where the boiler has it.

Read-only: the bridge shows the DHW temperature, its setpoint and whether
DHW is enabled, but offers no route to change the setpoint or switch DHW,
so this entity has no actions.
"""

from __future__ import annotations

from homeassistant.components.water_heater import STATE_GAS, WaterHeaterEntity
from homeassistant.const import PRECISION_TENTHS, STATE_OFF, UnitOfTemperature
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import ThermoSmartConfigEntry
from .client import BridgeState
from .coordinator import ThermoSmartCoordinator
from .entity import DeviceKind, ThermoSmartEntity, async_add_present_entities

PARALLEL_UPDATES = 1

DHW_KEY = "dhw"


def _has_dhw(_key: str, state: BridgeState) -> bool:
    return state.capabilities is not None and state.capabilities.dhw_present is True


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThermoSmartConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the water heater once the boiler said it has DHW."""

    def factory(coordinator: ThermoSmartCoordinator, key: str) -> ThermoSmartWaterHeater:
        return ThermoSmartWaterHeater(coordinator, key)

    async_add_present_entities(entry, (DHW_KEY,), _has_dhw, factory, async_add_entities)


class ThermoSmartWaterHeater(ThermoSmartEntity, WaterHeaterEntity):
    """The boiler's hot water: temperature, setpoint, on or off."""

    device_kind = DeviceKind.BOILER
    _attr_translation_key = "dhw"
    _attr_temperature_unit = UnitOfTemperature.CELSIUS
    _attr_precision = PRECISION_TENTHS

    @property
    def current_temperature(self) -> float | None:
        """The DHW temperature."""
        boiler = self.state_data.boiler
        return None if boiler is None else boiler.number("dhw_temperature")

    @property
    def target_temperature(self) -> float | None:
        """The DHW setpoint the boiler reports."""
        boiler = self.state_data.boiler
        return None if boiler is None else boiler.number("dhw_setpoint")

    @property
    def min_temp(self) -> float:
        """The lowest DHW setpoint the boiler takes."""
        caps = self.state_data.capabilities
        if caps is None or caps.dhw_setpoint_bounds is None:
            return super().min_temp
        return caps.dhw_setpoint_bounds[0]

    @property
    def max_temp(self) -> float:
        """The highest DHW setpoint the boiler takes."""
        caps = self.state_data.capabilities
        if caps is None or caps.dhw_setpoint_bounds is None:
            return super().max_temp
        return caps.dhw_setpoint_bounds[1]

    @property
    def current_operation(self) -> str | None:
        """``gas`` while DHW is enabled, ``off`` when the bridge disabled it."""
        boiler = self.state_data.boiler
        if boiler is None or boiler.dhw_enable is None:
            return None
        return STATE_GAS if boiler.dhw_enable else STATE_OFF
