"""The project's release key: the Ed25519 public key update manifests are signed with (P11).

The bridge accepts an update manifest (:mod:`bridge.core.manifest`) only
with a valid signature from :data:`RELEASE_PUBLIC_KEY`, unless its owner
configures another key to trust (``update_public_key_file``). The private
half is kept by the project, outside the source tree; the cloud stand-in
signs with a test key of its own, never this one.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

__all__ = ["MAX_KEY_FILE", "RELEASE_PUBLIC_KEY", "RELEASE_PUBLIC_KEY_PEM", "parse_public_key"]

RELEASE_PUBLIC_KEY_PEM = b"""-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAbEEQWLtoBRR2m9NIXXUzlXwsvaCqnaRoSiy53G8uOqE=
-----END PUBLIC KEY-----
"""
"""The project's release key (SubjectPublicKeyInfo, PEM)."""

MAX_KEY_FILE = 4096
"""The largest public key file read; a PEM Ed25519 public key is 113 bytes."""
_RAW_BYTES = 32


def parse_public_key(data: bytes) -> bytes:
    """The 32 raw bytes of the Ed25519 public key in ``data``: a PEM public key
    (``-----BEGIN PUBLIC KEY-----``) or the 32 raw bytes themselves. Raises
    ``ValueError`` saying what it is not."""
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            key = load_pem_public_key(data)
        except (ValueError, TypeError):
            raise ValueError("not a readable PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("a PEM public key, but not an Ed25519 key")
        return key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    if len(data) == _RAW_BYTES:
        return data
    raise ValueError(
        f"not an Ed25519 public key: neither PEM nor {_RAW_BYTES} raw bytes ({len(data)} bytes)"
    )


RELEASE_PUBLIC_KEY = parse_public_key(RELEASE_PUBLIC_KEY_PEM)
"""The project's release key as the 32 raw bytes :func:`~bridge.core.manifest.verify_manifest`
takes."""
