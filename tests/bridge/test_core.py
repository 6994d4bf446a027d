"""Tests of the thermostat core: validation, schedule resolution and the target state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import itertools
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
import voluptuous as vol

from bridge.core.programs import (
    MAX_SCHEDULE_ENTRIES,
    PROGRAM_NAMES,
    ExceptionPeriod,
    Programs,
    ScheduleEntry,
    WeekSchedule,
    default_schedule,
    round_temperature,
    wall_time,
)
from bridge.core.schedule import (
    block_at,
    clear_memo,
    iter_blocks,
    resolve_schedule,
    wall_to_utc,
)
from bridge.core.schemas import (
    EXCEPTIONS_SCHEMA,
    PROGRAMS_SCHEMA,
    SCHEDULE_SCHEMA,
    parse_exceptions,
    parse_program_changes,
    parse_programs,
    parse_schedule,
)
from bridge.core.state import (
    Override,
    SensorValue,
    Source,
    ThermostatState,
    clear_override,
    expire_override,
    pause,
    push_outside_temperature,
    push_room_temperature,
    resolve,
    select_outside_temperature,
    select_room_temperature,
    set_exceptions,
    set_schedule,
    set_target,
    set_timezone,
)
from bridge.core.validation import (
    ValidationError,
    errors_from_invalid,
    format_path,
    parse_outside_temperature,
    parse_room_temperature,
    parse_target_temperature,
    timezone_name,
)

AMS = ZoneInfo("Europe/Amsterdam")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware Amsterdam time (first occurrence in the repeated hour)."""
    return datetime(year, month, day, hour, minute, tzinfo=AMS)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def errors_of(parse: Any, data: Any) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as info:
        parse(data)
    return [{"field": e["field"], "rule": e["rule"]} for e in info.value.errors]


def entry(day: int, hour: int, minute: int, program: str) -> dict[str, Any]:
    return {"start": [day, hour, minute], "temperature": program}


GOOD_PROGRAMS = {"anti_freeze": 7, "not_home": 15, "home": 19.5, "comfort": 21, "pause": 10}


# -- validation: programs ----------------------------------------------------------


def test_programs_valid_are_rounded_to_a_tenth() -> None:
    programs = parse_programs({**GOOD_PROGRAMS, "home": 19.46, "comfort": "21.04"})
    assert programs == Programs(anti_freeze=7, not_home=15, home=19.5, comfort=21.0, pause=10)
    assert programs.to_dict()["home"] == 19.5


def test_round_temperature_is_half_up_without_float_noise() -> None:
    assert round_temperature(19.45) == 19.5
    assert round_temperature(19.44) == 19.4
    assert round_temperature(-2.25) == -2.3
    assert round_temperature(5.0) == 5.0


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"anti_freeze": 4.9}, "programs.anti_freeze", "must be between 5 and 30 °C"),
        ({"comfort": 30.1}, "programs.comfort", "must be between 5 and 30 °C"),
        ({"home": "warm"}, "programs.home", "must be a number"),
        ({"home": True}, "programs.home", "must be a number"),
        ({"home": None}, "programs.home", "must be a number"),
        ({"pause": float("nan")}, "programs.pause", "must be a number"),
        ({"pause": float("inf")}, "programs.pause", "must be a number"),
        ({"sauna": 80}, "programs.sauna", "unknown field"),
    ],
)
def test_programs_invalid_name_the_field_and_rule(
    change: dict[str, Any], field: str, rule: str
) -> None:
    assert errors_of(parse_programs, {**GOOD_PROGRAMS, **change}) == [
        {"field": field, "rule": rule}
    ]


def test_programs_missing_and_not_an_object() -> None:
    data = dict(GOOD_PROGRAMS)
    del data["not_home"]
    assert errors_of(parse_programs, data) == [{"field": "programs.not_home", "rule": "required"}]
    assert errors_of(parse_programs, [1, 2]) == [{"field": "programs", "rule": "must be an object"}]


def test_program_changes_may_be_partial() -> None:
    assert parse_program_changes({"home": 20.04}) == {"home": 20.0}
    assert Programs().updated({"home": 20.0}).home == 20.0
    assert errors_of(parse_program_changes, {"home": 3}) == [
        {"field": "programs.home", "rule": "must be between 5 and 30 °C"}
    ]


# -- validation: schedule ----------------------------------------------------------


def test_schedule_valid_is_sorted() -> None:
    schedule = parse_schedule([entry(6, 23, 0, "not_home"), entry(0, 6, 30, "home")])
    assert schedule.entries == (
        ScheduleEntry(0, 6, 30, "home"),
        ScheduleEntry(6, 23, 0, "not_home"),
    )
    assert schedule.to_list() == [entry(0, 6, 30, "home"), entry(6, 23, 0, "not_home")]


