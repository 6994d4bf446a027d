"""The OpenTherm frame, data formats, data-id registry and ``ot decode``."""

from __future__ import annotations

import io
import json
import math
import re
from typing import Any

from hypothesis import example, given, settings, strategies as st
import pytest

from bridge.opentherm import formats as f
from bridge.opentherm.decode import decode_line, decode_stream, main
from bridge.opentherm.formats import CodecError, DayTime, Fmt
from bridge.opentherm.frame import (
    Direction,
    Frame,
    FrameError,
    MsgType,
    check_answer,
    parity_bit,
)
from bridge.opentherm.ids import (
    ALL_SPECS,
    DataIdSpec,
    data_id_name,
    decode_value,
    encode_value,
    get_spec,
    get_spec_by_key,
    is_valid_direction,
)

words = st.integers(0, 0xFFFF)
data_ids = st.integers(0, 0xFF)
msg_types = st.sampled_from([t for t in MsgType if t is not MsgType.RESERVED])


def frame_hex(msg_type: MsgType, data_id: int, value: int) -> str:
    return Frame(msg_type, data_id, value).to_hex()


# ---------------------------------------------------------------- Frame


@given(msg_types, data_ids, words)
def test_frame_round_trip_and_even_parity(msg_type: MsgType, data_id: int, value: int) -> None:
    frame = Frame(msg_type, data_id, value)
    raw = frame.to_int()
    assert raw.bit_count() % 2 == 0
    assert raw & 0x0F00_0000 == 0
    assert Frame.from_int(raw) == frame
    assert Frame.from_hex(frame.to_hex()) == frame
    assert Frame.from_hex(frame.to_hex().lower()) == frame


@given(msg_types, data_ids, words, st.integers(0, 31))
def test_any_single_bit_flip_is_rejected(
    msg_type: MsgType, data_id: int, value: int, bit: int
) -> None:
    raw = Frame(msg_type, data_id, value).to_int() ^ (1 << bit)
    with pytest.raises(FrameError) as info:
        Frame.from_int(raw)
    # A flipped bit always breaks parity, which is checked first.
    assert info.value.reason == "parity"


@given(msg_types, data_ids, words, st.integers(1, 15))
def test_spare_bits_are_rejected(msg_type: MsgType, data_id: int, value: int, spare: int) -> None:
    raw = Frame(msg_type, data_id, value).to_int() & 0x7FFF_FFFF | spare << 24
    raw |= parity_bit(raw) << 31
    with pytest.raises(FrameError) as info:
        Frame.from_int(raw)
    assert info.value.reason == "spare"


def test_reserved_message_type_is_rejected() -> None:
    raw = 3 << 28
    raw |= parity_bit(raw) << 31
    with pytest.raises(FrameError) as info:
        Frame.from_int(raw)
    assert info.value.reason == "msg_type"


@pytest.mark.parametrize("msg_type", list(MsgType))
def test_direction_check(msg_type: MsgType) -> None:
    if msg_type is MsgType.RESERVED:
        return
    raw = Frame(msg_type, 1, 0x1580).to_int()
    for direction, allowed in (
        (Direction.MASTER_TO_SLAVE, msg_type.from_master),
        (Direction.SLAVE_TO_MASTER, not msg_type.from_master),
    ):
        if allowed:
            assert Frame.from_int(raw, direction=direction).msg_type is msg_type
        else:
            with pytest.raises(FrameError) as info:
                Frame.from_int(raw, direction=direction)
            assert info.value.reason == "msg_type"


@pytest.mark.parametrize(
    ("text", "reason"),
    [("8000020", "format"), ("800002000", "format"), ("8000020G", "format"), ("", "format")],
)
def test_from_hex_rejects_bad_text(text: str, reason: str) -> None:
    with pytest.raises(FrameError) as info:
        Frame.from_hex(text)
    assert info.value.reason == reason


