"""Better PID parameters for a wall unit, found on the learned house.

The unit drives the boiler with its own PID (:mod:`bridge.unit.pid`); the
factory parameters suit no house in particular. With the house the bridge
has learned (:class:`~bridge.learning.model.ThermalModel`: room air, mass,
emitter lag) and its emitters (:class:`~bridge.learning.emitters.EmitterFit`:
heat at a water temperature), :func:`loop_figures` runs the unit's PID on the
learned house through one day at a given outside temperature: from rest at
the target, a night of :data:`NIGHT_H` hours :data:`SETBACK_K` below it (the
house cools, the PID's integral winds down), then the target for
:data:`HOURS` hours, with the room read in the unit's 0.1 °C steps. It reports how far the room overshoots, how
long it takes to come within :data:`BAND_K` of the target, and the mean
distance from the target once it got there.

:func:`propose` runs the unit's parameters and every candidate of
:data:`CANDIDATES` through the days of :data:`OUTSIDE_C`, and proposes the best one only when the learned house
says the unit's own parameters overshoot more than :data:`OVERSHOOT_K` or are
slow (arrive :data:`SLOW_S` later than the best), and the best is clearly
better (:data:`MIN_GAIN` of the score). The score is the integral of the
absolute error over the day plus a penalty on overshoot.

The boiler in this model gives the heat the emitters take at the flow the
PID asks for (the water's spread from the learned loop), at most
``max_heat_w``, and none while the PID does not ask for heat; the emitter
lag of the learned model carries the water's warming. Pure code: no I/O, no
clock.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import TYPE_CHECKING, Final

from bridge.core.unit import PID_REASONS
from bridge.unit.pid import PidLoop
from bridge.unit.protocol import Pid

if TYPE_CHECKING:
    from bridge.learning.emitters import EmitterFit
    from bridge.learning.model import ThermalModel

__all__ = [
    "BAND_K",
    "CANDIDATES",
    "HOURS",
    "MIN_GAIN",
    "OUTSIDE_C",
    "OVERSHOOT_K",
    "SETBACK_K",
    "SLOW_S",
    "LoopFigures",
    "PidProposal",
    "Plant",
    "loop_figures",
    "propose",
    "season_figures",
]

#: The day the parameters are judged on: a night this far below the target…
SETBACK_K: Final = 3.0
NIGHT_H: Final = 8.0
#: …and then the target for the rest of the day (h).
HOURS: Final = 16.0
#: The room counts as arrived within this distance of the target (K).
BAND_K: Final = 0.2
#: Overshoot above this (K) is a reason to propose other parameters…
OVERSHOOT_K: Final = 0.2
#: …and so is arriving this much later (s) than the best candidate.
SLOW_S: Final = 1800.0
#: A proposal must lower the score by at least this share.
MIN_GAIN: Final = 0.2
#: Score weight of overshoot: each kelvin counts as this many K·h of error.
OVERSHOOT_WEIGHT_H: Final = 4.0
#: The outside temperatures (°C) of the days :func:`propose` judges on: a cold, a
#: usual and a mild day of the heating season.
OUTSIDE_C: Final = (0.0, 5.0, 10.0)
#: The step of the simulated day (s): twice the unit's own control step.
STEP_S: Final = 20.0
#: The unit's sensor resolution (K): the PID sees the room in these steps.
SENSOR_STEP_K: Final = 0.1
_OVERSHOOT, _SLOW = PID_REASONS
#: What :func:`propose` tries: ``kp`` (°C of flow per K), ``ti`` and ``td`` (s).
CANDIDATES: Final[tuple[Pid, ...]] = tuple(
    Pid(kp, ti, td)
    for kp in (5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 40.0, 60.0)
    for ti in (1800.0, 2700.0, 3600.0, 5400.0, 7200.0)
    for td in (0.0,)
)


@dataclass(frozen=True, slots=True)
class Plant:
    """The learned house, its emitters and the boiler's limits."""

    model: ThermalModel
    emitters: EmitterFit
    max_heat_w: float
    max_flow_c: float

    def heat_w(self, flow_c: float, room_c: float) -> float:
        """The heat (W) the emitters take with the water at ``flow_c`` (0 for no flow),
        at most :attr:`max_heat_w`.

        Solves ``Q = k * (flow - Q / (2 G) - room) ** n`` (the mean water the
        flow less half the loop's spread) by bisection: the right side falls
        as ``Q`` grows, so there is one root between 0 and the heat at the
        flow itself.
        """
        excess = flow_c - room_c
        if flow_c <= 0.0 or excess <= 0.0:
            return 0.0
        k, n, loop = self.emitters.coefficient, self.emitters.exponent, self.emitters.loop_w_per_k
        low, high = 0.0, min(k * excess**n, 2.0 * loop * excess)
        for _ in range(30):
            mid = (low + high) / 2.0
            mean_excess = excess - mid / (2.0 * loop)
            if mean_excess > 0.0 and k * mean_excess**n > mid:
                low = mid
            else:
                high = mid
        return min(self.max_heat_w, low)

    def flow_for(self, heat_w: float, room_c: float) -> float:
        """The flow temperature (°C) at which the emitters take ``heat_w`` (the inverse of
        :meth:`heat_w` below the boiler's limit)."""
        if heat_w <= 0.0:
            return room_c
        k, n, loop = self.emitters.coefficient, self.emitters.exponent, self.emitters.loop_w_per_k
        excess: float = (heat_w / k) ** (1.0 / n)
        return room_c + excess + heat_w / (2.0 * loop)


