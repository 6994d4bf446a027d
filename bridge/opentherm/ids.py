"""The OpenTherm data-id registry: what each data-id carries and how.

The table below is data: one :class:`DataIdSpec` per data-id of OpenTherm
v2.2 (IDs 0-127), plus the ventilation / heat-recovery block 70-91 and IDs
34-39 from the v4.x tables. IDs 50 and 58 are retired since v2.3 but still
decode. IDs 128-255 are "Test & Diagnostics" (member/OEM specific): they have
no spec and decode as a raw u16.

Decoded values (:func:`decode_value`):

* f8.8 -> ``float``; u16, s16 and a single u8 byte -> ``int``;
* a single flag8 byte -> ``{"flag_name": bool, ...}`` (reserved bits left out);
* flag8/flag8 -> ``{"hb": {flags}, "lb": {flags}}``;
* flag8/u8 -> ``{"hb": {flags}, "lb": int}``;
* u8/u8 and s8/s8 -> ``[hb, lb]``;
* day-time (ID 20) -> ``{"day_of_week": int, "hour": int, "minute": int}``;
* an id 0-127 without a spec -> ``None``; IDs 128-255 -> the raw ``int``.

:func:`encode_value` takes the same shapes back (tuples for pairs too,
missing flags count as false) and raises :class:`CodecError` (a
``ValueError``) naming the id and the rule that failed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.opentherm.formats import (
    PAIR_PARTS,
    CodecError,
    DayTime,
    Fmt,
    decode_day_time,
    decode_f8_8,
    decode_s8,
    decode_s16,
    encode_day_time,
    encode_f8_8,
    encode_s8,
    encode_s16,
    encode_u8,
    encode_u16,
)
from bridge.opentherm.frame import MsgType

__all__ = [
    "ALL_SPECS",
    "TEST_AND_DIAGNOSTICS",
    "CodecError",
    "DataIdSpec",
    "DecodedValue",
    "data_id_name",
    "decode_value",
    "encode_value",
    "get_spec",
    "get_spec_by_key",
    "is_valid_direction",
]

DecodedValue = int | float | dict[str, Any] | list[int] | None
Flags = tuple[str | None, ...]

#: Data-ids reserved for member/OEM test and diagnostics.
TEST_AND_DIAGNOSTICS = range(128, 256)
TEST_AND_DIAGNOSTICS_NAME = "Test & Diagnostics"


@dataclass(frozen=True, slots=True, kw_only=True)
class DataIdSpec:
    """What one data-id carries.

    ``fmt`` is the format of the whole 16-bit data value: f8.8, u16, s16, a
    paired byte format, the day-time format, or a byte format (flag8, u8)
    when only one byte is used. ``hb_fmt`` / ``lb_fmt`` give the byte format
    of each byte (None for a 16-bit format, a reserved byte or the special
    day-time byte). ``hb_flags`` / ``lb_flags`` name the 8 bits of a flag8
    byte, bit 0 first, None for a reserved bit. ``minimum`` / ``maximum``
    bound a numeric value on encoding.
    """

    id: int
    name: str
    key: str
    read: bool
    write: bool
    fmt: Fmt
    hb_fmt: Fmt | None = None
    lb_fmt: Fmt | None = None
    unit: str | None = None
    hb_flags: Flags | None = None
    lb_flags: Flags | None = None
    minimum: float | None = None
    maximum: float | None = None
    retired: bool = False

    def __post_init__(self) -> None:
        if self.fmt in PAIR_PARTS:
            expected: tuple[Fmt | None, Fmt | None] = PAIR_PARTS[self.fmt]
            ok = (self.hb_fmt, self.lb_fmt) == expected
        elif self.fmt.is_byte:
            ok = (self.hb_fmt, self.lb_fmt) in {(self.fmt, None), (None, self.fmt)}
        elif self.fmt is Fmt.DAY_TIME:
            ok = (self.hb_fmt, self.lb_fmt) == (None, Fmt.U8)
        else:
            ok = self.hb_fmt is None and self.lb_fmt is None
        if not ok:
            raise ValueError(f"id {self.id}: byte formats do not match {self.fmt}")
        for byte_fmt, flags in ((self.hb_fmt, self.hb_flags), (self.lb_fmt, self.lb_flags)):
            if (byte_fmt is Fmt.FLAG8) != (flags is not None):
                raise ValueError(f"id {self.id}: flag names must come with a flag8 byte")
            if flags is not None and len(flags) != 8:
                raise ValueError(f"id {self.id}: a flag8 byte has 8 flag names")


# ---------------------------------------------------------------- the table

_C = "°C"
_PCT = "%"

# Formats: "f8.8", "u16", "s16", a pair "hb/lb", or one byte with "-" for the
# reserved byte ("-/u8" = LB only). Ranges are encoding bounds.
# fmt: off
_ROWS: tuple[tuple[int, str, str, str, str, str | None, float | None, float | None], ...] = (
    # id, key, name, R/W, format, unit, minimum, maximum
    (0, "status", "Status (master / slave flags)", "R", "flag8/flag8", None, None, None),
    (1, "control_setpoint", "Control setpoint (TSet)", "W", "f8.8", _C, 0, 100),
    (2, "master_config", "Master configuration / MemberID", "W", "flag8/u8", None, None, None),
    (3, "slave_config", "Slave configuration / MemberID", "R", "flag8/u8", None, None, None),
    (4, "remote_command", "Remote command (request / response)", "W", "u8/u8", None, None, None),
    (5, "fault_flags", "Fault flags / OEM fault code", "R", "flag8/u8", None, None, None),
    (6, "remote_parameter_flags", "Remote boiler parameter flags", "R", "flag8/flag8", None, None, None),
    (7, "cooling_control", "Cooling control signal", "W", "f8.8", _PCT, 0, 100),
    (8, "control_setpoint_ch2", "Control setpoint CH2 (TsetCH2)", "W", "f8.8", _C, 0, 100),
    (9, "remote_override_room_setpoint", "Remote override room setpoint (TrOverride)", "R", "f8.8", _C, None, None),
    (10, "tsp_count", "Transparent slave parameters: count", "R", "u8/u8", None, None, None),
    (11, "tsp_entry", "Transparent slave parameter: index / value", "RW", "u8/u8", None, None, None),
    (12, "fault_buffer_size", "Fault history buffer: size", "R", "u8/u8", None, None, None),
    (13, "fault_buffer_entry", "Fault history buffer: index / value", "R", "u8/u8", None, None, None),
    (14, "max_relative_modulation", "Maximum relative modulation setting", "W", "f8.8", _PCT, 0, 100),
    (15, "max_capacity_min_modulation", "Max boiler capacity / min modulation level", "R", "u8/u8", "kW/%", None, None),
    (16, "room_setpoint", "Room setpoint (TrSet)", "W", "f8.8", _C, None, None),
    (17, "relative_modulation_level", "Relative modulation level", "R", "f8.8", _PCT, 0, 100),
    (18, "ch_water_pressure", "CH water pressure", "R", "f8.8", "bar", 0, 5),
    (19, "dhw_flow_rate", "DHW flow rate", "R", "f8.8", "l/min", None, None),
    (20, "day_time", "Day of week and time of day", "RW", "special/u8", None, None, None),
    (21, "date", "Calendar date (month / day)", "RW", "u8/u8", None, None, None),
    (22, "year", "Calendar year", "RW", "u16", None, None, None),
    (23, "room_setpoint_ch2", "Room setpoint CH2 (TrSetCH2)", "W", "f8.8", _C, None, None),
    (24, "room_temperature", "Room temperature (Tr)", "W", "f8.8", _C, None, None),
    (25, "flow_temperature", "Boiler flow water temperature (Tboiler)", "R", "f8.8", _C, None, None),
    (26, "dhw_temperature", "DHW temperature (Tdhw)", "R", "f8.8", _C, None, None),
    (27, "outside_temperature", "Outside temperature (Toutside)", "RW", "f8.8", _C, None, None),
    (28, "return_temperature", "Return water temperature (Tret)", "R", "f8.8", _C, None, None),
    (29, "solar_storage_temperature", "Solar storage temperature", "R", "f8.8", _C, None, None),
    (30, "solar_collector_temperature", "Solar collector temperature", "R", "f8.8", _C, None, None),
    (31, "flow_temperature_ch2", "Flow water temperature CH2 (TflowCH2)", "R", "f8.8", _C, None, None),
    (32, "dhw2_temperature", "DHW temperature 2 (Tdhw2)", "R", "f8.8", _C, None, None),
    (33, "exhaust_temperature", "Boiler exhaust temperature (Texhaust)", "R", "s16", _C, None, None),
    (34, "heat_exchanger_temperature", "Boiler heat exchanger temperature", "R", "f8.8", _C, None, None),
    (35, "fan_speed", "Boiler fan speed (setpoint / actual)", "R", "u8/u8", "Hz", None, None),
    (36, "flame_current", "Flame current", "R", "f8.8", "µA", None, None),
    (37, "room_temperature_ch2", "Room temperature CH2 (TrCH2)", "W", "f8.8", _C, None, None),
    (38, "relative_humidity", "Relative humidity", "R", "f8.8", _PCT, 0, 100),
    (39, "remote_override_room_setpoint_2", "Remote override room setpoint 2", "R", "f8.8", _C, None, None),
    (48, "dhw_setpoint_bounds", "DHW setpoint bounds (upper / lower)", "R", "s8/s8", _C, None, None),
    (49, "max_ch_setpoint_bounds", "Max CH water setpoint bounds (upper / lower)", "R", "s8/s8", _C, None, None),
    (50, "otc_ratio_bounds", "OTC heat curve ratio bounds (retired)", "R", "s8/s8", None, None, None),
    (56, "dhw_setpoint", "DHW setpoint (TdhwSet)", "RW", "f8.8", _C, None, None),
    (57, "max_ch_setpoint", "Max CH water setpoint (MaxTSet)", "RW", "f8.8", _C, None, None),
    (58, "otc_ratio", "OTC heat curve ratio (retired)", "RW", "f8.8", None, None, None),
    (70, "ventilation_status", "Ventilation status (master / slave flags)", "R", "flag8/flag8", None, None, None),
    (71, "ventilation_setpoint", "Ventilation setpoint (Vset)", "W", "-/u8", _PCT, 0, 100),
    (72, "ventilation_fault_flags", "Ventilation fault flags / OEM fault code", "R", "flag8/u8", None, None, None),
    (73, "ventilation_diagnostic_code", "Ventilation OEM diagnostic code", "R", "u16", None, None, None),
    (74, "ventilation_config", "Ventilation configuration / MemberID", "R", "flag8/u8", None, None, None),
    (75, "ventilation_opentherm_version", "Ventilation OpenTherm version", "R", "f8.8", None, None, None),
    (76, "ventilation_product_version", "Ventilation product type / version", "R", "u8/u8", None, None, None),
    (77, "relative_ventilation", "Relative ventilation level", "R", "-/u8", _PCT, 0, 100),
    (78, "exhaust_relative_humidity", "Relative humidity exhaust air", "RW", "-/u8", _PCT, 0, 100),
    (79, "exhaust_co2", "CO2 level exhaust air", "RW", "u16", "ppm", None, None),
    (80, "supply_inlet_temperature", "Supply inlet temperature", "R", "f8.8", _C, None, None),
    (81, "supply_outlet_temperature", "Supply outlet temperature", "R", "f8.8", _C, None, None),
    (82, "exhaust_inlet_temperature", "Exhaust inlet temperature", "R", "f8.8", _C, None, None),
    (83, "exhaust_outlet_temperature", "Exhaust outlet temperature", "R", "f8.8", _C, None, None),
    (84, "exhaust_fan_speed", "Exhaust fan speed", "R", "u16", "rpm", None, None),
    (85, "supply_fan_speed", "Supply fan speed", "R", "u16", "rpm", None, None),
    (86, "ventilation_remote_parameter_flags", "Ventilation remote parameter flags", "R", "flag8/flag8", None, None, None),
    (87, "nominal_ventilation", "Nominal ventilation value", "RW", "u8/-", _PCT, 0, 100),
    (88, "ventilation_tsp_count", "Ventilation TSP count", "R", "u8/u8", None, None, None),
    (89, "ventilation_tsp_entry", "Ventilation TSP index / value", "RW", "u8/u8", None, None, None),
    (90, "ventilation_fault_buffer_size", "Ventilation fault buffer size", "R", "u8/u8", None, None, None),
    (91, "ventilation_fault_buffer_entry", "Ventilation fault buffer index / value", "R", "u8/u8", None, None, None),
    (100, "remote_override_function", "Remote override function", "R", "-/flag8", None, None, None),
    (115, "oem_diagnostic_code", "OEM diagnostic code", "R", "u16", None, None, None),
    (116, "burner_starts", "Burner starts", "RW", "u16", None, None, None),
    (117, "ch_pump_starts", "CH pump starts", "RW", "u16", None, None, None),
    (118, "dhw_pump_starts", "DHW pump/valve starts", "RW", "u16", None, None, None),
    (119, "dhw_burner_starts", "DHW burner starts", "RW", "u16", None, None, None),
    (120, "burner_hours", "Burner operation hours", "RW", "u16", "h", None, None),
    (121, "ch_pump_hours", "CH pump operation hours", "RW", "u16", "h", None, None),
    (122, "dhw_pump_hours", "DHW pump/valve operation hours", "RW", "u16", "h", None, None),
    (123, "dhw_burner_hours", "DHW burner operation hours", "RW", "u16", "h", None, None),
    (124, "master_opentherm_version", "OpenTherm version master", "W", "f8.8", None, None, None),
    (125, "slave_opentherm_version", "OpenTherm version slave", "R", "f8.8", None, None, None),
    (126, "master_product_version", "Master product type / version", "W", "u8/u8", None, None, None),
    (127, "slave_product_version", "Slave product type / version", "R", "u8/u8", None, None, None),
)

# Flag names per (id, byte), bit 0 first; None is a reserved bit.
_FLAGS: dict[tuple[int, str], tuple[str | None, ...]] = {
    (0, "hb"): ("ch_enable", "dhw_enable", "cooling_enable", "otc_active", "ch2_enable",
                "summer_mode", "dhw_blocking", None),
    (0, "lb"): ("fault", "ch_active", "dhw_active", "flame_on", "cooling_active", "ch2_active",
                "diagnostic_event", "electricity_production"),
    (2, "hb"): ("smart_power", None, None, None, None, None, None, None),
    (3, "hb"): ("dhw_present", "on_off_control", "cooling_supported", "dhw_storage_tank",
                "low_off_pump_control_not_allowed", "ch2_present",
                "remote_water_filling_not_available", "heat_cool_switching_by_slave"),
    (5, "hb"): ("service_request", "remote_reset_enabled", "low_water_pressure",
                "gas_flame_fault", "air_pressure_fault", "water_over_temperature", None, None),
    (6, "hb"): ("dhw_setpoint_transfer", "max_ch_setpoint_transfer", None, None, None, None,
                None, None),
    (6, "lb"): ("dhw_setpoint_rw", "max_ch_setpoint_rw", None, None, None, None, None, None),
    (70, "hb"): ("ventilation_enable", "bypass_open", "bypass_auto", "free_ventilation", None,
                 None, None, None),
    (70, "lb"): ("fault", "ventilation_active", "bypass_open", "bypass_auto",
                 "free_ventilation_active", None, "diagnostic_event", None),
    (72, "hb"): ("service_request", "exhaust_fan_fault", "inlet_fan_fault", "frost_protection",
                 None, None, None, None),
    (74, "hb"): ("heat_recovery", "bypass_present", "variable_speed", None, None, None, None,
                 None),
    (86, "hb"): ("nominal_ventilation_transfer", None, None, None, None, None, None, None),
    (86, "lb"): ("nominal_ventilation_rw", None, None, None, None, None, None, None),
    (100, "lb"): ("manual_change_priority", "program_change_priority", None, None, None, None,
                  None, None),
}
# fmt: on

_RETIRED = frozenset({50, 58})


def _build(
    row: tuple[int, str, str, str, str, str | None, float | None, float | None],
) -> DataIdSpec:
    id_, key, name, rw, fmt_text, unit, minimum, maximum = row
    if rw not in {"R", "W", "RW"}:
        raise ValueError(f"id {id_}: direction {rw!r} is not R, W or RW")
    hb_text, _, lb_text = fmt_text.partition("/")
    if not lb_text:  # a 16-bit format
        fmt, hb_fmt, lb_fmt = Fmt(fmt_text), None, None
    elif "-" in (hb_text, lb_text):  # one byte used, the other reserved
        fmt = Fmt(lb_text if hb_text == "-" else hb_text)
        hb_fmt, lb_fmt = (None, fmt) if hb_text == "-" else (fmt, None)
    else:
        fmt = Fmt(fmt_text)
        hb_fmt, lb_fmt = PAIR_PARTS.get(fmt, (None, Fmt.U8))
    return DataIdSpec(
        id=id_,
        name=name,
        key=key,
        read="R" in rw,
        write="W" in rw,
        fmt=fmt,
        hb_fmt=hb_fmt,
        lb_fmt=lb_fmt,
        unit=unit,
        hb_flags=_FLAGS.get((id_, "hb")),
        lb_flags=_FLAGS.get((id_, "lb")),
        minimum=minimum,
        maximum=maximum,
        retired=id_ in _RETIRED,
    )


#: Every defined data-id, in id order.
ALL_SPECS: tuple[DataIdSpec, ...] = tuple(_build(row) for row in _ROWS)


_BY_ID: dict[int, DataIdSpec] = {spec.id: spec for spec in ALL_SPECS}
_BY_KEY: dict[str, DataIdSpec] = {spec.key: spec for spec in ALL_SPECS}
if len(_BY_ID) != len(ALL_SPECS) or len(_BY_KEY) != len(ALL_SPECS):
    raise RuntimeError("the data-id table repeats an id or a key")


def get_spec(data_id: int) -> DataIdSpec | None:
    """The spec of a data-id, or None (undefined, or Test & Diagnostics)."""
    return _BY_ID.get(data_id)


def get_spec_by_key(key: str) -> DataIdSpec | None:
    """The spec whose ``key`` is ``key`` (``"control_setpoint"``), or None."""
    return _BY_KEY.get(key)


def data_id_name(data_id: int) -> str | None:
    """A display name: the spec's, ``Test & Diagnostics`` for 128-255, else None."""
    spec = _BY_ID.get(data_id)
    if spec is not None:
        return spec.name
    if data_id in TEST_AND_DIAGNOSTICS:
        return TEST_AND_DIAGNOSTICS_NAME
    return None


