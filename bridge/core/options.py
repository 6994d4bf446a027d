"""The owner's per-bridge options: warm-up, heating system, boiler limits, hot water.

Stored as one object in the settings (``options``); ``GET /api/v1/options``
shows them with their defaults filled in and ``PUT /api/v1/options`` changes
any of them. A change applies whole or not at all.

- ``preheat``: start warming up early for home and comfort periods.
- ``heating_system``: ``radiators`` (70/50 design, max flow 75 °C) or
  ``underfloor`` (35/28 design, max flow 45 °C, slower control); it picks the
  heating curve and the control defaults.
- ``max_ch_setpoint``: the highest flow temperature the bridge asks for
  (OpenTherm ID 57 where the boiler takes it), °C; ``None`` keeps the
  heating system's default.
- ``dhw_enable``: domestic hot water on or off (ID 0 master status bit 1).
- ``dhw_setpoint``: the hot-water temperature (ID 56), °C; ``None`` leaves
  the boiler's own setting alone.

With a ThermoSmart wall unit (boiler URL ``thermosmart-unit://``) the unit
drives the boiler, so ``max_ch_setpoint`` and ``dhw_setpoint`` are refused;
``dhw_enable`` is sent to the unit (its ``DHW``). The unit's own settings,
sent to every registered unit (``None``: the unit keeps its own):

- ``unit_brightness``: display brightness, 0-100;
- ``unit_status_led``: ``off``, ``errors`` or ``activity``;
- ``unit_display``: the display shows the ``temperature`` or the ``clock``;
- ``unit_calibration``: added to the unit's room reading, -2.5…+2.5 K;
- ``unit_language``: the display language (``nl-NL``, ``nl-BE``, ``de-DE``,
  ``fr-FR``, ``fr-BE``, ``en-GB``);
- ``unit_poll_throttle``: 0 polls every 5 s; N ≥ 1 stretches the delay;
- ``unit_pid_tuning``: send the house's unit the PID parameters the bridge
  proposes from the learned house (:mod:`bridge.unit.tuning`); turned off
  again, the unit gets back the parameters it had. Default false.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from bridge.core.boiler_config import DEFAULT_DHW_RANGE, BoilerControlConfig
from bridge.core.unit import (
    BRIGHTNESS_RANGE,
    CALIBRATION_RANGE,
    DISPLAYS,
    LOCALES,
    STATUS_LEDS,
    THROTTLE_RANGE,
)
from bridge.core.validation import FieldError, ValidationError, is_number

HEATING_SYSTEMS: Final = ("radiators", "underfloor")
MAX_CH_RANGE: Final = (20.0, 90.0)
"""What any boiler takes as a maximum flow temperature; the boiler's own bounds narrow it."""

DEFAULTS: Final[Mapping[str, Any]] = {
    "preheat": True,
    "heating_system": "radiators",
    "max_ch_setpoint": None,
    "dhw_enable": True,
    "dhw_setpoint": None,
    "unit_brightness": None,
    "unit_status_led": None,
    "unit_display": None,
    "unit_calibration": None,
    "unit_language": None,
    "unit_poll_throttle": None,
    "unit_pid_tuning": False,
}

UNIT_CHOICES: Final[Mapping[str, tuple[str, ...]]] = {
    "unit_status_led": STATUS_LEDS,
    "unit_display": DISPLAYS,
    "unit_language": LOCALES,
}
"""The wall unit's settings that take one of a few names."""
UNIT_WHOLE_NUMBERS: Final[Mapping[str, tuple[int, int]]] = {
    "unit_brightness": BRIGHTNESS_RANGE,
    "unit_poll_throttle": THROTTLE_RANGE,
}
"""The wall unit's settings that take a whole number in a range."""
UNIT_OPTIONS: Final = (
    "unit_calibration",
    *UNIT_CHOICES,
    *UNIT_WHOLE_NUMBERS,
    "unit_pid_tuning",
)


@dataclass(frozen=True, slots=True)
class BoilerLimits:
    """What the boiler said it takes, for checking an option against it."""

    opentherm: bool
    """False for a relay: no flow temperatures and no hot water to set."""
    unit: bool = False
    """True when a ThermoSmart wall unit drives the boiler (the bridge sets its room target)."""
    dhw_present: bool | None = None
    dhw_bounds: tuple[float, float] | None = None
    max_ch_bounds: tuple[float, float] | None = None


