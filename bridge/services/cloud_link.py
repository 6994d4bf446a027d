"""Linking the bridge to an owner's cloud account: the OAuth 2.0 device grant (RFC 8628).

The bridge asks the cloud for a link (``POST /oauth2/device_authorization``),
shows the owner the user code and where to approve it, then polls the token
endpoint (``grant_type=urn:ietf:params:oauth:grant-type:device_code``) at the
interval the cloud gives (5 s more after each ``slow_down``) until the owner
approves, denies, or the code expires. The credential the cloud then issues
is stored in the bridge's database (``db.cloud``); nothing else is sent.

Nothing is sent without a configured cloud URL and a current ``cloud_sync``
consent (PRIVACY.md P5); the consent is checked again before every request,
so a revocation stops the flow at once. Every request is written to the
egress log before it is sent (host, path, purpose, field names, size; never
the values). HTTPS is verified with the system's CAs or the configured CA
file; plain http only to loopback (``bridge.config``). Every request has a
timeout; a cloud that refuses, hangs or answers something that is not the
protocol is a :class:`CloudError` and nothing about the link is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
import json
import math
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from bridge.core.payloads.privacy import Purpose
from bridge.storage import BRIDGE_ID, HARDWARE_ID

if TYPE_CHECKING:
    from bridge.storage import Database
    from bridge.storage.cloud import CloudLink

CLIENT_ID = "thermosmart-bridge"
"""The bridge's client id at the cloud (a public client: no secret)."""
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SCOPE = "bridge"
PURPOSE = Purpose.CLOUD_SYNC
"""Linking is part of cloud sync: it needs that consent and is logged under it."""
REQUEST_TIMEOUT_S = 10.0
"""The most any one request to the cloud may take, connecting included."""
DEFAULT_INTERVAL_S = 5.0
"""The poll interval when the cloud names none (RFC 8628 section 3.2)."""
MIN_INTERVAL_S = 1.0
SLOW_DOWN_S = 5.0
"""What ``slow_down`` adds to the interval (RFC 8628 section 3.5)."""
MAX_ANSWER_BYTES = 64 * 1024
"""A longer answer is not the protocol."""
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_TEXT_MAX = 200
"""How much of a text the cloud sent is repeated in a message."""


class CloudLinkError(Exception):
    """Linking did not succeed; the message says why. Nothing about the link was stored."""


class LinkRefused(CloudLinkError):
    """The bridge will not try: no cloud URL, no consent, no id yet, or already linked."""


class LinkDenied(CloudLinkError):
    """The owner denied the link request at the cloud."""


class LinkExpired(CloudLinkError):
    """The user code expired before the owner answered."""


class CloudError(CloudLinkError):
    """The cloud could not be reached, timed out, refused, or answered outside the protocol."""


@dataclass(frozen=True, slots=True)
class DeviceCode:
    """What the owner needs to approve the link at the cloud."""

    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    interval: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-able fields (no device code: that stays with the bridge)."""
        return {
            "user_code": self.user_code,
            "verification_uri": self.verification_uri,
            "verification_uri_complete": self.verification_uri_complete,
            "expires_in": self.expires_in,
        }


def cloud_ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """The context the cloud's certificate is verified with: the system's CAs, or only
    those in ``ca_file`` (PEM) when one is configured (:class:`LinkRefused` if it is
    not one)."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (ssl.SSLError, OSError, ValueError) as err:
        raise LinkRefused(
            f"cloud_ca_file {ca_file}: not a readable PEM file of CA certificates ({_clip(err)})"
        ) from None


def _clip(value: object) -> str:
    """A text from the cloud, safe to repeat in one line of a message."""
    text = "".join(c if c.isprintable() else "?" for c in str(value))
    return text if len(text) <= _TEXT_MAX else text[:_TEXT_MAX] + "…"


def _text(data: Mapping[str, Any], key: str, most: int = 2048) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not 1 <= len(value) <= most or not value.isprintable():
        raise CloudError(f"the cloud's answer has no valid {key}")
    return value


def _seconds(data: Mapping[str, Any], key: str, default: float | None) -> float:
    value = data.get(key)
    if value is None:
        value = default
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise CloudError(f"the cloud's answer has no valid {key}")
    return float(value)


def _web_uri(data: Mapping[str, Any], key: str) -> str:
    value = _text(data, key)
    try:
        url = URL(value)
    except ValueError:
        url = None
    if url is None or url.scheme not in ("https", "http") or not url.host:
        raise CloudError(f"the cloud's answer has no valid {key}")
    return value


