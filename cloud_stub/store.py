"""The cloud stand-in's SQLite store: enrolled bridges, their thermostats, commands, tokens.

One database file (``cloud.sqlite3`` in the data directory). Secrets and
tokens are stored as SHA-256 hashes only. Everything held for a bridge
(its thermostat object, queued commands and owner tokens) hangs off the
``bridges`` row with ``ON DELETE CASCADE``, so erasing the bridge erases all
of it; ``secure_delete`` makes SQLite overwrite the deleted content in the
file. Statistics are stored under their pseudonym only, never linked to a
bridge.

The store is small and local: its calls are synchronous and fast, made from
the event loop (no worker threads).
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import json
from pathlib import Path
import secrets
import sqlite3
from typing import TYPE_CHECKING, Any

from bridge.core.clock import utc_from_ts

if TYPE_CHECKING:
    from bridge.core.clock import Clock

DB_NAME = "cloud.sqlite3"

_SCHEMA = """
BEGIN;
CREATE TABLE IF NOT EXISTS bridges (
    bridge_id TEXT PRIMARY KEY,
    hardware_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL UNIQUE,
    terms_version TEXT NOT NULL,
    enrolled_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS thermostats (
    bridge_id TEXT PRIMARY KEY REFERENCES bridges(bridge_id) ON DELETE CASCADE,
    object TEXT NOT NULL,
    uploaded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY,
    bridge_id TEXT NOT NULL REFERENCES bridges(bridge_id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS commands_bridge ON commands(bridge_id);
CREATE TABLE IF NOT EXISTS owner_tokens (
    token_hash TEXT PRIMARY KEY,
    bridge_id TEXT NOT NULL REFERENCES bridges(bridge_id) ON DELETE CASCADE,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS owner_tokens_bridge ON owner_tokens(bridge_id);
CREATE TABLE IF NOT EXISTS statistics (
    pseudonym TEXT NOT NULL,
    day TEXT NOT NULL,
    degree_days REAL NOT NULL,
    mean_modulation REAL NOT NULL,
    burner_hours REAL NOT NULL,
    PRIMARY KEY (pseudonym, day)
);
COMMIT;
"""

_BRIDGE_COLUMNS = "SELECT bridge_id, hardware_id, terms_version, enrolled_at FROM bridges WHERE "
_BRIDGE_BY = {
    "bridge_id": _BRIDGE_COLUMNS + "bridge_id = ?",
    "hardware_id": _BRIDGE_COLUMNS + "hardware_id = ?",
    "secret_hash": _BRIDGE_COLUMNS + "secret_hash = ?",
}

#: The tables, for tests and the erase check.
TABLES = ("bridges", "thermostats", "commands", "owner_tokens", "statistics")


def hash_secret(secret: str) -> str:
    """The stored form of a secret or token: SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class AlreadyEnrolled(Exception):
    """A bridge id or hardware id that is already enrolled."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} is already enrolled")
        self.field = field


@dataclass(frozen=True)
class BridgeRecord:
    """One enrolled bridge."""

    bridge_id: str
    hardware_id: str
    terms_version: str
    enrolled_at: str


@dataclass(frozen=True)
class Command:
    """A change set through the cloud API, waiting for the bridge to pull it."""

    id: int
    kind: str
    body: dict[str, Any]
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        """The wire form: ``{"id", "type", "body", "created"}``."""
        return {"id": self.id, "type": self.kind, "body": self.body, "created": self.created_at}


class CloudStore:
    """The stand-in's database."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self._clock = clock
        self._db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA secure_delete = ON")
        self._db.executescript(_SCHEMA)

    @classmethod
    def open(cls, data_dir: Path, clock: Clock) -> CloudStore:
        """Open (or create) the database in ``data_dir``, readable by its owner only."""
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = data_dir / DB_NAME
        path.touch(mode=0o600, exist_ok=True)
        return cls(path, clock)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def _now(self) -> str:
        return utc_from_ts(self._clock.time()).isoformat()

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)

    # -- bridges ------------------------------------------------------------------

    def enrol(self, bridge_id: str, hardware_id: str, terms_version: str) -> str:
        """Register a bridge; returns its new secret (only the hash is kept)."""
        secret = secrets.token_urlsafe(32)
        with self._tx():
            for field, value in (("bridge_id", bridge_id), ("hardware_id", hardware_id)):
                if self._bridge(field, value) is not None:
                    raise AlreadyEnrolled(field)
            self._db.execute(
                "INSERT INTO bridges (bridge_id, hardware_id, secret_hash, terms_version,"
                " enrolled_at) VALUES (?, ?, ?, ?, ?)",
                (bridge_id, hardware_id, hash_secret(secret), terms_version, self._now()),
            )
        return secret

    def _bridge(self, column: str, value: str) -> BridgeRecord | None:
        row = self._db.execute(_BRIDGE_BY[column], (value,)).fetchone()
        return BridgeRecord(**dict(row)) if row is not None else None

    def bridge(self, bridge_id: str) -> BridgeRecord | None:
        """The bridge with this id."""
        return self._bridge("bridge_id", bridge_id)

    def bridge_by_hardware(self, hardware_id: str) -> BridgeRecord | None:
        """The bridge enrolled for this thermostat."""
        return self._bridge("hardware_id", hardware_id)

    def bridge_for_secret(self, secret: str) -> BridgeRecord | None:
        """The bridge whose secret this is."""
        return self._bridge("secret_hash", hash_secret(secret))

    def is_identifier(self, value: str) -> bool:
        """Whether ``value`` is an enrolled bridge id or hardware id."""
        row = self._db.execute(
            "SELECT 1 FROM bridges WHERE bridge_id = ? OR hardware_id = ?", (value, value)
        ).fetchone()
        return row is not None

    def erase_bridge(self, bridge_id: str) -> bool:
        """Erase the bridge and everything held for it; False if it was not enrolled."""
        with self._tx():
            cur = self._db.execute("DELETE FROM bridges WHERE bridge_id = ?", (bridge_id,))
        return cur.rowcount > 0

    # -- thermostat object ----------------------------------------------------------

    def put_object(self, bridge_id: str, obj: dict[str, Any]) -> None:
        """Store the bridge's uploaded thermostat object (replacing the last one)."""
        with self._tx():
            self._db.execute(
                "INSERT INTO thermostats (bridge_id, object, uploaded_at) VALUES (?, ?, ?)"
                " ON CONFLICT (bridge_id) DO UPDATE SET object = excluded.object,"
                " uploaded_at = excluded.uploaded_at",
                (bridge_id, json.dumps(obj), self._now()),
            )

    def get_object(self, bridge_id: str) -> dict[str, Any] | None:
        """The stored thermostat object, or None before the first upload."""
        row = self._db.execute(
            "SELECT object FROM thermostats WHERE bridge_id = ?", (bridge_id,)
        ).fetchone()
        if row is None:
            return None
        obj: dict[str, Any] = json.loads(row["object"])
        return obj

    # -- commands --------------------------------------------------------------------

    def queue_command(
        self, bridge_id: str, kind: str, body: dict[str, Any], new_object: dict[str, Any]
    ) -> None:
        """Queue a command and store the object with it applied, in one transaction."""
        with self._tx():
            self._db.execute(
                "INSERT INTO commands (bridge_id, kind, body, created_at) VALUES (?, ?, ?, ?)",
                (bridge_id, kind, json.dumps(body), self._now()),
            )
            self._db.execute(
                "UPDATE thermostats SET object = ? WHERE bridge_id = ?",
                (json.dumps(new_object), bridge_id),
            )

    def pending_commands(self, bridge_id: str) -> list[Command]:
        """The commands waiting for the bridge, oldest first."""
        rows = self._db.execute(
            "SELECT id, kind, body, created_at FROM commands WHERE bridge_id = ? ORDER BY id",
            (bridge_id,),
        ).fetchall()
        return [Command(r["id"], r["kind"], json.loads(r["body"]), r["created_at"]) for r in rows]

    def take_commands(self, bridge_id: str) -> list[Command]:
        """The waiting commands, removed from the queue in the same transaction."""
        with self._tx():
            commands = self.pending_commands(bridge_id)
            self._db.execute("DELETE FROM commands WHERE bridge_id = ?", (bridge_id,))
        return commands

    # -- owner tokens -------------------------------------------------------------------

    def create_owner_token(self, hardware_id: str) -> str:
        """A new API token for the owner of ``hardware_id``; ``LookupError`` if not enrolled."""
        token = secrets.token_urlsafe(32)
        with self._tx():
            record = self.bridge_by_hardware(hardware_id)
            if record is None:
                raise LookupError(hardware_id)
            self._db.execute(
                "INSERT INTO owner_tokens (token_hash, bridge_id, created_at) VALUES (?, ?, ?)",
                (hash_secret(token), record.bridge_id, self._now()),
            )
        return token

    def bridge_for_owner_token(self, token: str) -> BridgeRecord | None:
        """The bridge (and so the thermostat) an owner token belongs to."""
        row = self._db.execute(
            "SELECT bridge_id FROM owner_tokens WHERE token_hash = ?", (hash_secret(token),)
        ).fetchone()
        return self.bridge(row["bridge_id"]) if row is not None else None

    # -- statistics ------------------------------------------------------------------------

    def put_statistics(
        self,
        pseudonym: str,
        day: str,
        degree_days: float,
        mean_modulation: float,
        burner_hours: float,
    ) -> None:
        """Store one day's aggregates (a second report for the same day replaces the first)."""
        with self._tx():
            self._db.execute(
                "INSERT INTO statistics (pseudonym, day, degree_days, mean_modulation,"
                " burner_hours) VALUES (?, ?, ?, ?, ?) ON CONFLICT (pseudonym, day) DO UPDATE"
                " SET degree_days = excluded.degree_days,"
                " mean_modulation = excluded.mean_modulation,"
                " burner_hours = excluded.burner_hours",
                (pseudonym, day, degree_days, mean_modulation, burner_hours),
            )

    def erase_statistics(self, pseudonym: str) -> int:
        """Erase every day stored under ``pseudonym``; returns how many."""
        with self._tx():
            cur = self._db.execute("DELETE FROM statistics WHERE pseudonym = ?", (pseudonym,))
        return cur.rowcount


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on an exception)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
