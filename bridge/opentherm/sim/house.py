"""The simulated house: a grey-box thermal model with its heat emitters.

Three heat capacities (nodes):

* **air**: room air plus furniture and light partitions, ``t_air``;
* **mass**: the building fabric (floors, inner walls, inner leaf), ``t_mass``;
* **emitter**: radiator water and steel, or underfloor water and screed,
  ``t_emitter``. The boiler's water loop passes through it (see
  :mod:`bridge.opentherm.sim.boiler_physics`).

Heat flows (W), with conductances in W/K::

    air  -> outside   h_air_out   * (t_air  - t_out)     ventilation, windows, draughts
    air  -> mass      h_air_mass  * (t_air  - t_mass)    inner surfaces
    mass -> outside   h_mass_out  * (t_mass - t_out)     opaque envelope
    emitter -> room   k * |t_emitter - t_air| ** n       n ~ 1.3 radiators, ~ 1.1 underfloor

The emitter output is split into a convective part (to air) and a radiant
part (to mass). Solar gain is ``solar_aperture_m2 * irradiance``; solar and
internal gains are split between air and mass too.

Profiles are data (:data:`PROFILES`); their true parameters (heat-loss
coefficient, time constants) are properties for scoring a learner.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import random
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Hourly internal gains (W) of an ordinary household: people, cooking, appliances.
DEFAULT_INTERNAL_GAINS_W: tuple[float, ...] = (
    150, 150, 150, 150, 150, 150, 250, 450, 350, 200, 200, 200,
    200, 200, 200, 200, 250, 450, 600, 500, 450, 400, 300, 200,
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class EmitterSpec:
    """The heat emitters and the water loop through them.

    ``coefficient_w`` and ``exponent`` give the output ``k * dT ** n`` with
    dT the emitter body temperature above the room. Loop water passes the
    body with heat-exchange ``effectiveness`` (return = flow - eff * (flow -
    body)) at ``pump_flow_kg_s``.
    """

    kind: str
    capacity_j_per_k: float
    coefficient_w: float
    exponent: float
    effectiveness: float
    radiant_fraction: float
    pump_flow_kg_s: float

    def output_w(self, body_c: float, room_c: float) -> float:
        """Heat output to the room at a body temperature."""
        d = body_c - room_c
        if d >= 0.0:
            return self.coefficient_w * math.pow(d, self.exponent)
        return -self.coefficient_w * math.pow(-d, self.exponent)

    @property
    def loop_conductance_w_per_k(self) -> float:
        """Heat taken up by the body per kelvin of flow above body, pump running."""
        return self.pump_flow_kg_s * WATER_J_PER_KG_K * self.effectiveness


WATER_J_PER_KG_K = 4186.0


class HouseModel(Protocol):
    """A house's state as :class:`~bridge.opentherm.sim.SimWorld` drives it.

    Temperatures in °C, heat counters in J since the start. The world sets
    nothing but calls :meth:`step` every physics step; the control benchmark's
    ideal heater also sets ``t_air`` (heat straight into the room air).
    """

    t_air: float
    """The room air: what the room sensor follows."""
    t_mass: float
    """The building fabric (one representative temperature, for the truth record)."""
    t_emitter: float
    """The emitter body (radiators or floor): the boiler's loop gives its heat to it."""
    emitter_w: float
    """The emitters' output over the last step, W."""
    heat_emitted_j: float
    heat_loss_j: float
    solar_gain_j: float
    internal_gain_j: float

    def settle(self, t_air: float, t_outside: float) -> None:
        """Put the house in steady state with the air at ``t_air`` and no heating."""
        ...

    def stored_heat_j(self) -> float:
        """Heat stored in all its nodes relative to 0 °C (the energy book's other side)."""
        ...

    def step(
        self, h: float, q_loop_w: float, t_out: float, solar_w_m2: float, internal_w: float
    ) -> None:
        """Advance ``h`` seconds with ``q_loop_w`` watts from the boiler's loop into the emitter."""
        ...


