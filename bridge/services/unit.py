"""The ThermoSmart wall units: their polls in, the bridge's answers out.

Each poll (``GET /api?_<HWID>_<HEX>`` on the unit port, see
``THERMOSMART_UNIT.md``) is decrypted with the registered unit's password,
checked whole, and then:

- the house's unit's room reading and OpenTherm values go to the boiler link
  (:class:`~bridge.opentherm.links.unit.UnitLink`), so the thermostat
  controls, records and learns on them;
- a turn of the dial (``src`` manual with a new ``csv``) becomes a manual
  target, pushed to every client like any other change;
- the unit's model, firmware, source and PID are kept for the native state;
  the first PID it reports is stored as its own.

Once the learner is ready, the bridge works out (at most once a day, in a
worker thread) whether other PID parameters would do better on the learned
house than the house unit's own (:mod:`bridge.unit.tuning`); the proposal is
in the native state, and sent to the unit while the option
``unit_pid_tuning`` is on. With the option off, a unit that runs other
parameters than its own gets its own back.

The answer carries the bridge's target (``SVSET``: the schedule's target,
moved earlier by the warm-up the learner plans), pause, the outside
temperature when the bridge knows one, the calendar (only after the unit's
``init`` or when the schedule, exceptions or programs changed: the unit
rewrites its flash each time), the time when the unit's clock is more than a
minute off, the zone offset, and the owner's unit settings when they changed
or the unit restarted.

A refused poll (unknown unit, bad payload, wrong password, a value out of
range) changes nothing and is logged at most once a minute per unit (once an
hour for a unit that is not registered, with how to register it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
import hashlib
import logging
from typing import TYPE_CHECKING, Any, Final

from bridge.core.options import control_config
from bridge.core.payloads.unit import PidFigures, UnitPid, UnitPidProposal, WallUnit
from bridge.core.unit import DISPLAYS, SOURCES, STATUS_LEDS
from bridge.core.validation import ValidationError
from bridge.learning.screening import ASSUMED_BOILER_W
from bridge.opentherm.links.base import LinkState
from bridge.storage.settings import UNIT_CALENDAR
from bridge.storage.units import SEEN_RESOLUTION_S
from bridge.unit.calendar import (
    Calendar,
    calendar_from_schedule,
    render_calendar,
    utc_offset_minutes,
)
from bridge.unit.limits import clamp_target
from bridge.unit.protocol import (
    Answer,
    InitBlock,
    Pid,
    Poll,
    UnitProtocolError,
    UnitSource,
    clock_is_off,
    decrypt_poll,
    encrypt_answer,
    parse_poll,
    render_answer,
    split_request,
)
from bridge.unit.tuning import LoopFigures, PidProposal, Plant, propose

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.opentherm.links.unit import UnitLink
    from bridge.services.thermostat import ThermostatService
    from bridge.storage import Database
    from bridge.storage.units import Unit

_LOGGER = logging.getLogger(__name__)

REFUSAL_LOG_S: Final = 60.0
"""At most one log line per unit (or address) per this many seconds for refused polls."""
UNREGISTERED_LOG_S: Final = 3600.0
"""A unit that is not registered is logged once per hour."""
WATCH_S: Final = 10.0
"""How often the service re-reads the registrations and checks which units stopped polling."""
DEFAULT_LOCALE: Final = "nl-NL"
PROPOSE_EVERY_S: Final = 86400.0
"""The PID proposal is worked out again at most once a day (the learned house changes
slowly); at once when the unit's own parameters become known."""


class UnitRefused(Exception):
    """A poll that changes nothing and gets HTTP 400; the message is safe to log."""


@dataclass(slots=True)
class _Live:
    """What a unit said on its last poll, and what the bridge last sent it."""

    last_seen: float | None = None
    """Its last poll: this run's, else the stored one (to the minute)."""
    connected: bool | None = None
    """True while it polls; False once silent for the link's silence; None before
    either is known (not heard from since the bridge started, less than that ago)."""
    revision: int | None = None
    firmware: str | None = None
    room: float | None = None
    source: int | None = None
    setpoint: float | None = None
    """The unit's dial setpoint (``csv``) while it follows the dial."""
    sent_setpoint: float | None = None
    """The target (``SVSET``) the bridge last sent it."""
    pid: UnitPid | None = None
    dial: float | None = None
    sent: dict[str, Any] = field(default_factory=dict)
    """The settings elements last sent (cleared by the unit's ``init``)."""


