"""What ``/openapi.json`` says: one description per route, and the schemas they use.

:data:`OPERATIONS` maps ``(METHOD, path)`` to an OpenAPI 3.1 operation;
:data:`COMPONENTS` holds the shared schemas, responses and security
schemes. :mod:`bridge.api.openapi` builds the document from these for the
routes the app actually serves; a route without an entry here is missing
from the document (and fails the OpenAPI test).
"""

from __future__ import annotations

from typing import Any

from bridge.core.contract import components
from bridge.core.payloads.access import (
    DecisionForm,
    Health,
    LoginForm,
    OAuthError,
    OAuthToken,
    PairRequest,
    PairResponse,
    RevokedToken,
    TokenForm,
    Tokens,
)
from bridge.core.payloads.common import Error
from bridge.core.payloads.history import EventKind, Events, History
from bridge.core.payloads.native import Diagnostics, NativeState
from bridge.core.payloads.options import OptionsChange, Settings, SettingsUpdate
from bridge.core.payloads.privacy import (
    Consents,
    ConsentUpdate,
    Egress,
    EraseRequest,
    EraseResult,
    Export,
    Purpose,
)
from bridge.core.payloads.thermostat import (
    CloudThermostat,
    Own,
    PauseRequest,
    ThermostatState,
    ThermostatUpdate,
)
from bridge.core.payloads.ws import (
    LegacyWebhookRegistration,
    WebhookMessage,
    WebhookRegistration,
    WsClientMessage,
    WsServerMessage,
)

Json = dict[str, Any]

PURPOSES = [p.value for p in Purpose]
EVENT_KINDS = [k.value for k in EventKind]


# -- schema helpers ------------------------------------------------------------------


def ref(name: str) -> Json:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Json) -> Json:
    """``schema`` or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def obj(
    properties: Json,
    *,
    required: list[str] | None = None,
    closed: bool = True,
    description: str | None = None,
) -> Json:
    """An object schema; every property is required unless ``required`` says otherwise."""
    out: Json = {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }
    if closed:
        out["additionalProperties"] = False
    if description:
        out["description"] = description
    return out


def array(items: Json, **extra: Any) -> Json:
    """An array of ``items``."""
    return {"type": "array", "items": items, **extra}


STR: Json = {"type": "string"}
NUM: Json = {"type": "number"}
INT: Json = {"type": "integer"}
BOOL: Json = {"type": "boolean"}
N_STR: Json = {"type": ["string", "null"]}
N_NUM: Json = {"type": ["number", "null"]}
N_INT: Json = {"type": ["integer", "null"]}
N_BOOL: Json = {"type": ["boolean", "null"]}

TS: Json = {"type": "number", "description": "Unix time in seconds (UTC)"}

#: The component schemas, generated from the payload models (every model
#: reachable from these roots is a component named after its class).
SCHEMAS: Json = components(
    Error,
    Health,
    PairRequest,
    PairResponse,
    Own,
    CloudThermostat,
    ThermostatUpdate,
    PauseRequest,
    ThermostatState,
    NativeState,
    History,
    Events,
    Diagnostics,
    OptionsChange,
    Settings,
    SettingsUpdate,
    Tokens,
    RevokedToken,
    Export,
    EraseRequest,
    EraseResult,
    Consents,
    ConsentUpdate,
    Egress,
    WsServerMessage,
    WsClientMessage,
    LoginForm,
    DecisionForm,
    TokenForm,
    OAuthToken,
    OAuthError,
    WebhookRegistration,
    LegacyWebhookRegistration,
    WebhookMessage,
)


# -- responses and parameters ---------------------------------------------------------


def _error(description: str, **extra: Any) -> Json:
    return {
        "description": description,
        "content": {"application/json": {"schema": ref("Error")}},
        **extra,
    }


RESPONSES: Json = {
    "BadRequest": _error("Bad input: `errors` names each field and the rule; nothing changed."),
    "Unauthorized": _error(
        "Missing, unknown, expired or revoked token.",
        headers={"WWW-Authenticate": {"schema": STR, "description": 'Bearer realm="thermosmart"'}},
    ),
    "Forbidden": _error("The token may not do this (an owner token is needed)."),
    "NotFound": _error("No such thermostat or object."),
    "PayloadTooLarge": _error("The body is larger than 64 KiB."),
    "UnsupportedMediaType": _error("The body is not application/json."),
    "TooManyRequests": _error(
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

COMPONENTS: Json = {
    "schemas": SCHEMAS,
    "responses": RESPONSES,
    "securitySchemes": SECURITY_SCHEMES,
}

TOKEN_SECURITY: list[Json] = [{"bearer": []}, {"accessToken": []}]
CLOUD_SECURITY: list[Json] = [*TOKEN_SECURITY, {"oauth2": ["ot"]}]
PUBLIC: list[Json] = []


def _r(name: str) -> Json:
    return {"$ref": f"#/components/responses/{name}"}


def json_ok(schema: Json, description: str = "OK") -> Json:
    """A 200 answer with a JSON body."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_body(schema: Json, *, required: bool = True, form: bool = False) -> Json:
    """A JSON request body (``form``: also accepted as a form body)."""
    content: Json = {"application/json": {"schema": schema}}
    if form:
        content["application/x-www-form-urlencoded"] = {"schema": schema}
    return {"required": required, "content": content}


