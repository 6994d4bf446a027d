"""Request bodies from bytes: the one JSON and form reader of the bridge and the cloud.

Every route that reads a body (and the WebSocket's client messages) turns its
bytes into a value here, so each limit is written once:

* the body is UTF-8, strictly (an invalid byte or an encoded surrogate is
  refused, never replaced);
* JSON nests at most :data:`MAX_DEPTH` arrays and objects, checked on the
  text before it is parsed (a body nested 30,000 deep is refused without
  the parser recursing into it);
* JSON has no ``NaN``/``Infinity`` and no key twice in one object;
* a form (``application/x-www-form-urlencoded``) is ``name=value`` pairs
  whose percent-escapes decode to UTF-8 too.

The size of a body is the server's limit (:data:`MAX_BODY` on the bridge),
applied before the bytes arrive here. A refusal is a :class:`BodyError`,
answered 400 with its ``error`` and ``message``.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

#: The largest request body the bridge reads (a full week schedule fits several times).
MAX_BODY = 64 * 1024
#: The deepest nesting of arrays and objects a JSON body may have (the deepest valid
#: body, an update with exceptions, nests four).
MAX_DEPTH = 32

# A string (to its closing quote, or to the end of an unterminated one: every string
# matches once, possessively, so the scan is linear whatever the body) or a bracket.
_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")


class BodyError(ValueError):
    """A body that cannot be read; ``error`` is the answer's code (``bad_json``, ``bad_form``)."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


def _text(raw: bytes, error: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BodyError(error, f"the body is not UTF-8 (byte {err.start})") from None


def json_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """How deep ``text``'s arrays and objects nest (strings skipped), counted without
    recursion; stops counting past ``limit``."""
    depth = deepest = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token[0] == '"':
            continue
        if token in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} given twice")
        out[key] = value
    return out


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number in JSON")


def parse_json(raw: bytes) -> Any:
    """A JSON body's value, or :class:`BodyError` (``bad_json``) saying what is wrong."""
    text = _text(raw, "bad_json")
    if json_depth(text) > MAX_DEPTH:
        raise BodyError("bad_json", f"the body nests deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:  # RecursionError: a guard, the depth is checked
        raise BodyError("bad_json", f"the body is not JSON: {err}") from None


def parse_form(raw: bytes) -> list[tuple[str, str]]:
    """A form body's ``(name, value)`` pairs in order, or :class:`BodyError` (``bad_form``)."""
    text = _text(raw, "bad_form")
    pairs: list[tuple[str, str]] = []
    for field in text.split("&") if text else ():
        name, equals, value = field.partition("=")
        if not equals:
            raise BodyError("bad_form", f"the form is not valid: a field without '=' ({field!r})")
        pairs.append((_unquote(name), _unquote(value)))
    return pairs


def _unquote(part: str) -> str:
    """A form name or value: ``+`` is a space, ``%XX`` a byte, the bytes UTF-8."""
    spaced = part.replace("+", " ")
    if "%" not in spaced:
        return spaced
    data = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), spaced.encode("utf-8"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("bad_form", "the form is not UTF-8 (in a %-escape)") from None


def form_fields(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Form pairs as a dict; a field given twice is a :class:`BodyError`."""
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in out:
            raise BodyError("bad_form", f"field {key} given twice")
        out[key] = value
    return out
