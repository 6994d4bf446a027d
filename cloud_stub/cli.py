"""The ``thermosmart-cloud`` command line.

``thermosmart-cloud [--host 127.0.0.1] [--port 8723] [--data-dir DIR]
[--tls-cert F --tls-key F] [--signing-key F --update-manifest F]
[--retention-days N]`` runs the stand-in until SIGTERM or SIGINT. The
commands work on the same data directory, also while it serves:

* ``owner create --email E`` makes an owner account and prints its password
  (once);
* ``approve USER_CODE --owner E`` approves a bridge's link request as that
  owner (the ``/device`` page does the same);
* ``token create --owner E [--hw HW]`` / ``token list --owner E`` /
  ``token revoke ID``: owner tokens for the cloud-compatible API;
* ``oauth-client create --redirect-uri URI``: registers an OAuth client for
  the authorization-code flow;
* ``terms publish VERSION``: makes VERSION the current terms version.

With ``--json`` a command prints exactly one JSON object on stdout; messages
go to stderr. ``--data-dir`` defaults to ``$THERMOSMART_CLOUD_DATA_DIR``,
else ``thermosmart-cloud`` in the per-user data directory.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Sequence
import json
import logging
import math
import os
from pathlib import Path
import signal
import ssl
import sys
from typing import Any

from bridge.core.clock import SystemClock
from bridge.core.validation import ValidationError
from cloud_stub import __version__, schemas
from cloud_stub.server import (
    DEFAULT_COMMAND_WAIT,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_RETENTION_DAYS,
    MAX_COMMAND_WAIT,
    CloudServer,
)
from cloud_stub.store import AlreadyExists, CloudStore, Owner, StoreError
from cloud_stub.updates import UpdateConfigError, signed_manifest

EXIT_OK = 0
EXIT_FAILURE = 1


def default_data_dir() -> Path:
    """``$THERMOSMART_CLOUD_DATA_DIR``, else the per-user data directory."""
    env = os.environ.get("THERMOSMART_CLOUD_DATA_DIR")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "thermosmart-cloud"


class CommandError(Exception):
    """A command that cannot do what was asked; the message says why."""


def _wait(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= MAX_COMMAND_WAIT:
        raise argparse.ArgumentTypeError(f"must be 0-{MAX_COMMAND_WAIT:g} seconds")
    return seconds


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number of days") from None
    if not schemas.RETENTION_MIN_DAYS <= days <= schemas.RETENTION_MAX_DAYS:
        raise argparse.ArgumentTypeError(
            f"must be {schemas.RETENTION_MIN_DAYS}-{schemas.RETENTION_MAX_DAYS} days"
        )
    return days


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thermosmart-cloud",
        description="ThermoSmart Local: the cloud stand-in that a bridge syncs to (opt-in). "
        "With no COMMAND it serves the API until SIGTERM or SIGINT.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    parser.add_argument("--data-dir", type=Path, help="data directory")
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    parser.add_argument(
        "--signing-key", type=Path, help="Ed25519 key (PEM) that signs the update manifest"
    )
    parser.add_argument(
        "--update-manifest", type=Path, help="the update manifest to serve (JSON, unsigned)"
    )
    parser.add_argument(
        "--retention-days",
        type=_days,
        default=DEFAULT_RETENTION_DAYS,
        help="keep a bridge's data this long unless it states its own (default %(default)s)",
    )
    parser.add_argument(
        "--command-wait",
        type=_wait,
        default=DEFAULT_COMMAND_WAIT,
        help="seconds an owner's change waits for the thermostat's answer before it is"
        " answered 202 pending (default %(default)s)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(
        parent: Any, name: str, text: str, *, json_flag: bool = True
    ) -> argparse.ArgumentParser:
        leaf: argparse.ArgumentParser = parent.add_parser(name, help=text)
        leaf.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, help="data directory")
        if json_flag:
            leaf.add_argument("--json", action="store_true", help="print one JSON object")
        return leaf

    owner = sub.add_parser("owner", help="owner accounts")
    owner_sub = owner.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = command(owner_sub, "create", "make an owner account; prints its password once")
    create.add_argument("--email", required=True, help="the owner's e-mail address")

    approve = command(sub, "approve", "approve a bridge's link request", json_flag=False)
    approve.add_argument("user_code", metavar="USER_CODE", help="the code the bridge shows")
    approve.add_argument("--owner", required=True, help="the approving owner's e-mail")

    token = sub.add_parser("token", help="owner tokens for the cloud-compatible API")
    token_sub = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    token_create = command(token_sub, "create", "create an owner token")
    token_create.add_argument("--owner", required=True, help="the owner's e-mail")
    token_create.add_argument(
        "--hw", help="the thermostat (needed when the owner has more than one)"
    )
    token_list = command(token_sub, "list", "list an owner's tokens (never their secrets)")
    token_list.add_argument("--owner", required=True, help="the owner's e-mail")
    revoke = command(
        token_sub, "revoke", "revoke a token (an OAuth token: its grant)", json_flag=False
    )
    revoke.add_argument("id", type=int, metavar="ID", help="the token's id")

    client = sub.add_parser("oauth-client", help="OAuth clients of the authorization-code flow")
    client_sub = client.add_subparsers(dest="action", required=True, metavar="ACTION")
    client_create = command(client_sub, "create", "register a client; prints its credentials")
    client_create.add_argument(
        "--redirect-uri", required=True, action="append", help="a redirect URI (repeatable)"
    )

    terms = sub.add_parser("terms", help="the terms version bridges tie consent to")
    terms_sub = terms.add_subparsers(dest="action", required=True, metavar="ACTION")
    publish = command(terms_sub, "publish", "make VERSION the current terms version")
    publish.add_argument("version", metavar="VERSION", help="the new version, e.g. 2026-03")
    return parser


# -- serving -------------------------------------------------------------------------


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The server's TLS context for ``--tls-cert``/``--tls-key`` (TLS 1.2 or later), or None."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise CommandError("--tls-cert and --tls-key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as err:
        raise CommandError(f"cannot use the TLS certificate {cert} and key {key}: {err}") from None
    return context


def _update(key: Path | None, manifest: Path | None) -> dict[str, Any] | None:
    if key is None and manifest is None:
        return None
    if key is None or manifest is None:
        raise CommandError("--signing-key and --update-manifest go together")
    try:
        return signed_manifest(manifest, key)
    except UpdateConfigError as err:
        raise CommandError(str(err)) from None


async def _serve(
    args: argparse.Namespace,
    data_dir: Path,
    context: ssl.SSLContext | None,
    update: dict[str, Any] | None,
) -> int:
    clock = SystemClock()
    store = CloudStore.open(data_dir, clock)
    server = CloudServer(
        store,
        host=args.host,
        port=args.port,
        clock=clock,
        ssl_context=context,
        retention_days=args.retention_days,
        update=update,
        command_wait=args.command_wait,
    )
    try:
        try:
            await server.start()
        except OSError as err:
            raise CommandError(f"cannot listen on {args.host}:{args.port}: {err}") from None
        print(f"ThermoSmart cloud stand-in on {server.url}", file=sys.stderr, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.stop()
        return EXIT_OK
    finally:
        store.close()


# -- commands ------------------------------------------------------------------------


def _owner(store: CloudStore, email: str) -> Owner:
    owner = store.owner(email)
    if owner is None:
        raise CommandError(f"no owner account for {email}")
    return owner


def _print(args: argparse.Namespace, data: dict[str, Any], text: str, note: str = "") -> None:
    if getattr(args, "json", False):
        print(json.dumps(data))
    else:
        print(text)
        if note:
            print(note, file=sys.stderr)


def _owner_create(store: CloudStore, args: argparse.Namespace) -> None:
    try:
        email = schemas.parse_email(args.email)
    except ValidationError as err:
        raise CommandError(f"--email {err.errors[0]['rule']}") from None
    try:
        owner, password = store.create_owner(email)
    except AlreadyExists:
        raise CommandError(f"{email} already has an account") from None
    _print(
        args,
        {"owner": owner.email, "password": password},
        password,
        f"The password of {owner.email}; keep it secret, it is shown only once.",
    )


def _approve(store: CloudStore, args: argparse.Namespace) -> None:
    owner = _owner(store, args.owner)
    link = store.decide_link(args.user_code, owner.owner_id, approve=True)
    if link is None:
        raise CommandError(f"no bridge is waiting with code {args.user_code} (or it expired)")
    print(f"Approved: thermostat {link.hardware_id} links to {owner.email} when it next asks.")


def _token_create(store: CloudStore, args: argparse.Namespace) -> None:
    owner = _owner(store, args.owner)
    bridges = store.owner_bridges(owner.owner_id)
    if args.hw is not None:
        bridges = [b for b in bridges if b.hardware_id == args.hw]
        if not bridges:
            raise CommandError(f"{owner.email} has no thermostat {args.hw}")
    if not bridges:
        raise CommandError(f"no bridge is linked to {owner.email} yet")
    if len(bridges) > 1:
        raise CommandError(f"{owner.email} has several thermostats: name one with --hw")
    token_id, token = store.create_owner_token(bridges[0].bridge_id)
    _print(
        args,
        {
            "id": token_id,
            "access_token": token,
            "token_type": "Bearer",
            "thermostat": bridges[0].hardware_id,
        },
        token,
        f"Token {token_id}; keep it secret, it is shown only once.",
    )


def _token_list(store: CloudStore, args: argparse.Namespace) -> None:
    owner = _owner(store, args.owner)
    tokens = store.owner_tokens(owner.owner_id)
    lines = [f"{t.id}\t{t.hardware_id}\t{t.kind}\t{t.client_id or '-'}" for t in tokens]
    _print(args, {"tokens": [t.to_dict() for t in tokens]}, "\n".join(lines) or "(no tokens)")


def _token_revoke(store: CloudStore, args: argparse.Namespace) -> None:
    if not store.revoke_token(args.id):
        raise CommandError(f"no token {args.id}")
    print(f"Token {args.id} revoked.", file=sys.stderr)


def _client_create(store: CloudStore, args: argparse.Namespace) -> None:
    uris: list[str] = args.redirect_uri
    for uri in uris:
        try:
            schemas.parse_redirect_uri(uri)
        except ValidationError as err:
            raise CommandError(f"--redirect-uri {uri!r}: {err.errors[0]['rule']}") from None
    client_id, secret = store.create_oauth_client(uris)
    _print(
        args,
        {"client_id": client_id, "client_secret": secret, "redirect_uris": uris},
        f"client_id={client_id}\nclient_secret={secret}",
        "Keep the client secret secret; it is shown only once.",
    )


def _terms_publish(store: CloudStore, args: argparse.Namespace) -> None:
    try:
        version = schemas.parse_terms_version(args.version)
    except ValidationError as err:
        raise CommandError(f"VERSION {err.errors[0]['rule']}") from None
    try:
        store.publish_terms(version)
    except AlreadyExists:
        raise CommandError(f"terms {version} were published before: pick a new version") from None
    _print(args, {"terms_version": version}, f"The current terms are now {version}.")


_COMMANDS: dict[tuple[str, str | None], Callable[[CloudStore, argparse.Namespace], None]] = {
    ("owner", "create"): _owner_create,
    ("approve", None): _approve,
    ("token", "create"): _token_create,
    ("token", "list"): _token_list,
    ("token", "revoke"): _token_revoke,
    ("oauth-client", "create"): _client_create,
    ("terms", "publish"): _terms_publish,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stand-in or one command; returns the process exit status."""
    args = _parser().parse_args(argv)
    data_dir: Path = args.data_dir or default_data_dir()
    try:
        if args.command is None:
            context = tls_context(args.tls_cert, args.tls_key)
            update = _update(args.signing_key, args.update_manifest)
            logging.basicConfig(
                level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
            )
            return asyncio.run(_serve(args, data_dir, context, update))
        run = _COMMANDS[(args.command, getattr(args, "action", None))]
        store = CloudStore.open(data_dir, SystemClock())
        try:
            run(store, args)
        finally:
            store.close()
    except (CommandError, StoreError) as err:
        print(f"thermosmart-cloud: {err}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK
