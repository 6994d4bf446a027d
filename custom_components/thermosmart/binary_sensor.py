"""Binary sensors: the boiler's status and fault flags, the bridge's link to it, and
whether each wall unit polls the bridge."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import ThermoSmartConfigEntry
from .client import BridgeState, Faults, SlaveStatus, WallUnit
from .entity import (
    DeviceKind,
    ThermoSmartDescribedEntity,
    ThermoSmartUnitEntity,
    async_add_present_entities,
    async_add_unit_entities,
)

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class ThermoSmartBinarySensorEntityDescription(BinarySensorEntityDescription):
    """A binary sensor: where its value comes from and when it exists."""

    value_fn: Callable[[BridgeState], bool | None]
    exists_fn: Callable[[BridgeState], bool]
    device_kind: DeviceKind = DeviceKind.BOILER


def _status(flag: str) -> Callable[[BridgeState], bool | None]:
    def value(state: BridgeState) -> bool | None:
        status: SlaveStatus | None = None if state.boiler is None else state.boiler.slave_status
        return None if status is None else bool(getattr(status, flag))

    return value


def _has_status(state: BridgeState) -> bool:
    return state.boiler is not None and state.boiler.slave_status is not None


def _fault(flag: str) -> Callable[[BridgeState], bool | None]:
    def value(state: BridgeState) -> bool | None:
        faults: Faults | None = state.faults
        if faults is None:
            return None
        result: bool | None = getattr(faults, flag)
        return result

    return value


def _fault_description(
    key: str, *, category: EntityCategory | None = None, enabled: bool = True
) -> ThermoSmartBinarySensorEntityDescription:
    value = _fault(key)
    return ThermoSmartBinarySensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=BinarySensorDeviceClass.PROBLEM,
        entity_category=category,
        entity_registry_enabled_default=enabled,
        value_fn=value,
        exists_fn=lambda state: value(state) is not None,
    )


BINARY_SENSORS: tuple[ThermoSmartBinarySensorEntityDescription, ...] = (
    ThermoSmartBinarySensorEntityDescription(
        key="flame",
        translation_key="flame",
        value_fn=_status("flame_on"),
        exists_fn=_has_status,
    ),
    ThermoSmartBinarySensorEntityDescription(
        key="ch_active",
        translation_key="ch_active",
        device_class=BinarySensorDeviceClass.RUNNING,
        value_fn=_status("ch_active"),
        exists_fn=_has_status,
    ),
    ThermoSmartBinarySensorEntityDescription(
        key="dhw_active",
        translation_key="dhw_active",
        device_class=BinarySensorDeviceClass.RUNNING,
        value_fn=_status("dhw_active"),
        exists_fn=_has_status,
    ),
    _fault_description("fault"),
    _fault_description("service_request", category=EntityCategory.DIAGNOSTIC),
    _fault_description("low_water_pressure"),
    _fault_description("gas_flame_fault"),
    _fault_description("air_pressure_fault", category=EntityCategory.DIAGNOSTIC, enabled=False),
    _fault_description("water_over_temperature", category=EntityCategory.DIAGNOSTIC, enabled=False),
    ThermoSmartBinarySensorEntityDescription(
        key="boiler_link",
        translation_key="boiler_link",
        device_kind=DeviceKind.BRIDGE,
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda state: (
            state.link.connected and (state.boiler is None or state.boiler.connected)
        ),
        exists_fn=lambda state: True,
    ),
)


UNIT_CONNECTIVITY = BinarySensorEntityDescription(
    key="connectivity",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)
"""Whether a wall unit polls the bridge (off after 3 minutes without a poll)."""


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThermoSmartConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each binary sensor once the bridge has its value."""
    async_add_present_entities(
        entry,
        BINARY_SENSORS,
        lambda description, state: description.exists_fn(state),
        ThermoSmartBinarySensor,
        async_add_entities,
    )
    async_add_unit_entities(
        entry,
        (UNIT_CONNECTIVITY,),
        lambda description, unit: True,
        ThermoSmartUnitConnectivity,
        async_add_entities,
    )


class ThermoSmartBinarySensor(ThermoSmartDescribedEntity, BinarySensorEntity):
    """A binary sensor read from the bridge's state."""

    entity_description: ThermoSmartBinarySensorEntityDescription

    @property
    def is_on(self) -> bool | None:
        """The flag now."""
        return self.entity_description.value_fn(self.state_data)


class ThermoSmartUnitConnectivity(ThermoSmartUnitEntity, BinarySensorEntity):
    """Whether a wall unit polls the bridge; available while the unit is registered."""

    @property
    def available(self) -> bool:
        """Shows off, not unavailable, while the unit is silent."""
        return self.coordinator.last_update_success and self.unit is not None

    @property
    def is_on(self) -> bool | None:
        """The unit polled within the last 3 minutes (unknown just after the bridge starts)."""
        unit: WallUnit | None = self.unit
        return None if unit is None else unit.connected
