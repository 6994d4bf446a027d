"""Time, injected.

Nothing in the bridge reads the wall clock directly: the daemon uses
:class:`SystemClock`, the simulator, tests and benchmarks use
:class:`VirtualClock`, whose time moves only when it is advanced.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    """A source of time for the bridge."""

    def time(self) -> float:
        """Seconds since the Unix epoch (UTC)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""


async def sleep_or_wake(clock: Clock, wake: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds`` of ``clock``'s time, or until ``wake`` is set, whichever is first
    (``wake`` is left as it is: the caller clears it when it has looked)."""
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    waker = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeper, waker):
            task.cancel()
        await asyncio.gather(sleeper, waker, return_exceptions=True)


def utc_from_ts(ts: float) -> datetime:
    """A timezone-aware UTC datetime for a Unix timestamp."""
    return datetime.fromtimestamp(ts, tz=UTC)


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class VirtualClock:
    """A clock that moves only when advanced.

    ``sleep`` parks the caller until :meth:`advance` (or :meth:`run_until`)
    moves the clock past its wake-up time, so asyncio code written against
    :class:`Clock` runs unchanged on simulated time.
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01 00:00 UTC
        self._now = float(start)
        self._start_mono = float(start)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now - self._start_mono

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        await fut

    def next_wakeup(self) -> float | None:
        """When the earliest sleeper wakes, or None if nobody sleeps."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    def set(self, when: float) -> None:
        """Move the clock to ``when`` without waking anybody (for pure code)."""
        if when < self._now:
            raise ValueError("a clock never goes backwards")
        self._now = when

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking sleepers in order."""
        await self.run_until(self._now + seconds)

    async def run_until(self, when: float) -> None:
        """Move time forward to ``when``, waking every sleeper due on the way."""
        if when < self._now:
            raise ValueError("a clock never goes backwards")
        while True:
            # let woken tasks run and park again before looking at the queue
            for _ in range(3):
                await asyncio.sleep(0)
            nxt = self.next_wakeup()
            if nxt is None or nxt > when:
                break
            self._now = max(self._now, nxt)
            while self._sleepers and self._sleepers[0][0] <= self._now:
                _, _, fut = heapq.heappop(self._sleepers)
                if not fut.done():
                    fut.set_result(None)
        self._now = when
        for _ in range(3):
            await asyncio.sleep(0)
