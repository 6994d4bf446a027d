"""Data models of the bridge API, as typed dataclasses.

Each model has a ``from_dict`` that checks the shape it needs and raises
:class:`ThermoSmartResponseError` for anything else, so garbage from the
network never reaches the integration as half-filled objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
import math
from typing import Any

from .exceptions import ThermoSmartResponseError

PROGRAM_NAMES: tuple[str, ...] = ("anti_freeze", "not_home", "home", "comfort", "pause")
"""The five temperature programs, as the bridge names them."""
HEATING_SYSTEMS: tuple[str, ...] = ("radiators", "underfloor")
"""The heating systems the bridge has control defaults for."""


def _req(data: Mapping[str, Any], key: str, typ: type) -> Any:
    value = data.get(key)
    if not isinstance(value, typ) or (isinstance(value, bool) and typ is not bool):
        raise ThermoSmartResponseError(f"field {key!r} missing or not {typ.__name__}")
    return value


def _obj(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise ThermoSmartResponseError(f"field {key!r} missing or not an object")
    return value


def _opt_obj(data: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ThermoSmartResponseError(f"field {key!r} is not an object")
    return value


def _opt_float(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ThermoSmartResponseError(f"field {key!r} is not a number")
    number = float(value)
    return number if math.isfinite(number) else None


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ThermoSmartResponseError(f"field {key!r} is not a whole number")
    return value


def _opt_bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ThermoSmartResponseError(f"field {key!r} is not true or false")
    return value


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ThermoSmartResponseError(f"field {key!r} is not a string")
    return value


def _opt_time(data: Mapping[str, Any], key: str) -> datetime | None:
    """An ISO 8601 time with an offset, or a Unix time, as an aware UTC datetime."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            return None
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if when.tzinfo is not None:
                return when.astimezone(UTC)
    raise ThermoSmartResponseError(f"field {key!r} is not a time with an offset")


def _bounds(data: Mapping[str, Any] | None, key: str) -> tuple[float, float] | None:
    if data is None:
        return None
    value = _opt_obj(data, key)
    if value is None:
        return None
    low, high = _opt_float(value, "min"), _opt_float(value, "max")
    if low is None or high is None:
        return None
    return (low, high)


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


@dataclass(frozen=True, kw_only=True, slots=True)
class BridgeInfo:
    """Who a bridge is: ``GET /api/v1/health``, or the ``bridge`` part of the state."""

    bridge_id: str
    api_version: int
    version: str
    name: str

    @classmethod
    def from_dict(cls, data: Any) -> BridgeInfo:
        if not isinstance(data, Mapping):
            raise ThermoSmartResponseError("bridge information is not an object")
        return cls(
            bridge_id=_req(data, "bridge_id", str),
            api_version=_req(data, "api_version", int),
            version=_req(data, "version", str),
            name=_req(data, "name", str),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class PairingResult:
    """A token the bridge issued for a pairing code."""

    access_token: str
    token_id: str
    bridge_id: str

    @classmethod
    def from_dict(cls, data: Any) -> PairingResult:
        if not isinstance(data, Mapping):
            raise ThermoSmartResponseError("pairing answer is not an object")
        return cls(
            access_token=_req(data, "access_token", str),
            token_id=str(_req(data, "token_id", str)),
            bridge_id=_req(data, "bridge_id", str),
        )


# -- the thermostat ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Programs:
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

    @classmethod
    def from_dict(cls, data: Any) -> Programs:
        if not isinstance(data, Mapping):
            raise ThermoSmartResponseError("programs is not an object")
        values: dict[str, float] = {}
        for name in PROGRAM_NAMES:
            value = _opt_float(data, name)
            if value is None:
                raise ThermoSmartResponseError(f"program {name!r} has no temperature")
            values[name] = value
        return cls(**values)


@dataclass(frozen=True, kw_only=True, slots=True)
class ScheduleEntry:
    """A switch of the week schedule: from ``day`` (0 = Monday) ``hour``:``minute`` on."""

    day: int
    hour: int
    minute: int
    program: str

    @classmethod
    def from_dict(cls, data: Any) -> ScheduleEntry:
        if not isinstance(data, Mapping):
            raise ThermoSmartResponseError("a schedule entry is not an object")
        start = data.get("start")
        if (
            not isinstance(start, list)
            or len(start) != 3
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in start)
        ):
            raise ThermoSmartResponseError("a schedule entry's start is not [day, hour, minute]")
        day, hour, minute = start
        if not (0 <= day <= 6 and 0 <= hour <= 23 and 0 <= minute <= 59):
            raise ThermoSmartResponseError("a schedule entry's start is out of range")
        return cls(day=day, hour=hour, minute=minute, program=_req(data, "temperature", str))