def test_default_schedule_round_trips_through_the_schema() -> None:
    schedule = default_schedule()
    assert parse_schedule(schedule.to_list()) == schedule
    assert len(schedule.entries) == 5 * 4 + 2 * 2


@pytest.mark.parametrize(
    ("bad", "field", "rule"),
    [
        (entry(7, 6, 0, "home"), "schedule[1].start[0]", "must be 0-6 (0 = Monday)"),
        (entry(-1, 6, 0, "home"), "schedule[1].start[0]", "must be 0-6 (0 = Monday)"),
        (entry(1, 24, 0, "home"), "schedule[1].start[1]", "must be 0-23"),
        (entry(1, 6, 10, "home"), "schedule[1].start[2]", "must be 0, 15, 30 or 45"),
        (entry(1, 6, 60, "home"), "schedule[1].start[2]", "must be 0, 15, 30 or 45"),
        (entry(1, 6.5, 0, "home"), "schedule[1].start[1]", "must be an integer"),  # type: ignore[arg-type]
        (entry(1, True, 0, "home"), "schedule[1].start[1]", "must be an integer"),
        (
            {"start": [1, 6], "temperature": "home"},
            "schedule[1].start",
            "must be [day, hour, minute]",
        ),
        (
            {"start": "mon 6:00", "temperature": "home"},
            "schedule[1].start",
            "must be [day, hour, minute]",
        ),
        (
            entry(1, 6, 0, "sauna"),
            "schedule[1].temperature",
            "unknown program (one of anti_freeze, not_home, home, comfort, pause)",
        ),
        ({"start": [1, 6, 0]}, "schedule[1].temperature", "required"),
        ({**entry(1, 6, 0, "home"), "colour": "red"}, "schedule[1].colour", "unknown field"),
        ("home", "schedule[1]", "must be an object"),
        (
            entry(0, 6, 30, "comfort"),
            "schedule[1].start",
            "duplicate start (same as schedule entry 0)",
        ),
    ],
)
def test_schedule_invalid_entry_names_the_field_and_rule(bad: Any, field: str, rule: str) -> None:
    data = [entry(0, 6, 30, "home"), bad, entry(2, 8, 0, "home")]
    assert errors_of(parse_schedule, data) == [{"field": field, "rule": rule}]


def test_schedule_integral_floats_are_accepted() -> None:
    schedule = parse_schedule([{"start": [0.0, 6.0, 15.0], "temperature": "home"}])
    assert schedule.entries == (ScheduleEntry(0, 6, 15, "home"),)


def test_schedule_reports_every_bad_entry() -> None:
    errors = errors_of(parse_schedule, [entry(7, 0, 0, "home"), entry(0, 0, 5, "x")])
    assert {e["field"] for e in errors} == {
        "schedule[0].start[0]",
        "schedule[1].start[2]",
        "schedule[1].temperature",
    }


def test_schedule_size_limits() -> None:
    assert errors_of(parse_schedule, []) == [
        {"field": "schedule", "rule": "must have at least one entry"}
    ]
    assert errors_of(parse_schedule, {"home": 20}) == [
        {"field": "schedule", "rule": "must be a list"}
    ]
    full = [entry(d, h, m, "home") for d in range(7) for h in range(24) for m in (0, 15, 30, 45)]
    assert len(parse_schedule(full).entries) == MAX_SCHEDULE_ENTRIES
    assert errors_of(parse_schedule, [*full, entry(0, 0, 0, "home")]) == [
        {"field": "schedule", "rule": f"at most {MAX_SCHEDULE_ENTRIES} entries"}
    ]


def test_week_schedule_model_keeps_its_invariants() -> None:
    with pytest.raises(ValueError, match="at least one"):
        WeekSchedule(())
    with pytest.raises(ValueError, match="sorted"):
        WeekSchedule((ScheduleEntry(1, 0, 0, "home"), ScheduleEntry(0, 0, 0, "home")))
    with pytest.raises(ValueError, match="15-minute"):
        ScheduleEntry(0, 0, 5, "home")
    with pytest.raises(ValueError, match="unknown program"):
        ScheduleEntry(0, 0, 0, "sauna")


# -- validation: exceptions --------------------------------------------------------


def exc(
    start: list[int], end: list[int], program: str = "not_home", **extra: Any
) -> dict[str, Any]:
    return {"start": start, "end": end, "temperature": program, **extra}


