"""Property tests of the one number check, text check, integer parser, time parser and
body reader: any input gives a value within bounds or the project's own error, never
another exception."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import example, given, strategies as st
import pytest
import voluptuous as vol

from bridge.core.bodies import MAX_DEPTH, BodyError, form_fields, json_depth, parse_form, parse_json
from bridge.core.decoding import decode
from bridge.core.payloads.thermostat import ThermostatUpdate
from bridge.core.requests import parse_update
from bridge.core.validation import (
    NUMBER_LIMIT,
    TIME_MAX,
    TIME_MIN,
    ValidationError,
    finite_number,
    is_text,
    parse_time,
    parse_whole,
    text,
)


def attempt(check: Any, *args: Any, **kwargs: Any) -> tuple[Any, Exception | None]:
    """``check``'s value, or the project's own error; any other exception propagates."""
    try:
        return check(*args, **kwargs), None
    except (vol.Invalid, ValidationError, BodyError) as err:
        return None, err


_ANY_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.text(alphabet=st.characters(codec=None)),  # lone surrogates included
    st.binary(),
)
_ANY = st.recursive(
    _ANY_SCALAR,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_DIGITISH = st.text(
    alphabet=st.sampled_from(
        "0123456789\u00b2\u00b3\u00b9\u0660\u0661\u0662\u0969\u096a\u0b68\u0d6b\u0e52"
        "\u0ed3\u0f23\u1044\u1095\u17e0\u1811\uff11\uff12\uff13\U0001d7ce\U0001d7cf+-_ .eE\x00"
    ),
    max_size=30,
)


# -- the number check ----------------------------------------------------------------------


@given(_ANY, st.booleans())
@example(10**400, False)
@example(True, False)
@example("1" + "0" * 400, True)
@example("\u0661\u0662", True)
@example("\uff11\uff12", True)
@example("2\u00b2", True)
@example("1_0", True)
@example("nan", True)
def test_the_number_check_gives_a_bounded_finite_float_or_invalid(
    value: Any, from_text: bool
) -> None:
    number, err = attempt(finite_number, value, from_text=from_text)
    if err is not None:
        assert isinstance(err, vol.Invalid)
        assert err.msg == "must be a number"
        return
    assert isinstance(number, float)
    assert math.isfinite(number)
    assert abs(number) <= NUMBER_LIMIT
    assert not isinstance(value, bool)
    if isinstance(value, str):
        assert from_text
        assert value.strip(" \t").isascii()


@given(st.floats(min_value=-NUMBER_LIMIT, max_value=NUMBER_LIMIT))
def test_every_bounded_float_passes_the_number_check_unchanged(value: float) -> None:
    assert finite_number(value) == value
    assert finite_number(repr(value), from_text=True) == value


@given(_ANY)
@example({"target_temperature": 10**400})
@example({"programs": {"home": -(10**500)}})
@example({"exceptions": [{"start": [2030, 0, 1, 0, 0], "end": [2030, 0, 2, 0, 0],
                          "temperature": "home", "description": "\ud800"}]})  # fmt: skip
def test_an_update_body_decodes_or_is_a_validation_error(body: Any) -> None:
    _, err = attempt(parse_update, body)
    if err is not None:
        assert isinstance(err, ValidationError)
        assert err.errors
        json.dumps(err.errors)  # the answer can always be written


@given(st.dictionaries(st.sampled_from(["pause", "x"]), _ANY, max_size=2))
def test_a_model_body_decodes_or_is_a_validation_error(body: dict[str, Any]) -> None:
    _, err = attempt(decode, ThermostatUpdate, body)
    assert err is None or (isinstance(err, ValidationError) and err.errors)


# -- the text check ------------------------------------------------------------------------


@given(_ANY)
@example("\ud800")
@example("caf\udce9")
@example("ok \U0001f525")
def test_the_text_check_passes_only_encodable_strings(value: Any) -> None:
    checked, err = attempt(text, value)
    if err is not None:
        assert not is_text(value)
        return
    assert checked is value
    checked.encode("utf-8")  # never raises for text that passed
    assert is_text(value)


# -- the integer parser ---------------------------------------------------------------------


@given(_DIGITISH, st.integers(0, 10), st.integers(0, 2**63))
@example("\u00b2", 0, 100)
@example("\u0661\u0662", 0, 100)
@example("\uff11\uff12", 0, 100)
@example("0" * 50 + "7", 0, 10)
@example("1" + "0" * 400, 0, 10**18)
def test_the_integer_parser_reads_ascii_digits_in_range_or_refuses(
    value: str, low: int, high: int
) -> None:
    number, err = attempt(parse_whole, value, "n", low, high)
    if err is not None:
        assert isinstance(err, ValidationError)
        assert err.errors[0]["field"] == "n"
        return
    assert low <= number <= high
    assert value.isascii()
    assert value.isdigit()
    assert int(value) == number


@given(st.integers(1, 1000))
def test_every_whole_number_in_range_is_read(value: int) -> None:
    assert parse_whole(str(value), "limit", 1, 1000) == value


# -- times -----------------------------------------------------------------------------------


@given(
    st.one_of(_DIGITISH, st.text(max_size=40), st.datetimes().map(lambda d: d.isoformat() + "Z"))
)
@example("0001-01-01T00:00:00+01:00")
@example("9999-12-31T23:59:59+00:00")
@example("1e400")
@example("-1")
def test_a_time_is_within_the_one_range_or_refused(value: str) -> None:
    when, err = attempt(parse_time, value, "start")
    if err is not None:
        assert isinstance(err, ValidationError)
        assert err.errors[0]["field"] == "start"
        return
    assert TIME_MIN <= when < TIME_MAX


# -- the body reader -------------------------------------------------------------------------


@given(st.binary(max_size=200))
@example(b"[" * 30000)
@example(b'{"a": 1, "a": 2}')
@example(b"NaN")
@example(b'"\xed\xa0\x80"')
def test_any_bytes_are_json_or_a_body_error(raw: bytes) -> None:
    _, err = attempt(parse_json, raw)
    assert err is None or (isinstance(err, BodyError) and err.error == "bad_json")


@given(st.recursive(_ANY_SCALAR.filter(lambda v: not isinstance(v, bytes)),
                    lambda inner: st.lists(inner, max_size=3), max_leaves=40))  # fmt: skip
def test_json_depth_matches_the_nesting(value: Any) -> None:
    def depth(v: Any) -> int:
        return 1 + max(map(depth, v), default=0) if isinstance(v, list) else 0

    try:
        raw = json.dumps(value)
    except ValueError:
        return
    assert json_depth(raw, limit=10**6) == depth(value)


@pytest.mark.parametrize("levels", [MAX_DEPTH, MAX_DEPTH + 1, 30000])
def test_the_depth_limit_is_exact(levels: int) -> None:
    raw = b"[" * levels + b"]" * levels
    if levels <= MAX_DEPTH:
        assert parse_json(raw) is not None
    else:
        with pytest.raises(BodyError, match="deeper"):
            parse_json(raw)


@given(st.binary(max_size=100))
@example(b"a=%E9")
@example(b"a=\xe9")
@example(b"a=%ED%A0%80")
@example(b"a=1&a=2")
def test_any_bytes_are_a_form_or_a_body_error(raw: bytes) -> None:
    pairs, err = attempt(parse_form, raw)
    if err is None:
        _, err = attempt(form_fields, pairs)
    if err is not None:
        assert isinstance(err, BodyError)
        assert err.error == "bad_form"
        return
    for name, value in pairs:
        assert is_text(name)
        assert is_text(value)


@given(st.lists(st.tuples(st.text(), st.text()), max_size=5))
def test_a_form_reads_back_what_was_encoded(pairs: list[tuple[str, str]]) -> None:
    from urllib.parse import urlencode

    pairs = [(k, v) for k, v in pairs if is_text(k) and is_text(v)]
    assert parse_form(urlencode(pairs).encode()) == pairs


@pytest.mark.timeout(30)  # a hang guard: the scan was quadratic in unterminated strings
@pytest.mark.parametrize(
    "raw",
    [
        b'"' + b'[\\"' * 16000,  # 16,000 quotes, none closing the string
        b'["' * 32000,
        b'["abc\\',
    ],
)
def test_the_depth_scan_reads_unterminated_strings_once(raw: bytes) -> None:
    with pytest.raises(BodyError):
        parse_json(raw)
