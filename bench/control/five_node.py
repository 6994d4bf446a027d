"""An example house from outside the simulator: a five-node envelope, through the house protocol.

Run it with ``python -m bench.control --house-module bench.control.five_node:five_node``.
It is written only against the protocol (``docs/learning.md``, "Bring your own
house"): :class:`~bridge.opentherm.sim.house.HouseSpec` for the data and
:class:`~bridge.opentherm.sim.house.HouseModel` for the state, plus
``network()``, ``state()`` and ``set_state()`` so that the oracle can plan for
it. The simulator's own houses have three nodes (air, fabric, emitters); this
one splits the fabric into the furniture and partitions, and the outer walls'
inner and outer leaf with the insulation between them::

    air  -> outside           ventilation
    air  -> contents          furniture, partitions, floors (and the radiant heat)
    air  -> inner leaf        inner surface of the outer walls
    inner leaf -> outer leaf  the insulated cavity
    outer leaf -> outside     outer surface
    emitter -> air            k * (body - air) ** n, the radiant share to the contents

A 1990s semi-detached house of 120 m², insulated cavity walls, radiators
sized for 70/50 °C.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import TYPE_CHECKING

from bridge.opentherm.sim import EmitterSpec
from bridge.opentherm.sim.house import DEFAULT_INTERNAL_GAINS_W

from .oracle import RcNetwork

if TYPE_CHECKING:
    from collections.abc import Sequence

AIR, CONTENTS, INNER, OUTER, EMITTER = range(5)
"""The nodes, in the order of :meth:`FiveNodeHouse.state` and :meth:`FiveNodeSpec.network`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FiveNodeSpec:
    """The house as data (the :class:`~bridge.opentherm.sim.house.HouseSpec` protocol)."""

    name: str = "five_node_1990s"
    capacity_j_per_k: tuple[float, float, float, float, float] = (2.2e6, 8e6, 18e6, 6e6, 3.5e5)
    ventilation_w_per_k: float = 60.0
    air_contents_w_per_k: float = 900.0
    air_inner_w_per_k: float = 1500.0
    cavity_w_per_k: float = 140.0
    outer_surface_w_per_k: float = 3000.0
    emitter: EmitterSpec = field(
        default_factory=lambda: EmitterSpec(
            kind="radiators",
            capacity_j_per_k=3.5e5,
            coefficient_w=7000.0 / 40.0**1.3,
            exponent=1.3,
            effectiveness=0.9,
            radiant_fraction=0.25,
            pump_flow_kg_s=0.14,
        )
    )
    solar_aperture_m2: float = 5.0
    solar_to_air_fraction: float = 0.3
    internal_gains_w: tuple[float, ...] = DEFAULT_INTERNAL_GAINS_W
    internal_to_air_fraction: float = 0.6
    boiler_outside_sensor: bool = False
    max_flow_c: float = 75.0

    @property
    def c_air_j_per_k(self) -> float:
        return self.capacity_j_per_k[AIR]

    @property
    def heat_loss_w_per_k(self) -> float:
        """Ventilation plus the walls' three conductances in series."""
        walls = 1.0 / (
            1.0 / self.air_inner_w_per_k
            + 1.0 / self.cavity_w_per_k
            + 1.0 / self.outer_surface_w_per_k
        )
        return self.ventilation_w_per_k + walls

    def make_house(self, *, t_air: float, t_outside: float) -> FiveNodeHouse:
        return FiveNodeHouse(self, t_air=t_air, t_outside=t_outside)

    def network(self) -> RcNetwork:
        """The nodes and conductances, for the oracle."""
        sol_air, int_air = self.solar_to_air_fraction, self.internal_to_air_fraction
        return RcNetwork(
            capacity_j_per_k=self.capacity_j_per_k,
            links_w_per_k=(
                (AIR, CONTENTS, self.air_contents_w_per_k),
                (AIR, INNER, self.air_inner_w_per_k),
                (INNER, OUTER, self.cavity_w_per_k),
            ),
            to_outside_w_per_k=(
                self.ventilation_w_per_k,
                0.0,
                0.0,
                self.outer_surface_w_per_k,
                0.0,
            ),
            solar_share=(sol_air, 1.0 - sol_air, 0.0, 0.0, 0.0),
            internal_share=(int_air, 1.0 - int_air, 0.0, 0.0, 0.0),
            solar_aperture_m2=self.solar_aperture_m2,
            air=AIR,
            emitter=EMITTER,
            radiant_to=CONTENTS,
        )


