"""The owner's settings the API changes: the thermostat's name, the city, the e-mail.

A change is one operation: the values are stored together, then the
thermostat reloads, so the bridge's name (the thermostat's) follows at once.
The settings' own checks (``NAME.validate`` …) are re-exported for the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bridge.core.payloads.options import Settings
from bridge.storage.settings import EMAIL, LOCATION, NAME

if TYPE_CHECKING:
    from bridge.services.thermostat import ThermostatService
    from bridge.storage import Database

__all__ = ["EMAIL", "LOCATION", "NAME", "SettingsService"]


class SettingsService:
    """Read and change the owner's name for the thermostat, city and e-mail."""

    def __init__(self, db: Database, thermostat: ThermostatService) -> None:
        self._db = db
        self._thermostat = thermostat

    async def view(self) -> Settings:
        """``name``, ``location`` and ``email`` as stored (None when not set)."""
        settings = self._db.settings
        return Settings(
            name=await settings.get(NAME),
            location=await settings.get(LOCATION),
            email=await settings.get(EMAIL),
        )

    async def update(self, changes: Mapping[str, Any]) -> Settings:
        """Store checked ``changes`` (all or nothing), reload the thermostat; the new view."""
        await self._db.settings.set_many(changes)
        await self._thermostat.reload()
        return await self.view()
