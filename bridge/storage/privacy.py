"""Consents per purpose (with their history) and the egress log.

A consent is never updated in place: granting or revoking appends a row,
so the history of what the owner agreed to, and under which version of the
terms, is kept (PRIVACY.md P5, P14). The egress log records every request
that left the LAN: when, to which host and path, for which purpose, which
field names (never their values) and how many bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
import logging
import sqlite3
from typing import TYPE_CHECKING, Any

from bridge.core.listeners import Listeners
from bridge.core.payloads.privacy import Purpose
from bridge.storage.core import dumps_json, loads_json, read_window

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.storage.core import Worker

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Consent:
    """One grant or revocation of a purpose."""

    id: int
    purpose: Purpose
    granted: bool
    ts: float
    terms_version: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-able fields."""
        return {
            "id": self.id,
            "purpose": self.purpose.value,
            "granted": self.granted,
            "ts": self.ts,
            "terms_version": self.terms_version,
        }


@dataclass(frozen=True, slots=True)
class EgressRecord:
    """One request that left the LAN."""

    id: int
    ts: float
    host: str
    path: str
    purpose: str
    fields: tuple[str, ...]
    bytes: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-able fields."""
        return {
            "id": self.id,
            "ts": self.ts,
            "host": self.host,
            "path": self.path,
            "purpose": self.purpose,
            "fields": list(self.fields),
            "bytes": self.bytes,
        }


def read_consents(conn: sqlite3.Connection, purpose: Purpose | None = None) -> list[Consent]:
    """Consent history (of one purpose, or all), oldest first."""
    return [
        Consent(row[0], Purpose(row[1]), bool(row[2]), row[3], row[4])
        for row in conn.execute(
            "SELECT id, purpose, granted, ts, terms_version FROM consents"
            " WHERE ? IS NULL OR purpose = ? ORDER BY id",
            (purpose, purpose),
        )
    ]


def read_egress(
    conn: sqlite3.Connection,
    since: float | None = None,
    until: float | None = None,
    purpose: str | None = None,
    limit: int | None = None,
) -> list[EgressRecord]:
    """Egress records with ``since <= ts < until``, newest first."""
    return [
        EgressRecord(row[0], row[1], row[2], row[3], row[4], tuple(loads_json(row[5])), row[6])
        for row in read_window(
            conn,
            "SELECT id, ts, host, path, purpose, fields, bytes FROM egress_log",
            since=since,
            until=until,
            limit=limit,
            where="? IS NULL OR purpose = ?",
            params=(purpose, purpose),
        )
    ]


class ConsentRepo:
    """Consents per purpose; ``db.consents``."""

    def __init__(self, worker: Worker, clock: Clock) -> None:
        self._worker = worker
        self._clock = clock

    async def record(self, purpose: Purpose, *, granted: bool, terms_version: str) -> Consent:
        """Append a grant (``granted=True``) or a revocation of ``purpose``."""
        purpose = Purpose(purpose)
        if not isinstance(terms_version, str) or not terms_version or len(terms_version) > 32:
            raise ValueError("terms_version must be a non-empty string of at most 32 characters")
        now = self._clock.time()

        def run(conn: sqlite3.Connection) -> Consent:
            cur = conn.execute(
                "INSERT INTO consents (purpose, granted, ts, terms_version) VALUES (?, ?, ?, ?)",
                (purpose.value, int(bool(granted)), now, terms_version),
            )
            assert cur.lastrowid is not None
            return Consent(cur.lastrowid, purpose, bool(granted), now, terms_version)

        return await self._worker.write(run)

    async def current(self) -> dict[Purpose, Consent]:
        """The latest decision per purpose (purposes never decided are absent)."""
        history = await self._worker.read(read_consents)
        return {c.purpose: c for c in history}

    async def get(self, purpose: Purpose) -> Consent | None:
        """The latest decision about ``purpose``."""
        history = await self.history(purpose)
        return history[-1] if history else None

    async def is_granted(self, purpose: Purpose, terms_version: str | None = None) -> bool:
        """True if the latest decision grants ``purpose`` (under ``terms_version``, if given)."""
        latest = await self.get(purpose)
        if latest is None or not latest.granted:
            return False
        return terms_version is None or latest.terms_version == terms_version

    async def history(self, purpose: Purpose | None = None) -> list[Consent]:
        """Every decision (about one purpose, or all), oldest first."""
        wanted = None if purpose is None else Purpose(purpose)
        return await self._worker.read(lambda conn: read_consents(conn, wanted))


class EgressRepo:
    """The log of requests that left the LAN; ``db.egress``.

    :attr:`last` is the time of the newest record (None when the log is
    empty), kept current as records are written, erased or pruned; listeners
    hear of every change of it.
    """

    def __init__(self, worker: Worker, clock: Clock) -> None:
        self._worker = worker
        self._clock = clock
        self.last: float | None = None
        self._listeners: Listeners[[]] = Listeners(_LOGGER, "An egress listener failed")

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` when :attr:`last` changes; returns a remover."""
        return self._listeners.add(listener)

    def _set_last(self, value: float | None) -> None:
        if value != self.last:
            self.last = value
            self._listeners.notify()

    async def refresh(self) -> None:
        """Read :attr:`last` from the log (at open, and after records were deleted)."""
        newest = await self._worker.read(
            lambda conn: conn.execute("SELECT MAX(ts) FROM egress_log").fetchone()[0]
        )
        self._set_last(None if newest is None else float(newest))

    async def record(
        self,
        host: str,
        path: str,
        purpose: str,
        fields: Sequence[str],
        nbytes: int,
        *,
        ts: float | None = None,
    ) -> EgressRecord:
        """Append a record. A query string or fragment in ``path`` is dropped:
        it could carry values, and the log keeps only field names."""
        clean_path = path.split("?", 1)[0].split("#", 1)[0]
        names = tuple(fields)
        if not all(isinstance(f, str) for f in names):
            raise ValueError("fields must be field names (strings)")
        if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
            raise ValueError("nbytes must be a whole number >= 0")
        when = self._clock.time() if ts is None else ts

        def run(conn: sqlite3.Connection) -> EgressRecord:
            cur = conn.execute(
                "INSERT INTO egress_log (ts, host, path, purpose, fields, bytes)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (when, host, clean_path, purpose, dumps_json(list(names)), nbytes),
            )
            assert cur.lastrowid is not None
            return EgressRecord(cur.lastrowid, when, host, clean_path, purpose, names, nbytes)

        record = await self._worker.write(run)
        self._set_last(when if self.last is None else max(self.last, when))
        return record

    async def query(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        purpose: str | None = None,
        limit: int | None = 500,
    ) -> list[EgressRecord]:
        """Records with ``since <= ts < until`` (of one purpose), newest first."""
        return await self._worker.read(lambda conn: read_egress(conn, since, until, purpose, limit))
