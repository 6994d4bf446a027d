"""Tests of the bridge's SQLite storage (bridge/storage/)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
import hashlib
import json
import os
from pathlib import Path
import signal
import sqlite3
import stat
import sys
import threading
import time
from typing import Any

import pytest

from bridge.core import pkce
from bridge.core.clock import VirtualClock
from bridge.core.programs import ExceptionPeriod, ScheduleEntry
from bridge.storage import (
    DB_FILENAME,
    DEFAULT_NAME,
    DEFAULT_PROGRAMS,
    DEFAULT_SCHEDULE,
    EMAIL,
    GEOFENCE_ENABLED,
    HARDWARE_ID,
    LOCATION,
    NAME,
    OPTIONS,
    PROGRAMS,
    SETTINGS,
    ConstraintError,
    Database,
    DatabaseClosedError,
    Defaults,
    EventKind,
    GrantRefused,
    OAuthGrant,
    Purpose,
    Retention,
    Sample,
    SchemaError,
    SchemaTooNewError,
    TokenKind,
    hour_of,
    latest_version,
    migrations,
    settings as settings_mod,
)
from bridge.storage.auth import TOUCH_INTERVAL

HELPER = Path(__file__).with_name("crash_writer.py")
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC, the VirtualClock's default start
DAY = 86400.0


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / DB_FILENAME


@pytest.fixture
async def db(db_path: Path, clock: VirtualClock) -> AsyncIterator[Database]:
    database = await Database.open(db_path, clock)
    yield database
    await database.close()


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection for looking at the file behind the repositories' back."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


async def run_child(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HELPER),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


# -- opening and migrations ---------------------------------------------------


async def test_open_fresh_database(db: Database, db_path: Path) -> None:
    assert db.schema_version == latest_version() >= 1
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600

    def pragmas(conn: sqlite3.Connection) -> dict[str, Any]:
        return {
            name: conn.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "foreign_keys", "secure_delete")
        } | {"thread": threading.current_thread().name}

    found = await db._worker.call(pragmas)
    assert found["journal_mode"] == "wal"
    assert found["synchronous"] == 2  # FULL
    assert found["foreign_keys"] == 1
    assert found["secure_delete"] == 1
    assert found["thread"].startswith("thermosmart-db")
    assert found["thread"] != threading.current_thread().name
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()


async def test_reopen_is_idempotent(db_path: Path, clock: VirtualClock) -> None:
    db = await Database.open(db_path, clock)
    await db.settings.set(NAME, "Living room")
    await db.close()
    assert db.closed
    with pytest.raises(DatabaseClosedError):
        await db.settings.get(NAME)
    await db.close()  # a second close is harmless

    async with await Database.open(db_path, clock) as again:
        assert again.schema_version == latest_version()
        assert await again.settings.get(NAME) == "Living room"
    with raw(db_path) as conn:
        assert migrations.migrate(conn) == (latest_version(), latest_version())


async def test_newer_schema_is_refused(db_path: Path, clock: VirtualClock) -> None:
    await (await Database.open(db_path, clock)).close()
    with raw(db_path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(SchemaTooNewError, match=rf"version 99 is newer .*\({latest_version()}\)"):
        await Database.open(db_path, clock)
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 99


async def test_each_migration_step_is_one_transaction(
    db_path: Path, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await (await Database.open(db_path, clock)).close()
    known = migrations.MIGRATIONS
    last = latest_version()
    broken = migrations.Migration(
        last + 1, "broken", ("CREATE TABLE extra (x INTEGER)", "INSERT INTO missing VALUES (1)")
    )
    monkeypatch.setattr(migrations, "MIGRATIONS", (*known, broken))
    with pytest.raises(SchemaError, match=rf"migration {last + 1} .*missing"):
        await Database.open(db_path, clock)
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == last
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "extra" not in tables

    good = migrations.Migration(last + 1, "extra", ("CREATE TABLE extra (x INTEGER)",))
    monkeypatch.setattr(migrations, "MIGRATIONS", (*known, good))
    db = await Database.open(db_path, clock)
    assert db.schema_version == last + 1
    await db.close()

    monkeypatch.setattr(migrations, "MIGRATIONS", known)
    with pytest.raises(SchemaTooNewError):
        await Database.open(db_path, clock)


async def test_the_loop_never_waits_for_the_database(db: Database) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    await db._worker.call(lambda conn: time.sleep(0.3))
    task.cancel()
    assert ticks >= 10


# -- settings, schedule, exceptions -------------------------------------------


async def test_settings_defaults_and_typed_access(db: Database) -> None:
    assert await db.settings.get(NAME) == DEFAULT_NAME
    assert await db.settings.get(PROGRAMS) == dict(DEFAULT_PROGRAMS)
    assert await db.settings.get(EMAIL) is None
    assert await db.settings.get(GEOFENCE_ENABLED) is False

    await db.settings.set(EMAIL, "owner@example.org")
    await db.settings.set(OPTIONS, {"hysteresis": 0.3})
    assert await db.settings.get(EMAIL) == "owner@example.org"
    assert await db.settings.get(OPTIONS) == {"hysteresis": 0.3}
    everything = await db.settings.get_all()
    assert set(everything) == set(SETTINGS)
    assert everything["email"] == "owner@example.org"

    await db.settings.reset(EMAIL)
    assert await db.settings.get(EMAIL) is None


async def test_set_many_is_all_or_nothing(db: Database) -> None:
    await db.settings.set_many({"name": "Hall", "location": "Utrecht"})
    assert await db.settings.get(NAME) == "Hall"
    assert await db.settings.get(LOCATION) == "Utrecht"

    with pytest.raises(ValueError, match="setting 'programs'"):
        await db.settings.set_many({"name": "Attic", "programs": {"home": 19}})
    with pytest.raises(ValueError, match="setting 'address': unknown setting"):
        await db.settings.set_many({"name": "Attic", "address": "Main Street 1"})
    with pytest.raises(ValueError, match="setting 'email'"):
        await db.settings.set(EMAIL, "not an address")
    assert await db.settings.get(NAME) == "Hall"


async def test_get_or_create_agrees_across_connections(db: Database, db_path: Path) -> None:
    other = await Database.open(db_path, db.clock)
    try:
        made = iter(["hw-a", "hw-b"])
        got = await asyncio.gather(
            db.settings.get_or_create(HARDWARE_ID, lambda: next(made)),
            other.settings.get_or_create(HARDWARE_ID, lambda: next(made)),
        )
        assert got[0] == got[1] == await db.settings.get(HARDWARE_ID)
    finally:
        await other.close()


async def test_schedule_replace_whole(db: Database) -> None:
    assert await db.schedule.get() == sorted(
        DEFAULT_SCHEDULE, key=lambda b: (b.day, b.hour, b.minute)
    )
    week = [ScheduleEntry(d, 7, 0, "comfort") for d in range(7)]
    week += [ScheduleEntry(d, 23, 0, "not_home") for d in range(7)]
    await db.schedule.replace(list(reversed(week)))
    assert await db.schedule.get() == sorted(week, key=lambda b: (b.day, b.hour, b.minute))

    with pytest.raises(ValueError, match="unknown program 'sauna'"):
        await db.schedule.replace([ScheduleEntry(0, 6, 0, "home"), ScheduleEntry(0, 8, 0, "sauna")])
    with pytest.raises(ValueError, match="bad schedule start 0/24:0"):
        await db.schedule.replace([ScheduleEntry(0, 24, 0, "home")])
    with pytest.raises(ValueError, match="at least one block"):
        await db.schedule.replace([])
    with pytest.raises(ConstraintError, match="UNIQUE"):
        await db.schedule.replace(
            [ScheduleEntry(0, 6, 0, "home"), ScheduleEntry(0, 6, 0, "comfort")]
        )
    assert len(await db.schedule.get()) == 14

    await db.schedule.reset()
    assert len(await db.schedule.get()) == len(DEFAULT_SCHEDULE)


async def test_exceptions_replace_whole(db: Database) -> None:
    holiday = ExceptionPeriod(
        datetime.fromisoformat("2026-07-01T08:00"),
        datetime.fromisoformat("2026-07-14T18:00"),
        "anti_freeze",
        "summer holiday",
    )
    party = ExceptionPeriod(
        datetime.fromisoformat("2026-02-14T18:00"),
        datetime.fromisoformat("2026-02-15T01:00"),
        "comfort",
    )
    await db.schedule.replace_exceptions([holiday, party])
    assert await db.schedule.get_exceptions() == [party, holiday]

    # one exception type for core and storage: a bad one cannot even be made
    with pytest.raises(ValueError, match="ends after it starts"):
        await db.schedule.replace_exceptions(
            [holiday, ExceptionPeriod(party.end, party.start, "comfort")]
        )
    with pytest.raises(ValueError, match="longer than 30"):
        await db.schedule.replace_exceptions(
            [ExceptionPeriod(party.start, party.end, "comfort", "x" * 31)]
        )
    assert await db.schedule.get_exceptions() == [party, holiday]

    await db.schedule.replace_exceptions([])
    assert await db.schedule.get_exceptions() == []


async def test_failing_multi_part_update_changes_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    before_schedule = await db.schedule.get()
    exception = ExceptionPeriod(
        datetime.fromisoformat("2026-03-01T10:00"),
        datetime.fromisoformat("2026-03-01T12:00"),
        "home",
    )
    # the duplicate block fails inside the transaction, after the settings
    # and part of the schedule were already written
    with pytest.raises(ConstraintError):
        await db.apply_update(
            settings={"name": "New name", "programs": {**DEFAULT_PROGRAMS, "home": 20.5}},
            schedule=[ScheduleEntry(1, 6, 0, "home"), ScheduleEntry(1, 6, 0, "comfort")],
            exceptions=[exception],
        )
    assert await db.settings.get(NAME) == DEFAULT_NAME
    assert await db.settings.get(PROGRAMS) == dict(DEFAULT_PROGRAMS)
    assert await db.schedule.get() == before_schedule
    assert await db.schedule.get_exceptions() == []

    # the last part fails after writing: the first two are rolled back too
    def broken(conn: sqlite3.Connection, rows: Any) -> None:
        conn.execute("DELETE FROM schedule_exceptions")
        raise RuntimeError("disk trouble")

    monkeypatch.setattr("bridge.storage.db.write_exceptions", broken)
    with pytest.raises(RuntimeError, match="disk trouble"):
        await db.apply_update(
            settings={"name": "New name"},
            schedule=[ScheduleEntry(1, 6, 0, "home")],
            exceptions=[exception],
        )
    assert await db.settings.get(NAME) == DEFAULT_NAME
    assert await db.schedule.get() == before_schedule

    monkeypatch.setattr("bridge.storage.db.write_exceptions", settings_mod.write_exceptions)
    await db.apply_update(
        settings={"name": "New name"},
        schedule=[ScheduleEntry(1, 6, 0, "home")],
        exceptions=[exception],
    )
    assert await db.settings.get(NAME) == "New name"
    assert await db.schedule.get() == [ScheduleEntry(1, 6, 0, "home")]
    assert await db.schedule.get_exceptions() == [exception]


# -- tokens, pairing, OAuth -------------------------------------------------------


async def test_tokens_are_stored_only_as_hashes(db: Database, clock: VirtualClock) -> None:
    issued = await db.auth.create_token("script")
    assert issued.token not in repr(issued)
    info = await db.auth.authenticate(issued.token)
    assert info is not None
    assert (info.id, info.name, info.kind, info.last_used) == (
        issued.info.id,
        "script",
        TokenKind.API,
        T0,
    )

    def stored(conn: sqlite3.Connection) -> list[Any]:
        return conn.execute("SELECT * FROM tokens").fetchall()

    rows = await db._worker.call(stored)
    assert issued.token not in repr(rows)
    assert hashlib.sha256(issued.token.encode()).hexdigest() in repr(rows)

    assert await db.auth.authenticate("wrong") is None
    assert await db.auth.authenticate("") is None

    # last_used is written at most once per TOUCH_INTERVAL
    clock.set(T0 + TOUCH_INTERVAL / 2)
    touched = await db.auth.authenticate(issued.token)
    assert touched is not None
    assert touched.last_used == T0
    clock.set(T0 + TOUCH_INTERVAL)
    touched = await db.auth.authenticate(issued.token)
    assert touched is not None
    assert touched.last_used == T0 + TOUCH_INTERVAL

    assert await db.auth.revoke_token(issued.info.id) is True
    assert await db.auth.revoke_token(issued.info.id) is False
    assert await db.auth.authenticate(issued.token) is None
    listed = await db.auth.list_tokens()
    assert [t.id for t in listed] == [issued.info.id]
    assert listed[0].revoked == T0 + TOUCH_INTERVAL
    assert await db.auth.list_tokens(include_inactive=False) == []


async def test_token_expiry_and_kinds(db: Database, clock: VirtualClock) -> None:
    short = await db.auth.create_token("short", TokenKind.OAUTH_ACCESS, ttl=60)
    refresh = await db.auth.create_token("r", TokenKind.OAUTH_REFRESH)
    assert await db.auth.authenticate(short.token) is not None
    assert await db.auth.authenticate(refresh.token) is None  # never a bearer token
    clock.set(T0 + 60)
    assert await db.auth.authenticate(short.token) is None
    assert await db.auth.revoke_all_tokens() == 2


async def test_pairing_code_is_one_time_and_expires(db: Database, clock: VirtualClock) -> None:
    code = await db.auth.create_pairing_code()
    assert len(code) == 9
    assert code[4] == "-"
    issued = await db.auth.exchange_pairing_code(code.lower().replace("-", " "), "Home Assistant")
    assert issued is not None
    assert issued.info.kind == TokenKind.PAIRED
    assert issued.info.expires is None
    assert await db.auth.authenticate(issued.token) is not None
    assert await db.auth.exchange_pairing_code(code, "again") is None

    late = await db.auth.create_pairing_code()
    clock.set(T0 + 600)  # valid for 10 minutes, not one second more
    assert await db.auth.exchange_pairing_code(late, "late") is None
    assert await db.auth.exchange_pairing_code("ABCD-EFGH", "guess") is None


async def test_pairing_code_has_one_winner_across_connections(db: Database, db_path: Path) -> None:
    other = await Database.open(db_path, db.clock)
    try:
        codes = [await db.auth.create_pairing_code() for _ in range(20)]
        results = await asyncio.gather(
            *(db.auth.exchange_pairing_code(c, "a") for c in codes),
            *(other.auth.exchange_pairing_code(c, "b") for c in reversed(codes)),
        )
        assert sum(r is not None for r in results) == len(codes)
        first, second = results[: len(codes)], list(reversed(results[len(codes) :]))
        assert all((a is None) != (b is None) for a, b in zip(first, second, strict=True))
    finally:
        await other.close()


async def test_pairing_code_has_one_winner_across_processes(db: Database) -> None:
    codes = [await db.auth.create_pairing_code() for _ in range(30)]
    child = asyncio.create_task(run_child("exchange", str(db.path), *codes))
    won_here = []
    for code in reversed(codes):
        if await db.auth.exchange_pairing_code(code, "parent") is not None:
            won_here.append(code)
        await asyncio.sleep(0.005)
    won_there = json.loads(await child)
    assert sorted(won_here + won_there) == sorted(codes)
    tokens = await db.auth.list_tokens()
    assert len(tokens) == len(codes)


async def test_oauth_code_flow_and_refresh_rotation(db: Database, clock: VirtualClock) -> None:
    client, secret = await db.auth.create_oauth_client(["https://app.example/cb"], "App")
    assert await db.auth.verify_oauth_client(client.client_id, secret) == client
    assert await db.auth.verify_oauth_client(client.client_id, "wrong") is None
    assert await db.auth.verify_oauth_client("nobody", secret) is None
    assert await db.auth.list_oauth_clients() == [client]

    with pytest.raises(ValueError, match="redirect_uri"):
        await db.auth.create_auth_code(client.client_id, "https://evil.example/cb")
    with pytest.raises(ValueError, match="client_id"):
        await db.auth.create_auth_code("nobody", "https://app.example/cb")

    code = await db.auth.create_auth_code(client.client_id, "https://app.example/cb")
    assert (
        await db.auth.exchange_auth_code(code, client.client_id, "https://other/cb")
        is GrantRefused.UNKNOWN_CODE
    )
    grant = await db.auth.exchange_auth_code(code, client.client_id, "https://app.example/cb")
    assert isinstance(grant, OAuthGrant)
    assert grant.access.info.kind == TokenKind.OAUTH_ACCESS
    assert grant.access.info.expires == T0 + 3600
    assert grant.refresh.info.kind == TokenKind.OAUTH_REFRESH
    assert grant.access.info.name == "App"
    assert await db.auth.authenticate(grant.access.token) is not None

    refused = GrantRefused.UNKNOWN_REFRESH
    assert await db.auth.rotate_refresh_token(grant.refresh.token, client_id="other") is refused
    rotated = await db.auth.rotate_refresh_token(grant.refresh.token, client_id=client.client_id)
    assert isinstance(rotated, OAuthGrant)
    assert rotated.refresh.token != grant.refresh.token
    assert rotated.access.info.client_id == client.client_id
    assert await db.auth.rotate_refresh_token(grant.access.token) is refused  # not a refresh token

    late = await db.auth.create_auth_code(client.client_id, "https://app.example/cb")
    clock.set(T0 + 600)
    assert (
        await db.auth.exchange_auth_code(late, client.client_id, "https://app.example/cb")
        is GrantRefused.UNKNOWN_CODE
    )

    assert await db.auth.delete_oauth_client(client.client_id) is True
    assert await db.auth.authenticate(rotated.access.token) is None
    assert await db.auth.list_tokens() == []
    assert await db.auth.delete_oauth_client(client.client_id) is False


async def test_code_reuse_and_refresh_replay_revoke_the_family(db: Database) -> None:
    client, _ = await db.auth.create_oauth_client(["https://app.example/cb"], "App")
    cb = "https://app.example/cb"
    bystander = await db.auth.exchange_auth_code(
        await db.auth.create_auth_code(client.client_id, cb), client.client_id, cb
    )
    assert isinstance(bystander, OAuthGrant)
    # a code redeemed twice revokes what it issued, and what was rotated from that
    code = await db.auth.create_auth_code(client.client_id, cb)
    first = await db.auth.exchange_auth_code(code, client.client_id, cb)
    assert isinstance(first, OAuthGrant)
    second = await db.auth.rotate_refresh_token(first.refresh.token)
    assert isinstance(second, OAuthGrant)
    assert (await db.prune())["auth_codes"] == 0  # a used code is kept until it expires
    assert await db.auth.exchange_auth_code(code, client.client_id, cb) is GrantRefused.CODE_REUSED
    for token in (first.access, second.access, second.refresh):
        info = await db.auth.get_token(token.info.id)
        assert info is not None
        assert info.revoked is not None
    # a replayed refresh token revokes its family: the current refresh and every access token
    grant = await db.auth.exchange_auth_code(
        await db.auth.create_auth_code(client.client_id, cb), client.client_id, cb
    )
    assert isinstance(grant, OAuthGrant)
    rotated = await db.auth.rotate_refresh_token(grant.refresh.token)
    assert isinstance(rotated, OAuthGrant)
    assert await db.auth.authenticate(grant.access.token) is not None  # not yet expired
    assert await db.auth.rotate_refresh_token(grant.refresh.token) is GrantRefused.REFRESH_REPLAYED
    assert await db.auth.authenticate(grant.access.token) is None
    assert await db.auth.authenticate(rotated.access.token) is None
    assert await db.auth.rotate_refresh_token(rotated.refresh.token) is (
        GrantRefused.REFRESH_REPLAYED
    )
    # other grants of the same client are untouched
    assert await db.auth.authenticate(bystander.access.token) is not None
    assert isinstance(await db.auth.rotate_refresh_token(bystander.refresh.token), OAuthGrant)


async def test_pkce_binds_the_code_to_its_verifier(db: Database) -> None:
    client, _ = await db.auth.create_oauth_client(["https://app.example/cb"], "App")
    cb = "https://app.example/cb"
    verifier = "v" * 43
    challenge = pkce.challenge_of(verifier)
    with pytest.raises(ValueError, match="code_challenge"):
        await db.auth.create_auth_code(client.client_id, cb, code_challenge="too-short")
    code = await db.auth.create_auth_code(client.client_id, cb, code_challenge=challenge)
    exchange = db.auth.exchange_auth_code
    assert await exchange(code, client.client_id, cb) is GrantRefused.VERIFIER_MISSING
    assert (
        await exchange(code, client.client_id, cb, code_verifier="w" * 43)
        is GrantRefused.VERIFIER_MISMATCH
    )
    # the failures did not use the code up
    assert isinstance(
        await exchange(code, client.client_id, cb, code_verifier=verifier), OAuthGrant
    )
    # a verifier for a code issued without a challenge is a downgrade
    plain = await db.auth.create_auth_code(client.client_id, cb)
    assert (
        await exchange(plain, client.client_id, cb, code_verifier=verifier)
        is GrantRefused.VERIFIER_UNEXPECTED
    )
    assert isinstance(await exchange(plain, client.client_id, cb), OAuthGrant)


def test_pkce_rules() -> None:
    # RFC 7636 appendix B
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce.challenge_of(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert pkce.verifier_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    assert pkce.verifier_rule(verifier) is None
    for bad in ("x" * 42, "x" * 129, "x" * 42 + "+", "x" * 42 + "\u00e9", ""):
        assert pkce.verifier_rule(bad) is not None
        assert not pkce.verifier_matches(bad, pkce.challenge_of("x" * 43))
    assert pkce.challenge_rule(pkce.challenge_of(verifier), "S256") is None
    assert pkce.challenge_rule(verifier, "plain") == "code_challenge_method must be S256"
    assert pkce.challenge_rule(pkce.challenge_of(verifier), None) is not None  # plain by default
    assert pkce.challenge_rule("x" * 44, "S256") is not None


async def test_upgrade_keeps_oauth_tokens_and_starts_families(
    db_path: Path, clock: VirtualClock
) -> None:
    db_path.parent.mkdir(parents=True)
    with raw(db_path) as conn:
        migrations.migrate(conn, migrations.MIGRATIONS[:2])
        conn.execute(
            "INSERT INTO oauth_clients (client_id, name, secret_hash, redirect_uris, created)"
            " VALUES ('app', 'App', 'x', '[\"https://app.example/cb\"]', 0)"
        )
        for kind, secret in (("oauth_access", "old-access"), ("oauth_refresh", "old-refresh")):
            conn.execute(
                "INSERT INTO tokens (name, kind, token_hash, client_id, created, expires)"
                " VALUES ('App', ?, ?, 'app', ?, NULL)",
                (kind, hashlib.sha256(secret.encode()).hexdigest(), T0),
            )
    async with await Database.open(db_path, clock) as db:
        assert db.schema_version == latest_version() >= 3
        assert await db.auth.authenticate("old-access") is not None
        rotated = await db.auth.rotate_refresh_token("old-refresh", client_id="app")
        assert isinstance(rotated, OAuthGrant)
        # the pre-upgrade token began a family at its first use: replaying it revokes that
        assert await db.auth.rotate_refresh_token("old-refresh") is GrantRefused.REFRESH_REPLAYED
        assert await db.auth.authenticate(rotated.access.token) is None


async def test_refresh_rotation_has_one_winner(db: Database, db_path: Path) -> None:
    other = await Database.open(db_path, db.clock)
    try:
        refresh = [
            (await db.auth.create_token("app", TokenKind.OAUTH_REFRESH)).token for _ in range(15)
        ]
        results = await asyncio.gather(
            *(db.auth.rotate_refresh_token(t) for t in refresh),
            *(other.auth.rotate_refresh_token(t) for t in refresh),
        )
        for i in range(len(refresh)):
            pair = (results[i], results[i + len(refresh)])
            assert sorted(isinstance(r, OAuthGrant) for r in pair) == [False, True]
            assert GrantRefused.REFRESH_REPLAYED in pair
        # the loser presented a used token: a replay, which revokes what the winner got
        assert await db.auth.list_tokens(include_inactive=False) == []
    finally:
        await other.close()


# -- measurements and events ---------------------------------------------------------


async def test_samples_and_hourly_aggregates(db: Database) -> None:
    h = hour_of(T0)
    await db.measurements.add_samples(
        [
            Sample(h + 60, "room", 19.0),
            Sample(h + 120, "room", 21.0),
            Sample(h + 3700, "room", 20.0),
        ]
    )
    await db.measurements.add_samples([Sample(h + 180, "room", 23.0), Sample(h + 30, "ot25", 55.5)])
    await db.measurements.add("room", 18.0, ts=h + 7200)

    hourly = await db.measurements.hourly("room", h, h + 3 * 3600)
    assert [(a.hour, a.min, a.max, a.count) for a in hourly] == [
        (h, 19.0, 23.0, 3),
        (h + 3600, 20.0, 20.0, 1),
        (h + 7200, 18.0, 18.0, 1),
    ]
    assert hourly[0].mean == pytest.approx(21.0)
    assert await db.measurements.hourly("room", h + 3600, h + 7200) == hourly[1:2]

    assert [s.value for s in await db.measurements.samples("room", h, h + 3600)] == [19, 21, 23]
    assert len(await db.measurements.samples("room", h, h + 9000, limit=2)) == 2
    assert await db.measurements.latest("room") == Sample(h + 7200, "room", 18.0)
    assert await db.measurements.latest("nothing") is None
    assert await db.measurements.keys() == ["ot25", "room"]

    with pytest.raises(ValueError, match="finite"):
        await db.measurements.add_samples([Sample(h, "room", float("nan"))])
    with pytest.raises(ValueError, match="series key"):
        await db.measurements.add_samples([Sample(h, "", 1.0)])

    # a rebuild from raw rows gives the same aggregates
    assert await db.measurements.aggregate(h) == 4
    assert await db.measurements.hourly("room", h, h + 3 * 3600) == hourly


async def test_event_log(db: Database, clock: VirtualClock) -> None:
    fault = await db.events.log(
        EventKind.BOILER_FAULT, "low water pressure", code=3, data={"oem": 3, "flags": ["water"]}
    )
    assert (fault.code, fault.ts) == ("3", T0)
    clock.set(T0 + 10)
    await db.events.log(EventKind.LINK, "gateway reconnected")
    await db.events.log(EventKind.SOFTWARE_ERROR, "weather lookup failed", ts=T0 + 5)

    assert [e.message for e in await db.events.query()] == [
        "gateway reconnected",
        "weather lookup failed",
        "low water pressure",
    ]
    faults = await db.events.query(kinds=[EventKind.BOILER_FAULT, EventKind.SOFTWARE_ERROR])
    assert [e.kind for e in faults] == [EventKind.SOFTWARE_ERROR, EventKind.BOILER_FAULT]
    assert faults[1].data == {"oem": 3, "flags": ["water"]}
    assert [e.message for e in await db.events.query(since=T0 + 1, until=T0 + 10)] == [
        "weather lookup failed"
    ]
    assert len(await db.events.query(limit=1)) == 1


async def test_learning_state(db: Database, clock: VirtualClock) -> None:
    assert await db.learning.get("house") is None
    await db.learning.put("house", {"tau_hours": 11.5, "gain": [0.1, 0.2]})
    clock.set(T0 + 60)
    entry = await db.learning.put("house", {"tau_hours": 12.0})
    assert entry.updated == T0 + 60
    got = await db.learning.get("house")
    assert got is not None
    assert got.value == {"tau_hours": 12.0}
    await db.learning.put("preheat", 42)
    assert list(await db.learning.all()) == ["house", "preheat"]
    assert await db.learning.delete("preheat") is True
    assert await db.learning.delete("preheat") is False
    with pytest.raises(ValueError, match="JSON"):
        await db.learning.put("bad", {1, 2})


# -- privacy repositories -------------------------------------------------------------


async def test_consents_keep_their_history(db: Database, clock: VirtualClock) -> None:
    assert await db.consents.is_granted(Purpose.CLOUD_SYNC) is False
    await db.consents.record(Purpose.CLOUD_SYNC, granted=True, terms_version="1")
    clock.set(T0 + 100)
    await db.consents.record(Purpose.WEATHER_BY_CITY, granted=True, terms_version="1")
    clock.set(T0 + 200)
    await db.consents.record(Purpose.CLOUD_SYNC, granted=False, terms_version="1")

    assert await db.consents.is_granted(Purpose.CLOUD_SYNC) is False
    assert await db.consents.is_granted(Purpose.WEATHER_BY_CITY, "1") is True
    assert await db.consents.is_granted(Purpose.WEATHER_BY_CITY, "2") is False
    current = await db.consents.current()
    assert set(current) == {Purpose.CLOUD_SYNC, Purpose.WEATHER_BY_CITY}
    assert current[Purpose.CLOUD_SYNC].ts == T0 + 200
    history = await db.consents.history(Purpose.CLOUD_SYNC)
    assert [(c.granted, c.ts) for c in history] == [(True, T0), (False, T0 + 200)]
    assert len(await db.consents.history()) == 3
    with pytest.raises(ValueError, match="terms_version"):
        await db.consents.record(Purpose.STATISTICS, granted=True, terms_version="")


async def test_egress_log(db: Database) -> None:
    rec = await db.egress.record(
        "weather.example", "/v1/now?city=Utrecht#x", "weather_by_city", ["city"], 312
    )
    assert rec.path == "/v1/now"
    await db.egress.record("cloud.example", "/sync", "cloud_sync", ["programs"], 90, ts=T0 + 5)
    assert [r.host for r in await db.egress.query()] == ["cloud.example", "weather.example"]
    only = await db.egress.query(purpose="weather_by_city")
    assert [(r.fields, r.bytes) for r in only] == [(("city",), 312)]
    with pytest.raises(ValueError, match="nbytes"):
        await db.egress.record("h", "/", "p", [], -1)


async def test_webhooks(db: Database) -> None:
    token = await db.auth.create_token("app")
    hook = await db.webhooks.register("http://ha.local/hook", token.info.id)
    replaced = await db.webhooks.register("http://ha.local/other", token.info.id)
    assert replaced.id == hook.id
    assert replaced.url == "http://ha.local/other"
    loose = await db.webhooks.register("http://x.local/h")
    assert (await db.webhooks.register("http://x.local/h")).id == loose.id

    failed = await db.webhooks.record_delivery(hook.id, 500, ok=False)
    assert failed is not None
    assert (failed.failures, failed.last_status) == (1, 500)
    failed = await db.webhooks.record_delivery(hook.id, None, ok=False)
    assert failed is not None
    assert failed.failures == 2
    good = await db.webhooks.record_delivery(hook.id, 200, ok=True)
    assert good is not None
    assert good.failures == 0
    assert len(await db.webhooks.all()) == 2

    assert await db.webhooks.remove_for_token(token.info.id) is True
    assert await db.webhooks.remove(loose.id) is True
    assert await db.webhooks.all() == []
    assert await db.webhooks.record_delivery(loose.id, 200, ok=True) is None


# -- retention --------------------------------------------------------------------------


async def test_prune_keeps_recent_rows_and_drops_old_ones(
    db: Database, clock: VirtualClock
) -> None:
    now = T0 + 800 * DAY
    for age_days, label in ((1, "recent"), (100, "middle"), (400, "old"), (800, "ancient")):
        ts = now - age_days * DAY
        await db.measurements.add_samples([Sample(ts, label, 1.0)])
        await db.events.log(EventKind.INFO, label, ts=ts)
        await db.egress.record("h", "/", "p", [], 1, ts=ts)

    revoked = await db.auth.create_token("old")
    await db.webhooks.register("http://x/h", revoked.info.id)
    await db.auth.revoke_token(revoked.info.id)  # at T0
    used = await db.auth.create_pairing_code()
    paired = await db.auth.exchange_pairing_code(used, "x")
    assert paired is not None
    await db.auth.create_pairing_code()  # expires at T0 + 600

    clock.set(now)
    kept = await db.auth.create_pairing_code()
    live = await db.auth.create_token("live")
    counts = await db.prune()
    assert counts == {
        "samples": 3,
        "hourly": 1,
        "events": 2,
        "egress_log": 2,
        "pairing_codes": 2,
        "auth_codes": 0,
        "tokens": 1,
    }
    assert await db.measurements.keys() == ["middle", "old", "recent"]  # hourly kept 2 years
    assert await db.measurements.samples("middle", 0, now) == []
    assert len(await db.measurements.hourly("old", 0, now)) == 1
    assert [e.message for e in await db.events.query()] == ["recent", "middle"]
    assert len(await db.egress.query()) == 2
    assert [t.id for t in await db.auth.list_tokens()] == [paired.info.id, live.info.id]
    assert await db.webhooks.all() == []  # went with its token
    assert await db.auth.exchange_pairing_code(kept, "y") is not None


async def test_retention_is_configurable_and_maintained(db_path: Path, clock: VirtualClock) -> None:
    short = Retention(raw_samples=timedelta(days=1), events=timedelta(hours=1))
    with pytest.raises(ValueError, match="positive"):
        Retention(events=timedelta(0))
    async with await Database.open(db_path, clock, retention=short) as db:
        await db.measurements.add("room", 20.0)
        await db.events.log(EventKind.INFO, "start")
        task = asyncio.create_task(db.maintain(interval=3600))

        async def hour_passes() -> None:
            # the prune runs on the worker thread: wait until the task sleeps
            # again before moving simulated time on
            wake = clock.time() + 3600
            for _ in range(500):
                if clock.next_wakeup() == wake:
                    await clock.advance(3600)
                    return
                await asyncio.sleep(0.005)
            raise AssertionError("maintenance did not go back to sleep")

        # each step moves the clock on an hour, which runs the next prune
        await hour_passes()  # pruned at T0 + 1h: the event is exactly 1 h old, kept
        assert len(await db.events.query()) == 1
        await hour_passes()  # pruned at T0 + 2h
        assert await db.events.query() == []
        for _ in range(22):
            await hour_passes()
        # pruned at T0 + 24h: the sample is exactly a day old, kept
        assert len(await db.measurements.samples("room", 0, T0 + 1)) == 1
        await hour_passes()
        assert await db.measurements.samples("room", 0, T0 + 1) == []
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


# -- export and erase ---------------------------------------------------------------------

PERSONAL = {
    "email": "jan.jansen@example.org",
    "location": "Zwolle",
    "name": "Jans woonkamer",
}


async def fill(db: Database) -> dict[str, Any]:
    await db.settings.set_many({**PERSONAL, "hardware_id": "TS-0042", "geofence_enabled": True})
    await db.settings.set(PROGRAMS, {**DEFAULT_PROGRAMS, "comfort": 21.5})
    await db.schedule.replace([ScheduleEntry(0, 5, 45, "comfort")])
    await db.schedule.replace_exceptions(
        [
            ExceptionPeriod(
                datetime.fromisoformat("2026-04-01T09:00"),
                datetime.fromisoformat("2026-04-01T17:00"),
                "not_home",
                "tandarts Jan",
            )
        ]
    )
    await db.measurements.add_samples([Sample(T0 + i, "room", 20 + i / 10) for i in range(5)])
    await db.events.log(EventKind.BOILER_FAULT, "fault", code=1)
    await db.learning.put("house", {"tau": 9.75})
    await db.consents.record(Purpose.WEATHER_BY_CITY, granted=True, terms_version="1")
    await db.egress.record("weather.example", "/now", "weather_by_city", ["city"], 100)
    api = await db.auth.create_token("Jans script")
    await db.webhooks.register("http://jan-laptop.local/hook", api.info.id)
    await db.auth.create_oauth_client(["https://app.example/cb"], "App")
    return {"token": api.token, "token_hash": hashlib.sha256(api.token.encode()).hexdigest()}


async def test_export_lists_everything_without_secrets(db: Database) -> None:
    secrets_ = await fill(db)
    data = await db.export()
    text = json.dumps(data)  # JSON-able
    assert data["format"] == "thermosmart-local-export"
    assert set(data["settings"]) == set(SETTINGS)
    for value in PERSONAL.values():
        assert value in text
    assert data["settings"]["hardware_id"] == "TS-0042"
    assert data["schedule"] == [{"day": 0, "hour": 5, "minute": 45, "program": "comfort"}]
    assert data["exceptions"][0]["start"] == "2026-04-01T09:00:00"
    assert len(data["measurements"]["samples"]["room"]) == 5
    assert data["measurements"]["hourly"]["room"][0]["count"] == 5
    assert data["events"][0]["kind"] == "boiler_fault"
    assert data["learning"]["house"]["value"] == {"tau": 9.75}
    assert data["consents"][0]["purpose"] == "weather_by_city"
    assert data["egress_log"][0]["fields"] == ["city"]
    assert data["webhooks"][0]["url"] == "http://jan-laptop.local/hook"
    assert data["tokens"][0]["name"] == "Jans script"
    assert set(data["tokens"][0]) == {
        "id",
        "name",
        "kind",
        "created",
        "last_used",
        "expires",
        "revoked",
        "client_id",
    }
    assert data["oauth_clients"][0]["redirect_uris"] == ["https://app.example/cb"]
    assert secrets_["token"] not in text
    assert secrets_["token_hash"] not in text
    assert "hash" not in text


async def test_erase_removes_personal_data_and_keeps_the_thermostat_working(
    db: Database, db_path: Path
) -> None:
    secrets_ = await fill(db)
    counts = await db.erase()
    assert counts["samples"] == 5
    assert counts["webhooks"] == 1
    assert "tokens" not in counts

    data = await db.export()
    text = json.dumps(data)
    for value in [*PERSONAL.values(), "tandarts", "jan-laptop", "9.75", "21.5"]:
        assert value not in text
    assert data["settings"]["name"] == DEFAULT_NAME
    assert data["settings"]["email"] is None
    assert data["settings"]["location"] is None
    assert data["settings"]["geofence_enabled"] is False
    assert data["settings"]["programs"] == dict(DEFAULT_PROGRAMS)
    assert data["settings"]["hardware_id"] == "TS-0042"
    assert len(data["schedule"]) == len(DEFAULT_SCHEDULE)
    for key in ("exceptions", "events", "egress_log", "webhooks"):
        assert data[key] == []
    assert data["measurements"] == {"samples": {}, "hourly": {}}
    assert data["learning"] == {}
    assert len(data["consents"]) == 1  # the record of what was agreed stays
    # the thermostat keeps working: schedule and programs are there, clients too
    assert await db.schedule.get() == sorted(
        DEFAULT_SCHEDULE, key=lambda b: (b.day, b.hour, b.minute)
    )
    assert await db.auth.authenticate(secrets_["token"]) is not None

    # nothing of it lingers in the file or its WAL
    blob = b"".join(
        p.read_bytes() for p in db_path.parent.iterdir() if p.name.startswith(DB_FILENAME)
    )
    for value in PERSONAL.values():
        assert value.encode() not in blob

    counts = await db.erase(revoke_tokens=True)
    assert counts["tokens"] == 1
    assert await db.auth.authenticate(secrets_["token"]) is None


async def test_erase_uses_the_given_defaults(db_path: Path, clock: VirtualClock) -> None:
    defaults = Defaults(
        name="Thermostat",
        programs={**DEFAULT_PROGRAMS, "home": 18.0},
        schedule=(ScheduleEntry(0, 0, 0, "home"),),
    )
    with pytest.raises(ValueError, match="programs"):
        await Database.open(db_path, clock, defaults=Defaults(programs={"home": 1.0}))
    async with await Database.open(db_path, clock, defaults=defaults) as db:
        await db.apply_update(
            settings={"name": "Mine", "programs": dict(DEFAULT_PROGRAMS)},
            schedule=[ScheduleEntry(2, 7, 0, "comfort")],
        )
        await db.erase()
        assert await db.settings.get(NAME) == "Thermostat"
        assert (await db.settings.get(PROGRAMS))["home"] == 18.0
        assert await db.schedule.get() == [ScheduleEntry(0, 0, 0, "home")]


# -- schema allow-list (PRIVACY.md P6) ------------------------------------------------------

ALLOWED_COLUMNS = {
    "settings": {"key", "value", "updated"},
    "schedule": {"day", "hour", "minute", "program"},
    "schedule_exceptions": {"id", "start_at", "end_at", "program", "description"},
    "oauth_clients": {"client_id", "name", "secret_hash", "redirect_uris", "created"},
    "tokens": {
        "id",
        "name",
        "kind",
        "token_hash",
        "client_id",
        "created",
        "last_used",
        "expires",
        "revoked",
        "family",
    },
    "pairing_codes": {"code_hash", "created", "expires", "used"},
    "auth_codes": {
        "code_hash",
        "client_id",
        "redirect_uri",
        "created",
        "expires",
        "used",
        "code_challenge",
    },
    "samples": {"ts", "key", "value"},
    "hourly": {"key", "hour", "min", "max", "mean", "count"},
    "events": {"id", "ts", "kind", "code", "message", "data"},
    "learning": {"name", "value", "updated"},
    "consents": {"id", "purpose", "granted", "ts", "terms_version"},
    "egress_log": {"id", "ts", "host", "path", "purpose", "fields", "bytes"},
    "webhooks": {"id", "url", "token_id", "created", "last_status", "last_attempt", "failures"},
    "energy_counters": {"name", "kwh", "updated"},
    "units": {
        "hardware_id",
        "secret",
        "house",
        "created",
        "revision",
        "firmware",
        "calendar_version",
        "last_seen",
        "own_pid",
    },
    # the link to an owner's cloud account; secret: the credential the cloud issued
    "cloud_link": {"id", "cloud_url", "bridge_id", "thermostat", "secret", "since"},
    "cloud_deletions": {
        "id",
        "kind",
        "cloud_url",
        "bridge_id",
        "secret",
        "pseudonym",
        "queued",
    },
    "sqlite_sequence": {"name", "seq"},  # SQLite's own AUTOINCREMENT bookkeeping
}
FORBIDDEN = (
    "address",
    "street",
    "postal",
    "zip",
    "phone",
    "mobile",
    "wifi",
    "ssid",
    "psk",
    "passw",
)


async def test_schema_is_an_allow_list(db: Database, db_path: Path) -> None:
    with raw(db_path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        found = {
            t: {r[1] for r in conn.execute("SELECT * FROM pragma_table_info(?)", (t,))}
            for t in tables
        }
    assert found == ALLOWED_COLUMNS
    names = [*found, *(c for cols in found.values() for c in cols), *SETTINGS]
    for name in names:
        assert not any(bad in name.lower() for bad in FORBIDDEN), name


# -- a second process and a crash ---------------------------------------------------------------


async def test_cli_process_works_while_the_daemon_writes(db: Database) -> None:
    stop = asyncio.Event()

    async def daemon_writes() -> int:
        n = 0
        while not stop.is_set():
            await db.measurements.add("room", 20.0, ts=T0 + n)
            n += 1
            await asyncio.sleep(0)
        return n

    writer = asyncio.create_task(daemon_writes())
    out = json.loads(await run_child("cli", str(db.path)))
    stop.set()
    written = await writer
    assert written > 0
    info = await db.auth.authenticate(out["access_token"])
    assert info is not None
    assert info.id == out["id"]
    assert await db.auth.exchange_pairing_code(out["code"], "Home Assistant") is not None
    assert len(await db.measurements.samples("room", 0, T0 + written)) == written


async def test_committed_rows_survive_kill_9(db_path: Path, clock: VirtualClock) -> None:
    await (await Database.open(db_path, clock)).close()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HELPER),
        "loop",
        str(db_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    reported: list[int] = []
    try:
        while len(reported) < 120:
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line, (await proc.stderr.read()).decode() if proc.stderr else ""
            reported.append(int(line))
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # lines the child printed before it died are committed rows too
    rest = await proc.stdout.read()
    reported += [int(x) for x in rest.decode().split("\n")[:-1]]

    async with await Database.open(db_path, clock) as db:
        assert await db.integrity_check() == "ok"
        samples = await db.measurements.samples("crash", 0, float("inf"))
        values = {int(s.value) for s in samples}
        assert set(reported) <= values
        events = await db.events.query(limit=None)
        assert {str(i) for i in reported} <= {e.code for e in events}
        # every committed batch is whole: 50 samples per row number
        per_row: dict[int, int] = {}
        for s in samples:
            per_row[int(s.value)] = per_row.get(int(s.value), 0) + 1
        assert set(per_row.values()) == {50}
        assert os.path.exists(db_path)


# -- energy counters ------------------------------------------------------------------------


async def test_energy_counters_add_up_survive_reopening_and_never_go_down(
    db_path: Path, clock: VirtualClock
) -> None:
    db = await Database.open(db_path, clock)
    assert await db.energy.totals() == {}
    assert await db.energy.add({"ch_heat": 1.5, "ch_gas": 1.6}) == {"ch_heat": 1.5, "ch_gas": 1.6}
    await db.energy.add({"ch_heat": 0.5, "dhw_gas": 0.25})
    for bad in ({"ch_heat": -0.1}, {"ch_gas": float("nan")}, {"boiler": 1.0}):
        with pytest.raises(ValueError, match="energy counter"):
            await db.energy.add(bad)
    await db.close()
    with raw(db_path) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE energy_counters SET kwh = -1 WHERE name = 'ch_heat'")
    again = await Database.open(db_path, clock)
    assert await again.energy.totals() == {"ch_heat": 2.0, "ch_gas": 1.6, "dhw_gas": 0.25}
    await again.close()
