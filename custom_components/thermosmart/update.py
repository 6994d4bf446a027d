"""Update: the bridge's version and the latest release its signed update check accepted.

Only for a bridge that checks (one with a cloud, which shows the native
state's ``update``). The entity shows the release and its notes; it has no
install feature, because the bridge installs nothing itself.
"""

from __future__ import annotations

from homeassistant.components.update import UpdateEntity, UpdateEntityFeature
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import ThermoSmartConfigEntry
from .client import UpdateStatus
from .entity import DeviceKind, ThermoSmartEntity

PARALLEL_UPDATES = 0

SUMMARY_MAX = 255
"""The longest release summary Home Assistant shows."""


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThermoSmartConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the update entity once the bridge shows its update check."""
    coordinator = entry.runtime_data.coordinator
    added = False

    def add_present() -> None:
        nonlocal added
        if not added and coordinator.data.update is not None:
            added = True
            async_add_entities([ThermoSmartBridgeUpdate(coordinator, "update")])

    add_present()
    entry.async_on_unload(coordinator.async_add_listener(add_present))


def summary(notes: str | None) -> str | None:
    """The notes' first paragraph, cut to what Home Assistant shows."""
    if not notes:
        return None
    first = notes.strip().split("\n\n", 1)[0].strip()
    return first if len(first) <= SUMMARY_MAX else first[: SUMMARY_MAX - 1] + "…"


class ThermoSmartBridgeUpdate(ThermoSmartEntity, UpdateEntity):
    """The bridge's software: installed and latest accepted release, with its notes."""

    _attr_translation_key = "software"
    _attr_supported_features = UpdateEntityFeature.RELEASE_NOTES
    device_kind = DeviceKind.BRIDGE

    @property
    def _status(self) -> UpdateStatus | None:
        return self.state_data.update

    @property
    def available(self) -> bool:
        """Unavailable while the bridge is out of reach or no longer checks."""
        return super().available and self._status is not None

    @property
    def installed_version(self) -> str | None:
        """The bridge's own version."""
        status = self._status
        return None if status is None else status.installed

    @property
    def latest_version(self) -> str | None:
        """The last release the bridge accepted (None before it accepted one)."""
        status = self._status
        return None if status is None else status.latest

    @property
    def release_summary(self) -> str | None:
        """The first paragraph of the release notes."""
        status = self._status
        return None if status is None else summary(status.notes)

    async def async_release_notes(self) -> str | None:
        """The release notes whole, as the signed manifest has them."""
        status = self._status
        return None if status is None else status.notes
