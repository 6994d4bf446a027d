"""Slow down repeated failures (wrong pairing codes, logins) from one address."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge.core.clock import Clock


class FailureLimiter:
    """Allows ``max_failures`` failures per address in ``window`` seconds.

    After that the address is refused (HTTP 429) until its oldest failure
    leaves the window. Success does not reset the count, so guessing cannot
    be interleaved with one known-good attempt.

    A handler calls :meth:`reserve` before it awaits the check of a secret:
    the attempt counts as a failure from then on, and :meth:`succeeded` takes
    it back. So concurrent attempts from one address are limited exactly as
    sequential ones: the sixth of fifty simultaneous guesses is already
    refused, whereas counting after the await would let all fifty through.
    """

    def __init__(self, clock: Clock, *, max_failures: int = 5, window: float = 60.0) -> None:
        self._clock = clock
        self._max = max_failures
        self._window = window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str) -> deque[float]:
        now = self._clock.monotonic()
        q = self._failures.setdefault(address, deque())
        while q and q[0] <= now - self._window:
            q.popleft()
        if not q:
            del self._failures[address]
            return deque()
        return q

    def blocked(self, address: str) -> float:
        """Seconds until ``address`` may try again (0 if it may now)."""
        q = self._recent(address)
        if len(q) < self._max:
            return 0.0
        return max(0.0, q[0] + self._window - self._clock.monotonic())

    def reserve(self, address: str) -> float:
        """Count an attempt of ``address`` as a failure now, before any await.

        Returns 0 when the attempt may go on, else the seconds to wait (and
        nothing is counted). Call :meth:`succeeded` if the attempt succeeds.
        """
        wait = self.blocked(address)
        if wait == 0:
            self._failures.setdefault(address, deque()).append(self._clock.monotonic())
        return wait

    def succeeded(self, address: str) -> None:
        """Take back the newest attempt :meth:`reserve` counted for ``address``."""
        q = self._failures.get(address)
        if q:
            q.pop()
            if not q:
                del self._failures[address]


class RequestLimiter:
    """Allows ``burst`` requests per address at once and ``rate`` per second after that.

    A token bucket per address; addresses that have been quiet long enough to
    refill are forgotten, so a flood of addresses cannot grow memory beyond
    what one refill period holds.
    """

    def __init__(self, clock: Clock, *, rate: float, burst: int) -> None:
        self._clock = clock
        self._rate = rate
        self._burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, address: str) -> bool:
        """Take one request from ``address``'s bucket; False when it is empty."""
        now = self._clock.monotonic()
        tokens, last = self._buckets.get(address, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if len(self._buckets) > 4096:
            self._forget_full(now)
        if tokens < 1.0:
            self._buckets[address] = (tokens, now)
            return False
        self._buckets[address] = (tokens - 1.0, now)
        return True

    def _forget_full(self, now: float) -> None:
        refill = self._burst / self._rate
        self._buckets = {
            a: (t, last) for a, (t, last) in self._buckets.items() if now - last < refill
        }
