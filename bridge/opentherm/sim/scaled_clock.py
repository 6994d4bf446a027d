"""A clock that runs a given number of times faster than another."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge.core.clock import Clock


class ScaledClock:
    """``speed`` seconds of this clock pass per second of ``base``.

    For a sped-up demo (``--sim-speed X``): give the daemon and the simulated
    world the same ``ScaledClock(SystemClock(), X)`` so the thermostat's
    schedule and the house's physics run at the same pace. ``time()`` starts
    at ``start`` (default: the base clock's time now).
    """

    def __init__(self, base: Clock, speed: float, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.base = base
        self.speed = speed
        self._mono0 = base.monotonic()
        self._start = base.time() if start is None else start

    def time(self) -> float:
        return self._start + self.monotonic()

    def monotonic(self) -> float:
        return (self.base.monotonic() - self._mono0) * self.speed

    async def sleep(self, seconds: float) -> None:
        await self.base.sleep(max(0.0, seconds) / self.speed)
