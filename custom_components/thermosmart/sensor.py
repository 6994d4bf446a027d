"""Sensors: the boiler's temperatures, pressure, modulation and counters, the outside
temperature, the learning module's outputs, the bridge's energy counters (heat
delivered and gas used, for the Energy dashboard), each wall unit's room reading,
and when data last left the LAN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfEnergy,
    UnitOfPressure,
    UnitOfTemperature,
    UnitOfTime,
    UnitOfVolumeFlowRate,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from . import ThermoSmartConfigEntry
from .client import BridgeState
from .coordinator import ThermoSmartCoordinator
from .entity import (
    DeviceKind,
    ThermoSmartDescribedEntity,
    ThermoSmartUnitEntity,
    async_add_present_entities,
    async_add_unit_entities,
)

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class ThermoSmartSensorEntityDescription(SensorEntityDescription):
    """A sensor: where its value comes from and when it exists."""

    value_fn: Callable[[BridgeState], StateType | datetime]
    exists_fn: Callable[[BridgeState], bool]
    device_kind: DeviceKind = DeviceKind.BOILER


def _boiler_value(key: str) -> Callable[[BridgeState], float | None]:
    return lambda state: None if state.boiler is None else state.boiler.number(key)


def _boiler_has(key: str) -> Callable[[BridgeState], bool]:
    return lambda state: state.boiler is not None and state.boiler.has(key)


def _temperature(key: str, data_key: str, **kwargs: object) -> ThermoSmartSensorEntityDescription:
    return ThermoSmartSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_boiler_value(data_key),
        exists_fn=_boiler_has(data_key),
        **kwargs,  # type: ignore[arg-type]
    )


def _counter(key: str, *, hours: bool, enabled: bool) -> ThermoSmartSensorEntityDescription:
    return ThermoSmartSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.DURATION if hours else None,
        native_unit_of_measurement=UnitOfTime.HOURS if hours else None,
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=enabled,
        value_fn=lambda state: state.counters.get(key),
        exists_fn=lambda state: state.counters.get(key) is not None,
    )


def _preheat_start(state: BridgeState) -> datetime | None:
    return state.predictions.preheat_start


SENSORS: tuple[ThermoSmartSensorEntityDescription, ...] = (
    _temperature("flow_temperature", "flow_temperature"),
    _temperature("return_temperature", "return_temperature"),
    _temperature("dhw_temperature", "dhw_temperature"),
    _temperature("control_setpoint", "control_setpoint"),
    _temperature("max_ch_setpoint", "max_ch_setpoint", entity_category=EntityCategory.DIAGNOSTIC),
    ThermoSmartSensorEntityDescription(
        key="modulation",
        translation_key="modulation",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=_boiler_value("relative_modulation_level"),
        exists_fn=_boiler_has("relative_modulation_level"),
    ),
    ThermoSmartSensorEntityDescription(
        key="water_pressure",
        translation_key="water_pressure",
        device_class=SensorDeviceClass.PRESSURE,
        native_unit_of_measurement=UnitOfPressure.BAR,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=_boiler_value("ch_water_pressure"),
        exists_fn=_boiler_has("ch_water_pressure"),
    ),
    ThermoSmartSensorEntityDescription(
        key="dhw_flow_rate",
        translation_key="dhw_flow_rate",
        device_class=SensorDeviceClass.VOLUME_FLOW_RATE,
        native_unit_of_measurement=UnitOfVolumeFlowRate.LITERS_PER_MINUTE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_boiler_value("dhw_flow_rate"),
        exists_fn=_boiler_has("dhw_flow_rate"),
    ),
    _counter("burner_starts", hours=False, enabled=True),
    _counter("ch_pump_starts", hours=False, enabled=False),
    _counter("dhw_pump_starts", hours=False, enabled=False),
    _counter("dhw_burner_starts", hours=False, enabled=False),
    _counter("burner_hours", hours=True, enabled=True),
    _counter("ch_pump_hours", hours=True, enabled=False),
    _counter("dhw_pump_hours", hours=True, enabled=False),
    _counter("dhw_burner_hours", hours=True, enabled=False),
    ThermoSmartSensorEntityDescription(
        key="oem_fault_code",
        translation_key="oem_fault_code",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda state: None if state.faults is None else state.faults.oem_fault_code,
        exists_fn=lambda state: (
            state.faults is not None and state.faults.oem_fault_code is not None
        ),
    ),
    ThermoSmartSensorEntityDescription(
        key="oem_diagnostic_code",
        translation_key="oem_diagnostic_code",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda state: None if state.faults is None else state.faults.oem_diagnostic_code,
        exists_fn=lambda state: (
            state.faults is not None and state.faults.oem_diagnostic_code is not None
        ),
    ),
    ThermoSmartSensorEntityDescription(
        key="outside_temperature",
        translation_key="outside_temperature",
        device_kind=DeviceKind.THERMOSTAT,
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda state: state.thermostat.outside_temperature,
        exists_fn=lambda state: state.thermostat.outside_temperature is not None,
    ),
    ThermoSmartSensorEntityDescription(
        key="time_to_target",
        translation_key="time_to_target",
        device_kind=DeviceKind.THERMOSTAT,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        suggested_unit_of_measurement=UnitOfTime.MINUTES,
        suggested_display_precision=0,
        value_fn=lambda state: state.predictions.time_to_target_s,
        exists_fn=lambda state: state.predictions.time_to_target_s is not None,
    ),
    ThermoSmartSensorEntityDescription(
        key="preheat_start",
        translation_key="preheat_start",
        device_kind=DeviceKind.THERMOSTAT,
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=_preheat_start,
        exists_fn=lambda state: state.predictions.preheat_start is not None,
    ),
    ThermoSmartSensorEntityDescription(
        key="heat_loss_coefficient",
        translation_key="heat_loss_coefficient",
        device_kind=DeviceKind.THERMOSTAT,
        native_unit_of_measurement="W/K",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda state: state.predictions.heat_loss_w_per_k,
        exists_fn=lambda state: state.predictions.heat_loss_w_per_k is not None,
    ),
    ThermoSmartSensorEntityDescription(
        key="time_constant",
        translation_key="time_constant",
        device_kind=DeviceKind.THERMOSTAT,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.HOURS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda state: state.predictions.time_constant_h,
        exists_fn=lambda state: state.predictions.time_constant_h is not None,
    ),
    ThermoSmartSensorEntityDescription(
        key="learning_progress",
        translation_key="learning_progress",
        device_kind=DeviceKind.THERMOSTAT,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda state: state.predictions.progress,
        exists_fn=lambda state: state.predictions.progress is not None,
    ),
)


LAST_EGRESS = ThermoSmartSensorEntityDescription(
    key="last_egress",
    translation_key="last_egress",
    device_kind=DeviceKind.BRIDGE,
    device_class=SensorDeviceClass.TIMESTAMP,
    entity_category=EntityCategory.DIAGNOSTIC,
    value_fn=lambda state: None if state.privacy is None else state.privacy.last_egress,
    exists_fn=lambda state: state.privacy is not None,
)
"""The newest record of the bridge's egress log (unknown: nothing has left the LAN)."""


