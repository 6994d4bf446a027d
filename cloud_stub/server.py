"""The cloud stand-in's HTTP server.

Routes (all JSON but the owner's pages; errors are ``{"error", "message",
"errors": [{"field", "rule"}]}``, on the OAuth endpoints RFC 6749's
``{"error", "error_description"}``):

Linking (:mod:`cloud_stub.oauth`): a bridge asks at ``POST
/oauth2/device_authorization``, the owner approves at ``/device`` (or with
``thermosmart-cloud approve``), and the bridge's poll of ``POST
/oauth2/token`` answers its credential (RFC 8628).

Bridge side, with the bridge's credential as ``Authorization: Bearer``:

* ``GET /api/v1/bridges/{bridge_id}/sync``: the bridge's sync connection, a
  WebSocket (:mod:`cloud_stub.sync`, frames of :mod:`bridge.core.cloud_sync`):
  the bridge uploads its thermostat and states its retention, the stand-in
  delivers the owner's commands and stores their answers;
* ``DELETE /api/v1/bridges/{bridge_id}``: erase everything held for the
  bridge (privacy promise P13) -> 204;
* ``PUT``/``DELETE /api/v1/bridges/{bridge_id}/service``: the bridge's service
  report (consent ``service_access``: the diagnostics' software and boiler
  facts, nothing else), read by the owner at ``GET
  /api/v1/thermostats/{hw}/service``;
* ``DELETE /api/v1/bridges/{bridge_id}/thermostat``: forget the synced
  thermostat object and its queued commands, keeping the link (the bridge's
  ``cloud_sync`` consent was revoked);
* ``GET /api/v1/weather?city=…``: synthetic weather and a 48-hour hourly
  forecast (see :mod:`cloud_stub.weather`); the city is not stored;
* ``POST /api/v1/statistics``: one day's aggregates under a pseudonym (P4)
  -> 201; ``DELETE /api/v1/statistics/{pseudonym}`` erases them. Both without
  a credential, so the cloud cannot tie a pseudonym to a bridge.

Owner side, the cloud-compatible API of THERMOSMART_API.md, with an owner
token (``thermosmart-cloud token create``, or the OAuth2 login of
:mod:`cloud_stub.oauth`) as Bearer or ``?access_token=``: ``GET
/thermostat``, ``GET``/``PUT /thermostat/{hw}``, ``POST
/thermostat/{hw}/pause`` and ``/unpause``, and ``GET
/api/v1/thermostats/{hw}/commands`` (the owner's commands and their status).
``GET`` shows the state the bridge last confirmed, never a pending change.
A change is stored as a pending command and delivered over the bridge's
sync connection; the request waits up to ``command_wait`` seconds for the
bridge's answer: ``applied`` -> 200 with the object the bridge confirmed,
``rejected`` -> 400 with the bridge's errors, ``superseded`` (a later change
on the thermostat itself won) -> 409; no answer in time, or the bridge
offline -> 202 ``{"id", "status": "pending"}`` (delivered when it connects,
dropped after the retention).

No auth: ``GET /api/v1/health``, ``GET /api/v1/terms`` (the current terms
version) and ``GET /api/v1/update`` (the signed update manifest, see
:mod:`cloud_stub.updates`). Every request is checked before its handler runs
(body size, no body where none belongs, only known query parameters, JSON
content type) and logged without body, query values, tokens or ids: method,
route pattern, query parameter names, status, size and duration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
import contextlib
from datetime import date
import logging
import re
import ssl
from typing import Any, NoReturn

from aiohttp import web

from bridge.core import cloud_sync as proto
from bridge.core.bodies import BodyError, parse_form, parse_json
from bridge.core.clock import Clock, SystemClock, utc_from_ts
from bridge.core.requests import parse_update, update_from_form
from bridge.core.validation import ValidationError, is_text
from cloud_stub import __version__, oauth, schemas
from cloud_stub.commands import wire_update
from cloud_stub.context import CLOCK_KEY, STORE_KEY, store_of
from cloud_stub.pages import (
    CODE_FAILURE_WINDOW,
    CODE_LIMITER_KEY,
    MAX_CODE_FAILURES,
    SESSIONS_KEY,
    FailureLimiter,
    SessionStore,
)
from cloud_stub.store import BridgeRecord, CloudStore
from cloud_stub.sync import SyncHub
from cloud_stub.weather import synthetic_forecast, synthetic_weather

_LOGGER = logging.getLogger(__name__)
_ACCESS = logging.getLogger("cloud_stub.access")

#: The largest request body accepted (a full week schedule fits several times).
MAX_BODY = 128 * 1024
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8723
#: How long a bridge's data is kept when the bridge has not stated its retention.
DEFAULT_RETENTION_DAYS = 90
#: How often the retention is applied (also once at start).
PRUNE_INTERVAL = 3600.0
#: How long an owner's change waits for the bridge's answer before it is answered 202.
DEFAULT_COMMAND_WAIT = 5.0
#: The longest wait an operator may set (the owner's client times out long before).
MAX_COMMAND_WAIT = 60.0

UPDATE_KEY: web.AppKey[dict[str, Any] | None] = web.AppKey("update")
RETENTION_KEY: web.AppKey[int] = web.AppKey("retention_days")
HUB_KEY: web.AppKey[SyncHub] = web.AppKey("sync_hub")
COMMAND_WAIT_KEY: web.AppKey[float] = web.AppKey("command_wait")

_ID = schemas.ID_PATTERN
_BODYLESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
_CLOUD_ROUTES = (
    "/thermostat",
    "/thermostat/{hw}",
    "/thermostat/{hw}/pause",
    "/thermostat/{hw}/unpause",
    "/api/v1/thermostats/{hw}/commands",
)
#: The query parameters each route accepts; every other route takes none.
_QUERY: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        (*_CLOUD_ROUTES, "/api/v1/thermostats/{hw}/service"), frozenset({"access_token"})
    ),
    "/api/v1/weather": frozenset({"city"}),
    **oauth.QUERY,
}
_LOG_SAFE = re.compile(r"[A-Za-z0-9_.-]{1,40}")
_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="thermosmart-cloud"'}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A refusal, answered as a JSON error."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        errors: Sequence[Mapping[str, object]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.errors = [{k: str(v) for k, v in e.items()} for e in errors or ()]
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        """The JSON answer."""
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return web.json_response(body, status=self.status, headers=self.headers)


def _invalid(message: str, errors: Sequence[Mapping[str, object]]) -> NoReturn:
    raise ApiError(400, "invalid", message, errors=errors)


def _route_name(request: web.Request) -> str | None:
    route = request.match_info.route
    if route.resource is None:  # no route matched
        return None
    return route.resource.canonical


# -- middlewares -------------------------------------------------------------------


def _query_names(request: web.Request) -> str:
    """``?a&b``: the query's parameter names (odd ones as ``(other)``), never values."""
    if not request.query:
        return ""
    names = {k if _LOG_SAFE.fullmatch(k) else "(other)" for k in request.query}
    return "?" + "&".join(sorted(names))


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log each request: method, route pattern, query names, status; never bodies or values."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        elapsed = (loop.time() - started) * 1000
        _ACCESS.info(
            "%s %s%s -> %d (%d bytes in, %.1f ms)",
            request.method,
            _route_name(request) or "(no route)",
            _query_names(request),
            status,
            request.content_length or 0,
            elapsed,
        )


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refusal and failure as a JSON error."""
    try:
        return await handler(request)
    except ApiError as err:
        return err.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = {
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
            415: "content_type",
        }.get(exc.status, "http_error")
        return ApiError(exc.status, error, exc.reason, headers=_allow_header(exc)).response()
    except Exception:
        _LOGGER.exception("Request failed: %s %s", request.method, _route_name(request))
        return ApiError(500, "server_error", "the server failed").response()


def _allow_header(exc: web.HTTPException) -> dict[str, str]:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else {}


@web.middleware
async def check_request(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse oversized bodies, bodies where none belongs and unknown query parameters."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
    if request.method in _BODYLESS and request.body_exists:
        raise ApiError(400, "invalid", f"a {request.method} request takes no body")
    allowed = _QUERY.get(_route_name(request) or "", frozenset())
    errors = []
    for key in sorted(set(request.query)):
        if key not in allowed:
            errors.append({"field": key, "rule": "unknown query parameter"})
        elif len(request.query.getall(key)) > 1:
            errors.append({"field": key, "rule": "given more than once"})
    if errors:
        _invalid("the query is not valid", errors)
    return await handler(request)


# -- request helpers -----------------------------------------------------------------


async def _read_body(request: web.Request, *, form: bool = False) -> Any:
    """The JSON body (or, with ``form``, a form body as a dict of strings), read by the
    bridge's one body reader (:mod:`bridge.core.bodies`)."""
    if request.charset not in (None, "utf-8"):
        raise ApiError(415, "content_type", "the body must be UTF-8")
    kinds = ("application/json", "application/x-www-form-urlencoded") if form else None
    if request.content_type not in (kinds or ("application/json",)):
        raise ApiError(
            415,
            "content_type",
            "the body must be application/json"
            + (" or application/x-www-form-urlencoded" if form else ""),
        )
    raw = await request.read()
    try:
        if request.content_type == "application/x-www-form-urlencoded":
            return update_from_form(parse_form(raw))
        return parse_json(raw)
    except BodyError as err:
        raise ApiError(400, err.error, err.message) from None


