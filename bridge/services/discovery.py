"""Zeroconf: announce the bridge as ``_thermosmart._tcp.local.`` on the LAN."""

from __future__ import annotations

import logging
import socket

from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

SERVICE_TYPE = "_thermosmart._tcp.local."
_LOGGER = logging.getLogger(__name__)


class Announcer:
    """Registers the bridge's service with its ``bridge_id`` and API version in TXT."""

    def __init__(
        self,
        *,
        bridge_id: str,
        name: str,
        port: int,
        api_version: int,
        version: str,
        addresses: list[str],
        interfaces: list[str] | None = None,
    ) -> None:
        self._zc: AsyncZeroconf | None = None
        self._interfaces = interfaces
        instance = f"{name} {bridge_id[:6]}".replace(".", " ")
        self.info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{instance}.{SERVICE_TYPE}",
            port=port,
            properties={
                "bridge_id": bridge_id,
                "api_version": str(api_version),
                "version": version,
                "path": "/api/v1",
            },
            parsed_addresses=addresses,
            server=zeroconf_host(bridge_id) + ".",
        )

    async def start(self) -> None:
        """Announce the service."""
        if self._interfaces:
            self._zc = AsyncZeroconf(interfaces=self._interfaces, ip_version=IPVersion.V4Only)
        else:
            self._zc = AsyncZeroconf()
        await self._zc.async_register_service(self.info)
        _LOGGER.info("Announced %s on zeroconf", self.info.name)

    async def stop(self) -> None:
        """Withdraw the service and close zeroconf."""
        if self._zc is None:
            return
        try:
            await self._zc.async_unregister_service(self.info)
        finally:
            await self._zc.async_close()
            self._zc = None


def zeroconf_host(bridge_id: str) -> str:
    """The host name the bridge announces on zeroconf (``thermosmart-….local``)."""
    return f"thermosmart-{bridge_id[:8]}.local"


def own_names(host: str, bridge_id: str) -> list[str]:
    """The names and addresses the bridge is known by on the LAN, for the API's Host
    allow-list: the listen address, the LAN addresses, the zeroconf host name and the
    machine's host name (bare, ``.local`` and fully qualified)."""
    names = [host, *lan_addresses(host), zeroconf_host(bridge_id)]
    machine = socket.gethostname()
    if machine:
        names += [machine, f"{machine.split('.')[0]}.local"]
    names.append(socket.getfqdn())
    wildcard = ("0.0.0.0", "", "::")  # noqa: S104
    return [n for n in dict.fromkeys(names) if n not in wildcard]


def lan_addresses(host: str) -> list[str]:
    """The addresses to announce for a listen address (``0.0.0.0`` = this host's)."""
    if host not in ("0.0.0.0", "", "::"):  # noqa: S104
        return [host]
    addresses: list[str] = []
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addr = str(info[4][0])
            if addr not in addresses and not addr.startswith("127."):
                addresses.append(addr)
    except OSError:
        pass
    return addresses or ["127.0.0.1"]
