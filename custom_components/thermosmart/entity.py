"""The base entity, the devices, and the error handling of entity actions."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Concatenate

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .client import (
    BridgeState,
)
from .const import DOMAIN
from .coordinator import ThermoSmartCoordinator
from .errors import bridge_command

if TYPE_CHECKING:
    from . import ThermoSmartConfigEntry

MANUFACTURER = "ThermoSmart Local"


class DeviceKind(StrEnum):
    """The devices of one bridge."""

    BRIDGE = "bridge"
    THERMOSTAT = "thermostat"
    BOILER = "boiler"


def device_info(coordinator: ThermoSmartCoordinator, kind: DeviceKind) -> DeviceInfo:
    """The device registry entry of the bridge, its thermostat or its boiler."""
    state = coordinator.data
    bridge = state.bridge
    bridge_id = bridge.bridge_id
    if kind is DeviceKind.BRIDGE:
        return DeviceInfo(
            identifiers={(DOMAIN, bridge_id)},
            manufacturer=MANUFACTURER,
            model="Bridge",
            sw_version=bridge.version,
            translation_key="bridge",
            translation_placeholders={"name": bridge.name},
        )
    if kind is DeviceKind.THERMOSTAT:
        return DeviceInfo(
            identifiers={(DOMAIN, f"{bridge_id}_{kind}")},
            manufacturer=MANUFACTURER,
            model="Thermostat",
            name=bridge.name,
            sw_version=bridge.version,
            via_device=(DOMAIN, bridge_id),
        )
    caps = state.capabilities
    info = DeviceInfo(
        identifiers={(DOMAIN, f"{bridge_id}_{kind}")},
        model="OpenTherm boiler" if state.link.opentherm else "On/off boiler",
        translation_key="boiler",
        translation_placeholders={"name": bridge.name},
        via_device=(DOMAIN, bridge_id),
    )
    if caps is not None and caps.product_type is not None:
        info["model_id"] = f"{caps.product_type}"
    if caps is not None and caps.product_version is not None:
        info["sw_version"] = f"{caps.product_version}"
    return info


class ThermoSmartEntity(CoordinatorEntity[ThermoSmartCoordinator]):
    """An entity of one bridge; unique id ``{bridge_id}_{key}``."""

    _attr_has_entity_name = True
    device_kind: DeviceKind = DeviceKind.THERMOSTAT

    def __init__(self, coordinator: ThermoSmartCoordinator, key: str) -> None:
        """Attach the entity to its device."""
        super().__init__(coordinator)
        self._attr_unique_id = f"{coordinator.data.bridge.bridge_id}_{key}"
        self._attr_device_info = device_info(coordinator, self.device_kind)

    @property
    def state_data(self) -> BridgeState:
        """The bridge's current state."""
        return self.coordinator.data

    @property
    def available(self) -> bool:
        """Unavailable while the bridge is out of reach; boiler entities also while the boiler is."""
        if not super().available:
            return False
        if self.device_kind is DeviceKind.BOILER:
            return self.state_data.link.connected
        return True


class ThermoSmartDescribedEntity(ThermoSmartEntity):
    """An entity whose behaviour comes from its description."""

    def __init__(self, coordinator: ThermoSmartCoordinator, description: EntityDescription) -> None:
        """Take the key and the behaviour from ``description``."""
        self.entity_description = description
        device_kind = getattr(description, "device_kind", None)
        if device_kind is not None:
            self.device_kind = device_kind
        super().__init__(coordinator, description.key)


@callback
def async_add_present_entities[_T](
    entry: ThermoSmartConfigEntry,
    descriptions: Iterable[_T],
    exists: Callable[[_T, BridgeState], bool],
    factory: Callable[[ThermoSmartCoordinator, _T], Entity],
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add an entity per description as soon as the bridge has its value.

    Boilers answer some data-ids only after a while and the bridge learns
    predictions over days, so this runs again on every update.
    """
    coordinator = entry.runtime_data.coordinator
    pending = list(descriptions)

    @callback
    def add_present() -> None:
        ready = [d for d in pending if exists(d, coordinator.data)]
        if not ready:
            return
        for description in ready:
            pending.remove(description)
        async_add_entities([factory(coordinator, description) for description in ready])

    add_present()
    entry.async_on_unload(coordinator.async_add_listener(add_present))


def thermosmart_exception_handler[_EntityT: ThermoSmartEntity, **_P](
    func: Callable[Concatenate[_EntityT, _P], Coroutine[Any, Any, Any]],
) -> Callable[Concatenate[_EntityT, _P], Coroutine[Any, Any, None]]:
    """Turn the client's errors in an entity action into translated Home Assistant errors."""

    async def handler(self: _EntityT, /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        async with bridge_command(self.hass, self.coordinator.config_entry):
            await func(self, *args, **kwargs)

    return handler
