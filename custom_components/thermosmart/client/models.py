"""Data models of the bridge API, as typed dataclasses.

The type hints are the contract: :mod:`.decode` builds the models from the
bridge's JSON by them, and raises :class:`ThermoSmartResponseError` for
anything else, so garbage from the network never reaches the integration as
half-filled objects. ``Annotated`` extras say where a field lives when it is
not a key of the model's own object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
import math
from typing import Annotated, Any

from .decode import At, Given, JsonModel, Range, Via, decode
from .exceptions import ThermoSmartResponseError

PROGRAM_NAMES: tuple[str, ...] = ("anti_freeze", "not_home", "home", "comfort", "pause")
"""The five temperature programs, as the bridge names them."""
HEATING_SYSTEMS: tuple[str, ...] = ("radiators", "underfloor")
"""The heating systems the bridge has control defaults for."""
UNIT_LINK = "unit"
"""The link kind of a bridge that serves ThermoSmart wall units."""
UNIT_STATUS_LEDS: tuple[str, ...] = ("off", "errors", "activity")
"""A wall unit's status LED settings (the bridge's ``unit_status_led``)."""
UNIT_DISPLAYS: tuple[str, ...] = ("temperature", "clock")
"""What a wall unit's display shows (``unit_display``)."""
UNIT_LANGUAGES: tuple[str, ...] = ("nl-NL", "nl-BE", "de-DE", "fr-FR", "fr-BE", "en-GB")
"""A wall unit's display languages (``unit_language``)."""
UNIT_BRIGHTNESS_RANGE: tuple[int, int] = (0, 100)
"""A wall unit's display brightness, %."""
UNIT_CALIBRATION_RANGE: tuple[float, float] = (-2.5, 2.5)
"""What the bridge adds to a wall unit's room reading, K."""
UNIT_THROTTLE_RANGE: tuple[int, int] = (0, 10)
"""A wall unit's poll throttle: 0 polls every 5 s, higher slower."""


