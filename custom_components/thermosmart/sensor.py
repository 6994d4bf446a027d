"""Sensors: the boiler's temperatures, pressure, modulation and counters, the outside
temperature, the learning module's outputs, and an estimate of the gas used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from homeassistant.components.sensor import (
    RestoreSensor,
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
from .entity import DeviceKind, ThermoSmartDescribedEntity, async_add_present_entities

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


def burner_power_kw(state: BridgeState) -> float | None:
    """The boiler's heat output now, kW, estimated from the flame and the modulation.

    OpenTherm's relative modulation is the place between the minimum output
    (0 %) and the maximum (100 %); the maximum is the boiler's capacity
    (ID 15 high byte) and the minimum its minimum modulation (ID 15 low
    byte) of that. None when the boiler does not tell enough.
    """
    boiler, caps = state.boiler, state.capabilities
    if boiler is None or caps is None or caps.max_capacity_kw is None:
        return None
    status = boiler.slave_status
    modulation = boiler.number("relative_modulation_level")
    if status is None or modulation is None:
        return None
    if not status.flame_on:
        return 0.0
    max_kw = caps.max_capacity_kw
    min_kw = max_kw * (caps.min_modulation_pct or 0.0) / 100.0
    return min_kw + (max_kw - min_kw) * min(100.0, max(0.0, modulation)) / 100.0


def bridge_time(state: BridgeState) -> float | None:
    """The bridge clock's time of the newest boiler value in the state."""
    if state.boiler is None:
        return None
    times = [value.updated for value in state.boiler.values.values() if value.updated is not None]
    return max(times, default=None)


GAS_USE = ThermoSmartSensorEntityDescription(
    key="gas_use_estimate",
    translation_key="gas_use_estimate",
    device_class=SensorDeviceClass.ENERGY,
    native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
    state_class=SensorStateClass.TOTAL_INCREASING,
    suggested_display_precision=2,
    value_fn=lambda state: None,
    exists_fn=lambda state: (
        state.capabilities is not None
        and state.capabilities.max_capacity_kw is not None
        and state.boiler is not None
        and state.boiler.has("relative_modulation_level")
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThermoSmartConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each sensor once the bridge has its value."""

    def factory(
        coordinator: ThermoSmartCoordinator, description: ThermoSmartSensorEntityDescription
    ) -> SensorEntity:
        if description is GAS_USE:
            return ThermoSmartGasUseSensor(coordinator, description)
        return ThermoSmartSensor(coordinator, description)

    async_add_present_entities(
        entry,
        (*SENSORS, GAS_USE),
        lambda description, state: description.exists_fn(state),
        factory,
        async_add_entities,
    )


class ThermoSmartSensor(ThermoSmartDescribedEntity, SensorEntity):
    """A sensor read from the bridge's state."""

    entity_description: ThermoSmartSensorEntityDescription

    @property
    def native_value(self) -> StateType | datetime:
        """The value now."""
        return self.entity_description.value_fn(self.state_data)


class ThermoSmartGasUseSensor(ThermoSmartDescribedEntity, RestoreSensor):
    """The energy the burner delivered, integrated over the bridge's clock.

    Between two states the output of the first holds. Time while Home
    Assistant was not connected to the bridge is not counted, so this
    undercounts then; it also counts heat delivered, which is a few percent
    less than the gas burnt (the boiler's efficiency).
    """

    entity_description: ThermoSmartSensorEntityDescription

    _energy_kwh = 0.0
    _last: tuple[int, float, float] | None = None

    async def async_added_to_hass(self) -> None:
        """Continue from the last total."""
        await super().async_added_to_hass()
        last = await self.async_get_last_sensor_data()
        if last is not None and isinstance(last.native_value, int | float | Decimal):
            self._energy_kwh = float(last.native_value)
        self._integrate()

    def _handle_coordinator_update(self) -> None:
        self._integrate()
        super()._handle_coordinator_update()

    def _integrate(self) -> None:
        state = self.state_data
        power, now = burner_power_kw(state), bridge_time(state)
        if power is None or now is None or not self.coordinator.last_update_success:
            self._last = None
            return
        connection = self.coordinator.connection
        last = self._last
        if last is not None and last[0] == connection and now > last[1]:
            self._energy_kwh += last[2] * (now - last[1]) / 3600.0
        if last is None or last[0] != connection or now >= last[1]:
            self._last = (connection, now, power)

    @property
    def native_value(self) -> float:
        """The total so far, kWh."""
        return round(self._energy_kwh, 3)
