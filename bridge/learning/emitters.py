"""The emitters (radiators or floor) as the boiler's water sees them, learned online.

:class:`EmitterEstimator` fits, from the boiler's flow, return and heat while
the CH pump runs, how much heat the emitters give at a water temperature and
how much the water loop carries per kelvin of flow-return spread; the
:class:`EmitterFit` turns that into the heating curve that delivers a
design load.

Pure code: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.core.curve import HeatingCurve


class _Regression:
    """Least squares of ``y = a x1 + b x2`` (a > 0, b >= 0) with exponential forgetting."""

    __slots__ = ("n", "s1y", "s2y", "s11", "s12", "s22")

    def __init__(self) -> None:
        self.n = 0.0
        self.s11 = self.s12 = self.s22 = self.s1y = self.s2y = 0.0

    def add(self, x1: float, x2: float, y: float, keep: float) -> None:
        self.n = self.n * keep + 1.0
        self.s11 = self.s11 * keep + x1 * x1
        self.s12 = self.s12 * keep + x1 * x2
        self.s22 = self.s22 * keep + x2 * x2
        self.s1y = self.s1y * keep + x1 * y
        self.s2y = self.s2y * keep + x2 * y

    def solve(self) -> tuple[float, float] | None:
        det = self.s11 * self.s22 - self.s12 * self.s12
        if self.s11 <= 0.0:
            return None
        if det > 1e-9 * self.s11 * max(self.s22, 1e-12):
            a = (self.s1y * self.s22 - self.s2y * self.s12) / det
            b = (self.s2y * self.s11 - self.s1y * self.s12) / det
            if a > 0.0 and b >= 0.0:
                return a, b
        a = self.s1y / self.s11
        return (a, 0.0) if a > 0.0 else None

    def to_list(self) -> list[float]:
        return [self.n, self.s11, self.s12, self.s22, self.s1y, self.s2y]

    @classmethod
    def from_list(cls, data: object) -> _Regression:
        out = cls()
        if (
            isinstance(data, list)
            and len(data) == 6
            and all(isinstance(v, int | float) for v in data)
        ):
            values = [float(v) for v in data]
            if all(math.isfinite(v) for v in values):
                out.n, out.s11, out.s12, out.s22, out.s1y, out.s2y = values
        return out


@dataclass(frozen=True, slots=True)
class EmitterFit:
    """The emitters as the boiler's water sees them.

    Heat out ``= coefficient * (mean water - room) ** exponent`` W, with the
    mean water temperature the average of flow and return; ``loop_w_per_k``
    is the water flow's heat capacity rate (heat over flow-return spread).
    """

    coefficient: float
    exponent: float
    loop_w_per_k: float
    samples: int

    def curve(
        self, design_load_w: float, gains_k: float, base: HeatingCurve
    ) -> HeatingCurve | None:
        """The heating curve that delivers ``design_load_w`` at ``base``'s design point."""
        excess = (design_load_w / self.coefficient) ** (1.0 / self.exponent)
        spread = design_load_w / self.loop_w_per_k
        mean = base.design_room + excess
        spread = min(spread, 1.6 * excess)  # keeps the return above the room
        flow, ret = mean + spread / 2.0, mean - spread / 2.0
        if not (math.isfinite(flow) and base.design_room + 1.0 < ret < flow <= 100.0):
            return None
        return replace(
            base,
            design_flow=round(flow, 2),
            design_return=round(ret, 2),
            exponent=self.exponent,
            gains_k=round(gains_k, 2),
        )


class EmitterEstimator:
    """Learns the emitters from flow, return and heat while the CH pump runs.

    Between two readings (at most :attr:`MAX_SPACING_S` apart) with the pump
    running and no hot water, the heat the boiler gave is split into what
    the emitters gave the room and what warmed the water and emitters::

        Q = k * (Tw - room) ** n + C * dTw/dt       (Tw the mean water temperature)
        Q = G * (flow - return) + C2 * dflow/dt     (G the loop's W/K)

    both fitted by least squares with a forgetting of about a week. ``n`` is
    the emitter exponent of the configured heating curve (1.3 radiators,
    1.1 underfloor).
    """

    MAX_SPACING_S = 150.0
    MIN_SAMPLES = 120
    KEEP = 0.5 ** (1.0 / 5000.0)  # half weight after ~3.5 days of pump-running minutes

    def __init__(self, exponent: float = 1.3) -> None:
        self.exponent = exponent
        self._emit = _Regression()
        self._loop = _Regression()
        self._last: tuple[float, float, float, float, float] | None = None

    def observe(
        self,
        ts: float,
        *,
        room: float | None,
        flow: float | None,
        ret: float | None,
        heat_w: float | None,
        pump: bool,
    ) -> None:
        """One reading; ``pump`` True when the CH pump circulates (and no hot water is made)."""
        if (
            not pump
            or room is None
            or flow is None
            or ret is None
            or heat_w is None
            or not all(math.isfinite(v) for v in (room, flow, ret, heat_w))
        ):
            self._last = None
            return
        if not (0.0 <= ret <= 100.0 and 0.0 <= flow <= 100.0 and -5.0 <= room <= 40.0):
            self._last = None
            return
        last = self._last
        self._last = (ts, room, flow, ret, heat_w)
        if last is None or not 0.0 < ts - last[0] <= self.MAX_SPACING_S:
            return
        t0, room0, flow0, ret0, heat0 = last
        dt = ts - t0
        tw0, tw1 = (flow0 + ret0) / 2.0, (flow + ret) / 2.0
        excess = (tw0 + tw1) / 2.0 - (room0 + room) / 2.0
        if excess >= 2.0:
            self._emit.add(excess**self.exponent, (tw1 - tw0) / dt, heat0, self.KEEP)
        spread = (flow0 - ret0 + flow - ret) / 2.0
        if spread >= 1.0:
            self._loop.add(spread, (flow - flow0) / dt, heat0, self.KEEP)

    def fit(self) -> EmitterFit | None:
        """The emitters, once enough pump-running readings were seen; None before."""
        if self._emit.n < self.MIN_SAMPLES or self._loop.n < self.MIN_SAMPLES:
            return None
        emit, loop = self._emit.solve(), self._loop.solve()
        if emit is None or loop is None:
            return None
        k, g = emit[0], loop[0]
        if not (1.0 <= k <= 1e5 and 50.0 <= g <= 1e5):
            return None
        return EmitterFit(k, self.exponent, g, round(min(self._emit.n, self._loop.n)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "exponent": self.exponent,
            "emit": self._emit.to_list(),
            "loop": self._loop.to_list(),
        }

    @classmethod
    def from_dict(cls, data: object, exponent: float = 1.3) -> EmitterEstimator:
        """The estimator stored by :meth:`to_dict`; a fresh one for anything else or another exponent."""
        out = cls(exponent)
        if isinstance(data, dict) and data.get("exponent") == exponent:
            out._emit = _Regression.from_list(data.get("emit"))
            out._loop = _Regression.from_list(data.get("loop"))
        return out


__all__ = ["EmitterEstimator", "EmitterFit"]
