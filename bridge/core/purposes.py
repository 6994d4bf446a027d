"""What each consent purpose may carry out of the LAN (PRIVACY.md P4, P5).

Every request the bridge sends to a cloud is made for one purpose, and may
carry only that purpose's fields: :data:`ALLOWED` is the one list, and the
bridge's cloud client (:mod:`bridge.services.cloud_client`) refuses to send
a request with any other field name (top-level JSON member, form field or
query parameter) before anything leaves. The payload builders derive their
payloads from these lists, the Home Assistant options flow shows them, and
the tests read every request body against them.

- ``cloud_sync``: the link itself and the thermostat as the cloud-compatible
  API shows it, **without** ``location`` (the city goes only under
  ``weather_by_city``), plus the answers to the owner's remote commands;
- ``weather_by_city``: the city, nothing else;
- ``statistics``: one day's aggregates under a random pseudonym (never a
  hardware id, bridge id, e-mail, city or raw series);
- ``service_access``: the diagnostics' software and boiler facts (versions,
  link and OpenTherm counters, the boiler's fault flags and capabilities,
  recent fault events), for a service request;
- ``update_check``: nothing but the request for the signed manifest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields

from bridge.core.payloads.native import ServiceReport
from bridge.core.payloads.privacy import Purpose

__all__ = ["ALLOWED", "DESCRIPTIONS", "disallowed", "require_allowed"]

LINK_FIELDS: frozenset[str] = frozenset(
    {
        # RFC 8628 device authorization request and token poll
        "client_id",
        "bridge_id",
        "hardware_id",
        "terms_version",
        "scope",
        "grant_type",
        "device_code",
    }
)
"""What linking sends (under ``cloud_sync``)."""

THERMOSTAT_FIELDS: frozenset[str] = frozenset(
    {
        "name",
        "room_temperature",
        "target_temperature",
        "outside_temperature",
        "outside_temperature_icon",
        "programs",
        "schedule",
        "exceptions",
        "source",
        "fw",
        "geofence_enabled",
        "geofence_devices",
        "ot",
    }
)
"""The thermostat object's members that ``cloud_sync`` uploads: all but ``location``."""

SYNC_FIELDS: frozenset[str] = frozenset(
    {
        # the envelope of a message on the sync connection and a command's answer
        "type",
        "seq",
        "id",
        "status",
        "error",
        "errors",
        "thermostat",
        "retention_days",
    }
)
"""The sync connection's own members (under ``cloud_sync``)."""

SERVICE_FIELDS: frozenset[str] = frozenset(f.name for f in fields(ServiceReport))
"""The diagnostics members ``service_access`` shares (:class:`ServiceReport`)."""

ALLOWED: Mapping[Purpose, frozenset[str]] = {
    Purpose.CLOUD_SYNC: LINK_FIELDS | THERMOSTAT_FIELDS | SYNC_FIELDS,
    Purpose.WEATHER_BY_CITY: frozenset({"city"}),
    Purpose.STATISTICS: frozenset(
        {"pseudonym", "day", "degree_days", "mean_modulation", "burner_hours"}
    ),
    Purpose.SERVICE_ACCESS: SERVICE_FIELDS,
    Purpose.UPDATE_CHECK: frozenset(),
}
"""The field names each purpose may carry; nothing else leaves under it."""

DESCRIPTIONS: Mapping[Purpose, str] = {
    Purpose.CLOUD_SYNC: (
        "the thermostat's state, programs, schedule and exceptions (not the city), so the "
        "owner can use it away from home through the cloud"
    ),
    Purpose.WEATHER_BY_CITY: "the city, to get its outside temperature and forecast",
    Purpose.STATISTICS: (
        "one day's degree-days, mean modulation and burner hours under a random pseudonym"
    ),
    Purpose.SERVICE_ACCESS: (
        "the boiler's fault flags, recent faults and the link's counters, for a service request"
    ),
    Purpose.UPDATE_CHECK: "a request for the signed update manifest; no data of the home",
}
"""One line per purpose: what it sends, for people."""


def disallowed(purpose: Purpose, fields: Iterable[str]) -> list[str]:
    """The names in ``fields`` that ``purpose`` may not carry, sorted (empty: all allowed)."""
    allowed = ALLOWED[Purpose(purpose)]
    return sorted({name for name in fields if name not in allowed})


class FieldNotAllowedError(ValueError):
    """A request would carry a field its purpose does not allow; nothing was sent."""


def require_allowed(purpose: Purpose, fields: Iterable[str]) -> None:
    """Raise :class:`FieldNotAllowedError` if any of ``fields`` is outside ``purpose``'s list."""
    extra = disallowed(purpose, fields)
    if extra:
        raise FieldNotAllowedError(
            f"{Purpose(purpose).value} may not carry {', '.join(extra)}: nothing was sent"
        )
