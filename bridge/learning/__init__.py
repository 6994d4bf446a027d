"""Self-learning: the house's thermal model, identified online, and forecasts from it.

Pure code: the bridge feeds :class:`Measurement` values to a
:class:`Learner`, stores :meth:`Learner.to_dict` in the ``learning`` table and
restores it with :meth:`Learner.from_dict`; forecasts, time to target and
the optimal start come from :meth:`Learner.predictor`.
"""

from __future__ import annotations

from bridge.learning.config import LEARNER_VERSION, LearnerConfig
from bridge.learning.fitting import FitResult
from bridge.learning.learner import (
    FALLBACK_FROZEN,
    FALLBACK_NO_HEAT,
    FALLBACK_NO_OUTSIDE,
    FALLBACK_NO_ROOM,
    STATUS_LEARNING,
    STATUS_READY,
    Learner,
)
from bridge.learning.model import MODEL_VERSION, ModelState, ThermalModel
from bridge.learning.predict import (
    Forecast,
    HeatToTarget,
    Predictor,
    StartPlan,
    forecast,
    optimal_start,
    safety_margin_s,
    time_to_target,
)
from bridge.learning.screening import HeatSource, Measurement, clear_sky_w_m2, heat_source_for
from bridge.learning.weather import OutsideForecast

__all__ = [
    "FALLBACK_FROZEN",
    "FALLBACK_NO_HEAT",
    "FALLBACK_NO_OUTSIDE",
    "FALLBACK_NO_ROOM",
    "LEARNER_VERSION",
    "MODEL_VERSION",
    "STATUS_LEARNING",
    "STATUS_READY",
    "FitResult",
    "Forecast",
    "HeatSource",
    "HeatToTarget",
    "Learner",
    "LearnerConfig",
    "Measurement",
    "ModelState",
    "OutsideForecast",
    "Predictor",
    "StartPlan",
    "ThermalModel",
    "clear_sky_w_m2",
    "forecast",
    "heat_source_for",
    "optimal_start",
    "safety_margin_s",
    "time_to_target",
]
