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

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import asdict
from datetime import datetime
import functools
import math
import platform
import re
import sqlite3
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
import voluptuous as vol

from bridge import __version__
from bridge.api.context import API_VERSION, BRIDGE_KEY, BridgeServices, token_of
from bridge.api.errors import json_error
from bridge.api.util import read_json
from bridge.api.ws import PUSH_KEY
from bridge.core.validation import ValidationError, validate
from bridge.opentherm.ids import get_spec
from bridge.services.thermostat import RECORDED_IDS
from bridge.storage import EMAIL, LOCATION, NAME, EventKind, TokenInfo, TokenKind

if TYPE_CHECKING:
    from bridge.core.validation import FieldError
    from bridge.opentherm.links.base import BoilerLink
    from bridge.opentherm.master import OpenThermMaster

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STARTED_KEY: web.AppKey[float] = web.AppKey("started", float)
"""The clock's monotonic time when the API started (for uptime)."""

OWNER_KINDS = frozenset({TokenKind.API, TokenKind.PAIRED})
"""Token kinds that act for the owner (settings, tokens, privacy)."""

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

# OpenTherm counters (IDs 116-123) by their name in the native state.
BOILER_COUNTER_IDS: Mapping[str, int] = {
    "burner_starts": 116,
    "ch_pump_starts": 117,
    "dhw_pump_starts": 118,
    "dhw_burner_starts": 119,
    "burner_hours": 120,
    "ch_pump_hours": 121,
    "dhw_pump_hours": 122,
    "dhw_burner_hours": 123,
}

FAULT_FLAGS = (
    "service_request",
    "remote_reset_enabled",
    "low_water_pressure",
    "gas_flame_fault",
    "air_pressure_fault",
    "water_over_temperature",
)
"""ID 5's application-specific fault flags (high byte, bits 0-5)."""


# -- request helpers (shared with the privacy routes) ----------------------------


def invalid(errors: list[FieldError], message: str = "the request is not valid") -> web.Response:
    """400 naming the fields and the rules they broke."""
    return json_error(400, "invalid", message, errors=errors)


def validated(handler: Handler) -> Handler:
    """Answer a :class:`ValidationError` raised by ``handler`` with 400."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ValidationError as err:
            return invalid(err.errors)

    return wrapper


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


# -- the native state: capabilities, faults, counters ----------------------------


def _bounds(pair: tuple[int, int] | None) -> dict[str, int] | None:
    return None if pair is None else {"min": pair[0], "max": pair[1]}


def _writable(transfer: bool | None, rw: bool | None) -> bool | None:
    if transfer is None or rw is None:
        return None
    return transfer and rw


def capabilities_view(master: OpenThermMaster) -> dict[str, Any]:
    """What the boiler said about itself (IDs 3, 6, 15, 48, 49, 125, 127), decoded."""
    state = master.state
    caps = state.capabilities
    known = any(state.values.get(i) is not None for i in (3, 6, 15, 48, 49, 125, 127))
    return {
        "known": known,
        "dhw": {
            "present": caps.dhw_present,
            "storage_tank": caps.dhw_storage_tank,
            "setpoint_bounds": _bounds(caps.dhw_setpoint_bounds),
            "setpoint_writable": _writable(caps.dhw_setpoint_transfer, caps.dhw_setpoint_rw),
        },
        "ch": {
            "max_setpoint_bounds": _bounds(caps.max_ch_setpoint_bounds),
            "max_setpoint_writable": _writable(
                caps.max_ch_setpoint_transfer, caps.max_ch_setpoint_rw
            ),
            "ch2_present": caps.ch2_present,
            "low_off_pump_control_not_allowed": caps.low_off_pump_control_not_allowed,
        },
        "cooling_supported": caps.cooling_supported,
        "on_off_control": caps.on_off_control,
        "max_capacity_kw": caps.max_capacity_kw,
        "min_modulation_pct": caps.min_modulation_pct,
        "opentherm_version": caps.slave_ot_version,
        "product": {
            "member_id": caps.slave_member_id,
            "type": caps.slave_product_type,
            "version": caps.slave_product_version,
        },
        "unsupported_ids": sorted(state.unknown_ids),
    }


def faults_view(master: OpenThermMaster) -> dict[str, Any]:
    """ID 0's fault bit, ID 5's flags and OEM fault code, ID 115's OEM diagnostic code."""
    state = master.state
    faults = state.faults
    flags = {name: getattr(faults, name) for name in FAULT_FLAGS}
    status = state.slave_status
    active = ["fault"] if faults.fault else []
    active += [name for name, on in flags.items() if on]
    return {
        "fault": faults.fault,
        "diagnostic_event": None if status is None else status.diagnostic_event,
        "flags": flags,
        "oem_fault_code": faults.oem_fault_code,
        "oem_diagnostic_code": faults.oem_diagnostic_code,
        "active": active,
    }


