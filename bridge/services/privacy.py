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
    CloudErase,
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
    PrivacyState,
    Purpose,
    PurposeInfo,
    Purposes,
)
from bridge.core.payloads.unit import StoredUnit
from bridge.core.purposes import ALLOWED, DESCRIPTIONS
from bridge.services.cloud_client import NoCloud

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.services.cloud_client import CloudGate
    from bridge.services.cloud_data import CloudDataService
    from bridge.services.cloud_link import CloudLinkService
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

    def __init__(
        self,
        db: Database,
        thermostat: ThermostatService,
        gate: CloudGate,
        cloud_link: CloudLinkService,
        cloud: CloudDataService | None = None,
    ) -> None:
        self._db = db
        self._thermostat = thermostat
        self._gate = gate
        self._cloud_link = cloud_link
        self._cloud = cloud

    async def export(self) -> Export:
        """Everything stored about the household."""
        return _export(await self._db.export())

    async def erase(self, *, revoke_tokens: bool = False) -> EraseResult:
        """Erase personal data and history, then reload the thermostat; rows per class, and
        what became of the cloud's copy (a linked bridge's erase is queued with the local
        one and sent now, or retried until the cloud is reachable).

        A link waiting for the owner's answer stops first, so it cannot store a
        credential after the erase."""
        await self._cloud_link.cancel()
        linked = await self._db.cloud.get() is not None
        counts = await self._db.erase(revoke_tokens=revoke_tokens)
        self._gate.changed()  # the cloud link is gone: its flows stop at once
        await self._thermostat.reload()
        if not linked:
            cloud = CloudErase.NOT_LINKED
        elif self._cloud is None:
            cloud = CloudErase.QUEUED
        else:
            cloud = await self._cloud.erase()
        return EraseResult(erased=counts, tokens_revoked=revoke_tokens, cloud=cloud)

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

    async def purposes(self) -> Purposes:
        """Per purpose: what it sends (its description and allow-list), the decision in force,
        and whether it may send now; with the cloud's current terms version."""
        current = (await self.consents()).consents
        return Purposes(
            purposes=[
                PurposeInfo(
                    purpose=purpose,
                    description=DESCRIPTIONS[purpose],
                    fields=sorted(ALLOWED[purpose]),
                    granted=current[purpose].granted,
                    terms_version=current[purpose].terms_version,
                    allowed=await self._gate.allowed(purpose),
                )
                for purpose in Purpose
            ],
            terms_version=self._gate.terms_version,
        )

    async def ask_terms(self) -> Purposes:
        """Ask the cloud's current terms version now (the owner's question, to consent under
        it; no data of the home leaves); the purposes after. :class:`NoCloud` without a
        cloud, :class:`CloudError` when the cloud does not answer one."""
        if self._cloud is None:
            raise NoCloud("no cloud is configured: set cloud_url in the config file")
        await self._cloud.ask_terms()
        return await self.purposes()

    def state_model(self) -> PrivacyState:
        """The native state's ``privacy`` section."""
        return PrivacyState(last_egress=self._db.egress.last)

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` when the native state's ``privacy`` section changes."""
        return self._db.egress.add_listener(listener)

    async def record_consent(
        self, purpose: Purpose, *, granted: bool, terms_version: str
    ) -> Consent:
        """Grant or revoke one purpose at once; the recorded decision. Revoking a granted
        purpose also deletes its data in the cloud (queued until the cloud answers)."""
        before = await self._db.consents.get(purpose)
        consent = await self._db.consents.record(
            purpose, granted=granted, terms_version=terms_version
        )
        self._gate.changed()  # a revocation stops its flow at once
        if not granted and before is not None and before.granted and self._cloud is not None:
            await self._cloud.revoked(Purpose(purpose))
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
