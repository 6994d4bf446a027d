"""Webhook destinations: which URLs are acceptable and where they lead.

:func:`check_url` gives the rule a webhook URL breaks; :func:`check_destination`
refuses plain HTTP to an address outside the LAN (PRIVACY.md), judged by
:func:`is_lan_address` on the addresses :func:`resolve` finds. Deliveries
check the destination again before every request
(:meth:`bridge.services.webhook_delivery.WebhookDispatcher.send`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
import ipaddress
import socket
from typing import Any

from yarl import URL

from bridge.services.webhook_policy import DeliveryPolicy

__all__ = [
    "MAX_URL_LENGTH",
    "check_destination",
    "check_url",
    "is_lan_address",
    "leaves_lan",
    "resolve",
]

MAX_URL_LENGTH = 2000

_LAN_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",  # loopback
        "10.0.0.0/8",  # RFC 1918
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",  # link-local
        "::1/128",  # loopback
        "fe80::/10",  # link-local
        "fc00::/7",  # unique local (ULA)
    )
)


def is_lan_address(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for loopback, RFC 1918, link-local and unique-local addresses.

    IPv4-mapped IPv6 addresses are judged by their IPv4 address; a scope
    (``fe80::1%eth0``) is ignored. Anything else, and anything that is not
    an IP address, is outside the LAN.
    """
    if isinstance(address, str):
        try:
            ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
                address.split("%", 1)[0]
            )
        except ValueError:
            return False
    else:
        ip = address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in _LAN_NETWORKS)


def leaves_lan(addresses: Iterable[str]) -> bool:
    """True if any address is outside the LAN (or there is none)."""
    found = list(addresses)
    return not found or not all(is_lan_address(a) for a in found)


async def resolve(host: str, port: int) -> list[str]:
    """The IP addresses of ``host`` in resolver order (an IP literal is itself).

    Raises OSError if the name does not resolve.
    """
    bare = host.strip("[]")
    try:
        ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        pass
    else:
        return [bare]
    infos = await asyncio.get_running_loop().getaddrinfo(
        bare, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    out: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in out:
            out.append(address)
    if not out:
        raise OSError(f"{host} has no address")
    return out


def check_url(url: Any) -> str | None:
    """The rule a webhook URL breaks, or None if it is acceptable."""
    if not isinstance(url, str):
        return "must be a string"
    if len(url) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return "must not contain spaces or control characters"
    try:
        parsed = URL(url)
        port = parsed.port
    except ValueError:
        return "must be a valid URL"
    if parsed.scheme not in ("http", "https"):
        return "must be an http or https URL"
    if not parsed.raw_host:
        return "must name a host"
    if parsed.user is not None or parsed.password is not None:
        return "must not contain a user name or password"
    if not port:
        return "must have a port between 1 and 65535"
    return None


async def check_destination(url: str, policy: DeliveryPolicy | None = None) -> str | None:
    """The rule a (valid) URL's destination breaks: plain HTTP outside the LAN.

    A host that does not resolve now is accepted (deliveries check again).
    """
    policy = policy or DeliveryPolicy()
    parsed = URL(url)
    if parsed.scheme == "https" or not policy.https_outside_lan:
        return None
    assert parsed.raw_host is not None
    assert parsed.port is not None
    try:
        async with asyncio.timeout(policy.timeout):
            addresses = await resolve(parsed.raw_host, parsed.port)
    except (OSError, TimeoutError):
        return None
    if leaves_lan(addresses):
        return "must use https for an address outside the LAN"
    return None