def _boiler_counters(master: OpenThermMaster) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for name, data_id in BOILER_COUNTER_IDS.items():
        value = master.state.number(data_id)
        out[name] = None if value is None else int(value)
    return out


def state_extras(master: OpenThermMaster | None, link: BoilerLink) -> dict[str, Any]:
    """The ``capabilities``, ``faults`` and ``counters`` parts of the native state.

    ``capabilities`` and ``faults`` are null, and ``counters.boiler`` and
    ``counters.opentherm`` are null, for a boiler without OpenTherm.
    """
    link_counters = asdict(link.counters)
    if master is None:
        return {
            "capabilities": None,
            "faults": None,
            "counters": {"boiler": None, "opentherm": None, "link": link_counters},
        }
    totals = asdict(master.state.totals())
    return {
        "capabilities": capabilities_view(master),
        "faults": faults_view(master),
        "counters": {
            "boiler": _boiler_counters(master),
            "opentherm": totals,
            "link": link_counters,
        },
    }


# -- thermostat -------------------------------------------------------------------

PAUSE_SCHEMA = vol.Schema({vol.Required("pause"): bool}, extra=vol.PREVENT_EXTRA)


def _bridge(request: web.Request) -> BridgeServices:
    return request.app[BRIDGE_KEY]


@validated
async def get_thermostat(request: web.Request) -> web.Response:
    """``GET /api/v1/thermostat``."""
    query_params(request, ())
    return web.json_response(_bridge(request).thermostat.native_view())


@validated
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


@validated
async def clear_override(request: web.Request) -> web.Response:
    """``POST /api/v1/thermostat/override/clear``: back to the schedule."""
    query_params(request, ())
    await read_empty(request)
    service = _bridge(request).thermostat
    await service.clear_override()
    return web.json_response(service.native_view())


@validated
async def pause(request: web.Request) -> web.Response:
    """``POST /api/v1/thermostat/pause`` with ``{"pause": true|false}``."""
    query_params(request, ())
    data = validate(PAUSE_SCHEMA, await read_object(request))
    service = _bridge(request).thermostat
    await service.set_paused(data["pause"])
    return web.json_response(service.native_view())


# -- schedule blocks ----------------------------------------------------------------------

BLOCKS_MAX_RANGE = 31 * DAY
"""The longest range ``GET /api/v1/schedule/blocks`` resolves."""
BLOCKS_DEFAULT_RANGE = DAY


@validated
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
    return web.json_response(
        {
            "start": start,
            "end": end,
            "timezone": service.state.timezone,
            "blocks": service.schedule_blocks(start, end),
        }
    )


# -- history and events ----------------------------------------------------------------


@validated
async def history(request: web.Request) -> web.Response:
    """``GET /api/v1/history?key=…&start=…&end=…&resolution=raw|hourly``."""
    bridge = _bridge(request)
    params = query_params(request, ("key", "start", "end", "resolution"))
    errors: list[FieldError] = []
    key = params.get("key")
    if key is None:
        errors.append({"field": "key", "rule": "required"})
    elif key not in HISTORY_KEYS and key not in await bridge.db.measurements.keys():
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
    points: list[Any]
    if resolution == "raw":
        samples = await bridge.db.measurements.samples(key, start, end)
        points = [[s.ts, s.value] for s in samples]
    else:
        hours = await bridge.db.measurements.hourly(key, start, end)
        points = [
            {"hour": h.hour, "min": h.min, "max": h.max, "mean": h.mean, "count": h.count}
            for h in hours
        ]
    return web.json_response(
        {"key": key, "resolution": resolution, "start": start, "end": end, "points": points}
    )


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


@validated
async def events(request: web.Request) -> web.Response:
    """``GET /api/v1/events?since=…&until=…&kind=…&limit=…``: the fault and event log."""
    params = query_params(request, ("since", "until", "kind", "limit"))
    since = parse_time(params["since"], "since") if "since" in params else None
    until = parse_time(params["until"], "until") if "until" in params else None
    kinds = _event_kinds(params["kind"]) if "kind" in params else None
    limit = parse_limit(params.get("limit"), "limit", DEFAULT_EVENTS, MAX_EVENTS)
    if since is not None and until is not None and until <= since:
        raise ValidationError([{"field": "until", "rule": "must be after since"}])
    found = await _bridge(request).db.events.query(
        since=since, until=until, kinds=kinds, limit=limit
    )
    return web.json_response({"events": [e.as_dict() for e in found]})


