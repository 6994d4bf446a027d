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

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
import itertools
from typing import Final, Literal

from bridge.core.programs import ExceptionPeriod, WeekSchedule

#: How far back and ahead a schedule start is always found (a week, plus a DST hour).
_HORIZON = timedelta(days=8)
_SECOND = timedelta(seconds=1)

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


def _schedule_starts(
    schedule: WeekSchedule, tz: tzinfo, low: datetime, high: datetime
) -> list[tuple[datetime, int]]:
    """(instant, entry index) of every schedule start in ``[low, high]``, in order."""
    first_day = low.astimezone(tz).date()
    monday = first_day - timedelta(days=first_day.weekday())
    last_day = high.astimezone(tz).date() + timedelta(days=1)
    out: list[tuple[datetime, int]] = []
    while monday <= last_day:
        for index, entry in enumerate(schedule.entries):
            wall = datetime.combine(
                monday + timedelta(days=entry.day), time(entry.hour, entry.minute)
            )
            instant = wall_to_utc(wall, tz)
            if not low <= instant <= high:
                continue
            if out and out[-1][0] >= instant:
                # same instant (skipped hour): the later entry wins
                out[-1] = (instant, index)
            else:
                out.append((instant, index))
        monday += timedelta(days=7)
    return out


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


def _timeline(
    schedule: WeekSchedule,
    exceptions: Sequence[ExceptionPeriod],
    tz: tzinfo,
    start: datetime,
    end: datetime,
) -> list[Block]:
    """Every block from some time before ``start`` to some time after ``end``.

    The blocks are contiguous; each one that overlaps ``[start, end)`` has
    its true start and end.
    """
    sched = _schedule_starts(schedule, tz, start - _HORIZON, end + _HORIZON)
    segments = _exception_segments(exceptions, tz)
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


def _current_and_next(
    schedule: WeekSchedule,
    exceptions: Sequence[ExceptionPeriod],
    instant: datetime,
    tz: tzinfo,
) -> tuple[Block, Block | None]:
    timeline = _timeline(schedule, exceptions, tz, instant, instant)
    for i, block in enumerate(timeline):
        if block.start <= instant < block.end:
            following = timeline[i + 1] if i + 1 < len(timeline) else None
            return block, following
    raise AssertionError("the timeline always covers its own range")  # pragma: no cover


def block_at(
    schedule: WeekSchedule,
    exceptions: Sequence[ExceptionPeriod],
    when: datetime,
    tz: tzinfo,
) -> Block:
    """The block in force at ``when`` (aware)."""
    return _current_and_next(schedule, exceptions, to_utc(when), tz)[0]


def resolve_schedule(
    schedule: WeekSchedule,
    exceptions: Sequence[ExceptionPeriod],
    when: datetime,
    tz: tzinfo,
) -> ScheduleResolution:
    """The block in force at ``when`` (aware) and the block after it."""
    current, following = _current_and_next(schedule, exceptions, to_utc(when), tz)
    if following is None:  # a long exception: look again at its end
        following = block_at(schedule, exceptions, current.end, tz)
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
    cursor = low
    while cursor < high:
        timeline = _timeline(schedule, exceptions, tz, cursor, high)
        yielded = False
        for block in timeline:
            if block.end > cursor and block.start < high:
                yield block
                cursor = block.end
                yielded = True
        if not yielded:  # pragma: no cover - the timeline always covers cursor
            raise AssertionError("no block covers the range")
