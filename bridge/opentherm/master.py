"""The OpenTherm master: the bridge's side of the conversation with the boiler.

:class:`OpenThermMaster` talks to the boiler over any OpenTherm
:class:`~bridge.opentherm.links.base.BoilerLink` and keeps a
:class:`~bridge.opentherm.boiler_state.BoilerState`.

Cycle (every ``cycle_interval``, 1 s by default; OpenTherm allows at most
1.15 s between conversations): ID 0 (READ-DATA, the master status flags CH
enable and DHW enable in the high byte; the answer's low byte holds the slave
status flags), ID 1 (WRITE-DATA, the control setpoint), then one other
conversation, and more while they fit in the cycle (judged by the recent
answer times), at most ``max_conversations_per_cycle`` in all. Every
conversation starts at least ``min_gap`` (100 ms) after the end of the
previous one, so a slow boiler or adapter stretches the cycle (three
conversations of 300 ms make a 1.2 s cycle) but never the time between
conversations. All waiting is done on the injected :class:`~bridge.core.clock.Clock`.

The other conversations, in this order of precedence:

1. a conversation that got no answer or a bad one (timeout, bad frame) is
   retried at the next slot, up to ``max_retries`` times (a link error while
   the link is up, such as a write an OTGW has no command for, is not);
2. after a (re)connect, the capability reads (IDs 3, 49, 48, 6, 15, 125,
   127) and the master's introductions (WRITE-DATA 2 master configuration,
   124 master OpenTherm version, 126 master product version);
3. writes of targets that changed (57 max CH setpoint, 14 max modulation,
   56 DHW setpoint), each also re-sent every ``rewrite_interval``;
4. periodic reads (``read_periods``), the most overdue first relative to
   its period, so that all periods stretch alike when the line is busy;
   when nothing is due, the cycle's one extra reads the id nearest to due.
   A fault bit that turns on in ID 0 makes IDs 5 and 115 due at once.

Errors (OpenTherm v2.2 section 4.5): UNKNOWN-DATAID teaches the master that
the boiler lacks the id; it is skipped until ``unknown_retry`` has passed or
the link reconnects (IDs 0 and 1 are never skipped). DATA-INVALID is
counted and the last good value kept, marked stale. Timeouts, bad frames
and link errors are counted per id. While the link is down the master
waits for it (woken by the link's state listener, or every ``link_poll``
seconds) and redoes the start-up reads once it is back. The master does
not start or stop the link itself.

Values written are clamped to what the boiler reported: the control
setpoint to at most the max CH setpoint bounds' upper limit (ID 49) and the
max CH setpoint in effect (ID 57); ID 57 into ID 49's bounds; the DHW
setpoint (56) into ID 48's bounds; max modulation (14) to 0-100 %. A
WRITE-ACK that carries another value is stored as the value the boiler
uses. IDs 56 and 57 are written only when the bridge has a target for them
and the boiler's remote-parameter flags (ID 6, when known) allow it;
otherwise they are read.

Hand-back (:meth:`OpenThermMaster.stop` with ``hand_back=True``): on an
OpenTherm Gateway (``link.kind == "otgw"``) the master writes ID 1 = 0, which
the link sends as ``CS=0``: the gateway returns control to the room
thermostat on the line. On every other link (the bridge is the only master)
it sends ID 0 with CH enable off (DHW enable as targeted) and writes ID 1 =
0. On both, a max modulation limit the bridge set is lifted (ID 14 = 100 %).
Because an OTGW reads ID 1 = 0 as "release", the master never writes a
control setpoint below ``otgw_setpoint_floor`` (10 °C) to an OTGW while it
is in control; CH enable off is sent as the CH-enable flag.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
import logging
import math
from types import MappingProxyType
from typing import Any, Protocol

from bridge.core.clock import Clock
from bridge.opentherm.boiler_state import BoilerState, ChangeListener
from bridge.opentherm.formats import decode_f8_8, encode_f8_8
from bridge.opentherm.frame import Frame, FrameError, MsgType, check_answer
from bridge.opentherm.links.base import BoilerLink, LinkError, LinkState, LinkTimeout

__all__ = [
    "CAPABILITY_IDS",
    "DEFAULT_READ_PERIODS",
    "OPENTHERM_MAX_INTERVAL",
    "OPENTHERM_MIN_GAP",
    "BoilerCommandLike",
    "MasterConfig",
    "OpenThermMaster",
    "Outcome",
    "Targets",
]

_LOGGER = logging.getLogger(__name__)

#: The longest time OpenTherm allows between conversations (1 s + 15 %).
OPENTHERM_MAX_INTERVAL = 1.15
#: The shortest time OpenTherm allows from the end of a conversation to the next.
OPENTHERM_MIN_GAP = 0.1

#: The capability reads done after every (re)connect, in this order.
CAPABILITY_IDS: tuple[int, ...] = (3, 49, 48, 6, 15, 125, 127)

#: Seconds between periodic reads per data-id; the order breaks ties.
DEFAULT_READ_PERIODS: Mapping[int, float] = MappingProxyType(
    {
        17: 2.0,  # relative modulation
        25: 2.0,  # flow temperature
        28: 2.0,  # return temperature
        5: 5.0,  # fault flags / OEM fault code
        18: 10.0,  # CH water pressure
        27: 10.0,  # outside temperature
        26: 10.0,  # DHW temperature
        57: 60.0,  # max CH setpoint (read while the bridge does not write it)
        56: 60.0,  # DHW setpoint (read while the bridge does not write it)
        115: 120.0,  # OEM diagnostic code
        **dict.fromkeys(range(116, 124), 600.0),  # starts and hours counters
        **dict.fromkeys((3, 6, 15, 48, 49), 1800.0),  # capabilities, re-read
    }
)

#: The target writes, in order of precedence (57 first: it bounds ID 1).
_TARGET_WRITES = (57, 14, 56)


@dataclass(frozen=True, slots=True, kw_only=True)
class MasterConfig:
    """Timing and identity of the master."""

    cycle_interval: float = 1.0
    """Seconds from one ID 0 to the next (at most 1.15 s)."""
    min_gap: float = OPENTHERM_MIN_GAP
    """Seconds from the end of a conversation to the start of the next (at least 0.1 s)."""
    answer_timeout: float = 0.8
    """Seconds to wait for the boiler's answer (OpenTherm: 20-800 ms)."""
    max_conversations_per_cycle: int = 5
    """Upper limit of conversations per cycle, IDs 0 and 1 included."""
    read_periods: Mapping[int, float] = field(default_factory=lambda: dict(DEFAULT_READ_PERIODS))
    """Seconds between periodic reads per data-id; the order breaks ties."""
    rewrite_interval: float = 60.0
    """Seconds after which an unchanged target (14, 56, 57) is written again."""
    unknown_retry: float = 3600.0
    """Seconds after which an id answered UNKNOWN-DATAID is tried again."""
    max_retries: int = 2
    """Retries of a conversation that got no usable answer."""
    link_poll: float = 5.0
    """Seconds between looks at a down link when it reports no state change."""
    member_id: int = 0
    """The master's MemberID code, sent in ID 2 (0: none)."""
    master_ot_version: float = 2.2
    """The OpenTherm version the master speaks, sent in ID 124."""
    product_type: int = 0
    """The master's product type, sent in ID 126."""
    product_version: int = 1
    """The master's product version, sent in ID 126."""
    otgw_setpoint_floor: float = 10.0
    """Lowest control setpoint written to an OTGW while in control (0 means release)."""

    def __post_init__(self) -> None:
        if not OPENTHERM_MIN_GAP <= self.min_gap < self.cycle_interval:
            raise ValueError(
                f"min_gap must be at least {OPENTHERM_MIN_GAP} s and below cycle_interval"
            )
        if not 0 < self.cycle_interval <= OPENTHERM_MAX_INTERVAL:
            raise ValueError(
                f"cycle_interval must be above 0 and at most {OPENTHERM_MAX_INTERVAL} s"
            )
        if not 0 < self.answer_timeout <= 5:
            raise ValueError("answer_timeout must be above 0 and at most 5 s")
        if self.max_conversations_per_cycle < 3:
            raise ValueError(
                "max_conversations_per_cycle must be at least 3 (IDs 0, 1 and one more)"
            )
        for data_id, period in self.read_periods.items():
            if not 0 <= data_id <= 255 or data_id in {0, 1}:
                raise ValueError(f"read_periods: data-id {data_id} cannot be read periodically")
            if not period > 0:
                raise ValueError(f"read_periods: the period of id {data_id} must be above 0")
        for name in ("rewrite_interval", "unknown_retry", "link_poll"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be above 0")
        if self.max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        for name in ("member_id", "product_type", "product_version"):
            if not 0 <= getattr(self, name) <= 255:
                raise ValueError(f"{name} must be 0-255")
        if not 0 <= self.master_ot_version < 128:
            raise ValueError("master_ot_version must be 0-127")
        if not 1 <= self.otgw_setpoint_floor <= 30:
            raise ValueError("otgw_setpoint_floor must be 1-30 °C")


@dataclass(frozen=True, slots=True)
class Targets:
    """What the bridge asks of the boiler; None means "not managed by the bridge".

    A ``max_modulation`` of None writes no limit (100 % once, if the bridge
    had set one); a ``dhw_setpoint`` or ``max_ch_setpoint`` of None leaves
    the boiler's own value, which is then read.
    """

    ch_enable: bool = False
    control_setpoint: float = 10.0
    max_modulation: float | None = None
    dhw_enable: bool = True
    dhw_setpoint: float | None = None
    max_ch_setpoint: float | None = None


class BoilerCommandLike(Protocol):
    """Anything shaped like the control loop's boiler command."""

    @property
    def ch_enable(self) -> bool: ...
    @property
    def control_setpoint(self) -> float: ...
    @property
    def max_modulation(self) -> float | None: ...
    @property
    def dhw_enable(self) -> bool | None: ...
    @property
    def dhw_setpoint(self) -> float | None: ...


class Outcome(Enum):
    """How one conversation ended."""

    ACK = "ack"
    INVALID = "data_invalid"
    UNKNOWN = "unknown_dataid"
    TIMEOUT = "timeout"
    BAD_FRAME = "bad_frame"
    LINK_ERROR = "link_error"
    DOWN = "link_down"


_FAILED = frozenset({Outcome.TIMEOUT, Outcome.BAD_FRAME, Outcome.LINK_ERROR})
# a link error while connected means the link cannot carry the request (an
# OTGW has no command for some writes): retrying would not help
_RETRIED = frozenset({Outcome.TIMEOUT, Outcome.BAD_FRAME})


@dataclass(slots=True)
class _Request:
    frame: Frame
    attempts: int = 0


def _number(name: str, value: object, low: float, high: float, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")  # noqa: TRY004 (validation error)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not low <= number <= high:
        raise ValueError(f"{name} {number:g} {unit} is outside {low:g}-{high:g} {unit}")
    return number


def _optional_number(name: str, value: object, low: float, high: float, unit: str) -> float | None:
    return None if value is None else _number(name, value, low, high, unit)


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")  # noqa: TRY004 (validation error)
    return value


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


class OpenThermMaster:
    """Runs the OpenTherm conversations with the boiler over one link."""

    def __init__(
        self,
        link: BoilerLink,
        clock: Clock,
        *,
        logger: logging.Logger | None = None,
        config: MasterConfig | None = None,
    ) -> None:
        if not link.opentherm:
            raise ValueError(f"the {link.kind} link carries no OpenTherm; it needs no master")
        self._link = link
        self._clock = clock
        self._log = logger or _LOGGER
        self._config = config or MasterConfig()
        self._state = BoilerState()
        self._targets = Targets()
        self._running = False
        self._stopping = False
        self._hand_back_on_stop = True
        self._handed_back = False
        self._took_control = False
        self._modulation_limited = False
        self._done = asyncio.Event()
        self._done.set()
        self._wake: asyncio.Future[None] | None = None
        self._needs_setup = True
        self._sessions = 0
        self._setup: deque[_Request] = deque()
        self._retry: _Request | None = None
        self._last_attempt: dict[int, float] = {}
        self._sent: dict[int, tuple[int, float]] = {}
        self._unknown: dict[int, float] = {}
        self._fail_streak: dict[int, int] = {}
        self._last_end = -math.inf
        self._estimate = 0.2
        self._cycles = 0

    # ------------------------------------------------------------ public API

    @property
    def state(self) -> BoilerState:
        """The boiler state model."""
        return self._state

    @property
    def config(self) -> MasterConfig:
        """The master's timing and identity."""
        return self._config

    @property
    def link(self) -> BoilerLink:
        """The link the master talks over."""
        return self._link

    @property
    def targets(self) -> Targets:
        """The targets as last requested (before clamping)."""
        return self._targets

    @property
    def running(self) -> bool:
        """True while :meth:`run` runs."""
        return self._running

    @property
    def cycles(self) -> int:
        """Cycles (ID 0 conversations) started since construction."""
        return self._cycles

    @property
    def sessions(self) -> int:
        """Times the start-up reads were begun (the first connect and each reconnect)."""
        return self._sessions

    def add_listener(self, listener: ChangeListener) -> Callable[[], None]:
        """Call ``listener(changed_keys)`` when the state changes; returns a remover.

        See :mod:`bridge.opentherm.boiler_state` for the keys.
        """
        return self._state.add_listener(listener)

    def set_targets(  # noqa: PLR0917 (the control loop's positional order)
        self,
        ch_enable: bool,
        control_setpoint: float,
        max_modulation: float | None = None,
        dhw_enable: bool | None = None,
        dhw_setpoint: float | None = None,
        max_ch_setpoint: float | None = None,
    ) -> Targets:
        """Set what the boiler should do; returns the targets as stored.

        Temperatures are °C and must lie in 0-100, ``max_modulation`` is a
        percentage 0-100; anything else (NaN, infinity, a wrong type, out of
        range) raises ``ValueError`` naming the field. Values within range are
        clamped to the boiler's bounds when written. ``dhw_enable`` None keeps
        the current flag; the other None values mean "not managed" (see
        :class:`Targets`). Changed targets are written at the next slot.
        """
        targets = Targets(
            ch_enable=_flag("ch_enable", ch_enable),
            control_setpoint=_number("control_setpoint", control_setpoint, 0, 100, "°C"),
            max_modulation=_optional_number("max_modulation", max_modulation, 0, 100, "%"),
            dhw_enable=self._targets.dhw_enable
            if dhw_enable is None
            else _flag("dhw_enable", dhw_enable),
            dhw_setpoint=_optional_number("dhw_setpoint", dhw_setpoint, 0, 100, "°C"),
            max_ch_setpoint=_optional_number("max_ch_setpoint", max_ch_setpoint, 0, 100, "°C"),
        )
        if targets != self._targets:
            self._targets = targets
            self._state.mark_changed({"targets"})
            self._state.flush()
        return targets

    def apply_command(
        self, command: BoilerCommandLike, *, max_ch_setpoint: float | None = None
    ) -> Targets:
        """:meth:`set_targets` from a control-loop command object."""
        return self.set_targets(
            command.ch_enable,
            command.control_setpoint,
            command.max_modulation,
            command.dhw_enable,
            command.dhw_setpoint,
            max_ch_setpoint,
        )

    def effective_targets(self) -> Targets:
        """The targets as they are written now: clamped to the boiler's bounds.

        ``max_modulation``, ``dhw_setpoint`` and ``max_ch_setpoint`` are None
        when the master does not write them.
        """

        def value(data_id: int) -> float | None:
            word = self._desired_write(data_id)
            return None if word is None else decode_f8_8(word)

        return Targets(
            ch_enable=self._targets.ch_enable,
            control_setpoint=self._control_setpoint(),
            max_modulation=value(14),
            dhw_enable=self._targets.dhw_enable,
            dhw_setpoint=value(56),
            max_ch_setpoint=value(57),
        )

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready view of the state, the targets and the link kind."""
        data = self._state.as_dict(self._clock.time())
        data["link"] = {"kind": self._link.kind, "state": str(self._link.state)}
        data["targets"] = _targets_dict(self._targets)
        data["effective_targets"] = _targets_dict(self.effective_targets())
        return data

    async def run(self) -> None:
        """Talk to the boiler until :meth:`stop` is called.

        Returns at once if :meth:`stop` came first; a master runs only once.
        """
        if self._running:
            raise RuntimeError("the OpenTherm master is already running")
        if self._stopping:
            self._log.debug("OpenTherm master: stopped before it ran")
            return
        self._running = True
        self._done.clear()
        remove = self._link.add_state_listener(self._on_link_state)
        try:
            while not self._is_stopping():
                if not self._connected():
                    self._link_down()
                    await self._wait_connected()
                    continue
                if self._needs_setup:
                    self._begin_session()
                await self._cycle()
            if self._hand_back_on_stop:
                await self._hand_back()
        finally:
            remove()
            self._running = False
            self._done.set()

    async def stop(self, hand_back: bool = True) -> None:
        """Stop :meth:`run` and return once it has ended.

        The conversation in progress is finished and the current cycle's
        pause waited out (so stopping takes up to about one cycle on the
        clock). With ``hand_back`` the boiler is then handed back safely (see
        the module docstring), which needs the link to be connected; without
        it nothing more is sent. Cancelling the :meth:`run` task instead also
        skips the hand-back.
        """
        self._hand_back_on_stop = hand_back
        self._stopping = True
        self._wake_up()
        if self._running:
            await self._done.wait()
        elif hand_back:
            await self._hand_back()

    # ------------------------------------------------------------ link state

    def _connected(self) -> bool:
        return self._link.state is LinkState.CONNECTED

    def _is_stopping(self) -> bool:
        return self._stopping

    def _on_link_state(self, state: LinkState) -> None:
        if state is not LinkState.CONNECTED:
            self._link_down()
        self._wake_up()

    def _wake_up(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _link_down(self) -> None:
        self._needs_setup = True
        self._retry = None
        if self._state.connected:
            self._log.warning("OpenTherm master: the %s link is down; waiting", self._link.kind)
        self._state.set_connected(False)
        self._state.flush()

    async def _wait_connected(self) -> None:
        """Wait for the link's state listener, a stop, or ``link_poll`` seconds."""
        loop = asyncio.get_running_loop()
        while not self._is_stopping() and not self._connected():
            wake: asyncio.Future[None] = loop.create_future()
            self._wake = wake
            timer = asyncio.ensure_future(self._timer(self._config.link_poll, wake))
            try:
                await wake
            finally:
                self._wake = None
                timer.cancel()

    async def _timer(self, seconds: float, wake: asyncio.Future[None]) -> None:
        await self._clock.sleep(seconds)
        if not wake.done():
            wake.set_result(None)

    def _begin_session(self) -> None:
        self._needs_setup = False
        self._sessions += 1
        self._retry = None
        self._last_attempt.clear()
        self._sent.clear()
        self._unknown.clear()
        self._fail_streak.clear()
        cfg = self._config
        setup = [Frame(MsgType.READ_DATA, data_id) for data_id in CAPABILITY_IDS]
        setup[5:5] = [
            Frame(MsgType.WRITE_DATA, 2, cfg.member_id),
            Frame(MsgType.WRITE_DATA, 124, encode_f8_8(cfg.master_ot_version)),
        ]
        setup.append(Frame(MsgType.WRITE_DATA, 126, cfg.product_type << 8 | cfg.product_version))
        self._setup = deque(_Request(frame) for frame in setup)
        if self._sessions > 1:
            self._log.info("OpenTherm master: the %s link is back", self._link.kind)
        self._state.set_connected(True)
        self._state.flush()

    # ------------------------------------------------------------ the cycle

    async def _cycle(self) -> None:
        cfg = self._config
        start = self._clock.monotonic()
        self._cycles += 1
        outcome = await self._converse(self._status_frame())
        if outcome is None or outcome is Outcome.DOWN:
            return
        outcome = await self._converse(self._setpoint_frame())
        if outcome is None or outcome is Outcome.DOWN:
            return
        self._took_control = True
        done = 2
        while done < cfg.max_conversations_per_cycle and not self._stopping:
            now = self._clock.monotonic()
            if done > 2 and now - start + cfg.min_gap + self._estimate > cfg.cycle_interval:
                break
            request = self._next_extra(now, fill=done == 2)
            if request is None:
                break
            outcome = await self._run_extra(request)
            if outcome is None or outcome is Outcome.DOWN:
                return
            done += 1
        next_start = max(start + cfg.cycle_interval, self._last_end + cfg.min_gap)
        wait = next_start - self._clock.monotonic()
        if wait > 0 and not self._stopping:
            await self._clock.sleep(wait)

    def _status_frame(self) -> Frame:
        flags = (0x01 if self._targets.ch_enable else 0) | (0x02 if self._targets.dhw_enable else 0)
        return Frame(MsgType.READ_DATA, 0, flags << 8)

    def _setpoint_frame(self) -> Frame:
        return Frame(MsgType.WRITE_DATA, 1, encode_f8_8(self._control_setpoint()))

    def _control_setpoint(self) -> float:
        """The control setpoint to write: the target, clamped by IDs 49 and 57."""
        upper = 100.0
        bounds = self._state.capabilities.max_ch_setpoint_bounds
        if bounds is not None:
            upper = min(upper, bounds[1])
        max_ch = self._state.number(57)
        if max_ch is not None and max_ch > 0:
            upper = min(upper, max_ch)
        wanted = self._desired_write(57)
        if wanted is not None:
            upper = min(upper, decode_f8_8(wanted))
        value = _clamp(self._targets.control_setpoint, 0.0, upper)
        if self._link.kind == "otgw":
            value = max(value, self._config.otgw_setpoint_floor)
        return value

    def _desired_write(self, data_id: int) -> int | None:
        """The word the master wants written to a target id now, or None."""
        targets, caps = self._targets, self._state.capabilities
        if data_id == 14:
            if targets.max_modulation is None:
                return encode_f8_8(100.0) if self._modulation_limited else None
            return encode_f8_8(_clamp(targets.max_modulation, 0.0, 100.0))
        if data_id == 57:
            if targets.max_ch_setpoint is None or not _remote_writable(
                caps.max_ch_setpoint_transfer, caps.max_ch_setpoint_rw
            ):
                return None
            low, high = caps.max_ch_setpoint_bounds or (0, 100)
            return encode_f8_8(_clamp(targets.max_ch_setpoint, low, high))
        if data_id == 56:
            if (
                targets.dhw_setpoint is None
                or caps.dhw_present is False
                or not _remote_writable(caps.dhw_setpoint_transfer, caps.dhw_setpoint_rw)
            ):
                return None
            low, high = caps.dhw_setpoint_bounds or (0, 100)
            return encode_f8_8(_clamp(targets.dhw_setpoint, low, high))
        return None

    def _skipped(self, data_id: int, now: float) -> bool:
        learned = self._unknown.get(data_id)
        return learned is not None and now - learned < self._config.unknown_retry

    def _readable(self, data_id: int) -> bool:
        if data_id in {56, 57}:
            if self._desired_write(data_id) is not None:
                return False
            if data_id == 56 and self._state.capabilities.dhw_present is False:
                return False
        return True

    def _next_extra(self, now: float, *, fill: bool = False) -> _Request | None:
        """The next conversation after IDs 0 and 1, or None if nothing is due.

        With ``fill`` a read that is not due yet is taken (the one nearest to
        due) rather than nothing, so every cycle carries at least one more id.
        """
        if self._retry is not None:
            return self._retry
        while self._setup:
            request = self._setup.popleft()
            if not self._skipped(request.frame.data_id, now):
                return request
        for data_id in _TARGET_WRITES:
            if self._skipped(data_id, now):
                continue
            word = self._desired_write(data_id)
            if word is None:
                continue
            sent = self._sent.get(data_id)
            if sent is None or sent[0] != word or now - sent[1] >= self._config.rewrite_interval:
                return _Request(Frame(MsgType.WRITE_DATA, data_id, word))
        best: tuple[float, int] | None = None
        for data_id, period in self._config.read_periods.items():
            if self._skipped(data_id, now) or not self._readable(data_id):
                continue
            last = self._last_attempt.get(data_id)
            score = math.inf if last is None else (now - last) / period
            if (score >= 1 or fill) and (best is None or score > best[0]):
                best = (score, data_id)
        if best is None:
            return None
        return _Request(Frame(MsgType.READ_DATA, best[1]))

    async def _run_extra(self, request: _Request) -> Outcome | None:
        frame = request.frame
        outcome = await self._converse(frame)
        if outcome is None or outcome is Outcome.DOWN:
            return outcome
        now = self._clock.monotonic()
        if frame.msg_type is MsgType.READ_DATA:
            self._last_attempt[frame.data_id] = now
        if outcome in _RETRIED:
            request.attempts += 1
            if request.attempts <= self._config.max_retries:
                self._retry = request
                return outcome
        self._retry = None
        if frame.msg_type is MsgType.WRITE_DATA and frame.data_id in _TARGET_WRITES:
            self._sent[frame.data_id] = (frame.value, now)
            if frame.data_id == 14:
                self._modulation_limited = frame.value < encode_f8_8(100.0)
        return outcome

    # ------------------------------------------------------------ one conversation

    async def _converse(self, request: Frame, *, handing_back: bool = False) -> Outcome | None:
        """Carry one conversation (after the minimum gap); None if stopped first."""
        wait = self._last_end + self._config.min_gap - self._clock.monotonic()
        if wait > 0:
            await self._clock.sleep(wait)
        if self._stopping and not handing_back:
            return None
        if not self._connected():
            if not handing_back:
                self._link_down()
            return Outcome.DOWN
        data_id = request.data_id
        self._state.note_conversation(data_id, self._clock.time())
        counters = self._state.counter(data_id)
        started = self._clock.monotonic()
        try:
            answer = await self._link.transact(request, self._config.answer_timeout)
        except LinkTimeout:
            counters.timeouts += 1
            outcome = Outcome.TIMEOUT
        except LinkError as err:
            if not self._connected():
                outcome = Outcome.DOWN
            else:
                counters.link_errors += 1
                outcome = Outcome.LINK_ERROR
                self._log.debug("OpenTherm master: id %d: %s", data_id, err)
        except Exception:  # noqa: BLE001 (a faulty link must not stop the master; logged)
            counters.link_errors += 1
            outcome = Outcome.LINK_ERROR
            self._log.exception("OpenTherm master: the %s link failed", self._link.kind)
        else:
            try:
                check_answer(request, answer)
            except FrameError as err:
                counters.bad_frames += 1
                outcome = Outcome.BAD_FRAME
                self._log.debug("OpenTherm master: id %d: bad answer: %s", data_id, err)
            else:
                outcome = self._take_answer(answer)
        end = self._clock.monotonic()
        self._last_end = end
        duration = min(max(end - started, 0.0), self._config.answer_timeout)
        self._estimate = 0.7 * self._estimate + 0.3 * duration
        if outcome is Outcome.DOWN:
            if not handing_back:
                self._link_down()
        elif outcome in _FAILED:
            streak = self._fail_streak.get(data_id, 0) + 1
            self._fail_streak[data_id] = streak
            if streak > self._config.max_retries:
                self._state.mark_stale(data_id)
        else:
            self._fail_streak.pop(data_id, None)
        self._state.flush()
        return outcome

    def _take_answer(self, answer: Frame) -> Outcome:
        data_id = answer.data_id
        if answer.msg_type in {MsgType.READ_ACK, MsgType.WRITE_ACK}:
            had_fault = self._state.faults.fault
            self._state.set_value(data_id, answer.value, self._clock.time())
            self._unknown.pop(data_id, None)
            if data_id == 0 and self._state.faults.fault and not had_fault:
                # a new fault: read its details at the next slots
                for fault_id in (5, 115):
                    self._last_attempt.pop(fault_id, None)
            return Outcome.ACK
        if answer.msg_type is MsgType.DATA_INVALID:
            self._state.note_invalid(data_id)
            self._unknown.pop(data_id, None)
            return Outcome.INVALID
        self._state.learn_unknown(data_id, self._clock.time())
        if data_id not in self._unknown:
            self._log.info(
                "OpenTherm master: the boiler does not know data-id %d; skipping it", data_id
            )
        self._unknown[data_id] = self._clock.monotonic()
        return Outcome.UNKNOWN

    # ------------------------------------------------------------ hand-back

    async def _hand_back(self) -> None:
        if self._handed_back or not self._took_control:
            return
        if not self._connected():
            self._log.warning(
                "OpenTherm master: the %s link is down; cannot hand the boiler back",
                self._link.kind,
            )
            return
        frames: list[Frame] = []
        if self._link.kind != "otgw":
            dhw = 0x02 if self._targets.dhw_enable else 0x00
            frames.append(Frame(MsgType.READ_DATA, 0, dhw << 8))
        frames.append(Frame(MsgType.WRITE_DATA, 1, 0))
        if self._modulation_limited:
            frames.append(Frame(MsgType.WRITE_DATA, 14, encode_f8_8(100.0)))
        for frame in frames:
            outcome = await self._converse(frame, handing_back=True)
            if outcome is Outcome.DOWN:
                self._log.warning("OpenTherm master: the link went down during the hand-back")
                return
            if outcome in _RETRIED:
                # one retry at the next slot, as for any conversation
                await self._converse(frame, handing_back=True)
        self._handed_back = True
        self._modulation_limited = False
        self._log.info("OpenTherm master: boiler handed back (%s link)", self._link.kind)


def _remote_writable(transfer: bool | None, rw: bool | None) -> bool:
    """Whether ID 6 allows writing a remote parameter (unknown flags allow it)."""
    if transfer is None or rw is None:
        return True
    return transfer and rw


def _targets_dict(targets: Targets) -> dict[str, Any]:
    return {
        "ch_enable": targets.ch_enable,
        "control_setpoint": targets.control_setpoint,
        "max_modulation": targets.max_modulation,
        "dhw_enable": targets.dhw_enable,
        "dhw_setpoint": targets.dhw_setpoint,
        "max_ch_setpoint": targets.max_ch_setpoint,
    }