# ---------------------------------------------------------------- decoding

Decoder = Callable[[int], DecodedValue]
Encoder = Callable[[Any], int]


def _flag_decoder(names: Flags) -> Callable[[int], dict[str, bool]]:
    masks = tuple((name, 1 << bit) for bit, name in enumerate(names) if name is not None)

    def decode(byte: int) -> dict[str, bool]:
        return {name: bool(byte & mask) for name, mask in masks}

    return decode


def _decode_day_time(word: int) -> dict[str, int]:
    day_time = decode_day_time(word)
    return {"day_of_week": day_time.day_of_week, "hour": day_time.hour, "minute": day_time.minute}


def _make_decoder(spec: DataIdSpec) -> Decoder:
    fmt = spec.fmt
    if fmt is Fmt.F8_8:
        return decode_f8_8
    if fmt is Fmt.U16:
        return lambda word: word
    if fmt is Fmt.S16:
        return decode_s16
    if fmt is Fmt.U8_U8:
        return lambda word: [word >> 8, word & 0xFF]
    if fmt is Fmt.S8_S8:
        return lambda word: [decode_s8(word >> 8), decode_s8(word & 0xFF)]
    if fmt is Fmt.DAY_TIME:
        return _decode_day_time
    if fmt is Fmt.FLAG8_FLAG8:
        assert spec.hb_flags is not None
        assert spec.lb_flags is not None
        hb_flags, lb_flags = _flag_decoder(spec.hb_flags), _flag_decoder(spec.lb_flags)
        return lambda word: {"hb": hb_flags(word >> 8), "lb": lb_flags(word & 0xFF)}
    if fmt is Fmt.FLAG8_U8:
        assert spec.hb_flags is not None
        flags = _flag_decoder(spec.hb_flags)
        return lambda word: {"hb": flags(word >> 8), "lb": word & 0xFF}
    shift = 8 if spec.hb_fmt is not None else 0
    if fmt is Fmt.FLAG8:
        names = spec.hb_flags if shift else spec.lb_flags
        assert names is not None
        byte_flags = _flag_decoder(names)
        return lambda word: byte_flags((word >> shift) & 0xFF)
    if fmt is Fmt.U8:
        return lambda word: (word >> shift) & 0xFF
    if fmt is Fmt.S8:
        return lambda word: decode_s8((word >> shift) & 0xFF)
    raise ValueError(f"id {spec.id}: no decoder for {fmt}")


