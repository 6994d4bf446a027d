"""What the CLI's admin commands do to the database (pair, token, oauth-client, unit, cloud).

They open the same SQLite file as a running daemon; WAL lets both work at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.core.clock import SystemClock
from bridge.services.cloud_client import CloudClient, CloudGate, cloud_ssl_context
from bridge.services.cloud_link import CloudLinker, LinkRefused
from bridge.storage import Database

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from bridge.config import BridgeConfig
    from bridge.services.cloud_link import DeviceCode

DB_FILE = "thermosmart.db"


async def open_db(cfg: BridgeConfig) -> Database:
    """Open the bridge's database in its data directory."""
    return await Database.open(cfg.data_dir / DB_FILE, SystemClock())


async def create_pairing_code(cfg: BridgeConfig) -> tuple[str, float]:
    """A new one-time pairing code and when it expires (Unix time)."""
    db = await open_db(cfg)
    try:
        code = await db.auth.create_pairing_code()
        return code, db.clock.time() + 600
    finally:
        await db.close()


async def create_api_token(cfg: BridgeConfig, name: str) -> tuple[str, str]:
    """A new long-lived API token: (id, token). The token is shown only once."""
    db = await open_db(cfg)
    try:
        issued = await db.auth.create_token(name=name)
        return str(issued.info.id), issued.token
    finally:
        await db.close()


async def list_tokens(cfg: BridgeConfig) -> list[dict[str, Any]]:
    """Every token, without secrets."""
    db = await open_db(cfg)
    try:
        return [t.as_dict() for t in await db.auth.list_tokens()]
    finally:
        await db.close()


async def revoke_token(cfg: BridgeConfig, token_id: str) -> bool:
    """Revoke one token; False if there is no such token."""
    if not token_id.isdigit():
        return False
    db = await open_db(cfg)
    try:
        return await db.auth.revoke_token(int(token_id))
    finally:
        await db.close()


async def create_oauth_client(
    cfg: BridgeConfig, name: str, redirect_uris: Sequence[str]
) -> tuple[str, str]:
    """Register an OAuth client: (client_id, client_secret)."""
    db = await open_db(cfg)
    try:
        client, secret = await db.auth.create_oauth_client(redirect_uris, name)
        return client.client_id, secret
    finally:
        await db.close()


async def add_unit(
    cfg: BridgeConfig, hardware_id: str, password: str, *, house: bool
) -> dict[str, Any]:
    """Register a wall unit (ValueError for a bad id or password); the unit without password."""
    db = await open_db(cfg)
    try:
        return (await db.units.add(hardware_id, password, house=house)).as_dict()
    finally:
        await db.close()


async def list_units(cfg: BridgeConfig) -> list[dict[str, Any]]:
    """Every registered wall unit, without passwords."""
    db = await open_db(cfg)
    try:
        return [u.as_dict() for u in await db.units.list()]
    finally:
        await db.close()


async def remove_unit(cfg: BridgeConfig, hardware_id: str) -> bool:
    """Forget a wall unit; False if there was none."""
    db = await open_db(cfg)
    try:
        return await db.units.remove(hardware_id)
    finally:
        await db.close()


async def link_cloud(cfg: BridgeConfig, show: Callable[[DeviceCode], None]) -> dict[str, Any]:
    """Link the bridge to an owner's cloud account (``CloudLinkError`` if it does not)."""
    try:
        context = cloud_ssl_context(cfg.cloud_ca_file)
    except ValueError as err:
        raise LinkRefused("no_cloud", str(err)) from None
    db = await open_db(cfg)
    client = None
    try:
        if cfg.cloud_url is not None:
            client = CloudClient(db, CloudGate(db), cfg.cloud_url, ssl_context=context)
        return (await CloudLinker(db, client).link(show)).as_dict()
    finally:
        if client is not None:
            await client.close()
        await db.close()


async def cloud_status(cfg: BridgeConfig) -> dict[str, Any] | None:
    """The cloud link without its credential, or None when not linked."""
    db = await open_db(cfg)
    try:
        link = await db.cloud.get()
        return None if link is None else link.as_dict()
    finally:
        await db.close()


async def unlink_cloud(cfg: BridgeConfig) -> dict[str, Any] | None:
    """Forget the cloud link and its credential; the link it was, or None if there was none."""
    db = await open_db(cfg)
    try:
        link = await db.cloud.forget()
        return None if link is None else link.as_dict()
    finally:
        await db.close()
