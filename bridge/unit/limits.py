"""The unit's ranges, once: what it can show, hold and take.

The protocol (:mod:`.protocol`) and the calendar (:mod:`.calendar`) check
against these; the simulated unit (:mod:`.sim`) keeps to them.
"""

from __future__ import annotations

from bridge.core.control_common import ROOM_PLAUSIBLE
from bridge.core.validation import OUTSIDE_TEMPERATURE_RANGE

#: A target the unit holds (``SVSET``, ``csv``, a calendar record), °C: ``SVSET`` 50-250 tenths.
TARGET_RANGE = (5.0, 25.0)
#: A room temperature the unit may report (``pv``), °C; ``pv=9999`` is outside.
ROOM_RANGE = ROOM_PLAUSIBLE
#: An outside temperature the server may send (``BVSET``), °C.
OUTSIDE_RANGE = OUTSIDE_TEMPERATURE_RANGE
#: The sensor calibration (``TA``), K.
CALIBRATION_RANGE = (-2.5, 2.5)
#: The local offset from UTC (``TZ``), minutes: UTC-12 to UTC+14.
TZ_RANGE = (-12 * 60, 14 * 60)
#: The unit's clock (``ts``, ``TS``) and the calendar's instants: 32 bits, as the 8 hex digits.
CLOCK_RANGE = (0, 0xFFFF_FFFF)
#: Display brightness (``DIM``), percent.
BRIGHTNESS_RANGE = (0, 100)
#: The highest throttle factor (``TH``): at 100 the unit polls every 505 s.
MAX_THROTTLE = 100
#: PID parameters (``kp`` °C of flow per K of room error; ``ti``, ``td`` seconds), 0.01 steps.
KP_RANGE = (0.0, 100.0)
TI_RANGE = (0.0, 100_000.0)
TD_RANGE = (0.0, 100_000.0)
PID_DECIMALS = 2


def clamp_target(temperature: float) -> float:
    """``temperature`` moved into :data:`TARGET_RANGE` (a program of 28 °C becomes 25 °C)."""
    low, high = TARGET_RANGE
    return min(high, max(low, temperature))