_DECODERS: dict[int, Decoder] = {spec.id: _make_decoder(spec) for spec in ALL_SPECS}


def decode_value(data_id: int, value16: int) -> DecodedValue:
    """The 16-bit data value of ``data_id`` decoded per the id's format.

    Undefined ids 0-127 give None; Test & Diagnostics ids (128-255) give the
    raw value. Raises ``ValueError`` when the id or the value is out of range.
    """
    if not 0 <= value16 <= 0xFFFF:
        raise ValueError(f"data value {value16} is outside 0..65535")
    decoder = _DECODERS.get(data_id)
    if decoder is not None:
        return decoder(value16)
    if data_id in TEST_AND_DIAGNOSTICS:
        return value16
    if 0 <= data_id < 128:
        return None
    raise ValueError(f"data-id {data_id} is outside 0..255")


# ---------------------------------------------------------------- encoding


def _check_bounds(spec: DataIdSpec, number: float) -> None:
    if spec.minimum is not None and number < spec.minimum:
        raise CodecError(f"{number} is below the minimum {spec.minimum:g}")
    if spec.maximum is not None and number > spec.maximum:
        raise CodecError(f"{number} is above the maximum {spec.maximum:g}")


def _flag_encoder(names: Flags) -> Callable[[Any], int]:
    bits = {name: bit for bit, name in enumerate(names) if name is not None}

    def encode(value: Any) -> int:
        if not isinstance(value, Mapping):
            raise CodecError(f"flags need a mapping of flag names to booleans, got {value!r}")
        byte = 0
        for name, flag in value.items():
            if name not in bits:
                raise CodecError(f"unknown flag {name!r}; known flags: {', '.join(bits)}")
            if not isinstance(flag, bool):
                raise CodecError(f"flag {name!r} must be a boolean, got {flag!r}")
            if flag:
                byte |= 1 << bits[name]
        return byte

    return encode


