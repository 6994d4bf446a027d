"""How many wall-unit polls and answers per second the protocol codec handles.

Run ``python -m bench.unit_codec [--json PATH] [--seconds S]``. The poll is
what the simulated unit sends (revision 5: every field, every OpenTherm id,
padding). Cases, each the pure codec work of one request (no HTTP):

* ``poll_decode``: ``split_request`` + ``decrypt_poll`` + ``parse_poll``;
* ``answer_encode``: ``render_answer`` + ``encrypt_answer`` of a usual answer
  (setpoint, outside temperature, zone offset);
* ``answer_calendar``: the same with the default schedule as the calendar
  (sent after ``init`` or a change);
* ``calendar_largest``: ``calendar_from_schedule`` + ``render_calendar`` of
  the largest schedule the core allows (672 entries) and 100 exceptions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bench import timing
from bench.timing import measure
from bridge.core.programs import (
    PROGRAM_NAMES,
    ExceptionPeriod,
    Programs,
    ScheduleEntry,
    WeekSchedule,
    default_schedule,
)
from bridge.opentherm.sim import SimWorld
from bridge.unit.calendar import calendar_from_schedule, render_calendar
from bridge.unit.protocol import (
    Answer,
    decrypt_poll,
    encrypt_answer,
    parse_poll,
    render_answer,
    split_request,
)
from bridge.unit.sim import SimUnit

HWID = "TS123456"
PASSWORD = "bench-password"
TZ = ZoneInfo("Europe/Amsterdam")


def _measure(run_once: Callable[[], object], seconds: float) -> dict[str, float]:
    """Call ``run_once`` for ``seconds``; its rate and mean time."""

    def once() -> int:
        run_once()
        return 1

    count, elapsed = measure(once, seconds)
    return {
        "runs": count,
        "seconds": round(elapsed, 4),
        "per_second": round(count / elapsed),
        "mean_us": round(elapsed / count * 1e6, 1),
    }


def _largest() -> tuple[WeekSchedule, list[ExceptionPeriod]]:
    entries = [
        ScheduleEntry(m // 1440, m // 60 % 24, m % 60, PROGRAM_NAMES[m // 15 % 5])
        for m in range(0, 7 * 1440, 15)
    ]
    first = datetime(2026, 2, 1)  # noqa: DTZ001 - the core's exceptions are naive wall times
    exceptions = [
        ExceptionPeriod(first + timedelta(hours=i), first + timedelta(hours=i + 2), "home")
        for i in range(100)
    ]
    return WeekSchedule(tuple(entries)), exceptions


def run(seconds: float) -> dict[str, dict[str, float]]:
    """Every case, each measured for ``seconds``."""
    unit = SimUnit(SimWorld(seed=1), hardware_id=HWID, password=PASSWORD, revision=5)
    query = unit.request_path().split("?", 1)[1]
    usual = Answer(setpoint=20.5, outside=3.5, tz_minutes=60)
    with_calendar = Answer(
        calendar=calendar_from_schedule(default_schedule(), [], Programs(), tz=TZ, version=1),
        setpoint=20.5,
        outside=3.5,
        tz_minutes=60,
    )
    schedule, exceptions = _largest()

    def poll_decode() -> None:
        hardware_id, hex_text = split_request(query)
        parse_poll(decrypt_poll(hex_text, PASSWORD), hardware_id=hardware_id, password=PASSWORD)

    cases: dict[str, Callable[[], object]] = {
        "poll_decode": poll_decode,
        "answer_encode": lambda: encrypt_answer(render_answer(usual), PASSWORD),
        "answer_calendar": lambda: encrypt_answer(render_answer(with_calendar), PASSWORD),
        "calendar_largest": lambda: render_calendar(
            calendar_from_schedule(schedule, exceptions, Programs(), tz=TZ, version=1)
        ),
    }
    return {name: _measure(case, seconds) for name, case in cases.items()}


def _table(results: dict[str, dict[str, float]]) -> str:
    rows = [f"{'case':<17} {'runs':>8} {'seconds':>8} {'per s':>9} {'mean µs':>9}"]
    for name, r in results.items():
        rows.append(
            f"{name:<17} {r['runs']:>8,.0f} {r['seconds']:>8.3f} {r['per_second']:>9,.0f}"
            f" {r['mean_us']:>9,.1f}"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print a table and optionally write JSON."""
    return timing.main(
        argv,
        name="unit_codec",
        title="Wall-unit codec",
        description=__doc__.split("\n")[0],
        run=run,
        table=_table,
    )


if __name__ == "__main__":
    raise SystemExit(main())
