"""An hourly outside-temperature forecast, for the warm-up plan.

Where the owner's Home Assistant pushes the forecast of a weather entity, or
the cloud's weather for the stored city is used with consent, the warm-up
plan (the optimal start) takes the coming hours' outside temperature from it
instead of holding the last measured one. :class:`OutsideForecast` is that
forecast: validated points, linear in between.

Pure code: no I/O, no clock.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
import itertools
import math

#: Most points a forecast may have (ten days, hourly).
MAX_POINTS = 240
#: Plausible outside temperatures, °C.
PLAUSIBLE_C = (-60.0, 60.0)
#: A forecast is used only while its first point is at most this old and its last is ahead, s.
MAX_AGE_S = 3 * 3600.0


@dataclass(frozen=True, slots=True)
class OutsideForecast:
    """Outside temperature (°C) at given Unix times, linear in between."""

    ts: tuple[float, ...]
    outside_c: tuple[float, ...]

    @classmethod
    def of(cls, points: Sequence[tuple[float, float]]) -> OutsideForecast:
        """From ``(ts, outside_c)`` points; ValueError says what is wrong with them."""
        if not 2 <= len(points) <= MAX_POINTS:
            raise ValueError(f"a forecast has 2 to {MAX_POINTS} points, not {len(points)}")
        ts = tuple(float(t) for t, _ in points)
        values = tuple(float(v) for _, v in points)
        if not all(math.isfinite(t) for t in ts) or any(b <= a for a, b in itertools.pairwise(ts)):
            raise ValueError("a forecast's times must be finite and rising")
        lo, hi = PLAUSIBLE_C
        for t, v in zip(ts, values, strict=True):
            if not (math.isfinite(v) and lo <= v <= hi):
                raise ValueError(f"outside temperature {v:g} °C at {t:g} is not plausible")
        return cls(ts, values)

    def at(self, ts: float) -> float:
        """The forecast at ``ts`` (held flat past either end)."""
        i = bisect.bisect_right(self.ts, ts)
        if i == 0:
            return self.outside_c[0]
        if i == len(self.ts):
            return self.outside_c[-1]
        t0, t1 = self.ts[i - 1], self.ts[i]
        v0, v1 = self.outside_c[i - 1], self.outside_c[i]
        return v0 + (v1 - v0) * (ts - t0) / (t1 - t0)

    def series(self, now: float) -> Callable[[float], float] | None:
        """The forecast as a function of time for planning at ``now``; None when it is stale."""
        if self.ts[0] > now + MAX_AGE_S or self.ts[0] < now - MAX_AGE_S or self.ts[-1] <= now:
            return None
        return self.at


__all__ = ["MAX_POINTS", "OutsideForecast"]
