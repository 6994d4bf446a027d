"""Schedule resolution with the worst valid schedule, without and with the memo.

Run ``python -m bench.schedule [--json PATH] [--rounds 200]``. The worst valid
schedule is one entry every quarter hour of the week (672, the most
``WeekSchedule`` takes, the program changing at each) and the most exceptions
the bridge keeps (100, overlapping, over the coming weeks). It measures, per
call, in this process:

* ``resolve_after_change``: ``core.state.resolve`` after a target change (what
  the thermostat and every view of the state work out on each change);
* ``resolve_override``: the same with a manual override in force (it also looks
  up the block the override was set in);
* ``resolve_next_block``: ``resolve`` a quarter of an hour later each call, so
  in a block not resolved before (what each block boundary costs);
* ``blocks_week``: ``iter_blocks`` over the coming week (``GET
  /api/v1/schedule/blocks``).

Each is timed ``cold`` (the memo cleared before each call: what every call
cost before the memo, and what the first call after a schedule change costs)
and ``warm`` (the memo kept, as in the running bridge); goal: warm p99 under
2 ms for a change.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
import sys
import time
from typing import Any
import zoneinfo

from bench.api import _summary
from bench.report import write_results
from bridge.core import schedule as sched, state as core
from bridge.core.programs import (
    MAX_EXCEPTIONS,
    MAX_SCHEDULE_ENTRIES,
    MINUTE_STEP,
    PROGRAM_NAMES,
    ExceptionPeriod,
    ScheduleEntry,
    WeekSchedule,
)

GOALS = {"warm_change_p99_ms": 2.0}
START = datetime(2026, 1, 12, 7, 3, tzinfo=UTC)


def worst_schedule() -> WeekSchedule:
    """An entry every quarter hour of the week, each changing the program."""
    programs = [name for name in PROGRAM_NAMES if name != "pause"]
    entries = []
    for i in range(MAX_SCHEDULE_ENTRIES):
        minutes = i * MINUTE_STEP
        day, rest = divmod(minutes, 24 * 60)
        entries.append(ScheduleEntry(day, rest // 60, rest % 60, programs[i % len(programs)]))
    return WeekSchedule(tuple(entries))


def worst_exceptions(start: datetime, tz: zoneinfo.ZoneInfo) -> tuple[ExceptionPeriod, ...]:
    """The most exceptions kept, overlapping each other, over the weeks from three days
    after ``start`` (so the first days run on the schedule's quarter-hour blocks)."""
    local = start.astimezone(tz).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    local += timedelta(days=3)
    return tuple(
        ExceptionPeriod(
            local + timedelta(hours=5 * i + 1),
            local + timedelta(hours=5 * i + 8),
            "comfort" if i % 2 else "not_home",
            f"exception {i}",
        )
        for i in range(MAX_EXCEPTIONS)
    )


def worst_state(start: datetime = START) -> core.ThermostatState:
    """A thermostat state holding the worst valid schedule and exceptions."""
    state = core.ThermostatState()
    return core.ThermostatState(
        schedule=worst_schedule(),
        exceptions=worst_exceptions(start, zoneinfo.ZoneInfo(state.timezone)),
    )


def _time(call: Callable[[int], object], rounds: int, *, cold: bool) -> list[float]:
    out = []
    for i in range(rounds):
        if cold:
            sched.clear_memo()
        began = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - began) * 1000)
    return out


def run(rounds: int) -> dict[str, Any]:
    state = worst_state()
    # a minute apart: a new instant every call, mostly inside one block
    moments = [START + timedelta(seconds=20 * i) for i in range(rounds)]

    def change(i: int) -> object:
        changed = core.pause(state, paused=False)  # a new state, as a write makes one
        return core.resolve(changed, moments[i])

    override = core.set_target(state, 21.0, START)

    def with_override(i: int) -> object:
        return core.resolve(override, moments[i])

    def next_block(i: int) -> object:
        # a quarter of an hour on per call: a block not seen yet every time
        return core.resolve(state, START + timedelta(minutes=15 * i))

    def week(i: int) -> object:
        return list(
            sched.iter_blocks(
                state.schedule,
                state.exceptions,
                moments[i],
                moments[i] + timedelta(days=7),
                state.tz,
            )
        )

    cases: dict[str, Callable[[int], object]] = {
        "resolve_after_change": change,
        "resolve_override": with_override,
        "resolve_next_block": next_block,
        "blocks_week": week,
    }
    results: dict[str, Any] = {
        "schedule_entries": len(state.schedule.entries),
        "exceptions": len(state.exceptions),
    }
    for name, call in cases.items():
        results[name] = {
            "cold": _summary(_time(call, rounds, cold=True)),
            "warm": _summary(_time(call, rounds, cold=False)),
        }
    results["goals"] = GOALS
    results["met"] = {
        "warm_change_p99": results["resolve_after_change"]["warm"]["p99_ms"]
        < GOALS["warm_change_p99_ms"]
    }
    return results


cases_shown = ("resolve_after_change", "resolve_override", "resolve_next_block", "blocks_week")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="schedule resolution with the worst schedule")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    results = run(args.rounds)
    print(
        f"worst valid schedule: {results['schedule_entries']} entries, "
        f"{results['exceptions']} exceptions"
    )
    print(f"{'case':<24}{'cold p50':>10}{'cold p99':>10}{'warm p50':>10}{'warm p99':>10}  (ms)")
    for name in cases_shown:
        cold, warm = results[name]["cold"], results[name]["warm"]
        print(
            f"{name:<24}{cold['p50_ms']:>10}{cold['p99_ms']:>10}"
            f"{warm['p50_ms']:>10}{warm['p99_ms']:>10}"
        )
    print(f"goal: warm resolve_after_change p99 < {GOALS['warm_change_p99_ms']:g} ms")
    write_results(args.json, "schedule", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
