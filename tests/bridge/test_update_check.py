"""The signed update check (P11): a real bridge against the real stand-in over HTTPS on loopback.

The stand-in serves a manifest signed with a test key the test makes
(:mod:`tests.cloud_stub.update_cloud`); the bridge trusts that key through
``update_public_key_file``. The stand-in's access log counts every request
the bridge makes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
import logging
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
import pytest

from bridge.config import ConfigError, validate
from bridge.core.clock import VirtualClock
from bridge.core.manifest import Manifest
from bridge.core.payloads.history import EventKind
from bridge.core.payloads.privacy import Purpose
from bridge.core.release_key import RELEASE_PUBLIC_KEY, RELEASE_PUBLIC_KEY_PEM, parse_public_key
from bridge.daemon import Bridge
from bridge.services.update_check import CHECK_INTERVAL_S
from tests.cloud_stub.update_cloud import (
    RELEASE,
    UpdateCloud,
    UpdateRequests,
    counting_update_requests,
    update_cloud,
)

from .conftest import virtual_bridge

TERMS = "2026-01"
OLDER = Manifest(version="0.2.0", date="2026-06-01", notes="Older.", sha256="cd" * 32)
SERVICE_LOGGER = "bridge.services.update_check"


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[UpdateCloud]:
    async with update_cloud(tmp_path) as served:
        yield served


@pytest.fixture
def requests() -> Iterator[UpdateRequests]:
    with counting_update_requests() as counted:
        yield counted


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait (real time) until ``check()``: a check is real HTTPS to the stand-in."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


async def jump(clock: VirtualClock, seconds: float) -> None:
    """Move the bridge's clock ``seconds`` on at once (the simulated boiler catches up)."""
    clock.set(clock.time() + seconds - 1)
    await clock.advance(1)


async def next_day(clock: VirtualClock) -> None:
    """Move the bridge's clock just past the next daily check."""
    await jump(clock, CHECK_INTERVAL_S + 1)


async def consent(bridge: Bridge, *, granted: bool) -> None:
    await bridge.privacy.record_consent(Purpose.UPDATE_CHECK, granted=granted, terms_version=TERMS)


def update(bridge: Bridge) -> dict[str, Any]:
    section: dict[str, Any] = bridge.native_state()["update"]
    return section


def rejections(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == SERVICE_LOGGER and "was rejected" in r.getMessage()
    ]


async def test_no_request_without_the_consent_and_none_after_revoking_it(
    tmp_path: Path, cloud: UpdateCloud, requests: UpdateRequests
) -> None:
    async with virtual_bridge(tmp_path, **cloud.config()) as (bridge, clock):
        await next_day(clock)
        await asyncio.sleep(0.2)
        assert requests.lines == []
        assert await bridge.db.egress.query() == []
        assert update(bridge) == {
            "installed": bridge.native_state()["bridge"]["version"],
            "latest": None,
            "date": None,
            "notes": None,
            "sha256": None,
            "checked_at": None,
            "problem": None,
        }
        await consent(bridge, granted=True)
        await until(lambda: len(requests.lines) == 1)
        await consent(bridge, granted=False)
        check = bridge.update_check
        assert check is not None
        await until(lambda: not check.checking)  # as soon as the listener read the consent
        for _ in range(2):
            await next_day(clock)
        await asyncio.sleep(0.2)
        assert len(requests.lines) == 1


async def test_an_accepted_manifest_is_shown_and_each_check_is_in_the_egress_log(
    tmp_path: Path, cloud: UpdateCloud, requests: UpdateRequests
) -> None:
    async with virtual_bridge(tmp_path, **cloud.config()) as (bridge, clock):
        await consent(bridge, granted=True)
        await until(lambda: update(bridge)["latest"] is not None)
        checked = clock.time()
        assert update(bridge) == {
            "installed": bridge.native_state()["bridge"]["version"],
            "latest": "0.3.0",
            "date": "2026-11-20",
            "notes": RELEASE.notes,
            "sha256": RELEASE.sha256,
            "checked_at": checked,
            "problem": None,
        }
        # once a day on the bridge's clock, and not before
        await jump(clock, CHECK_INTERVAL_S - 10)
        await asyncio.sleep(0.2)
        assert len(requests.lines) == 1
        await next_day(clock)
        await until(lambda: len(requests.lines) == 2)
        await until(lambda: update(bridge)["checked_at"] != checked)
        records = await bridge.db.egress.query()
        checks = [r for r in records if r.path == "/api/v1/update"]
        assert [(r.host, r.path, r.purpose, list(r.fields), r.bytes) for r in checks] == [
            ("127.0.0.1", "/api/v1/update", "update_check", [], 0)
        ] * 2
        # the rest is the cloud-data task asking the terms version: no data either
        assert {(r.path, r.purpose, tuple(r.fields), r.bytes) for r in records} - {
            (r.path, r.purpose, tuple(r.fields), r.bytes) for r in checks
        } <= {("/api/v1/terms", "terms", (), 0)}
        assert all(" -> 200 " in line for line in requests.lines)


