"""The client's models against the bridge's published API (``/openapi.json``).

The integration cannot import the bridge, so the document the bridge serves
is the contract: every field a client model reads must be there, with a JSON
type the model accepts, and may be null or absent only where the model
allows None. A field renamed or retyped on the bridge fails here. The models
then decode every live answer the integration reads.

Only the served document is used, never the bridge's own modules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, get_args, get_origin

import aiohttp
import pytest

from bridge.daemon import Bridge
from custom_components.thermosmart.client import models
from custom_components.thermosmart.client.decode import JsonModel, plan
from custom_components.thermosmart.client.models import (
    BridgeInfo,
    BridgeState,
    Options,
    PairingResult,
    Predictions,
    ScheduleBlock,
    Thermostat,
    merge_patch,
)
from tests.bridge.unit_rig import HWID, Rig

COMPONENTS: dict[type[JsonModel], str] = {
    models.BridgeInfo: "Health",
    models.PairingResult: "PairResponse",
    models.Programs: "Programs",
    models.ScheduleEntry: "ScheduleEntry",
    models.ScheduleException: "ExceptionEntry",
    models.ScheduleBlock: "ScheduleBlock",
    models.Thermostat: "NativeThermostat",
    models.Boiler: "BoilerSnapshot",
    models.Capabilities: "Capabilities",
    models.Faults: "Faults",
    models.Energy: "Energy",
    models.Options: "Options",
    models.Predictions: "Predictions",
    models.BridgeState: "NativeState",
    models.PrivacyState: "PrivacyState",
    models.Purposes: "Purposes",
    models.EgressRecord: "EgressRecord",
    models.LinkCode: "LinkCode",
    models.CloudLinkStatus: "CloudLinkStatus",
}
"""Each top-level model and the component schema of the JSON it parses.

