"""Hot-water taps of a simulated household: seeded daily events plus taps on demand."""

from __future__ import annotations

import math
import random

DAY_S = 86_400.0


class TapSchedule:
    """When hot water runs, and how fast (l/min).

    Each local day gets, from its own seeded generator: one or two morning
    showers (06:30-08:30, 5-10 min, 7-9 l/min), three to six short kitchen
    and washbasin taps (08:00-22:00, 0.5-2 min, 4-6 l/min) and, every other
    day or so, an evening shower. :meth:`add` adds a tap on demand.
    """

    def __init__(self, seed: int, *, utc_offset_h: float = 1.0, automatic: bool = True) -> None:
        self.seed = seed
        self.automatic = automatic
        self._offset_s = utc_offset_h * 3600.0
        self._days: dict[int, list[tuple[float, float, float]]] = {}
        self._manual: list[tuple[float, float, float]] = []

    def add(self, start: float, duration_s: float, flow_l_min: float) -> None:
        """A tap from ``start`` for ``duration_s`` seconds."""
        if duration_s <= 0 or flow_l_min <= 0:
            raise ValueError("a tap needs a positive duration and flow")
        self._manual.append((start, start + duration_s, flow_l_min))

    def _day(self, day: int) -> list[tuple[float, float, float]]:
        cached = self._days.get(day)
        if cached is not None:
            return cached
        rng = random.Random(f"thermosmart-dhw:{self.seed}:{day}")
        base = day * DAY_S - self._offset_s  # local midnight, as Unix time
        taps: list[tuple[float, float, float]] = []
        t = base + rng.uniform(6.5, 7.5) * 3600.0
        for _ in range(rng.choice((1, 2, 2))):
            dur = rng.uniform(5.0, 10.0) * 60.0
            taps.append((t, t + dur, rng.uniform(7.0, 9.0)))
            t += dur + rng.uniform(2.0, 20.0) * 60.0
        for _ in range(rng.randint(3, 6)):
            start = base + rng.uniform(8.0, 22.0) * 3600.0
            taps.append((start, start + rng.uniform(30.0, 120.0), rng.uniform(4.0, 6.0)))
        if rng.random() < 0.5:
            start = base + rng.uniform(20.0, 22.5) * 3600.0
            taps.append((start, start + rng.uniform(5.0, 9.0) * 60.0, rng.uniform(7.0, 9.0)))
        taps.sort()
        self._days[day] = taps
        if len(self._days) > 8:
            del self._days[min(self._days)]
        return taps

    def flow_at(self, ts: float) -> float:
        """The hot-water flow at ``ts``, l/min (overlapping taps add up)."""
        flow = 0.0
        if self.automatic:
            day = math.floor((ts + self._offset_s) / DAY_S)
            for start, end, f in self._day(day):
                if start > ts:
                    break
                if ts < end:
                    flow += f
        if self._manual:
            self._manual = [tap for tap in self._manual if tap[1] > ts]
            for start, end, f in self._manual:
                if start <= ts < end:
                    flow += f
        return flow
