"""Learning state: named JSON documents (the learned model of the house)."""

from __future__ import annotations

from dataclasses import dataclass
import sqlite3
from typing import TYPE_CHECKING

from bridge.storage.core import Json, dumps_json, loads_json

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.storage.core import Worker


@dataclass(frozen=True, slots=True)
class LearningEntry:
    """One named piece of learning state and when it was last written."""

    name: str
    value: Json
    updated: float


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name or len(name) > 64:
        raise ValueError("learning state name must be a non-empty string of at most 64 characters")


def read_learning(conn: sqlite3.Connection) -> dict[str, LearningEntry]:
    """All learning state by name."""
    return {
        name: LearningEntry(name, loads_json(value), updated)
        for name, value, updated in conn.execute(
            "SELECT name, value, updated FROM learning ORDER BY name"
        )
    }


class LearningRepo:
    """Named learning-state documents; ``db.learning``."""

    def __init__(self, worker: Worker, clock: Clock) -> None:
        self._worker = worker
        self._clock = clock

    async def get(self, name: str) -> LearningEntry | None:
        """The entry called ``name``, or None."""

        def run(conn: sqlite3.Connection) -> LearningEntry | None:
            row = conn.execute(
                "SELECT value, updated FROM learning WHERE name = ?", (name,)
            ).fetchone()
            return None if row is None else LearningEntry(name, loads_json(row[0]), row[1])

        return await self._worker.call(run)

    async def put(self, name: str, value: Json) -> LearningEntry:
        """Store ``value`` (any JSON value) under ``name``, replacing what was there."""
        _check_name(name)
        text = dumps_json(value)
        now = self._clock.time()
        await self._worker.write(
            lambda conn: conn.execute(
                "INSERT INTO learning (name, value, updated) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
                " updated = excluded.updated",
                (name, text, now),
            )
        )
        return LearningEntry(name, loads_json(text), now)

    async def delete(self, name: str) -> bool:
        """Forget ``name``; False if there was nothing."""
        return await self._worker.write(
            lambda conn: conn.execute("DELETE FROM learning WHERE name = ?", (name,)).rowcount == 1
        )

    async def all(self) -> dict[str, LearningEntry]:
        """Every entry by name."""
        return await self._worker.read(read_learning)
