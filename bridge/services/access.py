"""Access to the bridge: API tokens, pairing, the owner's login and OAuth2 grants.

The API authenticates every request, exchanges pairing codes, lists and
revokes tokens, checks the owner's login and runs the OAuth2 code flow
through :class:`AccessService`; it never opens the token tables itself.
The token and client types are re-exported here for the API's use.
"""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING

from bridge.core.payloads.access import TokenKind
from bridge.storage.auth import (
    ACCESS_TOKEN_TTL,
    GrantRefused,
    IssuedToken,
    OAuthClient,
    OAuthGrant,
    TokenInfo,
    hash_secret,
    normalize_pairing_code,
)
from bridge.storage.settings import EMAIL

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.services.thermostat import ThermostatService
    from bridge.storage import Database

__all__ = [
    "ACCESS_TOKEN_TTL",
    "OWNER_KINDS",
    "AccessService",
    "GrantRefused",
    "IssuedToken",
    "OAuthClient",
    "OAuthGrant",
    "TokenInfo",
    "TokenKind",
    "hash_secret",
]

_LOGGER = logging.getLogger(__name__)

OWNER_KINDS = frozenset({TokenKind.API, TokenKind.PAIRED})
"""Token kinds that act for the owner (settings, tokens, privacy)."""


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _looks_like_pairing_code(value: str) -> bool:
    code = normalize_pairing_code(value)
    return len(code) == 8 and code.isalnum()


class AccessService:
    """Who may use the bridge: tokens, pairing codes, the owner, OAuth2 clients."""

    def __init__(self, db: Database, clock: Clock, thermostat: ThermostatService) -> None:
        self._db = db
        self._clock = clock
        self._thermostat = thermostat

    # -- tokens -----------------------------------------------------------------------

    async def authenticate(self, token: str) -> TokenInfo | None:
        """The active token ``token`` is (its last use recorded), or None."""
        return await self._db.auth.authenticate(token)

    async def pair(self, code: str, client_name: str) -> IssuedToken | None:
        """Exchange a one-time pairing code for a new paired token (None if wrong or used)."""
        return await self._db.auth.exchange_pairing_code(code, client_name)

    async def list_tokens(self) -> list[TokenInfo]:
        """Every token, active or not."""
        return await self._db.auth.list_tokens()

    async def revoke_token(self, token_id: int) -> TokenInfo | None:
        """Revoke a token (idempotent); the token as it is now, or None if there is none."""
        if await self._db.auth.get_token(token_id) is None:
            return None
        await self._db.auth.revoke_token(token_id)
        return await self._db.auth.get_token(token_id)

    async def token_active(self, token_id: int) -> bool:
        """Whether the token exists and is neither revoked nor expired now."""
        info = await self._db.auth.get_token(token_id)
        return info is not None and info.is_active(self._clock.time())

    # -- the owner's login ------------------------------------------------------------

    async def owner_login(self, username: str, password: str) -> bool:
        """Whether ``username``/``password`` identify the bridge's owner.

        The username is the thermostat's hardware id or the owner's e-mail (any
        case). The password is an active API token (kind ``api`` or ``paired``)
        or a valid one-time pairing code, which this uses up (the token that
        exchanging it yields is revoked at once, so the token list shows the
        login). A wrong username never consumes a code.
        """
        name = username.strip()
        email = await self._db.settings.get(EMAIL)
        known = _same(name, self._thermostat.hardware_id)
        if email:
            known |= _same(name.casefold(), email.casefold())
        if not known or not password:
            return False
        info = await self._db.auth.authenticate(password)
        if info is not None:
            return info.kind in OWNER_KINDS
        if not _looks_like_pairing_code(password):
            return False
        issued = await self._db.auth.exchange_pairing_code(password, "owner login")
        if issued is None:
            return False
        await self._db.auth.revoke_token(issued.info.id)
        return True

    # -- OAuth2 -----------------------------------------------------------------------

    async def oauth_client(self, client_id: str) -> OAuthClient | None:
        """A registered OAuth client, or None."""
        return await self._db.auth.get_oauth_client(client_id)

    async def verify_oauth_client(self, client_id: str, client_secret: str) -> OAuthClient | None:
        """The client if ``client_secret`` is its secret, else None."""
        return await self._db.auth.verify_oauth_client(client_id, client_secret)

    async def create_auth_code(
        self, client_id: str, redirect_uri: str, *, code_challenge: str | None = None
    ) -> str:
        """A new one-time authorization code, bound to a PKCE S256 ``code_challenge``
        if given (ValueError if the client is gone or the challenge is malformed)."""
        return await self._db.auth.create_auth_code(
            client_id, redirect_uri, code_challenge=code_challenge
        )

    async def exchange_auth_code(
        self, code: str, client_id: str, redirect_uri: str, *, code_verifier: str | None = None
    ) -> OAuthGrant | GrantRefused:
        """Access and refresh tokens for a valid code, or why not.

        A code used a second time revokes the tokens it issued (RFC 9700 4.2).
        """
        result = await self._db.auth.exchange_auth_code(
            code, client_id, redirect_uri, code_verifier=code_verifier
        )
        if result is GrantRefused.CODE_REUSED:
            _LOGGER.warning(
                "OAuth client %s redeemed an authorization code twice: its tokens are revoked",
                client_id,
            )
        return result

    async def rotate_refresh_token(
        self, refresh_token: str, *, client_id: str
    ) -> OAuthGrant | GrantRefused:
        """New tokens for a refresh token, which is revoked; or why not.

        A used or revoked refresh token presented again revokes its whole
        family (RFC 9700 4.14.2).
        """
        result = await self._db.auth.rotate_refresh_token(refresh_token, client_id=client_id)
        if result is GrantRefused.REFRESH_REPLAYED:
            _LOGGER.warning(
                "OAuth client %s presented a used refresh token: its grant is revoked", client_id
            )
        return result
