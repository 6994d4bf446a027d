"""The unit's ranges, once: what it can show, hold and take.

The protocol (:mod:`.protocol`) and the calendar (:mod:`.calendar`) check
against these; the simulated unit (:mod:`.sim`) keeps to them.
"""

from __future__ import annotations

from bridge.core.control_common import ROOM_PLAUSIBLE
from bridge.core.unit import BRIGHTNESS_RANGE, CALIBRATION_RANGE, SETPOINT_RANGE
from bridge.core.validation import OUTSIDE_TEMPERATURE_RANGE

#: A target the unit holds (``SVSET``, ``csv``, a calendar record), °C: ``SVSET`` 50-250 tenths.
TARGET_RANGE = SETPOINT_RANGE
#: A room temperature the unit may report (``pv``), °C; ``pv=9999`` is outside.
ROOM_RANGE = ROOM_PLAUSIBLE
#: An outside temperature the server may send (``BVSET``), °C.
OUTSIDE_RANGE = OUTSIDE_TEMPERATURE_RANGE
#: The local offset from UTC (``TZ``), minutes: UTC-12 to UTC+14.
TZ_RANGE = (-12 * 60, 14 * 60)
#: The unit's clock (``ts``, ``TS``) and the calendar's instants: 32 bits, as the 8 hex digits.
CLOCK_RANGE = (0, 0xFFFF_FFFF)
#: The highest throttle factor (``TH``): at 100 the unit polls every 505 s.
MAX_THROTTLE = 100
#: PID parameters (``kp`` °C of flow per K of room error; ``ti``, ``td`` seconds), 0.01 steps.
KP_RANGE = (0.0, 100.0)
TI_RANGE = (0.0, 100_000.0)
TD_RANGE = (0.0, 100_000.0)
PID_DECIMALS = 2

__all__ = [
    "BRIGHTNESS_RANGE",
    "CALIBRATION_RANGE",
    "CLOCK_RANGE",
    "KP_RANGE",
    "MAX_THROTTLE",
    "OUTSIDE_RANGE",
    "PID_DECIMALS",
    "ROOM_RANGE",
    "TARGET_RANGE",
    "TD_RANGE",
    "TI_RANGE",
    "TZ_RANGE",
    "clamp_target",
]
"""The sensor calibration (``TA``, K) and display brightness (``DIM``, %) ranges are
core's (:mod:`bridge.core.unit`): the options check them too."""


def clamp_target(temperature: float) -> float:
    """``temperature`` moved into :data:`TARGET_RANGE` (a program of 28 °C becomes 25 °C)."""
    low, high = TARGET_RANGE
    return min(high, max(low, temperature))
