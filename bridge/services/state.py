"""The native state: everything the native API shows about the bridge and the boiler.

``GET /api/v1/state`` and the push channel serve :meth:`NativeStateService.native_state`;
the decoded capabilities, faults and counters are built here too (the
diagnostics reuse them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import math
from typing import TYPE_CHECKING, Any

from bridge import __version__
from bridge.core.contract import render
from bridge.core.payloads import boiler as b
from bridge.core.payloads.boiler_names import BOILER_COUNTER_IDS, FAULT_FLAGS
from bridge.core.payloads.native import (
    BridgeInfo,
    CloudState,
    CloudSync,
    Energy,
    LinkInfo,
    NativeState,
)
from bridge.core.payloads.options import Options
from bridge.opentherm.master_schedule import Targets

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.core.clock import Clock
    from bridge.opentherm.boiler_state import BoilerState
    from bridge.opentherm.ids import DecodedValue
    from bridge.opentherm.links.base import BoilerLink
    from bridge.opentherm.master import OpenThermMaster
    from bridge.services.cloud_data import CloudDataService
    from bridge.services.privacy import PrivacyService
    from bridge.services.thermostat import ThermostatService
    from bridge.services.unit import UnitService
    from bridge.services.update_check import UpdateCheckService


_NO_CLOUD = CloudState(
    linked=False, terms_version=None, paused=[], erase_pending=False, weather=None
)


def _bounds(pair: tuple[int, int] | None) -> b.Bounds | None:
    return None if pair is None else b.Bounds(min=pair[0], max=pair[1])


def _writable(transfer: bool | None, rw: bool | None) -> bool | None:
    if transfer is None or rw is None:
        return None
    return transfer and rw


def capabilities_view(state: BoilerState) -> b.Capabilities:
    """What the boiler said about itself (IDs 3, 6, 15, 48, 49, 125, 127), decoded."""
    caps = state.capabilities
    known = any(state.values.get(i) is not None for i in (3, 6, 15, 48, 49, 125, 127))
    return b.Capabilities(
        known=known,
        dhw=b.DhwCapabilities(
            present=caps.dhw_present,
            storage_tank=caps.dhw_storage_tank,
            setpoint_bounds=_bounds(caps.dhw_setpoint_bounds),
            setpoint_writable=_writable(caps.dhw_setpoint_transfer, caps.dhw_setpoint_rw),
        ),
        ch=b.ChCapabilities(
            max_setpoint_bounds=_bounds(caps.max_ch_setpoint_bounds),
            max_setpoint_writable=_writable(caps.max_ch_setpoint_transfer, caps.max_ch_setpoint_rw),
            ch2_present=caps.ch2_present,
            low_off_pump_control_not_allowed=caps.low_off_pump_control_not_allowed,
        ),
        cooling_supported=caps.cooling_supported,
        on_off_control=caps.on_off_control,
        max_capacity_kw=caps.max_capacity_kw,
        min_modulation_pct=caps.min_modulation_pct,
        opentherm_version=caps.slave_ot_version,
        product=b.ProductVersion(
            member_id=caps.slave_member_id,
            type=caps.slave_product_type,
            version=caps.slave_product_version,
        ),
        unsupported_ids=sorted(state.unknown_ids),
    )


def faults_view(state: BoilerState) -> b.Faults:
    """ID 0's fault bit, ID 5's flags and OEM fault code, ID 115's OEM diagnostic code."""
    faults = state.faults
    flags: dict[str, bool | None] = {name: getattr(faults, name) for name in FAULT_FLAGS}
    status = state.slave_status
    active = ["fault"] if faults.fault else []
    active += [name for name, on in flags.items() if on]
    return b.Faults(
        fault=faults.fault,
        diagnostic_event=None if status is None else status.diagnostic_event,
        flags=flags,
        oem_fault_code=faults.oem_fault_code,
        oem_diagnostic_code=faults.oem_diagnostic_code,
        active=active,
    )


def _boiler_counters(state: BoilerState) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for name, data_id in BOILER_COUNTER_IDS.items():
        value = state.number(data_id)
        out[name] = None if value is None else int(value)
    return out


def link_counters(link: BoilerLink) -> b.LinkCounters:
    """What the boiler link counts, as its payload model."""
    return b.LinkCounters(**asdict(link.counters))


def id_counters(counters: Any) -> b.IdCounters:
    """OpenTherm conversation counts (a master's counter dataclass) as their payload model."""
    return b.IdCounters(**asdict(counters))


def _finite(value: DecodedValue) -> DecodedValue:
    """A decoded value, with a non-finite number (no JSON for it) as None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _targets(targets: Targets) -> b.BoilerTargets:
    return b.BoilerTargets(**asdict(targets))


def reported_targets(state: BoilerState) -> b.BoilerTargets:
    """What another master (a wall unit) asks of the boiler, as it reports it:
    ID 0's master status (CH and hot water on), ID 1's control setpoint and
    ID 56's hot-water setpoint."""
    status = state.values.get(0)
    master_status = None if status is None else status.raw >> 8
    setpoint = state.number(1)
    return b.BoilerTargets(
        ch_enable=bool(master_status is not None and master_status & 1),
        control_setpoint=Targets().control_setpoint if setpoint is None else setpoint,
        max_modulation=None,
        dhw_enable=None if master_status is None else bool(master_status & 2),
        dhw_setpoint=state.number(56),
        max_ch_setpoint=None,
    )