class FiveNodeHouse:
    """The house's state and its explicit-Euler step (the ``HouseModel`` protocol)."""

    def __init__(self, spec: FiveNodeSpec, *, t_air: float, t_outside: float) -> None:
        self.spec = spec
        self.t = [t_air] * 5
        self.emitter_w = 0.0
        self.heat_emitted_j = 0.0
        self.heat_loss_j = 0.0
        self.solar_gain_j = 0.0
        self.internal_gain_j = 0.0
        self.settle(t_air, t_outside)

    @property
    def t_air(self) -> float:
        return self.t[AIR]

    @t_air.setter
    def t_air(self, value: float) -> None:
        self.t[AIR] = value

    @property
    def t_mass(self) -> float:
        """The outer walls' inner leaf: the fabric's representative temperature."""
        return self.t[INNER]

    @t_mass.setter
    def t_mass(self, value: float) -> None:
        self.t[INNER] = value

    @property
    def t_emitter(self) -> float:
        return self.t[EMITTER]

    @t_emitter.setter
    def t_emitter(self, value: float) -> None:
        self.t[EMITTER] = value

    def state(self) -> tuple[float, ...]:
        return tuple(self.t)

    def set_state(self, state: Sequence[float]) -> None:
        if len(state) != 5:
            raise ValueError("a five-node house has five temperatures")
        self.t = [float(v) for v in state]

    def settle(self, t_air: float, t_outside: float) -> None:
        """Steady state without heating: the walls' gradient, the contents and emitters at the air."""
        s = self.spec
        r_in, r_cav, r_out = (
            1 / s.air_inner_w_per_k,
            1 / s.cavity_w_per_k,
            1 / s.outer_surface_w_per_k,
        )
        flow = (t_air - t_outside) / (r_in + r_cav + r_out)
        self.t = [t_air, t_air, t_air - flow * r_in, t_outside + flow * r_out, t_air]

    def stored_heat_j(self) -> float:
        return sum(c * t for c, t in zip(self.spec.capacity_j_per_k, self.t, strict=True))

    def step(
        self, h: float, q_loop_w: float, t_out: float, solar_w_m2: float, internal_w: float
    ) -> None:
        s = self.spec
        e = s.emitter
        ta, tc, ti, to, te = self.t
        d = te - ta
        q_em = e.coefficient_w * math.copysign(abs(d) ** e.exponent, d)
        q_rad = q_em * e.radiant_fraction
        q_sol = s.solar_aperture_m2 * solar_w_m2
        q_sol_air = q_sol * s.solar_to_air_fraction
        q_int_air = internal_w * s.internal_to_air_fraction
        q_vent = s.ventilation_w_per_k * (ta - t_out)
        q_ac = s.air_contents_w_per_k * (ta - tc)
        q_ai = s.air_inner_w_per_k * (ta - ti)
        q_cav = s.cavity_w_per_k * (ti - to)
        q_surf = s.outer_surface_w_per_k * (to - t_out)
        c = s.capacity_j_per_k
        self.t = [
            ta + h * (q_em - q_rad + q_sol_air + q_int_air - q_vent - q_ac - q_ai) / c[AIR],
            tc + h * (q_rad + (q_sol - q_sol_air) + (internal_w - q_int_air) + q_ac) / c[CONTENTS],
            ti + h * (q_ai - q_cav) / c[INNER],
            to + h * (q_cav - q_surf) / c[OUTER],
            te + h * (q_loop_w - q_em) / c[EMITTER],
        ]
        self.emitter_w = q_em
        self.heat_emitted_j += q_em * h
        self.heat_loss_j += (q_vent + q_surf) * h
        self.solar_gain_j += q_sol * h
        self.internal_gain_j += internal_w * h


def five_node() -> FiveNodeSpec:
    """The factory ``--house-module bench.control.five_node:five_node`` calls."""
    return FiveNodeSpec()


__all__ = ["FiveNodeHouse", "FiveNodeSpec", "five_node"]
