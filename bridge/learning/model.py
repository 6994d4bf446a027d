"""The grey-box thermal model of the house: room air, building mass and an emitter lag.

States (continuous time)::

    Ca dTa/dt = Qe + G + As*S - Hao (Ta - To) - Ham (Ta - Tm)   room air (what the sensor sees)
    Cm dTm/dt = Ham (Ta - Tm) - Hmo (Tm - To)                    building mass
    tau_e dQe/dt = Q - Qe                                        emitter output, a lag of the heat input

with ``Q`` the heat input (W) estimated from what the boiler reports, ``To``
the outside temperature, ``S`` the solar irradiance (W/m²) where known and
``G`` the mean internal gains (people, appliances; W). The steady-state
heat-loss coefficient is ``H = Hao + Ham*Hmo/(Ham + Hmo)`` (W/K) and the
lumped time constant ``tau = (Ca + Cm) / H``.

The inputs ``u = (Q, To, 1, S)`` are held constant over a step (zero-order
hold); :meth:`ThermalModel.discretize` gives the exact discrete-time
matrices for a step. Everything here is pure Python: no numpy on the bridge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Any

#: Version of the JSON form of :class:`ThermalModel` and :class:`ModelState`.
MODEL_VERSION = 1

#: The safe default: a medium house.
DEFAULT_HEAT_LOSS_W_PER_K = 200.0
DEFAULT_TIME_CONSTANT_H = 30.0
DEFAULT_AIR_FRACTION = 0.1
DEFAULT_DIRECT_LOSS_FRACTION = 0.35
DEFAULT_COUPLING = 4.0
DEFAULT_EMITTER_LAG_S = 1800.0
DEFAULT_GAINS_W = 200.0

#: Bounds that keep a model physical.
HEAT_LOSS_BOUNDS_W_PER_K = (10.0, 3000.0)
TIME_CONSTANT_BOUNDS_H = (2.0, 300.0)
AIR_FRACTION_BOUNDS = (0.01, 0.5)
DIRECT_LOSS_BOUNDS = (0.02, 0.95)
COUPLING_BOUNDS = (0.2, 50.0)
EMITTER_LAG_BOUNDS_S = (60.0, 8 * 3600.0)
GAINS_BOUNDS_W = (-1000.0, 3000.0)
SOLAR_APERTURE_BOUNDS_M2 = (0.0, 40.0)

Matrix = list[list[float]]


def clamp(value: float, bounds: tuple[float, float]) -> float:
    """``value`` limited to ``bounds``."""
    return min(max(value, bounds[0]), bounds[1])


@dataclass(frozen=True, slots=True, kw_only=True)
class ThermalModel:
    """Parameters of the house model (SI units)."""

    c_air_j_per_k: float
    c_mass_j_per_k: float
    h_air_out_w_per_k: float
    h_air_mass_w_per_k: float
    h_mass_out_w_per_k: float
    emitter_lag_s: float
    gains_w: float
    solar_aperture_m2: float = 0.0
    _cache: dict[float, Discrete] = field(
        default_factory=dict, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        values = (
            self.c_air_j_per_k,
            self.c_mass_j_per_k,
            self.h_air_out_w_per_k,
            self.h_air_mass_w_per_k,
            self.h_mass_out_w_per_k,
            self.emitter_lag_s,
        )
        if not all(math.isfinite(v) and v > 0.0 for v in values):
            raise ValueError("capacities, conductances and the emitter lag must be positive")
        if not (math.isfinite(self.gains_w) and math.isfinite(self.solar_aperture_m2)):
            raise ValueError("gains and solar aperture must be finite")
        if self.solar_aperture_m2 < 0.0:
            raise ValueError("the solar aperture cannot be negative")

    # ------------------------------------------------------------ construction

    @classmethod
    def from_lumped(
        cls,
        heat_loss_w_per_k: float,
        time_constant_h: float,
        *,
        air_fraction: float = DEFAULT_AIR_FRACTION,
        direct_loss_fraction: float = DEFAULT_DIRECT_LOSS_FRACTION,
        coupling: float = DEFAULT_COUPLING,
        emitter_lag_s: float = DEFAULT_EMITTER_LAG_S,
        gains_w: float = DEFAULT_GAINS_W,
        solar_aperture_m2: float = 0.0,
    ) -> ThermalModel:
        """A model from its lumped figures, each clamped to its physical bounds.

        ``air_fraction`` is the share of the capacity in the room air,
        ``direct_loss_fraction`` the share of ``H`` that goes straight from
        the air to outside (ventilation), ``coupling`` sets the air-mass
        conductance as ``(1 + coupling)`` times the rest of ``H``.
        """
        h = clamp(heat_loss_w_per_k, HEAT_LOSS_BOUNDS_W_PER_K)
        tau = clamp(time_constant_h, TIME_CONSTANT_BOUNDS_H)
        fa = clamp(air_fraction, AIR_FRACTION_BOUNDS)
        r = clamp(direct_loss_fraction, DIRECT_LOSS_BOUNDS)
        q = clamp(coupling, COUPLING_BOUNDS)
        c = h * tau * 3600.0
        rest = h * (1.0 - r)
        return cls(
            c_air_j_per_k=c * fa,
            c_mass_j_per_k=c * (1.0 - fa),
            h_air_out_w_per_k=h * r,
            h_air_mass_w_per_k=rest * (1.0 + q),
            h_mass_out_w_per_k=rest * (1.0 + 1.0 / q),
            emitter_lag_s=clamp(emitter_lag_s, EMITTER_LAG_BOUNDS_S),
            gains_w=clamp(gains_w, GAINS_BOUNDS_W),
            solar_aperture_m2=clamp(solar_aperture_m2, SOLAR_APERTURE_BOUNDS_M2),
        )

    @classmethod
    def default(cls) -> ThermalModel:
        """The safe default used until a learned model is confident (H 200 W/K, tau 30 h)."""
        return cls.from_lumped(DEFAULT_HEAT_LOSS_W_PER_K, DEFAULT_TIME_CONSTANT_H)

    # ------------------------------------------------------------ figures

    @property
    def heat_loss_w_per_k(self) -> float:
        """Steady-state heat-loss coefficient H, W/K."""
        ham, hmo = self.h_air_mass_w_per_k, self.h_mass_out_w_per_k
        return self.h_air_out_w_per_k + ham * hmo / (ham + hmo)

    @property
    def capacity_j_per_k(self) -> float:
        """Air and mass capacity together, J/K."""
        return self.c_air_j_per_k + self.c_mass_j_per_k

    @property
    def time_constant_h(self) -> float:
        """Lumped time constant C/H, h."""
        return self.capacity_j_per_k / self.heat_loss_w_per_k / 3600.0

    @property
    def time_constants_h(self) -> tuple[float, float]:
        """``(fast, slow)`` time constants of the free-floating air-mass system, h."""
        ca, cm = self.c_air_j_per_k, self.c_mass_j_per_k
        hao, ham, hmo = self.h_air_out_w_per_k, self.h_air_mass_w_per_k, self.h_mass_out_w_per_k
        a1 = (hao + ham) / ca
        a2 = (ham + hmo) / cm
        b = ham * ham / (ca * cm)
        disc = math.sqrt((a1 - a2) ** 2 + 4.0 * b)
        return 2.0 / ((a1 + a2) + disc) / 3600.0, 2.0 / ((a1 + a2) - disc) / 3600.0

    def lumped(self) -> dict[str, float]:
        """The figures :meth:`from_lumped` takes, recovered from the parameters."""
        h = self.heat_loss_w_per_k
        rest = h - self.h_air_out_w_per_k
        return {
            "heat_loss_w_per_k": h,
            "time_constant_h": self.time_constant_h,
            "air_fraction": self.c_air_j_per_k / self.capacity_j_per_k,
            "direct_loss_fraction": self.h_air_out_w_per_k / h,
            "coupling": self.h_air_mass_w_per_k / rest - 1.0,
            "emitter_lag_s": self.emitter_lag_s,
            "gains_w": self.gains_w,
            "solar_aperture_m2": self.solar_aperture_m2,
        }

    def mass_at_rest(self, room_c: float, outside_c: float) -> float:
        """Mass temperature when the mass is in balance between room and outside."""
        ham, hmo = self.h_air_mass_w_per_k, self.h_mass_out_w_per_k
        return (ham * room_c + hmo * outside_c) / (ham + hmo)

    def steady_room_c(self, heat_w: float, outside_c: float, solar_w_m2: float = 0.0) -> float:
        """The room temperature that ``heat_w`` holds for ever at ``outside_c``."""
        gain = heat_w + self.gains_w + self.solar_aperture_m2 * solar_w_m2
        return outside_c + gain / self.heat_loss_w_per_k

    def heat_to_hold_w(self, room_c: float, outside_c: float, solar_w_m2: float = 0.0) -> float:
        """Heat input (W) that holds ``room_c`` in steady state (may be negative)."""
        gain = self.gains_w + self.solar_aperture_m2 * solar_w_m2
        return self.heat_loss_w_per_k * (room_c - outside_c) - gain

    # ------------------------------------------------------------ dynamics

    def continuous(self) -> tuple[Matrix, Matrix]:
        """``(A, B)`` of ``dx/dt = A x + B u`` for ``x = (Ta, Tm, Qe)``, ``u = (Q, To, 1, S)``."""
        ca, cm, te = self.c_air_j_per_k, self.c_mass_j_per_k, self.emitter_lag_s
        hao, ham, hmo = self.h_air_out_w_per_k, self.h_air_mass_w_per_k, self.h_mass_out_w_per_k
        a = [
            [-(hao + ham) / ca, ham / ca, 1.0 / ca],
            [ham / cm, -(ham + hmo) / cm, 0.0],
            [0.0, 0.0, -1.0 / te],
        ]
        b = [
            [0.0, hao / ca, self.gains_w / ca, self.solar_aperture_m2 / ca],
            [0.0, hmo / cm, 0.0, 0.0],
            [1.0 / te, 0.0, 0.0, 0.0],
        ]
        return a, b

    def discretize(self, dt_s: float) -> Discrete:
        """Exact zero-order-hold matrices for a step of ``dt_s`` seconds (cached)."""
        found = self._cache.get(dt_s)
        if found is None:
            if not dt_s > 0.0:
                raise ValueError("the step must be positive")
            a, b = self.continuous()
            n, m = 3, 4
            aug = [[0.0] * (n + m) for _ in range(n + m)]
            for i in range(n):
                for j in range(n):
                    aug[i][j] = a[i][j] * dt_s
                for j in range(m):
                    aug[i][n + j] = b[i][j] * dt_s
            e = expm(aug)
            found = Discrete(
                dt_s,
                [row[:n] for row in e[:n]],
                [row[n:] for row in e[:n]],
            )
            if len(self._cache) > 16:
                self._cache.clear()
            self._cache[dt_s] = found
        return found

    # ------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, with a version."""
        return {
            "version": MODEL_VERSION,
            "c_air_j_per_k": self.c_air_j_per_k,
            "c_mass_j_per_k": self.c_mass_j_per_k,
            "h_air_out_w_per_k": self.h_air_out_w_per_k,
            "h_air_mass_w_per_k": self.h_air_mass_w_per_k,
            "h_mass_out_w_per_k": self.h_mass_out_w_per_k,
            "emitter_lag_s": self.emitter_lag_s,
            "gains_w": self.gains_w,
            "solar_aperture_m2": self.solar_aperture_m2,
        }

    @classmethod
    def from_dict(cls, data: object) -> ThermalModel:
        """The model stored by :meth:`to_dict`; the default model for anything else."""
        if not isinstance(data, dict) or data.get("version") != MODEL_VERSION:
            return cls.default()
        try:
            model = cls(
                c_air_j_per_k=float(data["c_air_j_per_k"]),
                c_mass_j_per_k=float(data["c_mass_j_per_k"]),
                h_air_out_w_per_k=float(data["h_air_out_w_per_k"]),
                h_air_mass_w_per_k=float(data["h_air_mass_w_per_k"]),
                h_mass_out_w_per_k=float(data["h_mass_out_w_per_k"]),
                emitter_lag_s=float(data["emitter_lag_s"]),
                gains_w=float(data["gains_w"]),
                solar_aperture_m2=float(data.get("solar_aperture_m2", 0.0)),
            )
        except (KeyError, TypeError, ValueError):
            return cls.default()
        lumped = model.lumped()
        h, tau = lumped["heat_loss_w_per_k"], lumped["time_constant_h"]
        lo_h, hi_h = HEAT_LOSS_BOUNDS_W_PER_K
        lo_t, hi_t = TIME_CONSTANT_BOUNDS_H
        if not (lo_h <= h <= hi_h and lo_t <= tau <= hi_t):
            return cls.default()
        return model


