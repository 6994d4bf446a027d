"""The one way the bridge talks to a cloud: consent first, allow-list, egress log, then HTTPS.

Every request to the cloud (linking, sync, weather, statistics, the update
check) is made for one purpose (:class:`~bridge.core.payloads.privacy.Purpose`)
and goes through :class:`CloudClient`, which in this order:

1. asks the :class:`CloudGate` whether the purpose may send now: its consent
   is granted, and under the cloud's current terms version when that is
   known (PRIVACY.md P5, P14); otherwise :class:`NotAllowed` and nothing is
   sent;
2. refuses any field name (JSON member, form field, query parameter) the
   purpose's allow-list (:mod:`bridge.core.purposes`) does not have;
3. writes the request to the egress log (when, host, path, purpose, field
   names, size; never values);
4. sends it over HTTPS verified with the system's CAs or the configured CA
   file (plain http only to loopback, checked by ``bridge.config``), with a
   timeout, and reads at most :data:`MAX_ANSWER_BYTES` of the answer.

A cloud that refuses, hangs or answers something that is not a JSON object
is a :class:`CloudError`; nothing local changes because of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import json
import logging
import math
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from bridge.core.listeners import Listeners
from bridge.core.payloads.privacy import Purpose
from bridge.core.purposes import FieldNotAllowedError, require_allowed
from bridge.core.rules import is_terms_version

if TYPE_CHECKING:
    from bridge.storage import Database
    from bridge.storage.privacy import Consent

__all__ = [
    "MAX_ANSWER_BYTES",
    "REQUEST_TIMEOUT_S",
    "CloudClient",
    "CloudError",
    "CloudGate",
    "NoCloud",
    "NotAllowed",
    "clip",
    "cloud_ssl_context",
]

REQUEST_TIMEOUT_S = 10.0
"""The most any one request to the cloud may take, connecting included."""
MAX_ANSWER_BYTES = 256 * 1024
"""A longer answer is not the protocol."""
_LOGGER = logging.getLogger(__name__)
TERMS_EGRESS = "terms"
"""The egress log's purpose of the question for the cloud's terms version."""
_TEXT_MAX = 200
"""How much of a text the cloud sent is repeated in a message."""


class CloudError(Exception):
    """The cloud could not be reached, timed out, refused, or answered outside the protocol."""


class NoCloud(CloudError):
    """No cloud is configured (no ``cloud_url``): nothing was sent."""


class NotAllowed(Exception):
    """The purpose may not send now: no consent, or consent under older terms."""


def clip(value: object) -> str:
    """A text from the cloud, safe to repeat in one line of a message."""
    text = "".join(c if c.isprintable() else "?" for c in str(value))
    return text if len(text) <= _TEXT_MAX else text[:_TEXT_MAX] + "…"


def cloud_ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """The context the cloud's certificate is verified with: the system's CAs, or only
    those in ``ca_file`` (PEM). Raises ``ValueError`` with a message if it is not one."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (ssl.SSLError, OSError, ValueError) as err:
        raise ValueError(
            f"cloud_ca_file {ca_file}: not a readable PEM file of CA certificates ({clip(err)})"
        ) from None


def _why_not(purpose: Purpose, consent: Consent | None, version: str | None) -> str | None:
    """Why ``purpose`` may not send, given its latest ``consent`` and the cloud's terms
    ``version`` (None: not known yet); None: it may."""
    if consent is None or not consent.granted:
        return f"the owner has not consented to {purpose.value}"
    if version is not None and consent.terms_version != version:
        return (
            f"the {purpose.value} consent was given under terms"
            f" {consent.terms_version}; the cloud's terms are now {version}"
        )
    return None


