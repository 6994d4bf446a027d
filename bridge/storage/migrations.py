"""Versioned schema migrations.

The schema version lives in ``PRAGMA user_version``. :data:`MIGRATIONS` is
the ordered list of numbered steps; each step runs in one transaction
together with the version bump, so a step applies whole or not at all, and
all pending steps run when the database is opened. A database whose version
is higher than the last step here was written by a newer bridge and is
refused (:class:`SchemaTooNewError`) rather than guessed at.

The schema is an allow-list (PRIVACY.md P6): no table has a column for a
street address, a phone number or wifi credentials. A new column is added
by a new step here, never by editing an old one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import sqlite3

from bridge.storage.core import SchemaError, SchemaTooNewError


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: its version number and the SQL statements it runs."""

    version: int
    description: str
    statements: tuple[str, ...]


_PROGRAMS = "('anti_freeze', 'not_home', 'home', 'comfort', 'pause')"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial schema",
        (
            # settings: one JSON value per allowed key (see settings.SETTINGS)
            """CREATE TABLE settings (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL,
                updated REAL NOT NULL
            ) WITHOUT ROWID""",
            f"""CREATE TABLE schedule (
                day INTEGER NOT NULL CHECK (day BETWEEN 0 AND 6),
                hour INTEGER NOT NULL CHECK (hour BETWEEN 0 AND 23),
                minute INTEGER NOT NULL CHECK (minute BETWEEN 0 AND 59),
                program TEXT NOT NULL CHECK (program IN {_PROGRAMS}),
                PRIMARY KEY (day, hour, minute)
            ) WITHOUT ROWID""",
            f"""CREATE TABLE schedule_exceptions (
                id INTEGER PRIMARY KEY,
                start_at TEXT NOT NULL,
                end_at TEXT NOT NULL,
                program TEXT NOT NULL CHECK (program IN {_PROGRAMS}),
                description TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 30),
                CHECK (end_at > start_at)
            )""",
            """CREATE TABLE oauth_clients (
                client_id TEXT PRIMARY KEY,
                name TEXT NOT NULL DEFAULT '',
                secret_hash TEXT NOT NULL,
                redirect_uris TEXT NOT NULL,
                created REAL NOT NULL
            )""",
            """CREATE TABLE tokens (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL,
                kind TEXT NOT NULL
                    CHECK (kind IN ('api', 'oauth_access', 'oauth_refresh', 'paired')),
                token_hash TEXT NOT NULL UNIQUE,
                client_id TEXT REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
                created REAL NOT NULL,
                last_used REAL,
                expires REAL,
                revoked REAL
            )""",
            "CREATE INDEX tokens_client ON tokens (client_id)",
            """CREATE TABLE pairing_codes (
                code_hash TEXT PRIMARY KEY,
                created REAL NOT NULL,
                expires REAL NOT NULL,
                used REAL
            ) WITHOUT ROWID""",
            """CREATE TABLE auth_codes (
                code_hash TEXT PRIMARY KEY,
                client_id TEXT NOT NULL
                    REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
                redirect_uri TEXT NOT NULL,
                created REAL NOT NULL,
                expires REAL NOT NULL,
                used REAL
            ) WITHOUT ROWID""",
            "CREATE INDEX auth_codes_client ON auth_codes (client_id)",
            """CREATE TABLE samples (
                ts REAL NOT NULL,
                key TEXT NOT NULL,
                value REAL NOT NULL
            )""",
            "CREATE INDEX samples_key_ts ON samples (key, ts)",
            """CREATE TABLE hourly (
                key TEXT NOT NULL,
                hour INTEGER NOT NULL,
                min REAL NOT NULL,
                max REAL NOT NULL,
                mean REAL NOT NULL,
                count INTEGER NOT NULL CHECK (count > 0),
                PRIMARY KEY (key, hour)
            ) WITHOUT ROWID""",
            """CREATE TABLE events (
                id INTEGER PRIMARY KEY,
                ts REAL NOT NULL,
                kind TEXT NOT NULL
                    CHECK (kind IN ('boiler_fault', 'software_error', 'link', 'info')),
                code TEXT,
                message TEXT NOT NULL,
                data TEXT
            )""",
            "CREATE INDEX events_ts ON events (ts)",
            """CREATE TABLE learning (
                name TEXT PRIMARY KEY,
                value TEXT NOT NULL,
                updated REAL NOT NULL
            ) WITHOUT ROWID""",
            """CREATE TABLE consents (
                id INTEGER PRIMARY KEY,
                purpose TEXT NOT NULL CHECK (purpose IN
                    ('cloud_sync', 'weather_by_city', 'statistics', 'service_access')),
                granted INTEGER NOT NULL CHECK (granted IN (0, 1)),
                ts REAL NOT NULL,
                terms_version TEXT NOT NULL
            )""",
            "CREATE INDEX consents_purpose ON consents (purpose, id)",
            """CREATE TABLE egress_log (
                id INTEGER PRIMARY KEY,
                ts REAL NOT NULL,
                host TEXT NOT NULL,
                path TEXT NOT NULL,
                purpose TEXT NOT NULL,
                fields TEXT NOT NULL,
                bytes INTEGER NOT NULL CHECK (bytes >= 0)
            )""",
            "CREATE INDEX egress_log_ts ON egress_log (ts)",
            """CREATE TABLE webhooks (
                id INTEGER PRIMARY KEY,
                url TEXT NOT NULL,
                token_id INTEGER UNIQUE REFERENCES tokens (id) ON DELETE CASCADE,
                created REAL NOT NULL,
                last_status INTEGER,
                last_attempt REAL,
                failures INTEGER NOT NULL DEFAULT 0
            )""",
        ),
    ),
    Migration(
        2,
        "energy counters",
        (
            # monotonic kWh totals the bridge integrates from its samples (see energy.py)
            """CREATE TABLE energy_counters (
                name TEXT PRIMARY KEY
                    CHECK (name IN ('ch_heat', 'ch_gas', 'dhw_heat', 'dhw_gas')),
                kwh REAL NOT NULL CHECK (kwh >= 0),
                updated REAL NOT NULL
            ) WITHOUT ROWID""",
        ),
    ),
    Migration(
        3,
        "PKCE challenges and OAuth grant families",
        (
            # the S256 code_challenge a code was issued with (RFC 7636), or NULL
            "ALTER TABLE auth_codes ADD COLUMN code_challenge TEXT",
            # the grant an OAuth token belongs to: the hash of the authorization code it
            # began with (NULL for tokens issued before this step); a code used twice or a
            # refresh token replayed revokes every token of its family (RFC 9700)
            "ALTER TABLE tokens ADD COLUMN family TEXT",
            "CREATE INDEX tokens_family ON tokens (family)",
        ),
    ),
    Migration(
        4,
        "ThermoSmart wall units",
        (
            # the units the bridge answers (see units.py); secret: the unit's password, its key
            """CREATE TABLE units (
                hardware_id TEXT PRIMARY KEY
                    CHECK (length(hardware_id) BETWEEN 1 AND 32),
                secret TEXT NOT NULL CHECK (length(secret) BETWEEN 1 AND 24),
                house INTEGER NOT NULL DEFAULT 0 CHECK (house IN (0, 1)),
                created REAL NOT NULL,
                revision INTEGER CHECK (revision BETWEEN 1 AND 5),
                firmware TEXT CHECK (length(firmware) <= 32),
                calendar_version INTEGER CHECK (calendar_version BETWEEN 0 AND 65535)
            )""",
            "CREATE UNIQUE INDEX units_one_house ON units (house) WHERE house = 1",
        ),
    ),
    Migration(
        5,
        "When each wall unit last polled, and its own PID",
        (
            # Unix seconds of the unit's last poll (kept to the minute; NULL: never polled),
            # so a unit that stays silent after the bridge restarts is still reported
            "ALTER TABLE units ADD COLUMN last_seen REAL",
            # the PID parameters the unit first reported, [kp, ti, td] (NULL: none yet):
            # what it gets back when the owner turns the proposed parameters off
            "ALTER TABLE units ADD COLUMN own_pid TEXT"
            " CHECK (own_pid IS NULL OR json_array_length(own_pid) = 3)",
        ),
    ),
    Migration(
        6,
        "The bridge's link to an owner's cloud account",
        (
            # at most one row (see cloud.py): the cloud linked to, the bridge id and the
            # thermostat it was linked as, when, and the per-bridge credential the cloud
            # issued (a Bearer the bridge must present, so kept as it is; never exported)
            """CREATE TABLE cloud_link (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                cloud_url TEXT NOT NULL CHECK (length(cloud_url) BETWEEN 1 AND 2048),
                bridge_id TEXT NOT NULL CHECK (length(bridge_id) BETWEEN 1 AND 64),
                thermostat TEXT NOT NULL CHECK (length(thermostat) BETWEEN 1 AND 64),
                secret TEXT NOT NULL CHECK (length(secret) BETWEEN 1 AND 512),
                since REAL NOT NULL
            )""",
        ),
    ),
    Migration(
        7,
        "The update_check consent purpose",
        (
            # SQLite cannot change a CHECK: the table is rebuilt with the new purpose,
            # keeping every decision and its id
            """CREATE TABLE consents_new (
                id INTEGER PRIMARY KEY,
                purpose TEXT NOT NULL CHECK (purpose IN
                    ('cloud_sync', 'weather_by_city', 'statistics', 'service_access',
                     'update_check')),
                granted INTEGER NOT NULL CHECK (granted IN (0, 1)),
                ts REAL NOT NULL,
                terms_version TEXT NOT NULL
            )""",
            "INSERT INTO consents_new (id, purpose, granted, ts, terms_version)"
            " SELECT id, purpose, granted, ts, terms_version FROM consents",
            "DROP TABLE consents",
            "ALTER TABLE consents_new RENAME TO consents",
            "CREATE INDEX consents_purpose ON consents (purpose, id)",
        ),
    ),
    Migration(
        8,
        "Deletions owed to the cloud",
        (
            # what the bridge still has to delete in the cloud when the cloud was not
            # reachable (an erase, or a revoked purpose's data): the kind, where, and
            # the credential and ids the deletion needs; nothing of the home's data
            """CREATE TABLE cloud_deletions (
                id INTEGER PRIMARY KEY,
                kind TEXT NOT NULL
                    CHECK (kind IN ('bridge', 'thermostat', 'statistics', 'service')),
                cloud_url TEXT NOT NULL CHECK (length(cloud_url) BETWEEN 1 AND 2048),
                bridge_id TEXT NOT NULL CHECK (length(bridge_id) BETWEEN 1 AND 64),
                secret TEXT NOT NULL CHECK (length(secret) BETWEEN 1 AND 512),
                pseudonym TEXT CHECK (pseudonym IS NULL OR length(pseudonym) BETWEEN 1 AND 64),
                queued REAL NOT NULL
            )""",
        ),
    ),
)


