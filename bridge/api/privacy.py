"""The privacy routes of PRIVACY.md: export, erase, consents and the egress log.

All of them need an owner token (paired or made by the CLI): a third-party
OAuth client can neither read the household's data out nor erase it.
"""

from __future__ import annotations

from datetime import UTC, datetime
import re
from typing import TYPE_CHECKING

from aiohttp import web

from bridge.api.context import BRIDGE_KEY
from bridge.api.errors import json_error
from bridge.api.routing import (
    BODY_ERRORS,
    OWNER_ERRORS,
    QUERY_ERRORS,
    STR,
    TIME,
    Route,
    error_response,
    json_body,
    json_ok,
    operation,
    path_param,
    query,
    register,
)
from bridge.api.util import (
    owner_only,
    parse_limit,
    query_params,
    read_empty,
    read_object,
)
from bridge.api.ws import PUSH_KEY
from bridge.core.contract import render
from bridge.core.decoding import decode, decode_fields
from bridge.core.payloads.privacy import (
    Consent,
    Consents,
    ConsentUpdate,
    Egress,
    EraseRequest,
    EraseResult,
    Export,
    Purpose,
    Purposes,
)
from bridge.core.validation import ValidationError, parse_time
from bridge.services.cloud_client import CloudError, NoCloud

if TYPE_CHECKING:
    from bridge.core.validation import FieldError

MAX_EGRESS = 1000
DEFAULT_EGRESS = 200
PURPOSES = tuple(p.value for p in Purpose)
# Egress records name a consent purpose or another reason (a webhook, an update check).
_PURPOSE_NAME = re.compile(r"[a-z0-9_]{1,32}")


