"""The thermostat's settings, week schedule and dated exceptions.

Settings are JSON values under an allow-list of keys (:data:`SETTINGS`);
anything else is rejected, not stored (PRIVACY.md P6). A key that was never
written reads as its default. The schedule and the exceptions are replaced
whole in one transaction, so an update applies whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import copy
from dataclasses import dataclass, field
from datetime import datetime
import math
import sqlite3
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bridge.core.programs import ExceptionPeriod, Programs, ScheduleEntry, default_schedule
from bridge.core.validation import (
    LOCATION_MAX,
    check_email,
    check_name,
    check_text,
    optional_text,
)
from bridge.storage.core import Json, dumps_json, loads_json

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.storage.core import Worker

T = TypeVar("T")

PROGRAM_NAMES: tuple[str, ...] = ("anti_freeze", "not_home", "home", "comfort", "pause")
"""The five temperature programs, in the cloud API's names."""

# The defaults come from the thermostat core, the one place that defines them.
DEFAULT_PROGRAMS: Mapping[str, float] = Programs().to_dict()
DEFAULT_NAME = "ThermoSmart"


DEFAULT_SCHEDULE: tuple[ScheduleEntry, ...] = default_schedule().entries


def _default_programs() -> dict[str, float]:
    return dict(DEFAULT_PROGRAMS)


@dataclass(frozen=True)
class Defaults:
    """What a fresh or erased thermostat runs on."""

    name: str = DEFAULT_NAME
    programs: Mapping[str, float] = field(default_factory=_default_programs)
    schedule: tuple[ScheduleEntry, ...] = DEFAULT_SCHEDULE

    def validate(self) -> None:
        """Raise ValueError if these defaults could not be stored themselves."""
        _check_name(self.name)
        _check_programs(dict(self.programs))
        validate_schedule(self.schedule)


# -- validators: each raises ValueError naming the rule ------------------------
# (a wrong type is a ValueError too: every rule breach is one kind of error,
# which the API answers with 400 naming the field)


_check_text = check_text
_check_name = check_name
_optional_text = optional_text
_check_email = check_email


