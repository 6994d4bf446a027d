"""Request bodies that need more than :func:`~bridge.core.validation.decode`.

The cloud API's thermostat update is checked with the rules of its payload
model (:class:`~bridge.core.payloads.thermostat.ThermostatUpdate`); this
module adds what older clients send.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.core.bodies import form_fields
from bridge.core.decoding import decode_fields
from bridge.core.payloads.thermostat import ThermostatUpdate
from bridge.core.validation import ValidationError


def parse_update(body: Any) -> dict[str, Any]:
    """Validate a ``PUT /thermostat/{hw}`` body (:class:`ThermostatUpdate` rules).

    Raises :class:`ValidationError`. An object under ``schedule`` whose keys
    are program names is taken as ``programs`` (older clients send it that way).
    """
    if not isinstance(body, Mapping):
        raise ValidationError([{"field": "(body)", "rule": "must be an object"}])
    data = dict(body)
    if isinstance(data.get("schedule"), Mapping):
        if "programs" in data:
            raise ValidationError(
                [{"field": "schedule", "rule": "programs given twice (programs and schedule)"}]
            )
        data["programs"] = data.pop("schedule")
    if not data:
        raise ValidationError([{"field": "(body)", "rule": "nothing to update"}])
    return decode_fields(ThermostatUpdate, data)


def update_from_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """A form-encoded update (``target_temperature=20.5``, as some clients send it) as the
    body :func:`parse_update` reads: each field once, ``geofence_enabled`` true/false as a
    boolean, numbers as their text (the number check reads it)."""
    body: dict[str, Any] = dict(form_fields(pairs))
    if body.get("geofence_enabled") in ("true", "false"):
        body["geofence_enabled"] = body["geofence_enabled"] == "true"
    return body


__all__ = ["parse_update", "update_from_form"]
