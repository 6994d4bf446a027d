"""The bridge's link to an owner's cloud account (one row at most).

Linking (RFC 8628, ``bridge/services/cloud_link.py``) ends with a per-bridge
credential the cloud issued. The bridge must present it as a Bearer token,
so it is stored as it is (the ``secret`` column), like a wall unit's
password; it never leaves this module except through :meth:`CloudLinkRepo.credential`.
:class:`CloudLink` (what status, export and logs see) has no credential field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import sqlite3
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.storage.core import Worker


@dataclass(frozen=True, slots=True)
class CloudLink:
    """The link, without its credential."""

    cloud_url: str
    bridge_id: str
    thermostat: str
    """The hardware id the bridge was linked as."""
    since: float
    """When the link was made, Unix seconds."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-able fields."""
        return asdict(self)


def read_cloud_link(conn: sqlite3.Connection) -> CloudLink | None:
    """The link, or None when the bridge is not linked."""
    row = conn.execute(
        "SELECT cloud_url, bridge_id, thermostat, since FROM cloud_link WHERE id = 1"
    ).fetchone()
    return None if row is None else CloudLink(*row)


class CloudLinkRepo:
    """The cloud link; ``db.cloud``."""

    def __init__(self, worker: Worker, clock: Clock) -> None:
        self._worker = worker
        self._clock = clock

    async def get(self) -> CloudLink | None:
        """The link, or None."""
        return await self._worker.read(read_cloud_link)

    async def credential(self) -> str | None:
        """The credential the cloud issued, for the bridge's requests to it (None: not linked)."""

        def run(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT secret FROM cloud_link WHERE id = 1").fetchone()
            return None if row is None else str(row[0])

        return await self._worker.read(run)

    async def store(
        self, cloud_url: str, bridge_id: str, thermostat: str, credential: str
    ) -> CloudLink:
        """Keep a new link (replacing any older one); the link without its credential."""
        for name, value, most in (
            ("cloud_url", cloud_url, 2048),
            ("bridge_id", bridge_id, 64),
            ("thermostat", thermostat, 64),
            ("credential", credential, 512),
        ):
            if not isinstance(value, str) or not 1 <= len(value) <= most:
                raise ValueError(f"{name} must be a string of 1-{most} characters")
        now = self._clock.time()

        def run(conn: sqlite3.Connection) -> CloudLink:
            conn.execute(
                "INSERT OR REPLACE INTO cloud_link"
                " (id, cloud_url, bridge_id, thermostat, secret, since)"
                " VALUES (1, ?, ?, ?, ?, ?)",
                (cloud_url, bridge_id, thermostat, credential, now),
            )
            return CloudLink(cloud_url, bridge_id, thermostat, now)

        return await self._worker.write(run)

    async def forget(self) -> CloudLink | None:
        """Delete the link and its credential; the link it was, or None if there was none."""

        def run(conn: sqlite3.Connection) -> CloudLink | None:
            link = read_cloud_link(conn)
            conn.execute("DELETE FROM cloud_link")
            return link

        return await self._worker.write(run)
