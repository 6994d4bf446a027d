"""The thermosmart-cloud command line, run as a real process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

import aiohttp
import pytest

from bench.cloud_scale import SimBridge
from bridge.core.clock import SystemClock
from cloud_stub import cli
from cloud_stub.store import CloudStore
from tests.cloud_stub.conftest import BRIDGE_ID, HW, thermostat_object


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cloud_stub", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _sync_once(base: str, secret: str) -> None:
    """Connect as the bridge, upload the thermostat once, close (on a loop of its own: the
    test is not a coroutine)."""

    async def sync() -> None:
        async with aiohttp.ClientSession() as http:
            bridge = SimBridge(http, base, BRIDGE_ID, secret, thermostat_object())
            await bridge.connect()
            await bridge.close()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(sync())
    finally:
        loop.close()


def _call(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _form(url: str, fields: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(fields).encode(), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _wait_for(base: str, context: ssl.SSLContext | None = None) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/api/v1/health", timeout=5, context=context) as r:
                return json.loads(r.read())
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the stand-in did not start")


def test_serve_link_token_revoke_and_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "cloud"
    owner = _cli(
        "owner", "create", "--email", "Eva@Example.org", "--json", "--data-dir", str(data_dir)
    )
    assert owner.returncode == 0, owner.stderr
    created = json.loads(owner.stdout)
    assert created["owner"] == "eva@example.org"
    assert len(created["password"]) >= 24
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloud_stub", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_for(base) == {
            "status": "ok",
            "service": "thermosmart-cloud",
            "version": "0.1.0",
        }

        status, started = _form(
            f"{base}/oauth2/device_authorization",
            {
                "client_id": "thermosmart-bridge",
                "bridge_id": BRIDGE_ID,
                "hardware_id": HW,
                "terms_version": "2026-01",
            },
        )
        assert status == 200
        poll = {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": started["device_code"],
            "client_id": "thermosmart-bridge",
        }
        assert _form(f"{base}/oauth2/token", poll)[1]["error"] == "authorization_pending"
        wrong = _cli(
            "approve", "BBBB-BBBB", "--owner", "eva@example.org", "--data-dir", str(data_dir)
        )
        assert wrong.returncode == 1
        assert "no bridge is waiting with code BBBB-BBBB" in wrong.stderr
        nobody = _cli(
            "approve", started["user_code"], "--owner", "x@y.z", "--data-dir", str(data_dir)
        )
        assert nobody.returncode == 1
        assert "no owner account for x@y.z" in nobody.stderr
        # the code as the owner types it: lower case, without the dash
        typed = started["user_code"].replace("-", "").lower()
        approved = _cli("approve", typed, "--owner", "EVA@example.org", "--data-dir", str(data_dir))
        assert approved.returncode == 0, approved.stderr
        assert f"thermostat {HW} links to eva@example.org" in approved.stdout
        status, linked = _form(f"{base}/oauth2/token", poll)
        assert status == 200, linked
        secret = linked["access_token"]
        assert linked["bridge_id"] == BRIDGE_ID
        assert _form(f"{base}/oauth2/token", poll)[1]["error"] == "invalid_grant"  # used once

        _sync_once(base, secret)

        made = _cli(
            "token", "create", "--owner", "eva@example.org", "--json", "--data-dir", str(data_dir)
        )
        assert made.returncode == 0, made.stderr
        token_out = json.loads(made.stdout)
        assert token_out["thermostat"] == HW
        token = token_out["access_token"]
        assert _call("GET", f"{base}/thermostat", token=token) == (200, {"hw": HW})
        assert _call("GET", f"{base}/thermostat/{HW}", token=token) == (200, thermostat_object())
        status, pending = _call("PUT", f"{base}/thermostat/{HW}", {"target_temperature": 21}, token)
        assert status == 202  # the bridge is not connected
        status, listed_commands = _call(
            "GET", f"{base}/api/v1/thermostats/{HW}/commands", token=token
        )
        assert [(c["id"], c["body"], c["status"]) for c in listed_commands["commands"]] == [
            (pending["id"], {"target_temperature": 21.0}, "pending")
        ]
        assert _call("GET", f"{base}/thermostat")[0] == 401

        listed = _cli(
            "token", "list", "--owner", "eva@example.org", "--json", "--data-dir", str(data_dir)
        )
        (entry,) = json.loads(listed.stdout)["tokens"]
        assert entry["id"] == token_out["id"]
        assert token not in listed.stdout
        # revoked while the stand-in serves: refused at once
        revoked = _cli("token", "revoke", str(token_out["id"]), "--data-dir", str(data_dir))
        assert revoked.returncode == 0, revoked.stderr
        assert _call("GET", f"{base}/thermostat", token=token)[0] == 401
        again = _cli("token", "revoke", str(token_out["id"]), "--data-dir", str(data_dir))
        assert again.returncode == 1
        assert f"no token {token_out['id']}" in again.stderr

        assert _call("DELETE", f"{base}/api/v1/bridges/{BRIDGE_ID}", token=secret) == (204, None)
        with pytest.raises(aiohttp.WSServerHandshakeError):
            _sync_once(base, secret)

        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out == ""
    assert f"ThermoSmart cloud stand-in on {base}" in err
    assert "GET /thermostat/{hw} -> 200" in err
    for leak in (
        secret,
        token,
        HW,
        BRIDGE_ID,
        "Woonkamer",
        started["user_code"],
        created["password"],
    ):
        assert leak not in err
    assert (data_dir / "cloud.sqlite3").stat().st_mode & 0o077 == 0


def test_token_create_needs_an_owner_with_a_thermostat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = ["--data-dir", str(tmp_path)]
    assert cli.main([*data_dir, "token", "create", "--owner", "nobody@example.org"]) == 1
    assert "no owner account for nobody@example.org" in capsys.readouterr().err
    assert cli.main(["owner", "create", "--email", "eva@example.org", *data_dir]) == 0
    capsys.readouterr()
    assert cli.main(["token", "create", "--owner", "eva@example.org", *data_dir]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "no bridge is linked to eva@example.org yet" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["owner", "create", "--email", "not-an-address"], "--email must be an e-mail address"),
        (["owner", "create", "--email", "a@b\x07"], "--email must"),
        (["terms", "publish", ""], "VERSION must not be empty"),
        (["terms", "publish", "x" * 33], "VERSION at most 32 characters"),
        (["oauth-client", "create", "--redirect-uri", "ftp://x/cb"], "must be an absolute http"),
        (
            ["oauth-client", "create", "--redirect-uri", "https://x/cb#f"],
            "must not have a fragment",
        ),
        (["--tls-cert", "/nonexistent/cert.pem"], "--tls-cert and --tls-key go together"),
        (
            ["--signing-key", "/nonexistent/key.pem"],
            "--signing-key and --update-manifest go together",
        ),
    ],
)
def test_bad_command_input_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert cli.main(["--data-dir", str(tmp_path), *argv]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err


def test_owner_accounts_and_terms_are_made_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = ["--data-dir", str(tmp_path)]
    assert cli.main(["owner", "create", "--email", "eva@example.org", *data_dir]) == 0
    password = capsys.readouterr().out.strip()
    assert cli.main(["owner", "create", "--email", "EVA@example.org", *data_dir]) == 1
    assert "eva@example.org already has an account" in capsys.readouterr().err
    assert cli.main(["terms", "publish", "2026-03", "--json", *data_dir]) == 0
    assert json.loads(capsys.readouterr().out) == {"terms_version": "2026-03"}
    assert cli.main(["terms", "publish", "2026-01", *data_dir]) == 1
    assert "terms 2026-01 were published before" in capsys.readouterr().err
    store = CloudStore.open(tmp_path, SystemClock())
    try:
        assert store.terms_version() == "2026-03"
        assert store.owner_login("eva@example.org", password) is not None
        assert store.owner_login("eva@example.org", password + "x") is None
        assert password.encode() not in store.path.read_bytes()
    finally:
        store.close()


def test_an_older_database_is_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with contextlib.closing(sqlite3.connect(tmp_path / "cloud.sqlite3")) as db:
        db.execute("CREATE TABLE bridges (bridge_id TEXT PRIMARY KEY)")
    assert cli.main(["--data-dir", str(tmp_path), "owner", "create", "--email", "a@b.c"]) == 1
    assert "written by another version of the stand-in" in capsys.readouterr().err


def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _cli("--port", str(port), "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_commands_use_the_data_dir_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("THERMOSMART_CLOUD_DATA_DIR", str(tmp_path / "env"))
    assert cli.main(["owner", "create", "--email", "eva@example.org"]) == 0
    capsys.readouterr()
    store = CloudStore.open(tmp_path / "env", SystemClock())
    try:
        started = store.start_link(BRIDGE_ID, HW, "2026-01")
    finally:
        store.close()
    assert cli.main(["approve", started.user_code, "--owner", "eva@example.org"]) == 0
    store = CloudStore.open(tmp_path / "env", SystemClock())
    try:
        assert store.poll_link(started.device_code).secret is not None
    finally:
        store.close()
    capsys.readouterr()
    assert cli.main(["token", "create", "--owner", "eva@example.org"]) == 0
    token = capsys.readouterr().out.strip()
    store = CloudStore.open(tmp_path / "env", SystemClock())
    try:
        record = store.bridge_for_owner_token(token)
    finally:
        store.close()
    assert record is not None
    assert record.hardware_id == HW


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("THERMOSMART_CLOUD_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert cli.default_data_dir() == tmp_path / "thermosmart-cloud"
    monkeypatch.setenv("THERMOSMART_CLOUD_DATA_DIR", "/srv/cloud")
    assert cli.default_data_dir() == Path("/srv/cloud")
    assert os.fspath(cli.default_data_dir()) == "/srv/cloud"
