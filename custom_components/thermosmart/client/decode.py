"""A strict decoder from the bridge's JSON to the client's dataclasses, driven by type hints.

A model is a frozen dataclass that subclasses :class:`JsonModel`; its type
hints are the contract. ``bool``, ``int``, ``float``, ``str``, ``datetime``,
``Any``, other models, ``tuple[X, ...]``, ``Mapping[str, X]`` and ``X | None``
are understood, with these rules:

- a bool is never a number, an int is a float, a float that is not finite
  is None;
- ``datetime`` is an ISO 8601 time with an offset or a Unix time, as an
  aware UTC datetime;
- a field that is missing or null is None when its type allows None, else
  its default, else the answer is refused;
- keys the model does not name are ignored (a newer bridge may add some).

``Annotated`` extras say where a field is and what else to do with it:
:class:`At` (a path into nested objects and arrays), :class:`Range`, and
:class:`Via` (decode the JSON as one shape, then convert). Anything that
does not fit raises :class:`ThermoSmartResponseError` naming the field, so
garbage from the network never reaches the integration as half-filled
objects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
import functools
import math
import types
from typing import Annotated, Any, Self, Union, get_args, get_origin, get_type_hints

from .exceptions import ThermoSmartResponseError

MISSING: Any = dataclasses.MISSING


@dataclass(frozen=True, slots=True)
class At:
    """Where a field is in the JSON object: keys (and array indexes) from the model's object."""

    path: tuple[str | int, ...]

    def __init__(self, *path: str | int) -> None:
        object.__setattr__(self, "path", path)


@dataclass(frozen=True, slots=True)
class Range:
    """The inclusive bounds of a whole number."""

    low: int
    high: int


@dataclass(frozen=True, slots=True)
class Via:
    """Decode the JSON value as ``shape``, then ``convert`` it (None: as if missing)."""

    shape: Any
    convert: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Given:
    """Not in the JSON: the caller passes it to ``from_dict``, or the default holds."""


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """How one field of a model is read."""

    name: str
    path: tuple[str | int, ...]
    hint: Any
    """The field's type with None taken out (``Via.shape`` for a converted one)."""
    optional: bool
    default: Callable[[], Any] | None
    """Makes the value of a missing or null field (None: the field is required)."""
    range: Range | None
    convert: Callable[[Any], Any] | None
    given: bool


class JsonModel:
    """A dataclass the bridge's JSON decodes into."""

    __slots__ = ()

    @classmethod
    def from_dict(cls, data: Any, **given: Any) -> Self:
        """Decode ``data``; ``given`` fills the fields that are not in the JSON."""
        result: Self = decode_model(cls, data, "", given)
        return result


def _same(value: Any) -> Any:
    return value


def _strip_none(hint: Any) -> tuple[Any, bool]:
    if get_origin(hint) in (Union, types.UnionType):
        args = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(args) != len(get_args(hint)):
            return (args[0] if len(args) == 1 else Union[tuple(args)]), True
    return hint, False


@functools.cache
def plan(cls: type) -> tuple[FieldPlan, ...]:
    """The fields of a model and how each is read (from its type hints)."""
    hints = get_type_hints(cls, include_extras=True)
    plans = []
    for item in dataclasses.fields(cls):
        hint: Any = hints[item.name]
        extras: tuple[Any, ...] = ()
        if get_origin(hint) is Annotated:
            hint, extras = hint.__origin__, hint.__metadata__
        hint, optional = _strip_none(hint)
        optional = optional or hint is Any
        path: tuple[str | int, ...] = (item.name,)
        bounds: Range | None = None
        convert: Callable[[Any], Any] | None = None
        given = False
        for extra in extras:
            if isinstance(extra, At):
                path = extra.path
            elif isinstance(extra, Range):
                bounds = extra
            elif isinstance(extra, Via):
                hint, convert = extra.shape, extra.convert
            elif isinstance(extra, Given):
                given = True
        default: Any = item.default_factory
        if default is MISSING and item.default is not MISSING:
            default = functools.partial(_same, item.default)
        default = None if default is MISSING else default
        plans.append(FieldPlan(item.name, path, hint, optional, default, bounds, convert, given))
    return tuple(plans)