def boiler_snapshot(
    state: BoilerState, link: BoilerLink, clock: Clock, master: OpenThermMaster | None
) -> b.BoilerSnapshot:
    """The whole model of the boiler: values, raw words, status, faults,
    capabilities, counters, the link and the targets (the bridge's own
    master's, or what a wall unit reports it asks for)."""
    if master is not None:
        targets = _targets(master.targets)
        effective = _targets(master.effective_targets())
    else:
        targets = effective = reported_targets(state)
    return b.BoilerSnapshot(
        connected=state.connected,
        values={
            entry.key: b.BoilerValue(
                id=entry.data_id,
                value=_finite(entry.value),
                raw=f"0x{entry.raw:04X}",
                updated=entry.updated,
                stale=entry.stale,
            )
            for _, entry in sorted(state.values.items())
        },
        raw=state.raw_map(),
        slave_status=None if state.slave_status is None else asdict(state.slave_status),
        faults=asdict(state.faults),
        capabilities=asdict(state.capabilities),
        unknown_ids=sorted(state.unknown_ids),
        counters=b.MasterCounters(
            total=id_counters(state.totals()),
            per_id={str(i): id_counters(c) for i, c in sorted(state.counters.items())},
            conversations_per_second=state.conversations_per_second(clock.time()),
        ),
        link=b.BoilerLinkState(kind=link.kind, state=str(link.state)),
        targets=targets,
        effective_targets=effective,
    )


def boiler_parts(state: BoilerState | None, link: BoilerLink) -> BoilerParts:
    """The ``capabilities``, ``faults`` and ``counters`` parts of the native state.

    ``capabilities`` and ``faults`` are null, and ``counters.boiler`` and
    ``counters.opentherm`` are null, for a boiler without OpenTherm.
    """
    if state is None:
        counters = b.Counters(boiler=None, opentherm=None, link=link_counters(link))
        return BoilerParts(None, None, counters)
    counters = b.Counters(
        boiler=_boiler_counters(state),
        opentherm=id_counters(state.totals()),
        link=link_counters(link),
    )
    return BoilerParts(capabilities_view(state), faults_view(state), counters)


@dataclass(frozen=True, slots=True)
class BoilerParts:
    """What the native state shows of the boiler besides its snapshot."""

    capabilities: b.Capabilities | None
    faults: b.Faults | None
    counters: b.Counters


class NativeStateService:
    """Builds the native state from the thermostat, its boiler and the link."""

    def __init__(
        self,
        *,
        bridge_id: str,
        api_version: int,
        link: BoilerLink,
        thermostat: ThermostatService,
        privacy: PrivacyService,
        units: UnitService | None = None,
        update: UpdateCheckService | None = None,
        cloud: CloudDataService | None = None,
        cloud_sync: Callable[[], CloudSync] | None = None,
    ) -> None:
        self._bridge_id = bridge_id
        self._privacy = privacy
        self._cloud = cloud
        self._cloud_sync = cloud_sync
        self._api_version = api_version
        self._link = link
        self._thermostat = thermostat
        self._units = units
        self._update = update

    def native_model(self) -> NativeState:
        """Everything the native API shows about the bridge and the boiler."""
        link = self._link
        thermostat = self._thermostat
        boiler = thermostat.boiler_state()
        extras = boiler_parts(boiler, link)
        energy = thermostat.energy_view()
        return NativeState(
            bridge=BridgeInfo(
                bridge_id=self._bridge_id,
                name=thermostat.name,
                version=__version__,
                api_version=self._api_version,
            ),
            link=LinkInfo(kind=link.kind, opentherm=link.opentherm, state=str(link.state)),
            thermostat=thermostat.native_model(),
            boiler=None
            if boiler is None
            else boiler_snapshot(boiler, link, thermostat.clock, thermostat.master),
            capabilities=extras.capabilities,
            faults=extras.faults,
            counters=extras.counters,
            predictions=thermostat.predictions_model(),
            options=Options(**thermostat.options()),
            energy=None if energy is None else Energy(**energy),
            units=None if self._units is None else self._units.units(),
            update=None if self._update is None else self._update.view(),
            privacy=self._privacy.state_model(),
            cloud=_NO_CLOUD if self._cloud is None else self._cloud.model(),
            cloud_sync=None if self._cloud_sync is None else self._cloud_sync(),
        )

    def native_state(self) -> dict[str, Any]:
        """:meth:`native_model` as JSON (``GET /api/v1/state`` and the push channel)."""
        out: dict[str, Any] = render(self.native_model())
        return out
