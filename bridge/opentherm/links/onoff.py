"""An on/off relay on a Modbus coil, for boilers without OpenTherm.

The relay closes the boiler's room-thermostat contacts: on means heat
demand. ``set_heat_demand`` writes the coil and reads it back. Stopping the
link first switches the relay to :attr:`OnOffLink.STOP_STATE` (off), so a
bridge that shuts down never leaves the boiler heating; whether that was
confirmed is in :attr:`OnOffLink.stopped_safe`.

URL::

    onoff+modbus+tcp://HOST[:PORT]?unit=1&coil=N[&timeout=1.0]
    onoff+modbus+rtu:///dev/ttyUSB0?unit=1&coil=N&baudrate=9600&parity=N&stopbits=1
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, ClassVar, Final

from bridge.opentherm.links.base import (
    LinkCounters,
    LinkError,
    LinkState,
    StateListener,
)
from bridge.opentherm.links.modbus_channel import ModbusChannel
from bridge.opentherm.links.modbus_target import (
    ModbusTarget,
    ModbusUrlError,
    int_param,
    parse_target,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    import random

    from bridge.core.clock import Clock
    from bridge.opentherm.frame import Frame

_LOGGER = logging.getLogger(__name__)


def parse_onoff_url(url: str) -> tuple[ModbusTarget, int]:
    """The target and coil of an ``onoff+modbus+tcp://`` (or ``+rtu``) URL."""
    target, extra = parse_target(
        url,
        {"onoff+modbus+tcp": "tcp", "onoff+modbus+rtu": "rtu"},
        {"coil": int_param(0, 0xFFFF)},
    )
    coil = extra.get("coil")
    if not isinstance(coil, int):
        raise ModbusUrlError(f"{url!r}: the coil parameter is required (coil=N)")
    return target, coil


class OnOffLink:
    """A relay on one Modbus coil: heat demand on or off, no OpenTherm."""

    kind = "onoff"
    opentherm = False

    STOP_STATE: ClassVar[bool] = False
    """The relay state :meth:`stop` leaves behind: off, no heat demand."""

    def __init__(
        self,
        target: ModbusTarget,
        coil: int,
        *,
        coil_write_function: int = 5,
        clock: Clock | None = None,
        backoff_min: float = 1.0,
        backoff_max: float = 60.0,
        stop_timeout: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 <= coil <= 0xFFFF:
            raise ValueError(f"coil {coil} is not a Modbus address")
        if coil_write_function not in (5, 15):
            raise ValueError("coil_write_function must be 5 or 15")
        self.target = target
        self.coil: Final = coil
        self.counters = LinkCounters()
        self._write_function = coil_write_function
        self._stop_timeout = stop_timeout
        self._channel = ModbusChannel(
            target,
            counters=self.counters,
            clock=clock,
            backoff_min=backoff_min,
            backoff_max=backoff_max,
            rng=rng,
        )
        self._lock = asyncio.Lock()
        self._heat_demand: bool | None = None
        self._stopped_safe: bool | None = None

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        clock: Clock | None = None,
        backoff_min: float = 1.0,
        backoff_max: float = 60.0,
    ) -> OnOffLink:
        """A relay link for an ``onoff+modbus+tcp://`` URL; raises :class:`ModbusUrlError`."""
        target, coil = parse_onoff_url(url)
        return cls(target, coil, clock=clock, backoff_min=backoff_min, backoff_max=backoff_max)

    @property
    def state(self) -> LinkState:
        """The connection state."""
        return self._channel.state

    @property
    def heat_demand(self) -> bool | None:
        """The relay state last confirmed by a read-back; None before the first."""
        return self._heat_demand

    @property
    def stopped_safe(self) -> bool | None:
        """After :meth:`stop`: True if the relay was confirmed off; None before any stop."""
        return self._stopped_safe

    def add_state_listener(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener`` on every state change; returns a function that removes it."""
        return self._channel.add_state_listener(listener)

    async def start(self) -> None:
        """Connect (one attempt now, then in the background with backoff)."""
        self._stopped_safe = None
        await self._channel.start()

    async def stop(self) -> None:
        """Switch the relay to :attr:`STOP_STATE` (off), then close the connection.

        If the relay cannot be reached, the link still closes; ``stopped_safe``
        is then False and a warning says the relay state is unknown.
        """
        safe = False
        if self._channel.connected:
            try:
                async with asyncio.timeout(self._stop_timeout):
                    await self.set_heat_demand(self.STOP_STATE)
                safe = True
            except (LinkError, TimeoutError) as err:
                _LOGGER.warning(
                    "Relay %s coil %d: could not switch off on stop (%s); its state is unknown",
                    self.target.describe(),
                    self.coil,
                    err or "timeout",
                )
        else:
            _LOGGER.warning(
                "Relay %s coil %d: not connected on stop; its state is unknown",
                self.target.describe(),
                self.coil,
            )
        if not safe:
            self._heat_demand = None
        self._stopped_safe = safe
        await self._channel.stop()

    async def set_heat_demand(self, on: bool) -> None:
        """Switch the relay and confirm it by reading the coil back."""
        async with self._lock:
            self.counters.requests += 1
            await self._channel.write_coil(self.coil, on, self._write_function)
            (state,) = await self._channel.read_coils(self.coil, 1)
            if state != on:
                self._heat_demand = state
                self.counters.bad_frames += 1
                raise LinkError(
                    f"relay coil {self.coil} reads back {'on' if state else 'off'} "
                    f"after switching it {'on' if on else 'off'}"
                )
            self._heat_demand = on
            self.counters.answers += 1

    async def transact(self, request: Frame, timeout: float = 0.8) -> Frame:
        """A relay carries no OpenTherm: always raises :class:`LinkError`."""
        raise LinkError("an on/off relay link carries no OpenTherm conversations")
