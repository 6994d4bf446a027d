"""A real bridge on a unit link and a simulated ThermoSmart wall unit polling it over loopback.

Shared by the bridge's unit tests and the integration's: the bridge runs
with ``thermosmart-unit://127.0.0.1:0`` on a virtual clock; a simulated unit
(:class:`~bridge.unit.sim.SimUnit`, its own house, boiler and PID) polls the
bridge's unit port with real HTTP, one poll per step.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from pathlib import Path

import aiohttp
from yarl import URL

from bridge.admin import DB_FILE
from bridge.config import validate
from bridge.core.clock import VirtualClock
from bridge.daemon import Bridge
from bridge.storage import Database
from bridge.unit.sim import SimUnit
from bridge.unit.sim.client import poll_once

HWID = "TS123456"
PASSWORD = "s3cret-pw"
START = 1_767_225_600.0  # 2026-01-01 00:00 UTC, a Thursday (01:00 in Amsterdam)
UNIT_URL = "thermosmart-unit://127.0.0.1:0"


async def register(data_dir: Path, hardware_id: str = HWID, password: str = PASSWORD) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    db = await Database.open(data_dir / DB_FILE, VirtualClock(START))
    try:
        await db.units.add(hardware_id, password)
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def unit_bridge(data_dir: Path, clock: VirtualClock) -> AsyncIterator[Bridge]:
    """A started bridge with the unit link on a free loopback port."""
    cfg = validate(
        {
            "data_dir": str(data_dir),
            "host": "127.0.0.1",
            "port": 0,
            "zeroconf": False,
            "boiler": UNIT_URL,
        }
    )
    bridge = Bridge(cfg, clock=clock)
    await bridge.start()
    try:
        yield bridge
    finally:
        await bridge.stop()


def unit_url(bridge: Bridge) -> URL:
    assert bridge.unit_port is not None
    return URL(f"http://127.0.0.1:{bridge.unit_port}")


class Rig:
    """A bridge, a simulated unit and the steps that move them together."""

    def __init__(self, bridge: Bridge, clock: VirtualClock, unit: SimUnit) -> None:
        self.bridge = bridge
        self.clock = clock
        self.unit = unit
        self.others: list[SimUnit] = []
        """More units that poll along in :meth:`run`."""
        self.http = aiohttp.ClientSession()

    async def poll(self, unit: SimUnit | None = None) -> str | None:
        """One poll of ``unit`` (the rig's own by default): None, or what went wrong."""
        unit = unit or self.unit
        unit.advance_to(self.clock.time())
        return await poll_once(unit, unit_url(self.bridge), self.http)

    async def run(
        self, seconds: float, step: float = 5.0, *, silent: frozenset[str] = frozenset()
    ) -> None:
        """Advance the clock ``seconds``, the units polling every ``step`` (but the
        hardware ids in ``silent``)."""
        end = self.clock.time() + seconds
        while self.clock.time() < end:
            await self.clock.advance(min(step, end - self.clock.time()))
            # the learner's worker thread finishes before time moves on, however busy
            # the machine: a recording loop still waiting for it would miss its minute
            await self.bridge.thermostat.learning.wait_idle()
            for unit in (self.unit, *self.others):
                if unit.hardware_id not in silent:
                    problem = await self.poll(unit)
                    assert problem is None, problem

    async def close(self) -> None:
        await self.http.close()


async def settle() -> None:
    """Let the bridge's tasks finish what the last clock step woke (database work is real)."""
    for _ in range(5):
        await asyncio.sleep(0.01)
