"""The cloud's data flows besides sync: terms, weather by city, statistics, deletions.

One task (:meth:`CloudDataService.run`) wakes every :data:`TICK_S` (and at
once when a consent or the terms change) and, through the bridge's one
:class:`~bridge.services.cloud_client.CloudClient`:

- **terms** (PRIVACY.md P14): asks ``GET /api/v1/terms`` at start and every
  :data:`TERMS_INTERVAL_S` while any purpose is granted, and tells the
  :class:`~bridge.services.cloud_client.CloudGate`; a purpose granted under
  older terms is *paused* (the gate sends nothing for it) until the owner
  grants it again under the new version. The question carries no data of
  the home and is logged as the purpose ``terms`` (the owner may also ask it
  before granting anything: :meth:`CloudDataService.ask_terms`);
- **weather by city** (``weather_by_city``): with the consent, a city set and
  the link's credential, ``GET /api/v1/weather?city=`` every
  :data:`WEATHER_INTERVAL_S`; the answer's temperature becomes the
  thermostat's ``weather`` outside source (used only when neither the boiler's
  sensor nor a pushed value is fresh, CONTROL.md) and its hourly forecast the
  warm-up plan's. A revocation drops both at once;
- **statistics** (``statistics``, P4): once a day, the previous UTC day's
  degree-days, mean modulation and burner hours, computed from the bridge's
  own samples, under a random pseudonym kept in the settings store;
- **deletions** (P5, P13): what :mod:`bridge.storage.cloud_deletions` holds (an
  erase, a revoked ``statistics`` or ``cloud_sync``), sent without a current
  consent (they carry no data), retried with backoff until the cloud answers.

Nothing here changes anything local when the cloud refuses, hangs or answers
garbage: the flow backs off and tries again; the thermostat heats on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import logging
import math
import secrets
from typing import TYPE_CHECKING, Any

from bridge.core.clock import sleep_or_wake
from bridge.core.payloads.native import CloudState, CloudWeather
from bridge.core.payloads.privacy import CloudErase, Purpose
from bridge.core.state import SensorValue
from bridge.learning import OutsideForecast
from bridge.services.cloud_client import CloudError, NoCloud, NotAllowed, clip
from bridge.storage import CLOUD_TERMS_VERSION, STATISTICS_DAY, STATISTICS_PSEUDONYM
from bridge.storage.cloud_deletions import Deletion, DeletionKind

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.services.cloud_client import CloudClient, CloudGate
    from bridge.services.thermostat import ThermostatService
    from bridge.storage import Database

__all__ = ["CloudDataService"]

_LOGGER = logging.getLogger(__name__)

TICK_S = 60.0
"""How often the flows look whether something is due."""
TERMS_INTERVAL_S = 3600.0
"""How often the cloud's terms version is asked while any purpose is granted."""
WEATHER_INTERVAL_S = 3600.0
"""How often the weather for the city is fetched."""
RETRY_MIN_S = 30.0
RETRY_MAX_S = 3600.0
"""A failed flow waits RETRY_MIN_S, doubling up to RETRY_MAX_S, before it tries again."""
DEGREE_DAY_BASE_C = 18.0
"""Degree-days are counted below this daily mean outside temperature."""
_TEXT_MAX = 64
_DONE_STATUSES = frozenset({200, 204, 401, 404})
"""A deletion's answers after which the cloud holds nothing more under it (401, 404:
the credential or the data is already gone)."""


@dataclass
class _Flow:
    """When one flow is next due, and its backoff after failures."""

    due: float = 0.0
    backoff: float = 0.0

    def succeeded(self, now: float, interval: float) -> None:
        self.due, self.backoff = now + interval, 0.0

    def failed(self, now: float) -> float:
        self.backoff = min(RETRY_MAX_S, max(RETRY_MIN_S, 2 * self.backoff))
        self.due = now + self.backoff
        return self.backoff


