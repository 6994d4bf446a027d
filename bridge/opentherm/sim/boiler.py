"""The simulated boiler: a modulating condensing combi that answers OpenTherm.

Physics. The boiler's heat exchanger and supply pipe are one node at the
flow temperature ``t_flow`` (capacity ``heat_exchanger_j_per_k``). With the
CH pump running, loop water carries heat from it into the house's emitter
body at ``G * (t_flow - t_emitter)`` watts (``G`` from the house's
:class:`~bridge.opentherm.sim.house.EmitterSpec`); during a DHW tap the
plate heat exchanger takes it into the tap water instead. The node is
integrated exactly over each step, so the step may be longer than its time
constant.

Burner control. The burner follows the control setpoint (ID 1, capped by
the max CH setpoint, ID 57) with a feed-forward plus proportional
modulation between the minimum modulation and the max relative modulation
(ID 14). When the load is below the minimum output, the flow overshoots:
the burner stops at setpoint + ``hysteresis_off_k`` and restarts below
setpoint - ``hysteresis_on_k`` once ``anti_cycle_s`` have passed. DHW has
priority over CH.

Relative modulation (IDs 14 and 17) is, as OpenTherm v2.2 defines it, the
percentage between the minimum (0 %) and the maximum (100 %) output.

Efficiency depends on the return temperature (:func:`efficiency`): about
98 % with the return well below the dew point of the flue gas, 87 % above
55 °C. The gas counter books the burner output divided by that efficiency.

Faults on demand: low water pressure (:meth:`Boiler.set_pressure`,
:meth:`Boiler.start_leak`), flame loss and lockout
(:meth:`Boiler.inject_flame_loss`, :meth:`Boiler.force_lockout`, reset with
OpenTherm ID 4 request code 1 or :meth:`Boiler.reset_lockout`), and a silent
or garbling link (:meth:`Boiler.set_link_fault`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum, StrEnum
import itertools
import math
import random

from bridge.opentherm.formats import (
    F8_8_MAX,
    F8_8_MIN,
    decode_f8_8,
    encode_f8_8,
    encode_s8,
    encode_s16,
)
from bridge.opentherm.frame import Direction, Frame, FrameError, MsgType
from bridge.opentherm.sim.house import WATER_J_PER_KG_K, EmitterSpec

# Return temperature (°C) -> efficiency (heat to water / gas, on the net
# calorific value basis), linear in between, flat past the ends.
EFFICIENCY_CURVE: tuple[tuple[float, float], ...] = (
    (20.0, 0.985),
    (30.0, 0.980),
    (40.0, 0.975),
    (45.0, 0.970),
    (50.0, 0.950),
    (55.0, 0.885),
    (60.0, 0.872),
    (90.0, 0.865),
)

BEST_EFFICIENCY = EFFICIENCY_CURVE[0][1]


def _curve(return_c: float) -> float:
    pts = EFFICIENCY_CURVE
    if return_c <= pts[0][0]:
        return pts[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        if return_c <= x1:
            return y0 + (y1 - y0) * (return_c - x0) / (x1 - x0)
    return pts[-1][1]


# The curve tabulated every 0.25 K from 0 to 100 °C: its corners are on this
# grid, so linear interpolation in the table gives the curve exactly.
_TABLE_STEP = 0.25
_TABLE = [_curve(i * _TABLE_STEP) for i in range(401)]


def efficiency(return_c: float) -> float:
    """Condensing boiler efficiency at a return temperature."""
    x = return_c / _TABLE_STEP
    if not 0.0 <= x < 400.0:
        return _curve(return_c)
    i = int(x)
    y0 = _TABLE[i]
    return y0 + (_TABLE[i + 1] - y0) * (x - i)


class OemCode(IntEnum):
    """The OEM fault codes this boiler reports in ID 5's low byte."""

    NONE = 0
    IGNITION_FAILURE = 1
    FLAME_LOSS = 2
    LOW_WATER_PRESSURE = 10


