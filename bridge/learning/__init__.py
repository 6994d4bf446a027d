"""Self-learning: the house's thermal model, identified online, and forecasts from it.

Pure code: the bridge feeds :class:`Measurement` values to a
:class:`Learner`, stores :meth:`Learner.to_dict` in the ``learning`` table and
restores it with :meth:`Learner.from_dict`; forecasts, time to target and
the optimal start come from :meth:`Learner.predictor`.
"""

from __future__ import annotations

from bridge.learning.identify import (
    FALLBACK_FROZEN,
    FALLBACK_NO_HEAT,
    FALLBACK_NO_OUTSIDE,
    FALLBACK_NO_ROOM,
    LEARNER_VERSION,
    STATUS_LEARNING,
    STATUS_READY,
    FitResult,
    HeatSource,
    Learner,
    LearnerConfig,
    Measurement,
    clear_sky_w_m2,
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
    "Predictor",
    "StartPlan",
    "ThermalModel",
    "clear_sky_w_m2",
    "forecast",
    "optimal_start",
    "safety_margin_s",
    "time_to_target",
]
