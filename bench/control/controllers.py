"""The controllers the control benchmark compares, and what they see of the boiler.

Every controller talks to the simulated boiler the way the bridge does: it
reads OpenTherm data-ids (status, flow, return, modulation, the outside
sensor where the house has one) as frames, rounded to f8.8, and writes the
control setpoint (ID 1), max modulation (ID 14) and, when it manages it,
the max CH setpoint (ID 57). The room temperature is the simulated room
sensor: lagged, noisy, rounded to 0.1 °C.

* :class:`Ours` is the bridge's own control path: the same
  :class:`~bridge.core.heating.ThermostatControl`,
  :class:`~bridge.services.learning.LearningService` and optimal start the
  daemon's :class:`~bridge.services.thermostat.ThermostatService` runs, fed the same
  :class:`~bridge.learning.Measurement` every 60 s.
* :class:`OnOff`: the classic thermostat: burner on below target - 0.15 K,
  off above target + 0.15 K (a 0.3 K hysteresis), a fixed 70 °C flow.
* :class:`OnOffEarly`: the same thermostat, programmed by an owner who
  moved every rise of the schedule earlier by a fixed lead so that the
  house is warm on time (the lead is chosen on week one, see
  :func:`bench.control.pick_lead`): the classic thermostat at equal comfort.
* :class:`Curve`: a fixed weather-compensated heating curve, no room
  feedback, no early start; the installer's best curve for the house (its
  emitters at the design load, shifted by the mean internal gains).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
import math
from typing import TYPE_CHECKING, Protocol

from bridge.core.boiler_config import BoilerBounds, BoilerControlConfig
from bridge.core.curve import HeatingCurve
from bridge.core.heating import PlanContext, ThermostatControl
from bridge.core.state import resolve
from bridge.learning import HeatSource, Measurement
from bridge.opentherm.formats import decode_f8_8, encode_f8_8
from bridge.opentherm.frame import Frame, MsgType
from bridge.opentherm.sim.house import WATER_J_PER_KG_K
from bridge.services.learning import LearningService

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.core.state import Resolution, ThermostatState
    from bridge.learning import OutsideForecast
    from bridge.opentherm.sim import HouseSpec, SimWorld

#: Seconds between measurements fed to the learner (the daemon's RECORD_INTERVAL).
RECORD_S = 60.0


@dataclass(frozen=True, slots=True)
class Readings:
    """What a bridge knows at one moment."""

    ts: float
    room_c: float
    outside_c: float | None
    flow_c: float | None
    return_c: float | None
    modulation_pct: float | None
    flame_on: bool
    dhw_active: bool
    ch_active: bool


@dataclass(frozen=True, slots=True)
class Command:
    """What a controller writes: CH enable (ID 0), setpoint (ID 1), max modulation (ID 14), ID 57."""

    ch_enable: bool
    setpoint_c: float
    max_modulation_pct: float = 100.0
    max_ch_setpoint_c: float | None = None


class OpenThermPort:
    """The simulated boiler, as OpenTherm frames (what a master reads and writes)."""

    def __init__(self, world: SimWorld, *, pushed_outside: bool) -> None:
        self.world = world
        self.boiler = world.boiler
        self.pushed_outside = pushed_outside
        caps = self._read(15)
        self.max_kw = float(caps >> 8) if caps is not None else None
        self.min_modulation_pct = float(caps & 0xFF) if caps is not None else None
        ch = self._read(49)
        dhw = self._read(48)
        self.bounds = BoilerBounds(
            ch_lower=None if ch is None else float(ch & 0xFF),
            ch_upper=None if ch is None else float(ch >> 8),
            dhw_lower=None if dhw is None else float(dhw & 0xFF),
            dhw_upper=None if dhw is None else float(dhw >> 8),
        )
        self._flags = 0x02  # DHW enabled

    def _read(self, data_id: int) -> int | None:
        answer = self.boiler.handle(Frame(MsgType.READ_DATA, data_id, 0))
        if answer is None or answer.msg_type is not MsgType.READ_ACK:
            return None
        return answer.value

    def _number(self, data_id: int) -> float | None:
        value = self._read(data_id)
        return None if value is None else decode_f8_8(value)

    def write(self, cmd: Command) -> None:
        """Write the command's ids and the master status (ID 0) with CH and DHW enable."""
        boiler = self.boiler
        if cmd.max_ch_setpoint_c is not None:
            boiler.handle(Frame(MsgType.WRITE_DATA, 57, encode_f8_8(cmd.max_ch_setpoint_c)))
        boiler.handle(Frame(MsgType.WRITE_DATA, 14, encode_f8_8(cmd.max_modulation_pct)))
        setpoint = min(100.0, max(0.0, cmd.setpoint_c))
        boiler.handle(Frame(MsgType.WRITE_DATA, 1, encode_f8_8(setpoint)))
        self._flags = (0x01 if cmd.ch_enable else 0x00) | 0x02
        boiler.handle(Frame(MsgType.READ_DATA, 0, self._flags << 8))

    def read(self) -> Readings:
        """Everything a bridge reads now (the world must be at the current time)."""
        world = self.world
        status = self.boiler.handle(Frame(MsgType.READ_DATA, 0, self._flags << 8))
        flags = status.lb if status is not None else 0
        outside = (
            round(world.outside_c, 1) if self.pushed_outside else self._number(27)
        )  # Home Assistant's weather entity, or the boiler's sensor (ID 27)
        return Readings(
            ts=world.now,
            room_c=world.room_sensor_c(),
            outside_c=outside,
            flow_c=self._number(25),
            return_c=self._number(28),
            modulation_pct=self._number(17),
            flame_on=bool(flags & 0x08),
            dhw_active=bool(flags & 0x04),
            ch_active=bool(flags & 0x02),
        )


