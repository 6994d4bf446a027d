"""The base entity, the devices, and the error handling of entity actions."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Concatenate

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceEntry, DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .client import BridgeState, WallUnit
from .const import DOMAIN
from .coordinator import ThermoSmartCoordinator
from .errors import bridge_command

if TYPE_CHECKING:
    from . import ThermoSmartConfigEntry

MANUFACTURER = "ThermoSmart Local"
UNIT_MANUFACTURER = "ThermoSmart"


class DeviceKind(StrEnum):
    """The devices of one bridge."""

    BRIDGE = "bridge"
    THERMOSTAT = "thermostat"
    BOILER = "boiler"
    UNIT = "unit"


def unit_identifier(bridge_id: str, hardware_id: str) -> str:
    """The device identifier of one wall unit of a bridge."""
    return f"{bridge_id}_{DeviceKind.UNIT}_{hardware_id}"


def unit_hardware_id(bridge_id: str, device: DeviceEntry) -> str | None:
    """The hardware id of the wall unit ``device`` stands for (None: not a unit's device)."""
    prefix = unit_identifier(bridge_id, "")
    return next(
        (
            ident.removeprefix(prefix)
            for domain, ident in device.identifiers
            if domain == DOMAIN and ident.startswith(prefix)
        ),
        None,
    )


def unit_model(unit: WallUnit) -> str:
    """A wall unit's model, by its hardware revision once it told it."""
    return "Wall unit" if unit.revision is None else f"Wall unit (revision {unit.revision})"


def unit_device_info(bridge_id: str, unit: WallUnit) -> DeviceInfo:
    """The device registry entry of a ThermoSmart wall unit, reached through the bridge."""
    return DeviceInfo(
        identifiers={(DOMAIN, unit_identifier(bridge_id, unit.hardware_id))},
        manufacturer=UNIT_MANUFACTURER,
        model=unit_model(unit),
        sw_version=unit.firmware,
        serial_number=unit.hardware_id,
        translation_key="unit",
        translation_placeholders={"hardware_id": unit.hardware_id},
        via_device=(DOMAIN, bridge_id),
    )


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


class ThermoSmartUnitEntity(CoordinatorEntity[ThermoSmartCoordinator]):
    """An entity of one wall unit; unique id ``{bridge_id}_unit_{hardware_id}_{key}``.

    Unavailable while the unit is not registered or has stopped polling.
    """

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: ThermoSmartCoordinator, description: EntityDescription, unit: WallUnit
    ) -> None:
        """Attach the entity to the unit's device."""
        super().__init__(coordinator)
        self.entity_description = description
        self.hardware_id = unit.hardware_id
        identifier = unit_identifier(coordinator.data.bridge.bridge_id, unit.hardware_id)
        self._attr_unique_id = f"{identifier}_{description.key}"
        self._attr_device_info = unit_device_info(coordinator.data.bridge.bridge_id, unit)

    @property
    def state_data(self) -> BridgeState:
        """The bridge's current state."""
        return self.coordinator.data

    @property
    def unit(self) -> WallUnit | None:
        """What the bridge knows of the unit now (None: no longer registered)."""
        return self.coordinator.data.unit(self.hardware_id)

    def option_value(self, option: str) -> Any:
        """The bridge option that holds this setting (None while unset or not shown)."""
        options = self.state_data.options
        return None if options is None else getattr(options, option)

    @property
    def available(self) -> bool:
        """Available while the bridge is reachable and the unit polls."""
        unit = self.unit
        return super().available and unit is not None and unit.connected is True


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


@callback
def async_add_unit_entities[_T: EntityDescription](
    entry: ThermoSmartConfigEntry,
    descriptions: Iterable[_T],
    exists: Callable[[_T, WallUnit], bool],
    factory: Callable[[ThermoSmartCoordinator, _T, WallUnit], Entity],
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add an entity per description and wall unit as soon as the unit is there.

    Units can be registered while the bridge runs, so this runs again on
    every update. A unit that is no longer registered loses its device (see
    :mod:`.units`) and with it these entities; if it comes back, they are
    added again.
    """
    coordinator = entry.runtime_data.coordinator
    wanted = tuple(descriptions)
    added: set[tuple[str, str]] = set()

    @callback
    def add_present() -> None:
        if not coordinator.last_update_success:
            return
        units = coordinator.data.units or ()
        present = {unit.hardware_id for unit in units}
        added.difference_update({pair for pair in added if pair[0] not in present})
        new: list[Entity] = []
        for unit in units:
            for description in wanted:
                pair = (unit.hardware_id, description.key)
                if pair not in added and exists(description, unit):
                    added.add(pair)
                    new.append(factory(coordinator, description, unit))
        if new:
            async_add_entities(new)

    add_present()
    entry.async_on_unload(coordinator.async_add_listener(add_present))


def thermosmart_exception_handler[
    _EntityT: ThermoSmartEntity | ThermoSmartUnitEntity,
    **_P,
](
    func: Callable[Concatenate[_EntityT, _P], Coroutine[Any, Any, Any]],
) -> Callable[Concatenate[_EntityT, _P], Coroutine[Any, Any, None]]:
    """Turn the client's errors in an entity action into translated Home Assistant errors."""

    async def handler(self: _EntityT, /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        async with bridge_command(self.hass, self.coordinator.config_entry):
            await func(self, *args, **kwargs)

    return handler
