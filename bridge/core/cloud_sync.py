"""The sync connection between a bridge and its cloud: the frames, and the order of events.

One WebSocket per linked bridge, opened by the bridge (the home opens no
port) to ``/api/v1/bridges/{bridge_id}/sync`` with its credential as
``Authorization: Bearer``, carries JSON text frames, each an object with a
``type``. Both ends build and read frames with this module only.

Cloud to bridge:

* ``hello`` ``{terms_version}``: the first frame; the bridge takes the
  terms version as the cloud's current one (consent follows it, P14);
* ``command`` ``{id, kind, body, issued_at, based_on}``: an owner's change
  through the cloud API. ``kind`` ``update`` has a ``PUT /thermostat/{hw}``
  body, ``pause`` has ``{"pause": true|false}``; ``based_on`` is the ``seq``
  of the last thermostat the cloud had when the owner issued it.

Bridge to cloud (all under the ``cloud_sync`` consent, field names from
:data:`bridge.core.purposes.ALLOWED`):

* ``thermostat`` ``{seq, thermostat}``: the thermostat object with exactly
  :data:`~bridge.core.purposes.THERMOSTAT_FIELDS` (never ``location``);
* ``result`` ``{id, status, errors?, seq, thermostat}``: the answer to a
  command: ``applied``, ``rejected`` (with the bridge's ``errors``) or
  ``superseded``, and the object as it is after it;
* ``retention`` ``{retention_days}``: how long the cloud may keep what it
  holds for the bridge.

A frame is at most :data:`MAX_FRAME` bytes and is read by the one body
reader (:mod:`bridge.core.bodies`); a frame of an unknown ``type`` is
``None`` (ignored: the other end may be newer), a malformed one a
:class:`FrameError`.

The order of events (:class:`Timeline`): ``seq`` is a stamp of the bridge's
own timeline, the bridge clock in milliseconds made strictly increasing;
every change made on the bridge (its APIs, the dial) is stamped the same
way per *thing* it changes (:data:`THINGS`). A command is **superseded**
when a thing it changes was changed on the bridge after ``based_on``: the
owner did not see that change when issuing it, and the thermostat's later
event wins. Commands applied from the cloud are not stamped, so an owner's
later command is not superseded by the same owner's earlier one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
import json
import math
from typing import Any, Final, Literal

from bridge.core.bodies import MAX_BODY, BodyError, parse_json
from bridge.core.purposes import THERMOSTAT_FIELDS

__all__ = [
    "MAX_FRAME",
    "THINGS",
    "Command",
    "FrameError",
    "Hello",
    "Result",
    "Retention",
    "ThermostatUpload",
    "Timeline",
    "backoff_delay",
    "command_frame",
    "frame_fields",
    "hello_frame",
    "parse_bridge_frame",
    "parse_cloud_frame",
    "result_frame",
    "retention_frame",
    "thermostat_frame",
    "thermostat_payload",
]

MAX_FRAME = MAX_BODY
"""The largest frame either end reads (a full week schedule fits several times)."""

HELLO = "hello"
COMMAND = "command"
THERMOSTAT = "thermostat"
RESULT = "result"
RETENTION = "retention"

UPDATE: Final = "update"
PAUSE: Final = "pause"
KINDS = (UPDATE, PAUSE)

APPLIED: Final = "applied"
REJECTED: Final = "rejected"
SUPERSEDED: Final = "superseded"
STATUSES = (APPLIED, REJECTED, SUPERSEDED)

SETPOINT = "setpoint"
THINGS: Mapping[str, str] = {
    "target_temperature": SETPOINT,
    "pause": SETPOINT,
    "programs": "programs",
    "schedule": "schedule",
    "exceptions": "exceptions",
    "room_temperature": "room_temperature",
    "outside_temperature": "outside_temperature",
    "geofence_enabled": "geofence_enabled",
}
"""What a change of each member changes: the dial, a pause and a target are one
thing (what the thermostat holds now); older clients' ``schedule`` of programs is
read as ``programs`` before it gets here."""

RETENTION_DAYS_RANGE = (1, 3650)
"""The retention, in days, a bridge may state."""

BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 300.0
"""Reconnecting waits a random time up to 1 s, 2 s, 4 s, ... at most 5 minutes."""

_MAX_ID = 2**53
_MAX_TEXT = 64


class FrameError(ValueError):
    """A frame outside the protocol; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Hello:
    terms_version: str