class HouseSpec(Protocol):
    """A house as data: what the world, the boiler and the benchmark read, and its state's maker.

    :class:`HouseProfile` is one; a house from outside the project (see
    ``docs/learning.md``) is another.
    """

    @property
    def name(self) -> str: ...

    @property
    def emitter(self) -> EmitterSpec:
        """The emitters' kind and law and the loop (pump flow, effectiveness) the boiler sees."""
        ...

    @property
    def internal_gains_w(self) -> Sequence[float]:
        """The household's free heat per local hour (24 values), W."""
        ...

    @property
    def boiler_outside_sensor(self) -> bool:
        """Whether the boiler has an outside sensor (OpenTherm ID 27)."""
        ...

    @property
    def max_flow_c(self) -> float:
        """The installer's max CH setpoint (ID 57 at start-up)."""
        ...

    @property
    def heat_loss_w_per_k(self) -> float:
        """Steady-state heat loss from the room air to outside, W/K."""
        ...

    @property
    def c_air_j_per_k(self) -> float:
        """The room air node's heat capacity, J/K."""
        ...

    def make_house(self, *, t_air: float, t_outside: float) -> HouseModel:
        """A fresh state, settled with the air at ``t_air`` and no heating."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class HouseProfile:
    """One house, as data."""

    name: str
    description: str
    c_air_j_per_k: float
    c_mass_j_per_k: float
    h_air_out_w_per_k: float
    h_air_mass_w_per_k: float
    h_mass_out_w_per_k: float
    emitter: EmitterSpec
    solar_aperture_m2: float
    solar_to_air_fraction: float = 0.3
    internal_gains_w: tuple[float, ...] = DEFAULT_INTERNAL_GAINS_W
    internal_to_air_fraction: float = 0.6
    boiler_outside_sensor: bool = False
    max_flow_c: float = 80.0
    """The installer's max CH setpoint on the boiler (ID 57 at start-up)."""

    @property
    def heat_loss_w_per_k(self) -> float:
        """Steady-state heat-loss coefficient from the room air to outside."""
        h_am, h_mo = self.h_air_mass_w_per_k, self.h_mass_out_w_per_k
        return self.h_air_out_w_per_k + h_am * h_mo / (h_am + h_mo)

    @property
    def total_capacity_j_per_k(self) -> float:
        """Air, mass and emitter capacities together."""
        return self.c_air_j_per_k + self.c_mass_j_per_k + self.emitter.capacity_j_per_k

    @property
    def time_constant_h(self) -> float:
        """The lumped (1R1C) time constant: total capacity over heat-loss coefficient."""
        return self.total_capacity_j_per_k / self.heat_loss_w_per_k / 3600.0

    @property
    def time_constants_h(self) -> tuple[float, float]:
        """``(fast, slow)`` time constants of the free-floating 2R2C model, h.

        The emitter capacity counts with the air for radiators and with the
        mass for underfloor heating.
        """
        ca = self.c_air_j_per_k
        cm = self.c_mass_j_per_k
        if self.emitter.kind == "underfloor":
            cm += self.emitter.capacity_j_per_k
        else:
            ca += self.emitter.capacity_j_per_k
        h_ao, h_am, h_mo = self.h_air_out_w_per_k, self.h_air_mass_w_per_k, self.h_mass_out_w_per_k
        a1 = (h_ao + h_am) / ca
        a2 = (h_am + h_mo) / cm
        b = h_am * h_am / (ca * cm)
        disc = math.sqrt((a1 - a2) ** 2 + 4.0 * b)
        lam_fast = ((a1 + a2) + disc) / 2.0
        lam_slow = ((a1 + a2) - disc) / 2.0
        return 1.0 / lam_fast / 3600.0, 1.0 / lam_slow / 3600.0

    def design_load_w(self, room_c: float = 20.0, outside_c: float = -10.0) -> float:
        """Steady heat loss at design conditions."""
        return self.heat_loss_w_per_k * (room_c - outside_c)

    def make_house(self, *, t_air: float, t_outside: float) -> House:
        """A fresh :class:`House` of this profile."""
        return House(self, t_air=t_air, t_outside=t_outside)


def _mass_out_for(total: float, h_air_out: float, h_air_mass: float) -> float:
    """The mass-to-outside conductance that makes the heat-loss coefficient ``total``."""
    rest = total - h_air_out
    return rest * h_air_mass / (h_air_mass - rest)


