"""What the stand-in accepts: enrolment, the uploaded thermostat object, statistics, cities.

The thermostat object is checked against the shape of ``GET /thermostat/{hw}``
in THERMOSMART_API.md: every field present, no other field, each of its type.
Programs, schedule and exceptions go through the bridge's own schemas
(:mod:`bridge.core.validation`), and cloud-API updates through
:func:`bridge.core.requests.parse_update`: one set of rules for both.

Statistics (privacy promise P4) are aggregates under a random pseudonym and
nothing else: an identifying field (hardware id, e-mail, city, …), a raw
series or any other unknown field is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
import re
from typing import Any

import voluptuous as vol
from yarl import URL

from bridge.core.cloud_sync import RETENTION_DAYS_RANGE
from bridge.core.decoding import model_schema
from bridge.core.payloads.thermostat import CloudThermostat
from bridge.core.programs import ExceptionPeriod, Programs, WeekSchedule
from bridge.core.purposes import SERVICE_FIELDS
from bridge.core.schemas import each
from bridge.core.state import Source
from bridge.core.validation import (
    FieldError,
    ValidationError,
    check_email,
    errors_from_invalid,
    finite_number,
    text,
)

#: Bridge ids and hardware ids: letters, digits, ``.``, ``_``, ``-``; 1-64 characters.
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_ID_RE = re.compile(ID_PATTERN)
#: A statistics pseudonym: 22-64 URL-safe characters (at least 128 random bits).
_PSEUDONYM_RE = re.compile(r"[A-Za-z0-9_-]{22,64}")
_OT_KEY_RE = re.compile(r"ot(0|[1-9][0-9]{0,2})")
_OT_VALUE_RE = re.compile(r"0x[0-9A-F]{4}")
MAX_CITY = 64
MAX_GEOFENCE_DEVICES = 50

#: Fields that identify a household: refused by name in statistics (P4).
IDENTIFYING_FIELDS = frozenset(
    {
        "hardware_id",
        "hw",
        "thermostat",
        "bridge_id",
        "email",
        "e-mail",
        "mail",
        "username",
        "name",
        "city",
        "location",
        "address",
        "postcode",
        "latitude",
        "longitude",
    }
)


def is_id(value: str) -> bool:
    """Whether ``value`` is a well-formed bridge or hardware id."""
    return _ID_RE.fullmatch(value) is not None


def _run(schema: Callable[[Any], Any], data: Any) -> Any:
    try:
        return schema(data)
    except vol.Invalid as err:
        raise ValidationError(errors_from_invalid(err)) from None


def _object(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ValidationError([{"field": "(body)", "rule": "must be an object"}])
    return data


def _text(max_len: int, *, empty: bool = False) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        string = text(value)
        if not empty and not string:
            raise vol.Invalid("must not be empty")
        if len(string) > max_len:
            raise vol.Invalid(f"at most {max_len} characters")
        if any(ord(c) < 32 for c in string):
            raise vol.Invalid("must not contain control characters")
        return string

    return check


def _identifier(value: Any) -> str:
    if not isinstance(value, str) or not is_id(value):
        raise vol.Invalid("must be 1-64 letters, digits, '.', '_' or '-'")
    return value


def _number_in(low: float, high: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        number = finite_number(value)
        if not low <= number <= high:
            raise vol.Invalid(f"must be between {low:g} and {high:g}")
        return number

    return check


def _number_or_null(value: Any) -> float | None:
    return None if value is None else finite_number(value)


def _text_or_null(max_len: int) -> Callable[[Any], str | None]:
    check_text = _text(max_len)

    def check(value: Any) -> str | None:
        return None if value is None else check_text(value)

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise vol.Invalid("must be true or false")
    return value


def _source(value: Any) -> str:
    names = [str(s) for s in Source]
    if value not in names:
        raise vol.Invalid("must be one of " + ", ".join(names))
    return str(value)


def _geofence_device(value: Any) -> Any:
    if isinstance(value, str):
        return _text(128)(value)
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        for key, item in value.items():
            if not (item is None or isinstance(item, str | int | float | bool)):
                raise vol.Invalid("values must be strings, numbers, booleans or null", path=[key])
        return dict(value)
    raise vol.Invalid("must be a string or an object")


_each_device = each(_geofence_device)


def _geofence_devices(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise vol.Invalid("must be a list")
    if len(value) > MAX_GEOFENCE_DEVICES:
        raise vol.Invalid(f"at most {MAX_GEOFENCE_DEVICES} entries")
    return _each_device(value)


def _ot_raw(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise vol.Invalid("must be an object")
    errors: list[vol.Invalid] = []
    for key, item in value.items():
        match = _OT_KEY_RE.fullmatch(key) if isinstance(key, str) else None
        if match is None or int(match.group(1)) > 255:
            errors.append(vol.Invalid("must be ot0-ot255", path=[str(key)]))
        elif not isinstance(item, str) or _OT_VALUE_RE.fullmatch(item) is None:
            errors.append(vol.Invalid("must be 0x and four upper-case hex digits", path=[key]))
    if errors:
        raise vol.MultipleInvalid(errors)
    return dict(value)


_OT_SCHEMA = vol.Schema(
    {vol.Required("enabled"): _boolean, vol.Required("raw"): _ot_raw}, extra=vol.PREVENT_EXTRA
)

#: The thermostat object of ``GET /thermostat/{hw}``: all fields, nothing else. The
#: fields and the rules of programs, schedule, exceptions and target_temperature (a
#: number) are the bridge's model's (:class:`CloudThermostat`); the stand-in is stricter
#: for the rest: texts have lengths and no control characters, location is a city of at
#: most 64 characters, booleans say "must be true or false", source is one of the
#: sources, at most 50 geofence devices, and ot.raw keys are ot0-ot255.
THERMOSTAT_OBJECT_SCHEMA = model_schema(
    CloudThermostat,
    rules={
        "name": _text(64, empty=True),
        "room_temperature": _number_or_null,
        "outside_temperature": _number_or_null,
        "outside_temperature_icon": _text_or_null(32),
        "source": _source,
        "fw": _text(64),
        "location": _text(MAX_CITY, empty=True),
        "geofence_enabled": _boolean,
        "geofence_devices": _geofence_devices,
        "ot": _OT_SCHEMA,
    },
)

#: The fields of the thermostat object, in the API's order.
THERMOSTAT_FIELDS = tuple(str(key) for key in THERMOSTAT_OBJECT_SCHEMA.schema)


def parse_thermostat_object(data: Any) -> dict[str, Any]:
    """A bridge's upload, checked and normalised; raises :class:`ValidationError`."""
    result: dict[str, Any] = _run(THERMOSTAT_OBJECT_SCHEMA, _object(data))
    programs: Programs = result["programs"]
    schedule: WeekSchedule = result["schedule"]
    exceptions: tuple[ExceptionPeriod, ...] = result["exceptions"]
    result["programs"] = programs.to_dict()
    result["schedule"] = schedule.to_list()
    result["exceptions"] = [item.to_dict() for item in exceptions]
    return result


