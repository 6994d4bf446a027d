"""The week schedule and its exceptions as a timeline of blocks, as the bridge resolves them.

Schedule starts and exception times are wall-clock times in the bridge's
timezone. A wall time that occurs twice (clocks go back) means its first
occurrence; one that does not occur (clocks go forward) means the moment
the clocks jump, and of two schedule entries starting at the same instant
the later one wins. Exceptions win over the schedule while active
(start <= t < end); of overlapping exceptions, the one that started last
wins (on equal starts, the later one in the list). A schedule block that an
exception interrupts resumes at the exception's end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
import itertools

from .models import ScheduleEntry, ScheduleException

_HORIZON = timedelta(days=8)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, kw_only=True, slots=True)
class Block:
    """A stretch of time with one program; ``start`` and ``end`` are UTC."""

    start: datetime
    end: datetime
    program: str
    exception: ScheduleException | None = None


def wall_to_utc(wall: datetime, tz: tzinfo) -> datetime:
    """The instant (UTC) of a naive wall-clock time in ``tz``."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    # skipped by a forward jump: the first instant whose wall time is at or after ``wall``
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = first
    if low > high:
        low, high = high, low
    while high - low > _SECOND:
        middle = (low + (high - low) / 2).replace(microsecond=0)
        if middle <= low:
            break
        if middle.astimezone(tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high


def _schedule_starts(
    schedule: Sequence[ScheduleEntry], tz: tzinfo, low: datetime, high: datetime
) -> list[tuple[datetime, str]]:
    """(instant, program) of every schedule start in ``[low, high]``, in order."""
    first_day = low.astimezone(tz).date()
    monday = first_day - timedelta(days=first_day.weekday())
    last_day = high.astimezone(tz).date() + timedelta(days=1)
    found: dict[datetime, tuple[tuple[int, int, int, int], str]] = {}
    while monday <= last_day:
        for index, entry in enumerate(schedule):
            wall = datetime.combine(
                monday + timedelta(days=entry.day), time(entry.hour, entry.minute)
            )
            instant = wall_to_utc(wall, tz)
            if low <= instant <= high:
                # of entries landing on one instant, the later one (by start, then order) wins
                rank = (entry.day, entry.hour, entry.minute, index)
                if instant not in found or found[instant][0] < rank:
                    found[instant] = (rank, entry.program)
        monday += timedelta(days=7)
    return [(instant, found[instant][1]) for instant in sorted(found)]


def _exception_segments(
    exceptions: Sequence[ScheduleException], tz: tzinfo
) -> list[tuple[datetime, datetime, ScheduleException]]:
    """Maximal stretches with one winning exception, in order, not overlapping."""
    spans = []
    for index, exc in enumerate(exceptions):
        start, end = wall_to_utc(exc.start, tz), wall_to_utc(exc.end, tz)
        if start < end:
            spans.append((start, end, index))
    points = sorted({p for start, end, _ in spans for p in (start, end)})
    segments: list[tuple[datetime, datetime, int]] = []
    for a, b in itertools.pairwise(points):
        active = [(start, index) for start, end, index in spans if start <= a < end]
        if not active:
            continue
        winner = max(active)[1]
        if segments and segments[-1][2] == winner and segments[-1][1] == a:
            segments[-1] = (segments[-1][0], b, winner)
        else:
            segments.append((a, b, winner))
    return [(start, end, exceptions[index]) for start, end, index in segments]


def blocks_between(
    schedule: Sequence[ScheduleEntry],
    exceptions: Sequence[ScheduleException],
    tz: tzinfo,
    start: datetime,
    end: datetime,
) -> list[Block]:
    """The blocks overlapping ``[start, end)`` (aware datetimes), in order, unclipped."""
    low, high = start.astimezone(UTC), end.astimezone(UTC)
    if high <= low:
        return []
    segments = _exception_segments(exceptions, tz)
    blocks = [
        Block(start=seg_start, end=seg_end, program=exc.program, exception=exc)
        for seg_start, seg_end, exc in segments
    ]
    starts = _schedule_starts(schedule, tz, low - _HORIZON, high + _HORIZON) if schedule else []
    for (block_start, program), (block_end, _) in itertools.pairwise(starts):
        pieces = [(block_start, block_end)]
        for seg_start, seg_end, _exc in segments:
            cut = []
            for piece_start, piece_end in pieces:
                if seg_end <= piece_start or seg_start >= piece_end:
                    cut.append((piece_start, piece_end))
                    continue
                if piece_start < seg_start:
                    cut.append((piece_start, seg_start))
                if seg_end < piece_end:
                    cut.append((seg_end, piece_end))
            pieces = cut
        blocks.extend(Block(start=a, end=b, program=program) for a, b in pieces)
    blocks.sort(key=lambda block: block.start)
    return [block for block in blocks if block.end > low and block.start < high]
