"""The integration's actions: the week schedule, exceptions, pause, program temperatures,
and the household's data rights (export, erase).

Registered once in ``async_setup``; each takes the ``config_entry_id`` of a
bridge. Input is checked here first, so the usual mistakes get a message
that says what to change; the bridge checks everything again and its
refusals (``field``: ``rule``) are passed on the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import datetime, time, tzinfo
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .client import (
    PROGRAM_NAMES,
    ScheduleException,
)
from .const import DOMAIN, TEMPERATURE_MAX, TEMPERATURE_MIN
from .errors import bridge_command

if TYPE_CHECKING:
    from . import ThermoSmartConfigEntry

SERVICE_SET_SCHEDULE = "set_schedule"
SERVICE_ADD_EXCEPTION = "add_exception"
SERVICE_CLEAR_EXCEPTIONS = "clear_exceptions"
SERVICE_PAUSE = "pause"
SERVICE_RESUME = "resume"
SERVICE_SET_PROGRAM_TEMPERATURES = "set_program_temperatures"
SERVICE_EXPORT = "export"
SERVICE_ERASE = "erase"

ATTR_SCHEDULE = "schedule"
ATTR_DAY = "day"
ATTR_TIME = "time"
ATTR_PROGRAM = "program"
ATTR_START = "start"
ATTR_END = "end"
ATTR_DESCRIPTION = "description"
ATTR_CONFIRM = "confirm"
ATTR_REVOKE_TOKENS = "revoke_tokens"

DAYS: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
"""Day names as the actions take them; the bridge counts Monday as 0."""
MINUTE_STEP = 15
"""Schedule and exception times fall on quarter hours."""
MAX_DESCRIPTION = 30
"""The longest description of an exception the bridge stores."""
MAX_SCHEDULE_ENTRIES = 672
"""One switch per quarter hour of the week at most."""

_PROGRAM = vol.All(cv.string, vol.In(PROGRAM_NAMES))
_ENTRY: dict[vol.Marker, Any] = {vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string}

SCHEDULE_ENTRY_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DAY): vol.All(cv.string, vol.Lower, vol.In(DAYS)),
        vol.Required(ATTR_TIME): cv.time,
        vol.Required(ATTR_PROGRAM): _PROGRAM,
    }
)
SET_SCHEDULE_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_SCHEDULE): vol.All(
            cv.ensure_list, vol.Length(min=1, max=MAX_SCHEDULE_ENTRIES), [SCHEDULE_ENTRY_SCHEMA]
        ),
    }
)
ADD_EXCEPTION_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_START): cv.datetime,
        vol.Required(ATTR_END): cv.datetime,
        vol.Required(ATTR_PROGRAM): _PROGRAM,
        vol.Optional(ATTR_DESCRIPTION, default=""): cv.string,
    }
)
CLEAR_EXCEPTIONS_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Optional(ATTR_START): cv.datetime,
        vol.Optional(ATTR_END): cv.datetime,
    }
)
ENTRY_ONLY_SCHEMA = vol.Schema(_ENTRY)
_PROGRAM_TEMPERATURES: dict[vol.Marker, Any] = {
    vol.Optional(name): vol.Coerce(float) for name in PROGRAM_NAMES
}
SET_PROGRAM_TEMPERATURES_SCHEMA = vol.Schema({**_ENTRY, **_PROGRAM_TEMPERATURES})
ERASE_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Optional(ATTR_CONFIRM, default=False): cv.boolean,
        vol.Optional(ATTR_REVOKE_TOKENS, default=False): cv.boolean,
    }
)


def _invalid(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


def _entry(call: ServiceCall) -> ThermoSmartConfigEntry:
    """The loaded config entry the call names."""
    entry_id: str = call.data[ATTR_CONFIG_ENTRY_ID]
    entry = call.hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise _invalid("entry_not_found", entry_id=entry_id)
    if entry.state is not ConfigEntryState.LOADED:
        raise _invalid("entry_not_loaded", name=entry.title)
    thermosmart_entry: ThermoSmartConfigEntry = entry
    return thermosmart_entry


async def _run(
    hass: HomeAssistant, entry: ThermoSmartConfigEntry, command: Awaitable[object]
) -> None:
    """Await a client command with the integration's one error translation."""
    async with bridge_command(hass, entry):
        await command


