"""The thermosmart-bridge command line, run as a real process."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from bridge.core.clock import SystemClock
from bridge.opentherm.frame import Frame, MsgType
from bridge.opentherm.links.modbus import ModbusLink
from bridge.opentherm.links.otgw import OtgwLink


def _cli(
    *args: str, data_dir: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if data_dir is not None:
        env["THERMOSMART_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=60,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_ot_decode_arguments_and_stdin() -> None:
    result = _cli("ot", "decode", "T80000200", "B40000200")
    assert result.returncode == 0
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["source"] == "thermostat"
    assert first["msg_type"] == "READ-DATA"
    assert first["value"]["hb"]["dhw_enable"] is True
    assert second["source"] == "boiler"
    assert second["msg_type"] == "READ-ACK"
    piped = _cli("ot", "decode", stdin="00190000\n\nzz\n")
    rows = [json.loads(line) for line in piped.stdout.splitlines()]
    assert rows[0]["valid"] is False
    assert rows[0]["error"] == "parity"
    assert rows[1]["valid"] is False
    assert rows[1]["error"] == "format"


def test_pair_and_tokens(tmp_path: Path) -> None:
    pair = _cli("pair", "--json", data_dir=tmp_path)
    assert pair.returncode == 0, pair.stderr
    code = json.loads(pair.stdout)["code"]
    assert len(code.replace("-", "")) == 8

    created = _cli("token", "create", "--name", "script", "--json", data_dir=tmp_path)
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)
    assert token["access_token"]
    listed = json.loads(_cli("token", "list", "--json", data_dir=tmp_path).stdout)
    assert [t["name"] for t in listed["tokens"]] == ["script"]
    assert "access_token" not in json.dumps(listed)
    assert _cli("token", "revoke", token["id"], data_dir=tmp_path).returncode == 0
    assert _cli("token", "revoke", "999", data_dir=tmp_path).returncode == 1

    client = _cli(
        "oauth-client",
        "create",
        "--redirect-uri",
        "http://127.0.0.1/cb",
        "--json",
        data_dir=tmp_path,
    )
    assert client.returncode == 0, client.stderr
    assert set(json.loads(client.stdout)) == {"client_id", "client_secret", "redirect_uris"}


def test_invalid_config_names_the_key(tmp_path: Path) -> None:
    conf = tmp_path / "bridge.toml"
    conf.write_text('port = 8722\nsim_speed = "fast"\n')
    result = _cli("run", "--config", str(conf), data_dir=tmp_path)
    assert result.returncode == 2
    assert "sim_speed" in result.stderr
    conf.write_text("colour = 1\n")
    result = _cli("run", "--config", str(conf), data_dir=tmp_path)
    assert result.returncode == 2
    assert "colour: unknown key" in result.stderr
    result = _cli("run", "--boiler", "ftp://x", data_dir=tmp_path)
    assert result.returncode == 2
    assert "boiler" in result.stderr


def test_run_serves_and_hands_back_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    env = dict(os.environ, THERMOSMART_DATA_DIR=str(tmp_path))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bridge",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-zeroconf",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/v1/health", timeout=1
                ) as r:
                    health = json.loads(r.read())
                break
            except OSError:
                time.sleep(0.2)
        assert health is not None
        assert health["status"] == "ok"
        time.sleep(1.5)  # let the master run a cycle or two
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert "handed back" in out


@pytest.mark.parametrize("command", ["sim-otgw", "sim-modbus"])
async def test_simulated_gateways_serve_a_real_link(command: str) -> None:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridge",
        command,
        "--port",
        str(port),
        "--speed",
        "10",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = (
        f"otgw+tcp://127.0.0.1:{port}"
        if command == "sim-otgw"
        else f"modbus+tcp://127.0.0.1:{port}?unit=1"
    )
    link = (
        OtgwLink.from_url(url, clock=SystemClock())
        if command == "sim-otgw"
        else ModbusLink.from_url(url, clock=SystemClock(), backoff_min=0.2)
    )
    try:
        answer = None
        for _ in range(100):
            await asyncio.sleep(0.1)
            if answer is None and link.state == "stopped":
                await link.start()
            if str(link.state) != "connected":
                continue
            answer = await link.transact(Frame(MsgType.READ_DATA, 25), timeout=3)
            break
        assert answer is not None
        assert answer.msg_type is MsgType.READ_ACK
        assert answer.data_id == 25
    finally:
        await link.stop()
        proc.terminate()
        await proc.wait()
