"""The signed update check (PRIVACY.md P11): the bridge learns of new releases, installs nothing.

With the ``update_check`` consent, the bridge asks its cloud for the signed
update manifest (``GET /api/v1/update``, no fields) when the consent is
granted or the bridge starts, then every :data:`CHECK_INTERVAL_S` on the
bridge's clock, always through :meth:`CloudClient.request` (consent, egress
log, verified TLS). The answer is checked by
:func:`~bridge.core.manifest.verify_manifest` against the trusted key (the
project's release key, or the owner's ``update_public_key_file``) and the
last accepted version:

- a valid manifest is accepted: stored (the settings store, so it survives
  restarts and a replay after a restart is still refused) and shown in the
  native state's ``update`` section;
- a manifest with a signature that is not the trusted key's (``tampered``),
  older than the last accepted one (``replayed``) or not a manifest
  (``malformed``) is rejected: logged once and written to the event log once
  per rejected document, and shown as ``update.problem`` until a manifest is
  accepted;
- a cloud that cannot be reached or refuses (``unreachable``) is logged once
  per outage and shown as the problem unless a rejection is shown; a cloud
  without a published manifest (404) is no problem.

Revoking the consent cancels the checks as soon as the gate's listener has
read it; the client refuses any request for a purpose without consent before
it leaves, so nothing is sent meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from http import HTTPStatus
import json
import logging
from typing import TYPE_CHECKING, Any, Final

from bridge import __version__
from bridge.core.manifest import (
    BAD_SIGNATURE,
    MALFORMED,
    OLDER,
    Manifest,
    ManifestError,
    verify_manifest,
)
from bridge.core.payloads.history import EventKind
from bridge.core.payloads.native import UpdateInfo, UpdateProblem, UpdateProblemKind
from bridge.core.payloads.privacy import Purpose
from bridge.services.cloud_client import CloudError, NotAllowed, clip
from bridge.storage.settings import UPDATE_CHECK

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.core.clock import Clock
    from bridge.services.cloud_client import CloudClient
    from bridge.storage import Database

__all__ = ["CHECK_INTERVAL_S", "UPDATE_PATH", "UpdateCheckService"]

UPDATE_PATH: Final = "/api/v1/update"
CHECK_INTERVAL_S: Final = 86_400.0
"""Once a day."""
_KINDS: Final[dict[str, UpdateProblemKind]] = {
    BAD_SIGNATURE: "tampered",
    OLDER: "replayed",
    MALFORMED: "malformed",
}
UNREACHABLE: Final[UpdateProblemKind] = "unreachable"
_LOGGER = logging.getLogger(__name__)


def _digest(document: Any) -> str:
    """A fingerprint of a served document: the same rejected document is told once."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


