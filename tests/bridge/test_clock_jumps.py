"""A running bridge through clock jumps: daylight-saving changes and a step of the system clock.

The bridge runs on the simulator with a virtual clock, in Europe/Amsterdam,
with a week schedule whose entries sit around each jump. Every 30 s of clock
time the test reads the thermostat over HTTP: the target must be right
right after each jump, every block must start exactly once (none skipped,
none run twice), and nothing may crash. The expected block starts are
written out by hand, in UTC, not computed by the code under test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridge.config import validate
from bridge.core.clock import VirtualClock
from bridge.daemon import Bridge
from tests.bridge.conftest import base_url, make_token

PROGRAMS = {"comfort": 21.5, "home": 20.0, "not_home": 16.0}
STEP_S = 30.0  # the control loop's interval: the target must be right within one step


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


class SteppedClock(VirtualClock):
    """A virtual clock whose wall time can be stepped (NTP stepping it, an owner setting it).

    Only ``time()`` moves on a step; ``monotonic()`` and sleeps go on as
    before, as they do on a real system.
    """

    def __init__(self, start: float) -> None:
        super().__init__(start)
        self.offset = 0.0

    def time(self) -> float:
        return super().time() + self.offset

    def step(self, seconds: float) -> None:
        self.offset += seconds


@contextlib.asynccontextmanager
async def _bridge_on(tmp_path: Path, clock: VirtualClock) -> AsyncIterator[Bridge]:
    cfg = validate(
        {
            "data_dir": str(tmp_path / "data"),
            "host": "127.0.0.1",
            "port": 0,
            "zeroconf": False,
            "timezone": "Europe/Amsterdam",
        }
    )
    bridge = Bridge(cfg, clock=clock)
    await bridge.start()
    try:
        yield bridge
    finally:
        stopping = asyncio.create_task(bridge.stop())
        while not stopping.done():
            await clock.advance(1)
        await stopping


class _Thermostat:
    """The thermostat as a client sees it."""

    def __init__(self, bridge: Bridge, http: aiohttp.ClientSession, token: str) -> None:
        self.url = base_url(bridge)
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}

    async def patch(self, body: dict[str, Any]) -> None:
        async with self.http.patch(
            f"{self.url}/api/v1/thermostat", json=body, headers=self.headers
        ) as resp:
            assert resp.status == 200, await resp.text()

    async def now(self) -> tuple[str, str, float]:
        """(current block's start, its program, the target now)."""
        async with self.http.get(f"{self.url}/api/v1/thermostat", headers=self.headers) as resp:
            assert resp.status == 200
            view = await resp.json()
        block = view["current_block"]
        return block["start"], block["program"], view["target_temperature"]


async def _walk(
    clock: VirtualClock, thermostat: _Thermostat, until: datetime
) -> list[tuple[datetime, str, str, float]]:
    """(clock time, block start, program, target) every STEP_S until ``until``."""
    seen = []
    while clock.time() < until.timestamp():
        await clock.advance(STEP_S)
        start, program, target = await thermostat.now()
        seen.append((datetime.fromtimestamp(clock.time(), UTC), start, program, target))
    return seen


def _blocks(seen: list[tuple[datetime, str, str, float]]) -> list[tuple[str, str]]:
    """Each block as it was first seen, in order: a block seen twice appears twice."""
    out: list[tuple[str, str]] = []
    for _, start, program, _ in seen:
        if not out or out[-1] != (start, program):
            out.append((start, program))
    return out


def _check_targets(seen: list[tuple[datetime, str, str, float]]) -> None:
    for when, start, program, target in seen:
        assert target == PROGRAMS[program], (when, program, target)
        # the block in force started at most one step ago, or earlier: never in the future
        assert datetime.fromisoformat(start) <= when


async def _alive(bridge: Bridge) -> None:
    stopped = [t.get_name() for t in bridge._tasks if t.done()]
    assert not stopped, stopped


@pytest.mark.parametrize(
    ("start", "until", "schedule", "expected"),
    [
        pytest.param(
            # spring: Sunday 2026-03-29, 02:00 +01:00 jumps to 03:00 +02:00 (01:00 UTC)
            _utc(2026, 3, 28, 23, 0),
            _utc(2026, 3, 29, 3, 0),
            [
                {"start": [5, 23, 0], "temperature": "not_home"},
                {"start": [6, 1, 30], "temperature": "home"},
                {"start": [6, 2, 30], "temperature": "comfort"},  # skipped: starts at the jump
                {"start": [6, 3, 15], "temperature": "not_home"},
                {"start": [6, 4, 0], "temperature": "home"},
            ],
            [
                ("2026-03-28T22:00:00+00:00", "not_home"),
                ("2026-03-29T00:30:00+00:00", "home"),
                ("2026-03-29T01:00:00+00:00", "comfort"),
                ("2026-03-29T01:15:00+00:00", "not_home"),
                ("2026-03-29T02:00:00+00:00", "home"),
            ],
            id="spring-forward",
        ),
        pytest.param(
            # autumn: Sunday 2026-10-25, 03:00 +02:00 goes back to 02:00 +01:00 (01:00 UTC)
            _utc(2026, 10, 24, 22, 0),
            _utc(2026, 10, 25, 3, 0),
            [
                {"start": [5, 23, 0], "temperature": "not_home"},
                {"start": [6, 2, 30], "temperature": "comfort"},  # repeated: the first time only
                {"start": [6, 2, 45], "temperature": "home"},
                {"start": [6, 3, 0], "temperature": "not_home"},
            ],
            [
                ("2026-10-24T21:00:00+00:00", "not_home"),
                ("2026-10-25T00:30:00+00:00", "comfort"),
                ("2026-10-25T00:45:00+00:00", "home"),
                ("2026-10-25T02:00:00+00:00", "not_home"),
            ],
            id="fall-back",
        ),
    ],
)
async def test_daylight_saving_change_runs_every_block_once_with_the_right_target(
    tmp_path: Path,
    http: aiohttp.ClientSession,
    start: datetime,
    until: datetime,
    schedule: list[dict[str, Any]],
    expected: list[tuple[str, str]],
) -> None:
    clock = VirtualClock(start.timestamp())
    async with _bridge_on(tmp_path, clock) as bridge:
        thermostat = _Thermostat(bridge, http, await make_token(bridge))
        await thermostat.patch({"schedule": schedule, "programs": PROGRAMS})
        seen = await _walk(clock, thermostat, until)
        assert _blocks(seen) == expected
        _check_targets(seen)
        # each block is in force at the first look after its start
        for block_start, program in expected[1:]:
            first = next(when for when, s, p, _ in seen if (s, p) == (block_start, program))
            assert (first - datetime.fromisoformat(block_start)).total_seconds() < STEP_S
        await _alive(bridge)


async def test_system_clock_stepped_forward_and_back(
    tmp_path: Path, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    # Monday 2026-01-05 06:50 in Amsterdam (05:50 UTC)
    clock = SteppedClock(_utc(2026, 1, 5, 5, 50).timestamp())
    async with _bridge_on(tmp_path, clock) as bridge:
        thermostat = _Thermostat(bridge, http, await make_token(bridge))
        schedule = [
            {"start": [0, 7, 0], "temperature": "home"},
            {"start": [0, 9, 0], "temperature": "not_home"},
            {"start": [6, 23, 0], "temperature": "comfort"},
        ]
        await thermostat.patch({"schedule": schedule, "programs": PROGRAMS})
        await clock.advance(STEP_S)
        assert (await thermostat.now())[1:] == ("comfort", 21.5)

        samples_before = await _target_samples(bridge)
        clock.step(3600)  # 07:50: home, at once
        await clock.advance(STEP_S)
        assert (await thermostat.now()) == ("2026-01-05T06:00:00+00:00", "home", 20.0)
        await clock.advance(600)

        clock.step(-2 * 3600)  # back to 06:20: comfort again, at once
        await clock.advance(STEP_S)
        assert (await thermostat.now())[1:] == ("comfort", 21.5)
        recorded = await _target_samples(bridge)
        for _ in range(10):
            await clock.advance(60)
            await asyncio.sleep(0.02)  # its write runs on the database thread: real time
        # the recorder goes on through the step back (one sample a minute; a recorder on
        # the wall clock would wait out the two hours and record none)
        assert len(await _target_samples(bridge)) >= len(recorded) + 5
        assert len(recorded) > len(samples_before)

        seen = await _walk(clock, thermostat, _utc(2026, 1, 5, 8, 30))  # wall 09:30 + 1 step
        assert [p for _, p in _blocks(seen)] == ["comfort", "home", "not_home"]
        _check_targets(seen)
        await _alive(bridge)
    failures = [r for r in caplog.records if r.levelname in {"ERROR", "CRITICAL"}]
    assert not failures, [r.getMessage() for r in failures]


async def _target_samples(bridge: Bridge) -> list[tuple[float, float]]:
    rows: list[tuple[float, float]] = await bridge.db._worker.call(
        lambda conn: conn.execute(
            "SELECT ts, value FROM samples WHERE key = 'target_temperature'"
        ).fetchall()
    )
    return rows
