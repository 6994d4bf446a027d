"""Request helpers shared by the API's route modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
import functools
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from bridge.api.context import token_of
from bridge.api.errors import json_error
from bridge.core.bodies import parse_form, parse_json
from bridge.core.validation import ValidationError, parse_whole
from bridge.services.access import OWNER_KINDS

if TYPE_CHECKING:
    from bridge.core.validation import FieldError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The media type of a form body.
FORM = "application/x-www-form-urlencoded"


def _unsupported(message: str) -> web.HTTPUnsupportedMediaType:
    return web.HTTPUnsupportedMediaType(
        text=json.dumps({"error": "content_type", "message": message}),
        content_type="application/json",
    )


async def _read(request: web.Request, *kinds: str) -> bytes:
    """The body's bytes, of one of the media types ``kinds`` in UTF-8 (415 otherwise).

    The size limit (:data:`~bridge.core.bodies.MAX_BODY`) is the app's: a larger
    body is answered 413 before it is read whole.
    """
    if request.content_type not in kinds:
        raise _unsupported(f"the body must be {' or '.join(kinds)}")
    if request.charset not in (None, "utf-8", "UTF-8"):
        raise _unsupported("the body must be UTF-8")
    return await request.read()


async def read_json(request: web.Request) -> Any:
    """The request's JSON body (:func:`~bridge.core.bodies.parse_json`); the error
    middleware answers a :class:`~bridge.core.bodies.BodyError` with 400."""
    return parse_json(await _read(request, "application/json"))


async def read_form(request: web.Request) -> MultiDictProxy[str]:
    """The request's form body (:func:`~bridge.core.bodies.parse_form`), like
    ``request.post()`` but strict: UTF-8 only, no file parts."""
    pairs = parse_form(await _read(request, FORM))
    return MultiDictProxy(MultiDict(pairs))


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


def parse_limit(value: str | None, field: str, default: int, maximum: int) -> int:
    """A whole number ``1..maximum`` from the query (``default`` when absent)."""
    if value is None:
        return default
    return parse_whole(value, field, 1, maximum)
