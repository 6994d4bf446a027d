"""A simulated OpenTherm Gateway: an OTGW-compatible TCP text server on a simulated boiler.

The server plays a gateway in stand-alone mode (no thermostat attached): once
per cycle it is the OpenTherm master towards the boiler (ID 0 with the
master flags, ID 1 while a control setpoint is set, ID 14 while a maximum
modulation is set, one-shot writes of 56/57 after ``SW=``/``SH=``, any
``PM=`` priority reads, then a few round-robin reads) and prints what it
sends and receives as monitor lines (``R…``, ``B…``) to every client, or
one summary line per cycle after ``PS=1``. Commands get the gateway's reply
formats and error codes. Hooks let tests inject faults: garbage lines,
``E`` lines, silence, dropped and refused connections.
"""

from __future__ import annotations

import asyncio
from collections import deque
import contextlib
import logging
import re
from typing import TYPE_CHECKING, Final

from bridge.opentherm import otgw_protocol as proto
from bridge.opentherm.formats import encode_f8_8
from bridge.opentherm.frame import Direction, Frame, FrameError, MsgType
from bridge.opentherm.sim.serve import serve_world
from bridge.opentherm.sim.world import DEFAULT_SEED

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from bridge.core.clock import Clock
    from bridge.opentherm.slave import OpenThermSlave

_LOGGER = logging.getLogger(__name__)

#: The port the simulated gateway listens on by default.
DEFAULT_PORT: Final = 25238

#: The ids the gateway reads in turn, a few per cycle.
DEFAULT_READ_IDS: Final[tuple[int, ...]] = (
    3, 5, 6, 15, 17, 18, 19, 25, 26, 27, 28, 33, 48, 49, 56, 57,
    115, 116, 117, 118, 119, 120, 121, 122, 123, 125, 127,
)  # fmt: skip

#: After this many UNKNOWN-DATAID answers in a row, an id leaves the round robin.
UNKNOWN_LIMIT: Final = 3

_COMMAND_RE = re.compile(r"^([A-Za-z][A-Za-z0-9])=(.*)$")
_NUMBER_RE = re.compile(r"^[+-]?\d{1,3}(?:\.\d+)?$")
_INT_RE = re.compile(r"^\d{1,3}$")
_CLOCK_RE = re.compile(r"^(\d{1,2}):(\d{2})/(\d)$")
_LINE_SPLIT = re.compile(rb"[\r\n]")
_MAX_COMMAND = 64
_MAX_CLIENT_BUFFER = 1 << 20
_ANSWER_TYPES: Final = frozenset({MsgType.READ_ACK, MsgType.WRITE_ACK})


