"""Domestic hot water, where the boiler has it.

Shows the DHW temperature, its setpoint and whether DHW is on (``gas``) or
off. Setting the temperature, turning it on or off and choosing the
operation change the bridge's ``dhw_setpoint`` and ``dhw_enable`` options;
the bridge sends them to the boiler (OpenTherm IDs 56 and 0). Until a
setpoint is set, the entity shows the one the boiler reports. A boiler
driven by a ThermoSmart wall unit takes no hot-water temperature from the
bridge: there the entity only turns hot water on and off.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.water_heater import (
    ATTR_OPERATION_MODE,
    STATE_GAS,
    WaterHeaterEntity,
    WaterHeaterEntityFeature,
)
from homeassistant.const import ATTR_TEMPERATURE, PRECISION_TENTHS, STATE_OFF, UnitOfTemperature
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import ThermoSmartConfigEntry
from .client import BridgeState
from .const import DOMAIN
from .coordinator import ThermoSmartCoordinator
from .entity import (
    DeviceKind,
    ThermoSmartEntity,
    async_add_present_entities,
    thermosmart_exception_handler,
)

PARALLEL_UPDATES = 1

DHW_KEY = "dhw"
OPERATIONS = {STATE_GAS: True, STATE_OFF: False}
"""The operations, and the ``dhw_enable`` each stands for."""
SWITCHABLE = WaterHeaterEntityFeature.ON_OFF | WaterHeaterEntityFeature.OPERATION_MODE
WRITABLE = SWITCHABLE | WaterHeaterEntityFeature.TARGET_TEMPERATURE


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
    def operation_list(self) -> list[str]:
        """Hot water on (``gas``) or off."""
        return list(OPERATIONS)

    @property
    def supported_features(self) -> WaterHeaterEntityFeature:
        """Writable through the bridge's options (bridges that show no options are read-only;
        with a wall unit, on and off only)."""
        if self.state_data.options is None:
            return WaterHeaterEntityFeature(0)
        if self.state_data.link.wall_unit:
            return SWITCHABLE  # the unit keeps its own hot-water temperature
        return WRITABLE

    @property
    def current_temperature(self) -> float | None:
        """The DHW temperature."""
        boiler = self.state_data.boiler
        return None if boiler is None else boiler.number("dhw_temperature")

    @property
    def target_temperature(self) -> float | None:
        """The setpoint the bridge was given, else the one the boiler reports."""
        options = self.state_data.options
        if options is not None and options.dhw_setpoint is not None:
            return options.dhw_setpoint
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
        """``gas`` while DHW is enabled, ``off`` while it is not."""
        options = self.state_data.options
        enabled = options.dhw_enable if options is not None else None
        if enabled is None:
            boiler = self.state_data.boiler
            enabled = None if boiler is None else boiler.dhw_enable
        if enabled is None:
            return None
        return STATE_GAS if enabled else STATE_OFF

    def _dhw_enable(self, operation_mode: str) -> bool:
        if operation_mode not in OPERATIONS:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_operation_mode",
                translation_placeholders={
                    "operation_mode": operation_mode,
                    "operation_list": ", ".join(OPERATIONS),
                },
            )
        return OPERATIONS[operation_mode]

    @thermosmart_exception_handler
    async def _async_set_options(self, changes: dict[str, Any]) -> None:
        await self.coordinator.client.set_options(**changes)

    async def async_set_temperature(self, **kwargs: Any) -> None:
        """Keep the temperature as the bridge's DHW setpoint (and the operation, if given)."""
        changes: dict[str, Any] = {"dhw_setpoint": kwargs[ATTR_TEMPERATURE]}
        if (operation_mode := kwargs.get(ATTR_OPERATION_MODE)) is not None:
            changes["dhw_enable"] = self._dhw_enable(operation_mode)
        await self._async_set_options(changes)

    async def async_set_operation_mode(self, operation_mode: str) -> None:
        """``gas`` turns hot water on, ``off`` turns it off."""
        await self._async_set_options({"dhw_enable": self._dhw_enable(operation_mode)})

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Turn hot water on."""
        await self._async_set_options({"dhw_enable": True})

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Turn hot water off (the boiler then only heats)."""
        await self._async_set_options({"dhw_enable": False})