# -- diagnostics and predictions ---------------------------------------------------------


def _per_id(master: OpenThermMaster, now: float) -> list[dict[str, Any]]:
    state = master.state
    rows = []
    for data_id in sorted(set(state.counters) | set(state.values)):
        spec = get_spec(data_id)
        entry = state.values.get(data_id)
        rows.append(
            {
                "id": data_id,
                "key": spec.key if spec is not None else f"id{data_id}",
                "name": spec.name if spec is not None else None,
                **asdict(state.counter(data_id)),
                "raw": None if entry is None else f"0x{entry.raw:04X}",
                "stale": None if entry is None else entry.stale,
                "age_s": None if entry is None else round(entry.age(now), 3),
            }
        )
    return rows


def _opentherm_diagnostics(master: OpenThermMaster, now: float) -> dict[str, Any]:
    state = master.state
    return {
        "connected": state.connected,
        "cycles": master.cycles,
        "sessions": master.sessions,
        "conversations_per_second": state.conversations_per_second(now),
        "totals": asdict(state.totals()),
        "per_id": _per_id(master, now),
        "unknown_ids": [
            {
                "id": data_id,
                "name": spec.name if (spec := get_spec(data_id)) is not None else None,
                "since": since,
            }
            for data_id, since in sorted(state.unknown_ids.items())
        ],
    }


@validated
async def diagnostics(request: web.Request) -> web.Response:
    """``GET /api/v1/diagnostics``: counters, versions and uptime, with no personal data."""
    query_params(request, ())
    bridge = _bridge(request)
    clock = bridge.clock
    now = clock.time()
    link = bridge.link
    master = bridge.thermostat.master
    db = bridge.db
    recent = await db.events.query(
        kinds=(EventKind.BOILER_FAULT, EventKind.SOFTWARE_ERROR, EventKind.LINK), limit=20
    )
    hub = request.app.get(PUSH_KEY)
    retention = db.retention
    body = {
        "versions": {
            "bridge": __version__,
            "api": API_VERSION,
            "python": platform.python_version(),
            "aiohttp": aiohttp.__version__,
            "sqlite": sqlite3.sqlite_version,
            "schema": db.schema_version,
        },
        "uptime_s": round(clock.monotonic() - request.app[STARTED_KEY], 3),
        "link": {
            "kind": link.kind,
            "opentherm": link.opentherm,
            "state": str(link.state),
            "counters": asdict(link.counters),
        },
        "opentherm": None if master is None else _opentherm_diagnostics(master, now),
        "faults": None if master is None else faults_view(master),
        "capabilities": None if master is None else capabilities_view(master),
        "recent_faults": [e.as_dict() for e in recent],
        "storage": {
            "schema_version": db.schema_version,
            "retention_days": {
                "raw_samples": retention.raw_samples.days,
                "hourly_aggregates": retention.hourly_aggregates.days,
                "events": retention.events.days,
                "egress_log": retention.egress_log.days,
            },
        },
        "push": None if hub is None else hub.stats(),
    }
    return web.json_response(body)


@validated
async def predictions(request: web.Request) -> web.Response:
    """``GET /api/v1/predictions``: the learning module's outputs.

    ``available`` is false until the first room reading; then ``predictions``
    holds the room forecast, time to target, the next warm-up start, the
    learned figures and the learning progress (see
    :meth:`bridge.learning.service.LearningService.predictions`); ``status``
    says ``learning``, ``ready`` or ``fallback: <why>``. Fields are only added.
    """
    query_params(request, ())
    return web.json_response(_bridge(request).thermostat.predictions())


@owner_only
@validated
async def get_options(request: web.Request) -> web.Response:
    """``GET /api/v1/options``: the per-bridge options with their defaults filled in.

    ``preheat``, ``heating_system`` (``radiators`` or ``underfloor``),
    ``max_ch_setpoint`` (°C or null for the heating system's default),
    ``dhw_enable`` and ``dhw_setpoint`` (°C or null to leave the boiler's).
    """
    query_params(request, ())
    return web.json_response(_bridge(request).thermostat.options())


@owner_only
@validated
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


def _setting_rule(
    check: Callable[[Any], None], *, allow_empty: bool = True
) -> Callable[[Any], Any]:
    def run(value: Any) -> Any:
        try:
            check(value)
        except ValueError as err:
            raise vol.Invalid(str(err)) from None
        if not allow_empty and value == "":
            raise vol.Invalid("must not be empty (null clears it)")
        return value

    return run