def test_frame_range_checks() -> None:
    with pytest.raises(FrameError):
        Frame.from_int(1 << 32)
    with pytest.raises(FrameError):
        Frame(MsgType.READ_DATA, 256)
    with pytest.raises(FrameError):
        Frame(MsgType.READ_DATA, 1, 0x10000)


def test_spec_example_frames() -> None:
    request = Frame.from_hex("80000200", direction=Direction.MASTER_TO_SLAVE)
    assert request == Frame(MsgType.READ_DATA, 0, 0x0200)
    assert request.hb == 0x02
    assert request.lb == 0x00
    answer = Frame.from_hex("40000200", direction=Direction.SLAVE_TO_MASTER)
    assert answer.msg_type is MsgType.READ_ACK
    check_answer(request, answer)


# ---------------------------------------------------------------- check_answer


@pytest.mark.parametrize(
    ("request_type", "answer_type", "ok"),
    [
        (MsgType.READ_DATA, MsgType.READ_ACK, True),
        (MsgType.READ_DATA, MsgType.DATA_INVALID, True),
        (MsgType.READ_DATA, MsgType.UNKNOWN_DATAID, True),
        (MsgType.READ_DATA, MsgType.WRITE_ACK, False),
        (MsgType.WRITE_DATA, MsgType.WRITE_ACK, True),
        (MsgType.WRITE_DATA, MsgType.READ_ACK, False),
        (MsgType.INVALID_DATA, MsgType.DATA_INVALID, True),
        (MsgType.INVALID_DATA, MsgType.WRITE_ACK, False),
    ],
)
def test_check_answer_types(request_type: MsgType, answer_type: MsgType, ok: bool) -> None:
    request = Frame(request_type, 25, 0)
    answer = Frame(answer_type, 25, 0x3C00)
    if ok:
        check_answer(request, answer)
    else:
        with pytest.raises(FrameError) as info:
            check_answer(request, answer)
        assert info.value.reason == "msg_type"


def test_check_answer_other_rules() -> None:
    with pytest.raises(FrameError) as info:
        check_answer(Frame(MsgType.READ_DATA, 25), Frame(MsgType.READ_ACK, 26))
    assert info.value.reason == "data_id"
    with pytest.raises(FrameError):
        check_answer(Frame(MsgType.READ_DATA, 0), Frame(MsgType.DATA_INVALID, 0))
    with pytest.raises(FrameError):
        check_answer(Frame(MsgType.READ_ACK, 25), Frame(MsgType.READ_ACK, 25))


# ---------------------------------------------------------------- formats: exhaustive


def test_byte_formats_exhaustive() -> None:
    for byte in range(256):
        assert f.encode_u8(f.decode_u8(byte)) == byte
        assert f.encode_s8(f.decode_s8(byte)) == byte
        assert f.encode_flag8(f.decode_flag8(byte)) == byte
    assert [f.decode_s8(b) for b in (0x00, 0x7F, 0x80, 0xFF)] == [0, 127, -128, -1]
    assert sorted(f.decode_s8(b) for b in range(256)) == list(range(-128, 128))
    assert f.decode_flag8(0b1000_0101) == (True, False, True, False, False, False, False, True)


def test_word_formats_exhaustive() -> None:
    seen_f88 = set()
    for word in range(0x10000):
        value = f.decode_f8_8(word)
        assert f.encode_f8_8(value) == word
        assert value * 256 == int(value * 256)
        seen_f88.add(value)
        assert f.encode_u16(f.decode_u16(word)) == word
        assert f.encode_s16(f.decode_s16(word)) == word
        assert f.encode_u8_u8(f.decode_u8_u8(word)) == word
        assert f.encode_s8_s8(f.decode_s8_s8(word)) == word
        assert f.encode_flag8_flag8(f.decode_flag8_flag8(word)) == word
        assert f.encode_flag8_u8(f.decode_flag8_u8(word)) == word
    assert len(seen_f88) == 0x10000
    assert min(seen_f88) == -128.0
    assert max(seen_f88) == f.F8_8_MAX == 127.99609375