The other models (the control command, the link, a boiler value …) are
checked where those schemas hold them.
"""


# -- the check ------------------------------------------------------------------------


@dataclass
class Contract:
    """Checks models against an OpenAPI 3.1 document; collects what does not fit."""

    doc: Mapping[str, Any]
    problems: list[str] = field(default_factory=list)
    checked: set[type] = field(default_factory=set)

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            node: Any = self.doc
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node.get(part, {}) if isinstance(node, Mapping) else {}
            if not node:
                self.problems.append(f"{schema['$ref']} is not in the document")
            schema = node
        return schema

    def alternatives(self, schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        schema = self.resolve(schema)
        choices = schema.get("anyOf") or schema.get("oneOf")
        if choices is None:
            return [schema]
        return [alt for choice in choices for alt in self.alternatives(choice)]

    def types(self, schema: Mapping[str, Any]) -> set[str] | None:
        """The JSON types a value of ``schema`` may have (None: any)."""
        found: set[str] = set()
        for alt in self.alternatives(schema):
            if "const" in alt or "enum" in alt:
                values = [alt["const"]] if "const" in alt else alt["enum"]
                found |= {json_type(value) for value in values}
            elif "type" in alt:
                kind = alt["type"]
                found |= {kind} if isinstance(kind, str) else set(kind)
            else:
                return None
        return found

    def step(self, schema: Mapping[str, Any], key: str | int) -> tuple[Any, bool]:
        """The schema of ``key`` in ``schema`` (None: not there), and whether it is required."""
        found: list[Mapping[str, Any]] = []
        required = True
        for alt in self.alternatives(schema):
            if isinstance(key, int) and alt.get("type") == "array" and "items" in alt:
                found.append(alt["items"])
                required &= alt.get("minItems", 0) > key
            elif isinstance(key, str) and key in alt.get("properties", {}):
                found.append(alt["properties"][key])
                required &= key in alt.get("required", ())
            elif isinstance(key, str) and isinstance(alt.get("additionalProperties"), dict):
                found.append(alt["additionalProperties"])
                required = False
            elif alt.get("type") != "null":
                required = False  # an alternative without it: it may be absent
        if not found:
            return None, False
        return (found[0] if len(found) == 1 else {"anyOf": found}), required

    def model(self, cls: type, schema: Mapping[str, Any], where: str) -> None:
        self.checked.add(cls)
        for item in plan(cls):
            if item.given:
                continue
            name = f"{where}.{item.name}"
            sub: Any = schema
            may_be_none = False
            for key in item.path:
                sub, required = self.step(sub, key)
                if sub is None:
                    dotted = ".".join(map(str, item.path))
                    self.problems.append(f"{name}: {dotted!r} is not in the schema")
                    break
                kinds = self.types(sub)
                may_be_none |= not required or kinds is None or "null" in kinds
            else:
                if may_be_none and not item.optional and item.default is None:
                    self.problems.append(f"{name}: the client requires it, the bridge may omit it")
                self.value(item.hint, sub, name)

    def value(self, hint: Any, schema: Mapping[str, Any], name: str) -> None:
        """Whether every non-null value ``schema`` allows decodes as ``hint``."""
        kinds = self.types(schema)
        accepted = accepted_types(hint)
        if accepted is None:
            return
        if kinds is None or not kinds - {"null"} <= accepted:
            self.problems.append(f"{name}: the bridge sends {kinds}, the client reads {accepted}")
            return
        objects = [alt for alt in self.alternatives(schema) if alt.get("type") != "null"]
        strings = [alt for alt in objects if "string" in alt.get("type", ())]
        if hint is datetime and any(alt.get("format") != "date-time" for alt in strings):
            self.problems.append(f"{name}: a string that is not a date-time")
        if isinstance(hint, type) and issubclass(hint, JsonModel):
            self.model(hint, schema, name)
        elif get_origin(hint) is tuple:
            for alt in objects:
                self.value(get_args(hint)[0], alt.get("items", {}), f"{name}[]")
        elif get_origin(hint) is Mapping:
            for alt in objects:
                extra = alt.get("additionalProperties")
                self.value(
                    get_args(hint)[1], extra if isinstance(extra, dict) else {}, f"{name}{{}}"
                )

    def check(self) -> list[str]:
        for cls, component in COMPONENTS.items():
            schema = self.doc["components"]["schemas"].get(component)
            if schema is None:
                self.problems.append(f"{cls.__name__}: no component {component!r}")
            else:
                self.model(cls, schema, cls.__name__)
        return self.problems


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    kinds = {int: "integer", float: "number", str: "string", type(None): "null"}
    return kinds.get(type(value), "object")


def accepted_types(hint: Any) -> set[str] | None:
    """The JSON types the decoder takes for ``hint`` (None: any)."""
    if hint is Any:
        return None
    if isinstance(hint, type) and issubclass(hint, JsonModel):
        return {"object"}
    origin = get_origin(hint)
    if origin is not None:  # tuple[X, ...], Mapping[str, X], X | None
        if origin is tuple:
            return {"array"}
        if origin is Mapping:
            return {"object"}
        return set().union(*(accepted_types(arg) or set() for arg in get_args(hint))) | {"null"}
    table: dict[Any, set[str]] = {
        bool: {"boolean"},
        int: {"integer"},
        float: {"number", "integer"},
        str: {"string"},
        datetime: {"string", "number", "integer"},
    }
    return table[hint]


def every_model() -> set[type]:
    return {
        value
        for value in vars(models).values()
        if isinstance(value, type) and issubclass(value, JsonModel) and value is not JsonModel
    }


# -- against the live bridge ------------------------------------------------------------


@pytest.fixture
def bridge(virtual_bridge: Bridge) -> Bridge:
    """A bridge on the virtual clock that has run a while: every data-id was read."""
    return virtual_bridge


@pytest.fixture
async def http(bridge: Bridge, api_token: str) -> AsyncIterator[Callable[..., Any]]:
    """GET or POST a path of the bridge, with the token; the JSON answer."""
    async with aiohttp.ClientSession(
        base_url=f"http://127.0.0.1:{bridge.port}",
        headers={"Authorization": f"Bearer {api_token}"},
    ) as session:

        async def call(path: str, method: str = "GET", **kwargs: Any) -> Any:
            async with session.request(method, path, **kwargs) as response:
                assert response.status == 200, await response.text()
                return await response.json()

        call.session = session  # type: ignore[attr-defined]
        yield call


@pytest.fixture
async def document(http: Callable[..., Any]) -> dict[str, Any]:
    """The bridge's published API document."""
    doc: dict[str, Any] = await http("/openapi.json")
    return doc


