"""The household's data rights (PRIVACY.md): consents, the egress log, export, erase.

:class:`PrivacyService` answers with the payload models of
``core.payloads.privacy``; the API renders them. Erasing is one
operation: the data goes, then the thermostat reloads its (now default)
name, programs and schedule and goes on heating.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.core.payloads.history import Event
from bridge.core.payloads.privacy import (
    Consent,
    Consents,
    ConsentState,
    Egress,
    EgressRecord,
    EraseResult,
    Export,
    ExportException,
    ExportMeasurements,
    ExportScheduleEntry,
    Purpose,
)
from bridge.core.payloads.unit import StoredUnit

if TYPE_CHECKING:
    from bridge.services.cloud_client import CloudGate
    from bridge.services.thermostat import ThermostatService
    from bridge.storage import Database

__all__ = ["PrivacyService", "Purpose"]


def _export(data: dict[str, Any]) -> Export:
    """The storage layer's export as its payload model (nested parts as theirs)."""
    measurements = data["measurements"]
    return Export(
        **{
            **data,
            "schedule": [ExportScheduleEntry(**e) for e in data["schedule"]],
            "exceptions": [ExportException(**e) for e in data["exceptions"]],
            "measurements": ExportMeasurements(
                samples=measurements["samples"], hourly=measurements["hourly"]
            ),
            "events": [Event(**e) for e in data["events"]],
            "consents": [Consent(**c) for c in data["consents"]],
            "egress_log": [EgressRecord(**r) for r in data["egress_log"]],
            "units": [StoredUnit(**u) for u in data["units"]],
        }
    )


class PrivacyService:
    """Consents, the egress log, the export and the erase of the household's data."""

    def __init__(self, db: Database, thermostat: ThermostatService, gate: CloudGate) -> None:
        self._db = db
        self._thermostat = thermostat
        self._gate = gate

    async def export(self) -> Export:
        """Everything stored about the household."""
        return _export(await self._db.export())

    async def erase(self, *, revoke_tokens: bool = False) -> EraseResult:
        """Erase personal data and history, then reload the thermostat; rows per class."""
        counts = await self._db.erase(revoke_tokens=revoke_tokens)
        self._gate.consent_changed()  # the cloud link is gone: its flows stop at once
        await self._thermostat.reload()
        return EraseResult(erased=counts, tokens_revoked=revoke_tokens)

    async def consents(self) -> Consents:
        """The decision in force per purpose (``consents``) and every decision (``history``)."""
        history = await self._db.consents.history()
        latest = {c.purpose: c for c in history}
        current: dict[Purpose, ConsentState] = {}
        for purpose in Purpose:
            found = latest.get(purpose)
            current[purpose] = ConsentState(
                granted=found is not None and found.granted,
                terms_version=None if found is None else found.terms_version,
                ts=None if found is None else found.ts,
            )
        return Consents(consents=current, history=[Consent(**c.as_dict()) for c in history])

    async def record_consent(
        self, purpose: Purpose, *, granted: bool, terms_version: str
    ) -> Consent:
        """Grant or revoke one purpose at once; the recorded decision."""
        consent = await self._db.consents.record(
            purpose, granted=granted, terms_version=terms_version
        )
        self._gate.consent_changed()  # a revocation stops its flow at once
        return Consent(**consent.as_dict())

    async def egress(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        purpose: str | None = None,
        limit: int | None = None,
    ) -> Egress:
        """Requests that left the LAN with ``since <= ts < until``, newest first."""
        records = await self._db.egress.query(
            since=since, until=until, purpose=purpose, limit=limit
        )
        return Egress(records=[EgressRecord(**r.as_dict()) for r in records])
