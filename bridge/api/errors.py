"""JSON error answers: every refusal names the field and the rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web


def json_error(
    status: int,
    error: str,
    message: str,
    *,
    errors: Sequence[Mapping[str, object]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """An error answer ``{"error": …, "message": …, "errors": [...]}``."""
    body: dict[str, Any] = {"error": error, "message": message}
    if errors:
        body["errors"] = [dict(e) for e in errors]
    return web.json_response(body, status=status, headers=headers)


def unauthorized(message: str = "a valid token is required") -> web.Response:
    """401 with the Bearer challenge."""
    return json_error(
        401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="thermosmart"'}
    )
