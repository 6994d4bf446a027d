"""Numbers: the temperatures of the five programs.

The boiler's maximum CH water setpoint is not offered: the bridge has no
route to set it (its control loop sets it), so it is a sensor.
"""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import EntityCategory, UnitOfTemperature
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import ThermoSmartConfigEntry
from .client import PROGRAM_NAMES
from .const import TEMPERATURE_MAX, TEMPERATURE_MIN, TEMPERATURE_STEP
from .entity import (
    DeviceKind,
    ThermoSmartDescribedEntity,
    async_add_present_entities,
    thermosmart_exception_handler,
)

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class ThermoSmartProgramNumberDescription(NumberEntityDescription):
    """The temperature of one program."""

    program: str
    device_kind: DeviceKind = DeviceKind.THERMOSTAT


PROGRAM_NUMBERS: tuple[ThermoSmartProgramNumberDescription, ...] = tuple(
    ThermoSmartProgramNumberDescription(
        key=f"program_{program}",
        translation_key=f"program_{program}",
        program=program,
        device_class=NumberDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        native_min_value=TEMPERATURE_MIN,
        native_max_value=TEMPERATURE_MAX,
        native_step=TEMPERATURE_STEP,
        mode=NumberMode.BOX,
        entity_category=EntityCategory.CONFIG,
    )
    for program in PROGRAM_NAMES
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThermoSmartConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the program temperatures once the bridge has told them."""
    async_add_present_entities(
        entry,
        PROGRAM_NUMBERS,
        lambda description, state: state.thermostat.programs is not None,
        ThermoSmartProgramNumber,
        async_add_entities,
    )


class ThermoSmartProgramNumber(ThermoSmartDescribedEntity, NumberEntity):
    """The temperature of one program, °C."""

    entity_description: ThermoSmartProgramNumberDescription

    @property
    def native_value(self) -> float | None:
        """The program's temperature."""
        programs = self.state_data.thermostat.programs
        return None if programs is None else programs.temperature(self.entity_description.program)

    @thermosmart_exception_handler
    async def async_set_native_value(self, value: float) -> None:
        """Change the program's temperature on the bridge."""
        await self.coordinator.client.set_program_temperatures(
            {self.entity_description.program: value}
        )
