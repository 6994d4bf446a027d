"""Synthetic weather by city: the stand-in's answer for purpose ``weather_by_city``.

The stand-in has no internet, so it does not look weather up. It answers a
deterministic outside temperature for a city and a time, shaped like Dutch
weather: a seasonal mean (about 3.5 °C in late January, 17.5 °C in late
July), a daily cycle (coldest around 02:30, warmest around 14:30 local time,
2.5-3.5 °C either side), a slow swing over a few days, and a small offset per
city. Everything but the time is seeded by the city name (case and spacing
ignored), so the same city at the same time always gets the same answer.
The hourly forecast (:func:`synthetic_forecast`) is the same series at the
coming whole hours, so a forecast and the later observation agree. The
city is not stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
import hashlib
import math
import zoneinfo

TIMEZONE = zoneinfo.ZoneInfo("Europe/Amsterdam")
_DAY = 86_400.0
_YEAR_DAYS = 365.25
FORECAST_HOURS = 48
"""How many hours the forecast covers."""
_ICONS = ("cloudy", "partlycloudy", "rainy", "clear", "cloudy", "fog")


@dataclass(frozen=True)
class Weather:
    """One synthetic observation."""

    city: str
    temperature: float
    icon: str
    at: datetime


def _seed(city: str) -> bytes:
    return hashlib.sha256(" ".join(city.split()).casefold().encode("utf-8")).digest()


def _unit(byte: int) -> float:
    """0-255 -> 0.0-1.0."""
    return byte / 255.0


def synthetic_weather(city: str, at: datetime) -> Weather:
    """The stand-in's outside temperature (°C, 0.1 resolution) and icon for ``city`` at ``at``."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    seed = _seed(city)
    local = at.astimezone(TIMEZONE)
    day_of_year = local.timetuple().tm_yday + local.hour / 24.0 + local.minute / 1440.0
    hour = local.hour + local.minute / 60.0 + local.second / 3600.0
    days = at.timestamp() / _DAY

    seasonal = 10.5 - 7.0 * math.cos(2.0 * math.pi * (day_of_year - 20.0) / _YEAR_DAYS)
    amplitude = 2.5 + _unit(seed[1])
    daily = amplitude * math.cos(2.0 * math.pi * (hour - 14.5) / 24.0)
    period = 3.0 + seed[2] % 5  # a weather change every 3-7 days
    swing = 2.0 * math.sin(2.0 * math.pi * (days / period + _unit(seed[3])))
    offset = (_unit(seed[0]) - 0.5) * 3.0
    temperature = round(seasonal + daily + swing + offset, 1) + 0.0  # + 0.0: no "-0.0"

    day_seed = hashlib.sha256(seed + local.date().isoformat().encode()).digest()
    icon = _ICONS[day_seed[0] % len(_ICONS)]
    if icon == "clear":
        icon = "sunny" if 8 <= local.hour < 17 else "clear-night"
    return Weather(" ".join(city.split()), temperature, icon, at)


def synthetic_forecast(
    city: str, at: datetime, hours: int = FORECAST_HOURS
) -> list[tuple[datetime, float]]:
    """``(time, °C)`` at each of the ``hours`` whole hours after ``at`` (the series of
    :func:`synthetic_weather`)."""
    first = at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return [
        (when, synthetic_weather(city, when).temperature)
        for when in (first + timedelta(hours=i) for i in range(hours))
    ]
