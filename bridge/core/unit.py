"""The rules about ThermoSmart wall units that storage, options and the protocol share.

A wall unit is registered by its hardware id (printed on it, the cloud API's
``hw``) and its password (the ARC4 key's first characters, see
``THERMOSMART_UNIT.md``). The unit's own settings the owner can set through
the bridge are options (:mod:`bridge.core.options`); their ranges are here.

Pure code: no I/O.
"""

from __future__ import annotations

import re
from typing import Any, Final

HARDWARE_ID_MAX: Final = 32
_HARDWARE_ID = re.compile(r"[A-Za-z0-9-]{1,32}")
PASSWORD_MAX: Final = 24
"""The ARC4 key is the password followed by the master text up to 24 characters."""
_PASSWORD = re.compile(r"[\x20-\x7e]{1,24}")

SOURCES: Final = ("crash", "manual", "server", "week", "exception", "pause")
"""What a unit follows, by its ``src`` number 0-5."""
LOCALES: Final = ("nl-NL", "nl-BE", "de-DE", "fr-FR", "fr-BE", "en-GB")
"""The display languages the unit knows (its ``LOCALE``)."""
STATUS_LEDS: Final = ("off", "errors", "activity")
"""The status LED's modes, in the order of the unit's ``SLS`` numbers 0, 1, 2."""
DISPLAYS: Final = ("temperature", "clock")
"""What the display shows, in the order of the unit's ``SD`` numbers 0, 1."""
CALIBRATION_RANGE: Final = (-2.5, 2.5)
"""Sensor calibration, K (the unit's ``TA`` in tenths, -25…25)."""
BRIGHTNESS_RANGE: Final = (0, 100)
THROTTLE_RANGE: Final = (0, 10)
"""Poll throttle factor: 0 polls every 5 s; N ≥ 1 stretches the delay 10, 15, 20 … s."""
PID_REASONS: Final = ("overshoot", "slow")
"""Why the bridge proposes other PID parameters for a unit."""
SETPOINT_RANGE: Final = (5.0, 25.0)
"""What the unit takes as a target (``SVSET`` 50-250 tenths)."""


def check_hardware_id(value: Any) -> str:
    """A unit's hardware id: 1-32 letters, digits or ``-``, or :class:`ValueError`."""
    if not isinstance(value, str) or not _HARDWARE_ID.fullmatch(value):
        raise ValueError(f"a hardware id has 1-{HARDWARE_ID_MAX} letters, digits or '-'")
    return value


def check_unit_password(value: Any) -> str:
    """A unit's password: 1-24 printable ASCII characters (the message never repeats it)."""
    if not isinstance(value, str) or not _PASSWORD.fullmatch(value):
        raise ValueError(f"a unit password has 1 to {PASSWORD_MAX} printable ASCII characters")
    return value


__all__ = [
    "BRIGHTNESS_RANGE",
    "CALIBRATION_RANGE",
    "DISPLAYS",
    "HARDWARE_ID_MAX",
    "LOCALES",
    "PASSWORD_MAX",
    "PID_REASONS",
    "SETPOINT_RANGE",
    "SOURCES",
    "STATUS_LEDS",
    "THROTTLE_RANGE",
    "check_hardware_id",
    "check_unit_password",
]
