"""The stand-in's update manifest: read from a file, signed at start with a test key.

``--update-manifest FILE`` is a JSON object with the manifest's four fields
(:mod:`bridge.core.manifest`); ``--signing-key FILE`` an Ed25519 private key
in PEM (PKCS #8, unencrypted). The stand-in signs the manifest once, at
start, and serves the signed document at ``GET /api/v1/update``. The key is
a test key: the project's release key is not the stand-in's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from bridge.core.bodies import BodyError, parse_json
from bridge.core.manifest import ManifestError, parse_manifest, sign_manifest

#: The largest manifest file read (the notes are at most 4000 characters).
MAX_FILE = 64 * 1024


class UpdateConfigError(Exception):
    """A manifest or key file the stand-in cannot use; the message says which and why."""


def _read(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE + 1)
    except OSError as err:
        raise UpdateConfigError(f"cannot read the {what} {path}: {err.strerror}") from None
    if len(data) > MAX_FILE:
        raise UpdateConfigError(f"the {what} {path} is larger than {MAX_FILE} bytes")
    return data


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in ``path`` (PEM, unencrypted)."""
    try:
        key = load_pem_private_key(_read(path, "signing key"), password=None)
    except (ValueError, TypeError) as err:
        raise UpdateConfigError(f"the signing key {path} is not a PEM private key: {err}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UpdateConfigError(f"the signing key {path} is not an Ed25519 key")
    return key


def signed_manifest(manifest_path: Path, key_path: Path) -> dict[str, Any]:
    """The signed document for the manifest in ``manifest_path``."""
    key = load_signing_key(key_path)
    try:
        manifest = parse_manifest(parse_json(_read(manifest_path, "update manifest")))
    except BodyError as err:
        raise UpdateConfigError(
            f"the update manifest {manifest_path} is not valid JSON ({err.message})"
        ) from None
    except ManifestError as err:
        raise UpdateConfigError(f"the update manifest {manifest_path}: {err.message}") from None
    return sign_manifest(manifest, key)
