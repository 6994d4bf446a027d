"""The native state, the learning module's predictions and the diagnostics."""

from __future__ import annotations

from typing import ClassVar, Literal

from bridge.core.contract import model, spec
from bridge.core.payloads.boiler import (
    BoilerSnapshot,
    Capabilities,
    Counters,
    Faults,
    IdCounters,
    LinkCounters,
)
from bridge.core.payloads.common import DateTime, Timestamp
from bridge.core.payloads.history import Event
from bridge.core.payloads.options import Options
from bridge.core.payloads.privacy import PrivacyState
from bridge.core.payloads.thermostat import NativeThermostat
from bridge.core.payloads.unit import WallUnit


@model
class RoomForecast:
    """room temperature at start_ts + (i+1) * step_s (6 h at 15 min) if the thermostat
    follows its schedule, and the target then"""

    start_ts: Timestamp
    step_s: float
    room_c: list[float]
    target_c: list[float]


@model
class OptimalStart:
    """the warm-up for the next home or comfort period; null without one, or while the
    model is not confident or preheat is off"""

    start_ts: Timestamp
    start: DateTime
    period_start: DateTime
    program: str
    target: float
    arrival_ts: Timestamp | None
    margin_s: float
    on_time: bool
    start_factor: float = spec(
        description="how much longer than planned recent warm-ups took; the lead is stretched by it"
    )


@model
class Emitters:
    """learned emitters: heat = coefficient * (mean water - room) ** exponent"""

    coefficient_w: float
    exponent: float
    loop_w_per_k: float


@model
class PredictionValues:
    OPEN: ClassVar = True

    learned: bool = spec(description="the learned model is in use (else a default)")
    confidence: float = spec(minimum=0, maximum=1)
    progress: int = spec(minimum=0, maximum=100, description="learning progress, %")
    heat_loss_w_per_k: float = spec(description="heat-loss coefficient")
    time_constant_h: float = spec(description="lumped time constant")
    rmse_1h: float | None = spec(description="own 1-hour forecast error, K")
    rmse_3h: float | None = spec(description="own 3-hour forecast error, K")
    notes: list[str] = spec(description="assumptions the figures rest on")
    room_forecast: RoomForecast | None
    target_temperature: float | None = spec(description="the target time_to_target_s refers to")
    time_to_target_s: float | None = spec(
        description="seconds of heating to reach it; 0 there already, null not reachable"
    )
    optimal_start: OptimalStart | None
    preheat_start: DateTime | None = spec(description="optimal_start.start as a date-time")
    preheating: bool
    preheat_enabled: bool = spec(description="the owner's option (PUT /api/v1/options)")
    balance_offset_k: float = spec(
        description="free heat over the heat-loss coefficient; the heating curve counts its "
        "load from outside + this"
    )
    emitters: Emitters | None


@model
class NoPredictions:
    """no values yet"""


@model
class Predictions:
    """The learning module's outputs, also pushed as the native state's `predictions`.
    Fields are only ever added."""

    OPEN: ClassVar = True

    available: bool = spec(
        description="false until the first room reading; `predictions` is then {}"
    )
    status: str = spec(
        description="learning, ready, or fallback: <why> (a frozen or missing sensor, no "
        "outside temperature); learning not started before any reading"
    )
    updated: Timestamp | None = spec(description="the time the values refer to (Unix s)")
    predictions: PredictionValues | NoPredictions


@model
class BridgeInfo:
    bridge_id: str
    name: str
    version: str
    api_version: int


@model
class LinkInfo:
    kind: str
    opentherm: bool
    state: str


@model
class Energy:
    """Monotonic totals the bridge keeps in its database, integrated from the burner's output
    on every measurement sample (60 s): heat delivered and gas used (net calorific value), for
    central heating and for hot water, kWh. Null for a boiler whose output cannot be told (a
    relay, or no capacity reported in ID 15)."""

    ch_heat_kwh: float
    ch_gas_kwh: float
    dhw_heat_kwh: float
    dhw_gas_kwh: float


UpdateProblemKind = Literal["tampered", "replayed", "malformed", "unreachable"]


@model
class UpdateProblem:
    """why the last update check did not accept a manifest: its signature is not the trusted
    key's (tampered), it is older than the last accepted one (replayed), it is not a manifest
    (malformed), or the cloud could not be reached or refused (unreachable). A rejection
    stays until a manifest is accepted; an unreachable cloud does not hide it"""

    kind: UpdateProblemKind
    at: Timestamp


@model
class UpdateInfo:
    """The signed update check (only with the update_check consent): the last manifest the
    bridge accepted, which it only shows; it never downloads or installs anything."""

    installed: str = spec(description="the bridge's own version")
    latest: str | None = spec(description="the last accepted manifest's version")
    date: str | None = spec(description="its release date, YYYY-MM-DD")
    notes: str | None = spec(description="its release notes")
    sha256: str | None = spec(description="its artefact's SHA-256")
    checked_at: Timestamp | None = spec(description="the last check, answered or not")
    problem: UpdateProblem | None