def parse_synced_object(data: dict[str, Any]) -> dict[str, Any]:
    """A thermostat a bridge synced (its members checked by :mod:`bridge.core.cloud_sync`:
    all but ``location``), its values checked and normalised like an upload."""
    result = parse_thermostat_object({**data, "location": ""})
    del result["location"]
    return result


def cloud_view(synced: dict[str, Any]) -> dict[str, Any]:
    """The object ``GET /thermostat/{hw}`` shows for a synced thermostat: the cloud is never
    told the city, so ``location`` is empty."""
    full = {**synced, "location": ""}
    return {name: full[name] for name in THERMOSTAT_FIELDS}


ENROL_SCHEMA = vol.Schema(
    {
        vol.Required("bridge_id"): _identifier,
        vol.Required("hardware_id"): _identifier,
        vol.Required("terms_version"): _text(32),
    },
    extra=vol.PREVENT_EXTRA,
)


def parse_enrolment(data: Any) -> dict[str, str]:
    """``{"bridge_id", "hardware_id", "terms_version"}``; raises :class:`ValidationError`."""
    result: dict[str, str] = _run(ENROL_SCHEMA, _object(data))
    return result


#: A retention a bridge states, in days.
#: A retention a bridge may state (the sync connection's ``retention`` frame).
RETENTION_MIN_DAYS = RETENTION_DAYS_RANGE[0]
RETENTION_MAX_DAYS = RETENTION_DAYS_RANGE[1]


def parse_email(value: str) -> str:
    """An owner's e-mail address (bridge.core's rule), in lower case; raises
    :class:`ValidationError`."""
    try:
        check_email(value)
    except ValueError as err:
        raise ValidationError([{"field": "email", "rule": str(err)}]) from None
    if any(ord(c) < 32 for c in value):
        raise ValidationError([{"field": "email", "rule": "must be an e-mail address"}])
    return value.lower()


