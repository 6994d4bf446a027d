"""The login sessions of the OAuth2 flow and their pending consent transactions.

A session lives in memory (:data:`SESSION_TTL`) behind an HttpOnly,
SameSite=Lax cookie; the login and consent pages (:mod:`bridge.api.oauth_pages`)
open and use them. Also the flow's shared words: its one scope and how a
form field is read.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
import secrets
from typing import TYPE_CHECKING, Any, TypeGuard

from aiohttp import web
from multidict import MultiDictProxy

from bridge.core.validation import is_text
from bridge.services.access import hash_secret

if TYPE_CHECKING:
    from bridge.core.clock import Clock

SCOPE = "ot"
SESSION_COOKIE = "thermosmart_session"
SESSION_TTL = 3600.0
"""A login session lasts one hour."""
TRANSACTION_TTL = 600.0
"""A consent form must be answered within 10 minutes."""
MAX_SESSIONS = 64
MAX_TRANSACTIONS = 16
"""Open consent forms per session; the oldest is dropped beyond this."""
MAX_FIELD = 2000


def one_field(form: MultiDictProxy[Any], name: str) -> str | None:
    """A form field given once as text (None if absent, repeated, or too long)."""
    values = form.getall(name, [])
    if len(values) != 1 or not isinstance(values[0], str) or len(values[0]) > MAX_FIELD:
        return None
    value: str = values[0]
    return value


# -- sessions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transaction:
    """One authorization request waiting for the owner's decision."""

    client_id: str
    redirect_uri: str
    state: str | None
    scope: str
    expires: float
    code_challenge: str | None = None
    """The PKCE S256 challenge the code will be bound to."""


@dataclass(slots=True)
class Session:
    """A logged-in owner."""

    user: str
    expires: float
    transactions: OrderedDict[str, Transaction] = field(default_factory=OrderedDict)


def _could_be_id(session_id: str | None) -> TypeGuard[str]:
    """A cookie value worth looking up: text (a cookie that is not UTF-8 is none) of a
    sane length."""
    return bool(session_id) and is_text(session_id) and len(session_id) <= 100


class SessionStore:
    """Login sessions and their pending authorization transactions, in memory.

    Ids are random and kept only as hashes, so a lookup compares no secret.
    Both are bounded: the oldest session or transaction is dropped first.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        ttl: float = SESSION_TTL,
        transaction_ttl: float = TRANSACTION_TTL,
    ) -> None:
        self._clock = clock
        self._ttl = ttl
        self._transaction_ttl = transaction_ttl
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def _purge(self) -> None:
        now = self._clock.monotonic()
        for key in [k for k, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[key]

    def create(self, user: str) -> str:
        """A new session for ``user``; returns its id (the cookie value)."""
        self._purge()
        while len(self._sessions) >= MAX_SESSIONS:
            self._sessions.popitem(last=False)
        session_id = secrets.token_urlsafe(32)
        self._sessions[hash_secret(session_id)] = Session(user, self._clock.monotonic() + self._ttl)
        return session_id

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None."""
        if not _could_be_id(session_id):
            return None
        self._purge()
        return self._sessions.get(hash_secret(session_id))

    def end(self, session_id: str | None) -> None:
        """Forget a session (on a new login)."""
        if _could_be_id(session_id):
            self._sessions.pop(hash_secret(session_id), None)

    def add_transaction(
        self,
        session: Session,
        client_id: str,
        redirect_uri: str,
        state: str | None,
        scope: str,
        *,
        code_challenge: str | None = None,
    ) -> str:
        """Open a consent transaction in ``session``; returns its id."""
        now = self._clock.monotonic()
        for key in [k for k, t in session.transactions.items() if t.expires <= now]:
            del session.transactions[key]
        while len(session.transactions) >= MAX_TRANSACTIONS:
            session.transactions.popitem(last=False)
        transaction_id = secrets.token_urlsafe(24)
        session.transactions[hash_secret(transaction_id)] = Transaction(
            client_id, redirect_uri, state, scope, now + self._transaction_ttl, code_challenge
        )
        return transaction_id

    def take_transaction(self, session: Session, transaction_id: str) -> Transaction | None:
        """Use a transaction of ``session`` once; None if unknown, used or expired."""
        if not transaction_id or len(transaction_id) > 100:
            return None
        found = session.transactions.pop(hash_secret(transaction_id), None)
        if found is None or found.expires <= self._clock.monotonic():
            return None
        return found


SESSIONS_KEY: web.AppKey[SessionStore] = web.AppKey("oauth_sessions", SessionStore)
