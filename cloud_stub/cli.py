"""The ``thermosmart-cloud`` command line.

``thermosmart-cloud [--host 127.0.0.1] [--port 8723] [--data-dir DIR]`` runs
the stand-in until SIGTERM or SIGINT. ``thermosmart-cloud token create --hw
HW [--json]`` makes an owner token for an enrolled thermostat (the stand-in
has no OAuth flow; this is how an owner gets a token). With ``--json`` a
command prints exactly one JSON object on stdout; messages go to stderr.

``--data-dir`` defaults to ``$THERMOSMART_CLOUD_DATA_DIR``, else
``thermosmart-cloud`` in the per-user data directory.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import json
import logging
import os
from pathlib import Path
import signal
import sys

from bridge.core.clock import SystemClock
from cloud_stub import __version__
from cloud_stub.server import DEFAULT_HOST, DEFAULT_PORT, CloudServer
from cloud_stub.store import CloudStore

EXIT_OK = 0
EXIT_FAILURE = 1


def default_data_dir() -> Path:
    """``$THERMOSMART_CLOUD_DATA_DIR``, else the per-user data directory."""
    env = os.environ.get("THERMOSMART_CLOUD_DATA_DIR")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "thermosmart-cloud"


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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    token = sub.add_parser("token", help="owner tokens for the cloud-compatible API")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser("create", help="create an owner token for a thermostat")
    create.add_argument("--hw", required=True, help="the thermostat's hardware id")
    create.add_argument("--json", action="store_true", help="print one JSON object")
    create.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, help="data directory")
    return parser


async def _serve(host: str, port: int, data_dir: Path) -> int:
    clock = SystemClock()
    store = CloudStore.open(data_dir, clock)
    server = CloudServer(store, host=host, port=port, clock=clock)
    try:
        try:
            await server.start()
        except OSError as err:
            print(f"thermosmart-cloud: cannot listen on {host}:{port}: {err}", file=sys.stderr)
            return EXIT_FAILURE
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


def _token_create(data_dir: Path, hw: str, as_json: bool) -> int:
    store = CloudStore.open(data_dir, SystemClock())
    try:
        token = store.create_owner_token(hw)
    except LookupError:
        print(f"thermosmart-cloud: no bridge has enrolled thermostat {hw}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        store.close()
    if as_json:
        print(json.dumps({"access_token": token, "token_type": "Bearer", "thermostat": hw}))
    else:
        print(token)
        print("Keep this token secret; it is shown only once.", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stand-in or one command; returns the process exit status."""
    args = _parser().parse_args(argv)
    data_dir: Path = args.data_dir or default_data_dir()
    if args.command == "token":
        return _token_create(data_dir, args.hw, args.json)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return asyncio.run(_serve(args.host, args.port, data_dir))
