"""Measurements (raw samples and hourly aggregates) and the event and fault log.

Raw samples are ``(ts, key, value)`` rows; hours are Unix timestamps of the
start of a UTC hour. Writing samples updates their hourly aggregates in the
same transaction; :meth:`MeasurementRepo.aggregate` rebuilds aggregates from
the raw rows still kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
import math
import sqlite3
from typing import TYPE_CHECKING, Any, NamedTuple

from bridge.core.payloads.history import EventKind
from bridge.storage.core import Json, dumps_json, loads_json, read_window

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.storage.core import Worker

HOUR = 3600


def hour_of(ts: float) -> int:
    """The start of the UTC hour that ``ts`` falls in."""
    return int(ts // HOUR) * HOUR


class Sample(NamedTuple):
    """One measured value of series ``key`` at ``ts``."""

    ts: float
    key: str
    value: float


@dataclass(frozen=True, slots=True)
class HourlyAggregate:
    """Min, max, mean and count of one series over the hour starting at ``hour``."""

    hour: int
    key: str
    min: float
    max: float
    mean: float
    count: int


def _check_key(key: Any) -> None:
    if not isinstance(key, str) or not key or len(key) > 64:
        raise ValueError("series key must be a non-empty string of at most 64 characters")


def _check_sample(sample: Sample) -> tuple[float, str, float]:
    ts, key, value = sample
    _check_key(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"sample {key!r}: value must be a finite number")
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
        raise ValueError(f"sample {key!r}: ts must be a finite number")
    return float(ts), key, float(value)


def write_samples(conn: sqlite3.Connection, rows: Sequence[tuple[float, str, float]]) -> None:
    """Insert samples and fold them into their hourly aggregates (caller's transaction)."""
    conn.executemany("INSERT INTO samples (ts, key, value) VALUES (?, ?, ?)", rows)
    buckets: dict[tuple[str, int], list[float]] = {}
    for ts, key, value in rows:
        buckets.setdefault((key, hour_of(ts)), []).append(value)
    conn.executemany(
        "INSERT INTO hourly (key, hour, min, max, mean, count) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (key, hour) DO UPDATE SET"
        " min = min(hourly.min, excluded.min), max = max(hourly.max, excluded.max),"
        " mean = (hourly.mean * hourly.count + excluded.mean * excluded.count)"
        " / (hourly.count + excluded.count),"
        " count = hourly.count + excluded.count",
        [
            (key, hour, min(vals), max(vals), math.fsum(vals) / len(vals), len(vals))
            for (key, hour), vals in buckets.items()
        ],
    )


def distinct_keys(conn: sqlite3.Connection, table: str) -> list[str]:
    """Distinct series keys of ``samples`` or ``hourly``, by index seeks only."""
    query = {
        "samples": "SELECT min(key) FROM samples WHERE key > ?",
        "hourly": "SELECT min(key) FROM hourly WHERE key > ?",
    }[table]
    keys: list[str] = []
    last = ""
    while True:
        found = conn.execute(query, (last,)).fetchone()[0]
        if found is None:
            return keys
        keys.append(found)
        last = found


def read_samples(
    conn: sqlite3.Connection, key: str, start: float, end: float, limit: int | None = None
) -> list[Sample]:
    """Raw samples of ``key`` with ``start <= ts < end``, oldest first."""
    return [
        Sample(ts, key, value)
        for ts, value in conn.execute(
            "SELECT ts, value FROM samples WHERE key = ? AND ts >= ? AND ts < ?"
            " ORDER BY ts LIMIT ?",
            (key, start, end, -1 if limit is None else limit),
        )
    ]


def read_hourly(
    conn: sqlite3.Connection, key: str, start: float, end: float
) -> list[HourlyAggregate]:
    """Hourly aggregates of ``key`` with ``start <= hour < end``, oldest first."""
    return [
        HourlyAggregate(hour, key, lo, hi, mean, count)
        for hour, lo, hi, mean, count in conn.execute(
            "SELECT hour, min, max, mean, count FROM hourly"
            " WHERE key = ? AND hour >= ? AND hour < ? ORDER BY hour",
            (key, start, end),
        )
    ]


class MeasurementRepo:
    """Measured series; ``db.measurements``."""

    def __init__(self, worker: Worker, clock: Clock) -> None:
        self._worker = worker
        self._clock = clock

    async def add_samples(self, samples: Iterable[Sample]) -> int:
        """Store a batch of samples in one transaction and update their hours.

        ValueError (before anything is written) for an empty key or a value
        that is not a finite number. Returns the number stored.
        """
        rows = [_check_sample(Sample(*s)) for s in samples]
        if rows:
            await self._worker.write(lambda conn: write_samples(conn, rows))
        return len(rows)

    async def add(self, key: str, value: float, ts: float | None = None) -> None:
        """Store one sample (``ts`` defaults to now)."""
        await self.add_samples([Sample(self._clock.time() if ts is None else ts, key, value)])

    async def samples(
        self, key: str, start: float, end: float, *, limit: int | None = None
    ) -> list[Sample]:
        """Raw samples of ``key`` with ``start <= ts < end``, oldest first."""
        return await self._worker.call(lambda conn: read_samples(conn, key, start, end, limit))

    async def hourly(self, key: str, start: float, end: float) -> list[HourlyAggregate]:
        """Hourly aggregates of ``key`` for hours with ``start <= hour < end``."""
        return await self._worker.call(lambda conn: read_hourly(conn, key, start, end))

    async def latest(self, key: str) -> Sample | None:
        """The newest raw sample of ``key``."""

        def run(conn: sqlite3.Connection) -> Sample | None:
            row = conn.execute(
                "SELECT ts, value FROM samples WHERE key = ? ORDER BY ts DESC LIMIT 1", (key,)
            ).fetchone()
            return None if row is None else Sample(row[0], key, row[1])

        return await self._worker.call(run)

    async def keys(self) -> list[str]:
        """Every series key with raw samples or aggregates, sorted."""

        def run(conn: sqlite3.Connection) -> list[str]:
            return sorted(set(distinct_keys(conn, "samples")) | set(distinct_keys(conn, "hourly")))

        return await self._worker.read(run)

    async def aggregate(self, start: float, end: float | None = None) -> int:
        """Rebuild the aggregates of every hour in ``[hour_of(start), end)`` from raw samples.

        Pass a ``start`` no older than the raw-sample retention, or hours whose
        raw rows were already pruned lose their aggregates. Returns the number
        of hourly rows written.
        """
        first = hour_of(start)
        last = math.inf if end is None else end

        def run(conn: sqlite3.Connection) -> int:
            conn.execute("DELETE FROM hourly WHERE hour >= ? AND hour < ?", (first, last))
            return conn.execute(
                "INSERT INTO hourly (key, hour, min, max, mean, count)"
                " SELECT key, CAST(ts / 3600 AS INTEGER) * 3600 AS h,"
                " min(value), max(value), avg(value), count(*)"
                " FROM samples WHERE ts >= ? AND ts < ? GROUP BY key, h",
                (first, last),
            ).rowcount

        return await self._worker.write(run)


# -- events --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the event and fault log."""

    id: int
    ts: float
    kind: EventKind
    code: str | None
    message: str
    data: Json

    def as_dict(self) -> dict[str, Any]:
        """JSON-able fields."""
        return asdict(self)


def read_events(
    conn: sqlite3.Connection,
    since: float | None = None,
    until: float | None = None,
    kinds: Iterable[EventKind] | None = None,
    limit: int | None = None,
) -> list[Event]:
    """Events with ``since <= ts < until``, newest first."""
    wanted = None if kinds is None else ",".join(EventKind(k).value for k in kinds)
    return [
        Event(row[0], row[1], EventKind(row[2]), row[3], row[4], loads_json(row[5]))
        for row in read_window(
            conn,
            "SELECT id, ts, kind, code, message, data FROM events",
            since=since,
            until=until,
            limit=limit,
            where="? IS NULL OR instr(',' || ? || ',', ',' || kind || ',')",
            params=(wanted, wanted),
        )
    ]


class EventRepo:
    """The event and fault log (PRIVACY.md P8); ``db.events``."""

    def __init__(self, worker: Worker, clock: Clock) -> None:
        self._worker = worker
        self._clock = clock

    async def log(
        self,
        kind: EventKind,
        message: str,
        *,
        code: str | int | None = None,
        data: Json = None,
        ts: float | None = None,
    ) -> Event:
        """Append an entry (``ts`` defaults to now); ``data`` is any JSON value."""
        kind = EventKind(kind)
        text = None if data is None else dumps_json(data)
        code_text = None if code is None else str(code)
        when = self._clock.time() if ts is None else ts

        def run(conn: sqlite3.Connection) -> Event:
            cur = conn.execute(
                "INSERT INTO events (ts, kind, code, message, data) VALUES (?, ?, ?, ?, ?)",
                (when, kind.value, code_text, message, text),
            )
            assert cur.lastrowid is not None
            return Event(cur.lastrowid, when, kind, code_text, message, loads_json(text))

        return await self._worker.write(run)

    async def query(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        kinds: Iterable[EventKind] | None = None,
        limit: int | None = 200,
    ) -> list[Event]:
        """Entries with ``since <= ts < until`` of the given kinds, newest first."""
        kind_list = None if kinds is None else list(kinds)
        return await self._worker.read(
            lambda conn: read_events(conn, since, until, kind_list, limit)
        )
