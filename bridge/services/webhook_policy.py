"""What a webhook is sent and how an attempt is judged.

:class:`DeliveryPolicy` holds the timeouts, retries and expiry of webhook
deliveries; :func:`coalesce` merges changes into one pending message and
:func:`field_names` names its fields for the egress log; :class:`Attempt`,
:func:`is_permanent` and :func:`is_failed` judge how requests went. The
delivery worker is :mod:`bridge.services.webhook_delivery`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.storage import Webhook

__all__ = [
    "EXPIRED_MESSAGE",
    "PURPOSE",
    "Attempt",
    "DeliveryPolicy",
    "coalesce",
    "field_names",
    "is_failed",
    "is_permanent",
]

PURPOSE = "webhook"
"""The egress log's purpose for webhook deliveries."""
EXPIRED_MESSAGE: dict[str, Any] = {"code": 510}
"""Tells a client that its webhook expired."""
_TRANSIENT_4XX = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """Timeouts, retries and expiry of webhook deliveries (seconds of the clock)."""

    timeout: float = 10.0
    """Per attempt, real time: resolving, connecting, sending and the answer's status."""
    retry_base: float = 5.0
    retry_max: float = 900.0
    max_failures: int = 10
    probe_interval: float = 900.0
    """First wait before telling a failed webhook that it expired."""
    probe_max: float = 6 * 3600.0
    max_probes: int = 24
    record_interval: float = 60.0
    """A success is written to storage at most this often (failures always are)."""
    https_outside_lan: bool = True
    """Refuse plain HTTP to addresses outside the LAN (PRIVACY.md P1)."""

    def backoff(self, failures: int) -> float:
        """The wait before the next attempt after ``failures`` consecutive failures."""
        return float(min(self.retry_max, self.retry_base * 2 ** max(0, failures - 1)))


def coalesce(older: Mapping[str, Any] | None, newer: Mapping[str, Any]) -> dict[str, Any]:
    """One message with the changes of both; ``newer`` wins, ``ot.raw`` ids merge."""
    out = dict(older or {})
    for key, value in newer.items():
        previous = out.get(key)
        if key == "ot" and isinstance(value, Mapping) and isinstance(previous, Mapping):
            merged = {**previous, **value}
            old_raw, new_raw = previous.get("raw"), value.get("raw")
            if isinstance(old_raw, Mapping) and isinstance(new_raw, Mapping):
                merged["raw"] = {**old_raw, **new_raw}
            out[key] = merged
        else:
            out[key] = value
    return out


def field_names(message: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The message's field names, nested ones joined with dots (``ot.raw.ot25``)."""
    names: list[str] = []
    for key, value in message.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            names.extend(field_names(value, name + "."))
        else:
            names.append(name)
    return names


def is_permanent(status: int | None) -> bool:
    """A 4xx answer that retrying will not change."""
    return status is not None and 400 <= status < 500 and status not in _TRANSIENT_4XX


def is_failed(webhook: Webhook, policy: DeliveryPolicy) -> bool:
    """Whether stored delivery results mark ``webhook`` as failed."""
    return webhook.failures >= policy.max_failures or (
        webhook.failures > 0 and is_permanent(webhook.last_status)
    )


@dataclass(frozen=True, slots=True)
class Attempt:
    """How one request went."""

    status: int | None
    """The HTTP status, or None if no answer came."""
    error: str | None = None
    refused: bool = False
    """Not sent at all because policy forbids it (plain HTTP outside the LAN)."""

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def permanent(self) -> bool:
        """Retrying will not help."""
        return self.refused or is_permanent(self.status)
