"""The ``sim://`` boiler link: OpenTherm conversations with the simulated boiler.

The link carries each request to a :class:`~bridge.opentherm.sim.SimWorld`'s
boiler as a 32-bit frame, waits a boiler-like answer time (tens of ms) on
the injected clock, and validates the answer like any other link. A silent
boiler (see :meth:`~bridge.opentherm.sim.Boiler.set_link_fault`) ends in
:class:`LinkTimeout` after the timeout; a garbled answer is counted as a bad
frame and raises :class:`LinkError`.

URL::

    sim://[?profile=terraced_1970s][&seed=0][&dhw_taps=1][&weather=/path/weather.csv]

The config file's ``[sim]`` table (``house``, ``seed``) sets the same world;
:func:`sim_options` is the one place that turns either into the world's
parameters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
import logging
import random
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from bridge.core.listeners import Listeners
from bridge.opentherm.frame import Direction, Frame, FrameError, check_answer
from bridge.opentherm.links.base import (
    LinkCounters,
    LinkError,
    LinkState,
    LinkTimeout,
    StateListener,
)
from bridge.opentherm.sim.house import get_profile
from bridge.opentherm.sim.weather import CsvWeather, WeatherSource
from bridge.opentherm.sim.world import DEFAULT_SEED, SimWorld

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.core.clock import Clock

_LOGGER = logging.getLogger(__name__)


class SimUrlError(ValueError):
    """A ``sim://`` URL that cannot be used."""


#: The largest seed (a URL's seed is text; this keeps it a bounded, ASCII integer).
MAX_SEED = 2**63 - 1


def _seed_text(text: str) -> bool:
    """True for ASCII digits naming 0..MAX_SEED (str.isdigit() passes "²" and "٣")."""
    return (
        text.isascii()
        and text.isdigit()
        and len(text) <= len(str(MAX_SEED))
        and int(text) <= MAX_SEED
    )


def parse_sim_url(url: str) -> dict[str, str]:
    """The options of a ``sim://`` URL (``profile``, ``seed``, ``dhw_taps``, ``weather``)."""
    try:
        parts = urlsplit(url)
    except ValueError as err:  # "Invalid IPv6 URL"
        raise SimUrlError(f"{url!r} is not a URL: {err}") from None
    if parts.scheme != "sim":
        raise SimUrlError(f"{url!r} is not a sim:// URL")
    if parts.netloc or parts.path not in ("", "/"):
        raise SimUrlError(f"{url!r}: a sim:// URL takes options only (sim://?profile=NAME)")
    options: dict[str, str] = {}
    for key, values in parse_qs(parts.query, keep_blank_values=True).items():
        if key not in {"profile", "seed", "dhw_taps", "weather"}:
            raise SimUrlError(f"{url!r}: unknown option {key!r}")
        options[key] = values[-1]
    if "profile" in options:
        try:
            get_profile(options["profile"])
        except ValueError as err:
            raise SimUrlError(str(err)) from None
    if "seed" in options and not _seed_text(options["seed"]):
        raise SimUrlError(f"{url!r}: seed must be an integer from 0 to {MAX_SEED}")
    if options.get("dhw_taps", "1") not in {"0", "1"}:
        raise SimUrlError(f"{url!r}: dhw_taps must be 0 or 1")
    return options


DEFAULT_PROFILE = "terraced_1970s"

#: ``[sim]`` table key -> ``sim://`` URL option of the same meaning
TABLE_KEYS = {"house": "profile", "seed": "seed"}


@dataclass(frozen=True, slots=True)
class SimOptions:
    """The simulated world's parameters, from a ``sim://`` URL and the ``[sim]`` table."""

    profile: str = DEFAULT_PROFILE
    seed: int = DEFAULT_SEED
    dhw_taps: bool = True
    weather: str | None = None


def sim_options(url: str, table: Mapping[str, Any] | None = None) -> SimOptions:
    """The world's parameters from a ``sim://`` URL and the config's ``[sim]`` table.

    The table's ``house`` is the URL's ``profile`` and its ``seed`` the URL's
    ``seed``. Either place may set a parameter; both may only if they agree,
    so a URL option never silently overrides the file (or the other way
    round). Raises :class:`SimUrlError` naming the disagreement.
    """
    options: dict[str, str] = dict(parse_sim_url(url))
    for key, value in (table or {}).items():
        if key not in TABLE_KEYS:
            raise SimUrlError(f"[sim] {key}: unknown key; use {', '.join(TABLE_KEYS)}")
        option = TABLE_KEYS[key]
        text = str(value)
        if option == "profile":
            try:
                get_profile(text)
            except ValueError as err:
                raise SimUrlError(f"[sim] house: {err}") from None
        elif not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SEED:
            raise SimUrlError(f"[sim] seed: must be an integer from 0 to {MAX_SEED}, not {value!r}")
        if option in options and options[option] != text:
            raise SimUrlError(
                f"[sim] {key} = {value!r} disagrees with the boiler URL's "
                f"{option}={options[option]}; set it in one place"
            )
        options[option] = text
    return SimOptions(
        profile=options.get("profile", DEFAULT_PROFILE),
        seed=int(options.get("seed", str(DEFAULT_SEED))),
        dhw_taps=options.get("dhw_taps", "1") == "1",
        weather=options.get("weather"),
    )


