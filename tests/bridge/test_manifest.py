"""The signed update manifest (P11): its canonical bytes, its signature, its refusals."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
import pytest

from bridge.core.manifest import (
    Manifest,
    ManifestError,
    canonical_bytes,
    parse_manifest,
    sign_manifest,
    verify_manifest,
    version_key,
)

RELEASE = Manifest(
    version="0.2.0",
    date="2026-02-01",
    notes="Cloud link.\nBetere regeling bij vorst — “quoted”.",
    sha256="9f" * 32,
)


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_canonical_bytes_are_sorted_compact_ascii_json() -> None:
    data = canonical_bytes(RELEASE)
    assert data == (
        b'{"date":"2026-02-01","format":"thermosmart-update-manifest/1",'
        b'"notes":"Cloud link.\\nBetere regeling bij vorst \\u2014 \\u201cquoted\\u201d.",'
        b'"sha256":"' + b"9f" * 32 + b'","version":"0.2.0"}'
    )
    assert json.loads(data) == {"format": "thermosmart-update-manifest/1", **RELEASE.to_dict()}


def test_a_signed_manifest_verifies_however_it_is_spaced(key: Ed25519PrivateKey) -> None:
    document = sign_manifest(RELEASE, key)
    assert len(base64.b64decode(document["signature"], validate=True)) == 64
    assert verify_manifest(document, _raw(key)) == RELEASE
    # what the wire carries is re-read: spacing and key order do not matter
    respaced = json.loads(json.dumps(document, indent=3, sort_keys=True, ensure_ascii=False))
    assert verify_manifest(respaced, _raw(key), last_version="0.2.0") == RELEASE


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", "0.2.1"),
        ("date", "2026-02-02"),
        ("notes", RELEASE.notes + " "),
        ("sha256", "9e" + "9f" * 31),
    ],
)
def test_a_tampered_field_breaks_the_signature(
    key: Ed25519PrivateKey, field: str, value: str
) -> None:
    document = sign_manifest(RELEASE, key)
    document["manifest"][field] = value
    with pytest.raises(ManifestError) as refused:
        verify_manifest(document, _raw(key))
    assert refused.value.reason == "bad_signature"


def test_a_flipped_signature_bit_is_refused(key: Ed25519PrivateKey) -> None:
    document = sign_manifest(RELEASE, key)
    signature = bytearray(base64.b64decode(document["signature"]))
    signature[10] ^= 0x01
    document["signature"] = base64.b64encode(bytes(signature)).decode()
    with pytest.raises(ManifestError) as refused:
        verify_manifest(document, _raw(key))
    assert refused.value.reason == "bad_signature"


def test_another_key_signature_is_refused(key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(ManifestError) as refused:
        verify_manifest(sign_manifest(RELEASE, other), _raw(key))
    assert refused.value.reason == "bad_signature"
    assert "project's key" in refused.value.message


def test_an_older_manifest_is_a_replay(key: Ed25519PrivateKey) -> None:
    old = Manifest("0.1.9", "2026-01-10", "Old.", "00" * 32)
    document = sign_manifest(old, key)
    assert verify_manifest(document, _raw(key), last_version="0.1.9") == old
    with pytest.raises(ManifestError) as refused:
        verify_manifest(document, _raw(key), last_version="0.2.0")
    assert refused.value.reason == "older"
    assert "older than the last accepted 0.2.0" in refused.value.message
    # numbers, not text: 0.10 is newer than 0.9
    newer = sign_manifest(Manifest("0.10", "2026-03-01", "", "00" * 32), key)
    assert verify_manifest(newer, _raw(key), last_version="0.9.9").version == "0.10"


def test_versions_compare_as_numbers() -> None:
    assert version_key("1.2") == (1, 2, 0, 0)
    assert version_key("0.10.0") > version_key("0.9.12")
    for bad in ("", "1.", "v1.2", "01.2", "1.2.3.4.5", "1.-2", "1234567"):
        with pytest.raises(ValueError, match="1-4 numbers"):
            version_key(bad)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": "v2"}, "version a version is 1-4 numbers"),
        ({"version": 2}, "version is required and must be a string"),
        ({"date": "2026-2-1"}, "date must be a date YYYY-MM-DD"),
        ({"date": "2026-02-30"}, "date is no such date"),
        ({"notes": "x" * 4001}, "notes must be at most 4000 characters"),
        ({"notes": "bell\x07"}, "notes must not contain control characters"),
        ({"sha256": "9F" * 32}, "sha256 must be 64 lower-case hex digits"),
        ({"url": "https://example.invalid/x"}, "url is an unknown field"),
    ],
)
def test_malformed_manifests_are_refused(
    key: Ed25519PrivateKey, change: dict[str, Any], message: str
) -> None:
    fields: dict[str, Any] = {**RELEASE.to_dict(), **change}
    with pytest.raises(ManifestError) as refused:
        parse_manifest(fields)
    assert refused.value.reason == "malformed"
    assert message in refused.value.message
    document = {"manifest": fields, "signature": sign_manifest(RELEASE, key)["signature"]}
    with pytest.raises(ManifestError):
        verify_manifest(document, _raw(key))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d.pop("signature"),
        lambda d: d.update(extra=1),
        lambda d: d.update(signature="not base64!"),
        lambda d: d.update(signature=base64.b64encode(b"short").decode()),
        lambda d: d.update(signature=7),
        lambda d: d.update(manifest=[1]),
    ],
)
def test_malformed_documents_are_refused(key: Ed25519PrivateKey, mangle: Any) -> None:
    document = copy.deepcopy(sign_manifest(RELEASE, key))
    mangle(document)
    with pytest.raises(ManifestError) as refused:
        verify_manifest(document, _raw(key))
    assert refused.value.reason == "malformed"
    with pytest.raises(ManifestError):
        verify_manifest([document], _raw(key))


def test_a_public_key_must_be_32_bytes(key: Ed25519PrivateKey) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        verify_manifest(sign_manifest(RELEASE, key), _raw(key)[:31])
