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
DEFAULT_GAINS_W = 400.0
DEFAULT_EMITTER_TO_MASS = 0.2
DEFAULT_GAINS_TO_MASS = 0.5

#: Bounds that keep a model physical.
HEAT_LOSS_BOUNDS_W_PER_K = (10.0, 3000.0)
TIME_CONSTANT_BOUNDS_H = (2.0, 300.0)
AIR_FRACTION_BOUNDS = (0.01, 0.5)
DIRECT_LOSS_BOUNDS = (0.02, 0.95)
COUPLING_BOUNDS = (0.2, 50.0)
EMITTER_LAG_BOUNDS_S = (60.0, 8 * 3600.0)
GAINS_BOUNDS_W = (-1000.0, 3000.0)
SOLAR_APERTURE_BOUNDS_M2 = (0.0, 40.0)
SHARE_BOUNDS = (0.0, 1.0)

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
    emitter_to_mass: float = 0.0
    """Share of the emitter output that goes to the mass (radiation, a heated floor)."""
    gains_to_mass: float = 0.5
    """Share of internal and solar gains that goes to the mass."""
    _cache: dict[float, Discrete] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
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
        if not (0.0 <= self.emitter_to_mass <= 1.0 and 0.0 <= self.gains_to_mass <= 1.0):
            raise ValueError("heat shares must be within 0 and 1")

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
        emitter_to_mass: float = DEFAULT_EMITTER_TO_MASS,
        gains_to_mass: float = DEFAULT_GAINS_TO_MASS,
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
            emitter_to_mass=clamp(emitter_to_mass, SHARE_BOUNDS),
            gains_to_mass=clamp(gains_to_mass, SHARE_BOUNDS),
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
            "emitter_to_mass": self.emitter_to_mass,
            "gains_to_mass": self.gains_to_mass,
        }

    def mass_at_rest(self, room_c: float, outside_c: float) -> float:
        """Mass temperature when the mass is in balance between room and outside."""
        ham, hmo = self.h_air_mass_w_per_k, self.h_mass_out_w_per_k
        return (ham * room_c + hmo * outside_c) / (ham + hmo)

    def steady_state(
        self, heat_w: float, outside_c: float, solar_w_m2: float = 0.0
    ) -> tuple[float, float, float]:
        """``(room, mass, emitter)`` that ``heat_w`` holds for ever at ``outside_c``."""
        a, b = self.continuous()
        u = (heat_w, outside_c, 1.0, solar_w_m2)
        rhs = [-sum(b[i][j] * u[j] for j in range(4)) for i in range(3)]
        x = solve(a, rhs)
        return (x[0], x[1], x[2])

    def steady_room_c(self, heat_w: float, outside_c: float, solar_w_m2: float = 0.0) -> float:
        """The room temperature that ``heat_w`` holds for ever at ``outside_c``."""
        return self.steady_state(heat_w, outside_c, solar_w_m2)[0]

    def heat_to_hold_w(self, room_c: float, outside_c: float, solar_w_m2: float = 0.0) -> float:
        """Heat input (W) that holds ``room_c`` in steady state (negative: too warm already)."""
        base = self.steady_room_c(0.0, outside_c, solar_w_m2)
        per_kw = self.steady_room_c(1000.0, outside_c, solar_w_m2) - base
        return (room_c - base) / per_kw * 1000.0

    # ------------------------------------------------------------ dynamics

    def continuous(self) -> tuple[Matrix, Matrix]:
        """``(A, B)`` of ``dx/dt = A x + B u`` for ``x = (Ta, Tm, Qe)``, ``u = (Q, To, 1, S)``."""
        ca, cm, te = self.c_air_j_per_k, self.c_mass_j_per_k, self.emitter_lag_s
        hao, ham, hmo = self.h_air_out_w_per_k, self.h_air_mass_w_per_k, self.h_mass_out_w_per_k
        fe, fg = self.emitter_to_mass, self.gains_to_mass
        g, s = self.gains_w, self.solar_aperture_m2
        a = [
            [-(hao + ham) / ca, ham / ca, (1.0 - fe) / ca],
            [ham / cm, -(ham + hmo) / cm, fe / cm],
            [0.0, 0.0, -1.0 / te],
        ]
        b = [
            [0.0, hao / ca, (1.0 - fg) * g / ca, (1.0 - fg) * s / ca],
            [0.0, hmo / cm, fg * g / cm, fg * s / cm],
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
            phi, psi = _exp_and_integral(a, dt_s)
            found = Discrete(dt_s, phi, matmul(psi, b))
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
            "emitter_to_mass": self.emitter_to_mass,
            "gains_to_mass": self.gains_to_mass,
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
                emitter_to_mass=float(data.get("emitter_to_mass", 0.0)),
                gains_to_mass=float(data.get("gains_to_mass", DEFAULT_GAINS_TO_MASS)),
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

    __slots__ = ("_ahead", "a", "b", "dt_s")

    def __init__(self, dt_s: float, a: Matrix, b: Matrix) -> None:
        self.dt_s = dt_s
        self.a = a
        self.b = b
        self._ahead: dict[int, tuple[list[float], list[float]]] = {}

    def ahead(self, steps: int) -> tuple[list[float], list[float]]:
        """Room row of ``A^k`` and of ``sum(A^j B, j < k)``: the room ``k`` steps on, inputs held."""
        found = self._ahead.get(steps)
        if found is None:
            power = [[1.0 if i == j else 0.0 for j in range(3)] for i in range(3)]
            total = [[0.0] * 4 for _ in range(3)]
            for _ in range(steps):
                ab = matmul(power, self.b)
                total = [
                    [t + v for t, v in zip(tr, ar, strict=True)]
                    for tr, ar in zip(total, ab, strict=True)
                ]
                power = _mm3(power, self.a)
            found = (power[0], total[0])
            self._ahead[steps] = found
        return found

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


def _mm3(x: Matrix, y: Matrix) -> Matrix:
    """``x @ y`` for 3x3 matrices."""
    return [
        [x[i][0] * y[0][j] + x[i][1] * y[1][j] + x[i][2] * y[2][j] for j in range(3)]
        for i in range(3)
    ]


def _exp_and_integral(a: Matrix, h: float) -> tuple[Matrix, Matrix]:
    """``(exp(A h), integral of exp(A s) ds from 0 to h)`` for a 3x3 ``A``.

    Taylor series on a step scaled down to a small norm, then doubled back
    with ``Phi(2d) = Phi(d)^2`` and ``Psi(2d) = Psi(d) + Phi(d) Psi(d)``.
    """
    norm = max(sum(abs(v) for v in row) for row in a) * h
    s = max(0, math.ceil(math.log2(norm / 0.25))) if norm > 0.25 else 0
    d = h / 2.0**s
    ad = [[v * d for v in row] for row in a]
    term = [[1.0 if i == j else 0.0 for j in range(3)] for i in range(3)]
    phi = [row[:] for row in term]
    psi = [[v * d for v in row] for row in term]
    for k in range(1, 12):
        term = _mm3(term, ad)
        term = [[v / k for v in row] for row in term]
        f = d / (k + 1)
        for i in range(3):
            for j in range(3):
                phi[i][j] += term[i][j]
                psi[i][j] += term[i][j] * f
    for _ in range(s):
        ps = _mm3(phi, psi)
        psi = [[psi[i][j] + ps[i][j] for j in range(3)] for i in range(3)]
        phi = _mm3(phi, phi)
    return phi, psi


def solve(a: Matrix, b: list[float]) -> list[float]:
    """Solve ``a x = b`` by Gaussian elimination with partial pivoting."""
    n = len(a)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        if m[pivot][col] == 0.0:
            raise ValueError("singular matrix")
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            for c in range(col, n + 1):
                m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for i in reversed(range(n)):
        x[i] = (m[i][n] - sum(m[i][k] * x[k] for k in range(i + 1, n))) / m[i][i]
    return x


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