def _halves(value: Any) -> tuple[Any, Any]:
    if not isinstance(value, Mapping) or not set(value) <= {"hb", "lb"}:
        raise CodecError(f"needs a mapping with 'hb' and 'lb', got {value!r}")
    return value.get("hb", {}), value.get("lb")


def _two(value: Any) -> tuple[Any, Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise CodecError(f"needs a pair [hb, lb], got {value!r}")
    return value[0], value[1]


def _encode_day_time(value: Any) -> int:
    if isinstance(value, Mapping):
        fields = {"day_of_week", "hour", "minute"}
        if set(value) != fields:
            raise CodecError(f"day-time needs exactly {sorted(fields)}, got {sorted(value)}")
        value = DayTime(value["day_of_week"], value["hour"], value["minute"])
    return encode_day_time(value)


def _make_encoder(spec: DataIdSpec) -> Encoder:
    fmt = spec.fmt
    if fmt is Fmt.F8_8:

        def encode_f88(value: Any) -> int:
            word = encode_f8_8(value)
            _check_bounds(spec, value)
            return word

        return encode_f88
    if fmt in {Fmt.U16, Fmt.S16, Fmt.U8, Fmt.S8}:
        base = {Fmt.U16: encode_u16, Fmt.S16: encode_s16, Fmt.U8: encode_u8, Fmt.S8: encode_s8}
        encode_number = base[fmt]
        shift = 8 if spec.hb_fmt is not None else 0

        def encode_int(value: Any) -> int:
            word = encode_number(value)
            _check_bounds(spec, value)
            return word << shift

        return encode_int
    if fmt in {Fmt.U8_U8, Fmt.S8_S8}:
        encode_byte = encode_u8 if fmt is Fmt.U8_U8 else encode_s8

        def encode_bytes(value: Any) -> int:
            hb, lb = _two(value)
            return encode_byte(hb) << 8 | encode_byte(lb)

        return encode_bytes
    if fmt is Fmt.DAY_TIME:
        return _encode_day_time
    if fmt is Fmt.FLAG8_FLAG8:
        assert spec.hb_flags is not None
        assert spec.lb_flags is not None
        hb_flags, lb_flags = _flag_encoder(spec.hb_flags), _flag_encoder(spec.lb_flags)

        def encode_flags_flags(value: Any) -> int:
            hb, lb = _halves(value)
            return hb_flags(hb) << 8 | lb_flags({} if lb is None else lb)

        return encode_flags_flags
    if fmt is Fmt.FLAG8_U8:
        assert spec.hb_flags is not None
        flags = _flag_encoder(spec.hb_flags)

        def encode_flags_u8(value: Any) -> int:
            hb, lb = _halves(value)
            return flags(hb) << 8 | encode_u8(0 if lb is None else lb)

        return encode_flags_u8
    if fmt is Fmt.FLAG8:
        shift = 8 if spec.hb_fmt is not None else 0
        names = spec.hb_flags if shift else spec.lb_flags
        assert names is not None
        byte_flags = _flag_encoder(names)
        return lambda value: byte_flags(value) << shift
    raise ValueError(f"id {spec.id}: no encoder for {fmt}")


_ENCODERS: dict[int, Encoder] = {spec.id: _make_encoder(spec) for spec in ALL_SPECS}


def encode_value(data_id: int, value: Any) -> int:
    """The 16-bit data value for ``value``, the inverse of :func:`decode_value`.

    Raises :class:`CodecError` (a ``ValueError``) when the id is undefined or
    the value does not fit the id's format or range.
    """
    encoder = _ENCODERS.get(data_id)
    if encoder is None:
        if data_id in TEST_AND_DIAGNOSTICS:
            encoder = encode_u16
        else:
            raise CodecError(f"data-id {data_id} is not defined; cannot encode {value!r}")
    try:
        return encoder(value)
    except CodecError as err:
        spec = _BY_ID.get(data_id)
        label = f"id {data_id} ({spec.key})" if spec else f"id {data_id}"
        raise CodecError(f"{label}: {err}") from None


# ---------------------------------------------------------------- direction

_READS = frozenset({MsgType.READ_DATA, MsgType.READ_ACK})
_WRITES = frozenset({MsgType.WRITE_DATA, MsgType.WRITE_ACK, MsgType.INVALID_DATA})


def is_valid_direction(data_id: int, msg_type: MsgType) -> bool:
    """Whether ``msg_type`` fits the id's read/write direction.

    READ-DATA / READ-ACK need a readable id; WRITE-DATA, WRITE-ACK and
    INVALID-DATA a writable one. DATA-INVALID and UNKNOWN-DATAID may answer
    anything except ID 0, which must be answered with READ-ACK. The reserved
    type is never valid; ids without a spec accept every other type.
    """
    msg_type = MsgType(msg_type)
    if msg_type is MsgType.RESERVED:
        return False
    spec = _BY_ID.get(data_id)
    if spec is None:
        return True
    if msg_type in _READS:
        return spec.read
    if msg_type in _WRITES:
        return spec.write
    return data_id != 0