@owner_only
async def export(request: web.Request) -> web.Response:
    """``GET /api/v1/export``: everything stored about the household, as a JSON download."""
    query_params(request, ())
    bridge = request.app[BRIDGE_KEY]
    data = render(await bridge.privacy.export())
    stamp = datetime.fromtimestamp(bridge.clock.time(), tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    return web.json_response(
        data,
        headers={
            "Content-Disposition": f'attachment; filename="thermosmart-export-{stamp}.json"',
            "Cache-Control": "no-store",
        },
    )


@owner_only
async def erase(request: web.Request) -> web.Response:
    """``POST /api/v1/erase`` with ``{"confirm": true}``: personal data and history go.

    The thermostat reloads its (now default) name, programs and schedule and
    goes on heating. With ``"revoke_tokens": true`` every token is revoked
    too, the caller's included, and every push socket is closed.
    """
    query_params(request, ())
    data = decode(EraseRequest, await read_object(request))
    revoke = bool(data.revoke_tokens)
    bridge = request.app[BRIDGE_KEY]
    result = await bridge.privacy.erase(revoke_tokens=revoke)
    hub = request.app.get(PUSH_KEY)
    if hub is not None and revoke:
        hub.close_all(4401, "token revoked")
    return web.json_response(
        render(result),
        headers={"Cache-Control": "no-store"},
    )


@owner_only
async def get_consents(request: web.Request) -> web.Response:
    """``GET /api/v1/privacy/consents``: the decision in force per purpose, and the history."""
    query_params(request, ())
    return web.json_response(render(await request.app[BRIDGE_KEY].privacy.consents()))


@owner_only
async def ask_terms(request: web.Request) -> web.Response:
    """``POST /api/v1/privacy/terms``: ask the cloud's terms version now; the purposes."""
    query_params(request, ())
    await read_empty(request)
    try:
        purposes = await request.app[BRIDGE_KEY].privacy.ask_terms()
    except NoCloud as err:
        return json_error(409, "no_cloud", str(err))
    except CloudError as err:
        return json_error(409, "cloud_failed", str(err))
    return web.json_response(render(purposes))


@owner_only
async def get_purposes(request: web.Request) -> web.Response:
    """``GET /api/v1/privacy/purposes``: per purpose what it sends, the decision in force and
    whether it may send now; the cloud's current terms version."""
    query_params(request, ())
    return web.json_response(render(await request.app[BRIDGE_KEY].privacy.purposes()))


@owner_only
async def put_consent(request: web.Request) -> web.Response:
    """``PUT /api/v1/privacy/consents/{purpose}``: grant or revoke one purpose, at once."""
    query_params(request, ())
    errors: list[FieldError] = []
    purpose = request.match_info["purpose"]
    if purpose not in PURPOSES:
        errors.append({"field": "purpose", "rule": f"must be one of {', '.join(PURPOSES)}"})
    body = await read_object(request)
    try:
        data = decode_fields(ConsentUpdate, body)
    except ValidationError as err:
        errors.extend(err.errors)
    if errors:
        raise ValidationError(errors)
    consent = await request.app[BRIDGE_KEY].privacy.record_consent(
        Purpose(purpose), granted=data["granted"], terms_version=data["terms_version"]
    )
    return web.json_response(render(consent))


@owner_only
async def egress(request: web.Request) -> web.Response:
    """``GET /api/v1/privacy/egress``: every request that left the LAN, newest first."""
    params = query_params(request, ("since", "until", "purpose", "limit"))
    since = parse_time(params["since"], "since") if "since" in params else None
    until = parse_time(params["until"], "until") if "until" in params else None
    purpose = params.get("purpose")
    if purpose is not None and not _PURPOSE_NAME.fullmatch(purpose):
        raise ValidationError(
            [{"field": "purpose", "rule": "must be a purpose name (a-z, 0-9, _; 1-32 characters)"}]
        )
    limit = parse_limit(params.get("limit"), "limit", DEFAULT_EGRESS, MAX_EGRESS)
    if since is not None and until is not None and until <= since:
        raise ValidationError([{"field": "until", "rule": "must be after since"}])
    log = await request.app[BRIDGE_KEY].privacy.egress(
        since=since, until=until, purpose=purpose, limit=limit
    )
    return web.json_response(render(log))


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/api/v1/export",
        export,
        operation(
            "export",
            "Everything stored about the household, as a JSON download",
            "privacy",
            {
                "200": {
                    **json_ok(Export),
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
    ),
    Route(
        "POST",
        "/api/v1/erase",
        erase,
        operation(
            "erase",
            "Erase personal data and history; the thermostat keeps heating on defaults",
            "privacy",
            {"200": json_ok(EraseResult), **BODY_ERRORS, **OWNER_ERRORS},
            description="Name, city, e-mail, programs, schedule, exceptions, overrides, "
            "measurements, events, learning state, egress log and webhooks go; consents (the "
            "record of what the owner agreed to), the hardware id and the tokens stay (unless "
            "revoke_tokens).",
            body=json_body(EraseRequest),
        ),
    ),
    Route(
        "GET",
        "/api/v1/privacy/consents",
        get_consents,
        operation(
            "getConsents",
            "Consent per purpose, and the history of decisions",
            "privacy",
            {"200": json_ok(Consents), **QUERY_ERRORS, **OWNER_ERRORS},
        ),
    ),
    Route(
        "GET",
        "/api/v1/privacy/purposes",
        get_purposes,
        operation(
            "getPurposes",
            "What each purpose sends, whether it is granted, and the cloud's terms version",
            "privacy",
            {"200": json_ok(Purposes), **QUERY_ERRORS, **OWNER_ERRORS},
            description="A purpose's fields are the only field names a request under it may "
            "carry out of the LAN. A consent counts under the terms version it was given "
            "for: when the cloud's current version (terms_version, null until known) differs, "
            "the purpose is granted but not allowed until the owner answers again.",
        ),
    ),
    Route(
        "POST",
        "/api/v1/privacy/terms",
        ask_terms,
        operation(
            "askTerms",
            "Ask the cloud for its current terms version now, to consent under it",
            "privacy",
            {
                "200": json_ok(Purposes),
                **BODY_ERRORS,
                **OWNER_ERRORS,
                "409": error_response(
                    "`no_cloud` (no cloud_url configured) or `cloud_failed` (the cloud could "
                    "not be reached or answered no terms version; the message says why)"
                ),
            },
            description="The question (GET /api/v1/terms at the cloud) carries nothing of "
            "the home and needs no consent: it is the owner's, made before consenting. It is "
            "written to the egress log as the purpose `terms`. Takes no body.",
        ),
    ),
    Route(
        "PUT",
        "/api/v1/privacy/consents/{purpose}",
        put_consent,
        operation(
            "putConsent",
            "Grant or revoke one purpose (takes effect at once)",
            "privacy",
            {"200": json_ok(Consent), **BODY_ERRORS, **OWNER_ERRORS},
            parameters=[
                path_param(
                    "purpose", "the purpose", {"type": "string", "enum": [p.value for p in Purpose]}
                )
            ],
            body=json_body(ConsentUpdate),
        ),
    ),
    Route(
        "GET",
        "/api/v1/privacy/egress",
        egress,
        operation(
            "getEgress",
            "Every request that left the LAN, newest first",
            "privacy",
            {"200": json_ok(Egress), **QUERY_ERRORS, **OWNER_ERRORS},
            parameters=[
                query("since", "from", TIME),
                query("until", "until (exclusive)", TIME),
                query("purpose", "only this purpose"),
                query("limit", "1-1000, default 200", {"type": "string", "pattern": "^[0-9]+$"}),
            ],
        ),
    ),
)


def add_routes(app: web.Application) -> None:
    """Register the privacy routes."""
    register(app, ROUTES)