def _energy(
    key: str, value_fn: Callable[[BridgeState], float | None]
) -> ThermoSmartSensorEntityDescription:
    return ThermoSmartSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        value_fn=value_fn,
        exists_fn=lambda state: state.energy is not None,
    )


ENERGY_SENSORS: tuple[ThermoSmartSensorEntityDescription, ...] = (
    # the key of the sensor that once integrated the burner's output in Home Assistant:
    # it now shows the bridge's gas counter (heating and hot water), and keeps its history
    _energy("gas_use_estimate", lambda s: None if s.energy is None else s.energy.gas_kwh),
    _energy("ch_gas", lambda s: None if s.energy is None else s.energy.ch_gas_kwh),
    _energy("dhw_gas", lambda s: None if s.energy is None else s.energy.dhw_gas_kwh),
    _energy("ch_heat", lambda s: None if s.energy is None else s.energy.ch_heat_kwh),
    _energy("dhw_heat", lambda s: None if s.energy is None else s.energy.dhw_heat_kwh),
)
"""Monotonic totals the bridge keeps, pushed with its state."""


UNIT_ROOM_TEMPERATURE = SensorEntityDescription(
    key="room_temperature",
    translation_key="unit_room_temperature",
    device_class=SensorDeviceClass.TEMPERATURE,
    native_unit_of_measurement=UnitOfTemperature.CELSIUS,
    state_class=SensorStateClass.MEASUREMENT,
    suggested_display_precision=1,
)
"""A wall unit's own room reading (the house unit's is also the thermostat's)."""


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThermoSmartConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each sensor once the bridge has its value."""

    def factory(
        coordinator: ThermoSmartCoordinator, description: ThermoSmartSensorEntityDescription
    ) -> SensorEntity:
        return ThermoSmartSensor(coordinator, description)

    async_add_present_entities(
        entry,
        (*SENSORS, *ENERGY_SENSORS, LAST_EGRESS),
        lambda description, state: description.exists_fn(state),
        factory,
        async_add_entities,
    )
    async_add_unit_entities(
        entry,
        (UNIT_ROOM_TEMPERATURE,),
        lambda description, unit: True,
        ThermoSmartUnitSensor,
        async_add_entities,
    )


class ThermoSmartSensor(ThermoSmartDescribedEntity, SensorEntity):
    """A sensor read from the bridge's state."""

    entity_description: ThermoSmartSensorEntityDescription

    @property
    def native_value(self) -> StateType | datetime:
        """The value now."""
        return self.entity_description.value_fn(self.state_data)


class ThermoSmartUnitSensor(ThermoSmartUnitEntity, SensorEntity):
    """A wall unit's room reading."""

    @property
    def native_value(self) -> float | None:
        """°C, as the unit measures it (0.1 °C steps)."""
        unit = self.unit
        return None if unit is None else unit.room_temperature
