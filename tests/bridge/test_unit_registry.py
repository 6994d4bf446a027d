"""Wall-unit registration (storage and CLI), the unit options and the unit link's state."""

from __future__ import annotations

from collections.abc import AsyncIterator
import json
import os
from pathlib import Path
import subprocess
import sys

import pytest

from bridge.config import ConfigError, validate
from bridge.core import options as opts
from bridge.core.clock import VirtualClock
from bridge.core.validation import ValidationError
from bridge.opentherm.links.base import LinkState
from bridge.opentherm.links.unit import UnitLink, parse_unit_url
from bridge.storage import Database

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "units.db", VirtualClock(T0))
    yield database
    await database.close()


async def test_the_first_unit_is_the_house_and_house_moves_on_request(db: Database) -> None:
    first = await db.units.add("TS100001", "secret1")
    second = await db.units.add("TS100002", "secret2")
    assert first.house is True
    assert second.house is False
    third = await db.units.add("TS100003", "secret3", house=True)
    assert third.house is True
    houses = [u.hardware_id for u in await db.units.list() if u.house]
    assert houses == ["TS100003"]
    # a new password keeps the role
    again = await db.units.add("TS100003", "other")
    assert again.house is True
    assert (await db.units.credentials())["TS100003"] == "other"


async def test_removing_the_house_unit_hands_the_role_to_the_oldest(db: Database) -> None:
    await db.units.add("TS100001", "a")
    await db.units.add("TS100002", "b")
    assert await db.units.remove("TS100001") is True
    assert [(u.hardware_id, u.house) for u in await db.units.list()] == [("TS100002", True)]
    assert await db.units.remove("TS100001") is False


@pytest.mark.parametrize(
    ("hardware_id", "password"),
    [
        ("", "pw"),
        ("TS 1", "pw"),
        ("TS_1", "pw"),
        ("x" * 33, "pw"),
        ("TS\u00b2", "pw"),
        ("TS1", ""),
        ("TS1", "tab\there"),
        ("TS1", "p" * 25),
        ("TS1", "caf\u00e9"),
        ("TS1", "\ud800"),
    ],
)
async def test_a_bad_id_or_password_is_refused_and_nothing_is_stored(
    db: Database, hardware_id: str, password: str
) -> None:
    with pytest.raises(ValueError, match=r"hardware id|password"):
        await db.units.add(hardware_id, password)
    assert await db.units.list() == []


async def test_the_password_is_never_exported(db: Database) -> None:
    await db.units.add("TS100001", "hunter22")
    await db.units.note_device("TS100001", 5, "A30050046")
    await db.units.note_seen("TS100001", T0 + 5)
    await db.units.note_own_pid("TS100001", (15.0, 3600.0, 0.0))
    await db.units.note_own_pid("TS100001", (40.0, 7200.0, 0.0))  # kept once: the first
    exported = await db.export()
    assert exported["units"] == [
        {
            "hardware_id": "TS100001",
            "house": True,
            "created": T0,
            "revision": 5,
            "firmware": "A30050046",
            "calendar_version": None,
            "last_seen": T0 + 5,
            "own_pid": [15.0, 3600.0, 0.0],
        }
    ]
    assert "hunter22" not in json.dumps(exported)


def _cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, THERMOSMART_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_unit_add_list_remove_on_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = _cli(
        "unit", "add", "--hardware-id", "TS123456", "--password", "pw123", "--json", data_dir=data
    )
    assert added.returncode == 0, added.stderr
    unit = json.loads(added.stdout)
    assert unit["hardware_id"] == "TS123456"
    assert unit["house"] is True
    assert "pw123" not in added.stdout
    listed = _cli("unit", "list", "--json", data_dir=data)
    assert [u["hardware_id"] for u in json.loads(listed.stdout)["units"]] == ["TS123456"]
    assert "pw123" not in listed.stdout
    text = _cli("unit", "list", data_dir=data)
    assert text.stdout.startswith("TS123456\thouse")
    assert text.stdout.rstrip().endswith("calendar -")  # it has been sent none yet
    bad = _cli("unit", "add", "--hardware-id", "TS_1", "--password", "x", data_dir=data)
    assert bad.returncode == 2
    assert "a hardware id has 1-32 letters, digits or '-'" in bad.stderr
    removed = _cli("unit", "remove", "TS123456", "--json", data_dir=data)
    assert json.loads(removed.stdout) == {"removed": "TS123456"}
    missing = _cli("unit", "remove", "TS123456", data_dir=data)
    assert missing.returncode == 1
    assert "no wall unit TS123456" in missing.stderr


# -- options ---------------------------------------------------------------------------


UNIT = opts.BoilerLimits(opentherm=True, unit=True)
GATEWAY = opts.BoilerLimits(opentherm=True)


