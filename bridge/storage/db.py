"""The bridge's one SQLite database: opening, retention, export and erase.

Usage::

    db = await Database.open(data_dir / "thermosmart.db", clock)
    await db.settings.set(NAME, "Living room")
    token = await db.auth.create_token("script")
    ...
    await db.close()

Every method is a coroutine; the SQLite work runs on one dedicated worker
thread owned by the :class:`Database`, so the event loop never blocks.
Another process (the CLI while the daemon runs) may open the same file at
the same time: the file is in WAL mode, readers never wait, and writers
wait for each other up to the busy timeout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
import logging
import math
from pathlib import Path
import sqlite3
from typing import TYPE_CHECKING, Any, Self

from bridge.core.programs import ExceptionPeriod, ScheduleEntry
from bridge.storage import migrations
from bridge.storage.auth import AuthRepo, read_clients, read_tokens
from bridge.storage.cloud import CloudLinkRepo, read_cloud_link
from bridge.storage.cloud_deletions import CloudDeletionRepo, DeletionKind, queue_deletion
from bridge.storage.core import Json, StorageError, StorageFullError, Worker, loads_json
from bridge.storage.energy import EnergyRepo, read_energy
from bridge.storage.history import (
    EventRepo,
    MeasurementRepo,
    distinct_keys,
    read_events,
    read_hourly,
    read_samples,
)
from bridge.storage.learning import LearningRepo, read_learning
from bridge.storage.privacy import ConsentRepo, EgressRepo, read_consents, read_egress
from bridge.storage.settings import (
    PERSONAL_SETTINGS,
    STATISTICS_PSEUDONYM,
    Defaults,
    ScheduleRepo,
    SettingsRepo,
    encode_settings,
    read_exceptions,
    read_schedule,
    read_settings,
    validate_exceptions,
    validate_schedule,
    write_exceptions,
    write_schedule,
    write_settings,
)
from bridge.storage.units import UnitRepo, read_units
from bridge.storage.webhooks import WebhookRepo, read_webhooks

if TYPE_CHECKING:
    from types import TracebackType

    from bridge.core.clock import Clock

_LOGGER = logging.getLogger(__name__)

DB_FILENAME = "thermosmart.db"
"""The database's file name inside the data directory."""
EXPORT_FORMAT = "thermosmart-local-export"


@dataclass(frozen=True)
class Retention:
    """How long each class of data is kept (PRIVACY.md P10)."""

    raw_samples: timedelta = timedelta(days=90)
    hourly_aggregates: timedelta = timedelta(days=730)
    events: timedelta = timedelta(days=365)
    """The event and fault log."""
    egress_log: timedelta = timedelta(days=365)
    dead_tokens: timedelta = timedelta(days=30)
    """Revoked or expired tokens are listed this long, then deleted."""

    def __post_init__(self) -> None:
        for name in ("raw_samples", "hourly_aggregates", "events", "egress_log", "dead_tokens"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"retention {name} must be positive")


