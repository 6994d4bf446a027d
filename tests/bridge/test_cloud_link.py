"""``thermosmart-bridge cloud link/status/unlink``: the device grant against the real stand-in.

The stand-in (``cloud_stub``) serves on loopback in the test's process; the
bridge's command runs as its own process, as the owner runs it, and the
owner approves with ``thermosmart-cloud approve`` (or the stand-in's store)
while it polls. Faults the stand-in does not make (garbage, a hang) come
from a small aiohttp server of the test's own, also on loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass
import json
import os
from pathlib import Path
import socket
import sys
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from bridge.config import ConfigError, validate
from bridge.core.clock import SystemClock, VirtualClock
from bridge.core.payloads.privacy import Purpose
from bridge.services.cloud_client import CloudClient, CloudGate
from bridge.services.cloud_link import CloudLinker, LinkFailed
from bridge.storage import BRIDGE_ID, HARDWARE_ID, Database
from cloud_stub import cli as cloud_cli, store as cloud_store
from cloud_stub.server import CloudServer
from cloud_stub.store import CloudStore
from tests.cloud_stub.certs import make_pki

BRIDGE = "0123456789abcdef"
HW = "TSL00AABBCCDD"
OWNER = "owner@example.org"
TERMS = "2026-01"
DEVICE_FIELDS = ["bridge_id", "client_id", "hardware_id", "scope", "terms_version"]
POLL_FIELDS = ["client_id", "device_code", "grant_type"]


@dataclass
class Cloud:
    server: CloudServer
    store: CloudStore
    data_dir: Path

    @property
    def url(self) -> str:
        return self.server.url


@contextlib.asynccontextmanager
async def _serve_cloud(
    tmp_path: Path, clock: Any = None, ssl_context: Any = None
) -> AsyncIterator[Cloud]:
    data_dir = tmp_path / "cloud"
    store = CloudStore.open(data_dir, clock or SystemClock())
    server = CloudServer(store, host="127.0.0.1", port=0, clock=clock, ssl_context=ssl_context)
    await server.start()
    try:
        yield Cloud(server, store, data_dir)
    finally:
        await server.stop()
        store.close()


@pytest.fixture
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in asks for a poll every second instead of every five (the bridge
    polls at whatever interval the cloud names)."""
    monkeypatch.setattr(cloud_store, "LINK_INTERVAL", 1.0)


@pytest.fixture
async def cloud(tmp_path: Path, quick_polls: None) -> AsyncIterator[Cloud]:
    """The stand-in over plain http on loopback, on the real clock."""
    async with _serve_cloud(tmp_path) as c:
        yield c


async def _bridge_data(data_dir: Path, *, consent: bool | None = True) -> None:
    """A bridge's database as the daemon leaves it (its ids), with or without the consent."""
    db = await Database.open(data_dir / "thermosmart.db", SystemClock())
    try:
        await db.settings.set(BRIDGE_ID, BRIDGE)
        await db.settings.set(HARDWARE_ID, HW)
        if consent is not None:
            await db.consents.record(Purpose.CLOUD_SYNC, granted=consent, terms_version=TERMS)
    finally:
        await db.close()


async def _in_db(data_dir: Path, read: Callable[[Database], Awaitable[Any]]) -> Any:
    db = await Database.open(data_dir / "thermosmart.db", SystemClock())
    try:
        return await read(db)
    finally:
        await db.close()


@dataclass
class Run:
    code: int
    out: str
    err: str


