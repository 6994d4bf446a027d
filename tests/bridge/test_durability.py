"""The daemon as a real process: kill -9 during writes, and TLS."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import random
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from typing import Any

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


# ---------------------------------------------------------------- many writes, many kills

#: How many times the widened test kills the daemon (more: THERMOSMART_KILLS=50).
KILLS = int(os.environ.get("THERMOSMART_KILLS", "3"))
#: Tokens made up front for the writer to revoke, one per DELETE.
REVOCABLE = 300


class _Writes:
    """Every write kind the test makes: its request for step ``i`` and how to read it back.

    A kind's value is what a read shows; after a kill it must be the last
    acknowledged value, or the one in flight when the process died.
    """

    def __init__(self, hw: str, revocable: list[dict[str, Any]]) -> None:
        self.hw = hw
        self.revocable = revocable
        self.revoked: int = 0  # tokens [0, revoked) are acknowledged as revoked

    def request(self, kind: str, i: int) -> tuple[str, str, Any, Any]:
        """(method, path, body, the value a read shows afterwards)."""
        if kind == "thermostat":
            target = 15.0 + (i % 30) * 0.5
            body = {"target_temperature": target, "programs": {"comfort": target}}
            return "PUT", f"/thermostat/{self.hw}", body, (target, target)
        if kind == "options":
            value = (30.0 + i % 40, i % 2 == 0)
            return (
                "PUT",
                "/api/v1/options",
                {"max_ch_setpoint": value[0], "preheat": value[1]},
                value,
            )
        if kind == "settings":
            value = (f"n{i}", f"l{i}")  # both or neither
            return "PUT", "/api/v1/settings", {"name": value[0], "location": value[1]}, value
        if kind == "consents":
            body = {"granted": i % 2 == 0, "terms_version": f"v{i}"}
            return "PUT", "/api/v1/privacy/consents/statistics", body, (i % 2 == 0, f"v{i}")
        assert kind == "tokens"
        token_id = self.revocable[self.revoked]["id"]
        return "DELETE", f"/api/v1/tokens/{token_id}", None, self.revoked + 1

    async def read(self, http: aiohttp.ClientSession, base: str, headers: Any) -> dict[str, Any]:
        """Each kind's value as the bridge reads it now."""

        async def get(path: str) -> Any:
            async with http.get(f"{base}{path}", headers=headers) as resp:
                assert resp.status == 200, path
                return await resp.json()

        thermostat = await get(f"/thermostat/{self.hw}")
        options = await get("/api/v1/options")
        settings = await get("/api/v1/settings")
        consents = await get("/api/v1/privacy/consents")
        statistics = consents["consents"]["statistics"]
        revoked = 0
        for entry in self.revocable:
            async with http.get(
                f"{base}/api/v1/settings", headers={"Authorization": f"Bearer {entry['token']}"}
            ) as resp:
                if resp.status == 200:
                    break
                assert resp.status == 401
                revoked += 1
        return {
            "thermostat": (thermostat["programs"]["comfort"], thermostat["target_temperature"]),
            "options": (options["max_ch_setpoint"], options["preheat"]),
            "settings": (settings["name"], settings["location"]),
            "consents": (statistics["granted"], statistics["terms_version"]),
            "tokens": revoked,
            "history": {c["terms_version"] for c in consents["history"]},
        }


@dataclass
class _Log:
    """What the writer sent and what the bridge acknowledged."""

    known: dict[str, Any]  # each kind's value as last read or acknowledged
    in_flight: tuple[str, Any] | None = None
    acknowledged: int = 0
    versions: set[str] = field(default_factory=set)  # acknowledged consent versions


async def _write_until_killed(
    http: aiohttp.ClientSession,
    base: str,
    headers: dict[str, str],
    writes: _Writes,
    log: _Log,
    rng: random.Random,
) -> None:
    i = rng.randrange(1_000_000)
    while True:
        kind = rng.choice(_KINDS)
        if kind == "tokens" and writes.revoked >= REVOCABLE - 1:
            continue
        method, path, body, value = writes.request(kind, i)
        log.in_flight = (kind, value)
        async with http.request(method, f"{base}{path}", json=body, headers=headers) as resp:
            assert resp.status == 200, (kind, resp.status, await resp.text())
        log.known[kind] = value
        log.in_flight = None
        log.acknowledged += 1
        if kind == "consents":
            log.versions.add(value[1])
        if kind == "tokens":
            writes.revoked += 1
        i += 1


_KINDS = ("thermostat", "options", "settings", "consents", "tokens")


def _cli_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(
        subprocess.run(
            [sys.executable, *args], env=env, capture_output=True, text=True, check=True
        ).stdout
    )


async def test_kill_9_at_random_points_of_every_kind_of_write(tmp_path: Path) -> None:
    env = dict(os.environ, THERMOSMART_DATA_DIR=str(tmp_path))
    owner = _cli_json(env, "-m", "bridge", "token", "create", "--json")["access_token"]
    writer_script = str(Path(__file__).with_name("crash_writer.py"))
    revocable = _cli_json(
        env, writer_script, "tokens", str(tmp_path / "thermosmart.db"), str(REVOCABLE)
    )
    headers = {"Authorization": f"Bearer {owner}"}
    rng = random.Random(f"kill-9:{KILLS}")
    log: _Log | None = None
    writes: _Writes | None = None
    for kill in range(KILLS + 1):
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        proc = _start(tmp_path, port)
        try:
            async with aiohttp.ClientSession() as http:
                await _wait_up(http, base)
                if writes is None:
                    async with http.get(f"{base}/thermostat", headers=headers) as resp:
                        writes = _Writes((await resp.json())["hw"], revocable)
                now = await writes.read(http, base, headers)
                if log is None:
                    log = _Log(known=now)
                assert log.versions <= now["history"], "an acknowledged consent was lost"
                for kind in _KINDS:
                    possible = {log.known[kind]}
                    if log.in_flight is not None and log.in_flight[0] == kind:
                        possible.add(log.in_flight[1])
                    assert now[kind] in possible, (kill, kind, now[kind], possible)
                log.known, log.in_flight = now, None
                writes.revoked = now["tokens"]
                if kill == KILLS:
                    break
                task = asyncio.create_task(
                    _write_until_killed(http, base, headers, writes, log, rng)
                )
                await asyncio.sleep(rng.uniform(0.3, 2.0))
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                    await task
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        with contextlib.closing(sqlite3.connect(tmp_path / "thermosmart.db")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert log is not None
    assert log.acknowledged > 5 * KILLS
    print(f"kill -9: {KILLS} kills, {log.acknowledged} acknowledged writes, none lost")
