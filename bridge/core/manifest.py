"""The signed update manifest (privacy promise P11): its fields, its signed bytes, its check.

A manifest says which release is current: ``version`` (``MAJOR.MINOR.PATCH``,
one to four numbers), ``date`` (``YYYY-MM-DD``), ``notes`` (the release
notes, at most :data:`MAX_NOTES` characters) and ``sha256`` (the artefact's
SHA-256, 64 lower-case hex digits). It is served as::

    {"manifest": {"version": …, "date": …, "notes": …, "sha256": …},
     "signature": "<Ed25519 signature, base64 (RFC 4648 section 4, padded)>"}

The signature covers exactly :func:`canonical_bytes`: the JSON object of the
four fields plus ``"format": "thermosmart-update-manifest/1"``, keys sorted,
no whitespace (separators ``,`` and ``:``), every non-ASCII character escaped
as ``\\uXXXX``, encoded as ASCII. The bytes are rebuilt from the checked
fields, so how the document was spaced on the wire does not matter, and any
change to a field breaks the signature. ``format`` keeps a signature for
this document from being valid for any other.

This is the one place the form is defined: the cloud stand-in signs with
:func:`sign_manifest`, and a bridge checks with :func:`verify_manifest`,
which also refuses a manifest older than the last one accepted (a replay).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
import json
import re
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "FIELDS",
    "FORMAT",
    "MAX_NOTES",
    "Manifest",
    "ManifestError",
    "canonical_bytes",
    "parse_manifest",
    "sign_manifest",
    "verify_manifest",
    "version_key",
]

FORMAT = "thermosmart-update-manifest/1"
"""The ``format`` member of the signed bytes."""
FIELDS = ("version", "date", "notes", "sha256")
"""The manifest's fields, all required, no others."""
MAX_NOTES = 4000
"""The longest release notes, in characters."""
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
_VERSION = re.compile(r"(0|[1-9][0-9]{0,5})(\.(0|[1-9][0-9]{0,5})){0,3}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SHA256 = re.compile(r"[0-9a-f]{64}")

#: Why a manifest was refused (:attr:`ManifestError.reason`).
MALFORMED = "malformed"
BAD_SIGNATURE = "bad_signature"
OLDER = "older"


class ManifestError(ValueError):
    """A manifest that is not accepted; ``reason`` is ``malformed``, ``bad_signature`` or
    ``older`` (a replay of an older release than the last one accepted)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Manifest:
    """One release, as the manifest describes it."""

    version: str
    date: str
    notes: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        """The manifest's fields, in :data:`FIELDS` order."""
        return {name: getattr(self, name) for name in FIELDS}


def version_key(version: str) -> tuple[int, ...]:
    """``"1.2.10"`` -> ``(1, 2, 10, 0)``: versions compare as numbers, missing parts as 0."""
    if _VERSION.fullmatch(version) is None:
        raise ValueError("a version is 1-4 numbers separated by '.', such as 1.2.3")
    parts = [int(p) for p in version.split(".")]
    return (*parts, *([0] * (4 - len(parts))))


def _malformed(field: str, rule: str) -> ManifestError:
    return ManifestError(MALFORMED, f"the manifest is not valid: {field} {rule}")


def parse_manifest(data: Any) -> Manifest:
    """The manifest's fields checked; raises :class:`ManifestError` (``malformed``)."""
    if not isinstance(data, Mapping):
        raise _malformed("(manifest)", "must be an object")
    for key in data:
        if key not in FIELDS:
            raise _malformed(str(key), "is an unknown field")
    values: dict[str, str] = {}
    for name in FIELDS:
        value = data.get(name)
        if not isinstance(value, str):
            raise _malformed(name, "is required and must be a string")
        values[name] = value
    try:
        version_key(values["version"])
    except ValueError as err:
        raise _malformed("version", str(err)) from None
    if _DATE.fullmatch(values["date"]) is None:
        raise _malformed("date", "must be a date YYYY-MM-DD")
    try:
        date.fromisoformat(values["date"])
    except ValueError:
        raise _malformed("date", "is no such date") from None
    notes = values["notes"]
    if len(notes) > MAX_NOTES:
        raise _malformed("notes", f"must be at most {MAX_NOTES} characters")
    if any((ord(c) < 32 and c not in "\n\t") or 0xD800 <= ord(c) <= 0xDFFF for c in notes):
        raise _malformed("notes", "must not contain control characters")
    if _SHA256.fullmatch(values["sha256"]) is None:
        raise _malformed("sha256", "must be 64 lower-case hex digits")
    return Manifest(**values)


def canonical_bytes(manifest: Manifest) -> bytes:
    """The exact bytes the signature covers (see the module's description)."""
    signed = {"format": FORMAT, **manifest.to_dict()}
    return json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


def sign_manifest(manifest: Manifest, key: Ed25519PrivateKey) -> dict[str, Any]:
    """The signed document for ``manifest``."""
    signature = key.sign(canonical_bytes(manifest))
    return {"manifest": manifest.to_dict(), "signature": base64.b64encode(signature).decode()}


def verify_manifest(
    document: Any, public_key: bytes, *, last_version: str | None = None
) -> Manifest:
    """The manifest of a signed document, if its signature is ``public_key``'s (32 raw
    bytes) and it is not older than ``last_version``; else :class:`ManifestError`."""
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise ValueError(f"an Ed25519 public key is {PUBLIC_KEY_BYTES} bytes")
    if not isinstance(document, Mapping) or set(document) != {"manifest", "signature"}:
        raise _malformed("(document)", "must be an object with manifest and signature only")
    manifest = parse_manifest(document["manifest"])
    encoded = document["signature"]
    if not isinstance(encoded, str):
        raise _malformed("signature", "must be base64")
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise _malformed("signature", "must be base64") from None
    if len(signature) != SIGNATURE_BYTES:
        raise _malformed("signature", f"must be {SIGNATURE_BYTES} bytes")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, canonical_bytes(manifest))
    except InvalidSignature:
        raise ManifestError(
            BAD_SIGNATURE, "the manifest's signature is not valid for the project's key"
        ) from None
    if last_version is not None and version_key(manifest.version) < version_key(last_version):
        raise ManifestError(
            OLDER,
            f"the manifest's version {manifest.version} is older than the last accepted "
            f"{last_version} (a replay)",
        )
    return manifest