def _wall_time(value: Any, key: str) -> datetime:
    """The API's ``[Y, M, D, h, m]`` (M 0-11) as a naive wall-clock time."""
    if (
        not isinstance(value, list)
        or len(value) != 5
        or not all(isinstance(x, int) and not isinstance(x, bool) for x in value)
    ):
        raise ThermoSmartResponseError(f"an exception's {key} is not [Y, M, D, h, m]")
    year, month0, day, hour, minute = value
    try:
        return datetime(year, month0 + 1, day, hour, minute)  # noqa: DTZ001 - wall-clock time
    except ValueError as err:
        raise ThermoSmartResponseError(f"an exception's {key} is not a date: {err}") from err


@dataclass(frozen=True, kw_only=True, slots=True)
class ScheduleException:
    """A dated override of the week schedule; times are naive, in the bridge's timezone."""

    start: datetime
    end: datetime
    program: str
    description: str

    @classmethod
    def from_dict(cls, data: Any) -> ScheduleException:
        if not isinstance(data, Mapping):
            raise ThermoSmartResponseError("an exception is not an object")
        return cls(
            start=_wall_time(data.get("start"), "start"),
            end=_wall_time(data.get("end"), "end"),
            program=_req(data, "temperature", str),
            description=_opt_str(data, "description") or "",
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ScheduleBlock:
    """A stretch of time with one program, as the bridge resolved it; times are UTC.

    ``source`` is ``schedule`` or ``exception``; ``description`` is the
    exception's (None for a schedule block).
    """

    start: datetime
    end: datetime
    program: str
    target: float | None
    source: str
    description: str | None

    @classmethod
    def from_dict(cls, data: Any) -> ScheduleBlock:
        if not isinstance(data, Mapping):
            raise ThermoSmartResponseError("a schedule block is not an object")
        start, end = _opt_time(data, "start"), _opt_time(data, "end")
        if start is None or end is None or end <= start:
            raise ThermoSmartResponseError("a schedule block has no valid start and end")
        return cls(
            start=start,
            end=end,
            program=_req(data, "program", str),
            target=_opt_float(data, "target"),
            source=_opt_str(data, "source") or "schedule",
            description=_opt_str(data, "description") or None,
        )


def _opt_block(data: Mapping[str, Any], key: str) -> ScheduleBlock | None:
    value = data.get(key)
    return None if value is None else ScheduleBlock.from_dict(value)


@dataclass(frozen=True, kw_only=True, slots=True)
class Energy:
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

    @classmethod
    def from_dict(cls, data: Any) -> Energy:
        if not isinstance(data, Mapping):
            raise ThermoSmartResponseError("energy is not an object")
        return cls(
            ch_heat_kwh=_opt_float(data, "ch_heat_kwh"),
            ch_gas_kwh=_opt_float(data, "ch_gas_kwh"),
            dhw_heat_kwh=_opt_float(data, "dhw_heat_kwh"),
            dhw_gas_kwh=_opt_float(data, "dhw_gas_kwh"),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ControlCommand:
    """What the control loop last asked of the boiler."""

    mode: str | None
    ch_enable: bool | None
    control_setpoint: float | None
    max_modulation: float | None
    demand: float | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ControlCommand:
        return cls(
            mode=_opt_str(data, "mode"),
            ch_enable=_opt_bool(data, "ch_enable"),
            control_setpoint=_opt_float(data, "control_setpoint"),
            max_modulation=_opt_float(data, "max_modulation"),
            demand=_opt_float(data, "demand"),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Thermostat:
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
    paused: bool
    next_start: datetime | None
    next_program: str | None
    next_target: float | None
    frost_limited: bool
    outside_temperature: float | None
    outside_temperature_source: str | None
    timezone: str | None
    control: ControlCommand | None
    relay_on: bool | None
    programs: Programs | None
    schedule: tuple[ScheduleEntry, ...]
    exceptions: tuple[ScheduleException, ...]
    current_block: ScheduleBlock | None = None
    next_block: ScheduleBlock | None = None

    @property
    def overridden(self) -> bool:
        """A manual or remote target holds until the next block."""
        return self.source in ("manual", "remote")

    @classmethod
    def from_dict(cls, data: Any) -> Thermostat:
        if not isinstance(data, Mapping):
            raise ThermoSmartResponseError("thermostat is not an object")
        upcoming = _opt_obj(data, "next") or {}
        control = _opt_obj(data, "control")
        programs = data.get("programs")
        schedule = data.get("schedule") or []
        exceptions = data.get("exceptions") or []
        if not isinstance(schedule, list) or not isinstance(exceptions, list):
            raise ThermoSmartResponseError("schedule or exceptions is not a list")
        return cls(
            hardware_id=_opt_str(data, "hardware_id"),
            name=_opt_str(data, "name"),
            room_temperature=_opt_float(data, "room_temperature"),
            target_temperature=_opt_float(data, "target_temperature"),
            program=_opt_str(data, "program"),
            source=_opt_str(data, "source"),
            until=_opt_time(data, "until"),
            paused=bool(_opt_bool(data, "paused")),
            next_start=_opt_time(upcoming, "start"),
            next_program=_opt_str(upcoming, "program"),
            next_target=_opt_float(upcoming, "target"),
            frost_limited=bool(_opt_bool(data, "frost_limited")),
            outside_temperature=_opt_float(data, "outside_temperature"),
            outside_temperature_source=_opt_str(data, "outside_temperature_source"),
            timezone=_opt_str(data, "timezone"),
            control=None if control is None else ControlCommand.from_dict(control),
            relay_on=_opt_bool(data, "relay_on"),
            programs=None if programs is None else Programs.from_dict(programs),
            schedule=tuple(ScheduleEntry.from_dict(item) for item in schedule),
            exceptions=tuple(ScheduleException.from_dict(item) for item in exceptions),
            current_block=_opt_block(data, "current_block"),
            next_block=_opt_block(data, "next_block"),
        )


# -- the boiler -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class BoilerValue:
    """The last good answer for one OpenTherm data-id.

    ``updated`` is the bridge clock's Unix time of that answer; ``stale``
    means a later read failed or the link went down.
    """

    data_id: int
    value: Any
    updated: float | None
    stale: bool

    @classmethod
    def from_dict(cls, data: Any) -> BoilerValue:
        if not isinstance(data, Mapping):
            raise ThermoSmartResponseError("a boiler value is not an object")
        return cls(
            data_id=_req(data, "id", int),
            value=data.get("value"),
            updated=_opt_float(data, "updated"),
            stale=bool(_opt_bool(data, "stale")),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SlaveStatus:
    """The boiler's status flags (OpenTherm ID 0, low byte)."""

    fault: bool
    ch_active: bool
    dhw_active: bool
    flame_on: bool
    diagnostic_event: bool

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlaveStatus:
        return cls(
            fault=bool(_opt_bool(data, "fault")),
            ch_active=bool(_opt_bool(data, "ch_active")),
            dhw_active=bool(_opt_bool(data, "dhw_active")),
            flame_on=bool(_opt_bool(data, "flame_on")),
            diagnostic_event=bool(_opt_bool(data, "diagnostic_event")),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Boiler:
    """What the bridge's OpenTherm master knows about the boiler.

    ``values`` is keyed by the data-id's key (``flow_temperature``,
    ``ch_water_pressure`` …).
    """

    connected: bool
    values: Mapping[str, BoilerValue]
    slave_status: SlaveStatus | None
    dhw_enable: bool | None
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

    @classmethod
    def from_dict(cls, data: Any) -> Boiler:
        if not isinstance(data, Mapping):
            raise ThermoSmartResponseError("boiler is not an object")
        raw_values = _opt_obj(data, "values") or {}
        values = {str(key): BoilerValue.from_dict(item) for key, item in raw_values.items()}
        status = _opt_obj(data, "slave_status")
        dhw_enable: bool | None = None
        status_value = values.get("status")
        if status_value is not None and isinstance(status_value.value, Mapping):
            high = status_value.value.get("hb")
            if isinstance(high, Mapping) and isinstance(high.get("dhw_enable"), bool):
                dhw_enable = high["dhw_enable"]
        return cls(
            connected=bool(_opt_bool(data, "connected")),
            values=values,
            slave_status=None if status is None else SlaveStatus.from_dict(status),
            dhw_enable=dhw_enable,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Capabilities:
    """What the boiler said about itself (None where it did not say)."""

    known: bool
    dhw_present: bool | None
    dhw_storage_tank: bool | None
    dhw_setpoint_bounds: tuple[float, float] | None
    dhw_setpoint_writable: bool | None
    max_ch_setpoint_bounds: tuple[float, float] | None
    max_ch_setpoint_writable: bool | None
    ch2_present: bool | None
    cooling_supported: bool | None
    on_off_control: bool | None
    max_capacity_kw: float | None
    min_modulation_pct: float | None
    opentherm_version: float | None
    member_id: int | None
    product_type: int | None
    product_version: int | None

    @classmethod
    def from_dict(cls, data: Any) -> Capabilities:
        if not isinstance(data, Mapping):
            raise ThermoSmartResponseError("capabilities is not an object")
        dhw = _opt_obj(data, "dhw")
        ch = _opt_obj(data, "ch")
        product = _opt_obj(data, "product") or {}
        return cls(
            known=bool(_opt_bool(data, "known")),
            dhw_present=None if dhw is None else _opt_bool(dhw, "present"),
            dhw_storage_tank=None if dhw is None else _opt_bool(dhw, "storage_tank"),
            dhw_setpoint_bounds=_bounds(dhw, "setpoint_bounds"),
            dhw_setpoint_writable=None if dhw is None else _opt_bool(dhw, "setpoint_writable"),
            max_ch_setpoint_bounds=_bounds(ch, "max_setpoint_bounds"),
            max_ch_setpoint_writable=None if ch is None else _opt_bool(ch, "max_setpoint_writable"),
            ch2_present=None if ch is None else _opt_bool(ch, "ch2_present"),
            cooling_supported=_opt_bool(data, "cooling_supported"),
            on_off_control=_opt_bool(data, "on_off_control"),
            max_capacity_kw=_opt_float(data, "max_capacity_kw"),
            min_modulation_pct=_opt_float(data, "min_modulation_pct"),
            opentherm_version=_opt_float(data, "opentherm_version"),
            member_id=_opt_int(product, "member_id"),
            product_type=_opt_int(product, "type"),
            product_version=_opt_int(product, "version"),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Faults:
    """The boiler's fault information (OpenTherm IDs 0, 5 and 115); None where unknown."""

    fault: bool | None
    diagnostic_event: bool | None
    service_request: bool | None
    remote_reset_enabled: bool | None
    low_water_pressure: bool | None
    gas_flame_fault: bool | None
    air_pressure_fault: bool | None
    water_over_temperature: bool | None
    oem_fault_code: int | None
    oem_diagnostic_code: int | None
    active: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: Any) -> Faults:
        if not isinstance(data, Mapping):
            raise ThermoSmartResponseError("faults is not an object")
        flags = _opt_obj(data, "flags") or {}
        active = data.get("active") or []
        if not isinstance(active, list) or not all(isinstance(x, str) for x in active):
            raise ThermoSmartResponseError("faults.active is not a list of names")
        return cls(
            fault=_opt_bool(data, "fault"),
            diagnostic_event=_opt_bool(data, "diagnostic_event"),
            service_request=_opt_bool(flags, "service_request"),
            remote_reset_enabled=_opt_bool(flags, "remote_reset_enabled"),
            low_water_pressure=_opt_bool(flags, "low_water_pressure"),
            gas_flame_fault=_opt_bool(flags, "gas_flame_fault"),
            air_pressure_fault=_opt_bool(flags, "air_pressure_fault"),
            water_over_temperature=_opt_bool(flags, "water_over_temperature"),
            oem_fault_code=_opt_int(data, "oem_fault_code"),
            oem_diagnostic_code=_opt_int(data, "oem_diagnostic_code"),
            active=tuple(active),
        )


COUNTER_NAMES: tuple[str, ...] = (
    "burner_starts",
    "ch_pump_starts",
    "dhw_pump_starts",
    "dhw_burner_starts",
    "burner_hours",
    "ch_pump_hours",
    "dhw_pump_hours",
    "dhw_burner_hours",
)
"""The boiler's start and hour counters (OpenTherm IDs 116-123)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class LinkInfo:
    """The bridge's link to the boiler's adapter."""

    kind: str
    opentherm: bool
    state: str

    @property
    def connected(self) -> bool:
        """Whether the bridge talks to the boiler now."""
        return self.state == "connected"

    @classmethod
    def from_dict(cls, data: Any) -> LinkInfo:
        if not isinstance(data, Mapping):
            raise ThermoSmartResponseError("link is not an object")
        return cls(
            kind=_req(data, "kind", str),
            opentherm=_req(data, "opentherm", bool),
            state=_req(data, "state", str),
        )


# -- options ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Options:
    """The owner's per-bridge options (``GET /api/v1/options``); None where not given.

    ``max_ch_setpoint`` None keeps the heating system's default; ``dhw_setpoint``
    None leaves the boiler's own setting.
    """

    preheat: bool | None
    heating_system: str | None
    max_ch_setpoint: float | None
    dhw_enable: bool | None
    dhw_setpoint: float | None

    @classmethod
    def from_dict(cls, data: Any) -> Options:
        if not isinstance(data, Mapping):
            raise ThermoSmartResponseError("options is not an object")
        return cls(
            preheat=_opt_bool(data, "preheat"),
            heating_system=_opt_str(data, "heating_system"),
            max_ch_setpoint=_opt_float(data, "max_ch_setpoint"),
            dhw_enable=_opt_bool(data, "dhw_enable"),
            dhw_setpoint=_opt_float(data, "dhw_setpoint"),
        )


# -- predictions ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Predictions:
    """The learning module's outputs (``GET /api/v1/predictions``).

    ``values`` holds the outputs by name; the typed properties read the
    ones the integration shows and are None when the bridge has not got them.
    """

    available: bool
    status: str | None
    updated: datetime | None
    values: Mapping[str, Any] = field(default_factory=dict)

    def _number(self, key: str) -> float | None:
        return _opt_float(self.values, key) if self.available else None

    @property
    def progress(self) -> float | None:
        """Learning progress, 0-100 %."""
        return self._number("progress")

    @property
    def heat_loss_w_per_k(self) -> float | None:
        """The house's heat-loss coefficient, W/K."""
        return self._number("heat_loss_w_per_k")

    @property
    def time_constant_h(self) -> float | None:
        """The house's thermal time constant, hours."""
        return self._number("time_constant_h")

    @property
    def time_to_target_s(self) -> float | None:
        """Seconds until the room reaches the current target."""
        return self._number("time_to_target_s")

    @property
    def preheat_start(self) -> datetime | None:
        """When heating starts to reach the next home or comfort period on time."""
        if not self.available:
            return None
        plan = _opt_obj(self.values, "optimal_start")
        return None if plan is None else _opt_time(plan, "start_ts")

    @classmethod
    def from_dict(cls, data: Any) -> Predictions:
        if not isinstance(data, Mapping):
            raise ThermoSmartResponseError("predictions answer is not an object")
        values = _opt_obj(data, "predictions") or {}
        return cls(
            available=bool(_opt_bool(data, "available")),
            status=_opt_str(data, "status"),
            updated=_opt_time(data, "updated"),
            values=dict(values),
        )


NO_PREDICTIONS = Predictions(available=False, status=None, updated=None)


# -- the whole state ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class BridgeState:
    """Everything the bridge shows about itself, the thermostat and the boiler.

    ``boiler``, ``capabilities`` and ``faults`` are None for a boiler without
    OpenTherm (an on/off relay); ``counters`` maps the boiler's counter
    names to their values (empty then); ``options`` is None from a bridge
    that does not show them; ``energy`` is None for a boiler the bridge
    cannot meter (a relay, or one that does not report its size).
    """

    bridge: BridgeInfo
    link: LinkInfo
    thermostat: Thermostat
    boiler: Boiler | None
    capabilities: Capabilities | None
    faults: Faults | None
    counters: Mapping[str, int | None]
    predictions: Predictions = NO_PREDICTIONS
    options: Options | None = None
    energy: Energy | None = None

    @classmethod
    def from_dict(cls, data: Any, predictions: Predictions | None = None) -> BridgeState:
        if not isinstance(data, Mapping):
            raise ThermoSmartResponseError("state is not an object")
        boiler = _opt_obj(data, "boiler")
        capabilities = _opt_obj(data, "capabilities")
        faults = _opt_obj(data, "faults")
        options = _opt_obj(data, "options")
        energy = _opt_obj(data, "energy")
        all_counters = _opt_obj(data, "counters") or {}
        boiler_counters = _opt_obj(all_counters, "boiler") or {}
        return cls(
            bridge=BridgeInfo.from_dict(_obj(data, "bridge")),
            link=LinkInfo.from_dict(_obj(data, "link")),
            thermostat=Thermostat.from_dict(_obj(data, "thermostat")),
            boiler=None if boiler is None else Boiler.from_dict(boiler),
            capabilities=None if capabilities is None else Capabilities.from_dict(capabilities),
            faults=None if faults is None else Faults.from_dict(faults),
            counters={name: _opt_int(boiler_counters, name) for name in COUNTER_NAMES},
            predictions=predictions or NO_PREDICTIONS,
            options=None if options is None else Options.from_dict(options),
            energy=None if energy is None else Energy.from_dict(energy),
        )