SETTINGS_SCHEMA = vol.Schema(
    {
        vol.Optional("name"): _setting_rule(NAME.validate),
        vol.Optional("location"): _setting_rule(LOCATION.validate, allow_empty=False),
        vol.Optional("email"): _setting_rule(EMAIL.validate, allow_empty=False),
    },
    extra=vol.PREVENT_EXTRA,
)


async def _settings_view(bridge: BridgeServices) -> dict[str, Any]:
    settings = bridge.db.settings
    return {
        "name": await settings.get(NAME),
        "location": await settings.get(LOCATION),
        "email": await settings.get(EMAIL),
    }


@owner_only
@validated
async def get_settings(request: web.Request) -> web.Response:
    """``GET /api/v1/settings``: the owner's name for the thermostat, city and e-mail."""
    query_params(request, ())
    return web.json_response(await _settings_view(_bridge(request)))


@owner_only
@validated
async def put_settings(request: web.Request) -> web.Response:
    """``PUT /api/v1/settings``: change any of name, location, e-mail (all or nothing)."""
    query_params(request, ())
    bridge = _bridge(request)
    body = await read_object(request)
    if not body:
        raise ValidationError([{"field": "(body)", "rule": "nothing to update"}])
    data = validate(SETTINGS_SCHEMA, body)
    await bridge.db.settings.set_many(data)
    await bridge.thermostat.reload()
    return web.json_response(await _settings_view(bridge))


# -- tokens --------------------------------------------------------------------------------


def token_view(info: TokenInfo, now: float, current: int | None = None) -> dict[str, Any]:
    """A token as the API lists it (never its secret)."""
    return {
        "id": str(info.id),
        "name": info.name,
        "kind": info.kind.value,
        "created": info.created,
        "last_used": info.last_used,
        "expires": info.expires,
        "revoked": info.revoked,
        "client_id": info.client_id,
        "active": info.is_active(now),
        "current": info.id == current,
    }


@owner_only
@validated
async def list_tokens(request: web.Request) -> web.Response:
    """``GET /api/v1/tokens``: every token, active or not, without secrets."""
    query_params(request, ())
    bridge = _bridge(request)
    now = bridge.clock.time()
    own = token_of(request).id
    tokens = await bridge.db.auth.list_tokens()
    return web.json_response({"tokens": [token_view(t, now, own) for t in tokens]})


@owner_only
@validated
async def revoke_token(request: web.Request) -> web.Response:
    """``DELETE /api/v1/tokens/{id}``: revoke a token (idempotent); its push sockets close."""
    query_params(request, ())
    raw_id = request.match_info["id"]
    if not raw_id.isdigit() or len(raw_id) > 18:
        raise ValidationError([{"field": "id", "rule": "must be a token id (a whole number)"}])
    bridge = _bridge(request)
    token_id = int(raw_id)
    if await bridge.db.auth.get_token(token_id) is None:
        return json_error(404, "not_found", "no token with that id")
    await bridge.db.auth.revoke_token(token_id)
    info = await bridge.db.auth.get_token(token_id)
    assert info is not None
    hub = request.app.get(PUSH_KEY)
    if hub is not None:
        hub.close_token(token_id)
    now = bridge.clock.time()
    return web.json_response({"token": token_view(info, now, token_of(request).id)})


async def _on_startup(app: web.Application) -> None:
    app[STARTED_KEY] = app[BRIDGE_KEY].clock.monotonic()


def add_routes(app: web.Application) -> None:
    """Register the native routes (the state, health and pairing are in the app module)."""
    app.on_startup.append(_on_startup)
    app.router.add_get("/api/v1/thermostat", get_thermostat)
    app.router.add_patch("/api/v1/thermostat", patch_thermostat)
    app.router.add_post("/api/v1/thermostat/override/clear", clear_override)
    app.router.add_post("/api/v1/thermostat/pause", pause)
    app.router.add_get("/api/v1/history", history)
    app.router.add_get("/api/v1/schedule/blocks", schedule_blocks)
    app.router.add_get("/api/v1/events", events)
    app.router.add_get("/api/v1/diagnostics", diagnostics)
    app.router.add_get("/api/v1/predictions", predictions)
    app.router.add_get("/api/v1/options", get_options)
    app.router.add_put("/api/v1/options", put_options)
    app.router.add_get("/api/v1/settings", get_settings)
    app.router.add_put("/api/v1/settings", put_settings)
    app.router.add_get("/api/v1/tokens", list_tokens)
    app.router.add_delete("/api/v1/tokens/{id}", revoke_token)