def _bearer(request: web.Request, *, query: bool) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    token = value.strip() if scheme.lower() == "bearer" else ""
    if not token and query:
        token = request.query.get("access_token", "")
    # a header byte that was not UTF-8 arrives as a lone surrogate: no secret has one
    return token if token and is_text(token) else None


def _unauthorized(message: str) -> NoReturn:
    raise ApiError(401, "unauthorized", message, headers=_BEARER_CHALLENGE)


_store = store_of


def _authenticated_bridge(request: web.Request) -> BridgeRecord:
    """The bridge whose secret the request carries (Bearer header only)."""
    secret = _bearer(request, query=False)
    if secret is None:
        _unauthorized("the bridge secret is required (Authorization: Bearer)")
    record = _store(request).bridge_for_secret(secret)
    if record is None:
        _unauthorized("the bridge secret is not valid")
    return record


def _path_bridge(request: web.Request) -> BridgeRecord:
    """The authenticated bridge, which must be the one in the path."""
    record = _authenticated_bridge(request)
    bridge_id = request.match_info["bridge_id"]
    if bridge_id != record.bridge_id:
        if _store(request).bridge(bridge_id) is None:
            raise ApiError(404, "not_found", "no bridge with that id")
        raise ApiError(403, "forbidden", "the secret belongs to another bridge")
    return record


