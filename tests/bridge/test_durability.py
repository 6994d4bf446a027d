"""The daemon as a real process: kill -9 during writes, and TLS."""

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

import aiohttp

from bridge.config import validate
from bridge.daemon import Bridge


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start(
    data_dir: Path, port: int, *, stderr: int = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
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
        env=dict(os.environ, THERMOSMART_DATA_DIR=str(data_dir)),
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


async def _wait_up(session: aiohttp.ClientSession, base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{base}/api/v1/health") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the bridge did not come up")


async def test_kill_9_during_writes_loses_no_acknowledged_change(tmp_path: Path) -> None:
    token = json.loads(
        subprocess.run(
            [sys.executable, "-m", "bridge", "token", "create", "--json"],
            env=dict(os.environ, THERMOSMART_DATA_DIR=str(tmp_path)),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(tmp_path, port)
    acknowledged: list[float] = []
    sent: list[float] = []
    try:
        async with aiohttp.ClientSession() as session:
            await _wait_up(session, base)
            async with session.get(f"{base}/thermostat", headers=headers) as resp:
                hw = (await resp.json())["hw"]

            async def writer() -> None:
                i = 0
                while True:
                    target = 15.0 + (i % 30) * 0.5
                    body = {"target_temperature": target, "programs": {"comfort": target}}
                    sent.append(target)
                    async with session.put(
                        f"{base}/thermostat/{hw}", json=body, headers=headers
                    ) as resp:
                        assert resp.status == 200
                        acknowledged.append(target)
                    i += 1

            task = asyncio.create_task(writer())
            await asyncio.sleep(1.5)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                await task
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert len(acknowledged) > 5
    # the database opens cleanly after the kill
    with contextlib.closing(sqlite3.connect(tmp_path / "thermosmart.db")) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(tmp_path, port)
    try:
        async with aiohttp.ClientSession() as session:
            await _wait_up(session, base)
            async with session.get(f"{base}/thermostat/{hw}", headers=headers) as resp:
                obj = await resp.json()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # the last acknowledged write, or the one in flight when the process died
    possible = {acknowledged[-1], *sent[len(acknowledged) :]}
    assert obj["programs"]["comfort"] in possible
    assert obj["target_temperature"] in possible
    assert obj["programs"]["comfort"] == obj["target_temperature"]  # applied whole, never half


async def test_tls_with_certificate_from_the_config(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    cfg = validate(
        {
            "data_dir": str(tmp_path / "data"),
            "host": "127.0.0.1",
            "port": 0,
            "zeroconf": False,
            "tls_cert": str(cert),
            "tls_key": str(key),
        }
    )
    b = Bridge(cfg)
    await b.start()
    try:
        ctx = ssl.create_default_context(cafile=str(cert))
        async with aiohttp.ClientSession() as session:
            async with session.get(f"https://127.0.0.1:{b.port}/api/v1/health", ssl=ctx) as resp:
                assert resp.status == 200
                assert (await resp.json())["bridge_id"] == b.bridge_id
            # plain http on the TLS port is not served
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{b.port}/api/v1/health") as resp:
                    assert resp.status >= 400
    finally:
        await b.stop()


def test_tls_needs_both_files(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    proc = subprocess.run(
        [sys.executable, "-m", "bridge", "run", "--tls-cert", str(cert)],
        env=dict(os.environ, THERMOSMART_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "tls_cert and tls_key must be given together" in proc.stderr
