"""Tokens, pairing codes and OAuth clients.

Secrets are generated here and stored only as SHA-256 hashes: the database
never holds a usable token, pairing code, authorization code or client
secret. Everything that must happen once (using a pairing code, an
authorization code, rotating a refresh token) is a single conditional
``UPDATE`` inside a write transaction, so of two concurrent callers, even in
two processes, exactly one wins.

OAuth tokens carry their grant's *family* (the hash of the authorization
code the grant began with; refresh rotations inherit it). Following RFC
9700, a code redeemed a second time, or a refresh token presented after it
was used or revoked, revokes every token of that family, and a code issued
with a PKCE challenge is redeemed only with its verifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
import enum
import hashlib
import hmac
import secrets
import sqlite3
from typing import TYPE_CHECKING, Any

from bridge.core import pkce
from bridge.core.payloads.access import TokenKind
from bridge.storage.core import dumps_json, loads_json

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.storage.core import Worker

PAIRING_CODE_TTL = 600.0
"""A pairing code is valid for 10 minutes."""
AUTH_CODE_TTL = 600.0
ACCESS_TOKEN_TTL = 3600.0
TOUCH_INTERVAL = 60.0
"""``last_used`` is written at most this often per token (seconds)."""

_PAIRING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


BEARER_KINDS: frozenset[TokenKind] = frozenset(
    {TokenKind.API, TokenKind.OAUTH_ACCESS, TokenKind.PAIRED}
)
"""Kinds that authenticate API requests (a refresh token does not)."""


def hash_secret(secret: str) -> str:
    """The SHA-256 hex digest under which a secret is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def normalize_pairing_code(code: str) -> str:
    """Upper-case, without the dash and spaces a user may type."""
    return "".join(c for c in code.upper() if c not in "- \t")


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What is known about a token, without the token itself."""

    id: int
    name: str
    kind: TokenKind
    created: float
    last_used: float | None
    expires: float | None
    revoked: float | None
    client_id: str | None

    def is_active(self, now: float) -> bool:
        """Not revoked and not expired at ``now``."""
        return self.revoked is None and (self.expires is None or self.expires > now)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able fields (no secret, no hash)."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A newly made token: shown to its owner once, never stored."""

    info: TokenInfo
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class OAuthGrant:
    """The access and refresh token an OAuth exchange or refresh yields."""

    access: IssuedToken
    refresh: IssuedToken