class Discrete:
    """``x' = A x + B u`` over one step of ``dt_s`` seconds."""

    __slots__ = ("a", "b", "dt_s")

    def __init__(self, dt_s: float, a: Matrix, b: Matrix) -> None:
        self.dt_s = dt_s
        self.a = a
        self.b = b

    def step(
        self, x: tuple[float, float, float], heat_w: float, outside_c: float, solar: float = 0.0
    ) -> tuple[float, float, float]:
        """The state after one step with the inputs held."""
        a, b = self.a, self.b
        x0, x1, x2 = x
        return (
            a[0][0] * x0
            + a[0][1] * x1
            + a[0][2] * x2
            + b[0][0] * heat_w
            + b[0][1] * outside_c
            + b[0][2]
            + b[0][3] * solar,
            a[1][0] * x0
            + a[1][1] * x1
            + a[1][2] * x2
            + b[1][0] * heat_w
            + b[1][1] * outside_c
            + b[1][2]
            + b[1][3] * solar,
            a[2][0] * x0
            + a[2][1] * x1
            + a[2][2] * x2
            + b[2][0] * heat_w
            + b[2][1] * outside_c
            + b[2][2]
            + b[2][3] * solar,
        )


@dataclass(frozen=True, slots=True)
class ModelState:
    """The model's state at time ``ts``: room air, mass (°C) and emitter output (W)."""

    ts: float
    room_c: float
    mass_c: float
    emitter_w: float

    @property
    def vector(self) -> tuple[float, float, float]:
        """``(room_c, mass_c, emitter_w)``."""
        return (self.room_c, self.mass_c, self.emitter_w)

    @classmethod
    def at_rest(
        cls, model: ThermalModel, ts: float, room_c: float, outside_c: float, heat_w: float = 0.0
    ) -> ModelState:
        """A state guessed from the room alone: mass in balance, emitter at the heat input."""
        return cls(ts, room_c, model.mass_at_rest(room_c, outside_c), heat_w)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, with a version."""
        return {
            "version": MODEL_VERSION,
            "ts": self.ts,
            "room_c": self.room_c,
            "mass_c": self.mass_c,
            "emitter_w": self.emitter_w,
        }

    @classmethod
    def from_dict(cls, data: object) -> ModelState | None:
        """The state stored by :meth:`to_dict`; None for anything else."""
        if not isinstance(data, dict) or data.get("version") != MODEL_VERSION:
            return None
        try:
            values = [float(data[k]) for k in ("ts", "room_c", "mass_c", "emitter_w")]
        except (KeyError, TypeError, ValueError):
            return None
        if not all(math.isfinite(v) for v in values):
            return None
        return cls(*values)


# ---------------------------------------------------------------- small linear algebra


def matmul(a: Matrix, b: Matrix) -> Matrix:
    """``a @ b``."""
    bt = list(zip(*b, strict=True))
    return [[sum(x * y for x, y in zip(row, col, strict=True)) for col in bt] for row in a]


def expm(m: Matrix) -> Matrix:
    """Matrix exponential by scaling and squaring with a Taylor series."""
    n = len(m)
    norm = max(sum(abs(v) for v in row) for row in m)
    s = max(0, math.ceil(math.log2(norm / 0.25))) if norm > 0.25 else 0
    scale = 2.0**-s
    a = [[v * scale for v in row] for row in m]
    result = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
    term = [row[:] for row in result]
    for k in range(1, 13):
        term = matmul(term, a)
        term = [[v / k for v in row] for row in term]
        result = [[r + t for r, t in zip(rr, tr, strict=True)] for rr, tr in zip(result, term, strict=True)]
    for _ in range(s):
        result = matmul(result, result)
    return result


def solve_spd(a: Matrix, b: list[float]) -> list[float] | None:
    """Solve ``a x = b`` for a symmetric positive definite ``a`` (Cholesky); None if it is not."""
    n = len(a)
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = a[i][j] - sum(low[i][k] * low[j][k] for k in range(j))
            if i == j:
                if not s > 0.0:
                    return None
                low[i][i] = math.sqrt(s)
            else:
                low[i][j] = s / low[j][j]
    y = [0.0] * n
    for i in range(n):
        y[i] = (b[i] - sum(low[i][k] * y[k] for k in range(i))) / low[i][i]
    x = [0.0] * n
    for i in reversed(range(n)):
        x[i] = (y[i] - sum(low[k][i] * x[k] for k in range(i + 1, n))) / low[i][i]
    return x


def inverse_spd(a: Matrix) -> Matrix | None:
    """Inverse of a symmetric positive definite matrix; None if it is not."""
    n = len(a)
    cols: list[list[float]] = []
    for j in range(n):
        e = [1.0 if i == j else 0.0 for i in range(n)]
        x = solve_spd(a, e)
        if x is None:
            return None
        cols.append(x)
    return [[cols[j][i] for j in range(n)] for i in range(n)]
