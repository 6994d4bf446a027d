"""Request helpers shared by the API's route modules."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


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
