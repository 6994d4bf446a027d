"""What the API needs from the rest of the bridge, and the keys it keeps on the app.

The handlers depend on :class:`BridgeServices`, a small Protocol the daemon's
bridge object satisfies: services and plain values only. No module of
:mod:`bridge.api` imports the daemon or storage.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from bridge.api.ratelimit import FailureLimiter
from bridge.core.clock import Clock
from bridge.opentherm.links.base import BoilerLink
from bridge.services.access import AccessService, TokenInfo
from bridge.services.cloud_link import CloudLinkService
from bridge.services.diagnostics import DiagnosticsService
from bridge.services.history import HistoryService
from bridge.services.privacy import PrivacyService
from bridge.services.settings import SettingsService
from bridge.services.thermostat import ThermostatService
from bridge.services.webhook_delivery import WebhookDispatcher

#: The native API's version, in ``/api/v1/health``, diagnostics and zeroconf.
API_VERSION = 1


class BridgeServices(Protocol):
    """The running bridge as the API sees it."""

    @property
    def clock(self) -> Clock:
        """The injected clock."""

    @property
    def bridge_id(self) -> str:
        """The random id the bridge announces."""

    @property
    def name(self) -> str:
        """The bridge's name (the thermostat's)."""

    @property
    def thermostat(self) -> ThermostatService:
        """The thermostat service."""

    @property
    def settings(self) -> SettingsService:
        """The owner's settings (name, city, e-mail)."""

    @property
    def access(self) -> AccessService:
        """Tokens, pairing, the owner's login and OAuth2 grants."""

    @property
    def privacy(self) -> PrivacyService:
        """Consents, the egress log, export and erase."""

    @property
    def history(self) -> HistoryService:
        """Recorded series and the event log."""

    @property
    def diagnostics(self) -> DiagnosticsService:
        """Counters, versions and recent faults."""

    @property
    def cloud_link(self) -> CloudLinkService:
        """Linking to an owner's cloud account in the background."""

    @property
    def webhooks(self) -> WebhookDispatcher:
        """The webhook delivery worker."""

    @property
    def link(self) -> BoilerLink:
        """The boiler link."""

    def native_state(self) -> dict[str, Any]:
        """Everything the native API shows about the bridge and the boiler."""


BRIDGE_KEY: web.AppKey[BridgeServices] = web.AppKey("bridge")
LIMITER_KEY: web.AppKey[FailureLimiter] = web.AppKey("limiter", FailureLimiter)

# aiohttp >= 3.14 wants typed request keys; Home Assistant's pinned aiohttp has none yet.
_REQUEST_KEY = getattr(web, "RequestKey", None)
TOKEN_KEY: Any = _REQUEST_KEY("thermosmart_token", object) if _REQUEST_KEY else "thermosmart_token"


def token_of(request: web.Request) -> TokenInfo:
    """The authenticated token of a request (set by the authentication middleware)."""
    info: TokenInfo = request[TOKEN_KEY]
    return info
