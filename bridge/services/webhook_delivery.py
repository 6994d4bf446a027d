"""Webhook delivery: tell registered URLs about every change of the thermostat.

Each webhook gets a :class:`Deliverer` task. Changes reach it through the
thermostat's change listener and are **coalesced**: there is at most one
message in flight and one pending message per webhook, and newer changes are
merged into the pending one (later values win; ``ot.raw`` ids are merged), so
a slow or dead receiver never makes memory grow and never blocks the
thermostat.

Delivery policy (:class:`~bridge.services.webhook_policy.DeliveryPolicy`,
defaults in brackets; messages and the judging of answers are in
:mod:`bridge.services.webhook_policy`, URL and destination checks in
:mod:`bridge.services.webhook_destinations`):

- a message is ``{"thermostat": "<hw>", <changed fields>}`` as JSON, POSTed
  with a timeout [10 s]; redirects are not followed;
- a 2xx answer is a success; a 4xx answer other than 408, 425 and 429 is a
  *permanent* refusal; anything else (no answer, timeout, 3xx, 408, 425, 429,
  5xx) is a failure that is retried after an exponential backoff on the
  injected clock [5 s doubling up to 15 min], the message merged with the
  changes made meanwhile;
- after ``max_failures`` consecutive failures [10, about 36 minutes], or at
  once after a permanent refusal, the webhook is *failed*: every attempt is
  recorded (``db.webhooks.record_delivery``), no more changes are delivered,
  and the state survives a restart (a stored failure count of
  ``max_failures`` or more, or a permanent status as the last answer).
  Registering the URL again clears it;
- a failed webhook is then sent ``{"code": 510}`` ("your webhook expired"):
  at once after a permanent refusal, otherwise after ``probe_interval``
  [15 min], then with a doubling interval up to ``probe_max`` [6 h], at most
  ``max_probes`` times [24, about five days]. The first HTTP answer (any
  status: the receiver is reachable again) removes the webhook, and the
  client has to register again. Without an answer the webhook stays failed.

Ownership: a webhook belongs to the token that registered it, checked before
every delivery. When that token is no longer active and it belongs to an
OAuth client that still holds an active refresh token, the webhook belongs
to that grant: it moves to the client's newest refresh token
(:meth:`WebhookDispatcher.adopt`; the token endpoint does the same on every
refresh), so it is never deleted with an old token. Otherwise a revoked
token's webhook is removed without a message, and an expired token's webhook
gets ``{"code": 510}`` once and is removed. An OAuth client has one webhook:
registering replaces the one an earlier token of that client registered.

Destinations: before every request the host name is resolved again and the
request goes to exactly the addresses that were checked. When any of them is
one no webhook may reach (a link-local or cloud metadata address, another
range of :data:`~bridge.services.webhook_destinations.REFUSED_NETWORKS`, or
the bridge's own API port), nothing is sent: the attempt is a permanent
refusal, recorded as a failure, and the reason is logged and shown in
:meth:`WebhookDispatcher.status`.

Egress (PRIVACY.md): when any of the checked addresses is
outside the LAN (see
:func:`~bridge.services.webhook_destinations.is_lan_address`), the request is
recorded in the egress log (host, path, purpose ``webhook``, field names,
size) and must use HTTPS; plain HTTP to an address outside the LAN is never
sent (a permanent refusal). Requests to LAN addresses are not egress.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import contextlib
import enum
import json
import logging
import math
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from yarl import URL

from bridge import __version__
from bridge.services.webhook_destinations import (
    OwnApi,
    Resolver,
    addresses_rule,
    check_destination,
    is_lan_address,
    resolve,
)
from bridge.services.webhook_policy import (
    EXPIRED_MESSAGE,
    PURPOSE,
    Attempt,
    DeliveryPolicy,
    coalesce,
    field_names,
    is_failed,
)
from bridge.storage import TokenKind

if TYPE_CHECKING:
    from bridge.core.clock import Clock
    from bridge.storage import Database, TokenInfo, Webhook

__all__ = ["ChangeSource", "Deliverer", "WebhookDispatcher"]

_LOGGER = logging.getLogger(__name__)


class ChangeSource(Protocol):
    """What the dispatcher needs of the thermostat service."""

    @property
    def hardware_id(self) -> str:
        """The thermostat's hardware id."""

    def add_listener(self, listener: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``listener`` with the changed fields; returns a remover."""


# -- addresses and URLs ---------------------------------------------------------


class _Owner(enum.Enum):
    ACTIVE = "active"
    GONE = "gone"
    REVOKED = "revoked"
    EXPIRED = "expired"


# -- delivery ---------------------------------------------------------------------


class Deliverer:
    """Delivers one webhook's messages, one at a time, coalescing the rest."""

    def __init__(self, dispatcher: WebhookDispatcher, webhook: Webhook) -> None:
        self.webhook = webhook
        self.state = "failed" if is_failed(webhook, dispatcher.policy) else "idle"
        """idle, sending, retrying, failed (probing with the expiry message), or stopped."""
        self.next_attempt: float | None = None
        self._dispatcher = dispatcher
        self._pending: dict[str, Any] | None = None
        self._wake = asyncio.Event()
        self._last_ok_record = -math.inf
        self.last_error: str | None = None
        """Why the last attempt failed, or None after a success."""
        self.task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> dict[str, Any] | None:
        """The coalesced message waiting to be sent."""
        return self._pending

    def push(self, message: Mapping[str, Any]) -> None:
        """Queue a change (merged into the pending message); never blocks."""
        if self.state in ("failed", "stopped"):
            return
        self._pending = coalesce(self._pending, message)
        self._wake.set()

    def start(self) -> None:
        """Run the delivery loop as a task."""
        self.task = asyncio.create_task(self._run(), name=f"webhook-{self.webhook.id}")

    async def cancel(self) -> None:
        """Stop the loop and wait for it."""
        self.state = "stopped"
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _run(self) -> None:
        try:
            await self._deliver_loop()
        except asyncio.CancelledError:
            raise
        except Exception:
            _LOGGER.exception("Webhook %s: delivery stopped", self.webhook.id)
            self.state = "stopped"

    async def _deliver_loop(self) -> None:
        policy = self._dispatcher.policy
        clock = self._dispatcher.clock
        if is_failed(self.webhook, policy):
            await self._expire(policy.probe_interval)
            return
        while True:
            self.state = "idle"
            self.next_attempt = None
            await self._wake.wait()
            self._wake.clear()
            message, self._pending = self._pending, None
            if message is None:
                continue
            owner = await self._owner()
            if owner is not _Owner.ACTIVE:
                await self._end(owner)
                return
            self.state = "sending"
            attempt = await self._dispatcher.send(self.webhook, message)
            self.last_error = None if attempt.ok else attempt.error or f"HTTP {attempt.status}"
            if attempt.ok:
                if not await self._record_success(attempt.status):
                    return
                continue
            _LOGGER.log(
                logging.WARNING if attempt.refused else logging.INFO,
                "Webhook %s: %s (%s)",
                self.webhook.id,
                "not sent" if attempt.refused else "delivery failed",
                self.last_error,
            )
            updated = await self._dispatcher.db.webhooks.record_delivery(
                self.webhook.id, attempt.status, ok=False
            )
            if updated is None:
                self._dispatcher.forget(self)
                return
            self.webhook = updated
            if attempt.permanent or updated.failures >= policy.max_failures:
                await self._expire(0.0 if attempt.permanent else policy.probe_interval)
                return
            self._pending = coalesce(message, self._pending or {})
            delay = policy.backoff(updated.failures)
            self.state = "retrying"
            self.next_attempt = clock.time() + delay
            await clock.sleep(delay)
            self._wake.set()

    async def _record_success(self, status: int | None) -> bool:
        """Note a success (after failures, or once per ``record_interval``); False if
        the webhook was removed meanwhile."""
        now = self._dispatcher.clock.monotonic()
        if (
            self.webhook.failures == 0
            and now - self._last_ok_record < self._dispatcher.policy.record_interval
        ):
            return True
        updated = await self._dispatcher.db.webhooks.record_delivery(
            self.webhook.id, status, ok=True
        )
        if updated is None:
            self.state = "stopped"
            self._dispatcher.forget(self)
            return False
        self.webhook = updated
        self._last_ok_record = now
        return True

    async def _owner(self) -> _Owner:
        """Whether the webhook still exists and its owner still allows deliveries.

        An OAuth client's webhook lives as long as the client holds an active
        refresh token; it is moved to that token when its own token ended.
        """
        db = self._dispatcher.db
        current = next((w for w in await db.webhooks.all() if w.id == self.webhook.id), None)
        if current is None or current.url != self.webhook.url:
            return _Owner.GONE
        self.webhook = current
        if current.token_id is None:
            return _Owner.ACTIVE
        info = await db.auth.get_token(current.token_id)
        if info is None:
            return _Owner.GONE
        if info.is_active(self._dispatcher.clock.time()):
            return _Owner.ACTIVE
        if info.client_id is not None:
            grant = await self._dispatcher.newest_client_token(info.client_id)
            if grant is not None:
                await self._dispatcher.adopt(info.client_id, grant.id)
                return _Owner.ACTIVE
        return _Owner.REVOKED if info.revoked is not None else _Owner.EXPIRED

    async def _end(self, owner: _Owner) -> None:
        """The webhook is gone, or its token no longer allows deliveries."""
        db = self._dispatcher.db
        if owner is _Owner.EXPIRED:
            self.state = "sending"
            await self._dispatcher.send(self.webhook, EXPIRED_MESSAGE)
        if owner is not _Owner.GONE:
            _LOGGER.info("Webhook %s removed: its token is %s", self.webhook.id, owner.value)
            await db.webhooks.remove(self.webhook.id)
        self.state = "stopped"
        self._dispatcher.forget(self)

    async def _expire(self, first_delay: float) -> None:
        """Failed: deliver nothing more; tell the receiver once it answers again."""
        policy = self._dispatcher.policy
        clock = self._dispatcher.clock
        db = self._dispatcher.db
        self.state = "failed"
        self._pending = None
        _LOGGER.warning(
            "Webhook %s failed after %s consecutive failures (last status %s)",
            self.webhook.id,
            self.webhook.failures,
            self.webhook.last_status,
        )
        delay = first_delay
        for _ in range(policy.max_probes):
            if delay > 0:
                self.next_attempt = clock.time() + delay
                await clock.sleep(delay)
            owner = await self._owner()
            if owner in (_Owner.GONE, _Owner.REVOKED):
                await self._end(owner)
                return
            attempt = await self._dispatcher.send(self.webhook, EXPIRED_MESSAGE)
            if attempt.status is not None:
                _LOGGER.info("Webhook %s told it expired; removed", self.webhook.id)
                await db.webhooks.remove(self.webhook.id)
                self.state = "stopped"
                self._dispatcher.forget(self)
                return
            if attempt.refused:
                break  # a destination the bridge may not send to is never told
            delay = policy.probe_interval if delay <= 0 else min(policy.probe_max, delay * 2)
        self.next_attempt = None


class WebhookDispatcher:
    """Owns the webhooks' deliverers and the HTTP session they share.

    ``start()`` loads the registered webhooks and listens to the thermostat;
    ``stop()`` cancels every delivery and closes the session. Route handlers
    change webhooks through :meth:`register` and :meth:`unregister`.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        source: ChangeSource,
        *,
        policy: DeliveryPolicy | None = None,
        is_lan: Callable[[str], bool] = is_lan_address,
        own_api: OwnApi | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy or DeliveryPolicy()
        """May be replaced while running; deliverers read it on every step."""
        self.own_api = own_api
        """Where the bridge's own API listens (set once it does); never a destination."""
        self.resolver = resolver
        """How host names are resolved, at registration and before every request."""
        self._source = source
        self._is_lan = is_lan
        self._deliverers: dict[int, Deliverer] = {}
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self._remove_listener: Callable[[], None] | None = None

    async def start(self) -> None:
        """Load the webhooks and start delivering changes."""
        self._session = aiohttp.ClientSession(
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": f"ThermoSmart-Local/{__version__}"},
        )
        async with self._lock:
            for webhook in await self.db.webhooks.all():
                self._start_deliverer(webhook)
        self._remove_listener = self._source.add_listener(self._changed)

    async def stop(self) -> None:
        """Stop every delivery (pending changes are dropped) and close the session."""
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        async with self._lock:
            deliverers = list(self._deliverers.values())
            self._deliverers.clear()
        for deliverer in deliverers:
            await deliverer.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def status(self) -> list[dict[str, Any]]:
        """Each webhook's delivery state (no URL: it may hold a secret)."""
        return [
            {
                "id": d.webhook.id,
                "state": d.state,
                "failures": d.webhook.failures,
                "last_status": d.webhook.last_status,
                "next_attempt": d.next_attempt,
                "pending": d.pending is not None,
                "error": d.last_error,
            }
            for d in self._deliverers.values()
        ]

    def deliverer(self, webhook_id: int) -> Deliverer | None:
        """The deliverer of one webhook."""
        return self._deliverers.get(webhook_id)

    # -- registration ---------------------------------------------------------

    async def check_destination(self, url: str) -> str | None:
        """The rule a (valid) webhook URL's destination breaks now, or None."""
        return await check_destination(
            url, self.policy, own_api=self.own_api, resolver=self.resolver
        )

    async def register(self, url: str, token: TokenInfo) -> Webhook:
        """Register ``url`` for ``token`` (replacing its webhook, and for an OAuth
        client the webhook of the client's earlier tokens) and start delivering."""
        async with self._lock:
            if token.client_id is not None:
                for webhook in await self._client_webhooks(token.client_id):
                    if webhook.token_id != token.id:
                        await self.db.webhooks.remove(webhook.id)
                        await self._drop(webhook.id)
            webhook = await self.db.webhooks.register(url, token.id)
            await self._drop(webhook.id)
            self._start_deliverer(webhook)
            return webhook

    async def unregister(self, token: TokenInfo) -> bool:
        """Remove the webhook of ``token`` (and of its OAuth client's other tokens)."""
        async with self._lock:
            found = [w for w in await self.db.webhooks.all() if w.token_id == token.id]
            if token.client_id is not None:
                found += [
                    w
                    for w in await self._client_webhooks(token.client_id)
                    if w.token_id != token.id
                ]
            for webhook in found:
                await self.db.webhooks.remove(webhook.id)
                await self._drop(webhook.id)
            return bool(found)

    async def adopt(self, client_id: str, token_id: int) -> None:
        """Move OAuth client ``client_id``'s live webhook to its token ``token_id``.

        Called when the client refreshes its tokens, and when the token the
        webhook belonged to has expired while the client still holds a refresh
        token, so the webhook is not deleted with an old token. A failed
        webhook is not moved.
        """
        async with self._lock:
            for webhook in await self._client_webhooks(client_id):
                if webhook.token_id == token_id or is_failed(webhook, self.policy):
                    continue
                moved = await self.db.webhooks.register(webhook.url, token_id)
                await self.db.webhooks.remove(webhook.id)
                deliverer = self._deliverers.pop(webhook.id, None)
                stale = self._deliverers.pop(moved.id, None)
                if stale is not None and stale is not deliverer:
                    await stale.cancel()
                if deliverer is None:
                    self._start_deliverer(moved)
                else:
                    deliverer.webhook = moved
                    self._deliverers[moved.id] = deliverer

    async def newest_client_token(self, client_id: str) -> TokenInfo | None:
        """The client's newest active refresh token (its live grant), if any."""
        tokens = await self.db.auth.list_tokens(include_inactive=False)
        grants = [
            t for t in tokens if t.client_id == client_id and t.kind is TokenKind.OAUTH_REFRESH
        ]
        return max(grants, key=lambda t: t.id) if grants else None

    async def _client_webhooks(self, client_id: str) -> list[Webhook]:
        owners = {t.id for t in await self.db.auth.list_tokens() if t.client_id == client_id}
        return [w for w in await self.db.webhooks.all() if w.token_id in owners]

    def _start_deliverer(self, webhook: Webhook) -> None:
        deliverer = Deliverer(self, webhook)
        self._deliverers[webhook.id] = deliverer
        deliverer.start()

    async def _drop(self, webhook_id: int) -> None:
        deliverer = self._deliverers.pop(webhook_id, None)
        if deliverer is not None:
            await deliverer.cancel()

    def forget(self, deliverer: Deliverer) -> None:
        """A deliverer ended on its own (its webhook was removed)."""
        if self._deliverers.get(deliverer.webhook.id) is deliverer:
            del self._deliverers[deliverer.webhook.id]

    # -- changes and requests -------------------------------------------------------

    def _changed(self, changed: dict[str, Any]) -> None:
        message = {"thermostat": self._source.hardware_id, **changed}
        for deliverer in list(self._deliverers.values()):
            deliverer.push(message)

    async def send(self, webhook: Webhook, message: Mapping[str, Any]) -> Attempt:
        """POST ``message`` to the webhook once; records egress when it leaves the LAN."""
        session = self._session
        if session is None:
            return Attempt(None, "the dispatcher is stopped")
        body = json.dumps(message, separators=(",", ":")).encode("utf-8")
        url = URL(webhook.url).with_fragment(None)
        host = url.raw_host
        port = url.port
        if host is None or port is None:
            return Attempt(None, "the URL has no host", refused=True)
        policy = self.policy
        try:
            async with asyncio.timeout(policy.timeout):
                addresses = await self.resolver(host, port)
                rule = addresses_rule(addresses, port, self.own_api)
                if rule is not None:
                    return Attempt(None, f"{host}: {rule}", refused=True)
                outside = not addresses or not all(self._is_lan(a) for a in addresses)
                if outside and url.scheme != "https" and policy.https_outside_lan:
                    return Attempt(None, "plain http to an address outside the LAN", refused=True)
                if outside:
                    await self.db.egress.record(
                        host, url.raw_path, PURPOSE, field_names(message), len(body)
                    )
                return Attempt(await self._post(session, url, addresses, body))
        except TimeoutError:
            return Attempt(None, "timed out")
        except (OSError, aiohttp.ClientError) as err:
            return Attempt(None, str(err) or type(err).__name__)

    @staticmethod
    async def _post(
        session: aiohttp.ClientSession, url: URL, addresses: list[str], body: bytes
    ) -> int:
        """POST to the checked addresses in turn until one connects."""
        headers = {"Content-Type": "application/json", "Host": url.host_port_subcomponent or ""}
        server_hostname = url.raw_host if url.scheme == "https" else None
        error: Exception | None = None
        for address in addresses:
            try:
                async with session.post(
                    url.with_host(address),
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    server_hostname=server_hostname,
                ) as response:
                    return response.status
            except aiohttp.ClientConnectorError as err:
                error = err
        assert error is not None
        raise error
