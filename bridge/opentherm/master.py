"""The OpenTherm master: the bridge's side of the conversation with the boiler.

:class:`OpenThermMaster` talks to the boiler over any OpenTherm
:class:`~bridge.opentherm.links.base.BoilerLink` and keeps a
:class:`~bridge.opentherm.boiler_state.BoilerState`. What it says, and
when, is the :class:`~bridge.opentherm.master_schedule.ConversationSchedule`'s
choice (see :mod:`bridge.opentherm.master_schedule`); this module runs the
cycle, carries each conversation and handles the link's state.

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

Errors (OpenTherm v2.2 section 4.5): UNKNOWN-DATAID teaches the master that
the boiler lacks the id; it is skipped until ``unknown_retry`` has passed or
the link reconnects (IDs 0 and 1 are never skipped). DATA-INVALID is
counted and the last good value kept, marked stale. Timeouts, bad frames
and link errors are counted per id. While the link is down the master
waits for it (woken by the link's state listener, or every ``link_poll``
seconds) and redoes the start-up reads once it is back. The master does
not start or stop the link itself.

A WRITE-ACK that carries another value than the one written is stored as
the value the boiler uses.

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
from collections.abc import Callable
import logging
import math
from typing import Protocol

from bridge.core.clock import Clock
from bridge.opentherm.boiler_state import BoilerState, ChangeListener
from bridge.opentherm.formats import decode_f8_8
from bridge.opentherm.frame import Frame, FrameError, MsgType, check_answer
from bridge.opentherm.links.base import BoilerLink, LinkError, LinkState, LinkTimeout
from bridge.opentherm.master_schedule import (
    FAILED,
    RETRIED,
    ConversationSchedule,
    MasterConfig,
    Outcome,
    Request,
    Targets,
)

__all__ = ["BoilerCommandLike", "OpenThermMaster"]

_LOGGER = logging.getLogger(__name__)


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
        self._schedule = ConversationSchedule(self._config, self._state, link.kind)
        self._running = False
        self._stopping = False
        self._hand_back_on_stop = True
        self._handed_back = False
        self._took_control = False
        self._done = asyncio.Event()
        self._done.set()
        self._wake: asyncio.Future[None] | None = None
        self._needs_setup = True
        self._sessions = 0
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
    def clock(self) -> Clock:
        """The clock the master stamps values and rates with."""
        return self._clock

    @property
    def targets(self) -> Targets:
        """The targets as last requested (before clamping)."""
        return self._schedule.targets

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
            dhw_enable=self._schedule.targets.dhw_enable
            if dhw_enable is None
            else _flag("dhw_enable", dhw_enable),
            dhw_setpoint=_optional_number("dhw_setpoint", dhw_setpoint, 0, 100, "°C"),
            max_ch_setpoint=_optional_number("max_ch_setpoint", max_ch_setpoint, 0, 100, "°C"),
        )
        if targets != self._schedule.targets:
            self._schedule.targets = targets
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
            word = self._schedule.desired_write(data_id)
            return None if word is None else decode_f8_8(word)

        return Targets(
            ch_enable=self._schedule.targets.ch_enable,
            control_setpoint=self._schedule.control_setpoint(),
            max_modulation=value(14),
            dhw_enable=self._schedule.targets.dhw_enable,
            dhw_setpoint=value(56),
            max_ch_setpoint=value(57),
        )

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
        self._schedule.drop_retry()
        if self._state.connected:
            # the link logs the outage itself, once (one line per outage, not one per layer)
            self._log.debug("OpenTherm master: the %s link is down; waiting", self._link.kind)
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
        self._fail_streak.clear()
        self._schedule.begin_session()
        if self._sessions > 1:
            self._log.debug("OpenTherm master: the %s link is back", self._link.kind)
        self._state.set_connected(True)
        self._state.flush()

    # ------------------------------------------------------------ the cycle

    async def _cycle(self) -> None:
        cfg = self._config
        start = self._clock.monotonic()
        self._cycles += 1
        outcome = await self._converse(self._schedule.status_frame())
        if outcome is None or outcome is Outcome.DOWN:
            return
        outcome = await self._converse(self._schedule.setpoint_frame())
        if outcome is None or outcome is Outcome.DOWN:
            return
        self._took_control = True
        done = 2
        while done < cfg.max_conversations_per_cycle and not self._stopping:
            now = self._clock.monotonic()
            if done > 2 and now - start + cfg.min_gap + self._estimate > cfg.cycle_interval:
                break
            request = self._schedule.next_extra(now, fill=done == 2)
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

    async def _run_extra(self, request: Request) -> Outcome | None:
        outcome = await self._converse(request.frame)
        if outcome is None or outcome is Outcome.DOWN:
            return outcome
        self._schedule.record(request, outcome, self._clock.monotonic())
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
        elif outcome in FAILED:
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
            self._schedule.known(data_id)
            if data_id == 0 and self._state.faults.fault and not had_fault:
                # a new fault: read its details at the next slots
                self._schedule.read_faults_now()
            return Outcome.ACK
        if answer.msg_type is MsgType.DATA_INVALID:
            self._state.note_invalid(data_id)
            self._schedule.known(data_id)
            return Outcome.INVALID
        self._state.learn_unknown(data_id, self._clock.time())
        if self._schedule.learn_unknown(data_id, self._clock.monotonic()):
            self._log.info(
                "OpenTherm master: the boiler does not know data-id %d; skipping it", data_id
            )
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
        for frame in self._schedule.hand_back_frames():
            outcome = await self._converse(frame, handing_back=True)
            if outcome is Outcome.DOWN:
                self._log.warning("OpenTherm master: the link went down during the hand-back")
                return
            if outcome in RETRIED:
                # one retry at the next slot, as for any conversation
                await self._converse(frame, handing_back=True)
        self._handed_back = True
        self._schedule.modulation_limited = False
        self._log.info("OpenTherm master: boiler handed back (%s link)", self._link.kind)
