"""Energy counters: monotonic kWh totals of heat delivered and gas used.

The thermostat service adds to them on every measurement sample (see
:mod:`bridge.services.energy`); they live here so a restart continues from
the stored totals. A counter only ever grows: an addition that is negative
or not finite is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
import math
import sqlite3
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.storage.core import Worker

ENERGY_COUNTERS: Final = ("ch_heat", "ch_gas", "dhw_heat", "dhw_gas")
"""Heat delivered and gas used, for central heating and for hot water."""


def read_energy(conn: sqlite3.Connection) -> dict[str, float]:
    """The stored totals by name (only those ever written)."""
    return {name: float(kwh) for name, kwh in conn.execute("SELECT name, kwh FROM energy_counters")}


class EnergyRepo:
    """The energy counters; ``db.energy``."""

    def __init__(self, worker: Worker, clock: Clock) -> None:
        self._worker = worker
        self._clock = clock

    async def totals(self) -> dict[str, float]:
        """The stored totals by name, kWh (empty before the first addition)."""
        return await self._worker.read(read_energy)

    async def add(self, kwh: Mapping[str, float]) -> dict[str, float]:
        """Add ``kwh`` per counter in one transaction; returns every total afterwards."""
        for name, value in kwh.items():
            if name not in ENERGY_COUNTERS:
                raise ValueError(f"unknown energy counter {name!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError("an energy counter only grows: add a finite amount >= 0")
        now = self._clock.time()

        def run(conn: sqlite3.Connection) -> dict[str, float]:
            conn.executemany(
                "INSERT INTO energy_counters (name, kwh, updated) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET kwh = kwh + excluded.kwh,"
                " updated = excluded.updated",
                [(name, float(value), now) for name, value in kwh.items()],
            )
            return read_energy(conn)

        return await self._worker.write(run)
