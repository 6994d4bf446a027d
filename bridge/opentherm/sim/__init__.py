"""The simulated boiler and house behind ``sim://``.

One physical model for the demo mode, the tests and the benchmarks: a
grey-box house with its emitters (:mod:`.house`), a modulating condensing
boiler that answers OpenTherm (:mod:`.boiler`; its physics in :mod:`.boiler_physics`,
its spec in :mod:`.boiler_spec`), seeded or measured weather
(:mod:`.weather`), household hot-water taps (:mod:`.taps`), all advanced
together on simulated time by :class:`SimWorld` (:mod:`.world`).
"""

from __future__ import annotations

from bridge.opentherm.sim.boiler import SUPPORTED_IDS, Boiler
from bridge.opentherm.sim.boiler_spec import (
    BEST_EFFICIENCY,
    BoilerSpec,
    LinkFault,
    OemCode,
    efficiency,
)
from bridge.opentherm.sim.house import (
    PROFILE_NAMES,
    PROFILES,
    EmitterSpec,
    House,
    HouseModel,
    HouseProfile,
    HouseSpec,
    RoomSensor,
    get_profile,
)
from bridge.opentherm.sim.scaled_clock import ScaledClock
from bridge.opentherm.sim.taps import TapSchedule
from bridge.opentherm.sim.weather import (
    ConstantWeather,
    CsvWeather,
    SyntheticWeather,
    WeatherSource,
)
from bridge.opentherm.sim.world import (
    DEFAULT_SEED,
    DEFAULT_START,
    PHYSICS_STEP_S,
    SimTruth,
    SimWorld,
)

__all__ = [
    "BEST_EFFICIENCY",
    "DEFAULT_SEED",
    "DEFAULT_START",
    "PHYSICS_STEP_S",
    "PROFILES",
    "PROFILE_NAMES",
    "SUPPORTED_IDS",
    "Boiler",
    "BoilerSpec",
    "ConstantWeather",
    "CsvWeather",
    "EmitterSpec",
    "House",
    "HouseModel",
    "HouseProfile",
    "HouseSpec",
    "LinkFault",
    "OemCode",
    "RoomSensor",
    "ScaledClock",
    "SimTruth",
    "SimWorld",
    "SyntheticWeather",
    "TapSchedule",
    "WeatherSource",
    "efficiency",
    "get_profile",
]
