"""The thermostat's heating rules on top of the schedule: warm-ups and the boiler step.

:class:`PlanContext` is what the schedule says now (before any warm-up), for
planning and forecasts; a :class:`Preheat` is a warm-up in progress, during
which the next home or comfort period's target holds from its planned start.

:class:`ThermostatControl` is the control path the daemon runs each step and
the control benchmark drives directly against the simulator: the warm-up the
learning asks for (the target becomes the next period's from the planned
start), the boiler control tuned by what was learned (heating curve from the
learned heat-loss coefficient, gains and emitters; the low-load threshold
from the boiler's minimum output over the learned design load), then the
:class:`~bridge.core.control.BoilerController` (OpenTherm) or
:class:`~bridge.core.relay.RelayController` (on/off) on the resulting
target. The learning is reached only through the :class:`Learned` protocol.

Pure code: no I/O, no wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from bridge.core import state as core
from bridge.core.boiler_config import BoilerBounds, BoilerCommand, BoilerControlConfig
from bridge.core.control import BoilerController
from bridge.core.relay import RelayCommand, RelayController

#: Programs whose periods the thermostat heats up for in advance.
PREHEAT_PROGRAMS = frozenset({"home", "comfort"})
#: Schedule sources under which the thermostat may heat up early (not manual, remote or pause).
PREHEAT_SOURCES = frozenset({"schedule", "exception"})
#: A room this far above its target floats down to it (no heating): setbacks save gas.
FLOAT_BAND_K = 0.5
#: A warm-up at full power lasts until the room reads this close to its target (K): what the
#: optimal start plans on, so the plan and the control hand over at the same point. The
#: holding control closes the rest slowly while the building's mass is still cold, so the
#: sensor's resolution (0.1 °C) and no wider: at 0.2 K a heavy house sat 0.3 K short for
#: an hour after its warm-ups.
BOOST_BAND_K = 0.1


@dataclass(frozen=True, slots=True)
class PlanContext:
    """What the schedule says now (before any preheat), for planning and forecasts.

    ``state`` is the thermostat's state (immutable), from which the target at
    later times is resolved for the forecast; without it the target is held.
    """

    now: float
    target: float
    source: str
    program: str | None
    next_start: float
    next_program: str
    next_target: float
    state: core.ThermostatState | None = None

    @classmethod
    def of(
        cls, state: core.ThermostatState | None, res: core.Resolution, now: float
    ) -> PlanContext:
        """From a resolution (``core.resolve``) of ``state`` at ``now``."""
        return cls(
            now=now,
            target=res.target,
            source=str(res.source),
            program=res.program,
            next_start=res.next_start.timestamp(),
            next_program=res.next_program,
            next_target=res.next_target,
            state=state,
        )

    @property
    def key(self) -> tuple[float, str, float, float]:
        """What a plan depends on: the target, its source and the next period."""
        return (self.target, self.source, self.next_start, self.next_target)

    @property
    def warmup_ahead(self) -> bool:
        """True when the next period is a warmer home or comfort period worth heating up for."""
        return (
            self.source in PREHEAT_SOURCES
            and self.next_program in PREHEAT_PROGRAMS
            and self.next_target > self.target + 0.05
        )

    def targets(self) -> Callable[[float], float]:
        """The schedule's target (no preheat) as a function of time, resolving once per block."""
        state = self.state
        cache: list[tuple[float, float, float]] = [(self.now, self.next_start, self.target)]

        def at(ts: float) -> float:
            for begin, end, value in cache:
                if begin <= ts < end:
                    return value
            if state is None:
                return self.target
            res = core.resolve(state, datetime.fromtimestamp(ts, tz=UTC))
            end = res.next_start.timestamp()
            cache.append((ts, end, res.target))
            return res.target

        return at


@dataclass(frozen=True, slots=True)
class Preheat:
    """A warm-up in progress: from ``start_ts`` the target is ``target`` (``program``'s)."""

    start_ts: float
    period_ts: float
    target: float
    program: str


class Learned(Protocol):
    """What the control path asks of the learning (the learning service provides it)."""

    def preheat(self, ctx: PlanContext) -> Preheat | None:
        """The warm-up to run now, if any."""
        ...

    def boiler_config(
        self,
        base: BoilerControlConfig,
        *,
        max_kw: float | None = ...,
        min_modulation_pct: float | None = ...,
        target: float | None = ...,
    ) -> BoilerControlConfig:
        """``base`` tuned with what was learned."""
        ...


class ThermostatControl:
    """One control step with what was learned: the path the daemon and the benchmark share.

    Given the schedule's resolution (without preheat) it starts a warm-up
    when the plan says so, tunes the boiler controller from the learned
    model and boiler size, and runs the :class:`BoilerController` (OpenTherm)
    or :class:`RelayController` (on/off) on the resulting target. A room
    more than :data:`FLOAT_BAND_K` above its target floats, and one that
    falls half a kelvin below it warms up at full power until it reads
    :data:`BOOST_BAND_K` below it: the optimal start plans on both.
    """

    def __init__(
        self,
        learning: Learned,
        *,
        boiler: BoilerControlConfig | None = None,
        relay: RelayController | None = None,
    ) -> None:
        self.learning = learning
        self.base_config = BoilerControlConfig()
        self.set_base(boiler if boiler is not None else BoilerControlConfig())
        self.boiler = BoilerController(self.base_config)
        self.relay = relay if relay is not None else RelayController()

    def set_base(self, boiler: BoilerControlConfig) -> None:
        """Control on ``boiler``'s defaults from the next step (the loop's state is kept)."""
        if boiler.float_band is None:
            boiler = replace(boiler, float_band=FLOAT_BAND_K)
        if boiler.boost_band is None:
            boiler = replace(boiler, boost_band=BOOST_BAND_K)
        self.base_config = boiler

    def target(self, ctx: PlanContext) -> tuple[float, Preheat | None]:
        """The target to control on now, and the warm-up in progress."""
        preheat = self.learning.preheat(ctx)
        return (ctx.target if preheat is None else preheat.target), preheat

    def boiler_step(
        self,
        mono: float,
        ctx: PlanContext,
        *,
        room: float | None,
        outside: float | None,
        bounds: BoilerBounds | None = None,
        max_kw: float | None = None,
        min_modulation_pct: float | None = None,
        dhw_enable: bool = True,
        dhw_setpoint: float | None = None,
    ) -> BoilerCommand:
        """The OpenTherm command for now (``mono``: the clock's monotonic seconds).

        ``dhw_enable`` and ``dhw_setpoint`` (None: leave the boiler's) are the owner's.
        """
        target, _ = self.target(ctx)
        self.boiler.config = self.learning.boiler_config(
            self.base_config, max_kw=max_kw, min_modulation_pct=min_modulation_pct, target=target
        )
        return self.boiler.step(
            mono,
            target=target,
            room=room,
            outside=outside,
            bounds=bounds,
            dhw_setpoint=dhw_setpoint,
            dhw_enable=dhw_enable,
        )

    def relay_step(self, mono: float, ctx: PlanContext, *, room: float | None) -> RelayCommand:
        """The relay output for now."""
        target, _ = self.target(ctx)
        return self.relay.step(mono, target=target, room=room)


__all__ = [
    "BOOST_BAND_K",
    "FLOAT_BAND_K",
    "PREHEAT_PROGRAMS",
    "PREHEAT_SOURCES",
    "Learned",
    "PlanContext",
    "Preheat",
    "ThermostatControl",
]
