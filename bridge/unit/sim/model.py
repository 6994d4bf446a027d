"""A simulated ThermoSmart wall unit: what it measures, follows, drives and says.

:class:`SimUnit` is pure: it lives on a :class:`~bridge.opentherm.sim.SimWorld`
(the simulated house and boiler) and moves only when :meth:`SimUnit.advance_to`
is called; the poll client (:mod:`.client`) carries its polls and answers.

What it does, as the real unit does (``THERMOSMART_UNIT.md``):

* **Measures** the room with the world's room sensor (0.1 °C steps) plus
  its calibration (``TA``).
* **Drives the boiler** as its OpenTherm master: every
  :data:`CONTROL_STEP_S` seconds it reads the status (ID 0, its master flags
  enabling heating and hot water) and writes the control setpoint (ID 1)
  from its own PID on the room error (:class:`~bridge.unit.pid.PidLoop`),
  up to the boiler's maximum (ID 57). The ids it reports (``ot*``) are
  read from the boiler when it polls; what the boiler does not answer is
  ``DEAD``.
* **Follows**, by priority: pause (``PAUSE``: it holds
  :data:`~bridge.unit.limits.TARGET_RANGE`'s lowest, frost protection,
  ``src=5``); the dial (:meth:`SimUnit.turn_dial`, ``src=1``, ``csv``) until
  the next block of its calendar; the server's ``SVSET`` (``src=2``) as long
  as the server answers (after :attr:`SimUnit.server_hold_s` without an
  answer, :data:`SERVER_HOLD_POLLS` polls' worth but at least
  :data:`SERVER_HOLD_S`, it goes back to its calendar); otherwise its stored calendar, week
  records in its local time (its clock plus the ``TZ`` it was sent; ``src=3``)
  and exceptions (``src=4``). After a restart it reports ``src=0`` until the
  next block, a command or ``INIT``, holding its calendar's target; without
  any calendar it holds :data:`DEFAULT_TARGET`.
* **Keeps in flash** the last calendar (with its version) and its settings
  (``TZ``, ``TA``, ``DIM``, ``SLS``, ``SD``, ``PID``, ``TH``, the locale and hot
  water of ``INIT``); a restart loses the rest, and its polls carry ``init``
  until a server answers one.
* **Polls** every :func:`~bridge.unit.protocol.poll_interval` of its
  throttle; its clock (``ts``) runs ``clock_error_s`` off until a ``TS``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from bridge.opentherm.formats import decode_f8_8, encode_f8_8
from bridge.opentherm.frame import Frame, MsgType
from bridge.opentherm.sim.world import PHYSICS_STEP_S, SimWorld
from bridge.unit.calendar import SOURCE_EXCEPTION, Calendar, CalendarTarget, calendar_target
from bridge.unit.limits import TARGET_RANGE
from bridge.unit.pid import STOCK_PID, PidLoop
from bridge.unit.protocol import (
    OPENTHERM_IDS,
    REVISIONS,
    Answer,
    Pid,
    Poll,
    UnitSource,
    build_request_path,
    decrypt_answer,
    encrypt_poll,
    parse_answer,
    poll_interval,
    render_poll,
)

__all__ = [
    "CONTROL_STEP_S",
    "DEFAULT_TARGET",
    "SERVER_HOLD_POLLS",
    "SERVER_HOLD_S",
    "SimUnit",
    "UnitSettings",
]

#: How often the unit runs its PID and talks to the boiler (s): the world's physics step.
CONTROL_STEP_S = PHYSICS_STEP_S
#: What a unit holds before it has any calendar (°C).
DEFAULT_TARGET = 20.0
#: How long a server's SVSET holds at least without an answer from the server (s)…
SERVER_HOLD_S = 60.0
#: …or this many poll intervals, when its throttle makes them longer.
SERVER_HOLD_POLLS = 3
#: The boiler's maximum flow when it does not say (ID 57), °C.
_FALLBACK_MAX_FLOW_C = 80.0
# The firmware each revision reports: made-up versions in the spec's form
# (revision 5 prefixes a letter, as in its example A30050046).
_FIRMWARE: Final = {1: "10025", 2: "20031", 3: "30040", 4: "40046", 5: "A30050046"}
_MASTER_CH, _MASTER_DHW = 0x01, 0x02


@dataclass(frozen=True, slots=True)
class UnitSettings:
    """What the unit keeps in flash besides its calendar."""

    tz_minutes: int = 60
    calibration: float = 0.0
    brightness: int = 100
    status_led: int = 2
    display: int = 0
    pid: Pid = STOCK_PID
    throttle: int = 0
    locale: str = "nl-NL"
    hot_water: bool = True


class SimUnit:
    """A ThermoSmart wall unit on a simulated house and boiler (see the module notes)."""

    def __init__(
        self,
        world: SimWorld,
        *,
        hardware_id: str,
        password: str,
        revision: int = 5,
        clock_error_s: float = 0.0,
        settings: UnitSettings | None = None,
    ) -> None:
        if revision not in REVISIONS:
            raise ValueError(f"a unit's hardware revision is {REVISIONS[0]}-{REVISIONS[-1]}")
        # checks the hardware id and the password once, here
        build_request_path(hardware_id, "00")
        encrypt_poll({}, password, revision=revision)
        self.world = world
        self.hardware_id = hardware_id
        self.password = password
        self.revision = revision
        self.firmware = _FIRMWARE[revision]
        self.settings = settings or UnitSettings()
        self.calendar: Calendar | None = None
        self.outside: float | None = None
        self.restarts = 0
        self._clock_error = clock_error_s
        self._next_control = world.now
        self._loop = PidLoop(self.settings.pid, self._read_max_flow())
        self.calendars_received = 0
        self.pids_received = 0
        self._boot()

    def _boot(self) -> None:
        """The state a (re)start begins with: everything not in flash."""
        self._crashed = self.restarts > 0
        self._crash_block: tuple[str, int, int] | None = self._block_key()
        self._paused = False
        self._server_target: float | None = None
        self.last_answer_at: float | None = None
        self._dial: float | None = None
        self._dial_block: tuple[str, int, int] | None = None
        self._init_pending = True
        self._loop = PidLoop(self.settings.pid, self._loop.max_flow)

    # ------------------------------------------------------------ time

    @property
    def now(self) -> float:
        """The world's time (Unix seconds)."""
        return self.world.now

    @property
    def clock(self) -> int:
        """The unit's own clock (``ts``), Unix seconds."""
        return max(0, int(self.world.now + self._clock_error))

    @property
    def poll_interval(self) -> float:
        """Seconds until its next poll, at its throttle."""
        return poll_interval(self.settings.throttle)

    @property
    def server_hold_s(self) -> float:
        """How long the server's ``SVSET`` holds without an answer (s)."""
        return max(SERVER_HOLD_S, SERVER_HOLD_POLLS * self.poll_interval)

    def advance_to(self, ts: float) -> None:
        """Run the house, the boiler and the unit's control up to ``ts``."""
        while self._next_control <= ts:
            self.world.advance_to(self._next_control)
            self._control()
            self._next_control += CONTROL_STEP_S
        self.world.advance_to(ts)

    def restart(self) -> None:
        """A power cut or reset: it keeps its flash, its next polls carry ``init``."""
        self.restarts += 1
        self._boot()

    # ------------------------------------------------------------ what it follows

    def _calendar_now(self) -> CalendarTarget | None:
        if self.calendar is None:
            return None
        return calendar_target(self.calendar, self.clock, self.settings.tz_minutes)

    def _block_key(self) -> tuple[str, int, int] | None:
        block = self._calendar_now()
        return None if block is None else (block.source, block.index, block.since)

    def _resolve(self) -> tuple[float, UnitSource, bool]:
        """(target, source, hot water) now; ends a dial or SVSET that has run out."""
        block = self._calendar_now()
        key = None if block is None else (block.source, block.index, block.since)
        hot_water = self.settings.hot_water and (block is None or block.hot_water)
        if self._paused:
            return TARGET_RANGE[0], UnitSource.PAUSE, hot_water
        if self._dial is not None:
            if key == self._dial_block:
                return self._dial, UnitSource.MANUAL, hot_water
            self._dial = None
        if self._server_target is not None:
            if (
                self.last_answer_at is not None
                and self.now - self.last_answer_at <= self.server_hold_s
            ):
                return self._server_target, UnitSource.SERVER, hot_water
            self._server_target = None
        if self._crashed and key != self._crash_block:
            self._crashed = False
        if block is None:
            source = UnitSource.CRASH if self._crashed else UnitSource.WEEK
            return DEFAULT_TARGET, source, hot_water
        if self._crashed:
            source = UnitSource.CRASH
        elif block.source == SOURCE_EXCEPTION:
            source = UnitSource.EXCEPTION
        else:
            source = UnitSource.WEEK
        return block.temperature, source, hot_water

    @property
    def target(self) -> float:
        """The room temperature it holds now (°C)."""
        return self._resolve()[0]

    @property
    def source(self) -> UnitSource:
        """What it follows now (``src``)."""
        return self._resolve()[1]

    def turn_dial(self, temperature: float) -> None:
        """Someone turns the dial: follow ``temperature`` until the next calendar block."""
        low, high = TARGET_RANGE
        if not low <= temperature <= high:
            raise ValueError(f"the dial goes from {low:g} to {high:g} °C")
        self._dial = round(temperature * 10) / 10
        self._dial_block = self._block_key()
        self._paused = False
        self._crashed = False

    # ------------------------------------------------------------ measuring and heating

    def room_reading(self) -> float:
        """Its room sensor: the world's reading (0.1 °C steps) plus its calibration."""
        return round(self.world.room_sensor_c() + self.settings.calibration, 1)

    def _ot(self, msg_type: MsgType, data_id: int, value: int = 0) -> Frame | None:
        return self.world.boiler.handle(Frame(msg_type, data_id, value))

    def _read_max_flow(self) -> float:
        answer = self._ot(MsgType.READ_DATA, 57)
        if answer is None or answer.msg_type is not MsgType.READ_ACK:
            return _FALLBACK_MAX_FLOW_C
        return decode_f8_8(answer.value)

    @property
    def flow_setpoint(self) -> float:
        """The flow temperature its PID last asked of the boiler (°C; 0 while not heating)."""
        return self._loop.flow

    @property
    def heating(self) -> bool:
        """Whether its PID last asked the boiler to heat."""
        return self._loop.heating

    def _control(self) -> None:
        target, _, hot_water = self._resolve()
        self._loop.step(target, self.room_reading(), CONTROL_STEP_S)
        flags = (_MASTER_CH if self.heating else 0) | (_MASTER_DHW if hot_water else 0)
        self._ot(MsgType.READ_DATA, 0, flags << 8)
        self._ot(MsgType.WRITE_DATA, 1, encode_f8_8(self.flow_setpoint))

    def _opentherm(self) -> dict[int, int | None]:
        values: dict[int, int | None] = {}
        flags = (_MASTER_CH if self.heating else 0) | (_MASTER_DHW if self._resolve()[2] else 0)
        for data_id in OPENTHERM_IDS:
            if data_id == 1:
                request = Frame(MsgType.WRITE_DATA, 1, encode_f8_8(self.flow_setpoint))
                wanted = MsgType.WRITE_ACK
            else:
                request = Frame(MsgType.READ_DATA, data_id, flags << 8 if data_id == 0 else 0)
                wanted = MsgType.READ_ACK
            answer = self.world.boiler.handle(request)
            ok = answer is not None and answer.msg_type is wanted
            values[data_id] = answer.value if answer is not None and ok else None
        return values

    # ------------------------------------------------------------ talking to the server

    def poll(self) -> Poll:
        """What it says in its next poll."""
        target, source, _ = self._resolve()
        return Poll(
            hardware_id=self.hardware_id,
            revision=self.revision,
            firmware=self.firmware,
            room_temperature=self.room_reading(),
            source=source,
            dial_setpoint=target if source is UnitSource.MANUAL else None,
            opentherm=self._opentherm(),
            opentherm_boiler=True,
            pid=self.settings.pid,
            clock=self.clock,
            init=self._init_pending,
        )

    def request_path(self) -> str:
        """``/api?_<HWID>_<HEX>`` of its next poll."""
        fields = render_poll(self.poll(), self.password)
        return build_request_path(
            self.hardware_id, encrypt_poll(fields, self.password, revision=self.revision)
        )

    def receive(self, body: str) -> Answer:
        """Take a server's answer body (hex); ``UnitProtocolError`` if it is not one."""
        answer = parse_answer(decrypt_answer(body.strip(), self.password))
        self.apply(answer)
        return answer

    def apply(self, answer: Answer) -> None:
        """Do what an answer says."""
        self.last_answer_at = self.now
        self._init_pending = False
        settings = self.settings
        if answer.init is not None:
            settings = replace(settings, locale=answer.init.locale, hot_water=answer.init.hot_water)
            self._follow(answer.init.source)
        if answer.tz_minutes is not None:
            settings = replace(settings, tz_minutes=answer.tz_minutes)
        if answer.calibration is not None:
            settings = replace(settings, calibration=answer.calibration)
        if answer.brightness is not None:
            settings = replace(settings, brightness=answer.brightness)
        if answer.status_led is not None:
            settings = replace(settings, status_led=answer.status_led)
        if answer.display is not None:
            settings = replace(settings, display=answer.display)
        if answer.pid is not None:
            settings = replace(settings, pid=answer.pid)
            self._loop.reset(answer.pid)
            self.pids_received += 1
        if answer.throttle is not None:
            settings = replace(settings, throttle=answer.throttle)
        self.settings = settings
        if answer.time is not None:
            self._clock_error = answer.time - self.world.now
        if answer.calendar is not None:
            self.calendar = answer.calendar
            self.calendars_received += 1
        if answer.outside is not None:
            self.outside = answer.outside
        if answer.pause is not None:
            self._paused = answer.pause
            if answer.pause:
                self._dial = None
        if answer.setpoint is not None:
            self._server_target = answer.setpoint
            self._dial = None
            self._crashed = False

    def _follow(self, source: UnitSource) -> None:
        """``INIT``'s ``SRC``: start following ``source``."""
        self._crashed = False
        self._paused = source is UnitSource.PAUSE
        if source is not UnitSource.MANUAL:
            self._dial = None
        if source is not UnitSource.SERVER:
            self._server_target = None