def test_day_time_exhaustive() -> None:
    for day in range(8):
        for hour in range(24):
            for minute in range(60):
                day_time = DayTime(day, hour, minute)
                assert f.decode_day_time(f.encode_day_time(day_time)) == day_time
    # HB bits 7-5 day of week (1 = Monday), bits 4-0 hour; LB minutes.
    assert f.encode_day_time(DayTime(1, 10, 30)) == 0x2A1E
    assert f.decode_day_time(0xF717) == DayTime(7, 23, 23)


# ---------------------------------------------------------------- formats: f8.8


@pytest.mark.parametrize(
    ("value", "word"),
    [
        (21.5, 0x1580),
        (-5.25, 0xFAC0),
        (0.0, 0x0000),
        (100, 0x6400),
        (-128, 0x8000),
        (127.99609375, 0x7FFF),
        (-1 / 256, 0xFFFF),
    ],
)
def test_f8_8_examples(value: float, word: int) -> None:
    assert f.encode_f8_8(value) == word
    assert f.decode_f8_8(word) == value


@given(st.floats(-128.0, f.F8_8_MAX))
def test_f8_8_rounds_to_nearest(value: float) -> None:
    word = f.encode_f8_8(value)
    decoded = f.decode_f8_8(word)
    assert abs(decoded - value) <= 1 / 512
    # No other representable value is closer.
    for neighbour in ((word + 1) & 0xFFFF, (word - 1) & 0xFFFF):
        assert abs(f.decode_f8_8(neighbour) - value) >= abs(decoded - value)


def test_f8_8_ties_and_small_values() -> None:
    assert f.encode_f8_8(0.49999999999999994 / 256) == 0
    assert f.encode_f8_8(0.5 / 256) == 0  # tie: to even
    assert f.encode_f8_8(1.5 / 256) == 2
    assert f.encode_f8_8(0.6 / 256) == 1


@pytest.mark.parametrize(
    "value", [128.0, 127.999, -128.001, 1e9, math.nan, math.inf, -math.inf, "21.5", True, None]
)
def test_f8_8_rejects(value: Any) -> None:
    with pytest.raises(ValueError, match=r"f8\.8"):
        f.encode_f8_8(value)


@pytest.mark.parametrize(
    ("encode", "value"),
    [
        (f.encode_u8, 256),
        (f.encode_u8, -1),
        (f.encode_u8, 1.0),
        (f.encode_u8, True),
        (f.encode_s8, 128),
        (f.encode_s8, -129),
        (f.encode_u16, 0x10000),
        (f.encode_u16, -1),
        (f.encode_s16, 0x8000),
        (f.encode_s16, -0x8001),
        (f.encode_flag8, [True] * 7),
        (f.encode_flag8, [1, 0, 0, 0, 0, 0, 0, 0]),
        (f.encode_flag8, "10000000"),
        (f.encode_u8_u8, (1, 2, 3)),
        (f.encode_u8_u8, (1, 256)),
        (f.encode_s8_s8, (-129, 0)),
        (f.encode_flag8_u8, ((False,) * 8, 256)),
        (f.encode_day_time, DayTime(8, 0, 0)),
        (f.encode_day_time, DayTime(1, 24, 0)),
        (f.encode_day_time, DayTime(1, 0, 60)),
        (f.encode_day_time, (1, 0, 0)),
    ],
)
def test_encoders_reject(encode: Any, value: Any) -> None:
    with pytest.raises(CodecError):
        encode(value)
    assert issubclass(CodecError, ValueError)


@pytest.mark.parametrize("decode", [f.decode_u16, f.decode_f8_8, f.decode_u8_u8])
def test_decoders_reject_values_wider_than_16_bits(decode: Any) -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.65535"):
        decode(0x10000)
    with pytest.raises(ValueError, match=r"outside 0\.\.255"):
        f.decode_u8(256)


# ---------------------------------------------------------------- registry

EXPECTED_IDS = (
    set(range(10))
    | set(range(14, 40))
    | {48, 49, 50, 56, 57, 58}
    | set(range(70, 92))
    | {100}
    | set(range(115, 128))
)


