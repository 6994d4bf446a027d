"""The simulated boiler's fixed properties: its model spec, efficiency curve and codes.

Efficiency depends on the return temperature (:func:`efficiency`): about
98 % with the return well below the dew point of the flue gas, 87 % above
55 °C. :class:`OemCode` lists the OEM fault codes the boiler reports,
:class:`LinkFault` what a faulty OpenTherm line does to a conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
import itertools

__all__ = [
    "BEST_EFFICIENCY",
    "EFFICIENCY_CURVE",
    "BoilerSpec",
    "LinkFault",
    "OemCode",
    "efficiency",
]


# Return temperature (°C) -> efficiency (heat to water / gas, on the net
# calorific value basis), linear in between, flat past the ends.
EFFICIENCY_CURVE: tuple[tuple[float, float], ...] = (
    (20.0, 0.985),
    (30.0, 0.980),
    (40.0, 0.975),
    (45.0, 0.970),
    (50.0, 0.950),
    (55.0, 0.885),
    (60.0, 0.872),
    (90.0, 0.865),
)

BEST_EFFICIENCY = EFFICIENCY_CURVE[0][1]


def _curve(return_c: float) -> float:
    pts = EFFICIENCY_CURVE
    if return_c <= pts[0][0]:
        return pts[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        if return_c <= x1:
            return y0 + (y1 - y0) * (return_c - x0) / (x1 - x0)
    return pts[-1][1]


# The curve tabulated every 0.25 K from 0 to 100 °C: its corners are on this
# grid, so linear interpolation in the table gives the curve exactly.
_TABLE_STEP = 0.25
_TABLE = [_curve(i * _TABLE_STEP) for i in range(401)]


def efficiency(return_c: float) -> float:
    """Condensing boiler efficiency at a return temperature."""
    x = return_c / _TABLE_STEP
    if not 0.0 <= x < 400.0:
        return _curve(return_c)
    i = int(x)
    y0 = _TABLE[i]
    return y0 + (_TABLE[i + 1] - y0) * (x - i)


class OemCode(IntEnum):
    """The OEM fault codes this boiler reports in ID 5's low byte."""

    NONE = 0
    IGNITION_FAILURE = 1
    FLAME_LOSS = 2
    LOW_WATER_PRESSURE = 10


class LinkFault(StrEnum):
    """What the boiler side of the OpenTherm line does to a conversation."""

    NONE = "none"
    SILENT = "silent"
    """The request is lost and nothing answers."""
    GARBLE_PARITY = "garble_parity"
    """The answer arrives with one bit flipped, so its parity fails."""
    GARBLE_DATA_ID = "garble_data_id"
    """The answer arrives for another data-id."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BoilerSpec:
    """A boiler model's fixed properties."""

    max_kw: float = 24.0
    min_modulation_pct: int = 20
    dhw_max_kw: float = 28.0
    dhw_present: bool = True
    outside_sensor: bool = False
    heat_exchanger_j_per_k: float = 40_000.0
    idle_conductance_w_per_k: float = 5.0
    hysteresis_off_k: float = 5.0
    hysteresis_on_k: float = 3.0
    anti_cycle_s: float = 180.0
    pump_overrun_s: float = 180.0
    proportional_w_per_k: float = 700.0
    demand_min_setpoint_c: float = 10.0
    safety_limit_c: float = 95.0
    max_ch_setpoint_bounds: tuple[int, int] = (25, 85)
    dhw_setpoint_bounds: tuple[int, int] = (40, 65)
    default_max_ch_setpoint_c: float = 80.0
    default_dhw_setpoint_c: float = 60.0
    min_dhw_flow_l_min: float = 2.0
    dhw_effectiveness: float = 0.9
    dhw_primary_flow_kg_s: float = 0.3
    cold_water_c: float = 10.0
    fill_pressure_bar: float = 1.5
    expansion_bar_per_k: float = 0.012
    low_pressure_bar: float = 0.7
    pressure_recover_bar: float = 0.8
    max_ignition_attempts: int = 3
    ignition_retry_s: float = 30.0
    purge_loss_j: float = 20_000.0
    member_id: int = 0
    opentherm_version: float = 2.2
    product_type: int = 1
    product_version: int = 4

    @property
    def min_w(self) -> float:
        """Minimum output, W."""
        return self.max_kw * 1000.0 * self.min_modulation_pct / 100.0

    @property
    def max_w(self) -> float:
        """Maximum CH output, W."""
        return self.max_kw * 1000.0
