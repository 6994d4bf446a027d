"""Request helpers shared by the API's route modules."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
import voluptuous as vol


async def read_json(request: web.Request) -> Any:
    """The request's JSON body, or an HTTPBadRequest naming what is wrong."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(
            text=json.dumps(
                {"error": "content_type", "message": "the body must be application/json"}
            ),
            content_type="application/json",
        )
    try:
        return json.loads(await request.read())
    except ValueError as err:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "bad_json", "message": f"the body is not JSON: {err}"}),
            content_type="application/json",
        ) from err


def validation_errors(err: vol.Invalid) -> list[dict[str, str]]:
    """``[{"field": "a.b", "rule": "…"}]`` for a voluptuous error."""
    items = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    out = []
    for item in items:
        field = ".".join(str(p) for p in item.path) or "(body)"
        rule = "unknown field" if item.error_message == "extra keys not allowed" else item.msg
        out.append({"field": field, "rule": rule})
    return out
