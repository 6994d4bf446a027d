"""PKCE (RFC 7636) for the OAuth2 code flow: only the ``S256`` method.

The authorize page checks a ``code_challenge`` with :func:`challenge_rule`,
the token endpoint a ``code_verifier`` with :func:`verifier_rule`, and the
code's redemption compares them with :func:`verifier_matches`. ``plain`` is
refused (RFC 9700 2.1.1): a challenge must be the SHA-256 of the verifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

__all__ = ["METHOD", "challenge_of", "challenge_rule", "verifier_matches", "verifier_rule"]

METHOD = "S256"
"""The one ``code_challenge_method`` the bridge accepts."""
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


def challenge_of(verifier: str) -> str:
    """The S256 challenge of ``verifier``: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verifier_rule(verifier: str) -> str | None:
    """The rule a ``code_verifier`` breaks, or None."""
    if _VERIFIER.fullmatch(verifier) is None:
        return "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~"
    return None


def challenge_rule(challenge: str, method: str | None) -> str | None:
    """The rule a ``code_challenge`` with its ``code_challenge_method`` breaks, or None.

    A missing method means ``plain`` (RFC 7636 4.3), which is refused.
    """
    if method != METHOD:
        return f"code_challenge_method must be {METHOD}"
    if _CHALLENGE.fullmatch(challenge) is None:
        return "code_challenge must be 43 base64url characters (the SHA-256 of the verifier)"
    return None


def verifier_matches(verifier: str, challenge: str) -> bool:
    """Whether ``verifier`` is well formed and its S256 challenge is ``challenge``."""
    if verifier_rule(verifier) is not None:
        return False
    return hmac.compare_digest(challenge_of(verifier), challenge)
