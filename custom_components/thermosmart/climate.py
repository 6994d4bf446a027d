"""The thermostat as a climate entity.

HVAC modes: ``auto`` follows the week schedule and its exceptions, ``heat``
holds a manual target until the next block of the schedule, ``off`` pauses
(the pause program holds; frost protection stays). Presets are the
programs: setting one holds that program's temperature as a manual target.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.climate import ClimateEntity
from homeassistant.components.climate.const import ClimateEntityFeature, HVACAction, HVACMode
from homeassistant.const import ATTR_TEMPERATURE, PRECISION_TENTHS, UnitOfTemperature
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import ThermoSmartConfigEntry
from .const import (
    DOMAIN,
    PRESET_PROGRAMS,
    TEMPERATURE_MAX,
    TEMPERATURE_MIN,
    TEMPERATURE_STEP,
)
from .coordinator import ThermoSmartCoordinator
from .entity import ThermoSmartEntity, thermosmart_exception_handler

PARALLEL_UPDATES = 1

_PROGRAM_PRESETS = {program: preset for preset, program in PRESET_PROGRAMS.items()}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThermoSmartConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the thermostat."""
    async_add_entities([ThermoSmartClimate(entry.runtime_data.coordinator, "thermostat")])


class ThermoSmartClimate(ThermoSmartEntity, ClimateEntity):
    """The room thermostat."""

    _attr_name = None
    _attr_translation_key = "thermostat"
    _attr_temperature_unit = UnitOfTemperature.CELSIUS
    _attr_precision = PRECISION_TENTHS
    _attr_target_temperature_step = TEMPERATURE_STEP
    _attr_supported_features = (
        ClimateEntityFeature.TARGET_TEMPERATURE
        | ClimateEntityFeature.PRESET_MODE
        | ClimateEntityFeature.TURN_OFF
        | ClimateEntityFeature.TURN_ON
    )

    def __init__(self, coordinator: ThermoSmartCoordinator, key: str) -> None:
        """Set up the thermostat entity."""
        super().__init__(coordinator, key)
        self._attr_hvac_modes = [HVACMode.AUTO, HVACMode.HEAT, HVACMode.OFF]
        self._attr_preset_modes = list(PRESET_PROGRAMS)

    @property
    def current_temperature(self) -> float | None:
        """The room temperature the thermostat controls on."""
        return self.state_data.thermostat.room_temperature

    @property
    def target_temperature(self) -> float | None:
        """The target in force now."""
        return self.state_data.thermostat.target_temperature

    @property
    def min_temp(self) -> float:
        """The lowest target the bridge takes."""
        return TEMPERATURE_MIN

    @property
    def max_temp(self) -> float:
        """The highest target the bridge takes."""
        return TEMPERATURE_MAX

    @property
    def hvac_mode(self) -> HVACMode:
        """Off while paused, heat while a manual target holds, else auto."""
        thermostat = self.state_data.thermostat
        if thermostat.paused:
            return HVACMode.OFF
        if thermostat.overridden:
            return HVACMode.HEAT
        return HVACMode.AUTO

    @property
    def hvac_action(self) -> HVACAction:
        """Heating while the boiler burns for the rooms (or the relay is on), else idle."""
        state = self.state_data
        if state.boiler is not None and state.boiler.slave_status is not None:
            status = state.boiler.slave_status
            heating = status.flame_on and status.ch_active
        else:
            heating = bool(state.thermostat.relay_on)
        if heating:
            return HVACAction.HEATING
        if state.thermostat.paused:
            return HVACAction.OFF
        return HVACAction.IDLE

    @property
    def preset_mode(self) -> str | None:
        """The program in force, or the one whose temperature a manual target holds."""
        thermostat = self.state_data.thermostat
        if thermostat.program is not None:
            return _PROGRAM_PRESETS.get(thermostat.program)
        programs = thermostat.programs
        if thermostat.overridden and programs is not None:
            for preset, program in PRESET_PROGRAMS.items():
                if programs.temperature(program) == thermostat.target_temperature:
                    return preset
        return None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Why the target is what it is, and what comes next."""
        thermostat = self.state_data.thermostat
        return {
            "source": thermostat.source,
            "until": None if thermostat.until is None else thermostat.until.isoformat(),
            "next_program": thermostat.next_program,
            "next_target_temperature": thermostat.next_target,
        }

    async def async_set_temperature(self, **kwargs: Any) -> None:
        """Hold a target until the next block of the schedule."""
        await self._async_set_target(kwargs[ATTR_TEMPERATURE])

    @thermosmart_exception_handler
    async def _async_set_target(self, temperature: float) -> None:
        await self.coordinator.client.set_target_temperature(temperature)

    @thermosmart_exception_handler
    async def async_set_hvac_mode(self, hvac_mode: HVACMode) -> None:
        """Pause, follow the schedule, or hold the current target."""
        client = self.coordinator.client
        thermostat = self.state_data.thermostat
        if hvac_mode is HVACMode.OFF:
            await client.set_paused(True)
        elif hvac_mode is HVACMode.AUTO:
            if thermostat.paused:
                await client.set_paused(False)
            await client.clear_override()
        elif thermostat.paused or not thermostat.overridden:
            # hold what is in force now; after a pause, what the schedule says
            target = thermostat.target_temperature
            if thermostat.paused:
                target = (await client.set_paused(False)).target_temperature
            if target is not None:
                await client.set_target_temperature(target)

    async def async_turn_on(self) -> None:
        """Follow the schedule again."""
        await self.async_set_hvac_mode(HVACMode.AUTO)

    @thermosmart_exception_handler
    async def async_set_preset_mode(self, preset_mode: str) -> None:
        """Hold the temperature of a program as a manual target."""
        programs = self.state_data.thermostat.programs
        if programs is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="programs_unknown"
            )
        await self.coordinator.client.set_target_temperature(
            programs.temperature(PRESET_PROGRAMS[preset_mode])
        )