class LinkCommand:
    """``thermosmart-bridge cloud link`` running as its own process."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    async def first_line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        self.lines.append(line.decode())
        shown: dict[str, Any] = json.loads(line)
        return shown

    async def finish(self) -> Run:
        out, err = await asyncio.wait_for(self.proc.communicate(), 60)
        assert self.proc.returncode is not None
        return Run(self.proc.returncode, "".join(self.lines) + out.decode(), err.decode())


async def _start(*args: str, data_dir: Path) -> LinkCommand:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridge",
        *args,
        "--data-dir",
        str(data_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ),
    )
    return LinkCommand(proc)


async def _cli(*args: str, data_dir: Path) -> Run:
    return await (await _start(*args, data_dir=data_dir)).finish()


async def _approve(cloud: Cloud, user_code: str) -> None:
    """``thermosmart-cloud approve USER_CODE --owner E``, as the owner runs it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cloud_stub",
        "approve",
        user_code,
        "--owner",
        OWNER,
        "--data-dir",
        str(cloud.data_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert f"thermostat {HW} links to {OWNER}" in out.decode()


def _owner(cloud: Cloud) -> int:
    found = cloud.store.owner(OWNER)
    if found is not None:
        return found.owner_id
    return cloud.store.create_owner(OWNER)[0].owner_id


async def test_link_approved_stores_the_credential_and_logs_field_names_only(
    cloud: Cloud, tmp_path: Path
) -> None:
    data = tmp_path / "bridge"
    await _bridge_data(data)
    _owner(cloud)
    command = await _start("cloud", "link", "--cloud-url", cloud.url, "--json", data_dir=data)
    shown = await command.first_line()
    assert shown["verification_uri"] == f"{cloud.url}/device"
    assert shown["verification_uri_complete"].startswith(f"{cloud.url}/device?user_code=")
    assert shown["expires_in"] == 600
    assert "device_code" not in shown
    # the owner answers after the bridge has polled at least once (pending)
    while len(await _in_db(data, lambda db: db.egress.query())) < 2:
        await asyncio.sleep(0.2)
    await _approve(cloud, shown["user_code"])
    run = await command.finish()
    assert run.code == 0, run.err
    linked = json.loads(run.out.splitlines()[1])
    assert linked["linked"] is True
    assert (linked["cloud_url"], linked["bridge_id"], linked["thermostat"]) == (
        cloud.url,
        BRIDGE,
        HW,
    )

    credential = await _in_db(data, lambda db: db.cloud.credential())
    assert credential
    # the stored credential is the one the cloud issued: it opens the bridge's sync connection
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            f"{cloud.url}/api/v1/bridges/{BRIDGE}/sync",
            headers={"Authorization": f"Bearer {credential}"},
        ) as ws,
    ):
        assert (await ws.receive()).type == aiohttp.WSMsgType.TEXT  # the hello
    assert credential not in run.out + run.err

    export = await _in_db(data, lambda db: db.export())
    assert export["cloud_link"] == [
        {"cloud_url": cloud.url, "bridge_id": BRIDGE, "thermostat": HW, "since": linked["since"]}
    ]
    assert credential not in json.dumps(export)

    records = await _in_db(data, lambda db: db.egress.query())
    records = list(reversed(records))
    assert records[0].path == "/oauth2/device_authorization"
    assert list(records[0].fields) == DEVICE_FIELDS
    assert [r.path for r in records[1:]] == ["/oauth2/token"] * (len(records) - 1)
    assert all(list(r.fields) == POLL_FIELDS for r in records[1:])
    assert all(r.host == "127.0.0.1" and r.purpose == "cloud_sync" for r in records)
    assert all(r.bytes > 0 for r in records)
    assert len(records) >= 3  # the link request, a pending poll, the approved one
    logged = json.dumps([r.as_dict() for r in records])
    for value in (BRIDGE, HW, TERMS, "thermosmart-bridge", "device_code="):
        assert value not in logged

    status = await _cli("cloud", "status", "--json", data_dir=data)
    assert status.code == 0, status.err
    said = json.loads(status.out)
    assert said == {"linked": True, **export["cloud_link"][0]}
    assert credential not in status.out
    text = await _cli("cloud", "status", data_dir=data)
    assert f"linked to {cloud.url} as thermostat {HW} since 20" in text.out

    again = await _cli("cloud", "link", "--cloud-url", cloud.url, data_dir=data)
    assert again.code == 2
    assert "already linked" in again.err

    unlinked = await _cli("cloud", "unlink", data_dir=data)
    assert unlinked.code == 0, unlinked.err
    assert f"forgot the link to {cloud.url}" in unlinked.out
    assert await _in_db(data, lambda db: db.cloud.credential()) is None
    status = await _cli("cloud", "status", "--json", data_dir=data)
    assert json.loads(status.out) == {"linked": False}
    assert (await _cli("cloud", "unlink", data_dir=data)).code == 1


