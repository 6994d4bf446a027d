"""An owner's change through the cloud API in its wire form (the body of a ``command`` frame).

The stand-in never applies a change itself: the bridge applies it with its
own rules and answers (:mod:`cloud_stub.sync`); until then it is pending.
"""

from __future__ import annotations

from typing import Any


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
