"""Linking the bridge to an owner's cloud account: the OAuth 2.0 device grant (RFC 8628).

The bridge asks the cloud for a link (``POST /oauth2/device_authorization``),
shows the owner the user code and where to approve it, then polls the token
endpoint (``grant_type=urn:ietf:params:oauth:grant-type:device_code``) at the
interval the cloud gives (5 s more after each ``slow_down``) until the owner
approves, denies, or the code expires. The credential the cloud then issues
is stored in the bridge's database (``db.cloud``); nothing else is sent.

Every request goes through the bridge's one cloud client
(:class:`~bridge.services.cloud_client.CloudClient`): it checks the
``cloud_sync`` consent (and the cloud's terms version) before each request,
so a revocation stops the flow at once, writes the egress log, and sends
over verified HTTPS with a timeout. Nothing is sent without a configured
cloud URL and that consent (PRIVACY.md P5). A cloud that refuses, hangs or
answers something that is not the protocol is a :class:`LinkFailed` and
nothing about the link is stored.

:class:`CloudLinker` runs one link (``thermosmart-bridge cloud link`` waits
for it); :class:`CloudLinkService` runs it in the background for the native
API (``/api/v1/cloud/link``) and says where it stands.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
import contextlib
from dataclasses import dataclass
import logging
from typing import TYPE_CHECKING, Any

from yarl import URL

from bridge.core.payloads.privacy import (
    CloudLinkInfo,
    CloudLinkStatus,
    LinkCode,
    LinkState,
    Purpose,
)
from bridge.services.cloud_client import CloudError, NotAllowed, clip, finite_seconds
from bridge.storage import BRIDGE_ID, HARDWARE_ID

if TYPE_CHECKING:
    from bridge.services.cloud_client import CloudClient
    from bridge.storage import Database
    from bridge.storage.cloud import CloudLink

CLIENT_ID = "thermosmart-bridge"
"""The bridge's client id at the cloud (a public client: no secret)."""
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SCOPE = "bridge"
PURPOSE = Purpose.CLOUD_SYNC
"""Linking is part of cloud sync: it needs that consent and is logged under it."""
DEFAULT_INTERVAL_S = 5.0
"""The poll interval when the cloud names none (RFC 8628 section 3.2)."""
MIN_INTERVAL_S = 1.0
SLOW_DOWN_S = 5.0
"""What ``slow_down`` adds to the interval (RFC 8628 section 3.5)."""
_LOGGER = logging.getLogger(__name__)


class CloudLinkError(Exception):
    """Linking did not succeed; the message says why. Nothing about the link was stored."""


class LinkRefused(CloudLinkError):
    """The bridge will not try (or go on): no cloud URL, no consent, no id yet, or already
    linked. ``reason`` names which: ``no_cloud``, ``no_consent``, ``no_ids``,
    ``already_linked``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class LinkDenied(CloudLinkError):
    """The owner denied the link request at the cloud."""


class LinkExpired(CloudLinkError):
    """The user code expired before the owner answered."""


class LinkFailed(CloudLinkError):
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


@dataclass(frozen=True, slots=True)
class PendingLink:
    """A link the cloud has issued a code for, waiting for the owner's answer."""

    code: DeviceCode
    device_code: str
    bridge_id: str
    hardware_id: str
    started: float
    """The event loop's time when the code was issued."""


def _text(data: Mapping[str, Any], key: str, most: int = 2048) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not 1 <= len(value) <= most or not value.isprintable():
        raise LinkFailed(f"the cloud's answer has no valid {key}")
    return value


def _seconds(data: Mapping[str, Any], key: str, default: float | None) -> float:
    value = data.get(key)
    try:
        return finite_seconds({key: default if value is None else value}, key)
    except CloudError as err:
        raise LinkFailed(str(err)) from None


def _web_uri(data: Mapping[str, Any], key: str) -> str:
    value = _text(data, key)
    try:
        url = URL(value)
    except ValueError:
        url = None
    if url is None or url.scheme not in ("https", "http") or not url.host:
        raise LinkFailed(f"the cloud's answer has no valid {key}")
    return value


def _no_consent(reason: str) -> LinkRefused:
    return LinkRefused(
        "no_consent",
        f"{reason}: grant it first (PUT /api/v1/privacy/consents/{PURPOSE.value})",
    )