async def test_erase_forgets_the_link_and_its_credential(cloud: Cloud, tmp_path: Path) -> None:
    data = tmp_path / "bridge"
    await _bridge_data(data)
    owner_id = _owner(cloud)
    command = await _start("cloud", "link", "--cloud-url", cloud.url, "--json", data_dir=data)
    shown = await command.first_line()
    assert cloud.store.decide_link(shown["user_code"], owner_id, approve=True) is not None
    assert (await command.finish()).code == 0

    counts = await _in_db(data, lambda db: db.erase())
    assert counts["cloud_link"] == 1
    assert await _in_db(data, lambda db: db.cloud.credential()) is None
    assert (await _in_db(data, lambda db: db.export()))["cloud_link"] == []


async def test_link_denied_exits_3_and_stores_nothing(cloud: Cloud, tmp_path: Path) -> None:
    data = tmp_path / "bridge"
    await _bridge_data(data)
    owner_id = _owner(cloud)
    command = await _start("cloud", "link", "--cloud-url", cloud.url, data_dir=data)
    assert command.proc.stdout is not None
    line = (await asyncio.wait_for(command.proc.stdout.readline(), 30)).decode()
    assert line.startswith(f"To link this bridge, open {cloud.url}/device and enter the code ")
    user_code = line.rsplit(" ", 1)[1].strip()
    assert cloud.store.decide_link(user_code, owner_id, approve=False) is not None
    run = await command.finish()
    assert run.code == 3
    assert "the owner denied the link request" in run.err
    assert await _in_db(data, lambda db: db.cloud.get()) is None


async def test_link_expired_exits_4_and_stores_nothing(tmp_path: Path, quick_polls: None) -> None:
    clock = VirtualClock(1_768_478_400.0)
    async with _serve_cloud(tmp_path, clock) as cloud:
        data = tmp_path / "bridge"
        await _bridge_data(data)
        command = await _start("cloud", "link", "--cloud-url", cloud.url, "--json", data_dir=data)
        await command.first_line()
        await clock.advance(601)  # the stand-in's ten minutes pass before the first poll
        run = await command.finish()
        assert run.code == 4
        assert "the code expired before the owner answered" in run.err
        assert await _in_db(data, lambda db: db.cloud.get()) is None