def _owner(request: web.Request) -> BridgeRecord:
    """The bridge whose thermostat the owner token belongs to."""
    token = _bearer(request, query=True)
    if token is None:
        _unauthorized("a valid token is required")
    record = _store(request).bridge_for_owner_token(token)
    if record is None:
        _unauthorized("the token is unknown, expired or revoked, or its thermostat was erased")
    return record


def _owned_bridge(request: web.Request) -> BridgeRecord:
    """The owner's bridge, whose thermostat the path names."""
    record = _owner(request)
    hw = request.match_info["hw"]
    if hw != record.hardware_id:
        if _store(request).bridge_by_hardware(hw) is None:
            raise ApiError(404, "not_found", "no thermostat with that id")
        raise ApiError(403, "forbidden", "the token belongs to another thermostat")
    return record


def _owned(request: web.Request) -> tuple[BridgeRecord, dict[str, Any], int]:
    """The owner's bridge and the confirmed thermostat object named in the path, with its
    ``seq``."""
    record = _owned_bridge(request)
    stored = _store(request).get_object(record.bridge_id)
    if stored is None:
        raise ApiError(404, "not_found", "the thermostat has not synced yet")
    return record, *stored


def _today(request: web.Request) -> date:
    return utc_from_ts(request.app[CLOCK_KEY].time()).date()


# -- bridge routes ------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    """``GET /api/v1/health``: no auth."""
    return web.json_response(
        {"status": "ok", "service": "thermosmart-cloud", "version": __version__}
    )


async def erase_bridge(request: web.Request) -> web.Response:
    """``DELETE /api/v1/bridges/{bridge_id}``: erase everything held for the bridge."""
    record = _path_bridge(request)
    _store(request).erase_bridge(record.bridge_id)
    await request.app[HUB_KEY].drop(record.bridge_id)
    _LOGGER.info("A bridge was erased")
    return web.Response(status=204)