def test_table_covers_the_spec_ids() -> None:
    ids = {spec.id for spec in ALL_SPECS}
    assert ids >= EXPECTED_IDS
    assert ids - EXPECTED_IDS == {10, 11, 12, 13}  # v2.2 TSP / fault buffer ids
    assert [spec.id for spec in ALL_SPECS] == sorted(ids)
    assert get_spec(50) is not None
    assert get_spec(50).retired  # type: ignore[union-attr]
    assert get_spec(58).retired  # type: ignore[union-attr]
    assert not get_spec(1).retired  # type: ignore[union-attr]


def test_table_shape() -> None:
    keys = [spec.key for spec in ALL_SPECS]
    assert len(keys) == len(set(keys))
    for spec in ALL_SPECS:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", spec.key), spec.key
        assert spec.read or spec.write
        assert get_spec_by_key(spec.key) is spec
        assert data_id_name(spec.id) == spec.name
        for flags in (spec.hb_flags, spec.lb_flags):
            if flags is not None:
                names = [n for n in flags if n is not None]
                assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("data_id", "key", "read", "write", "fmt", "unit"),
    [
        (0, "status", True, False, Fmt.FLAG8_FLAG8, None),
        (1, "control_setpoint", False, True, Fmt.F8_8, "°C"),
        (3, "slave_config", True, False, Fmt.FLAG8_U8, None),
        (14, "max_relative_modulation", False, True, Fmt.F8_8, "%"),
        (17, "relative_modulation_level", True, False, Fmt.F8_8, "%"),
        (18, "ch_water_pressure", True, False, Fmt.F8_8, "bar"),
        (20, "day_time", True, True, Fmt.DAY_TIME, None),
        (25, "flow_temperature", True, False, Fmt.F8_8, "°C"),
        (33, "exhaust_temperature", True, False, Fmt.S16, "°C"),
        (48, "dhw_setpoint_bounds", True, False, Fmt.S8_S8, "°C"),
        (56, "dhw_setpoint", True, True, Fmt.F8_8, "°C"),
        (100, "remote_override_function", True, False, Fmt.FLAG8, None),
        (120, "burner_hours", True, True, Fmt.U16, "h"),
        (125, "slave_opentherm_version", True, False, Fmt.F8_8, None),
    ],
)
def test_selected_specs(
    data_id: int, key: str, read: bool, write: bool, fmt: Fmt, unit: str | None
) -> None:
    spec = get_spec(data_id)
    assert spec is not None
    assert (spec.key, spec.read, spec.write, spec.fmt, spec.unit) == (key, read, write, fmt, unit)


def test_spec_consistency_is_checked() -> None:
    with pytest.raises(ValueError, match="byte formats"):
        DataIdSpec(id=1, name="x", key="x", read=True, write=False, fmt=Fmt.U8_U8)
    with pytest.raises(ValueError, match="flag names"):
        DataIdSpec(
            id=1,
            name="x",
            key="x",
            read=True,
            write=False,
            fmt=Fmt.FLAG8_U8,
            hb_fmt=Fmt.FLAG8,
            lb_fmt=Fmt.U8,
        )


def test_test_and_diagnostics_and_undefined_ids() -> None:
    for data_id in (128, 200, 255):
        assert get_spec(data_id) is None
        assert decode_value(data_id, 0xBEEF) == 0xBEEF
        assert encode_value(data_id, 0xBEEF) == 0xBEEF
        assert data_id_name(data_id) == "Test & Diagnostics"
    for data_id in (40, 51, 92, 101, 114):
        assert get_spec(data_id) is None
        assert decode_value(data_id, 0x1234) is None
        assert data_id_name(data_id) is None
        with pytest.raises(CodecError, match="not defined"):
            encode_value(data_id, 1)
    with pytest.raises(ValueError, match="data-id 256"):
        decode_value(256, 0)
    with pytest.raises(ValueError, match="data value 65536"):
        decode_value(1, 0x10000)


