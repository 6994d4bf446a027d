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
    Faults,
    LinkInfo,
    Options,
    PairingResult,
    Predictions,
    Programs,
    ScheduleEntry,
    ScheduleException,
    SlaveStatus,
    Thermostat,
)
from .schedule import Block, blocks_between

__all__ = [
    "COUNTER_NAMES",
    "HEARTBEAT",
    "HEATING_SYSTEMS",
    "PROGRAM_NAMES",
    "Block",
    "Boiler",
    "BoilerValue",
    "BridgeInfo",
    "BridgeState",
    "Capabilities",
    "ControlCommand",
    "Faults",
    "LinkInfo",
    "Options",
    "PairingResult",
    "Predictions",
    "Programs",
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
    "blocks_between",
]