async def sync(request: web.Request) -> web.StreamResponse:
    """``GET /api/v1/bridges/{bridge_id}/sync``: the bridge's sync connection (WebSocket)."""
    record = _path_bridge(request)
    if not web.WebSocketResponse().can_prepare(request).ok:
        raise ApiError(400, "invalid", "the sync route takes a WebSocket upgrade only")
    store = _store(request)
    default_days = request.app[RETENTION_KEY]

    def retention(days: int) -> None:
        store.set_retention(record.bridge_id, days)
        store.prune(default_days)

    return await request.app[HUB_KEY].serve(request, record.bridge_id, retention)


async def put_service(request: web.Request) -> web.Response:
    """``PUT /api/v1/bridges/{bridge_id}/service``: the bridge's service report
    (consent ``service_access``), replacing the last one."""
    record = _path_bridge(request)
    try:
        report = schemas.parse_service_report(await _read_body(request))
    except ValidationError as err:
        _invalid("the service report is not valid", err.errors)
    received = _store(request).put_service_report(record.bridge_id, report)
    return web.json_response({"received_at": received})


async def delete_service(request: web.Request) -> web.Response:
    """``DELETE /api/v1/bridges/{bridge_id}/service``: the consent was revoked -> 204."""
    record = _path_bridge(request)
    _store(request).erase_service_report(record.bridge_id)
    return web.Response(status=204)


async def get_service(request: web.Request) -> web.Response:
    """``GET /api/v1/thermostats/{hw}/service`` (owner token): the latest service report."""
    record = _owner(request)
    hw = request.match_info["hw"]
    if hw != record.hardware_id:
        if _store(request).bridge_by_hardware(hw) is None:
            raise ApiError(404, "not_found", "no thermostat with that id")
        raise ApiError(403, "forbidden", "the token belongs to another thermostat")
    found = _store(request).service_report(record.bridge_id)
    if found is None:
        raise ApiError(404, "not_found", "the bridge has shared no service report")
    report, received = found
    return web.json_response({"report": report, "received_at": received})


async def weather(request: web.Request) -> web.Response:
    """``GET /api/v1/weather?city=…``: the stand-in's synthetic weather."""
    _authenticated_bridge(request)
    try:
        city = schemas.parse_city(request.query.get("city"))
    except ValidationError as err:
        _invalid("the city is not valid", err.errors)
    now = utc_from_ts(request.app[CLOCK_KEY].time())
    result = synthetic_weather(city, now)
    return web.json_response(
        {
            "city": result.city,
            "outside_temperature": result.temperature,
            "outside_temperature_icon": result.icon,
            "at": result.at.isoformat(),
            "forecast": [
                {"at": when.isoformat(), "outside_temperature": value}
                for when, value in synthetic_forecast(city, now)
            ],
            "source": "synthetic",
        }
    )


async def erase_bridge_thermostat(request: web.Request) -> web.Response:
    """``DELETE /api/v1/bridges/{bridge_id}/thermostat``: forget the synced thermostat object
    and the commands queued for it (the ``cloud_sync`` consent was revoked); the link stays."""
    record = _path_bridge(request)
    erased = _store(request).erase_object(record.bridge_id)
    return web.json_response({"erased": erased})


async def post_statistics(request: web.Request) -> web.Response:
    """``POST /api/v1/statistics``: one day's aggregates under a pseudonym, nothing else.

    No credential: a bridge's statistics must not be tied to the bridge (P4), so the
    route is anonymous; the random pseudonym alone names them (and erases them)."""
    store = _store(request)
    try:
        data = schemas.parse_statistics(await _read_body(request))
    except ValidationError as err:
        _invalid("the statistics are not valid", err.errors)
    pseudonym: str = data["pseudonym"]
    if store.is_identifier(pseudonym) or store.contains_identifier(pseudonym):
        _invalid(
            "the statistics are not valid",
            [{"field": "pseudonym", "rule": "must be random, not a bridge or hardware id"}],
        )
    if (date.fromisoformat(data["day"]) - _today(request)).days > 1:
        _invalid("the statistics are not valid", [{"field": "day", "rule": "is in the future"}])
    store.put_statistics(
        pseudonym,
        data["day"],
        data["degree_days"],
        data["mean_modulation"],
        data["burner_hours"],
    )
    return web.json_response(data, status=201)