def form_body(schema: Json) -> Json:
    """A form request body."""
    return {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}


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

AUTH_ERRORS: Json = {"401": _r("Unauthorized")}
QUERY_ERRORS: Json = {"400": _r("BadRequest"), **AUTH_ERRORS}
BODY_ERRORS: Json = {
    "400": _r("BadRequest"),
    **AUTH_ERRORS,
    "413": _r("PayloadTooLarge"),
    "415": _r("UnsupportedMediaType"),
}
OWNER_ERRORS: Json = {"403": _r("Forbidden")}


def op(
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
    """One operation."""
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


HTML_PAGE: Json = {"text/html": {"schema": STR}}

OPERATIONS: dict[tuple[str, str], Json] = {
    # -- meta and access --
    ("GET", "/openapi.json"): op(
        "getOpenApi",
        "This document",
        "meta",
        {"200": json_ok({"type": "object"}, "The OpenAPI 3.1 description of every route.")},
        security=PUBLIC,
    ),
    ("GET", "/api/v1/health"): op(
        "getHealth",
        "Who this bridge is (no token needed)",
        "meta",
        {"200": json_ok(ref("Health"))},
        security=PUBLIC,
    ),
    ("POST", "/api/v1/pair"): op(
        "pair",
        "Exchange a one-time pairing code for a token",
        "access",
        {
            "200": json_ok(ref("PairResponse")),
            "400": _r("BadRequest"),
            "401": _error("The code is wrong, used or expired."),
            "413": _r("PayloadTooLarge"),
            "415": _r("UnsupportedMediaType"),
            "429": _r("TooManyRequests"),
        },
        description="Codes come from `thermosmart-bridge pair`, are valid 10 minutes and work "
        "once. Repeated wrong codes from one address are answered 429.",
        security=PUBLIC,
        body=json_body(ref("PairRequest")),
    ),
    # -- OAuth (THERMOSMART_API.md) --
    ("GET", "/login"): op(
        "loginPage",
        "The owner's login page",
        "oauth",
        {"200": {"description": "HTML login form", "content": HTML_PAGE}},
        security=PUBLIC,
    ),
    ("POST", "/login"): op(
        "login",
        "Log the owner in (sets a session cookie)",
        "oauth",
        {
            "200": {"description": "Logged in", "content": HTML_PAGE},
            "302": {"description": "Logged in; back to the page that asked for it"},
            "400": _r("BadRequest"),
            "401": {"description": "Wrong username or password", "content": HTML_PAGE},
            "429": _r("TooManyRequests"),
        },
        description="`username` is the hardware id or the owner's e-mail; the password is the "
        "bridge's pairing secret.",
        security=PUBLIC,
        body=form_body(ref("LoginForm")),
    ),
    ("GET", "/oauth2/authorize"): op(
        "authorize",
        "Start the authorization-code flow",
        "oauth",
        {
            "200": {
                "description": "Consent form (with a hidden transaction_id), or the login form",
                "content": HTML_PAGE,
            },
            "302": {"description": "To the login page, or back to redirect_uri with an error"},
            "400": {"description": "Unknown client or redirect_uri", "content": HTML_PAGE},
        },
        security=PUBLIC,
        parameters=[
            query("client_id", "the registered client", required=True),
            query("response_type", "always code", {"const": "code"}, required=True),
            query("redirect_uri", "one of the client's registered URIs", required=True),
            query("scope", "ot", {"const": "ot"}),
            query("state", "returned unchanged"),
        ],
    ),
    ("POST", "/oauth2/authorize/decision"): op(
        "authorizeDecision",
        "The owner allows (or denies) the client",
        "oauth",
        {
            "302": {
                "description": "To redirect_uri?code=…&state=… (or ?error=access_denied)",
                "headers": {"Location": {"schema": STR}},
            },
            "400": {"description": "Unknown or used transaction", "content": HTML_PAGE},
            "401": {"description": "Not logged in", "content": HTML_PAGE},
        },
        security=PUBLIC,
        body=form_body(ref("DecisionForm")),
    ),
    ("POST", "/oauth2/token"): op(
        "token",
        "Exchange a code, or rotate a refresh token",
        "oauth",
        {
            "200": json_ok(ref("OAuthToken")),
            "400": json_ok(ref("OAuthError"), "invalid_request, invalid_grant, …"),
            "401": json_ok(ref("OAuthError"), "invalid_client"),
            "429": _r("TooManyRequests"),
        },
        description="Client credentials by HTTP Basic or as client_id/client_secret form "
        "fields. Refresh tokens rotate: the old one stops working.",
        security=[{"clientBasic": []}, {}],
        body=form_body(ref("TokenForm")),
    ),
    # -- webhooks --
    ("POST", "/"): op(
        "registerWebhook",
        "Register (or with an empty URL remove) the token's webhook",
        "cloud",
        {"200": json_ok(ref("WebhookRegistration")), **BODY_ERRORS},
        description="On every change the bridge POSTs a WebhookMessage to the URL; delivery is "
        "retried with backoff and never blocks the thermostat.",
        security=CLOUD_SECURITY,
        body=json_body(ref("WebhookRegistration")),
    ),
    ("POST", "/webhook"): op(
        "registerWebhookLegacy",
        "The same as POST /, as older clients send it",
        "cloud",
        {"200": json_ok(ref("LegacyWebhookRegistration")), **BODY_ERRORS},
        security=CLOUD_SECURITY,
        body=json_body(ref("LegacyWebhookRegistration")),
    ),
    # -- the cloud-compatible thermostat --
    ("GET", "/thermostat"): op(
        "getOwnThermostat",
        "The thermostat the token belongs to",
        "cloud",
        {"200": json_ok(ref("Own")), **AUTH_ERRORS},
        security=CLOUD_SECURITY,
    ),
    ("GET", "/thermostat/{hw}"): op(
        "getThermostat",
        "The thermostat object",
        "cloud",
        {"200": json_ok(ref("CloudThermostat")), **AUTH_ERRORS, "404": _r("NotFound")},
        security=CLOUD_SECURITY,
        parameters=[HW],
    ),
    ("PUT", "/thermostat/{hw}"): op(
        "updateThermostat",
        "Update the thermostat (whole or not at all)",
        "cloud",
        {
            "200": json_ok(ref("CloudThermostat"), "The updated thermostat object"),
            "204": {"description": "Empty update: nothing to do"},
            **BODY_ERRORS,
            "404": _r("NotFound"),
        },
        description="A target_temperature is a remote override (`source` remote) until the next "
        "schedule block.",
        security=CLOUD_SECURITY,
        parameters=[HW],
        body=json_body(ref("ThermostatUpdate"), form=True),
    ),
    ("POST", "/thermostat/{hw}/pause"): op(
        "pauseThermostat",
        "Pause (hold the pause program) or resume",
        "cloud",
        {"200": json_ok(ref("CloudThermostat")), **BODY_ERRORS, "404": _r("NotFound")},
        security=CLOUD_SECURITY,
        parameters=[HW],
        body=json_body(ref("PauseRequest")),
    ),
    ("POST", "/thermostat/{hw}/unpause"): op(
        "unpauseThermostat",
        "Resume (the same as pause false)",
        "cloud",
        {"200": json_ok(ref("CloudThermostat")), **AUTH_ERRORS, "404": _r("NotFound")},
        security=CLOUD_SECURITY,
        parameters=[HW],
    ),
    # -- native --
    ("GET", "/api/v1/state"): op(
        "getState",
        "The whole native state",
        "native",
        {"200": json_ok(ref("NativeState")), **AUTH_ERRORS},
    ),
    ("GET", "/api/v1/thermostat"): op(
        "getNativeThermostat",
        "The thermostat: live state, programs, schedule, exceptions",
        "native",
        {"200": json_ok(ref("NativeThermostat")), **QUERY_ERRORS},
    ),
    ("PATCH", "/api/v1/thermostat"): op(
        "patchNativeThermostat",
        "Update the thermostat (whole or not at all)",
        "native",
        {"200": json_ok(ref("NativeThermostat")), **BODY_ERRORS},
        description="The fields and rules of PUT /thermostat/{hw} (JSON only; an empty object "
        "is refused). A target_temperature set here is a manual override (`source` manual): "
        "native clients act on the LAN for the people at home, like the dial.",
        body=json_body(ref("ThermostatUpdate")),
    ),
    ("POST", "/api/v1/thermostat/override/clear"): op(
        "clearOverride",
        "Drop a manual or remote override: back to the schedule",
        "native",
        {"200": json_ok(ref("NativeThermostat")), **BODY_ERRORS},
        description="Takes no body (or `{}`).",
    ),
    ("POST", "/api/v1/thermostat/pause"): op(
        "pauseNative",
        "Pause (hold the pause program, frost protection stays) or resume",
        "native",
        {"200": json_ok(ref("NativeThermostat")), **BODY_ERRORS},
        body=json_body(ref("PauseRequest")),
    ),
    ("GET", "/api/v1/history"): op(
        "getHistory",
        "One measured series, raw or hourly",
        "native",
        {"200": json_ok(ref("History")), **QUERY_ERRORS},
        description="The range is start <= t < end, at most 7 days raw or 731 days hourly; "
        "end defaults to now and start to 24 hours before end.",
        parameters=[
            query(
                "key",
                "room_temperature, target_temperature, outside_temperature, flow_temperature, "
                "return_temperature, dhw_temperature, modulation, control_setpoint, "
                "water_pressure, boiler_outside_temperature, flame_on, ch_active, dhw_active, "
                "relay_on (or another recorded series)",
                required=True,
            ),
            query("start", "from", TIME),
            query("end", "until (exclusive)", TIME),
            query("resolution", "raw samples or hourly aggregates", {"enum": ["raw", "hourly"]}),
        ],
    ),
    ("GET", "/api/v1/events"): op(
        "getEvents",
        "The fault and event log, newest first",
        "native",
        {"200": json_ok(ref("Events")), **QUERY_ERRORS},
        parameters=[
            query("since", "from", TIME),
            query("until", "until (exclusive)", TIME),
            query("kind", "comma-separated: " + ", ".join(EVENT_KINDS)),
            query("limit", "1-1000, default 100", {"type": "string", "pattern": "^[0-9]+$"}),
        ],
    ),
    ("GET", "/api/v1/diagnostics"): op(
        "getDiagnostics",
        "Link and master counters, unknown ids, versions, uptime",
        "native",
        {"200": json_ok(ref("Diagnostics")), **QUERY_ERRORS},
    ),
    ("GET", "/api/v1/predictions"): op(
        "getPredictions",
        "What the learning module predicts",
        "native",
        {"200": json_ok(ref("Predictions")), **QUERY_ERRORS},
        description='`{"available": false, "status": "learning not started"}` until the '
        "first room reading; later fields are added, never renamed.",
    ),
    ("GET", "/api/v1/options"): op(
        "getOptions",
        "The per-bridge options",
        "native",
        {"200": json_ok(ref("Options")), **QUERY_ERRORS, **OWNER_ERRORS},
    ),
    ("PUT", "/api/v1/options"): op(
        "putOptions",
        "Change options: warm-up, heating system, maximum flow, hot water",
        "native",
        {"200": json_ok(ref("Options")), **BODY_ERRORS, **OWNER_ERRORS},
        body=json_body(ref("OptionsChange")),
    ),
    ("GET", "/api/v1/settings"): op(
        "getSettings",
        "The thermostat's name, the city and the owner's e-mail",
        "native",
        {"200": json_ok(ref("Settings")), **QUERY_ERRORS, **OWNER_ERRORS},
    ),
    ("PUT", "/api/v1/settings"): op(
        "putSettings",
        "Change any of name, location, e-mail (all or nothing)",
        "native",
        {"200": json_ok(ref("Settings")), **BODY_ERRORS, **OWNER_ERRORS},
        body=json_body(ref("SettingsUpdate")),
    ),
    ("GET", "/api/v1/tokens"): op(
        "listTokens",
        "Every token, active or not (never a secret)",
        "native",
        {"200": json_ok(ref("Tokens")), **QUERY_ERRORS, **OWNER_ERRORS},
    ),
    ("DELETE", "/api/v1/tokens/{id}"): op(
        "revokeToken",
        "Revoke a token (idempotent); its push sockets close with 4401",
        "native",
        {
            "200": json_ok(ref("RevokedToken")),
            **QUERY_ERRORS,
            **OWNER_ERRORS,
            "404": _r("NotFound"),
        },
        parameters=[path_param("id", "the token's id", {"type": "string", "pattern": "^[0-9]+$"})],
    ),
    # -- privacy --
    ("GET", "/api/v1/export"): op(
        "export",
        "Everything stored about the household, as a JSON download",
        "privacy",
        {
            "200": {
                **json_ok(ref("Export")),
                "headers": {
                    "Content-Disposition": {
                        "schema": STR,
                        "description": 'attachment; filename="thermosmart-export-….json"',
                    }
                },
            },
            **QUERY_ERRORS,
            **OWNER_ERRORS,
        },
    ),
    ("POST", "/api/v1/erase"): op(
        "erase",
        "Erase personal data and history; the thermostat keeps heating on defaults",
        "privacy",
        {"200": json_ok(ref("EraseResult")), **BODY_ERRORS, **OWNER_ERRORS},
        description="Name, city, e-mail, programs, schedule, exceptions, overrides, "
        "measurements, events, learning state, egress log and webhooks go; consents (the "
        "record of what the owner agreed to), the hardware id and the tokens stay (unless "
        "revoke_tokens).",
        body=json_body(ref("EraseRequest")),
    ),
    ("GET", "/api/v1/privacy/consents"): op(
        "getConsents",
        "Consent per purpose, and the history of decisions",
        "privacy",
        {"200": json_ok(ref("Consents")), **QUERY_ERRORS, **OWNER_ERRORS},
    ),
    ("PUT", "/api/v1/privacy/consents/{purpose}"): op(
        "putConsent",
        "Grant or revoke one purpose (takes effect at once)",
        "privacy",
        {"200": json_ok(ref("Consent")), **BODY_ERRORS, **OWNER_ERRORS},
        parameters=[path_param("purpose", "the purpose", {"type": "string", "enum": PURPOSES})],
        body=json_body(ref("ConsentUpdate")),
    ),
    ("GET", "/api/v1/privacy/egress"): op(
        "getEgress",
        "Every request that left the LAN, newest first",
        "privacy",
        {"200": json_ok(ref("Egress")), **QUERY_ERRORS, **OWNER_ERRORS},
        parameters=[
            query("since", "from", TIME),
            query("until", "until (exclusive)", TIME),
            query("purpose", "only this purpose"),
            query("limit", "1-1000, default 200", {"type": "string", "pattern": "^[0-9]+$"}),
        ],
    ),
    # -- push --
    ("GET", "/api/v1/ws"): op(
        "push",
        "WebSocket: every change of the native state",
        "push",
        {
            "101": {
                "description": "Switching protocols. Server messages are WsServerMessage: first "
                "a `state` with the whole native state, then a `changed` deep-merge patch per "
                "change (objects merge key by key, other values replace, keys are never "
                "removed), or a new `state` when the client fell behind. Client messages are "
                "WsClientMessage (`ping`, `resync`). Close codes: 1001 bridge stopping, 1013 "
                "client too slow, 4401 token revoked or expired. The server pings every 30 s.",
                "content": {"application/json": {"schema": ref("WsServerMessage")}},
            },
            **AUTH_ERRORS,
            "426": _error("Not a WebSocket upgrade request."),
        },
        description="The token comes in the Authorization header or as ?access_token=; a "
        "missing or bad token is refused with 401 before the upgrade.",
    ),
}

TAGS: list[Json] = [
    {"name": "meta", "description": "This document and the bridge's identity"},
    {"name": "access", "description": "Pairing"},
    {"name": "oauth", "description": "OAuth2 authorization-code flow of the ThermoSmart API"},
    {"name": "cloud", "description": "The cloud-compatible ThermoSmart API (THERMOSMART_API.md)"},
    {"name": "native", "description": "The native API: what the cloud API lacks"},
    {"name": "privacy", "description": "Export, erase, consents and the egress log"},
    {"name": "push", "description": "The WebSocket push channel"},
]