def test_exceptions_valid_month_is_zero_based() -> None:
    (period,) = parse_exceptions(
        [exc([2026, 0, 31, 22, 45], [2026, 1, 1, 8, 0], description="weekend away")]
    )
    assert period.start == datetime(2026, 1, 31, 22, 45)  # noqa: DTZ001 - wall-clock time
    assert period.end == datetime(2026, 2, 1, 8, 0)  # noqa: DTZ001
    assert period.description == "weekend away"
    assert period.to_dict() == exc(
        [2026, 0, 31, 22, 45], [2026, 1, 1, 8, 0], description="weekend away"
    )


def test_exceptions_description_defaults_to_empty_and_may_be_30_characters() -> None:
    (a, b) = parse_exceptions(
        [
            exc([2026, 5, 1, 0, 0], [2026, 5, 2, 0, 0]),
            exc([2026, 5, 3, 0, 0], [2026, 5, 4, 0, 0], description="x" * 30),
        ]
    )
    assert a.description == ""
    assert b.description == "x" * 30
    assert parse_exceptions([]) == ()


@pytest.mark.parametrize(
    ("bad", "field", "rule"),
    [
        (
            exc([2026, 12, 1, 0, 0], [2027, 0, 2, 0, 0]),
            "exceptions[0].start[1]",
            "must be 0-11 (January = 0)",
        ),
        (
            exc([2026, -1, 1, 0, 0], [2026, 1, 2, 0, 0]),
            "exceptions[0].start[1]",
            "must be 0-11 (January = 0)",
        ),
        (exc([2026, 1, 30, 0, 0], [2026, 2, 2, 0, 0]), "exceptions[0].start[2]", "no such date"),
        (exc([2025, 1, 29, 0, 0], [2025, 2, 2, 0, 0]), "exceptions[0].start[2]", "no such date"),
        (exc([2026, 3, 31, 0, 0], [2026, 4, 2, 0, 0]), "exceptions[0].start[2]", "no such date"),
        (exc([2026, 0, 0, 0, 0], [2026, 0, 2, 0, 0]), "exceptions[0].start[2]", "must be 1-31"),
        (exc([2026, 0, 1, 24, 0], [2026, 0, 2, 0, 0]), "exceptions[0].start[3]", "must be 0-23"),
        (
            exc([2026, 0, 1, 0, 0], [2026, 0, 2, 0, 20]),
            "exceptions[0].end[4]",
            "must be 0, 15, 30 or 45",
        ),
        (
            exc([1999, 0, 1, 0, 0], [2026, 0, 2, 0, 0]),
            "exceptions[0].start[0]",
            "must be 2000-2099",
        ),
        (
            exc([2026, 0, 1, 0], [2026, 0, 2, 0, 0]),
            "exceptions[0].start",
            "must be [year, month, day, hour, minute]",
        ),
        (exc([2026, 0, 2, 0, 0], [2026, 0, 2, 0, 0]), "exceptions[0].end", "must be after start"),
        (exc([2026, 0, 2, 0, 0], [2026, 0, 1, 23, 45]), "exceptions[0].end", "must be after start"),
        (
            exc([2026, 0, 1, 0, 0], [2026, 0, 2, 0, 0], "sauna"),
            "exceptions[0].temperature",
            "unknown program (one of anti_freeze, not_home, home, comfort, pause)",
        ),
        (
            exc([2026, 0, 1, 0, 0], [2026, 0, 2, 0, 0], description="x" * 31),
            "exceptions[0].description",
            "at most 30 characters",
        ),
        (
            exc([2026, 0, 1, 0, 0], [2026, 0, 2, 0, 0], description=12),
            "exceptions[0].description",
            "must be a string",
        ),
        (
            exc([2026, 0, 1, 0, 0], [2026, 0, 2, 0, 0], repeat="weekly"),
            "exceptions[0].repeat",
            "unknown field",
        ),
        ({"start": [2026, 0, 1, 0, 0], "temperature": "home"}, "exceptions[0].end", "required"),
    ],
)
def test_exceptions_invalid_name_the_field_and_rule(bad: Any, field: str, rule: str) -> None:
    assert errors_of(parse_exceptions, [bad]) == [{"field": field, "rule": rule}]


def test_exceptions_count_limit() -> None:
    one = exc([2026, 0, 1, 0, 0], [2026, 0, 2, 0, 0])
    assert len(parse_exceptions([one] * 100)) == 100
    assert errors_of(parse_exceptions, [one] * 101) == [
        {"field": "exceptions", "rule": "at most 100 entries"}
    ]


