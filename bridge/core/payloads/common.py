"""Types the payloads share: times, temperatures, program names, errors."""

from __future__ import annotations

from typing import Annotated

from bridge.core.contract import UNSET, Keywords, Named, Unset, model, spec
from bridge.core.programs import PROGRAM_NAMES, TEMPERATURE_MAX, TEMPERATURE_MIN

Timestamp = Annotated[float, Keywords(description="Unix time in seconds (UTC)")]
DateTime = Annotated[str, Keywords(format="date-time")]
Temperature = Annotated[
    float, Keywords(minimum=TEMPERATURE_MIN, maximum=TEMPERATURE_MAX, description="°C")
]
ProgramName = Annotated[str, Keywords(enum=list(PROGRAM_NAMES)), Named("ProgramName")]
Programs = Annotated[dict[ProgramName, Temperature], Named("Programs")]
ProgramChanges = Annotated[
    dict[ProgramName, Temperature], Keywords(required=[]), Named("ProgramChanges")
]


@model
class FieldError:
    field: str = spec(description="the field's path, e.g. schedule[3].start[2]")
    rule: str


@model
class Error:
    """Every error answer. `errors` names each field and the rule it broke."""

    error: str = spec(description="a short code: invalid, unauthorized, …")
    message: str
    errors: list[FieldError] | Unset = spec(default=UNSET)