@model
class CloudWeather:
    """What the weather for the city (consent `weather_by_city`) last gave; it is the outside
    temperature only when neither the boiler's sensor nor a pushed value is fresh"""

    outside_temperature: float = spec(description="°C")
    outside_temperature_icon: str | None
    fetched: Timestamp = spec(description="when the bridge got it")
    forecast_hours: int = spec(
        minimum=0, description="hourly forecast points the warm-up plan takes from it"
    )


@model
class CloudState:
    """The bridge's side of the opt-in cloud (PRIVACY.md P5, P13, P14)."""

    linked: bool = spec(description="linked to an owner's cloud account")
    terms_version: str | None = spec(
        description="the cloud's current terms version; null until the bridge has learned it"
    )
    paused: list[str] = spec(
        description="purposes granted under older terms: nothing is sent for them until the "
        "owner grants them again under terms_version (PUT /api/v1/privacy/consents/{purpose})"
    )
    erase_pending: bool = spec(
        description="an erase or a revoked purpose's data is still to be deleted in the cloud "
        "(it was not reachable); retried with backoff"
    )
    weather: CloudWeather | None


@model
class CloudSync:
    """The sync connection to the cloud (opt-in): it runs while the bridge is linked and
    the owner's cloud_sync consent holds under the cloud's current terms."""

    connected: bool
    since: Timestamp | None = spec(description="when the connection opened (null: closed)")
    last_upload: Timestamp | None = spec(
        description="when the thermostat was last sent to the cloud"
    )
    uploads: int = spec(description="thermostat frames sent since the bridge started")
    commands: int = spec(description="remote commands answered since the bridge started")
    outage_since: Timestamp | None = spec(
        description="since when the cloud cannot be reached (null: no outage)"
    )
    last_error: str | None = spec(description="why the last attempt failed")
    not_running: str | None = spec(
        description="why the connection is not wanted now (not linked, no consent, new "
        "terms); null while it is"
    )


@model
class NativeState:
    """Everything the native API shows. `boiler`, `capabilities` and `faults` are null for
    an on/off (relay) boiler; `units` is null unless the boiler link is
    `thermosmart-unit://` (then the registered wall units, the house's first); `update` and
    `cloud_sync` are null without a `cloud_url`."""

    bridge: BridgeInfo
    link: LinkInfo
    thermostat: NativeThermostat
    boiler: BoilerSnapshot | None
    capabilities: Capabilities | None
    faults: Faults | None
    counters: Counters
    predictions: Predictions
    options: Options
    energy: Energy | None
    units: list[WallUnit] | None
    update: UpdateInfo | None
    privacy: PrivacyState
    cloud: CloudState
    cloud_sync: CloudSync | None


@model
class Versions:
    bridge: str
    api: int
    python: str
    aiohttp: str
    sqlite: str
    schema: int


@model
class LinkDiagnostics:
    kind: str
    opentherm: bool
    state: str
    counters: LinkCounters


@model
class IdDiagnostics:
    OPEN: ClassVar = True

    id: int
    key: str
    name: str | None
    conversations: int
    acks: int
    invalid: int
    unknown: int
    timeouts: int
    bad_frames: int
    link_errors: int
    raw: str | None
    stale: bool | None
    age_s: float | None


@model
class UnknownId:
    id: int
    name: str | None
    since: Timestamp


@model
class MasterDiagnostics:
    connected: bool
    cycles: int
    sessions: int
    conversations_per_second: float
    totals: IdCounters
    per_id: list[IdDiagnostics]
    unknown_ids: list[UnknownId]


@model
class RetentionDays:
    raw_samples: int
    hourly_aggregates: int
    events: int
    egress_log: int


@model
class StorageInfo:
    schema_version: int
    retention_days: RetentionDays


@model
class PushStats:
    clients: int
    messages_sent: int
    resyncs: int
    dropped_clients: int


@model
class Diagnostics:
    """Counters, versions and uptime; no personal data, tokens or hardware id."""

    versions: Versions
    uptime_s: float
    link: LinkDiagnostics
    opentherm: MasterDiagnostics | None
    faults: Faults | None
    capabilities: Capabilities | None
    recent_faults: list[Event]
    storage: StorageInfo
    push: PushStats | None


@model
class ServiceReport:
    """What ``service_access`` shares with the cloud: the diagnostics' software and boiler
    facts (no uptime, storage or push figures; nothing personal)."""

    versions: Versions
    link: LinkDiagnostics
    opentherm: MasterDiagnostics | None
    faults: Faults | None
    capabilities: Capabilities | None
    recent_faults: list[Event]
