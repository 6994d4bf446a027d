"""The simulated unit's poll client: plain HTTP to its server, on an injected clock.

:func:`run_unit` polls ``GET <server>/api?_<HWID>_<HEX>`` at the unit's
interval and hands each answer to the unit. A server that is down (refused,
timed out, an error status, an answer that is not one) changes nothing: the
unit keeps heating on its stored calendar and tries again at its interval.
:func:`serve_sim_unit` is ``thermosmart-bridge sim-unit``: a new world and
unit, ``speed`` times faster than real time.
"""

from __future__ import annotations

import logging

import aiohttp
from yarl import URL

from bridge.core.clock import Clock, SystemClock
from bridge.opentherm.sim.scaled_clock import ScaledClock
from bridge.opentherm.sim.world import SimWorld
from bridge.unit.protocol import UnitProtocolError
from bridge.unit.sim.model import SimUnit

__all__ = ["REQUEST_TIMEOUT_S", "check_server_url", "poll_once", "run_unit", "serve_sim_unit"]

_LOGGER = logging.getLogger(__name__)

#: How long the unit waits for an answer (real seconds).
REQUEST_TIMEOUT_S = 5.0
#: The longest answer body it reads (the hex of the longest answer, with room).
_MAX_BODY = 64 * 1024


def check_server_url(url: str) -> URL:
    """``url`` if a unit could poll it: ``http://HOST[:PORT]`` with no path, user or query.

    The unit speaks plain HTTP and puts ``/api`` itself; anything else is
    refused with a :class:`ValueError` that says what.
    """
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        raise ValueError(f"{url!r} is not a URL") from None
    if parsed.scheme != "http":
        raise ValueError("a unit speaks plain HTTP only: the server URL starts with http://")
    if not parsed.host:
        raise ValueError("the server URL needs a host")
    if parsed.user is not None or parsed.password is not None:
        raise ValueError("a unit sends no user name or password in the URL")
    if parsed.path not in ("", "/") or parsed.query_string or parsed.fragment:
        raise ValueError("the server URL is http://HOST[:PORT]: the unit adds /api itself")
    try:
        port = parsed.port
    except ValueError:
        raise ValueError("the server URL's port is 1-65535") from None
    if port is None or not 1 <= port <= 65535:
        raise ValueError("the server URL's port is 1-65535")
    return parsed.with_path("")


async def poll_once(unit: SimUnit, server: URL, session: aiohttp.ClientSession) -> str | None:
    """One poll: None when the unit took an answer, else why it did not."""
    path = unit.request_path()
    try:
        async with session.get(
            f"{server}{path}",
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
            allow_redirects=False,
        ) as response:
            body = await response.content.read(_MAX_BODY)
            if response.status != 200:
                return f"HTTP {response.status}"
    except (aiohttp.ClientError, TimeoutError, OSError) as err:
        return f"no answer ({type(err).__name__})"
    try:
        unit.receive(body.decode("ascii", errors="replace"))
    except UnitProtocolError as err:
        return f"an answer it cannot read: {err}"
    return None


async def run_unit(
    unit: SimUnit,
    server: URL | str,
    clock: Clock,
    *,
    session: aiohttp.ClientSession | None = None,
) -> None:
    """Poll ``server`` at the unit's interval until cancelled, the world following ``clock``."""
    url = check_server_url(str(server))
    own = session is None
    http = session or aiohttp.ClientSession()
    failing: str | None = None
    try:
        while True:
            unit.advance_to(clock.time())
            problem = await poll_once(unit, url, http)
            if problem != failing:
                if problem is None:
                    _LOGGER.info("unit %s: the server answers", unit.hardware_id)
                else:
                    _LOGGER.warning(
                        "unit %s: %s; heating on the stored calendar", unit.hardware_id, problem
                    )
                failing = problem
            await clock.sleep(unit.poll_interval)
    finally:
        if own:
            await http.close()


async def serve_sim_unit(
    server: str,
    *,
    hardware_id: str,
    password: str,
    revision: int = 5,
    seed: int = 0,
    speed: float = 1.0,
) -> None:
    """A simulated unit on a world of its own, ``speed`` times real time, until cancelled."""
    url = check_server_url(server)
    if speed <= 0:
        raise ValueError("speed must be positive")
    clock = ScaledClock(SystemClock(), speed)
    world = SimWorld(seed=seed, start=clock.time())
    unit = SimUnit(world, hardware_id=hardware_id, password=password, revision=revision)
    await run_unit(unit, url, clock)
