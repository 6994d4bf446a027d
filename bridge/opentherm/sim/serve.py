"""Running a simulated gateway server on a world of its own, until cancelled.

The OpenTherm Gateway and Modbus simulators start the same way: a world that
runs ``speed`` times faster than real time from now, its physics as a task,
the server on top of it; on cancellation the physics stop, then the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from typing import Protocol

from bridge.core.clock import Clock, SystemClock
from bridge.opentherm.sim.scaled_clock import ScaledClock
from bridge.opentherm.sim.world import SimWorld, WorldSlave


class SimServer(Protocol):
    """A simulated gateway server that can be started and stopped."""

    async def start(self) -> None:
        """Start listening."""

    async def stop(self) -> None:
        """Close the server and its connections."""


ServerFactory = Callable[[WorldSlave, Clock, float], SimServer]
"""Builds a server for the world's boiler, on the world's clock, cycling every so many seconds."""


async def serve_world(make_server: ServerFactory, *, seed: int, speed: float, name: str) -> None:
    """Run a new world (``seed``, ``speed`` times real time) behind ``make_server``'s server.

    The gateway's cycle (the third argument to ``make_server``) is one
    simulated second, but at most twenty per real second. ``name`` names the
    physics task.
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    clock = ScaledClock(SystemClock(), speed)
    world = SimWorld(seed=seed, start=clock.time())
    world.attach(clock)
    server = make_server(WorldSlave(world), clock, max(1.0, speed / 20))
    await server.start()
    physics = asyncio.create_task(world.run(clock), name=name)
    try:
        await asyncio.Event().wait()
    finally:
        physics.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await physics
        await server.stop()
