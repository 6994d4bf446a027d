"""The heating curve: outside temperature -> flow temperature for the emitters.

:class:`HeatingCurve` is the weather compensation the boiler controller
(:mod:`bridge.core.control`) starts from, and the emitter model the
learning uses to turn a flow temperature back into a load.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

__all__ = ["HeatingCurve"]


@dataclass(frozen=True, kw_only=True)
class HeatingCurve:
    """A weather-compensation curve from the emitters' design point.

    ``load`` is the fraction of the design heat loss needed: ``(target -
    outside) / (design_room - design_outside)``, at least 0. The emitters'
    mean excess temperature grows as ``load ** (1 / exponent)`` (1.3 for
    radiators, 1.1 for underfloor heating), the flow/return spread as
    ``load``. ``footpoint`` shifts the whole curve (K). ``gains_k`` is the
    part of the room-outside difference that free heat covers (internal and
    solar gains over the heat-loss coefficient, K): the load counts from
    ``outside + gains_k``, the house's balance point.
    """

    design_outside: float = -10.0
    design_flow: float = 70.0
    design_return: float = 50.0
    design_room: float = 20.0
    exponent: float = 1.3
    footpoint: float = 0.0
    gains_k: float = 0.0

    def __post_init__(self) -> None:
        values = (
            self.design_outside,
            self.design_flow,
            self.design_return,
            self.design_room,
            self.exponent,
            self.footpoint,
            self.gains_k,
        )
        if not all(math.isfinite(v) for v in values):
            raise ValueError("heating curve parameters must be finite")
        if not self.design_outside < self.design_room < self.design_return < self.design_flow:
            raise ValueError("need design_outside < design_room < design_return < design_flow")
        if not 1.0 <= self.exponent <= 2.0:
            raise ValueError("the emitter exponent is between 1 and 2")

    @classmethod
    def radiators(cls) -> HeatingCurve:
        """Radiators sized for 70/50 °C at -10 °C outside."""
        return cls()

    @classmethod
    def underfloor(cls) -> HeatingCurve:
        """Underfloor heating sized for 35/28 °C at -10 °C outside."""
        return cls(design_flow=35.0, design_return=28.0, exponent=1.1)

    @property
    def _mean_excess(self) -> float:
        return (self.design_flow + self.design_return) / 2.0 - self.design_room

    @property
    def _spread(self) -> float:
        return self.design_flow - self.design_return

    def load(self, target: float, outside: float) -> float:
        """The fraction of the design load needed to hold ``target`` at ``outside``."""
        return max(
            0.0, (target - outside - self.gains_k) / (self.design_room - self.design_outside)
        )

    def flow(self, target: float, load: float) -> float:
        """The flow temperature that delivers ``load`` at room ``target``."""
        load = max(0.0, load)
        mean = self._mean_excess * math.pow(load, 1.0 / self.exponent)
        return target + self.footpoint + mean + self._spread / 2.0 * load

    def return_temperature(self, target: float, load: float) -> float:
        """The return temperature expected at ``load``."""
        load = max(0.0, load)
        mean = self._mean_excess * math.pow(load, 1.0 / self.exponent)
        return target + self.footpoint + mean - self._spread / 2.0 * load

    def flow_for(self, target: float, outside: float) -> float:
        """The curve's flow temperature for ``target`` at ``outside``."""
        return self.flow(target, self.load(target, outside))

    def load_for_flow(self, target: float, flow: float, high: float = 8.0) -> float:
        """The load a flow temperature delivers at room ``target`` (0 at or below the foot)."""
        if not flow > self.flow(target, 0.0):
            return 0.0
        if flow >= self.flow(target, high):
            return high
        low = 0.0
        for _ in range(50):
            middle = (low + high) / 2.0
            if self.flow(target, middle) < flow:
                low = middle
            else:
                high = middle
        return (low + high) / 2.0

    def flow_at_return(self, target: float, limit: float, high: float = 4.0) -> float | None:
        """The flow at which the expected return reaches ``limit`` (``None``: never, up to ``high``)."""
        if self.return_temperature(target, 0.0) >= limit:
            return self.flow(target, 0.0)
        step = 0.05
        previous = 0.0
        load = step
        while load <= high + 1e-9:
            if self.return_temperature(target, load) >= limit:
                low, up = previous, load
                for _ in range(40):
                    middle = (low + up) / 2.0
                    if self.return_temperature(target, middle) < limit:
                        low = middle
                    else:
                        up = middle
                return self.flow(target, low)
            previous = load
            load += step
        return None
