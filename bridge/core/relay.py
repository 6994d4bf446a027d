"""The relay controller: time-proportional control of an on/off boiler.

A fixed cycle (10 minutes by default), the duty from a PI on the room
error, minimum on and off times. Absurd inputs (NaN, an 85 °C room) fall
back to safe values and say so in the command's ``notes``.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

from bridge.core.control_common import (
    MAX_STEP,
    ROOM_PLAUSIBLE,
    MinOnOff,
    Trend,
    approaching,
    check_now,
    clamp,
    finite,
)
from bridge.core.programs import FROST_MINIMUM, TEMPERATURE_MAX

__all__ = ["RelayCommand", "RelayControlConfig", "RelayController"]


@dataclass(frozen=True, kw_only=True)
class RelayControlConfig:
    """Tuning of :class:`RelayController` (times in seconds).

    ``kp`` is duty per K of room error, ``ti`` the integral time;
    ``failsafe_duty`` is used while the room temperature is unknown.
    """

    cycle: float = 600.0
    min_on: float = 120.0
    min_off: float = 120.0
    kp: float = 0.4
    ti: float = 3600.0
    integral_band: float = 1.0
    approach_time: float = 3600.0
    min_rate: float = 0.3
    rate_window: float = 900.0
    failsafe_duty: float = 0.2
    frost_room: float = FROST_MINIMUM

    def __post_init__(self) -> None:
        if not (self.min_on > 0 and self.min_off > 0):
            raise ValueError("minimum on and off times are positive")
        if self.cycle < self.min_on + self.min_off:
            raise ValueError("a cycle must hold a minimum on and a minimum off time")
        if not (self.kp >= 0 and self.ti > 0):
            raise ValueError("need kp >= 0 and ti > 0")
        if not 0.0 <= self.failsafe_duty <= 1.0:
            raise ValueError("failsafe_duty is between 0 and 1")


@dataclass(frozen=True)
class RelayCommand:
    """The relay output: ``on``; ``duty`` of the running cycle after rounding to
    the minimum times, ``requested_duty`` before it; ``cycle_start`` in
    monotonic seconds; ``notes`` say which fallbacks were taken."""

    on: bool
    duty: float
    requested_duty: float
    cycle_start: float
    notes: tuple[str, ...] = ()


class RelayController:
    """Time-proportional control of an on/off boiler."""

    def __init__(self, config: RelayControlConfig | None = None) -> None:
        self.config = config if config is not None else RelayControlConfig()
        self._integral = 0.0
        self._last_now: float | None = None
        self._output = MinOnOff(self.config.min_on, self.config.min_off)
        self._cycle_start: float | None = None
        self._on_len = 0.0
        self._trend = Trend(self.config.rate_window)

    @property
    def integral(self) -> float:
        """The integrator's share of the duty (0-1)."""
        return self._integral

    def on_time(self, duty: float) -> float:
        """The on time of one cycle at ``duty``, rounded to 0, the minimum times or the full cycle."""
        cfg = self.config
        on = float(round(clamp(duty, 0.0, 1.0) * cfg.cycle))
        if on < cfg.min_on:
            on = 0.0 if on < cfg.min_on / 2.0 else cfg.min_on
        off = cfg.cycle - on
        if 0.0 < off < cfg.min_off:
            on = cfg.cycle if off < cfg.min_off / 2.0 else cfg.cycle - cfg.min_off
        return on

    def step(self, now: float, *, target: float, room: float | None) -> RelayCommand:
        """One control step at monotonic time ``now`` (s)."""
        now = check_now(now)
        cfg = self.config
        notes: list[str] = []
        dt = 0.0 if self._last_now is None else clamp(now - self._last_now, 0.0, MAX_STEP)
        self._last_now = now if self._last_now is None else max(self._last_now, now)

        if not finite(target):
            notes.append(f"target unusable: holding frost protection {FROST_MINIMUM:g} °C")
            target = FROST_MINIMUM
        target = clamp(target, FROST_MINIMUM, TEMPERATURE_MAX)

        if (
            room is not None
            and math.isfinite(room)
            and (ROOM_PLAUSIBLE[0] <= room <= ROOM_PLAUSIBLE[1])
        ):
            error = target - room
            proportional = cfg.kp * error
            request = proportional + self._integral
            self._trend.add(now, room)
            saturated = (request >= 1.0 and error > 0) or (request <= 0.0 and error < 0)
            if (
                not saturated
                and dt > 0
                and not approaching(self._trend, error, cfg.approach_time, cfg.min_rate)
            ):
                step_error = clamp(error, -cfg.integral_band, cfg.integral_band)
                self._integral = clamp(self._integral + cfg.kp / cfg.ti * step_error * dt, 0.0, 1.0)
            duty = clamp(proportional + self._integral, 0.0, 1.0)
            if room < cfg.frost_room:
                notes.append(f"frost protection: room below {cfg.frost_room:g} °C")
                duty = 1.0
        else:
            notes.append(f"room temperature unusable: fixed duty {cfg.failsafe_duty:g}")
            duty = cfg.failsafe_duty

        start = self._cycle_start
        if start is None or now >= start + cfg.cycle:
            # keep the cadence unless a step was missed by a whole cycle
            start = now if start is None or now >= start + 2 * cfg.cycle else start + cfg.cycle
            self._cycle_start = start
            self._on_len = self.on_time(duty)
        on = self._output.apply(now, now < start + self._on_len)
        return RelayCommand(
            on=on,
            duty=self._on_len / cfg.cycle,
            requested_duty=duty,
            cycle_start=start,
            notes=tuple(notes),
        )