def decode_model(cls: type, data: Any, where: str, given: Mapping[str, Any]) -> Any:
    """Build the model ``cls`` from the JSON object ``data``."""
    if not isinstance(data, Mapping):
        raise ThermoSmartResponseError(f"{where or cls.__name__} is not an object")
    values: dict[str, Any] = {}
    for field in plan(cls):
        if field.name in given:
            values[field.name] = given[field.name]
            continue
        if field.given:
            continue
        raw, name = _lookup(data, field.path, where)
        value = None if raw is None else decode(field.hint, raw, name)
        if value is not None and field.range and not field.range.low <= value <= field.range.high:
            raise ThermoSmartResponseError(f"{name} is out of range")
        if value is not None and field.convert is not None:
            value = _guarded(field.convert, value, name)
        if value is None and not field.optional:
            if field.default is None:
                raise ThermoSmartResponseError(f"{name} is missing")
            value = field.default()
        values[field.name] = value
    return cls(**values)


def _lookup(data: Mapping[str, Any], path: tuple[str | int, ...], where: str) -> tuple[Any, str]:
    """The value at ``path`` (None where the way there is missing or null), and its name."""
    value: Any = data
    for step in path:
        name = f"{where}.{step}" if where else str(step)
        if isinstance(step, int):
            if not isinstance(value, list):
                raise ThermoSmartResponseError(f"{where} is not a list")
            value = value[step] if step < len(value) else None
        else:
            if not isinstance(value, Mapping):
                raise ThermoSmartResponseError(f"{where} is not an object")
            value = value.get(step)
        where = name
        if value is None:
            break
    return value, where


def _guarded(convert: Callable[[Any], Any], value: Any, name: str) -> Any:
    try:
        return convert(value)
    except (ValueError, TypeError, OverflowError, OSError) as err:
        raise ThermoSmartResponseError(f"{name}: {err}") from err


def decode(hint: Any, raw: Any, name: str) -> Any:
    """Decode one non-null JSON value as ``hint``; None for a number that is not finite."""
    origin = get_origin(hint)
    if hint is Any:
        return raw
    if hint is bool:
        if isinstance(raw, bool):
            return raw
    elif hint is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
    elif hint is float:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            number = float(raw)
            return number if math.isfinite(number) else None
    elif hint is str:
        if isinstance(raw, str):
            return raw
    elif hint is datetime:
        return _guarded(parse_time, raw, name)
    elif isinstance(hint, type) and issubclass(hint, JsonModel):
        return decode_model(hint, raw, name, {})
    elif origin is tuple:
        if isinstance(raw, list):
            item = get_args(hint)[0]
            items = tuple(decode(item, x, f"{name}[{i}]") for i, x in enumerate(raw))
            if None in items:
                raise ThermoSmartResponseError(f"{name} has an empty item")
            return items
    elif origin is Mapping:
        if isinstance(raw, Mapping):
            item_hint, optional = _strip_none(get_args(hint)[1])
            optional = optional or item_hint is Any
            result = {}
            for key, item in raw.items():
                value = None if item is None else decode(item_hint, item, f"{name}.{key}")
                if value is None and not optional:
                    raise ThermoSmartResponseError(f"{name}.{key} is missing")
                result[str(key)] = value
            return result
    else:  # pragma: no cover - a model declared a type this decoder does not know
        raise TypeError(f"cannot decode {hint!r}")
    raise ThermoSmartResponseError(f"{name} is not {_describe(hint)}")


def _describe(hint: Any) -> str:
    if get_origin(hint) is tuple:
        return "a list"
    if get_origin(hint) is Mapping:
        return "an object"
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time with an offset, or a Unix time, as an aware UTC datetime."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            return None
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        when = datetime.fromisoformat(value)
        if when.tzinfo is not None:
            return when.astimezone(UTC)
    raise ValueError("not a time with an offset")
