"""Every parser outside the HTTP API, fed what a broken device or a careless owner might send.

The rule each property checks: any input gives a result or the parser's own
error (FrameError, CodecError, ProfileError, ConfigError, a ValueError the
caller expects), never another exception. Examples that once broke a rule
stay as ``@example``. The number of examples comes from the Hypothesis
profile in ``tests/conftest.py`` (``HYPOTHESIS_PROFILE=fuzz`` for a long run).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import itertools
import json
import logging
import math
from pathlib import Path
import re
import subprocess
import sys
import tempfile
from typing import Any, TypeVar

from hypothesis import HealthCheck, example, given, settings, strategies as st
import pytest

from bridge.config import ConfigError, build, load_file, validate
from bridge.opentherm import formats as f, otgw_protocol as proto
from bridge.opentherm.decode import decode_line, main as decode_main
from bridge.opentherm.formats import CodecError, Fmt
from bridge.opentherm.frame import Direction, Frame, FrameError
from bridge.opentherm.ids import ALL_SPECS, decode_value, encode_value
from bridge.opentherm.links.base import LinkCounters
from bridge.opentherm.links.modbus import parse_modbus_url
from bridge.opentherm.links.onoff import parse_onoff_url
from bridge.opentherm.links.otgw import parse_otgw_url
from bridge.opentherm.links.otgw_stream import MAX_LINE, LineBuffer, OtgwStream
from bridge.opentherm.links.sim import SimUrlError, parse_sim_url, sim_options
from bridge.opentherm.modbus_maps import (
    BUILTIN_PROFILES,
    ProfileError,
    build_profile,
    build_profiles,
    clamp_write,
    decode_register,
    encode_register,
)

_T = TypeVar("_T")
_E = TypeVar("_E", bound=Exception)


def _outcome(call: Callable[[], _T], error: type[_E]) -> _T | _E:
    """What ``call`` returns, or the ``error`` it raises (any other exception fails the test)."""
    try:
        return call()
    except error as err:
        return err


# ---------------------------------------------------------------- strategies

#: JSON-like values of any shape, as a config file or a profile can hold.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(10**400), 10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
any_value = values | st.tuples(values, values) | st.binary(max_size=8)


# ---------------------------------------------------------------- frames


@given(st.integers(-(2**40), 2**40), st.sampled_from([None, *Direction]))
@example(0xFFFF_FFFF, None)
@example(2**32, None)
@example(-1, Direction.MASTER_TO_SLAVE)
def test_any_integer_is_a_frame_or_a_frame_error(raw: int, direction: Direction | None) -> None:
    frame = _outcome(lambda: Frame.from_int(raw, direction=direction), FrameError)
    if isinstance(frame, FrameError):
        assert frame.reason in {"range", "parity", "spare", "msg_type"}
        return
    assert frame.to_int() == raw  # a frame that decodes is exactly the bits it came from


@given(st.binary(max_size=16) | st.text(max_size=16))
@example(b"8000020\xff")
@example("\uff18" + "\uff10" * 7)  # full-width digits are not hex digits
@example(" 80000200\n")
def test_any_text_or_bytes_is_a_frame_or_a_frame_error(data: bytes | str) -> None:
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    frame = _outcome(lambda: Frame.from_hex(text), FrameError)
    if isinstance(frame, FrameError):
        assert frame.reason in {"format", "parity", "spare", "msg_type"}
        return
    assert frame.to_hex() == text.strip().upper()


_ENCODERS = {
    Fmt.FLAG8: f.encode_flag8,
    Fmt.U8: f.encode_u8,
    Fmt.S8: f.encode_s8,
    Fmt.F8_8: f.encode_f8_8,
    Fmt.U16: f.encode_u16,
    Fmt.S16: f.encode_s16,
    Fmt.FLAG8_FLAG8: f.encode_flag8_flag8,
    Fmt.FLAG8_U8: f.encode_flag8_u8,
    Fmt.U8_U8: f.encode_u8_u8,
    Fmt.S8_S8: f.encode_s8_s8,
    Fmt.DAY_TIME: f.encode_day_time,
}


@pytest.mark.parametrize("fmt", list(Fmt))
@given(value=any_value)
@example(value=10**400)
@example(value=float("nan"))
@example(value=[True] * 8)
def test_any_value_encodes_or_is_a_codec_error(fmt: Fmt, value: Any) -> None:
    try:
        word = _ENCODERS[fmt](value)
    except CodecError:
        return
    limit = 0xFF if fmt.is_byte else 0xFFFF
    assert 0 <= word <= limit


@given(st.sampled_from(ALL_SPECS), any_value | st.dictionaries(st.text(max_size=12), values))
def test_any_value_for_any_data_id_encodes_or_is_a_codec_error(spec: Any, value: Any) -> None:
    try:
        word = encode_value(spec.id, value)
    except CodecError:
        return
    assert 0 <= word <= 0xFFFF
    decoded = decode_value(spec.id, word)  # what was accepted decodes again
    assert encode_value(spec.id, decoded) == word


# ---------------------------------------------------------------- ot decode


@given(st.text(max_size=300))
@example("T" + "8" * 300)
@example("\ud800")
@example("E\x00000000")
def test_decode_line_answers_any_text_with_json(text: str) -> None:
    result = decode_line(text)
    assert set(result) >= {"raw", "source", "valid", "msg_type", "data_id", "value", "unit"}
    json.dumps(result)
    if not result["valid"]:
        assert result["value"] is None


def test_ot_decode_command_survives_bytes_that_are_not_text() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bridge", "ot", "decode"],
        input=b"80000200\n\xff\xfe\x00garbage\nT\xe9\n" + b"B" * 100_000 + b"\n",
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.decode().split("\n")[:-1]]
    assert len(lines) == 4
    assert lines[0]["valid"] is True
    assert [line["valid"] for line in lines[1:]] == [False, False, False]


def test_ot_decode_command_survives_arguments_that_are_not_utf8() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bridge", "ot", "decode", b"T\xff0000200", "B40000200"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.decode("ascii").split("\n")[:-1]]
    assert [line["valid"] for line in lines] == [False, True]


@given(st.lists(st.text(max_size=20), max_size=5))
@example(["\ud800", "80000200\u2028"])
def test_ot_decode_main_writes_one_json_line_per_line(lines: list[str]) -> None:
    out = _Collect()
    assert decode_main(lines or ["-"], iter([]), out) == 0
    written = [json.loads(line) for line in "".join(out.parts).split("\n")[:-1]]
    assert len(written) == sum(1 for line in lines if line.strip())


class _Collect:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass


# ---------------------------------------------------------------- OTGW lines


@given(st.text(max_size=400) | st.binary(max_size=400).map(lambda b: b.decode("latin-1")))
@example("T80000200")
@example("CS: \u0664\u0665.\u0660\u0660")  # Arabic-Indic digits
@example(",".join(["1"] * 34))
@example("OpenTherm Gateway 6.5\x00")
def test_any_gateway_line_is_classified(text: str) -> None:
    parsed = proto.parse_line(text)
    assert isinstance(parsed, proto.ParsedLine)


summary_words = st.fixed_dictionaries(
    {data_id: st.integers(0, 0xFFFF) for data_id, _ in proto.SUMMARY_FIELDS_V5}
)


@given(summary_words, st.booleans())
@example({data_id: 0x7FFF for data_id, _ in proto.SUMMARY_FIELDS_V5}, True)  # 127.996 °C
def test_a_printed_summary_parses_back(words: dict[int, int], firmware5: bool) -> None:
    line = proto.format_summary(words, firmware5=firmware5)
    parsed = proto.parse_line(line)
    assert isinstance(parsed, proto.Summary), line
    layout = proto.SUMMARY_FIELDS_V5 if firmware5 else proto.SUMMARY_FIELDS_V4
    for data_id, kind in layout:
        got = parsed.value(data_id)
        assert got is not None
        if kind == proto.SummaryKind.FLOAT:  # printed with two decimals
            assert abs(f.decode_f8_8(got) - f.decode_f8_8(words[data_id])) <= 0.005 + 1 / 512
        elif kind == proto.SummaryKind.U8:
            assert got == words[data_id] & 0xFF
        else:
            assert got == words[data_id]


@given(st.text(max_size=40))
@example("\u0662\u0663:\u0665\u0669/\u0667")
@example("99:99/1")
def test_reply_values_parse_or_raise_value_error(text: str) -> None:
    for parse in (proto.reply_number, proto.reply_clock, proto.split_report):
        with contextlib.suppress(ValueError):
            parse(text)


def _reference_lines(stream: bytes, limit: int) -> list[bytes | None]:
    """What a LineBuffer must give for ``stream``, however it is chunked."""
    *complete, rest = re.split(rb"[\r\n]", stream)
    out: list[bytes | None] = [None if len(raw) > limit else raw for raw in complete if raw]
    if len(rest) > limit:
        out.append(None)
    return out


def _chunked(data: st.DataObject, stream: bytes) -> list[bytes]:
    cuts = sorted(data.draw(st.sets(st.integers(0, len(stream)), max_size=12)))
    edges = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(edges)]


line_bytes = st.lists(
    st.sampled_from([b"T80000200", b"B40000200", b"\r\n", b"\n", b"\r", b"\xff", b"x" * 40])
    | st.binary(max_size=30),
    max_size=40,
).map(b"".join)


@given(line_bytes, st.data())
@example(b"x" * 300 + b"\nT80000200\n", None)  # an overlong line in one chunk
@example(b"x" * 300 + b"\r\nB40000200\r\n", None)
def test_line_buffer_splits_the_same_however_the_bytes_arrive(
    stream: bytes, data: st.DataObject | None
) -> None:
    lines = LineBuffer(limit=64)
    chunks = [stream] if data is None else _chunked(data, stream)
    got: list[bytes | None] = []
    for chunk in chunks:
        got.extend(lines.feed(chunk))
        assert len(lines._buf) <= lines.limit  # bounded memory between chunks
    assert got == _reference_lines(stream, 64)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line_bytes, st.data())
def test_gateway_stream_survives_any_bytes(stream: bytes, data: st.DataObject) -> None:
    counters = LinkCounters()
    link_stream = OtgwStream(
        "fuzz", counters, logging.getLogger("fuzz"), command_timeout=1, idle_timeout=5
    )

    async def run() -> str:
        reader = asyncio.StreamReader()
        for chunk in _chunked(data, stream):
            reader.feed_data(chunk)
        reader.feed_eof()
        return await link_stream.read_loop(reader)

    loop = asyncio.new_event_loop()  # asyncio.run would unset the loop pytest's fixtures use
    try:
        assert loop.run_until_complete(run()) == "the connection was closed"
    finally:
        loop.close()
    expected = _reference_lines(stream, MAX_LINE)
    assert counters.garbage_lines >= sum(1 for line in expected if line is None)
    monitor = sum(
        1 for line in expected if line is not None and re.fullmatch(rb"[TBRA][0-9A-F]{8}", line)
    )
    assert (
        counters.extra.get("monitor_lines", 0) + counters.bad_frames >= monitor
    )  # every frame line was seen


# ---------------------------------------------------------------- boiler URLs


@given(
    st.sampled_from(
        [
            "sim://",
            "otgw+tcp://",
            "socket://",
            "otgw+serial://",
            "modbus+tcp://",
            "onoff+modbus+tcp://",
        ]
    ),
    st.text(max_size=40),
)
@example("sim://", "?seed=²")
@example("sim://", "?seed=" + "9" * 5000)
@example("otgw+tcp://", "[::1")
@example("modbus+tcp://", "host:99999999999999999999")
def test_boiler_urls_parse_or_raise_value_error(scheme: str, rest: str) -> None:
    url = scheme + rest
    for parse in (parse_sim_url, parse_otgw_url, parse_modbus_url, parse_onoff_url):
        with contextlib.suppress(ValueError):
            parse(url)
    with contextlib.suppress(SimUrlError):
        sim_options(url)


# ---------------------------------------------------------------- Modbus maps

register_entries = st.fixed_dictionaries(
    {},
    optional={
        "id": scalars,
        "access": st.sampled_from(["read", "write", "readwrite"]) | scalars,
        "scale": st.sampled_from(["tenth", "raw", "f8.8", "bytes"]) | scalars,
        "signed": scalars,
        "ot": st.sampled_from(["f8.8", "u16", "s16", "bytes"]) | scalars,
        "min": scalars,
        "max": scalars,
    },
)
profiles = st.fixed_dictionaries(
    {},
    optional={
        "base": st.just("setecna") | scalars,
        "registers": st.dictionaries(st.integers(0, 70) | scalars, register_entries | values)
        | values,
        "coils": st.dictionaries(
            st.integers(0, 70) | scalars, st.sampled_from(["flame", "fault"]) | values
        )
        | values,
        "status": values,
        "not_used": values,
        "register_write_function": scalars,
        "coil_write_function": scalars,
    },
)


@given(profiles | values)
@example({"coils": {1: [1]}})  # an unhashable flag name
@example({"coils": {"²": "flame"}})  # a digit str.isdigit() passes and int() refuses
@example(
    {"registers": {1: {"id": 1, "access": "write", "scale": "tenth", "min": 1e308, "max": 1e308}}}
)
@example({"registers": {1: {"id": 1, "access": "write", "min": 10**400, "max": 10**400}}})
def test_any_profile_builds_or_names_its_error(data: Any) -> None:
    profile = _outcome(lambda: build_profile("fuzz", data), ProfileError)
    if isinstance(profile, ProfileError):
        assert profile.path.startswith("modbus_profiles.fuzz")
        return
    for reg in profile.registers:
        if reg.writable and reg.minimum is not None and reg.maximum is not None:
            raw, _ = clamp_write(reg, 0)
            assert 0 <= raw <= 0xFFFF


@given(st.dictionaries(st.text(max_size=8) | scalars, profiles, max_size=2) | values)
def test_any_profile_table_builds_or_names_its_error(data: Any) -> None:
    with contextlib.suppress(ProfileError):
        build_profiles(data)


@pytest.mark.parametrize("reg", BUILTIN_PROFILES["setecna"].registers, ids=lambda r: str(r.address))
@given(raw=st.integers(0, 0xFFFF))
def test_any_register_value_decodes_and_writes_stay_in_bounds(reg: Any, raw: int) -> None:
    value = decode_register(reg, raw)
    assert value is None or 0 <= value <= 0xFFFF
    if value is not None:
        back = encode_register(reg, value)
        assert back is None or 0 <= back <= 0xFFFF
    if reg.writable:
        register, written = clamp_write(reg, raw)  # raw as an OpenTherm value here
        assert 0 <= register <= 0xFFFF
        assert 0 <= written <= 0xFFFF
        if reg.minimum is not None and reg.maximum is not None:
            assert encode_register(reg, written) == register


# ---------------------------------------------------------------- config files

config_keys = st.sampled_from(
    [
        "data_dir",
        "host",
        "port",
        "boiler",
        "sim_speed",
        "zeroconf",
        "zeroconf_interfaces",
        "cloud_url",
        "tls_cert",
        "tls_key",
        "timezone",
        "log_level",
        "retention",
        "sim",
        "modbus_profiles",
    ]
) | st.text(max_size=10)
configs = st.dictionaries(config_keys, values | profiles, max_size=5)


@given(configs)
@example({"sim_speed": 10**400})
@example({"timezone": "Europe"})
@example({"timezone": "a" * 5000})
@example({"tls_cert": "a" * 5000, "tls_key": "b"})
@example({"boiler": "sim://["})
@example({"boiler": "sim://?seed=²"})
@example({"port": True})
@example({"modbus_profiles": {"gw": {"coils": {1: [1]}}}})
def test_any_config_values_validate_or_name_the_key(raw: dict[str, Any]) -> None:
    cfg = _outcome(lambda: validate(raw), ConfigError)
    if isinstance(cfg, ConfigError):
        assert cfg.key
        assert cfg.rule
        return
    assert 0 <= cfg.port <= 65535
    assert not isinstance(cfg.port, bool)
    assert math.isfinite(cfg.sim_speed)


def _write(text: bytes, suffix: str) -> Path:
    with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as file:
        file.write(text)
    return Path(file.name)


toml_lines = st.lists(
    st.tuples(config_keys, values).map(lambda kv: f"{json.dumps(kv[0])} = {json.dumps(kv[1])}")
    | st.sampled_from(["[sim]", "[retention]", "[modbus_profiles.gw]", "[[x]]", "a = {b = 1}"])
    | st.text(max_size=30),
    max_size=6,
).map("\n".join)


@given(toml_lines.map(str.encode) | st.binary(max_size=200), st.sampled_from([".toml", ".json"]))
@example(b"a = '\xff'", ".toml")
@example(b"[" * 100_000 + b"]" * 100_000, ".json")
@example(b"a = " + b"[" * 100_000 + b"]" * 100_000, ".toml")
@example(b'{"sim_speed": ' + b"9" * 5000 + b"}", ".json")
def test_any_config_file_loads_or_is_a_config_error(content: bytes, suffix: str) -> None:
    path = _write(content, suffix)
    try:
        result = _outcome(lambda: build(path, {"data_dir": "/nonexistent/fuzz"}), ConfigError)
    finally:
        path.unlink()
    if isinstance(result, ConfigError):
        assert result.key


def test_a_config_file_that_is_not_text_stops_the_cli_with_the_reason(tmp_path: Path) -> None:
    config = tmp_path / "bridge.toml"
    config.write_bytes(b"port = 8722\nhost = '\xff'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bridge", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "is not valid .toml" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_loaded_file_keeps_its_values(tmp_path: Path) -> None:
    path = tmp_path / "bridge.json"
    path.write_text(json.dumps({"port": 9000, "sim": {"seed": 3}}))
    assert load_file(path) == {"port": 9000, "sim": {"seed": 3}}
