"""Registered webhooks and how their deliveries went.

A webhook registered with a token belongs to that token: registering again
replaces its URL, and it disappears when the token is deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
import sqlite3
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.storage.core import Worker


@dataclass(frozen=True, slots=True)
class Webhook:
    """A URL that is told about every change."""

    id: int
    url: str
    token_id: int | None
    created: float
    last_status: int | None
    last_attempt: float | None
    failures: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-able fields."""
        return asdict(self)


_SELECT = "SELECT id, url, token_id, created, last_status, last_attempt, failures FROM webhooks"


def _webhook(row: Sequence[Any]) -> Webhook:
    return Webhook(*row)


def read_webhooks(conn: sqlite3.Connection) -> list[Webhook]:
    """All webhooks, oldest first."""
    return [_webhook(r) for r in conn.execute(_SELECT + " ORDER BY id")]


def _get(conn: sqlite3.Connection, webhook_id: int) -> Webhook | None:
    row = conn.execute(_SELECT + " WHERE id = ?", (webhook_id,)).fetchone()
    return None if row is None else _webhook(row)


class WebhookRepo:
    """Webhooks; ``db.webhooks``."""

    def __init__(self, worker: Worker, clock: Clock) -> None:
        self._worker = worker
        self._clock = clock

    async def register(self, url: str, token_id: int | None = None) -> Webhook:
        """Register ``url`` (for ``token_id``: replacing that token's webhook).

        Registering a URL that is already registered the same way returns it
        with its failure count cleared.
        """
        if not isinstance(url, str) or not url or len(url) > 2000:
            raise ValueError("url must be a non-empty string of at most 2000 characters")
        now = self._clock.time()

        def run(conn: sqlite3.Connection) -> Webhook:
            if token_id is None:
                row = conn.execute(
                    "SELECT id FROM webhooks WHERE token_id IS NULL AND url = ?", (url,)
                ).fetchone()
            else:
                row = conn.execute(
                    "SELECT id FROM webhooks WHERE token_id = ?", (token_id,)
                ).fetchone()
            if row is None:
                cur = conn.execute(
                    "INSERT INTO webhooks (url, token_id, created) VALUES (?, ?, ?)",
                    (url, token_id, now),
                )
                assert cur.lastrowid is not None
                webhook_id = cur.lastrowid
            else:
                webhook_id = row[0]
                conn.execute(
                    "UPDATE webhooks SET url = ?, created = ?, failures = 0,"
                    " last_status = NULL, last_attempt = NULL WHERE id = ?",
                    (url, now, webhook_id),
                )
            found = _get(conn, webhook_id)
            assert found is not None
            return found

        return await self._worker.write(run)

    async def remove(self, webhook_id: int) -> bool:
        """Remove one webhook; False if unknown."""
        return await self._worker.write(
            lambda conn: (
                conn.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,)).rowcount == 1
            )
        )

    async def remove_for_token(self, token_id: int) -> bool:
        """Remove the webhook of ``token_id``; False if it had none."""
        return await self._worker.write(
            lambda conn: (
                conn.execute("DELETE FROM webhooks WHERE token_id = ?", (token_id,)).rowcount == 1
            )
        )

    async def all(self) -> list[Webhook]:
        """Every webhook, oldest first."""
        return await self._worker.read(read_webhooks)

    async def record_delivery(
        self, webhook_id: int, status: int | None, *, ok: bool, ts: float | None = None
    ) -> Webhook | None:
        """Note a delivery attempt: ``ok`` clears the failure count, else it grows.

        ``status`` is the HTTP status (None if no answer came). Returns the
        updated webhook, or None if it was removed meanwhile.
        """
        when = self._clock.time() if ts is None else ts

        def run(conn: sqlite3.Connection) -> Webhook | None:
            conn.execute(
                "UPDATE webhooks SET last_status = ?, last_attempt = ?,"
                " failures = CASE WHEN ? THEN 0 ELSE failures + 1 END WHERE id = ?",
                (status, when, int(ok), webhook_id),
            )
            return _get(conn, webhook_id)

        return await self._worker.write(run)
