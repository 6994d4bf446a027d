"""Request bodies decoded into their payload models.

Each field of a request model is checked with the :class:`~bridge.core.rules.Rule`
it names (or, without one, its plain type); :func:`decode` returns the model
instance or raises :class:`~bridge.core.validation.ValidationError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import dataclasses
from typing import Any, TypeVar, cast, get_args, get_type_hints

import voluptuous as vol

from bridge.core.contract import Unset, is_optional
from bridge.core.validation import ValidationError, errors_from_invalid, finite_number, text

_T = TypeVar("_T")


_TYPE_RULES: dict[Any, Callable[[Any], Any]] = {bool: bool, str: text, float: finite_number}
_MODEL_SCHEMAS: dict[type, vol.Schema] = {}

FieldRules = Mapping[str, Callable[[Any], Any]]


def _field_rule(
    model: type, f: dataclasses.Field[Any], hint: Any, rules: FieldRules
) -> Callable[[Any], Any]:
    rule = rules.get(f.name, f.metadata.get("rule"))
    if rule is not None:
        return cast("Callable[[Any], Any]", rule)
    args = [a for a in get_args(hint) if a is not Unset] or [hint]
    if len(args) == 1 and args[0] in _TYPE_RULES:
        return _TYPE_RULES[args[0]]
    raise TypeError(f"{model.__name__}.{f.name}: a request field needs a rule for {hint!r}")


def model_schema(model: type, rules: FieldRules | None = None) -> vol.Schema:
    """The voluptuous schema of a request model: each field with its rule (or, without
    one, its plain type); ``rules`` replaces some fields' rules (a stricter reader)."""
    hints = get_type_hints(model, include_extras=True)
    keys: dict[Any, Any] = {}
    for f in dataclasses.fields(model):
        marker = vol.Optional if is_optional(f) else vol.Required
        keys[marker(f.name)] = _field_rule(model, f, hints[f.name], rules or {})
    return vol.Schema(keys, extra=vol.PREVENT_EXTRA)


def _model_schema(model: type) -> vol.Schema:
    schema = _MODEL_SCHEMAS.get(model)
    if schema is None:
        schema = _MODEL_SCHEMAS[model] = model_schema(model)
    return schema


def decode_fields(model: type, data: Any) -> dict[str, Any]:
    """The checked values of the fields ``data`` holds, by name, for request ``model``.

    Each field is checked with its rule (or, without one, its plain type);
    unknown fields are "unknown field", missing required ones "required".
    Raises :class:`ValidationError` listing every broken rule.
    """
    if not isinstance(data, Mapping):
        raise ValidationError([{"field": "(body)", "rule": "must be an object"}])
    try:
        checked: dict[str, Any] = _model_schema(model)(dict(data))
    except vol.Invalid as err:
        raise ValidationError(errors_from_invalid(err)) from None
    return checked


def decode(model: type[_T], data: Any) -> _T:
    """A request body as an instance of ``model``, or :class:`ValidationError`.

    Absent optional fields are :data:`~bridge.core.contract.UNSET`, or the
    default the schema documents (``spec(json_default=...)``).
    """
    values = decode_fields(model, data)
    for f in dataclasses.fields(cast("Any", model)):
        if f.name not in values and "default" in f.metadata.get("keywords", {}):
            values[f.name] = f.metadata["keywords"]["default"]
    return model(**values)
