"""Service access (consent ``service_access``): the bridge's technical facts, for a service request.

With the consent granted and the bridge linked to a cloud account, the
bridge puts the software and boiler facts of its diagnostics (the members
``bridge.core.purposes.SERVICE_FIELDS`` names: versions, the link's and the
OpenTherm master's counters, the boiler's fault flags and capabilities, the
recent fault events) at ``PUT /api/v1/bridges/{bridge_id}/service``, where
the owner (and whoever the owner lets in with an owner token) can read them.
It does so when the consent is granted, then every :data:`INTERVAL_S`
(sooner after a failure, :data:`RETRY_S`). It
sends nothing else: no name, city, schedule or measurement series. Every
request goes through :class:`~bridge.services.cloud_client.CloudClient`
(consent and terms check, allow-list, egress log).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from bridge.core.clock import sleep_or_wake
from bridge.core.contract import render
from bridge.core.payloads.privacy import Purpose
from bridge.core.purposes import SERVICE_FIELDS
from bridge.services.cloud_client import CloudError, NotAllowed

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.services.cloud_client import CloudClient
    from bridge.services.diagnostics import DiagnosticsService
    from bridge.storage import Database

_LOGGER = logging.getLogger(__name__)

PURPOSE = Purpose.SERVICE_ACCESS
INTERVAL_S = 3600.0
"""How often the facts are shared while the consent stands."""
RETRY_S = 300.0
"""How soon a failed share is tried again."""


class ServiceShare:
    """Shares the diagnostics' technical facts with the cloud while ``service_access`` stands."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        client: CloudClient,
        diagnostics: DiagnosticsService,
    ) -> None:
        self._db = db
        self._clock = clock
        self._client = client
        self._diagnostics = diagnostics
        self._wake = asyncio.Event()
        self._failing = False
        self._remove = client.gate.add_listener(self._wake.set)

    async def payload(self) -> dict[str, Any]:
        """The facts shared: the diagnostics' members in :data:`SERVICE_FIELDS`."""
        report: dict[str, Any] = render(await self._diagnostics.report(uptime_s=0.0, push=None))
        return {key: value for key, value in report.items() if key in SERVICE_FIELDS}

    async def share_once(self) -> bool:
        """Share now if allowed and linked; True when the cloud accepted the facts."""
        link = await self._db.cloud.get()
        credential = await self._db.cloud.credential()
        if link is None or credential is None or not await self._client.gate.allowed(PURPOSE):
            return False
        try:
            status, answer = await self._client.request(
                "PUT",
                f"/api/v1/bridges/{link.bridge_id}/service",
                purpose=PURPOSE,
                json_body=await self.payload(),
                credential=credential,
            )
        except NotAllowed:
            return False  # revoked between the check and the request: nothing was sent
        except CloudError as err:
            self._failed(str(err))
            return False
        if status != 200:
            error = (answer or {}).get("error", "no error code")
            self._failed(f"the cloud refused the service facts: HTTP {status} ({error})")
            return False
        if self._failing:
            _LOGGER.info("Service facts are shared with the cloud again")
        self._failing = False
        return True

    def _failed(self, message: str) -> None:
        if not self._failing:  # once per outage, not once per try
            _LOGGER.warning("Could not share service facts: %s", message)
        self._failing = True

    async def run(self) -> None:
        """Share when the consent is granted, then every hour; retry sooner after a failure.

        A consent or terms change wakes the loop: a new grant shares at once,
        anything else waits for the next turn.
        """
        was_allowed = False
        due = 0.0
        try:
            while True:
                self._wake.clear()  # a change from here on wakes the sleep below
                allowed = await self._client.gate.allowed(PURPOSE)
                now = self._clock.time()
                if allowed and (not was_allowed or now >= due):
                    shared = await self.share_once()
                    due = now + (INTERVAL_S if shared or not self._failing else RETRY_S)
                was_allowed = allowed
                # not allowed: only a consent or terms change (which wakes) can change that
                wait = max(1.0, due - self._clock.time()) if allowed else INTERVAL_S
                await self._sleep(wait)
        finally:
            self._remove()

    async def _sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` on the bridge's clock, or until woken."""
        await sleep_or_wake(self._clock, self._wake, seconds)
