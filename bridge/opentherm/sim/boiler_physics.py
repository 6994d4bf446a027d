"""The simulated boiler's physics: heat exchanger, burner control, gas and faults.

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
Efficiency and the gas counter: see :mod:`bridge.opentherm.sim.boiler_spec`;
the gas counter books the burner output divided by the efficiency.

Faults on demand: low water pressure (:meth:`BoilerPhysics.set_pressure`,
:meth:`BoilerPhysics.start_leak`), flame loss and lockout
(:meth:`BoilerPhysics.inject_flame_loss`, :meth:`BoilerPhysics.force_lockout`,
reset with :meth:`BoilerPhysics.reset_lockout`, or over OpenTherm: see
:mod:`bridge.opentherm.sim.boiler`).
"""

from __future__ import annotations

import math

from bridge.opentherm.sim.boiler_spec import BoilerSpec, OemCode, efficiency
from bridge.opentherm.sim.house import WATER_J_PER_KG_K, EmitterSpec

__all__ = ["BoilerPhysics"]


class BoilerPhysics:
    """The boiler's state, its physics step and its faults (without OpenTherm).

    ``loop`` is the house's emitter spec (pump flow and effectiveness).
    :class:`~bridge.opentherm.sim.boiler.Boiler` adds the OpenTherm slave side.
    """

    def __init__(
        self,
        loop: EmitterSpec,
        spec: BoilerSpec | None = None,
        *,
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
