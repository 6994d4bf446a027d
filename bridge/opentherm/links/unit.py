"""A boiler driven by a ThermoSmart wall unit, which reports what it sees.

The wall unit is the boiler's OpenTherm master: it runs its own PID on the
room setpoint it follows. The bridge therefore never converses with the
boiler itself (:meth:`UnitLink.transact` refuses); it acts through the room
setpoint (:meth:`UnitLink.set_room_setpoint`, sent to the unit as
``SVSET``) and learns from what the unit reports on every poll: its room
reading and the boiler's OpenTherm data values, kept in a
:class:`~bridge.opentherm.boiler_state.BoilerState` like a master keeps its
own, so every view of the boiler works the same.

The unit's polls arrive at the bridge's unit server (the service layer
decodes them and calls :meth:`UnitLink.report`); this link is the boiler's
side of it. It is connected while the house's unit polls, and disconnected
once no poll came for :attr:`UnitLink.silence_s` seconds.

URL::

    thermosmart-unit://HOST:PORT    (default 0.0.0.0:80; port 0: any free port)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import logging
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from bridge.core.listeners import Listeners
from bridge.opentherm.boiler_state import BoilerState
from bridge.opentherm.links.base import LinkCounters, LinkError, LinkState, StateListener

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.opentherm.frame import Frame

_LOGGER = logging.getLogger(__name__)

SCHEME: Final = "thermosmart-unit"
DEFAULT_HOST: Final = "0.0.0.0"  # noqa: S104 - the unit reaches the bridge over the LAN
DEFAULT_PORT: Final = 80
SILENCE_S: Final = 180.0
"""No poll for this long and the unit counts as gone (it polls every 5-60 s)."""


def parse_unit_url(url: str) -> tuple[str, int]:
    """The host and port of a ``thermosmart-unit://HOST:PORT`` URL."""
    parts = urlsplit(url)
    if parts.scheme != SCHEME:
        raise ValueError(f"{url!r}: not a {SCHEME}:// URL")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{url!r}: give only a host and a port ({SCHEME}://HOST:PORT)")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{url!r}: the port must be a number from 0 to 65535") from None
    return parts.hostname or DEFAULT_HOST, DEFAULT_PORT if port is None else port


class UnitLink:
    """The boiler as the house's wall unit drives and reports it."""

    kind = "unit"

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        clock: Clock,
        silence_s: float = SILENCE_S,
    ) -> None:
        self.host = host
        self.port = port
        self.silence_s = silence_s
        self.counters = LinkCounters()
        """``requests``: polls of the house's unit; ``bad_frames``: polls refused."""
        self.opentherm = True
        """Whether the unit talks OpenTherm to the boiler (its ``oo``; True until it says)."""
        self.boiler = BoilerState()
        """The boiler's values as the unit last reported them."""
        self.setpoint: float | None = None
        """The room setpoint the bridge wants the unit to follow (None: none yet)."""
        self._clock = clock
        self._state = LinkState.STOPPED
        self._listeners: Listeners[[LinkState]] = Listeners(_LOGGER, "link state listener failed")
        self._room: float | None = None
        self._last_report: float | None = None

    @classmethod
    def from_url(cls, url: str, *, clock: Clock) -> UnitLink:
        """A link for ``thermosmart-unit://HOST:PORT``."""
        host, port = parse_unit_url(url)
        return cls(host, port, clock=clock)

    # -- the link interface ----------------------------------------------------

    @property
    def state(self) -> LinkState:
        """Connected while the unit polls."""
        return self._state

    def add_state_listener(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener`` on every state change; returns a remover."""
        return self._listeners.add(listener)

    def _set_state(self, state: LinkState) -> None:
        if state != self._state:
            self._state = state
            self._listeners.notify(state)

    async def start(self) -> None:
        """Wait for the unit's first poll."""
        self._set_state(LinkState.CONNECTING)

    async def stop(self) -> None:
        """Stop; the unit keeps heating on its stored calendar."""
        self._set_state(LinkState.STOPPED)

    async def transact(self, request: Frame, timeout: float = 0.8) -> Frame:
        """The unit is the boiler's master: the bridge does not converse with the boiler."""
        raise LinkError("the wall unit is the boiler's OpenTherm master; the bridge only listens")

    async def set_heat_demand(self, on: bool) -> None:
        """The unit switches the boiler itself."""
        raise LinkError("the wall unit switches the boiler itself")

    # -- what the unit reports, what it is told ---------------------------------

    def room_temperature(self) -> float | None:
        """The unit's room reading, °C, while the unit polls."""
        return self._room if self._state == LinkState.CONNECTED else None

    def set_room_setpoint(self, target: float) -> None:
        """The room target the unit is to follow (sent as ``SVSET`` on its next poll)."""
        self.setpoint = target

    def report(
        self,
        *,
        room: float | None,
        opentherm: Mapping[int, int | None],
        opentherm_boiler: bool | None,
    ) -> None:
        """One poll of the house's unit: its room reading and the boiler's data values.

        A value of None is the unit's "not available" (``0xDEAD``): the last
        good value is kept and marked stale, never replaced.
        """
        now = self._clock.time()
        self._last_report = now
        self.counters.requests += 1
        self.counters.answers += 1
        if room is not None:
            self._room = room
        if opentherm_boiler is not None:
            self.opentherm = opentherm_boiler
        boiler = self.boiler
        boiler.set_connected(True)
        for data_id, raw in sorted(opentherm.items()):
            boiler.note_conversation(data_id, now)
            if raw is None:
                boiler.note_invalid(data_id)
            else:
                boiler.set_value(data_id, raw, now)
        self._set_state(LinkState.CONNECTED)
        boiler.flush()

    def note_refused(self) -> None:
        """Count a poll of this unit that was refused (bad payload, wrong password)."""
        self.counters.bad_frames += 1

    def check(self) -> LinkState:
        """Mark the unit gone after :attr:`silence_s` without a poll; returns the state."""
        last = self._last_report
        if (
            self._state == LinkState.CONNECTED
            and last is not None
            and self._clock.time() - last > self.silence_s
        ):
            self.counters.timeouts += 1
            self.boiler.set_connected(False)
            self._set_state(LinkState.DISCONNECTED)
            self.boiler.flush()
        return self._state


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "SCHEME", "SILENCE_S", "UnitLink", "parse_unit_url"]
