"""Per-bridge options and the thermostat's settings."""

from __future__ import annotations

from typing import Annotated, ClassVar

from bridge.core.contract import UNSET, Keywords, Unset, model, spec
from bridge.core.options import HEATING_SYSTEMS, MAX_CH_RANGE
from bridge.core.rules import EMAIL_RULE, LOCATION_RULE, NAME_RULE
from bridge.core.unit import (
    BRIGHTNESS_RANGE,
    CALIBRATION_RANGE,
    DISPLAYS,
    LOCALES,
    STATUS_LEDS,
    THROTTLE_RANGE,
)
from bridge.core.validation import EMAIL_MAX, LOCATION_MAX, NAME_MAX

HeatingSystem = Annotated[str, Keywords(enum=list(HEATING_SYSTEMS))]
StatusLed = Annotated[str, Keywords(enum=list(STATUS_LEDS))]
Display = Annotated[str, Keywords(enum=list(DISPLAYS))]
Locale = Annotated[str, Keywords(enum=list(LOCALES))]

_PREHEAT = "heat up early (optimal start); default true"
_HEATING_SYSTEM = "picks the heating curve and control defaults; default radiators"
_MAX_CH = (
    "highest flow temperature, °C (ID 57); null: the heating system's default "
    "(75 radiators, 45 underfloor)"
)
_DHW_ENABLE = "hot water on (ID 0 bit 1); default true"
_DHW_SETPOINT = "hot-water temperature, °C (ID 56); null: leave the boiler's own"
_UNIT = "; wall units only (null: the unit keeps its own)"
_UNIT_BRIGHTNESS = "the wall unit's display brightness, 0-100" + _UNIT
_UNIT_STATUS_LED = "the wall unit's status LED: off, errors, or activity and errors" + _UNIT
_UNIT_DISPLAY = "what the wall unit's display shows: temperature or clock" + _UNIT
_UNIT_CALIBRATION = "added to the wall unit's room reading, K" + _UNIT
_UNIT_LANGUAGE = "the wall unit's display language" + _UNIT
_UNIT_THROTTLE = "the wall unit's poll throttle: 0 every 5 s, N >= 1 slower" + _UNIT
_UNIT_PID_TUNING = (
    "send the house's wall unit the PID parameters proposed from the learned house"
    " (see the unit's pid_proposal); false: the unit gets back its own; default false;"
    " wall units only"
)


@model
class Options:
    """Per-bridge options with their defaults filled in."""

    preheat: bool = spec(description=_PREHEAT)
    heating_system: HeatingSystem = spec(description=_HEATING_SYSTEM)
    max_ch_setpoint: float | None = spec(
        minimum=MAX_CH_RANGE[0], maximum=MAX_CH_RANGE[1], description=_MAX_CH
    )
    dhw_enable: bool = spec(description=_DHW_ENABLE)
    dhw_setpoint: float | None = spec(description=_DHW_SETPOINT)
    unit_brightness: int | None = spec(
        minimum=BRIGHTNESS_RANGE[0], maximum=BRIGHTNESS_RANGE[1], description=_UNIT_BRIGHTNESS
    )
    unit_status_led: StatusLed | None = spec(description=_UNIT_STATUS_LED)
    unit_display: Display | None = spec(description=_UNIT_DISPLAY)
    unit_calibration: float | None = spec(
        minimum=CALIBRATION_RANGE[0], maximum=CALIBRATION_RANGE[1], description=_UNIT_CALIBRATION
    )
    unit_language: Locale | None = spec(description=_UNIT_LANGUAGE)
    unit_poll_throttle: int | None = spec(
        minimum=THROTTLE_RANGE[0], maximum=THROTTLE_RANGE[1], description=_UNIT_THROTTLE
    )
    unit_pid_tuning: bool = spec(description=_UNIT_PID_TUNING)


@model
class OptionsChange:
    """Any of the options; checked whole, and nothing changes on an error. Temperatures are
    checked against the boiler's bounds where it told them; boiler options on a relay and
    hot-water options on a boiler without hot water are refused, and so are the wall unit's
    settings without a unit and the flow and hot-water temperatures with one."""

    SCHEMA_EXTRA: ClassVar = {"minProperties": 1}

    preheat: bool | Unset = spec(default=UNSET, description=_PREHEAT)
    heating_system: HeatingSystem | Unset = spec(default=UNSET, description=_HEATING_SYSTEM)
    max_ch_setpoint: float | Unset | None = spec(
        default=UNSET, minimum=MAX_CH_RANGE[0], maximum=MAX_CH_RANGE[1], description=_MAX_CH
    )
    dhw_enable: bool | Unset = spec(default=UNSET, description=_DHW_ENABLE)
    dhw_setpoint: float | Unset | None = spec(default=UNSET, description=_DHW_SETPOINT)
    unit_brightness: int | Unset | None = spec(
        default=UNSET,
        minimum=BRIGHTNESS_RANGE[0],
        maximum=BRIGHTNESS_RANGE[1],
        description=_UNIT_BRIGHTNESS,
    )
    unit_status_led: StatusLed | Unset | None = spec(default=UNSET, description=_UNIT_STATUS_LED)
    unit_display: Display | Unset | None = spec(default=UNSET, description=_UNIT_DISPLAY)
    unit_calibration: float | Unset | None = spec(
        default=UNSET,
        minimum=CALIBRATION_RANGE[0],
        maximum=CALIBRATION_RANGE[1],
        description=_UNIT_CALIBRATION,
    )
    unit_language: Locale | Unset | None = spec(default=UNSET, description=_UNIT_LANGUAGE)
    unit_poll_throttle: int | Unset | None = spec(
        default=UNSET,
        minimum=THROTTLE_RANGE[0],
        maximum=THROTTLE_RANGE[1],
        description=_UNIT_THROTTLE,
    )
    unit_pid_tuning: bool | Unset = spec(default=UNSET, description=_UNIT_PID_TUNING)


@model
class Settings:
    name: str = spec(minLength=1, maxLength=NAME_MAX)
    location: str | None = spec(
        maxLength=LOCATION_MAX, description="the city, used only for weather"
    )
    email: str | None = spec(maxLength=EMAIL_MAX)


@model
class SettingsUpdate:
    """Any of these (at least one); null clears location or e-mail."""

    name: str | Unset = spec(default=UNSET, rule=NAME_RULE)
    location: str | Unset | None = spec(default=UNSET, rule=LOCATION_RULE)
    email: str | Unset | None = spec(default=UNSET, rule=EMAIL_RULE)