def test_decode_examples() -> None:
    status = decode_value(0, 0x0200)
    assert isinstance(status, dict)
    assert status["hb"]["dhw_enable"] is True
    assert status["hb"]["ch_enable"] is False
    assert not any(status["lb"].values())
    status = decode_value(0, 0x010A)
    assert isinstance(status, dict)
    assert status["hb"]["ch_enable"] is True
    assert status["lb"]["ch_active"] is True
    assert status["lb"]["flame_on"] is True
    assert status["lb"]["fault"] is False
    assert decode_value(1, 0x1580) == 21.5
    assert decode_value(27, 0xFAC0) == -5.25
    assert decode_value(33, 0xFFF6) == -10
    assert decode_value(116, 0xFFF6) == 0xFFF6
    assert decode_value(15, 0x1814) == [24, 20]
    assert decode_value(48, 0x3C28) == [60, 40]
    assert decode_value(49, 0x50E2) == [80, -30]
    assert decode_value(3, 0x0901) == {
        "hb": {
            "dhw_present": True,
            "on_off_control": False,
            "cooling_supported": False,
            "dhw_storage_tank": True,
            "low_off_pump_control_not_allowed": False,
            "ch2_present": False,
            "remote_water_filling_not_available": False,
            "heat_cool_switching_by_slave": False,
        },
        "lb": 1,
    }
    faults = decode_value(5, 0x0C2A)
    assert isinstance(faults, dict)
    assert faults["lb"] == 42
    assert faults["hb"]["low_water_pressure"] is True
    assert faults["hb"]["gas_flame_fault"] is True
    assert faults["hb"]["service_request"] is False
    assert decode_value(20, 0x2A1E) == {"day_of_week": 1, "hour": 10, "minute": 30}
    assert decode_value(100, 0x0002) == {
        "manual_change_priority": False,
        "program_change_priority": True,
    }
    assert decode_value(71, 0x0032) == 50  # LB only
    assert decode_value(87, 0x3200) == 50  # HB only
    # Reserved bits are ignored on receipt.
    status = decode_value(0, 0x8000)
    assert isinstance(status, dict)
    assert not any(status["hb"].values())


def _reserved_mask(spec: DataIdSpec) -> int:
    """The bits of the data value that the spec reserves."""
    mask = 0
    for shift, fmt, flags in ((8, spec.hb_fmt, spec.hb_flags), (0, spec.lb_fmt, spec.lb_flags)):
        if flags is not None:
            mask |= sum(1 << bit for bit, name in enumerate(flags) if name is None) << shift
        elif fmt is None and spec.fmt.is_byte:
            mask |= 0xFF << shift
    return mask


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda spec: spec.key)
@settings(max_examples=25, deadline=None)
@given(word=words)
@example(word=0x0000)
@example(word=0xFFFF)
@example(word=0x7FFF)
@example(word=0x8000)
def test_every_id_decodes_and_round_trips(spec: DataIdSpec, word: int) -> None:
    decoded = decode_value(spec.id, word)
    assert decoded is not None
    json.dumps(decoded)  # every decoded value is plain JSON
    clean = word & ~_reserved_mask(spec)
    decoded = decode_value(spec.id, clean)
    out_of_range = False
    if spec.fmt is Fmt.DAY_TIME:
        assert isinstance(decoded, dict)
        out_of_range = decoded["hour"] > 23 or decoded["minute"] > 59
    elif isinstance(decoded, (int, float)):
        out_of_range = (spec.minimum is not None and decoded < spec.minimum) or (
            spec.maximum is not None and decoded > spec.maximum
        )
    if out_of_range:
        with pytest.raises(CodecError, match=f"id {spec.id} "):
            encode_value(spec.id, decoded)
    else:
        assert encode_value(spec.id, decoded) == clean