class Database:
    """Everything the bridge knows, in one SQLite file.

    The repositories are attributes: :attr:`settings`, :attr:`schedule`,
    :attr:`auth`, :attr:`measurements`, :attr:`events`, :attr:`learning`,
    :attr:`consents`, :attr:`egress`, :attr:`webhooks`, :attr:`energy`,
    :attr:`units`, :attr:`cloud`. Errors are
    :class:`StorageError` (and ValueError for input that breaks a rule).
    """

    def __init__(
        self,
        worker: Worker,
        clock: Clock,
        retention: Retention,
        defaults: Defaults,
        schema_version: int,
    ) -> None:
        """Use :meth:`open`."""
        self._worker = worker
        self.path: Path = worker.path
        self.clock = clock
        self.retention = retention
        self.defaults = defaults
        self.schema_version = schema_version
        self.settings = SettingsRepo(worker, clock, defaults)
        self.schedule = ScheduleRepo(worker, defaults)
        self.auth = AuthRepo(worker, clock)
        self.measurements = MeasurementRepo(worker, clock)
        self.events = EventRepo(worker, clock)
        self.learning = LearningRepo(worker, clock)
        self.consents = ConsentRepo(worker, clock)
        self.egress = EgressRepo(worker, clock)
        self.webhooks = WebhookRepo(worker, clock)
        self.energy = EnergyRepo(worker, clock)
        self.units = UnitRepo(worker, clock)
        self.cloud = CloudLinkRepo(worker, clock)
        self.cloud_deletions = CloudDeletionRepo(worker, clock)

    @classmethod
    async def open(
        cls,
        path: str | Path,
        clock: Clock,
        *,
        retention: Retention | None = None,
        defaults: Defaults | None = None,
        busy_timeout: float = 10.0,
    ) -> Database:
        """Open (creating if needed) the database at ``path`` and migrate it.

        The file is created owner-only (0600), with its parent directory.
        Raises :class:`SchemaTooNewError` if a newer bridge wrote it,
        :class:`SchemaError` if a migration fails (that step changed nothing).
        ``busy_timeout`` is how long (seconds) a write waits for another
        process's write to finish.
        """
        defaults = Defaults() if defaults is None else defaults
        defaults.validate()
        worker = Worker(Path(path), busy_timeout)
        try:
            await worker.connect()
            _, version = await worker.call(migrations.migrate)
        except BaseException:
            await worker.close()
            raise
        db = cls(worker, clock, retention or Retention(), defaults, version)
        await db.egress.refresh()
        return db

    async def close(self) -> None:
        """Finish queued work, close the file and stop the worker thread."""
        await self._worker.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._worker.closed

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` or SQLite's list of problems."""
        return await self._worker.call(
            lambda conn: "\n".join(str(r[0]) for r in conn.execute("PRAGMA integrity_check"))
        )

    async def apply_update(
        self,
        *,
        settings: Mapping[str, Json] | None = None,
        schedule: Sequence[ScheduleEntry] | None = None,
        exceptions: Sequence[ExceptionPeriod] | None = None,
    ) -> None:
        """Apply settings, a new week schedule and new exceptions in one transaction.

        For a thermostat update that must apply whole or not at all (such as
        ``PUT /thermostat/{hw}``). ``None`` leaves that part alone. Invalid
        input raises ValueError before anything is written; a rule broken in
        the database (:class:`ConstraintError`) rolls every part back.
        """
        encoded = None if settings is None else encode_settings(settings)
        schedule_rows = None if schedule is None else validate_schedule(schedule)
        exception_rows = None if exceptions is None else validate_exceptions(exceptions)
        now = self.clock.time()

        def run(conn: sqlite3.Connection) -> None:
            if encoded is not None:
                write_settings(conn, encoded, now)
            if schedule_rows is not None:
                write_schedule(conn, schedule_rows)
            if exception_rows is not None:
                write_exceptions(conn, exception_rows)

        await self._worker.write(run)

    # -- retention -------------------------------------------------------------

    async def prune(self, now: float | None = None) -> dict[str, int]:
        """Delete what is older than its retention; returns rows deleted per class.

        ``now`` defaults to the injected clock's time. Also removes used or
        expired pairing codes, expired authorization codes (a used one is kept
        until it expires, so that its reuse revokes what it issued), and tokens revoked or
        expired longer ago than ``retention.dead_tokens`` (with their webhooks).
        """
        when = self.clock.time() if now is None else now
        r = self.retention
        raw_cut = when - r.raw_samples.total_seconds()
        hourly_cut = when - r.hourly_aggregates.total_seconds()
        events_cut = when - r.events.total_seconds()
        egress_cut = when - r.egress_log.total_seconds()
        token_cut = when - r.dead_tokens.total_seconds()

        def run(conn: sqlite3.Connection) -> dict[str, int]:
            samples = 0
            for key in distinct_keys(conn, "samples"):  # one index range per series
                samples += conn.execute(
                    "DELETE FROM samples WHERE key = ? AND ts < ?", (key, raw_cut)
                ).rowcount
            return {
                "samples": samples,
                "hourly": conn.execute("DELETE FROM hourly WHERE hour < ?", (hourly_cut,)).rowcount,
                "events": conn.execute("DELETE FROM events WHERE ts < ?", (events_cut,)).rowcount,
                "egress_log": conn.execute(
                    "DELETE FROM egress_log WHERE ts < ?", (egress_cut,)
                ).rowcount,
                "pairing_codes": conn.execute(
                    "DELETE FROM pairing_codes WHERE used IS NOT NULL OR expires <= ?", (when,)
                ).rowcount,
                # a used code is kept until it expires, so its reuse is still detected
                "auth_codes": conn.execute(
                    "DELETE FROM auth_codes WHERE expires <= ?", (when,)
                ).rowcount,
                "tokens": conn.execute(
                    "DELETE FROM tokens WHERE revoked < ? OR expires < ?", (token_cut, token_cut)
                ).rowcount,
            }

        counts = await self._worker.write(run)
        _LOGGER.debug("pruned %s", counts)
        if counts["egress_log"]:
            await self.egress.refresh()
        return counts

    async def maintain(self, interval: float = 3600.0) -> None:
        """Prune every ``interval`` seconds of the clock, forever (run it as a task)."""
        while True:
            try:
                await self.prune()
            except StorageFullError as err:  # no traceback for a full disk, every hour
                _LOGGER.warning("pruning the database postponed: %s", err)
            except StorageError:
                _LOGGER.exception("pruning the database failed")
            await self.clock.sleep(interval)

    # -- privacy ---------------------------------------------------------------

    async def export(self) -> dict[str, Any]:
        """Everything stored about the household, as JSON-able data (one snapshot).

        Tokens, OAuth clients, wall units and the cloud link are listed without
        any secret, hash, password or credential;
        pairing and authorization codes (short-lived secrets) are left out.
        Times are Unix timestamps; exception times are local ISO 8601.
        """
        defaults = self.defaults
        now = self.clock.time()
        version = self.schema_version

        def run(conn: sqlite3.Connection) -> dict[str, Any]:
            samples = {
                key: [[s.ts, s.value] for s in read_samples(conn, key, -math.inf, math.inf)]
                for key in distinct_keys(conn, "samples")
            }
            hourly = {
                key: [
                    {"hour": h.hour, "min": h.min, "max": h.max, "mean": h.mean, "count": h.count}
                    for h in read_hourly(conn, key, -math.inf, math.inf)
                ]
                for key in distinct_keys(conn, "hourly")
            }
            return {
                "format": EXPORT_FORMAT,
                "schema_version": version,
                "exported_at": now,
                "settings": read_settings(conn, defaults),
                "schedule": [
                    {"day": b.day, "hour": b.hour, "minute": b.minute, "program": b.program}
                    for b in read_schedule(conn, defaults)
                ],
                "exceptions": [
                    {
                        "start": e.start.isoformat(),
                        "end": e.end.isoformat(),
                        "program": e.program,
                        "description": e.description,
                    }
                    for e in read_exceptions(conn)
                ],
                "measurements": {"samples": samples, "hourly": hourly},
                "events": [e.as_dict() for e in reversed(read_events(conn))],
                "learning": {
                    name: {"value": entry.value, "updated": entry.updated}
                    for name, entry in read_learning(conn).items()
                },
                "energy_kwh": read_energy(conn),
                "consents": [c.as_dict() for c in read_consents(conn)],
                "egress_log": [e.as_dict() for e in reversed(read_egress(conn))],
                "webhooks": [w.as_dict() for w in read_webhooks(conn)],
                "tokens": [t.as_dict() for t in read_tokens(conn)],
                "oauth_clients": [c.as_dict() for c in read_clients(conn)],
                "units": [u.as_dict() for u in read_units(conn)],
                "cloud_link": [link.as_dict() for link in [read_cloud_link(conn)] if link],
            }

        return await self._worker.read(run)

    async def erase(self, *, revoke_tokens: bool = False) -> dict[str, int]:
        """Erase personal data and history in one transaction (PRIVACY.md P13).

        Resets the personal settings (name, programs, city, e-mail, geofence)
        and the week schedule to the defaults, and deletes the exceptions,
        measurements, aggregates, energy counters, event log, learning state,
        egress log and webhooks, and forgets the cloud link with its credential;
        a linked bridge first queues the erase of its cloud copy (and of the
        statistics under its pseudonym) in ``cloud_deletions``, which the
        cloud service sends (now, or once the cloud is reachable). Consents (the record of what the owner agreed to), the
        hardware id, bridge id and technical settings stay, so the
        thermostat keeps heating on its defaults. Tokens are kept so the
        owner's clients keep working, unless ``revoke_tokens`` is True (then
        every token is revoked and pending codes are dropped). Deleted rows
        are overwritten in the file, and the WAL is checkpointed and
        truncated when no other connection is reading. Returns rows
        deleted (or tokens revoked) per class.
        """
        now = self.clock.time()
        personal = sorted(PERSONAL_SETTINGS)

        def run(conn: sqlite3.Connection) -> dict[str, int]:
            row = conn.execute(
                "SELECT value FROM settings WHERE key = ?", (STATISTICS_PSEUDONYM.key,)
            ).fetchone()
            pseudonym = None if row is None else loads_json(row[0])
            queue_deletion(conn, DeletionKind.BRIDGE, pseudonym, now)
            counts = {
                "settings": sum(
                    conn.execute("DELETE FROM settings WHERE key = ?", (key,)).rowcount
                    for key in personal
                ),
                "schedule": conn.execute("DELETE FROM schedule").rowcount,
                "exceptions": conn.execute("DELETE FROM schedule_exceptions").rowcount,
                "samples": conn.execute("DELETE FROM samples").rowcount,
                "hourly": conn.execute("DELETE FROM hourly").rowcount,
                "events": conn.execute("DELETE FROM events").rowcount,
                "learning": conn.execute("DELETE FROM learning").rowcount,
                "energy_counters": conn.execute("DELETE FROM energy_counters").rowcount,
                "egress_log": conn.execute("DELETE FROM egress_log").rowcount,
                "webhooks": conn.execute("DELETE FROM webhooks").rowcount,
                "cloud_link": conn.execute("DELETE FROM cloud_link").rowcount,
            }
            if revoke_tokens:
                counts["tokens"] = conn.execute(
                    "UPDATE tokens SET revoked = ? WHERE revoked IS NULL", (now,)
                ).rowcount
                counts["pairing_codes"] = conn.execute("DELETE FROM pairing_codes").rowcount
                counts["auth_codes"] = conn.execute("DELETE FROM auth_codes").rowcount
            return counts

        counts = await self._worker.write(run)
        await self.egress.refresh()
        await self._worker.call(_truncate_wal)
        return counts


def _truncate_wal(conn: sqlite3.Connection) -> None:
    """Copy the WAL into the file and empty it, so old page images do not linger."""
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.OperationalError as err:  # another process holds the lock: next time
        _LOGGER.info("WAL checkpoint after erase postponed: %s", err)
