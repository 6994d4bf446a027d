"""Measured series and the event log."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from bridge.core.contract import Keywords, model, spec
from bridge.core.payloads.common import Timestamp


class EventKind(StrEnum):
    """What an entry of the event and fault log is about."""

    BOILER_FAULT = "boiler_fault"
    SOFTWARE_ERROR = "software_error"
    LINK = "link"
    INFO = "info"


@model
class HourlyPoint:
    hour: int
    min: float
    max: float
    mean: float
    count: int


@model
class History:
    key: str
    resolution: Literal["raw", "hourly"]
    start: Timestamp
    end: Timestamp
    points: list[tuple[float, float]] | list[HourlyPoint] = spec(
        description="raw: [[ts, value], …]; hourly: [{hour, min, max, mean, count}, …]"
    )


@model
class Event:
    id: int
    ts: Timestamp
    kind: EventKind
    code: str | None
    message: str
    data: Any = spec(description="any JSON value")


@model
class Events:
    events: list[Event]


Limit = Annotated[str, Keywords(pattern="^[0-9]+$")]