class CloudGate:
    """Decides, per purpose and per request, whether the bridge may send to the cloud.

    :attr:`terms_version` is the cloud's current terms version once the
    bridge has learned it (None before): a consent given under another
    version does not count until the owner answers again (P14).
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._terms_version: str | None = None
        self._listeners: Listeners[[]] = Listeners(_LOGGER, "A cloud gate listener failed")

    @property
    def terms_version(self) -> str | None:
        """The cloud's current terms version, when known."""
        return self._terms_version

    def set_terms_version(self, version: str) -> None:
        """The cloud published ``version`` as current; listeners hear of a change."""
        if version != self._terms_version:
            self._terms_version = version
            self._listeners.notify()

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` when the terms version, a consent or the link changes; returns
        a remover.

        A listener re-checks its own purpose (:meth:`allowed`): a revocation
        must stop its flow at once.
        """
        return self._listeners.add(listener)

    def changed(self) -> None:
        """A consent was just granted or revoked, or the bridge linked or unlinked: tell
        the listeners (a flow starts or stops now, not at its next turn)."""
        self._listeners.notify()

    async def why_not(self, purpose: Purpose) -> str | None:
        """Why ``purpose`` may not send now (None: it may)."""
        consent = await self._db.consents.get(purpose)
        return _why_not(Purpose(purpose), consent, self._terms_version)  # the newest version

    async def paused(self) -> tuple[str | None, list[Purpose]]:
        """The terms version and, under that one version, the purposes granted yet not
        allowed (only older terms do that), read together: a new version learned
        meanwhile cannot pause one purpose of a list and not the next."""
        version = self._terms_version
        current = await self._db.consents.current()
        return version, [
            purpose
            for purpose in Purpose
            if (consent := current.get(purpose)) is not None
            and consent.granted
            and _why_not(purpose, consent, version) is not None
        ]

    async def allowed(self, purpose: Purpose) -> bool:
        """True if ``purpose`` may send now."""
        return await self.why_not(purpose) is None

    async def require(self, purpose: Purpose) -> None:
        """Raise :class:`NotAllowed` unless ``purpose`` may send now."""
        reason = await self.why_not(purpose)
        if reason is not None:
            raise NotAllowed(reason)


class CloudClient:
    """HTTP requests to one cloud, each for one purpose (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        gate: CloudGate,
        cloud_url: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self._db = db
        self.gate = gate
        self.base = URL(cloud_url.rstrip("/"))
        self.ssl_context = ssl_context if ssl_context is not None else cloud_ssl_context(None)
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(ssl=self.ssl_context),
            )
        return self._session

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def log_egress(
        self, url: URL, purpose: Purpose | str, fields: list[str], size: int
    ) -> None:
        """Write one record of the egress log (before the bytes leave)."""
        await self._db.egress.record(
            url.host or "", url.raw_path, str(purpose), sorted(fields), size
        )

    async def ask_terms(self) -> str:
        """Ask the cloud's current terms version (``GET /api/v1/terms``), tell the gate, and
        return it; :class:`CloudError` when the cloud does not answer one.

        The question carries nothing of the home, and needs no consent: the bridge asks
        while a purpose is granted (to pause it under new terms), or when the owner asks
        (to consent under the current version). It is logged as the purpose
        :data:`TERMS_EGRESS`.
        """
        url = self.base.joinpath("api", "v1", "terms")
        status, answer = await self._send("GET", url, TERMS_EGRESS, [], body=None, headers={})
        version = None if answer is None else answer.get("version")
        if status != 200 or not isinstance(version, str) or not is_terms_version(version):
            raise CloudError(f"the cloud answered HTTP {status} without a valid terms version")
        self.gate.set_terms_version(version)
        return version

    async def request(
        self,
        method: str,
        path: str,
        *,
        purpose: Purpose,
        json_body: Mapping[str, Any] | None = None,
        form: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        credential: str | None = None,
        no_data: bool = False,
    ) -> tuple[int, dict[str, Any] | None]:
        """Send one request for ``purpose``; (status, the answer's JSON object or None when
        the answer has no body). Raises :class:`NotAllowed` (nothing sent) or
        :class:`CloudError`.

        ``no_data``: the request carries nothing of the home (a deletion of the
        purpose's data in the cloud after a revocation or an erase, or the
        question for the cloud's terms version), so it is sent without a current
        consent; it is still written to the egress log under ``purpose``, and
        refused (:class:`~bridge.core.purposes.FieldNotAllowedError`) if it has
        any field at all.
        """
        fields = [*(json_body or {}), *(form or {}), *(query or {})]
        if no_data:
            if fields:
                raise FieldNotAllowedError(
                    f"a request without data may not carry {', '.join(sorted(fields))}:"
                    " nothing was sent"
                )
        else:
            await self.gate.require(purpose)
            require_allowed(purpose, fields)
        url = self.base.joinpath(*(part for part in path.split("/") if part), encoded=False)
        if query:
            url = url.with_query(dict(query))
        headers: dict[str, str] = {}
        body: bytes | None = None
        if json_body is not None:
            body = json.dumps(json_body, separators=(",", ":"), allow_nan=False).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            body = urlencode(form).encode("ascii")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if credential is not None:
            headers["Authorization"] = f"Bearer {credential}"
        return await self._send(method, url, purpose, fields, body=body, headers=headers)

    async def _send(
        self,
        method: str,
        url: URL,
        purpose: Purpose | str,
        fields: list[str],
        *,
        body: bytes | None,
        headers: dict[str, str],
    ) -> tuple[int, dict[str, Any] | None]:
        """Log the request as egress, send it, and read its answer (see :meth:`request`)."""
        size = len(body or b"") + len(url.raw_query_string)
        await self.log_egress(url, purpose, fields, size)
        try:
            async with self._http().request(
                method, url, data=body, headers=headers, allow_redirects=False
            ) as resp:
                raw = await resp.content.read(MAX_ANSWER_BYTES + 1)
                status = resp.status
        except TimeoutError:
            raise CloudError(
                f"the cloud at {url.host} did not answer within {self.timeout:g} s"
            ) from None
        except aiohttp.ClientSSLError as err:
            raise CloudError(f"the cloud's certificate was not accepted: {clip(err)}") from None
        except (OSError, aiohttp.ClientError) as err:
            raise CloudError(
                f"the cloud at {url.host} could not be reached: {clip(err) or type(err).__name__}"
            ) from None
        if len(raw) > MAX_ANSWER_BYTES:
            raise CloudError(f"the cloud's answer to {url.path} is too long")
        if not raw.strip():
            return status, None
        try:
            data = json.loads(raw, parse_constant=_no_constant)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise CloudError(
                f"the cloud answered HTTP {status} to {url.path} with something that is not"
                " a JSON object"
            )
        return status, data


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def finite_seconds(data: Mapping[str, Any], key: str, default: float | None = None) -> float:
    """A positive finite number of seconds from a cloud answer, else :class:`CloudError`."""
    value = data.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise CloudError(f"the cloud's answer has no valid {key}")
    return float(value)
