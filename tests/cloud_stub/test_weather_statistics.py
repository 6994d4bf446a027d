"""Weather by city (P5 weather_by_city) and pseudonymous statistics (P4) on the stand-in."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
import itertools
import sqlite3
from typing import Any

import aiohttp
import pytest

from cloud_stub.weather import FORECAST_HOURS, synthetic_weather
from tests.cloud_stub.conftest import START, Cloud, auth, enrol, synced

PSEUDONYM = "r4nd0m-Pseudonym_9f8e7d6c"


async def _weather(
    http: aiohttp.ClientSession, cloud: Cloud, secret: str, city: str
) -> tuple[int, Any]:
    async with http.get(
        f"{cloud.url}/api/v1/weather", params={"city": city}, headers=auth(secret)
    ) as resp:
        return resp.status, await resp.json()


async def test_weather_is_synthetic_and_deterministic(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret = await enrol(http, cloud)
    status, first = await _weather(http, cloud, secret, "Utrecht")
    assert status == 200
    assert first["city"] == "Utrecht"
    assert first["source"] == "synthetic"
    assert first["at"] == "2026-01-15T12:00:00+00:00"
    assert isinstance(first["outside_temperature"], float)
    assert isinstance(first["outside_temperature_icon"], str)
    # same city (case and spacing ignored), same time: same answer
    _, again = await _weather(http, cloud, secret, "  utrecht ")
    assert again["outside_temperature"] == first["outside_temperature"]
    assert again["outside_temperature_icon"] == first["outside_temperature_icon"]
    # other cities get their own offsets
    temps = {
        (await _weather(http, cloud, secret, city))[1]["outside_temperature"]
        for city in ("Utrecht", "Groningen", "Maastricht", "'s-Hertogenbosch", "Den Haag")
    }
    assert len(temps) >= 3
    # time moves the answer
    await cloud.clock.advance(6 * 3600)
    _, later = await _weather(http, cloud, secret, "Utrecht")
    assert later["at"] == "2026-01-15T18:00:00+00:00"
    assert later["outside_temperature"] != first["outside_temperature"]


async def test_weather_has_an_hourly_forecast_from_the_same_series(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret = await enrol(http, cloud)
    await cloud.clock.advance(25 * 60)  # 12:25: the forecast starts at the next whole hour
    _, answer = await _weather(http, cloud, secret, "Utrecht")
    forecast = answer["forecast"]
    assert len(forecast) == FORECAST_HOURS == 48
    times = [datetime.fromisoformat(p["at"]) for p in forecast]
    assert times[0] == datetime(2026, 1, 15, 13, tzinfo=UTC)
    assert all((b - a).total_seconds() == 3600 for a, b in itertools.pairwise(times))
    for when, point in zip(times, forecast, strict=True):
        assert point["outside_temperature"] == synthetic_weather("Utrecht", when).temperature
    # an hour later the observation is what the forecast said
    await cloud.clock.advance(35 * 60)
    _, later = await _weather(http, cloud, secret, "Utrecht")
    assert later["outside_temperature"] == forecast[0]["outside_temperature"]


def test_weather_follows_a_dutch_winter_day() -> None:
    """Cold nights, milder afternoons, winter temperatures in January."""
    for city in ("Utrecht", "Zwolle", "Leeuwarden", "Zürich"):
        for day in range(14, 21):
            night = synthetic_weather(city, datetime(2026, 1, day, 2, 0, tzinfo=UTC))
            afternoon = synthetic_weather(city, datetime(2026, 1, day, 13, 30, tzinfo=UTC))
            assert afternoon.temperature - night.temperature > 2.0, (city, day)
            for hour in range(24):
                t = synthetic_weather(city, datetime(2026, 1, day, hour, tzinfo=UTC)).temperature
                assert -9.0 <= t <= 12.0, (city, day, hour, t)
    summer = synthetic_weather("Utrecht", datetime(2026, 7, 20, 13, tzinfo=UTC))
    winter = synthetic_weather("Utrecht", datetime(2026, 1, 20, 13, tzinfo=UTC))
    assert summer.temperature > winter.temperature + 8
    with pytest.raises(ValueError, match="timezone-aware"):
        synthetic_weather("Utrecht", datetime(2026, 1, 1))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("query", "rule"),
    [
        ({}, "required"),
        ({"city": ""}, "must be 1-64 characters"),
        ({"city": "x" * 65}, "must be 1-64 characters"),
        ({"city": "Utrecht1"}, "must be letters"),
        ({"city": "--"}, "must be letters"),
        ({"city": "Utrecht; DROP TABLE"}, "must be letters"),
    ],
)
async def test_weather_refuses_bad_cities(
    cloud: Cloud, http: aiohttp.ClientSession, query: dict[str, str], rule: str
) -> None:
    secret = await enrol(http, cloud)
    async with http.get(f"{cloud.url}/api/v1/weather", params=query, headers=auth(secret)) as resp:
        assert resp.status == 400
        (error,) = (await resp.json())["errors"]
    assert error["field"] == "city"
    assert error["rule"].startswith(rule)


async def test_weather_needs_a_bridge_secret_and_stores_no_city(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret, token = await synced(http, cloud)
    url = f"{cloud.url}/api/v1/weather"
    for headers in ({}, auth("nope"), auth(token)):
        async with http.get(url, params={"city": "Rotterdam"}, headers=headers) as resp:
            assert resp.status == 401
            assert "WWW-Authenticate" in resp.headers
    status, _ = await _weather(http, cloud, secret, "Rotterdam")
    assert status == 200
    assert b"Rotterdam" not in cloud.db_path.read_bytes()


def _stats(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "pseudonym": PSEUDONYM,
        "day": "2026-01-14",
        "degree_days": 14.2,
        "mean_modulation": 31.5,
        "burner_hours": 6.25,
    }
    body.update(changes)
    return body


def _stats_rows(cloud: Cloud) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{cloud.db_path}?mode=ro", uri=True)) as db:
        rows: list[tuple[Any, ...]] = db.execute("SELECT * FROM statistics ORDER BY day").fetchall()
    return rows


async def test_statistics_are_stored_under_the_pseudonym_only(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    secret = await enrol(http, cloud)
    url = f"{cloud.url}/api/v1/statistics"
    async with http.post(url, json=_stats(), headers=auth(secret)) as resp:
        assert resp.status == 201
        assert await resp.json() == _stats()
    # a second report for the same day replaces the first; tomorrow (time zones) is accepted
    async with http.post(url, json=_stats(burner_hours=7), headers=auth(secret)) as resp:
        assert resp.status == 201
    async with http.post(url, json=_stats(day="2026-01-16"), headers=auth(secret)) as resp:
        assert resp.status == 201
    assert _stats_rows(cloud) == [
        (PSEUDONYM, "2026-01-14", 14.2, 31.5, 7.0),
        (PSEUDONYM, "2026-01-16", 14.2, 31.5, 6.25),
    ]
    with contextlib.closing(sqlite3.connect(f"file:{cloud.db_path}?mode=ro", uri=True)) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(statistics)")]
    assert columns == ["pseudonym", "day", "degree_days", "mean_modulation", "burner_hours"]


@pytest.mark.parametrize(
    "field",
    ["hardware_id", "hw", "bridge_id", "email", "e-mail", "city", "location", "name", "Email"],
)
async def test_statistics_refuse_identifying_fields(
    cloud: Cloud, http: aiohttp.ClientSession, field: str
) -> None:
    secret = await enrol(http, cloud)
    body = _stats(**{field: "TSL00AABBCCDD"})
    async with http.post(f"{cloud.url}/api/v1/statistics", json=body, headers=auth(secret)) as resp:
        assert resp.status == 400
        (error,) = (await resp.json())["errors"]
    assert error["field"] == field
    assert "identifying" in error["rule"]
    assert _stats_rows(cloud) == []


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"series": [20.1, 20.3, 20.2]}, "series", "unknown field"),
        ({"room_temperature": 20.1}, "room_temperature", "unknown field"),
        ({"degree_days": [1.0, 2.0]}, "degree_days", "must be a number"),
        ({"mean_modulation": {"00:00": 30}}, "mean_modulation", "must be a number"),
        ({"burner_hours": 25}, "burner_hours", "must be between 0 and 24"),
        ({"degree_days": -1}, "degree_days", "must be between 0 and 100"),
        ({"degree_days": True}, "degree_days", "must be a number"),
        ({"pseudonym": "short"}, "pseudonym", "must be a random string"),
        ({"pseudonym": "owner@example.org-123456789"}, "pseudonym", "must be a random string"),
        ({"day": "14-01-2026"}, "day", "must be a date YYYY-MM-DD"),
        ({"day": "2026-02-30"}, "day", "no such date"),
        ({"day": "2026-01-18"}, "day", "is in the future"),
    ],
)
async def test_statistics_refuse_anything_but_aggregates(
    cloud: Cloud, http: aiohttp.ClientSession, changes: dict[str, Any], field: str, rule: str
) -> None:
    secret = await enrol(http, cloud)
    body = _stats(**changes)
    async with http.post(f"{cloud.url}/api/v1/statistics", json=body, headers=auth(secret)) as resp:
        assert resp.status == 400
        errors = (await resp.json())["errors"]
    assert any(e["field"] == field and rule in e["rule"] for e in errors), errors
    assert _stats_rows(cloud) == []


async def test_statistics_pseudonym_must_not_be_an_identifier(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    long_hw = "TSL0123456789ABCDEF012345"
    secret = await enrol(http, cloud, "bridge0123456789abcdefgh", long_hw)
    for pseudonym in (long_hw, "bridge0123456789abcdefgh", f"x-{long_hw.lower()}"):
        async with http.post(
            f"{cloud.url}/api/v1/statistics", json=_stats(pseudonym=pseudonym), headers=auth(secret)
        ) as resp:
            assert resp.status == 400, pseudonym
            assert (await resp.json())["errors"] == [
                {"field": "pseudonym", "rule": "must be random, not a bridge or hardware id"}
            ]
    assert _stats_rows(cloud) == []


async def test_statistics_are_anonymous_so_no_bridge_is_tied_to_a_pseudonym(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    """P4: the routes take no credential; the random pseudonym alone names (and erases)."""
    await synced(http, cloud)
    url = f"{cloud.url}/api/v1/statistics"
    async with http.post(url, json=_stats()) as resp:
        assert resp.status == 201
    assert _stats_rows(cloud) == [(PSEUDONYM, "2026-01-14", 14.2, 31.5, 6.25)]
    with contextlib.closing(sqlite3.connect(f"file:{cloud.db_path}?mode=ro", uri=True)) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(statistics)")]
    assert "bridge_id" not in columns  # nothing to tie them to a bridge
    async with http.delete(f"{url}/{PSEUDONYM}") as resp:
        assert await resp.json() == {"erased": 1}
    assert _stats_rows(cloud) == []


async def test_statistics_erase_by_pseudonym(cloud: Cloud, http: aiohttp.ClientSession) -> None:
    secret = await enrol(http, cloud)
    url = f"{cloud.url}/api/v1/statistics"
    other = "another-Pseudonym_0123456789"
    for body in (_stats(), _stats(day="2026-01-13"), _stats(pseudonym=other)):
        async with http.post(url, json=body, headers=auth(secret)) as resp:
            assert resp.status == 201
    async with http.delete(f"{url}/{PSEUDONYM}", headers=auth(secret)) as resp:
        assert await resp.json() == {"erased": 2}
    assert [row[0] for row in _stats_rows(cloud)] == [other]
    assert PSEUDONYM.encode() not in cloud.db_path.read_bytes()
    async with http.delete(f"{url}/{PSEUDONYM}", headers=auth(secret)) as resp:
        assert await resp.json() == {"erased": 0}


def test_start_is_a_winter_afternoon() -> None:
    """The fixture clock starts on 2026-01-15 12:00 UTC (the tests above rely on it)."""
    assert datetime.fromtimestamp(START, tz=UTC) == datetime(2026, 1, 15, 12, tzinfo=UTC)