def test_unit_settings_are_checked_whole() -> None:
    good = {
        "unit_brightness": 80,
        "unit_status_led": "errors",
        "unit_display": "clock",
        "unit_calibration": -2.5,
        "unit_language": "fr-BE",
        "unit_poll_throttle": 0,
    }
    assert opts.check(good, UNIT) == {**good, "unit_calibration": -2.5}
    assert opts.check(dict.fromkeys(good), UNIT) == dict.fromkeys(good)
    assert opts.check({"unit_pid_tuning": True}, UNIT) == {"unit_pid_tuning": True}


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("unit_brightness", 101, "from 0 to 100"),
        ("unit_brightness", -1, "from 0 to 100"),
        ("unit_brightness", 50.5, "whole number"),
        ("unit_brightness", True, "whole number"),
        ("unit_poll_throttle", 11, "from 0 to 10"),
        ("unit_calibration", 2.6, "from -2.5 to +2.5 K"),
        ("unit_calibration", -2.51, "from -2.5 to +2.5 K"),
        ("unit_calibration", "1", "from -2.5 to +2.5 K"),
        ("unit_calibration", float("nan"), "from -2.5 to +2.5 K"),
        ("unit_status_led", "blink", "must be one of off, errors, activity"),
        ("unit_display", 0, "must be one of temperature, clock"),
        ("unit_language", "en-US", "must be one of nl-NL"),
        ("unit_pid_tuning", None, "must be true or false"),
        ("unit_pid_tuning", 1, "must be true or false"),
        ("max_ch_setpoint", 60, "the wall unit drives the boiler itself"),
        ("dhw_setpoint", 50, "the wall unit drives the boiler itself"),
    ],
)
def test_a_bad_unit_setting_is_refused_with_its_rule(key: str, value: object, rule: str) -> None:
    with pytest.raises(ValidationError) as caught:
        opts.check(
            {key: value, "unit_brightness": 10} if key != "unit_brightness" else {key: value}, UNIT
        )
    errors = caught.value.errors
    assert any(e["field"] == key and rule in e["rule"] for e in errors), errors


def test_unit_settings_need_a_unit() -> None:
    with pytest.raises(ValidationError) as caught:
        opts.check({"unit_brightness": 10, "unit_pid_tuning": False}, GATEWAY)
    rule = "needs a ThermoSmart wall unit (boiler URL thermosmart-unit://)"
    assert caught.value.errors == [
        {"field": "unit_brightness", "rule": rule},
        {"field": "unit_pid_tuning", "rule": rule},
    ]


# -- the URL and the link ------------------------------------------------------------------


def test_unit_urls() -> None:
    assert parse_unit_url("thermosmart-unit://") == ("0.0.0.0", 80)
    assert parse_unit_url("thermosmart-unit://192.168.1.2:8080") == ("192.168.1.2", 8080)
    assert parse_unit_url("thermosmart-unit://[::1]:81") == ("::1", 81)
    for bad in (
        "thermosmart-unit://host:99999",
        "thermosmart-unit://host:80/path",
        "thermosmart-unit://host:80?x=1",
        "thermosmart-unit://user@host:80",
    ):
        with pytest.raises(ValueError, match="thermosmart-unit"):
            parse_unit_url(bad)
    with pytest.raises(ConfigError, match="boiler"):
        validate({"boiler": "thermosmart-unit://host:port"})
    assert validate({"boiler": "thermosmart-unit://127.0.0.1:0"}).boiler.startswith("thermosmart")


async def test_the_link_keeps_what_the_unit_reports_and_marks_it_gone() -> None:
    clock = VirtualClock(T0)
    link = UnitLink("127.0.0.1", 0, clock=clock, silence_s=180)
    states: list[LinkState] = []
    link.add_state_listener(states.append)
    await link.start()
    assert link.room_temperature() is None
    link.report(room=20.5, opentherm={25: 0x2D80, 28: None, 0: 0x030A}, opentherm_boiler=True)
    assert link.state == LinkState.CONNECTED
    assert link.room_temperature() == 20.5
    assert link.boiler.number(25) == 45.5
    assert link.boiler.value(28) is None  # 0xDEAD: not a value
    assert link.boiler.slave_status is not None
    assert link.boiler.slave_status.flame_on is True
    # a later "not available" keeps the last good value, stale
    link.report(room=None, opentherm={25: None}, opentherm_boiler=None)
    assert link.boiler.values[25].stale is True
    assert link.boiler.number(25) == 45.5
    assert link.room_temperature() == 20.5
    await clock.advance(179)
    assert link.check() == LinkState.CONNECTED
    await clock.advance(2)
    assert link.check() == LinkState.DISCONNECTED
    assert link.room_temperature() is None
    assert link.boiler.connected is False
    assert states == [LinkState.CONNECTING, LinkState.CONNECTED, LinkState.DISCONNECTED]
    with pytest.raises(Exception, match="OpenTherm master"):
        await link.transact(None)  # type: ignore[arg-type]
