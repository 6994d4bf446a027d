"""What the bridge recorded: measurement series and the event and fault log.

:class:`HistoryService` answers with plain, JSON-able data; ``EventKind``
is re-exported for the API's ``kind`` filter.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from bridge.core.payloads.history import Event, EventKind, HourlyPoint

if TYPE_CHECKING:
    from bridge.storage import Database

__all__ = ["EventKind", "HistoryService"]


class HistoryService:
    """Queries of the recorded series and of the event log."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def series_keys(self) -> list[str]:
        """Every series with raw samples or hourly aggregates, sorted."""
        return await self._db.measurements.keys()

    async def raw_points(self, key: str, start: float, end: float) -> list[tuple[float, float]]:
        """``(ts, value)`` of the raw samples of ``key`` with ``start <= ts < end``."""
        samples = await self._db.measurements.samples(key, start, end)
        return [(s.ts, s.value) for s in samples]

    async def hourly_points(self, key: str, start: float, end: float) -> list[HourlyPoint]:
        """The hourly aggregates of ``key`` for hours with ``start <= hour < end``."""
        hours = await self._db.measurements.hourly(key, start, end)
        return [
            HourlyPoint(hour=h.hour, min=h.min, max=h.max, mean=h.mean, count=h.count)
            for h in hours
        ]

    async def events(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        kinds: Iterable[EventKind] | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """Log entries with ``since <= ts < until`` of the given kinds, newest first."""
        found = await self._db.events.query(since=since, until=until, kinds=kinds, limit=limit)
        return [Event(**e.as_dict()) for e in found]
