"""The first control loop: what to ask of the boiler or the relay.

OpenTherm boilers (:class:`BoilerController`)
    The flow setpoint (data-id 1) comes from a heating curve (outside
    temperature -> flow temperature, :class:`HeatingCurve`) plus a PI
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

On/off boilers (:class:`RelayController`)
    Time-proportional control: a fixed cycle (10 minutes by default), the
    duty from a PI on the room error, minimum on and off times.

Controllers keep a little state (integrator, cycle start, last switch) and
take ``now`` as monotonic seconds from the injected clock; they never read
the wall clock. Absurd inputs (NaN, an 85 °C room, no outside temperature)
fall back to safe values and say so in the command's ``notes``. Min on/off
times count from the controller's creation: a fresh controller may switch at
once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
import math

from bridge.core.programs import FROST_MINIMUM, TEMPERATURE_MAX

#: Room readings outside this range (°C) are taken for a broken sensor.
ROOM_PLAUSIBLE = (-30.0, 50.0)
#: Outside readings outside this range (°C) are taken for a broken sensor.
OUTSIDE_PLAUSIBLE = (-50.0, 50.0)
#: The range of the OpenTherm flow setpoint, data-id 1 (°C).
CONTROL_SETPOINT_RANGE = (0.0, 100.0)
#: DHW setpoint range used when the boiler gives no bounds (data-id 48).
DEFAULT_DHW_RANGE = (35.0, 65.0)
#: How far beyond ``boost_band`` below the target a warm-up boost begins (K).
BOOST_ENTER_K = 0.3
#: A longer gap between two steps counts as this long (s), so a stalled loop
#: does not wind the integrator up in one step.
MAX_STEP = 600.0

MODE_OFF = "off"
MODE_HEAT = "heat"
MODE_LOW_LOAD = "low_load"


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


@dataclass(frozen=True, kw_only=True)
class HeatingCurve:
    """A weather-compensation curve from the emitters' design point.

    ``load`` is the fraction of the design heat loss needed: ``(target -
    outside) / (design_room - design_outside)``, at least 0. The emitters'
    mean excess temperature grows as ``load ** (1 / exponent)`` (1.3 for
    radiators, 1.1 for underfloor heating), the flow/return spread as
    ``load``. ``footpoint`` shifts the whole curve (K). ``gains_k`` is the
    part of the room-outside difference that free heat covers (internal and
    solar gains over the heat-loss coefficient, K): the load counts from
    ``outside + gains_k``, the house's balance point.
    """

    design_outside: float = -10.0
    design_flow: float = 70.0
    design_return: float = 50.0
    design_room: float = 20.0
    exponent: float = 1.3
    footpoint: float = 0.0
    gains_k: float = 0.0

    def __post_init__(self) -> None:
        values = (
            self.design_outside,
            self.design_flow,
            self.design_return,
            self.design_room,
            self.exponent,
            self.footpoint,
            self.gains_k,
        )
        if not all(math.isfinite(v) for v in values):
            raise ValueError("heating curve parameters must be finite")
        if not self.design_outside < self.design_room < self.design_return < self.design_flow:
            raise ValueError("need design_outside < design_room < design_return < design_flow")
        if not 1.0 <= self.exponent <= 2.0:
            raise ValueError("the emitter exponent is between 1 and 2")

    @classmethod
    def radiators(cls) -> HeatingCurve:
        """Radiators sized for 70/50 °C at -10 °C outside."""
        return cls()

    @classmethod
    def underfloor(cls) -> HeatingCurve:
        """Underfloor heating sized for 35/28 °C at -10 °C outside."""
        return cls(design_flow=35.0, design_return=28.0, exponent=1.1)

    @property
    def _mean_excess(self) -> float:
        return (self.design_flow + self.design_return) / 2.0 - self.design_room

    @property
    def _spread(self) -> float:
        return self.design_flow - self.design_return

    def load(self, target: float, outside: float) -> float:
        """The fraction of the design load needed to hold ``target`` at ``outside``."""
        return max(
            0.0, (target - outside - self.gains_k) / (self.design_room - self.design_outside)
        )

    def flow(self, target: float, load: float) -> float:
        """The flow temperature that delivers ``load`` at room ``target``."""
        load = max(0.0, load)
        mean = self._mean_excess * math.pow(load, 1.0 / self.exponent)
        return target + self.footpoint + mean + self._spread / 2.0 * load

    def return_temperature(self, target: float, load: float) -> float:
        """The return temperature expected at ``load``."""
        load = max(0.0, load)
        mean = self._mean_excess * math.pow(load, 1.0 / self.exponent)
        return target + self.footpoint + mean - self._spread / 2.0 * load

    def flow_for(self, target: float, outside: float) -> float:
        """The curve's flow temperature for ``target`` at ``outside``."""
        return self.flow(target, self.load(target, outside))

    def load_for_flow(self, target: float, flow: float, high: float = 8.0) -> float:
        """The load a flow temperature delivers at room ``target`` (0 at or below the foot)."""
        if not flow > self.flow(target, 0.0):
            return 0.0
        if flow >= self.flow(target, high):
            return high
        low = 0.0
        for _ in range(50):
            middle = (low + high) / 2.0
            if self.flow(target, middle) < flow:
                low = middle
            else:
                high = middle
        return (low + high) / 2.0

    def flow_at_return(self, target: float, limit: float, high: float = 4.0) -> float | None:
        """The flow at which the expected return reaches ``limit`` (``None``: never, up to ``high``)."""
        if self.return_temperature(target, 0.0) >= limit:
            return self.flow(target, 0.0)
        step = 0.05
        previous = 0.0
        load = step
        while load <= high + 1e-9:
            if self.return_temperature(target, load) >= limit:
                low, up = previous, load
                for _ in range(40):
                    middle = (low + up) / 2.0
                    if self.return_temperature(target, middle) < limit:
                        low = middle
                    else:
                        up = middle
                return self.flow(target, low)
            previous = load
            load += step
        return None