def test_encode_examples() -> None:
    assert encode_value(0, {"hb": {"ch_enable": True, "dhw_enable": True}}) == 0x0300
    assert encode_value(0, {"lb": {"flame_on": True}}) == 0x0008
    assert encode_value(1, 21.5) == 0x1580
    assert encode_value(1, 55) == 0x3700
    assert encode_value(2, {"hb": {"smart_power": True}, "lb": 7}) == 0x0107
    assert encode_value(4, (1, 0)) == 0x0100
    assert encode_value(20, {"day_of_week": 1, "hour": 10, "minute": 30}) == 0x2A1E
    assert encode_value(20, DayTime(7, 23, 59)) == 0xF73B
    assert encode_value(27, -5.25) == 0xFAC0
    assert encode_value(48, [60, 40]) == 0x3C28
    assert encode_value(49, (80, -30)) == 0x50E2
    assert encode_value(71, 50) == 0x0032
    assert encode_value(87, 50) == 0x3200
    assert encode_value(100, {"manual_change_priority": True}) == 0x0001
    assert encode_value(116, 65535) == 0xFFFF


@pytest.mark.parametrize(
    ("data_id", "value", "message"),
    [
        (1, 100.5, "above the maximum 100"),
        (1, -0.5, "below the minimum 0"),
        (18, 5.5, "above the maximum 5"),
        (14, 101, "maximum 100"),
        (71, 101, "maximum 100"),
        (1, "55", "needs a number"),
        (1, 200, "outside"),
        (0, {"hb": {"flame": True}}, "unknown flag 'flame'"),
        (0, {"hb": {"ch_enable": 1}}, "must be a boolean"),
        (0, {"middle": {}}, "'hb' and 'lb'"),
        (0, 0x0300, "'hb' and 'lb'"),
        (100, ["manual_change_priority"], "mapping"),
        (15, [1, 2, 3], "pair"),
        (15, "ab", "pair"),
        (48, [128, 0], "outside"),
        (20, {"day_of_week": 1, "hour": 10}, "day-time needs exactly"),
        (20, {"day_of_week": 1, "hour": 24, "minute": 0}, "hour"),
        (116, -1, "outside"),
        (116, 1.5, "integer"),
        (33, 40000, "outside"),
    ],
)
def test_encode_value_rejects(data_id: int, value: Any, message: str) -> None:
    with pytest.raises(CodecError, match=re.escape(message)) as info:
        encode_value(data_id, value)
    assert str(info.value).startswith(f"id {data_id} (")


@pytest.mark.parametrize(
    ("data_id", "msg_type", "ok"),
    [
        (0, MsgType.READ_DATA, True),
        (0, MsgType.READ_ACK, True),
        (0, MsgType.WRITE_DATA, False),
        (0, MsgType.DATA_INVALID, False),
        (0, MsgType.UNKNOWN_DATAID, False),
        (1, MsgType.WRITE_DATA, True),
        (1, MsgType.WRITE_ACK, True),
        (1, MsgType.INVALID_DATA, True),
        (1, MsgType.READ_DATA, False),
        (1, MsgType.DATA_INVALID, True),
        (25, MsgType.READ_DATA, True),
        (25, MsgType.WRITE_DATA, False),
        (25, MsgType.INVALID_DATA, False),
        (25, MsgType.UNKNOWN_DATAID, True),
        (56, MsgType.READ_DATA, True),
        (56, MsgType.WRITE_DATA, True),
        (25, MsgType.RESERVED, False),
        (40, MsgType.WRITE_DATA, True),
        (200, MsgType.READ_DATA, True),
    ],
)
def test_is_valid_direction(data_id: int, msg_type: MsgType, ok: bool) -> None:
    assert is_valid_direction(data_id, msg_type) is ok
    assert is_valid_direction(data_id, int(msg_type)) is ok  # type: ignore[arg-type]


# ---------------------------------------------------------------- decode_line

FIELDS = ["raw", "source", "valid", "msg_type", "data_id", "name", "data_value", "value", "unit"]
INVALID_FIELDS = [*FIELDS[:3], "error", *FIELDS[3:]]