def test_exception_model_keeps_its_invariants() -> None:
    start = wall_time(2026, 0, 1, 0, 0)
    with pytest.raises(ValueError, match="ends after"):
        ExceptionPeriod(start, start, "home")
    with pytest.raises(ValueError, match="naive"):
        ExceptionPeriod(start.replace(tzinfo=UTC), start.replace(tzinfo=UTC, day=2), "home")


# -- validation: scalars and helpers ------------------------------------------------


def test_scalar_parsers() -> None:
    assert parse_target_temperature("20.55") == 20.6
    assert errors_of(parse_target_temperature, 31) == [
        {"field": "target_temperature", "rule": "must be between 5 and 30 °C"}
    ]
    assert parse_outside_temperature("auto") is None
    assert parse_outside_temperature(-3.25) == -3.3
    assert errors_of(parse_outside_temperature, "sunny") == [
        {"field": "outside_temperature", "rule": "must be a number"}
    ]
    assert parse_room_temperature(21.04) == 21.0
    assert errors_of(parse_room_temperature, 85) == [
        {"field": "room_temperature", "rule": "must be between -20 and 50 °C"}
    ]
    assert timezone_name("Europe/Amsterdam") == "Europe/Amsterdam"
    with pytest.raises(vol.Invalid, match="unknown timezone"):
        timezone_name("Mars/Olympus_Mons")


def test_schemas_compose_into_one_body_schema_with_full_paths() -> None:
    body = vol.Schema(
        {
            vol.Optional("programs"): PROGRAMS_SCHEMA,
            vol.Optional("schedule"): SCHEDULE_SCHEMA,
            vol.Optional("exceptions"): EXCEPTIONS_SCHEMA,
        }
    )
    good = body({"programs": GOOD_PROGRAMS, "schedule": [entry(0, 7, 0, "home")]})
    assert isinstance(good["programs"], Programs)
    assert isinstance(good["schedule"], WeekSchedule)
    with pytest.raises(vol.MultipleInvalid) as info:
        body(
            {
                "schedule": [
                    entry(0, 7, 0, "home"),
                    entry(0, 7, 0, "home"),
                    entry(3, 9, 20, "home"),
                ],
                "exceptions": [exc([2026, 1, 29, 0, 0], [2026, 2, 1, 0, 0])],
                "geofence": True,
            }
        )
    errors = errors_from_invalid(info.value)
    assert {"field": "schedule[3].start[2]", "rule": "must be 0, 15, 30 or 45"} not in errors
    assert {"field": "schedule[2].start[2]", "rule": "must be 0, 15, 30 or 45"} in errors
    assert {"field": "exceptions[0].start[2]", "rule": "no such date"} in errors
    assert {"field": "geofence", "rule": "unknown field"} in errors


def test_format_path_and_validation_error_message() -> None:
    assert format_path(["schedule", 3, "start", 2]) == "schedule[3].start[2]"
    assert format_path([0, "start"]) == "[0].start"
    assert format_path([]) == ""
    err = ValidationError([{"field": "schedule[0]", "rule": "must be an object"}])
    assert str(err) == "schedule[0]: must be an object"
    assert isinstance(err, ValueError)


# -- schedule resolution ------------------------------------------------------------


def test_default_schedule_monday_morning() -> None:
    r = resolve_schedule(default_schedule(), (), local(2026, 1, 5, 7, 0), AMS)
    assert (r.program, r.source) == ("home", "schedule")
    assert r.block_start == local(2026, 1, 5, 6, 30).astimezone(UTC)
    assert r.next_start == local(2026, 1, 5, 8, 30).astimezone(UTC)
    assert r.next_program == "not_home"
    assert r.block_start.tzinfo is UTC


def test_block_start_is_inclusive_and_end_exclusive() -> None:
    schedule = default_schedule()
    assert block_at(schedule, (), local(2026, 1, 5, 6, 30), AMS).program == "home"
    assert block_at(schedule, (), local(2026, 1, 5, 6, 29), AMS).program == "not_home"


def test_week_wraps_from_sunday_night_to_monday_morning() -> None:
    r = resolve_schedule(default_schedule(), (), local(2026, 1, 4, 23, 30), AMS)  # Sunday
    assert r.program == "not_home"
    assert r.block_start == local(2026, 1, 4, 23, 0).astimezone(UTC)
    assert r.next_start == local(2026, 1, 5, 6, 30).astimezone(UTC)
    # Monday 03:00 is still in Sunday night's block
    early = block_at(default_schedule(), (), local(2026, 1, 5, 3, 0), AMS)
    assert early.start == local(2026, 1, 4, 23, 0).astimezone(UTC)


