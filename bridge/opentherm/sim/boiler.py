"""The simulated boiler: a modulating condensing combi that answers OpenTherm.

:class:`Boiler` is :class:`~bridge.opentherm.sim.boiler_physics.BoilerPhysics`
(heat exchanger, burner control, gas, pressure and flame faults) with its
OpenTherm slave side: it answers master frames for the data-ids in
:data:`SUPPORTED_IDS` (UNKNOWN-DATAID for the others, DATA-INVALID for a
value it cannot take), resets a lockout on ID 4 request code 1, and keeps
the OpenTherm counters (IDs 116-123, resettable by writing 0). A silent or
garbling link is injected with :meth:`Boiler.set_link_fault`.

Relative modulation (IDs 14 and 17) is, as OpenTherm v2.2 defines it, the
percentage between the minimum (0 %) and the maximum (100 %) output.
"""

from __future__ import annotations

from collections.abc import Callable
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
from bridge.opentherm.sim.boiler_physics import BoilerPhysics
from bridge.opentherm.sim.boiler_spec import BoilerSpec, LinkFault, OemCode
from bridge.opentherm.sim.house import EmitterSpec

__all__ = ["SUPPORTED_IDS", "Boiler"]


# Slave status flags (ID 0 low byte) and ASF flags (ID 5 high byte).
_S_FAULT, _S_CH, _S_DHW, _S_FLAME = 0x01, 0x02, 0x04, 0x08
_ASF_LOCKOUT_RESET, _ASF_LOW_PRESSURE, _ASF_GAS_FLAME = 0x02, 0x04, 0x08


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


class Boiler(BoilerPhysics):
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
        super().__init__(loop, spec, t_initial=t_initial)
        self.link_fault = LinkFault.NONE
        self.link_fault_probability = 1.0
        self._link_rng = random.Random(f"thermosmart-sim-link:{seed}")
        # the OpenTherm counters read the truth counters minus an offset
        self._counter_offsets: dict[int, int] = dict.fromkeys(_COUNTER_IDS, 0)

    # ------------------------------------------------------------ OpenTherm flags

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

    # ------------------------------------------------------------ link faults

    def set_link_fault(self, fault: LinkFault | str, probability: float = 1.0) -> None:
        """Make the OpenTherm line silent or garbling for a share of conversations."""
        self.link_fault = LinkFault(fault)
        self.link_fault_probability = probability

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