@dataclass(frozen=True, slots=True)
class Command:
    id: int
    kind: Literal["update", "pause"]
    body: dict[str, Any]
    issued_at: str
    based_on: int


@dataclass(frozen=True, slots=True)
class ThermostatUpload:
    seq: int
    thermostat: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Result:
    id: int
    status: Literal["applied", "rejected", "superseded"]
    seq: int
    thermostat: dict[str, Any]
    errors: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Retention:
    retention_days: int


CloudFrame = Hello | Command
BridgeFrame = ThermostatUpload | Result | Retention


# -- building ---------------------------------------------------------------------


def encode(frame: Mapping[str, Any]) -> str:
    """A frame as compact JSON text."""
    return json.dumps(frame, separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def thermostat_payload(cloud_object: Mapping[str, Any]) -> dict[str, Any]:
    """The thermostat object cut to what ``cloud_sync`` may carry."""
    return {name: cloud_object[name] for name in sorted(THERMOSTAT_FIELDS)}


def thermostat_frame(seq: int, cloud_object: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": THERMOSTAT, "seq": seq, "thermostat": thermostat_payload(cloud_object)}


def result_frame(
    command_id: int,
    status: str,
    seq: int,
    cloud_object: Mapping[str, Any],
    errors: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": RESULT,
        "id": command_id,
        "status": status,
        "seq": seq,
        "thermostat": thermostat_payload(cloud_object),
    }
    listed = [{"field": str(e.get("field", "")), "rule": str(e.get("rule", ""))} for e in errors]
    if listed:
        frame["errors"] = listed
    return frame


def retention_frame(days: int) -> dict[str, Any]:
    return {"type": RETENTION, "retention_days": days}


def hello_frame(terms_version: str) -> dict[str, Any]:
    return {"type": HELLO, "terms_version": terms_version}


def command_frame(command: Command) -> dict[str, Any]:
    return {
        "type": COMMAND,
        "id": command.id,
        "kind": command.kind,
        "body": command.body,
        "issued_at": command.issued_at,
        "based_on": command.based_on,
    }


def frame_fields(frame: Mapping[str, Any]) -> list[str]:
    """The field names a frame carries (its members and the thermostat's), for the
    allow-list and the egress log."""
    names = set(frame)
    thermostat = frame.get("thermostat")
    if isinstance(thermostat, Mapping):
        names.update(thermostat)
    return sorted(names)


# -- reading -----------------------------------------------------------------------


def _read(raw: str | bytes) -> tuple[str, dict[str, Any]]:
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if len(data) > MAX_FRAME:
        raise FrameError(f"the frame is larger than {MAX_FRAME} bytes")
    try:
        value = parse_json(data)
    except BodyError as err:
        raise FrameError(err.message) from None
    if not isinstance(value, dict):
        raise FrameError("a frame must be a JSON object")
    kind = value.get("type")
    if not isinstance(kind, str):
        raise FrameError("the frame has no type")
    return kind, value


def _members(
    frame: Mapping[str, Any], required: set[str], optional: frozenset[str] = frozenset()
) -> None:
    kind = frame["type"]
    missing = sorted(required - set(frame))
    if missing:
        raise FrameError(f"a {kind} frame needs {', '.join(missing)}")
    extra = sorted(set(frame) - required - optional - {"type"})
    if extra:
        raise FrameError(f"a {kind} frame has no {', '.join(extra)}")


def _count(frame: Mapping[str, Any], name: str, *, low: int = 0, high: int = _MAX_ID) -> int:
    value = frame[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FrameError(f"{name} must be a whole number from {low} to {high}")
    return value


def _short_text(frame: Mapping[str, Any], name: str) -> str:
    value = frame[name]
    if not isinstance(value, str) or not 1 <= len(value) <= _MAX_TEXT or not value.isprintable():
        raise FrameError(f"{name} must be a text of 1-{_MAX_TEXT} printable characters")
    return value


def _object(frame: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = frame[name]
    if not isinstance(value, dict):
        raise FrameError(f"{name} must be an object")
    return value


def parse_cloud_frame(raw: str | bytes) -> CloudFrame | None:
    """A frame from the cloud; None for an unknown type; :class:`FrameError` if malformed."""
    kind, frame = _read(raw)
    if kind == HELLO:
        _members(frame, {"terms_version"})
        return Hello(_short_text(frame, "terms_version"))
    if kind == COMMAND:
        _members(frame, {"id", "kind", "body", "issued_at", "based_on"})
        command_kind = frame["kind"]
        if command_kind not in KINDS:
            raise FrameError(f"kind must be one of {', '.join(KINDS)}")
        body = _object(frame, "body")
        if command_kind == PAUSE and (
            set(body) != {"pause"} or not isinstance(body["pause"], bool)
        ):
            raise FrameError('a pause command\'s body is {"pause": true|false}')
        return Command(
            id=_count(frame, "id", low=1),
            kind=command_kind,
            body=body,
            issued_at=_short_text(frame, "issued_at"),
            based_on=_count(frame, "based_on"),
        )
    return None


def _thermostat(frame: Mapping[str, Any]) -> dict[str, Any]:
    obj = _object(frame, "thermostat")
    missing = sorted(THERMOSTAT_FIELDS - set(obj))
    extra = sorted(set(obj) - THERMOSTAT_FIELDS)
    if missing or extra:
        said = [f"needs {', '.join(missing)}"] if missing else []
        said += [f"may not carry {', '.join(extra)}"] if extra else []
        raise FrameError(f"the thermostat {' and '.join(said)}")
    return obj


def _errors(frame: Mapping[str, Any]) -> list[dict[str, str]]:
    value = frame.get("errors", [])
    if not isinstance(value, list) or len(value) > 100:
        raise FrameError("errors must be a list of at most 100 {field, rule}")
    out = []
    for item in value:
        if (
            not isinstance(item, dict)
            or set(item) != {"field", "rule"}
            or not all(isinstance(v, str) and len(v) <= 500 for v in item.values())
        ):
            raise FrameError("each error is {field, rule}, two texts")
        out.append({"field": item["field"], "rule": item["rule"]})
    return out


def parse_bridge_frame(raw: str | bytes) -> BridgeFrame | None:
    """A frame from a bridge; None for an unknown type; :class:`FrameError` if malformed.
    The thermostat's members are checked here; their values by the cloud's schema."""
    kind, frame = _read(raw)
    if kind == THERMOSTAT:
        _members(frame, {"seq", "thermostat"})
        return ThermostatUpload(_count(frame, "seq"), _thermostat(frame))
    if kind == RESULT:
        _members(frame, {"id", "status", "seq", "thermostat"}, frozenset({"errors"}))
        status = frame["status"]
        if status not in STATUSES:
            raise FrameError(f"status must be one of {', '.join(STATUSES)}")
        return Result(
            id=_count(frame, "id", low=1),
            status=status,
            seq=_count(frame, "seq"),
            thermostat=_thermostat(frame),
            errors=_errors(frame),
        )
    if kind == RETENTION:
        _members(frame, {"retention_days"})
        low, high = RETENTION_DAYS_RANGE
        return Retention(_count(frame, "retention_days", low=low, high=high))
    return None


# -- the order of events --------------------------------------------------------------


def command_things(command: Command) -> frozenset[str]:
    """The things a command changes (:data:`THINGS`); members it does not know change
    nothing (the bridge's rules refuse them)."""
    return frozenset(THINGS[name] for name in command.body if name in THINGS)


class Timeline:
    """The bridge's order of events: stamps, and when each thing last changed locally."""

    def __init__(self) -> None:
        self._last = 0
        self._changed: dict[str, int] = {}

    def stamp(self, now: float) -> int:
        """The next stamp: ``now`` in milliseconds (rounded up), after every earlier one."""
        self._last = max(self._last + 1, math.ceil(now * 1000))
        return self._last

    def changed(self, members: Iterable[str], now: float) -> None:
        """Members of the thermostat object were changed on the bridge at ``now``."""
        things = {THINGS[name] for name in members if name in THINGS}
        if things:
            stamp = self.stamp(now)
            for thing in things:
                self._changed[thing] = stamp

    def changed_at(self, thing: str) -> int | None:
        return self._changed.get(thing)

    def superseded(self, command: Command) -> bool:
        """True if a thing the command changes changed on the bridge after ``based_on``."""
        return any(
            self._changed.get(thing, 0) > command.based_on for thing in command_things(command)
        )


def backoff_delay(attempt: int, rand: float) -> float:
    """Full jitter: a random time (``rand`` in [0, 1)) up to ``min(max, min * 2**attempt)``."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_MIN_S * 2.0 ** min(attempt, 30))
    return rand * ceiling