@dataclass(frozen=True, kw_only=True)
class BoilerBounds:
    """What the boiler allows: data-id 49 (max CH setpoint) and 48 (DHW setpoint), °C.

    ``None`` where the boiler did not say. Bounds that make no sense (lower
    above upper, not finite, outside 0-100) are ignored.
    """

    ch_lower: float | None = None
    ch_upper: float | None = None
    dhw_lower: float | None = None
    dhw_upper: float | None = None

    @classmethod
    def from_opentherm(
        cls, id48: tuple[int, int] | None = None, id49: tuple[int, int] | None = None
    ) -> BoilerBounds:
        """From the decoded s8/s8 values ``(HB upper, LB lower)`` of ids 48 and 49."""
        dhw = (float(id48[1]), float(id48[0])) if id48 is not None else (None, None)
        ch = (float(id49[1]), float(id49[0])) if id49 is not None else (None, None)
        return cls(ch_lower=ch[0], ch_upper=ch[1], dhw_lower=dhw[0], dhw_upper=dhw[1])


def _bounds(lower: float | None, upper: float | None) -> tuple[float, float] | None:
    if lower is None or upper is None or not (math.isfinite(lower) and math.isfinite(upper)):
        return None
    if not 0.0 <= lower <= upper <= 100.0:
        return None
    return lower, upper


