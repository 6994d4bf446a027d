"""Weather for the simulated house: seeded synthetic days, or a CSV series.

A weather source gives the outside air temperature (°C) and the global
horizontal solar irradiance (W/m²) at any Unix time. The synthetic source is
a pure function of its seed and parameters: the same time always gives the
same values, whatever was asked before.
"""

from __future__ import annotations

import bisect
import csv
from datetime import UTC, datetime
import math
from pathlib import Path
import random
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable

DAY_S = 86_400.0
HOUR_S = 3_600.0

#: 2026-01-01 00:00 UTC, the default origin of the day-to-day random walk.
DEFAULT_ORIGIN = 1_767_225_600.0


class WeatherSource(Protocol):
    """Outside conditions as a function of time."""

    def sample(self, ts: float) -> tuple[float, float]:
        """``(outside_c, solar_w_m2)`` at Unix time ``ts``."""


def dutch_seasonal_mean_c(ts: float) -> float:
    """Climatological daily mean temperature in the Netherlands (De Bilt, approx.).

    About 3 °C in mid January and 17.5 °C in mid July.
    """
    doy = utc_day_of_year(ts)
    return 10.3 + 7.3 * math.sin(2 * math.pi * (doy - 105.0) / 365.25)


def utc_day_of_year(ts: float) -> float:
    """Fractional day of the year (1.0 = 1 January 00:00 UTC)."""
    dt = datetime.fromtimestamp(ts, tz=UTC)
    start = datetime(dt.year, 1, 1, tzinfo=UTC).timestamp()
    return 1.0 + (ts - start) / DAY_S


def clear_sky_ghi(ts: float, latitude: float, longitude: float) -> float:
    """Clear-sky global horizontal irradiance (Haurwitz model), W/m²."""
    doy = utc_day_of_year(ts)
    decl = math.radians(23.44) * math.sin(2 * math.pi * (284.0 + doy) / 365.0)
    solar_hour = (ts % DAY_S) / HOUR_S + longitude / 15.0
    hour_angle = math.radians(15.0 * (solar_hour - 12.0))
    lat = math.radians(latitude)
    sin_alt = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(hour_angle)
    if sin_alt <= 0.01:
        return 0.0
    return 1098.0 * sin_alt * math.exp(-0.057 / sin_alt)