async def erase_statistics(request: web.Request) -> web.Response:
    """``DELETE /api/v1/statistics/{pseudonym}``: erase what was shared under a pseudonym
    (anonymous, like the statistics: knowing the 128-bit random pseudonym is the right)."""
    erased = _store(request).erase_statistics(request.match_info["pseudonym"])
    return web.json_response({"erased": erased})


async def terms(request: web.Request) -> web.Response:
    """``GET /api/v1/terms``: the current terms version (no auth)."""
    version, published = _store(request).terms()
    return web.json_response({"version": version, "published": published})


async def update_manifest(request: web.Request) -> web.Response:
    """``GET /api/v1/update``: the signed update manifest (no auth)."""
    document = request.app[UPDATE_KEY]
    if document is None:
        raise ApiError(404, "not_found", "no update manifest is published")
    return web.json_response(document)


# -- the cloud-compatible API -----------------------------------------------------------


async def _command(
    request: web.Request, record: BridgeRecord, seq: int, kind: str, body: dict[str, Any]
) -> web.Response:
    """Store a command as pending, deliver it, and answer with what the bridge said."""
    command = _store(request).add_command(record.bridge_id, kind, body, seq)
    result = await request.app[HUB_KEY].issue(
        record.bridge_id, command, request.app[COMMAND_WAIT_KEY]
    )
    if result is None:
        return web.json_response(
            {
                "id": command.id,
                "status": "pending",
                "message": "the thermostat has not confirmed the change yet; it is delivered"
                " when the thermostat is connected (see GET /api/v1/thermostats/{hw}/commands)",
            },
            status=202,
        )
    if result.status == proto.REJECTED:
        raise ApiError(400, "rejected", "the thermostat refused the change", errors=result.errors)
    if result.status == proto.SUPERSEDED:
        raise ApiError(
            409,
            "superseded",
            "a later change made on the thermostat itself won; the command was not applied",
        )
    return web.json_response(schemas.cloud_view(result.thermostat))


async def get_own(request: web.Request) -> web.Response:
    """``GET /thermostat``: the thermostat the token belongs to."""
    return web.json_response({"hw": _owner(request).hardware_id})


async def get_thermostat(request: web.Request) -> web.Response:
    """``GET /thermostat/{hw}``."""
    _, obj, _ = _owned(request)
    return web.json_response(schemas.cloud_view(obj))


async def put_thermostat(request: web.Request) -> web.Response:
    """``PUT /thermostat/{hw}``: validated by the bridge's rules, then a command."""
    record, _, seq = _owned(request)
    body = await _read_body(request, form=True)
    if body == {}:
        return web.Response(status=204)
    try:
        parsed = parse_update(body)
    except ValidationError as err:
        _invalid("the update is not valid", err.errors)
    return await _command(request, record, seq, proto.UPDATE, wire_update(parsed))


async def post_pause(request: web.Request) -> web.Response:
    """``POST /thermostat/{hw}/pause`` with ``{"pause": true|false}``."""
    record, _, seq = _owned(request)
    try:
        paused = schemas.parse_pause(await _read_body(request))
    except ValidationError as err:
        _invalid("the pause request is not valid", err.errors)
    return await _command(request, record, seq, proto.PAUSE, {"pause": paused})


async def post_unpause(request: web.Request) -> web.Response:
    """``POST /thermostat/{hw}/unpause``: pause false (no body, or ``{}``)."""
    record, _, seq = _owned(request)
    if request.body_exists and await _read_body(request) != {}:
        _invalid("unpause takes no fields", [{"field": "(body)", "rule": "must be empty"}])
    return await _command(request, record, seq, proto.PAUSE, {"pause": False})


async def get_owner_commands(request: web.Request) -> web.Response:
    """``GET /api/v1/thermostats/{hw}/commands``: the owner's commands and their status,
    oldest first (within the retention)."""
    record = _owned_bridge(request)
    listed = _store(request).commands(record.bridge_id)
    return web.json_response({"commands": [c.to_dict() for c in listed]})


