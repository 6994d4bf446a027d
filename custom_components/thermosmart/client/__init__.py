"""Async client for the ThermoSmart Local bridge API.

It knows nothing of Home Assistant, so it can be tested and reused on its
own; the integration only wraps it.
"""

from .client import ThermoSmartClient
from .exceptions import (
    ThermoSmartAuthenticationError,
    ThermoSmartConnectionError,
    ThermoSmartError,
    ThermoSmartRateLimitError,
    ThermoSmartResponseError,
    ThermoSmartValidationError,
)
from .models import BridgeInfo, PairingResult

__all__ = [
    "BridgeInfo",
    "PairingResult",
    "ThermoSmartAuthenticationError",
    "ThermoSmartClient",
    "ThermoSmartConnectionError",
    "ThermoSmartError",
    "ThermoSmartRateLimitError",
    "ThermoSmartResponseError",
    "ThermoSmartValidationError",
]
