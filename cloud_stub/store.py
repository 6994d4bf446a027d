"""The cloud stand-in's SQLite store: owners, linked bridges, their thermostats, commands, tokens.

One database file (``cloud.sqlite3`` in the data directory). Passwords,
bridge credentials, tokens, codes and device codes are stored as SHA-256
hashes only (they are random, at least 128 bits, so a plain hash is enough).

Everything held for a bridge (its thermostat object, its commands, owner
tokens and OAuth codes for it) hangs off the ``bridges`` row with ``ON
DELETE CASCADE``, and an erase also drops the bridge's link requests, so
erasing the bridge erases all of it; ``secure_delete`` makes SQLite
overwrite the deleted content in the file. An owner account (e-mail and
password hash) is the owner's, not a bridge's: it outlives an erase.
Statistics are stored under their pseudonym only, never linked to a bridge.

Retention (:meth:`CloudStore.prune`): a bridge's thermostat object and its
commands (pending or answered) are kept no longer than the retention the
bridge stated (the ``retention`` frame of the sync connection), else the
stand-in's default;
statistics no longer than the default; expired link requests, codes and
access tokens are dropped.

The store is small and local: its calls are synchronous and fast, made from
the event loop (no worker threads).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
import hashlib
import hmac
import json
from pathlib import Path
import secrets
import sqlite3
from typing import TYPE_CHECKING, Any

from bridge.core.clock import utc_from_ts

if TYPE_CHECKING:
    from bridge.core.clock import Clock

DB_NAME = "cloud.sqlite3"
#: The database's ``user_version``: owners, links and OAuth; 3: commands answered over
#: the sync connection, and service reports.
SCHEMA_VERSION = 3

#: The terms version a new stand-in publishes until ``terms publish`` sets another.
INITIAL_TERMS_VERSION = "2026-01"
#: How long a link request (device code, user code) may wait for the owner: 10 minutes.
LINK_TTL = 600.0
#: The least time between two polls of the token endpoint for one device code.
LINK_INTERVAL = 5.0
#: What ``slow_down`` adds to the interval (RFC 8628 section 3.5).
SLOW_DOWN_STEP = 5.0
#: An OAuth authorization code is redeemed within 10 minutes.
AUTH_CODE_TTL = 600.0
#: An OAuth access token lasts one hour; its refresh token until used or revoked.
ACCESS_TOKEN_TTL = 3600.0
#: The characters of a user code: consonants only (RFC 8628 section 6.1), so no word forms.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8

_SCHEMA = """
BEGIN;
CREATE TABLE IF NOT EXISTS owners (
    owner_id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bridges (
    bridge_id TEXT PRIMARY KEY,
    hardware_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL UNIQUE,
    terms_version TEXT NOT NULL,
    enrolled_at TEXT NOT NULL,
    owner_id INTEGER NOT NULL REFERENCES owners(owner_id) ON DELETE CASCADE,
    retention_days INTEGER
);
CREATE INDEX IF NOT EXISTS bridges_owner ON bridges(owner_id);
CREATE TABLE IF NOT EXISTS thermostats (
    bridge_id TEXT PRIMARY KEY REFERENCES bridges(bridge_id) ON DELETE CASCADE,
    object TEXT NOT NULL,
    seq INTEGER NOT NULL,
    uploaded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY,
    bridge_id TEXT NOT NULL REFERENCES bridges(bridge_id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    based_on INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    errors TEXT,
    answered_at TEXT
);
CREATE INDEX IF NOT EXISTS commands_bridge ON commands(bridge_id);
CREATE TABLE IF NOT EXISTS owner_tokens (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    bridge_id TEXT NOT NULL REFERENCES bridges(bridge_id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    grant_id TEXT,
    client_id TEXT,
    expires_at REAL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS owner_tokens_bridge ON owner_tokens(bridge_id);
CREATE TABLE IF NOT EXISTS oauth_clients (
    client_id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS auth_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
    bridge_id TEXT NOT NULL REFERENCES bridges(bridge_id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS link_requests (
    device_code_hash TEXT PRIMARY KEY,
    user_code TEXT NOT NULL UNIQUE,
    bridge_id TEXT NOT NULL,
    hardware_id TEXT NOT NULL,
    terms_version TEXT NOT NULL,
    expires_at REAL NOT NULL,
    interval REAL NOT NULL,
    last_poll REAL,
    status TEXT NOT NULL,
    owner_id INTEGER REFERENCES owners(owner_id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS terms (
    seq INTEGER PRIMARY KEY,
    version TEXT NOT NULL UNIQUE,
    published_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS service_reports (
    bridge_id TEXT PRIMARY KEY REFERENCES bridges(bridge_id) ON DELETE CASCADE,
    report TEXT NOT NULL,
    received_at TEXT NOT NULL
);
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

_BRIDGE_COLUMNS = (
    "SELECT bridge_id, hardware_id, terms_version, enrolled_at, owner_id, retention_days"
    " FROM bridges WHERE "
)
_BRIDGE_BY = {
    "bridge_id": _BRIDGE_COLUMNS + "bridge_id = ?",
    "hardware_id": _BRIDGE_COLUMNS + "hardware_id = ?",
    "secret_hash": _BRIDGE_COLUMNS + "secret_hash = ?",
}

_COMMAND_COLUMNS = (
    "SELECT id, kind, body, based_on, created_at, status, errors, answered_at"
    " FROM commands WHERE bridge_id = ?"
)
_COMMANDS_BY = {
    "all": _COMMAND_COLUMNS + " ORDER BY id",
    "id": _COMMAND_COLUMNS + " AND id = ?",
    "status": _COMMAND_COLUMNS + " AND status = ? ORDER BY id",
}

#: The tables that hold something of a bridge: an erase leaves none of its rows.
BRIDGE_TABLES = (
    "bridges",
    "thermostats",
    "commands",
    "owner_tokens",
    "auth_codes",
    "link_requests",
    "service_reports",
)
#: Every table.
TABLES = (*BRIDGE_TABLES, "owners", "oauth_clients", "terms", "statistics")

#: Token kinds: made by ``token create``, or issued by the OAuth token endpoint.
API_TOKEN = "api"
ACCESS_TOKEN = "access"
REFRESH_TOKEN = "refresh"

#: Link request states.
PENDING = "pending"
APPROVED = "approved"
DENIED = "denied"


def hash_secret(secret: str) -> str:
    """The stored form of a secret or token: SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normal_user_code(value: str) -> str:
    """A user code as typed (any case, with or without ``-`` or spaces) in its stored form."""
    return "".join(c for c in value.upper() if c not in "- ")


def show_user_code(code: str) -> str:
    """``BCDFGHJK`` -> ``BCDF-GHJK``: how a user code is shown."""
    return f"{code[:4]}-{code[4:]}"


class StoreError(Exception):
    """A database this stand-in cannot use."""


class AlreadyEnrolled(Exception):
    """A bridge id or hardware id that is already linked."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} is already linked")
        self.field = field


class AlreadyExists(Exception):
    """An owner account for an e-mail address that has one."""


@dataclass(frozen=True)
class Owner:
    """An owner account."""

    owner_id: int
    email: str


@dataclass(frozen=True)
class BridgeRecord:
    """One linked bridge."""

    bridge_id: str
    hardware_id: str
    terms_version: str
    enrolled_at: str
    owner_id: int
    retention_days: int | None


@dataclass(frozen=True)
class Command:
    """A change made through the cloud API: pending until the bridge answers it."""

    id: int
    kind: str
    body: dict[str, Any]
    based_on: int
    created_at: str
    status: str
    errors: list[dict[str, str]]
    answered_at: str | None

    def to_dict(self) -> dict[str, Any]:
        """The owner's view: ``{"id", "kind", "body", "status", "issued_at", "answered_at",
        "errors"}``."""
        return {
            "id": self.id,
            "kind": self.kind,
            "body": self.body,
            "status": self.status,
            "issued_at": self.created_at,
            "answered_at": self.answered_at,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class TokenInfo:
    """An owner token, without its secret."""

    id: int
    hardware_id: str
    kind: str
    client_id: str | None
    expires_at: float | None
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        """For ``token list --json``."""
        return {
            "id": self.id,
            "thermostat": self.hardware_id,
            "kind": self.kind,
            "client_id": self.client_id,
            "expires_at": self.expires_at,
            "created": self.created_at,
        }


@dataclass(frozen=True)
class LinkRequest:
    """A bridge's request to be linked, as the owner sees it on the approval page."""

    user_code: str
    bridge_id: str
    hardware_id: str
    expires_at: float


@dataclass(frozen=True)
class LinkStarted:
    """A new link request: the device code goes to the bridge, the user code to the owner."""

    device_code: str
    user_code: str
    expires_in: float
    interval: float


@dataclass(frozen=True)
class LinkPoll:
    """The token endpoint's answer to a device code: an RFC 8628 error, or the credential."""

    error: str | None = None
    secret: str | None = None
    bridge: BridgeRecord | None = None


@dataclass(frozen=True)
class OAuthGrant:
    """The tokens the OAuth token endpoint issued."""

    access_token: str
    refresh_token: str
    expires_in: float
    hardware_id: str


class CloudStore:
    """The stand-in's database."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self._clock = clock
        self._db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA secure_delete = ON")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if version != SCHEMA_VERSION and (version or tables):
            self._db.close()
            raise StoreError(
                f"{path} was written by another version of the stand-in (schema {version}, "
                f"this one uses {SCHEMA_VERSION}); move it away to start afresh"
            )
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        if self.terms_version() is None:
            self.publish_terms(INITIAL_TERMS_VERSION)

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

    # -- owners ---------------------------------------------------------------------

    def create_owner(self, email: str) -> tuple[Owner, str]:
        """A new owner account; returns it and its password (only the hash is kept).

        ``email`` must already be checked; it is stored in lower case.
        :class:`AlreadyExists` if the address has an account.
        """
        password = secrets.token_urlsafe(18)
        with self._tx():
            if self.owner(email) is not None:
                raise AlreadyExists(email)
            cur = self._db.execute(
                "INSERT INTO owners (email, password_hash, created_at) VALUES (?, ?, ?)",
                (email.lower(), hash_secret(password), self._now()),
            )
        assert cur.lastrowid is not None
        return Owner(cur.lastrowid, email.lower()), password

    def owner(self, email: str) -> Owner | None:
        """The account of ``email`` (any case)."""
        row = self._db.execute(
            "SELECT owner_id, email FROM owners WHERE email = ?", (email.lower(),)
        ).fetchone()
        return Owner(**dict(row)) if row is not None else None

    def owner_by_id(self, owner_id: int) -> Owner | None:
        """The account with this id."""
        row = self._db.execute(
            "SELECT owner_id, email FROM owners WHERE owner_id = ?", (owner_id,)
        ).fetchone()
        return Owner(**dict(row)) if row is not None else None

    def owner_login(self, username: str, password: str) -> tuple[Owner, BridgeRecord | None] | None:
        """The owner whose e-mail (or whose linked thermostat's hardware id) is ``username``
        and whose password is ``password``, with the thermostat the login is for (the one
        named, else the owner's first linked one, else None); None if they do not match."""
        bridge = self.bridge_by_hardware(username)
        if bridge is not None:
            owner = self.owner_by_id(bridge.owner_id)
        else:
            owner = self.owner(username)
            bridge = self.first_bridge(owner.owner_id) if owner is not None else None
        if owner is None:
            hmac.compare_digest(hash_secret(password), hash_secret(""))  # the same work
            return None
        stored = self._db.execute(
            "SELECT password_hash FROM owners WHERE owner_id = ?", (owner.owner_id,)
        ).fetchone()["password_hash"]
        if not hmac.compare_digest(stored, hash_secret(password)):
            return None
        return owner, bridge

    def first_bridge(self, owner_id: int) -> BridgeRecord | None:
        """The owner's first linked bridge."""
        row = self._db.execute(
            _BRIDGE_COLUMNS + "owner_id = ? ORDER BY enrolled_at, bridge_id LIMIT 1", (owner_id,)
        ).fetchone()
        return BridgeRecord(**dict(row)) if row is not None else None

    def owner_bridges(self, owner_id: int) -> list[BridgeRecord]:
        """The owner's linked bridges, first linked first."""
        rows = self._db.execute(
            _BRIDGE_COLUMNS + "owner_id = ? ORDER BY enrolled_at, bridge_id", (owner_id,)
        ).fetchall()
        return [BridgeRecord(**dict(r)) for r in rows]

    # -- bridges ------------------------------------------------------------------

    def _link(self, bridge_id: str, hardware_id: str, terms_version: str, owner_id: int) -> str:
        """Insert a linked bridge (inside a transaction); returns its new credential."""
        for field, value in (("bridge_id", bridge_id), ("hardware_id", hardware_id)):
            if self._bridge(field, value) is not None:
                raise AlreadyEnrolled(field)
        secret = secrets.token_urlsafe(32)
        self._db.execute(
            "INSERT INTO bridges (bridge_id, hardware_id, secret_hash, terms_version,"
            " enrolled_at, owner_id) VALUES (?, ?, ?, ?, ?, ?)",
            (bridge_id, hardware_id, hash_secret(secret), terms_version, self._now(), owner_id),
        )
        return secret

    def _bridge(self, column: str, value: str) -> BridgeRecord | None:
        row = self._db.execute(_BRIDGE_BY[column], (value,)).fetchone()
        return BridgeRecord(**dict(row)) if row is not None else None

    def bridge(self, bridge_id: str) -> BridgeRecord | None:
        """The bridge with this id."""
        return self._bridge("bridge_id", bridge_id)

    def bridge_by_hardware(self, hardware_id: str) -> BridgeRecord | None:
        """The bridge linked for this thermostat."""
        return self._bridge("hardware_id", hardware_id)

    def bridge_for_secret(self, secret: str) -> BridgeRecord | None:
        """The bridge whose credential this is."""
        return self._bridge("secret_hash", hash_secret(secret))

    def is_identifier(self, value: str) -> bool:
        """Whether ``value`` is a linked bridge id or hardware id."""
        row = self._db.execute(
            "SELECT 1 FROM bridges WHERE bridge_id = ? OR hardware_id = ?", (value, value)
        ).fetchone()
        return row is not None

    def contains_identifier(self, value: str) -> bool:
        """Whether ``value`` contains a linked bridge id or hardware id (any case)."""
        row = self._db.execute(
            "SELECT 1 FROM bridges WHERE instr(lower(?), lower(bridge_id)) > 0"
            " OR instr(lower(?), lower(hardware_id)) > 0",
            (value, value),
        ).fetchone()
        return row is not None

    def set_retention(self, bridge_id: str, days: int) -> None:
        """The retention the bridge stated, in days; applied at once."""
        with self._tx():
            self._db.execute(
                "UPDATE bridges SET retention_days = ? WHERE bridge_id = ?", (days, bridge_id)
            )

    def erase_bridge(self, bridge_id: str) -> bool:
        """Erase the bridge and everything held for it; False if it was not linked."""
        with self._tx():
            record = self.bridge(bridge_id)
            if record is None:
                return False
            self._db.execute(
                "DELETE FROM link_requests WHERE bridge_id = ? OR hardware_id = ?",
                (record.bridge_id, record.hardware_id),
            )
            self._db.execute("DELETE FROM bridges WHERE bridge_id = ?", (bridge_id,))
        return True

    # -- linking (RFC 8628) -----------------------------------------------------------

    def start_link(self, bridge_id: str, hardware_id: str, terms_version: str) -> LinkStarted:
        """A link request for a bridge that is not linked yet (:class:`AlreadyEnrolled`)."""
        device_code = secrets.token_urlsafe(32)
        now = self._clock.time()
        with self._tx():
            for field, value in (("bridge_id", bridge_id), ("hardware_id", hardware_id)):
                if self._bridge(field, value) is not None:
                    raise AlreadyEnrolled(field)
            self._db.execute("DELETE FROM link_requests WHERE expires_at <= ?", (now,))
            while True:
                user_code = "".join(
                    secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH)
                )
                taken = self._db.execute(
                    "SELECT 1 FROM link_requests WHERE user_code = ?", (user_code,)
                ).fetchone()
                if taken is None:
                    break
            self._db.execute(
                "INSERT INTO link_requests (device_code_hash, user_code, bridge_id, hardware_id,"
                " terms_version, expires_at, interval, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    hash_secret(device_code),
                    user_code,
                    bridge_id,
                    hardware_id,
                    terms_version,
                    now + LINK_TTL,
                    LINK_INTERVAL,
                    PENDING,
                ),
            )
        return LinkStarted(device_code, show_user_code(user_code), LINK_TTL, LINK_INTERVAL)

    def link_request(self, user_code: str) -> LinkRequest | None:
        """The pending, unexpired link request with this user code (as typed)."""
        row = self._db.execute(
            "SELECT user_code, bridge_id, hardware_id, expires_at FROM link_requests"
            " WHERE user_code = ? AND status = ? AND expires_at > ?",
            (normal_user_code(user_code), PENDING, self._clock.time()),
        ).fetchone()
        if row is None:
            return None
        return LinkRequest(
            show_user_code(row["user_code"]),
            row["bridge_id"],
            row["hardware_id"],
            row["expires_at"],
        )

    def decide_link(self, user_code: str, owner_id: int, *, approve: bool) -> LinkRequest | None:
        """The owner approves (or denies) a pending request; None if there is none."""
        with self._tx():
            request = self.link_request(user_code)
            if request is None:
                return None
            self._db.execute(
                "UPDATE link_requests SET status = ?, owner_id = ? WHERE user_code = ?",
                (APPROVED if approve else DENIED, owner_id, normal_user_code(user_code)),
            )
        return request

    def poll_link(self, device_code: str) -> LinkPoll:
        """The token endpoint's step for a device code (RFC 8628 section 3.5).

        ``invalid_grant`` for an unknown (or already redeemed) code;
        ``expired_token``; ``slow_down`` when polled sooner than the interval (which
        then grows by :data:`SLOW_DOWN_STEP`); ``authorization_pending``;
        ``access_denied``; else the bridge is linked to the approving owner and its
        new credential returned, once.
        """
        now = self._clock.time()
        key = hash_secret(device_code)
        with self._tx():
            row = self._db.execute(
                "SELECT * FROM link_requests WHERE device_code_hash = ?", (key,)
            ).fetchone()
            if row is None:
                return LinkPoll("invalid_grant")
            if row["expires_at"] <= now:
                self._db.execute("DELETE FROM link_requests WHERE device_code_hash = ?", (key,))
                return LinkPoll("expired_token")
            if row["status"] == DENIED:
                self._db.execute("DELETE FROM link_requests WHERE device_code_hash = ?", (key,))
                return LinkPoll("access_denied")
            if row["status"] == PENDING:
                interval = row["interval"]
                error = "authorization_pending"
                if row["last_poll"] is not None and now - row["last_poll"] < interval:
                    interval += SLOW_DOWN_STEP
                    error = "slow_down"
                self._db.execute(
                    "UPDATE link_requests SET last_poll = ?, interval = ?"
                    " WHERE device_code_hash = ?",
                    (now, interval, key),
                )
                return LinkPoll(error)
            self._db.execute("DELETE FROM link_requests WHERE device_code_hash = ?", (key,))
            try:
                secret = self._link(
                    row["bridge_id"], row["hardware_id"], row["terms_version"], row["owner_id"]
                )
            except AlreadyEnrolled:  # another request of the same bridge was redeemed first
                return LinkPoll("invalid_grant")
            bridge = self.bridge(row["bridge_id"])
        return LinkPoll(secret=secret, bridge=bridge)

    # -- thermostat object ----------------------------------------------------------

    def put_object(self, bridge_id: str, obj: dict[str, Any], seq: int) -> bool:
        """Store the bridge's thermostat object as of its ``seq``; an older one than the
        stored (a frame overtaken by a later one) is dropped: False."""
        with self._tx():
            cur = self._db.execute(
                "INSERT INTO thermostats (bridge_id, object, seq, uploaded_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (bridge_id) DO UPDATE SET object = excluded.object,"
                " seq = excluded.seq, uploaded_at = excluded.uploaded_at"
                " WHERE excluded.seq >= thermostats.seq",
                (bridge_id, json.dumps(obj), seq, self._now()),
            )
        return cur.rowcount > 0

    def get_object(self, bridge_id: str) -> tuple[dict[str, Any], int] | None:
        """The confirmed thermostat object and its ``seq``, or None before the first upload."""
        row = self._db.execute(
            "SELECT object, seq FROM thermostats WHERE bridge_id = ?", (bridge_id,)
        ).fetchone()
        if row is None:
            return None
        obj: dict[str, Any] = json.loads(row["object"])
        return obj, int(row["seq"])

    # -- service reports (consent service_access) ------------------------------------------

    def put_service_report(self, bridge_id: str, report: dict[str, Any]) -> str:
        """Store the bridge's latest service report (replacing the last one); when received."""
        received = self._now()
        with self._tx():
            self._db.execute(
                "INSERT INTO service_reports (bridge_id, report, received_at) VALUES (?, ?, ?)"
                " ON CONFLICT (bridge_id) DO UPDATE SET report = excluded.report,"
                " received_at = excluded.received_at",
                (bridge_id, json.dumps(report), received),
            )
        return received

    def service_report(self, bridge_id: str) -> tuple[dict[str, Any], str] | None:
        """The latest service report and when it was received, or None."""
        row = self._db.execute(
            "SELECT report, received_at FROM service_reports WHERE bridge_id = ?", (bridge_id,)
        ).fetchone()
        if row is None:
            return None
        report: dict[str, Any] = json.loads(row["report"])
        return report, str(row["received_at"])

    def erase_service_report(self, bridge_id: str) -> bool:
        """Delete the bridge's service report; False if there was none."""
        with self._tx():
            cur = self._db.execute("DELETE FROM service_reports WHERE bridge_id = ?", (bridge_id,))
        return cur.rowcount > 0

    def erase_object(self, bridge_id: str) -> int:
        """Forget the bridge's thermostat object and its queued commands (the link stays);
        how many rows went."""
        with self._tx():
            return sum(
                self._db.execute(
                    f"DELETE FROM {table} WHERE bridge_id = ?",  # noqa: S608
                    (bridge_id,),
                ).rowcount
                for table in ("thermostats", "commands")
            )

    # -- commands --------------------------------------------------------------------

    def add_command(
        self, bridge_id: str, kind: str, body: dict[str, Any], based_on: int
    ) -> Command:
        """A new pending command, issued against the object of ``seq`` ``based_on``."""
        with self._tx():
            cur = self._db.execute(
                "INSERT INTO commands (bridge_id, kind, body, based_on, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (bridge_id, kind, json.dumps(body), based_on, self._now()),
            )
        command = self.command(bridge_id, int(cur.lastrowid or 0))
        assert command is not None
        return command

    def _commands(self, which: str, args: tuple[Any, ...]) -> list[Command]:
        rows = self._db.execute(_COMMANDS_BY[which], args).fetchall()
        return [
            Command(
                r["id"],
                r["kind"],
                json.loads(r["body"]),
                r["based_on"],
                r["created_at"],
                r["status"],
                json.loads(r["errors"] or "[]"),
                r["answered_at"],
            )
            for r in rows
        ]

    def command(self, bridge_id: str, command_id: int) -> Command | None:
        """One of the bridge's commands."""
        found = self._commands("id", (bridge_id, command_id))
        return found[0] if found else None

    def commands(self, bridge_id: str) -> list[Command]:
        """The bridge's commands within the retention, oldest first."""
        return self._commands("all", (bridge_id,))

    def pending_commands(self, bridge_id: str) -> list[Command]:
        """The commands the bridge has not answered, oldest first."""
        return self._commands("status", (bridge_id, PENDING))

    def answer_command(
        self, bridge_id: str, command_id: int, status: str, errors: list[dict[str, str]]
    ) -> bool:
        """Record the bridge's answer to a pending command of its own (False: none such)."""
        with self._tx():
            cur = self._db.execute(
                "UPDATE commands SET status = ?, errors = ?, answered_at = ?"
                " WHERE bridge_id = ? AND id = ? AND status = ?",
                (status, json.dumps(errors), self._now(), bridge_id, command_id, PENDING),
            )
        return cur.rowcount > 0

    # -- owner tokens -------------------------------------------------------------------

    def _insert_token(
        self,
        bridge_id: str,
        kind: str,
        *,
        grant_id: str | None = None,
        client_id: str | None = None,
        expires_at: float | None = None,
    ) -> tuple[int, str]:
        token = secrets.token_urlsafe(32)
        cur = self._db.execute(
            "INSERT INTO owner_tokens (token_hash, bridge_id, kind, grant_id, client_id,"
            " expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (hash_secret(token), bridge_id, kind, grant_id, client_id, expires_at, self._now()),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid, token

    def create_owner_token(self, bridge_id: str) -> tuple[int, str]:
        """A new API token (until revoked) for the thermostat of ``bridge_id``: (id, token)."""
        with self._tx():
            if self.bridge(bridge_id) is None:
                raise LookupError(bridge_id)
            return self._insert_token(bridge_id, API_TOKEN)

    def owner_tokens(self, owner_id: int) -> list[TokenInfo]:
        """The owner's live tokens (refresh tokens included), oldest first."""
        rows = self._db.execute(
            "SELECT t.id, b.hardware_id, t.kind, t.client_id, t.expires_at, t.created_at"
            " FROM owner_tokens t JOIN bridges b USING (bridge_id)"
            " WHERE b.owner_id = ? AND (t.expires_at IS NULL OR t.expires_at > ?) ORDER BY t.id",
            (owner_id, self._clock.time()),
        ).fetchall()
        return [TokenInfo(**dict(r)) for r in rows]

    def revoke_token(self, token_id: int) -> bool:
        """Revoke a token, and with an OAuth token its whole grant; False if unknown."""
        with self._tx():
            row = self._db.execute(
                "SELECT grant_id FROM owner_tokens WHERE id = ?", (token_id,)
            ).fetchone()
            if row is None:
                return False
            self._db.execute("DELETE FROM owner_tokens WHERE id = ?", (token_id,))
            if row["grant_id"] is not None:
                self._db.execute("DELETE FROM owner_tokens WHERE grant_id = ?", (row["grant_id"],))
        return True

    def bridge_for_owner_token(self, token: str) -> BridgeRecord | None:
        """The bridge (and so the thermostat) a live API or access token belongs to."""
        row = self._db.execute(
            "SELECT bridge_id FROM owner_tokens WHERE token_hash = ? AND kind != ?"
            " AND (expires_at IS NULL OR expires_at > ?)",
            (hash_secret(token), REFRESH_TOKEN, self._clock.time()),
        ).fetchone()
        return self.bridge(row["bridge_id"]) if row is not None else None

    # -- OAuth clients, codes and grants ------------------------------------------------------

    def create_oauth_client(self, redirect_uris: list[str]) -> tuple[str, str]:
        """Register an OAuth client; returns ``(client_id, client_secret)``."""
        client_id = secrets.token_hex(16)
        secret = secrets.token_urlsafe(32)
        with self._tx():
            self._db.execute(
                "INSERT INTO oauth_clients (client_id, secret_hash, redirect_uris, created_at)"
                " VALUES (?, ?, ?, ?)",
                (client_id, hash_secret(secret), json.dumps(redirect_uris), self._now()),
            )
        return client_id, secret

    def oauth_client(self, client_id: str) -> list[str] | None:
        """The redirect URIs of a registered client, or None."""
        row = self._db.execute(
            "SELECT redirect_uris FROM oauth_clients WHERE client_id = ?", (client_id,)
        ).fetchone()
        if row is None:
            return None
        uris: list[str] = json.loads(row["redirect_uris"])
        return uris

    def verify_oauth_client(self, client_id: str, secret: str) -> bool:
        """Whether ``secret`` is the client's."""
        row = self._db.execute(
            "SELECT secret_hash FROM oauth_clients WHERE client_id = ?", (client_id,)
        ).fetchone()
        stored = row["secret_hash"] if row is not None else hash_secret("")
        return row is not None and hmac.compare_digest(stored, hash_secret(secret))

    def create_auth_code(
        self, client_id: str, bridge_id: str, redirect_uri: str, code_challenge: str | None
    ) -> str:
        """A one-time authorization code for the owner's thermostat."""
        code = secrets.token_urlsafe(32)
        with self._tx():
            self._db.execute(
                "INSERT INTO auth_codes (code_hash, client_id, bridge_id, redirect_uri,"
                " code_challenge, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    hash_secret(code),
                    client_id,
                    bridge_id,
                    redirect_uri,
                    code_challenge,
                    self._clock.time() + AUTH_CODE_TTL,
                ),
            )
        return code

    def take_auth_code(self, code: str, client_id: str) -> dict[str, Any] | None:
        """The code's ``bridge_id``, ``redirect_uri`` and ``code_challenge``, used up; None
        if unknown, used, expired or another client's."""
        with self._tx():
            row = self._db.execute(
                "SELECT client_id, bridge_id, redirect_uri, code_challenge, expires_at"
                " FROM auth_codes WHERE code_hash = ?",
                (hash_secret(code),),
            ).fetchone()
            if row is None:
                return None
            self._db.execute("DELETE FROM auth_codes WHERE code_hash = ?", (hash_secret(code),))
        if row["client_id"] != client_id or row["expires_at"] <= self._clock.time():
            return None
        return dict(row)

    def issue_grant(self, bridge_id: str, client_id: str) -> OAuthGrant:
        """A new access token and refresh token for the thermostat of ``bridge_id``."""
        grant_id = secrets.token_hex(16)
        with self._tx():
            return self._issue(bridge_id, client_id, grant_id)

    def _issue(self, bridge_id: str, client_id: str, grant_id: str) -> OAuthGrant:
        record = self.bridge(bridge_id)
        if record is None:
            raise LookupError(bridge_id)
        expires = self._clock.time() + ACCESS_TOKEN_TTL
        _, access = self._insert_token(
            bridge_id, ACCESS_TOKEN, grant_id=grant_id, client_id=client_id, expires_at=expires
        )
        _, refresh = self._insert_token(
            bridge_id, REFRESH_TOKEN, grant_id=grant_id, client_id=client_id
        )
        return OAuthGrant(access, refresh, ACCESS_TOKEN_TTL, record.hardware_id)

    def rotate_refresh_token(self, refresh_token: str, client_id: str) -> OAuthGrant | None:
        """New tokens for a refresh token of ``client_id``; the old pair stops working.
        None if the token is unknown, used or another client's."""
        with self._tx():
            row = self._db.execute(
                "SELECT bridge_id, grant_id, client_id FROM owner_tokens"
                " WHERE token_hash = ? AND kind = ?",
                (hash_secret(refresh_token), REFRESH_TOKEN),
            ).fetchone()
            if row is None or row["client_id"] != client_id:
                return None
            self._db.execute("DELETE FROM owner_tokens WHERE grant_id = ?", (row["grant_id"],))
            return self._issue(row["bridge_id"], client_id, row["grant_id"])

    # -- terms ------------------------------------------------------------------------------

    def terms_version(self) -> str | None:
        """The current terms version."""
        row = self._db.execute("SELECT version FROM terms ORDER BY seq DESC LIMIT 1").fetchone()
        return row["version"] if row is not None else None

    def terms(self) -> tuple[str, str]:
        """The current terms: ``(version, published_at)``."""
        row = self._db.execute(
            "SELECT version, published_at FROM terms ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return row["version"], row["published_at"]

    def publish_terms(self, version: str) -> None:
        """Make ``version`` the current terms; :class:`AlreadyExists` if it was ever published."""
        with self._tx():
            seen = self._db.execute("SELECT 1 FROM terms WHERE version = ?", (version,)).fetchone()
            if seen is not None:
                raise AlreadyExists(version)
            self._db.execute(
                "INSERT INTO terms (version, published_at) VALUES (?, ?)", (version, self._now())
            )

    # -- retention ----------------------------------------------------------------------------

    def prune(self, default_days: int) -> int:
        """Drop what is older than its retention; returns how many rows went.

        Per bridge, its thermostat object (by its last upload), its commands and its
        service report after the bridge's retention, else ``default_days``; statistics after
        ``default_days``; expired link requests, codes and access tokens.
        """
        now = self._clock.time()
        removed = 0
        with self._tx():
            bridges = self._db.execute("SELECT bridge_id, retention_days FROM bridges").fetchall()
            for row in bridges:
                days = row["retention_days"] or default_days
                cutoff = utc_from_ts(now - days * 86_400.0).isoformat()
                for table, column in (
                    ("thermostats", "uploaded_at"),
                    ("commands", "created_at"),
                    ("service_reports", "received_at"),
                ):
                    cur = self._db.execute(
                        f"DELETE FROM {table} WHERE bridge_id = ? AND {column} < ?",  # noqa: S608
                        (row["bridge_id"], cutoff),
                    )
                    removed += cur.rowcount
            oldest_day = (utc_from_ts(now) - timedelta(days=default_days)).date().isoformat()
            removed += self._db.execute(
                "DELETE FROM statistics WHERE day < ?", (oldest_day,)
            ).rowcount
            for table in ("link_requests", "auth_codes", "owner_tokens"):
                removed += self._db.execute(
                    f"DELETE FROM {table} WHERE expires_at <= ?",  # noqa: S608
                    (now,),
                ).rowcount
        return removed

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
