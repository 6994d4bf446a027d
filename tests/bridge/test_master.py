"""The OpenTherm master on a virtual clock, against a scripted boiler and link."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
import itertools
import math
import re

import pytest

from bridge.core.clock import SystemClock, VirtualClock
from bridge.core.contract import render
from bridge.opentherm.formats import decode_f8_8, encode_f8_8
from bridge.opentherm.frame import Frame, MsgType
from bridge.opentherm.links.base import (
    BoilerLink,
    LinkCounters,
    LinkError,
    LinkState,
    LinkTimeout,
    StateListener,
)
from bridge.opentherm.master import OpenThermMaster
from bridge.opentherm.master_schedule import (
    CAPABILITY_IDS,
    MasterConfig,
    Targets,
)
from bridge.opentherm.slave import OpenThermSlave
from bridge.services.state import boiler_snapshot

# ---------------------------------------------------------------- test doubles


def f88(value: float) -> int:
    return encode_f8_8(value)


def s8s8(high: int, low: int) -> int:
    return (high & 0xFF) << 8 | (low & 0xFF)


class ScriptedBoiler:
    """An OpenThermSlave whose answers the test sets per data-id."""

    def __init__(self) -> None:
        self.values: dict[int, int] = {
            3: 0x0100 | 0x00,  # DHW present, modulating, member id 0
            5: 0x0000,
            6: 0x0303,  # DHW and max CH setpoint: transfer enabled, read/write
            15: 0x1E14,  # 30 kW, 20 %
            17: f88(35.0),
            18: f88(1.5),
            25: 0x2A80,  # 42.5 °C
            26: f88(48.0),
            27: f88(5.0),
            28: f88(38.0),
            48: s8s8(60, 40),
            49: s8s8(80, 25),
            56: f88(50.0),
            57: f88(80.0),
            115: 0,
            125: f88(2.2),
            127: 0x0102,
            **dict.fromkeys(range(116, 124), 7),
        }
        self.unknown: set[int] = set()
        self.invalid: set[int] = set()
        self.silent: dict[int, int] = {}
        self.ack_override: dict[int, int] = {}
        self.slave_flags = 0x00
        self.master_flags: int | None = None

    def handle(self, request: Frame) -> Frame | None:
        did = request.data_id
        if self.silent.get(did, 0) > 0:
            self.silent[did] -= 1
            return None
        if did == 0:
            self.master_flags = request.hb
            return Frame(MsgType.READ_ACK, 0, request.hb << 8 | self.slave_flags)
        if did in self.unknown:
            return Frame(MsgType.UNKNOWN_DATAID, did, request.value)
        if did in self.invalid:
            return Frame(MsgType.DATA_INVALID, did, request.value)
        if request.msg_type is MsgType.WRITE_DATA:
            word = self.ack_override.get(did, request.value)
            self.values[did] = word
            return Frame(MsgType.WRITE_ACK, did, word)
        if did not in self.values:
            return Frame(MsgType.UNKNOWN_DATAID, did, 0)
        return Frame(MsgType.READ_ACK, did, self.values[did])


@dataclass
class Conversation:
    start: float
    end: float
    request: Frame
    answer: Frame | None


class ScriptedLink:
    """A BoilerLink over a slave, answering after ``delay`` on the virtual clock."""

    opentherm = True

    def __init__(
        self, slave: OpenThermSlave, clock: VirtualClock, *, delay: float = 0.05, kind: str = "test"
    ) -> None:
        self.kind = kind
        self.slave = slave
        self.clock = clock
        self.delay = delay
        self.counters = LinkCounters()
        self.log: list[Conversation] = []
        self.garble: dict[int, int] = {}  # id -> answers to send with a wrong data-id
        self.refuse: set[int] = set()  # ids whose requests raise LinkError while connected
        self.state_reads = 0
        self._state = LinkState.CONNECTED
        self._listeners: list[StateListener] = []

    @property
    def state(self) -> LinkState:
        self.state_reads += 1
        return self._state

    def set_state(self, state: LinkState) -> None:
        self._state = state
        for listener in list(self._listeners):
            listener(state)

    def add_state_listener(self, listener: StateListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def start(self) -> None:
        self.set_state(LinkState.CONNECTED)

    async def stop(self) -> None:
        self.set_state(LinkState.STOPPED)

    async def transact(self, request: Frame, timeout: float = 0.8) -> Frame:
        if self._state is not LinkState.CONNECTED:
            raise LinkError("link down")
        start = self.clock.monotonic()
        self.counters.requests += 1
        if request.data_id in self.refuse:
            self.log.append(Conversation(start, start, request, None))
            raise LinkError(f"cannot carry id {request.data_id}")
        answer = self.slave.handle(request)
        if answer is None:
            await self.clock.sleep(timeout)
            self.log.append(Conversation(start, self.clock.monotonic(), request, None))
            raise LinkTimeout("no answer")
        await self.clock.sleep(self.delay)
        if self.garble.get(request.data_id, 0) > 0:
            self.garble[request.data_id] -= 1
            answer = Frame(answer.msg_type, (answer.data_id + 1) & 0xFF, answer.value)
        self.log.append(Conversation(start, self.clock.monotonic(), request, answer))
        return answer

    async def set_heat_demand(self, on: bool) -> None:
        raise LinkError("OpenTherm link")

    def ids(self, since: float = -math.inf) -> list[int]:
        return [c.request.data_id for c in self.log if c.start >= since]

    def requests(self, data_id: int, msg_type: MsgType | None = None) -> list[Conversation]:
        return [
            c
            for c in self.log
            if c.request.data_id == data_id and (msg_type is None or c.request.msg_type is msg_type)
        ]


def _is_link(link: ScriptedLink) -> BoilerLink:
    return link  # mypy checks that the double implements the protocol


@dataclass
class Rig:
    clock: VirtualClock
    boiler: ScriptedBoiler
    link: ScriptedLink
    master: OpenThermMaster
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.master.run())

    async def advance(self, seconds: float) -> None:
        await self.clock.advance(seconds)
        if self.task is not None and self.task.done():
            self.task.result()  # surface a crash of the run loop

    async def stop(self, *, hand_back: bool = True) -> None:
        stopper = asyncio.create_task(self.master.stop(hand_back=hand_back))
        for _ in range(50):
            if stopper.done():
                break
            await self.clock.advance(0.5)
        await stopper
        assert self.task is not None
        await self.task


def make_rig(*, delay: float = 0.05, kind: str = "test", config: MasterConfig | None = None) -> Rig:
    clock = VirtualClock()
    boiler = ScriptedBoiler()
    link = ScriptedLink(boiler, clock, delay=delay, kind=kind)
    master = OpenThermMaster(_is_link(link), clock, config=config)
    return Rig(clock, boiler, link, master)


# ---------------------------------------------------------------- timing


@pytest.mark.parametrize(
    ("delay", "longest_cycle"), [(0.0, 1.0), (0.05, 1.0), (0.3, 1.2), (0.7, 2.4)]
)
async def test_cycle_timing_follows_opentherm(delay: float, longest_cycle: float) -> None:
    rig = make_rig(delay=delay)
    rig.master.set_targets(True, 55.0)
    rig.start()
    await rig.advance(60.0)
    log = rig.link.log
    assert log, "no conversations"
    # at least 100 ms from the end of a conversation to the start of the next
    gaps = [b.start - a.end for a, b in itertools.pairwise(log)]
    assert min(gaps) >= 0.1 - 1e-6
    # never more than 1.15 s between conversations, at least one per simulated second
    starts = [c.start for c in log]
    assert max(b - a for a, b in itertools.pairwise(starts)) <= 1.15
    for second in range(59):
        assert any(second <= s < second + 1 for s in starts), f"no conversation in second {second}"
    # ID 0 then ID 1 every cycle, a cycle about every second
    ids = rig.link.ids()
    status_at = [i for i, did in enumerate(ids) if did == 0]
    assert 60 / longest_cycle - 1 <= len(status_at) <= 61
    assert all(ids[i + 1] == 1 for i in status_at[:-1])
    cycle_starts = [log[i].start for i in status_at]
    # a cycle every second; a slow boiler or gateway stretches it, never the gaps
    assert all(
        1.0 - 1e-6 <= b - a <= longest_cycle + 1e-6 for a, b in itertools.pairwise(cycle_starts)
    )
    # and other ids in between, at most 5 conversations a cycle
    per_cycle = [b - a for a, b in itertools.pairwise(status_at)]
    assert min(per_cycle) >= 3
    assert max(per_cycle) <= 5
    assert rig.master.state.conversations_per_second(rig.clock.time()) >= 1.0
    assert rig.master.cycles - len(status_at) in {0, 1}  # the last one may be in flight
    await rig.stop(hand_back=False)


async def test_status_flags_and_setpoint_are_sent() -> None:
    rig = make_rig()
    rig.master.set_targets(True, 47.5, dhw_enable=False)
    rig.start()
    await rig.advance(3.0)
    assert rig.boiler.master_flags == 0x01
    last_setpoint = rig.link.requests(1)[-1].request
    assert last_setpoint.msg_type is MsgType.WRITE_DATA
    assert decode_f8_8(last_setpoint.value) == 47.5
    rig.master.set_targets(False, 30.0, dhw_enable=True)
    await rig.advance(2.0)
    assert rig.boiler.master_flags == 0x02
    rig.boiler.slave_flags = 0x0A  # CH active, flame on
    await rig.advance(2.0)
    status = rig.master.state.slave_status
    assert status is not None
    assert status.flame_on
    assert status.ch_active
    assert not status.fault
    await rig.stop(hand_back=False)


async def test_periodic_reads_cover_the_plan() -> None:
    rig = make_rig()
    rig.start()
    await rig.advance(60.0)
    reads = [c.request.data_id for c in rig.link.log if c.request.msg_type is MsgType.READ_DATA]
    count = {did: reads.count(did) for did in set(reads)}
    # the fast ids about every 2-3 s, the slow ones every 10-20 s, counters once
    for did in (17, 25, 28):
        assert count[did] >= 15
    for did in (18, 26, 27):
        assert 3 <= count[did] <= 8
    assert count[5] >= 6
    for did in range(116, 124):
        assert count[did] == 1
    await rig.stop(hand_back=False)


# ---------------------------------------------------------------- start-up


async def test_capabilities_are_read_at_start() -> None:
    rig = make_rig()
    rig.boiler.unknown |= {124, 126}  # an older boiler: tolerated
    rig.start()
    await rig.advance(5.0)
    extras = [
        (c.request.msg_type, c.request.data_id) for c in rig.link.log if c.request.data_id > 1
    ]
    expected = [
        (MsgType.READ_DATA, 3),
        (MsgType.READ_DATA, 49),
        (MsgType.READ_DATA, 48),
        (MsgType.READ_DATA, 6),
        (MsgType.READ_DATA, 15),
        (MsgType.WRITE_DATA, 2),
        (MsgType.WRITE_DATA, 124),
        (MsgType.READ_DATA, 125),
        (MsgType.READ_DATA, 127),
        (MsgType.WRITE_DATA, 126),
    ]
    assert extras[: len(expected)] == expected
    assert {did for _, did in expected} >= set(CAPABILITY_IDS)
    caps = rig.master.state.capabilities
    assert caps.dhw_present is True
    assert caps.on_off_control is False
    assert caps.ch2_present is False
    assert caps.max_capacity_kw == 30
    assert caps.min_modulation_pct == 20
    assert caps.dhw_setpoint_bounds == (40, 60)
    assert caps.max_ch_setpoint_bounds == (25, 80)
    assert caps.slave_ot_version == pytest.approx(2.2, abs=0.01)
    assert (caps.slave_product_type, caps.slave_product_version) == (1, 2)
    assert caps.max_ch_setpoint_rw is True
    assert set(rig.master.state.unknown_ids) == {124, 126}
    # master config and version as sent
    (config_write,) = rig.link.requests(2, MsgType.WRITE_DATA)
    assert config_write.request.value == 0x0000
    (version_write,) = rig.link.requests(124, MsgType.WRITE_DATA)
    assert decode_f8_8(version_write.request.value) == pytest.approx(2.2, abs=0.01)
    await rig.stop(hand_back=False)


async def test_link_down_waits_without_spinning_and_rereads_on_reconnect() -> None:
    rig = make_rig()
    rig.boiler.unknown.add(27)
    keys: list[frozenset[str]] = []
    rig.master.add_listener(keys.append)
    rig.start()
    await rig.advance(15.0)
    assert rig.master.state.connected
    assert len(rig.link.requests(27)) == 1
    rig.link.set_state(LinkState.DISCONNECTED)
    await rig.advance(1.0)  # the conversation in flight ends
    assert any("connected" in k for k in keys)
    assert (
        boiler_snapshot(rig.master.state, rig.master.link, rig.master.clock, rig.master).connected
        is False
    )
    assert all(v.stale for v in rig.master.state.values.values())
    before = len(rig.link.log)
    reads_before = rig.link.state_reads
    await rig.advance(60.0)
    assert len(rig.link.log) == before  # no conversations while down
    assert rig.link.state_reads - reads_before < 40  # and no busy loop either
    rig.link.set_state(LinkState.CONNECTED)
    await rig.advance(10.0)
    assert rig.master.state.connected
    assert rig.master.sessions == 2
    again = [c.request.data_id for c in rig.link.log[before:]]
    for did in CAPABILITY_IDS:
        assert did in again
    assert 27 in again  # unknown ids are retried after a reconnect
    await rig.stop(hand_back=False)


async def test_link_down_at_start_then_up() -> None:
    rig = make_rig()
    rig.link._state = LinkState.CONNECTING
    rig.start()
    await rig.advance(20.0)
    assert rig.link.log == []
    await rig.link.start()
    await rig.advance(2.0)
    assert rig.link.ids()[:2] == [0, 1]
    await rig.stop(hand_back=False)


# ---------------------------------------------------------------- errors


async def test_unknown_dataid_is_learned_and_skipped() -> None:
    rig = make_rig(config=MasterConfig(unknown_retry=300.0))
    rig.boiler.unknown |= {27, 18}
    rig.start()
    await rig.advance(120.0)
    assert len(rig.link.requests(27)) == 1
    assert len(rig.link.requests(18)) == 1
    assert set(rig.master.state.unknown_ids) == {18, 27}
    assert rig.master.state.counter(27).unknown == 1
    assert 27 not in rig.master.state.values
    # retried once the retry time has passed; a boiler that now knows it is believed
    rig.boiler.unknown.discard(27)
    await rig.advance(200.0)
    assert len(rig.link.requests(27)) >= 2
    assert 27 not in rig.master.state.unknown_ids
    assert rig.master.state.number(27) == 5.0
    assert 18 in rig.master.state.unknown_ids
    assert rig.master.state.counter(18).unknown == 2
    await rig.stop(hand_back=False)


async def test_data_invalid_is_counted_and_marks_stale() -> None:
    rig = make_rig()
    keys: list[frozenset[str]] = []
    rig.start()
    await rig.advance(15.0)
    good = rig.master.state.values[27]
    assert good.value == 5.0
    assert not good.stale
    rig.master.add_listener(keys.append)
    rig.boiler.invalid.add(27)
    rig.boiler.values[27] = f88(9.0)
    await rig.advance(40.0)
    entry = rig.master.state.values[27]
    assert entry.stale
    assert entry.value == 5.0  # the last good value is kept
    assert entry.updated == good.updated
    assert rig.master.state.counter(27).invalid >= 3
    assert 27 not in rig.master.state.unknown_ids
    assert sum("outside_temperature" in k for k in keys) == 1  # the flip to stale, once
    # no retry storm: DATA-INVALID is an answer, read again at the normal period
    assert len(rig.link.requests(27)) <= 1 + 40 / 10 + 1
    rig.boiler.invalid.discard(27)
    await rig.advance(20.0)
    entry = rig.master.state.values[27]
    assert not entry.stale
    assert entry.value == 9.0
    await rig.stop(hand_back=False)


async def test_timeout_is_retried_at_the_next_slot() -> None:
    rig = make_rig()
    rig.start()
    await rig.advance(15.0)
    mark = len(rig.link.log)
    rig.boiler.silent[25] = 1
    await rig.advance(10.0)
    log = rig.link.log[mark:]
    failed = next(i for i, c in enumerate(log) if c.request.data_id == 25)
    assert log[failed].answer is None
    assert log[failed].end - log[failed].start == pytest.approx(0.8)
    retry = next(c for c in log[failed + 1 :] if c.request.data_id > 1)
    assert retry.request.data_id == 25
    assert retry.answer is not None
    assert rig.master.state.counter(25).timeouts == 1
    assert not rig.master.state.values[25].stale
    # ID 0 without answer: counted, the next cycle asks again
    rig.boiler.silent[0] = 1
    await rig.advance(3.0)
    assert rig.master.state.counter(0).timeouts == 1
    await rig.stop(hand_back=False)


async def test_retries_are_bounded_and_mark_stale() -> None:
    rig = make_rig()
    rig.start()
    await rig.advance(15.0)
    mark = len(rig.link.log)
    rig.boiler.silent[25] = 1000
    await rig.advance(8.0)
    extras = [c.request.data_id for c in rig.link.log[mark:] if c.request.data_id > 1]
    first = extras.index(25)
    assert extras[first : first + 3] == [25, 25, 25]  # the try and two retries
    assert extras[first + 3] != 25  # then the others get their turn
    assert rig.master.state.values[25].stale
    assert rig.master.state.counter(25).timeouts >= 3
    await rig.stop(hand_back=False)


async def test_bad_frames_and_link_errors_are_counted_and_retried() -> None:
    rig = make_rig()
    rig.link.refuse.add(126)  # a link that cannot carry this write
    rig.start()
    await rig.advance(15.0)
    assert rig.master.state.counter(126).link_errors == 1  # not retried: it would not help
    assert rig.master.state.counter(127).acks >= 1  # the rest goes on
    mark = len(rig.link.log)
    rig.link.garble[17] = 1
    await rig.advance(5.0)
    assert rig.master.state.counter(17).bad_frames == 1
    tried = [c.request.data_id for c in rig.link.log[mark:] if c.request.data_id > 1]
    first = tried.index(17)
    assert tried[first + 1] == 17
    assert rig.master.state.totals().bad_frames == 1
    await rig.stop(hand_back=False)


# ---------------------------------------------------------------- writes


async def test_writes_are_clamped_to_the_boiler_bounds() -> None:
    rig = make_rig()
    rig.boiler.values[48] = s8s8(60, 40)
    rig.boiler.values[49] = s8s8(70, 25)
    rig.start()
    await rig.advance(5.0)
    rig.master.set_targets(True, 90.0, max_modulation=50.0, dhw_setpoint=75.0, max_ch_setpoint=85.0)
    await rig.advance(3.0)
    assert decode_f8_8(rig.link.requests(1)[-1].request.value) == 70.0
    assert decode_f8_8(rig.link.requests(57, MsgType.WRITE_DATA)[-1].request.value) == 70.0
    assert decode_f8_8(rig.link.requests(56, MsgType.WRITE_DATA)[-1].request.value) == 60.0
    assert decode_f8_8(rig.link.requests(14, MsgType.WRITE_DATA)[-1].request.value) == 50.0
    assert rig.master.effective_targets() == Targets(
        ch_enable=True,
        control_setpoint=70.0,
        max_modulation=50.0,
        dhw_enable=True,
        dhw_setpoint=60.0,
        max_ch_setpoint=70.0,
    )
    assert rig.master.targets.control_setpoint == 90.0
    # a lower max CH setpoint lowers the control setpoint's ceiling
    rig.master.set_targets(True, 90.0, max_ch_setpoint=55.0)
    await rig.advance(3.0)
    assert decode_f8_8(rig.link.requests(57, MsgType.WRITE_DATA)[-1].request.value) == 55.0
    assert decode_f8_8(rig.link.requests(1)[-1].request.value) == 55.0
    # below the lower bound of 48: raised to it
    rig.master.set_targets(True, 40.0, dhw_setpoint=20.0)
    await rig.advance(3.0)
    assert decode_f8_8(rig.link.requests(56, MsgType.WRITE_DATA)[-1].request.value) == 40.0
    await rig.stop(hand_back=False)


async def test_changed_targets_are_written_promptly_and_resent_periodically() -> None:
    rig = make_rig(config=MasterConfig(rewrite_interval=30.0))
    rig.start()
    await rig.advance(10.0)
    assert rig.link.requests(56, MsgType.WRITE_DATA) == []  # not managed: read instead
    assert rig.link.requests(56, MsgType.READ_DATA)
    changed_at = rig.clock.monotonic()
    rig.master.set_targets(False, 10.0, dhw_setpoint=55.0)
    await rig.advance(1.2)
    writes = rig.link.requests(56, MsgType.WRITE_DATA)
    assert len(writes) == 1
    assert writes[0].start - changed_at <= 1.2
    await rig.advance(25.0)
    assert len(rig.link.requests(56, MsgType.WRITE_DATA)) == 1
    await rig.advance(10.0)
    assert len(rig.link.requests(56, MsgType.WRITE_DATA)) == 2
    await rig.stop(hand_back=False)


async def test_write_ack_with_another_value_is_what_the_boiler_uses() -> None:
    rig = make_rig()
    rig.boiler.ack_override[56] = f88(52.0)
    rig.boiler.ack_override[1] = f88(45.0)
    rig.start()
    await rig.advance(5.0)
    rig.master.set_targets(True, 60.0, dhw_setpoint=58.0)
    await rig.advance(10.0)
    assert rig.master.state.number(56) == 52.0
    assert rig.master.state.number(1) == 45.0
    assert rig.master.state.raw_map()["ot56"] == "0x3400"
    # not re-sent every cycle to force the requested value
    assert len(rig.link.requests(56, MsgType.WRITE_DATA)) == 1
    await rig.stop(hand_back=False)


async def test_remote_parameter_flags_decide_writes() -> None:
    rig = make_rig()
    rig.boiler.values[6] = 0x0101  # DHW setpoint writable; max CH setpoint not transferable
    rig.master.set_targets(True, 50.0, dhw_setpoint=50.0, max_ch_setpoint=70.0)
    rig.start()
    await rig.advance(10.0)
    assert rig.link.requests(56, MsgType.WRITE_DATA)
    assert rig.link.requests(57, MsgType.WRITE_DATA) == []
    assert rig.link.requests(57, MsgType.READ_DATA)  # read instead
    await rig.stop(hand_back=False)


def test_set_targets_validates() -> None:
    rig = make_rig()
    bad: list[tuple[dict[str, object], str]] = [
        ({"control_setpoint": math.nan}, "control_setpoint"),
        ({"control_setpoint": math.inf}, "control_setpoint"),
        ({"control_setpoint": 150.0}, "control_setpoint"),
        ({"control_setpoint": -5.0}, "control_setpoint"),
        ({"control_setpoint": "55"}, "control_setpoint"),
        ({"control_setpoint": True}, "control_setpoint"),
        ({"ch_enable": 1}, "ch_enable"),
        ({"max_modulation": 101.0}, "max_modulation"),
        ({"max_modulation": math.nan}, "max_modulation"),
        ({"dhw_enable": "yes"}, "dhw_enable"),
        ({"dhw_setpoint": 1000.0}, "dhw_setpoint"),
        ({"max_ch_setpoint": -math.inf}, "max_ch_setpoint"),
    ]
    for override, field_name in bad:
        args: dict[str, object] = {"ch_enable": True, "control_setpoint": 50.0, **override}
        with pytest.raises(ValueError, match=field_name):
            rig.master.set_targets(**args)  # type: ignore[arg-type]
    assert rig.master.targets == Targets()
    stored = rig.master.set_targets(True, 50, max_modulation=80)
    assert stored.control_setpoint == 50.0
    assert stored.dhw_enable is True  # None keeps the current flag


def test_config_and_link_are_checked() -> None:
    with pytest.raises(ValueError, match="cycle_interval"):
        MasterConfig(cycle_interval=1.5)
    with pytest.raises(ValueError, match="min_gap"):
        MasterConfig(min_gap=0.05)
    rig = make_rig()
    rig.link.opentherm = False
    with pytest.raises(ValueError, match="no OpenTherm"):
        OpenThermMaster(rig.link, rig.clock)


# ---------------------------------------------------------------- state and listeners


async def test_listeners_are_called_only_on_change() -> None:
    rig = make_rig()
    calls: list[frozenset[str]] = []
    rig.master.set_targets(True, 50.0)
    rig.start()
    await rig.advance(20.0)  # everything read once
    remove = rig.master.add_listener(calls.append)
    await rig.advance(30.0)
    assert calls == []  # a steady boiler: nothing to announce
    rig.boiler.values[25] = f88(61.0)
    await rig.advance(3.0)
    assert calls == [frozenset({"flow_temperature"})]
    calls.clear()
    rig.boiler.slave_flags = 0x08  # flame on
    await rig.advance(1.5)
    assert calls == [frozenset({"status", "slave_status"})]
    calls.clear()
    rig.master.set_targets(True, 55.0)
    assert calls == [frozenset({"targets"})]
    await rig.advance(1.5)
    assert frozenset({"control_setpoint"}) in calls
    calls.clear()
    remove()
    rig.boiler.values[25] = f88(62.0)
    await rig.advance(3.0)
    assert calls == []
    await rig.stop(hand_back=False)


async def test_a_failing_listener_does_not_stop_the_master() -> None:
    rig = make_rig()

    def broken(keys: frozenset[str]) -> None:
        raise RuntimeError("listener bug")

    seen: list[frozenset[str]] = []
    rig.master.add_listener(broken)
    rig.master.add_listener(seen.append)
    rig.start()
    await rig.advance(5.0)
    assert seen
    assert rig.task is not None
    assert not rig.task.done()
    await rig.stop(hand_back=False)


async def test_raw_map_format() -> None:
    rig = make_rig()
    rig.start()
    await rig.advance(10.0)
    raw = rig.master.state.raw_map()
    assert raw["ot25"] == "0x2A80"
    assert raw["ot0"] == "0x0200"
    assert all(re.fullmatch(r"ot\d{1,3}", k) for k in raw)
    assert all(re.fullmatch(r"0x[0-9A-F]{4}", v) for v in raw.values())
    assert list(raw) == sorted(raw, key=lambda k: int(k[2:]))
    snapshot = boiler_snapshot(rig.master.state, rig.master.link, rig.master.clock, rig.master)
    assert snapshot.raw == raw
    assert snapshot.values["flow_temperature"].value == 42.5
    assert snapshot.capabilities["max_ch_setpoint_bounds"] == (25, 80)
    assert render(snapshot.link) == {"kind": "test", "state": "connected"}
    await rig.stop(hand_back=False)


async def test_fault_details_are_read_when_a_fault_appears() -> None:
    rig = make_rig()
    rig.start()
    await rig.advance(20.0)
    rig.boiler.values[5] = 0x0404 | 0x0000  # low water pressure, OEM code 4
    rig.boiler.values[115] = 321
    rig.boiler.slave_flags = 0x01
    mark = rig.clock.monotonic()
    await rig.advance(2.5)
    faults = rig.master.state.faults
    assert faults.fault is True
    assert faults.low_water_pressure is True
    assert faults.oem_fault_code == 4
    assert faults.oem_diagnostic_code == 321
    fault_reads = [c for c in rig.link.log if c.start >= mark and c.request.data_id in {5, 115}]
    assert {c.request.data_id for c in fault_reads} == {5, 115}
    await rig.stop(hand_back=False)


# ---------------------------------------------------------------- stop


async def test_stop_hands_back_a_directly_driven_boiler() -> None:
    rig = make_rig()
    rig.master.set_targets(True, 60.0, max_modulation=40.0)
    rig.start()
    await rig.advance(5.0)
    mark = len(rig.link.log)
    await rig.stop()
    tail = [c.request for c in rig.link.log[mark:]]
    assert tail[-3:] == [
        Frame(MsgType.READ_DATA, 0, 0x0200),  # CH off, DHW as it was
        Frame(MsgType.WRITE_DATA, 1, 0),
        Frame(MsgType.WRITE_DATA, 14, f88(100.0)),  # the modulation limit lifted
    ]
    assert rig.boiler.master_flags == 0x02
    assert not rig.master.running
    count = len(rig.link.log)
    await rig.master.run()  # a stopped master does not start again
    assert len(rig.link.log) == count
    log = rig.link.log
    assert min(b.start - a.end for a, b in itertools.pairwise(log)) >= 0.1 - 1e-6


async def test_stop_hands_back_an_otgw_with_cs0() -> None:
    rig = make_rig(kind="otgw")
    rig.master.set_targets(False, 0.0)
    rig.start()
    await rig.advance(5.0)
    # while in control, ID 1 is never 0 on an OTGW (that would mean CS=0, release)
    assert {decode_f8_8(c.request.value) for c in rig.link.requests(1)} == {10.0}
    mark = len(rig.link.log)
    await rig.stop()
    tail = [c.request for c in rig.link.log[mark:]]
    assert tail[-1] == Frame(MsgType.WRITE_DATA, 1, 0)
    assert Frame(MsgType.WRITE_DATA, 1, 0) not in tail[:-1]
    assert all(f.data_id != 0 for f in tail[tail.index(Frame(MsgType.WRITE_DATA, 1, 0)) :])


async def test_stop_without_hand_back_sends_nothing_more() -> None:
    rig = make_rig()
    rig.master.set_targets(True, 60.0)
    rig.start()
    await rig.advance(5.0)
    await rig.stop(hand_back=False)
    assert all(not (c.request.data_id == 1 and c.request.value == 0) for c in rig.link.log)


async def test_stop_while_the_link_is_down() -> None:
    rig = make_rig()
    rig.start()
    await rig.advance(3.0)
    rig.link.set_state(LinkState.DISCONNECTED)
    await rig.advance(10.0)
    mark = len(rig.link.log)
    await rig.stop()
    assert len(rig.link.log) == mark


# ---------------------------------------------------------------- the simulated boiler


async def test_over_the_simulated_boiler() -> None:
    sim = pytest.importorskip("bridge.opentherm.links.sim")
    clock = VirtualClock()
    link = sim.SimLink.from_url("sim://?seed=1&dhw_taps=0", clock=clock)
    await link.start()
    master = OpenThermMaster(link, clock)
    master.set_targets(True, 60.0, max_modulation=80.0, dhw_setpoint=52.0)
    task = asyncio.create_task(master.run())
    await clock.advance(300.0)
    boiler = link.world.boiler
    caps = master.state.capabilities
    assert caps.dhw_present is not None
    assert caps.max_ch_setpoint_bounds is not None
    assert boiler.ch_enable
    assert boiler.control_setpoint_c == pytest.approx(min(60.0, boiler.max_ch_setpoint_c))
    assert boiler.max_modulation_pct == pytest.approx(80.0)
    assert boiler.master_ot_version == pytest.approx(2.2, abs=0.01)
    assert master.state.number(25) is not None
    assert master.state.number(25) == pytest.approx(boiler.t_flow, abs=2.0)
    assert master.state.counter(0).timeouts == 0
    assert master.state.totals().bad_frames == 0
    assert master.state.conversations_per_second(clock.time()) >= 1.0
    stopper = asyncio.create_task(master.stop())
    while not stopper.done():
        await clock.advance(0.5)
    await stopper
    await task
    assert not boiler.ch_enable
    assert boiler.control_setpoint_c == 0.0
    assert boiler.max_modulation_pct == pytest.approx(100.0)
    await link.stop()


async def test_hand_back_through_the_simulated_gateway_is_cs0() -> None:
    otgw = pytest.importorskip("bridge.opentherm.links.otgw")
    otgw_server = pytest.importorskip("bridge.opentherm.sim.otgw_server")
    clock = SystemClock()  # the gateway link and server run on real time (about 1 s here)
    boiler = ScriptedBoiler()
    server = otgw_server.SimOtgwServer(boiler, clock, "127.0.0.1", 0, cycle=0.1)
    await server.start()
    link = otgw.OtgwLink(
        f"otgw+tcp://127.0.0.1:{server.port}", clock=clock, min_timeout=0.0, command_timeout=0.5
    )
    await link.start()
    try:
        master = OpenThermMaster(link, clock)
        master.set_targets(True, 55.0)
        task = asyncio.create_task(master.run())
        async with asyncio.timeout(10):
            while master.state.capabilities.max_ch_setpoint_bounds is None:
                await asyncio.sleep(0.02)
        assert master.state.capabilities.max_ch_setpoint_bounds == (25, 80)
        assert server.control_setpoint == 55.0
        assert server.ch_override is True
        await master.stop()
        await task
        assert server.commands[-1] == "CS=0.00"
        assert server.control_setpoint is None  # control is back with the thermostat
    finally:
        await link.stop()
        await server.stop()
