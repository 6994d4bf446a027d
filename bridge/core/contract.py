"""Payload models: plain dataclasses that are also the API's JSON Schema.

A payload model is a dataclass whose type hints say the JSON shape.
:func:`schema_of` turns one into a JSON Schema object, :func:`components`
collects every model reachable from some, keyed by class name (the
OpenAPI ``components.schemas``), and :func:`render` turns an instance into
the JSON value the API sends.

Type mapping: ``str``/``int``/``float``/``bool``; ``X | None`` nullable;
``Literal[...]`` and ``StrEnum`` an enum (one value: a ``const``);
``list[T]`` and ``tuple[T, ...]`` arrays; ``tuple[T, T]`` an array of
exactly that many; ``dict[str, T]`` an object of ``T``; ``dict[E, T]`` with
an enum or ``Literal`` key a closed object with every key required; a nested
dataclass a ``$ref`` to its component; ``Any`` anything; other unions
``anyOf``. ``Annotated[T, Keywords(...)]`` adds schema keywords to a type;
``Annotated[T, Named(...)]`` makes an alias its own component.

What a type cannot say goes in a field's metadata (:func:`spec`): a
description, bounds, lengths, a pattern, a default, and ``optional`` for a
key that may be absent (its value is then :data:`UNSET` and :func:`render`
leaves it out). Every other field is required. A model's docstring is its
component's description; objects are closed unless ``OPEN = True``, and
``SCHEMA_EXTRA`` adds keywords to the object schema.

Pure: no I/O. Works with ``from __future__ import annotations`` (hints are
resolved with :func:`typing.get_type_hints`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
import dataclasses
from enum import Enum
import types
import typing
from typing import (
    Annotated,
    Any,
    Final,
    Literal,
    TypeVar,
    Union,
    dataclass_transform,
    get_args,
    get_origin,
)

Json = dict[str, Any]

REF_PREFIX: Final = "#/components/schemas/"

_SIMPLE: Final[Mapping[type, str]] = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
}
#: Keywords that may sit next to a ``type`` list (so ``X | None`` stays one schema).
_SCALAR_KEYWORDS: Final = frozenset(
    {"type", "description", "format", "minimum", "maximum", "minLength", "maxLength", "pattern"}
)


class _Unset:
    """The value of an optional field that is absent."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


#: An absent optional field (left out of the JSON).
UNSET: Final = _Unset()
Unset = _Unset


@dataclasses.dataclass(frozen=True, eq=False)  # hashed by identity: the keywords may hold lists
class Keywords:
    """JSON Schema keywords added to a type: ``Annotated[float, Keywords(minimum=5)]``."""

    keywords: Mapping[str, Any]

    def __init__(self, **keywords: Any) -> None:
        object.__setattr__(self, "keywords", keywords)


@dataclasses.dataclass(frozen=True)
class Named:
    """Makes an ``Annotated`` alias a component of its own: ``$ref`` where it is used."""

    name: str
    description: str | None = None
    one_of: bool = False
    """A union is ``oneOf`` (exactly one branch fits) rather than ``anyOf``."""


def spec(
    *,
    optional: bool = False,
    default: Any = dataclasses.MISSING,
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
    schema: Json | None = None,
    rule: Any = None,
    **keywords: Any,
) -> Any:
    """A model field with schema metadata.

    ``keywords`` are JSON Schema keywords (``description``, ``minimum``,
    ``maxLength``, …; ``json_default`` is written as ``default``);
    ``schema`` replaces the type's schema whole; ``default=UNSET`` (or
    ``optional``) lets the key be absent; ``rule`` is the
    validation rule a request field is checked with (it may describe itself
    with a ``json_schema()`` method).
    """
    if "json_default" in keywords:
        keywords["default"] = keywords.pop("json_default")
    metadata = {"keywords": keywords, "optional": optional, "schema": schema, "rule": rule}
    if default is UNSET:
        metadata["optional"] = True
    elif optional and default is dataclasses.MISSING and default_factory is dataclasses.MISSING:
        default = UNSET
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, field_specifiers=(spec, dataclasses.field))
def model(cls: type[_T]) -> type[_T]:
    """Declares a payload model: a frozen, slotted dataclass."""
    return dataclasses.dataclass(frozen=True, slots=True)(cls)


# -- schemas ---------------------------------------------------------------------------


def ref(name: str) -> Json:
    """A reference to a component schema."""
    return {"$ref": REF_PREFIX + name}


def is_model(tp: Any) -> bool:
    """``tp`` is a payload model (a dataclass class)."""
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _hints(model: type) -> dict[str, Any]:
    return typing.get_type_hints(model, include_extras=True)


def _description(model: type) -> str | None:
    doc = model.__doc__
    if not doc or doc.startswith(model.__name__ + "("):  # the one dataclass makes up
        return None
    return " ".join(doc.split())


def _named(tp: Any) -> Named | None:
    if get_origin(tp) is Annotated:
        return next((a for a in tp.__metadata__ if isinstance(a, Named)), None)
    return None


