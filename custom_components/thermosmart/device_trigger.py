"""Device triggers of the boiler: a fault appeared, every fault cleared."""

from __future__ import annotations

from typing import Final

from homeassistant.components.device_automation import DEVICE_TRIGGER_BASE_SCHEMA
from homeassistant.components.homeassistant.triggers import event as event_trigger
from homeassistant.const import (
    CONF_DEVICE_ID,
    CONF_DOMAIN,
    CONF_EVENT_DATA,
    CONF_PLATFORM,
    CONF_TYPE,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.trigger import TriggerActionType, TriggerInfo
from homeassistant.helpers.typing import ConfigType
import voluptuous as vol

from .const import DOMAIN
from .entity import DeviceKind
from .faults import EVENT_BOILER_FAULT, EVENT_TYPE_CLEARED, EVENT_TYPE_FAULT

TRIGGER_BOILER_FAULT: Final = "boiler_fault"
TRIGGER_BOILER_FAULT_CLEARED: Final = "boiler_fault_cleared"
TRIGGER_EVENTS: Final[dict[str, str]] = {
    TRIGGER_BOILER_FAULT: EVENT_TYPE_FAULT,
    TRIGGER_BOILER_FAULT_CLEARED: EVENT_TYPE_CLEARED,
}
"""Trigger type -> the ``type`` of the ``thermosmart_boiler_fault`` event it fires on."""

TRIGGER_SCHEMA = DEVICE_TRIGGER_BASE_SCHEMA.extend(
    {vol.Required(CONF_TYPE): vol.In(TRIGGER_EVENTS)}
)


def _is_boiler(device: dr.DeviceEntry) -> bool:
    return any(
        domain == DOMAIN and ident.endswith(f"_{DeviceKind.BOILER}")
        for domain, ident in device.identifiers
    )


async def async_get_triggers(hass: HomeAssistant, device_id: str) -> list[dict[str, str]]:
    """The boiler's fault triggers (other devices of a bridge have none)."""
    device = dr.async_get(hass).async_get(device_id)
    if device is None or not _is_boiler(device):
        return []
    return [
        {
            CONF_PLATFORM: "device",
            CONF_DOMAIN: DOMAIN,
            CONF_DEVICE_ID: device_id,
            CONF_TYPE: trigger,
        }
        for trigger in TRIGGER_EVENTS
    ]


async def async_attach_trigger(
    hass: HomeAssistant,
    config: ConfigType,
    action: TriggerActionType,
    trigger_info: TriggerInfo,
) -> CALLBACK_TYPE:
    """Listen to the boiler's fault events of the chosen kind."""
    event_config = event_trigger.TRIGGER_SCHEMA(
        {
            CONF_PLATFORM: "event",
            event_trigger.CONF_EVENT_TYPE: EVENT_BOILER_FAULT,
            CONF_EVENT_DATA: {
                CONF_DEVICE_ID: config[CONF_DEVICE_ID],
                CONF_TYPE: TRIGGER_EVENTS[config[CONF_TYPE]],
            },
        }
    )
    return await event_trigger.async_attach_trigger(
        hass, event_config, action, trigger_info, platform_type="device"
    )