async def test_every_model_fits_the_published_document(document: dict[str, Any]) -> None:
    contract = Contract(document)
    assert contract.check() == []
    assert contract.checked == every_model()


UNIT_SETTINGS: dict[str, tuple[Any, ...]] = {
    "unit_status_led": models.UNIT_STATUS_LEDS,
    "unit_display": models.UNIT_DISPLAYS,
    "unit_language": models.UNIT_LANGUAGES,
    "unit_brightness": models.UNIT_BRIGHTNESS_RANGE,
    "unit_calibration": models.UNIT_CALIBRATION_RANGE,
    "unit_poll_throttle": models.UNIT_THROTTLE_RANGE,
}
"""The wall unit settings' values or bounds the entities offer, by option."""


async def test_the_unit_settings_offered_are_the_ones_the_bridge_takes(
    document: dict[str, Any],
) -> None:
    """The selects' values and the numbers' bounds are the bridge's, in its order."""
    properties = document["components"]["schemas"]["OptionsChange"]["properties"]
    for name, offered in UNIT_SETTINGS.items():
        schema = properties[name]
        enums = [alt["enum"] for alt in schema.get("anyOf", [schema]) if "enum" in alt]
        taken = tuple(enums[0]) if enums else (schema["minimum"], schema["maximum"])
        assert offered == taken, name


def _rename(schema: dict[str, Any], old: str, new: str) -> None:
    schema["properties"][new] = schema["properties"].pop(old)
    schema["required"] = [new if key == old else key for key in schema.get("required", [])]


MISMATCHES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "renamed field": (
        lambda s: _rename(s["NativeThermostat"], "room_temperature", "room_temp"),
        "Thermostat.room_temperature: 'room_temperature' is not in the schema",
    ),
    "renamed nested field": (
        lambda s: _rename(s["Faults"]["properties"]["flags"], "low_water_pressure", "low_water"),
        "Faults.low_water_pressure: 'flags.low_water_pressure' is not in the schema",
    ),
    "retyped field": (
        lambda s: s["Options"]["properties"]["preheat"].update(type="string"),
        "Options.preheat: the bridge sends {'string'}",
    ),
    "number for a whole number": (
        lambda s: s["ProductVersion"]["properties"]["type"].update(type=["number", "null"]),
        "Capabilities.product_type: the bridge sends",
    ),
    "nullable where the client requires a value": (
        lambda s: s["Programs"]["properties"]["home"].update(type=["number", "null"]),
        "Programs.home: the client requires it, the bridge may omit it",
    ),
    "no longer required": (
        lambda s: s["Health"]["required"].remove("bridge_id"),
        "BridgeInfo.bridge_id: the client requires it, the bridge may omit it",
    ),
    "timestamp no longer a date-time": (
        lambda s: s["ScheduleBlock"]["properties"]["start"].pop("format"),
        "ScheduleBlock.start: a string that is not a date-time",
    ),
    "component gone": (
        lambda s: s.pop("Energy"),
        "Energy: no component 'Energy'",
    ),
}


@pytest.mark.parametrize("mismatch", MISMATCHES)
async def test_a_mismatch_fails(document: dict[str, Any], mismatch: str) -> None:
    """A copy of the document with one field changed no longer fits the client."""
    change, expected = MISMATCHES[mismatch]
    changed = copy.deepcopy(document)
    change(changed["components"]["schemas"])
    problems = Contract(changed).check()
    assert any(problem.startswith(expected) for problem in problems), problems