def _nullable(schema: Json) -> Json:
    kind = schema.get("type")
    if (
        isinstance(kind, str)
        and kind not in ("object", "array")
        and set(schema) <= _SCALAR_KEYWORDS
    ):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _enum(values: Iterable[Any]) -> Json:
    values = list(values)
    if len(values) == 1:
        return {"const": values[0]}
    kinds = {_SIMPLE.get(type(v)) for v in values}
    out: Json = {"enum": values}
    if len(kinds) == 1 and None not in kinds:
        out = {"type": kinds.pop(), "enum": values}
    return out


def _enum_values(tp: Any) -> list[Any] | None:
    if get_origin(tp) is Literal:
        return list(get_args(tp))
    if isinstance(tp, type) and issubclass(tp, Enum):
        return [m.value for m in tp]
    return None


_BOUNDS: Final = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _tidy(keywords: Mapping[str, Any]) -> Json:
    """Keywords with whole-number float bounds written as integers (5.0 -> 5)."""
    out = dict(keywords)
    for key in _BOUNDS:
        value = out.get(key)
        if isinstance(value, float) and value.is_integer():
            out[key] = int(value)
    return out


def _key_values(key: Any) -> list[Any] | None:
    """The closed set of keys a mapping's key type allows, if it names one."""
    if get_origin(key) is Annotated:
        for extra in key.__metadata__:
            if isinstance(extra, Keywords) and "enum" in extra.keywords:
                return list(extra.keywords["enum"])
        return _key_values(key.__origin__)
    return _enum_values(key)


def type_schema(tp: Any) -> Json:
    """The JSON Schema of a type hint (models and named aliases as ``$ref``)."""
    named = _named(tp)
    if named is not None:
        return ref(named.name)
    if tp is Any or tp is object:
        return {}
    if tp is type(None):
        return {"type": "null"}
    if is_model(tp):
        return ref(tp.__name__)
    origin = get_origin(tp)
    if origin is Annotated:
        base = type_schema(tp.__origin__)
        for extra in tp.__metadata__:
            if isinstance(extra, Keywords):
                base = {**base, **_tidy(extra.keywords)}
        return base
    values = _enum_values(tp)
    if values is not None:
        return _enum(values)
    if isinstance(tp, type) and tp in _SIMPLE:
        return {"type": _SIMPLE[tp]}
    if origin in (Union, types.UnionType):
        return _union([a for a in get_args(tp) if a is not _Unset])
    if origin in (list, tuple, frozenset, set) or (
        isinstance(origin, type) and issubclass(origin, Sequence)
    ):
        args = get_args(tp)
        if origin is tuple and args and (len(args) != 2 or args[1] is not Ellipsis):
            items = [type_schema(a) for a in args]
            if all(i == items[0] for i in items):
                return {
                    "type": "array",
                    "items": items[0],
                    "minItems": len(items),
                    "maxItems": len(items),
                }
            return {"type": "array", "prefixItems": items, "minItems": len(items)}
        return {"type": "array", "items": type_schema(args[0]) if args else {}}
    if origin in (dict,) or (isinstance(origin, type) and issubclass(origin, Mapping)):
        key, value = get_args(tp) or (str, Any)
        keys = _key_values(key)
        item = type_schema(value)
        if keys is not None:
            return {
                "type": "object",
                "properties": dict.fromkeys(keys, item),
                "required": list(keys),
                "additionalProperties": False,
            }
        if item == {}:
            return {"type": "object"}
        return {"type": "object", "additionalProperties": item}
    raise TypeError(f"no JSON Schema for {tp!r}")


def _union(args: list[Any]) -> Json:
    nullable = type(None) in args
    rest = [a for a in args if a is not type(None)]
    schemas = [type_schema(a) for a in rest]
    if len(schemas) == 1:
        out = schemas[0]
    elif all(set(s) == {"type"} and isinstance(s["type"], str) for s in schemas):
        out = {"type": [s["type"] for s in schemas]}
    else:
        out = {"anyOf": schemas}
    return _nullable(out) if nullable else out


def field_schema(f: dataclasses.Field[Any], hint: Any) -> Json:
    """The schema of one model field: its type's, then its metadata's."""
    meta = f.metadata
    override = meta.get("schema")
    base: Json = dict(override) if override is not None else type_schema(hint)
    rule = meta.get("rule")
    describe = getattr(rule, "json_schema", None)
    if describe is not None and override is None:
        base = {**base, **_tidy(describe())}
    return {**base, **_tidy(meta.get("keywords", {}))}


def is_optional(f: dataclasses.Field[Any]) -> bool:
    """The key may be absent."""
    return bool(f.metadata.get("optional"))


def schema_of(model: type) -> Json:
    """The JSON Schema object of a payload model (nested models as ``$ref``)."""
    hints = _hints(model)
    properties: Json = {}
    required: list[str] = []
    for f in dataclasses.fields(model):
        properties[f.name] = field_schema(f, hints[f.name])
        if not is_optional(f):
            required.append(f.name)
    out: Json = {"type": "object", "properties": properties, "required": required}
    if not getattr(model, "OPEN", False):
        out["additionalProperties"] = False
    description = _description(model)
    if description:
        out["description"] = description
    out.update(getattr(model, "SCHEMA_EXTRA", {}))
    return out


