"""Data models of the bridge API, as typed dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .exceptions import ThermoSmartResponseError


def _req(data: dict[str, Any], key: str, typ: type) -> Any:
    value = data.get(key)
    if not isinstance(value, typ) or (isinstance(value, bool) and typ is not bool):
        raise ThermoSmartResponseError(f"field {key!r} missing or not {typ.__name__}")
    return value


@dataclass(frozen=True, kw_only=True, slots=True)
class BridgeInfo:
    """What ``GET /api/v1/health`` tells about a bridge."""

    bridge_id: str
    api_version: int
    version: str
    name: str

    @classmethod
    def from_dict(cls, data: Any) -> BridgeInfo:
        if not isinstance(data, dict):
            raise ThermoSmartResponseError("health answer is not an object")
        return cls(
            bridge_id=_req(data, "bridge_id", str),
            api_version=_req(data, "api_version", int),
            version=_req(data, "version", str),
            name=_req(data, "name", str),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class PairingResult:
    """A token the bridge issued for a pairing code."""

    access_token: str
    token_id: str
    bridge_id: str

    @classmethod
    def from_dict(cls, data: Any) -> PairingResult:
        if not isinstance(data, dict):
            raise ThermoSmartResponseError("pairing answer is not an object")
        return cls(
            access_token=_req(data, "access_token", str),
            token_id=str(_req(data, "token_id", str)),
            bridge_id=_req(data, "bridge_id", str),
        )
