"""Constants of the ThermoSmart Local integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "thermosmart"
LOGGER = logging.getLogger(__package__)

CONF_BRIDGE_ID: Final = "bridge_id"
CONF_TOKEN_ID: Final = "token_id"
CONF_OUTSIDE_ENTITY: Final = "outside_temperature_entity"
"""Option: the sensor or weather entity whose temperature is pushed to the bridge."""
CONF_PREHEAT: Final = "preheat"
CONF_HEATING_SYSTEM: Final = "heating_system"

DEFAULT_PORT: Final = 8722
CLIENT_NAME: Final = "Home Assistant"

PRESET_PROGRAMS: Final[dict[str, str]] = {
    "home": "home",
    "away": "not_home",
    "comfort": "comfort",
    "anti_freeze": "anti_freeze",
}
"""Climate preset modes and the bridge programs they stand for."""

TEMPERATURE_MIN: Final = 5.0
TEMPERATURE_MAX: Final = 30.0
"""The bounds of every target and program temperature, °C."""
TEMPERATURE_STEP: Final = 0.5
