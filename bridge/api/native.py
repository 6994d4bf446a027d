"""The native API under ``/api/v1/``: what the cloud-compatible API lacks.

Decoded boiler capabilities, faults and counters, the native thermostat
view and its commands, history series, the event and fault log,
diagnostics, predictions, the owner's settings and the API tokens. The
privacy routes are in :mod:`bridge.api.privacy`, the push channel in
:mod:`bridge.api.ws`.

Every refusal of bad input is a 400 ``{"error": "invalid", "errors":
[{"field", "rule"}]}`` and changes nothing. Settings and tokens need an
owner token (one made by pairing or ``token create``); an OAuth access
token of a third-party client gets 403 there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import datetime
import functools
import math
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bridge.api.context import BRIDGE_KEY, BridgeServices, token_of
from bridge.api.errors import json_error
from bridge.api.routing import (
    BODY_ERRORS,
    OWNER_ERRORS,
    QUERY_ERRORS,
    TIME,
    Route,
    json_body,
    json_ok,
    operation,
    path_param,
    query,
    register,
    response_ref,
)
from bridge.api.util import read_json
from bridge.api.ws import PUSH_KEY
from bridge.core.contract import render
from bridge.core.decoding import decode, decode_fields
from bridge.core.payloads.access import RevokedToken, Token, Tokens
from bridge.core.payloads.history import EventKind, Events, History
from bridge.core.payloads.native import Diagnostics, Predictions, PushStats
from bridge.core.payloads.options import Options, OptionsChange, Settings, SettingsUpdate
from bridge.core.payloads.thermostat import (
    NativeThermostat,
    PauseRequest,
    ScheduleBlocks,
    ThermostatUpdate,
)
from bridge.core.validation import ValidationError
from bridge.services.access import OWNER_KINDS, TokenInfo
from bridge.services.thermostat import RECORDED_IDS

if TYPE_CHECKING:
    from bridge.core.validation import FieldError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STARTED_KEY: web.AppKey[float] = web.AppKey("started", float)
"""The clock's monotonic time when the API started (for uptime)."""

HISTORY_KEYS: frozenset[str] = frozenset(
    {
        "room_temperature",
        "target_temperature",
        "outside_temperature",
        *RECORDED_IDS,
        "flame_on",
        "ch_active",
        "dhw_active",
        "relay_on",
    }
)
"""Series the thermostat records; stored series with other keys are accepted too."""

DAY = 86400.0
MAX_RANGE = {"raw": 7 * DAY, "hourly": 731 * DAY}
"""The longest time range one history request may span, per resolution."""
DEFAULT_RANGE = DAY
MAX_EVENTS = 1000
DEFAULT_EVENTS = 100
# Unix times accepted: 1970 up to the year 2100.
_TIME_MAX = 4_102_444_800.0

# -- request helpers (shared with the privacy routes) ----------------------------


def invalid(errors: list[FieldError], message: str = "the request is not valid") -> web.Response:
    """400 naming the fields and the rules they broke."""
    return json_error(400, "invalid", message, errors=errors)


def owner_only(handler: Handler) -> Handler:
    """Refuse (403) tokens that do not act for the owner, such as OAuth access tokens."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        if token_of(request).kind not in OWNER_KINDS:
            return json_error(
                403, "forbidden", "this route needs an owner token (paired or made by the CLI)"
            )
        return await handler(request)

    return wrapper


def query_params(request: web.Request, allowed: Collection[str]) -> dict[str, str]:
    """The query parameters, each at most once; unknown ones are refused."""
    errors: list[FieldError] = []
    out: dict[str, str] = {}
    for key, value in request.query.items():
        if key == "access_token":  # authentication, handled by the middleware
            continue
        if key not in allowed:
            errors.append({"field": key, "rule": "unknown field"})
        elif key in out:
            errors.append({"field": key, "rule": "must be given at most once"})
        else:
            out[key] = value
    if errors:
        raise ValidationError(errors)
    return out


async def read_object(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The JSON object body; with ``optional``, an empty body reads as ``{}``."""
    if optional and not await request.read():
        return {}
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ValidationError([{"field": "(body)", "rule": "must be an object"}])
    return body


async def read_empty(request: web.Request) -> None:
    """Accept no body or ``{}`` for a command that takes no arguments."""
    body = await read_object(request, optional=True)
    if body:
        raise ValidationError([{"field": key, "rule": "unknown field"} for key in body])