class SyntheticWeather:
    """Seeded synthetic weather.

    The daily mean temperature is the seasonal mean (``mean_c``, or the Dutch
    climatology when None) plus an AR(1) day-to-day anomaly with standard
    deviation ``day_to_day_sd_c`` and lag-one correlation ``persistence``.
    On top come a daily cycle (peak mid-afternoon solar time, larger on clear
    days) and a small hourly wobble. Cloudiness is drawn per day (mean
    ``cloud_mean``) and per hour; irradiance is clear-sky times the
    Kasten-Czeplak cloud factor. Defaults give a Dutch winter: with
    ``mean_c=3.5`` a week typically spans about -5..12 °C.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        mean_c: float | None = None,
        day_to_day_sd_c: float = 3.0,
        persistence: float = 0.75,
        daily_swing_c: float = 5.0,
        hourly_sd_c: float = 0.4,
        cloud_mean: float = 0.7,
        latitude: float = 52.1,
        longitude: float = 5.2,
        origin: float = DEFAULT_ORIGIN,
    ) -> None:
        if not 0.0 <= persistence < 1.0:
            raise ValueError("persistence must be in [0, 1)")
        if not 0.0 < cloud_mean < 1.0:
            raise ValueError("cloud_mean must be in (0, 1)")
        self.seed = seed
        self.mean_c = mean_c
        self.day_to_day_sd_c = day_to_day_sd_c
        self.persistence = persistence
        self.daily_swing_c = daily_swing_c
        self.hourly_sd_c = hourly_sd_c
        self.cloud_mean = cloud_mean
        self.latitude = latitude
        self.longitude = longitude
        self._origin_day = math.floor(origin / DAY_S)
        self._anomaly: dict[int, float] = {}
        self._days: dict[int, _Day] = {}

    @classmethod
    def dutch_winter(cls, seed: int = 0) -> SyntheticWeather:
        """A Dutch winter: daily means around 3.5 °C, a week spanning about -5..12 °C."""
        return cls(seed, mean_c=3.5)

    def _rng(self, day: int, what: str) -> random.Random:
        return random.Random(f"thermosmart-weather:{self.seed}:{what}:{day}")

    def _day_anomaly(self, day: int) -> float:
        """The AR(1) anomaly of the daily mean, walking out from the origin day."""
        cached = self._anomaly.get(day)
        if cached is not None:
            return cached
        sd = self.day_to_day_sd_c
        phi = self.persistence
        innov = sd * math.sqrt(1.0 - phi * phi)
        o = self._origin_day
        if o not in self._anomaly:
            self._anomaly[o] = sd * self._rng(o, "anomaly").gauss(0.0, 1.0)
        step = 1 if day > o else -1
        d = o
        while d != day:
            nxt = d + step
            if nxt not in self._anomaly:
                eps = self._rng(nxt, "anomaly").gauss(0.0, 1.0)
                self._anomaly[nxt] = phi * self._anomaly[d] + innov * eps
            d = nxt
        return self._anomaly[day]

    def _day(self, day: int) -> _Day:
        cached = self._days.get(day)
        if cached is not None:
            return cached
        rng = self._rng(day, "day")
        m = self.cloud_mean
        k = 4.0  # concentration of the beta distribution of daily cloudiness
        cloud = rng.betavariate(m * k, (1.0 - m) * k)
        hourly_c = [rng.gauss(0.0, self.hourly_sd_c) for _ in range(24)]
        hourly_cloud = [min(1.0, max(0.0, cloud + rng.gauss(0.0, 0.15))) for _ in range(24)]
        noon = day * DAY_S + DAY_S / 2
        seasonal = self.mean_c if self.mean_c is not None else dutch_seasonal_mean_c(noon)
        result = _Day(
            mean_c=seasonal + self._day_anomaly(day),
            swing_c=self.daily_swing_c * (1.4 - 0.8 * cloud),
            hourly_c=hourly_c,
            hourly_cloud=hourly_cloud,
        )
        self._days[day] = result
        return result

    def _hourly(self, ts: float) -> tuple[float, float]:
        """Interpolated hourly wobble (°C) and cloudiness at ``ts``."""
        hour_index = math.floor(ts / HOUR_S)
        frac = ts / HOUR_S - hour_index
        day, hour = divmod(hour_index, 24)
        a = self._day(day)
        b = a if hour < 23 else self._day(day + 1)
        nh = (hour + 1) % 24
        wobble = a.hourly_c[hour] * (1 - frac) + b.hourly_c[nh] * frac
        cloud = a.hourly_cloud[hour] * (1 - frac) + b.hourly_cloud[nh] * frac
        return wobble, cloud

    def outside_c(self, ts: float) -> float:
        """Outside air temperature, °C."""
        return self.sample(ts)[0]

    def solar_w_m2(self, ts: float) -> float:
        """Global horizontal irradiance, W/m²."""
        return self.sample(ts)[1]

    def sample(self, ts: float) -> tuple[float, float]:
        # daily means sit at noon UTC and are interpolated linearly in between
        pos = ts / DAY_S - 0.5
        d0 = math.floor(pos)
        frac = pos - d0
        a, b = self._day(d0), self._day(d0 + 1)
        mean = a.mean_c * (1 - frac) + b.mean_c * frac
        swing = a.swing_c * (1 - frac) + b.swing_c * frac
        solar_hour = (ts % DAY_S) / HOUR_S + self.longitude / 15.0
        cycle = math.cos(2 * math.pi * (solar_hour - 14.5) / 24.0)
        wobble, cloud = self._hourly(ts)
        outside = mean + 0.5 * swing * cycle + wobble
        ghi = clear_sky_ghi(ts, self.latitude, self.longitude) * (1.0 - 0.75 * cloud**3.4)
        return outside, ghi


class _Day:
    __slots__ = ("hourly_c", "hourly_cloud", "mean_c", "swing_c")

    def __init__(
        self, mean_c: float, swing_c: float, hourly_c: list[float], hourly_cloud: list[float]
    ) -> None:
        self.mean_c = mean_c
        self.swing_c = swing_c
        self.hourly_c = hourly_c
        self.hourly_cloud = hourly_cloud


class ConstantWeather:
    """The same outside temperature and irradiance at every time (for tests)."""

    def __init__(self, outside_c: float, solar_w_m2: float = 0.0) -> None:
        self.outside = outside_c
        self.solar = solar_w_m2

    def sample(self, ts: float) -> tuple[float, float]:
        return self.outside, self.solar


class CsvWeather:
    """A measured weather series, linearly interpolated, held flat past its ends.

    The CSV has a header with the columns ``timestamp`` (Unix seconds, or ISO
    8601; a time without zone is UTC), ``outside_c`` and ``solar_w_m2``.
    """

    def __init__(self, rows: list[tuple[float, float, float]]) -> None:
        if not rows:
            raise ValueError("a weather series needs at least one row")
        rows = sorted(rows)
        self._ts = [r[0] for r in rows]
        self._out = [r[1] for r in rows]
        self._sol = [r[2] for r in rows]

    @classmethod
    def from_path(cls, path: str | Path) -> CsvWeather:
        """Load a CSV file."""
        with Path(path).open(newline="", encoding="utf-8") as fh:
            return cls.from_lines(fh)

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> CsvWeather:
        """Parse CSV text given as an iterable of lines."""
        reader = csv.DictReader(lines)
        needed = {"timestamp", "outside_c", "solar_w_m2"}
        if reader.fieldnames is None or not needed <= {f.strip() for f in reader.fieldnames}:
            raise ValueError(f"weather CSV needs the columns {sorted(needed)}")
        rows: list[tuple[float, float, float]] = []
        for n, raw in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            try:
                rows.append(
                    (
                        _parse_timestamp(row["timestamp"]),
                        float(row["outside_c"]),
                        float(row["solar_w_m2"]),
                    )
                )
            except ValueError as err:
                raise ValueError(f"weather CSV line {n}: {err}") from err
        return cls(rows)

    @property
    def start(self) -> float:
        """The first timestamp."""
        return self._ts[0]

    @property
    def end(self) -> float:
        """The last timestamp."""
        return self._ts[-1]

    def sample(self, ts: float) -> tuple[float, float]:
        t = self._ts
        i = bisect.bisect_right(t, ts)
        if i == 0:
            return self._out[0], self._sol[0]
        if i == len(t):
            return self._out[-1], self._sol[-1]
        t0, t1 = t[i - 1], t[i]
        f = (ts - t0) / (t1 - t0) if t1 > t0 else 0.0
        out = self._out[i - 1] + (self._out[i] - self._out[i - 1]) * f
        sol = self._sol[i - 1] + (self._sol[i] - self._sol[i - 1]) * f
        return out, max(0.0, sol)


def _parse_timestamp(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