def merge_patch(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """Apply a ``changed`` message in place: objects merge key by key, anything else replaces."""
    for key, value in patch.items():
        current = target.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            merge_patch(current, value)
        elif isinstance(value, Mapping):
            fresh: dict[str, Any] = {}
            merge_patch(fresh, value)
            target[key] = fresh
        else:
            target[key] = value


def _wall_time(value: tuple[int, ...]) -> datetime:
    """The API's ``[Y, M, D, h, m]`` (M 0-11) as a naive wall-clock time."""
    if len(value) != 5:
        raise ValueError("not [Y, M, D, h, m]")
    year, month0, day, hour, minute = value
    return datetime(year, month0 + 1, day, hour, minute)  # noqa: DTZ001 - wall-clock time


WallTime = Annotated[datetime, Via(tuple[int, ...], _wall_time)]


@dataclass(frozen=True, kw_only=True, slots=True)
class BridgeInfo(JsonModel):
    """Who a bridge is: ``GET /api/v1/health``, or the ``bridge`` part of the state."""

    bridge_id: str
    api_version: int
    version: str
    name: str


@dataclass(frozen=True, kw_only=True, slots=True)
class PairingResult(JsonModel):
    """A token the bridge issued for a pairing code."""

    access_token: str
    token_id: str
    bridge_id: str


# -- the thermostat ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Programs(JsonModel):
    """The five program temperatures, °C."""

    anti_freeze: float
    not_home: float
    home: float
    comfort: float
    pause: float

    def temperature(self, program: str) -> float:
        """The temperature of a program by its bridge name."""
        if program not in PROGRAM_NAMES:
            raise KeyError(program)
        value: float = getattr(self, program)
        return value


@dataclass(frozen=True, kw_only=True, slots=True)
class ScheduleEntry(JsonModel):
    """A switch of the week schedule: from ``day`` (0 = Monday) ``hour``:``minute`` on."""

    day: Annotated[int, At("start", 0), Range(0, 6)]
    hour: Annotated[int, At("start", 1), Range(0, 23)]
    minute: Annotated[int, At("start", 2), Range(0, 59)]
    program: Annotated[str, At("temperature")]


@dataclass(frozen=True, kw_only=True, slots=True)
class ScheduleException(JsonModel):
    """A dated override of the week schedule; times are naive, in the bridge's timezone."""

    start: WallTime
    end: WallTime
    program: Annotated[str, At("temperature")]
    description: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class ScheduleBlock(JsonModel):
    """A stretch of time with one program, as the bridge resolved it; times are UTC.

    ``source`` is ``schedule`` or ``exception``; ``description`` is the
    exception's (None for a schedule block).
    """

    start: datetime
    end: datetime
    program: str
    target: float | None
    source: str = "schedule"
    description: Annotated[str | None, Via(str, lambda text: text or None)]

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ThermoSmartResponseError("a schedule block ends before it starts")


@dataclass(frozen=True, kw_only=True, slots=True)
class Energy(JsonModel):
    """The bridge's energy counters, kWh: heat delivered and gas used, for heating and hot water.

    Monotonic totals the bridge keeps in its database (they count while no
    client is connected).
    """

    ch_heat_kwh: float | None
    ch_gas_kwh: float | None
    dhw_heat_kwh: float | None
    dhw_gas_kwh: float | None

    @property
    def gas_kwh(self) -> float | None:
        """Gas used for heating and hot water together."""
        if self.ch_gas_kwh is None or self.dhw_gas_kwh is None:
            return None
        return round(self.ch_gas_kwh + self.dhw_gas_kwh, 3)


@dataclass(frozen=True, kw_only=True, slots=True)
class ControlCommand(JsonModel):
    """What the control loop last asked of the boiler."""

    mode: str | None
    ch_enable: bool | None
    control_setpoint: float | None
    max_modulation: float | None
    demand: float | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Thermostat(JsonModel):
    """The thermostat: what it measures, what it aims for and why.

    ``source`` is ``schedule``, ``exception``, ``manual``, ``remote`` or
    ``pause``; ``program`` is None during a manual or remote override.
    ``programs``, ``schedule`` and ``exceptions`` come from the native
    thermostat view (None / empty until it was read).
    """

    hardware_id: str | None
    name: str | None
    room_temperature: float | None
    target_temperature: float | None
    program: str | None
    source: str | None
    until: datetime | None
    paused: bool = False
    next_start: Annotated[datetime | None, At("next", "start")]
    next_program: Annotated[str | None, At("next", "program")]
    next_target: Annotated[float | None, At("next", "target")]
    frost_limited: bool = False
    outside_temperature: float | None
    outside_temperature_source: str | None
    timezone: str | None
    control: ControlCommand | None
    relay_on: bool | None
    programs: Programs | None
    schedule: tuple[ScheduleEntry, ...] = ()
    exceptions: tuple[ScheduleException, ...] = ()
    current_block: ScheduleBlock | None = None
    next_block: ScheduleBlock | None = None

    @property
    def overridden(self) -> bool:
        """A manual or remote target holds until the next block."""
        return self.source in ("manual", "remote")


# -- the boiler -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class BoilerValue(JsonModel):
    """The last good answer for one OpenTherm data-id.

    ``updated`` is the bridge clock's Unix time of that answer; ``stale``
    means a later read failed or the link went down.
    """

    data_id: Annotated[int, At("id")]
    value: Any
    updated: float | None
    stale: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class SlaveStatus(JsonModel):
    """The boiler's status flags (OpenTherm ID 0, low byte)."""

    fault: bool = False
    ch_active: bool = False
    dhw_active: bool = False
    flame_on: bool = False
    diagnostic_event: bool = False


def _dhw_enable_request(status: Any) -> bool | None:
    """The master's DHW-enable bit from the decoded ID 0 value (``{"hb": {...}}``)."""
    high = status.get("hb") if isinstance(status, Mapping) else None
    request = high.get("dhw_enable") if isinstance(high, Mapping) else None
    return request if isinstance(request, bool) else None


@dataclass(frozen=True, kw_only=True, slots=True)
class Boiler(JsonModel):
    """What the bridge's OpenTherm master knows about the boiler.

    ``values`` is keyed by the data-id's key (``flow_temperature``,
    ``ch_water_pressure`` …).
    """

    connected: bool = False
    values: Mapping[str, BoilerValue] = field(default_factory=dict)
    slave_status: SlaveStatus | None
    dhw_enable: Annotated[
        bool | None, At("values", "status", "value"), Via(Any, _dhw_enable_request)
    ]
    """The master's DHW-enable request (ID 0, high byte), as last sent."""

    def number(self, key: str) -> float | None:
        """A fresh numeric value, or None (never read, stale or not a number)."""
        entry = self.values.get(key)
        if entry is None or entry.stale:
            return None
        value = entry.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        number = float(value)
        return number if math.isfinite(number) else None

    def has(self, key: str) -> bool:
        """Whether the boiler ever answered this data-id."""
        return key in self.values


@dataclass(frozen=True, kw_only=True, slots=True)
class _Bounds(JsonModel):
    min: float | None
    max: float | None


def _pair(bounds: _Bounds) -> tuple[float, float] | None:
    return None if bounds.min is None or bounds.max is None else (bounds.min, bounds.max)


Bounds = Via(_Bounds, _pair)


@dataclass(frozen=True, kw_only=True, slots=True)
class Capabilities(JsonModel):
    """What the boiler said about itself (None where it did not say)."""

    known: bool = False
    dhw_present: Annotated[bool | None, At("dhw", "present")]
    dhw_storage_tank: Annotated[bool | None, At("dhw", "storage_tank")]
    dhw_setpoint_bounds: Annotated[tuple[float, float] | None, At("dhw", "setpoint_bounds"), Bounds]
    dhw_setpoint_writable: Annotated[bool | None, At("dhw", "setpoint_writable")]
    max_ch_setpoint_bounds: Annotated[
        tuple[float, float] | None, At("ch", "max_setpoint_bounds"), Bounds
    ]
    max_ch_setpoint_writable: Annotated[bool | None, At("ch", "max_setpoint_writable")]
    ch2_present: Annotated[bool | None, At("ch", "ch2_present")]
    cooling_supported: bool | None
    on_off_control: bool | None
    max_capacity_kw: float | None
    min_modulation_pct: float | None
    opentherm_version: float | None
    member_id: Annotated[int | None, At("product", "member_id")]
    product_type: Annotated[int | None, At("product", "type")]
    product_version: Annotated[int | None, At("product", "version")]


@dataclass(frozen=True, kw_only=True, slots=True)
class Faults(JsonModel):
    """The boiler's fault information (OpenTherm IDs 0, 5 and 115); None where unknown."""

    fault: bool | None
    diagnostic_event: bool | None
    service_request: Annotated[bool | None, At("flags", "service_request")]
    remote_reset_enabled: Annotated[bool | None, At("flags", "remote_reset_enabled")]
    low_water_pressure: Annotated[bool | None, At("flags", "low_water_pressure")]
    gas_flame_fault: Annotated[bool | None, At("flags", "gas_flame_fault")]
    air_pressure_fault: Annotated[bool | None, At("flags", "air_pressure_fault")]
    water_over_temperature: Annotated[bool | None, At("flags", "water_over_temperature")]
    oem_fault_code: int | None
    oem_diagnostic_code: int | None
    active: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class BoilerCounters(JsonModel):
    """The boiler's start and hour counters (OpenTherm IDs 116-123); None where it has none."""

    burner_starts: int | None
    ch_pump_starts: int | None
    dhw_pump_starts: int | None
    dhw_burner_starts: int | None
    burner_hours: int | None
    ch_pump_hours: int | None
    dhw_pump_hours: int | None
    dhw_burner_hours: int | None


def _counter_map(counters: BoilerCounters) -> Mapping[str, int | None]:
    return {name: getattr(counters, name) for name in COUNTER_NAMES}


COUNTER_NAMES: tuple[str, ...] = tuple(name for name in BoilerCounters.__dataclass_fields__)
"""The boiler's start and hour counters (OpenTherm IDs 116-123)."""
_NO_COUNTERS: Mapping[str, int | None] = dict.fromkeys(COUNTER_NAMES)


@dataclass(frozen=True, kw_only=True, slots=True)
class LinkInfo(JsonModel):
    """The bridge's link to the boiler's adapter."""

    kind: str
    opentherm: bool
    state: str

    @property
    def connected(self) -> bool:
        """Whether the bridge talks to the boiler now."""
        return self.state == "connected"

    @property
    def wall_unit(self) -> bool:
        """The boiler is driven by ThermoSmart wall units (which take no flow or hot-water
        temperature from the bridge)."""
        return self.kind == UNIT_LINK


# -- wall units -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class UnitPid(JsonModel):
    """A wall unit's own PID parameters, as it reports them."""

    kp: float
    ti: float
    td: float


@dataclass(frozen=True, kw_only=True, slots=True)
class PidFigures(JsonModel):
    """How a PID does on the house the bridge learned (its own figures)."""

    overshoot_k: float
    rise_s: float | None
    settled_error_k: float


@dataclass(frozen=True, kw_only=True, slots=True)
class UnitPidProposal(JsonModel):
    """PID parameters the bridge proposes for the house's unit, and the figures why."""

    pid: UnitPid
    reasons: tuple[str, ...]
    own: PidFigures
    proposed: PidFigures


@dataclass(frozen=True, kw_only=True, slots=True)
class WallUnit(JsonModel):
    """A registered ThermoSmart wall unit and what it said on its last poll.

    ``connected`` turns false when the unit has not polled for a few minutes
    (None: not heard from since the bridge started, which was less than that ago);
    ``last_seen`` is its last poll, kept by the bridge across restarts;
    ``house`` marks the house's thermostat unit; ``revision`` (1-5) and
    ``firmware`` are None until the unit first polled.
    """

    hardware_id: str
    house: bool = False
    connected: bool | None = None
    last_seen: datetime | None
    revision: int | None
    firmware: str | None
    room_temperature: float | None
    source: str | None
    setpoint: float | None
    pid: UnitPid | None
    pid_proposal: UnitPidProposal | None = None
    calendar_version: int | None


# -- options ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Options(JsonModel):
    """The owner's per-bridge options (``GET /api/v1/options``); None where not given.

    ``max_ch_setpoint`` None keeps the heating system's default; ``dhw_setpoint``
    None leaves the boiler's own setting. The ``unit_*`` settings are a wall
    unit's; None where unset (the unit keeps its own).
    """

    preheat: bool | None
    heating_system: str | None
    max_ch_setpoint: float | None
    dhw_enable: bool | None
    dhw_setpoint: float | None
    unit_brightness: int | None = None
    unit_status_led: str | None = None
    unit_display: str | None = None
    unit_calibration: float | None = None
    unit_language: str | None = None
    unit_poll_throttle: int | None = None
    unit_pid_tuning: bool | None = None


# -- predictions ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Predictions(JsonModel):
    """The learning module's outputs (``GET /api/v1/predictions``).

    ``values`` holds the outputs by name; the typed properties read the
    ones the integration shows and are None when the bridge has not got them.
    """

    available: bool = False
    status: str | None
    updated: datetime | None
    values: Annotated[Mapping[str, Any], At("predictions")] = field(default_factory=dict)

    def _read(self, hint: Any, *path: str) -> Any:
        value: Any = self.values if self.available else None
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        return None if value is None else decode(hint, value, ".".join(path))

    @property
    def progress(self) -> float | None:
        """Learning progress, 0-100 %."""
        value: float | None = self._read(float, "progress")
        return value

    @property
    def heat_loss_w_per_k(self) -> float | None:
        """The house's heat-loss coefficient, W/K."""
        value: float | None = self._read(float, "heat_loss_w_per_k")
        return value

    @property
    def time_constant_h(self) -> float | None:
        """The house's thermal time constant, hours."""
        value: float | None = self._read(float, "time_constant_h")
        return value

    @property
    def time_to_target_s(self) -> float | None:
        """Seconds until the room reaches the current target."""
        value: float | None = self._read(float, "time_to_target_s")
        return value

    @property
    def preheat_start(self) -> datetime | None:
        """When heating starts to reach the next home or comfort period on time."""
        value: datetime | None = self._read(datetime, "optimal_start", "start_ts")
        return value


NO_PREDICTIONS = Predictions(available=False, status=None, updated=None)


# -- the signed update check ----------------------------------------------------------------


UPDATE_REJECTIONS: tuple[str, ...] = ("tampered", "replayed", "malformed")
"""The update problems that mean the bridge refused a manifest (else: ``unreachable``)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class UpdateProblem(JsonModel):
    """Why the bridge's last update check accepted no manifest, and since when."""

    kind: str
    at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class UpdateStatus(JsonModel):
    """The bridge's signed update check: its own version and the last release it accepted
    (None before it accepted one). The bridge installs nothing itself."""

    installed: str
    latest: str | None
    date: str | None
    notes: str | None
    checked_at: datetime | None
    problem: UpdateProblem | None


# -- privacy and the cloud link -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class PrivacyState(JsonModel):
    """The ``privacy`` part of the state."""

    last_egress: datetime | None
    """When data last left the LAN (the newest egress-log record); None: never."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PurposeInfo(JsonModel):
    """One consent purpose as the bridge describes it: what it sends, and the decision."""

    purpose: str
    description: str
    fields: tuple[str, ...]
    granted: bool
    terms_version: str | None
    allowed: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class Purposes(JsonModel):
    """``GET /api/v1/privacy/purposes``."""

    purposes: tuple[PurposeInfo, ...]
    terms_version: str | None
    """The cloud's current terms version (None until the bridge has learned it)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class EgressRecord(JsonModel):
    """One request that left the LAN: field names, never values."""

    ts: datetime
    host: str
    path: str
    purpose: str
    fields: tuple[str, ...]
    bytes: int


@dataclass(frozen=True, kw_only=True, slots=True)
class LinkCode(JsonModel):
    """What the owner needs to approve a cloud link (RFC 8628)."""

    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float


@dataclass(frozen=True, kw_only=True, slots=True)
class CloudLinkStatus(JsonModel):
    """``GET /api/v1/cloud/link``: ``state`` is idle, waiting, linked, denied, expired or
    failed; ``message`` says what happened."""

    state: str
    message: str | None
    code: LinkCode | None
    cloud_url: Annotated[str | None, At("link", "cloud_url")] = None

    @property
    def waiting(self) -> bool:
        """The bridge waits for the owner's answer at the cloud."""
        return self.state == "waiting"


# -- the cloud -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class CloudState(JsonModel):
    """The bridge's side of the opt-in cloud (the state's ``cloud``).

    ``terms_version`` is the cloud's current terms version (None until the
    bridge has learned it); ``paused`` the purposes the owner granted under
    older terms: the bridge sends nothing for them until they are granted again
    under ``terms_version``. ``erase_pending``: an erase (or a revoked purpose's
    data) is still to be deleted in the cloud, which was not reachable.
    """

    linked: bool
    terms_version: str | None
    paused: tuple[str, ...]
    erase_pending: bool


# -- the whole state ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class BridgeState(JsonModel):
    """Everything the bridge shows about itself, the thermostat and the boiler.

    ``boiler``, ``capabilities`` and ``faults`` are None for a boiler without
    OpenTherm (an on/off relay); ``counters`` maps the boiler's counter
    names to their values (all None then); ``options`` is None from a bridge
    that does not show them; ``energy`` is None for a boiler the bridge
    cannot meter (a relay, or one that does not report its size).
    ``predictions`` is not read from the state: pass it to ``from_dict``.
    ``units`` is None unless the bridge serves wall units (then the
    registered ones, the house's first). ``update`` is None from a bridge without a
    cloud (or one that does not check for updates); ``privacy`` and ``cloud`` are None from a bridge
    that does not show it.
    """

    bridge: BridgeInfo
    link: LinkInfo
    thermostat: Thermostat
    boiler: Boiler | None
    capabilities: Capabilities | None
    faults: Faults | None
    counters: Annotated[
        Mapping[str, int | None], At("counters", "boiler"), Via(BoilerCounters, _counter_map)
    ] = field(default_factory=lambda: dict(_NO_COUNTERS))
    predictions: Annotated[Predictions, Given()] = NO_PREDICTIONS
    options: Options | None = None
    energy: Energy | None = None
    units: tuple[WallUnit, ...] | None = None
    update: UpdateStatus | None = None
    privacy: PrivacyState | None = None
    cloud: CloudState | None = None

    def unit(self, hardware_id: str) -> WallUnit | None:
        """The registered wall unit with ``hardware_id``, or None."""
        return next((u for u in self.units or () if u.hardware_id == hardware_id), None)
