"""The terms version (P14) and the signed update manifest (P11) the stand-in publishes."""

from __future__ import annotations

from collections.abc import AsyncIterator
import json
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
import pytest

from bridge.core.clock import VirtualClock
from bridge.core.manifest import Manifest, ManifestError, verify_manifest
from cloud_stub import cli
from cloud_stub.server import CloudServer
from cloud_stub.store import CloudStore
from cloud_stub.updates import signed_manifest
from tests.cloud_stub.conftest import START, Cloud

RELEASE = {
    "version": "0.2.0",
    "date": "2026-02-01",
    "notes": "Cloud link.\nBetere regeling bij vorst.",
    "sha256": "ab" * 32,
}


def _write_key(path: Path, key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return path


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
async def update_server(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> AsyncIterator[CloudServer]:
    key_file = _write_key(tmp_path / "test-signing-key.pem", signing_key)
    manifest_file = tmp_path / "manifest.json"
    manifest_file.write_text(json.dumps(RELEASE), encoding="utf-8")
    store = CloudStore.open(tmp_path / "cloud", VirtualClock(START))
    update = signed_manifest(manifest_file, key_file)
    server = CloudServer(store, host="127.0.0.1", port=0, update=update)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        store.close()


async def test_the_terms_version_is_published_and_bumped(
    cloud: Cloud, http: aiohttp.ClientSession, capsys: pytest.CaptureFixture[str]
) -> None:
    async with http.get(f"{cloud.url}/api/v1/terms") as resp:
        assert resp.status == 200
        assert await resp.json() == {
            "version": "2026-01",
            "published": "2026-01-15T12:00:00+00:00",
        }
    await cloud.clock.advance(86_400)
    # the command, on the data directory of the running stand-in
    assert cli.main(["--data-dir", str(cloud.data_dir), "terms", "publish", "2026-03"]) == 0
    assert "The current terms are now 2026-03." in capsys.readouterr().out
    async with http.get(f"{cloud.url}/api/v1/terms") as resp:
        assert (await resp.json())["version"] == "2026-03"
    async with http.get(f"{cloud.url}/api/v1/terms", params={"v": "1"}) as resp:
        assert resp.status == 400


async def test_the_manifest_is_served_signed(
    update_server: CloudServer, signing_key: Ed25519PrivateKey
) -> None:
    public = signing_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{update_server.url}/api/v1/update") as resp,
    ):
        assert resp.status == 200
        document = await resp.json()
    assert verify_manifest(document, public, last_version="0.1.0") == Manifest(**RELEASE)
    # a bridge that trusts another key, or has seen a later release, refuses it
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with pytest.raises(ManifestError) as refused:
        verify_manifest(document, other)
    assert refused.value.reason == "bad_signature"
    with pytest.raises(ManifestError) as replayed:
        verify_manifest(document, public, last_version="0.3.0")
    assert replayed.value.reason == "older"


async def test_without_a_manifest_the_update_route_is_404(
    cloud: Cloud, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{cloud.url}/api/v1/update") as resp:
        assert resp.status == 404
        assert (await resp.json())["message"] == "no update manifest is published"


@pytest.mark.parametrize(
    ("manifest", "key", "message"),
    [
        (json.dumps(RELEASE), "ec", "is not an Ed25519 key"),
        (json.dumps(RELEASE), "garbage", "is not a PEM private key"),
        (json.dumps(RELEASE), "missing", "cannot read the signing key"),
        (json.dumps({**RELEASE, "sha256": "x"}), "ed25519", "sha256 must be 64 lower-case hex"),
        ("{not json", "ed25519", "is not valid JSON"),
        (json.dumps({**RELEASE, "url": "https://x"}), "ed25519", "url is an unknown field"),
    ],
)
def test_unusable_manifest_or_key_files_are_a_clear_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    manifest: str,
    key: str,
    message: str,
) -> None:
    manifest_file = tmp_path / "manifest.json"
    manifest_file.write_text(manifest, encoding="utf-8")
    key_file = tmp_path / "key.pem"
    if key == "ed25519":
        _write_key(key_file, Ed25519PrivateKey.generate())
    elif key == "ec":
        _write_key(key_file, ec.generate_private_key(ec.SECP256R1()))
    elif key == "garbage":
        key_file.write_text("not a key", encoding="utf-8")
    argv = ["--signing-key", str(key_file), "--update-manifest", str(manifest_file)]
    assert cli.main(["--data-dir", str(tmp_path / "cloud"), *argv]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err, err