def current(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The options in effect: the stored ones over the defaults (unknown keys dropped)."""
    out = dict(DEFAULTS)
    for key in DEFAULTS:
        if key in stored:
            out[key] = stored[key]
    if out["heating_system"] not in HEATING_SYSTEMS:
        out["heating_system"] = DEFAULTS["heating_system"]
    return out


def _temperature(
    errors: list[FieldError], name: str, value: Any, bounds: tuple[float, float], whose: str
) -> None:
    if value is None:
        return
    if not is_number(value):
        errors.append({"field": name, "rule": "must be a number (°C) or null"})
        return
    lo, hi = bounds
    if not lo <= value <= hi:
        errors.append({"field": name, "rule": f"must be from {lo:g} to {hi:g} °C ({whose})"})


def check(changes: Mapping[str, Any], limits: BoilerLimits) -> dict[str, Any]:
    """``changes`` checked whole: a copy, or :class:`ValidationError` listing every broken rule."""
    errors: list[FieldError] = []
    if not changes:
        errors.append({"field": "(body)", "rule": f"give at least one of {', '.join(DEFAULTS)}"})
    errors.extend(
        {"field": key, "rule": "is not an option"} for key in changes if key not in DEFAULTS
    )
    errors.extend(
        {"field": key, "rule": "must be true or false"}
        for key in ("preheat", "dhw_enable", "unit_pid_tuning")
        if key in changes and not isinstance(changes[key], bool)
    )
    if "heating_system" in changes and changes["heating_system"] not in HEATING_SYSTEMS:
        errors.append(
            {"field": "heating_system", "rule": f"must be one of {', '.join(HEATING_SYSTEMS)}"}
        )
    boiler_keys = [k for k in ("max_ch_setpoint", "dhw_enable", "dhw_setpoint") if k in changes]
    if boiler_keys and not limits.opentherm:
        relay_rule = "needs an OpenTherm boiler (this is a relay)"
        errors.extend({"field": key, "rule": relay_rule} for key in boiler_keys)
        raise ValidationError(errors)
    if "max_ch_setpoint" in changes:
        bounds, whose = MAX_CH_RANGE, "any boiler"
        if limits.max_ch_bounds is not None:
            lo = max(MAX_CH_RANGE[0], limits.max_ch_bounds[0])
            hi = min(MAX_CH_RANGE[1], limits.max_ch_bounds[1])
            if lo <= hi:
                bounds, whose = (lo, hi), "the boiler's bounds"
        _temperature(errors, "max_ch_setpoint", changes["max_ch_setpoint"], bounds, whose)
    dhw_keys = [k for k in ("dhw_enable", "dhw_setpoint") if k in changes]
    if dhw_keys and limits.dhw_present is False:
        no_dhw = "the boiler has no domestic hot water"
        errors.extend({"field": key, "rule": no_dhw} for key in dhw_keys)
    elif "dhw_setpoint" in changes:
        bounds, whose = DEFAULT_DHW_RANGE, "the usual hot-water range"
        if limits.dhw_bounds is not None and limits.dhw_bounds[0] <= limits.dhw_bounds[1]:
            bounds, whose = limits.dhw_bounds, "the boiler's bounds"
        _temperature(errors, "dhw_setpoint", changes["dhw_setpoint"], bounds, whose)
    _check_unit(errors, changes, limits)
    if errors:
        raise ValidationError(errors)
    out = dict(changes)
    for key in ("max_ch_setpoint", "dhw_setpoint", "unit_calibration"):
        if out.get(key) is not None:
            out[key] = float(out[key])
    return out


def _check_unit(errors: list[FieldError], changes: Mapping[str, Any], limits: BoilerLimits) -> None:
    """The wall unit's settings, and the boiler options a unit does not take."""
    if limits.unit:
        unit_rule = "the wall unit drives the boiler itself; set this on the unit"
        errors.extend(
            {"field": key, "rule": unit_rule}
            for key in ("max_ch_setpoint", "dhw_setpoint")
            if changes.get(key) is not None
        )
    unit_keys = [k for k in UNIT_OPTIONS if k in changes]
    if unit_keys and not limits.unit:
        no_unit = "needs a ThermoSmart wall unit (boiler URL thermosmart-unit://)"
        errors.extend({"field": key, "rule": no_unit} for key in unit_keys)
        return
    for key, choices in UNIT_CHOICES.items():
        if key in changes and changes[key] is not None and changes[key] not in choices:
            errors.append({"field": key, "rule": f"must be one of {', '.join(choices)} or null"})
    for key, (lo, hi) in UNIT_WHOLE_NUMBERS.items():
        value = changes.get(key)
        if (
            key in changes
            and value is not None
            and not (isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi)
        ):
            errors.append(
                {"field": key, "rule": f"must be a whole number from {lo} to {hi}, or null"}
            )
    if "unit_calibration" in changes and changes["unit_calibration"] is not None:
        calibration = changes["unit_calibration"]
        low, high = CALIBRATION_RANGE
        if not is_number(calibration) or not low <= calibration <= high:
            errors.append(
                {
                    "field": "unit_calibration",
                    "rule": f"must be from {low:+g} to {high:+g} K, or null",
                }
            )


def control_config(options: Mapping[str, Any]) -> BoilerControlConfig:
    """The boiler control's defaults for the heating system, with the owner's maximum flow."""
    if options.get("heating_system") == "underfloor":
        config = BoilerControlConfig.underfloor()
    else:
        config = BoilerControlConfig.radiators()
    max_ch = options.get("max_ch_setpoint")
    if is_number(max_ch):
        value = float(max_ch)
        config = replace(config, max_ch_setpoint=value, min_flow=min(config.min_flow, value))
    return config


__all__ = [
    "DEFAULTS",
    "HEATING_SYSTEMS",
    "MAX_CH_RANGE",
    "UNIT_CHOICES",
    "UNIT_OPTIONS",
    "UNIT_WHOLE_NUMBERS",
    "BoilerLimits",
    "check",
    "control_config",
    "current",
]
