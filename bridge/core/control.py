"""The boiler controller: what to ask of an OpenTherm boiler.

OpenTherm boilers (:class:`BoilerController`)
    The flow setpoint (data-id 1) comes from a heating curve (outside
    temperature -> flow temperature, :class:`~bridge.core.curve.HeatingCurve`) plus a PI
    correction on the room error, so a room that stays cold raises the flow.
    The integrator has anti-windup: it is clamped, stops integrating while
    the request is saturated in the error's direction, integrates at most
    ``integral_band`` K of error, and waits while the room is already moving
    toward the target fast enough to get there within ``approach_time`` (no
    overshoot after a warm-up). The setpoint stays
    within the boiler's bounds: the max CH setpoint written as data-id 57 is
    clamped to the bounds of data-id 49, the flow setpoint to it; the DHW
    setpoint (56) to the bounds of 48. The flow is capped where the expected
    return water would pass ~55 °C, unless the weather needs more (a
    condensing boiler keeps condensing). When the demand is below what the
    boiler can deliver at its minimum modulation, the burner runs in low-load
    cycles at minimum modulation (max modulation, data-id 14, set to 0 %), a
    few long on/off periods with minimum on and off times instead of letting
    it chatter.

On/off boilers are driven by :class:`~bridge.core.relay.RelayController`;
the heating curve is :mod:`bridge.core.curve`, the controller's tuning, the
boiler's bounds and the command :mod:`bridge.core.boiler_config`.

Controllers keep a little state (integrator, cycle start, last switch) and
take ``now`` as monotonic seconds from the injected clock; they never read
the wall clock. Absurd inputs (NaN, an 85 °C room, no outside temperature)
fall back to safe values and say so in the command's ``notes``. Min on/off
times count from the controller's creation: a fresh controller may switch at
once.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

from bridge.core.boiler_config import (
    CONTROL_SETPOINT_RANGE,
    DEFAULT_DHW_RANGE,
    MODE_HEAT,
    MODE_LOW_LOAD,
    MODE_OFF,
    BoilerBounds,
    BoilerCommand,
    BoilerControlConfig,
    checked_bounds,
)
from bridge.core.control_common import (
    MAX_STEP,
    OUTSIDE_PLAUSIBLE,
    ROOM_PLAUSIBLE,
    MinOnOff,
    Trend,
    approaching,
    check_now,
    clamp,
    finite,
)
from bridge.core.programs import FROST_MINIMUM, TEMPERATURE_MAX

__all__ = ["BoilerController"]

#: How far beyond ``boost_band`` below the target a warm-up boost begins (K): with the
#: default band, 0.5 K below it, clear of a noisy sensor's swings around a held target.
BOOST_ENTER_K = 0.4


@dataclass
class _Pulse:
    start: float
    on_len: float
    period: float


class BoilerController:
    """Flow setpoint, CH enable, modulation and DHW for an OpenTherm boiler."""

    def __init__(self, config: BoilerControlConfig | None = None) -> None:
        self.config = config if config is not None else BoilerControlConfig()
        self._integral = 0.0
        self._last_now: float | None = None
        self._output = MinOnOff(self.config.min_on, self.config.min_off)
        self._pulse: _Pulse | None = None
        self._trend = Trend(self.config.rate_window)
        self._boosting = False

    @property
    def integral(self) -> float:
        """The integrator's share of the flow request (K)."""
        return self._integral

    @property
    def boosting(self) -> bool:
        """Whether a warm-up runs at full power now (see ``boost_band``)."""
        return self._boosting

    @property
    def burner_on(self) -> bool:
        """Whether CH is enabled now."""
        return self._output.on

    def reset(self) -> None:
        """Forget the integrator and the low-load cycle (keeps the min on/off timing)."""
        self._integral = 0.0
        self._pulse = None
        self._trend = Trend(self.config.rate_window)
        self._boosting = False

    def _plan(self, duty: float) -> tuple[float, float]:
        """(on time, period) of one low-load cycle at ``duty`` (0-1)."""
        cfg = self.config
        if duty >= 1.0:
            return cfg.pulse_period, cfg.pulse_period
        period = float(round(max(cfg.pulse_period, cfg.min_on / duty, cfg.min_off / (1.0 - duty))))
        if period > cfg.max_pulse_period:
            period = cfg.max_pulse_period
            return (period, period) if duty >= 0.5 else (cfg.min_on, period)
        return float(round(duty * period)), period

    def _pulse_wants_on(self, now: float, duty: float, may_start: bool) -> bool:
        pulse = self._pulse
        if pulse is None or now >= pulse.start + pulse.period:
            if not may_start or (not self._output.on and not self._output.may_switch(now)):
                self._pulse = None  # start the cycle when the burner may start
                return False
            on_len, period = self._plan(duty)
            pulse = self._pulse = _Pulse(now, on_len, period)
        return now < pulse.start + pulse.on_len

    def step(
        self,
        now: float,
        *,
        target: float,
        room: float | None,
        outside: float | None,
        bounds: BoilerBounds | None = None,
        dhw_setpoint: float | None = None,
        dhw_enable: bool = True,
    ) -> BoilerCommand:
        """One control step at monotonic time ``now`` (s)."""
        now = check_now(now)
        cfg = self.config
        curve = cfg.curve
        notes: list[str] = []
        dt = 0.0 if self._last_now is None else clamp(now - self._last_now, 0.0, MAX_STEP)
        self._last_now = now if self._last_now is None else max(self._last_now, now)
        bounds = bounds if bounds is not None else BoilerBounds()

        if not finite(target):
            notes.append(f"target unusable: holding frost protection {FROST_MINIMUM:g} °C")
            target = FROST_MINIMUM
        target = clamp(target, FROST_MINIMUM, TEMPERATURE_MAX)

        if outside is not None and math.isfinite(outside):
            if OUTSIDE_PLAUSIBLE[0] <= outside <= OUTSIDE_PLAUSIBLE[1]:
                outside_used = float(outside)
            else:
                outside_used = cfg.default_outside
                notes.append(
                    f"outside temperature {outside:g} °C implausible: "
                    f"using default {outside_used:g} °C"
                )
        else:
            outside_used = cfg.default_outside
            notes.append(f"outside temperature unknown: using default {outside_used:g} °C")

        room_ok = room is not None and math.isfinite(room)
        if room_ok and room is not None and not ROOM_PLAUSIBLE[0] <= room <= ROOM_PLAUSIBLE[1]:
            room_ok = False
            notes.append(f"room temperature {room:g} °C implausible: weather curve only")
        elif not room_ok:
            notes.append("room temperature unknown: weather curve only")

        max_ch = cfg.max_ch_setpoint
        ch_bounds = checked_bounds(bounds.ch_lower, bounds.ch_upper)
        if ch_bounds is not None:
            max_ch = clamp(max_ch, *ch_bounds)
        elif bounds.ch_lower is not None or bounds.ch_upper is not None:
            notes.append("boiler CH setpoint bounds (id 49) unusable: ignored")
        max_ch = clamp(max_ch, *CONTROL_SETPOINT_RANGE)
        lower_on = min(cfg.min_flow, max_ch)

        load = curve.load(target, outside_used)
        curve_flow = curve.flow(target, load)
        upper = max_ch
        if cfg.return_limit is not None:
            cap = curve.flow_at_return(target, cfg.return_limit)
            if cap is not None:
                upper = min(upper, max(curve_flow, cap))
        upper = max(upper, lower_on)
        foot = curve.flow(target, 0.0)

        floating = False
        if room_ok and room is not None:
            error = target - room
            proportional = cfg.kp * error
            request = curve_flow + proportional + self._integral
            self._trend.add(now, room)
            saturated = (request >= upper and error > 0) or (request <= foot and error < 0)
            floating = cfg.float_band is not None and error < -cfg.float_band
            if cfg.boost_band is None or error <= cfg.boost_band:
                self._boosting = False
            elif error > cfg.boost_band + BOOST_ENTER_K:
                self._boosting = True
            boosting = self._boosting
            if boosting:
                upper = max(upper, min(max_ch, curve.flow(target, load + cfg.boost_load)))
            if (
                not saturated
                and not floating
                and not boosting
                and dt > 0
                and not approaching(self._trend, error, cfg.approach_time, cfg.min_rate)
            ):
                step_error = clamp(error, -cfg.integral_band, cfg.integral_band)
                self._integral += cfg.kp / cfg.ti * step_error * dt
                self._integral = clamp(self._integral, -cfg.integral_limit, cfg.integral_limit)
            request = curve_flow + proportional + self._integral
            if boosting:
                request = max(request, upper)
        else:
            request = curve_flow + self._integral
        demand = 0.0 if floating else curve.load_for_flow(target, request)
        if room_ok and room is not None and room < cfg.frost_room:
            notes.append(f"frost protection: room below {cfg.frost_room:g} °C")
            demand = max(demand, cfg.min_load_fraction)
            request = max(request, curve.flow(target, cfg.min_load_fraction))

        if demand <= 0.0:
            mode, want_on = MODE_OFF, False
            self._pulse = None
        elif demand >= cfg.min_load_fraction:
            mode, want_on = MODE_HEAT, True
            self._pulse = None
        else:
            mode = MODE_LOW_LOAD
            # no new low-load cycle while the room is already warm enough
            may_start = not room_ok or room is None or room <= target + cfg.low_load_hold
            want_on = self._pulse_wants_on(now, demand / cfg.min_load_fraction, may_start)
        on = self._output.apply(now, want_on)

        if on:
            if mode == MODE_HEAT:
                setpoint = request
                modulation = cfg.max_modulation
            elif mode == MODE_LOW_LOAD:
                low_flow = cfg.low_load_flow_fraction or cfg.min_load_fraction
                setpoint = curve.flow(target, low_flow) + cfg.low_load_margin
                modulation = 0.0
            else:  # held on for the minimum on time
                setpoint = lower_on
                modulation = 0.0
            setpoint = clamp(setpoint, lower_on, upper)
        else:
            setpoint = cfg.off_setpoint
            modulation = cfg.max_modulation
        if not math.isfinite(setpoint):  # pragma: no cover - inputs are sanitised above
            setpoint = lower_on
        setpoint = clamp(setpoint, CONTROL_SETPOINT_RANGE[0], max_ch)

        dhw_out: float | None = None
        if dhw_setpoint is not None:
            if math.isfinite(dhw_setpoint):
                dhw_range = checked_bounds(bounds.dhw_lower, bounds.dhw_upper)
                if dhw_range is None:
                    if bounds.dhw_lower is not None or bounds.dhw_upper is not None:
                        notes.append("boiler DHW bounds (id 48) unusable: using defaults")
                    dhw_range = DEFAULT_DHW_RANGE
                dhw_out = clamp(float(dhw_setpoint), *dhw_range)
            else:
                notes.append("DHW setpoint unusable: left unchanged")

        return BoilerCommand(
            ch_enable=on,
            control_setpoint=setpoint,
            max_modulation=modulation,
            dhw_enable=bool(dhw_enable),
            dhw_setpoint=dhw_out,
            max_ch_setpoint=max_ch,
            mode=mode,
            demand=demand,
            flow_request=request,
            outside_used=outside_used,
            notes=tuple(notes),
        )
