"""Which program is in force when: the week schedule overlaid with exceptions.

Schedule starts and exception times are wall-clock times in the bridge's
timezone. They become instants as follows:

* a wall time that occurs twice (the hour repeated when clocks go back)
  means its first occurrence;
* a wall time that does not occur (the hour skipped when clocks go forward)
  means the moment the clocks jump; two schedule entries in the skipped hour
  then start at the same instant, and the later one wins.

Exceptions take priority over the week schedule while active (start <=
t < end). When exceptions overlap, the one that started last wins (on equal
starts, the one later in the list).

A *block* is a stretch of time with one program from one origin: each
schedule entry's start begins a block (also when the program does not
change), and each change of the winning exception, its start and its end
begin one. A schedule block interrupted by an exception resumes as a new
block at the exception's end.

Every instant returned here is an aware UTC datetime: comparing two aware
datetimes that share a ``ZoneInfo`` ignores their UTC offsets, which is
wrong in the repeated hour, so convert with ``.astimezone(tz)`` only to show.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
import itertools
from typing import Final, Literal

from bridge.core.programs import MINUTES_PER_WEEK, ExceptionPeriod, WeekSchedule

#: Added to the longest gap between schedule starts (a DST hour, and then some).
_DST_MARGIN = timedelta(hours=2)
_SECOND = timedelta(seconds=1)
#: Plans kept (one per schedule, exceptions and timezone in use), weeks of
#: starts per plan, blocks found per plan.
_MAX_PLANS = 4
_MAX_WEEKS = 16
_MAX_FOUND = 16

BlockSource = Literal["schedule", "exception"]
SOURCE_SCHEDULE: Final[BlockSource] = "schedule"
SOURCE_EXCEPTION: Final[BlockSource] = "exception"


@dataclass(frozen=True)
class Block:
    """A stretch of time with one program.

    ``source`` is ``"schedule"`` or ``"exception"``; ``exception`` is the
    exception in force (else ``None``). ``start`` and ``end`` are UTC.
    """

    start: datetime
    end: datetime
    program: str
    source: BlockSource
    exception: ExceptionPeriod | None = None

    @property
    def description(self) -> str:
        """The exception's description, or ``""`` for a schedule block."""
        return self.exception.description if self.exception is not None else ""

    def contains(self, when: datetime) -> bool:
        """Whether ``when`` (aware) falls in ``[start, end)``."""
        return self.start <= when.astimezone(UTC) < self.end


@dataclass(frozen=True)
class ScheduleResolution:
    """The block in force at a moment, and the one after it."""

    current: Block
    next: Block

    @property
    def program(self) -> str:
        """The program in force."""
        return self.current.program

    @property
    def source(self) -> BlockSource:
        """``"schedule"`` or ``"exception"``."""
        return self.current.source

    @property
    def block_start(self) -> datetime:
        """When the current block began (UTC)."""
        return self.current.start

    @property
    def next_start(self) -> datetime:
        """When the next block begins (UTC); the current block's end."""
        return self.current.end

    @property
    def next_program(self) -> str:
        """The program of the next block."""
        return self.next.program


