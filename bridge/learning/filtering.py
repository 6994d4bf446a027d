"""The Kalman filter on the model's state, and the score of its own forecasts.

The learner tracks the model's state (room, mass, emitter) at the centres
of its sample periods with a Kalman filter (:class:`StateFilter`), restarted
on every new chain, and keeps score of the 1-hour and 3-hour forecasts made
from the filtered state with the inputs that then came.

Pure code: no I/O, no clock.
"""

from __future__ import annotations

from collections import deque
import math
from typing import TYPE_CHECKING

from bridge.learning.binning import Bin, Center, chained, uses_solar

if TYPE_CHECKING:
    from bridge.learning.model import Matrix, ThermalModel

_KF_Q = (0.03, 0.01, 50.0)  # process noise per 10 minutes: room K, mass K, emitter W
_KF_R = 0.04  # K, noise of a sample period's mean reading
_SKILL_DAYS = 2.0
_SKILL_MIN = 12  # scored forecasts needed before the score counts
_CARRY_MASS_S = 12 * 3600.0  # after a shorter break the filter keeps its mass estimate


def _mm3(x: Matrix, y: Matrix) -> Matrix:
    return [
        [x[i][0] * y[0][j] + x[i][1] * y[1][j] + x[i][2] * y[2][j] for j in range(3)]
        for i in range(3)
    ]


class StateFilter:
    """The filtered state of the model over a window of sample periods, and its forecast score.

    The window (the learner's) is passed in; each bin keeps its filtered
    state in :attr:`Bin.x`. :attr:`x` is the state at the last tracked bin,
    None when the next bin starts the filter afresh.
    """

    def __init__(self, sample_s: float) -> None:
        self.sample_s = sample_s
        self.x: tuple[float, float, float] | None = None
        self._p: Matrix = []
        self._center: Center | None = None
        self._skill: dict[int, deque[tuple[int, float]]] = {1: deque(), 3: deque()}

    def _center_for(self, model: ThermalModel) -> Center:
        if self._center is None:
            self._center = Center(model, self.sample_s)
        return self._center

    def track(
        self,
        bins: deque[Bin],
        prev: Bin | None,
        new: Bin,
        model: ThermalModel,
        pos: int | None = None,
    ) -> None:
        """Kalman filter step for ``new`` (at ``pos`` in ``bins``, default last) and its score."""
        solar = model.solar_aperture_m2 > 0.0 and uses_solar(bins)
        if self.x is None or prev is None or not chained(prev, new):
            x_post = self._restart(model, prev, new)
        else:
            center = self._center_for(model)
            x = center.step(self.x, prev, new, solar)
            a = center.a
            at = [[a[j][i] for j in range(3)] for i in range(3)]
            p = _mm3(_mm3(a, self._p), at)
            scale = self.sample_s / 600.0
            for i, q in enumerate(_KF_Q):
                p[i][i] += q * q * scale
            s = p[0][0] + _KF_R**2
            gain = (p[0][0] / s, p[1][0] / s, p[2][0] / s)
            err = new.room - x[0]
            x_post = (x[0] + gain[0] * err, x[1] + gain[1] * err, x[2] + gain[2] * err)
            row0 = p[0]
            self._p = [[p[i][j] - gain[i] * row0[j] for j in range(3)] for i in range(3)]
        self.x = new.x = x_post
        n = len(bins) if pos is None else pos + 1
        if bins[-1].index - new.index < _SKILL_DAYS * 86400.0 / self.sample_s:
            self._score(bins, n, solar, model)

    def _restart(
        self, model: ThermalModel, prev: Bin | None, new: Bin
    ) -> tuple[float, float, float]:
        """Start the filter on a new chain.

        The room is measured; the mass, which moves slowly, is carried over
        from a short break and relaxed toward its balance over the gap, the
        emitter output decayed over it (after a long break: mass in
        balance, emitter halfway to the heat input).
        """
        rest = model.mass_at_rest(new.room, new.outside)
        mass, mass_var = rest, 4.0
        emitter = new.heat / 2.0
        if prev is not None:
            gap_s = (new.index - prev.index) * self.sample_s
            if gap_s <= _CARRY_MASS_S:
                keep = math.exp(-gap_s / (model.time_constants_h[1] * 3600.0))
                mass = keep * prev.x[1] + (1.0 - keep) * rest
                mass_var = 0.25 + (1.0 - keep) * 4.0
                emitter = prev.x[2] * math.exp(-gap_s / model.emitter_lag_s)
        spread = new.heat / 2.0 + 300.0
        self._p = [[_KF_R**2, 0.0, 0.0], [0.0, mass_var, 0.0], [0.0, 0.0, spread**2]]
        return (new.room, mass, emitter)

    def _score(self, bins: deque[Bin], n: int, solar: bool, model: ThermalModel) -> None:
        """Compare bin ``n - 1`` with the forecasts made 1 h and 3 h before it."""
        new = bins[n - 1]
        per_hour = round(3600.0 / self.sample_s)
        keep = int(_SKILL_DAYS * 86400.0 / self.sample_s)
        center = self._center_for(model)
        for hours, log in self._skill.items():
            h = hours * per_hour
            if n <= h:
                continue
            origin = bins[n - 1 - h]
            if origin.index != new.index - h or origin.age != new.age - h:
                continue  # not on one chain
            if origin.age < per_hour:
                continue  # the filter has not settled on the new chain yet
            if any(bins[k].stale for k in range(n - 1 - h, n)):
                continue  # a missing input, not the model, would be scored
            x = origin.x
            for k in range(n - h, n):
                x = center.step(x, bins[k - 1], bins[k], solar)
            log.append((new.index, (new.room - x[0]) ** 2))
            while log and log[0][0] <= new.index - keep:
                log.popleft()

    def replay(self, bins: deque[Bin], model: ThermalModel) -> None:
        """Rerun the filter and the score over ``bins`` with ``model``."""
        self._center = None
        for log in self._skill.values():
            log.clear()
        self.x = None
        prev: Bin | None = None
        for i, b in enumerate(list(bins)):
            self.track(bins, prev, b, model, i)
            prev = b

    def skill(self) -> dict[str, float | None]:
        """Root mean square error of the 1 h and 3 h forecasts (last days), K; None until enough."""
        out: dict[str, float | None] = {}
        for hours, log in self._skill.items():
            rms = math.sqrt(sum(e for _, e in log) / len(log)) if len(log) >= _SKILL_MIN else None
            out[f"rmse_{hours}h"] = rms
        return out
