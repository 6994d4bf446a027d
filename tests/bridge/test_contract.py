"""bridge.core.contract: payload models as JSON Schema, and rendered as JSON."""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

import pytest

from bridge.core.contract import (
    UNSET,
    Keywords,
    Named,
    Unset,
    components,
    keep_rendered,
    model,
    ref,
    render,
    schema_of,
    spec,
    type_schema,
)
from bridge.core.decoding import decode
from bridge.core.payloads.access import PairRequest
from bridge.core.payloads.boiler import IdCounters, LinkCounters
from bridge.core.payloads.common import Programs
from bridge.core.payloads.privacy import EraseRequest
from bridge.core.payloads.thermostat import PauseRequest, ScheduleEntry, ThermostatUpdate
from bridge.core.programs import PROGRAM_NAMES
from bridge.core.requests import parse_update
from bridge.core.validation import ValidationError
from bridge.opentherm.boiler_state import IdCounters as MasterIdCounters
from bridge.opentherm.links.base import LinkCounters as MasterLinkCounters


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


@model
class Inner:
    """An inner object."""

    n: int


@model
class Outer:
    name: str = spec(description="what it is called", minLength=1)
    inner: Inner
    maybe: Inner | None
    colour: Colour
    many: list[Inner]
    note: str | Unset = spec(default=UNSET, maxLength=3)


@model
class Loose:
    OPEN: ClassVar = True
    SCHEMA_EXTRA: ClassVar = {"minProperties": 1}

    x: float | None = spec(minimum=5.0, maximum=30.5)


