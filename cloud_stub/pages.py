"""The owner's web pages: plain HTML, and the login sessions behind them.

A page has no external assets and every value in it is escaped. A login
session lives in memory for :data:`SESSION_TTL` behind an HttpOnly,
SameSite=Lax cookie (Secure over TLS); its id is random and kept only as a
hash. A form that changes something (an OAuth consent, a link approval)
carries a transaction id that only the session that showed the form holds,
used once, so another site cannot forge the decision.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bridge.core.pages import PAGE_HEADERS, escape, render_page
from bridge.core.validation import is_text
from cloud_stub.store import hash_secret

if TYPE_CHECKING:
    from bridge.core.clock import Clock

SESSION_COOKIE = "thermosmart_cloud_session"
SESSION_TTL = 3600.0
"""A login session lasts one hour."""
TRANSACTION_TTL = 600.0
"""A consent or approval form must be answered within 10 minutes."""
MAX_SESSIONS = 256
MAX_TRANSACTIONS = 16
"""Open forms per session; the oldest is dropped beyond this."""


def e(value: object) -> str:
    """``value`` escaped for HTML text and attributes."""
    return escape(value)


def page(
    title: str, body: str, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A complete HTML page; ``body`` must already be escaped HTML."""
    return web.Response(
        text=render_page(title, body, site="ThermoSmart cloud"),
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={**PAGE_HEADERS, **(headers or {})},
    )


def error_page(status: int, message: str) -> web.Response:
    """A page that says why the owner cannot go on."""
    return page("Cannot continue", f"<p class='error'>{e(message)}</p>", status=status)


def login_page(next_path: str, *, error: str | None = None, status: int = 200) -> web.Response:
    """The login form; after the login the owner comes back to ``next_path``."""
    notice = f"<p class='error'>{e(error)}</p>" if error else ""
    body = (
        f"{notice}<p>Log in to your ThermoSmart cloud account.</p>"
        "<form method='post' action='/login'>"
        "<label for='username'>E-mail or hardware id</label>"
        "<input id='username' name='username' type='text' autocomplete='username' required>"
        "<label for='password'>Password</label>"
        "<input id='password' name='password' type='password' "
        "autocomplete='current-password' required>"
        f"<input type='hidden' name='next' value='{e(next_path)}'>"
        "<button type='submit'>Log in</button></form>"
        "<p>The password is the one <code>thermosmart-cloud owner create</code> printed.</p>"
    )
    return page("Log in", body, status=status)


def redirect(location: str, *, status: int = 302) -> web.Response:
    """A redirect that is never cached."""
    return web.Response(status=status, headers={"Location": location, "Cache-Control": "no-store"})


@dataclass(frozen=True, slots=True)
class Transaction:
    """A form waiting for the owner's decision: what it decides (``kind``) and about what."""

    kind: str
    data: dict[str, Any]
    expires: float


@dataclass(slots=True)
class Session:
    """A logged-in owner, and the thermostat the login is for (None: none linked yet)."""

    owner_id: int
    bridge_id: str | None
    expires: float
    transactions: OrderedDict[str, Transaction] = field(default_factory=OrderedDict)


class SessionStore:
    """Login sessions and their open forms, in memory, bounded, by hashed id."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def _purge(self) -> None:
        now = self._clock.monotonic()
        for key in [k for k, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[key]

    def create(self, owner_id: int, bridge_id: str | None) -> str:
        """A new session; returns its id (the cookie value)."""
        self._purge()
        while len(self._sessions) >= MAX_SESSIONS:
            self._sessions.popitem(last=False)
        session_id = secrets.token_urlsafe(32)
        self._sessions[hash_secret(session_id)] = Session(
            owner_id, bridge_id, self._clock.monotonic() + SESSION_TTL
        )
        return session_id

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None."""
        # a cookie byte that was not UTF-8 arrives as a lone surrogate: no session id has one
        if not session_id or len(session_id) > 100 or not is_text(session_id):
            return None
        self._purge()
        return self._sessions.get(hash_secret(session_id))

    def end(self, session_id: str | None) -> None:
        """Forget a session (on a new login)."""
        if session_id and len(session_id) <= 100 and is_text(session_id):
            self._sessions.pop(hash_secret(session_id), None)

    def add_transaction(self, session: Session, kind: str, data: dict[str, Any]) -> str:
        """Open a form in ``session``; returns its transaction id."""
        now = self._clock.monotonic()
        for key in [k for k, t in session.transactions.items() if t.expires <= now]:
            del session.transactions[key]
        while len(session.transactions) >= MAX_TRANSACTIONS:
            session.transactions.popitem(last=False)
        transaction_id = secrets.token_urlsafe(24)
        session.transactions[hash_secret(transaction_id)] = Transaction(
            kind, data, now + TRANSACTION_TTL
        )
        return transaction_id

    def take_transaction(
        self, session: Session, transaction_id: str, kind: str
    ) -> Transaction | None:
        """Use a form of ``session`` once; None if unknown, used, expired or of another kind."""
        if not transaction_id or len(transaction_id) > 100:
            return None
        found = session.transactions.pop(hash_secret(transaction_id), None)
        if found is None or found.kind != kind or found.expires <= self._clock.monotonic():
            return None
        return found


SESSIONS_KEY: web.AppKey[SessionStore] = web.AppKey("sessions", SessionStore)

MAX_CODE_FAILURES = 10
"""Wrong user codes an owner may enter per :data:`CODE_FAILURE_WINDOW` (RFC 8628 section
5.1): guessing the code of another household's bridge would link it to the guesser."""
CODE_FAILURE_WINDOW = 3600.0


class FailureLimiter:
    """Counts failures per key over a sliding window, in memory."""

    def __init__(self, clock: Clock, limit: int, window: float) -> None:
        self._clock = clock
        self._limit = limit
        self._window = window
        self._failures: dict[object, list[float]] = {}

    def _recent(self, key: object) -> list[float]:
        since = self._clock.monotonic() - self._window
        recent = [t for t in self._failures.get(key, ()) if t > since]
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
        return recent

    def blocked(self, key: object) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        recent = self._recent(key)
        if len(recent) < self._limit:
            return 0.0
        return recent[-self._limit] + self._window - self._clock.monotonic()

    def failed(self, key: object) -> None:
        """Count a failure of ``key``."""
        self._failures[key] = [*self._recent(key), self._clock.monotonic()]


CODE_LIMITER_KEY: web.AppKey[FailureLimiter] = web.AppKey("code_limiter", FailureLimiter)


def set_session_cookie(request: web.Request, response: web.Response, session_id: str) -> None:
    """Put the session cookie on ``response``: HttpOnly, SameSite=Lax, Secure over TLS."""
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(SESSION_TTL),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.secure,
    )


def session_of(request: web.Request) -> Session | None:
    """The request's live session, or None."""
    return request.app[SESSIONS_KEY].get(request.cookies.get(SESSION_COOKIE))
