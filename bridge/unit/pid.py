"""The wall unit's own room-temperature PID, the law its firmware runs on the boiler.

Every ``dt`` seconds the unit turns the room error ``e = target - room`` into
a flow temperature::

    flow = target + kp * (e + ∫e dt / ti + td * de/dt)

clamped to 0 … the boiler's maximum flow; the integral stops while the flow
is clamped in the error's direction (so it never winds up past either end);
``ti`` 0 turns the integral off. The burner is asked to
heat while the flow is more than :data:`DEMAND_MARGIN_K` above the target,
with that flow as the OpenTherm control setpoint (ID 1), else 0.

This is the law the simulated unit (:mod:`bridge.unit.sim.model`) runs and
the one :mod:`bridge.unit.tuning` assumes when it proposes parameters. Pure
code: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bridge.unit.protocol import Pid

__all__ = ["DEMAND_MARGIN_K", "STOCK_PID", "PidLoop"]

#: The PID a unit leaves the factory with.
STOCK_PID: Final = Pid(kp=15.0, ti=3600.0, td=0.0)
#: Heating is on while the PID asks for a flow this much above the target (K).
DEMAND_MARGIN_K: Final = 2.0


@dataclass(slots=True)
class PidLoop:
    """One unit's PID and what it remembers between steps."""

    pid: Pid
    max_flow: float
    """The boiler's maximum flow temperature (°C)."""
    integral: float = 0.0
    """∫e dt so far, K·s."""
    last_error: float | None = None
    flow: float = 0.0
    """The flow temperature last asked for (°C; 0 while not heating)."""
    heating: bool = False

    def reset(self, pid: Pid | None = None) -> None:
        """Start again (a restart, or new parameters): no integral, no last error."""
        if pid is not None:
            self.pid = pid
        self.integral = 0.0
        self.last_error = None

    def step(self, target: float, room: float, dt: float) -> float:
        """One step of ``dt`` seconds: the flow setpoint to send (0 while not heating)."""
        pid = self.pid
        error = target - room
        derivative = 0.0 if self.last_error is None else (error - self.last_error) / dt
        self.last_error = error
        integral_term = self.integral / pid.ti if pid.ti > 0 else 0.0
        raw = target + pid.kp * (error + integral_term + pid.td * derivative)
        flow = min(self.max_flow, max(0.0, raw))
        saturated = (raw > self.max_flow and error > 0) or (raw < 0.0 and error < 0)
        if pid.ti > 0 and not saturated:
            self.integral += error * dt
        self.heating = flow > target + DEMAND_MARGIN_K
        self.flow = round(flow, 1) if self.heating else 0.0
        return self.flow