async def test_models_decode_every_live_answer(
    bridge: Bridge, http: Callable[..., Any], pairing_code: str
) -> None:
    """What the integration reads from the bridge decodes, down to the values it shows."""
    health = BridgeInfo.from_dict(await http("/api/v1/health"))
    assert health.bridge_id == bridge.bridge_id

    pairing = PairingResult.from_dict(
        await http("/api/v1/pair", "POST", json={"code": pairing_code, "client_name": "t"})
    )
    assert pairing.bridge_id == bridge.bridge_id

    raw_state = await http("/api/v1/state")
    state = BridgeState.from_dict(
        raw_state, predictions=Predictions.from_dict(raw_state["predictions"])
    )
    assert state.boiler is not None
    assert state.boiler.values
    assert state.capabilities is not None
    assert state.capabilities.known
    assert state.faults is not None
    assert state.options is not None
    assert state.options.heating_system == "radiators"
    assert state.options.unit_language is None
    assert state.units is None  # not a unit link
    assert not state.link.wall_unit
    assert state.energy is not None
    assert all(isinstance(state.counters[name], int) for name in models.COUNTER_NAMES)
    assert state.thermostat.room_temperature is not None
    assert state.thermostat.current_block is not None

    thermostat = Thermostat.from_dict(await http("/api/v1/thermostat"))
    assert thermostat.programs is not None
    assert thermostat.schedule
    assert thermostat.next_start is not None

    predictions = Predictions.from_dict(await http("/api/v1/predictions"))
    assert predictions.available
    assert predictions.progress is not None

    assert Options.from_dict(await http("/api/v1/options")) == state.options

    start = datetime.fromtimestamp(bridge.clock.time(), tz=UTC)
    answer = await http(
        "/api/v1/schedule/blocks",
        params={"start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat()},
    )
    blocks = [ScheduleBlock.from_dict(item) for item in answer["blocks"]]
    assert len(blocks) > 7
    assert blocks[0].start <= start < blocks[0].end


async def test_models_decode_pushed_messages(
    bridge: Bridge, http: Callable[..., Any], api_token: str
) -> None:
    """The push channel's whole state and a change merged into it decode too."""
    session: aiohttp.ClientSession = http.session  # type: ignore[attr-defined]
    async with session.ws_connect("/api/v1/ws") as ws:
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "state"
        document = first["data"]
        assert BridgeState.from_dict(document).thermostat.target_temperature != 22.0
        await bridge.thermostat.update({"target_temperature": 22.0}, remote=False)
        while True:
            message = await ws.receive_json(timeout=5)
            if message["type"] == "changed":
                merge_patch(document, message["data"])
                if BridgeState.from_dict(document).thermostat.target_temperature == 22.0:
                    break


async def test_models_decode_the_state_of_a_bridge_with_wall_units(unit_rig: Rig) -> None:
    """A bridge on a unit link: its units, their device data, and the unit settings."""
    bridge = unit_rig.bridge
    token = (await bridge.db.auth.create_token("t")).token
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.put(
            f"http://127.0.0.1:{bridge.port}/api/v1/options",
            json={"unit_language": "en-GB", "unit_calibration": -0.5},
        ) as changed,
        session.get(f"http://127.0.0.1:{bridge.port}/api/v1/state") as response,
    ):
        assert changed.status == 200, await changed.text()
        state = BridgeState.from_dict(await response.json())
    assert state.link.wall_unit
    assert state.units is not None
    [wall_unit] = state.units
    assert wall_unit.hardware_id == HWID
    assert wall_unit.house
    assert wall_unit.connected
    assert wall_unit.revision == 5
    assert wall_unit.firmware == unit_rig.unit.firmware
    assert wall_unit.room_temperature is not None
    assert wall_unit.last_seen is not None
    assert wall_unit.pid is not None
    assert state.unit(HWID) == wall_unit
    assert state.options is not None
    assert state.options.unit_language == "en-GB"
    assert state.options.unit_calibration == -0.5
    assert state.options.unit_brightness is None