def latest_version(migrations: Sequence[Migration] | None = None) -> int:
    """The schema version that ``migrations`` (default :data:`MIGRATIONS`) lead to."""
    steps = MIGRATIONS if migrations is None else migrations
    return steps[-1].version if steps else 0


def schema_version(conn: sqlite3.Connection) -> int:
    """The version stored in the database file."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _check_order(steps: Sequence[Migration]) -> None:
    for expected, step in enumerate(steps, start=1):
        if step.version != expected:
            raise SchemaError(
                f"migration list is broken: step {expected} has version {step.version}"
            )


def _require_not_newer(found: int, known: int) -> None:
    if found > known:
        raise SchemaTooNewError(
            f"database schema version {found} is newer than this bridge understands "
            f"({known}); upgrade ThermoSmart Local or restore a backup of the data directory"
        )


def migrate(
    conn: sqlite3.Connection, migrations: Sequence[Migration] | None = None
) -> tuple[int, int]:
    """Apply every pending step; returns (version before, version after).

    ``conn`` must be in autocommit mode (``isolation_level=None``). Each step
    runs in its own ``BEGIN IMMEDIATE`` transaction and re-reads the version
    inside it, so two processes opening a fresh file at once migrate it once.
    """
    steps = MIGRATIONS if migrations is None else migrations
    _check_order(steps)
    known = latest_version(steps)
    before = current = schema_version(conn)
    _require_not_newer(current, known)
    for step in steps:
        if step.version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = schema_version(conn)
            _require_not_newer(current, known)
            if current < step.version:
                for sql in step.statements:
                    conn.execute(sql)
                conn.execute(f"PRAGMA user_version = {int(step.version)}")
                current = step.version
            conn.execute("COMMIT")
        except BaseException as err:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(err, sqlite3.Error):
                raise SchemaError(
                    f"migration {step.version} ({step.description}) failed: {err}"
                ) from err
            raise
    return before, current