class SimOtgwServer:
    """An OTGW-compatible TCP server in front of an :class:`OpenThermSlave`."""

    def __init__(
        self,
        slave: OpenThermSlave,
        clock: Clock,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        cycle: float = 1.0,
        firmware: str = "6.5",
        reads_per_cycle: int = 2,
        read_ids: Sequence[int] = DEFAULT_READ_IDS,
    ) -> None:
        """Build the server; ``cycle`` is the master cycle in the clock's seconds."""
        self.slave = slave
        self.clock = clock
        self.host = host
        self.firmware = firmware
        self.cycle = cycle
        self.reads_per_cycle = reads_per_cycle
        self._requested_port = port
        self._server: asyncio.Server | None = None
        self._master_task: asyncio.Task[None] | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self._client_tasks: set[asyncio.Task[None]] = set()
        self._clients_changed = asyncio.Event()
        self._read_ids = list(read_ids)
        self._next_read = 0
        self._unknown: dict[int, int] = {}
        self._answers: dict[int, Frame] = {}
        self._priority: deque[int] = deque()
        self._one_shot: deque[Frame] = deque()
        #: Fault injection: when True the gateway neither prints nor answers.
        self.silent = False
        #: Fault injection: when False new connections are closed at once.
        self.accepting = True
        #: Fault injection: command code -> error code the gateway answers instead.
        self.refuse: dict[str, str] = {}
        self.cycles = 0
        self.commands: list[str] = []
        self._reset_state()
        self.reset_cause = "P"

    def _reset_state(self) -> None:
        self.gateway_mode = True
        self.summary_mode = False
        self.control_setpoint: float | None = None
        self.ch_override: bool | None = None
        self.dhw_override: str | None = None  # "0", "1", "P" or None (automatic)
        self.max_modulation: int | None = None
        self.outside_temperature: float | None = None
        self.clock_setting: str | None = None
        self.dhw_setpoint: float | None = None
        self.max_ch_setpoint: float | None = None
        self._priority.clear()
        self._one_shot.clear()

    # -------------------------------------------------------------- lifecycle

    @property
    def port(self) -> int:
        """The bound port (the requested one before :meth:`start`)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._requested_port

    async def start(self) -> None:
        """Listen and start the master cycle."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._serve_client, self.host, self._requested_port
        )
        self._master_task = asyncio.create_task(self._master_loop(), name="sim-otgw master")
        _LOGGER.info("simulated OpenTherm Gateway listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop the master cycle, close every connection and stop listening."""
        task, self._master_task = self._master_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        server, self._server = self._server, None
        if server is not None:
            server.close()
        await self.drop_clients()
        tasks = list(self._client_tasks)
        for client_task in tasks:
            client_task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    # -------------------------------------------------------------- fault injection

    @property
    def client_count(self) -> int:
        """How many clients are connected."""
        return len(self._clients)

    async def wait_for_clients(self, count: int) -> None:
        """Wait until at least ``count`` clients are connected (wrap in a timeout)."""
        while len(self._clients) < count:
            self._clients_changed.clear()
            await self._clients_changed.wait()

    def emit_line(self, text: str) -> None:
        """Print one line to every client (even when silent)."""
        self._send(f"{text}\r\n".encode("ascii", "replace"), force=True)

    def emit_raw(self, data: bytes) -> None:
        """Send raw bytes to every client (even when silent)."""
        self._send(data, force=True)

    def emit_garbage(self, text: str = "~#?garbled@!") -> None:
        """Print a line that is no gateway message."""
        self.emit_line(text)

    def emit_error_frame(self, frame: Frame | None = None) -> None:
        """Print an ``E`` line: a frame received with a parity error."""
        sample = frame or Frame(MsgType.READ_ACK, 25, encode_f8_8(40.0))
        self.emit_line(f"E{sample.to_int() ^ 0x8000_0000:08X}")

    async def drop_clients(self) -> None:
        """Close every client connection (the server keeps listening)."""
        writers = list(self._clients)
        self._clients.clear()
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(OSError, RuntimeError):
                await writer.wait_closed()

    # -------------------------------------------------------------- the master side

    def master_flags(self) -> int:
        """The master status byte the gateway sends in ID 0."""
        if self.ch_override is not None:
            ch = self.ch_override
        else:
            ch = self.control_setpoint is not None and self.control_setpoint > 0
        dhw = self.dhw_override != "0"
        return int(ch) | int(dhw) << 1

    def run_cycle(self) -> None:
        """One master cycle: status, overrides, priority and round-robin reads."""
        self.cycles += 1
        self._converse(Frame(MsgType.READ_DATA, 0, self.master_flags() << 8))
        if self.control_setpoint is not None and self.control_setpoint > 0:
            self._converse(Frame(MsgType.WRITE_DATA, 1, encode_f8_8(self.control_setpoint)))
        if self.max_modulation is not None:
            self._converse(Frame(MsgType.WRITE_DATA, 14, encode_f8_8(self.max_modulation)))
        while self._one_shot:
            self._converse(self._one_shot.popleft())
        self._serve_priority()
        for _ in range(min(self.reads_per_cycle, len(self._read_ids))):
            self._next_read %= len(self._read_ids)
            data_id = self._read_ids[self._next_read]
            self._next_read += 1
            self._converse(Frame(MsgType.READ_DATA, data_id, 0))
        if self.summary_mode:
            self._print(self.summary_line())

    def summary_line(self) -> str:
        """The ``PS=1`` line for what the boiler last answered."""
        values = {data_id: frame.value for data_id, frame in self._answers.items()}
        major = self.firmware.split(".", 1)[0]
        return proto.format_summary(values, firmware5=not major.isdigit() or int(major) >= 5)

    def _serve_priority(self) -> None:
        while self._priority:
            data_id = self._priority.popleft()
            value = self.master_flags() << 8 if data_id == 0 else 0
            self._converse(Frame(MsgType.READ_DATA, data_id, value))

    def _ask(self, request: Frame) -> tuple[Frame | None, int | None]:
        """The slave's answer, or the raw bits of an answer that fails validation."""
        handle_raw = getattr(self.slave, "handle_raw", None)
        if not callable(handle_raw):
            return self.slave.handle(request), None
        raw: int | None = handle_raw(request.to_int())
        if raw is None:
            return None, None
        try:
            return Frame.from_int(raw, direction=Direction.SLAVE_TO_MASTER), None
        except FrameError:
            return None, raw

    def _converse(self, request: Frame) -> Frame | None:
        answer, garbled = self._ask(request)
        if not self.summary_mode:
            self._print(proto.monitor_line("R", request))
        if answer is None:
            if garbled is not None and not self.summary_mode:
                self._print(f"E{garbled & 0xFFFF_FFFF:08X}")
            return None
        if not self.summary_mode:
            self._print(proto.monitor_line("B", answer))
        if answer.msg_type in _ANSWER_TYPES and answer.data_id == request.data_id:
            self._answers[answer.data_id] = answer
        self._track_unknown(request.data_id, answer)
        return answer

    def _track_unknown(self, data_id: int, answer: Frame) -> None:
        if answer.msg_type is not MsgType.UNKNOWN_DATAID:
            self._unknown.pop(data_id, None)
            return
        self._unknown[data_id] = self._unknown.get(data_id, 0) + 1
        if self._unknown[data_id] >= UNKNOWN_LIMIT and data_id in self._read_ids:
            self._read_ids.remove(data_id)

    async def _master_loop(self) -> None:
        next_cycle = self.clock.monotonic()
        while True:
            now = self.clock.monotonic()
            if now >= next_cycle:
                self.run_cycle()
                next_cycle = max(next_cycle + self.cycle, now)
            await self.clock.sleep(next_cycle - self.clock.monotonic())

    # -------------------------------------------------------------- clients

    def _print(self, line: str) -> None:
        self._send(f"{line}\r\n".encode("ascii"), force=False)

    def _send(self, data: bytes, *, force: bool) -> None:
        if self.silent and not force:
            return
        for writer in list(self._clients):
            if writer.is_closing():
                self._clients.discard(writer)
                continue
            if writer.transport.get_write_buffer_size() > _MAX_CLIENT_BUFFER:
                _LOGGER.warning("dropping a simulated-gateway client that does not read")
                self._clients.discard(writer)
                writer.close()
                continue
            writer.write(data)

    async def _serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._client_tasks.add(task)
        try:
            if not self.accepting:
                return
            self._clients.add(writer)
            self._clients_changed.set()
            buf = b""
            while True:
                chunk = await reader.read(1024)
                if not chunk:
                    return
                *lines, buf = _LINE_SPLIT.split(buf + chunk)
                for raw in lines:
                    if raw.strip():
                        self._on_command_line(raw)
                if len(buf) > _MAX_COMMAND:
                    buf = b""
                    self._print("SE")
        except (OSError, asyncio.IncompleteReadError):
            return
        finally:
            self._clients.discard(writer)
            writer.close()
            if task is not None:
                self._client_tasks.discard(task)

    def _on_command_line(self, raw: bytes) -> None:
        if self.silent:
            return
        text = raw.decode("ascii", "replace").strip()
        self.commands.append(text)
        for line in self.handle_command(text):
            self._print(line)

    # -------------------------------------------------------------- commands

    def handle_command(self, text: str) -> list[str]:
        """Carry out one command line; returns the lines the gateway prints."""
        m = _COMMAND_RE.match(text.strip())
        if m is None:
            return ["SE"]
        code, value = m.group(1).upper(), m.group(2).strip()
        handler = self._handlers().get(code)
        if handler is None:
            return ["NG"]
        if not value:
            return ["SE"]
        if code in self.refuse:
            return [self.refuse[code]]
        return handler(value)

    def _handlers(self) -> dict[str, Callable[[str], list[str]]]:
        return {
            "CS": self._cmd_cs,
            "CH": self._cmd_ch,
            "SH": self._cmd_sh,
            "SW": self._cmd_sw,
            "MM": self._cmd_mm,
            "OT": self._cmd_ot,
            "SC": self._cmd_sc,
            "PS": self._cmd_ps,
            "PR": self._cmd_pr,
            "GW": self._cmd_gw,
            "HW": self._cmd_hw,
            "PM": self._cmd_pm,
        }

    @staticmethod
    def _number(value: str) -> float | None:
        return float(value) if _NUMBER_RE.match(value) else None

    def _cmd_cs(self, value: str) -> list[str]:
        t = self._number(value)
        if t is None:
            return ["BV"]
        if not 0 <= t <= 100:
            return ["OR"]
        self.control_setpoint = t if t > 0 else None
        return [f"CS: {t:.2f}"]

    def _cmd_ch(self, value: str) -> list[str]:
        if value not in ("0", "1"):
            return ["BV"]
        self.ch_override = value == "1"
        return [f"CH: {value}"]

    def _water_setpoint(self, code: str, data_id: int, value: str) -> list[str]:
        t = self._number(value)
        if t is None:
            return ["BV"]
        if not 0 <= t <= 100:
            return ["OR"]
        self._one_shot.append(Frame(MsgType.WRITE_DATA, data_id, encode_f8_8(t)))
        return [f"{code}: {t:.2f}"]

    def _cmd_sh(self, value: str) -> list[str]:
        lines = self._water_setpoint("SH", 57, value)
        if lines[0].startswith("SH:"):
            self.max_ch_setpoint = float(value)
        return lines

    def _cmd_sw(self, value: str) -> list[str]:
        lines = self._water_setpoint("SW", 56, value)
        if lines[0].startswith("SW:"):
            self.dhw_setpoint = float(value)
        return lines

    def _cmd_mm(self, value: str) -> list[str]:
        if not (value[0].isdigit() or value[0] in "+-"):
            self.max_modulation = None
            return ["MM: -"]
        if _INT_RE.match(value) is None:
            return ["BV"]
        pct = int(value)
        if pct > 100:
            return ["OR"]
        self.max_modulation = pct
        return [f"MM: {pct}"]

    def _cmd_ot(self, value: str) -> list[str]:
        t = self._number(value)
        if t is None:
            return ["BV"]
        if t < -40:
            return ["OR"]
        if t > 64:
            self.outside_temperature = None
            return ["OT: -"]
        self.outside_temperature = t
        return [f"OT: {t:.2f}"]

    def _cmd_sc(self, value: str) -> list[str]:
        m = _CLOCK_RE.match(value)
        if m is None:
            return ["SE"]
        hour, minute, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if hour > 23 or minute > 59 or not 1 <= day <= 7:
            return ["OR"]
        self.clock_setting = f"{hour:02d}:{minute:02d}/{day}"
        return [f"SC: {self.clock_setting}"]

    def _cmd_ps(self, value: str) -> list[str]:
        if value not in ("0", "1"):
            return ["BV"]
        self.summary_mode = value == "1"
        if self.summary_mode:
            return [f"PS: {value}", self.summary_line()]
        return [f"PS: {value}"]

    def _cmd_pr(self, value: str) -> list[str]:
        if len(value) != 1:
            return ["SE"]
        letter = value.upper()
        text = self._reports().get(letter)
        if text is None:
            return ["BV"]
        return [f"PR: {letter}={text}"]

    def _reports(self) -> dict[str, str]:
        return {
            "A": f"OpenTherm Gateway {self.firmware}",
            "B": "00:00 01-01-2026",
            "C": "4MHz",
            "D": "O",
            "G": "00",
            "I": "00",
            "L": "FXOMPC",
            "M": "G" if self.gateway_mode else "M",
            "O": "N",
            "P": "Low power",
            "Q": self.reset_cause,
            "R": "D",
            "S": "16.00",
            "T": "00",
            "V": "3",
            "W": self.dhw_override or "A",
        }

    def _cmd_gw(self, value: str) -> list[str]:
        if value.upper() == "R":
            self._reset_state()
            self.reset_cause = "C"
            return [f"OpenTherm Gateway {self.firmware}"]
        if value not in ("0", "1"):
            return ["BV"]
        self.gateway_mode = value == "1"
        return [f"GW: {value}"]

    def _cmd_hw(self, value: str) -> list[str]:
        if len(value) != 1:
            return ["SE"]
        state = value.upper()
        if state in ("0", "1", "P"):
            self.dhw_override = state
            return [f"HW: {state}"]
        self.dhw_override = None
        return ["HW: A"]

    def _cmd_pm(self, value: str) -> list[str]:
        if _INT_RE.match(value) is None:
            return ["BV"]
        data_id = int(value)
        if data_id > 255:
            return ["OR"]
        self._priority.append(data_id)
        if self._master_task is not None:
            # the next opportunity: right after this reply, between two cycles
            asyncio.get_running_loop().call_soon(self._serve_priority)
        return [f"PM: {data_id}"]


async def serve_sim_otgw(
    host: str, port: int, *, seed: int = DEFAULT_SEED, speed: float = 1.0
) -> None:
    """Run a simulated house and boiler behind an OpenTherm Gateway TCP server until cancelled.

    The world runs ``speed`` times faster than real time, starting now. The
    gateway's master cycle is one simulated second, but at most twenty per
    real second.
    """
    await serve_world(
        lambda slave, clock, cycle: SimOtgwServer(slave, clock, host, port, cycle=cycle),
        seed=seed,
        speed=speed,
        name="sim-otgw-world",
    )
