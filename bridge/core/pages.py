"""The few HTML pages the bridge and the cloud stand-in serve (OAuth login and consent,
the cloud's approval page): one shell, one style, one set of security headers.

Pure code: the web layers wrap :func:`render_page` in their response.
"""

from __future__ import annotations

import html
from typing import Final

__all__ = ["PAGE_HEADERS", "escape", "render_page"]

PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""Headers of every page: never cached, never framed, no scripts, no referrer."""

_STYLE: Final = (
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;"
    "color:#222}label{display:block;margin:.8rem 0 .2rem}input[type=text],"
    "input[type=password]{width:100%;padding:.4rem;box-sizing:border-box}"
    "button{margin:1rem .5rem 0 0;padding:.4rem 1rem}.error{color:#a00}"
)


def escape(value: object) -> str:
    """``value`` escaped for HTML text and attributes."""
    return html.escape(str(value), quote=True)


def render_page(title: str, body: str, *, site: str) -> str:
    """A complete HTML page titled ``title · site``; ``body`` must already be escaped HTML."""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)} · {escape(site)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )
