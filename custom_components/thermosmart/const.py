"""Constants of the ThermoSmart Local integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "thermosmart"
LOGGER = logging.getLogger(__package__)

CONF_BRIDGE_ID: Final = "bridge_id"
CONF_TOKEN_ID: Final = "token_id"

DEFAULT_PORT: Final = 8722
CLIENT_NAME: Final = "Home Assistant"
