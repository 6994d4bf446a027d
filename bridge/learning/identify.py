"""Online identification of the house model from what the bridge measures.

The :class:`Learner` takes one :class:`Measurement` at a time (room sensor,
outside temperature, what the boiler reports) and

* screens it: absurd values (an 85 °C room, -60 °C outside) and physically
  impossible jumps are rejected, a room value that stays exactly constant
  for hours while heat goes in marks the sensor as frozen;
* averages it into fixed sample periods (bins, 10 minutes by default) on a
  chain that restarts after every dropout instead of bridging it; heat that
  goes to hot water (DHW) does not count as heat into the room;
* tracks the model's state (room, mass, emitter) with a Kalman filter and
  keeps score of its own 1-hour and 3-hour forecasts;
* every 12 hours while learning, daily once ready, refits the model on a
  sliding window (10 days by default) by regularised Levenberg-Marquardt on
  the simulation (output) error, which unlike an equation-error fit is not
  biased by the sensor noise and sees the slow building mass; without a
  measured irradiance the clear-sky sun at the house's location stands in;
* reports a confidence in [0, 1] from the parameter covariance, its own
  forecast residuals and the excitation seen (free-floating hours and
  heating starts), and falls back to the default model below the ready
  threshold.

Pure code: no I/O, no clock; the bridge feeds measurements and stores
:meth:`Learner.to_dict`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, fields
from datetime import UTC, datetime
import math
import operator
from typing import TYPE_CHECKING, Any

from bridge.learning.model import (
    AIR_FRACTION_BOUNDS,
    COUPLING_BOUNDS,
    DEFAULT_AIR_FRACTION,
    DEFAULT_COUPLING,
    DEFAULT_DIRECT_LOSS_FRACTION,
    DEFAULT_EMITTER_LAG_S,
    DEFAULT_EMITTER_TO_MASS,
    DEFAULT_GAINS_W,
    DEFAULT_HEAT_LOSS_W_PER_K,
    DEFAULT_TIME_CONSTANT_H,
    DIRECT_LOSS_BOUNDS,
    EMITTER_LAG_BOUNDS_S,
    GAINS_BOUNDS_W,
    HEAT_LOSS_BOUNDS_W_PER_K,
    SOLAR_APERTURE_BOUNDS_M2,
    TIME_CONSTANT_BOUNDS_H,
    Matrix,
    ModelState,
    ThermalModel,
    inverse_spd,
    matmul,
    solve_spd,
)
from bridge.learning.predict import Predictor

if TYPE_CHECKING:
    from collections.abc import Callable

#: Version of the JSON form of :class:`Learner` and :class:`HeatSource`.
LEARNER_VERSION = 1

#: Plausible ranges; readings outside are rejected as sensor faults.
ROOM_RANGE = (-5.0, 40.0)
OUTSIDE_RANGE = (-45.0, 50.0)
SOLAR_RANGE = (0.0, 1500.0)
#: Boiler size assumed when OpenTherm ID 15 gave none, W.
ASSUMED_BOILER_W = 24_000.0

STATUS_LEARNING = "learning"
STATUS_READY = "ready"
FALLBACK_FROZEN = "fallback: room sensor frozen"
FALLBACK_NO_ROOM = "fallback: room temperature missing"
FALLBACK_NO_OUTSIDE = "fallback: outside temperature missing"
FALLBACK_NO_HEAT = "fallback: heat input unknown"


def clear_sky_w_m2(ts: float, latitude: float, longitude: float) -> float:
    """Clear-sky global horizontal irradiance (Haurwitz), W/m², at Unix time ``ts``.

    Without a measured irradiance the learner takes this as the sun's input:
    it has the daily and seasonal shape of the solar gains, and the fitted
    aperture absorbs the mean cloudiness.
    """
    day = datetime.fromtimestamp(ts, tz=UTC).timetuple().tm_yday + (ts % 86400.0) / 86400.0
    decl = math.radians(23.44) * math.sin(2.0 * math.pi * (284.0 + day) / 365.0)
    solar_hour = (ts % 86400.0) / 3600.0 + longitude / 15.0
    hour_angle = math.radians(15.0 * (solar_hour - 12.0))
    lat = math.radians(latitude)
    sin_alt = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(hour_angle)
    if sin_alt <= 0.01:
        return 0.0
    return 1098.0 * sin_alt * math.exp(-0.057 / sin_alt)


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One look at the house and the boiler, at Unix time ``ts``.

    ``None`` where a value is not known. ``heat_w`` is the heat into the
    heating water when the bridge knows it directly (a heat meter);
    otherwise the :class:`HeatSource` estimates it from modulation and
    flame, or from the relay state. The flow and return temperatures are
    taken for the record; the model does not need them (the boiler's
    modulation already says how much heat goes in).
    """

    ts: float
    room_c: float | None
    outside_c: float | None = None
    flow_c: float | None = None
    return_c: float | None = None
    modulation_pct: float | None = None
    flame_on: bool | None = None
    dhw_active: bool | None = None
    relay_on: bool | None = None
    solar_w_m2: float | None = None
    heat_w: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HeatSource:
    """How a measurement becomes watts into the heating water.

    OpenTherm boilers: ``max_w`` and ``min_modulation_pct`` from data-id 15
    (max capacity kW, min modulation %); the relative modulation (id 17) is
    the share of the range between minimum and maximum output
    (``modulation_of_range``, as OpenTherm 2.2 defines it) or of the maximum.
    With the flame on but no modulation reported, the middle of the range is
    taken. Relay boilers: ``relay_nominal_w`` while the relay is on.
    Heat during hot-water production (``dhw_active``) counts as zero.
    """

    max_w: float | None = None
    min_modulation_pct: float = 0.0
    relay_nominal_w: float | None = None
    modulation_of_range: bool = True

    @classmethod
    def from_opentherm(cls, max_kw: float, min_modulation_pct: float) -> HeatSource:
        """From data-id 15: max capacity (kW, high byte) and min modulation (%, low byte)."""
        return cls(
            max_w=max_kw * 1000.0 if max_kw > 0 else None, min_modulation_pct=min_modulation_pct
        )

    @property
    def assumed_size(self) -> bool:
        """True when no boiler size is known and :data:`ASSUMED_BOILER_W` stands in."""
        return self.max_w is None and self.relay_nominal_w is None

    def heat_w(self, m: Measurement) -> float | None:
        """Watts into the room's heating water for ``m``; None if it cannot be told."""
        if m.dhw_active:
            return 0.0
        known = m.heat_w
        if known is not None and math.isfinite(known):
            return max(0.0, known)
        return self.burner_w(m)

    def burner_w(self, m: Measurement) -> float | None:
        """The burner's output for ``m``, W, for heating or hot water alike.

        The one place the output is told from the flame, the modulation and
        the boiler's size; None if it cannot be told.
        """
        if m.flame_on is not None:
            if not m.flame_on:
                return 0.0
            top = self.max_w or self.relay_nominal_w or ASSUMED_BOILER_W
            low = top * min(100.0, max(0.0, self.min_modulation_pct)) / 100.0
            mod = m.modulation_pct
            if mod is None or not 0.0 <= mod <= 100.0:  # unknown (or NaN)
                return (low + top) / 2.0
            if self.modulation_of_range:
                return low + (top - low) * mod / 100.0
            return max(low, top * mod / 100.0)
        if m.relay_on is not None:
            if not m.relay_on:
                return 0.0
            return self.relay_nominal_w or self.max_w or ASSUMED_BOILER_W
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, with a version."""
        return {
            "version": LEARNER_VERSION,
            "max_w": self.max_w,
            "min_modulation_pct": self.min_modulation_pct,
            "relay_nominal_w": self.relay_nominal_w,
            "modulation_of_range": self.modulation_of_range,
        }

    @classmethod
    def from_dict(cls, data: object) -> HeatSource:
        """The source stored by :meth:`to_dict`; the default (unknown size) otherwise."""
        if not isinstance(data, dict) or data.get("version") != LEARNER_VERSION:
            return cls()
        try:
            max_w = data.get("max_w")
            nominal = data.get("relay_nominal_w")
            return cls(
                max_w=None if max_w is None else float(max_w),
                min_modulation_pct=float(data.get("min_modulation_pct", 0.0)),
                relay_nominal_w=None if nominal is None else float(nominal),
                modulation_of_range=bool(data.get("modulation_of_range", True)),
            )
        except (TypeError, ValueError):
            return cls()


@dataclass(frozen=True, slots=True, kw_only=True)
class LearnerConfig:
    """Tuning of the :class:`Learner` (defaults suit a real installation)."""

    sample_s: float = 600.0
    """Sample period: measurements are averaged over it."""
    window_days: float = 10.0
    """Length of the sliding window the model is fitted on."""
    refit_s: float = 12 * 3600.0
    """Time between fits while learning."""
    ready_refit_s: float = 24 * 3600.0
    """Time between fits once ready."""
    min_fit_hours: float = 36.0
    """Usable data needed before the first fit."""
    max_gap_s: float = 1200.0
    """A longer silence between measurements breaks the chain."""
    outside_hold_s: float = 3 * 3600.0
    """How long the last outside temperature stands in for a missing one."""
    frozen_s: float = 3 * 3600.0
    """A room value exactly constant this long while heat goes in is a frozen sensor."""
    frozen_heat_kwh: float = 1.0
    """Heat that must have gone in during ``frozen_s`` to call the sensor frozen."""
    frozen_any_s: float = 12 * 3600.0
    """A room value exactly constant this long is a frozen sensor, heat or not."""
    room_rate_k_per_h: float = 8.0
    """Fastest plausible room temperature change."""
    outside_rate_k_per_h: float = 20.0
    """Fastest plausible outside temperature change."""
    ready_confidence: float = 0.6
    """Confidence at which the learned model replaces the default."""
    latitude: float = 52.1
    """Where the house is (degrees north), for the clear-sky sun; default the Netherlands."""
    longitude: float = 5.2
    """Where the house is (degrees east)."""
    clear_sky_sun: bool = True
    """Without measured irradiance, take the clear-sky irradiance as the sun's input."""
    first_iterations: int = 25
    """Levenberg-Marquardt iterations of the first fit (from the default model)."""
    max_iterations: int = 8
    """Levenberg-Marquardt iterations of a refit (from the last model)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: object) -> LearnerConfig:
        """The config stored by :meth:`to_dict`; defaults for missing or bad fields."""
        if not isinstance(data, dict):
            return cls()
        base = cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f.name
            value = data.get(name)
            default = getattr(base, name)
            if isinstance(default, int) and isinstance(value, int):
                values[name] = value
            elif isinstance(default, float) and isinstance(value, (int, float)):
                values[name] = float(value)
        return cls(**values)


# ---------------------------------------------------------------- screening


class _Screen:
    """Rejects values out of range and jumps faster than physics allows.

    A jump that the next ``confirm`` readings agree on is a new level (a
    sensor moved, a source changed) and is accepted, with ``reset`` set.
    """

    def __init__(
        self, low: float, high: float, rate_k_per_h: float, tolerance_k: float, confirm: int = 3
    ) -> None:
        self.low = low
        self.high = high
        self.rate = rate_k_per_h / 3600.0
        self.tolerance = tolerance_k
        self.confirm = confirm
        self.last_ts: float | None = None
        self.last: float | None = None
        self.pending: list[tuple[float, float]] = []

    def check(self, ts: float, value: float | None) -> tuple[float | None, bool, bool]:
        """``(accepted value or None, rejected, reset)``."""
        if value is None:
            return None, False, False
        if not math.isfinite(value) or not self.low <= value <= self.high:
            return None, True, False
        if self.last is None or self.last_ts is None or ts - self.last_ts > 2 * 3600.0:
            self._take(ts, value)
            return value, False, False
        allowed = self.tolerance + self.rate * (ts - self.last_ts)
        if abs(value - self.last) <= allowed:
            self._take(ts, value)
            return value, False, False
        self.pending = [(t, v) for t, v in self.pending if ts - t <= 1800.0]
        self.pending.append((ts, value))
        if len(self.pending) >= self.confirm:
            values = [v for _, v in self.pending]
            span = self.pending[-1][0] - self.pending[0][0]
            if max(values) - min(values) <= self.tolerance + self.rate * span:
                self._take(ts, value)
                return value, False, True
        return None, True, False

    def _take(self, ts: float, value: float) -> None:
        self.last_ts = ts
        self.last = value
        self.pending = []

    def to_dict(self) -> dict[str, Any]:
        return {"last_ts": self.last_ts, "last": self.last}

    def restore(self, data: object) -> None:
        if isinstance(data, dict):
            ts, value = data.get("last_ts"), data.get("last")
            if isinstance(ts, (int, float)) and isinstance(value, (int, float)):
                self.last_ts, self.last = float(ts), float(value)


class _FrozenDetector:
    """Watches for a room value that stays exactly the same."""

    def __init__(self) -> None:
        self.value: float | None = None
        self.since: float = 0.0
        self.heat_j = 0.0
        self.frozen = False

    def update(
        self, ts: float, room: float, heat_j: float, config: LearnerConfig
    ) -> tuple[bool, float]:
        """Feed a reading; ``(newly frozen, run start)``."""
        if self.value is None or room != self.value:
            self.value = room
            self.since = ts
            self.heat_j = 0.0
            self.frozen = False
            return False, ts
        self.heat_j += heat_j
        if self.frozen:
            return False, self.since
        span = ts - self.since
        heated = self.heat_j >= config.frozen_heat_kwh * 3.6e6
        if (span >= config.frozen_s and heated) or span >= config.frozen_any_s:
            self.frozen = True
            return True, self.since
        return False, self.since


# ---------------------------------------------------------------- samples


class _Acc:
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


class _Bin:
    """One finished sample period: means of room, heat, outside (and sun), and its filter state."""

    __slots__ = (
        "age",
        "clear",
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
        self.start = False
        self.quiet = 0
        self.clear = 0.0
        self.age = 0


class _Center:
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
        self, x: tuple[float, float, float], prev: _Bin, nxt: _Bin, solar: bool
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


# ---------------------------------------------------------------- fitting

# Weight of the priors against the data: one prior standard deviation costs as
# much as a residual of this size (K). The residuals are correlated over about
# an hour and mostly model error, so they are worth far fewer independent
# observations than there are samples.
_SIGMA_REF = 0.6
_CORRELATION_BINS = 6.0  # residuals are correlated over about an hour
_OFFSET_SD = 3.0  # K, prior on a chain's initial mass temperature offset
_EMITTER0_SD = 5.0  # kW, prior on a chain's initial emitter output
_MAX_CHAINS = 12
_MIN_CHAIN_BINS = 12
_SETTLE_BINS = 3  # periods a new chain needs before its errors count (filter and fit)


@dataclass(frozen=True, slots=True)
class _Param:
    """One fitted parameter: its name in :meth:`ThermalModel.lumped`, its transform and prior."""

    name: str
    kind: str  # "log", "logit" or "linear"
    bounds: tuple[float, float]  # in model units
    prior: float  # in model units
    prior_sd: float  # in fit units (log, logit or model units / scale)
    scale: float = 1.0  # linear parameters are fitted in model units / scale

    def to_fit(self, value: float) -> float:
        lo, hi = self.bounds
        value = min(max(value, lo), hi)
        if self.kind == "log":
            return math.log(value)
        if self.kind == "logit":
            return _logit(value)
        return value / self.scale

    def from_fit(self, value: float) -> float:
        if self.kind == "log":
            return math.exp(value)
        if self.kind == "logit":
            return _sigmoid(value)
        return value * self.scale

    @property
    def fit_bounds(self) -> tuple[float, float]:
        return (self.to_fit(self.bounds[0]), self.to_fit(self.bounds[1]))

    @property
    def fit_prior(self) -> float:
        return self.to_fit(self.prior)


# The fitted parameters and their priors, around the default model. The gains
# prior is the tightest: a household gives off 200-600 W on average, and with
# the little spread of indoor-outdoor temperature difference a week brings,
# gains and heat-loss coefficient can otherwise trade against each other.
_PARAMS: tuple[_Param, ...] = (
    _Param("heat_loss_w_per_k", "log", HEAT_LOSS_BOUNDS_W_PER_K, DEFAULT_HEAT_LOSS_W_PER_K, 1.0),
    _Param("time_constant_h", "log", TIME_CONSTANT_BOUNDS_H, DEFAULT_TIME_CONSTANT_H, 1.0),
    _Param("air_fraction", "logit", AIR_FRACTION_BOUNDS, DEFAULT_AIR_FRACTION, 1.0),
    _Param("coupling", "log", COUPLING_BOUNDS, DEFAULT_COUPLING, 1.5),
    _Param("direct_loss_fraction", "logit", DIRECT_LOSS_BOUNDS, DEFAULT_DIRECT_LOSS_FRACTION, 1.5),
    _Param("emitter_lag_s", "log", EMITTER_LAG_BOUNDS_S, DEFAULT_EMITTER_LAG_S, 1.5),
    _Param("gains_w", "linear", GAINS_BOUNDS_W, DEFAULT_GAINS_W, 0.15, 1000.0),
    _Param("emitter_to_mass", "logit", (0.01, 0.9), DEFAULT_EMITTER_TO_MASS, 1.5),
)
_SOLAR = _Param("solar_aperture_m2", "linear", SOLAR_APERTURE_BOUNDS_M2, 2.0, 5.0)


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _free(solar: bool) -> tuple[_Param, ...]:
    return (*_PARAMS, _SOLAR) if solar else _PARAMS


def _theta_of(model: ThermalModel, solar: bool) -> list[float]:
    lumped = model.lumped()
    return [p.to_fit(lumped[p.name]) for p in _free(solar)]


def _model_of(theta: list[float], base: ThermalModel) -> ThermalModel:
    values = base.lumped()
    values["solar_aperture_m2"] = 0.0
    for p, v in zip(_free(len(theta) > len(_PARAMS)), theta, strict=True):
        values[p.name] = p.from_fit(v)
    h = values.pop("heat_loss_w_per_k")
    tau = values.pop("time_constant_h")
    return ThermalModel.from_lumped(h, tau, **values)


class _Chain:
    """One unbroken run of sample periods, as columns."""

    __slots__ = ("o", "q", "s", "y")

    def __init__(self, bins: list[_Bin], solar: bool) -> None:
        self.y = [b.room for b in bins]
        self.q = [b.heat for b in bins]
        self.o = [b.outside for b in bins]
        self.s = [(b.solar or 0.0) if solar else 0.0 for b in bins]


def _simulate(
    center: _Center, chain: _Chain, mass0: float, emitter0: float, out: list[float]
) -> None:
    """Append the simulated room temperature of bins ``_SETTLE_BINS + 1``.. of ``chain`` to ``out``.

    The simulation starts from the first bin's reading, the mass at
    ``mass0`` and the emitter output at ``emitter0``; the first bins, which
    the starting guess spoils most, are left out.
    """
    (a00, a01, a02), (a10, a11, a12), (_, _, a22) = center.a
    (p00, p01, p02, p03), (p10, p11, p12, p13), (p20, _, _, _) = center.b1
    (r00, r01, r02, r03), (r10, r11, r12, r13), (r20, _, _, _) = center.b2
    c0 = p02 + r02
    c1 = p12 + r12
    y, q, o, s = chain.y, chain.q, chain.o, chain.s
    x0, x1, x2 = y[0], mass0, emitter0
    qp, op, sp = q[0], o[0], s[0]
    append = out.append
    skip = _SETTLE_BINS
    for k in range(1, len(y)):
        qn, on, sn = q[k], o[k], s[k]
        n0 = (
            a00 * x0 + a01 * x1 + a02 * x2
            + p00 * qp + p01 * op + p03 * sp
            + r00 * qn + r01 * on + r03 * sn + c0
        )  # fmt: skip
        n1 = (
            a10 * x0 + a11 * x1 + a12 * x2
            + p10 * qp + p11 * op + p13 * sp
            + r10 * qn + r11 * on + r13 * sn + c1
        )  # fmt: skip
        x2 = a22 * x2 + p20 * qp + r20 * qn
        x0, x1 = n0, n1
        qp, op, sp = qn, on, sn
        if k > skip:
            append(x0)


@dataclass(frozen=True, slots=True)
class FitResult:
    """What a fit found, and how sure it is."""

    model: ThermalModel
    rmse_c: float
    """Root mean square simulation error over the window, K."""
    sd_log_heat_loss: float
    """Standard deviation of log H (about the relative error of H)."""
    sd_log_time_constant: float
    """Standard deviation of log tau."""
    samples: int
    iterations: int


def _dot(c1: tuple[int, list[float]], c2: tuple[int, list[float]]) -> float:
    """Dot product of two Jacobian columns stored as ``(first row, values)``."""
    b1, v1 = c1
    b2, v2 = c2
    lo = max(b1, b2)
    hi = min(b1 + len(v1), b2 + len(v2))
    if lo >= hi:
        return 0.0
    return float(sum(map(operator.mul, v1[lo - b1 : hi - b1], v2[lo - b2 : hi - b2])))


def _fit_model(
    chains: list[_Chain], start: ThermalModel, *, sample_s: float, solar: bool, max_iterations: int
) -> FitResult | None:
    """Fit the model to ``chains`` by regularised Levenberg-Marquardt on the output error.

    Each chain is simulated from its first bin, the mass starting in balance
    plus a fitted offset. Priors around the default model keep poorly
    excited parameters near it. None if there is too little data.
    """
    free = _free(solar)
    n_model = len(free)
    n_chains = len(chains)
    # per chain: the mass's offset from balance (K) and the emitter output at the start (kW)
    theta = _theta_of(start, solar) + [0.0] * (2 * n_chains)
    bounds = [p.fit_bounds for p in free] + [(-15.0, 15.0), (0.0, 50.0)] * n_chains
    mean = [p.fit_prior for p in free] + [0.0, 0.0] * n_chains
    sd = [p.prior_sd for p in free] + [_OFFSET_SD, _EMITTER0_SD] * n_chains
    for i, chain in enumerate(chains):
        theta[n_model + 2 * i + 1] = chain.q[0] / 2000.0
    n_p = len(theta)
    measured: list[float] = []
    spans: list[tuple[int, int]] = []
    for chain in chains:
        begin = len(measured)
        measured.extend(chain.y[1 + _SETTLE_BINS :])
        spans.append((begin, len(measured)))
    n_data = len(measured)
    if n_data < n_p * 4:
        return None

    def predict(th: list[float], only: int | None = None) -> list[float]:
        model = _model_of(th[:n_model], start)
        center = _Center(model, sample_s)
        out: list[float] = []
        for i, chain in enumerate(chains):
            if only is None or i == only:
                k = n_model + 2 * i
                mass0 = model.mass_at_rest(chain.y[0], chain.o[0]) + th[k]
                _simulate(center, chain, mass0, th[k + 1] * 1000.0, out)
        return out

    def cost_of(pred: list[float], th: list[float]) -> float:
        data = sum((m - p) ** 2 for m, p in zip(measured, pred, strict=True))
        prior = sum((_SIGMA_REF * (t - mu) / s) ** 2 for t, mu, s in zip(th, mean, sd, strict=True))
        return data + prior

    pred = predict(theta)
    cost = cost_of(pred, theta)
    lam = 1e-2
    iterations = 0
    jtj: Matrix = []
    for iterations in range(1, max_iterations + 1):  # noqa: B007
        cols: list[tuple[int, list[float]]] = []
        for j in range(n_p):
            moved = theta[:]
            if j < n_model:
                step = 1e-4
                moved[j] += step
                alt = predict(moved)
                cols.append((0, [(a - b) / step for a, b in zip(alt, pred, strict=True)]))
            else:
                step = 1e-2
                moved[j] += step
                which = (j - n_model) // 2
                alt = predict(moved, only=which)
                begin, end = spans[which]
                cols.append(
                    (begin, [(a - b) / step for a, b in zip(alt, pred[begin:end], strict=True)])
                )
        resid = (0, [m - p for m, p in zip(measured, pred, strict=True)])
        jtj = [[0.0] * n_p for _ in range(n_p)]
        jtr = [0.0] * n_p
        for j in range(n_p):
            jtr[j] = _dot(cols[j], resid)
            for k in range(j, n_p):
                jtj[j][k] = jtj[k][j] = _dot(cols[j], cols[k])
        for j in range(n_p):
            w2 = (_SIGMA_REF / sd[j]) ** 2
            jtj[j][j] += w2
            jtr[j] += w2 * (mean[j] - theta[j])
        improved = False
        for _ in range(8):
            damped = [row[:] for row in jtj]
            for j in range(n_p):
                damped[j][j] += lam * jtj[j][j]
            delta = solve_spd(damped, jtr)
            if delta is None:
                lam *= 10.0
                continue
            trial = [
                min(max(t + d, lo), hi) for t, d, (lo, hi) in zip(theta, delta, bounds, strict=True)
            ]
            trial_pred = predict(trial)
            trial_cost = cost_of(trial_pred, trial)
            if trial_cost < cost:
                gain = (cost - trial_cost) / cost
                theta, pred, cost = trial, trial_pred, trial_cost
                lam = max(lam / 3.0, 1e-7)
                improved = gain > 3e-4
                break
            lam *= 4.0
        if not improved:
            break
    model = _model_of(theta[:n_model], start)
    resid_ss = sum((m - p) ** 2 for m, p in zip(measured, pred, strict=True))
    rmse = math.sqrt(resid_ss / n_data)
    sd_h = sd_tau = 1.0
    cov = inverse_spd(jtj) if jtj else None
    if cov is not None:
        scale = max(rmse, 0.02) ** 2 * _CORRELATION_BINS
        sd_h = math.sqrt(max(0.0, cov[0][0] * scale))
        sd_tau = math.sqrt(max(0.0, cov[1][1] * scale))
    return FitResult(model, rmse, sd_h, sd_tau, n_data, iterations)


# ---------------------------------------------------------------- the learner

_KF_Q = (0.03, 0.01, 50.0)  # process noise per 10 minutes: room K, mass K, emitter W
_KF_R = 0.04  # K, noise of a sample period's mean reading
_FREE_W = 50.0  # heat below this is free-floating
_START_W = 500.0  # heat above this after a free-floating hour is a heating start
_SKILL_DAYS = 2.0
_SKILL_MIN = 12  # scored forecasts needed before the score counts
_CARRY_MASS_S = 12 * 3600.0  # after a shorter break the filter keeps its mass estimate


def _mm3(x: Matrix, y: Matrix) -> Matrix:
    return [
        [x[i][0] * y[0][j] + x[i][1] * y[1][j] + x[i][2] * y[2][j] for j in range(3)]
        for i in range(3)
    ]


class Learner:
    """Online identification of the house model (see the module docstring).

    Feed :meth:`observe` with measurements in time order, every minute or
    so (at least once per sample period). Read :attr:`model` (the learned
    model when confident, the default otherwise), :attr:`confidence`,
    :attr:`progress`, :attr:`status` and :meth:`predictor`.
    """

    def __init__(
        self, heat_source: HeatSource | None = None, config: LearnerConfig | None = None
    ) -> None:
        self.config = config or LearnerConfig()
        self.heat_source = heat_source or HeatSource()
        self.fitted: ThermalModel | None = None
        """The last fitted model, confident or not."""
        self.fit: FitResult | None = None
        """How the last fit went."""
        self.fit_ts: float | None = None
        self.counters: dict[str, int] = dict.fromkeys(
            (
                "measurements",
                "room_rejected",
                "outside_rejected",
                "out_of_order",
                "gaps",
                "frozen",
                "fits",
            ),
            0,
        )
        self._bins: deque[_Bin] = deque()
        self._n_usable = 0
        self._n_free = 0
        self._n_starts = 0
        self._quiet = 0
        self._acc: _Acc | None = None
        self._seg = 0
        self._last_ts: float | None = None
        self._last_heat: float | None = None
        self._last_room_ts: float | None = None
        self._last_room: float | None = None
        self._outside: float | None = None
        self._outside_ts: float | None = None
        self._heat_unknown_since: float | None = None
        self._room_screen = _Screen(*ROOM_RANGE, self.config.room_rate_k_per_h, 0.5)
        self._out_screen = _Screen(*OUTSIDE_RANGE, self.config.outside_rate_k_per_h, 3.0)
        self._frozen = _FrozenDetector()
        self._x: tuple[float, float, float] | None = None
        self._p: Matrix = []
        self._center: _Center | None = None
        self._skill: dict[int, deque[tuple[int, float]]] = {1: deque(), 3: deque()}
        self._factors: dict[str, float] = {}

    # ------------------------------------------------------------ input

    def observe(self, m: Measurement) -> None:
        """Take one measurement (in time order; older ones are ignored)."""
        cfg = self.config
        ts = m.ts
        if not math.isfinite(ts):
            return
        if self._last_ts is not None and ts <= self._last_ts:
            self.counters["out_of_order"] += 1
            return
        self.counters["measurements"] += 1
        heat = self.heat_source.heat_w(m)
        if heat is None:
            if self._heat_unknown_since is None:
                self._heat_unknown_since = ts
        else:
            self._heat_unknown_since = None
        if self._last_ts is not None:
            if ts - self._last_ts > cfg.max_gap_s:
                self.counters["gaps"] += 1
                self._break()
            else:
                self._integrate(self._last_ts, ts, self._last_heat)
        index = int(ts // cfg.sample_s)
        if self._acc is None or self._acc.index != index:
            if self._acc is not None:
                self._close()
            self._acc = _Acc(index)
        acc = self._acc

        room, rejected, reset = self._room_screen.check(ts, m.room_c)
        if rejected:
            self.counters["room_rejected"] += 1
        if reset:
            acc.broken = True
        if room is not None:
            step_j = 0.0
            if self._last_room_ts is not None and self._last_heat is not None:
                step_j = self._last_heat * min(ts - self._last_room_ts, cfg.max_gap_s)
            newly, since = self._frozen.update(ts, room, step_j, cfg)
            if newly:
                self.counters["frozen"] += 1
                self._drop_since(since)
            self._last_room_ts = ts
            self._last_room = room
            acc.room_sum += room
            acc.room_n += 1

        out, rejected, reset = self._out_screen.check(ts, m.outside_c)
        if rejected:
            self.counters["outside_rejected"] += 1
        if out is not None:
            acc.out_sum += out
            acc.out_n += 1
            self._outside = out
            self._outside_ts = ts
        sun = m.solar_w_m2
        if sun is not None and math.isfinite(sun) and SOLAR_RANGE[0] <= sun <= SOLAR_RANGE[1]:
            acc.sol_sum += sun
            acc.sol_n += 1
        self._last_ts = ts
        self._last_heat = heat

    def set_heat_source(self, source: HeatSource) -> None:
        """Change how heat is estimated (e.g. once OpenTherm ID 15 has been read)."""
        self.heat_source = source

    def _integrate(self, t0: float, t1: float, heat: float | None) -> None:
        dt = self.config.sample_s
        while self._acc is not None:
            acc = self._acc
            end = (acc.index + 1) * dt
            span = max(0.0, min(t1, end) - t0)
            if heat is None:
                acc.unknown_s += span
            else:
                acc.heat_j += heat * span
                acc.heat_s += span
            if t1 <= end:
                return
            t0 = end
            self._close()
            self._acc = _Acc(acc.index + 1)

    def _break(self) -> None:
        """A dropout: drop the period being filled and start a new chain."""
        self._acc = None
        self._seg += 1

    def _drop_since(self, since: float) -> None:
        """Forget the periods a frozen sensor has spoiled."""
        first = int(since // self.config.sample_s)
        while self._bins and self._bins[-1].index >= first:
            self._forget(self._bins.pop())
        if self._acc is not None:
            self._acc.broken = True
        self._seg += 1
        self._x = None

    # ------------------------------------------------------------ sample periods

    def _close(self) -> None:
        acc = self._acc
        if acc is None:
            return
        cfg = self.config
        dt = cfg.sample_s
        end = (acc.index + 1) * dt
        ok = not acc.broken and acc.room_n > 0 and acc.heat_s >= 0.8 * dt
        outside: float | None = None
        stale = False
        if acc.out_n:
            outside = acc.out_sum / acc.out_n
        elif self._outside is not None and self._outside_ts is not None:
            outside = self._outside
            stale = end - self._outside_ts > cfg.outside_hold_s
        if not ok or outside is None or self._frozen.frozen:
            self._seg += 1
            return
        prev = self._bins[-1] if self._bins else None
        if prev is not None and prev.seg == self._seg and prev.index != acc.index - 1:
            self._seg += 1
        clear = clear_sky_w_m2((acc.index + 0.5) * dt, cfg.latitude, cfg.longitude)
        solar: float | None = None
        if acc.sol_n:
            solar = acc.sol_sum / acc.sol_n
        elif cfg.clear_sky_sun:
            solar = clear
        new = _Bin(
            acc.index,
            room=acc.room_sum / acc.room_n,
            heat=acc.heat_j / acc.heat_s,
            outside=outside,
            solar=solar,
            stale=stale,
            seg=self._seg,
        )
        new.clear = clear
        self._append(prev, new)
        keep = int(cfg.window_days * 86400.0 / dt)
        while len(self._bins) > keep:
            self._forget(self._bins.popleft())
        self._track(prev, new)
        if self._should_fit(end):
            self._refit(end)
        self._factors = self._compute_factors()

    def _append(self, prev: _Bin | None, new: _Bin) -> None:
        """Add ``new`` to the window and to the excitation counts."""
        chained = _chained(prev, new)
        new.age = prev.age + 1 if chained and prev is not None else 0
        if new.stale or not chained or (prev is not None and prev.stale):
            self._quiet = 0
        if not new.stale:
            self._n_usable += 1
            if new.heat < _FREE_W:
                new.free = True
                self._n_free += 1
                self._quiet += 1
            else:
                per_hour = round(3600.0 / self.config.sample_s)
                new.quiet = self._quiet
                if new.heat >= _START_W and self._quiet >= per_hour:
                    new.start = True
                    self._n_starts += 1
                self._quiet = 0
        self._bins.append(new)

    def _forget(self, old: _Bin) -> None:
        """Take a bin that left the window out of the counts."""
        if not old.stale:
            self._n_usable -= 1
        self._n_free -= int(old.free)
        self._n_starts -= int(old.start)

    def _model_now(self) -> ThermalModel:
        return self.fitted or ThermalModel.default()

    def _center_for(self) -> _Center:
        if self._center is None:
            self._center = _Center(self._model_now(), self.config.sample_s)
        return self._center

    def _use_solar(self) -> bool:
        return bool(self._bins) and all(b.solar is not None for b in self._bins)

    def _track(self, prev: _Bin | None, new: _Bin, pos: int | None = None) -> None:
        """Kalman filter step for ``new`` (at ``pos`` in the window, default last) and its score."""
        model = self._model_now()
        solar = model.solar_aperture_m2 > 0.0 and self._use_solar()
        if self._x is None or prev is None or not _chained(prev, new):
            x_post = self._restart(model, prev, new)
        else:
            center = self._center_for()
            x = center.step(self._x, prev, new, solar)
            a = center.a
            at = [[a[j][i] for j in range(3)] for i in range(3)]
            p = _mm3(_mm3(a, self._p), at)
            scale = self.config.sample_s / 600.0
            for i, q in enumerate(_KF_Q):
                p[i][i] += q * q * scale
            s = p[0][0] + _KF_R**2
            gain = (p[0][0] / s, p[1][0] / s, p[2][0] / s)
            err = new.room - x[0]
            x_post = (x[0] + gain[0] * err, x[1] + gain[1] * err, x[2] + gain[2] * err)
            row0 = p[0]
            self._p = [[p[i][j] - gain[i] * row0[j] for j in range(3)] for i in range(3)]
        self._x = new.x = x_post
        n = len(self._bins) if pos is None else pos + 1
        if self._bins[-1].index - new.index < _SKILL_DAYS * 86400.0 / self.config.sample_s:
            self._score(n, solar)

    def _restart(
        self, model: ThermalModel, prev: _Bin | None, new: _Bin
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
            gap_s = (new.index - prev.index) * self.config.sample_s
            if gap_s <= _CARRY_MASS_S:
                keep = math.exp(-gap_s / (model.time_constants_h[1] * 3600.0))
                mass = keep * prev.x[1] + (1.0 - keep) * rest
                mass_var = 0.25 + (1.0 - keep) * 4.0
                emitter = prev.x[2] * math.exp(-gap_s / model.emitter_lag_s)
        spread = new.heat / 2.0 + 300.0
        self._p = [[_KF_R**2, 0.0, 0.0], [0.0, mass_var, 0.0], [0.0, 0.0, spread**2]]
        return (new.room, mass, emitter)

    def _score(self, n: int, solar: bool) -> None:
        """Compare bin ``n - 1`` with the forecasts made 1 h and 3 h before it."""
        bins = self._bins
        new = bins[n - 1]
        per_hour = round(3600.0 / self.config.sample_s)
        keep = int(_SKILL_DAYS * 86400.0 / self.config.sample_s)
        center = self._center_for()
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

    def _replay(self) -> None:
        """Rerun the filter and the score over the window with the current model."""
        self._center = None
        for log in self._skill.values():
            log.clear()
        self._x = None
        prev: _Bin | None = None
        for i, b in enumerate(list(self._bins)):
            self._track(prev, b, i)
            prev = b

    # ------------------------------------------------------------ fitting

    def _chains(self, solar: bool) -> list[_Chain]:
        runs: list[list[_Bin]] = []
        current: list[_Bin] = []
        for b in self._bins:
            if b.stale or (current and not _chained(current[-1], b)):
                if current:
                    runs.append(current)
                current = []
            if not b.stale:
                current.append(b)
        if current:
            runs.append(current)
        runs = [r for r in runs if len(r) >= _MIN_CHAIN_BINS]
        runs.sort(key=len, reverse=True)
        runs = sorted(runs[:_MAX_CHAINS], key=lambda r: r[0].index)
        return [_Chain(r, solar) for r in runs]

    def excitation(self) -> tuple[float, int]:
        """``(free-floating hours, heating starts)`` in the window's usable data."""
        return self._n_free * self.config.sample_s / 3600.0, self._n_starts

    def usable_hours(self) -> float:
        """Hours of usable (fresh, unbroken) data in the window."""
        return self._n_usable * self.config.sample_s / 3600.0

    def _should_fit(self, now: float) -> bool:
        cfg = self.config
        if self.usable_hours() < cfg.min_fit_hours:
            return False
        if self.fit_ts is None:
            return self._n_starts >= 2
        interval = cfg.ready_refit_s if self.ready else cfg.refit_s
        return now - self.fit_ts >= interval

    def _refit(self, now: float) -> None:
        self.fit_ts = now
        solar = self._use_solar()
        chains = self._chains(solar)
        if not chains:
            return
        cfg = self.config
        result = _fit_model(
            chains,
            self.fitted or ThermalModel.default(),
            sample_s=cfg.sample_s,
            solar=solar,
            max_iterations=cfg.max_iterations if self.fitted else cfg.first_iterations,
        )
        if result is None:
            return
        self.counters["fits"] += 1
        self.fit = result
        self.fitted = result.model
        self._replay()

    # ------------------------------------------------------------ outputs

    def skill(self) -> dict[str, float | None]:
        """Root mean square error of the learner's own 1 h and 3 h forecasts (last days), K.

        Forecasts from the filtered state with the inputs that then came,
        against the sample means. None until enough have been scored.
        """
        out: dict[str, float | None] = {}
        for hours, log in self._skill.items():
            rms = math.sqrt(sum(e for _, e in log) / len(log)) if len(log) >= _SKILL_MIN else None
            out[f"rmse_{hours}h"] = rms
        return out

    def _condition(self) -> tuple[str | None, float]:
        """The standing fault, if any, and the factor it puts on the confidence."""
        now = self._last_ts
        if now is None:
            return None, 1.0
        cfg = self.config
        if self._frozen.frozen:
            return FALLBACK_FROZEN, 0.0
        if self._last_room_ts is None or now - self._last_room_ts > cfg.max_gap_s:
            return FALLBACK_NO_ROOM, 0.0
        if self._heat_unknown_since is not None and now - self._heat_unknown_since > cfg.max_gap_s:
            return FALLBACK_NO_HEAT, 0.0
        if self._outside_ts is None or now - self._outside_ts > cfg.outside_hold_s:
            missing = now - (self._outside_ts or now) - cfg.outside_hold_s
            return FALLBACK_NO_OUTSIDE, max(0.0, 0.8 - missing / 86400.0)
        return None, 1.0

    def _compute_factors(self) -> dict[str, float]:
        fit = self.fit
        free_h, starts = self.excitation()
        rmse_1h = self.skill()["rmse_1h"]
        params = 0.0
        if fit is not None:
            spread = (fit.sd_log_heat_loss / 0.3) ** 2 + (fit.sd_log_time_constant / 0.6) ** 2
            params = math.exp(-0.5 * spread)
        return {
            "data": min(1.0, self.usable_hours() / 72.0),
            "excitation": min(1.0, starts / 4.0) * min(1.0, free_h / 12.0),
            "parameters": params,
            "residuals": _residual_factor(rmse_1h, fit),
        }

    def confidence_factors(self) -> dict[str, float]:
        """The factors whose product is :attr:`confidence`, each 0..1 (for diagnostics)."""
        factors = dict(self._factors or self._compute_factors())
        factors["condition"] = self._condition()[1]
        return factors

    @property
    def confidence(self) -> float:
        """How far the learned model can be trusted, 0..1."""
        if self.fit is None:
            return 0.0
        f = self.confidence_factors()
        return min(f["data"], f["excitation"]) * f["parameters"] * f["residuals"] * f["condition"]

    @property
    def ready(self) -> bool:
        """True when the learned model is in use."""
        return self.fitted is not None and self.confidence >= self.config.ready_confidence

    @property
    def model(self) -> ThermalModel:
        """The model to use: the learned one when confident, the default otherwise."""
        if self.fitted is not None and self.ready:
            return self.fitted
        return ThermalModel.default()

    @property
    def progress(self) -> int:
        """Learning progress for the UI, 0-100 %."""
        if self.ready:
            return 100
        free_h, starts = self.excitation()
        gathered = min(
            1.0,
            self.usable_hours() / 72.0,
            (min(1.0, starts / 4.0) + min(1.0, free_h / 12.0)) / 2.0,
        )
        trust = min(1.0, self.confidence / self.config.ready_confidence)
        return min(99, round(100.0 * (0.5 * gathered + 0.5 * trust)))

    @property
    def status(self) -> str:
        """``learning``, ``ready`` or ``fallback: <why>``."""
        fault, _ = self._condition()
        if fault is not None:
            return fault
        return STATUS_READY if self.ready else STATUS_LEARNING

    @property
    def state(self) -> ModelState | None:
        """The state of :attr:`model` at the end of the last sample period; None before any."""
        model = self.model
        if self._x is None or not self._bins:
            if self._last_room is None or self._last_ts is None:
                return None
            outside = self._outside if self._outside is not None else self._last_room - 10.0
            return ModelState.at_rest(model, self._last_ts, self._last_room, outside)
        last = self._bins[-1]
        half = model.discretize(self.config.sample_s / 2.0)
        solar = (last.solar or 0.0) if model.solar_aperture_m2 > 0.0 else 0.0
        x = half.step(self._x, last.heat, last.outside, solar)
        return ModelState((last.index + 1) * self.config.sample_s, x[0], x[1], x[2])

    @property
    def outside_c(self) -> float | None:
        """The last accepted outside temperature."""
        return self._outside

    def warmup_profile_w(self) -> tuple[float, ...]:
        """Heat the boiler delivers in a warm-up, per sample period since the start, W.

        From the warm-ups in the window (heating after 20 minutes or more
        off) that heated for a full hour, if there are two or more, else from
        all of them without their last, partly-off period: the median of each
        of the first periods (the boiler fills cold emitters), then the
        median of the rest as a plateau that holds. Before any warm-up, half
        the boiler's size (or the relay's nominal power).

        The heat of a warm-up also depends on the weather and on how cold
        the emitters are; the median takes none of that, and in a cold night
        the room tends to arrive early rather than late.
        """
        per_hour = round(3600.0 / self.config.sample_s)
        bins = list(self._bins)
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
        if profile:
            return tuple(profile)
        src = self.heat_source
        if src.relay_nominal_w is not None:
            return (src.relay_nominal_w,)
        return (0.5 * (src.max_w or ASSUMED_BOILER_W),)

    def predictor(self) -> Predictor | None:
        """Forecasting tools on :attr:`model` and :attr:`state`; None before any room reading."""
        state = self.state
        if state is None:
            return None
        outside = self._outside if self._outside is not None else state.room_c - 10.0
        return Predictor(
            model=self.model,
            state=state,
            confidence=self.confidence,
            warmup_w=self.warmup_profile_w(),
            outside_c=outside,
            warmup_step_s=self.config.sample_s,
            solar_w_m2=self.sun_forecast(),
        )

    def sun_forecast(self) -> Callable[[float], float]:
        """The irradiance to expect at a time (W/m²): clear sky times the recent sunshine ratio.

        With the clear-sky input the ratio is 1; with measured irradiance it
        is measured over clear sky in the last three days of the window.
        """
        cfg = self.config
        recent = list(self._bins)[-int(3 * 86400.0 / cfg.sample_s) :]
        clear = sum(b.clear for b in recent)
        sun = sum(b.solar or 0.0 for b in recent)
        ratio = min(1.5, sun / clear) if clear > 0.0 else 1.0
        lat, lon = cfg.latitude, cfg.longitude

        def sun_at(ts: float) -> float:
            return ratio * clear_sky_w_m2(ts, lat, lon)

        return sun_at

    def notes(self) -> tuple[str, ...]:
        """Standing caveats: assumptions the figures rest on."""
        notes = []
        if self.heat_source.assumed_size:
            notes.append(f"boiler size unknown, {ASSUMED_BOILER_W / 1000:.0f} kW assumed")
        if self._bins and not self._use_solar():
            notes.append("no solar irradiance: sun counts as unexplained gains")
        elif self._bins and not any(b.solar != b.clear for b in self._bins):
            notes.append("no measured irradiance: the sun is taken from the clear sky")
        return tuple(notes)

    def summary(self) -> dict[str, Any]:
        """The learner's outputs as JSON-able values (for the API and Home Assistant)."""
        model = self.model
        skill = self.skill()
        rmse_1h, rmse_3h = skill["rmse_1h"], skill["rmse_3h"]
        return {
            "status": self.status,
            "confidence": round(self.confidence, 3),
            "progress": self.progress,
            "learned": self.ready,
            "heat_loss_w_per_k": round(model.heat_loss_w_per_k, 1),
            "time_constant_h": round(model.time_constant_h, 1),
            "rmse_1h": None if rmse_1h is None else round(rmse_1h, 3),
            "rmse_3h": None if rmse_3h is None else round(rmse_3h, 3),
            "notes": list(self.notes()),
        }

    # ------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state, with a version, for the ``learning`` table.

        Holds the fitted model, the window of sample periods (so a restart
        loses no learning) and the screens; the period being filled is not
        kept (a restart is a gap).
        """
        bins = list(self._bins)
        fit = self.fit
        return {
            "version": LEARNER_VERSION,
            "config": self.config.to_dict(),
            "heat_source": self.heat_source.to_dict(),
            "fitted": None if self.fitted is None else self.fitted.to_dict(),
            "fit": None
            if fit is None
            else {
                "rmse_c": fit.rmse_c,
                "sd_log_heat_loss": fit.sd_log_heat_loss,
                "sd_log_time_constant": fit.sd_log_time_constant,
                "samples": fit.samples,
                "iterations": fit.iterations,
            },
            "fit_ts": self.fit_ts,
            "counters": dict(self.counters),
            "last_ts": self._last_ts,
            "last_room": self._last_room,
            "last_room_ts": self._last_room_ts,
            "outside": self._outside,
            "outside_ts": self._outside_ts,
            "seg": self._seg,
            "bins": {
                "index": [b.index for b in bins],
                "room": [round(b.room, 4) for b in bins],
                "heat": [round(b.heat, 1) for b in bins],
                "outside": [round(b.outside, 3) for b in bins],
                "solar": [None if b.solar is None else round(b.solar, 1) for b in bins],
                "stale": [int(b.stale) for b in bins],
                "seg": [b.seg for b in bins],
            },
            "screens": {"room": self._room_screen.to_dict(), "outside": self._out_screen.to_dict()},
        }

    @classmethod
    def from_dict(cls, data: object, *, heat_source: HeatSource | None = None) -> Learner:
        """A learner restored from :meth:`to_dict`.

        An unknown version or a damaged document gives a fresh learner on
        the default model. ``heat_source`` overrides the stored one.
        """
        if not isinstance(data, dict) or data.get("version") != LEARNER_VERSION:
            return cls(heat_source)
        try:
            learner = cls(
                heat_source or HeatSource.from_dict(data.get("heat_source")),
                LearnerConfig.from_dict(data.get("config")),
            )
            learner._restore(data)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            return cls(heat_source)
        return learner

    def _restore(self, data: dict[str, Any]) -> None:
        def opt_float(key: str) -> float | None:
            value = data.get(key)
            return None if value is None else float(value)

        fitted = data.get("fitted")
        if fitted is not None:
            self.fitted = ThermalModel.from_dict(fitted)
            fit = data.get("fit")
            if isinstance(fit, dict):
                self.fit = FitResult(
                    self.fitted,
                    float(fit["rmse_c"]),
                    float(fit["sd_log_heat_loss"]),
                    float(fit["sd_log_time_constant"]),
                    int(fit["samples"]),
                    int(fit["iterations"]),
                )
        self.fit_ts = opt_float("fit_ts")
        counters = data.get("counters")
        if isinstance(counters, dict):
            for key in self.counters:
                value = counters.get(key)
                if isinstance(value, int):
                    self.counters[key] = value
        self._last_ts = opt_float("last_ts")
        self._last_room = opt_float("last_room")
        self._last_room_ts = opt_float("last_room_ts")
        self._outside = opt_float("outside")
        self._outside_ts = opt_float("outside_ts")
        self._seg = int(data.get("seg", 0)) + 1
        cols = data["bins"]
        prev: _Bin | None = None
        for i in range(len(cols["index"])):
            solar = cols["solar"][i]
            b = _Bin(
                int(cols["index"][i]),
                room=float(cols["room"][i]),
                heat=float(cols["heat"][i]),
                outside=float(cols["outside"][i]),
                solar=None if solar is None else float(solar),
                stale=bool(cols["stale"][i]),
                seg=int(cols["seg"][i]),
            )
            if prev is not None and b.index <= prev.index:
                raise ValueError("sample periods out of order")
            b.clear = clear_sky_w_m2(
                (b.index + 0.5) * self.config.sample_s, self.config.latitude, self.config.longitude
            )
            self._append(prev, b)
            prev = b
        screens = data.get("screens")
        if isinstance(screens, dict):
            self._room_screen.restore(screens.get("room"))
            self._out_screen.restore(screens.get("outside"))
        self._replay()
        self._factors = self._compute_factors()


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _residual_factor(rmse_1h: float | None, fit: FitResult | None) -> float:
    """1 up to 0.15 K of 1-hour forecast error, 0 from 0.4 K.

    Without enough scored forecasts (a new learner, frequent dropouts) the
    fit's own simulation error stands in; it runs over days, so it is the
    stricter of the two.
    """
    err = rmse_1h if rmse_1h is not None else (fit.rmse_c if fit is not None else None)
    if err is None:
        return 0.0
    return min(1.0, max(0.0, (0.4 - err) / 0.25))


def _chained(prev: _Bin | None, new: _Bin) -> bool:
    """True when ``new`` directly follows ``prev`` on the same chain."""
    return prev is not None and prev.index == new.index - 1 and prev.seg == new.seg
