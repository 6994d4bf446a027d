"""The REST part of the bridge client."""

from __future__ import annotations

import asyncio
from http import HTTPStatus
import json
import socket
from typing import Any, Self

import aiohttp
from yarl import URL

from .exceptions import (
    ThermoSmartAuthenticationError,
    ThermoSmartConnectionError,
    ThermoSmartError,
    ThermoSmartRateLimitError,
    ThermoSmartResponseError,
    ThermoSmartValidationError,
)
from .models import BridgeInfo, PairingResult

DEFAULT_PORT = 8722
DEFAULT_TIMEOUT = 10.0


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
    ) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._close_session = True
        headers = {"Accept": "application/json"}
        if auth:
            if not self.token:
                raise ThermoSmartAuthenticationError("no token: pair with the bridge first")
            headers["Authorization"] = f"Bearer {self.token}"
        url = self.base_url.join(URL(path))
        try:
            async with asyncio.timeout(self.request_timeout):
                response = await self._session.request(method, url, json=json_body, headers=headers)
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
        """The bridge's whole native state."""
        data = await self._request("GET", "/api/v1/state")
        if not isinstance(data, dict):
            raise ThermoSmartResponseError("state answer is not an object")
        return data

    async def close(self) -> None:
        """Close the session if the client made it."""
        if self._session is not None and self._close_session:
            await self._session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