def to_utc(when: datetime) -> datetime:
    """``when`` as UTC; a naive datetime is refused."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is needed")
    return when.astimezone(UTC)


def wall_to_utc(wall: datetime, tz: tzinfo) -> datetime:
    """The instant (UTC) of a naive wall-clock time in ``tz`` (see module rules)."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # Skipped by a forward jump: find the jump, the first instant whose
    # wall-clock time is at or after ``wall``.
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = first
    if low > high:
        low, high = high, low
    while high - low > _SECOND:
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            break
        if middle.astimezone(tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high


def _schedule_starts(plan: _Plan, low: datetime, high: datetime) -> list[tuple[datetime, int]]:
    """(instant, entry index) of every schedule start in ``[low, high]``, in order."""
    tz = plan.tz
    first_day = low.astimezone(tz).date()
    monday = first_day - timedelta(days=first_day.weekday())
    last_day = high.astimezone(tz).date() + timedelta(days=1)
    out: list[tuple[datetime, int]] = []
    while monday <= last_day:
        instants, indices = plan.week(monday)
        for i in range(bisect_left(instants, low), bisect_right(instants, high)):
            instant, index = instants[i], indices[i]
            if out and out[-1][0] >= instant:
                # same instant (skipped hour): the later entry wins
                out[-1] = (instant, index)
            else:
                out.append((instant, index))
        monday += timedelta(days=7)
    return out


def _horizon(schedule: WeekSchedule) -> timedelta:
    """How far from any instant a schedule start is sure to be found, either way.

    The longest gap between two starts of the week, plus two hours: a gap
    that spans the hour repeated when clocks go back is an hour longer.
    """
    starts = [entry.minute_of_week for entry in schedule.entries]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    gaps.append(starts[0] + MINUTES_PER_WEEK - starts[-1])
    return timedelta(minutes=max(gaps)) + _DST_MARGIN


@dataclass(frozen=True)
class _Segment:
    start: datetime
    end: datetime
    index: int


def _exception_segments(exceptions: Sequence[ExceptionPeriod], tz: tzinfo) -> list[_Segment]:
    """Maximal stretches with one winning exception, in order, not overlapping."""
    spans = []
    for index, exc in enumerate(exceptions):
        start, end = wall_to_utc(exc.start, tz), wall_to_utc(exc.end, tz)
        if start < end:
            spans.append((start, end, index))
    points = sorted({p for start, end, _ in spans for p in (start, end)})
    segments: list[_Segment] = []
    for a, b in itertools.pairwise(points):
        active = [(start, index) for start, end, index in spans if start <= a < end]
        if not active:
            continue
        winner = max(active)[1]
        if segments and segments[-1].index == winner and segments[-1].end == a:
            segments[-1] = _Segment(segments[-1].start, b, winner)
        else:
            segments.append(_Segment(a, b, winner))
    return segments


class _Plan:
    """What one (schedule, exceptions, timezone) resolves to, worked out once.

    The week's starts as instants (per week, as they are asked for), the
    exceptions' segments, and the blocks found so far: a block found for one
    instant answers every instant inside it, with the block after it. So the
    thousands of time conversions of a long schedule are made once per week
    and change of schedule, and a resolution inside a known block is a lookup.
    Schedules, entries and exception tuples are immutable, so a plan is valid
    for as long as the very same objects are passed (``is``).
    """

    def __init__(
        self, schedule: WeekSchedule, exceptions: Sequence[ExceptionPeriod], tz: tzinfo
    ) -> None:
        self.schedule = schedule
        self.exceptions = exceptions
        self.tz = tz
        self.horizon = _horizon(schedule)
        self.segments = _exception_segments(exceptions, tz)
        self._weeks: dict[date, tuple[list[datetime], list[int]]] = {}
        self._found: tuple[tuple[Block, Block | None], ...] = ()

    def of(self, schedule: WeekSchedule, exceptions: Sequence[ExceptionPeriod], tz: tzinfo) -> bool:
        """Whether this plan is for these very objects."""
        return schedule is self.schedule and exceptions is self.exceptions and tz is self.tz

    def week(self, monday: date) -> tuple[list[datetime], list[int]]:
        """The instants (UTC, in order) and entry indices of the week from ``monday``."""
        found = self._weeks.get(monday)
        if found is None:
            if len(self._weeks) >= _MAX_WEEKS:
                self._weeks.clear()
            instants, indices = [], []
            for index, entry in enumerate(self.schedule.entries):
                wall = datetime.combine(
                    monday + timedelta(days=entry.day), time(entry.hour, entry.minute)
                )
                instants.append(wall_to_utc(wall, self.tz))
                indices.append(index)
            found = self._weeks[monday] = (instants, indices)
        return found

    def known(self, instant: datetime) -> tuple[Block, Block | None] | None:
        """The block found earlier that holds ``instant``, and the block after it."""
        for pair in self._found:
            if pair[0].start <= instant < pair[0].end:
                return pair
        return None

    def remember(self, pair: tuple[Block, Block | None]) -> None:
        """Keep a block found (and the one after it) for later lookups."""
        self._found = (pair, *self._found[: _MAX_FOUND - 1])


class _Memo:
    """The plans kept, newest first."""

    def __init__(self) -> None:
        self.plans: tuple[_Plan, ...] = ()

    def plan(
        self, schedule: WeekSchedule, exceptions: Sequence[ExceptionPeriod], tz: tzinfo
    ) -> _Plan:
        """The plan of these objects: a kept one, else a new one (kept when the
        exceptions are a tuple, which cannot change behind the plan's back)."""
        for plan in self.plans:
            if plan.of(schedule, exceptions, tz):
                return plan
        plan = _Plan(schedule, exceptions, tz)
        if isinstance(exceptions, tuple):
            self.plans = (plan, *self.plans[: _MAX_PLANS - 1])
        return plan


_MEMO = _Memo()
_plan = _MEMO.plan


def clear_memo() -> None:
    """Forget every plan (the next resolution works everything out again)."""
    _MEMO.plans = ()


def _timeline(plan: _Plan, start: datetime, end: datetime) -> list[Block]:
    """Every block from some time before ``start`` to some time after ``end``.

    The blocks are contiguous; each one but the first has its true start and
    end (so does the first when it overlaps ``[start, end)``).
    """
    schedule, exceptions = plan.schedule, plan.exceptions
    sched = _schedule_starts(plan, start - plan.horizon, end + plan.horizon)
    segments = plan.segments
    first, last = sched[0][0], sched[-1][0]
    points = sorted(
        {t for t, _ in sched}
        | {p for seg in segments for p in (seg.start, seg.end) if first <= p <= last}
    )
    sched_times = [t for t, _ in sched]
    seg_starts = [seg.start for seg in segments]

    def label(at: datetime) -> tuple[BlockSource, int]:
        i = bisect_right(seg_starts, at) - 1
        if i >= 0 and at < segments[i].end:
            return SOURCE_EXCEPTION, i
        return SOURCE_SCHEDULE, bisect_right(sched_times, at) - 1

    runs: list[tuple[datetime, tuple[BlockSource, int]]] = []
    for point in points:
        key = label(point)
        if not runs or runs[-1][1] != key:
            runs.append((point, key))
    blocks: list[Block] = []
    for i, (run_start, (source, index)) in enumerate(runs[:-1]):
        run_end = runs[i + 1][0]
        if source == SOURCE_EXCEPTION:
            seg = segments[index]
            exc = exceptions[seg.index]
            blocks.append(Block(seg.start, seg.end, exc.program, source, exc))
        else:
            entry = schedule.entries[sched[index][1]]
            blocks.append(Block(run_start, run_end, entry.program, source))
    source, index = runs[-1][1]
    if source == SOURCE_EXCEPTION:
        # an exception reaching past the last schedule start ends at its own end
        seg = segments[index]
        exc = exceptions[seg.index]
        blocks.append(Block(seg.start, seg.end, exc.program, source, exc))
    return blocks


def _current_and_next(plan: _Plan, instant: datetime) -> tuple[Block, Block | None]:
    known = plan.known(instant)
    if known is not None:
        return known
    timeline = _timeline(plan, instant, instant)
    for i, block in enumerate(timeline):
        if block.start <= instant < block.end:
            following = timeline[i + 1] if i + 1 < len(timeline) else None
            plan.remember((block, following))
            return block, following
    raise AssertionError("the timeline always covers its own range")  # pragma: no cover


def block_at(
    schedule: WeekSchedule,
    exceptions: Sequence[ExceptionPeriod],
    when: datetime,
    tz: tzinfo,
) -> Block:
    """The block in force at ``when`` (aware)."""
    return _current_and_next(_plan(schedule, exceptions, tz), to_utc(when))[0]


def resolve_schedule(
    schedule: WeekSchedule,
    exceptions: Sequence[ExceptionPeriod],
    when: datetime,
    tz: tzinfo,
) -> ScheduleResolution:
    """The block in force at ``when`` (aware) and the block after it."""
    plan = _plan(schedule, exceptions, tz)
    current, following = _current_and_next(plan, to_utc(when))
    if following is None:  # a long exception: look again at its end
        following = _current_and_next(plan, current.end)[0]
    return ScheduleResolution(current, following)


def iter_blocks(
    schedule: WeekSchedule,
    exceptions: Sequence[ExceptionPeriod],
    start: datetime,
    end: datetime,
    tz: tzinfo,
) -> Iterator[Block]:
    """The blocks overlapping ``[start, end)``, in order, unclipped (the first
    may begin before ``start``, the last may end after ``end``)."""
    low, high = to_utc(start), to_utc(end)
    if high <= low:
        return
    plan = _plan(schedule, exceptions, tz)
    cursor = low
    while cursor < high:
        timeline = _timeline(plan, cursor, high)
        yielded = False
        for block in timeline:
            if block.end > cursor and block.start < high:
                yield block
                cursor = block.end
                yielded = True
        if not yielded:  # pragma: no cover - the timeline always covers cursor
            raise AssertionError("no block covers the range")
