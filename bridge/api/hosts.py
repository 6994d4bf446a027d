"""The Host allow-list of the API port: a defence against DNS rebinding.

A web page on another site can make a browser on the LAN send requests to the
bridge under the page's own host name (its DNS answer changed to the bridge's
address). Such a request carries that foreign name in ``Host``; the bridge
answers only the names it is known by, so it is refused (421) before any
route runs.

The names: ``localhost``, ``127.0.0.1``, ``::1``, the address the bridge
listens on, its LAN addresses, its zeroconf host name
(``thermosmart-….local``) and the machine's host name (with ``.local``),
given by the daemon; the address the request itself arrived on (any of the
machine's addresses, so a new DHCP lease needs no restart); and the names of
the ``allowed_hosts`` setting (``*`` turns the check off). Any port, any case,
a trailing dot ignored. A request without ``Host`` (HTTP/1.0 clients) has no
name to check and is served: browsers always send one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
import ipaddress

from aiohttp import web

from bridge.api.errors import json_error

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The names every bridge answers to.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def _normal(name: str) -> str:
    name = name.strip().lower().rstrip(".")
    try:
        address = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return name
    # an IPv4 client of a dual-stack socket arrives on ::ffff:a.b.c.d
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def host_name(header: str) -> str | None:
    """The name of a ``Host`` header (``name``, ``name:port``, ``[v6]:port``), or None
    if it is not one."""
    value = header.strip()
    if value.startswith("["):
        end = value.find("]")
        name, rest = value[1:end], value[end + 1 :]
        if end < 0 or (rest and not rest.startswith(":")):
            return None
        port = rest[1:]
    elif value.count(":") == 1:
        name, _, port = value.partition(":")
    else:
        name, port = value, ""
    if (port and not (port.isascii() and port.isdigit())) or not name:
        return None
    return _normal(name)


class HostPolicy:
    """Which ``Host`` names the API answers to."""

    def __init__(self, own: Iterable[str] = LOOPBACK_NAMES, configured: list[str] | None = None):
        self.configured = configured
        """The names of the ``allowed_hosts`` setting, as given (None when unset)."""
        extra = configured or []
        self.any = "*" in extra
        self.names = frozenset(_normal(n) for n in (*LOOPBACK_NAMES, *own, *extra) if n != "*")

    def allows(self, header: str | None, local_address: str | None) -> bool:
        """Whether a request with ``Host: header`` that arrived on ``local_address`` is served."""
        if header is None or not header.strip() or self.any:
            return True
        name = host_name(header)
        if name is None:
            return False
        return name in self.names or (local_address is not None and name == _normal(local_address))


HOSTS_KEY: web.AppKey[HostPolicy] = web.AppKey("hosts", HostPolicy)


def _local_address(request: web.Request) -> str | None:
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    if isinstance(sockname, tuple) and sockname:
        return str(sockname[0])
    return None


@web.middleware
async def host_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse (421) a request whose ``Host`` is none of the bridge's names."""
    if request.app[HOSTS_KEY].allows(request.headers.get("Host"), _local_address(request)):
        return await handler(request)
    return json_error(
        421,
        "misdirected",
        "this bridge does not answer to that host name; use its address, or add the name "
        "to the allowed_hosts setting",
    )