def _profile(
    name: str,
    description: str,
    *,
    heat_loss: float,
    h_air_out: float,
    h_air_mass: float,
    c_air: float,
    c_mass: float,
    emitter: EmitterSpec,
    solar_aperture_m2: float,
    boiler_outside_sensor: bool,
    max_flow_c: float = 80.0,
) -> HouseProfile:
    return HouseProfile(
        name=name,
        description=description,
        c_air_j_per_k=c_air,
        c_mass_j_per_k=c_mass,
        h_air_out_w_per_k=h_air_out,
        h_air_mass_w_per_k=h_air_mass,
        h_mass_out_w_per_k=_mass_out_for(heat_loss, h_air_out, h_air_mass),
        emitter=emitter,
        solar_aperture_m2=solar_aperture_m2,
        boiler_outside_sensor=boiler_outside_sensor,
        max_flow_c=max_flow_c,
    )


def _radiators(
    *, design_w: float, design_dt_k: float, capacity: float, pump_kg_s: float
) -> EmitterSpec:
    exponent = 1.3
    return EmitterSpec(
        kind="radiators",
        capacity_j_per_k=capacity,
        coefficient_w=design_w / design_dt_k**exponent,
        exponent=exponent,
        effectiveness=0.9,
        radiant_fraction=0.25,
        pump_flow_kg_s=pump_kg_s,
    )


#: The house profiles, by name.
PROFILES: dict[str, HouseProfile] = {
    p.name: p
    for p in (
        _profile(
            "new_build",
            "well-insulated 2020 terraced house, 130 m², heat-recovery ventilation, "
            "low-temperature radiators",
            heat_loss=110.0,
            h_air_out=35.0,
            h_air_mass=1000.0,
            c_air=2.5e6,
            c_mass=30e6,
            emitter=_radiators(design_w=3960.0, design_dt_k=15.0, capacity=3.0e5, pump_kg_s=0.12),
            solar_aperture_m2=6.0,
            boiler_outside_sensor=True,
        ),
        _profile(
            "terraced_1970s",
            "1970s terraced house, 110 m², cavity walls, double glazing, radiators "
            "sized for 80/60 °C",
            heat_loss=230.0,
            h_air_out=90.0,
            h_air_mass=700.0,
            c_air=2.0e6,
            c_mass=22e6,
            emitter=_radiators(design_w=8280.0, design_dt_k=40.0, capacity=4.0e5, pump_kg_s=0.15),
            solar_aperture_m2=4.0,
            boiler_outside_sensor=False,
        ),
        _profile(
            "old_draughty",
            "1930s detached house, 140 m², solid walls, draughty frames, large "
            "radiators sized for 90/70 °C",
            heat_loss=420.0,
            h_air_out=220.0,
            h_air_mass=900.0,
            c_air=3.0e6,
            c_mass=35e6,
            emitter=_radiators(design_w=15600.0, design_dt_k=50.0, capacity=6.2e5, pump_kg_s=0.25),
            solar_aperture_m2=3.5,
            boiler_outside_sensor=False,
        ),
        _profile(
            "underfloor",
            "2010s detached house, 140 m², underfloor heating in a 6 cm screed over 70 m²",
            heat_loss=150.0,
            h_air_out=50.0,
            h_air_mass=1200.0,
            c_air=2.5e6,
            c_mass=30e6,
            emitter=EmitterSpec(
                kind="underfloor",
                capacity_j_per_k=8.7e6,
                coefficient_w=756.0,
                exponent=1.1,
                effectiveness=0.75,
                radiant_fraction=0.6,
                pump_flow_kg_s=0.2,
            ),
            solar_aperture_m2=6.0,
            boiler_outside_sensor=True,
            max_flow_c=50.0,
        ),
    )
}

PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)


