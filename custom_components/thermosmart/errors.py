"""One translation of the client's errors into Home Assistant's, for entities and actions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .client import (
    ThermoSmartAuthenticationError,
    ThermoSmartConnectionError,
    ThermoSmartError,
    ThermoSmartValidationError,
)
from .const import DOMAIN

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from . import ThermoSmartConfigEntry


def describe_refusal(err: ThermoSmartValidationError) -> str:
    """The bridge's refusal as ``field: rule; …`` a user can act on."""
    if not err.errors:
        return str(err)
    return "; ".join(f"{item.get('field')}: {item.get('rule')}" for item in err.errors)


@asynccontextmanager
async def bridge_command(hass: HomeAssistant, entry: ThermoSmartConfigEntry) -> AsyncIterator[None]:
    """Run a command against the bridge; on success show its result at once.

    A refusal becomes a translated ``ServiceValidationError``; a refused token
    starts re-pairing; anything else a translated ``HomeAssistantError``.
    """
    try:
        yield
    except ThermoSmartValidationError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_request",
            translation_placeholders={"error": describe_refusal(err)},
        ) from err
    except ThermoSmartAuthenticationError as err:
        entry.async_start_reauth(hass)
        raise HomeAssistantError(translation_domain=DOMAIN, translation_key="auth_failed") from err
    except ThermoSmartConnectionError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="communication_error",
            translation_placeholders={"error": str(err)},
        ) from err
    except ThermoSmartError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="unexpected_error",
            translation_placeholders={"error": str(err)},
        ) from err
    entry.runtime_data.coordinator.async_apply_client_state()