async def _answer(
    hass: HomeAssistant, entry: ThermoSmartConfigEntry, command: Awaitable[dict[str, Any]]
) -> dict[str, Any]:
    """:func:`_run` for a command whose answer is the action's response."""
    answers: list[dict[str, Any]] = []
    async with bridge_command(hass, entry):
        answers.append(await command)
    return answers[0]  # bridge_command raises on every failure


def _check_quarter(value: time, shown: str) -> None:
    if value.minute % MINUTE_STEP or value.second or value.microsecond:
        raise _invalid("time_not_quarter", time=shown)


def _bridge_timezone(entry: ThermoSmartConfigEntry) -> tzinfo:
    """The bridge's timezone: schedule and exception times are wall-clock times there."""
    name = entry.runtime_data.coordinator.data.thermostat.timezone
    zone = dt_util.get_time_zone(name) if name else None
    return zone or dt_util.get_default_time_zone()


def _wall(value: datetime, zone: tzinfo) -> datetime:
    """A time from the call (naive means Home Assistant's timezone) as naive wall time in ``zone``."""
    return dt_util.as_local(value).astimezone(zone).replace(tzinfo=None)


def _wall_list(value: datetime) -> list[int]:
    """The API's ``[Y, M, D, h, m]`` with January = 0."""
    return [value.year, value.month - 1, value.day, value.hour, value.minute]


def _exception_body(item: ScheduleException) -> dict[str, Any]:
    return {
        "start": _wall_list(item.start),
        "end": _wall_list(item.end),
        "temperature": item.program,
        "description": item.description,
    }


async def _async_set_schedule(call: ServiceCall) -> None:
    entry = _entry(call)
    seen: set[tuple[int, int, int]] = set()
    body: list[dict[str, Any]] = []
    for item in call.data[ATTR_SCHEDULE]:
        at: time = item[ATTR_TIME]
        shown = f"{item[ATTR_DAY]} {at:%H:%M}"
        _check_quarter(at, shown)
        start = (DAYS.index(item[ATTR_DAY]), at.hour, at.minute)
        if start in seen:
            raise _invalid("schedule_duplicate", time=shown)
        seen.add(start)
        body.append({"start": list(start), "temperature": item[ATTR_PROGRAM]})
    client = entry.runtime_data.client
    await _run(call.hass, entry, client.update_thermostat({"schedule": body}))


async def _async_add_exception(call: ServiceCall) -> None:
    entry = _entry(call)
    start: datetime = call.data[ATTR_START]
    end: datetime = call.data[ATTR_END]
    description: str = call.data[ATTR_DESCRIPTION]
    if len(description) > MAX_DESCRIPTION:
        raise _invalid("description_too_long", maximum=str(MAX_DESCRIPTION))
    zone = _bridge_timezone(entry)
    wall_start, wall_end = _wall(start, zone), _wall(end, zone)
    for value in (wall_start, wall_end):
        _check_quarter(value.time(), f"{value:%Y-%m-%d %H:%M}")
    if wall_end <= wall_start:
        raise _invalid("exception_end_before_start")
    if dt_util.as_local(end) <= dt_util.now():
        raise _invalid("exception_in_past", end=f"{wall_end:%Y-%m-%d %H:%M}")
    client = entry.runtime_data.client

    async def add() -> None:
        current = await client.thermostat()  # the list as the bridge has it now
        new = ScheduleException(
            start=wall_start, end=wall_end, program=call.data[ATTR_PROGRAM], description=description
        )
        exceptions = [_exception_body(item) for item in (*current.exceptions, new)]
        await client.update_thermostat({"exceptions": exceptions})

    await _run(call.hass, entry, add())


def _overlapping(
    items: Sequence[ScheduleException], low: datetime | None, high: datetime | None
) -> list[ScheduleException]:
    return [
        item
        for item in items
        if (high is None or item.start < high) and (low is None or item.end > low)
    ]


