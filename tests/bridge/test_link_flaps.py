"""A boiler link that flaps every few seconds for a simulated day.

A real bridge (virtual clock) talks to a simulated house and boiler behind a
simulated OpenTherm Gateway over TCP on loopback. The gateway drops every
connection and refuses new ones for a few seconds, then lets the bridge back
in for a few, all day long. What must hold: every outage is logged once (one
line when it starts, one when it ends, never one per retry), the bridge
reconnects each time, and nothing piles up: asyncio tasks, open files,
listeners, waiting reads and Python objects stay bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import gc
import logging
import os
from pathlib import Path

import pytest

from bridge.config import validate
from bridge.core.clock import VirtualClock
from bridge.daemon import Bridge
from bridge.opentherm.links.base import LinkState
from bridge.opentherm.links.otgw import OtgwLink
from bridge.opentherm.sim import SimWorld
from bridge.opentherm.sim.otgw_server import SimOtgwServer
from bridge.opentherm.sim.world import WorldSlave

#: The flapping: seconds down, seconds up, for how long (HOURS=24 is the simulated day).
DOWN_S, UP_S = 4.0, 4.0
HOURS = float(os.environ.get("THERMOSMART_FLAP_HOURS", "24"))


async def _until(predicate: Callable[[], bool], clock: VirtualClock, timeout: float = 5.0) -> None:
    """Let real I/O and the virtual clock run until ``predicate()`` holds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.0005)  # real I/O: a connection, a gateway's answer
            wake = clock.next_wakeup()
            if wake is not None:
                await clock.run_until(wake)  # the next retry, cycle or timer


def _open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def _sizes(bridge: Bridge, link: OtgwLink) -> dict[str, int]:
    gc.collect()
    stream = link._stream
    return {
        "files": _open_files(),
        "link listeners": len(link._listeners._listeners),
        "read waiters": sum(len(w) for w in stream._waiters.values()),
        "summary waiters": len(stream._summary_waiters),
        # the test harness keeps every log record of the run: those are not the bridge's
        "objects": sum(1 for o in gc.get_objects() if not isinstance(o, logging.LogRecord)),
    }


@pytest.mark.timeout(600)  # about a minute on an idle machine
async def test_link_flapping_all_day_logs_each_outage_once_and_leaks_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = SimWorld(seed=1)
    server = SimOtgwServer(WorldSlave(world), VirtualClock(), "127.0.0.1", 0)
    await server.start()
    clock = VirtualClock()
    cfg = validate(
        {
            "data_dir": str(tmp_path / "data"),
            "host": "127.0.0.1",
            "port": 0,
            "zeroconf": False,
            "boiler": f"otgw+tcp://127.0.0.1:{server.port}",
        }
    )
    bridge = Bridge(cfg, clock=clock)
    await bridge.start()
    link = bridge.link
    assert isinstance(link, OtgwLink)
    caplog.set_level(logging.INFO)
    try:
        await _until(lambda: link.state is LinkState.CONNECTED, clock)
        outages = 0
        outages_at_baseline = 0
        lines: dict[str, int] = {}
        baseline: dict[str, int] | None = None
        tasks: list[int] = []  # the task count at the end of every outage's up time
        end = clock.time() + HOURS * 3600
        settled = clock.time() + HOURS * 360  # the sizes after a tenth of the run
        while clock.time() < end:
            server.accepting = False
            await server.drop_clients()
            await _until(lambda: link.state is not LinkState.CONNECTED, clock)
            outages += 1
            await clock.advance(DOWN_S)  # retries meet a gateway that hangs up at once
            server.accepting = True
            await _until(lambda: link.state is LinkState.CONNECTED, clock, timeout=30)
            await clock.advance(UP_S)
            tasks.append(len(asyncio.all_tasks()))
            _tally(caplog, lines)  # and forget the records: caplog would hold them all day
            if baseline is None and clock.time() >= settled:
                baseline = _sizes(bridge, link)
                outages_at_baseline = outages
        assert baseline is not None
        after = _sizes(bridge, link)
    finally:
        await _stop(bridge, clock)
        await server.stop()

    # bounded: what a tenth of the day left, give or take the one read in flight at any
    # moment; a leak would add one or more per outage
    for key in ("files", "link listeners", "read waiters", "summary waiters"):
        assert after[key] <= baseline[key] + 3, (key, baseline, after)
    # tasks: how many are in flight at one moment varies (a save, a request, a cloud turn),
    # so the fewest over the last outages (up to 50) against the fewest over as many before
    # the baseline; a task leaked per outage would add one per outage since
    window = min(50, outages_at_baseline)
    before_tasks = min(tasks[outages_at_baseline - window : outages_at_baseline])
    assert min(tasks[-window:]) <= before_tasks + 1, (before_tasks, tasks[-window:])
    # Python objects: fewer new ones than outages since the baseline (a leak of one object
    # an outage would reach it; Python 3.11's asyncio keeps a few weak references longer)
    since = outages - outages_at_baseline
    assert after["objects"] - baseline["objects"] < since, (since, baseline, after)

    # one line when an outage starts, one when it ends; the retries in between are quiet
    assert lines == {
        "warning: lost the OpenTherm Gateway": outages,
        "info: reachable again": outages,
    }
    assert link.counters.reconnects == outages
    print(f"link flaps: {outages} outages in {HOURS:g} simulated hours; {after}")


def _tally(caplog: pytest.LogCaptureFixture, lines: dict[str, int]) -> None:
    """Count the bridge's log lines of WARNING and up, and its "reachable again" lines."""
    for record in caplog.records:
        message = record.getMessage()
        if not record.name.startswith("bridge"):
            continue
        if record.levelno >= logging.WARNING:
            key = "warning: " + message.split(" at ")[0]
        elif "reachable again" in message:
            key = "info: reachable again"
        else:
            continue
        lines[key] = lines.get(key, 0) + 1
    caplog.clear()


async def _stop(bridge: Bridge, clock: VirtualClock) -> None:
    stopping = asyncio.create_task(bridge.stop())
    while not stopping.done():
        await clock.advance(1)
        await asyncio.sleep(0.001)
    await stopping
