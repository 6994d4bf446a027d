"""A full disk, caused for real: the API answers 503 and changes nothing, and the bridge recovers.

Two real causes, no mocks: SQLite's own page limit (``PRAGMA max_page_count``
on the bridge's connection gives SQLITE_FULL, exactly what a full disk gives)
in a bridge on a virtual clock, and a file-size limit (``RLIMIT_FSIZE``, set
with ``prlimit`` on the running daemon: every write to its files fails with
EFBIG) on ``thermosmart-bridge run`` as a real process. A 503 is the honest
answer to a fault of the bridge's own disk: the request was fine, it may be
repeated later, and ``Retry-After`` says when.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path
import resource
import sqlite3
import subprocess
import sys
from typing import Any

import aiohttp
import pytest

from bridge.api.app import STORAGE_RETRY_S
from bridge.daemon import Bridge
from tests.bridge.conftest import base_url, make_token, virtual_bridge
from tests.bridge.test_durability import _free_port, _start, _wait_up


async def _page_limit(bridge: Bridge, pages: int | None) -> int:
    """Limit the database to its current size (None: lift the limit); the limit in force."""

    def run(conn: sqlite3.Connection) -> int:
        if pages is not None:
            conn.execute("VACUUM")  # no free pages left to fill
        # SQLite never sets the limit below the pages the file has
        conn.execute(f"PRAGMA max_page_count = {2**30 - 1 if pages is None else pages}")
        value: int = conn.execute("PRAGMA max_page_count").fetchone()[0]
        return value

    return await bridge.db._worker.call(run)


async def _consents(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> Any:
    async with http.get(f"{url}/api/v1/privacy/consents", headers=headers) as resp:
        assert resp.status == 200
        return await resp.json()


async def test_full_database_answers_503_changes_nothing_and_recovers(
    tmp_path: Path, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    async with virtual_bridge(tmp_path) as (bridge, clock):
        headers = {"Authorization": f"Bearer {await make_token(bridge)}"}
        url = base_url(bridge)
        await _page_limit(bridge, 1)  # no page beyond those the file has now

        statuses: list[int] = []
        for i in range(400):  # each consent adds a row to the history: the file must grow
            before = await _consents(http, url, headers)
            async with http.put(
                f"{url}/api/v1/privacy/consents/statistics",
                json={"granted": i % 2 == 0, "terms_version": f"v{i}-" + "x" * 20},
                headers=headers,
            ) as resp:
                statuses.append(resp.status)
                body = await resp.json()
                if resp.status == 503:
                    assert body["error"] == "storage_unavailable"
                    assert "disk is full" in body["message"]
                    assert resp.headers["Retry-After"] == str(STORAGE_RETRY_S)
                    assert await _consents(http, url, headers) == before  # nothing changed
                    break
        assert statuses[-1] == 503, f"the page limit never filled up: {statuses}"
        assert set(statuses) <= {200, 503}

        # every kind of write meets the same answer while the disk is full
        for method, path, body in (
            ("PUT", "/api/v1/settings", {"name": "Full disk"}),
            ("PUT", "/api/v1/options", {"preheat": False}),
        ):
            async with http.request(method, f"{url}{path}", json=body, headers=headers) as resp:
                assert resp.status in (200, 503)  # a row rewritten in place may still fit

        # the control loop, recorder and maintenance keep running through a full disk,
        # and the boiler is driven on (its conversations go on)
        conversations = bridge.link.counters.answers
        await clock.advance(3 * 3600)
        alive = {t.get_name(): not t.done() for t in bridge._tasks}
        assert all(alive.values()), alive
        assert bridge.link.counters.answers > conversations + 1000
        # warnings that say what is wrong, no tracebacks
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert not errors, errors

        await _page_limit(bridge, None)  # space returns
        async with http.put(
            f"{url}/api/v1/privacy/consents/statistics",
            json={"granted": True, "terms_version": "after"},
            headers=headers,
        ) as resp:
            assert resp.status == 200
        state = (await _consents(http, url, headers))["consents"]["statistics"]
        assert (state["granted"], state["terms_version"]) == (True, "after")
        await clock.advance(120)  # a recording comes round again

        def thermostat_messages() -> list[str]:
            return [
                r.getMessage() for r in caplog.records if r.name == "bridge.services.thermostat"
            ]

        for _ in range(500):  # its write runs on the database thread: real time
            if any("The disk takes writes again" in m for m in thermostat_messages()):
                break
            await asyncio.sleep(0.01)
        messages = thermostat_messages()
        assert sum("Not recording until the disk takes writes" in m for m in messages) == 1
        assert sum("The disk takes writes again" in m for m in messages) == 1
        assert not any("Control step failed" in m for m in messages)
        check = await bridge.db._worker.call(
            lambda conn: conn.execute("PRAGMA integrity_check").fetchone()[0]
        )
        assert check == "ok"


async def test_daemon_past_its_file_size_limit_answers_503_and_recovers(tmp_path: Path) -> None:
    env = dict(os.environ, THERMOSMART_DATA_DIR=str(tmp_path))
    token = json.loads(
        subprocess.run(
            [sys.executable, "-m", "bridge", "token", "create", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(tmp_path, port, stderr=subprocess.PIPE)
    try:
        async with aiohttp.ClientSession() as http:
            await _wait_up(http, url)

            async def put_name(name: str) -> tuple[int, Any]:
                async with http.put(
                    f"{url}/api/v1/settings", json={"name": name}, headers=headers
                ) as resp:
                    return resp.status, await resp.json()

            assert (await put_name("before"))[0] == 200
            # every write past the first byte of any file now fails with EFBIG
            resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))
            for i in range(5):
                status, body = await put_name(f"full {i}")
                assert status == 503, body
                assert body["error"] == "storage_unavailable"
                assert "refused a write" in body["message"]
            async with http.get(f"{url}/api/v1/settings", headers=headers) as resp:
                assert (await resp.json())["name"] == "before"  # reads still work
            await asyncio.sleep(2)  # background writers meet the limit too
            assert proc.poll() is None

            resource.prlimit(
                proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
            )
            assert await put_name("after") == (
                200,
                {"name": "after", "location": None, "email": None},
            )
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    log = stderr.decode()
    assert "Traceback" not in log, log
    assert log.count("refused a write") >= 5  # one line per refused request, no traceback
    with contextlib.closing(sqlite3.connect(tmp_path / "thermosmart.db")) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
