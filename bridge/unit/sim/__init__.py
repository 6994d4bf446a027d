"""A simulated ThermoSmart wall unit: the model (:mod:`.model`, pure) and its poll client
(:mod:`.client`, plain HTTP)."""

from __future__ import annotations

from bridge.unit.pid import STOCK_PID
from bridge.unit.sim.model import (
    CONTROL_STEP_S,
    DEFAULT_TARGET,
    SERVER_HOLD_S,
    SimUnit,
    UnitSettings,
)

__all__ = [
    "CONTROL_STEP_S",
    "DEFAULT_TARGET",
    "SERVER_HOLD_S",
    "STOCK_PID",
    "SimUnit",
    "UnitSettings",
]