class Controller(Protocol):
    """One controller of the benchmark."""

    name: str

    def step(
        self, now: float, mono: float, state: ThermostatState, res: Resolution, r: Readings
    ) -> Command:
        """The command for now (``res``: the schedule's target, no preheat)."""


class Ours:
    """The bridge's control path: ThermostatControl with the learner and optimal start."""

    def __init__(
        self,
        port: OpenThermPort,
        *,
        underfloor: bool,
        preheat: bool = True,
        weather: Callable[[float], OutsideForecast] | None = None,
    ) -> None:
        self.name = "thermosmart" if preheat else "thermosmart_no_preheat"
        self.weather = weather
        """The hourly outside forecast issued at a time (None: no forecast)."""
        self._next_forecast = -math.inf
        base = BoilerControlConfig.underfloor() if underfloor else BoilerControlConfig.radiators()
        # the owner's max CH setpoint is the house's highest flow, the bound the oracle has too
        base = replace(base, max_ch_setpoint=port.world.profile.max_flow_c)
        self.port = port
        self.learning = LearningService(preheat=preheat, emitter_exponent=base.curve.exponent)
        if port.max_kw is not None and port.min_modulation_pct is not None:
            self.learning.set_heat_source(
                HeatSource.from_opentherm(port.max_kw, port.min_modulation_pct)
            )
        self.control = ThermostatControl(self.learning, boiler=base)
        self._next_record: float | None = None
        self.measurements: list[Measurement] = []
        """The measurements fed to the learner (kept for the forecast score)."""
        self.keep_measurements = False

    def step(
        self, now: float, mono: float, state: ThermostatState, res: Resolution, r: Readings
    ) -> Command:
        if self.weather is not None and now >= self._next_forecast:
            self._next_forecast = (math.floor(now / 3600.0) + 1) * 3600.0
            self.learning.set_outside_forecast(self.weather(now))
        ctx = PlanContext.of(state, res, now)
        cmd = self.control.boiler_step(
            mono,
            ctx,
            room=r.room_c,
            outside=r.outside_c,
            bounds=self.port.bounds,
            max_kw=self.port.max_kw,
            min_modulation_pct=self.port.min_modulation_pct,
        )
        if self._next_record is None or now >= self._next_record:
            self._next_record = now + RECORD_S
            m = Measurement(
                ts=now,
                room_c=r.room_c,
                outside_c=r.outside_c,
                flow_c=r.flow_c,
                return_c=r.return_c,
                modulation_pct=r.modulation_pct,
                flame_on=r.flame_on,
                dhw_active=r.dhw_active,
            )
            self.learning.observe(m, ctx, pump=r.ch_active, boost=self.control.boiler.boosting)
            if self.keep_measurements:
                self.measurements.append(m)
        return Command(
            ch_enable=cmd.ch_enable,
            setpoint_c=cmd.control_setpoint,
            max_modulation_pct=cmd.max_modulation,
            max_ch_setpoint_c=cmd.max_ch_setpoint,
        )


