"""What the boiler controller works with: its tuning, the boiler's bounds and
the command it returns.

:class:`BoilerControlConfig` tunes :class:`~bridge.core.control.BoilerController`;
:class:`BoilerBounds` is what the boiler allows (data-ids 48 and 49),
:class:`BoilerCommand` what the controller asks of the boiler (data-ids 0,
1, 14, 56, 57). The max CH setpoint written as data-id 57 is clamped to the
bounds of data-id 49, the flow setpoint to it; the DHW setpoint (56) to the
bounds of 48, or to :data:`DEFAULT_DHW_RANGE` when the boiler gives none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math

from bridge.core.control_common import OUTSIDE_PLAUSIBLE
from bridge.core.curve import HeatingCurve
from bridge.core.programs import FROST_MINIMUM

__all__ = [
    "CONTROL_SETPOINT_RANGE",
    "DEFAULT_DHW_RANGE",
    "MODE_HEAT",
    "MODE_LOW_LOAD",
    "MODE_OFF",
    "BoilerBounds",
    "BoilerCommand",
    "BoilerControlConfig",
    "checked_bounds",
]

#: The range of the OpenTherm flow setpoint, data-id 1 (°C).
CONTROL_SETPOINT_RANGE = (0.0, 100.0)
#: DHW setpoint range used when the boiler gives no bounds (data-id 48).
DEFAULT_DHW_RANGE = (35.0, 65.0)

MODE_OFF = "off"
MODE_HEAT = "heat"
MODE_LOW_LOAD = "low_load"


@dataclass(frozen=True, kw_only=True)
class BoilerBounds:
    """What the boiler allows: data-id 49 (max CH setpoint) and 48 (DHW setpoint), °C.

    ``None`` where the boiler did not say. Bounds that make no sense (lower
    above upper, not finite, outside 0-100) are ignored.
    """

    ch_lower: float | None = None
    ch_upper: float | None = None
    dhw_lower: float | None = None
    dhw_upper: float | None = None

    @classmethod
    def from_opentherm(
        cls, id48: tuple[int, int] | None = None, id49: tuple[int, int] | None = None
    ) -> BoilerBounds:
        """From the decoded s8/s8 values ``(HB upper, LB lower)`` of ids 48 and 49."""
        dhw = (float(id48[1]), float(id48[0])) if id48 is not None else (None, None)
        ch = (float(id49[1]), float(id49[0])) if id49 is not None else (None, None)
        return cls(ch_lower=ch[0], ch_upper=ch[1], dhw_lower=dhw[0], dhw_upper=dhw[1])


def checked_bounds(lower: float | None, upper: float | None) -> tuple[float, float] | None:
    """``(lower, upper)`` if both are known and sensible (finite, within 0-100), else None."""
    if lower is None or upper is None or not (math.isfinite(lower) and math.isfinite(upper)):
        return None
    if not 0.0 <= lower <= upper <= 100.0:
        return None
    return lower, upper


@dataclass(frozen=True, kw_only=True)
class BoilerControlConfig:
    """Tuning of :class:`BoilerController` (times in seconds, temperatures in °C).

    ``kp`` is K of flow per K of room error, ``ti`` the integral time;
    ``min_load_fraction`` is the boiler's output at minimum modulation as a
    fraction of the emitters' design load (below it: low-load cycles);
    ``low_load_flow_fraction``, when set, is that same ratio unclamped (it
    may exceed 1 for a boiler larger than the house needs): a low-load cycle
    asks for the flow the emitters settle at under the minimum output, so
    the boiler's own thermostat does not cut the burner within a cycle.
    ``float_band``, when set: a room more than this above the target floats
    (burner off, integrator held), so a setback is not held up by the
    weather curve's feed-forward. ``boost_band``, when set: a room that
    falls more than ``boost_band`` + 0.4 K below the target (a warm-up) gets
    the highest flow the limits allow (integrator held) until it is within
    ``boost_band``, so a warm-up runs at the full power an optimal start
    plans with; in a boost the return cap gives way up to the flow of
    ``boost_load`` more than the load (a fraction of the design load), so
    emitters that need condensing temperatures just to hold the target in
    cold weather still have power to spare for the warm-up.
    """

    curve: HeatingCurve = field(default_factory=HeatingCurve)
    kp: float = 4.0
    ti: float = 10800.0
    integral_limit: float = 15.0
    integral_band: float = 1.0
    approach_time: float = 14400.0
    min_rate: float = 0.3
    rate_window: float = 900.0
    max_ch_setpoint: float = 75.0
    min_flow: float = 25.0
    off_setpoint: float = 10.0
    return_limit: float | None = 55.0
    min_load_fraction: float = 0.25
    low_load_flow_fraction: float | None = None
    low_load_margin: float = 5.0
    float_band: float | None = None
    boost_band: float | None = None
    boost_load: float = 0.3
    low_load_hold: float = 0.2
    min_on: float = 300.0
    min_off: float = 600.0
    pulse_period: float = 1200.0
    max_pulse_period: float = 3600.0
    max_modulation: float = 100.0
    default_outside: float = 0.0
    frost_room: float = FROST_MINIMUM

    def __post_init__(self) -> None:
        if not (self.kp >= 0 and self.ti > 0 and self.integral_limit >= 0):
            raise ValueError("need kp >= 0, ti > 0 and integral_limit >= 0")
        if not 0.0 < self.min_load_fraction < 1.0:
            raise ValueError("min_load_fraction is between 0 and 1")
        if not (math.isfinite(self.boost_load) and 0.0 <= self.boost_load <= 2.0):
            raise ValueError("boost_load is between 0 and 2")
        for band in (self.float_band, self.boost_band):
            if band is not None and not (math.isfinite(band) and band >= 0.0):
                raise ValueError("float_band and boost_band are 0 or more")
        low_flow = self.low_load_flow_fraction
        if low_flow is not None and not (math.isfinite(low_flow) and 0.0 < low_flow <= 4.0):
            raise ValueError("low_load_flow_fraction is above 0 and at most 4")
        if not (self.min_on > 0 and self.min_off > 0):
            raise ValueError("minimum on and off times are positive")
        if self.max_pulse_period < self.min_on + self.min_off:
            raise ValueError("max_pulse_period must hold a minimum on and a minimum off time")
        if not 0.0 <= self.max_modulation <= 100.0:
            raise ValueError("max_modulation is a percentage")
        lo, hi = CONTROL_SETPOINT_RANGE
        if not (
            lo <= self.off_setpoint <= hi and lo <= self.min_flow <= self.max_ch_setpoint <= hi
        ):
            raise ValueError("need 0 <= off_setpoint, 0 <= min_flow <= max_ch_setpoint <= 100")
        if not OUTSIDE_PLAUSIBLE[0] <= self.default_outside <= OUTSIDE_PLAUSIBLE[1]:
            raise ValueError("default_outside out of the plausible range")

    @classmethod
    def radiators(cls) -> BoilerControlConfig:
        """Defaults for radiators (70/50 design, max flow 75 °C)."""
        return cls()

    @classmethod
    def underfloor(cls) -> BoilerControlConfig:
        """Defaults for underfloor heating (35/28 design, max flow 45 °C, slow PI)."""
        return cls(
            curve=HeatingCurve.underfloor(),
            kp=2.0,
            ti=4 * 3600.0,
            integral_limit=8.0,
            max_ch_setpoint=45.0,
            min_flow=22.0,
            return_limit=None,
        )


@dataclass(frozen=True)
class BoilerCommand:
    """What to write to an OpenTherm boiler.

    ``ch_enable`` and ``dhw_enable`` go into the master status (ID 0 HB bits
    0 and 1), ``control_setpoint`` is TSet (ID 1), ``max_modulation`` ID 14
    (%), ``dhw_setpoint`` ID 56 (``None``: leave it), ``max_ch_setpoint`` ID
    57. ``mode`` is ``off``, ``heat`` or ``low_load``; ``demand`` the heat
    asked for as a fraction of the design load; ``flow_request`` the
    curve-plus-PI flow before limits; ``outside_used`` the outside
    temperature the curve used; ``notes`` say which fallbacks were taken.
    """

    ch_enable: bool
    control_setpoint: float
    max_modulation: float
    dhw_enable: bool
    dhw_setpoint: float | None
    max_ch_setpoint: float
    mode: str
    demand: float
    flow_request: float
    outside_used: float
    notes: tuple[str, ...] = ()