class LinkFault(StrEnum):
    """What the boiler side of the OpenTherm line does to a conversation."""

    NONE = "none"
    SILENT = "silent"
    """The request is lost and nothing answers."""
    GARBLE_PARITY = "garble_parity"
    """The answer arrives with one bit flipped, so its parity fails."""
    GARBLE_DATA_ID = "garble_data_id"
    """The answer arrives for another data-id."""


# Slave status flags (ID 0 low byte) and ASF flags (ID 5 high byte).
_S_FAULT, _S_CH, _S_DHW, _S_FLAME = 0x01, 0x02, 0x04, 0x08
_ASF_LOCKOUT_RESET, _ASF_LOW_PRESSURE, _ASF_GAS_FLAME = 0x02, 0x04, 0x08


@dataclass(frozen=True, slots=True, kw_only=True)
class BoilerSpec:
    """A boiler model's fixed properties."""

    max_kw: float = 24.0
    min_modulation_pct: int = 20
    dhw_max_kw: float = 28.0
    dhw_present: bool = True
    outside_sensor: bool = False
    heat_exchanger_j_per_k: float = 40_000.0
    idle_conductance_w_per_k: float = 5.0
    hysteresis_off_k: float = 5.0
    hysteresis_on_k: float = 3.0
    anti_cycle_s: float = 180.0
    pump_overrun_s: float = 180.0
    proportional_w_per_k: float = 700.0
    demand_min_setpoint_c: float = 10.0
    safety_limit_c: float = 95.0
    max_ch_setpoint_bounds: tuple[int, int] = (25, 85)
    dhw_setpoint_bounds: tuple[int, int] = (40, 65)
    default_max_ch_setpoint_c: float = 80.0
    default_dhw_setpoint_c: float = 60.0
    min_dhw_flow_l_min: float = 2.0
    dhw_effectiveness: float = 0.9
    dhw_primary_flow_kg_s: float = 0.3
    cold_water_c: float = 10.0
    fill_pressure_bar: float = 1.5
    expansion_bar_per_k: float = 0.012
    low_pressure_bar: float = 0.7
    pressure_recover_bar: float = 0.8
    max_ignition_attempts: int = 3
    ignition_retry_s: float = 30.0
    purge_loss_j: float = 20_000.0
    member_id: int = 0
    opentherm_version: float = 2.2
    product_type: int = 1
    product_version: int = 4

    @property
    def min_w(self) -> float:
        """Minimum output, W."""
        return self.max_kw * 1000.0 * self.min_modulation_pct / 100.0

    @property
    def max_w(self) -> float:
        """Maximum CH output, W."""
        return self.max_kw * 1000.0


# Counter ids 116-123 -> truth attribute; starts are counts, hours are seconds.
_COUNTER_IDS: dict[int, tuple[str, bool]] = {
    116: ("burner_starts", False),
    117: ("ch_pump_starts", False),
    118: ("dhw_pump_starts", False),
    119: ("dhw_burner_starts", False),
    120: ("burner_s", True),
    121: ("ch_pump_s", True),
    122: ("dhw_pump_s", True),
    123: ("dhw_burner_s", True),
}