def test_a_single_entry_schedule_makes_week_long_blocks() -> None:
    schedule = WeekSchedule((ScheduleEntry(2, 12, 0, "comfort"),))
    r = resolve_schedule(schedule, (), local(2026, 1, 5, 0, 0), AMS)  # Monday
    assert r.program == "comfort"
    assert r.block_start == local(2025, 12, 31, 12, 0).astimezone(UTC)  # a Wednesday
    assert r.next_start == local(2026, 1, 7, 12, 0).astimezone(UTC)
    assert r.next_program == "comfort"


SPRING = WeekSchedule.of(
    [
        ScheduleEntry(5, 22, 0, "not_home"),
        ScheduleEntry(6, 2, 15, "home"),  # 2026-03-29 02:15 does not exist
        ScheduleEntry(6, 2, 30, "comfort"),  # neither does 02:30
        ScheduleEntry(6, 9, 0, "home"),
    ]
)


def test_dst_spring_forward_blocks_in_the_skipped_hour_start_at_the_jump() -> None:
    jump = utc(2026, 3, 29, 1, 0)  # 02:00 CET -> 03:00 CEST
    assert wall_to_utc(datetime(2026, 3, 29, 2, 30), AMS) == jump  # noqa: DTZ001
    assert wall_to_utc(datetime(2026, 3, 29, 3, 0), AMS) == jump  # noqa: DTZ001
    before = resolve_schedule(SPRING, (), utc(2026, 3, 29, 0, 59), AMS)
    assert before.program == "not_home"
    assert before.next_start == jump
    assert before.next_program == "comfort"  # 02:15 and 02:30 meet at the jump: the later wins
    after = resolve_schedule(SPRING, (), local(2026, 3, 29, 3, 10), AMS)
    assert after.program == "comfort"
    assert after.block_start == jump
    assert after.next_start == local(2026, 3, 29, 9, 0).astimezone(UTC)
    # the night block lasted 22:00 CET -> 03:00 CEST: 4 hours
    assert before.next_start - before.block_start == timedelta(hours=4)


FALL = WeekSchedule.of(
    [
        ScheduleEntry(6, 1, 0, "home"),
        ScheduleEntry(6, 2, 30, "comfort"),  # 2026-10-25 02:30 happens twice
        ScheduleEntry(6, 4, 0, "not_home"),
    ]
)


def test_dst_fall_back_repeated_wall_time_means_its_first_occurrence() -> None:
    first = utc(2026, 10, 25, 0, 30)  # 02:30 CEST
    assert wall_to_utc(datetime(2026, 10, 25, 2, 30), AMS) == first  # noqa: DTZ001
    home = block_at(FALL, (), utc(2026, 10, 24, 23, 30), AMS)  # 01:30 CEST
    assert home.program == "home"
    assert home.end == first
    # 02:10 CET (second occurrence, after 02:30 CEST) is already in the comfort block
    second_pass = datetime(2026, 10, 25, 2, 10, fold=1, tzinfo=AMS)
    comfort = block_at(FALL, (), second_pass, AMS)
    assert comfort.program == "comfort"
    assert comfort.start == first
    assert comfort.end == utc(2026, 10, 25, 3, 0)  # 04:00 CET
    assert comfort.end - comfort.start == timedelta(hours=2, minutes=30)


def test_iter_blocks_covers_a_week_contiguously() -> None:
    start, end = local(2026, 1, 5, 0, 0), local(2026, 1, 12, 0, 0)
    blocks = list(iter_blocks(default_schedule(), (), start, end, AMS))
    assert blocks[0].start <= start < blocks[0].end
    assert blocks[-1].start < end <= blocks[-1].end
    for a, b in itertools.pairwise(blocks):
        assert a.end == b.start
    assert len(blocks) == 25  # Sunday night's block opens the week, 24 switch points in it
    assert sum(1 for b in blocks if b.program == "home") == 12
    assert list(iter_blocks(default_schedule(), (), end, start, AMS)) == []


def test_iter_blocks_across_a_dst_week_adds_up_to_the_real_duration() -> None:
    start, end = local(2026, 3, 23, 0, 0), local(2026, 3, 30, 0, 0)
    blocks = list(iter_blocks(default_schedule(), (), start, end, AMS))
    inside = sum(((min(b.end, end) - max(b.start, start)) for b in blocks), start=timedelta())
    assert inside == timedelta(days=7) - timedelta(hours=1)


