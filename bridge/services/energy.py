"""The energy meter: heat delivered and gas used, kept on the bridge.

On every measurement sample the burner's output (told from the flame, the
relative modulation and the boiler's size by
:meth:`~bridge.learning.screening.HeatSource.burner_w`, the one place that
defines it) holds from the previous sample to this one; it is booked to
hot water while the boiler reports hot-water mode, else to central
heating. Gas is that heat divided by the condensing efficiency at the
return temperature (:func:`bridge.opentherm.sim.boiler_spec.efficiency`, the
curve the simulated boiler burns by; the flow temperature stands in when
the return is not reported, which errs towards more gas).

The counters exist only where the output can be told honestly: an
OpenTherm boiler that reports its capacity and minimum modulation (ID 15)
and its flame. A relay boiler reports no modulation and the bridge knows
no nominal power for it, so it has no counters (``None``). A gap longer
than :data:`MAX_GAP_S` between two samples (a restart, a stalled link) is
not guessed at: counting starts again from the next sample.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import TYPE_CHECKING

from bridge.opentherm.sim.boiler_spec import EFFICIENCY_CURVE, efficiency
from bridge.storage.energy import ENERGY_COUNTERS

if TYPE_CHECKING:
    from bridge.learning import Measurement
    from bridge.learning.screening import HeatSource
    from bridge.storage.energy import EnergyRepo

MAX_GAP_S = 300.0
"""The longest stretch between two samples that is booked (seconds)."""
_WORST_EFFICIENCY = EFFICIENCY_CURVE[-1][1]


@dataclass(frozen=True, slots=True)
class _Rate:
    ts: float
    dhw: bool
    heat_w: float
    gas_w: float


def _gas_w(heat_w: float, m: Measurement) -> float:
    water = m.return_c if m.return_c is not None else m.flow_c
    if water is None or not math.isfinite(water):
        return heat_w / _WORST_EFFICIENCY
    return heat_w / efficiency(water)


class EnergyMeter:
    """Integrates the burner's output into the stored energy counters."""

    def __init__(self) -> None:
        self._totals: dict[str, float] = {}
        self._last: _Rate | None = None

    async def load(self, repo: EnergyRepo) -> None:
        """Continue from the stored totals."""
        self._totals = await repo.totals()
        self._last = None

    def view(self) -> dict[str, float] | None:
        """``{ch_heat_kwh, ch_gas_kwh, dhw_heat_kwh, dhw_gas_kwh}``, or None with no counters."""
        if not self._totals:
            return None
        return {f"{name}_kwh": round(self._totals.get(name, 0.0), 3) for name in ENERGY_COUNTERS}

    async def observe(self, repo: EnergyRepo, m: Measurement, source: HeatSource | None) -> bool:
        """Book the stretch since the last sample; True if a total changed."""
        previous, self._last = self._last, None
        power = None
        if source is not None and not source.assumed_size and m.relay_on is None:
            power = source.burner_w(m)
        if power is None or m.flame_on is None:
            return False
        self._last = _Rate(m.ts, bool(m.dhw_active), power, _gas_w(power, m))
        if previous is None:
            if self._totals:
                return False
            # the first sample a boiler can be metered: the counters start at zero
            self._totals = await repo.add(dict.fromkeys(ENERGY_COUNTERS, 0.0))
            return True
        seconds = m.ts - previous.ts
        if not 0.0 < seconds <= MAX_GAP_S:
            return False
        part = "dhw" if previous.dhw else "ch"
        hours = seconds / 3600.0
        added = {
            f"{part}_heat": previous.heat_w * hours / 1000.0,
            f"{part}_gas": previous.gas_w * hours / 1000.0,
        }
        if not any(added.values()):
            return False
        self._totals = await repo.add(added)
        return True
