"""The stand-in serving a signed update manifest over HTTPS on loopback, for bridge tests.

The manifest is signed with a test key made here (never the project's
release key); :meth:`UpdateCloud.config` gives a bridge the keys that trust
it. What the stand-in serves can be changed in place (:meth:`UpdateCloud.serve`)
to play a tampered or replayed manifest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import contextlib
from dataclasses import dataclass
import logging
from pathlib import Path
import ssl
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bridge.core.clock import SystemClock
from bridge.core.manifest import Manifest, sign_manifest
from cloud_stub.server import UPDATE_KEY, CloudServer
from cloud_stub.store import CloudStore
from tests.cloud_stub.certs import Pki, make_pki

ACCESS_LOGGER = "cloud_stub.access"
RELEASE = Manifest(
    version="0.3.0",
    date="2026-11-20",
    notes="Signed update check.\n\nBetere regeling bij vorst.",
    sha256="ab" * 32,
)


@dataclass
class UpdateCloud:
    """The stand-in, what it serves and the test key it signs with."""

    server: CloudServer
    key: Ed25519PrivateKey
    pki: Pki
    key_file: Path

    def serve(self, document: dict[str, Any]) -> None:
        """Serve ``document`` at ``GET /api/v1/update`` from now on."""
        served = self.server.app[UPDATE_KEY]
        assert served is not None
        served.clear()
        served.update(document)

    def signed(self, manifest: Manifest) -> dict[str, Any]:
        """``manifest`` signed with the test key."""
        return sign_manifest(manifest, self.key)

    def config(self) -> dict[str, Any]:
        """A bridge's config keys for this cloud: its URL, its CA, the test key trusted."""
        return {
            "cloud_url": self.server.url,
            "cloud_ca_file": str(self.pki.ca_cert),
            "update_public_key_file": str(self.key_file),
        }


@contextlib.asynccontextmanager
async def update_cloud(directory: Path) -> AsyncIterator[UpdateCloud]:
    """The stand-in over HTTPS (a test CA) on loopback, serving RELEASE signed with a test key."""
    pki = make_pki(directory / "pki")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    key = Ed25519PrivateKey.generate()
    key_file = directory / "test-release-key.pub"
    key_file.write_bytes(
        key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    store = CloudStore.open(directory / "cloud", SystemClock())
    server = CloudServer(
        store, host="127.0.0.1", port=0, ssl_context=context, update=sign_manifest(RELEASE, key)
    )
    await server.start()
    try:
        yield UpdateCloud(server, key, pki, key_file)
    finally:
        await server.stop()
        store.close()


class UpdateRequests(logging.Handler):
    """The stand-in's access log lines for ``GET /api/v1/update``."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("GET /api/v1/update "):
            self.lines.append(message)


@contextlib.contextmanager
def counting_update_requests() -> Iterator[UpdateRequests]:
    """Count the update requests the stand-in answers (its access log) meanwhile."""
    handler = UpdateRequests()
    logger = logging.getLogger(ACCESS_LOGGER)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
