"""The native thermostat routes under ``/api/v1/``: the view and its commands,
the per-bridge options and the owner's settings.

The native API's clients act on the LAN for the people at home, like the
dial. Options and settings need an owner token; an OAuth access token of a
third-party client gets 403 there.
"""

from __future__ import annotations

from aiohttp import web

from bridge.api.context import BRIDGE_KEY, BridgeServices
from bridge.api.routing import (
    BODY_ERRORS,
    OWNER_ERRORS,
    QUERY_ERRORS,
    Route,
    json_body,
    json_ok,
    operation,
    register,
)
from bridge.api.util import owner_only, query_params, read_empty, read_object
from bridge.core.contract import render
from bridge.core.decoding import decode, decode_fields
from bridge.core.payloads.options import Options, OptionsChange, Settings, SettingsUpdate
from bridge.core.payloads.thermostat import NativeThermostat, PauseRequest, ThermostatUpdate
from bridge.core.validation import ValidationError


def _bridge(request: web.Request) -> BridgeServices:
    return request.app[BRIDGE_KEY]


# -- thermostat -------------------------------------------------------------------


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
)


def add_routes(app: web.Application) -> None:
    """Register the native thermostat, options and settings routes."""
    register(app, ROUTES)