# -- application ------------------------------------------------------------------------


def create_app(
    store: CloudStore,
    clock: Clock | None = None,
    *,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    update: dict[str, Any] | None = None,
    command_wait: float = DEFAULT_COMMAND_WAIT,
) -> web.Application:
    """The stand-in's aiohttp application on ``store``; ``update`` is the signed manifest;
    an owner's change waits up to ``command_wait`` seconds for the bridge's answer."""
    app = web.Application(
        middlewares=[access_log, json_errors, check_request], client_max_size=MAX_BODY
    )
    app[STORE_KEY] = store
    app[CLOCK_KEY] = clock or SystemClock()
    app[RETENTION_KEY] = retention_days
    app[UPDATE_KEY] = update
    app[HUB_KEY] = SyncHub(store)
    app[COMMAND_WAIT_KEY] = command_wait
    app[SESSIONS_KEY] = SessionStore(app[CLOCK_KEY])
    app[CODE_LIMITER_KEY] = FailureLimiter(app[CLOCK_KEY], MAX_CODE_FAILURES, CODE_FAILURE_WINDOW)
    bridge = f"/api/v1/bridges/{{bridge_id:{_ID}}}"
    hw = f"/thermostat/{{hw:{_ID}}}"
    app.router.add_get("/api/v1/health", health)
    app.router.add_get("/api/v1/terms", terms)
    app.router.add_get("/api/v1/update", update_manifest)
    oauth.add_routes(app)
    app.router.add_delete(bridge, erase_bridge)
    app.router.add_get(f"{bridge}/sync", sync)
    app.router.add_put(f"{bridge}/service", put_service)
    app.router.add_delete(f"{bridge}/service", delete_service)
    app.router.add_get(f"/api/v1/thermostats/{{hw:{_ID}}}/service", get_service)
    app.router.add_get("/api/v1/weather", weather)
    app.router.add_delete(f"{bridge}/thermostat", erase_bridge_thermostat)
    app.router.add_post("/api/v1/statistics", post_statistics)
    app.router.add_delete("/api/v1/statistics/{pseudonym:[A-Za-z0-9_-]{22,64}}", erase_statistics)
    app.router.add_get("/thermostat", get_own)
    app.router.add_get(hw, get_thermostat)
    app.router.add_put(hw, put_thermostat)
    app.router.add_post(f"{hw}/pause", post_pause)
    app.router.add_post(f"{hw}/unpause", post_unpause)
    app.router.add_get(f"/api/v1/thermostats/{{hw:{_ID}}}/commands", get_owner_commands)
    return app


class CloudServer:
    """The stand-in's server on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        store: CloudStore,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        clock: Clock | None = None,
        ssl_context: ssl.SSLContext | None = None,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        update: dict[str, Any] | None = None,
        command_wait: float = DEFAULT_COMMAND_WAIT,
    ) -> None:
        self.store = store
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.retention_days = retention_days
        self._clock = clock or SystemClock()
        self.app = create_app(
            store,
            self._clock,
            retention_days=retention_days,
            update=update,
            command_wait=command_wait,
        )
        self.hub = self.app[HUB_KEY]
        # aiohttp's own access log would print query strings (tokens): ours does not
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        self._pruner: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The server's root URL (``https`` with a TLS certificate)."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    async def start(self) -> None:
        """Listen; afterwards :attr:`port` is the bound port. Applies the retention now
        and every :data:`PRUNE_INTERVAL` on the server's clock."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.ssl_context)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            raise
        for address in self._runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                self.port = int(address[1])
                break
        self.store.prune(self.retention_days)
        self._pruner = asyncio.create_task(self._prune_forever())

    async def _prune_forever(self) -> None:
        while True:
            await self._clock.sleep(PRUNE_INTERVAL)
            try:
                removed = self.store.prune(self.retention_days)
            except Exception:
                _LOGGER.exception("Applying the retention failed")
            else:
                if removed:
                    _LOGGER.info("Retention: %d expired rows removed", removed)

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
        await self.hub.close()
        await self._runner.cleanup()