class CloudLinker:
    """Links the bridge to an owner's cloud account, once, by the device grant.

    ``client`` is the bridge's cloud client (None: no cloud is configured).
    """

    def __init__(
        self,
        db: Database,
        client: CloudClient | None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._db = db
        self._client = client
        self._sleep = sleep

    async def link(self, show: Callable[[DeviceCode], None]) -> CloudLink:
        """Run the device grant; ``show`` gets the code for the owner as soon as it is known.

        Returns the stored link; raises :class:`CloudLinkError` (one of its kinds).
        """
        pending = await self.begin()
        show(pending.code)
        return await self.finish(pending)

    async def begin(self) -> PendingLink:
        """Check the preconditions and ask the cloud for a code (:class:`CloudLinkError`)."""
        client = self._client
        if client is None:
            raise LinkRefused(
                "no_cloud",
                "no cloud is configured: set cloud_url in the config file or pass --cloud-url",
            )
        reason = await client.gate.why_not(PURPOSE)
        if reason is not None:
            raise _no_consent(reason)
        linked = await self._db.cloud.get()
        if linked is not None:
            raise LinkRefused(
                "already_linked",
                f"the bridge is already linked to {linked.cloud_url}: unlink first"
                " (`thermosmart-bridge cloud unlink` or DELETE /api/v1/cloud/link)",
            )
        bridge_id = await self._db.settings.get(BRIDGE_ID)
        hardware_id = await self._db.settings.get(HARDWARE_ID)
        if not bridge_id or not hardware_id:
            raise LinkRefused(
                "no_ids",
                "the bridge has no bridge id or hardware id yet: run `thermosmart-bridge run`"
                " once, then link",
            )
        consent = await self._db.consents.get(PURPOSE)
        assert consent is not None  # the gate just let it through
        status, answer = await self._post(
            "/oauth2/device_authorization",
            {
                "client_id": CLIENT_ID,
                "bridge_id": bridge_id,
                "hardware_id": hardware_id,
                "terms_version": consent.terms_version,
                "scope": SCOPE,
            },
        )
        if status != 200:
            raise LinkFailed(f"the cloud refused the link request: {_oauth_error(answer)}")
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
        return PendingLink(
            code=code,
            device_code=_text(answer, "device_code"),
            bridge_id=bridge_id,
            hardware_id=hardware_id,
            started=asyncio.get_running_loop().time(),
        )

    async def finish(self, pending: PendingLink) -> CloudLink:
        """Poll until the owner answers; store and return the link (:class:`CloudLinkError`)."""
        assert self._client is not None
        credential, thermostat = await self._poll(pending)
        if thermostat != pending.hardware_id:
            raise LinkFailed("the cloud linked another thermostat than this bridge's")
        return await self._db.cloud.store(
            str(self._client.base), pending.bridge_id, thermostat, credential
        )

    async def _poll(self, pending: PendingLink) -> tuple[str, str]:
        """Poll the token endpoint until an answer; (credential, thermostat)."""
        loop = asyncio.get_running_loop()
        deadline = pending.started + pending.code.expires_in
        interval = pending.code.interval
        form = {
            "grant_type": DEVICE_GRANT,
            "device_code": pending.device_code,
            "client_id": CLIENT_ID,
        }
        while True:
            if loop.time() + interval > deadline:
                raise LinkExpired("the code expired before the owner answered; link again")
            await self._sleep(interval)
            consent = await self._db.consents.get(PURPOSE)
            if consent is None or not consent.granted:
                raise LinkRefused(
                    "no_consent", f"the {PURPOSE.value} consent was revoked: linking stopped"
                )
            status, answer = await self._post("/oauth2/token", form)
            if status == 200:
                if answer.get("token_type") != "Bearer":
                    raise LinkFailed("the cloud's answer has no Bearer credential")
                return _text(answer, "access_token", 512), _text(answer, "thermostat", 64)
            error = answer.get("error")
            if status != 400 or not isinstance(error, str):
                raise LinkFailed(f"the cloud answered HTTP {status} to a poll")
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                interval += SLOW_DOWN_S
                continue
            if error == "access_denied":
                raise LinkDenied("the owner denied the link request at the cloud")
            if error == "expired_token":
                raise LinkExpired("the code expired before the owner answered; link again")
            raise LinkFailed(f"the cloud refused the poll: {_oauth_error(answer)}")

    async def _post(self, path: str, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """POST a form to the cloud through the cloud client; (status, JSON object)."""
        assert self._client is not None
        try:
            status, answer = await self._client.request("POST", path, purpose=PURPOSE, form=form)
        except NotAllowed as err:
            raise _no_consent(str(err)) from None
        except CloudError as err:
            raise LinkFailed(str(err)) from None
        if answer is None:
            raise LinkFailed(
                f"the cloud answered HTTP {status} to {path} with something that is not"
                " a JSON object"
            )
        return status, answer


def _oauth_error(answer: Mapping[str, Any]) -> str:
    """An OAuth error answer as one line: ``code: description``."""
    error = clip(answer.get("error", "no error code"))
    description = answer.get("error_description")
    return error if description is None else f"{error}: {clip(description)}"


_OUTCOMES: dict[type[CloudLinkError], LinkState] = {
    LinkDenied: LinkState.DENIED,
    LinkExpired: LinkState.EXPIRED,
}


def _info(link: CloudLink) -> CloudLinkInfo:
    return CloudLinkInfo(**link.as_dict())


class CloudLinkService:
    """Links in the background for the native API, one link at a time, and says where it
    stands (:meth:`status`)."""

    def __init__(
        self,
        db: Database,
        client: CloudClient | None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._db = db
        self._linker = CloudLinker(db, client, sleep=sleep)
        self._on_change = on_change
        """Called when the bridge was linked or unlinked (the flows that need the link)."""
        self._pending: PendingLink | None = None
        self._task: asyncio.Task[None] | None = None
        self._outcome: tuple[LinkState, str] | None = None
        self._starting = asyncio.Lock()

    @property
    def waiting(self) -> bool:
        """A link is waiting for the owner's answer."""
        return self._task is not None and not self._task.done()

    async def start(self) -> LinkCode:
        """Start a link (or return the code of the one waiting); raises :class:`LinkRefused`
        or :class:`LinkFailed` when the cloud could not issue a code (nothing is stored)."""
        async with self._starting:  # two requests at once start one link
            if self.waiting and self._pending is not None:
                return _code(self._pending.code)
            self._outcome = None
            try:
                pending = await self._linker.begin()
            except LinkFailed as err:
                self._outcome = (LinkState.FAILED, str(err))
                raise
            self._pending = pending
            self._task = asyncio.create_task(self._finish(pending), name="cloud-link")
            return _code(pending.code)

    async def _finish(self, pending: PendingLink) -> None:
        try:
            link = await self._linker.finish(pending)
        except CloudLinkError as err:
            self._outcome = (_OUTCOMES.get(type(err), LinkState.FAILED), str(err))
            _LOGGER.info("Linking to the cloud ended: %s", err)
        except Exception as err:  # a broken disk must not leave the state at waiting
            self._outcome = (LinkState.FAILED, f"linking stopped: {clip(err)}")
            _LOGGER.exception("Linking to the cloud stopped")
        else:
            self._outcome = (LinkState.LINKED, f"linked to {link.cloud_url}")
            _LOGGER.info("Linked to the cloud at %s as %s", link.cloud_url, link.thermostat)
            if self._on_change is not None:
                self._on_change()
        finally:
            self._pending = None

    async def status(self) -> CloudLinkStatus:
        """Waiting (with the code), linked (with the link), else how the last attempt ended,
        else idle."""
        if self.waiting and self._pending is not None:
            return CloudLinkStatus(
                state=LinkState.WAITING,
                message="waiting for the owner to approve the code at the cloud",
                code=_code(self._pending.code),
                link=None,
            )
        link = await self._db.cloud.get()
        if link is not None:
            return CloudLinkStatus(
                state=LinkState.LINKED,
                message=f"linked to {link.cloud_url}",
                code=None,
                link=_info(link),
            )
        if self._outcome is not None and self._outcome[0] is not LinkState.LINKED:
            state, message = self._outcome
            return CloudLinkStatus(state=state, message=message, code=None, link=None)
        return CloudLinkStatus(state=LinkState.IDLE, message=None, code=None, link=None)

    async def unlink(self) -> CloudLinkStatus:
        """Stop a waiting link and forget the stored one with its credential (the cloud keeps
        its side of the link); the status after (idle)."""
        await self.cancel()
        await self._db.cloud.forget()
        if self._on_change is not None:
            self._on_change()
        return await self.status()

    async def cancel(self) -> None:
        """Stop a waiting link (an erase, or the bridge stopping); nothing is stored."""
        await self._cancel()
        self._outcome = None

    async def _cancel(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pending = None


def _code(code: DeviceCode) -> LinkCode:
    return LinkCode(
        user_code=code.user_code,
        verification_uri=code.verification_uri,
        verification_uri_complete=code.verification_uri_complete,
        expires_in=code.expires_in,
    )