async def _async_clear_exceptions(call: ServiceCall) -> None:
    entry = _entry(call)
    zone = _bridge_timezone(entry)
    low = _wall(call.data[ATTR_START], zone) if ATTR_START in call.data else None
    high = _wall(call.data[ATTR_END], zone) if ATTR_END in call.data else None
    if low is not None and high is not None and high <= low:
        raise _invalid("range_end_before_start")
    client = entry.runtime_data.client

    async def clear() -> None:
        current = (await client.thermostat()).exceptions
        gone = _overlapping(current, low, high)
        if not gone:
            return
        kept = [_exception_body(item) for item in current if item not in gone]
        await client.update_thermostat({"exceptions": kept})

    await _run(call.hass, entry, clear())


async def _async_pause(call: ServiceCall) -> None:
    entry = _entry(call)
    await _run(call.hass, entry, entry.runtime_data.client.set_paused(True))


async def _async_resume(call: ServiceCall) -> None:
    entry = _entry(call)
    await _run(call.hass, entry, entry.runtime_data.client.set_paused(False))


async def _async_set_program_temperatures(call: ServiceCall) -> None:
    entry = _entry(call)
    programs: dict[str, float] = {
        name: call.data[name] for name in PROGRAM_NAMES if name in call.data
    }
    if not programs:
        raise _invalid("no_program_temperature")
    for name, value in programs.items():
        if not TEMPERATURE_MIN <= value <= TEMPERATURE_MAX:
            raise _invalid(
                "temperature_out_of_range",
                program=name,
                temperature=f"{value:g}",
                minimum=f"{TEMPERATURE_MIN:g}",
                maximum=f"{TEMPERATURE_MAX:g}",
            )
    client = entry.runtime_data.client
    await _run(call.hass, entry, client.set_program_temperatures(programs))


async def _async_export(call: ServiceCall) -> ServiceResponse:
    """Everything the bridge stores about the household, as the action's response."""
    entry = _entry(call)
    return await _answer(call.hass, entry, entry.runtime_data.client.export())


async def _async_erase(call: ServiceCall) -> ServiceResponse:
    """Erase the household's personal data and history on the bridge, once confirmed."""
    entry = _entry(call)
    if call.data[ATTR_CONFIRM] is not True:
        raise _invalid("erase_not_confirmed")
    client = entry.runtime_data.client
    return await _answer(
        call.hass, entry, client.erase(revoke_tokens=call.data[ATTR_REVOKE_TOKENS])
    )


SERVICES: Mapping[str, tuple[Callable[[ServiceCall], Coroutine[Any, Any, None]], vol.Schema]] = {
    SERVICE_SET_SCHEDULE: (_async_set_schedule, SET_SCHEDULE_SCHEMA),
    SERVICE_ADD_EXCEPTION: (_async_add_exception, ADD_EXCEPTION_SCHEMA),
    SERVICE_CLEAR_EXCEPTIONS: (_async_clear_exceptions, CLEAR_EXCEPTIONS_SCHEMA),
    SERVICE_PAUSE: (_async_pause, ENTRY_ONLY_SCHEMA),
    SERVICE_RESUME: (_async_resume, ENTRY_ONLY_SCHEMA),
    SERVICE_SET_PROGRAM_TEMPERATURES: (
        _async_set_program_temperatures,
        SET_PROGRAM_TEMPERATURES_SCHEMA,
    ),
}

ANSWERING_SERVICES: Mapping[
    str,
    tuple[
        Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]], vol.Schema, SupportsResponse
    ],
] = {
    SERVICE_EXPORT: (_async_export, ENTRY_ONLY_SCHEMA, SupportsResponse.ONLY),
    SERVICE_ERASE: (_async_erase, ERASE_SCHEMA, SupportsResponse.OPTIONAL),
}
"""The actions that answer with data."""


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (once, for every bridge)."""
    for name, (handler, schema) in SERVICES.items():
        hass.services.async_register(DOMAIN, name, handler, schema=schema)
    for name, (answer, schema, response) in ANSWERING_SERVICES.items():
        hass.services.async_register(
            DOMAIN, name, answer, schema=schema, supports_response=response
        )