def parse_terms_version(value: str) -> str:
    """A terms version: the rule of an enrolment's ``terms_version``."""
    result: dict[str, str] = _run(
        vol.Schema({vol.Required("terms_version"): _text(32)}), {"terms_version": value}
    )
    return result["terms_version"]


MAX_REDIRECT_URI = 2000


def parse_redirect_uri(value: str) -> str:
    """An OAuth client's redirect URI: absolute ``http(s)`` with a host, no fragment."""
    rule = None
    try:
        url = URL(value)
    except ValueError:
        url = None
    if len(value) > MAX_REDIRECT_URI:
        rule = f"must be at most {MAX_REDIRECT_URI} characters"
    elif url is None or url.scheme not in ("http", "https") or not url.host:
        rule = "must be an absolute http:// or https:// URL"
    elif url.fragment or "#" in value:
        rule = "must not have a fragment"
    if rule is not None:
        raise ValidationError([{"field": "redirect_uri", "rule": rule}])
    return value


PAUSE_SCHEMA = vol.Schema({vol.Required("pause"): _boolean}, extra=vol.PREVENT_EXTRA)


def parse_pause(data: Any) -> bool:
    """``{"pause": true|false}``; raises :class:`ValidationError`."""
    result: dict[str, bool] = _run(PAUSE_SCHEMA, _object(data))
    return result["pause"]


def _pseudonym(value: Any) -> str:
    if not isinstance(value, str) or _PSEUDONYM_RE.fullmatch(value) is None:
        raise vol.Invalid("must be a random string of 22-64 letters, digits, '_' or '-'")
    return value


def _day(value: Any) -> str:
    if not isinstance(value, str) or re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is None:
        raise vol.Invalid("must be a date YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise vol.Invalid("no such date") from None
    return value


STATISTICS_SCHEMA = vol.Schema(
    {
        vol.Required("pseudonym"): _pseudonym,
        vol.Required("day"): _day,
        vol.Required("degree_days"): _number_in(0.0, 100.0),
        vol.Required("mean_modulation"): _number_in(0.0, 100.0),
        vol.Required("burner_hours"): _number_in(0.0, 24.0),
    },
    extra=vol.PREVENT_EXTRA,
)

_IDENTIFYING_RULE = "identifying data is not accepted; statistics are pseudonymous aggregates"


def parse_statistics(data: Any) -> dict[str, Any]:
    """One day's aggregates under a pseudonym; raises :class:`ValidationError`.

    Identifying fields are named as such; any other extra field is unknown.
    """
    body = _object(data)
    identifying = sorted(k for k in body if isinstance(k, str) and k.lower() in IDENTIFYING_FIELDS)
    if identifying:
        raise ValidationError([{"field": k, "rule": _IDENTIFYING_RULE} for k in identifying])
    result: dict[str, Any] = _run(STATISTICS_SCHEMA, body)
    return result


_CITY_EXTRA = frozenset(" '.-")


def parse_city(value: str | None) -> str:
    """A city name for the weather: letters with spaces, ``'``, ``.`` or ``-``; spaces squeezed."""
    if value is None:
        raise ValidationError([{"field": "city", "rule": "required"}])
    city = " ".join(value.split())
    if not city or len(city) > MAX_CITY:
        raise ValidationError([{"field": "city", "rule": f"must be 1-{MAX_CITY} characters"}])
    if not any(c.isalpha() for c in city) or not all(c.isalpha() or c in _CITY_EXTRA for c in city):
        raise ValidationError(
            [{"field": "city", "rule": "must be letters, spaces, ' . or - (a city name)"}]
        )
    return city


def parse_service_report(data: Any) -> dict[str, Any]:
    """A bridge's service report (consent ``service_access``): exactly the members
    :data:`bridge.core.purposes.SERVICE_FIELDS` names, each an object, a list or null.

    The stand-in keeps it as the bridge's technical facts for the owner to read; any
    other member (a name, a city, a schedule) is refused, so nothing else is stored.
    """
    body = _object(data)
    errors = [
        FieldError(field=str(key), rule="unknown field (not shared under service_access)")
        for key in sorted(body, key=str)
        if key not in SERVICE_FIELDS
    ]
    for key in sorted(SERVICE_FIELDS):
        if key not in body:
            errors.append(FieldError(field=key, rule="required"))
        elif body[key] is not None and not isinstance(body[key], dict | list):
            errors.append(FieldError(field=key, rule="must be an object, a list or null"))
    if errors:
        raise ValidationError(errors)
    return dict(body)
