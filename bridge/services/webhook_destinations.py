"""Webhook destinations: which URLs are acceptable and where they lead.

:func:`check_url` gives the rule a webhook URL breaks; :func:`check_destination`
the rule its destination breaks, on the addresses :func:`resolve` finds:
an address no webhook may reach (:data:`REFUSED_NETWORKS`: link-local and
cloud metadata addresses and other ranges that are never a LAN receiver;
and the bridge's own API, :class:`OwnApi`), judged by
:func:`addresses_rule`, and plain HTTP to an address outside the LAN
(PRIVACY.md), judged by :func:`is_lan_address`. Deliveries check the
destination again before every request, after resolving the host name
again (:meth:`bridge.services.webhook_delivery.WebhookDispatcher.send`), so
a name that resolves to a refused address later is not delivered to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
import ipaddress
import socket
from typing import Any

from yarl import URL

from bridge.services.webhook_policy import DeliveryPolicy

__all__ = [
    "MAX_URL_LENGTH",
    "REFUSED_NETWORKS",
    "OwnApi",
    "Resolver",
    "addresses_rule",
    "check_destination",
    "check_url",
    "is_lan_address",
    "leaves_lan",
    "resolve",
]

MAX_URL_LENGTH = 2000

_Ip = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Finds the addresses of a host name and port (:func:`resolve`)."""

_LAN_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",  # loopback
        "10.0.0.0/8",  # RFC 1918
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::1/128",  # loopback
        "fc00::/7",  # unique local (ULA)
    )
)

_LINK_LOCAL = "a link-local address (cloud metadata services live there)"
_METADATA = "a cloud metadata address"
_MULTICAST = "a multicast address"
REFUSED_NETWORKS: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(network), reason)
    for network, reason in (
        ("0.0.0.0/8", "a 'this network' address (0.0.0.0 reaches the bridge itself)"),
        ("169.254.0.0/16", _LINK_LOCAL),  # 169.254.169.254: AWS, GCP, Azure, OpenStack
        ("100.100.100.200/32", _METADATA),  # Alibaba Cloud
        ("168.63.129.16/32", _METADATA),  # Azure's host endpoint
        ("224.0.0.0/4", _MULTICAST),
        ("240.0.0.0/4", "a reserved or broadcast address"),
        ("::/128", "the unspecified address"),
        ("fe80::/10", _LINK_LOCAL),
        ("fd00:ec2::254/128", _METADATA),  # AWS over IPv6 (inside the ULA range)
        ("ff00::/8", _MULTICAST),
    )
)
"""Addresses no webhook may reach, each with the reason, on any port.

None of them is a receiver on the LAN: link-local addresses are where cloud
metadata services answer, and the others cannot hold an HTTP server or
reach the bridge itself. RFC 1918, unique-local and loopback addresses stay
allowed (Home Assistant lives there), loopback except the bridge's own API
port (:class:`OwnApi`). An IPv4-mapped (``::ffff:a.b.c.d``) or NAT64
(``64:ff9b::a.b.c.d``) IPv6 address is judged by its IPv4 address.
"""
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class OwnApi:
    """Where the bridge's own API listens: a webhook must not call it."""

    port: int
    addresses: frozenset[str] = frozenset()
    """The bridge's own LAN addresses (loopback is always its own)."""


def _ip(address: str | _Ip, *, nat64: bool = False) -> _Ip | None:
    """The IP address (IPv4 for a mapped one, and with ``nat64`` for a NAT64 one;
    scope dropped), or None."""
    if isinstance(address, str):
        try:
            ip: _Ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
        except ValueError:
            return None
    else:
        ip = address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if nat64 and ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_lan_address(address: str | _Ip) -> bool:
    """True for loopback, RFC 1918 and unique-local addresses.

    IPv4-mapped IPv6 addresses are judged by their IPv4 address; a scope
    (``fd00::1%eth0``) is ignored. Anything else (a NAT64 address too: it
    leads through a gateway), and anything that is not an IP address, is
    outside the LAN.
    """
    ip = _ip(address)
    return ip is not None and any(ip.version == n.version and ip in n for n in _LAN_NETWORKS)


def addresses_rule(addresses: Iterable[str], port: int, own_api: OwnApi | None) -> str | None:
    """The rule a destination breaks if any of its ``addresses`` on ``port`` is refused.

    Refused: an address in :data:`REFUSED_NETWORKS`, and the bridge's own
    API (loopback or one of its addresses, on its port). The rule names the
    address as judged: the IPv4 address of a mapped or NAT64 one, no scope.
    """
    for address in addresses:
        ip = _ip(address, nat64=True)
        if ip is None:
            continue
        for network, reason in REFUSED_NETWORKS:
            if ip.version == network.version and ip in network:
                return f"must not point to {reason}: {ip}"
        if (
            own_api is not None
            and port == own_api.port
            and (ip.is_loopback or str(ip) in own_api.addresses)
        ):
            return f"must not point to the bridge's own API: {ip} port {port}"
    return None


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


async def check_destination(
    url: str,
    policy: DeliveryPolicy | None = None,
    *,
    own_api: OwnApi | None = None,
    resolver: Resolver = resolve,
) -> str | None:
    """The rule a (valid) URL's destination breaks, by the addresses its host has now.

    A refused address (:func:`addresses_rule`), or plain HTTP to an address
    outside the LAN. A host that does not resolve now is accepted
    (deliveries check again).
    """
    policy = policy or DeliveryPolicy()
    parsed = URL(url)
    assert parsed.raw_host is not None
    assert parsed.port is not None
    try:
        async with asyncio.timeout(policy.timeout):
            addresses = await resolver(parsed.raw_host, parsed.port)
    except (OSError, TimeoutError):
        return None
    rule = addresses_rule(addresses, parsed.port, own_api)
    if rule is not None:
        return rule
    if parsed.scheme != "https" and policy.https_outside_lan and leaves_lan(addresses):
        return "must use https for an address outside the LAN"
    return None