@dataclass(frozen=True, slots=True)
class LoopFigures:
    """How a PID does through the day on the learned house."""

    overshoot_k: float
    """Highest room temperature above the target (K; 0 when it never passed it)."""
    rise_s: float | None
    """Seconds until the room came within :data:`BAND_K` of the target (None: never)."""
    settled_error_k: float
    """Mean distance from the target after that (K; the whole day's when never)."""
    score: float
    """∫|error| dt in K·h plus :data:`OVERSHOOT_WEIGHT_H` per kelvin of overshoot."""


@dataclass(frozen=True, slots=True)
class PidProposal:
    """Parameters better than the unit's own on the learned house, and why."""

    pid: Pid
    current: LoopFigures
    """The unit's own parameters through the day."""
    proposed: LoopFigures
    """The proposal's through the same day."""
    reasons: tuple[str, ...]
    """What is wrong with the unit's own parameters (of :data:`~bridge.core.unit.PID_REASONS`)."""


def loop_figures(plant: Plant, pid: Pid, *, target_c: float, outside_c: float) -> LoopFigures:
    """Run ``pid`` through the day (see the module notes) on ``plant``."""
    model = plant.model
    # at rest at the target: the heat that holds it, the mass in balance with it, and
    # the unit's integral giving the flow that holds it
    hold = max(0.0, model.heat_to_hold_w(target_c, outside_c))
    _, mass, emitter = model.steady_state(hold, outside_c)
    state = (target_c, mass, emitter)
    step = model.discretize(STEP_S)
    loop = PidLoop(pid, plant.max_flow_c)
    if pid.ti > 0 and pid.kp > 0:
        flow = min(plant.max_flow_c, plant.flow_for(hold, target_c))
        loop.integral = max(0.0, flow - target_c) * pid.ti / pid.kp

    def advance(target: float) -> tuple[float, float, float]:
        reading = round(state[0] / SENSOR_STEP_K) * SENSOR_STEP_K
        flow = loop.step(target, reading, STEP_S)
        heat = plant.heat_w(flow, state[0]) if loop.heating else 0.0
        return step.step(state, heat, outside_c)

    for _ in range(round(NIGHT_H * 3600.0 / STEP_S)):
        state = advance(target_c - SETBACK_K)
    overshoot = 0.0
    rise: float | None = None
    total = settled = 0.0
    settled_steps = 0
    for i in range(round(HOURS * 3600.0 / STEP_S)):
        state = advance(target_c)
        error = abs(target_c - state[0])
        total += error * STEP_S / 3600.0
        overshoot = max(overshoot, state[0] - target_c)
        if rise is None and error <= BAND_K:
            rise = (i + 1) * STEP_S
        if rise is not None:
            settled += error
            settled_steps += 1
    mean = settled / settled_steps if settled_steps else total / HOURS
    return LoopFigures(
        overshoot_k=round(overshoot, 3),
        rise_s=rise,
        settled_error_k=round(mean, 3),
        score=round(total + OVERSHOOT_WEIGHT_H * overshoot, 4),
    )


def season_figures(plant: Plant, pid: Pid, *, target_c: float) -> LoopFigures:
    """:func:`loop_figures` averaged over the days of :data:`OUTSIDE_C` (a rise of None
    when the room does not arrive on one of them)."""
    days = [loop_figures(plant, pid, target_c=target_c, outside_c=out) for out in OUTSIDE_C]
    rises = [d.rise_s for d in days]
    n = len(days)
    return LoopFigures(
        overshoot_k=round(sum(d.overshoot_k for d in days) / n, 3),
        rise_s=None if None in rises else sum(r for r in rises if r is not None) / n,
        settled_error_k=round(sum(d.settled_error_k for d in days) / n, 3),
        score=round(sum(d.score for d in days) / n, 4),
    )


def propose(plant: Plant, current: Pid, *, target_c: float) -> PidProposal | None:
    """Better parameters than ``current`` on ``plant``, or None (see the module notes)."""
    if not math.isfinite(target_c):
        raise ValueError("the target must be finite")
    own = season_figures(plant, current, target_c=target_c)
    best: tuple[Pid, LoopFigures] | None = None
    for candidate in CANDIDATES:
        figures = season_figures(plant, candidate, target_c=target_c)
        if best is None or figures.score < best[1].score:
            best = (candidate, figures)
    assert best is not None
    pid, figures = best
    reasons = []
    if own.overshoot_k > OVERSHOOT_K:
        reasons.append(_OVERSHOOT)
    if figures.rise_s is not None and (own.rise_s is None or own.rise_s - figures.rise_s > SLOW_S):
        reasons.append(_SLOW)
    if not reasons or figures.score > (1.0 - MIN_GAIN) * own.score or pid == current:
        return None
    return PidProposal(pid, own, figures, tuple(reasons))
