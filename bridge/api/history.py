"""The native API's time series under ``/api/v1/``: the resolved schedule
blocks for a range, the recorded history and the event and fault log.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from aiohttp import web

from bridge.api.context import BRIDGE_KEY, BridgeServices
from bridge.api.routing import QUERY_ERRORS, TIME, Route, json_ok, operation, query, register
from bridge.api.util import parse_limit, query_params
from bridge.core.contract import render
from bridge.core.payloads.history import EventKind, Events, History
from bridge.core.payloads.thermostat import ScheduleBlocks
from bridge.core.validation import ValidationError, parse_time
from bridge.services.thermostat import RECORDED_IDS

if TYPE_CHECKING:
    from bridge.core.validation import FieldError

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


def _bridge(request: web.Request) -> BridgeServices:
    return request.app[BRIDGE_KEY]


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


ROUTES: tuple[Route, ...] = (
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
)


def add_routes(app: web.Application) -> None:
    """Register the schedule blocks, history and events routes."""
    register(app, ROUTES)