@dataclass(frozen=True, kw_only=True)
class BoilerControlConfig:
    """Tuning of :class:`BoilerController` (times in seconds, temperatures in °C).

    ``kp`` is K of flow per K of room error, ``ti`` the integral time;
    ``min_load_fraction`` is the boiler's output at minimum modulation as a
    fraction of the emitters' design load (below it: low-load cycles);
    ``low_load_flow_fraction``, when set, is that same ratio unclamped (it
    may exceed 1 for a boiler larger than the house needs): a low-load cycle
    asks for the flow the emitters settle at under the minimum output, so
    the boiler's own thermostat does not cut the burner within a cycle.
    ``float_band``, when set: a room more than this above the target floats
    (burner off, integrator held), so a setback is not held up by the
    weather curve's feed-forward. ``boost_band``, when set: a room that
    falls more than ``boost_band`` + 0.3 K below the target (a warm-up) gets
    the highest flow the limits allow (integrator held) until it is within
    ``boost_band``, so a warm-up runs at the full power an optimal start
    plans with; in a boost the return cap gives way up to the flow of
    ``boost_load`` more than the load (a fraction of the design load), so
    emitters that need condensing temperatures just to hold the target in
    cold weather still have power to spare for the warm-up.
    """

    curve: HeatingCurve = field(default_factory=HeatingCurve)
    kp: float = 4.0
    ti: float = 10800.0
    integral_limit: float = 15.0
    integral_band: float = 1.0
    approach_time: float = 14400.0
    min_rate: float = 0.3
    rate_window: float = 900.0
    max_ch_setpoint: float = 75.0
    min_flow: float = 25.0
    off_setpoint: float = 10.0
    return_limit: float | None = 55.0
    min_load_fraction: float = 0.25
    low_load_flow_fraction: float | None = None
    low_load_margin: float = 5.0
    float_band: float | None = None
    boost_band: float | None = None
    boost_load: float = 0.3
    low_load_hold: float = 0.2
    min_on: float = 300.0
    min_off: float = 600.0
    pulse_period: float = 1200.0
    max_pulse_period: float = 3600.0
    max_modulation: float = 100.0
    default_outside: float = 0.0
    frost_room: float = FROST_MINIMUM

    def __post_init__(self) -> None:
        if not (self.kp >= 0 and self.ti > 0 and self.integral_limit >= 0):
            raise ValueError("need kp >= 0, ti > 0 and integral_limit >= 0")
        if not 0.0 < self.min_load_fraction < 1.0:
            raise ValueError("min_load_fraction is between 0 and 1")
        if not (math.isfinite(self.boost_load) and 0.0 <= self.boost_load <= 2.0):
            raise ValueError("boost_load is between 0 and 2")
        for band in (self.float_band, self.boost_band):
            if band is not None and not (math.isfinite(band) and band >= 0.0):
                raise ValueError("float_band and boost_band are 0 or more")
        low_flow = self.low_load_flow_fraction
        if low_flow is not None and not (math.isfinite(low_flow) and 0.0 < low_flow <= 4.0):
            raise ValueError("low_load_flow_fraction is above 0 and at most 4")
        if not (self.min_on > 0 and self.min_off > 0):
            raise ValueError("minimum on and off times are positive")
        if self.max_pulse_period < self.min_on + self.min_off:
            raise ValueError("max_pulse_period must hold a minimum on and a minimum off time")
        if not 0.0 <= self.max_modulation <= 100.0:
            raise ValueError("max_modulation is a percentage")
        lo, hi = CONTROL_SETPOINT_RANGE
        if not (
            lo <= self.off_setpoint <= hi and lo <= self.min_flow <= self.max_ch_setpoint <= hi
        ):
            raise ValueError("need 0 <= off_setpoint, 0 <= min_flow <= max_ch_setpoint <= 100")
        if not OUTSIDE_PLAUSIBLE[0] <= self.default_outside <= OUTSIDE_PLAUSIBLE[1]:
            raise ValueError("default_outside out of the plausible range")

    @classmethod
    def radiators(cls) -> BoilerControlConfig:
        """Defaults for radiators (70/50 design, max flow 75 °C)."""
        return cls()

    @classmethod
    def underfloor(cls) -> BoilerControlConfig:
        """Defaults for underfloor heating (35/28 design, max flow 45 °C, slow PI)."""
        return cls(
            curve=HeatingCurve.underfloor(),
            kp=2.0,
            ti=4 * 3600.0,
            integral_limit=8.0,
            max_ch_setpoint=45.0,
            min_flow=22.0,
            return_limit=None,
        )


