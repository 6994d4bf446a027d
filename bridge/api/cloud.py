"""The cloud-compatible API of THERMOSMART_API.md, served at the root.

Existing ThermoSmart clients work against the bridge by changing only their
base URL: same paths, same JSON, same status codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from bridge.api.context import BRIDGE_KEY
from bridge.api.routing import (
    AUTH_ERRORS,
    BODY_ERRORS,
    CLOUD_SECURITY,
    HW,
    Route,
    json_body,
    json_ok,
    operation,
    register,
    response_ref,
)
from bridge.api.util import FORM, read_empty, read_form, read_json
from bridge.core.contract import render
from bridge.core.decoding import decode
from bridge.core.payloads.thermostat import CloudThermostat, Own, PauseRequest, ThermostatUpdate
from bridge.core.requests import update_from_form

if TYPE_CHECKING:
    from bridge.services.thermostat import ThermostatService


def _thermostat(request: web.Request) -> ThermostatService:
    service = request.app[BRIDGE_KEY].thermostat
    if request.match_info.get("hw") not in (None, service.hardware_id):
        raise web.HTTPNotFound(
            text='{"error": "not_found", "message": "no thermostat with that id"}',
            content_type="application/json",
        )
    return service


async def get_own(request: web.Request) -> web.Response:
    """``GET /thermostat``: the thermostat the token belongs to."""
    return web.json_response(render(Own(hw=_thermostat(request).hardware_id)))


async def get_thermostat(request: web.Request) -> web.Response:
    """``GET /thermostat/{hw}``."""
    return web.json_response(_thermostat(request).cloud_object())


async def _update_body(request: web.Request) -> Any:
    """A JSON body, or a form body (``target_temperature=20.5``) as some clients send."""
    if request.content_type == FORM:
        return update_from_form(list((await read_form(request)).items()))
    return await read_json(request)


async def put_thermostat(request: web.Request) -> web.Response:
    """``PUT /thermostat/{hw}``: an update, applied whole or not at all."""
    service = _thermostat(request)
    body = await _update_body(request)
    if body == {}:
        return web.Response(status=204)
    return web.json_response(await service.update(body, remote=True))


async def post_pause(request: web.Request) -> web.Response:
    """``POST /thermostat/{hw}/pause`` with ``{"pause": true|false}``."""
    service = _thermostat(request)
    data = decode(PauseRequest, await read_json(request))
    return web.json_response(await service.set_paused(data.pause))


async def post_unpause(request: web.Request) -> web.Response:
    """``POST /thermostat/{hw}/unpause``: the same as pause false (thermostart clients);
    no body or ``{}``, nothing else."""
    service = _thermostat(request)
    await read_empty(request)
    return web.json_response(await service.set_paused(False))


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/thermostat",
        get_own,
        operation(
            "getOwnThermostat",
            "The thermostat the token belongs to",
            "cloud",
            {"200": json_ok(Own), **AUTH_ERRORS},
            security=CLOUD_SECURITY,
        ),
    ),
    Route(
        "GET",
        "/thermostat/{hw}",
        get_thermostat,
        operation(
            "getThermostat",
            "The thermostat object",
            "cloud",
            {"200": json_ok(CloudThermostat), **AUTH_ERRORS, "404": response_ref("NotFound")},
            security=CLOUD_SECURITY,
            parameters=[HW],
        ),
    ),
    Route(
        "PUT",
        "/thermostat/{hw}",
        put_thermostat,
        operation(
            "updateThermostat",
            "Update the thermostat (whole or not at all)",
            "cloud",
            {
                "200": json_ok(CloudThermostat, "The updated thermostat object"),
                "204": {"description": "Empty update: nothing to do"},
                **BODY_ERRORS,
                "404": response_ref("NotFound"),
            },
            description="A target_temperature is a remote override (`source` remote) until the next "
            "schedule block.",
            security=CLOUD_SECURITY,
            parameters=[HW],
            body=json_body(ThermostatUpdate, form=True),
        ),
    ),
    Route(
        "POST",
        "/thermostat/{hw}/pause",
        post_pause,
        operation(
            "pauseThermostat",
            "Pause (hold the pause program) or resume",
            "cloud",
            {"200": json_ok(CloudThermostat), **BODY_ERRORS, "404": response_ref("NotFound")},
            security=CLOUD_SECURITY,
            parameters=[HW],
            body=json_body(PauseRequest),
        ),
    ),
    Route(
        "POST",
        "/thermostat/{hw}/unpause",
        post_unpause,
        operation(
            "unpauseThermostat",
            "Resume (the same as pause false)",
            "cloud",
            {"200": json_ok(CloudThermostat), **BODY_ERRORS, "404": response_ref("NotFound")},
            description="Takes no body (or `{}`).",
            security=CLOUD_SECURITY,
            parameters=[HW],
        ),
    ),
)


def add_routes(app: web.Application) -> None:
    """Register the cloud-compatible routes."""
    register(app, ROUTES)
