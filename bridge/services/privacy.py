"""The household's data rights (PRIVACY.md): consents, the egress log, export, erase.

:class:`PrivacyService` answers with plain, JSON-able data. Erasing is one
operation: the data goes, then the thermostat reloads its (now default)
name, programs and schedule and goes on heating.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.core.payloads.privacy import Purpose

if TYPE_CHECKING:
    from bridge.services.thermostat import ThermostatService
    from bridge.storage import Database

__all__ = ["PrivacyService", "Purpose"]


class PrivacyService:
    """Consents, the egress log, the export and the erase of the household's data."""

    def __init__(self, db: Database, thermostat: ThermostatService) -> None:
        self._db = db
        self._thermostat = thermostat

    async def export(self) -> dict[str, Any]:
        """Everything stored about the household, as JSON-able data."""
        return await self._db.export()

    async def erase(self, *, revoke_tokens: bool = False) -> dict[str, int]:
        """Erase personal data and history, then reload the thermostat; rows per class."""
        counts = await self._db.erase(revoke_tokens=revoke_tokens)
        await self._thermostat.reload()
        return counts

    async def consents(self) -> dict[str, Any]:
        """The decision in force per purpose (``consents``) and every decision (``history``)."""
        history = await self._db.consents.history()
        latest = {c.purpose: c for c in history}
        current = {}
        for purpose in Purpose:
            found = latest.get(purpose)
            current[purpose.value] = {
                "granted": found is not None and found.granted,
                "terms_version": None if found is None else found.terms_version,
                "ts": None if found is None else found.ts,
            }
        return {"consents": current, "history": [c.as_dict() for c in history]}

    async def record_consent(
        self, purpose: Purpose, *, granted: bool, terms_version: str
    ) -> dict[str, Any]:
        """Grant or revoke one purpose at once; the recorded decision."""
        consent = await self._db.consents.record(
            purpose, granted=granted, terms_version=terms_version
        )
        return consent.as_dict()

    async def egress(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        purpose: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Requests that left the LAN with ``since <= ts < until``, newest first."""
        records = await self._db.egress.query(
            since=since, until=until, purpose=purpose, limit=limit
        )
        return [r.as_dict() for r in records]