def test_decode_line_spec_examples() -> None:
    request = decode_line("T80000200")
    assert list(request) == FIELDS
    assert request["raw"] == "T80000200"
    assert request["source"] == "thermostat"
    assert request["valid"] is True
    assert request["msg_type"] == "READ-DATA"
    assert request["data_id"] == 0
    assert request["data_value"] == "0x0200"
    assert request["value"]["hb"]["dhw_enable"] is True
    assert request["unit"] is None
    answer = decode_line("B40000200")
    assert answer["source"] == "boiler"
    assert answer["msg_type"] == "READ-ACK"
    assert not any(answer["value"]["lb"].values())
    assert decode_line("80000200")["source"] is None


def test_decode_line_values_and_sources() -> None:
    line = "R" + frame_hex(MsgType.WRITE_DATA, 1, 0x1580)
    result = decode_line(line)
    assert result == {
        "raw": line,
        "source": "gateway-request",
        "valid": True,
        "msg_type": "WRITE-DATA",
        "data_id": 1,
        "name": get_spec(1).name,  # type: ignore[union-attr]
        "data_value": "0x1580",
        "value": 21.5,
        "unit": "°C",
    }
    answer = decode_line("A" + frame_hex(MsgType.READ_ACK, 27, 0xFAC0))
    assert (answer["source"], answer["value"], answer["unit"]) == ("gateway-answer", -5.25, "°C")
    counters = decode_line(frame_hex(MsgType.READ_ACK, 116, 0xABCD))
    assert counters["value"] == 0xABCD
    assert counters["data_value"] == "0xABCD"


def test_decode_line_lowercase_and_whitespace() -> None:
    line = "t" + frame_hex(MsgType.WRITE_DATA, 1, 0x3AFF).lower()
    result = decode_line(f"  {line}\r\n")
    assert result["raw"] == line
    assert result["valid"] is True
    assert result["source"] == "thermostat"
    assert result["data_value"] == "0x3AFF"
    assert result["value"] == 0x3AFF / 256


@pytest.mark.parametrize(
    ("line", "source"),
    [
        ("", None),
        ("garbage", None),
        ("Error 01", None),
        ("T800002", "thermostat"),  # truncated
        ("R8000020000", "gateway-request"),  # too long
        ("X80000200", None),
        ("T8000020Z", "thermostat"),
        ("B400_0200", None),
        ("0x80000200", None),
        ("T 80000200", "thermostat"),
    ],
)
def test_decode_line_format_errors(line: str, source: str | None) -> None:
    result = decode_line(line)
    assert list(result) == INVALID_FIELDS
    assert result["valid"] is False
    assert result["error"] == "format"
    assert result["source"] == source
    assert all(result[key] is None for key in FIELDS[3:])


def test_decode_line_parity_error_keeps_the_bits() -> None:
    good = frame_hex(MsgType.READ_ACK, 25, 0x3C80)
    bad = f"{int(good, 16) ^ 1:08X}"
    result = decode_line("B" + bad)
    assert list(result) == INVALID_FIELDS
    assert (result["valid"], result["error"], result["source"]) == (False, "parity", "boiler")
    assert (result["msg_type"], result["data_id"], result["data_value"]) == (
        "READ-ACK",
        25,
        "0x3C81",
    )
    assert result["value"] is None
    assert result["unit"] is None


def test_decode_line_direction_and_structure_errors() -> None:
    # A READ-ACK claimed to come from the thermostat.
    assert decode_line("T" + frame_hex(MsgType.READ_ACK, 25, 0))["error"] == "msg_type"
    assert decode_line("R" + frame_hex(MsgType.WRITE_ACK, 1, 0))["error"] == "msg_type"
    assert decode_line("B" + frame_hex(MsgType.READ_DATA, 25, 0))["error"] == "msg_type"
    assert decode_line("A" + frame_hex(MsgType.WRITE_DATA, 1, 0))["error"] == "msg_type"
    # Bare frames have no direction to break.
    assert decode_line(frame_hex(MsgType.READ_ACK, 25, 0))["valid"] is True
    spare = 0x0100_0000
    spare |= parity_bit(spare) << 31
    assert decode_line(f"{spare:08X}")["error"] == "spare"
    reserved = 0x3000_0000
    reserved |= parity_bit(reserved) << 31
    result = decode_line(f"{reserved:08X}")
    assert (result["error"], result["msg_type"]) == ("msg_type", "RESERVED")


