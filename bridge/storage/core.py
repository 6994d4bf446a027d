"""The database worker: one SQLite connection on one dedicated thread.

Every statement the bridge runs goes through :class:`Worker`, which owns a
single-thread executor and the connection that lives on it, so the asyncio
loop never blocks on disk I/O and the connection is only ever touched by the
thread that created it. Writes run inside ``BEGIN IMMEDIATE`` ... ``COMMIT``
(the write lock is taken up front, so a concurrent writer in another process
waits for the busy timeout instead of failing on a lock upgrade); reads that
need a consistent snapshot run inside a deferred ``BEGIN``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
import contextlib
import json
import math
import os
from pathlib import Path
import sqlite3
from typing import Any, Literal, TypeVar

from bridge.core.errors import StorageUnavailableError

T = TypeVar("T")

Json = Any
"""A value that ``json.dumps`` accepts: dict, list, str, int, float, bool or None."""


class StorageError(Exception):
    """A database operation failed; the transaction it was part of changed nothing."""


class SchemaError(StorageError):
    """The database schema cannot be used (a migration failed)."""


class SchemaTooNewError(SchemaError):
    """The database was written by a newer bridge than this one."""


class ConstraintError(StorageError, ValueError):
    """A write broke a rule of the schema (CHECK, UNIQUE, foreign key); nothing changed."""


class DatabaseClosedError(StorageError):
    """The database was used after :meth:`Worker.close`."""


class StorageFullError(StorageError, StorageUnavailableError):
    """The disk is full (or a write failed on it): the transaction changed nothing."""


#: SQLite's primary result codes for a disk that takes no more writes: SQLITE_FULL, and
#: SQLITE_IOERR (a write refused by the file system, e.g. EFBIG past a file-size limit).
_OUT_OF_SPACE = frozenset({13, 10})


def _storage_error(err: sqlite3.Error) -> StorageError:
    code = getattr(err, "sqlite_errorcode", 0) & 0xFF
    if code in _OUT_OF_SPACE:
        what = "is full" if code == 13 else "refused a write"
        return StorageFullError(
            f"the bridge's data disk {what} ({err}); nothing was changed. "
            "Free space on it; the bridge carries on by itself"
        )
    return StorageError(f"{type(err).__name__}: {err}")


def dumps_json(value: Json) -> str:
    """Encode ``value`` as compact JSON; ValueError if it is not JSON data."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"not JSON data: {err}") from err


def loads_json(text: str | None) -> Json:
    """Decode JSON stored by :func:`dumps_json` (None stays None)."""
    return None if text is None else json.loads(text)


def read_window(
    conn: sqlite3.Connection,
    select: str,
    *,
    since: float | None,
    until: float | None,
    limit: int | None,
    where: str = "1",
    params: Sequence[Any] = (),
) -> list[Any]:
    """The rows of ``select`` (``SELECT ... FROM table``) with ``since <= ts < until``.

    Newest first (by ``ts``, then ``id``); ``None`` leaves a bound or the
    limit open. ``where`` (a fixed SQL condition) narrows the rows further,
    with ``params`` bound to its placeholders.
    """
    return conn.execute(
        f"{select} WHERE ts >= ? AND ts < ? AND ({where}) ORDER BY ts DESC, id DESC LIMIT ?",
        (
            -math.inf if since is None else since,
            math.inf if until is None else until,
            *params,
            -1 if limit is None else limit,
        ),
    ).fetchall()


def _use_wal(conn: sqlite3.Connection, path: Path) -> None:
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StorageError(f"{path}: cannot use WAL journal mode (got {mode!r})")


_Mode = Literal["none", "read", "write"]


class Worker:
    """One SQLite connection, used only from one dedicated worker thread."""

    def __init__(self, path: Path, busy_timeout: float) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="thermosmart-db"
        )
        self._conn: sqlite3.Connection | None = None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has started."""
        return self._executor is None

    async def connect(self) -> None:
        """Open the connection on the worker thread and set its pragmas."""
        await self._submit(self._connect)

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # the file holds token hashes and the owner's e-mail: owner-only;
            # SQLite gives the -wal and -shm files the same permissions
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(str(self.path), timeout=self._busy_timeout, isolation_level=None)
        try:
            _use_wal(conn, self.path)
            # FULL: in WAL mode every COMMIT fsyncs the WAL, so a committed
            # change survives a power cut, not only a killed process (NORMAL
            # would sync only at checkpoints and may lose the last commits).
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            # deleted rows are overwritten with zeros, so erased and pruned
            # personal data does not linger in free pages of the file
            conn.execute("PRAGMA secure_delete=ON")
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on the worker thread in autocommit mode."""
        return await self._submit(lambda: self._run(fn, "none"))

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in a read transaction (one consistent snapshot)."""
        return await self._submit(lambda: self._run(fn, "read"))

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in one write transaction: all of it commits, or none.

        If ``fn`` raises, the transaction is rolled back and the exception
        propagates (SQLite errors as :class:`StorageError`). If the awaiting
        task is cancelled, the work still completes or rolls back as a whole.
        """
        return await self._submit(lambda: self._run(fn, "write"))

    async def close(self) -> None:
        """Close the connection and stop the worker thread (idempotent)."""
        executor = self._executor
        if executor is None:
            return
        self._executor = None
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(executor, self._close_conn)
        executor.shutdown(wait=True)

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA optimize")
            conn.close()

    async def _submit(self, fn: Callable[[], T]) -> T:
        executor = self._executor
        if executor is None:
            raise DatabaseClosedError(f"{self.path}: the database is closed")
        return await asyncio.get_running_loop().run_in_executor(executor, fn)

    def _run(self, fn: Callable[[sqlite3.Connection], T], mode: _Mode) -> T:
        conn = self._conn
        if conn is None:
            raise DatabaseClosedError(f"{self.path}: the database is closed")
        try:
            if mode == "none":
                return fn(conn)
            conn.execute("BEGIN IMMEDIATE" if mode == "write" else "BEGIN")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result
        except sqlite3.IntegrityError as err:
            raise ConstraintError(str(err)) from err
        except sqlite3.Error as err:
            raise _storage_error(err) from err
