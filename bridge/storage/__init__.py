"""Storage: the one SQLite database in the bridge's data directory.

Open it with ``db = await Database.open(path, clock)`` and use its
repositories (``db.settings``, ``db.schedule``, ``db.auth``,
``db.measurements``, ``db.events``, ``db.learning``, ``db.consents``,
``db.egress``, ``db.webhooks``, ``db.energy``); close it with ``await db.close()``.
Standard-library ``sqlite3`` only, on one worker thread per open database.
"""

from __future__ import annotations

from bridge.core.payloads.access import TokenKind
from bridge.core.payloads.history import EventKind
from bridge.core.payloads.privacy import Purpose
from bridge.storage.auth import (
    BEARER_KINDS,
    PAIRING_CODE_TTL,
    GrantRefused,
    IssuedToken,
    OAuthClient,
    OAuthGrant,
    TokenInfo,
    hash_secret,
    normalize_pairing_code,
)
from bridge.storage.core import (
    ConstraintError,
    DatabaseClosedError,
    Json,
    SchemaError,
    SchemaTooNewError,
    StorageError,
)
from bridge.storage.db import DB_FILENAME, EXPORT_FORMAT, Database, Retention
from bridge.storage.energy import ENERGY_COUNTERS
from bridge.storage.history import Event, HourlyAggregate, Sample, hour_of
from bridge.storage.learning import LearningEntry
from bridge.storage.migrations import latest_version
from bridge.storage.privacy import Consent, EgressRecord
from bridge.storage.settings import (
    BOILER_INTERFACE,
    BRIDGE_ID,
    CLOUD_TERMS_VERSION,
    DEFAULT_NAME,
    DEFAULT_PROGRAMS,
    DEFAULT_SCHEDULE,
    EMAIL,
    FIRMWARE_VERSION,
    GEOFENCE_DEVICES,
    GEOFENCE_ENABLED,
    HARDWARE_ID,
    LOCATION,
    NAME,
    OPTIONS,
    OUTSIDE_TEMPERATURE_SOURCE,
    PERSONAL_SETTINGS,
    PROGRAM_NAMES,
    PROGRAMS,
    SETTINGS,
    STATISTICS_DAY,
    STATISTICS_PSEUDONYM,
    Defaults,
    Setting,
)
from bridge.storage.webhooks import Webhook

__all__ = [
    "BEARER_KINDS",
    "BOILER_INTERFACE",
    "BRIDGE_ID",
    "CLOUD_TERMS_VERSION",
    "DB_FILENAME",
    "DEFAULT_NAME",
    "DEFAULT_PROGRAMS",
    "DEFAULT_SCHEDULE",
    "EMAIL",
    "ENERGY_COUNTERS",
    "EXPORT_FORMAT",
    "FIRMWARE_VERSION",
    "GEOFENCE_DEVICES",
    "GEOFENCE_ENABLED",
    "HARDWARE_ID",
    "LOCATION",
    "NAME",
    "OPTIONS",
    "OUTSIDE_TEMPERATURE_SOURCE",
    "PAIRING_CODE_TTL",
    "PERSONAL_SETTINGS",
    "PROGRAMS",
    "PROGRAM_NAMES",
    "SETTINGS",
    "STATISTICS_DAY",
    "STATISTICS_PSEUDONYM",
    "Consent",
    "ConstraintError",
    "Database",
    "DatabaseClosedError",
    "Defaults",
    "EgressRecord",
    "Event",
    "EventKind",
    "GrantRefused",
    "HourlyAggregate",
    "IssuedToken",
    "Json",
    "LearningEntry",
    "OAuthClient",
    "OAuthGrant",
    "Purpose",
    "Retention",
    "Sample",
    "SchemaError",
    "SchemaTooNewError",
    "Setting",
    "StorageError",
    "TokenInfo",
    "TokenKind",
    "Webhook",
    "hash_secret",
    "hour_of",
    "latest_version",
    "normalize_pairing_code",
]
