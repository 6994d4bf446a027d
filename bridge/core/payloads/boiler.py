"""The boiler: the master's snapshot, capabilities, faults and counters."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from bridge.core.contract import Keywords, model, spec
from bridge.core.payloads.boiler_names import BOILER_COUNTER_IDS, FAULT_FLAGS
from bridge.core.payloads.common import Timestamp

FaultFlag = Annotated[str, Keywords(enum=list(FAULT_FLAGS))]
BoilerCounterName = Annotated[str, Keywords(enum=list(BOILER_COUNTER_IDS))]


@model
class IdCounters:
    """OpenTherm conversation counts (per data-id, or summed)."""

    conversations: int
    acks: int
    invalid: int
    unknown: int
    timeouts: int
    bad_frames: int
    link_errors: int


@model
class LinkCounters:
    """What the boiler link counts."""

    requests: int
    answers: int
    timeouts: int
    bad_frames: int
    garbage_lines: int
    adapter_errors: int
    reconnects: int
    extra: dict[str, int]


@model
class BoilerTargets:
    OPEN: ClassVar = True

    ch_enable: bool
    control_setpoint: float
    max_modulation: float | None
    dhw_enable: bool | None
    dhw_setpoint: float | None
    max_ch_setpoint: float | None


@model
class BoilerValue:
    OPEN: ClassVar = True

    id: int
    value: Any = spec(description="decoded per the id's format (number, flags object, pair, null)")
    raw: str = spec(pattern="^0x[0-9A-F]{4}$")
    updated: Timestamp
    stale: bool


@model
class MasterCounters:
    OPEN: ClassVar = True

    total: IdCounters
    per_id: dict[str, IdCounters]
    conversations_per_second: float


@model
class BoilerLinkState:
    OPEN: ClassVar = True

    kind: str
    state: str


@model
class BoilerSnapshot:
    """The OpenTherm master's whole model of the boiler."""

    OPEN: ClassVar = True

    connected: bool
    values: dict[str, BoilerValue] = spec(
        description="last good value per data-id, by its key (flow_temperature, …)"
    )
    raw: dict[str, str]
    slave_status: dict[str, bool] | None
    faults: dict[str, Any]
    capabilities: dict[str, Any]
    unknown_ids: list[int]
    counters: MasterCounters
    link: BoilerLinkState
    targets: BoilerTargets
    effective_targets: BoilerTargets


@model
class Bounds:
    min: int
    max: int


@model
class DhwCapabilities:
    present: bool | None
    storage_tank: bool | None
    setpoint_bounds: Bounds | None
    setpoint_writable: bool | None


@model
class ChCapabilities:
    max_setpoint_bounds: Bounds | None
    max_setpoint_writable: bool | None
    ch2_present: bool | None
    low_off_pump_control_not_allowed: bool | None


@model
class ProductVersion:
    member_id: int | None
    type: int | None
    version: int | None


@model
class Capabilities:
    """Boiler capabilities from IDs 3, 6, 15, 48, 49, 125 and 127; null where the boiler
    did not say."""

    known: bool = spec(description="the boiler answered any capability id")
    dhw: DhwCapabilities
    ch: ChCapabilities
    cooling_supported: bool | None
    on_off_control: bool | None
    max_capacity_kw: int | None
    min_modulation_pct: int | None
    opentherm_version: float | None
    product: ProductVersion
    unsupported_ids: list[int] = spec(description="ids answered UNKNOWN-DATAID")


@model
class Faults:
    fault: bool | None = spec(description="ID 0 fault bit")
    diagnostic_event: bool | None = spec(description="ID 0 bit 6")
    flags: dict[FaultFlag, bool | None] = spec(description="ID 5 application-specific fault flags")
    oem_fault_code: int | None = spec(description="ID 5 low byte")
    oem_diagnostic_code: int | None = spec(description="ID 115")
    active: list[str] = spec(description="names of the faults and flags that are on")


@model
class Counters:
    boiler: (
        Annotated[
            dict[BoilerCounterName, int | None],
            Keywords(description="IDs 116-123; null where the boiler does not have them"),
        ]
        | None
    )
    opentherm: IdCounters | None
    link: LinkCounters
