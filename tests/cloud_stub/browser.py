"""A browser's part in the owner's pages: a cookie jar and the forms of a page."""

from __future__ import annotations

from collections.abc import AsyncIterator
import contextlib
from html.parser import HTMLParser

import aiohttp


class Forms(HTMLParser):
    """The forms of a page: action and fields (name -> value)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append((a.get("action") or "", {}))
        elif tag in ("input", "button") and self.forms and a.get("name"):
            self.forms[-1][1][a["name"] or ""] = a.get("value") or ""


def only_form(page: str) -> tuple[str, dict[str, str]]:
    """The page's one form."""
    (form,) = Forms(page).forms
    return form


@contextlib.asynccontextmanager
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    """A session that keeps cookies, also for 127.0.0.1."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def log_in(
    jar: aiohttp.ClientSession, page: str, base: str, username: str, password: str
) -> tuple[int, str, str]:
    """Fill in the login form of ``page`` and send it: (status, final path, page)."""
    action, fields = only_form(page)
    assert action == "/login"
    fields.update(username=username, password=password)
    async with jar.post(f"{base}/login", data=fields) as resp:
        return resp.status, resp.url.path, await resp.text()