def _every_quarter_hour() -> WeekSchedule:
    """The longest valid schedule: an entry every quarter hour, the program changing at each."""
    names = ("home", "not_home", "comfort")
    return WeekSchedule(
        tuple(
            ScheduleEntry(m // 96, m % 96 // 4, m % 4 * 15, names[m % 3])
            for m in range(MAX_SCHEDULE_ENTRIES)
        )
    )


@pytest.mark.parametrize("day", [(2026, 3, 28), (2026, 10, 24)])
def test_a_kept_plan_answers_exactly_as_a_fresh_one_across_a_dst_night(
    day: tuple[int, int, int],
) -> None:
    year, month, mday = day
    evening = wall_time(year, month - 1, mday, 23, 0)
    schedule = _every_quarter_hour()
    exceptions = (
        ExceptionPeriod(evening, evening + timedelta(minutes=45), "anti_freeze"),
        ExceptionPeriod(evening + timedelta(minutes=30), evening + timedelta(hours=5), "home"),
    )
    moments = [local(*day, 20, 0) + timedelta(minutes=7 * i) for i in range(100)]
    kept = [resolve_schedule(schedule, exceptions, t, AMS) for t in moments]
    fresh = []
    for t in moments:
        clear_memo()
        fresh.append(resolve_schedule(schedule, exceptions, t, AMS))
    assert kept == fresh
    # and a moment inside a block found earlier is answered with that block
    assert resolve_schedule(schedule, exceptions, moments[0], AMS) == kept[0]


def test_an_edited_schedule_or_exception_list_is_resolved_afresh() -> None:
    at = local(2026, 1, 7, 12, 5)
    edited = WeekSchedule((ScheduleEntry(0, 0, 0, "comfort"),))
    assert resolve_schedule(default_schedule(), (), at, AMS).program == "not_home"
    assert resolve_schedule(edited, (), at, AMS).program == "comfort"
    noon = wall_time(2026, 0, 7, 12, 0)
    exceptions = [ExceptionPeriod(noon, noon + timedelta(hours=1), "pause")]
    assert block_at(edited, exceptions, at, AMS).program == "pause"
    # a list can change behind the caller's back: it is read again each time
    exceptions[0] = ExceptionPeriod(noon, noon + timedelta(hours=1), "home")
    assert block_at(edited, exceptions, at, AMS).program == "home"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        resolve_schedule(default_schedule(), (), datetime(2026, 1, 5, 7, 0), AMS)  # noqa: DTZ001


# -- exceptions in the schedule -----------------------------------------------------

HOLIDAY = ExceptionPeriod(
    wall_time(2026, 0, 5, 10, 0), wall_time(2026, 0, 5, 14, 0), "comfort", "day off"
)


def test_an_active_exception_takes_priority() -> None:
    r = resolve_schedule(default_schedule(), (HOLIDAY,), local(2026, 1, 5, 11, 0), AMS)
    assert (r.program, r.source) == ("comfort", "exception")
    assert r.current.exception is HOLIDAY
    assert r.current.description == "day off"
    assert r.block_start == local(2026, 1, 5, 10, 0).astimezone(UTC)
    assert r.next_start == local(2026, 1, 5, 14, 0).astimezone(UTC)
    assert (r.next_program, r.next.source) == ("not_home", "schedule")  # back to 08:30's block


def test_an_upcoming_exception_ends_the_current_block() -> None:
    r = resolve_schedule(default_schedule(), (HOLIDAY,), local(2026, 1, 5, 9, 0), AMS)
    assert (r.program, r.source) == ("not_home", "schedule")
    assert r.next_start == local(2026, 1, 5, 10, 0).astimezone(UTC)
    assert (r.next_program, r.next.source) == ("comfort", "exception")


def test_a_schedule_block_resumes_after_an_exception_as_a_new_block() -> None:
    blocks = list(
        iter_blocks(
            default_schedule(), (HOLIDAY,), local(2026, 1, 5, 9, 0), local(2026, 1, 5, 18, 0), AMS
        )
    )
    assert [(b.program, b.source, b.start.astimezone(AMS).hour) for b in blocks] == [
        ("not_home", "schedule", 8),
        ("comfort", "exception", 10),
        ("not_home", "schedule", 14),
        ("home", "schedule", 17),
    ]


def test_overlapping_exceptions_the_latest_start_wins() -> None:
    away = ExceptionPeriod(
        wall_time(2026, 0, 10, 0, 0), wall_time(2026, 0, 20, 0, 0), "anti_freeze", "ski"
    )
    visit = ExceptionPeriod(
        wall_time(2026, 0, 12, 12, 0), wall_time(2026, 0, 12, 18, 0), "home", "plumber"
    )
    blocks = list(
        iter_blocks(
            default_schedule(),
            (visit, away),
            local(2026, 1, 11, 0, 0),
            local(2026, 1, 13, 0, 0),
            AMS,
        )
    )
    assert [(b.program, b.description) for b in blocks] == [
        ("anti_freeze", "ski"),
        ("home", "plumber"),
        ("anti_freeze", "ski"),
    ]
    assert blocks[0].start == local(2026, 1, 10, 0, 0).astimezone(UTC)
    assert blocks[2].end == local(2026, 1, 20, 0, 0).astimezone(UTC)


def test_a_long_exception_reaches_past_the_search_horizon() -> None:
    away = ExceptionPeriod(
        wall_time(2026, 0, 1, 0, 0), wall_time(2026, 2, 1, 0, 0), "anti_freeze", "winter trip"
    )
    r = resolve_schedule(default_schedule(), (away,), local(2026, 1, 15, 12, 0), AMS)
    assert r.source == "exception"
    assert r.block_start == local(2026, 1, 1, 0, 0).astimezone(UTC)
    assert r.next_start == local(2026, 3, 1, 0, 0).astimezone(UTC)
    assert r.next_program == "not_home"  # Sunday 1 March 00:00 is night


# -- the thermostat state machine ---------------------------------------------------

MONDAY_7 = local(2026, 1, 5, 7, 0)


def test_resolve_follows_the_schedule() -> None:
    state = ThermostatState()
    r = resolve(state, MONDAY_7)
    assert (r.target, r.program, r.source) == (19.5, "home", Source.SCHEDULE)
    assert r.source == "schedule"
    assert r.until == local(2026, 1, 5, 8, 30).astimezone(UTC)
    assert (r.next_program, r.next_target) == ("not_home", 15.0)
    assert not r.frost_limited


def test_manual_override_holds_until_the_next_block() -> None:
    state = ThermostatState()
    manual = set_target(state, 22.04, MONDAY_7)
    assert state.override is None  # the old state is untouched
    r = resolve(manual, MONDAY_7 + timedelta(minutes=30))
    assert (r.target, r.program, r.source) == (22.0, None, Source.MANUAL)
    assert r.until == local(2026, 1, 5, 8, 30).astimezone(UTC)
    assert r.scheduled_program == "home"
    after = resolve(manual, local(2026, 1, 5, 8, 30))
    assert (after.target, after.source) == (15.0, Source.SCHEDULE)
    assert expire_override(manual, local(2026, 1, 5, 8, 30)).override is None
    assert expire_override(manual, MONDAY_7).override == manual.override


def test_remote_override_reports_remote() -> None:
    remote = set_target(ThermostatState(), 18, MONDAY_7, remote=True)
    r = resolve(remote, MONDAY_7)
    assert (r.target, r.source) == (18.0, Source.REMOTE)
    assert clear_override(remote).override is None
    assert resolve(clear_override(remote), MONDAY_7).source == Source.SCHEDULE


@pytest.mark.parametrize("bad", [4.9, 30.5, float("nan"), float("inf")])
def test_set_target_refuses_out_of_range(bad: float) -> None:
    with pytest.raises(ValueError, match="between 5 and 30"):
        set_target(ThermostatState(), bad, MONDAY_7)


def test_an_exception_starting_ends_an_override() -> None:
    state = set_exceptions(ThermostatState(), (HOLIDAY,))
    manual = set_target(state, 23, local(2026, 1, 5, 9, 0))
    assert resolve(manual, local(2026, 1, 5, 9, 59)).source == Source.MANUAL
    r = resolve(manual, local(2026, 1, 5, 10, 0))
    assert (r.source, r.program, r.target) == (Source.EXCEPTION, "comfort", 21.0)
    # an override set during the exception holds until it ends
    during = set_target(state, 17, local(2026, 1, 5, 11, 0))
    assert resolve(during, local(2026, 1, 5, 13, 59)).target == 17.0
    assert resolve(during, local(2026, 1, 5, 14, 0)).source == Source.SCHEDULE


def test_a_schedule_edit_moves_the_override_end() -> None:
    manual = set_target(ThermostatState(), 23, MONDAY_7)
    earlier = set_schedule(
        manual,
        WeekSchedule.of([ScheduleEntry(0, 6, 30, "home"), ScheduleEntry(0, 7, 30, "not_home")]),
    )
    assert resolve(earlier, local(2026, 1, 5, 7, 29)).source == Source.MANUAL
    assert resolve(earlier, local(2026, 1, 5, 7, 30)).source == Source.SCHEDULE


def test_pause_holds_the_pause_program_until_unpaused() -> None:
    manual = set_target(ThermostatState(), 23, MONDAY_7)
    paused = pause(manual, True)
    assert paused.override is None
    for when in (MONDAY_7, local(2026, 1, 9, 18, 0), local(2026, 2, 1, 12, 0)):
        r = resolve(paused, when)
        assert (r.target, r.program, r.source, r.until) == (10.0, "pause", Source.PAUSE, None)
    resumed = pause(paused, False)
    assert resolve(resumed, MONDAY_7).source == Source.SCHEDULE
    # setting a target ends a pause
    assert resolve(set_target(paused, 21, MONDAY_7), MONDAY_7).source == Source.MANUAL


def test_frost_floor_is_anti_freeze_in_every_state() -> None:
    programs = Programs(anti_freeze=12.0, not_home=10.0, home=19.5, comfort=21.0, pause=6.0)
    state = ThermostatState(programs=programs)
    night = local(2026, 1, 5, 3, 0)
    r = resolve(state, night)
    assert (r.target, r.program, r.frost_limited) == (12.0, "not_home", True)
    assert resolve(pause(state, True), night).target == 12.0
    assert resolve(state, MONDAY_7).next_target == 12.0  # the 08:30 not_home block


def test_frost_floor_is_never_below_5_even_with_a_bad_anti_freeze() -> None:
    programs = Programs(anti_freeze=2.0, not_home=3.0, home=19.5, comfort=21.0, pause=1.0)
    state = ThermostatState(programs=programs)
    assert resolve(pause(state, True), MONDAY_7).target == 5.0
    assert resolve(state, local(2026, 1, 5, 3, 0)).target == 5.0
    broken = ThermostatState(override=Override(float("nan"), MONDAY_7.astimezone(UTC)))
    assert resolve(broken, MONDAY_7).target == Programs().anti_freeze


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    temps=st.lists(st.floats(min_value=-10, max_value=40), min_size=5, max_size=5),
    minutes=st.integers(min_value=0, max_value=60 * 24 * 400),
    paused=st.booleans(),
    override=st.one_of(st.none(), st.floats(min_value=-50, max_value=50)),
    override_age=st.integers(min_value=0, max_value=60 * 24 * 8),
)
def test_property_target_never_below_the_frost_floor(
    temps: list[float], minutes: int, paused: bool, override: float | None, override_age: int
) -> None:
    programs = Programs(**dict(zip(PROGRAM_NAMES, temps, strict=True)))
    now = utc(2026, 1, 1) + timedelta(minutes=minutes)
    state = ThermostatState(
        programs=programs,
        exceptions=(HOLIDAY,),
        paused=paused,
        override=(
            None
            if override is None
            else Override(override, now - timedelta(minutes=override_age), remote=True)
        ),
    )
    r = resolve(state, now)
    assert r.target >= max(5.0, round_temperature(programs.anti_freeze))
    assert r.next_target >= max(5.0, round_temperature(programs.anti_freeze))
    assert r.until is None or r.until > now
    assert r.source in set(Source)


