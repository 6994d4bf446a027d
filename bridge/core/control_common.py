"""What both controllers share: input plausibility, step timing, a minimum
on/off output and the room's trend.

Controllers take ``now`` as monotonic seconds from the injected clock and
never read the wall clock; min on/off times count from the output's
creation, so a fresh controller may switch at once.
"""

from __future__ import annotations

from collections import deque
import math

__all__ = [
    "MAX_STEP",
    "OUTSIDE_PLAUSIBLE",
    "ROOM_PLAUSIBLE",
    "MinOnOff",
    "Trend",
    "approaching",
    "check_now",
    "clamp",
    "finite",
]

#: Room readings outside this range (°C) are taken for a broken sensor.
ROOM_PLAUSIBLE = (-30.0, 50.0)
#: Outside readings outside this range (°C) are taken for a broken sensor.
OUTSIDE_PLAUSIBLE = (-50.0, 50.0)
#: A longer gap between two steps counts as this long (s), so a stalled loop
#: does not wind the integrator up in one step.
MAX_STEP = 600.0


def clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


class MinOnOff:
    """On/off output that keeps minimum on and off times."""

    def __init__(self, min_on: float, min_off: float) -> None:
        self.min_on = min_on
        self.min_off = min_off
        self.on = False
        self.last_switch: float | None = None

    def may_switch(self, now: float) -> bool:
        if self.last_switch is None:
            return True
        held = self.min_on if self.on else self.min_off
        return now - self.last_switch >= held

    def apply(self, now: float, want: bool) -> bool:
        if want != self.on and self.may_switch(now):
            self.on = want
            self.last_switch = now
        return self.on


class Trend:
    """The rate of change of a reading over a sliding window (per second)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._samples: deque[tuple[float, float]] = deque()

    def add(self, now: float, value: float) -> None:
        if self._samples and now <= self._samples[-1][0]:
            return
        self._samples.append((now, value))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window:
            self._samples.popleft()

    def rate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, v0), (t1, v1) = self._samples[0], self._samples[-1]
        if t1 - t0 < self.window / 2.0 or t1 - t0 > 3.0 * self.window:
            return None
        return (v1 - v0) / (t1 - t0)


def approaching(trend: Trend, error: float, approach_time: float, min_rate: float) -> bool:
    """Whether the room moves toward the target fast enough to get there within
    ``approach_time`` s (the integrator then waits: no warm-up windup)."""
    rate = trend.rate()
    if rate is None or abs(rate) * 3600.0 < min_rate or rate * error <= 0:
        return False
    return abs(rate) * approach_time >= abs(error)


def check_now(now: float) -> float:
    if not math.isfinite(now):
        raise ValueError("now must be a finite monotonic time")
    return float(now)
