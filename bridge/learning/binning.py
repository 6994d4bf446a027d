"""Sample periods: measurements averaged over fixed periods, on chains.

The learner averages what it is fed into fixed sample periods (bins, 10
minutes by default): an :class:`Acc` while it fills, a :class:`Bin` once
closed. Bins follow one another on a chain that restarts after every
dropout instead of bridging it (:func:`chained`); the model's state sits at
bin centres and :class:`Center` steps it from one centre to the next. The
:class:`Window` holds the last days of bins and counts the excitation they
hold: free-floating periods (and how far the room fell in them) and heating
starts.

Pure code: no I/O, no clock.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from bridge.learning.model import ThermalModel, matmul

if TYPE_CHECKING:
    from collections.abc import Collection

_FREE_W = 50.0  # heat below this is free-floating
_START_W = 500.0  # a heating start gives at least this much heat...
_START_STEP = 2.0  # ...and this many times the most of any period in the hour before


class Acc:
    """The sample period being filled."""

    __slots__ = (
        "broken",
        "heat_j",
        "heat_s",
        "index",
        "out_n",
        "out_sum",
        "room_n",
        "room_sum",
        "sol_n",
        "sol_sum",
        "unknown_s",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.room_sum = 0.0
        self.room_n = 0
        self.out_sum = 0.0
        self.out_n = 0
        self.sol_sum = 0.0
        self.sol_n = 0
        self.heat_j = 0.0
        self.heat_s = 0.0
        self.unknown_s = 0.0
        self.broken = False


class Bin:
    """One finished sample period: means of room, heat, outside (and sun), and its filter state."""

    __slots__ = (
        "age",
        "clear",
        "fall",
        "free",
        "heat",
        "index",
        "outside",
        "quiet",
        "room",
        "seg",
        "solar",
        "stale",
        "start",
        "x",
    )

    def __init__(
        self,
        index: int,
        *,
        room: float,
        heat: float,
        outside: float,
        solar: float | None,
        stale: bool,
        seg: int,
    ) -> None:
        self.index = index
        self.room = room
        self.heat = heat
        self.outside = outside
        self.solar = solar
        self.stale = stale
        self.seg = seg
        self.x: tuple[float, float, float] = (room, room, heat)
        self.free = False
        self.fall = 0.0
        self.start = False
        self.quiet = 0
        self.clear = 0.0
        self.age = 0


class Center:
    """Transition between the centres of two adjacent sample periods.

    The state sits at bin centres, where a bin's mean reading is a good
    estimate of the room temperature; the step spans the second half of
    one bin (its inputs) and the first half of the next (its inputs):
    ``x' = A x + B1 u_prev + B2 u_next``.
    """

    __slots__ = ("a", "b1", "b2")

    def __init__(self, model: ThermalModel, dt: float) -> None:
        half = model.discretize(dt / 2.0)
        self.a = matmul(half.a, half.a)
        self.b1 = matmul(half.a, half.b)
        self.b2 = half.b

    def step(
        self, x: tuple[float, float, float], prev: Bin, nxt: Bin, solar: bool
    ) -> tuple[float, float, float]:
        """The state at ``nxt``'s centre from ``x`` at ``prev``'s."""
        a, b1, b2 = self.a, self.b1, self.b2
        sp = (prev.solar or 0.0) if solar else 0.0
        sn = (nxt.solar or 0.0) if solar else 0.0
        qp, op, qn, on = prev.heat, prev.outside, nxt.heat, nxt.outside
        x0, x1, x2 = x
        out = [0.0, 0.0, 0.0]
        for i in range(3):
            ai, pi, ri = a[i], b1[i], b2[i]
            out[i] = (
                ai[0] * x0 + ai[1] * x1 + ai[2] * x2
                + pi[0] * qp + pi[1] * op + pi[2] + pi[3] * sp
                + ri[0] * qn + ri[1] * on + ri[2] + ri[3] * sn
            )  # fmt: skip
        return (out[0], out[1], out[2])


def chained(prev: Bin | None, new: Bin) -> bool:
    """True when ``new`` directly follows ``prev`` on the same chain."""
    return prev is not None and prev.index == new.index - 1 and prev.seg == new.seg


def uses_solar(bins: Collection[Bin]) -> bool:
    """True when every bin has a sun input (measured or clear-sky)."""
    return bool(bins) and all(b.solar is not None for b in bins)


class Window:
    """The sliding window of finished sample periods, and the excitation it holds."""

    def __init__(self, sample_s: float) -> None:
        self.sample_s = sample_s
        self.bins: deque[Bin] = deque()
        self._n_usable = 0
        self._n_free = 0
        self._n_starts = 0
        self._fall = 0.0
        self._quiet = 0
        self._hour: deque[float] = deque(maxlen=round(3600.0 / sample_s))
        """The heat of the fresh periods just before, on the chain, up to an hour of them."""

    def append(self, prev: Bin | None, new: Bin) -> None:
        """Add ``new`` to the window and to the excitation counts.

        A heating start is a step up of the heat after an hour on the
        chain: at least :data:`_START_W` and :data:`_START_STEP` times the
        most of any period in that hour. That is heat after a free-floating
        hour, and also a warm-up from a lower heat where the boiler never
        stops (a draughty house that needs heat to hold even the setback).
        """
        linked = chained(prev, new)
        new.age = prev.age + 1 if linked and prev is not None else 0
        if new.stale or not linked or (prev is not None and prev.stale):
            self._quiet = 0
            self._hour.clear()
        if not new.stale:
            self._n_usable += 1
            hour = self._hour
            if (
                new.heat >= _START_W
                and len(hour) == hour.maxlen
                and new.heat >= _START_STEP * max(hour)
            ):
                new.start = True
                self._n_starts += 1
            if new.heat < _FREE_W:
                new.free = True
                self._n_free += 1
                self._quiet += 1
                if prev is not None and linked and not prev.stale:
                    new.fall = max(0.0, prev.room - new.room)
                    self._fall += new.fall
            else:
                new.quiet = self._quiet
                self._quiet = 0
            hour.append(new.heat)
        self.bins.append(new)

    def _forget(self, old: Bin) -> None:
        """Take a bin that left the window out of the counts."""
        if not old.stale:
            self._n_usable -= 1
        self._n_free -= int(old.free)
        self._fall -= old.fall
        self._n_starts -= int(old.start)

    def trim(self, keep: int) -> None:
        """Drop the oldest bins beyond ``keep``."""
        while len(self.bins) > keep:
            self._forget(self.bins.popleft())

    def drop_from(self, first: int) -> None:
        """Drop the bins from period ``first`` on."""
        while self.bins and self.bins[-1].index >= first:
            self._forget(self.bins.pop())

    @property
    def starts(self) -> int:
        """Heating starts (a step up of the heat, see :meth:`append`) in the window's usable data."""
        return self._n_starts

    @property
    def free_fall_k(self) -> float:
        """How far the room fell while free-floating in the window's usable data, K."""
        return max(0.0, self._fall)

    def excitation(self) -> tuple[float, int]:
        """``(free-floating hours, heating starts)`` in the window's usable data."""
        return self._n_free * self.sample_s / 3600.0, self._n_starts

    def usable_hours(self) -> float:
        """Hours of usable (fresh, unbroken) data in the window."""
        return self._n_usable * self.sample_s / 3600.0

    def warmup_profile_w(self) -> tuple[float, ...]:
        """Heat the boiler delivered in the window's warm-ups, per sample period since the start, W.

        From the warm-ups (heating after 20 minutes or more off) that heated
        for a full hour, if there are two or more, else from all of them
        without their last, partly-off period: the median of each of the
        first periods (the boiler fills cold emitters), then the median of
        the rest as a plateau that holds. Empty before any warm-up.
        """
        per_hour = round(3600.0 / self.sample_s)
        bins = list(self.bins)
        runs: list[list[float]] = []
        for i, b in enumerate(bins):
            if b.heat < _START_W or b.quiet < 2:
                continue
            run = [b.heat]
            for nxt in bins[i + 1 : i + per_hour + 1]:
                if nxt.heat < _START_W or nxt.seg != b.seg:
                    break
                run.append(nxt.heat)
            runs.append(run)
        full = [run[:per_hour] for run in runs if len(run) > per_hour]
        chosen = full if len(full) >= 2 else [run[:-1] for run in runs]
        surge = max(1, per_hour // 3)
        profile: list[float] = []
        for k in range(surge):
            values = [run[k] for run in chosen if len(run) > k]
            if len(values) < 2:
                break
            profile.append(_median(values))
        plateau = [v for run in chosen for v in run[surge:]]
        if len(profile) == surge and len(plateau) >= 2:
            profile.append(_median(plateau))
        return tuple(profile)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]
