"""What the bridge knows about the boiler, as the OpenTherm master learned it.

:class:`BoilerState` keeps, per data-id, the last good value (raw 16-bit word
and decoded form, with its timestamp and a staleness mark), per-id counters
of the conversations and their failures, the data-ids the boiler does not
know, and three views derived from the values: the slave status flags (ID 0),
the faults (IDs 0, 5, 115) and the capabilities (IDs 3, 6, 15, 48, 49, 125,
127).

Change listeners get the set of changed keys, once per conversation and only
when something changed. The keys are:

* a data-id's ``key`` from :mod:`bridge.opentherm.ids` (``flow_temperature``,
  ``status`` ...), or ``id<N>`` for an id without a spec: its value or its
  staleness changed;
* ``slave_status``, ``faults``, ``capabilities``: the derived view changed;
* ``unknown_ids``: the set of data-ids the boiler does not know changed;
* ``connected``: the master's view of the link changed;
* ``targets``: the master's requested targets changed.

Counters change on every conversation and are not announced.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
import logging
from typing import Any

from bridge.core.listeners import Listeners
from bridge.core.payloads.boiler_names import FAULT_FLAGS
from bridge.opentherm.ids import DecodedValue, decode_value, get_spec

_LOGGER = logging.getLogger(__name__)

ChangeListener = Callable[[frozenset[str]], None]

#: Seconds over which :meth:`BoilerState.conversations_per_second` averages.
RATE_WINDOW = 10.0


def id_key(data_id: int) -> str:
    """The change key of a data-id: its spec key, or ``id<N>``."""
    spec = get_spec(data_id)
    return spec.key if spec is not None else f"id{data_id}"


@dataclass(slots=True)
class IdValue:
    """The last good answer for one data-id.

    ``updated`` is the clock's Unix time of that answer. ``stale`` is set
    when a later conversation for the id failed (DATA-INVALID,
    UNKNOWN-DATAID, no answer after the retries) or the link went down, and
    cleared by the next good answer.
    """

    data_id: int
    key: str
    raw: int
    value: DecodedValue
    updated: float
    stale: bool = False

    def age(self, now: float) -> float:
        """Seconds since the value was read."""
        return max(0.0, now - self.updated)


@dataclass(slots=True)
class IdCounters:
    """Conversation counts for one data-id (or, summed, for all)."""

    conversations: int = 0
    acks: int = 0
    invalid: int = 0
    unknown: int = 0
    timeouts: int = 0
    bad_frames: int = 0
    link_errors: int = 0

    def add(self, other: IdCounters) -> None:
        """Add ``other``'s counts to these."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True, slots=True)
class SlaveStatus:
    """The slave status flags of ID 0's low byte."""

    fault: bool
    ch_active: bool
    dhw_active: bool
    flame_on: bool
    cooling_active: bool
    ch2_active: bool
    diagnostic_event: bool
    electricity_production: bool

    @classmethod
    def from_byte(cls, lb: int) -> SlaveStatus:
        """Decode the low byte of an ID 0 READ-ACK."""
        return cls(*(bool(lb >> bit & 1) for bit in range(8)))


