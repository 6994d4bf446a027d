"""Numbers: the temperatures of the five programs, the boiler's maximum flow temperature,
and the wall unit's display brightness, sensor calibration and poll throttle.

The maximum flow temperature is the bridge's ``max_ch_setpoint`` option: the
highest heating water temperature it asks of an OpenTherm boiler. Until it
is set, the bridge keeps the heating system's default and the entity shows
the maximum the boiler reports (OpenTherm ID 57). A wall unit drives the
boiler itself and takes no flow limit, so there is none with a unit link.

The wall unit's settings are the bridge's ``unit_*`` options, on the house
unit's device; unknown while unset (the unit keeps its own).
"""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfTemperature
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import ThermoSmartConfigEntry
from .client import (
    PROGRAM_NAMES,
    UNIT_BRIGHTNESS_RANGE,
    UNIT_CALIBRATION_RANGE,
    UNIT_THROTTLE_RANGE,
    BridgeState,
    WallUnit,
)
from .const import TEMPERATURE_MAX, TEMPERATURE_MIN, TEMPERATURE_STEP
from .entity import (
    DeviceKind,
    ThermoSmartDescribedEntity,
    ThermoSmartUnitEntity,
    async_add_present_entities,
    async_add_unit_entities,
    thermosmart_exception_handler,
)

PARALLEL_UPDATES = 1

MAX_CH_RANGE = (20.0, 90.0)
"""What any boiler takes as a maximum flow temperature, °C; the boiler's own bounds narrow it."""


@dataclass(frozen=True, kw_only=True)
class ThermoSmartProgramNumberDescription(NumberEntityDescription):
    """The temperature of one program."""

    program: str
    device_kind: DeviceKind = DeviceKind.THERMOSTAT


MAX_CH_SETPOINT = NumberEntityDescription(
    key="max_ch_setpoint_limit",
    translation_key="max_ch_setpoint",
    device_class=NumberDeviceClass.TEMPERATURE,
    native_unit_of_measurement=UnitOfTemperature.CELSIUS,
    native_step=1.0,
    mode=NumberMode.BOX,
    entity_category=EntityCategory.CONFIG,
)


def max_ch_bounds(state: BridgeState) -> tuple[float, float]:
    """The maximum flow temperatures the bridge takes: the boiler's bounds within 20-90 °C."""
    low, high = MAX_CH_RANGE
    caps = state.capabilities
    if caps is not None and caps.max_ch_setpoint_bounds is not None:
        boiler_low, boiler_high = caps.max_ch_setpoint_bounds
        if max(low, boiler_low) <= min(high, boiler_high):
            return max(low, boiler_low), min(high, boiler_high)
    return low, high


def has_flow_limit(_description: NumberEntityDescription, state: BridgeState) -> bool:
    """Only an OpenTherm boiler the bridge drives takes a flow limit (not one a wall unit
    drives), and only a bridge with options sets one."""
    return state.link.opentherm and not state.link.wall_unit and state.options is not None


@dataclass(frozen=True, kw_only=True)
class ThermoSmartUnitNumberDescription(NumberEntityDescription):
    """A wall unit setting: the bridge option that holds it."""

    option: str


UNIT_NUMBERS: tuple[ThermoSmartUnitNumberDescription, ...] = (
    ThermoSmartUnitNumberDescription(
        key="unit_brightness",
        translation_key="unit_brightness",
        option="unit_brightness",
        native_unit_of_measurement=PERCENTAGE,
        native_min_value=UNIT_BRIGHTNESS_RANGE[0],
        native_max_value=UNIT_BRIGHTNESS_RANGE[1],
        native_step=1,
        mode=NumberMode.BOX,  # a slider would show an unset brightness as 0
        entity_category=EntityCategory.CONFIG,
    ),
    ThermoSmartUnitNumberDescription(
        key="unit_calibration",
        translation_key="unit_calibration",
        option="unit_calibration",
        native_unit_of_measurement=UnitOfTemperature.KELVIN,
        native_min_value=UNIT_CALIBRATION_RANGE[0],
        native_max_value=UNIT_CALIBRATION_RANGE[1],
        native_step=0.1,
        mode=NumberMode.BOX,
        entity_category=EntityCategory.CONFIG,
    ),
    ThermoSmartUnitNumberDescription(
        key="unit_poll_throttle",
        translation_key="unit_poll_throttle",
        option="unit_poll_throttle",
        native_min_value=UNIT_THROTTLE_RANGE[0],
        native_max_value=UNIT_THROTTLE_RANGE[1],
        native_step=1,
        mode=NumberMode.BOX,
        entity_category=EntityCategory.CONFIG,
    ),
)
"""The wall unit's settings: numbers of the house unit's device."""


def is_house_unit(_description: object, unit: WallUnit) -> bool:
    """The unit settings are the bridge's, shown on the house unit's device."""
    return unit.house


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
    async_add_present_entities(
        entry,
        (MAX_CH_SETPOINT,),
        has_flow_limit,
        ThermoSmartMaxFlowNumber,
        async_add_entities,
    )
    async_add_unit_entities(
        entry, UNIT_NUMBERS, is_house_unit, ThermoSmartUnitNumber, async_add_entities
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


class ThermoSmartMaxFlowNumber(ThermoSmartDescribedEntity, NumberEntity):
    """The highest flow temperature the bridge asks of the boiler, °C."""

    device_kind = DeviceKind.BOILER

    @property
    def native_value(self) -> float | None:
        """The owner's limit, else the maximum the boiler reports."""
        state = self.state_data
        if state.options is not None and state.options.max_ch_setpoint is not None:
            return state.options.max_ch_setpoint
        return None if state.boiler is None else state.boiler.number("max_ch_setpoint")

    @property
    def native_min_value(self) -> float:
        """The lowest limit the boiler takes."""
        return max_ch_bounds(self.state_data)[0]

    @property
    def native_max_value(self) -> float:
        """The highest limit the boiler takes."""
        return max_ch_bounds(self.state_data)[1]

    @thermosmart_exception_handler
    async def async_set_native_value(self, value: float) -> None:
        """Keep ``value`` as the bridge's maximum flow temperature."""
        await self.coordinator.client.set_options(max_ch_setpoint=value)


class ThermoSmartUnitNumber(ThermoSmartUnitEntity, NumberEntity):
    """A wall unit setting; unknown while the unit keeps its own."""

    entity_description: ThermoSmartUnitNumberDescription

    @property
    def native_value(self) -> float | None:
        """The bridge's option, or None while unset."""
        value: float | None = self.option_value(self.entity_description.option)
        return value

    @thermosmart_exception_handler
    async def async_set_native_value(self, value: float) -> None:
        """Keep ``value`` as the bridge's option; the unit gets it on its next poll."""
        # whole numbers as JSON integers; anything else as given, for the bridge to judge
        setting: float = int(value) if value.is_integer() else value
        await self.coordinator.client.set_options(**{self.entity_description.option: setting})
