"""Changes made through the cloud API: their wire form and their effect on the stored object.

A change is queued for the bridge (which applies it with its own rules and
stays the source of truth) and applied to the stored thermostat object at
once, as a preview of what the bridge will report. The bridge's next upload
replaces the preview; changes it has not pulled yet are applied on top.

Command types: ``update`` (a ``PUT /thermostat/{hw}`` body that
:func:`bridge.core.requests.parse_update` accepts) and ``pause``
(``{"pause": true|false}``).
"""

from __future__ import annotations

import copy
from typing import Any

from bridge.core.state import Source

UPDATE = "update"
PAUSE = "pause"


def wire_update(parsed: dict[str, Any]) -> dict[str, Any]:
    """A parsed update (from ``parse_update``) back in the API's JSON form, normalised."""
    body: dict[str, Any] = {}
    for key, value in parsed.items():
        if key == "schedule":
            body[key] = value.to_list()
        elif key == "exceptions":
            body[key] = [item.to_dict() for item in value]
        elif key == "outside_temperature" and value is None:
            body[key] = "auto"
        elif key == "programs":
            body[key] = dict(value)
        else:
            body[key] = value
    return body


def apply_update(obj: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The object with a (normalised) update applied; ``obj`` is left alone."""
    out = copy.deepcopy(obj)
    if "programs" in body:
        out["programs"] = {**out["programs"], **body["programs"]}
        if out["source"] == Source.PAUSE:
            out["target_temperature"] = out["programs"]["pause"]
    for key in ("schedule", "exceptions", "room_temperature", "geofence_enabled"):
        if key in body:
            out[key] = copy.deepcopy(body[key])
    if body.get("outside_temperature", "auto") != "auto":
        # "auto" hands the value back to the weather source: the bridge reports it
        out["outside_temperature"] = body["outside_temperature"]
    if "target_temperature" in body:
        # a remote override; it also ends a pause, as on the bridge
        out["target_temperature"] = body["target_temperature"]
        out["source"] = str(Source.REMOTE)
    return out


def apply_pause(obj: dict[str, Any], paused: bool) -> dict[str, Any]:
    """The object paused (holding the ``pause`` program) or resumed."""
    out = copy.deepcopy(obj)
    if paused:
        out["source"] = str(Source.PAUSE)
        out["target_temperature"] = out["programs"]["pause"]
    elif out["source"] == Source.PAUSE:
        out["source"] = str(Source.SCHEDULE)
    return out


def apply_command(obj: dict[str, Any], kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Apply one queued command to the object."""
    if kind == UPDATE:
        return apply_update(obj, body)
    if kind == PAUSE:
        return apply_pause(obj, bool(body["pause"]))
    raise ValueError(f"unknown command type {kind!r}")
