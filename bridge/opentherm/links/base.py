"""The one small interface every boiler link implements.

A link carries OpenTherm conversations between the bridge (the master) and
the boiler (the slave), whatever the adapter in between: an OpenTherm
Gateway, a Modbus gateway, or the simulator. A relay link carries no
OpenTherm at all (``opentherm`` is False) and only switches heat demand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from bridge.opentherm.boiler_state import BoilerState
from bridge.opentherm.frame import Frame


class LinkState(StrEnum):
    """Where a link stands."""

    STOPPED = "stopped"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class LinkError(Exception):
    """A conversation could not be carried out (not connected, I/O error)."""


class LinkTimeout(LinkError):
    """The boiler (or the adapter) did not answer in time."""


@dataclass
class LinkCounters:
    """What a link counts; exposed in diagnostics."""

    requests: int = 0
    answers: int = 0
    timeouts: int = 0
    bad_frames: int = 0
    garbage_lines: int = 0
    adapter_errors: int = 0
    reconnects: int = 0
    extra: dict[str, int] = field(default_factory=dict)


StateListener = Callable[[LinkState], None]


class BoilerLink(Protocol):
    """One adapter between the bridge and a boiler."""

    kind: str
    """Short name of the adapter: ``sim``, ``otgw``, ``modbus``, ``onoff``."""

    opentherm: bool
    """False for links that can only switch heat demand (relays)."""

    counters: LinkCounters

    @property
    def state(self) -> LinkState:
        """The connection state."""

    def add_state_listener(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener`` on every state change; returns a function that removes it."""

    async def start(self) -> None:
        """Open the link (and keep it open, reconnecting with backoff)."""

    async def stop(self) -> None:
        """Close the link and stop reconnecting."""

    async def transact(self, request: Frame, timeout: float = 0.8) -> Frame:
        """Send one master request and return the boiler's validated answer.

        Raises :class:`LinkTimeout` if no answer comes within ``timeout``
        seconds and :class:`LinkError` if the link is down. Answers that fail
        validation are counted as bad frames and raise :class:`LinkError`.
        """

    async def set_heat_demand(self, on: bool) -> None:
        """Relay links: switch heat demand. OpenTherm links: raise LinkError."""


@runtime_checkable
class RoomSensor(Protocol):
    """A link that also has a room thermometer (the simulated house has one)."""

    def room_temperature(self) -> float | None:
        """A room reading in °C, or ``None`` when there is none."""


@runtime_checkable
class SetpointLink(Protocol):
    """A link whose boiler another master drives (a wall unit) on a room setpoint.

    The bridge does not control the boiler through such a link: it gives the
    room target to follow, and reads the boiler as the other master reports it.
    """

    @property
    def boiler(self) -> BoilerState:
        """The boiler's values as the other master reports them."""

    def set_room_setpoint(self, target: float) -> None:
        """The room target, °C, the other master is to follow."""
