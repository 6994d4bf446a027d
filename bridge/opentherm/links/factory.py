"""One boiler URL in, the right link out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bridge.opentherm.links.modbus import ModbusLink
from bridge.opentherm.links.onoff import OnOffLink
from bridge.opentherm.links.otgw import OtgwLink
from bridge.opentherm.links.sim import SimLink
from bridge.opentherm.links.unit import SCHEME as UNIT_SCHEME, UnitLink
from bridge.opentherm.modbus_maps import build_profiles

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.opentherm.links.base import BoilerLink


class BoilerUrlError(ValueError):
    """A boiler URL that names no known adapter or has bad parameters."""


def make_link(
    url: str,
    clock: Clock,
    *,
    modbus_profiles: Mapping[str, Any] | None = None,
    sim: Mapping[str, Any] | None = None,
) -> BoilerLink:
    """The link for a boiler URL (``sim://``, ``otgw+tcp://``, ``modbus+tcp://``,
    ``thermosmart-unit://`` …).

    ``sim`` is the config's ``[sim]`` table, used only by ``sim://``.
    """
    scheme = urlsplit(url).scheme
    try:
        if scheme == "sim":
            return SimLink.from_url(url, clock=clock, table=sim)
        if scheme in ("otgw+tcp", "socket", "otgw+serial"):
            return OtgwLink.from_url(url, clock=clock)
        if scheme in ("modbus+tcp", "modbus+rtu"):
            return ModbusLink.from_url(url, profiles=build_profiles(modbus_profiles), clock=clock)
        if scheme in ("onoff+modbus+tcp", "onoff+modbus+rtu"):
            return OnOffLink.from_url(url, clock=clock)
        if scheme == UNIT_SCHEME:
            return UnitLink.from_url(url, clock=clock)
    except ValueError as err:
        raise BoilerUrlError(str(err)) from err
    raise BoilerUrlError(f"{url!r}: unknown boiler URL scheme {scheme!r}")