async def test_a_tampered_manifest_is_rejected_logged_once_and_shown(
    tmp_path: Path, cloud: UpdateCloud, requests: UpdateRequests, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, SERVICE_LOGGER)
    async with virtual_bridge(tmp_path, **cloud.config()) as (bridge, clock):
        await consent(bridge, granted=True)
        await until(lambda: update(bridge)["latest"] == "0.3.0")
        tampered = cloud.signed(Manifest(**{**RELEASE.to_dict(), "version": "0.4.0"}))
        tampered["manifest"]["notes"] = "Install this from elsewhere."  # signature kept
        cloud.serve(tampered)
        await next_day(clock)
        await until(lambda: update(bridge)["problem"] is not None)
        first = update(bridge)["problem"]
        assert first == {"kind": "tampered", "at": update(bridge)["checked_at"]}
        assert (update(bridge)["latest"], update(bridge)["notes"]) == ("0.3.0", RELEASE.notes)
        await next_day(clock)
        await until(lambda: len(requests.lines) == 3)
        await until(lambda: update(bridge)["checked_at"] > first["at"])
        assert update(bridge)["problem"] == first  # the same rejection, seen again
        assert len(rejections(caplog)) == 1
        assert "(tampered)" in rejections(caplog)[0]
        events = await bridge.db.events.query(kinds=[EventKind.INFO])
        assert [e.code for e in events if (e.code or "").startswith("update_")] == [
            "update_tampered"
        ]
        # a manifest the key did sign clears the problem
        cloud.serve(cloud.signed(Manifest(**{**RELEASE.to_dict(), "version": "0.4.0"})))
        await next_day(clock)
        await until(lambda: update(bridge)["latest"] == "0.4.0")
        assert update(bridge)["problem"] is None


async def test_an_older_manifest_is_a_replay_also_after_a_restart(
    tmp_path: Path, cloud: UpdateCloud, requests: UpdateRequests, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, SERVICE_LOGGER)
    async with virtual_bridge(tmp_path, **cloud.config()) as (bridge, clock):
        await consent(bridge, granted=True)
        await until(lambda: update(bridge)["latest"] == "0.3.0")
        cloud.serve(cloud.signed(OLDER))  # validly signed, but older
        await next_day(clock)
        await until(lambda: update(bridge)["problem"] is not None)
        assert update(bridge)["problem"]["kind"] == "replayed"
        assert update(bridge)["latest"] == "0.3.0"
        before = update(bridge)["checked_at"]
    # the same data directory: the bridge checks at start and still refuses the replay
    async with virtual_bridge(tmp_path, **cloud.config()) as (bridge, _clock):
        await until(lambda: len(requests.lines) == 3)
        await until(lambda: update(bridge)["checked_at"] != before)
        assert update(bridge)["latest"] == "0.3.0"
        assert update(bridge)["problem"]["kind"] == "replayed"
    replays = rejections(caplog)
    assert len(replays) == 1, replays
    assert "older than the last accepted 0.3.0" in replays[0]


async def test_the_stand_ins_test_key_is_not_the_projects_key(
    tmp_path: Path, cloud: UpdateCloud, requests: UpdateRequests
) -> None:
    config = cloud.config()
    del config["update_public_key_file"]  # the bridge trusts the project's release key
    async with virtual_bridge(tmp_path, **config) as (bridge, _clock):
        await consent(bridge, granted=True)
        await until(lambda: update(bridge)["problem"] is not None)
        assert update(bridge)["problem"]["kind"] == "tampered"
        assert update(bridge)["latest"] is None
    assert parse_public_key(RELEASE_PUBLIC_KEY_PEM) == RELEASE_PUBLIC_KEY
    assert len(RELEASE_PUBLIC_KEY) == 32


async def test_an_unreachable_cloud_is_shown_and_logged_once(
    tmp_path: Path, cloud: UpdateCloud, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, SERVICE_LOGGER)
    config = cloud.config()
    await cloud.server.stop()
    async with virtual_bridge(tmp_path, **config) as (bridge, clock):
        await consent(bridge, granted=True)
        await until(lambda: update(bridge)["problem"] is not None)
        first = update(bridge)["problem"]
        assert first["kind"] == "unreachable"
        await next_day(clock)
        await until(lambda: update(bridge)["checked_at"] > first["at"])
        assert update(bridge)["problem"] == first
    outages = [
        r for r in caplog.records if r.name == SERVICE_LOGGER and r.levelno >= logging.WARNING
    ]
    assert len(outages) == 1, [r.getMessage() for r in outages]
    assert "could not be reached" in outages[0].getMessage()


def _pem(key: Any) -> bytes:
    pem: bytes = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return pem


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        (b"", "neither PEM nor 32 raw bytes (0 bytes)"),
        (
            b"-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n",
            "not a readable PEM",
        ),
        ("ec", "not an Ed25519 key"),
        (b"x" * 5000, "larger than 4096 bytes"),
    ],
)
def test_an_unusable_public_key_file_is_a_clear_config_error(
    tmp_path: Path, content: Any, message: str
) -> None:
    path = tmp_path / "key.pub"
    if content == "ec":
        path.write_bytes(_pem(ec.generate_private_key(ec.SECP256R1())))
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        validate({"update_public_key_file": str(path)})
    assert err.value.key == "update_public_key_file"
    assert message in err.value.rule, err.value.rule


def test_a_raw_or_pem_ed25519_public_key_file_is_accepted(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    for name, content in (("raw.key", raw), ("pem.pub", _pem(key))):
        (tmp_path / name).write_bytes(content)
        config = validate({"update_public_key_file": str(tmp_path / name)})
        assert config.update_public_key_file == str(tmp_path / name)