def _check_temperature(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")  # noqa: TRY004
    if not math.isfinite(value) or not 0.0 <= value <= 35.0:
        raise ValueError("must be between 0 and 35 °C")
    return float(value)


def _check_programs(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValueError("must be an object of the five programs")  # noqa: TRY004
    if set(value) != set(PROGRAM_NAMES):
        raise ValueError(f"must have exactly the programs {', '.join(PROGRAM_NAMES)}")
    for name in PROGRAM_NAMES:
        try:
            _check_temperature(value[name])
        except ValueError as err:
            raise ValueError(f"{name} {err}") from None


def _check_bool(value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")  # noqa: TRY004


def _check_list(value: Any) -> None:
    if not isinstance(value, list):
        raise ValueError("must be a list")  # noqa: TRY004


def _check_object(value: Any) -> None:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError("must be an object with string keys")


def _choice(*choices: str | None) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(map(str, choices))}")

    return check


# -- settings -----------------------------------------------------------------


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One allowed settings key, its default, its rule, and whether erase resets it."""

    key: str
    default: T
    validate: Callable[[Any], None]
    personal: bool = False


NAME = Setting[str]("name", DEFAULT_NAME, _check_name, personal=True)
PROGRAMS = Setting[dict[str, float]](
    "programs", _default_programs(), _check_programs, personal=True
)
LOCATION = Setting[str | None]("location", None, _optional_text(LOCATION_MAX), personal=True)
"""The city, used only for weather (PRIVACY.md P7)."""
EMAIL = Setting[str | None]("email", None, _check_email, personal=True)
HARDWARE_ID = Setting[str | None]("hardware_id", None, _optional_text(64))
BRIDGE_ID = Setting[str | None]("bridge_id", None, _optional_text(64))
"""Random id announced over zeroconf (never the hardware id)."""
FIRMWARE_VERSION = Setting[str | None]("firmware_version", None, _optional_text(64))
BOILER_INTERFACE = Setting[str | None](
    "boiler_interface", None, _choice(None, "opentherm", "onoff")
)
GEOFENCE_ENABLED = Setting[bool](
    "geofence_enabled", default=False, validate=_check_bool, personal=True
)
GEOFENCE_DEVICES = Setting[list[Any]]("geofence_devices", [], _check_list, personal=True)
OUTSIDE_TEMPERATURE_SOURCE = Setting[str]("outside_temperature_source", "auto", _optional_text(32))
OPTIONS = Setting[dict[str, Any]]("options", {}, _check_object)
CONTROL_STATE = Setting[dict[str, Any]]("control_state", {}, _check_object, personal=True)
"""The thermostat's runtime state that must survive a restart: manual or
remote override (target, when set), pause, and pushed sensor values. Erase
resets it, so an erased thermostat follows its default schedule."""

STATISTICS_PSEUDONYM = Setting[str | None](
    "statistics_pseudonym", None, _optional_text(64), personal=True
)
"""The random pseudonym the ``statistics`` share goes under (never an id of the bridge);
made at the first share, forgotten when the consent is revoked or the data erased."""
STATISTICS_DAY = Setting[str | None]("statistics_day", None, _optional_text(10), personal=True)
"""The last day (ISO date, UTC) whose statistics the cloud accepted."""

CLOUD_TERMS_VERSION = Setting[str | None]("cloud_terms_version", None, _optional_text(64))
"""The cloud's terms version as the bridge last learned it, so consents under older terms
stay paused across a restart until the cloud is asked again."""

UNIT_CALENDAR = Setting[dict[str, Any]]("unit_calendar", {}, _check_object)
"""The calendar the wall units get: its version (0-65535, counting up when the
schedule, exceptions or programs change) and a digest of its records."""

UPDATE_CHECK = Setting[dict[str, Any]]("update_check", {}, _check_object)
"""The signed update check's record (:mod:`bridge.services.update_check`): the last
accepted manifest, the last check's time and its problem. Not personal, so an erase keeps
it, and a replay of an older manifest is still refused afterwards."""

SETTINGS: Mapping[str, Setting[Any]] = {
    s.key: s
    for s in (
        NAME,
        PROGRAMS,
        LOCATION,
        EMAIL,
        HARDWARE_ID,
        BRIDGE_ID,
        FIRMWARE_VERSION,
        BOILER_INTERFACE,
        GEOFENCE_ENABLED,
        GEOFENCE_DEVICES,
        OUTSIDE_TEMPERATURE_SOURCE,
        OPTIONS,
        CONTROL_STATE,
        STATISTICS_PSEUDONYM,
        STATISTICS_DAY,
        CLOUD_TERMS_VERSION,
        UNIT_CALENDAR,
        UPDATE_CHECK,
    )
}
"""Every key the settings table may hold."""

PERSONAL_SETTINGS: frozenset[str] = frozenset(k for k, s in SETTINGS.items() if s.personal)
"""Keys that erase resets to their defaults."""


def encode_settings(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Validate ``values`` and encode them; ValueError names the first bad key."""
    encoded: list[tuple[str, str]] = []
    for key, value in values.items():
        setting = SETTINGS.get(key)
        if setting is None:
            raise ValueError(f"setting {key!r}: unknown setting")
        try:
            setting.validate(value)
            encoded.append((key, dumps_json(value)))
        except ValueError as err:
            raise ValueError(f"setting {key!r}: {err}") from None
    return encoded


def write_settings(
    conn: sqlite3.Connection, encoded: Sequence[tuple[str, str]], now: float
) -> None:
    """Store encoded settings (inside the caller's transaction)."""
    conn.executemany(
        "INSERT INTO settings (key, value, updated) VALUES (?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
        [(key, text, now) for key, text in encoded],
    )


def _defaults_by_key(defaults: Defaults) -> dict[str, Any]:
    base = {key: s.default for key, s in SETTINGS.items()}
    base[NAME.key] = defaults.name
    base[PROGRAMS.key] = dict(defaults.programs)
    return base


def read_settings(conn: sqlite3.Connection, defaults: Defaults) -> dict[str, Any]:
    """Every allowed setting: its stored value, or its default."""
    values = copy.deepcopy(_defaults_by_key(defaults))
    for key, text in conn.execute("SELECT key, value FROM settings"):
        if key in values:
            values[key] = loads_json(text)
    return values


class SettingsRepo:
    """Typed access to the settings; ``db.settings``."""

    def __init__(self, worker: Worker, clock: Clock, defaults: Defaults) -> None:
        self._worker = worker
        self._clock = clock
        self._config = defaults
        self._defaults = _defaults_by_key(defaults)

    def default(self, setting: Setting[T]) -> T:
        """The value ``setting`` has when it was never set (or was erased)."""
        value: T = copy.deepcopy(self._defaults[setting.key])
        return value

    async def get(self, setting: Setting[T]) -> T:
        """The stored value of ``setting``, or its default."""

        def run(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (setting.key,))
            found = row.fetchone()
            return None if found is None else str(found[0])

        text = await self._worker.call(run)
        if text is None:
            return self.default(setting)
        value: T = loads_json(text)
        return value

    async def get_all(self) -> dict[str, Json]:
        """Every allowed setting by key, defaults filled in."""
        return await self._worker.read(lambda conn: read_settings(conn, self._config))

    async def set(self, setting: Setting[T], value: T) -> None:
        """Store ``value``; ValueError if it breaks the setting's rule."""
        await self.set_many({setting.key: value})

    async def set_many(self, values: Mapping[str, Json]) -> None:
        """Store several settings by key in one transaction, or none of them.

        Unknown keys and invalid values raise ValueError before anything is
        written.
        """
        encoded = encode_settings(values)
        now = self._clock.time()
        await self._worker.write(lambda conn: write_settings(conn, encoded, now))

    async def reset(self, setting: Setting[Any]) -> None:
        """Forget the stored value, so ``setting`` reads as its default again."""
        await self._worker.call(
            lambda conn: conn.execute("DELETE FROM settings WHERE key = ?", (setting.key,))
        )

    async def get_or_create(self, setting: Setting[T], factory: Callable[[], T]) -> T:
        """The stored value; if there is none, store ``factory()`` and return it.

        Atomic across processes: two callers racing both get the same value.
        """
        now = self._clock.time()

        def run(conn: sqlite3.Connection) -> T:
            row = conn.execute(
                "SELECT value FROM settings WHERE key = ?", (setting.key,)
            ).fetchone()
            if row is not None:
                stored: T = loads_json(row[0])
                return stored
            value = factory()
            write_settings(conn, encode_settings({setting.key: value}), now)
            return value

        return await self._worker.write(run)


# -- schedule and exceptions ------------------------------------------------------


def _check_program(program: Any) -> None:
    if program not in PROGRAM_NAMES:
        raise ValueError(f"program must be one of {', '.join(PROGRAM_NAMES)}")


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}")


def validate_schedule(blocks: Sequence[ScheduleEntry]) -> list[tuple[int, int, int, str]]:
    """Check a week schedule and return its rows; ValueError names the bad block.

    The schedule must have at least one block. Two blocks starting at the
    same time are refused by the schema (:class:`ConstraintError`).
    """
    if not blocks:
        raise ValueError("schedule: a week schedule needs at least one block")
    rows: list[tuple[int, int, int, str]] = []
    for i, block in enumerate(blocks):
        try:
            rows.append(_block_row(block))
        except ValueError as err:
            raise ValueError(f"schedule[{i}]: {err}") from None
    return rows


def _block_row(block: Any) -> tuple[int, int, int, str]:
    # a ScheduleEntry checks its own start and program when it is made
    if not isinstance(block, ScheduleEntry):
        raise ValueError("must be a ScheduleEntry")  # noqa: TRY004
    return (block.day, block.hour, block.minute, block.program)


def write_schedule(conn: sqlite3.Connection, rows: Sequence[tuple[int, int, int, str]]) -> None:
    """Replace the week schedule (inside the caller's transaction)."""
    conn.execute("DELETE FROM schedule")
    conn.executemany("INSERT INTO schedule (day, hour, minute, program) VALUES (?, ?, ?, ?)", rows)


def read_schedule(conn: sqlite3.Connection, defaults: Defaults) -> list[ScheduleEntry]:
    """The stored week schedule in time order, or the default one."""
    blocks = [
        ScheduleEntry(day, hour, minute, program)
        for day, hour, minute, program in conn.execute(
            "SELECT day, hour, minute, program FROM schedule ORDER BY day, hour, minute"
        )
    ]
    if blocks:
        return blocks
    return sorted(defaults.schedule, key=lambda b: (b.day, b.hour, b.minute))


def _stamp(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def validate_exceptions(
    items: Sequence[ExceptionPeriod],
) -> list[tuple[str, str, str, str]]:
    """Check dated exceptions and return their rows; ValueError names the bad one."""
    rows: list[tuple[str, str, str, str]] = []
    for i, item in enumerate(items):
        try:
            rows.append(_exception_row(item))
        except ValueError as err:
            raise ValueError(f"exceptions[{i}]: {err}") from None
    return rows


def _exception_row(item: Any) -> tuple[str, str, str, str]:
    # an ExceptionPeriod checks its times, program and description when it is made
    if not isinstance(item, ExceptionPeriod):
        raise ValueError("must be an ExceptionPeriod")  # noqa: TRY004
    return (_stamp(item.start), _stamp(item.end), item.program, item.description)


def write_exceptions(conn: sqlite3.Connection, rows: Sequence[tuple[str, str, str, str]]) -> None:
    """Replace the dated exceptions (inside the caller's transaction)."""
    conn.execute("DELETE FROM schedule_exceptions")
    conn.executemany(
        "INSERT INTO schedule_exceptions (start_at, end_at, program, description)"
        " VALUES (?, ?, ?, ?)",
        rows,
    )


def read_exceptions(conn: sqlite3.Connection) -> list[ExceptionPeriod]:
    """The dated exceptions, by start time."""
    return [
        ExceptionPeriod(
            datetime.fromisoformat(start), datetime.fromisoformat(end), program, description
        )
        for start, end, program, description in conn.execute(
            "SELECT start_at, end_at, program, description FROM schedule_exceptions"
            " ORDER BY start_at, id"
        )
    ]


class ScheduleRepo:
    """The week schedule and the dated exceptions; ``db.schedule``."""

    def __init__(self, worker: Worker, defaults: Defaults) -> None:
        self._worker = worker
        self._defaults = defaults

    async def get(self) -> list[ScheduleEntry]:
        """The week schedule in time order (the default one until replaced)."""
        return await self._worker.read(lambda conn: read_schedule(conn, self._defaults))

    async def replace(self, blocks: Sequence[ScheduleEntry]) -> None:
        """Replace the whole week schedule in one transaction."""
        rows = validate_schedule(blocks)
        await self._worker.write(lambda conn: write_schedule(conn, rows))

    async def reset(self) -> None:
        """Go back to the default week schedule."""
        await self._worker.call(lambda conn: conn.execute("DELETE FROM schedule"))

    async def get_exceptions(self) -> list[ExceptionPeriod]:
        """The dated exceptions by start time."""
        return await self._worker.read(read_exceptions)

    async def replace_exceptions(self, items: Sequence[ExceptionPeriod]) -> None:
        """Replace all dated exceptions in one transaction (empty clears them)."""
        rows = validate_exceptions(items)
        await self._worker.write(lambda conn: write_exceptions(conn, rows))