def _alias_schema(tp: Any, named: Named) -> Json:
    inner = type_schema(tp.__origin__)
    for extra in tp.__metadata__:
        if isinstance(extra, Keywords):
            inner = {**inner, **_tidy(extra.keywords)}
    if named.one_of and "anyOf" in inner:
        inner = {"oneOf": inner.pop("anyOf"), **inner}
    if named.description:
        inner["description"] = named.description
    return inner


def _children(tp: Any) -> Iterable[Any]:
    """Models and named aliases a type refers to."""
    if _named(tp) is not None or is_model(tp):
        yield tp
        return
    if get_origin(tp) is Annotated:
        yield from _children(tp.__origin__)
        return
    for arg in get_args(tp):
        if arg is not Ellipsis and not isinstance(arg, (str, int, float, bool)):
            yield from _children(arg)


def components(*models: Any) -> dict[str, Json]:
    """Every component reachable from ``models`` (models or named aliases), by name."""
    out: dict[str, Json] = {}
    origin: dict[str, Any] = {}
    todo = list(models)
    while todo:
        tp = todo.pop(0)
        named = _named(tp)
        name = named.name if named is not None else tp.__name__
        if name in origin:
            if origin[name] != tp:
                raise TypeError(f"two components named {name}: {origin[name]!r}, {tp!r}")
            continue
        origin[name] = tp
        if named is not None:
            out[name] = _alias_schema(tp, named)
            todo.extend(_children(tp.__origin__))
            continue
        out[name] = schema_of(tp)
        hints = _hints(tp)
        for f in dataclasses.fields(tp):
            if f.metadata.get("schema") is None:
                todo.extend(_children(hints[f.name]))
    return out


# -- rendering -------------------------------------------------------------------------

_Renderer = Callable[[Any], Any]
#: How to render a value of each class met so far (worked out once per class).
_RENDERERS: dict[type, _Renderer] = {}


def _same(obj: Any) -> Any:
    return obj


def _enum_value(obj: Any) -> Any:
    return obj.value


def _render_dict(obj: Mapping[Any, Any]) -> Json:
    return {k.value if isinstance(k, Enum) else k: render(v) for k, v in obj.items()}


def _render_list(obj: Iterable[Any]) -> list[Any]:
    return [render(v) for v in obj]


def _model_renderer(cls: type) -> _Renderer:
    fields = tuple((f.name, is_optional(f)) for f in dataclasses.fields(cls))

    def render_model(obj: Any) -> Json:
        out: Json = {}
        for name, optional in fields:
            value = getattr(obj, name)
            if optional and value is UNSET:
                continue
            out[name] = render(value)
        return out

    return render_model


def _renderer(cls: type) -> _Renderer:
    if issubclass(cls, Enum):
        return _enum_value
    if cls in (str, int, float, bool, type(None)):
        return _same
    if dataclasses.is_dataclass(cls):
        return _model_renderer(cls)
    if issubclass(cls, Mapping):
        return _render_dict
    if issubclass(cls, (list, tuple)):
        return _render_list
    return _same


def render(obj: Any) -> Any:
    """The JSON value of a model instance (or of any value holding models).

    Enums become their values, tuples lists, absent optional fields are
    left out; dicts and lists are walked; other values pass unchanged. How
    to render each class is worked out once (the push path renders the
    native state on every change).
    """
    cls = type(obj)
    renderer = _RENDERERS.get(cls)
    if renderer is None:
        renderer = _RENDERERS[cls] = _renderer(cls)
    return renderer(obj)


_KEPT: dict[int, tuple[Any, Any]] = {}
"""id -> (model instance, its JSON), for :func:`keep_rendered`."""
_KEPT_CLASSES: set[type] = set()
_MAX_KEPT = 4096


def _kept_or(render_model: _Renderer) -> _Renderer:
    def render_kept(obj: Any) -> Any:
        kept = _KEPT.get(id(obj))
        if kept is not None and kept[0] is obj:
            return kept[1]
        return render_model(obj)

    return render_kept


def keep_rendered(models: Sequence[Any]) -> None:
    """Render these model instances now and keep their JSON, so that
    :func:`render` answers the very same objects from it later.

    For long lists that change rarely but are rendered on every change (the
    week schedule and the exceptions, in each view of the thermostat):
    rendered again, their entries are the same JSON objects, so comparing
    two renderings costs an identity check per entry. The kept JSON is
    shared: rendered JSON is read, never changed. The models kept last are
    always kept (older ones are dropped beyond a few thousand).
    """
    if len(_KEPT) + len(models) > _MAX_KEPT:
        _KEPT.clear()
    for obj in models:
        cls = type(obj)
        if cls not in _KEPT_CLASSES:
            _RENDERERS[cls] = _kept_or(_RENDERERS.get(cls) or _renderer(cls))
            _KEPT_CLASSES.add(cls)
        _KEPT[id(obj)] = (obj, render(obj))