class SimLink:
    """A :class:`~bridge.opentherm.links.base.BoilerLink` to a simulated boiler.

    ``clock`` times the answers. On :meth:`start` a world that follows no
    clock yet is attached to ``clock`` (at speed 1), so each conversation
    first brings the house and boiler up to the clock's time.
    """

    kind = "sim"
    opentherm = True

    def __init__(
        self,
        world: SimWorld,
        clock: Clock,
        *,
        latency_s: tuple[float, float] = (0.025, 0.075),
    ) -> None:
        low, high = latency_s
        if not 0.0 <= low <= high:
            raise ValueError("latency_s must be (low, high) with 0 <= low <= high")
        self.world = world
        self.counters = LinkCounters()
        self._clock = clock
        self._latency = latency_s
        self._rng = random.Random(f"thermosmart-sim-latency:{world.seed}")
        self._state = LinkState.STOPPED
        self._listeners: Listeners[[LinkState]] = Listeners(_LOGGER, "link state listener failed")
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, *, clock: Clock, table: Mapping[str, Any] | None = None) -> SimLink:
        """A link to a new world built from a ``sim://`` URL and the config's ``[sim]`` table.

        The world starts at the clock's time; see :func:`sim_options`.
        """
        options = sim_options(url, table)
        weather: WeatherSource | None = None
        if options.weather is not None:
            try:
                weather = CsvWeather.from_path(options.weather)
            except (OSError, ValueError) as err:
                raise SimUrlError(f"{url!r}: cannot load the weather CSV: {err}") from err
        world = SimWorld(
            options.profile,
            seed=options.seed,
            start=clock.time(),
            weather=weather,
            dhw_taps=options.dhw_taps,
        )
        return cls(world, clock)

    @property
    def state(self) -> LinkState:
        """The connection state."""
        return self._state

    def _set_state(self, state: LinkState) -> None:
        if state is self._state:
            return
        self._state = state
        self._listeners.notify(state)

    def add_state_listener(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener`` on every state change; returns a function that removes it."""
        return self._listeners.add(listener)

    def room_temperature(self) -> float | None:
        """The simulated room thermometer (:class:`~bridge.opentherm.links.base.RoomSensor`)."""
        return self.world.room_sensor_c()

    async def start(self) -> None:
        """Connect to the simulated boiler (immediate)."""
        if not self.world.attached:
            self.world.attach(self._clock)
        self._set_state(LinkState.CONNECTING)
        self._set_state(LinkState.CONNECTED)

    async def stop(self) -> None:
        """Disconnect."""
        self._set_state(LinkState.STOPPED)

    async def transact(self, request: Frame, timeout: float = 0.8) -> Frame:
        """Send one request to the simulated boiler and return its validated answer."""
        if self._state is not LinkState.CONNECTED:
            raise LinkError(f"the simulated boiler link is {self._state.value}")
        async with self._lock:
            self.counters.requests += 1
            self.world.sync()
            raw = self.world.boiler.handle_raw(request.to_int())
            latency = self._rng.uniform(*self._latency)
            if raw is None or latency > timeout:
                await self._clock.sleep(timeout)
                self.counters.timeouts += 1
                raise LinkTimeout(
                    f"no answer from the simulated boiler to id {request.data_id} "
                    f"within {timeout:g} s"
                )
            await self._clock.sleep(latency)
            try:
                answer = Frame.from_int(raw, direction=Direction.SLAVE_TO_MASTER)
                check_answer(request, answer)
            except FrameError as err:
                self.counters.bad_frames += 1
                raise LinkError(
                    f"bad answer from the simulated boiler ({err.reason}): {err}"
                ) from err
            self.counters.answers += 1
            return answer

    async def set_heat_demand(self, on: bool) -> None:
        """The simulated boiler speaks OpenTherm: always raises :class:`LinkError`."""
        raise LinkError("the simulated boiler speaks OpenTherm; use the control setpoint (id 1)")
