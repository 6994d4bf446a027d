"""The ThermoSmart wall units the bridge answers, and what it last sent them.

A unit is registered with its hardware id and password. The password is the
unit's ARC4 key (see ``THERMOSMART_UNIT.md``), so it is stored as it is (the
``secret`` column); it never leaves this module except to the unit service
that decrypts polls: :class:`Unit` (what lists, exports and the API see) has
no password field.

One unit is the house's thermostat: its room reading and boiler values are
the thermostat's. The first unit registered is it, until another is
registered with ``house=True``.

The calendar's version is the bridge's (one schedule, one version); each unit
row keeps the version it last received, so a calendar is sent to a unit once
per change and again after the unit restarts (its ``init``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
import json
import sqlite3
from typing import TYPE_CHECKING, Any

from bridge.core.unit import check_hardware_id, check_unit_password

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.storage.core import Worker


@dataclass(frozen=True, slots=True)
class Unit:
    """A registered unit, without its password."""

    hardware_id: str
    house: bool
    created: float
    revision: int | None
    firmware: str | None
    calendar_version: int | None
    """The calendar version the unit last received (None: none yet)."""
    last_seen: float | None = None
    """When the unit last polled, Unix seconds, to within :data:`SEEN_RESOLUTION_S`
    (None: never)."""
    own_pid: tuple[float, float, float] | None = None
    """The PID parameters ``(kp, ti, td)`` the unit first reported (None: none yet)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-able fields."""
        out = asdict(self)
        out["own_pid"] = None if self.own_pid is None else list(self.own_pid)
        return out


SEEN_RESOLUTION_S = 60.0
"""A unit's last poll is written at most this often (it polls every few seconds)."""

_SELECT = (
    "SELECT hardware_id, house, created, revision, firmware, calendar_version, last_seen,"
    " own_pid FROM units"
)


def _pid(text: str | None) -> tuple[float, float, float] | None:
    if text is None:
        return None
    kp, ti, td = (float(v) for v in json.loads(text))
    return (kp, ti, td)


def _unit(row: Sequence[Any]) -> Unit:
    hardware_id, house, created, revision, firmware, version, last_seen, own_pid = row
    return Unit(
        hardware_id, bool(house), created, revision, firmware, version, last_seen, _pid(own_pid)
    )


def read_units(conn: sqlite3.Connection) -> list[Unit]:
    """Every unit, the house's first, then by registration."""
    return [_unit(r) for r in conn.execute(_SELECT + " ORDER BY house DESC, created, rowid")]


class UnitRepo:
    """Registered wall units; ``db.units``."""

    def __init__(self, worker: Worker, clock: Clock) -> None:
        self._worker = worker
        self._clock = clock

    async def add(self, hardware_id: str, password: str, *, house: bool = False) -> Unit:
        """Register a unit, or give a registered one a new password.

        The first unit is the house's thermostat whatever ``house`` says;
        ``house=True`` makes this one the house's (and no other). Raises
        :class:`ValueError` for a bad hardware id or password.
        """
        check_hardware_id(hardware_id)
        check_unit_password(password)
        now = self._clock.time()

        def run(conn: sqlite3.Connection) -> Unit:
            others = conn.execute(
                "SELECT count(*) FROM units WHERE hardware_id != ?", (hardware_id,)
            ).fetchone()[0]
            make_house = house or others == 0
            if make_house:
                conn.execute(
                    "UPDATE units SET house = 0 WHERE house = 1 AND hardware_id != ?",
                    (hardware_id,),
                )
            conn.execute(
                "INSERT INTO units (hardware_id, secret, house, created) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (hardware_id) DO UPDATE SET secret = excluded.secret,"
                " house = max(house, excluded.house)",
                (hardware_id, password, int(make_house), now),
            )
            row = conn.execute(_SELECT + " WHERE hardware_id = ?", (hardware_id,)).fetchone()
            return _unit(row)

        return await self._worker.write(run)

    async def remove(self, hardware_id: str) -> bool:
        """Forget a unit; False if there was none. The oldest other unit becomes the house's."""

        def run(conn: sqlite3.Connection) -> bool:
            gone = conn.execute("DELETE FROM units WHERE hardware_id = ?", (hardware_id,)).rowcount
            if gone and conn.execute("SELECT 1 FROM units WHERE house = 1").fetchone() is None:
                conn.execute(
                    "UPDATE units SET house = 1 WHERE rowid ="
                    " (SELECT rowid FROM units ORDER BY created, rowid LIMIT 1)"
                )
            return bool(gone)

        return await self._worker.write(run)

    async def list(self) -> list[Unit]:
        """Every unit, the house's first."""
        return await self._worker.read(read_units)

    async def credentials(self) -> dict[str, str]:
        """Every unit's password by hardware id: only for decrypting its polls."""

        def run(conn: sqlite3.Connection) -> dict[str, str]:
            return dict(conn.execute("SELECT hardware_id, secret FROM units"))

        return await self._worker.read(run)

    async def note_device(
        self, hardware_id: str, revision: int | None, firmware: str | None
    ) -> None:
        """Remember the model and firmware the unit reported (when they change)."""

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE units SET revision = ?, firmware = ? WHERE hardware_id = ?",
                (revision, firmware, hardware_id),
            )

        await self._worker.write(run)

    async def note_calendar(self, hardware_id: str, version: int) -> None:
        """Record that ``hardware_id`` was sent calendar ``version``."""

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE units SET calendar_version = ? WHERE hardware_id = ?",
                (version, hardware_id),
            )

        await self._worker.write(run)

    async def note_seen(self, hardware_id: str, ts: float) -> None:
        """Record that ``hardware_id`` polled at ``ts`` (callers keep to :data:`SEEN_RESOLUTION_S`)."""

        def run(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE units SET last_seen = ? WHERE hardware_id = ?", (ts, hardware_id))

        await self._worker.write(run)

    async def note_own_pid(self, hardware_id: str, pid: tuple[float, float, float]) -> None:
        """Keep the PID parameters the unit reported before the bridge changed any (once)."""

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE units SET own_pid = ? WHERE hardware_id = ? AND own_pid IS NULL",
                (json.dumps(list(pid)), hardware_id),
            )

        await self._worker.write(run)


__all__ = ["SEEN_RESOLUTION_S", "Unit", "UnitRepo", "read_units"]