class CloudDataService:
    """Terms, weather by city, statistics and deletions (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        gate: CloudGate,
        client: CloudClient | None,
        thermostat: ThermostatService,
    ) -> None:
        self._db = db
        self._clock = clock
        self._gate = gate
        self._client = client
        self._thermostat = thermostat
        self._wake = asyncio.Event()
        self._linked = False
        self._terms_version: str | None = None  # the version ``_paused`` was computed under
        self._paused: list[str] = []
        self._pending = False
        self._weather: CloudWeather | None = None
        self._weather_city: str | None = None
        self._terms = _Flow()
        self._weather_flow = _Flow()
        self._statistics = _Flow()
        self._deletions = _Flow()
        self._failing: set[str] = set()
        gate.add_listener(self._changed)
        thermostat.add_listener(self._thermostat_changed)

    # ------------------------------------------------------------ state

    def model(self) -> CloudState:
        """The native state's ``cloud`` section."""
        return CloudState(
            linked=self._linked,
            terms_version=self._terms_version,
            paused=list(self._paused),
            erase_pending=self._pending,
            weather=self._weather,
        )

    async def load(self) -> None:
        """Tell the gate the terms version last learned (before a restart) and read the state."""
        stored = await self._db.settings.get(CLOUD_TERMS_VERSION)
        if stored is not None and self._gate.terms_version is None:
            self._gate.set_terms_version(stored)
        await self.refresh()

    async def refresh(self) -> None:
        """Re-read the link, the paused purposes and the owed deletions; push a change."""
        before = self.model()
        # the version (learned here or by the sync connection) and the purposes paused
        # under it, read together; that one version is stored and reported
        version, paused = await self._gate.paused()
        if version is not None and version != await self._db.settings.get(CLOUD_TERMS_VERSION):
            await self._db.settings.set(CLOUD_TERMS_VERSION, version)
        self._linked = await self._db.cloud.get() is not None
        self._pending = bool(await self._db.cloud_deletions.pending())
        self._terms_version = version
        self._paused = [purpose.value for purpose in paused]
        if not await self._gate.allowed(Purpose.WEATHER_BY_CITY):
            self._drop_weather()
        if self.model() != before:
            self._thermostat.notify_state()

    async def ask_terms(self) -> str:
        """The owner asks for the cloud's terms version now, to consent under it (the gate
        learns it, and this task stores it); :class:`NoCloud` or :class:`CloudError`."""
        if self._client is None:
            raise NoCloud("no cloud is configured: set cloud_url in the config file")
        return await self._client.ask_terms()

    def _changed(self) -> None:
        """A consent or the terms changed: re-check at once (a revocation stops its flow)."""
        self._wake.set()

    def _thermostat_changed(self, changed: Mapping[str, Any]) -> None:
        if "location" in changed:  # a new city (or none): fetch or drop its weather now
            self._wake.set()

    def _drop_weather(self) -> None:
        if self._weather is None and self._thermostat.cloud_weather is None:
            return
        self._weather = None
        self._thermostat.cloud_weather = None
        self._thermostat.learning.set_outside_forecast(None)
        self._thermostat.notify_changes()

    # ------------------------------------------------------------ the loop

    async def run(self) -> None:
        """Every flow, when due, until cancelled."""
        while True:
            self._wake.clear()  # a change while the step runs wakes the next one at once
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("A cloud flow failed")
            await sleep_or_wake(self._clock, self._wake, TICK_S)

    async def step(self) -> None:
        """Run whichever flows are due now."""
        await self.refresh()
        if self._client is not None:
            now = self._clock.time()
            if self._pending and now >= self._deletions.due:
                await self.send_deletions()
            if now >= self._terms.due:
                await self._fetch_terms()
            city = (self._thermostat.location or "").strip() or None
            if now >= self._weather_flow.due or city != self._weather_city:
                await self._fetch_weather()
            if now >= self._statistics.due:
                await self._share_statistics()
        await self.refresh()

    def _failed(self, flow: str, state: _Flow, err: Exception) -> None:
        wait = state.failed(self._clock.time())
        if flow not in self._failing:  # once per outage
            self._failing.add(flow)
            _LOGGER.warning("Cloud %s failed, retrying in %.0f s and on: %s", flow, wait, err)

    def _succeeded(self, flow: str, state: _Flow, interval: float) -> None:
        state.succeeded(self._clock.time(), interval)
        if flow in self._failing:
            self._failing.discard(flow)
            _LOGGER.info("Cloud %s works again", flow)

    # ------------------------------------------------------------ terms

    async def _fetch_terms(self) -> None:
        client = self._client
        granted = [p for p in Purpose if (c := await self._db.consents.get(p)) and c.granted]
        if client is None or not granted:
            self._terms.succeeded(self._clock.time(), 0.0)  # asked as soon as one is granted
            return
        previous = self._gate.terms_version
        try:
            version = await client.ask_terms()  # tells the gate
        except CloudError as err:
            self._failed("terms", self._terms, err)
            return
        if version != previous:
            _LOGGER.info("The cloud's terms version is %s", clip(version))
        self._succeeded("terms", self._terms, TERMS_INTERVAL_S)

    # ------------------------------------------------------------ weather by city

    async def _fetch_weather(self) -> None:
        client = self._client
        city = (self._thermostat.location or "").strip()
        self._weather_city = city or None
        credential = await self._db.cloud.credential()
        if (
            client is None
            or not city
            or credential is None
            or not await self._gate.allowed(Purpose.WEATHER_BY_CITY)
        ):
            self._drop_weather()
            self._weather_flow.succeeded(self._clock.time(), 0.0)  # due as soon as it may
            return
        try:
            answer = _expect(
                await client.request(
                    "GET",
                    "/api/v1/weather",
                    purpose=Purpose.WEATHER_BY_CITY,
                    query={"city": city},
                    credential=credential,
                ),
                200,
                "the weather request",
            )
            value, icon, forecast = _weather(answer)
        except NotAllowed:
            self._drop_weather()
            return
        except CloudError as err:
            self._failed("weather", self._weather_flow, err)
            return
        now = self._clock.time()
        thermostat = self._thermostat
        thermostat.cloud_weather = SensorValue(value, datetime.fromtimestamp(now, UTC))
        thermostat.learning.set_outside_forecast(forecast)
        self._weather = CloudWeather(
            outside_temperature=value,
            outside_temperature_icon=icon,
            fetched=now,
            forecast_hours=0 if forecast is None else len(forecast.ts),
        )
        thermostat.notify_changes()
        self._succeeded("weather", self._weather_flow, WEATHER_INTERVAL_S)

    # ------------------------------------------------------------ statistics

    async def _share_statistics(self) -> None:
        client = self._client
        now = self._clock.time()
        day = (datetime.fromtimestamp(now, UTC) - timedelta(days=1)).date()
        credential = await self._db.cloud.credential()
        if (
            client is None
            or credential is None
            or not await self._gate.allowed(Purpose.STATISTICS)
            or await self._db.settings.get(STATISTICS_DAY) == day.isoformat()
        ):
            self._statistics.succeeded(now, 0.0)
            return
        aggregates = await self.day_aggregates(day.isoformat())
        if aggregates is None:  # nothing recorded that day: nothing to share
            await self._db.settings.set(STATISTICS_DAY, day.isoformat())
            return
        pseudonym = await self._db.settings.get(STATISTICS_PSEUDONYM)
        if pseudonym is None:
            pseudonym = secrets.token_urlsafe(16)  # 22 characters, random: no id of the bridge
            await self._db.settings.set(STATISTICS_PSEUDONYM, pseudonym)
        body = {"pseudonym": pseudonym, "day": day.isoformat(), **aggregates}
        try:
            _expect(
                await client.request(
                    "POST",
                    "/api/v1/statistics",
                    purpose=Purpose.STATISTICS,
                    json_body=body,
                    # no credential: the cloud must not tie the pseudonym to the bridge
                ),
                201,
                "the statistics",
            )
        except NotAllowed:
            return
        except CloudError as err:
            self._failed("statistics", self._statistics, err)
            return
        await self._db.settings.set(STATISTICS_DAY, day.isoformat())
        self._succeeded("statistics", self._statistics, 0.0)

    async def day_aggregates(self, day: str) -> dict[str, float] | None:
        """One UTC day's degree-days, mean modulation and burner hours from the recorded
        samples; None when the day has no outside temperature recorded."""
        start = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()
        end = start + 86_400.0
        measurements = self._db.measurements

        async def mean(key: str) -> float | None:
            values = [s.value for s in await measurements.samples(key, start, end)]
            return math.fsum(values) / len(values) if values else None

        outside = await mean("outside_temperature")
        if outside is None:
            return None
        burning = await mean("flame_on")
        if burning is None:
            burning = await mean("relay_on")
        return {
            "degree_days": round(max(0.0, DEGREE_DAY_BASE_C - outside), 2),
            "mean_modulation": round(min(100.0, max(0.0, await mean("modulation") or 0.0)), 1),
            "burner_hours": round(min(24.0, max(0.0, 24.0 * (burning or 0.0))), 2),
        }

    # ------------------------------------------------------------ deletions

    async def send_deletions(self) -> bool:
        """Send every deletion owed to the cloud, oldest first; True when none is left."""
        client = self._client
        for deletion in await self._db.cloud_deletions.pending():
            if client is None or str(client.base) != deletion.cloud_url.rstrip("/"):
                break  # kept until the bridge runs with that cloud again
            try:
                await self._delete(client, deletion)
            except CloudError as err:
                self._failed("deletion", self._deletions, err)
                break
            await self._db.cloud_deletions.done(deletion.id)
        else:
            self._succeeded("deletion", self._deletions, 0.0)
        await self.refresh()
        return not self._pending

    async def _delete(self, client: CloudClient, deletion: Deletion) -> None:
        requests: list[tuple[str, Purpose]] = []
        if deletion.pseudonym is not None:
            requests.append((f"/api/v1/statistics/{deletion.pseudonym}", Purpose.STATISTICS))
        if deletion.kind is DeletionKind.BRIDGE:
            requests.append((f"/api/v1/bridges/{deletion.bridge_id}", Purpose.CLOUD_SYNC))
        elif deletion.kind is DeletionKind.THERMOSTAT:
            requests.append(
                (f"/api/v1/bridges/{deletion.bridge_id}/thermostat", Purpose.CLOUD_SYNC)
            )
        elif deletion.kind is DeletionKind.SERVICE:
            requests.append(
                (f"/api/v1/bridges/{deletion.bridge_id}/service", Purpose.SERVICE_ACCESS)
            )
        for path, purpose in requests:
            # statistics are anonymous: the pseudonym alone names them, no credential
            credential = None if purpose is Purpose.STATISTICS else deletion.secret
            status, _ = await client.request(
                "DELETE", path, purpose=purpose, credential=credential, no_data=True
            )
            if status not in _DONE_STATUSES:
                raise CloudError(f"the cloud answered HTTP {status} to a deletion")
            if status in (401, 404):
                _LOGGER.info("The cloud held nothing more to delete at %s", path.split("/")[3])

    async def erase(self) -> CloudErase:
        """After a local erase of a linked bridge: erase the cloud's copy now if it can (the
        erase queued it); ``queued`` while it is still owed, else ``erased``."""
        self._deletions.due = 0.0
        with contextlib.suppress(CloudError):
            await self.send_deletions()
        pending = await self._db.cloud_deletions.pending()
        self._drop_weather()
        if any(d.kind is DeletionKind.BRIDGE for d in pending):
            return CloudErase.QUEUED
        return CloudErase.ERASED

    async def revoked(self, purpose: Purpose) -> None:
        """``purpose`` was just revoked: queue the deletion of its data in the cloud and wake
        the loop to send it (``weather_by_city``: the cloud keeps no city, and
        ``update_check`` sends nothing of the home: nothing to delete)."""
        if purpose is Purpose.STATISTICS:
            pseudonym = await self._db.settings.get(STATISTICS_PSEUDONYM)
            if pseudonym is not None and await self._db.cloud_deletions.queue(
                DeletionKind.STATISTICS, pseudonym
            ):
                # a new grant shares under a new pseudonym, unlinkable to the old one
                await self._db.settings.set(STATISTICS_PSEUDONYM, None)
        elif purpose is Purpose.CLOUD_SYNC:
            await self._db.cloud_deletions.queue(DeletionKind.THERMOSTAT)
        elif purpose is Purpose.SERVICE_ACCESS:
            await self._db.cloud_deletions.queue(DeletionKind.SERVICE)
        self._deletions.due = 0.0
        self._wake.set()


