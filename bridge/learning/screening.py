"""What the learner is fed, and the screening that keeps sensor faults out.

A :class:`Measurement` is one look at the house and the boiler; a
:class:`HeatSource` turns it into watts into the heating water. Readings
outside plausible ranges (an 85 °C room, -60 °C outside) and physically
impossible jumps are rejected by a :class:`Screen`; a room value that stays
exactly constant for hours while heat goes in marks the sensor as frozen
(:class:`FrozenDetector`; longer for a sensor with coarser steps). Without a measured irradiance the clear-sky sun
(:func:`clear_sky_w_m2`) stands in.

Pure code: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
import math
from typing import Any

from bridge.learning.config import LEARNER_VERSION, LearnerConfig

#: Plausible ranges; readings outside are rejected as sensor faults.
ROOM_RANGE = (-5.0, 40.0)
OUTSIDE_RANGE = (-45.0, 50.0)
SOLAR_RANGE = (0.0, 1500.0)
#: Boiler size assumed when OpenTherm ID 15 gave none, W.
ASSUMED_BOILER_W = 24_000.0
#: The room sensor's step the frozen-sensor times are set for, °C.
FINE_ROOM_STEP_C = 0.1
#: Minimum modulation assumed with the size, %: a burning flame reporting 0 %
#: modulation gives its minimum output, never nothing (a wall unit reports no ID 15).
ASSUMED_MIN_MODULATION_PCT = 20.0


def clear_sky_w_m2(ts: float, latitude: float, longitude: float) -> float:
    """Clear-sky global horizontal irradiance (Haurwitz), W/m², at Unix time ``ts``.

    Without a measured irradiance the learner takes this as the sun's input:
    it has the daily and seasonal shape of the solar gains, and the fitted
    aperture absorbs the mean cloudiness.
    """
    day = datetime.fromtimestamp(ts, tz=UTC).timetuple().tm_yday + (ts % 86400.0) / 86400.0
    decl = math.radians(23.44) * math.sin(2.0 * math.pi * (284.0 + day) / 365.0)
    solar_hour = (ts % 86400.0) / 3600.0 + longitude / 15.0
    hour_angle = math.radians(15.0 * (solar_hour - 12.0))
    lat = math.radians(latitude)
    sin_alt = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(hour_angle)
    if sin_alt <= 0.01:
        return 0.0
    return 1098.0 * sin_alt * math.exp(-0.057 / sin_alt)


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One look at the house and the boiler, at Unix time ``ts``.

    ``None`` where a value is not known. ``heat_w`` is the heat into the
    heating water when the bridge knows it directly (a heat meter);
    otherwise the :class:`HeatSource` estimates it from modulation and
    flame, or from the relay state. The flow and return temperatures are
    taken for the record; the model does not need them (the boiler's
    modulation already says how much heat goes in).
    """

    ts: float
    room_c: float | None
    outside_c: float | None = None
    flow_c: float | None = None
    return_c: float | None = None
    modulation_pct: float | None = None
    flame_on: bool | None = None
    dhw_active: bool | None = None
    relay_on: bool | None = None
    solar_w_m2: float | None = None
    heat_w: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HeatSource:
    """How a measurement becomes watts into the heating water.

    OpenTherm boilers: ``max_w`` and ``min_modulation_pct`` from data-id 15
    (max capacity kW, min modulation %); the relative modulation (id 17) is
    the share of the range between minimum and maximum output
    (``modulation_of_range``, as OpenTherm 2.2 defines it) or of the maximum.
    With the flame on but no modulation reported, the middle of the range is
    taken. Without ID 15 (a wall unit does not report it) the size is
    :data:`ASSUMED_BOILER_W` with :data:`ASSUMED_MIN_MODULATION_PCT`. Relay boilers: ``relay_nominal_w`` while the relay is on.
    Heat during hot-water production (``dhw_active``) counts as zero.
    """

    max_w: float | None = None
    min_modulation_pct: float = 0.0
    relay_nominal_w: float | None = None
    modulation_of_range: bool = True

    @classmethod
    def from_opentherm(cls, max_kw: float, min_modulation_pct: float) -> HeatSource:
        """From data-id 15: max capacity (kW, high byte) and min modulation (%, low byte)."""
        return cls(
            max_w=max_kw * 1000.0 if max_kw > 0 else None, min_modulation_pct=min_modulation_pct
        )

    @property
    def assumed_size(self) -> bool:
        """True when no boiler size is known and :data:`ASSUMED_BOILER_W` stands in."""
        return self.max_w is None and self.relay_nominal_w is None

    def heat_w(self, m: Measurement) -> float | None:
        """Watts into the room's heating water for ``m``; None if it cannot be told."""
        if m.dhw_active:
            return 0.0
        known = m.heat_w
        if known is not None and math.isfinite(known):
            return max(0.0, known)
        return self.burner_w(m)

    def burner_w(self, m: Measurement) -> float | None:
        """The burner's output for ``m``, W, for heating or hot water alike.

        The one place the output is told from the flame, the modulation and
        the boiler's size; None if it cannot be told.
        """
        if m.flame_on is not None:
            if not m.flame_on:
                return 0.0
            top = self.max_w or self.relay_nominal_w or ASSUMED_BOILER_W
            min_pct = ASSUMED_MIN_MODULATION_PCT if self.assumed_size else self.min_modulation_pct
            low = top * min(100.0, max(0.0, min_pct)) / 100.0
            mod = m.modulation_pct
            if mod is None or not 0.0 <= mod <= 100.0:  # unknown (or NaN)
                return (low + top) / 2.0
            if self.modulation_of_range:
                return low + (top - low) * mod / 100.0
            return max(low, top * mod / 100.0)
        if m.relay_on is not None:
            if not m.relay_on:
                return 0.0
            return self.relay_nominal_w or self.max_w or ASSUMED_BOILER_W
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, with a version."""
        return {
            "version": LEARNER_VERSION,
            "max_w": self.max_w,
            "min_modulation_pct": self.min_modulation_pct,
            "relay_nominal_w": self.relay_nominal_w,
            "modulation_of_range": self.modulation_of_range,
        }

    @classmethod
    def from_dict(cls, data: object) -> HeatSource:
        """The source stored by :meth:`to_dict`; the default (unknown size) otherwise."""
        if not isinstance(data, dict) or data.get("version") != LEARNER_VERSION:
            return cls()
        try:
            max_w = data.get("max_w")
            nominal = data.get("relay_nominal_w")
            return cls(
                max_w=None if max_w is None else float(max_w),
                min_modulation_pct=float(data.get("min_modulation_pct", 0.0)),
                relay_nominal_w=None if nominal is None else float(nominal),
                modulation_of_range=bool(data.get("modulation_of_range", True)),
            )
        except (TypeError, ValueError):
            return cls()


def heat_source_for(max_kw: float | None, min_modulation_pct: float | None) -> HeatSource | None:
    """The :class:`HeatSource` for OpenTherm ID 15 values, or None while they are unknown."""
    if max_kw is None or min_modulation_pct is None or max_kw <= 0:
        return None
    return HeatSource.from_opentherm(float(max_kw), float(min_modulation_pct))


# ---------------------------------------------------------------- screening


class Screen:
    """Rejects values out of range and jumps faster than physics allows.

    A jump that the next ``confirm`` readings agree on is a new level (a
    sensor moved, a source changed) and is accepted, with ``reset`` set.
    """

    def __init__(
        self, low: float, high: float, rate_k_per_h: float, tolerance_k: float, confirm: int = 3
    ) -> None:
        self.low = low
        self.high = high
        self.rate = rate_k_per_h / 3600.0
        self.tolerance = tolerance_k
        self.confirm = confirm
        self.last_ts: float | None = None
        self.last: float | None = None
        self.pending: list[tuple[float, float]] = []

    def check(self, ts: float, value: float | None) -> tuple[float | None, bool, bool]:
        """``(accepted value or None, rejected, reset)``."""
        if value is None:
            return None, False, False
        if not math.isfinite(value) or not self.low <= value <= self.high:
            return None, True, False
        if self.last is None or self.last_ts is None or ts - self.last_ts > 2 * 3600.0:
            self._take(ts, value)
            return value, False, False
        allowed = self.tolerance + self.rate * (ts - self.last_ts)
        if abs(value - self.last) <= allowed:
            self._take(ts, value)
            return value, False, False
        self.pending = [(t, v) for t, v in self.pending if ts - t <= 1800.0]
        self.pending.append((ts, value))
        if len(self.pending) >= self.confirm:
            values = [v for _, v in self.pending]
            span = self.pending[-1][0] - self.pending[0][0]
            if max(values) - min(values) <= self.tolerance + self.rate * span:
                self._take(ts, value)
                return value, False, True
        return None, True, False

    def _take(self, ts: float, value: float) -> None:
        self.last_ts = ts
        self.last = value
        self.pending = []

    def to_dict(self) -> dict[str, Any]:
        return {"last_ts": self.last_ts, "last": self.last}

    def restore(self, data: object) -> None:
        if isinstance(data, dict):
            ts, value = data.get("last_ts"), data.get("last")
            if isinstance(ts, (int, float)) and isinstance(value, (int, float)):
                self.last_ts, self.last = float(ts), float(value)


class FrozenDetector:
    """Watches for a room value that stays exactly the same.

    A room held at its target can read the same for hours on a sensor with
    coarse steps (0.5 °C, as many thermostats and radiator valves report),
    so the times and the heat of :class:`LearnerConfig` (set for 0.1 °C
    steps) grow in proportion to the smallest change the sensor has shown.
    """

    def __init__(self) -> None:
        self.value: float | None = None
        self.since: float = 0.0
        self.heat_j = 0.0
        self.frozen = False
        self.step_c: float | None = None
        """The smallest change between two readings seen, °C (None before any)."""

    @property
    def scale(self) -> float:
        """How many times longer than configured a constant reading must last to be frozen."""
        return max(1.0, (self.step_c or FINE_ROOM_STEP_C) / FINE_ROOM_STEP_C)

    def update(
        self, ts: float, room: float, heat_j: float, config: LearnerConfig
    ) -> tuple[bool, float]:
        """Feed a reading; ``(newly frozen, run start)``."""
        if self.value is None or room != self.value:
            if self.value is not None:
                change = round(abs(room - self.value), 3)
                if change > 0.0 and (self.step_c is None or change < self.step_c):
                    self.step_c = change
            self.value = room
            self.since = ts
            self.heat_j = 0.0
            self.frozen = False
            return False, ts
        self.heat_j += heat_j
        if self.frozen:
            return False, self.since
        span = ts - self.since
        scale = self.scale
        heated = self.heat_j >= config.frozen_heat_kwh * 3.6e6 * scale
        if (span >= config.frozen_s * scale and heated) or span >= config.frozen_any_s * scale:
            self.frozen = True
            return True, self.since
        return False, self.since
