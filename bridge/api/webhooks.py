"""Webhook registration of the cloud-compatible API (THERMOSMART_API.md).

``POST /`` with ``{"webhook_url": "<url>"}`` and, for older clients,
``POST /webhook`` with ``{"webhook": "<url>"}``. Both need a token, and the
webhook belongs to that token (for an OAuth client: to the client's grant,
one webhook per client); registering again replaces it and an empty URL (or
null) removes it. URL checks: :mod:`bridge.services.webhook_destinations`;
delivery, retries and expiry: :mod:`bridge.services.webhook_delivery`.
"""

from __future__ import annotations

from aiohttp import web

from bridge.api.context import BRIDGE_KEY, token_of
from bridge.api.routing import (
    BODY_ERRORS,
    CLOUD_SECURITY,
    Route,
    json_body,
    json_ok,
    operation,
    register,
)
from bridge.api.util import read_json
from bridge.core.contract import render
from bridge.core.decoding import decode_fields
from bridge.core.payloads.ws import LegacyWebhookRegistration, WebhookRegistration
from bridge.core.validation import ValidationError
from bridge.services.webhook_destinations import check_url

_BODIES: dict[str, type] = {
    "webhook_url": WebhookRegistration,
    "webhook": LegacyWebhookRegistration,
}


async def _register(request: web.Request, field: str) -> web.Response:
    url = decode_fields(_BODIES[field], await read_json(request))[field]
    token = token_of(request)
    dispatcher = request.app[BRIDGE_KEY].webhooks
    if url is None or url == "":
        await dispatcher.unregister(token)
        return web.json_response(render(_BODIES[field]("")))
    rule = check_url(url) or await dispatcher.check_destination(url)
    if rule is not None:
        raise ValidationError([{"field": field, "rule": rule}])
    webhook = await dispatcher.register(url, token)
    return web.json_response(render(_BODIES[field](webhook.url)))


async def post_root(request: web.Request) -> web.Response:
    """``POST /`` with ``{"webhook_url": "<url>"}``: register (empty: remove) a webhook."""
    return await _register(request, "webhook_url")


async def post_webhook(request: web.Request) -> web.Response:
    """``POST /webhook`` with ``{"webhook": "<url>"}``: the same, as older clients send it."""
    return await _register(request, "webhook")


ROUTES: tuple[Route, ...] = (
    Route(
        "POST",
        "/",
        post_root,
        operation(
            "registerWebhook",
            "Register (or with an empty URL remove) the token's webhook",
            "cloud",
            {"200": json_ok(WebhookRegistration), **BODY_ERRORS},
            description="On every change the bridge POSTs a WebhookMessage to the URL; delivery is "
            "retried with backoff and never blocks the thermostat.",
            security=CLOUD_SECURITY,
            body=json_body(WebhookRegistration),
        ),
    ),
    Route(
        "POST",
        "/webhook",
        post_webhook,
        operation(
            "registerWebhookLegacy",
            "The same as POST /, as older clients send it",
            "cloud",
            {"200": json_ok(LegacyWebhookRegistration), **BODY_ERRORS},
            security=CLOUD_SECURITY,
            body=json_body(LegacyWebhookRegistration),
        ),
    ),
)


def add_routes(app: web.Application) -> None:
    """Register the webhook routes."""
    register(app, ROUTES)