class UnitService:
    """Registered wall units, their polls and the answers the bridge gives them."""

    def __init__(
        self, db: Database, clock: Clock, thermostat: ThermostatService, link: UnitLink
    ) -> None:
        self._db = db
        self._clock = clock
        self._thermostat = thermostat
        self._link = link
        self._units: dict[str, Unit] = {}
        self._passwords: dict[str, str] = {}
        self._live: dict[str, _Live] = {}
        self._calendar: tuple[int, str] | None = None
        self._calendar_cache: tuple[tuple[Any, ...], Calendar, str] | None = None
        self._logged: dict[str, float] = {}
        self._lock = asyncio.Lock()
        self._started = clock.time()
        self._proposal: PidProposal | None = None
        self._proposal_for: tuple[float, float, float] | None = None
        """The own PID the proposal was worked out for."""
        self._proposed_at: float | None = None

    # -- registrations ------------------------------------------------------------

    async def load(self) -> None:
        """Read the registered units; forget what was kept of removed ones."""
        units = await self._db.units.list()
        self._units = {u.hardware_id: u for u in units}
        self._passwords = await self._db.units.credentials()
        for hardware_id in list(self._live):
            if hardware_id not in self._units:
                del self._live[hardware_id]
        for unit in units:
            live = self._live.setdefault(unit.hardware_id, _Live())
            live.revision = live.revision or unit.revision
            live.firmware = live.firmware or unit.firmware
            if live.last_seen is None:
                live.last_seen = unit.last_seen

    def house_unit(self) -> str | None:
        """The hardware id of the house's thermostat unit, if one is registered."""
        return next((u.hardware_id for u in self._units.values() if u.house), None)

    # -- the poll ------------------------------------------------------------------

    async def poll(self, query: str, address: str) -> str:
        """Answer one poll (the raw query string of ``GET /api``): the hex answer text.

        Raises :class:`UnitRefused` (nothing changed) for anything not right.
        """
        try:
            hardware_id, hex_text = split_request(query)
        except UnitProtocolError as err:
            self._log_refusal(f"address {address}", "Refused a unit poll from %s: %s", address, err)
            raise UnitRefused(str(err)) from None
        async with self._lock:
            password = self._passwords.get(hardware_id)
            if password is None:
                self._log_unregistered(hardware_id, address)
                raise UnitRefused(f"unit {hardware_id} is not registered")
            try:
                poll = parse_poll(
                    decrypt_poll(hex_text, password), hardware_id=hardware_id, password=password
                )
            except UnitProtocolError as err:
                if hardware_id == self.house_unit():
                    self._link.note_refused()
                self._log_refusal(
                    hardware_id, "Refused a poll of unit %s from %s: %s", hardware_id, address, err
                )
                raise UnitRefused(str(err)) from None
            await self._take(poll)
            answer = await self._answer(poll)
        return encrypt_answer(render_answer(answer), password)

    def _log_refusal(self, key: str, message: str, *args: object) -> None:
        now = self._clock.monotonic()
        last = self._logged.get(key)
        if last is None or now - last >= REFUSAL_LOG_S:
            self._logged[key] = now
            _LOGGER.warning(message, *args)
        self._trim_log_memory(now)

    def _log_unregistered(self, hardware_id: str, address: str) -> None:
        now = self._clock.monotonic()
        key = f"unregistered {hardware_id}"
        last = self._logged.get(key)
        if last is None or now - last >= UNREGISTERED_LOG_S:
            self._logged[key] = now
            _LOGGER.warning(
                "A ThermoSmart wall unit that is not registered polls: hardware id %s from %s."
                " Register it with: thermosmart-bridge unit add --hardware-id %s --password ...",
                hardware_id,
                address,
                hardware_id,
            )
        self._trim_log_memory(now)

    def _trim_log_memory(self, now: float) -> None:
        if len(self._logged) > 1024:  # a flood of made-up ids must not grow memory
            self._logged = {k: t for k, t in self._logged.items() if now - t < UNREGISTERED_LOG_S}

    async def _take(self, poll: Poll) -> None:
        """Apply what a poll says (it has been checked whole)."""
        hardware_id = poll.hardware_id
        live = self._live.setdefault(hardware_id, _Live())
        before = self._view_key(hardware_id, live)
        now = live.last_seen = self._clock.time()
        live.connected = True
        await self._note_seen(hardware_id, now)
        if poll.init:
            live.sent.clear()
            live.dial = None
        if poll.room_temperature is not None:
            live.room = poll.room_temperature
        live.source = None if poll.source is None else int(poll.source)
        live.setpoint = poll.dial_setpoint
        if poll.pid is not None:
            live.pid = UnitPid(kp=poll.pid.kp, ti=poll.pid.ti, td=poll.pid.td)
            unit = self._units.get(hardware_id)
            if unit is not None and unit.own_pid is None:
                own = (poll.pid.kp, poll.pid.ti, poll.pid.td)
                await self._db.units.note_own_pid(hardware_id, own)
                self._units[hardware_id] = replace(unit, own_pid=own)
        if (poll.revision, poll.firmware) != (live.revision, live.firmware) and (
            poll.revision is not None or poll.firmware is not None
        ):
            live.revision = poll.revision if poll.revision is not None else live.revision
            live.firmware = poll.firmware if poll.firmware is not None else live.firmware
            await self._db.units.note_device(hardware_id, live.revision, live.firmware)
        if hardware_id == self.house_unit():
            self._link.report(
                room=poll.room_temperature,
                opentherm=poll.opentherm,
                opentherm_boiler=poll.opentherm_boiler,
            )
            await self._take_dial(poll, live)
        if self._view_key(hardware_id, live) != before:
            self._thermostat.notify_state()

    async def _note_seen(self, hardware_id: str, now: float) -> None:
        """Keep the unit's last poll in the database, to the minute."""
        unit = self._units.get(hardware_id)
        if unit is None:
            return
        stored = unit.last_seen
        if stored is None or not 0.0 <= now - stored < SEEN_RESOLUTION_S:
            await self._db.units.note_seen(hardware_id, now)
            self._units[hardware_id] = replace(unit, last_seen=now)

    async def _take_dial(self, poll: Poll, live: _Live) -> None:
        """A new dial setpoint on the house's unit becomes a manual target."""
        if poll.source != UnitSource.MANUAL or poll.dial_setpoint is None:
            live.dial = None
            return
        if poll.dial_setpoint == live.dial:
            return  # the unit repeats its dial setpoint on every poll
        live.dial = poll.dial_setpoint
        if poll.dial_setpoint == self._thermostat.resolution().target:
            return
        try:
            await self._thermostat.update({"target_temperature": poll.dial_setpoint}, remote=False)
        except ValidationError as err:
            _LOGGER.warning("The unit's dial setpoint was not taken: %s", err)

    # -- the answer -------------------------------------------------------------------

    async def _answer(self, poll: Poll) -> Answer:
        thermostat = self._thermostat
        live = self._live[poll.hardware_id]
        options = thermostat.options()
        now = self._clock.time()
        target = self._link.setpoint
        if target is None:
            target = thermostat.resolution().target
        outside, _ = thermostat.outside()
        init = None
        locale = options["unit_language"] or DEFAULT_LOCALE
        dhw = bool(options["dhw_enable"])
        if poll.init or live.sent.get("init") != (locale, dhw):
            init = InitBlock(source=UnitSource.SERVER, locale=locale, hot_water=dhw)
            live.sent["init"] = (locale, dhw)
        tz_minutes = utc_offset_minutes(thermostat.state.tz, datetime.fromtimestamp(now, tz=UTC))
        clock_off = clock_is_off(poll, now)
        calendar = await self._calendar_for(poll)
        live.sent_setpoint = clamp_target(target)
        return Answer(
            calendar=calendar,
            setpoint=live.sent_setpoint,
            outside=None if outside is None else round(outside, 1),
            pause=thermostat.state.paused,
            init=init,
            time=int(now) if clock_off else None,
            tz_minutes=self._changed(live, "tz", tz_minutes, force=clock_off),
            calibration=self._changed(live, "calibration", options["unit_calibration"]),
            brightness=self._changed(live, "brightness", options["unit_brightness"]),
            status_led=self._changed(
                live, "status_led", _index(STATUS_LEDS, options["unit_status_led"])
            ),
            display=self._changed(live, "display", _index(DISPLAYS, options["unit_display"])),
            pid=self._pid_for(poll, live, bool(options["unit_pid_tuning"])),
            throttle=self._changed(live, "throttle", options["unit_poll_throttle"]),
        )

    def _pid_for(self, poll: Poll, live: _Live, tuning: bool) -> Pid | None:
        """The PID to send the house's unit: the proposal while ``tuning`` is on, else its
        own; None when it runs that already or was sent it (its next poll says)."""
        unit = self._units.get(poll.hardware_id)
        if poll.pid is None or unit is None or not unit.house or unit.own_pid is None:
            return None
        proposal = self._proposal if tuning else None
        wanted = Pid(*unit.own_pid) if proposal is None else proposal.pid
        if poll.pid == wanted or live.sent.get("pid") == wanted:
            return None
        live.sent["pid"] = wanted
        return wanted

    @staticmethod
    def _changed(live: _Live, key: str, value: Any, *, force: bool = False) -> Any:
        """``value`` when it differs from what the unit was last sent (or ``force``), else None."""
        if value is None:
            return None
        if force or live.sent.get(key) != value:
            live.sent[key] = value
            return value
        return None

    def _current_calendar(self) -> tuple[Calendar, str]:
        """The calendar of the schedule, exceptions and programs now (version 0), with hot
        water on every record as the ``dhw_enable`` option says, and its digest; built
        again only when one of them (or the zone) changed."""
        state = self._thermostat.state
        hot_water = bool(self._thermostat.options()["dhw_enable"])
        key = (state.schedule, state.exceptions, state.programs, state.timezone, hot_water)
        cached = self._calendar_cache
        if cached is None or cached[0] != key:  # the same objects: compared by identity
            calendar = calendar_from_schedule(
                state.schedule,
                state.exceptions,
                state.programs,
                tz=state.tz,
                version=0,
                hot_water=hot_water,
            )
            digest = hashlib.sha256(render_calendar(calendar).encode()).hexdigest()
            cached = self._calendar_cache = (key, calendar, digest)
        return cached[1], cached[2]

    async def _calendar_for(self, poll: Poll) -> Calendar | None:
        """The calendar for this poll: after ``init`` or a change, else None."""
        calendar, digest = self._current_calendar()
        version = await self._calendar_version(digest)
        unit = self._units.get(poll.hardware_id)
        if unit is None or (not poll.init and unit.calendar_version == version):
            return None
        await self._db.units.note_calendar(poll.hardware_id, version)
        self._units[poll.hardware_id] = replace(unit, calendar_version=version)
        return replace(calendar, version=version)

    async def _calendar_version(self, digest: str) -> int:
        """The version of the calendar with ``digest``: a new one when the records changed."""
        if self._calendar is None:
            stored: dict[str, Any] = await self._db.settings.get(UNIT_CALENDAR)
            version = stored.get("version")
            self._calendar = (
                (version, str(stored.get("digest")))
                if isinstance(version, int) and 0 <= version <= 0xFFFF
                else (0, "")
            )
        version, known = self._calendar
        if digest != known:
            version = (version + 1) & 0xFFFF
            await self._db.settings.set(UNIT_CALENDAR, {"version": version, "digest": digest})
            self._calendar = (version, digest)
        return version

    # -- watching and showing -------------------------------------------------------------

    async def run(self) -> None:
        """Re-read the registrations and mark units that stopped polling, until cancelled."""
        while True:
            await self._clock.sleep(WATCH_S)
            async with self._lock:
                registered = self._registered()
                await self.load()  # `unit add` and `unit remove` while the bridge runs
            if self._registered() != registered:
                self._thermostat.notify_state()  # clients see a unit added or removed at once
            self.check()
            try:
                await self.update_proposal()
            except Exception:  # a bad learned house must not stop the watch
                _LOGGER.exception("Could not work out a PID proposal for the wall unit")

    async def update_proposal(self) -> None:
        """Work out the house unit's PID proposal when it is due (see the module notes)."""
        house = self._units.get(self.house_unit() or "")
        learning = self._thermostat.learning
        snapshot = learning.snapshot
        own = None if house is None else house.own_pid
        if own is None or not snapshot.ready or snapshot.emitters is None:
            if self._proposal is not None or self._proposed_at is not None:
                self._proposal = self._proposal_for = self._proposed_at = None
                self._thermostat.notify_state()
            return
        now = self._clock.time()
        if (
            own == self._proposal_for
            and self._proposed_at is not None
            and 0.0 <= now - self._proposed_at < PROPOSE_EVERY_S
        ):
            return
        learner = learning.learner
        plant = Plant(
            model=learner.model,
            emitters=snapshot.emitters,
            max_heat_w=learning.boost_power_w() or learner.heat_source.max_w or ASSUMED_BOILER_W,
            max_flow_c=control_config(self._thermostat.options()).max_ch_setpoint,
        )
        home = self._thermostat.state.programs.temperature("home")
        self._proposed_at, self._proposal_for = now, own  # one try a day, even a failed one
        proposal = await asyncio.to_thread(propose, plant, Pid(*own), target_c=home)
        if proposal != self._proposal:
            self._proposal = proposal
            if proposal is not None:
                _LOGGER.info(
                    "Proposed PID for wall unit %s: kp %g, ti %g s, td %g s (%s)",
                    house.hardware_id if house else "",
                    proposal.pid.kp,
                    proposal.pid.ti,
                    proposal.pid.td,
                    ", ".join(proposal.reasons),
                )
            self._thermostat.notify_state()

    def _registered(self) -> dict[str, bool]:
        """The registered units and which is the house's."""
        return {hardware_id: unit.house for hardware_id, unit in self._units.items()}

    def check(self) -> None:
        """Mark units that stopped polling as gone (and tell listeners).

        A unit not heard from since the bridge started is gone once the bridge
        has run for the link's silence without its poll.
        """
        link_state = self._link.check()
        now = self._clock.time()
        changed = False
        for hardware_id, live in self._live.items():
            if live.connected is False:
                continue
            since = live.last_seen if live.connected and live.last_seen is not None else None
            if now - (self._started if since is None else since) <= self._link.silence_s:
                continue
            live.connected = False
            changed = True
            if since is not None:
                _LOGGER.warning("ThermoSmart wall unit %s stopped polling", hardware_id)
            elif live.last_seen is not None:
                _LOGGER.warning(
                    "ThermoSmart wall unit %s has not polled since the bridge started", hardware_id
                )
            else:
                _LOGGER.warning(
                    "ThermoSmart wall unit %s has never polled: point it at this bridge"
                    " (docs/thermosmart-unit.md)",
                    hardware_id,
                )
        if changed:
            self._thermostat.notify_state()
            if link_state != LinkState.CONNECTED:
                self._thermostat.notify_changes()

    def _view_key(self, hardware_id: str, live: _Live) -> tuple[Any, ...]:
        """What the native view shows of a unit, but its last-seen time."""
        return (
            hardware_id in self._units,
            live.connected,
            live.revision,
            live.firmware,
            live.room,
            live.source,
            live.setpoint,
            live.pid,
        )

    def units(self) -> list[WallUnit]:
        """Every registered unit and what it said last (no password)."""
        out = []
        for unit in self._units.values():
            live = self._live.get(unit.hardware_id, _Live())
            out.append(
                WallUnit(
                    hardware_id=unit.hardware_id,
                    house=unit.house,
                    connected=live.connected,
                    last_seen=live.last_seen,
                    revision=live.revision,
                    firmware=live.firmware,
                    room_temperature=live.room,
                    source=None if live.source is None else SOURCES[live.source],
                    setpoint=live.setpoint
                    if live.source == UnitSource.MANUAL
                    else live.sent_setpoint,
                    pid=live.pid,
                    pid_proposal=_proposal_view(self._proposal) if unit.house else None,
                    calendar_version=unit.calendar_version,
                )
            )
        return out


def _figures_view(figures: LoopFigures) -> PidFigures:
    return PidFigures(
        overshoot_k=figures.overshoot_k,
        rise_s=None if figures.rise_s is None else round(figures.rise_s),
        settled_error_k=figures.settled_error_k,
    )


def _proposal_view(proposal: PidProposal | None) -> UnitPidProposal | None:
    if proposal is None:
        return None
    pid = proposal.pid
    return UnitPidProposal(
        pid=UnitPid(kp=pid.kp, ti=pid.ti, td=pid.td),
        reasons=list(proposal.reasons),
        own=_figures_view(proposal.current),
        proposed=_figures_view(proposal.proposed),
    )


def _index(names: tuple[str, ...], value: str | None) -> int | None:
    return None if value is None else names.index(value)


__all__ = ["UnitRefused", "UnitService"]
