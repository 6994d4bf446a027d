"""Fitting the house model to the window of sample periods.

Every 12 hours while learning, daily once ready, the learner refits the
model on a sliding window (10 days by default) by regularised
Levenberg-Marquardt on the simulation (output) error, which unlike an
equation-error fit is not biased by the sensor noise and sees the slow
building mass. The window's longest unbroken runs (:func:`chains_of`) are
the data; priors around the default model keep poorly excited parameters
near it. :func:`fit_model` returns a :class:`FitResult`.

Pure code: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import operator
from typing import TYPE_CHECKING

from bridge.learning.binning import Bin, Center, chained
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
    ThermalModel,
    inverse_spd,
    solve_spd,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

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

    def __init__(self, bins: list[Bin], solar: bool) -> None:
        self.y = [b.room for b in bins]
        self.q = [b.heat for b in bins]
        self.o = [b.outside for b in bins]
        self.s = [(b.solar or 0.0) if solar else 0.0 for b in bins]


def _simulate(
    center: Center, chain: _Chain, mass0: float, emitter0: float, out: list[float]
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


def fit_model(
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
        center = Center(model, sample_s)
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


def chains_of(bins: Iterable[Bin], solar: bool) -> list[_Chain]:
    """The window's unbroken runs of fresh bins that are long enough, the longest ones, in order."""
    runs: list[list[Bin]] = []
    current: list[Bin] = []
    for b in bins:
        if b.stale or (current and not chained(current[-1], b)):
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