class GrantRefused(enum.Enum):
    """Why a code or refresh token yields no tokens (RFC 6749 ``invalid_grant``)."""

    UNKNOWN_CODE = "the code is unknown, expired, or was issued to another client or redirect_uri"
    CODE_REUSED = "the code was already used; the tokens issued for it are revoked"
    VERIFIER_MISSING = "the code was issued with a code_challenge: code_verifier is missing"
    VERIFIER_MISMATCH = "the code_verifier does not match the code_challenge"
    VERIFIER_UNEXPECTED = "code_verifier given, but the code was issued without a code_challenge"
    UNKNOWN_REFRESH = "the refresh token is unknown, expired, or another client's"
    REFRESH_REPLAYED = "the refresh token was already used or revoked; its grant is revoked"


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """A registered third-party OAuth client (its secret is stored only hashed)."""

    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    created: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-able fields."""
        return {
            "client_id": self.client_id,
            "name": self.name,
            "redirect_uris": list(self.redirect_uris),
            "created": self.created,
        }


_SELECT_TOKENS = (
    "SELECT id, name, kind, created, last_used, expires, revoked, client_id FROM tokens"
)


def _token(row: Sequence[Any]) -> TokenInfo:
    return TokenInfo(
        id=row[0],
        name=row[1],
        kind=TokenKind(row[2]),
        created=row[3],
        last_used=row[4],
        expires=row[5],
        revoked=row[6],
        client_id=row[7],
    )


def _client(row: Sequence[Any]) -> OAuthClient:
    return OAuthClient(
        client_id=row[0], name=row[1], redirect_uris=tuple(loads_json(row[2])), created=row[3]
    )


def read_tokens(conn: sqlite3.Connection) -> list[TokenInfo]:
    """All tokens, oldest first."""
    return [_token(r) for r in conn.execute(_SELECT_TOKENS + " ORDER BY id")]


def read_clients(conn: sqlite3.Connection) -> list[OAuthClient]:
    """All OAuth clients, oldest first."""
    return [
        _client(r)
        for r in conn.execute(
            "SELECT client_id, name, redirect_uris, created FROM oauth_clients"
            " ORDER BY created, client_id"
        )
    ]


def _issue(
    conn: sqlite3.Connection,
    *,
    name: str,
    kind: TokenKind,
    now: float,
    ttl: float | None,
    client_id: str | None,
    family: str | None = None,
) -> IssuedToken:
    token = secrets.token_urlsafe(32)
    expires = None if ttl is None else now + ttl
    cur = conn.execute(
        "INSERT INTO tokens (name, kind, token_hash, client_id, created, expires, family)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (name, kind.value, hash_secret(token), client_id, now, expires, family),
    )
    assert cur.lastrowid is not None
    info = TokenInfo(cur.lastrowid, name, kind, now, None, expires, None, client_id)
    return IssuedToken(info, token)


def _grant(
    conn: sqlite3.Connection,
    *,
    name: str,
    client_id: str | None,
    now: float,
    access_ttl: float | None,
    refresh_ttl: float | None,
    family: str,
) -> OAuthGrant:
    return OAuthGrant(
        access=_issue(
            conn,
            name=name,
            kind=TokenKind.OAUTH_ACCESS,
            now=now,
            ttl=access_ttl,
            client_id=client_id,
            family=family,
        ),
        refresh=_issue(
            conn,
            name=name,
            kind=TokenKind.OAUTH_REFRESH,
            now=now,
            ttl=refresh_ttl,
            client_id=client_id,
            family=family,
        ),
    )


def _revoke_family(conn: sqlite3.Connection, family: str, now: float) -> int:
    """Revoke every still-active token of a grant family; how many were."""
    return conn.execute(
        "UPDATE tokens SET revoked = ? WHERE family = ? AND revoked IS NULL", (now, family)
    ).rowcount


def _check_name(name: str) -> None:
    if not isinstance(name, str) or len(name) > 100:
        raise ValueError("name must be a string of at most 100 characters")


class AuthRepo:
    """Tokens, pairing codes, OAuth clients and codes; ``db.auth``."""

    def __init__(self, worker: Worker, clock: Clock) -> None:
        self._worker = worker
        self._clock = clock

    # -- tokens --------------------------------------------------------------

    async def create_token(
        self,
        name: str,
        kind: TokenKind = TokenKind.API,
        *,
        ttl: float | None = None,
        client_id: str | None = None,
    ) -> IssuedToken:
        """Make a token (no expiry unless ``ttl`` seconds are given)."""
        _check_name(name)
        now = self._clock.time()
        return await self._worker.write(
            lambda conn: _issue(
                conn, name=name, kind=TokenKind(kind), now=now, ttl=ttl, client_id=client_id
            )
        )

    async def authenticate(self, token: str) -> TokenInfo | None:
        """The active bearer token matching ``token``, or None.

        Refresh tokens, revoked and expired tokens never authenticate.
        Records ``last_used`` (at most once per :data:`TOUCH_INTERVAL`).
        """
        if not token:
            return None
        digest = hash_secret(token)
        now = self._clock.time()

        def run(conn: sqlite3.Connection) -> TokenInfo | None:
            row = conn.execute(_SELECT_TOKENS + " WHERE token_hash = ?", (digest,)).fetchone()
            if row is None:
                return None
            info = _token(row)
            if info.kind not in BEARER_KINDS or not info.is_active(now):
                return None
            if info.last_used is None or now - info.last_used >= TOUCH_INTERVAL:
                conn.execute("UPDATE tokens SET last_used = ? WHERE id = ?", (now, info.id))
                info = TokenInfo(
                    info.id, info.name, info.kind, info.created, now,
                    info.expires, info.revoked, info.client_id,
                )  # fmt: skip
            return info

        return await self._worker.call(run)

    async def get_token(self, token_id: int) -> TokenInfo | None:
        """The token with this id, active or not."""

        def run(conn: sqlite3.Connection) -> TokenInfo | None:
            row = conn.execute(_SELECT_TOKENS + " WHERE id = ?", (token_id,)).fetchone()
            return None if row is None else _token(row)

        return await self._worker.call(run)

    async def list_tokens(self, *, include_inactive: bool = True) -> list[TokenInfo]:
        """All tokens (or only active ones), oldest first."""
        now = self._clock.time()
        tokens = await self._worker.read(read_tokens)
        return [t for t in tokens if include_inactive or t.is_active(now)]

    async def revoke_token(self, token_id: int) -> bool:
        """Revoke one token; False if it does not exist or was already revoked."""
        now = self._clock.time()

        def run(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL", (now, token_id)
            )
            return cur.rowcount == 1

        return await self._worker.write(run)

    async def revoke_all_tokens(self) -> int:
        """Revoke every token; returns how many were active."""
        now = self._clock.time()
        return await self._worker.write(
            lambda conn: (
                conn.execute("UPDATE tokens SET revoked = ? WHERE revoked IS NULL", (now,)).rowcount
            )
        )

    # -- pairing -------------------------------------------------------------

    async def create_pairing_code(self, ttl: float = PAIRING_CODE_TTL) -> str:
        """A new one-time pairing code such as ``K7QX-M2PA``, valid ``ttl`` seconds."""
        raw = "".join(secrets.choice(_PAIRING_ALPHABET) for _ in range(8))
        now = self._clock.time()
        await self._worker.write(
            lambda conn: conn.execute(
                "INSERT INTO pairing_codes (code_hash, created, expires) VALUES (?, ?, ?)",
                (hash_secret(raw), now, now + ttl),
            )
        )
        return f"{raw[:4]}-{raw[4:]}"

    async def exchange_pairing_code(self, code: str, name: str) -> IssuedToken | None:
        """Use a pairing code and get a ``paired`` token; None if unknown, used or expired.

        Using the code and issuing the token are one transaction; a code works once.
        """
        _check_name(name)
        digest = hash_secret(normalize_pairing_code(code))
        now = self._clock.time()

        def run(conn: sqlite3.Connection) -> IssuedToken | None:
            cur = conn.execute(
                "UPDATE pairing_codes SET used = ?"
                " WHERE code_hash = ? AND used IS NULL AND expires > ?",
                (now, digest, now),
            )
            if cur.rowcount != 1:
                return None
            return _issue(conn, name=name, kind=TokenKind.PAIRED, now=now, ttl=None, client_id=None)

        return await self._worker.write(run)

    # -- OAuth clients -------------------------------------------------------

    async def create_oauth_client(
        self, redirect_uris: Sequence[str], name: str = ""
    ) -> tuple[OAuthClient, str]:
        """Register a client; returns it and its secret (shown once, stored hashed)."""
        _check_name(name)
        uris = list(redirect_uris)
        if not uris or not all(isinstance(u, str) and u for u in uris):
            raise ValueError("redirect_uris must be a non-empty list of URIs")
        client = OAuthClient(secrets.token_hex(12), name, tuple(uris), self._clock.time())
        secret = secrets.token_urlsafe(32)
        await self._worker.write(
            lambda conn: conn.execute(
                "INSERT INTO oauth_clients (client_id, name, secret_hash, redirect_uris, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (client.client_id, name, hash_secret(secret), dumps_json(uris), client.created),
            )
        )
        return client, secret

    async def get_oauth_client(self, client_id: str) -> OAuthClient | None:
        """The client with this id, or None."""

        def run(conn: sqlite3.Connection) -> OAuthClient | None:
            row = conn.execute(
                "SELECT client_id, name, redirect_uris, created FROM oauth_clients"
                " WHERE client_id = ?",
                (client_id,),
            ).fetchone()
            return None if row is None else _client(row)

        return await self._worker.call(run)

    async def verify_oauth_client(self, client_id: str, client_secret: str) -> OAuthClient | None:
        """The client if ``client_secret`` is its secret, else None (constant-time compare)."""
        digest = hash_secret(client_secret)

        def run(conn: sqlite3.Connection) -> OAuthClient | None:
            row = conn.execute(
                "SELECT client_id, name, redirect_uris, created, secret_hash FROM oauth_clients"
                " WHERE client_id = ?",
                (client_id,),
            ).fetchone()
            if row is None or not hmac.compare_digest(row[4], digest):
                return None
            return _client(row)

        return await self._worker.call(run)

    async def list_oauth_clients(self) -> list[OAuthClient]:
        """All registered clients."""
        return await self._worker.read(read_clients)

    async def delete_oauth_client(self, client_id: str) -> bool:
        """Remove a client with its tokens and codes; False if unknown."""
        return await self._worker.write(
            lambda conn: (
                conn.execute("DELETE FROM oauth_clients WHERE client_id = ?", (client_id,)).rowcount
                == 1
            )
        )

    # -- OAuth codes and tokens ---------------------------------------------

    async def create_auth_code(
        self,
        client_id: str,
        redirect_uri: str,
        *,
        code_challenge: str | None = None,
        ttl: float = AUTH_CODE_TTL,
    ) -> str:
        """A one-time authorization code for ``client_id``.

        ValueError if the client is unknown, ``redirect_uri`` is not one of
        its registered URIs (exact match), or ``code_challenge`` (PKCE S256,
        redeemed only with its verifier) is malformed.
        """
        if code_challenge is not None and (
            rule := pkce.challenge_rule(code_challenge, pkce.METHOD)
        ):
            raise ValueError(rule)
        code = secrets.token_urlsafe(24)
        now = self._clock.time()

        def run(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT redirect_uris FROM oauth_clients WHERE client_id = ?", (client_id,)
            ).fetchone()
            if row is None:
                raise ValueError("unknown client_id")
            if redirect_uri not in loads_json(row[0]):
                raise ValueError("redirect_uri is not registered for this client")
            conn.execute(
                "INSERT INTO auth_codes"
                " (code_hash, client_id, redirect_uri, created, expires, code_challenge)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (hash_secret(code), client_id, redirect_uri, now, now + ttl, code_challenge),
            )

        await self._worker.write(run)
        return code

    async def exchange_auth_code(
        self,
        code: str,
        client_id: str,
        redirect_uri: str,
        *,
        code_verifier: str | None = None,
        access_ttl: float | None = ACCESS_TOKEN_TTL,
        refresh_ttl: float | None = None,
    ) -> OAuthGrant | GrantRefused:
        """Use an authorization code once and get an access and a refresh token.

        Refused if the code is unknown, expired, or was issued to another
        client or redirect URI; if it was issued with a PKCE challenge and
        ``code_verifier`` is missing or does not match it; or if a verifier
        comes for a code issued without a challenge (a downgrade). None of
        these uses the code up. A code that was already used is refused and
        every token issued for it (and rotated from them) is revoked. Using
        the code and issuing the tokens are one transaction.
        """
        digest = hash_secret(code)
        now = self._clock.time()

        def run(conn: sqlite3.Connection) -> OAuthGrant | GrantRefused:
            row = conn.execute(
                "SELECT client_id, redirect_uri, expires, used, code_challenge FROM auth_codes"
                " WHERE code_hash = ?",
                (digest,),
            ).fetchone()
            if row is None:
                return GrantRefused.UNKNOWN_CODE
            issued_to, issued_for, expires, used, challenge = row
            if used is not None:
                _revoke_family(conn, digest, now)
                return GrantRefused.CODE_REUSED
            if issued_to != client_id or issued_for != redirect_uri or expires <= now:
                return GrantRefused.UNKNOWN_CODE
            if challenge is None and code_verifier is not None:
                return GrantRefused.VERIFIER_UNEXPECTED
            if challenge is not None and code_verifier is None:
                return GrantRefused.VERIFIER_MISSING
            if challenge is not None and not pkce.verifier_matches(code_verifier or "", challenge):
                return GrantRefused.VERIFIER_MISMATCH
            cur = conn.execute(
                "UPDATE auth_codes SET used = ? WHERE code_hash = ? AND used IS NULL",
                (now, digest),
            )
            if cur.rowcount != 1:
                return GrantRefused.UNKNOWN_CODE
            name = conn.execute(
                "SELECT name FROM oauth_clients WHERE client_id = ?", (client_id,)
            ).fetchone()[0]
            return _grant(
                conn,
                name=name or client_id,
                client_id=client_id,
                now=now,
                access_ttl=access_ttl,
                refresh_ttl=refresh_ttl,
                family=digest,
            )

        return await self._worker.write(run)

    async def rotate_refresh_token(
        self,
        refresh_token: str,
        *,
        client_id: str | None = None,
        access_ttl: float | None = ACCESS_TOKEN_TTL,
        refresh_ttl: float | None = None,
    ) -> OAuthGrant | GrantRefused:
        """Use a refresh token once: it is revoked and a new pair of its family is issued.

        Refused if the token is unknown, not a refresh token, expired, or
        (when ``client_id`` is given) belongs to another client. A refresh
        token that was already used or revoked is a replay: it is refused and
        every token of its family is revoked, the current refresh token and
        the access tokens included. Of two concurrent rotations of the same
        token exactly one succeeds, and the other is such a replay.
        """
        digest = hash_secret(refresh_token)
        now = self._clock.time()

        def run(conn: sqlite3.Connection) -> OAuthGrant | GrantRefused:
            row = conn.execute(
                "SELECT id, name, client_id, revoked, expires, family FROM tokens"
                " WHERE token_hash = ? AND kind = ?",
                (digest, TokenKind.OAUTH_REFRESH.value),
            ).fetchone()
            if row is None or (client_id is not None and row[2] != client_id):
                return GrantRefused.UNKNOWN_REFRESH
            token_id, name, owner, revoked, expires, family = row
            # a token issued before families were stored starts its own at its first use
            family = family or digest
            if revoked is not None:
                _revoke_family(conn, family, now)
                return GrantRefused.REFRESH_REPLAYED
            if expires is not None and expires <= now:
                return GrantRefused.UNKNOWN_REFRESH
            cur = conn.execute(
                "UPDATE tokens SET revoked = ?, last_used = ?, family = ?"
                " WHERE id = ? AND revoked IS NULL",
                (now, now, family, token_id),
            )
            if cur.rowcount != 1:
                return GrantRefused.REFRESH_REPLAYED
            return _grant(
                conn,
                name=name,
                client_id=owner,
                now=now,
                access_ttl=access_ttl,
                refresh_ttl=refresh_ttl,
                family=family,
            )

        return await self._worker.write(run)
