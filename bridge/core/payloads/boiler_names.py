"""The names the API gives OpenTherm's fault flags and counters.

A module of its own, importing nothing, so the OpenTherm layer decodes ID 5
into the same names the payloads publish without depending on the rest of
the payloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

#: OpenTherm counters (IDs 116-123) by their name in the native state.
BOILER_COUNTER_IDS: Final[Mapping[str, int]] = {
    "burner_starts": 116,
    "ch_pump_starts": 117,
    "dhw_pump_starts": 118,
    "dhw_burner_starts": 119,
    "burner_hours": 120,
    "ch_pump_hours": 121,
    "dhw_pump_hours": 122,
    "dhw_burner_hours": 123,
}

#: ID 5's application-specific fault flags (high byte, bits 0-5).
FAULT_FLAGS: Final = (
    "service_request",
    "remote_reset_enabled",
    "low_water_pressure",
    "gas_flame_fault",
    "air_pressure_fault",
    "water_over_temperature",
)
