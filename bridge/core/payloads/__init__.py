"""The API's payloads as models: one class per component of ``/openapi.json``.

Each module holds one area's models (see :mod:`bridge.core.contract` for
how a model becomes a schema and a JSON value). :data:`ALL` lists the roots
the OpenAPI document is generated from; every other component is reachable
from them.
"""

from __future__ import annotations

from typing import Any, get_origin

from bridge.core.contract import Named, is_model


def catalog() -> dict[str, Any]:
    """Every payload model and named alias of this package, by component name."""
    from bridge.core.payloads import (
        access,
        boiler,
        common,
        history,
        native,
        options,
        privacy,
        thermostat,
        unit,
        ws,
    )

    out: dict[str, Any] = {}
    modules = (access, boiler, common, history, native, options, privacy, thermostat, unit, ws)
    for module in modules:
        for value in vars(module).values():
            if is_model(value):
                name = value.__name__
            elif get_origin(value) is not None and hasattr(value, "__metadata__"):
                named = next((m for m in value.__metadata__ if isinstance(m, Named)), None)
                if named is None:
                    continue
                name = named.name
            else:
                continue
            known = out.setdefault(name, value)
            if known is not value:
                raise TypeError(f"two payload models named {name}")
    return out
