"""The bridge client: REST calls and the WebSocket push channel."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import copy
from datetime import datetime
from http import HTTPStatus
import json
import logging
import socket
from typing import Any, Self

import aiohttp
from yarl import URL

from .exceptions import (
    ThermoSmartAuthenticationError,
    ThermoSmartConflictError,
    ThermoSmartConnectionError,
    ThermoSmartError,
    ThermoSmartRateLimitError,
    ThermoSmartResponseError,
    ThermoSmartValidationError,
)
from .models import (
    BridgeInfo,
    BridgeState,
    CloudLinkStatus,
    EgressRecord,
    LinkCode,
    Options,
    PairingResult,
    Predictions,
    Purposes,
    ScheduleBlock,
    Thermostat,
    merge_patch,
)

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORT = 8722
DEFAULT_TIMEOUT = 10.0
HEARTBEAT = 30.0
"""Seconds between WebSocket pings; a bridge that does not answer is dropped."""
CLOSE_TOKEN_REVOKED = 4401
"""The bridge's close code for a socket whose token was revoked or expired."""
MAX_MESSAGE = 4 * 1024 * 1024

StateCallback = Callable[[BridgeState], None]


class ThermoSmartClient:
    """Talks to one bridge over its LAN API.

    Pass an ``aiohttp.ClientSession`` to share one; the client closes only a
    session it made itself.
    """

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        token: str | None = None,
        session: aiohttp.ClientSession | None = None,
        request_timeout: float = DEFAULT_TIMEOUT,
        ssl: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.request_timeout = request_timeout
        self._session = session
        self._close_session = False
        self._scheme = "https" if ssl else "http"
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._closing = False
        self._document: dict[str, Any] | None = None
        self._seq: int | None = None
        self._thermostat_view: dict[str, Any] = {}
        self._predictions: Predictions | None = None

    @property
    def base_url(self) -> URL:
        """The bridge's root URL."""
        return URL.build(scheme=self._scheme, host=self.host, port=self.port)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        auth: bool = True,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        session = self._get_session()
        headers = {"Accept": "application/json"}
        if auth:
            if not self.token:
                raise ThermoSmartAuthenticationError("no token: pair with the bridge first")
            headers["Authorization"] = f"Bearer {self.token}"
        url = self.base_url.join(URL(path))
        if params:
            url = url.with_query(params)
        try:
            async with asyncio.timeout(self.request_timeout):
                response = await session.request(method, url, json=json_body, headers=headers)
                body = await response.read()
        except TimeoutError as err:
            raise ThermoSmartConnectionError(f"timeout talking to the bridge at {url}") from err
        except (aiohttp.ClientError, socket.gaierror, OSError) as err:
            raise ThermoSmartConnectionError(f"cannot reach the bridge at {url}: {err}") from err

        data: Any = None
        if body:
            try:
                data = json.loads(body)
            except ValueError as err:
                raise ThermoSmartResponseError(
                    f"the bridge answered {url} with something that is not JSON"
                ) from err
        status = response.status
        message = data.get("message", "") if isinstance(data, dict) else ""
        if status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN):
            raise ThermoSmartAuthenticationError(message or f"the bridge refused access ({status})")
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            raise ThermoSmartRateLimitError(message or "too many attempts; wait and try again")
        if status == HTTPStatus.BAD_REQUEST:
            errors = data.get("errors", []) if isinstance(data, dict) else []
            raise ThermoSmartValidationError(message or "the bridge rejected the request", errors)
        if status == HTTPStatus.CONFLICT:
            error = data.get("error") if isinstance(data, dict) else None
            raise ThermoSmartConflictError(
                message or "the bridge will not do this now", str(error or "conflict")
            )
        if status >= 400:
            raise ThermoSmartError(f"the bridge answered {status} for {method} {path}: {message}")
        return data

    async def health(self) -> BridgeInfo:
        """Who the bridge is (needs no token)."""
        return BridgeInfo.from_dict(await self._request("GET", "/api/v1/health", auth=False))

    async def pair(self, code: str, client_name: str) -> PairingResult:
        """Exchange a one-time pairing code for a token, and keep the token."""
        result = PairingResult.from_dict(
            await self._request(
                "POST",
                "/api/v1/pair",
                json_body={"code": code, "client_name": client_name},
                auth=False,
            )
        )
        self.token = result.access_token
        return result

    async def state(self) -> dict[str, Any]:
        """The bridge's whole native state, as the bridge sent it."""
        data = await self._request("GET", "/api/v1/state")
        if not isinstance(data, dict):
            raise ThermoSmartResponseError("state answer is not an object")
        return data

    # -- the typed state ----------------------------------------------------------

    @property
    def current_state(self) -> BridgeState | None:
        """The state as last read or pushed (None before the first read)."""
        if self._document is None:
            return None
        return self._build()

    @property
    def document(self) -> dict[str, Any] | None:
        """A copy of the last native state as the bridge sent it (for diagnostics)."""
        return None if self._document is None else copy.deepcopy(self._document)

    @property
    def thermostat_view(self) -> dict[str, Any]:
        """A copy of the last native thermostat view (for diagnostics)."""
        return copy.deepcopy(self._thermostat_view)

    def _build(self) -> BridgeState:
        assert self._document is not None
        document = self._document
        thermostat = document.get("thermostat")
        if self._thermostat_view and isinstance(thermostat, dict):
            # the pushed state wins; the view adds programs, schedule and exceptions
            document = {**document, "thermostat": {**self._thermostat_view, **thermostat}}
        pushed = document.get("predictions")
        if isinstance(pushed, Mapping):
            return BridgeState.from_dict(document, predictions=Predictions.from_dict(pushed))
        return BridgeState.from_dict(document, predictions=self._predictions)

    def _keep_document(self, document: dict[str, Any]) -> None:
        """Take a whole state as the bridge sent it (before any view is merged into it)."""
        self._document = document

    async def native_state(self) -> BridgeState:
        """Read the whole state (the thermostat with its programs and schedule, the predictions)."""
        document = await self.state()
        view = await self._thermostat_request("GET")
        BridgeState.from_dict(document)  # check the shape before keeping it
        self._keep_document(document)
        self._seq = None
        self._thermostat_view = view
        return self._build()

    async def schedule_blocks(self, start: datetime, end: datetime) -> list[ScheduleBlock]:
        """``GET /api/v1/schedule/blocks``: the bridge's resolved schedule, at most 31 days.

        The blocks overlapping ``[start, end)`` (aware datetimes), in order, unclipped.
        """
        data = await self._request(
            "GET",
            "/api/v1/schedule/blocks",
            params={"start": start.isoformat(), "end": end.isoformat()},
        )
        blocks = data.get("blocks") if isinstance(data, dict) else None
        if not isinstance(blocks, list):
            raise ThermoSmartResponseError("the schedule blocks answer has no list of blocks")
        return [ScheduleBlock.from_dict(item) for item in blocks]

    async def _thermostat_request(
        self, method: str, path: str = "/api/v1/thermostat", body: Any = None
    ) -> dict[str, Any]:
        data = await self._request(method, path, json_body=body)
        if not isinstance(data, dict):
            raise ThermoSmartResponseError("thermostat answer is not an object")
        Thermostat.from_dict(data)
        return data

    def _keep_view(self, view: dict[str, Any]) -> Thermostat:
        """Remember a thermostat view, and merge its live fields into the state."""
        self._thermostat_view = view
        if self._document is not None and isinstance(self._document.get("thermostat"), dict):
            merge_patch(self._document["thermostat"], view)
        return Thermostat.from_dict(view)

    async def thermostat(self) -> Thermostat:
        """``GET /api/v1/thermostat``: the live thermostat with programs, schedule, exceptions."""
        return self._keep_view(await self._thermostat_request("GET"))

    async def predictions(self) -> Predictions:
        """``GET /api/v1/predictions``: what the learning module predicts."""
        self._predictions = Predictions.from_dict(await self._request("GET", "/api/v1/predictions"))
        return self._predictions

    async def diagnostics(self) -> dict[str, Any]:
        """``GET /api/v1/diagnostics``: counters, versions and uptime (no personal data)."""
        data = await self._request("GET", "/api/v1/diagnostics")
        if not isinstance(data, dict):
            raise ThermoSmartResponseError("diagnostics answer is not an object")
        return data

    # -- commands -------------------------------------------------------------------

    async def update_thermostat(self, changes: Mapping[str, Any]) -> Thermostat:
        """``PATCH /api/v1/thermostat``: apply fields of a thermostat update whole or not at all.

        A ``target_temperature`` is a manual override until the next block.
        Raises :class:`ThermoSmartValidationError` naming the fields the
        bridge refused.
        """
        return self._keep_view(await self._thermostat_request("PATCH", body=dict(changes)))

    async def set_target_temperature(self, temperature: float) -> Thermostat:
        """Hold ``temperature`` (5-30 °C) until the next block of the schedule; ends a pause."""
        return await self.update_thermostat({"target_temperature": temperature})

    async def set_program_temperatures(self, programs: Mapping[str, float]) -> Thermostat:
        """Change the temperature of one or more programs."""
        return await self.update_thermostat({"programs": dict(programs)})

    async def set_paused(self, paused: bool) -> Thermostat:
        """Pause (hold the pause program; frost protection stays) or resume."""
        return self._keep_view(
            await self._thermostat_request("POST", "/api/v1/thermostat/pause", {"pause": paused})
        )

    async def clear_override(self) -> Thermostat:
        """Drop a manual or remote target: back to the schedule."""
        return self._keep_view(
            await self._thermostat_request("POST", "/api/v1/thermostat/override/clear")
        )

    async def set_outside_temperature(self, celsius: float) -> Thermostat:
        """Push an outside temperature, °C; the bridge uses it for a while.

        A boiler with its own outside sensor wins over it; without fresh
        pushes the outside temperature goes missing (the bridge has no
        weather source of its own).
        """
        return await self.update_thermostat({"outside_temperature": celsius})

    # -- options ------------------------------------------------------------------------

    def _keep_options(self, data: Any) -> Options:
        if not isinstance(data, dict):
            raise ThermoSmartResponseError("options answer is not an object")
        options = Options.from_dict(data)
        if self._document is not None:
            self._document["options"] = data
        return options

    async def options(self) -> Options:
        """``GET /api/v1/options``: the owner's options, defaults filled in."""
        return self._keep_options(await self._request("GET", "/api/v1/options"))

    async def set_options(self, **changes: Any) -> Options:
        """``PUT /api/v1/options``: change some options whole or not at all.

        Keys: ``preheat``, ``heating_system``, ``max_ch_setpoint``,
        ``dhw_enable``, ``dhw_setpoint``, and a wall unit's ``unit_brightness``,
        ``unit_status_led``, ``unit_display``, ``unit_calibration``,
        ``unit_language``, ``unit_poll_throttle``, ``unit_pid_tuning``. Raises
        :class:`ThermoSmartValidationError` naming the fields the bridge refused.
        Returns all the options now in effect.
        """
        return self._keep_options(await self._request("PUT", "/api/v1/options", json_body=changes))

    # -- privacy and the cloud link ---------------------------------------------------------

    async def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        data = await self._request(method, path, **kwargs)
        if not isinstance(data, dict):
            raise ThermoSmartResponseError(f"the answer to {method} {path} is not an object")
        return data

    async def purposes(self) -> Purposes:
        """``GET /api/v1/privacy/purposes``: what each purpose sends, its decision, and the
        cloud's terms version."""
        return Purposes.from_dict(await self._object("GET", "/api/v1/privacy/purposes"))

    async def ask_terms(self) -> Purposes:
        """``POST /api/v1/privacy/terms``: the bridge asks the cloud's terms version now (no
        data of the home); the purposes after. :class:`ThermoSmartConflictError` with
        ``no_cloud`` or ``cloud_failed`` when it could not."""
        return Purposes.from_dict(await self._object("POST", "/api/v1/privacy/terms"))

    async def set_consent(self, purpose: str, *, granted: bool, terms_version: str) -> None:
        """``PUT /api/v1/privacy/consents/{purpose}``: grant or revoke, at once."""
        await self._object(
            "PUT",
            f"/api/v1/privacy/consents/{purpose}",
            json_body={"granted": granted, "terms_version": terms_version},
        )

    async def egress(self, limit: int) -> list[EgressRecord]:
        """``GET /api/v1/privacy/egress``: the newest ``limit`` records (field names only)."""
        data = await self._object("GET", "/api/v1/privacy/egress", params={"limit": str(limit)})
        records = data.get("records")
        if not isinstance(records, list):
            raise ThermoSmartResponseError("the egress answer has no list of records")
        return [EgressRecord.from_dict(item) for item in records]

    async def export(self) -> dict[str, Any]:
        """``GET /api/v1/export``: everything the bridge stores about the household."""
        return await self._object("GET", "/api/v1/export")

    async def erase(self, *, revoke_tokens: bool = False) -> dict[str, Any]:
        """``POST /api/v1/erase``: personal data and history go (and every token, with
        ``revoke_tokens``: this client's too); rows deleted per class."""
        return await self._object(
            "POST", "/api/v1/erase", json_body={"confirm": True, "revoke_tokens": revoke_tokens}
        )

    async def start_cloud_link(self) -> LinkCode:
        """``POST /api/v1/cloud/link``: the user code the owner approves at the cloud.

        Raises :class:`ThermoSmartConflictError` when the bridge will not link.
        """
        return LinkCode.from_dict(await self._object("POST", "/api/v1/cloud/link"))

    async def cloud_link(self) -> CloudLinkStatus:
        """``GET /api/v1/cloud/link``: where linking stands."""
        return CloudLinkStatus.from_dict(await self._object("GET", "/api/v1/cloud/link"))

    # -- push ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the push channel is open."""
        return self._ws is not None and not self._ws.closed

    async def connect(self) -> None:
        """Open the push channel ``/api/v1/ws``."""
        if self.connected:
            return
        if not self.token:
            raise ThermoSmartAuthenticationError("no token: pair with the bridge first")
        session = self._get_session()
        url = self.base_url.with_path("/api/v1/ws")
        self._closing = False
        try:
            async with asyncio.timeout(self.request_timeout):
                self._ws = await session.ws_connect(
                    url,
                    headers={"Authorization": f"Bearer {self.token}"},
                    heartbeat=HEARTBEAT,
                    max_msg_size=MAX_MESSAGE,
                )
        except aiohttp.WSServerHandshakeError as err:
            if err.status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN):
                raise ThermoSmartAuthenticationError("the bridge refused the token") from err
            raise ThermoSmartConnectionError(
                f"the bridge refused the push channel ({err.status})"
            ) from err
        except TimeoutError as err:
            raise ThermoSmartConnectionError(f"timeout opening the push channel at {url}") from err
        except (aiohttp.ClientError, socket.gaierror, OSError) as err:
            raise ThermoSmartConnectionError(
                f"cannot open the push channel at {url}: {err}"
            ) from err
        self._seq = None

    async def listen(self, callback: StateCallback) -> None:
        """Apply pushed messages to the state and call ``callback`` with it, until the end.

        Returns when :meth:`disconnect` closed the channel; raises
        :class:`ThermoSmartConnectionError` when the bridge or the network
        closed it, and :class:`ThermoSmartAuthenticationError` when the
        bridge closed it because the token was revoked.
        """
        ws = self._ws
        if ws is None or ws.closed:
            raise ThermoSmartConnectionError("the push channel is not open")
        try:
            while True:
                msg = await ws.receive()
                if msg.type is aiohttp.WSMsgType.TEXT:
                    state = await self._handle_message(ws, msg.data)
                    if state is not None:
                        callback(state)
                elif msg.type is aiohttp.WSMsgType.ERROR:
                    raise ThermoSmartConnectionError(f"push channel error: {ws.exception()}")
                elif msg.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSED,
                ):
                    break
        finally:
            if self._ws is ws:
                self._ws = None
            if not ws.closed:
                await ws.close()
        if self._closing:
            return
        if ws.close_code == CLOSE_TOKEN_REVOKED:
            raise ThermoSmartAuthenticationError(
                "the bridge closed the push channel: token revoked"
            )
        raise ThermoSmartConnectionError(
            f"the bridge closed the push channel (code {ws.close_code})"
        )

    async def _handle_message(
        self, ws: aiohttp.ClientWebSocketResponse, text: str
    ) -> BridgeState | None:
        try:
            message = json.loads(text)
        except ValueError as err:
            raise ThermoSmartResponseError("the bridge pushed something that is not JSON") from err
        if not isinstance(message, dict):
            raise ThermoSmartResponseError("the bridge pushed something that is not an object")
        kind = message.get("type")
        seq = message.get("seq")
        data = message.get("data")
        if kind == "state":
            if not isinstance(data, dict):
                raise ThermoSmartResponseError("a pushed state is not an object")
            BridgeState.from_dict(data)
            self._keep_document(data)
        elif kind == "changed":
            if not isinstance(data, dict):
                raise ThermoSmartResponseError("a pushed change is not an object")
            if self._document is None or self._seq is None or seq != self._seq + 1:
                # missed a version: ask for the whole state instead of merging blindly
                self._seq = None
                await ws.send_json({"type": "resync"})
                return None
            merge_patch(self._document, data)
        else:
            if kind == "error":
                _LOGGER.debug("The bridge answered the push channel with %s", message)
            return None
        self._seq = seq if isinstance(seq, int) else None
        return self._build()

    async def disconnect(self) -> None:
        """Close the push channel; a running :meth:`listen` returns."""
        self._closing = True
        ws, self._ws = self._ws, None
        if ws is not None and not ws.closed:
            await ws.close()

    # -- session ------------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._close_session = True
        return self._session

    async def close(self) -> None:
        """Close the push channel, and the session if the client made it."""
        await self.disconnect()
        if self._session is not None and self._close_session:
            await self._session.close()
            self._session = None
            self._close_session = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