def test_timezone_is_configurable() -> None:
    state = set_timezone(ThermostatState(), "UTC")
    # 06:15 UTC is 07:15 in Amsterdam: home there, not yet in UTC
    assert resolve(state, utc(2026, 1, 5, 6, 15)).program == "not_home"
    assert resolve(ThermostatState(), utc(2026, 1, 5, 6, 15)).program == "home"
    with pytest.raises(ValueError, match="unknown timezone"):
        set_timezone(state, "Nowhere/Land")


def test_pushed_temperatures_and_their_freshness() -> None:
    now = MONDAY_7
    state = push_room_temperature(ThermostatState(), 20.3, now - timedelta(minutes=10))
    assert select_room_temperature(state, now, 19.0) == 20.3
    assert select_room_temperature(state, now + timedelta(hours=1), 19.0) == 19.0
    assert select_room_temperature(state, now + timedelta(hours=1), float("nan")) is None
    assert push_room_temperature(state, None, now).room_temperature is None
    with pytest.raises(ValueError, match="finite"):
        push_room_temperature(state, float("nan"), now)

    state = push_outside_temperature(ThermostatState(), 3.5, now)
    weather = SensorValue(1.0, now - timedelta(minutes=30))
    assert select_outside_temperature(state, now, boiler=-1.0, weather=weather) == (-1.0, "boiler")
    assert select_outside_temperature(state, now, weather=weather) == (3.5, "pushed")
    auto = push_outside_temperature(state, None, now)
    assert select_outside_temperature(auto, now, weather=weather) == (1.0, "weather")
    assert select_outside_temperature(auto, now + timedelta(hours=5), weather=weather) == (
        None,
        None,
    )
