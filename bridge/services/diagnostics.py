"""Diagnostics: counters, versions, recent faults and storage facts, with no personal data.

:meth:`DiagnosticsService.report` answers with the :class:`Diagnostics` payload model;
the API passes what only it knows (its uptime and the push channel's figures).
"""

from __future__ import annotations

from dataclasses import asdict
import platform
import sqlite3
from typing import TYPE_CHECKING

import aiohttp

from bridge import __version__
from bridge.core.payloads import native as n
from bridge.core.payloads.history import Event, EventKind
from bridge.opentherm.ids import get_spec
from bridge.services.state import capabilities_view, faults_view, id_counters, link_counters

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.opentherm.links.base import BoilerLink
    from bridge.opentherm.master import OpenThermMaster
    from bridge.services.thermostat import ThermostatService
    from bridge.storage import Database

RECENT_FAULT_KINDS = (EventKind.BOILER_FAULT, EventKind.SOFTWARE_ERROR, EventKind.LINK)
"""Event kinds the diagnostics list as recent faults."""
RECENT_FAULTS = 20


def _per_id(master: OpenThermMaster, now: float) -> list[n.IdDiagnostics]:
    state = master.state
    rows = []
    for data_id in sorted(set(state.counters) | set(state.values)):
        spec = get_spec(data_id)
        entry = state.values.get(data_id)
        rows.append(
            n.IdDiagnostics(
                id=data_id,
                key=spec.key if spec is not None else f"id{data_id}",
                name=spec.name if spec is not None else None,
                raw=None if entry is None else f"0x{entry.raw:04X}",
                stale=None if entry is None else entry.stale,
                age_s=None if entry is None else round(entry.age(now), 3),
                **asdict(state.counter(data_id)),
            )
        )
    return rows


def _opentherm_diagnostics(master: OpenThermMaster, now: float) -> n.MasterDiagnostics:
    state = master.state
    return n.MasterDiagnostics(
        connected=state.connected,
        cycles=master.cycles,
        sessions=master.sessions,
        conversations_per_second=state.conversations_per_second(now),
        totals=id_counters(state.totals()),
        per_id=_per_id(master, now),
        unknown_ids=[
            n.UnknownId(
                id=data_id,
                name=spec.name if (spec := get_spec(data_id)) is not None else None,
                since=since,
            )
            for data_id, since in sorted(state.unknown_ids.items())
        ],
    )


class DiagnosticsService:
    """The bridge's diagnostics as their payload model."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        link: BoilerLink,
        thermostat: ThermostatService,
        *,
        api_version: int,
    ) -> None:
        self._db = db
        self._clock = clock
        self._link = link
        self._thermostat = thermostat
        self._api_version = api_version

    async def report(self, *, uptime_s: float, push: n.PushStats | None) -> n.Diagnostics:
        """The diagnostics, with what only the API knows: its uptime and the push
        channel's figures."""
        now = self._clock.time()
        link = self._link
        master = self._thermostat.master
        boiler = self._thermostat.boiler_state()
        db = self._db
        recent = await db.events.query(kinds=RECENT_FAULT_KINDS, limit=RECENT_FAULTS)
        retention = db.retention
        return n.Diagnostics(
            versions=n.Versions(
                bridge=__version__,
                api=self._api_version,
                python=platform.python_version(),
                aiohttp=aiohttp.__version__,
                sqlite=sqlite3.sqlite_version,
                schema=db.schema_version,
            ),
            uptime_s=uptime_s,
            link=n.LinkDiagnostics(
                kind=link.kind,
                opentherm=link.opentherm,
                state=str(link.state),
                counters=link_counters(link),
            ),
            opentherm=None if master is None else _opentherm_diagnostics(master, now),
            faults=None if boiler is None else faults_view(boiler),
            capabilities=None if boiler is None else capabilities_view(boiler),
            recent_faults=[Event(**e.as_dict()) for e in recent],
            storage=n.StorageInfo(
                schema_version=db.schema_version,
                retention_days=n.RetentionDays(
                    raw_samples=retention.raw_samples.days,
                    hourly_aggregates=retention.hourly_aggregates.days,
                    events=retention.events.days,
                    egress_log=retention.egress_log.days,
                ),
            ),
            push=push,
        )