@pytest.mark.parametrize(
    ("tp", "schema"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (Any, {}),
        (int | None, {"type": ["integer", "null"]}),
        (float | str, {"type": ["number", "string"]}),
        (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
        (Literal["ok"], {"const": "ok"}),
        (Colour, {"type": "string", "enum": ["red", "blue"]}),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (tuple[str, ...], {"type": "array", "items": {"type": "string"}}),
        (
            tuple[int, int, int],
            {"type": "array", "items": {"type": "integer"}, "minItems": 3, "maxItems": 3},
        ),
        (dict[str, int], {"type": "object", "additionalProperties": {"type": "integer"}}),
        (dict[str, Any], {"type": "object"}),
        (
            dict[Colour, bool],
            {
                "type": "object",
                "properties": {"red": {"type": "boolean"}, "blue": {"type": "boolean"}},
                "required": ["red", "blue"],
                "additionalProperties": False,
            },
        ),
        (Inner, ref("Inner")),
        (Inner | None, {"anyOf": [ref("Inner"), {"type": "null"}]}),
        (Annotated[int, Keywords(minimum=1.0)], {"type": "integer", "minimum": 1}),
        (Annotated[int, Named("Count")], ref("Count")),
        (Inner | Outer, {"anyOf": [ref("Inner"), ref("Outer")]}),
    ],
)
def test_type_mapping(tp: Any, schema: dict[str, Any]) -> None:
    assert type_schema(tp) == schema


def test_object_schema_required_optional_closed_and_described() -> None:
    schema = schema_of(Outer)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert "description" not in schema  # no docstring of its own
    assert schema["required"] == ["name", "inner", "maybe", "colour", "many"]
    assert schema["properties"]["name"] == {
        "type": "string",
        "description": "what it is called",
        "minLength": 1,
    }
    assert schema["properties"]["note"] == {"type": "string", "maxLength": 3}
    assert schema["properties"]["many"] == {"type": "array", "items": ref("Inner")}
    assert schema_of(Inner)["description"] == "An inner object."
    loose = schema_of(Loose)
    assert "additionalProperties" not in loose
    assert loose["minProperties"] == 1
    assert loose["properties"]["x"] == {"type": ["number", "null"], "minimum": 5, "maximum": 30.5}


def test_components_collects_every_reachable_model() -> None:
    found = components(Outer, Loose)
    assert set(found) == {"Outer", "Inner", "Loose"}
    assert found["Inner"] == schema_of(Inner)
    programs = components(Programs)["Programs"]
    assert list(programs["properties"]) == list(PROGRAM_NAMES)
    assert programs["required"] == list(PROGRAM_NAMES)
    assert programs["properties"]["home"] == {
        "type": "number",
        "minimum": 5,
        "maximum": 30,
        "description": "°C",
    }
    assert "ProgramName" in components(Programs)


def test_two_models_with_one_name_are_refused() -> None:
    @model
    class Inner:  # another class of the same name
        m: int

    with pytest.raises(TypeError, match="two components named Inner"):
        components(Outer, Inner)


def test_render_round_trip() -> None:
    value = Outer(
        name="x",
        inner=Inner(1),
        maybe=None,
        colour=Colour.BLUE,
        many=[Inner(2), Inner(3)],
    )
    out = render(value)
    assert out == {
        "name": "x",
        "inner": {"n": 1},
        "maybe": None,
        "colour": "blue",
        "many": [{"n": 2}, {"n": 3}],
    }  # the absent note is left out
    assert type(out["colour"]) is str
    again = Outer(
        name=out["name"],
        inner=Inner(**out["inner"]),
        maybe=None,
        colour=Colour(out["colour"]),
        many=[Inner(**i) for i in out["many"]],
    )
    assert again == value
    assert render(dataclasses.replace(value, note="abc"))["note"] == "abc"
    assert render({"k": (1, Colour.RED), Colour.BLUE: True}) == {"k": [1, "red"], "blue": True}


def test_counters_name_the_fields_the_link_and_master_count() -> None:
    def names(cls: Any) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    assert names(IdCounters) == names(MasterIdCounters)
    assert names(LinkCounters) == names(MasterLinkCounters)


# -- decoding requests with the same models ---------------------------------------------


def test_decode_names_a_nested_field_path_and_its_rule() -> None:
    body = {"schedule": [{"start": [0, 6, 0], "temperature": "home"}, {"start": [0, 7, 10]}]}
    with pytest.raises(ValidationError) as caught:
        parse_update(body)
    assert {"field": "schedule[1].start[2]", "rule": "must be 0, 15, 30 or 45"} in (
        caught.value.errors
    )
    assert {"field": "schedule[1].temperature", "rule": "required"} in caught.value.errors


def test_decode_refuses_unknown_and_missing_fields() -> None:
    with pytest.raises(ValidationError) as caught:
        decode(PauseRequest, {"paused": True})
    assert sorted(caught.value.errors, key=lambda e: e["field"]) == [
        {"field": "pause", "rule": "required"},
        {"field": "paused", "rule": "unknown field"},
    ]
    with pytest.raises(ValidationError) as caught:
        decode(PauseRequest, ["pause"])
    assert caught.value.errors == [{"field": "(body)", "rule": "must be an object"}]


def test_decode_gives_a_model_instance_with_documented_defaults() -> None:
    assert decode(PauseRequest, {"pause": True}) == PauseRequest(pause=True)
    assert decode(PairRequest, {"code": "ABCD"}) == PairRequest(code="ABCD", client_name="client")
    assert decode(EraseRequest, {"confirm": True}).revoke_tokens is False
    with pytest.raises(ValidationError) as caught:
        decode(EraseRequest, {"confirm": "yes"})
    assert caught.value.errors == [{"field": "confirm", "rule": "must be true to erase"}]


def test_a_bound_is_the_same_in_the_error_and_in_the_schema() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_update({"target_temperature": 30.5})
    assert caught.value.errors == [
        {"field": "target_temperature", "rule": "must be between 5 and 30 °C"}
    ]
    target = schema_of(ThermostatUpdate)["properties"]["target_temperature"]
    assert (target["minimum"], target["maximum"]) == (5, 30)
    pair = schema_of(PairRequest)["properties"]["code"]
    assert (pair["minLength"], pair["maxLength"]) == (4, 32)
    with pytest.raises(ValidationError) as caught:
        decode(PairRequest, {"code": "abc"})
    assert caught.value.errors[0]["field"] == "code"


def test_kept_models_render_to_the_same_json_objects_and_others_afresh() -> None:
    kept = [ScheduleEntry(start=(0, 6, 30), temperature="home")]
    keep_rendered(kept)
    first, again = render(list(kept)), render(list(kept))
    assert first == [{"start": [0, 6, 30], "temperature": "home"}]
    assert first[0] is again[0]  # shared: comparing two renderings is an identity check
    # an equal but other instance is rendered on its own, to the same JSON
    other = ScheduleEntry(start=(0, 6, 30), temperature="home")
    assert render(other) == first[0]
    assert render(other) is not first[0]
    changed = ScheduleEntry(start=(0, 6, 30), temperature="comfort")
    assert render(changed) == {"start": [0, 6, 30], "temperature": "comfort"}
