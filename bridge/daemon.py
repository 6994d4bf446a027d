"""The daemon: wires the boiler link, the OpenTherm master, storage and the API.

Data flows one way, link -> master -> state -> storage/API; commands flow
back through the bridge object only.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta
import logging
import secrets
import signal
import ssl
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bridge import __version__
from bridge.admin import DB_FILE
from bridge.api.app import create_app
from bridge.api.context import API_VERSION
from bridge.api.hosts import HostPolicy
from bridge.api.server import serve
from bridge.api.unit import create_unit_app
from bridge.config import read_public_key_file
from bridge.core.clock import Clock, SystemClock
from bridge.core.release_key import RELEASE_PUBLIC_KEY
from bridge.opentherm.links.factory import BoilerUrlError, make_link
from bridge.opentherm.links.sim import SimLink
from bridge.opentherm.links.unit import SCHEME as UNIT_SCHEME, UnitLink
from bridge.opentherm.master import OpenThermMaster
from bridge.opentherm.sim.scaled_clock import ScaledClock
from bridge.services.access import AccessService
from bridge.services.cloud_client import CloudClient, CloudGate, cloud_ssl_context
from bridge.services.cloud_data import CloudDataService
from bridge.services.cloud_link import CloudLinkService
from bridge.services.cloud_sync import CloudSyncService
from bridge.services.diagnostics import DiagnosticsService
from bridge.services.discovery import Announcer, lan_addresses, own_names
from bridge.services.history import HistoryService
from bridge.services.privacy import PrivacyService
from bridge.services.service_share import ServiceShare
from bridge.services.settings import SettingsService
from bridge.services.state import NativeStateService
from bridge.services.thermostat import ThermostatService
from bridge.services.unit import UnitService
from bridge.services.update_check import UpdateCheckService
from bridge.services.webhook_delivery import WebhookDispatcher
from bridge.services.webhook_destinations import OwnApi
from bridge.storage import BRIDGE_ID, Database, Retention
from bridge.storage.settings import NAME

if TYPE_CHECKING:
    from bridge.config import BridgeConfig
    from bridge.opentherm.links.base import BoilerLink

_LOGGER = logging.getLogger(__name__)

SIMULATED_SPEED_LINKS = ("sim:", f"{UNIT_SCHEME}:")
"""Links whose counterpart may be simulated faster than real time (``sim_speed``): the
simulated boiler, and the wall unit of ``sim-unit --speed``."""


def _new_bridge_id() -> str | None:
    # random, never derived from hardware: it is announced on the LAN
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class _Services:
    """The services the API uses besides the thermostat and the webhooks."""

    settings: SettingsService
    access: AccessService
    privacy: PrivacyService
    history: HistoryService
    diagnostics: DiagnosticsService
    state: NativeStateService

    @classmethod
    def build(
        cls,
        db: Database,
        clock: Clock,
        link: BoilerLink,
        thermostat: ThermostatService,
        units: UnitService | None,
        *,
        gate: CloudGate,
        cloud_link: CloudLinkService,
        cloud: CloudDataService,
        bridge_id: str,
        update: UpdateCheckService | None,
        cloud_sync: CloudSyncService | None,
    ) -> _Services:
        privacy = PrivacyService(db, thermostat, gate, cloud_link, cloud)
        return cls(
            settings=SettingsService(db, thermostat),
            access=AccessService(db, clock, thermostat),
            privacy=privacy,
            history=HistoryService(db),
            diagnostics=DiagnosticsService(db, clock, link, thermostat, api_version=API_VERSION),
            state=NativeStateService(
                bridge_id=bridge_id,
                api_version=API_VERSION,
                link=link,
                thermostat=thermostat,
                privacy=privacy,
                units=units,
                update=update,
                cloud=cloud,
                cloud_sync=None if cloud_sync is None else cloud_sync.view,
            ),
        )


class Bridge:
    """One running thermostat: its database, boiler link, master and API server."""

    def __init__(
        self,
        config: BridgeConfig,
        clock: Clock | None = None,
        *,
        link: BoilerLink | None = None,
    ) -> None:
        self.config = config
        if clock is None:
            clock = SystemClock()
            if config.boiler.startswith(SIMULATED_SPEED_LINKS) and config.sim_speed != 1.0:
                clock = ScaledClock(clock, config.sim_speed)
        self.clock: Clock = clock
        self._link = link
        self._db: Database | None = None
        self._master: OpenThermMaster | None = None
        self._thermostat: ThermostatService | None = None
        self._webhooks: WebhookDispatcher | None = None
        self._services: _Services | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._runner: web.AppRunner | None = None
        self._unit_runner: web.AppRunner | None = None
        self._units: UnitService | None = None
        self.unit_port: int | None = None
        """The port the wall units are answered on (with a ``thermosmart-unit://`` link)."""
        self._announcer: Announcer | None = None
        self.cloud_gate: CloudGate | None = None
        """Whether each consent purpose may send to the cloud now (once started)."""
        self.cloud: CloudClient | None = None
        """The client for the configured cloud (None without ``cloud_url``)."""
        self.service_share: ServiceShare | None = None
        """Shares technical facts with the cloud under ``service_access`` (with ``cloud_url``)."""
        self.update_check: UpdateCheckService | None = None
        """The signed update check (None without ``cloud_url``)."""
        self._cloud_link: CloudLinkService | None = None
        self.cloud_data: CloudDataService | None = None
        """Terms, weather by city, statistics and the deletions owed to the cloud."""
        self.cloud_sync: CloudSyncService | None = None
        """The sync connection to the configured cloud (None without ``cloud_url``)."""
        self.bridge_id = ""
        self._name = ""
        self.port = config.port
        self.host_policy = HostPolicy(configured=config.allowed_hosts)
        """The Host names the API answers to (complete once started)."""

    @property
    def db(self) -> Database:
        """The open database."""
        if self._db is None:
            raise RuntimeError("the bridge is not started")
        return self._db

    @property
    def name(self) -> str:
        """The bridge's name: the thermostat's, as it is now."""
        return self._thermostat.name if self._thermostat is not None else self._name

    @property
    def thermostat(self) -> ThermostatService:
        """The thermostat service."""
        if self._thermostat is None:
            raise RuntimeError("the bridge is not started")
        return self._thermostat

    @property
    def webhooks(self) -> WebhookDispatcher:
        """The webhook delivery worker."""
        if self._webhooks is None:
            raise RuntimeError("the bridge is not started")
        return self._webhooks

    @property
    def link(self) -> BoilerLink:
        """The boiler link."""
        if self._link is None:
            raise RuntimeError("the bridge is not started")
        return self._link

    def _started(self) -> _Services:
        if self._services is None:
            raise RuntimeError("the bridge is not started")
        return self._services

    @property
    def settings(self) -> SettingsService:
        """The owner's settings (name, city, e-mail)."""
        return self._started().settings

    @property
    def access(self) -> AccessService:
        """Tokens, pairing, the owner's login and OAuth2 grants."""
        return self._started().access

    @property
    def privacy(self) -> PrivacyService:
        """Consents, the egress log, export and erase."""
        return self._started().privacy

    @property
    def history(self) -> HistoryService:
        """Recorded series and the event log."""
        return self._started().history

    @property
    def cloud_link(self) -> CloudLinkService:
        """Linking to an owner's cloud account in the background."""
        if self._cloud_link is None:
            raise RuntimeError("the bridge is not started")
        return self._cloud_link

    @property
    def diagnostics(self) -> DiagnosticsService:
        """Counters, versions and recent faults."""
        return self._started().diagnostics

    async def start(self) -> None:
        """Open storage, connect the boiler, serve the API and announce it."""
        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        retention = Retention(
            raw_samples=timedelta(days=cfg.retention.get("raw_days", 90)),
            hourly_aggregates=timedelta(days=cfg.retention.get("hourly_days", 730)),
            events=timedelta(days=cfg.retention.get("events_days", 365)),
            egress_log=timedelta(days=cfg.retention.get("egress_days", 365)),
        )
        self._db = await Database.open(cfg.data_dir / DB_FILE, self.clock, retention=retention)
        bridge_id: str | None = await self.db.settings.get_or_create(BRIDGE_ID, _new_bridge_id)
        self.bridge_id = bridge_id or ""
        self._name = await self.db.settings.get(NAME)

        if self._link is None:
            self._link = make_link(
                cfg.boiler, self.clock, modbus_profiles=cfg.modbus_profiles, sim=cfg.sim
            )
        await self.link.start()
        if isinstance(self.link, SimLink):
            self._spawn(self.link.world.run(self.clock), "sim-world")
        if self.link.opentherm and not isinstance(self.link, UnitLink):
            # a wall unit is the boiler's master itself: the bridge only listens
            self._master = OpenThermMaster(self.link, self.clock)
            self._spawn(self._master.run(), "opentherm-master")
        self._thermostat = ThermostatService(
            self.db, self.clock, self.link, self._master, timezone=cfg.timezone
        )
        await self._thermostat.load()
        boiler = self._thermostat.boiler_state()
        if boiler is not None:
            boiler.add_listener(self._boiler_changed)
        self._spawn(self._thermostat.run(), "thermostat")
        self._spawn(self.db.maintain(), "storage-maintenance")
        self._webhooks = WebhookDispatcher(self.db, self.clock, self._thermostat)
        await self._webhooks.start()
        if isinstance(self.link, UnitLink):
            self._units = UnitService(self.db, self.clock, self._thermostat, self.link)
            await self._units.load()
            self._spawn(self._units.run(), "wall-units")
        self.cloud_gate = CloudGate(self.db)
        if cfg.cloud_url is not None:
            self.cloud = CloudClient(
                self.db,
                self.cloud_gate,
                cfg.cloud_url,
                ssl_context=cloud_ssl_context(cfg.cloud_ca_file),
            )
            trusted = (
                RELEASE_PUBLIC_KEY
                if cfg.update_public_key_file is None
                else read_public_key_file(cfg.update_public_key_file)
            )
            self.update_check = UpdateCheckService(
                self.db,
                self.clock,
                self.cloud,
                trusted,
                changed=self._thermostat.notify_state,
            )
            self.cloud_sync = CloudSyncService(
                self.db,
                self.clock,
                self.cloud,
                self._thermostat,
                retention_days=self.db.retention.raw_samples.days,
                on_change=self._thermostat.notify_state,
            )
            self._spawn(self.cloud_sync.run(), "cloud-sync")
        self._cloud_link = CloudLinkService(self.db, self.cloud, on_change=self.cloud_gate.changed)
        self.cloud_data = CloudDataService(
            self.db, self.clock, self.cloud_gate, self.cloud, self._thermostat
        )
        await self.cloud_data.load()
        self._spawn(self.cloud_data.run(), "cloud-data")
        self._services = _Services.build(
            self.db,
            self.clock,
            self.link,
            self._thermostat,
            self._units,
            gate=self.cloud_gate,
            cloud_link=self._cloud_link,
            cloud=self.cloud_data,
            bridge_id=self.bridge_id,
            update=self.update_check,
            cloud_sync=self.cloud_sync,
        )
        if self.cloud is not None:
            self.service_share = ServiceShare(
                self.db, self.clock, self.cloud, self._services.diagnostics
            )
            self._spawn(self.service_share.run(), "service-share")
        if self.update_check is not None:
            await self.update_check.start()

        self.host_policy = HostPolicy(own_names(cfg.host, self.bridge_id), cfg.allowed_hosts)
        ssl_ctx = None
        if cfg.tls_cert and cfg.tls_key:
            ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
        self._runner = await serve(
            create_app(self, self.host_policy), cfg.host, cfg.port, ssl_context=ssl_ctx
        )
        if self._runner.addresses:
            self.port = int(self._runner.addresses[0][1])
        own_addresses = await asyncio.to_thread(lan_addresses, cfg.host)
        self.webhooks.own_api = OwnApi(self.port, frozenset(own_addresses))
        _LOGGER.info(
            "ThermoSmart Local bridge %s listening on %s:%s", __version__, cfg.host, self.port
        )
        if self._units is not None and isinstance(self.link, UnitLink):
            await self._serve_units(self._units, self.link)

        if cfg.zeroconf:
            self._announcer = Announcer(
                bridge_id=self.bridge_id,
                name=self.name,
                port=self.port,
                api_version=API_VERSION,
                version=__version__,
                addresses=cfg.zeroconf_interfaces or lan_addresses(cfg.host),
                interfaces=cfg.zeroconf_interfaces,
            )
            await self._announcer.start()

    async def _serve_units(self, units: UnitService, link: UnitLink) -> None:
        """Answer the wall units on the unit link's address."""
        self._unit_runner = await serve(create_unit_app(units, self.clock), link.host, link.port)
        if self._unit_runner.addresses:
            self.unit_port = int(self._unit_runner.addresses[0][1])
        _LOGGER.info("Answering ThermoSmart wall units on %s:%s", link.host, self.unit_port)

    def _boiler_changed(self, _keys: frozenset[str]) -> None:
        if self._thermostat is not None:
            self._thermostat.notify_changes()

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    @staticmethod
    def _task_done(task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("Task %s stopped", task.get_name(), exc_info=task.exception())

    async def stop(self) -> None:
        """Stop serving, hand the boiler back safely and close the database."""
        if self._announcer is not None:
            await self._announcer.stop()
            self._announcer = None
        if self._unit_runner is not None:
            await self._unit_runner.cleanup()
            self._unit_runner = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._webhooks is not None:
            await self._webhooks.stop()
            self._webhooks = None
        if self.update_check is not None:
            await self.update_check.stop()
            self.update_check = None
        for task in self._tasks:
            if task.get_name() == "thermostat":
                task.cancel()  # no new commands while the boiler is handed back
        if self._master is not None:
            try:
                await asyncio.wait_for(self._master.stop(hand_back=True), timeout=5)
            except TimeoutError:
                _LOGGER.warning("The boiler could not be handed back within 5 s")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._thermostat is not None and self._db is not None:
            await self._thermostat.close()  # saves what it learned
        if self._link is not None:
            await self._link.stop()
        if self._cloud_link is not None:
            await self._cloud_link.cancel()
        self.cloud_sync = None
        if self.cloud is not None:
            await self.cloud.close()
            self.cloud = None
        if self._db is not None:
            await self._db.close()
            self._db = None

    def native_state(self) -> dict[str, Any]:
        """Everything the native API shows about the bridge and the boiler."""
        return self._started().state.native_state()


async def _serve(config: BridgeConfig) -> int:
    bridge = Bridge(config)
    try:
        await bridge.start()
    except BoilerUrlError as err:
        _LOGGER.error("Invalid boiler URL: %s", err)  # noqa: TRY400
        await bridge.stop()
        return 2
    except OSError as err:
        _LOGGER.error("Cannot start: %s", err)  # noqa: TRY400 - no traceback for a busy port
        await bridge.stop()
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    _LOGGER.info("Stopping: handing the boiler back")
    await bridge.stop()
    return 0


def run_daemon(config: BridgeConfig) -> int:
    """Run the bridge until SIGTERM or SIGINT; returns the exit status."""
    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    return asyncio.run(_serve(config))