async def test_the_bridge_gives_up_when_its_code_runs_out(
    tmp_path: Path, quick_polls: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bridge stops polling after ``expires_in`` even when the cloud never says so."""
    monkeypatch.setattr(cloud_store, "LINK_TTL", 1.5)
    async with _serve_cloud(tmp_path) as cloud:
        data = tmp_path / "bridge"
        await _bridge_data(data)
        run = await _cli("cloud", "link", "--cloud-url", cloud.url, data_dir=data)
        assert run.code == 4
        assert "the code expired before the owner answered" in run.err
        polls = [r for r in await _in_db(data, lambda db: db.egress.query()) if "token" in r.path]
        assert len(polls) == 1


async def test_revoking_the_consent_while_waiting_stops_the_polls(
    cloud: Cloud, tmp_path: Path
) -> None:
    data = tmp_path / "bridge"
    await _bridge_data(data)
    command = await _start("cloud", "link", "--cloud-url", cloud.url, "--json", data_dir=data)
    await command.first_line()
    revoked = await _in_db(
        data,
        lambda db: db.consents.record(Purpose.CLOUD_SYNC, granted=False, terms_version=TERMS),
    )
    run = await command.finish()
    assert run.code == 2
    assert "the cloud_sync consent was revoked: linking stopped" in run.err
    sent = list(reversed(await _in_db(data, lambda db: db.egress.query())))
    assert sent[0].path == "/oauth2/device_authorization"
    assert all(r.ts <= revoked.ts for r in sent)  # nothing after the revocation
    assert await _in_db(data, lambda db: db.cloud.get()) is None


async def test_a_ca_file_that_is_no_certificate_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "bridge"
    await _bridge_data(data)
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate", encoding="utf-8")
    config = tmp_path / "bridge.toml"
    config.write_text(
        f'cloud_url = "https://127.0.0.1:1"\ncloud_ca_file = "{bad}"\n', encoding="utf-8"
    )
    run = await _cli("cloud", "link", "--config", str(config), data_dir=data)
    assert run.code == 2
    assert f"cloud_ca_file {bad}: not a readable PEM file of CA certificates" in run.err
    assert "Traceback" not in run.err
    assert await _in_db(data, lambda db: db.egress.query()) == []


async def test_slow_down_adds_five_seconds_to_the_interval(
    tmp_path: Path, quick_polls: None
) -> None:
    """The stand-in's clock stands still, so every poll after the first is too soon."""
    clock = VirtualClock(1_768_478_400.0)
    async with _serve_cloud(tmp_path, clock) as cloud:
        data = tmp_path / "bridge"
        await _bridge_data(data)
        command = await _start("cloud", "link", "--cloud-url", cloud.url, "--json", data_dir=data)
        await command.first_line()

        async def polls() -> list[float]:
            records = await _in_db(data, lambda db: db.egress.query(purpose="cloud_sync"))
            return sorted(r.ts for r in records if r.path == "/oauth2/token")

        # 1 s: pending; 1 s later: slow_down; then 1 + 5 s later the third poll
        while len(await polls()) < 3:
            await asyncio.sleep(0.2)
        first, second, third = (await polls())[:3]
        command.proc.terminate()
        await command.finish()
        assert 0.9 <= second - first < 3
        assert third - second >= 5.9
        assert await _in_db(data, lambda db: db.cloud.get()) is None


async def test_no_consent_means_no_request(tmp_path: Path) -> None:
    hits: list[str] = []

    async def count(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", count)
    async with _sink(app) as url:
        for consent in (None, False):
            data = tmp_path / f"bridge-{consent}"
            await _bridge_data(data, consent=consent)
            run = await _cli("cloud", "link", "--cloud-url", url, data_dir=data)
            assert run.code == 2
            assert "has not consented to cloud_sync" in run.err
            assert await _in_db(data, lambda db: db.egress.query()) == []
        no_url = await _cli("cloud", "link", data_dir=tmp_path / "bridge-True")
        assert no_url.code == 2
        assert "no cloud is configured" in no_url.err
    assert hits == []


@contextlib.asynccontextmanager
async def _sink(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_garbage_from_the_cloud_is_a_clear_error_and_stores_nothing(
    tmp_path: Path,
) -> None:
    async def html(_request: web.Request) -> web.Response:
        return web.Response(text="<html>captive portal</html>", content_type="text/html")

    async def half(_request: web.Request) -> web.Response:
        return web.json_response({"device_code": "x", "user_code": "BCDF-GHJK"})

    for handler, said in (
        (html, "answered HTTP 200 to /oauth2/device_authorization with something that is not"),
        (half, "the cloud's answer has no valid verification_uri"),
    ):
        app = web.Application()
        app.router.add_post("/oauth2/device_authorization", handler)
        async with _sink(app) as url:
            data = tmp_path / handler.__name__
            await _bridge_data(data)
            run = await _cli("cloud", "link", "--cloud-url", url, data_dir=data)
            assert run.code == 1
            assert said in run.err
            assert "nothing was stored" in run.err
            assert "Traceback" not in run.err
            assert await _in_db(data, lambda db: db.cloud.get()) is None


async def test_a_cloud_that_refuses_connections_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tmp_path / "bridge"
    await _bridge_data(data)
    run = await _cli("cloud", "link", "--cloud-url", f"http://127.0.0.1:{port}", data_dir=data)
    assert run.code == 1
    assert "could not be reached" in run.err
    assert "Traceback" not in run.err
    assert await _in_db(data, lambda db: db.cloud.get()) is None


async def test_a_cloud_that_hangs_times_out(tmp_path: Path) -> None:
    release = asyncio.Event()

    async def hang(_request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/oauth2/device_authorization", hang)
    async with _sink(app) as url:
        await _bridge_data(tmp_path)
        db = await Database.open(tmp_path / "thermosmart.db", SystemClock())
        try:
            client = CloudClient(db, CloudGate(db), url, timeout=0.5)
            with pytest.raises(LinkFailed, match=r"did not answer within 0\.5 s"):
                await CloudLinker(db, client).link(lambda _code: None)
            assert await db.cloud.get() is None
        finally:
            release.set()
            await client.close()
            await db.close()


async def test_https_verified_with_the_configured_ca(tmp_path: Path, quick_polls: None) -> None:
    pki = make_pki(tmp_path / "pki")
    context = cloud_cli.tls_context(pki.server_cert, pki.server_key)
    async with _serve_cloud(tmp_path, ssl_context=context) as cloud:
        assert cloud.url.startswith("https://127.0.0.1:")
        data = tmp_path / "bridge"
        await _bridge_data(data)
        # without the test CA the certificate is refused before anything is sent
        untrusted = await _cli("cloud", "link", "--cloud-url", cloud.url, data_dir=data)
        assert untrusted.code == 1
        assert "certificate was not accepted" in untrusted.err
        assert "Traceback" not in untrusted.err
        config = tmp_path / "bridge.toml"
        config.write_text(
            f'cloud_url = "{cloud.url}"\ncloud_ca_file = "{pki.ca_cert}"\n', encoding="utf-8"
        )
        owner_id = _owner(cloud)
        command = await _start("cloud", "link", "--config", str(config), "--json", data_dir=data)
        shown = await command.first_line()
        assert cloud.store.decide_link(shown["user_code"], owner_id, approve=True) is not None
        run = await command.finish()
        assert run.code == 0, run.err
        assert (await _in_db(data, lambda db: db.cloud.get())).cloud_url == cloud.url


@pytest.mark.parametrize(
    "url", ["http://cloud.example", "http://192.168.1.10:8723", "http://[2001:db8::1]/"]
)
def test_plain_http_cloud_url_off_loopback_is_refused_saying_why(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate({"cloud_url": url})
    assert err.value.key == "cloud_url"
    assert "plain http:// is allowed only to a loopback address" in err.value.rule
    assert "for development; use https://" in err.value.rule


@pytest.mark.parametrize(
    "url", ["https://cloud.example", "http://127.0.0.1:8723", "http://127.1.2.3", "http://[::1]:1"]
)
def test_https_anywhere_and_plain_http_on_loopback_are_accepted(url: str) -> None:
    assert validate({"cloud_url": url}).cloud_url == url


async def test_the_refusal_on_the_command_line(tmp_path: Path) -> None:
    for args in (
        ("run", "--cloud-url", "http://cloud.example"),
        ("cloud", "link", "--cloud-url", "http://cloud.example"),
    ):
        run = await _cli(*args, data_dir=tmp_path)
        assert run.code == 2
        assert (
            "invalid configuration: cloud_url: plain http:// is allowed only to a loopback"
            " address" in run.err
        )