class Boiler:
    """The boiler's state, its physics step and its OpenTherm slave side.

    ``loop`` is the house's emitter spec (pump flow and effectiveness);
    ``seed`` seeds the garbling of a faulty link.
    """

    def __init__(
        self,
        loop: EmitterSpec,
        spec: BoilerSpec | None = None,
        *,
        seed: int = 0,
        t_initial: float = 20.0,
    ) -> None:
        self.spec = s = spec or BoilerSpec()
        self._g_loop = loop.loop_conductance_w_per_k
        self._loop_eff = loop.effectiveness
        self._primary_w_per_k = s.dhw_primary_flow_kg_s * WATER_J_PER_KG_K
        self._min_w = s.min_w
        self._max_w = s.max_w
        self._dhw_max_w = s.dhw_max_kw * 1000.0
        # master side (what the thermostat asked for)
        self.master_flags = 0
        self.ch_enable = False
        self.dhw_enable = False
        self.control_setpoint_c = 0.0
        self.max_modulation_pct = 100.0
        self.max_ch_setpoint_c = s.default_max_ch_setpoint_c
        self.dhw_setpoint_c = s.default_dhw_setpoint_c
        self.relay_demand = False
        self.master_config = 0
        self.master_ot_version = 0.0
        self.master_product = 0
        self.room_setpoint_c: float | None = None
        self.room_temperature_c: float | None = None
        # physics
        self.now = 0.0
        self.t_flow = t_initial
        self.t_return = t_initial
        self.t_dhw = t_initial
        self.t_exhaust = t_initial
        self.outside_c = 0.0
        self.flame = False
        self.power_w = 0.0
        self.ch_pump = False
        self.dhw_mode = False
        self.dhw_flow_l_min = 0.0
        self.fill_bar = s.fill_pressure_bar
        self.leak_bar_per_h = 0.0
        self._overrun_left = 0.0
        self._last_stop = -math.inf
        self._next_ignition = -math.inf
        # faults
        self.lockout = False
        self.low_pressure = False
        self.oem_code = OemCode.NONE
        self.oem_diagnostic = 0
        self._failing_ignitions = 0
        self._consecutive_failures = 0
        self.link_fault = LinkFault.NONE
        self.link_fault_probability = 1.0
        self._link_rng = random.Random(f"thermosmart-sim-link:{seed}")
        # truth counters (never reset; the OpenTherm counters subtract an offset)
        self.burner_starts = 0
        self.ch_burner_starts = 0
        self.dhw_burner_starts = 0
        self.ch_pump_starts = 0
        self.dhw_pump_starts = 0
        self.failed_ignitions = 0
        self.burner_s = 0.0
        self.condensing_burner_s = 0.0
        self.ch_pump_s = 0.0
        self.dhw_pump_s = 0.0
        self.dhw_burner_s = 0.0
        self.gas_ch_j = 0.0
        self.gas_dhw_j = 0.0
        self.heat_ch_j = 0.0
        self.heat_dhw_j = 0.0
        self.heat_to_loop_j = 0.0
        self.heat_to_tap_j = 0.0
        self.purge_loss_j = 0.0
        self._counter_offsets: dict[int, int] = dict.fromkeys(_COUNTER_IDS, 0)
        self._exp_cache: dict[tuple[float, float], float] = {}

    # ------------------------------------------------------------ derived values

    @property
    def pressure_bar(self) -> float:
        """CH water pressure: the cold fill plus thermal expansion."""
        mean = 0.5 * (self.t_flow + self.t_return)
        return max(0.0, self.fill_bar + self.spec.expansion_bar_per_k * (mean - 20.0))

    @property
    def fault(self) -> bool:
        """True while the boiler reports a fault (ID 0 bit 0)."""
        return self.lockout or self.low_pressure

    @property
    def modulation_pct(self) -> float:
        """Relative modulation (ID 17): 0 % at minimum output, 100 % at maximum."""
        if not self.flame:
            return 0.0
        s = self.spec
        rel = (self.power_w - s.min_w) / (s.max_w - s.min_w) * 100.0
        return min(100.0, max(0.0, rel))

    @property
    def gas_j(self) -> float:
        """Gas burnt, J."""
        return self.gas_ch_j + self.gas_dhw_j

    def slave_flags(self) -> int:
        """ID 0 low byte."""
        flags = 0
        if self.fault:
            flags |= _S_FAULT
        if self.ch_pump and not self.dhw_mode and self._ch_demand():
            flags |= _S_CH
        if self.dhw_mode:
            flags |= _S_DHW
        if self.flame:
            flags |= _S_FLAME
        return flags

    def asf_flags(self) -> int:
        """ID 5 high byte."""
        flags = 0
        if self.lockout:
            flags |= _ASF_LOCKOUT_RESET
            if self.oem_code in (OemCode.IGNITION_FAILURE, OemCode.FLAME_LOSS):
                flags |= _ASF_GAS_FLAME
        if self.low_pressure:
            flags |= _ASF_LOW_PRESSURE
        return flags

    # ------------------------------------------------------------ direct controls

    def command(
        self,
        *,
        ch_enable: bool | None = None,
        control_setpoint_c: float | None = None,
        dhw_enable: bool | None = None,
        max_modulation_pct: float | None = None,
        max_ch_setpoint_c: float | None = None,
    ) -> None:
        """Set what a master would write over OpenTherm (IDs 0, 1, 14, 57), without frames."""
        if ch_enable is not None:
            self.ch_enable = ch_enable
            self.master_flags = (self.master_flags & ~0x01) | int(ch_enable)
        if dhw_enable is not None:
            self.dhw_enable = dhw_enable
            self.master_flags = (self.master_flags & ~0x02) | (int(dhw_enable) << 1)
        if max_ch_setpoint_c is not None:
            lo, hi = self.spec.max_ch_setpoint_bounds
            self.max_ch_setpoint_c = min(hi, max(lo, max_ch_setpoint_c))
        if control_setpoint_c is not None:
            self.control_setpoint_c = min(self.max_ch_setpoint_c, max(0.0, control_setpoint_c))
        if max_modulation_pct is not None:
            self.max_modulation_pct = min(100.0, max(0.0, max_modulation_pct))

    def set_relay_demand(self, on: bool) -> None:
        """The on/off thermostat input: heat to the max CH setpoint while on."""
        self.relay_demand = on

    # ------------------------------------------------------------ faults

    def set_pressure(self, bar: float) -> None:
        """Make the water pressure read ``bar`` now (a leak or a refill)."""
        self.fill_bar += bar - self.pressure_bar
        self._check_pressure()

    def start_leak(self, bar_per_hour: float) -> None:
        """Lose water: the pressure falls by ``bar_per_hour``."""
        self.leak_bar_per_h = bar_per_hour

    def refill(self, bar: float | None = None) -> None:
        """Stop any leak and refill to ``bar`` (default: the fill pressure, cold)."""
        self.leak_bar_per_h = 0.0
        if bar is None:
            self.fill_bar = self.spec.fill_pressure_bar
            self._check_pressure()
        else:
            self.set_pressure(bar)

    def inject_flame_loss(self, failed_ignitions: int | None = None) -> None:
        """Lose the flame now; the next ``failed_ignitions`` ignitions fail.

        With the default (``max_ignition_attempts``), every retry fails and
        the boiler locks out; with fewer, it recovers after the retries.
        """
        n = self.spec.max_ignition_attempts if failed_ignitions is None else failed_ignitions
        self._failing_ignitions = n
        if self.flame:
            self._flame_off(purge=True)
            self._next_ignition = self.now + self.spec.ignition_retry_s

    def force_lockout(self, code: OemCode = OemCode.IGNITION_FAILURE) -> None:
        """Lock out now with an OEM code; the burner stays off until reset."""
        self.lockout = True
        self.oem_code = code
        self.oem_diagnostic = int(code) * 100
        if self.flame:
            self._flame_off(purge=True)

    def reset_lockout(self) -> bool:
        """The reset button (or BLOR): clear a lockout. True if one was cleared."""
        was = self.lockout
        self.lockout = False
        self._consecutive_failures = 0
        if self.oem_code in (OemCode.IGNITION_FAILURE, OemCode.FLAME_LOSS):
            self.oem_code = OemCode.NONE
            self.oem_diagnostic = 0
        return was

    def set_link_fault(self, fault: LinkFault | str, probability: float = 1.0) -> None:
        """Make the OpenTherm line silent or garbling for a share of conversations."""
        self.link_fault = LinkFault(fault)
        self.link_fault_probability = probability

    # ------------------------------------------------------------ physics

    def _ch_demand(self) -> bool:
        if self.relay_demand:
            return True
        return self.ch_enable and self.control_setpoint_c >= self.spec.demand_min_setpoint_c

    def _ch_target(self) -> float:
        if self.relay_demand and not self.ch_enable:
            return self.max_ch_setpoint_c
        return min(self.control_setpoint_c, self.max_ch_setpoint_c)

    def _decay(self, g: float, h: float) -> float:
        key = (g, h)
        f = self._exp_cache.get(key)
        if f is None:
            f = math.exp(-g * h / self.spec.heat_exchanger_j_per_k)
            self._exp_cache[key] = f
        return f

    def _flame_off(self, *, purge: bool) -> None:
        self.flame = False
        self.power_w = 0.0
        if purge:
            # pre/post-purge air cools the heat exchanger a little
            self.purge_loss_j += self.spec.purge_loss_j
            self.t_flow -= self.spec.purge_loss_j / self.spec.heat_exchanger_j_per_k

    def _try_ignite(self, t: float, dhw: bool) -> None:
        s = self.spec
        if t < self._next_ignition:
            return
        if self._failing_ignitions > 0:
            self._failing_ignitions -= 1
            self.failed_ignitions += 1
            self._consecutive_failures += 1
            self._next_ignition = t + s.ignition_retry_s
            if self._consecutive_failures >= s.max_ignition_attempts:
                self.lockout = True
                self.oem_code = OemCode.IGNITION_FAILURE
                self.oem_diagnostic = int(OemCode.IGNITION_FAILURE) * 100 + (
                    self._consecutive_failures
                )
            return
        self._consecutive_failures = 0
        self.flame = True
        self.burner_starts += 1
        if dhw:
            self.dhw_burner_starts += 1
        else:
            self.ch_burner_starts += 1

    def step(self, t: float, h: float, t_emitter: float, outside_c: float) -> float:
        """Advance ``h`` seconds from time ``t``; returns the mean watts into the emitter."""
        s = self.spec
        self.now = t
        self.outside_c = outside_c
        # water pressure and its fault
        if self.leak_bar_per_h:
            self.fill_bar -= self.leak_bar_per_h * h / 3600.0
        self._check_pressure()
        blocked = self.lockout or self.low_pressure

        # modes and pumps
        dhw_mode = (
            self.dhw_flow_l_min >= s.min_dhw_flow_l_min
            and self.dhw_enable
            and s.dhw_present
            and not blocked
        )
        ch_demand = self._ch_demand() and not blocked
        if ch_demand:
            self._overrun_left = s.pump_overrun_s
        elif self._overrun_left > 0.0:
            self._overrun_left -= h
        ch_pump = not dhw_mode and not blocked and (ch_demand or self._overrun_left > 0.0)
        if ch_pump and not self.ch_pump:
            self.ch_pump_starts += 1
        if dhw_mode and not self.dhw_mode:
            self.dhw_pump_starts += 1
        self.ch_pump = ch_pump
        self.dhw_mode = dhw_mode

        # where the heat goes: emitter loop, tap water, or (idle) the pipes
        if dhw_mode:
            g = self.dhw_flow_l_min / 60.0 * WATER_J_PER_KG_K * s.dhw_effectiveness
            sink = s.cold_water_c
        elif ch_pump:
            g = self._g_loop
            sink = t_emitter
        else:
            g = s.idle_conductance_w_per_k
            sink = t_emitter

        # burner decision and modulation
        tf = self.t_flow
        min_w = self._min_w
        want = False
        power = 0.0
        if dhw_mode:
            want = True
            cold = s.cold_water_c
            target = cold + (self.dhw_setpoint_c - cold) / s.dhw_effectiveness
            need = g * (target - cold) + s.proportional_w_per_k * (target - tf)
            power = min(self._dhw_max_w, max(min_w, need))
        elif ch_demand and ch_pump:
            tset = self._ch_target()
            if self.flame:
                want = tf <= tset + s.hysteresis_off_k
            else:
                want = tf < tset - s.hysteresis_on_k and t - self._last_stop >= s.anti_cycle_s
            if want:
                need = g * (tset - t_emitter) + s.proportional_w_per_k * (tset - tf)
                top = min_w + (self._max_w - min_w) * self.max_modulation_pct / 100.0
                power = min(top, max(min_w, need))
        if blocked or tf >= s.safety_limit_c:
            want = False
        if want != self.flame:
            if want:
                self._try_ignite(t, dhw_mode)
            else:
                self._flame_off(purge=True)
                if not dhw_mode:
                    self._last_stop = t
            tf = self.t_flow
        q_b = power if self.flame else 0.0
        self.power_w = q_b

        # return temperature (before the step)
        if dhw_mode:
            ret = max(s.cold_water_c, tf - q_b / self._primary_w_per_k)
        elif ch_pump:
            ret = tf - self._loop_eff * (tf - t_emitter)
        else:
            ret = 0.5 * (tf + t_emitter)
        self.t_return = ret

        # the heat-exchanger node, integrated exactly over the step
        cb = s.heat_exchanger_j_per_k
        if g > 0.0:
            t_eq = sink + q_b / g
            t_new = t_eq + (tf - t_eq) * self._decay(g, h)
        else:
            t_new = tf + q_b * h / cb
        self.t_flow = t_new
        delivered_j = q_b * h - cb * (t_new - tf)

        # bookkeeping
        if q_b > 0.0:
            heat = q_b * h
            gas = heat / efficiency(ret)
            self.burner_s += h
            if ret < 55.0:
                self.condensing_burner_s += h
            if dhw_mode:
                self.gas_dhw_j += gas
                self.heat_dhw_j += heat
                self.dhw_burner_s += h
            else:
                self.gas_ch_j += gas
                self.heat_ch_j += heat
            exhaust_target = ret + 5.0 + 25.0 * q_b / self._max_w
        else:
            exhaust_target = t_new
        self.t_exhaust += (exhaust_target - self.t_exhaust) * min(1.0, h / 60.0)
        if ch_pump:
            self.ch_pump_s += h
        if dhw_mode:
            self.dhw_pump_s += h
            self.t_dhw = s.cold_water_c + s.dhw_effectiveness * (t_new - s.cold_water_c)
            self.heat_to_tap_j += delivered_j
            return 0.0
        if self.t_dhw != 20.0:
            self.t_dhw += (20.0 - self.t_dhw) * min(1.0, h / 900.0)
        self.heat_to_loop_j += delivered_j
        return delivered_j / h

    def _check_pressure(self) -> None:
        """Raise or clear the low-water-pressure fault."""
        s = self.spec
        p = self.pressure_bar
        if p < s.low_pressure_bar:
            if not self.low_pressure:
                self.low_pressure = True
                if not self.lockout:
                    self.oem_code = OemCode.LOW_WATER_PRESSURE
                    self.oem_diagnostic = int(OemCode.LOW_WATER_PRESSURE) * 100
        elif self.low_pressure and p >= s.pressure_recover_bar:
            self.low_pressure = False
            if self.oem_code is OemCode.LOW_WATER_PRESSURE:
                self.oem_code = OemCode.NONE
                self.oem_diagnostic = 0

    # ------------------------------------------------------------ OpenTherm

    def handle(self, request: Frame) -> Frame | None:
        """Answer a master request (the :class:`OpenThermSlave` protocol).

        None when the line is silent, or when the answer is garbled past
        recognition (a parity error cannot be carried by a :class:`Frame`;
        :meth:`handle_raw` gives the corrupted bits).
        """
        raw = self.handle_raw(request.to_int())
        if raw is None:
            return None
        try:
            return Frame.from_int(raw)
        except FrameError:
            return None

    def handle_raw(self, raw: int) -> int | None:
        """Answer a 32-bit master frame with a 32-bit slave frame, as on the wire."""
        fault = self.link_fault
        hit = fault is not LinkFault.NONE and (
            self.link_fault_probability >= 1.0
            or self._link_rng.random() < self.link_fault_probability
        )
        if hit and fault is LinkFault.SILENT:
            return None
        try:
            request = Frame.from_int(raw, direction=Direction.MASTER_TO_SLAVE)
        except FrameError:
            return None  # a slave ignores a bad frame
        answer = self.answer(request)
        if not hit:
            return answer.to_int()
        if fault is LinkFault.GARBLE_PARITY:
            return answer.to_int() ^ (1 << self._link_rng.randrange(0, 31))
        wrong_id = (answer.data_id + 1 + self._link_rng.randrange(0, 254)) % 256
        return Frame(answer.msg_type, wrong_id, answer.value).to_int()

    def answer(self, request: Frame) -> Frame:
        """The boiler's answer to a valid request, ignoring link faults."""
        did = request.data_id
        if did == 0:
            if request.msg_type is MsgType.READ_DATA:
                self.master_flags = request.hb
                self.ch_enable = bool(request.hb & 0x01)
                self.dhw_enable = bool(request.hb & 0x02)
            return Frame(MsgType.READ_ACK, 0, (self.master_flags << 8) | self.slave_flags())
        reader = _READERS.get(did)
        writer = _WRITERS.get(did)
        if reader is None and writer is None:
            return Frame(MsgType.UNKNOWN_DATAID, did, request.value)
        if request.msg_type is MsgType.READ_DATA and reader is not None:
            value = reader(self)
            if value is not None:
                return Frame(MsgType.READ_ACK, did, value)
        elif request.msg_type is MsgType.WRITE_DATA and writer is not None:
            taken = writer(self, request.value)
            if taken is not None:
                return Frame(MsgType.WRITE_ACK, did, taken)
        return Frame(MsgType.DATA_INVALID, did, request.value)

    # ------------------------------------------------------------ OT writes

    def _write_setpoint(self, word: int) -> int | None:
        v = decode_f8_8(word)
        if not 0.0 <= v <= 100.0:
            return None
        self.control_setpoint_c = min(v, self.max_ch_setpoint_c)
        return encode_f8_8(self.control_setpoint_c)

    def _write_max_modulation(self, word: int) -> int | None:
        v = decode_f8_8(word)
        if not 0.0 <= v <= 100.0:
            return None
        self.max_modulation_pct = v
        return word

    def _write_bounded(self, word: int, bounds: tuple[int, int], attr: str) -> int | None:
        v = decode_f8_8(word)
        if not 0.0 <= v <= 100.0:
            return None
        lo, hi = bounds
        taken = min(float(hi), max(float(lo), v))
        setattr(self, attr, taken)
        if attr == "max_ch_setpoint_c":
            self.control_setpoint_c = min(self.control_setpoint_c, taken)
        return encode_f8_8(taken)

    def _write_remote_command(self, word: int) -> int:
        code = word >> 8
        if code == 1:  # BLOR: boiler lock-out reset
            self.reset_lockout()
            return (code << 8) | 0x80
        if code == 10:  # reset the service request flag (none is ever set here)
            return (code << 8) | 0x80
        return code << 8  # not accepted (remote water filling is not available)

    def _write_counter(self, did: int, word: int) -> int | None:
        if word != 0:
            return None
        self._counter_offsets[did] = self._counter_truth(did)
        return 0

    def _counter_truth(self, did: int) -> int:
        attr, is_hours = _COUNTER_IDS[did]
        value = getattr(self, attr)
        return int(value // 3600) if is_hours else int(value)

    def _read_counter(self, did: int) -> int:
        return min(0xFFFF, self._counter_truth(did) - self._counter_offsets[did])

    def _write_room(self, word: int, attr: str) -> int | None:
        v = decode_f8_8(word)
        if not -40.0 <= v <= 100.0:
            return None
        setattr(self, attr, v)
        return word

    def _write_master_config(self, word: int) -> int:
        self.master_config = word
        return word

    def _write_master_version(self, word: int) -> int:
        self.master_ot_version = decode_f8_8(word)
        return word

    def _write_master_product(self, word: int) -> int:
        self.master_product = word
        return word


def _f88(value: float) -> int:
    return encode_f8_8(min(F8_8_MAX, max(F8_8_MIN, value)))


def _counter_reader(did: int) -> Callable[[Boiler], int]:
    return lambda b: b._read_counter(did)


def _counter_writer(did: int) -> Callable[[Boiler, int], int | None]:
    return lambda b, w: b._write_counter(did, w)


def _slave_config(b: Boiler) -> int:
    hb = 0x40  # bit 6: remote water filling not available
    if b.spec.dhw_present:
        hb |= 0x01
    return (hb << 8) | b.spec.member_id


def _outside(b: Boiler) -> int | None:
    if not b.spec.outside_sensor:
        return None
    return _f88(round(b.outside_c, 1))


def _word(hb: int, lb: int) -> int:
    return ((hb & 0xFF) << 8) | (lb & 0xFF)


def _s8_pair(bounds: tuple[int, int]) -> int:
    """ID 48/49: upper bound in the high byte, lower in the low byte."""
    lower, upper = bounds
    return _word(encode_s8(upper), encode_s8(lower))


_READERS: dict[int, Callable[[Boiler], int | None]] = {
    3: _slave_config,
    5: lambda b: _word(b.asf_flags(), int(b.oem_code)),
    6: lambda b: 0x0303,  # DHW setpoint and max CH setpoint: transfer enabled, read/write
    15: lambda b: _word(round(b.spec.max_kw), b.spec.min_modulation_pct),
    17: lambda b: _f88(b.modulation_pct),
    18: lambda b: _f88(b.pressure_bar),
    19: lambda b: _f88(b.dhw_flow_l_min),
    25: lambda b: _f88(b.t_flow),
    26: lambda b: _f88(b.t_dhw),
    27: _outside,
    28: lambda b: _f88(b.t_return),
    33: lambda b: encode_s16(round(b.t_exhaust)),
    48: lambda b: _s8_pair(b.spec.dhw_setpoint_bounds),
    49: lambda b: _s8_pair(b.spec.max_ch_setpoint_bounds),
    56: lambda b: _f88(b.dhw_setpoint_c),
    57: lambda b: _f88(b.max_ch_setpoint_c),
    115: lambda b: b.oem_diagnostic & 0xFFFF,
    125: lambda b: _f88(b.spec.opentherm_version),
    127: lambda b: _word(b.spec.product_type, b.spec.product_version),
    **{did: _counter_reader(did) for did in _COUNTER_IDS},
}

_WRITERS: dict[int, Callable[[Boiler, int], int | None]] = {
    1: Boiler._write_setpoint,
    2: Boiler._write_master_config,
    4: Boiler._write_remote_command,
    14: Boiler._write_max_modulation,
    16: lambda b, w: b._write_room(w, "room_setpoint_c"),
    24: lambda b, w: b._write_room(w, "room_temperature_c"),
    56: lambda b, w: b._write_bounded(w, b.spec.dhw_setpoint_bounds, "dhw_setpoint_c"),
    57: lambda b, w: b._write_bounded(w, b.spec.max_ch_setpoint_bounds, "max_ch_setpoint_c"),
    124: Boiler._write_master_version,
    126: Boiler._write_master_product,
    **{did: _counter_writer(did) for did in _COUNTER_IDS},
}

#: The data-ids this boiler knows (all others get UNKNOWN-DATAID).
SUPPORTED_IDS: frozenset[int] = frozenset({0} | set(_READERS) | set(_WRITERS))
