"""Deletions the bridge owes the cloud (schema step 8): kept until the cloud confirms them.

An erase of a linked bridge (PRIVACY.md P13) and a revoked purpose whose data
the cloud holds (P5) each become one row here, written in the same
transaction as the local change, so a deletion is never lost to a restart or
a cloud that is down. A row holds only what its deletion needs: the kind,
the cloud's URL, the bridge id and the credential to present, and for
statistics the pseudonym they were shared under. The cloud service
(``bridge/services/cloud_data.py``) sends them and forgets each once the
cloud has answered it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import sqlite3
from typing import TYPE_CHECKING

from bridge.storage.cloud import read_cloud_link

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.storage.core import Worker


class DeletionKind(StrEnum):
    """What one deletion erases in the cloud."""

    BRIDGE = "bridge"
    """Everything held for the bridge, and the statistics under its pseudonym (an erase)."""
    THERMOSTAT = "thermostat"
    """The synced thermostat object (``cloud_sync`` revoked); the link stays."""
    STATISTICS = "statistics"
    """The statistics under the pseudonym (``statistics`` revoked)."""
    SERVICE = "service"
    """The service report (``service_access`` revoked); the link stays."""


@dataclass(frozen=True, slots=True)
class Deletion:
    """One deletion owed to the cloud."""

    id: int
    kind: DeletionKind
    cloud_url: str
    bridge_id: str
    secret: str
    pseudonym: str | None
    queued: float


def queue_deletion(
    conn: sqlite3.Connection, kind: DeletionKind, pseudonym: str | None, now: float
) -> bool:
    """Queue a deletion for the linked cloud, inside the caller's transaction; False (nothing
    queued) when the bridge is not linked."""
    link = read_cloud_link(conn)
    if link is None:
        return False
    row = conn.execute("SELECT secret FROM cloud_link WHERE id = 1").fetchone()
    conn.execute(
        "INSERT INTO cloud_deletions (kind, cloud_url, bridge_id, secret, pseudonym, queued)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (str(kind), link.cloud_url, link.bridge_id, row[0], pseudonym, now),
    )
    return True


class CloudDeletionRepo:
    """The deletions owed to the cloud; ``db.cloud_deletions``."""

    def __init__(self, worker: Worker, clock: Clock) -> None:
        self._worker = worker
        self._clock = clock

    async def queue(self, kind: DeletionKind, pseudonym: str | None = None) -> bool:
        """Queue one deletion for the linked cloud; False when not linked (nothing queued)."""
        now = self._clock.time()
        return await self._worker.write(lambda conn: queue_deletion(conn, kind, pseudonym, now))

    async def pending(self) -> list[Deletion]:
        """The deletions still owed, oldest first."""

        def run(conn: sqlite3.Connection) -> list[Deletion]:
            rows = conn.execute(
                "SELECT id, kind, cloud_url, bridge_id, secret, pseudonym, queued"
                " FROM cloud_deletions ORDER BY id"
            ).fetchall()
            return [Deletion(r[0], DeletionKind(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]

        return await self._worker.read(run)

    async def done(self, deletion_id: int) -> None:
        """The cloud answered the deletion: forget it."""
        await self._worker.write(
            lambda conn: conn.execute("DELETE FROM cloud_deletions WHERE id = ?", (deletion_id,))
        )
