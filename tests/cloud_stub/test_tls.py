"""HTTPS: the stand-in serves TLS with a certificate it is given; clients verify it.

Each test makes its own throwaway test CA and a server certificate for
127.0.0.1 (:mod:`tests.cloud_stub.certs`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
import signal
import ssl
import subprocess
import sys

import aiohttp
import pytest

from bridge.core.clock import VirtualClock
from cloud_stub import cli
from cloud_stub.server import CloudServer
from cloud_stub.store import CloudStore
from tests.cloud_stub.browser import log_in
from tests.cloud_stub.certs import Pki, make_pki
from tests.cloud_stub.conftest import BRIDGE_ID, HW, OWNER, START
from tests.cloud_stub.test_cli import _free_port, _wait_for


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
async def tls_server(tmp_path: Path, pki: Pki) -> AsyncIterator[CloudServer]:
    store = CloudStore.open(tmp_path / "cloud", VirtualClock(START))
    context = cli.tls_context(pki.server_cert, pki.server_key)
    server = CloudServer(store, host="127.0.0.1", port=0, ssl_context=context)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        store.close()


def _trusting(pki: Pki) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca_cert))


async def test_https_verified_against_the_test_ca(tls_server: CloudServer, pki: Pki) -> None:
    assert tls_server.url.startswith("https://127.0.0.1:")
    _, password = tls_server.store.create_owner(OWNER)
    connector = aiohttp.TCPConnector(ssl=_trusting(pki))
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as session:
        async with session.get(f"{tls_server.url}/api/v1/health") as resp:
            assert resp.status == 200
        form = {
            "client_id": "thermosmart-bridge",
            "bridge_id": BRIDGE_ID,
            "hardware_id": HW,
            "terms_version": "2026-01",
        }
        async with session.post(f"{tls_server.url}/oauth2/device_authorization", data=form) as r:
            started = await r.json()
        assert started["verification_uri"] == f"{tls_server.url}/device"
        async with session.get(started["verification_uri_complete"]) as resp:
            page = await resp.text()
        async with session.post(
            f"{tls_server.url}/login", data={"username": OWNER, "password": password}
        ) as resp:
            assert resp.status == 200
            assert resp.cookies["thermosmart_cloud_session"]["secure"]
        status, path, _ = await log_in(session, page, tls_server.url, OWNER, password)
        assert (status, path) == (200, "/device")


async def test_a_client_without_the_ca_refuses_the_certificate(tls_server: CloudServer) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            async with session.get(f"{tls_server.url}/api/v1/health"):
                pass


async def test_plain_http_to_the_tls_port_gets_no_answer(tls_server: CloudServer) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.get(f"http://127.0.0.1:{tls_server.port}/api/v1/health"):
                pass


def test_the_command_serves_https(tmp_path: Path, pki: Pki) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cloud_stub",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "cloud"),
            "--tls-cert",
            str(pki.server_cert),
            "--tls-key",
            str(pki.server_key),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        health = _wait_for(f"https://127.0.0.1:{port}", _trusting(pki))
        assert health["status"] == "ok"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert f"ThermoSmart cloud stand-in on https://127.0.0.1:{port}" in err


def test_unusable_certificate_files_are_a_clear_error(
    tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = ["--data-dir", str(tmp_path / "cloud")]
    missing = str(tmp_path / "missing.pem")
    assert cli.main([*data_dir, "--tls-cert", missing, "--tls-key", str(pki.server_key)]) == 1
    assert f"cannot use the TLS certificate {missing}" in capsys.readouterr().err
    # a key that is not the certificate's
    args = ["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.ca_cert)]
    assert cli.main([*data_dir, *args]) == 1
    assert "cannot use the TLS certificate" in capsys.readouterr().err