@dataclass(frozen=True)
class BoilerCommand:
    """What to write to an OpenTherm boiler.

    ``ch_enable`` and ``dhw_enable`` go into the master status (ID 0 HB bits
    0 and 1), ``control_setpoint`` is TSet (ID 1), ``max_modulation`` ID 14
    (%), ``dhw_setpoint`` ID 56 (``None``: leave it), ``max_ch_setpoint`` ID
    57. ``mode`` is ``off``, ``heat`` or ``low_load``; ``demand`` the heat
    asked for as a fraction of the design load; ``flow_request`` the
    curve-plus-PI flow before limits; ``outside_used`` the outside
    temperature the curve used; ``notes`` say which fallbacks were taken.
    """

    ch_enable: bool
    control_setpoint: float
    max_modulation: float
    dhw_enable: bool
    dhw_setpoint: float | None
    max_ch_setpoint: float
    mode: str
    demand: float
    flow_request: float
    outside_used: float
    notes: tuple[str, ...] = ()


class _MinOnOff:
    """On/off output that keeps minimum on and off times."""

    def __init__(self, min_on: float, min_off: float) -> None:
        self.min_on = min_on
        self.min_off = min_off
        self.on = False
        self.last_switch: float | None = None

    def may_switch(self, now: float) -> bool:
        if self.last_switch is None:
            return True
        held = self.min_on if self.on else self.min_off
        return now - self.last_switch >= held

    def apply(self, now: float, want: bool) -> bool:
        if want != self.on and self.may_switch(now):
            self.on = want
            self.last_switch = now
        return self.on