def test_decode_line_error_frames() -> None:
    # The gateway flagged it although the bits look fine: its verdict stands.
    result = decode_line("E" + frame_hex(MsgType.READ_DATA, 0, 0x0300))
    assert (result["valid"], result["error"], result["source"]) == (False, "parity", None)
    assert result["data_id"] == 0
    bad = f"{int(frame_hex(MsgType.READ_DATA, 0, 0x0300), 16) ^ 0x10:08X}"
    assert decode_line("E" + bad)["error"] == "parity"
    spare = 0x0100_0000
    spare |= parity_bit(spare) << 31
    assert decode_line(f"E{spare:08X}")["error"] == "spare"


def test_decode_line_unknown_and_test_ids() -> None:
    unknown = decode_line("B" + frame_hex(MsgType.UNKNOWN_DATAID, 40, 0))
    assert unknown["valid"] is True
    assert unknown["msg_type"] == "UNKNOWN-DATAID"
    assert (unknown["data_id"], unknown["name"], unknown["value"], unknown["unit"]) == (
        40,
        None,
        None,
        None,
    )
    oem = decode_line("B" + frame_hex(MsgType.READ_ACK, 200, 0x1234))
    assert (oem["name"], oem["value"]) == ("Test & Diagnostics", 0x1234)


def test_bare_frame_that_looks_like_a_prefixed_line() -> None:
    # Eight hex digits are a bare frame even when they start with B, A or E.
    result = decode_line("B4000020")
    assert result["source"] is None
    assert result["data_value"] == "0x0020"


@given(msg_types, data_ids, words, st.sampled_from(["", "T", "B", "R", "A"]))
def test_decode_line_never_raises_and_is_json(
    msg_type: MsgType, data_id: int, value: int, prefix: str
) -> None:
    result = decode_line(prefix + frame_hex(msg_type, data_id, value))
    json.dumps(result)
    if prefix:
        assert result["valid"] is (msg_type.from_master == (prefix in "TR"))
    else:
        assert result["valid"] is True
    assert result["data_value"] == f"0x{value:04X}"


@given(st.text(max_size=12))
def test_decode_line_survives_any_text(text: str) -> None:
    result = decode_line(text)
    json.dumps(result)
    assert isinstance(result["valid"], bool)


# ---------------------------------------------------------------- stream and main


def test_decode_stream_skips_blank_lines() -> None:
    results = list(decode_stream(["T80000200\r\n", "\n", "   ", "B40000200\n", "junk"]))
    assert [r["raw"] for r in results] == ["T80000200", "B40000200", "junk"]
    assert [r["valid"] for r in results] == [True, True, False]


def test_main_from_arguments() -> None:
    out = io.StringIO()
    assert main(["T80000200", "zz"], io.StringIO("B40000200\n"), out) == 0
    lines = out.getvalue().splitlines()
    assert [json.loads(line)["raw"] for line in lines] == ["T80000200", "zz"]


def test_main_from_stdin() -> None:
    request = "T" + frame_hex(MsgType.WRITE_DATA, 1, 0x1580)
    answer = "B" + frame_hex(MsgType.WRITE_ACK, 1, 0x1580)
    stdin = io.StringIO(f"{request}\n\n{answer}\nE80000201\n")
    for argv in ([], ["-"]):
        stdin.seek(0)
        out = io.StringIO()
        assert main(argv, stdin, out) == 0
        decoded = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [d["raw"] for d in decoded] == [request, answer, "E80000201"]
        assert decoded[0]["value"] == 21.5
        assert decoded[0]["unit"] == "°C"
        assert decoded[1]["msg_type"] == "WRITE-ACK"
        assert decoded[2]["valid"] is False