def _expect(answer: tuple[int, dict[str, Any] | None], status: int, what: str) -> dict[str, Any]:
    """The answer's JSON object if it has ``status``, else :class:`CloudError`."""
    got, data = answer
    if got != status:
        raise CloudError(f"the cloud answered HTTP {got} to {what}")
    return data or {}


def _text_of(answer: Mapping[str, Any], key: str) -> str:
    value = answer.get(key)
    if not _is_text(value):
        raise CloudError(f"the cloud's answer has no valid {key}")
    return str(value)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= _TEXT_MAX and value.isprintable()


def _aware(text: Any) -> datetime:
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError("a forecast time has no offset")
    return when


def _weather(answer: Mapping[str, Any]) -> tuple[float, str | None, OutsideForecast | None]:
    """The temperature, icon and forecast of a weather answer; CloudError if the temperature
    is missing or implausible (a bad forecast is left out, the temperature kept)."""
    value = answer.get("outside_temperature")
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not -60.0 <= value <= 60.0
    ):
        raise CloudError("the cloud's weather has no valid outside_temperature")
    icon = answer.get("outside_temperature_icon")
    forecast: OutsideForecast | None = None
    points = answer.get("forecast")
    if isinstance(points, list):
        try:
            forecast = OutsideForecast.of(
                [(_aware(p["at"]).timestamp(), p["outside_temperature"]) for p in points]
            )
        except (ValueError, TypeError, KeyError):
            _LOGGER.info("The cloud's weather forecast is not valid; using the temperature only")
    return float(value), icon if _is_text(icon) else None, forecast