_ISO_HINT = "must be an ISO 8601 time with an offset (Z or +01:00) or a Unix time in seconds"
# "+01:00" arrives as " 01:00" when a client does not encode "+" in the query.
_UNENCODED_OFFSET = re.compile(r"(T\d[\d:.]*) (\d\d(?::?\d\d)?)$")


def parse_time(value: str, field: str) -> float:
    """A Unix time from ISO 8601 (with an offset) or Unix seconds."""
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(number) or not 0 <= number < _TIME_MAX:
            raise ValidationError(
                [{"field": field, "rule": "must be a Unix time from 1970 to 2100"}]
            )
        return number
    text = _UNENCODED_OFFSET.sub(r"\1+\2", text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError([{"field": field, "rule": _ISO_HINT}]) from None
    if when.tzinfo is None:
        raise ValidationError([{"field": field, "rule": _ISO_HINT}])
    return when.timestamp()


def parse_limit(value: str | None, field: str, default: int, maximum: int) -> int:
    """A whole number ``1..maximum`` from the query (``default`` when absent)."""
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise ValidationError(
            [{"field": field, "rule": f"must be a whole number from 1 to {maximum}"}]
        )
    return int(value)


# -- thermostat -------------------------------------------------------------------


def _bridge(request: web.Request) -> BridgeServices:
    return request.app[BRIDGE_KEY]


async def get_thermostat(request: web.Request) -> web.Response:
    """``GET /api/v1/thermostat``."""
    query_params(request, ())
    return web.json_response(_bridge(request).thermostat.native_view())


async def patch_thermostat(request: web.Request) -> web.Response:
    """``PATCH /api/v1/thermostat``: the cloud update's fields and rules; a target is ``manual``.

    The native API's clients (Home Assistant, scripts) act on the LAN for the
    people at home, like the dial, so a target set here has ``source`` manual.
    """
    query_params(request, ())
    service = _bridge(request).thermostat
    body = await read_object(request)
    await service.update(body, remote=False)
    return web.json_response(service.native_view())


async def clear_override(request: web.Request) -> web.Response:
    """``POST /api/v1/thermostat/override/clear``: back to the schedule."""
    query_params(request, ())
    await read_empty(request)
    service = _bridge(request).thermostat
    await service.clear_override()
    return web.json_response(service.native_view())


async def pause(request: web.Request) -> web.Response:
    """``POST /api/v1/thermostat/pause`` with ``{"pause": true|false}``."""
    query_params(request, ())
    data = decode(PauseRequest, await read_object(request))
    service = _bridge(request).thermostat
    await service.set_paused(data.pause)
    return web.json_response(service.native_view())


# -- schedule blocks ----------------------------------------------------------------------

BLOCKS_MAX_RANGE = 31 * DAY
"""The longest range ``GET /api/v1/schedule/blocks`` resolves."""
BLOCKS_DEFAULT_RANGE = DAY


async def schedule_blocks(request: web.Request) -> web.Response:
    """``GET /api/v1/schedule/blocks?start=…&end=…``: the resolved schedule for a range."""
    bridge = _bridge(request)
    params = query_params(request, ("start", "end"))
    errors: list[FieldError] = []
    times: dict[str, float] = {}
    for field in ("start", "end"):
        if field in params:
            try:
                times[field] = parse_time(params[field], field)
            except ValidationError as err:
                errors.extend(err.errors)
    if errors:
        raise ValidationError(errors)
    start = times.get("start", bridge.clock.time())
    end = times.get("end", start + BLOCKS_DEFAULT_RANGE)
    if end <= start:
        raise ValidationError([{"field": "end", "rule": "must be after start"}])
    if end - start > BLOCKS_MAX_RANGE:
        raise ValidationError([{"field": "end", "rule": "the range may span at most 31 days"}])
    service = bridge.thermostat
    body = ScheduleBlocks(
        start=start,
        end=end,
        timezone=service.state.timezone,
        blocks=service.schedule_blocks(start, end),
    )
    return web.json_response(render(body))


# -- history and events ----------------------------------------------------------------


async def history(request: web.Request) -> web.Response:
    """``GET /api/v1/history?key=…&start=…&end=…&resolution=raw|hourly``."""
    bridge = _bridge(request)
    params = query_params(request, ("key", "start", "end", "resolution"))
    errors: list[FieldError] = []
    key = params.get("key")
    if key is None:
        errors.append({"field": "key", "rule": "required"})
    elif key not in HISTORY_KEYS and key not in await bridge.history.series_keys():
        errors.append(
            {
                "field": "key",
                "rule": f"must be a recorded series: {', '.join(sorted(HISTORY_KEYS))}",
            }
        )
    resolution = params.get("resolution", "raw")
    if resolution not in MAX_RANGE:
        errors.append({"field": "resolution", "rule": "must be raw or hourly"})
    end = start = math.nan
    for field in ("start", "end"):
        if field in params:
            try:
                value = parse_time(params[field], field)
            except ValidationError as err:
                errors.extend(err.errors)
                continue
            if field == "start":
                start = value
            else:
                end = value
    if errors:
        raise ValidationError(errors)
    assert key is not None
    if math.isnan(end):
        end = bridge.clock.time()
    if math.isnan(start):
        start = end - DEFAULT_RANGE
    if end <= start:
        raise ValidationError([{"field": "end", "rule": "must be after start"}])
    if end - start > MAX_RANGE[resolution]:
        days = int(MAX_RANGE[resolution] // DAY)
        raise ValidationError(
            [{"field": "start", "rule": f"the range may span at most {days} days for {resolution}"}]
        )
    if resolution == "raw":
        raw = await bridge.history.raw_points(key, start, end)
        body = History(key=key, resolution="raw", start=start, end=end, points=raw)
    else:
        hourly = await bridge.history.hourly_points(key, start, end)
        body = History(key=key, resolution="hourly", start=start, end=end, points=hourly)
    return web.json_response(render(body))


def _event_kinds(value: str) -> list[EventKind]:
    kinds = []
    for part in value.split(","):
        try:
            kinds.append(EventKind(part.strip()))
        except ValueError:
            names = ", ".join(k.value for k in EventKind)
            raise ValidationError(
                [{"field": "kind", "rule": f"must be one or more of {names}"}]
            ) from None
    return kinds


async def events(request: web.Request) -> web.Response:
    """``GET /api/v1/events?since=…&until=…&kind=…&limit=…``: the fault and event log."""
    params = query_params(request, ("since", "until", "kind", "limit"))
    since = parse_time(params["since"], "since") if "since" in params else None
    until = parse_time(params["until"], "until") if "until" in params else None
    kinds = _event_kinds(params["kind"]) if "kind" in params else None
    limit = parse_limit(params.get("limit"), "limit", DEFAULT_EVENTS, MAX_EVENTS)
    if since is not None and until is not None and until <= since:
        raise ValidationError([{"field": "until", "rule": "must be after since"}])
    found = await _bridge(request).history.events(
        since=since, until=until, kinds=kinds, limit=limit
    )
    return web.json_response(render(Events(events=found)))


# -- diagnostics and predictions ---------------------------------------------------------


async def diagnostics(request: web.Request) -> web.Response:
    """``GET /api/v1/diagnostics``: counters, versions and uptime, with no personal data."""
    query_params(request, ())
    bridge = _bridge(request)
    hub = request.app.get(PUSH_KEY)
    report = await bridge.diagnostics.report(
        uptime_s=round(bridge.clock.monotonic() - request.app[STARTED_KEY], 3),
        push=None if hub is None else PushStats(**hub.stats()),
    )
    return web.json_response(render(report))


async def predictions(request: web.Request) -> web.Response:
    """``GET /api/v1/predictions``: the learning module's outputs.

    ``available`` is false until the first room reading; then ``predictions``
    holds the room forecast, time to target, the next warm-up start, the
    learned figures and the learning progress (see
    :meth:`bridge.services.learning.LearningService.predictions`); ``status``
    says ``learning``, ``ready`` or ``fallback: <why>``. Fields are only added.
    """
    query_params(request, ())
    return web.json_response(_bridge(request).thermostat.predictions())


@owner_only
async def get_options(request: web.Request) -> web.Response:
    """``GET /api/v1/options``: the per-bridge options with their defaults filled in.

    ``preheat``, ``heating_system`` (``radiators`` or ``underfloor``),
    ``max_ch_setpoint`` (°C or null for the heating system's default),
    ``dhw_enable`` and ``dhw_setpoint`` (°C or null to leave the boiler's).
    """
    query_params(request, ())
    return web.json_response(_bridge(request).thermostat.options())


@owner_only
async def put_options(request: web.Request) -> web.Response:
    """``PUT /api/v1/options`` with any of the options: checked whole, then stored.

    Temperatures are checked against the boiler's bounds where it told them;
    boiler options on a relay and hot-water options on a boiler without hot
    water are refused. Answers with all the options now in effect.
    """
    query_params(request, ())
    data = await read_object(request)
    service = _bridge(request).thermostat
    return web.json_response(await service.set_options(data))


# -- settings ----------------------------------------------------------------------------


@owner_only
async def get_settings(request: web.Request) -> web.Response:
    """``GET /api/v1/settings``: the owner's name for the thermostat, city and e-mail."""
    query_params(request, ())
    return web.json_response(render(await _bridge(request).settings.view()))


@owner_only
async def put_settings(request: web.Request) -> web.Response:
    """``PUT /api/v1/settings``: change any of name, location, e-mail (all or nothing)."""
    query_params(request, ())
    bridge = _bridge(request)
    body = await read_object(request)
    if not body:
        raise ValidationError([{"field": "(body)", "rule": "nothing to update"}])
    data = decode_fields(SettingsUpdate, body)
    return web.json_response(render(await bridge.settings.update(data)))


# -- tokens --------------------------------------------------------------------------------


def token_view(info: TokenInfo, now: float, current: int | None = None) -> Token:
    """A token as the API lists it (never its secret)."""
    return Token(
        id=str(info.id),
        name=info.name,
        kind=info.kind,
        created=info.created,
        last_used=info.last_used,
        expires=info.expires,
        revoked=info.revoked,
        client_id=info.client_id,
        active=info.is_active(now),
        current=info.id == current,
    )


@owner_only
async def list_tokens(request: web.Request) -> web.Response:
    """``GET /api/v1/tokens``: every token, active or not, without secrets."""
    query_params(request, ())
    bridge = _bridge(request)
    now = bridge.clock.time()
    own = token_of(request).id
    tokens = await bridge.access.list_tokens()
    return web.json_response(render(Tokens(tokens=[token_view(t, now, own) for t in tokens])))


@owner_only
async def revoke_token(request: web.Request) -> web.Response:
    """``DELETE /api/v1/tokens/{id}``: revoke a token (idempotent); its push sockets close."""
    query_params(request, ())
    raw_id = request.match_info["id"]
    if not raw_id.isdigit() or len(raw_id) > 18:
        raise ValidationError([{"field": "id", "rule": "must be a token id (a whole number)"}])
    bridge = _bridge(request)
    token_id = int(raw_id)
    info = await bridge.access.revoke_token(token_id)
    if info is None:
        return json_error(404, "not_found", "no token with that id")
    hub = request.app.get(PUSH_KEY)
    if hub is not None:
        hub.close_token(token_id)
    now = bridge.clock.time()
    return web.json_response(
        render(RevokedToken(token=token_view(info, now, token_of(request).id)))
    )


async def _on_startup(app: web.Application) -> None:
    app[STARTED_KEY] = app[BRIDGE_KEY].clock.monotonic()


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/api/v1/thermostat",
        get_thermostat,
        operation(
            "getNativeThermostat",
            "The thermostat: live state, programs, schedule, exceptions",
            "native",
            {"200": json_ok(NativeThermostat), **QUERY_ERRORS},
        ),
    ),
    Route(
        "PATCH",
        "/api/v1/thermostat",
        patch_thermostat,
        operation(
            "patchNativeThermostat",
            "Update the thermostat (whole or not at all)",
            "native",
            {"200": json_ok(NativeThermostat), **BODY_ERRORS},
            description="The fields and rules of PUT /thermostat/{hw} (JSON only; an empty object "
            "is refused). A target_temperature set here is a manual override (`source` manual): "
            "native clients act on the LAN for the people at home, like the dial.",
            body=json_body(ThermostatUpdate),
        ),
    ),
    Route(
        "POST",
        "/api/v1/thermostat/override/clear",
        clear_override,
        operation(
            "clearOverride",
            "Drop a manual or remote override: back to the schedule",
            "native",
            {"200": json_ok(NativeThermostat), **BODY_ERRORS},
            description="Takes no body (or `{}`).",
        ),
    ),
    Route(
        "POST",
        "/api/v1/thermostat/pause",
        pause,
        operation(
            "pauseNative",
            "Pause (hold the pause program, frost protection stays) or resume",
            "native",
            {"200": json_ok(NativeThermostat), **BODY_ERRORS},
            body=json_body(PauseRequest),
        ),
    ),
    Route(
        "GET",
        "/api/v1/schedule/blocks",
        schedule_blocks,
        operation(
            "getScheduleBlocks",
            "The resolved schedule: its blocks for a time range",
            "native",
            {"200": json_ok(ScheduleBlocks), **QUERY_ERRORS},
            description="The blocks of the week schedule and its exceptions that overlap "
            "start <= t < end, at most 31 days; start defaults to now and end to a day after "
            "start.",
            parameters=[query("start", "from", TIME), query("end", "until (exclusive)", TIME)],
        ),
    ),
    Route(
        "GET",
        "/api/v1/history",
        history,
        operation(
            "getHistory",
            "One measured series, raw or hourly",
            "native",
            {"200": json_ok(History), **QUERY_ERRORS},
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
                query(
                    "resolution", "raw samples or hourly aggregates", {"enum": ["raw", "hourly"]}
                ),
            ],
        ),
    ),
    Route(
        "GET",
        "/api/v1/events",
        events,
        operation(
            "getEvents",
            "The fault and event log, newest first",
            "native",
            {"200": json_ok(Events), **QUERY_ERRORS},
            parameters=[
                query("since", "from", TIME),
                query("until", "until (exclusive)", TIME),
                query("kind", "comma-separated: " + ", ".join(k.value for k in EventKind)),
                query("limit", "1-1000, default 100", {"type": "string", "pattern": "^[0-9]+$"}),
            ],
        ),
    ),
    Route(
        "GET",
        "/api/v1/diagnostics",
        diagnostics,
        operation(
            "getDiagnostics",
            "Link and master counters, unknown ids, versions, uptime",
            "native",
            {"200": json_ok(Diagnostics), **QUERY_ERRORS},
        ),
    ),
    Route(
        "GET",
        "/api/v1/predictions",
        predictions,
        operation(
            "getPredictions",
            "What the learning module predicts",
            "native",
            {"200": json_ok(Predictions), **QUERY_ERRORS},
            description='`{"available": false, "status": "learning not started"}` until the '
            "first room reading; later fields are added, never renamed.",
        ),
    ),
    Route(
        "GET",
        "/api/v1/options",
        get_options,
        operation(
            "getOptions",
            "The per-bridge options",
            "native",
            {"200": json_ok(Options), **QUERY_ERRORS, **OWNER_ERRORS},
        ),
    ),
    Route(
        "PUT",
        "/api/v1/options",
        put_options,
        operation(
            "putOptions",
            "Change options: warm-up, heating system, maximum flow, hot water",
            "native",
            {"200": json_ok(Options), **BODY_ERRORS, **OWNER_ERRORS},
            body=json_body(OptionsChange),
        ),
    ),
    Route(
        "GET",
        "/api/v1/settings",
        get_settings,
        operation(
            "getSettings",
            "The thermostat's name, the city and the owner's e-mail",
            "native",
            {"200": json_ok(Settings), **QUERY_ERRORS, **OWNER_ERRORS},
        ),
    ),
    Route(
        "PUT",
        "/api/v1/settings",
        put_settings,
        operation(
            "putSettings",
            "Change any of name, location, e-mail (all or nothing)",
            "native",
            {"200": json_ok(Settings), **BODY_ERRORS, **OWNER_ERRORS},
            body=json_body(SettingsUpdate),
        ),
    ),
    Route(
        "GET",
        "/api/v1/tokens",
        list_tokens,
        operation(
            "listTokens",
            "Every token, active or not (never a secret)",
            "native",
            {"200": json_ok(Tokens), **QUERY_ERRORS, **OWNER_ERRORS},
        ),
    ),
    Route(
        "DELETE",
        "/api/v1/tokens/{id}",
        revoke_token,
        operation(
            "revokeToken",
            "Revoke a token (idempotent); its push sockets close with 4401",
            "native",
            {
                "200": json_ok(RevokedToken),
                **QUERY_ERRORS,
                **OWNER_ERRORS,
                "404": response_ref("NotFound"),
            },
            parameters=[
                path_param("id", "the token's id", {"type": "string", "pattern": "^[0-9]+$"})
            ],
        ),
    ),
)


def add_routes(app: web.Application) -> None:
    """Register the native routes (the state, health and pairing are in the app module)."""
    app.on_startup.append(_on_startup)
    register(app, ROUTES)
