"""/openapi.json: valid OpenAPI 3.1, complete, and true to what the bridge answers."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_openapi

from bridge.api.openapi import build_document, served_routes, undocumented
from bridge.core.clock import VirtualClock
from bridge.core.contract import components
from bridge.core.payloads import catalog
from bridge.daemon import Bridge

from .native_helpers import call, make_token

PATH_VALUES = {"hw": "TSL0000000000", "id": "1", "purpose": "cloud_sync"}


async def _document(b: Bridge, http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.get(f"http://127.0.0.1:{b.port}/openapi.json") as resp:
        assert resp.status == 200  # no token needed
        assert resp.content_type == "application/json"
        doc: dict[str, Any] = await resp.json()
    return doc


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
    ]


def _schema_validator(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    # "#/components/..." references resolve against a root that holds the components
    root = {**schema, "components": doc["components"]}
    return OAS31Validator(root)


def _response_schema(doc: dict[str, Any], method: str, path: str, status: int) -> dict[str, Any]:
    response = doc["paths"][path][method.lower()]["responses"][str(status)]
    if "$ref" in response:
        response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema


async def test_served_document_is_valid_and_lists_every_route(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession
) -> None:
    b, _ = vb
    doc = await _document(b, http)
    validate_openapi(doc)
    assert doc["openapi"] == "3.1.0"
    runner = b._runner
    assert runner is not None
    served = served_routes(runner.app)
    assert undocumented(served) == [], "a served route has no OpenAPI description"
    documented = {(method, path) for method, path, _ in _operations(doc)}
    assert documented == served
    for route in [
        ("GET", "/api/v1/health"),
        ("POST", "/api/v1/pair"),
        ("GET", "/api/v1/state"),
        ("GET", "/thermostat/{hw}"),
        ("PUT", "/thermostat/{hw}"),
        ("GET", "/api/v1/ws"),
        ("POST", "/api/v1/erase"),
        ("GET", "/openapi.json"),
    ]:
        assert route in documented


def test_full_description_set_is_valid() -> None:
    doc = build_document()
    validate_openapi(doc)
    documented = {(method, path) for method, path, _ in _operations(doc)}
    # the OAuth and webhook routes of THERMOSMART_API.md are described
    for route in [
        ("POST", "/login"),
        ("GET", "/oauth2/authorize"),
        ("POST", "/oauth2/authorize/decision"),
        ("POST", "/oauth2/token"),
        ("POST", "/"),
        ("POST", "/webhook"),
    ]:
        assert route in documented
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearer"]["description"],
    }
    assert schemes["accessToken"]["in"] == "query"
    assert schemes["accessToken"]["name"] == "access_token"


def test_an_undocumented_route_is_noticed() -> None:
    assert undocumented([("GET", "/api/v1/health"), ("GET", "/api/v1/secret")]) == [
        ("GET", "/api/v1/secret")
    ]
    doc = build_document([("GET", "/api/v1/health"), ("GET", "/api/v1/secret")])
    assert list(doc["paths"]) == ["/api/v1/health"]


async def test_documented_security_matches_the_bridge(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession
) -> None:
    """Every operation that says it needs a token answers 401 without one; public ones do not."""
    b, _ = vb
    doc = await _document(b, http)
    default = doc["security"]
    for method, path, op in _operations(doc):
        url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
        security = op.get("security", default)
        needs_token = any("bearer" in s for s in security)
        async with http.request(method, f"http://127.0.0.1:{b.port}{url}") as resp:
            challenge = resp.headers.get("WWW-Authenticate", "")
            if needs_token:
                assert resp.status == 401, (method, path)
                assert challenge.startswith("Bearer"), (method, path)
                assert "401" in op["responses"], (method, path)
            else:
                assert not challenge.startswith("Bearer"), (method, path)


async def test_answers_match_the_documented_schemas(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession
) -> None:
    b, clock = vb
    token = await make_token(b)
    hw = b.thermostat.hardware_id
    await clock.advance(30)  # boiler values, a control command, samples
    for _ in range(20):  # and the energy counters (null until the boiler's size is known)
        if b.native_state()["energy"] is not None:
            break
        await clock.advance(30)
    assert b.native_state()["energy"] is not None
    await b.db.egress.record("cloud.example", "/sync", "cloud_sync", ["programs"], 10)
    await b.db.events.log("info", "started", data={"a": 1})  # type: ignore[arg-type]
    doc = await _document(b, http)
    calls: list[tuple[str, str, str, dict[str, Any]]] = [
        ("GET", "/api/v1/health", "/api/v1/health", {}),
        ("GET", "/api/v1/state", "/api/v1/state", {}),
        ("GET", "/thermostat", "/thermostat", {}),
        ("GET", "/thermostat/{hw}", f"/thermostat/{hw}", {}),
        ("PUT", "/thermostat/{hw}", f"/thermostat/{hw}", {"json": {"target_temperature": 21}}),
        ("POST", "/thermostat/{hw}/pause", f"/thermostat/{hw}/pause", {"json": {"pause": False}}),
        ("GET", "/api/v1/thermostat", "/api/v1/thermostat", {}),
        (
            "PATCH",
            "/api/v1/thermostat",
            "/api/v1/thermostat",
            {"json": {"target_temperature": 20}},
        ),
        ("POST", "/api/v1/thermostat/override/clear", "/api/v1/thermostat/override/clear", {}),
        ("POST", "/api/v1/thermostat/pause", "/api/v1/thermostat/pause", {"json": {"pause": True}}),
        ("GET", "/api/v1/history", "/api/v1/history?key=room_temperature", {}),
        ("GET", "/api/v1/history", "/api/v1/history?key=room_temperature&resolution=hourly", {}),
        ("GET", "/api/v1/events", "/api/v1/events", {}),
        ("GET", "/api/v1/schedule/blocks", "/api/v1/schedule/blocks", {}),
        (
            "GET",
            "/api/v1/schedule/blocks",
            "/api/v1/schedule/blocks?start=2026-03-25T00:00:00Z&end=1775260800",
            {},
        ),
        ("GET", "/api/v1/diagnostics", "/api/v1/diagnostics", {}),
        ("GET", "/api/v1/predictions", "/api/v1/predictions", {}),
        ("GET", "/api/v1/settings", "/api/v1/settings", {}),
        ("PUT", "/api/v1/settings", "/api/v1/settings", {"json": {"location": "Ede"}}),
        ("GET", "/api/v1/tokens", "/api/v1/tokens", {}),
        ("GET", "/api/v1/export", "/api/v1/export", {}),
        ("GET", "/api/v1/privacy/consents", "/api/v1/privacy/consents", {}),
        (
            "PUT",
            "/api/v1/privacy/consents/{purpose}",
            "/api/v1/privacy/consents/statistics",
            {"json": {"granted": True, "terms_version": "1"}},
        ),
        ("GET", "/api/v1/privacy/egress", "/api/v1/privacy/egress", {}),
        ("GET", "/openapi.json", "/openapi.json", {}),
    ]
    for method, path, url, kwargs in calls:
        status, body = await call(http, b, method, url, token, **kwargs)
        assert status == 200, (method, url, body)
        validator = _schema_validator(doc, _response_schema(doc, method, path, 200))
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
        assert errors == [], (method, url, errors[:5])
    # the erase answer, last (it empties the database)
    status, body = await call(http, b, "POST", "/api/v1/erase", token, json={"confirm": True})
    assert status == 200
    _schema_validator(doc, _response_schema(doc, "POST", "/api/v1/erase", 200)).validate(body)


async def test_error_answers_match_the_error_schema(
    vb: tuple[Bridge, VirtualClock], http: aiohttp.ClientSession
) -> None:
    b, _ = vb
    token = await make_token(b)
    doc = await _document(b, http)
    error_schema = _schema_validator(doc, {"$ref": "#/components/schemas/Error"})
    bad: list[tuple[str, str, str, dict[str, Any], int]] = [
        ("PATCH", "/api/v1/thermostat", token, {"json": {"target_temperature": 99}}, 400),
        ("GET", "/api/v1/history", token, {}, 400),
        ("GET", "/api/v1/schedule/blocks?end=0", token, {}, 400),
        ("PUT", "/api/v1/settings", token, {"json": {"email": "x"}}, 400),
        ("DELETE", "/api/v1/tokens/abc", token, {}, 400),
        ("DELETE", "/api/v1/tokens/77", token, {}, 404),
        ("POST", "/api/v1/erase", token, {"json": {}}, 400),
        ("PUT", "/api/v1/privacy/consents/ads", token, {"json": {}}, 400),
        ("GET", "/api/v1/state", "", {}, 401),
        ("PATCH", "/api/v1/thermostat", token, {"data": "x", "headers": {"X": "1"}}, 415),
    ]
    for method, url, tok, kwargs, expected in bad:
        status, body = await call(http, b, method, url, tok or None, **kwargs)
        assert status == expected, (method, url, body)
        error_schema.validate(body)


def test_every_schema_component_comes_from_a_model() -> None:
    doc = build_document()
    models = catalog()  # every model and named alias of bridge.core.payloads
    schemas = doc["components"]["schemas"]
    assert set(schemas) <= set(models), "a component without a payload model"
    assert schemas == components(*(models[name] for name in schemas))
