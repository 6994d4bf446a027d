"""Async client for the ThermoSmart Local bridge API.

It knows nothing of Home Assistant, so it can be tested and reused on its
own; the integration only wraps it.
"""

from .client import HEARTBEAT, ThermoSmartClient
from .exceptions import (
    ThermoSmartAuthenticationError,
    ThermoSmartConnectionError,
    ThermoSmartError,
    ThermoSmartRateLimitError,
    ThermoSmartResponseError,
    ThermoSmartValidationError,
)
from .models import (
    COUNTER_NAMES,
    HEATING_SYSTEMS,
    PROGRAM_NAMES,
    Boiler,
    BoilerValue,
    BridgeInfo,
    BridgeState,
    Capabilities,
    ControlCommand,
    Energy,
    Faults,
    LinkInfo,
    Options,
    PairingResult,
    Predictions,
    Programs,
    ScheduleBlock,
    ScheduleEntry,
    ScheduleException,
    SlaveStatus,
    Thermostat,
)

__all__ = [
    "COUNTER_NAMES",
    "HEARTBEAT",
    "HEATING_SYSTEMS",
    "PROGRAM_NAMES",
    "Boiler",
    "BoilerValue",
    "BridgeInfo",
    "BridgeState",
    "Capabilities",
    "ControlCommand",
    "Energy",
    "Faults",
    "LinkInfo",
    "Options",
    "PairingResult",
    "Predictions",
    "Programs",
    "ScheduleBlock",
    "ScheduleEntry",
    "ScheduleException",
    "SlaveStatus",
    "ThermoSmartAuthenticationError",
    "ThermoSmartClient",
    "ThermoSmartConnectionError",
    "ThermoSmartError",
    "ThermoSmartRateLimitError",
    "ThermoSmartResponseError",
    "ThermoSmartValidationError",
    "Thermostat",
]
