"""The learner's tuning, and the version of the learner's JSON form.

Pure code: the defaults suit a real installation; the benchmark and the
tests shorten the periods.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

#: Version of the JSON form of :class:`~bridge.learning.learner.Learner` and
#: :class:`~bridge.learning.screening.HeatSource`.
LEARNER_VERSION = 1


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
    """A room value exactly constant this long while heat goes in is a frozen sensor.

    This and the two below are for a sensor with 0.1 °C steps; they grow in proportion
    to a coarser sensor's step (five times at 0.5 °C).
    """
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