@dataclass(frozen=True, slots=True)
class Faults:
    """The boiler's fault information; None where the boiler never said.

    ``fault`` is ID 0's fault bit; the application-specific flags and the
    OEM fault code come from ID 5, the OEM diagnostic code from ID 115.
    """

    fault: bool | None = None
    service_request: bool | None = None
    remote_reset_enabled: bool | None = None
    low_water_pressure: bool | None = None
    gas_flame_fault: bool | None = None
    air_pressure_fault: bool | None = None
    water_over_temperature: bool | None = None
    oem_fault_code: int | None = None
    oem_diagnostic_code: int | None = None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the boiler said about itself; None where it did not (yet).

    Bounds are ``(lower, upper)`` in °C and only kept when they make sense
    (lower below upper, upper above 0), since some boilers answer 0/0.
    """

    dhw_present: bool | None = None
    on_off_control: bool | None = None
    cooling_supported: bool | None = None
    dhw_storage_tank: bool | None = None
    low_off_pump_control_not_allowed: bool | None = None
    ch2_present: bool | None = None
    slave_member_id: int | None = None
    dhw_setpoint_transfer: bool | None = None
    max_ch_setpoint_transfer: bool | None = None
    dhw_setpoint_rw: bool | None = None
    max_ch_setpoint_rw: bool | None = None
    max_capacity_kw: int | None = None
    min_modulation_pct: int | None = None
    dhw_setpoint_bounds: tuple[int, int] | None = None
    max_ch_setpoint_bounds: tuple[int, int] | None = None
    slave_ot_version: float | None = None
    slave_product_type: int | None = None
    slave_product_version: int | None = None


def _bounds(raw: int) -> tuple[int, int] | None:
    """An s8/s8 (upper, lower) word as (lower, upper), or None if it makes no sense."""
    upper, lower = (b - 0x100 if b & 0x80 else b for b in (raw >> 8, raw & 0xFF))
    if upper <= 0 or lower >= upper:
        return None
    return (lower, upper)


class BoilerState:
    """The master's model of the boiler."""

    def __init__(self) -> None:
        self.values: dict[int, IdValue] = {}
        self.counters: dict[int, IdCounters] = {}
        self.unknown_ids: dict[int, float] = {}
        """Data-ids answered with UNKNOWN-DATAID, with the time it was learned."""
        self.connected = False
        self.slave_status: SlaveStatus | None = None
        self.faults = Faults()
        self.capabilities = Capabilities()
        self._starts: deque[float] = deque()
        self._listeners: Listeners[[frozenset[str]]] = Listeners(
            _LOGGER, "boiler state listener failed"
        )
        self._changed: set[str] = set()

    # ------------------------------------------------------------ listeners

    def add_listener(self, listener: ChangeListener) -> Callable[[], None]:
        """Call ``listener(changed_keys)`` on every change; returns a remover."""
        return self._listeners.add(listener)

    def mark_changed(self, keys: Iterable[str]) -> None:
        """Add keys to the change set announced by the next :meth:`flush`."""
        self._changed.update(keys)

    def flush(self) -> frozenset[str]:
        """Announce the collected changes (if any) to the listeners."""
        if not self._changed:
            return frozenset()
        changed = frozenset(self._changed)
        self._changed.clear()
        self._listeners.notify(changed)
        return changed

    # ------------------------------------------------------------ reading

    def value(self, data_id: int) -> DecodedValue:
        """The last good decoded value of ``data_id`` (None if never read)."""
        entry = self.values.get(data_id)
        return None if entry is None else entry.value

    def number(self, data_id: int) -> float | None:
        """The last good value of a numeric data-id, or None."""
        value = self.value(data_id)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return None

    def raw_map(self) -> dict[str, str]:
        """The raw words as the API shows them: ``{"ot25": "0x2A80"}``, by id."""
        return {f"ot{i}": f"0x{self.values[i].raw:04X}" for i in sorted(self.values)}

    def counter(self, data_id: int) -> IdCounters:
        """The counters of one data-id (created on first use)."""
        counters = self.counters.get(data_id)
        if counters is None:
            counters = self.counters[data_id] = IdCounters()
        return counters

    def totals(self) -> IdCounters:
        """The counters summed over all data-ids."""
        total = IdCounters()
        for counters in self.counters.values():
            total.add(counters)
        return total

    def conversations_per_second(self, now: float) -> float:
        """Conversations started per second over the last ``RATE_WINDOW`` seconds."""
        self._trim(now)
        return len(self._starts) / RATE_WINDOW

    # ------------------------------------------------------------ updating

    def note_conversation(self, data_id: int, now: float) -> None:
        """Count a conversation for ``data_id`` started at ``now``."""
        self.counter(data_id).conversations += 1
        self._starts.append(now)
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._starts and self._starts[0] <= now - RATE_WINDOW:
            self._starts.popleft()

    def set_value(self, data_id: int, raw: int, now: float) -> None:
        """Store a good answer's data value (READ-ACK or WRITE-ACK)."""
        self.counter(data_id).acks += 1
        key = id_key(data_id)
        old = self.values.get(data_id)
        if old is None or old.raw != raw or old.stale:
            self._changed.add(key)
        self.values[data_id] = IdValue(data_id, key, raw, decode_value(data_id, raw), now)
        if self.unknown_ids.pop(data_id, None) is not None:
            self._changed.add("unknown_ids")
        self._derive(data_id)

    def mark_stale(self, data_id: int) -> None:
        """Keep ``data_id``'s last good value but mark it stale."""
        entry = self.values.get(data_id)
        if entry is not None and not entry.stale:
            entry.stale = True
            self._changed.add(entry.key)

    def mark_all_stale(self) -> None:
        """Mark every value stale (the link went down)."""
        for data_id in self.values:
            self.mark_stale(data_id)

    def learn_unknown(self, data_id: int, now: float) -> None:
        """Record that the boiler answered UNKNOWN-DATAID for ``data_id``."""
        self.counter(data_id).unknown += 1
        if data_id not in self.unknown_ids:
            self._changed.add("unknown_ids")
        self.unknown_ids[data_id] = now
        self.mark_stale(data_id)

    def note_invalid(self, data_id: int) -> None:
        """Record a DATA-INVALID answer: counted, last good value kept and marked stale."""
        self.counter(data_id).invalid += 1
        if self.unknown_ids.pop(data_id, None) is not None:
            self._changed.add("unknown_ids")
        self.mark_stale(data_id)

    def set_connected(self, connected: bool) -> None:
        """Record whether the link is up; a down link makes every value stale."""
        if connected != self.connected:
            self.connected = connected
            self._changed.add("connected")
        if not connected:
            self.mark_all_stale()

    # ------------------------------------------------------------ derived views

    def _derive(self, data_id: int) -> None:
        if data_id == 0:
            status = SlaveStatus.from_byte(self.values[0].raw & 0xFF)
            if status != self.slave_status:
                self.slave_status = status
                self._changed.add("slave_status")
        if data_id in {0, 5, 115}:
            faults = self._faults()
            if faults != self.faults:
                self.faults = faults
                self._changed.add("faults")
        if data_id in {3, 6, 15, 48, 49, 125, 127}:
            capabilities = self._capabilities()
            if capabilities != self.capabilities:
                self.capabilities = capabilities
                self._changed.add("capabilities")

    def _raw(self, data_id: int) -> int | None:
        entry = self.values.get(data_id)
        return None if entry is None else entry.raw

    def _faults(self) -> Faults:
        status = self._raw(0)
        asf = self._raw(5)
        flags: dict[str, Any] = {}
        if asf is not None:
            flags = {name: bool(asf >> (8 + bit) & 1) for bit, name in enumerate(FAULT_FLAGS)}
            flags["oem_fault_code"] = asf & 0xFF
        return Faults(
            fault=None if status is None else bool(status & 0x01),
            oem_diagnostic_code=self._raw(115),
            **flags,
        )

    def _capabilities(self) -> Capabilities:
        found: dict[str, Any] = {}
        config = self._raw(3)
        if config is not None:
            names = (
                "dhw_present",
                "on_off_control",
                "cooling_supported",
                "dhw_storage_tank",
                "low_off_pump_control_not_allowed",
                "ch2_present",
            )
            found.update({name: bool(config >> (8 + bit) & 1) for bit, name in enumerate(names)})
            found["slave_member_id"] = config & 0xFF
        params = self._raw(6)
        if params is not None:
            found["dhw_setpoint_transfer"] = bool(params & 0x0100)
            found["max_ch_setpoint_transfer"] = bool(params & 0x0200)
            found["dhw_setpoint_rw"] = bool(params & 0x0001)
            found["max_ch_setpoint_rw"] = bool(params & 0x0002)
        capacity = self._raw(15)
        if capacity is not None:
            found["max_capacity_kw"] = capacity >> 8
            found["min_modulation_pct"] = capacity & 0xFF
        dhw_bounds = self._raw(48)
        if dhw_bounds is not None:
            found["dhw_setpoint_bounds"] = _bounds(dhw_bounds)
        ch_bounds = self._raw(49)
        if ch_bounds is not None:
            found["max_ch_setpoint_bounds"] = _bounds(ch_bounds)
        version = self.number(125)
        if version is not None:
            found["slave_ot_version"] = version
        product = self._raw(127)
        if product is not None:
            found["slave_product_type"] = product >> 8
            found["slave_product_version"] = product & 0xFF
        return Capabilities(**found)

    # ------------------------------------------------------------ export


__all__ = [
    "RATE_WINDOW",
    "BoilerState",
    "Capabilities",
    "ChangeListener",
    "Faults",
    "IdCounters",
    "IdValue",
    "SlaveStatus",
    "id_key",
]
