"""Export, erase, consents and the egress log."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, Literal

from bridge.core.contract import UNSET, Unset, model, spec
from bridge.core.payloads.common import ProgramName, Timestamp
from bridge.core.payloads.history import Event
from bridge.core.payloads.unit import StoredUnit
from bridge.core.rules import CONFIRM_RULE, TERMS_VERSION_RULE


class Purpose(StrEnum):
    """What the owner may consent to."""

    CLOUD_SYNC = "cloud_sync"
    WEATHER_BY_CITY = "weather_by_city"
    STATISTICS = "statistics"
    SERVICE_ACCESS = "service_access"
    UPDATE_CHECK = "update_check"


@model
class Consent:
    id: int
    purpose: Purpose
    granted: bool
    ts: Timestamp
    terms_version: str


@model
class ConsentState:
    granted: bool
    terms_version: str | None
    ts: Timestamp | None


@model
class Consents:
    consents: dict[Purpose, ConsentState] = spec(
        description="the decision in force per purpose (not granted until granted)"
    )
    history: list[Consent]


@model
class PurposeInfo:
    purpose: Purpose
    description: str = spec(description="what the purpose sends, for people")
    fields: list[str] = spec(
        description="the field names it may carry out of the LAN (nothing else leaves under it)"
    )
    granted: bool = spec(description="the decision in force grants it")
    terms_version: str | None = spec(
        description="the terms version of the decision in force (null: never decided)"
    )
    allowed: bool = spec(
        description="it may send now: granted, and under the cloud's current terms once known"
    )


@model
class Purposes:
    purposes: list[PurposeInfo]
    terms_version: str | None = spec(
        description="the cloud's current terms version (null until the bridge has learned it)"
    )


@model
class PrivacyState:
    last_egress: Timestamp | None = spec(
        description="the time of the newest egress-log record (null: none)"
    )


@model
class ConsentUpdate:
    granted: bool
    terms_version: str = spec(rule=TERMS_VERSION_RULE)


@model
class EgressRecord:
    id: int
    ts: Timestamp
    host: str
    path: str
    purpose: str
    fields: list[str] = spec(description="field names sent (never their values)")
    bytes: int


@model
class Egress:
    records: list[EgressRecord]


@model
class ExportScheduleEntry:
    day: int
    hour: int
    minute: int
    program: ProgramName


@model
class ExportException:
    start: str
    end: str
    program: ProgramName
    description: str


@model
class ExportMeasurements:
    samples: dict[str, list[list[float]]]
    hourly: dict[str, list[dict[str, Any]]]


@model
class Export:
    """Everything stored about the household (no secrets, no hashes)."""

    OPEN: ClassVar = True

    format: Literal["thermosmart-local-export"]
    schema_version: int
    exported_at: Timestamp
    settings: dict[str, Any]
    schedule: list[ExportScheduleEntry]
    exceptions: list[ExportException]
    measurements: ExportMeasurements
    events: list[Event]
    learning: dict[str, Any]
    energy_kwh: dict[str, float] = spec(description="the energy counters' totals by name")
    consents: list[Consent]
    egress_log: list[EgressRecord]
    webhooks: list[dict[str, Any]]
    tokens: list[dict[str, Any]]
    oauth_clients: list[dict[str, Any]]
    units: list[StoredUnit] = spec(description="registered wall units, without passwords")
    cloud_link: list[dict[str, Any]] = spec(
        description="the link to an owner's cloud account (none or one), never its credential"
    )


class LinkState(StrEnum):
    """Where linking to an owner's cloud account stands."""

    IDLE = "idle"
    WAITING = "waiting"
    LINKED = "linked"
    DENIED = "denied"
    EXPIRED = "expired"
    FAILED = "failed"


@model
class LinkCode:
    """What the owner needs to approve a link at the cloud (RFC 8628)."""

    user_code: str
    verification_uri: str = spec(description="where to enter the user code")
    verification_uri_complete: str | None = spec(
        description="the same page with the code filled in (null if the cloud gives none)"
    )
    expires_in: float = spec(description="seconds the code was valid when the cloud issued it")


@model
class CloudLinkInfo:
    """The link to an owner's cloud account, never its credential."""

    cloud_url: str
    bridge_id: str
    thermostat: str = spec(description="the hardware id the bridge was linked as")
    since: Timestamp


@model
class CloudLinkStatus:
    state: LinkState = spec(
        description="idle (not linked), waiting (for the owner's answer: see code), linked "
        "(see link), or how the last attempt ended: denied, expired, failed (see message)"
    )
    message: str | None = spec(description="what happened, for people (null when idle)")
    code: LinkCode | None = spec(description="while waiting")
    link: CloudLinkInfo | None = spec(description="when linked")


@model
class EraseRequest:
    confirm: Literal[True] = spec(rule=CONFIRM_RULE)
    revoke_tokens: bool | Unset = spec(
        default=UNSET, json_default=False, description="also revoke every token (the caller's too)"
    )


class CloudErase(StrEnum):
    """What became of the cloud's copy in an erase (PRIVACY.md P13)."""

    ERASED = "erased"
    """The cloud confirmed the erase."""
    QUEUED = "queued"
    """The cloud could not be reached: the erase is kept and retried until it can."""
    NOT_LINKED = "not_linked"
    """The bridge is not linked to a cloud account: there is no cloud copy."""


@model
class EraseResult:
    erased: dict[str, int] = spec(description="rows deleted (or tokens revoked) per class")
    tokens_revoked: bool
    cloud: CloudErase = spec(
        description="the cloud's copy: erased, queued (the cloud was not reachable; retried "
        "until it is, see the native state's cloud.erase_pending) or not_linked"
    )