class OnOff:
    """On/off with a 0.3 K hysteresis around the target and a fixed 70 °C flow."""

    name = "onoff"
    HYSTERESIS_K = 0.3
    FLOW_C = 70.0

    def __init__(self) -> None:
        self.heating = False

    def step(
        self, now: float, mono: float, state: ThermostatState, res: Resolution, r: Readings
    ) -> Command:
        half = self.HYSTERESIS_K / 2.0
        if r.room_c <= res.target - half:
            self.heating = True
        elif r.room_c >= res.target + half:
            self.heating = False
        return Command(ch_enable=self.heating, setpoint_c=self.FLOW_C)


class OnOffEarly(OnOff):
    """:class:`OnOff` on the schedule with every rise moved ``lead_s`` earlier."""

    name = "onoff_early"

    def __init__(self, lead_s: float) -> None:
        super().__init__()
        if not (math.isfinite(lead_s) and lead_s >= 0.0):
            raise ValueError("the lead is 0 s or more")
        self.lead_s = lead_s
        self._ahead: tuple[float, float, float] | None = None

    def _target_ahead(self, state: ThermostatState, ts: float) -> float:
        cached = self._ahead
        if cached is not None and cached[0] <= ts < cached[1]:
            return cached[2]
        res = resolve(state, datetime.fromtimestamp(ts, tz=UTC))
        self._ahead = (res.block_start.timestamp(), res.next_start.timestamp(), res.target)
        return res.target

    def step(
        self, now: float, mono: float, state: ThermostatState, res: Resolution, r: Readings
    ) -> Command:
        ahead = self._target_ahead(state, now + self.lead_s)
        if ahead > res.target:
            res = replace(res, target=ahead)
        return super().step(now, mono, state, res, r)


def installer_curve(profile: HouseSpec) -> HeatingCurve:
    """The best fixed curve for ``profile``: its emitters at the design load (20 °C at -10 °C).

    The installer knows the radiators or floor (from the simulator's
    emitter data) and shifts the curve by the mean internal gains, as one
    does after a season of adjusting it.
    """
    e = profile.emitter
    h = profile.heat_loss_w_per_k
    load = h * 30.0
    body = 20.0 + (load / e.coefficient_w) ** (1.0 / e.exponent)
    loop = e.loop_conductance_w_per_k
    flow = body + load / loop
    ret = flow - load / (e.pump_flow_kg_s * WATER_J_PER_KG_K)
    gains = sum(profile.internal_gains_w) / len(profile.internal_gains_w)
    return HeatingCurve(
        design_flow=round(flow, 1),
        design_return=round(ret, 1),
        exponent=e.exponent,
        gains_k=round(gains / h, 2),
    )


class Curve:
    """A fixed heating curve: flow from the outside temperature and the target only."""

    name = "curve"

    def __init__(self, profile: HouseSpec) -> None:
        self.curve = installer_curve(profile)

    def step(
        self, now: float, mono: float, state: ThermostatState, res: Resolution, r: Readings
    ) -> Command:
        outside = r.outside_c if r.outside_c is not None and math.isfinite(r.outside_c) else 0.0
        load = self.curve.load(res.target, outside)
        if load <= 0.0:
            return Command(ch_enable=False, setpoint_c=10.0)
        return Command(ch_enable=True, setpoint_c=self.curve.flow(res.target, load))


CONTROLLER_NAMES = (
    "thermosmart",
    "onoff",
    "curve",
    "thermosmart_no_preheat",
    "onoff_early",
    "oracle",
    "thermosmart_no_forecast",
)
"""Ours (with the weather forecast), the two baselines, two comparisons at like comfort (ours
without optimal start, as late as the baselines; the on/off thermostat programmed early, on
time like ours), the oracle (:mod:`bench.control.oracle`: the least gas that keeps the comfort
rule) and ours without the weather forecast (what the forecast gains)."""
