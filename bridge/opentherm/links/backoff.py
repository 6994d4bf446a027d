"""The links' reconnect policy: exponential backoff with jitter.

Every link that reconnects on its own (OpenTherm Gateway, Modbus gateways and
relays) waits by the same rule, so that a house full of gateways that lost the
network together does not knock on it again in step.
"""

from __future__ import annotations

import random


def backoff_delay(failures: int, *, initial: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after ``failures`` failed attempts in a row (0 = the first).

    Exponential (``initial * 2**failures``, at most ``cap``) with "equal
    jitter": a uniformly random delay between half and all of that.
    """
    base = min(cap, initial * 2.0 ** min(failures, 32))
    return base / 2 + rng.uniform(0, base / 2)


class Backoff:
    """The delays of one run of failed attempts, by :func:`backoff_delay`."""

    def __init__(self, initial: float, cap: float, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.cap = cap
        self._rng = rng or random.Random()
        self._failures = 0

    def reset(self) -> None:
        """Start a new run (after a success): the next delay is the shortest again."""
        self._failures = 0

    def next_delay(self) -> float:
        """The delay after one more failed attempt."""
        delay = backoff_delay(self._failures, initial=self.initial, cap=self.cap, rng=self._rng)
        self._failures += 1
        return delay
