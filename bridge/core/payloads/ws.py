"""The WebSocket push channel's messages, and what a webhook receives."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from bridge.core.contract import UNSET, Named, Unset, model, spec
from bridge.core.payloads.common import FieldError
from bridge.core.payloads.native import NativeState
from bridge.core.rules import TEXT_OR_NULL_RULE


@model
class WsState:
    """The whole native state: first on connect, after a resync."""

    type: Literal["state"]
    seq: int
    data: NativeState


@model
class WsChanged:
    type: Literal["changed"]
    seq: int
    data: dict[str, Any] = spec(
        description="a deep-merge patch of the native state: objects merge key by key, other "
        "values replace; keys are never removed"
    )


@model
class WsPong:
    type: Literal["pong"]


@model
class WsError:
    type: Literal["error"]
    error: str
    message: str
    errors: list[FieldError]


WsServerMessage = Annotated[
    WsState | WsChanged | WsPong | WsError, Named("WsServerMessage", one_of=True)
]


@model
class WsClientMessage:
    type: Literal["ping", "resync"]


@model
class WebhookRegistration:
    webhook_url: str | None = spec(rule=TEXT_OR_NULL_RULE, description="empty or null removes it")


@model
class LegacyWebhookRegistration:
    webhook: str | None = spec(rule=TEXT_OR_NULL_RULE, description="empty or null removes it")


@model
class WebhookMessage:
    """What the bridge POSTs to a webhook: the hardware id and only the changed fields of
    the thermostat object (`{"ot": {"raw": {…}}}` for OpenTherm); `{"code": 510}` says the
    webhook expired."""

    OPEN: ClassVar = True

    thermostat: str
    code: int | Unset = spec(default=UNSET)
