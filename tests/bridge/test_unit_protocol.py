"""The wall unit's protocol: ARC4, its key, polls, answers and the calendar.

Expected ciphertexts are published ARC4 vectors, or were computed once with
an independent ARC4 (the ``cryptography`` package) from the hand-derived key
and written here; calendar strings are written out by hand.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone
import itertools
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from bridge.core.clock import VirtualClock
from bridge.core.programs import (
    MAX_SCHEDULE_ENTRIES,
    PROGRAM_NAMES,
    ExceptionPeriod,
    Programs,
    ScheduleEntry,
    WeekSchedule,
    default_schedule,
)
from bridge.core.schedule import block_at
from bridge.opentherm.links.unit import UnitLink
from bridge.unit.calendar import (
    MAX_EXCEPTION_RECORDS,
    MAX_WEEK_RECORDS,
    Calendar,
    ExceptionRecord,
    WeekRecord,
    calendar_from_schedule,
    calendar_target,
    parse_calendar,
    program_target,
    render_calendar,
    utc_offset_minutes,
)
from bridge.unit.crypto import MASTER_KEY, arc4, unit_key
from bridge.unit.protocol import (
    LOCALES,
    MAX_FIELDS,
    MAX_QUERY_LENGTH,
    MAX_VALUE_LENGTH,
    OPENTHERM_IDS,
    Answer,
    InitBlock,
    Pid,
    Poll,
    UnitProtocolError,
    UnitSource,
    build_request_path,
    clock_is_off,
    decrypt_answer,
    decrypt_poll,
    encrypt_answer,
    encrypt_poll,
    parse_answer,
    parse_poll,
    poll_interval,
    render_answer,
    render_poll,
    split_request,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def wall(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A naive wall-clock time, as the core's exceptions carry them."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC).replace(tzinfo=None)


PASSWORD = "secret"
# the hand-derived key: "secret" then the master text from position 6 on
KEY = b"secretGSq0YLnZpI2kjABw=="
HWID = "TS123456"

# ---------------------------------------------------------------- ARC4 and the key


@pytest.mark.parametrize(
    ("key", "plaintext", "cipher_hex"),
    [
        (b"Key", b"Plaintext", "bbf316e8d940af0ad3"),
        (b"Wiki", b"pedia", "1021bf0420"),
        (b"Secret", b"Attack at dawn", "45a01f645fc35b383552544b9bf5"),
    ],
)
def test_arc4_matches_the_published_vectors(key: bytes, plaintext: bytes, cipher_hex: str) -> None:
    assert arc4(key, plaintext).hex() == cipher_hex
    assert arc4(key, bytes.fromhex(cipher_hex)) == plaintext


@pytest.mark.parametrize(
    ("key", "offset", "stream_hex"),
    [
        # RFC 6229, 40-bit key 0x0102030405
        (bytes(range(1, 6)), 0, "b2396305f03dc027ccc3524a0a1118a8"),
        (bytes(range(1, 6)), 16, "6982944f18fc82d589c403a47a0d0919"),
        (bytes(range(1, 6)), 240, "28cb1132c96ce286421dcaadb8b69eae"),
        (bytes(range(1, 6)), 256, "1cfcf62b03eddb641d77dfcf7f8d8c93"),
        (bytes(range(1, 6)), 4096, "ff25b58995996707e51fbdf08b34d875"),
        # RFC 6229, 56-bit key 0x01020304050607
        (bytes(range(1, 8)), 0, "293f02d47f37c9b633f2af5285feb46b"),
    ],
)
def test_arc4_keystream_matches_rfc_6229(key: bytes, offset: int, stream_hex: str) -> None:
    assert arc4(key, bytes(offset + 16))[offset:].hex() == stream_hex


def test_arc4_refuses_an_empty_key() -> None:
    with pytest.raises(ValueError, match="1 to 256 bytes"):
        arc4(b"", b"x")


def test_the_unit_key_is_the_password_then_the_master_text() -> None:
    assert unit_key("secret") == KEY
    assert unit_key("a") == b"aR1FGUGSq0YLnZpI2kjABw=="
    assert unit_key("abcdefghijklmnopqrstuvwx") == b"abcdefghijklmnopqrstuvwx"
    assert len(MASTER_KEY) == 24


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", "1 to 24 printable ASCII characters"),
        ("abcdefghijklmnopqrstuvwxy", "1 to 24 printable ASCII characters"),
        ("pässwort", "printable ASCII"),
        ("tab\there", "printable ASCII"),
    ],
)
def test_a_password_a_unit_cannot_have_is_refused_without_repeating_it(
    password: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as err:
        unit_key(password)
    assert not password or password not in str(err.value)


# ---------------------------------------------------------------- hand-computed vectors

POLL_FIELDS = {"u": HWID, "p": PASSWORD, "hw": "3", "pv": "213", "src": "3"}
POLL_TEXT = "u=TS123456&p=secret&hw=3&pv=213&src=3"
POLL_HEX_REV3 = "42E18F8E585400C057CB7C47A85F1463F8023AFFEB669AEF7484AD03B704AC9DE71A677B52"
# revision 5: "…hw=5…" (37 bytes) padded with eleven 0xFF to 48, lower-case hex
POLL_HEX_REV5 = (
    "42e18f8e585400c057cb7c47a85f1463f8023affeb669ae97484ad03b704ac9de71a677b52"
    "c9c9597bba4444a78f8efa"
)
ANSWER_XML = "<ITHERMOSTAT><SVSET>205</SVSET></ITHERMOSTAT>"
ANSWER_HEX = (
    "0b958f952c347ebb31a91b63ab102256d9221ae7b12192e07da78d6dc061a187bb21500e24647be9d711faef66"
)


def test_a_revision_3_poll_encrypts_to_the_hand_computed_upper_case_hex() -> None:
    assert encrypt_poll(POLL_FIELDS, PASSWORD, revision=3) == POLL_HEX_REV3
    assert decrypt_poll(POLL_HEX_REV3, PASSWORD) == POLL_TEXT
    assert decrypt_poll(POLL_HEX_REV3.lower(), PASSWORD) == POLL_TEXT


def test_a_revision_5_poll_is_padded_with_ff_to_16_bytes_in_lower_case_hex() -> None:
    hex_text = encrypt_poll({**POLL_FIELDS, "hw": "5"}, PASSWORD, revision=5)
    assert hex_text == POLL_HEX_REV5
    assert len(hex_text) == 2 * 48
    assert arc4(KEY, bytes.fromhex(hex_text))[37:] == b"\xff" * 11
    assert decrypt_poll(hex_text, PASSWORD) == POLL_TEXT.replace("hw=3", "hw=5")


def test_a_revision_5_poll_already_on_16_bytes_gets_no_padding() -> None:
    hex_text = encrypt_poll({"p": "abcdefghijklmn"}, "abcdefghijklmn", revision=5)
    assert len(hex_text) == 2 * 16  # "p=abcdefghijklmn" is 16 bytes


def test_an_answer_encrypts_to_the_hand_computed_lower_case_hex() -> None:
    assert render_answer(Answer(setpoint=20.5)) == ANSWER_XML
    assert encrypt_answer(ANSWER_XML, PASSWORD) == ANSWER_HEX
    assert decrypt_answer(ANSWER_HEX, PASSWORD) == ANSWER_XML


def test_a_request_is_split_into_hardware_id_and_hex() -> None:
    path = build_request_path(HWID, POLL_HEX_REV3)
    assert path == f"/api?_{HWID}_{POLL_HEX_REV3}"
    assert split_request(path.split("?", 1)[1]) == (HWID, POLL_HEX_REV3)


def test_a_poll_parses_to_its_values() -> None:
    text = (
        "u=TS123456&p=secret&hw=5&fw=A30050046&pv=213&src=1&csv=225&ot0=0A0A&ot25=2D80"
        "&ot27=DEAD&ot34=0xDEAD&ot56=0x3C00&oo=1&kp=15&ti=3600&td=0.5&ts=1767225600&init"
        "&rssi=-60&ot5=0000"
    )
    poll = parse_poll(text, hardware_id=HWID, password=PASSWORD)
    assert poll == Poll(
        hardware_id=HWID,
        revision=5,
        firmware="A30050046",
        room_temperature=21.3,
        source=UnitSource.MANUAL,
        dial_setpoint=22.5,
        opentherm={0: 0x0A0A, 25: 0x2D80, 27: None, 34: None, 56: 0x3C00},
        opentherm_boiler=True,
        pid=Pid(15.0, 3600.0, 0.5),
        clock=1_767_225_600,
        init=True,
        unknown=("rssi", "ot5"),
    )
    # the bridge decodes the unit's words where it decodes its own: the link's boiler state
    link = UnitLink(clock=VirtualClock())
    link.report(room=poll.room_temperature, opentherm=poll.opentherm, opentherm_boiler=True)
    values = link.boiler
    assert values.value(25) == 45.5  # flow temperature
    assert values.value(56) == 60.0  # hot-water setpoint
    assert values.value(27) is None  # outside: DEAD, not a value
    assert values.value(34) is None  # heat exchanger: DEAD
    assert values.value(0) == {
        "hb": {
            "ch_enable": False,
            "dhw_enable": True,
            "cooling_enable": False,
            "otc_active": True,
            "ch2_enable": False,
            "summer_mode": False,
            "dhw_blocking": False,
        },
        "lb": {
            "fault": False,
            "ch_active": True,
            "dhw_active": False,
            "flame_on": True,
            "cooling_active": False,
            "ch2_active": False,
            "diagnostic_event": False,
            "electricity_production": False,
        },
    }


def test_a_minimal_poll_needs_only_the_password() -> None:
    poll = parse_poll("p=secret", hardware_id=HWID, password=PASSWORD)
    assert poll == Poll(hardware_id=HWID)
    assert poll.opentherm == {}
    assert not poll.init


def test_a_percent_escaped_password_is_decoded() -> None:
    poll = parse_poll("p=a%26b%3D", hardware_id=HWID, password="a&b=")
    assert poll.hardware_id == HWID
    assert render_poll(poll, "a&b=")["p"] == "a&b="
    hex_text = encrypt_poll(render_poll(poll, "a&b="), "a&b=", revision=2)
    assert decrypt_poll(hex_text, "a&b=") == "u=TS123456&p=a%26b%3D"


@pytest.mark.parametrize(("throttle", "seconds"), [(0, 5), (1, 10), (2, 15), (3, 20), (4, 25)])
def test_the_throttle_grows_the_poll_interval_in_5_second_steps(
    throttle: int, seconds: float
) -> None:
    assert poll_interval(throttle) == seconds


def test_a_throttle_beyond_the_bound_is_refused() -> None:
    with pytest.raises(UnitProtocolError, match="TH"):
        poll_interval(101)


def test_the_server_sends_the_time_when_the_unit_clock_is_off_or_absent() -> None:
    now = 1_767_225_600
    assert clock_is_off(Poll(hardware_id=HWID), now)
    assert not clock_is_off(Poll(hardware_id=HWID, clock=now - 60), now)
    assert clock_is_off(Poll(hardware_id=HWID, clock=now - 61), now)
    assert clock_is_off(Poll(hardware_id=HWID, clock=now + 61), now)


def test_the_unit_gets_the_zone_offset_of_the_moment_across_daylight_saving() -> None:
    assert utc_offset_minutes(AMSTERDAM, datetime(2026, 3, 29, 0, 59, tzinfo=UTC)) == 60
    assert utc_offset_minutes(AMSTERDAM, datetime(2026, 3, 29, 1, 0, tzinfo=UTC)) == 120
    assert utc_offset_minutes(AMSTERDAM, datetime(2026, 10, 25, 1, 0, tzinfo=UTC)) == 60
    assert utc_offset_minutes(ZoneInfo("America/St_Johns"), datetime(2026, 1, 1, tzinfo=UTC)) == (
        -210
    )


# ---------------------------------------------------------------- every error

LONG_PASSWORD = "Pw0rd-Xyzzy"  # appears in no error message


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("TS1_00", "_<hardware id>_<hex payload>"),
        ("_TS1_00_11", "_<hardware id>_<hex payload>"),
        ("_TS 1_00", "hardware id"),
        ("__00", "hardware id"),
        (f"_{'T' * 33}_00", "hardware id"),
        ("_TS1_", "empty"),
        ("_TS1_abc", "odd number"),
        ("_TS1_zz", "not hexadecimal"),
        ("_TS1_" + "00" * 1025, "longer than"),
        ("_TS1_" + "0" * MAX_QUERY_LENGTH, "longer than"),
    ],
)
def test_split_request_refuses_what_is_not_a_request(query: str, message: str) -> None:
    with pytest.raises(UnitProtocolError, match=message):
        split_request(query)


def test_decrypt_poll_refuses_a_wrong_password() -> None:
    with pytest.raises(UnitProtocolError, match="does not decrypt") as err:
        decrypt_poll(POLL_HEX_REV3, LONG_PASSWORD)
    assert LONG_PASSWORD not in str(err.value)


def test_decrypt_poll_refuses_what_is_not_hex() -> None:
    with pytest.raises(UnitProtocolError, match="not hexadecimal"):
        decrypt_poll("0g", PASSWORD)
    with pytest.raises(UnitProtocolError, match="odd number"):
        decrypt_poll("012", PASSWORD)


def test_decrypt_poll_refuses_padding_only() -> None:
    with pytest.raises(UnitProtocolError, match="does not decrypt"):
        decrypt_poll(arc4(KEY, b"\xff" * 16).hex(), PASSWORD)


def _q(text: str) -> str:
    return text.replace("PW", LONG_PASSWORD)


@pytest.mark.parametrize(
    ("plaintext", "message"),
    [
        ("\x01\x02 garbage", "not a query"),
        ("hello world", "not a query"),
        ("u=TS123456&p=wrong", "wrong password"),
        ("u=TS999&p=PW", "u is not the hardware id"),
        ("u=TS123456&pv=213", "no password"),
        ("p=PW&pv=9999", "pv must be -30-50"),
        ("p=PW&pv=21.3", "pv must be a whole number"),
        ("p=PW&pv=213&pv=214", "pv appears more than once"),
        ("p=PW&p=PW", "p appears more than once"),
        ("p=PW&&pv=213", "not a query"),
        ("p=PW&", "not a query"),
        ("p=PW&hw=6", "hw must be a whole number 1-5"),
        ("p=PW&src=6", "src must be a whole number 0-5"),
        ("p=PW&csv=300", "csv must be 5-25"),
        ("p=PW&csv=49", "csv must be 5-25"),
        ("p=PW&ot25=12345", "ot25 must be 1-4 hex digits"),
        ("p=PW&ot25=xyz", "ot25 must be 1-4 hex digits"),
        ("p=PW&oo=2", "oo must be a whole number 0-1"),
        ("p=PW&kp=15&ti=3600", "kp, ti and td come together"),
        ("p=PW&kp=1e3&ti=1&td=1", "kp must be a decimal"),
        ("p=PW&kp=101&ti=1&td=1", "PID kp must be 0-100"),
        ("p=PW&ts=-1", "ts must be a whole number 0-4294967295"),
        ("p=PW&ts=4294967296", "ts must be a whole number 0-4294967295"),
        ("p=PW&init=yes", "init is bare"),
        ("p=PW&fw=a%20b", "fw has 1-32"),
        ("p=PW&x=%zz", "not followed by two hex digits"),
        ("p=PW&x=%C3%A9", "not ASCII"),
        ("p=PW&x=%0A", "characters a unit does not send"),
        ("p=PW&x=" + "a" * (MAX_VALUE_LENGTH + 1), "longer than"),
        ("p=PW" + "&x{}=1" * MAX_FIELDS, "more than 64 fields"),
        ("p=PW&" + "a" * 1100, "longer than"),
    ],
)
def test_parse_poll_refuses_a_bad_poll_without_telling_the_password(
    plaintext: str, message: str
) -> None:
    text = _q(plaintext)
    if "{}" in text:
        text = text.replace("{}", "", 1)
        count = itertools.count()
        text = "&".join(
            part if not part.startswith("x=") else f"x{next(count)}=1" for part in text.split("&")
        )
    with pytest.raises(UnitProtocolError, match=message) as err:
        parse_poll(text, hardware_id=HWID, password=LONG_PASSWORD)
    assert LONG_PASSWORD not in str(err.value)


# ---------------------------------------------------------------- the answer


def test_the_answer_renders_every_element_in_the_fixed_order() -> None:
    answer = Answer(
        calendar=Calendar(1, (WeekRecord(1, 6, 30, 19.5, False),)),
        setpoint=20.5,
        outside=-3.5,
        pause=False,
        init=InitBlock(UnitSource.SERVER, "nl-BE", True),
        time=1_767_225_600,
        tz_minutes=60,
        calibration=-0.5,
        brightness=80,
        status_led=1,
        display=0,
        pid=Pid(15.0, 3600.0, 0.25),
        throttle=2,
    )
    assert render_answer(answer) == (
        "<ITHERMOSTAT><CAL>v0001s106301950</CAL><SVSET>205</SVSET><BVSET>-35</BVSET>"
        "<PAUSE>0</PAUSE><INIT><SRC>2</SRC><LOCALE>nl-BE</LOCALE><DHW>1</DHW></INIT>"
        "<TS>1767225600</TS><TZ>+60</TZ><TA>-5</TA><DIM>80</DIM><SLS>1</SLS><SD>0</SD>"
        "<PID><KP>15</KP><TI>3600</TI><TD>0.25</TD></PID><TH>2</TH></ITHERMOSTAT>"
    )
    assert parse_answer(render_answer(answer)) == answer
    assert render_answer(Answer()) == "<ITHERMOSTAT></ITHERMOSTAT>"
    assert render_answer(Answer(tz_minutes=-180)) == "<ITHERMOSTAT><TZ>-180</TZ></ITHERMOSTAT>"


def test_an_answer_keeps_temperatures_to_tenths() -> None:
    answer = Answer(setpoint=20.04, calibration=0.1 + 0.2)
    assert answer.setpoint == 20.0
    assert answer.calibration == 0.3
    assert render_answer(answer) == "<ITHERMOSTAT><SVSET>200</SVSET><TA>3</TA></ITHERMOSTAT>"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"setpoint": 25.1}, "SVSET must be 5-25"),
        ({"setpoint": 4.9}, "SVSET must be 5-25"),
        ({"setpoint": float("nan")}, "SVSET"),
        ({"outside": 61.0}, "BVSET must be -50-60"),
        ({"calibration": 2.6}, "TA must be -2.5-2.5"),
        ({"brightness": 101}, "DIM must be a whole number 0-100"),
        ({"status_led": 3}, "SLS"),
        ({"display": 2}, "SD"),
        ({"throttle": -1}, "TH"),
        ({"tz_minutes": 900}, "TZ"),
        ({"time": -1}, "TS"),
        ({"pause": 1}, "PAUSE must be true or false"),
    ],
)
def test_an_answer_out_of_range_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UnitProtocolError, match=message):
        Answer(**kwargs)  # type: ignore[arg-type]


def test_an_init_block_takes_only_the_six_locales() -> None:
    assert len(LOCALES) == 6
    with pytest.raises(UnitProtocolError, match="LOCALE must be one of"):
        InitBlock(UnitSource.WEEK, "en-US", True)


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ("<ITHERMOSTAT><FW>1</FW></ITHERMOSTAT>", "<FW> is not an element"),
        ("<ITHERMOSTAT><SVSET>200</SVSET><SVSET>210</SVSET></ITHERMOSTAT>", "more than once"),
        ("<ITHERMOSTAT><SVSET>300</SVSET></ITHERMOSTAT>", "SVSET must be 5-25"),
        ("<ITHERMOSTAT><SVSET>20.5</SVSET></ITHERMOSTAT>", "SVSET must be a whole number"),
        ("<ITHERMOSTAT> <SVSET>200</SVSET></ITHERMOSTAT>", "expected an element"),
        ("<ITHERMOSTAT><SVSET>200</ITHERMOSTAT>", "not closed"),
        ("<THERMOSTAT></THERMOSTAT>", "not one <ITHERMOSTAT> element"),
        ("<ITHERMOSTAT><PAUSE>2</PAUSE></ITHERMOSTAT>", "PAUSE must be 0 or 1"),
        (
            "<ITHERMOSTAT><INIT><SRC>2</SRC><DHW>1</DHW></INIT></ITHERMOSTAT>",
            "INIT holds SRC, LOCALE, DHW",
        ),
        (
            "<ITHERMOSTAT><PID><KP>1</KP><TI>-1</TI><TD>0</TD></PID></ITHERMOSTAT>",
            "TI must be a decimal",
        ),
        ("<ITHERMOSTAT><CAL>v00zz</CAL></ITHERMOSTAT>", "calendar starts with v"),
        ("<ITHERMOSTAT><TS><X>1</X></TS></ITHERMOSTAT>", "TS> holds a plain value"),
        ("<ITHERMOSTAT>" + "<TH>1</TH>" * 2000 + "</ITHERMOSTAT>", "longer than"),
    ],
)
def test_parse_answer_refuses_a_bad_answer(xml: str, message: str) -> None:
    with pytest.raises(UnitProtocolError, match=message):
        parse_answer(xml)


def test_decrypt_answer_refuses_what_is_not_an_answer() -> None:
    with pytest.raises(UnitProtocolError, match="hex digits"):
        decrypt_answer("abc", PASSWORD)
    with pytest.raises(UnitProtocolError, match="does not decrypt"):
        decrypt_answer(ANSWER_HEX, LONG_PASSWORD)


# ---------------------------------------------------------------- the calendar


def test_calendar_records_render_as_written_by_hand() -> None:
    calendar = Calendar(
        0x1F,
        (WeekRecord(1, 6, 30, 19.5, False), WeekRecord(7, 23, 5, 5.0, True)),
        (ExceptionRecord(0x6955B900, 0x6955C710, 21.0, True),),
    )
    text = "v001fs106301950s723050501x6955b9006955c7102101X"
    assert render_calendar(calendar) == text
    assert parse_calendar(text) == calendar
    assert parse_calendar("v001Fs106301950s723050501x6955B9006955C7102101X") == calendar


def test_the_default_schedule_becomes_these_records() -> None:
    calendar = calendar_from_schedule(
        default_schedule(), [], Programs(), tz=AMSTERDAM, version=7, hot_water=True
    )
    weekday = "s{d}06301951s{d}08301501s{d}17001951s{d}22301501"
    weekend = "s{d}08001951s{d}23001501"
    expected = (
        "v0007"
        + "".join(weekday.format(d=d) for d in (1, 2, 3, 4, 5))
        + "".join(weekend.format(d=d) for d in (6, 7))
    )
    assert render_calendar(calendar) == expected
    assert expected.startswith("v0007s106301951s108301501s117001951s122301501s20630")


def test_exceptions_become_utc_records_in_winter_and_summer() -> None:
    winter = ExceptionPeriod(wall(2026, 1, 10, 12, 0), wall(2026, 1, 10, 18, 0), "comfort")
    summer = ExceptionPeriod(wall(2026, 7, 1, 12, 0), wall(2026, 7, 2, 0, 0), "not_home")
    calendar = calendar_from_schedule(
        default_schedule(), [winter, summer], Programs(), tz=AMSTERDAM, version=1, hot_water=False
    )
    # 2026-01-10 11:00 UTC = 1768042800 = 0x69623130; 17:00 UTC = 1768064400 = 0x69628590
    # 2026-07-01 10:00 UTC = 1782900000 = 0x6a44e520; 22:00 UTC = 1782943200 = 0x6a458de0
    assert render_calendar(calendar).endswith("x69623130696285902100Xx6a44e5206a458de01500X")
    assert calendar.exceptions[0].begin == int(datetime(2026, 1, 10, 11, tzinfo=UTC).timestamp())


def test_an_exception_in_the_skipped_hour_or_already_over_is_left_out() -> None:
    skipped = ExceptionPeriod(wall(2026, 3, 29, 2, 15), wall(2026, 3, 29, 2, 45), "home")
    over = ExceptionPeriod(wall(2026, 1, 1, 8, 0), wall(2026, 1, 1, 9, 0), "home")
    later = ExceptionPeriod(wall(2026, 1, 3, 8, 0), wall(2026, 1, 3, 9, 0), "home")
    calendar = calendar_from_schedule(
        default_schedule(),
        [skipped, over, later],
        Programs(),
        tz=AMSTERDAM,
        version=1,
        now=datetime(2026, 1, 2, tzinfo=UTC),
    )
    assert [r.begin for r in calendar.exceptions] == [
        int(datetime(2026, 1, 3, 7, tzinfo=UTC).timestamp())
    ]


def test_program_temperatures_are_kept_within_what_the_unit_holds() -> None:
    programs = Programs(anti_freeze=3.0, comfort=28.0, home=19.46)
    assert program_target(programs, "anti_freeze") == 5.0
    assert program_target(programs, "comfort") == 25.0
    assert program_target(programs, "home") == 19.5


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Calendar(0x10000), "version must be a whole number 0-65535"),
        (
            lambda: Calendar(1, (WeekRecord(1, 8, 0, 20, True), WeekRecord(1, 7, 0, 20, True))),
            "in order",
        ),
        (
            lambda: Calendar(1, (WeekRecord(1, 8, 0, 20, True), WeekRecord(1, 8, 0, 21, True))),
            "in order",
        ),
        (lambda: WeekRecord(8, 0, 0, 20, True), "day must be a whole number 1-7"),
        (lambda: WeekRecord(1, 24, 0, 20, True), "hour"),
        (lambda: WeekRecord(1, 0, 60, 20, True), "minute"),
        (lambda: WeekRecord(1, 0, 0, 25.1, True), "outside 5-25"),
        (lambda: WeekRecord(1, 0, 0, float("inf"), True), "outside 5-25"),
        (lambda: ExceptionRecord(10, 10, 20, True), "end after it begins"),
        (lambda: ExceptionRecord(-1, 10, 20, True), "begin"),
        (lambda: ExceptionRecord(1, 2**32, 20, True), "end"),
        (
            lambda: Calendar(
                1,
                tuple(
                    WeekRecord(1 + m // 1440, m // 60 % 24, m % 60, 20, True)
                    for m in range(MAX_WEEK_RECORDS + 1)
                ),
            ),
            f"at most {MAX_WEEK_RECORDS} week records",
        ),
        (
            lambda: Calendar(1, (), tuple(ExceptionRecord(i, i + 1, 20, True) for i in range(101))),
            f"at most {MAX_EXCEPTION_RECORDS} exception records",
        ),
        (lambda: parse_calendar("s106301950"), "starts with v"),
        (lambda: parse_calendar("v0001s106301950y"), "character 15 is not a record"),
        (lambda: parse_calendar("v0001s10630195"), "character 5 is not a record"),
        (lambda: parse_calendar("v0001x6955b9006955c7102101Xs106301950"), "before exception"),
        (lambda: parse_calendar("v0001" + "s106301950" * 1000), "at most"),
    ],
)
def test_a_calendar_beyond_the_unit_is_refused(build: object, message: str) -> None:
    with pytest.raises(UnitProtocolError, match=message):
        build()  # type: ignore[operator]


def test_the_largest_core_schedule_fits_the_unit() -> None:
    entries = [
        ScheduleEntry(m // 1440, m // 60 % 24, m % 60, PROGRAM_NAMES[m % 5])
        for m in range(0, 7 * 1440, 15)
    ]
    assert len(entries) == MAX_SCHEDULE_ENTRIES
    exceptions = [
        ExceptionPeriod(wall(2026, 2, 1) + timedelta(hours=i), wall(2026, 3, 1), "home")
        for i in range(100)
    ]
    calendar = calendar_from_schedule(
        WeekSchedule(tuple(entries)), exceptions, Programs(), tz=AMSTERDAM, version=65535
    )
    assert parse_calendar(render_calendar(calendar)) == calendar
    assert len(calendar.week) == MAX_WEEK_RECORDS


def test_the_unit_reads_its_calendar_in_local_time() -> None:
    calendar = calendar_from_schedule(default_schedule(), [], Programs(), tz=AMSTERDAM, version=1)
    # 2026-01-05 is a Monday; 05:40 UTC is 06:40 in Amsterdam (UTC+1): "home" since 06:30
    when = datetime(2026, 1, 5, 5, 40, tzinfo=UTC).timestamp()
    target = calendar_target(calendar, when, 60)
    assert target is not None
    assert (target.temperature, target.source, target.index) == (19.5, "week", 0)
    assert target.since == int(datetime(2026, 1, 5, 5, 30, tzinfo=UTC).timestamp())
    # Monday 00:10 local is still Sunday's 23:00 block, from the week before
    early = calendar_target(calendar, datetime(2026, 1, 4, 23, 10, tzinfo=UTC).timestamp(), 60)
    assert early is not None
    assert (early.temperature, early.index) == (15.0, len(calendar.week) - 1)
    assert early.since == int(datetime(2026, 1, 4, 22, 0, tzinfo=UTC).timestamp())
    assert calendar_target(Calendar(1), when, 60) is None


# ---------------------------------------------------------------- properties

FUZZ = settings(max_examples=60, deadline=None)
ROUND = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.text(max_size=200))
def test_split_request_raises_only_its_own_error(query: str) -> None:
    with contextlib.suppress(UnitProtocolError):
        split_request(query)


@FUZZ
@given(st.binary(min_size=1, max_size=300), st.sampled_from(["secret", "x", "A" * 24]))
def test_decrypt_poll_raises_only_its_own_error(data: bytes, password: str) -> None:
    for text in (data.hex(), data.hex().upper(), data.decode("latin-1")):
        with contextlib.suppress(UnitProtocolError):
            decrypt_poll(text, password)


QUERYISH = st.text(alphabet="pu=&%0123456789abcdefxDEAD.-+ _", max_size=120)


@FUZZ
@given(st.one_of(st.text(max_size=200), QUERYISH, QUERYISH.map(lambda q: "p=secret&" + q)))
def test_parse_poll_raises_only_its_own_error(plaintext: str) -> None:
    with contextlib.suppress(UnitProtocolError):
        parse_poll(plaintext, hardware_id=HWID, password=PASSWORD)


@FUZZ
@given(st.text(alphabet="<>/ITHERMOSTAVSECLPUZDKW0123456789-+.v", max_size=120))
def test_parse_answer_raises_only_its_own_error(xml: str) -> None:
    for text in (xml, f"<ITHERMOSTAT>{xml}</ITHERMOSTAT>"):
        with contextlib.suppress(UnitProtocolError):
            parse_answer(text)


def tenths(low: float, high: float) -> st.SearchStrategy[float]:
    return st.integers(round(low * 10), round(high * 10)).map(lambda t: t / 10)


PIDS = st.builds(
    Pid,
    st.integers(0, 10000).map(lambda c: c / 100),
    st.integers(0, 10_000_000).map(lambda c: c / 100),
    st.integers(0, 10_000_000).map(lambda c: c / 100),
)
POLLS = st.builds(
    Poll,
    hardware_id=st.from_regex(r"[A-Za-z0-9-]{1,32}", fullmatch=True),
    revision=st.none() | st.integers(1, 5),
    firmware=st.none() | st.from_regex(r"[A-Za-z0-9._-]{1,32}", fullmatch=True),
    room_temperature=st.none() | tenths(-30, 50),
    source=st.none() | st.sampled_from(UnitSource),
    dial_setpoint=st.none() | tenths(5, 25),
    opentherm=st.dictionaries(
        st.sampled_from(OPENTHERM_IDS),
        st.none() | st.integers(0, 0xFFFF).filter(lambda v: v != 0xDEAD),
    ),
    opentherm_boiler=st.none() | st.booleans(),
    pid=st.none() | PIDS,
    clock=st.none() | st.integers(0, 2**32 - 1),
    init=st.booleans(),
)
PASSWORDS = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=24
)


@ROUND
@given(POLLS, PASSWORDS, st.integers(1, 5))
def test_a_poll_survives_the_unit_and_the_server(poll: Poll, password: str, revision: int) -> None:
    hex_text = encrypt_poll(render_poll(poll, password), password, revision=revision)
    assert hex_text == (hex_text.lower() if revision == 5 else hex_text.upper())
    path = build_request_path(poll.hardware_id, hex_text)
    hardware_id, hex_back = split_request(path.split("?", 1)[1])
    plaintext = decrypt_poll(hex_back, password)
    assert parse_poll(plaintext, hardware_id=hardware_id, password=password) == poll


WEEK_RECORDS = st.lists(
    st.builds(
        WeekRecord,
        st.integers(1, 7),
        st.integers(0, 23),
        st.integers(0, 59),
        tenths(5, 25),
        st.booleans(),
    ),
    max_size=30,
    unique_by=lambda r: r.minute_of_week,
).map(lambda rs: tuple(sorted(rs, key=lambda r: r.minute_of_week)))
EXCEPTION_RECORDS = st.lists(
    st.tuples(st.integers(0, 2**32 - 2), st.integers(1, 10**6), tenths(5, 25), st.booleans()).map(
        lambda t: ExceptionRecord(t[0], min(2**32 - 1, t[0] + t[1]), t[2], t[3])
    ),
    max_size=10,
).map(tuple)
CALENDARS = st.builds(Calendar, st.integers(0, 0xFFFF), WEEK_RECORDS, EXCEPTION_RECORDS)
ANSWERS = st.builds(
    Answer,
    calendar=st.none() | CALENDARS,
    setpoint=st.none() | tenths(5, 25),
    outside=st.none() | tenths(-50, 60),
    pause=st.none() | st.booleans(),
    init=st.none()
    | st.builds(InitBlock, st.sampled_from(UnitSource), st.sampled_from(LOCALES), st.booleans()),
    time=st.none() | st.integers(0, 2**32 - 1),
    tz_minutes=st.none() | st.integers(-720, 840),
    calibration=st.none() | tenths(-2.5, 2.5),
    brightness=st.none() | st.integers(0, 100),
    status_led=st.none() | st.integers(0, 2),
    display=st.none() | st.integers(0, 1),
    pid=st.none() | PIDS,
    throttle=st.none() | st.integers(0, 100),
)


@ROUND
@given(ANSWERS, PASSWORDS)
def test_an_answer_survives_the_server_and_the_unit(answer: Answer, password: str) -> None:
    xml = render_answer(answer)
    hex_text = encrypt_answer(xml, password)
    assert hex_text == hex_text.lower()
    assert parse_answer(decrypt_answer(hex_text, password)) == answer


@ROUND
@given(CALENDARS)
def test_any_calendar_survives_rendering(calendar: Calendar) -> None:
    assert parse_calendar(render_calendar(calendar)) == calendar


SCHEDULES = st.lists(
    st.builds(
        ScheduleEntry,
        st.integers(0, 6),
        st.integers(0, 23),
        st.sampled_from([0, 15, 30, 45]),
        st.sampled_from(PROGRAM_NAMES),
    ),
    min_size=1,
    max_size=40,
    unique_by=lambda e: e.minute_of_week,
).map(WeekSchedule.of)
WALL = st.datetimes(min_value=wall(2026, 1, 1), max_value=wall(2026, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0, minute=d.minute // 15 * 15)
)
EXCEPTIONS = st.lists(
    st.tuples(WALL, st.integers(15, 7 * 24 * 60), st.sampled_from(PROGRAM_NAMES)).map(
        lambda t: ExceptionPeriod(t[0], t[0] + timedelta(minutes=t[1]), t[2])
    ),
    max_size=6,
)
PROGRAMS = st.builds(
    Programs,
    anti_freeze=tenths(5, 12),
    not_home=tenths(5, 30),
    home=tenths(5, 30),
    comfort=tenths(5, 30),
    pause=tenths(5, 30),
)


@ROUND
@given(SCHEDULES, EXCEPTIONS, PROGRAMS, st.integers(0, 0xFFFF), st.booleans())
def test_any_core_schedule_becomes_a_calendar_that_renders_and_parses(
    schedule: WeekSchedule,
    exceptions: list[ExceptionPeriod],
    programs: Programs,
    version: int,
    hot_water: bool,
) -> None:
    calendar = calendar_from_schedule(
        schedule, exceptions, programs, tz=AMSTERDAM, version=version, hot_water=hot_water
    )
    assert parse_calendar(render_calendar(calendar)) == calendar
    assert len(calendar.week) == len(schedule.entries)


FIXED = timezone(timedelta(hours=1))


@ROUND
@given(SCHEDULES, EXCEPTIONS, PROGRAMS, st.integers(0, 365 * 24 * 4).map(lambda q: q * 900 + 7))
def test_the_unit_follows_its_calendar_as_the_bridge_follows_the_schedule(
    schedule: WeekSchedule,
    exceptions: list[ExceptionPeriod],
    programs: Programs,
    offset_s: int,
) -> None:
    calendar = calendar_from_schedule(schedule, exceptions, programs, tz=FIXED, version=1)
    when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=offset_s)
    block = block_at(schedule, exceptions, when, FIXED)
    target = calendar_target(calendar, when.timestamp(), 60)
    assert target is not None
    assert target.temperature == program_target(programs, block.program)
    assert target.source == ("exception" if block.source == "exception" else "week")
    if not exceptions:  # with exceptions the core also starts a block where one ends
        assert target.since == int(block.start.timestamp())
