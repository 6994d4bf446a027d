"""The thermosmart-cloud command line, run as a real process."""

from __future__ import annotations

import json
import os
from pathlib import Path
import signal
import socket
import subprocess
import sys
import time
from typing import Any
import urllib.error
import urllib.request

import pytest

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


def test_serve_enrol_token_and_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "cloud"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloud_stub", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        health = None
        while health is None and time.monotonic() < deadline:
            try:
                health = _call("GET", f"{base}/api/v1/health")
            except OSError:
                time.sleep(0.1)
        assert health == (200, {"status": "ok", "service": "thermosmart-cloud", "version": "0.1.0"})

        status, enrolled = _call(
            "POST",
            f"{base}/api/v1/bridges",
            {"bridge_id": BRIDGE_ID, "hardware_id": HW, "terms_version": "2026-01"},
        )
        assert status == 201
        secret = enrolled["secret"]
        status, _ = _call(
            "PUT", f"{base}/api/v1/bridges/{BRIDGE_ID}/thermostat", thermostat_object(), secret
        )
        assert status == 200

        created = _cli("token", "create", "--hw", HW, "--json", "--data-dir", str(data_dir))
        assert created.returncode == 0, created.stderr
        token_out = json.loads(created.stdout)
        assert token_out["thermostat"] == HW
        token = token_out["access_token"]
        assert _call("GET", f"{base}/thermostat", token=token) == (200, {"hw": HW})
        assert _call("GET", f"{base}/thermostat/{HW}", token=token) == (200, thermostat_object())
        status, _ = _call("PUT", f"{base}/thermostat/{HW}", {"target_temperature": 21}, token)
        assert status == 200
        status, pulled = _call("GET", f"{base}/api/v1/bridges/{BRIDGE_ID}/commands", token=secret)
        assert [c["body"] for c in pulled["commands"]] == [{"target_temperature": 21.0}]
        assert _call("GET", f"{base}/thermostat")[0] == 401
        assert _call("DELETE", f"{base}/api/v1/bridges/{BRIDGE_ID}", token=secret) == (204, None)
        assert _call("GET", f"{base}/thermostat", token=token)[0] == 401

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
    for leak in (secret, token, HW, BRIDGE_ID, "Woonkamer"):
        assert leak not in err
    assert (data_dir / "cloud.sqlite3").stat().st_mode & 0o077 == 0


def test_token_create_for_an_unknown_thermostat_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--data-dir", str(tmp_path), "token", "create", "--hw", "TSLNOBODY"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "no bridge has enrolled thermostat TSLNOBODY" in err


def test_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _cli("--port", str(port), "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_token_create_uses_the_data_dir_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("THERMOSMART_CLOUD_DATA_DIR", str(tmp_path / "env"))
    store = CloudStore.open(tmp_path / "env", SystemClock())
    try:
        store.enrol(BRIDGE_ID, HW, "2026-01")
    finally:
        store.close()
    assert cli.main(["token", "create", "--hw", HW]) == 0
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
