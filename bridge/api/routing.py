"""Route declarations, and the OpenAPI pieces the routes share.

Each module of :mod:`bridge.api` declares its routes as :class:`Route`
objects, each with its OpenAPI operation, next to the handlers, and
registers them with :func:`register`; :mod:`bridge.api.openapi` builds the
document from those declarations. What the operations share lives here:
the common error responses, the security schemes, the tags and the
helpers that write an operation. Schemas are payload models
(:mod:`bridge.core.payloads`), referred to with :func:`ref`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bridge.core.contract import Named, is_model, ref as schema_ref
from bridge.core.payloads.common import Error

Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STR: Json = {"type": "string"}
INT: Json = {"type": "integer"}


def ref(model: Any) -> Json:
    """A reference to a payload model's component (a model class or a named alias)."""
    if is_model(model):
        return schema_ref(model.__name__)
    named = next((m for m in getattr(model, "__metadata__", ()) if isinstance(m, Named)), None)
    if named is None:
        raise TypeError(f"{model!r} is not a payload model")
    return schema_ref(named.name)


@dataclass(frozen=True, slots=True)
class Route:
    """One route: method, path, handler, and its OpenAPI operation."""

    method: str
    path: str
    handler: Handler
    operation: Json


#: The operations of the routes an app serves, by ``(METHOD, path)``.
OPERATIONS_KEY: web.AppKey[dict[tuple[str, str], Json]] = web.AppKey("operations", dict)


def register(app: web.Application, routes: Iterable[Route]) -> None:
    """Add ``routes`` to the app's router, and their operations to its document."""
    operations = app.setdefault(OPERATIONS_KEY, {})
    for route in routes:
        app.router.add_route(route.method, route.path, route.handler)
        operations[(route.method, route.path)] = route.operation


# -- responses and parameters ---------------------------------------------------------


def error_response(description: str, **extra: Any) -> Json:
    return {
        "description": description,
        "content": {"application/json": {"schema": ref(Error)}},
        **extra,
    }


RESPONSES: Json = {
    "BadRequest": error_response(
        "Bad input: `errors` names each field and the rule; nothing changed."
    ),
    "Unauthorized": error_response(
        "Missing, unknown, expired or revoked token.",
        headers={"WWW-Authenticate": {"schema": STR, "description": 'Bearer realm="thermosmart"'}},
    ),
    "Forbidden": error_response("The token may not do this (an owner token is needed)."),
    "NotFound": error_response("No such thermostat or object."),
    "PayloadTooLarge": error_response("The body is larger than 64 KiB."),
    "UnsupportedMediaType": error_response("The body is not application/json."),
    "TooManyRequests": error_response(
        "Too many failures from this address; wait and try again.",
        headers={"Retry-After": {"schema": INT, "description": "seconds"}},
    ),
}

SECURITY_SCHEMES: Json = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from pairing, `thermosmart-bridge token create` or OAuth.",
    },
    "accessToken": {
        "type": "apiKey",
        "in": "query",
        "name": "access_token",
        "description": "The same token in the query, as older ThermoSmart clients send it.",
    },
    "oauth2": {
        "type": "oauth2",
        "description": "The ThermoSmart authorization-code flow, with rotating refresh tokens.",
        "flows": {
            "authorizationCode": {
                "authorizationUrl": "/oauth2/authorize",
                "tokenUrl": "/oauth2/token",
                "refreshUrl": "/oauth2/token",
                "scopes": {"ot": "read and steer the thermostat"},
            }
        },
    },
    "clientBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "OAuth client credentials (client_id:client_secret).",
    },
}

TOKEN_SECURITY: list[Json] = [{"bearer": []}, {"accessToken": []}]
CLOUD_SECURITY: list[Json] = [*TOKEN_SECURITY, {"oauth2": ["ot"]}]
PUBLIC: list[Json] = []


def response_ref(name: str) -> Json:
    return {"$ref": f"#/components/responses/{name}"}


def _schema(schema: Any) -> Json:
    return schema if isinstance(schema, dict) else ref(schema)


def json_ok(schema: Any, description: str = "OK") -> Json:
    """An answer with a JSON body (``schema``: a payload model or a schema)."""
    return {
        "description": description,
        "content": {"application/json": {"schema": _schema(schema)}},
    }


def json_body(schema: Any, *, required: bool = True, form: bool = False) -> Json:
    """A JSON request body (``form``: also accepted as a form body)."""
    schema = _schema(schema)
    content: Json = {"application/json": {"schema": schema}}
    if form:
        content["application/x-www-form-urlencoded"] = {"schema": schema}
    return {"required": required, "content": content}


def form_body(schema: Any) -> Json:
    """A form request body."""
    return {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": _schema(schema)}},
    }


def query(name: str, description: str, schema: Json | None = None, **extra: Any) -> Json:
    """A query parameter."""
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": schema or STR,
        **extra,
    }


def path_param(name: str, description: str, schema: Json | None = None) -> Json:
    """A path parameter."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or STR,
    }


TIME: Json = {
    "type": "string",
    "description": "ISO 8601 with an offset (2026-01-31T08:00:00+01:00 or …Z) or Unix seconds",
}
HW = path_param("hw", "the thermostat's hardware id (GET /thermostat tells it)")

AUTH_ERRORS: Json = {"401": response_ref("Unauthorized")}
QUERY_ERRORS: Json = {"400": response_ref("BadRequest"), **AUTH_ERRORS}
BODY_ERRORS: Json = {
    "400": response_ref("BadRequest"),
    **AUTH_ERRORS,
    "413": response_ref("PayloadTooLarge"),
    "415": response_ref("UnsupportedMediaType"),
}
OWNER_ERRORS: Json = {"403": response_ref("Forbidden")}


HTML_PAGE: Json = {"text/html": {"schema": STR}}


def operation(
    op_id: str,
    summary: str,
    tag: str,
    responses: Json,
    *,
    description: str | None = None,
    security: list[Json] | None = None,
    parameters: list[Json] | None = None,
    body: Json | None = None,
) -> Json:
    """One OpenAPI operation."""
    out: Json = {"operationId": op_id, "summary": summary, "tags": [tag]}
    if description:
        out["description"] = description
    if parameters:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = body
    out["responses"] = responses
    if security is not None:
        out["security"] = security
    return out


TAGS: list[Json] = [
    {"name": "meta", "description": "This document and the bridge's identity"},
    {"name": "access", "description": "Pairing"},
    {"name": "oauth", "description": "OAuth2 authorization-code flow of the ThermoSmart API"},
    {"name": "cloud", "description": "The cloud-compatible ThermoSmart API (THERMOSMART_API.md)"},
    {"name": "native", "description": "The native API: what the cloud API lacks"},
    {"name": "privacy", "description": "Export, erase, consents and the egress log"},
    {"name": "push", "description": "The WebSocket push channel"},
]
