"""``/api/v1/cloud/link``: link the bridge to an owner's cloud account, from the native API.

The device grant runs in the background (``bridge/services/cloud_link.py``):
``POST`` asks the cloud for a user code and answers it at once, ``GET`` says
where the link stands, ``DELETE`` stops a waiting link and forgets a stored
one. Owner tokens only: linking sends data off the LAN under the
``cloud_sync`` consent.
"""

from __future__ import annotations

from aiohttp import web

from bridge.api.context import BRIDGE_KEY
from bridge.api.errors import json_error
from bridge.api.routing import (
    BODY_ERRORS,
    OWNER_ERRORS,
    QUERY_ERRORS,
    Route,
    error_response,
    json_ok,
    operation,
    register,
)
from bridge.api.util import owner_only, query_params, read_empty
from bridge.core.contract import render
from bridge.core.payloads.privacy import CloudLinkStatus, LinkCode
from bridge.services.cloud_link import LinkFailed, LinkRefused

PATH = "/api/v1/cloud/link"


@owner_only
async def start_link(request: web.Request) -> web.Response:
    """``POST /api/v1/cloud/link``: start a link; the user code for the owner."""
    query_params(request, ())
    await read_empty(request)
    try:
        code = await request.app[BRIDGE_KEY].cloud_link.start()
    except LinkRefused as err:
        return json_error(409, err.reason, str(err))
    except LinkFailed as err:
        return json_error(409, "cloud_failed", f"{err}; nothing was stored")
    return web.json_response(render(code), headers={"Cache-Control": "no-store"})


@owner_only
async def get_link(request: web.Request) -> web.Response:
    """``GET /api/v1/cloud/link``: idle, waiting (with the code), linked, denied, expired,
    failed."""
    query_params(request, ())
    status = await request.app[BRIDGE_KEY].cloud_link.status()
    return web.json_response(render(status), headers={"Cache-Control": "no-store"})


@owner_only
async def delete_link(request: web.Request) -> web.Response:
    """``DELETE /api/v1/cloud/link``: stop a waiting link, forget a stored one."""
    query_params(request, ())
    await read_empty(request)
    return web.json_response(render(await request.app[BRIDGE_KEY].cloud_link.unlink()))


CONFLICT = error_response(
    "The bridge will not link: `no_cloud` (no cloud_url configured), `no_consent` (the "
    "cloud_sync consent is not granted under the cloud's current terms), `already_linked`, "
    "`no_ids`; or `cloud_failed`: the cloud could not be reached or refused (the message "
    "says why). Nothing was stored."
)

ROUTES: tuple[Route, ...] = (
    Route(
        "POST",
        PATH,
        start_link,
        operation(
            "startCloudLink",
            "Start linking to the owner's cloud account (RFC 8628 device grant)",
            "privacy",
            {"200": json_ok(LinkCode), **BODY_ERRORS, **OWNER_ERRORS, "409": CONFLICT},
            description="Needs cloud_url and the cloud_sync consent. Answers the user code "
            "and where to approve it at once; the bridge then polls the cloud in the "
            "background (GET tells how it ends). While a link waits, the same code again. "
            "Takes no body.",
        ),
    ),
    Route(
        "GET",
        PATH,
        get_link,
        operation(
            "getCloudLink",
            "Where linking stands: idle, waiting, linked, denied, expired or failed",
            "privacy",
            {"200": json_ok(CloudLinkStatus), **QUERY_ERRORS, **OWNER_ERRORS},
        ),
    ),
    Route(
        "DELETE",
        PATH,
        delete_link,
        operation(
            "deleteCloudLink",
            "Stop a waiting link and forget the stored one with its credential",
            "privacy",
            {"200": json_ok(CloudLinkStatus), **BODY_ERRORS, **OWNER_ERRORS},
            description="The cloud keeps its side of the link. Takes no body.",
        ),
    ),
)


def add_routes(app: web.Application) -> None:
    """Register the cloud link routes."""
    register(app, ROUTES)