class CloudLinker:
    """Links the bridge to an owner's cloud account, once, by the device grant."""

    def __init__(
        self,
        db: Database,
        cloud_url: str | None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = REQUEST_TIMEOUT_S,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._db = db
        self._base = None if cloud_url is None else URL(cloud_url.rstrip("/"))
        self._ssl = ssl_context if ssl_context is not None else cloud_ssl_context(None)
        self._timeout = timeout
        self._sleep = sleep

    async def link(self, show: Callable[[DeviceCode], None]) -> CloudLink:
        """Run the device grant; ``show`` gets the code for the owner as soon as it is known.

        Returns the stored link; raises :class:`CloudLinkError` (one of its kinds).
        """
        base, terms_version = await self._preconditions()
        bridge_id = await self._db.settings.get(BRIDGE_ID)
        hardware_id = await self._db.settings.get(HARDWARE_ID)
        if not bridge_id or not hardware_id:
            raise LinkRefused(
                "the bridge has no bridge id or hardware id yet: run `thermosmart-bridge run`"
                " once, then link"
            )
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        connector = aiohttp.TCPConnector(ssl=self._ssl)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            status, answer = await self._post(
                session,
                base / "oauth2" / "device_authorization",
                {
                    "client_id": CLIENT_ID,
                    "bridge_id": bridge_id,
                    "hardware_id": hardware_id,
                    "terms_version": terms_version,
                    "scope": SCOPE,
                },
            )
            if status != 200:
                raise CloudError(f"the cloud refused the link request: {_oauth_error(answer)}")
            device_code = _text(answer, "device_code")
            code = DeviceCode(
                user_code=_text(answer, "user_code", 64),
                verification_uri=_web_uri(answer, "verification_uri"),
                verification_uri_complete=(
                    _web_uri(answer, "verification_uri_complete")
                    if answer.get("verification_uri_complete") is not None
                    else None
                ),
                expires_in=_seconds(answer, "expires_in", None),
                interval=max(MIN_INTERVAL_S, _seconds(answer, "interval", DEFAULT_INTERVAL_S)),
            )
            show(code)
            credential, thermostat = await self._poll(session, base, device_code, code)
        if thermostat != hardware_id:
            raise CloudError("the cloud linked another thermostat than this bridge's")
        return await self._db.cloud.store(str(base), bridge_id, thermostat, credential)

    async def _preconditions(self) -> tuple[URL, str]:
        """The cloud's URL and the terms version of the consent; refuses before any request."""
        if self._base is None:
            raise LinkRefused(
                "no cloud is configured: set cloud_url in the config file or pass --cloud-url"
            )
        consent = await self._db.consents.get(PURPOSE)
        if consent is None or not consent.granted:
            raise LinkRefused(
                f"the owner has not consented to {PURPOSE.value}: grant it first"
                f" (PUT /api/v1/privacy/consents/{PURPOSE.value})"
            )
        linked = await self._db.cloud.get()
        if linked is not None:
            raise LinkRefused(
                f"the bridge is already linked to {linked.cloud_url}:"
                " run `thermosmart-bridge cloud unlink` first"
            )
        return self._base, consent.terms_version

    async def _poll(
        self, session: aiohttp.ClientSession, base: URL, device_code: str, code: DeviceCode
    ) -> tuple[str, str]:
        """Poll the token endpoint until an answer; (credential, thermostat)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + code.expires_in
        interval = code.interval
        form = {"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": CLIENT_ID}
        while True:
            if loop.time() + interval > deadline:
                raise LinkExpired("the code expired before the owner answered; link again")
            await self._sleep(interval)
            consent = await self._db.consents.get(PURPOSE)
            if consent is None or not consent.granted:
                raise LinkRefused(f"the {PURPOSE.value} consent was revoked: linking stopped")
            status, answer = await self._post(session, base / "oauth2" / "token", form)
            if status == 200:
                if answer.get("token_type") != "Bearer":
                    raise CloudError("the cloud's answer has no Bearer credential")
                return _text(answer, "access_token", 512), _text(answer, "thermostat", 64)
            error = answer.get("error")
            if status != 400 or not isinstance(error, str):
                raise CloudError(f"the cloud answered HTTP {status} to a poll")
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                interval += SLOW_DOWN_S
                continue
            if error == "access_denied":
                raise LinkDenied("the owner denied the link request at the cloud")
            if error == "expired_token":
                raise LinkExpired("the code expired before the owner answered; link again")
            raise CloudError(f"the cloud refused the poll: {_oauth_error(answer)}")

    async def _post(
        self, session: aiohttp.ClientSession, url: URL, form: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """POST a form to the cloud, logged as egress first; (status, JSON object)."""
        body = urlencode(form).encode("ascii")
        await self._db.egress.record(
            url.host or "", url.raw_path, PURPOSE.value, sorted(form), len(body)
        )
        try:
            async with session.post(url, data=body, headers=_FORM, allow_redirects=False) as resp:
                raw = await resp.content.read(MAX_ANSWER_BYTES + 1)
                status = resp.status
        except TimeoutError:
            raise CloudError(
                f"the cloud at {url.host} did not answer within {self._timeout:g} s"
            ) from None
        except aiohttp.ClientSSLError as err:
            raise CloudError(f"the cloud's certificate was not accepted: {_clip(err)}") from None
        except (OSError, aiohttp.ClientError) as err:
            raise CloudError(
                f"the cloud at {url.host} could not be reached: {_clip(err) or type(err).__name__}"
            ) from None
        if len(raw) > MAX_ANSWER_BYTES:
            raise CloudError(f"the cloud's answer to {url.path} is too long")
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise CloudError(
                f"the cloud answered HTTP {status} to {url.path} with something that is not"
                " a JSON object"
            )
        return status, data


def _oauth_error(answer: Mapping[str, Any]) -> str:
    """An OAuth error answer as one line: ``code: description``."""
    error = _clip(answer.get("error", "no error code"))
    description = answer.get("error_description")
    return error if description is None else f"{error}: {_clip(description)}"