class UpdateCheckService:
    """Checks the cloud's signed update manifest; ``view()`` is the native state's ``update``."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        cloud: CloudClient,
        public_key: bytes,
        *,
        changed: Callable[[], None],
    ) -> None:
        self._db = db
        self._clock = clock
        self._cloud = cloud
        self._public_key = public_key
        self._changed = changed
        self._record: dict[str, Any] = {}
        self._outage_logged = False
        self._checks: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._one_check = asyncio.Lock()
        self._allowed = False
        self._due = 0.0
        """When the next check is due (the bridge's clock)."""
        self._remove_listener: Callable[[], None] | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Load the last record, follow the consent, and check now if it is granted."""
        self._record = await self._db.settings.get(UPDATE_CHECK)
        self._remove_listener = self._cloud.gate.add_listener(self._consent_changed)
        await self._follow_consent()

    async def stop(self) -> None:
        """Stop checking."""
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        tasks = [*self._pending, *([self._checks] if self._checks is not None else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._checks = None

    @property
    def checking(self) -> bool:
        """True while the daily checks run (the consent is granted)."""
        return self._checks is not None and not self._checks.done()

    def _consent_changed(self) -> None:
        # a revocation stops the checks below; a request cannot leave meanwhile, as the
        # cloud client asks the gate before every request. A change about another purpose
        # (or the terms the cloud-data task learns) leaves a running check alone, so it is
        # not sent twice.
        if self._remove_listener is None:
            return  # stopped
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop runs (the bridge is shutting down): nothing to follow
        self._keep(loop.create_task(self._follow_consent(), name="update-check-consent"))

    def _keep(self, task: asyncio.Task[None]) -> None:
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _follow_consent(self) -> None:
        async with self._lock:
            allowed = await self._cloud.gate.allowed(Purpose.UPDATE_CHECK)
            if allowed and not self.checking:
                if not self._allowed:
                    self._due = self._clock.time()  # just granted (or started): check now
                self._checks = asyncio.create_task(self._run(), name="update-check")
            elif not allowed and self._checks is not None:
                self._checks.cancel()
                self._keep(self._checks)
                self._checks = None
            self._allowed = allowed

    async def _run(self) -> None:
        while True:
            delay = self._due - self._clock.time()
            if delay > 0:
                await self._clock.sleep(delay)
            try:
                await self.check()
            except Exception:
                _LOGGER.exception("The update check failed")
            self._due = self._clock.time() + CHECK_INTERVAL_S

    # -- the check ----------------------------------------------------------------------

    @property
    def _latest(self) -> Manifest | None:
        stored = self._record.get("manifest")
        return None if stored is None else Manifest(**stored)

    async def check(self) -> None:
        """Ask the cloud for the manifest once and accept or reject it (one at a time)."""
        async with self._one_check:
            await self._check()

    async def _check(self) -> None:
        try:
            status, document = await self._cloud.request(
                "GET", UPDATE_PATH, purpose=Purpose.UPDATE_CHECK
            )
        except NotAllowed:
            return  # the consent went while this check was due
        except CloudError as err:
            await self._unreachable(str(err))
            return
        if status == HTTPStatus.NOT_FOUND:
            await self._answered(None)
            return
        if status != HTTPStatus.OK or document is None:
            await self._unreachable(f"the cloud refused the update check with HTTP {status}")
            return
        latest = self._latest
        try:
            manifest = verify_manifest(
                document,
                self._public_key,
                last_version=None if latest is None else latest.version,
            )
        except ManifestError as err:
            await self._reject(_KINDS[err.reason], err.message, _digest(document))
            return
        if latest is None or manifest.version != latest.version:
            _LOGGER.info(
                "Update check: release %s (%s) is current", manifest.version, manifest.date
            )
        await self._answered(manifest)

    async def _answered(self, manifest: Manifest | None) -> None:
        """The cloud answered: ``manifest`` was accepted (None: none is published, and a
        rejection stays shown)."""
        self._outage_logged = False
        record: dict[str, Any] = {**self._record, "checked_at": self._clock.time()}
        if manifest is not None:
            record["manifest"] = manifest.to_dict()
            record["problem"] = None
        else:
            record["problem"] = self._rejection()
        await self._save(record)

    async def _reject(self, kind: UpdateProblemKind, message: str, digest: str) -> None:
        """A manifest that is not accepted: told once per document, kept as the problem."""
        self._outage_logged = False
        now = self._clock.time()
        problem = self._rejection()
        if problem is None or (problem["kind"], problem.get("digest")) != (kind, digest):
            _LOGGER.warning(
                "Update check: the cloud's manifest was rejected (%s): %s", kind, message
            )
            await self._db.events.log(
                EventKind.INFO,
                f"update manifest rejected ({kind}): {clip(message)}",
                code=f"update_{kind}",
            )
            problem = {"kind": kind, "at": now, "digest": digest}
        await self._save({**self._record, "checked_at": now, "problem": problem})

    async def _unreachable(self, message: str) -> None:
        """No answer: logged once per outage; shown unless a rejection is."""
        now = self._clock.time()
        if not self._outage_logged:
            self._outage_logged = True
            _LOGGER.warning("Update check: %s", message)
        problem = self._rejection() or self._record.get("problem")
        if problem is None:
            problem = {"kind": UNREACHABLE, "at": now}
        await self._save({**self._record, "checked_at": now, "problem": problem})

    def _rejection(self) -> dict[str, Any] | None:
        problem: dict[str, Any] | None = self._record.get("problem")
        return problem if problem is not None and problem["kind"] != UNREACHABLE else None

    async def _save(self, record: dict[str, Any]) -> None:
        await self._db.settings.set(UPDATE_CHECK, record)
        self._record = record
        self._changed()

    # -- the native state ----------------------------------------------------------------

    def view(self) -> UpdateInfo:
        """The native state's ``update`` section."""
        latest = self._latest
        problem = self._record.get("problem")
        checked_at = self._record.get("checked_at")
        return UpdateInfo(
            installed=__version__,
            latest=None if latest is None else latest.version,
            date=None if latest is None else latest.date,
            notes=None if latest is None else latest.notes,
            sha256=None if latest is None else latest.sha256,
            checked_at=checked_at,
            problem=None
            if problem is None
            else UpdateProblem(kind=problem["kind"], at=problem["at"]),
        )
