"""Request helpers shared by the API's route modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import datetime
import functools
import json
import math
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bridge.api.context import token_of
from bridge.api.errors import json_error
from bridge.core.validation import ValidationError
from bridge.services.access import OWNER_KINDS

if TYPE_CHECKING:
    from bridge.core.validation import FieldError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Unix times accepted: 1970 up to the year 2100.
_TIME_MAX = 4_102_444_800.0


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