class _Trend:
    """The rate of change of a reading over a sliding window (per second)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._samples: deque[tuple[float, float]] = deque()

    def add(self, now: float, value: float) -> None:
        if self._samples and now <= self._samples[-1][0]:
            return
        self._samples.append((now, value))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window:
            self._samples.popleft()

    def rate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, v0), (t1, v1) = self._samples[0], self._samples[-1]
        if t1 - t0 < self.window / 2.0 or t1 - t0 > 3.0 * self.window:
            return None
        return (v1 - v0) / (t1 - t0)


def _approaching(trend: _Trend, error: float, approach_time: float, min_rate: float) -> bool:
    """Whether the room moves toward the target fast enough to get there within
    ``approach_time`` s (the integrator then waits: no warm-up windup)."""
    rate = trend.rate()
    if rate is None or abs(rate) * 3600.0 < min_rate or rate * error <= 0:
        return False
    return abs(rate) * approach_time >= abs(error)


@dataclass
class _Pulse:
    start: float
    on_len: float
    period: float


def _check_now(now: float) -> float:
    if not math.isfinite(now):
        raise ValueError("now must be a finite monotonic time")
    return float(now)


class BoilerController:
    """Flow setpoint, CH enable, modulation and DHW for an OpenTherm boiler."""

    def __init__(self, config: BoilerControlConfig | None = None) -> None:
        self.config = config if config is not None else BoilerControlConfig()
        self._integral = 0.0
        self._last_now: float | None = None
        self._output = _MinOnOff(self.config.min_on, self.config.min_off)
        self._pulse: _Pulse | None = None
        self._trend = _Trend(self.config.rate_window)
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
        self._trend = _Trend(self.config.rate_window)
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
        now = _check_now(now)
        cfg = self.config
        curve = cfg.curve
        notes: list[str] = []
        dt = 0.0 if self._last_now is None else _clamp(now - self._last_now, 0.0, MAX_STEP)
        self._last_now = now if self._last_now is None else max(self._last_now, now)
        bounds = bounds if bounds is not None else BoilerBounds()

        if not _finite(target):
            notes.append(f"target unusable: holding frost protection {FROST_MINIMUM:g} °C")
            target = FROST_MINIMUM
        target = _clamp(target, FROST_MINIMUM, TEMPERATURE_MAX)

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
        ch_bounds = _bounds(bounds.ch_lower, bounds.ch_upper)
        if ch_bounds is not None:
            max_ch = _clamp(max_ch, *ch_bounds)
        elif bounds.ch_lower is not None or bounds.ch_upper is not None:
            notes.append("boiler CH setpoint bounds (id 49) unusable: ignored")
        max_ch = _clamp(max_ch, *CONTROL_SETPOINT_RANGE)
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
                and not _approaching(self._trend, error, cfg.approach_time, cfg.min_rate)
            ):
                step_error = _clamp(error, -cfg.integral_band, cfg.integral_band)
                self._integral += cfg.kp / cfg.ti * step_error * dt
                self._integral = _clamp(self._integral, -cfg.integral_limit, cfg.integral_limit)
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
            setpoint = _clamp(setpoint, lower_on, upper)
        else:
            setpoint = cfg.off_setpoint
            modulation = cfg.max_modulation
        if not math.isfinite(setpoint):  # pragma: no cover - inputs are sanitised above
            setpoint = lower_on
        setpoint = _clamp(setpoint, CONTROL_SETPOINT_RANGE[0], max_ch)

        dhw_out: float | None = None
        if dhw_setpoint is not None:
            if math.isfinite(dhw_setpoint):
                dhw_range = _bounds(bounds.dhw_lower, bounds.dhw_upper)
                if dhw_range is None:
                    if bounds.dhw_lower is not None or bounds.dhw_upper is not None:
                        notes.append("boiler DHW bounds (id 48) unusable: using defaults")
                    dhw_range = DEFAULT_DHW_RANGE
                dhw_out = _clamp(float(dhw_setpoint), *dhw_range)
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
        self._output = _MinOnOff(self.config.min_on, self.config.min_off)
        self._cycle_start: float | None = None
        self._on_len = 0.0
        self._trend = _Trend(self.config.rate_window)

    @property
    def integral(self) -> float:
        """The integrator's share of the duty (0-1)."""
        return self._integral

    def on_time(self, duty: float) -> float:
        """The on time of one cycle at ``duty``, rounded to 0, the minimum times or the full cycle."""
        cfg = self.config
        on = float(round(_clamp(duty, 0.0, 1.0) * cfg.cycle))
        if on < cfg.min_on:
            on = 0.0 if on < cfg.min_on / 2.0 else cfg.min_on
        off = cfg.cycle - on
        if 0.0 < off < cfg.min_off:
            on = cfg.cycle if off < cfg.min_off / 2.0 else cfg.cycle - cfg.min_off
        return on

    def step(self, now: float, *, target: float, room: float | None) -> RelayCommand:
        """One control step at monotonic time ``now`` (s)."""
        now = _check_now(now)
        cfg = self.config
        notes: list[str] = []
        dt = 0.0 if self._last_now is None else _clamp(now - self._last_now, 0.0, MAX_STEP)
        self._last_now = now if self._last_now is None else max(self._last_now, now)

        if not _finite(target):
            notes.append(f"target unusable: holding frost protection {FROST_MINIMUM:g} °C")
            target = FROST_MINIMUM
        target = _clamp(target, FROST_MINIMUM, TEMPERATURE_MAX)

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
                and not _approaching(self._trend, error, cfg.approach_time, cfg.min_rate)
            ):
                step_error = _clamp(error, -cfg.integral_band, cfg.integral_band)
                self._integral = _clamp(
                    self._integral + cfg.kp / cfg.ti * step_error * dt, 0.0, 1.0
                )
            duty = _clamp(proportional + self._integral, 0.0, 1.0)
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
