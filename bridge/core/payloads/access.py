"""Who the bridge is, pairing and tokens."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from bridge.core.contract import UNSET, Unset, model, spec
from bridge.core.payloads.common import Timestamp
from bridge.core.rules import text_rule


class TokenKind(StrEnum):
    """What a token is for."""

    API = "api"
    """A long-lived token made with ``thermosmart-bridge token create``."""
    OAUTH_ACCESS = "oauth_access"
    OAUTH_REFRESH = "oauth_refresh"
    PAIRED = "paired"
    """Issued in exchange for a pairing code."""


@model
class Health:
    status: Literal["ok"]
    bridge_id: str
    api_version: int
    version: str
    name: str


@model
class PairRequest:
    code: str = spec(rule=text_rule(4, 32))
    client_name: str | Unset = spec(default=UNSET, rule=text_rule(1, 64), json_default="client")


@model
class PairResponse:
    access_token: str
    token_id: str
    bridge_id: str


@model
class Token:
    id: str
    name: str
    kind: TokenKind
    created: Timestamp
    last_used: Timestamp | None
    expires: Timestamp | None
    revoked: Timestamp | None
    client_id: str | None
    active: bool
    current: bool = spec(description="the token of this request")


@model
class Tokens:
    tokens: list[Token]


@model
class RevokedToken:
    token: Token


# -- OAuth (THERMOSMART_API.md) --------------------------------------------------------


@model
class LoginForm:
    OPEN: ClassVar = True

    username: str = spec(description="the hardware id or the owner's e-mail")
    password: str


@model
class DecisionForm:
    OPEN: ClassVar = True

    transaction_id: str


@model
class TokenForm:
    OPEN: ClassVar = True

    grant_type: Literal["authorization_code", "refresh_token"]
    code: str | Unset = spec(default=UNSET)
    redirect_uri: str | Unset = spec(default=UNSET)
    refresh_token: str | Unset = spec(default=UNSET)
    code_verifier: str | Unset = spec(
        default=UNSET,
        description="PKCE: required when the code was issued with a code_challenge, refused "
        "otherwise",
    )
    client_id: str | Unset = spec(default=UNSET)
    client_secret: str | Unset = spec(default=UNSET)


@model
class OAuthToken:
    OPEN: ClassVar = True

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    refresh_token: str
    scope: Literal["ot"]
    thermostat: str


@model
class OAuthError:
    """RFC 6749 error answer"""

    OPEN: ClassVar = True

    error: str
    error_description: str | Unset = spec(default=UNSET)