def get_profile(name: str) -> HouseProfile:
    """The profile called ``name``; ValueError names the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown house profile {name!r}; known: {', '.join(PROFILE_NAMES)}"
        ) from None


class House:
    """The state of a house and its explicit-Euler step.

    The step is stable for steps up to a few minutes (the fastest node,
    the room air, has a time constant of a quarter of an hour or more).
    Energy is kept exactly: every flow is computed once and booked on both
    sides.
    """

    def __init__(self, profile: HouseProfile, *, t_air: float, t_outside: float) -> None:
        self.profile = profile
        e = profile.emitter
        self._c_air = profile.c_air_j_per_k
        self._c_mass = profile.c_mass_j_per_k
        self._c_em = e.capacity_j_per_k
        self._h_ao = profile.h_air_out_w_per_k
        self._h_am = profile.h_air_mass_w_per_k
        self._h_mo = profile.h_mass_out_w_per_k
        self._k = e.coefficient_w
        self._n = e.exponent
        self._rad = e.radiant_fraction
        self._sol_air = profile.solar_to_air_fraction
        self._int_air = profile.internal_to_air_fraction
        self._aperture = profile.solar_aperture_m2
        self.t_air = t_air
        self.t_mass = t_air
        self.t_emitter = t_air
        self.emitter_w = 0.0
        self.heat_emitted_j = 0.0
        self.heat_loss_j = 0.0
        self.solar_gain_j = 0.0
        self.internal_gain_j = 0.0
        self.settle(t_air, t_outside)

    def settle(self, t_air: float, t_outside: float) -> None:
        """Put the fabric in steady state with the air at ``t_air`` and no heating."""
        h_am, h_mo = self._h_am, self._h_mo
        self.t_air = t_air
        self.t_mass = (h_am * t_air + h_mo * t_outside) / (h_am + h_mo)
        self.t_emitter = t_air

    def stored_heat_j(self) -> float:
        """Heat stored in the three nodes, relative to 0 °C."""
        return self._c_air * self.t_air + self._c_mass * self.t_mass + self._c_em * self.t_emitter

    def step(
        self, h: float, q_loop_w: float, t_out: float, solar_w_m2: float, internal_w: float
    ) -> None:
        """Advance ``h`` seconds with ``q_loop_w`` watts from the water loop into the emitter."""
        ta, tm, te = self.t_air, self.t_mass, self.t_emitter
        d = te - ta
        q_em = self._k * d**self._n if d >= 0.0 else -self._k * (-d) ** self._n
        q_sol = self._aperture * solar_w_m2
        q_ao = self._h_ao * (ta - t_out)
        q_am = self._h_am * (ta - tm)
        q_mo = self._h_mo * (tm - t_out)
        q_em_mass = q_em * self._rad
        q_sol_air = q_sol * self._sol_air
        q_int_air = internal_w * self._int_air
        self.t_air = (
            ta + h * ((q_em - q_em_mass) + q_sol_air + q_int_air - q_ao - q_am) / self._c_air
        )
        self.t_mass = (
            tm
            + h
            * (q_em_mass + (q_sol - q_sol_air) + (internal_w - q_int_air) + q_am - q_mo)
            / self._c_mass
        )
        self.t_emitter = te + h * (q_loop_w - q_em) / self._c_em
        self.emitter_w = q_em
        self.heat_emitted_j += q_em * h
        self.heat_loss_j += (q_ao + q_mo) * h
        self.solar_gain_j += q_sol * h
        self.internal_gain_j += internal_w * h


class RoomSensor:
    """The room thermometer a real bridge reads: a lag, noise, 0.1 °C steps.

    ``lag_s`` is the sensor housing's first-order time constant; the reading
    is the lagged temperature plus ``offset_c`` plus Gaussian noise of
    ``noise_sd_c``, rounded to ``resolution_c``. The noise comes from its own
    seeded generator, so reading the sensor never changes the physics.
    """

    def __init__(
        self,
        seed: int,
        t_initial: float,
        *,
        lag_s: float = 300.0,
        noise_sd_c: float = 0.05,
        offset_c: float = 0.0,
        resolution_c: float = 0.1,
    ) -> None:
        self._rng = random.Random(f"thermosmart-room-sensor:{seed}")
        self.lag_s = lag_s
        self.noise_sd_c = noise_sd_c
        self.offset_c = offset_c
        self.resolution_c = resolution_c
        self.t_sensor = t_initial
        self._h = -1.0
        self._alpha = 1.0

    def update(self, t_air: float, h: float) -> None:
        """Follow the air temperature for ``h`` seconds."""
        if h != self._h:
            self._h = h
            self._alpha = 1.0 if self.lag_s <= 0.0 else 1.0 - math.exp(-h / self.lag_s)
        self.t_sensor += (t_air - self.t_sensor) * self._alpha

    def read(self) -> float:
        """One reading, °C."""
        value = self.t_sensor + self.offset_c + self._rng.gauss(0.0, self.noise_sd_c)
        steps = round(value / self.resolution_c)
        return round(steps * self.resolution_c, 6)
