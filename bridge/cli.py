"""The ``thermosmart-bridge`` command line.

A thin layer: it parses arguments and hands over to the daemon, the storage
layer or the OpenTherm tools. With ``--json`` a command prints exactly one
JSON object on stdout (``cloud link`` one per line: the code at once, the
link when made); messages for people go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine, Sequence
import contextlib
from datetime import UTC, datetime
import io
import json
import logging
from pathlib import Path
import sys
from typing import Any

from bridge import __version__
from bridge.config import DEFAULT_PORT, BridgeConfig, ConfigError, build
from bridge.opentherm.sim.world import DEFAULT_SEED

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_DENIED = 3
"""``cloud link``: the owner denied the link request."""
EXIT_EXPIRED = 4
"""``cloud link``: the code expired before the owner answered."""


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="config file (.toml or .json)")
    p.add_argument("--data-dir", help="data directory (default: $THERMOSMART_DATA_DIR)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thermosmart-bridge",
        description="ThermoSmart Local: the thermostat daemon and its tools.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the thermostat daemon")
    _add_data_dir(run)
    run.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    run.add_argument("--port", type=int, help=f"API port (default {DEFAULT_PORT})")
    run.add_argument("--boiler", help="boiler URL (default sim://, the simulated boiler)")
    run.add_argument("--sim-speed", type=float, help="simulated seconds per real second")
    run.add_argument(
        "--no-zeroconf", dest="zeroconf", action="store_const", const=False, default=None
    )
    run.add_argument(
        "--zeroconf-interface",
        dest="zeroconf_interfaces",
        action="append",
        metavar="IP",
        help="announce only on this interface address (repeatable)",
    )
    run.add_argument(
        "--allowed-host",
        dest="allowed_hosts",
        action="append",
        metavar="NAME",
        help="another host name the API answers to (repeatable; * for any)",
    )
    run.add_argument("--cloud-url", help="the cloud `cloud link` links to (not contacted by run)")
    run.add_argument("--tls-cert", help="TLS certificate file (with --tls-key)")
    run.add_argument("--tls-key", help="TLS private key file")
    run.add_argument("--timezone", help="the house's time zone (default Europe/Amsterdam)")
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"])

    pair = sub.add_parser("pair", help="print a one-time pairing code (valid 10 minutes)")
    _add_data_dir(pair)
    pair.add_argument("--json", action="store_true")

    token = sub.add_parser("token", help="long-lived API tokens for scripts")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser("create", help="create a token")
    _add_data_dir(create)
    create.add_argument("--name", default="script")
    create.add_argument("--json", action="store_true")
    lst = token_sub.add_parser("list", help="list tokens")
    _add_data_dir(lst)
    lst.add_argument("--json", action="store_true")
    revoke = token_sub.add_parser("revoke", help="revoke a token")
    _add_data_dir(revoke)
    revoke.add_argument("id")
    revoke.add_argument("--json", action="store_true")

    oauth = sub.add_parser("oauth-client", help="third-party OAuth clients")
    oauth_sub = oauth.add_subparsers(dest="oauth_command", required=True, metavar="ACTION")
    ocreate = oauth_sub.add_parser("create", help="register an OAuth client")
    _add_data_dir(ocreate)
    ocreate.add_argument("--redirect-uri", required=True, action="append")
    ocreate.add_argument("--name", default="client")
    ocreate.add_argument("--json", action="store_true")

    unit = sub.add_parser("unit", help="the ThermoSmart wall units the bridge answers")
    unit_sub = unit.add_subparsers(dest="unit_command", required=True, metavar="ACTION")
    uadd = unit_sub.add_parser("add", help="register a wall unit (or give it a new password)")
    _add_data_dir(uadd)
    uadd.add_argument("--hardware-id", required=True, help="printed on the unit, e.g. TS123456")
    uadd.add_argument("--password", required=True, help="the unit's password (its key)")
    uadd.add_argument(
        "--house", action="store_true", help="this unit is the house's thermostat (the first is)"
    )
    uadd.add_argument("--json", action="store_true")
    ulist = unit_sub.add_parser("list", help="list the registered wall units")
    _add_data_dir(ulist)
    ulist.add_argument("--json", action="store_true")
    uremove = unit_sub.add_parser("remove", help="forget a wall unit")
    _add_data_dir(uremove)
    uremove.add_argument("hardware_id", metavar="HWID")
    uremove.add_argument("--json", action="store_true")

    cloud = sub.add_parser("cloud", help="the link to an owner's cloud account")
    cloud_sub = cloud.add_subparsers(dest="cloud_command", required=True, metavar="ACTION")
    clink = cloud_sub.add_parser(
        "link", help="link to the owner's cloud account (needs the cloud_sync consent)"
    )
    _add_data_dir(clink)
    clink.add_argument("--cloud-url", help="the cloud to link to (default: cloud_url)")
    clink.add_argument("--json", action="store_true")
    cstatus = cloud_sub.add_parser("status", help="whether linked, to which cloud, since when")
    _add_data_dir(cstatus)
    cstatus.add_argument("--json", action="store_true")
    cunlink = cloud_sub.add_parser("unlink", help="forget the link and its credential")
    _add_data_dir(cunlink)
    cunlink.add_argument("--json", action="store_true")

    ot = sub.add_parser("ot", help="OpenTherm tools")
    ot_sub = ot.add_subparsers(dest="ot_command", required=True, metavar="ACTION")
    decode = ot_sub.add_parser("decode", help="decode frames or OTGW lines to JSON")
    decode.add_argument("lines", nargs="*", metavar="LINE")

    for name, what, port in (
        ("sim-otgw", "an OTGW TCP server", 25238),
        ("sim-modbus", "a Modbus TCP gateway", 5020),
    ):
        sim = sub.add_parser(name, help=f"simulated boiler behind {what}")
        sim.add_argument("--host", default="127.0.0.1")
        sim.add_argument("--port", type=int, default=port)
        sim.add_argument("--seed", type=int, default=DEFAULT_SEED)
        sim.add_argument("--speed", type=float, default=1.0)

    unit = sub.add_parser("sim-unit", help="a simulated ThermoSmart wall unit polling a server")
    unit.add_argument("--server", required=True, help="http://HOST[:PORT] the unit polls")
    unit.add_argument("--hardware-id", required=True, help="the unit's hardware id")
    unit.add_argument("--password", required=True, help="the unit's password (its key)")
    unit.add_argument(
        "--revision", type=int, choices=range(1, 6), default=5, help="hardware revision"
    )
    unit.add_argument("--seed", type=int, default=DEFAULT_SEED)
    unit.add_argument("--speed", type=float, default=1.0)
    return parser


def _config(args: argparse.Namespace, *keys: str) -> BridgeConfig:
    flags: dict[str, Any] = {"data_dir": args.data_dir}
    for key in keys:
        flags[key] = getattr(args, key, None)
    return build(args.config, flags)


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data))
    else:
        print(text)


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from bridge.daemon import run_daemon

    cfg = _config(
        args,
        "host",
        "port",
        "boiler",
        "sim_speed",
        "zeroconf",
        "zeroconf_interfaces",
        "allowed_hosts",
        "cloud_url",
        "tls_cert",
        "tls_key",
        "timezone",
        "log_level",
    )
    _setup_logging(cfg.log_level)
    return run_daemon(cfg)


def _cmd_pair(args: argparse.Namespace) -> int:
    from bridge.admin import create_pairing_code

    cfg = _config(args)
    code, expires = asyncio.run(create_pairing_code(cfg))
    _emit(
        args,
        {"code": code, "expires": expires},
        f"Pairing code: {code}\nValid for 10 minutes, once.",
    )
    return EXIT_OK


def _cmd_token(args: argparse.Namespace) -> int:
    from bridge import admin

    cfg = _config(args)
    if args.token_command == "create":
        token_id, token = asyncio.run(admin.create_api_token(cfg, args.name))
        _emit(
            args,
            {"access_token": token, "id": token_id, "name": args.name},
            f"Token {token_id} ({args.name}):\n{token}\nKeep it secret; it is shown only once.",
        )
    elif args.token_command == "list":
        tokens = asyncio.run(admin.list_tokens(cfg))
        lines = [f"{t['id']}\t{t['kind']}\t{t['name']}\t{t['created']}" for t in tokens]
        _emit(args, {"tokens": tokens}, "\n".join(lines) or "no tokens")
    else:
        if not asyncio.run(admin.revoke_token(cfg, args.id)):
            print(f"no token with id {args.id}", file=sys.stderr)
            return EXIT_FAILURE
        _emit(args, {"revoked": args.id}, f"revoked {args.id}")
    return EXIT_OK


def _cmd_oauth_client(args: argparse.Namespace) -> int:
    from bridge import admin

    cfg = _config(args)
    client_id, secret = asyncio.run(
        admin.create_oauth_client(cfg, args.name, list(args.redirect_uri))
    )
    _emit(
        args,
        {"client_id": client_id, "client_secret": secret, "redirect_uris": args.redirect_uri},
        f"client_id: {client_id}\nclient_secret: {secret}\nKeep the secret; it is shown only once.",
    )
    return EXIT_OK


def _cmd_unit(args: argparse.Namespace) -> int:
    from bridge import admin

    cfg = _config(args)
    if args.unit_command == "add":
        try:
            unit = asyncio.run(
                admin.add_unit(cfg, args.hardware_id, args.password, house=args.house)
            )
        except ValueError as err:
            print(f"thermosmart-bridge: {err}", file=sys.stderr)
            return EXIT_USAGE
        role = "the house's thermostat" if unit["house"] else "an extra unit"
        _emit(args, unit, f"registered wall unit {unit['hardware_id']} ({role})")
    elif args.unit_command == "list":
        units = asyncio.run(admin.list_units(cfg))
        lines = [
            f"{u['hardware_id']}\t{'house' if u['house'] else '-'}\t"
            f"rev {u['revision'] or '?'}\tfw {u['firmware'] or '?'}\t"
            f"calendar {'-' if u['calendar_version'] is None else u['calendar_version']}"
            for u in units
        ]
        _emit(args, {"units": units}, "\n".join(lines) or "no wall units")
    else:
        if not asyncio.run(admin.remove_unit(cfg, args.hardware_id)):
            print(f"no wall unit {args.hardware_id}", file=sys.stderr)
            return EXIT_FAILURE
        _emit(args, {"removed": args.hardware_id}, f"removed {args.hardware_id}")
    return EXIT_OK


def _since(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _cmd_cloud(args: argparse.Namespace) -> int:
    from bridge import admin
    from bridge.services.cloud_link import (
        CloudLinkError,
        DeviceCode,
        LinkDenied,
        LinkExpired,
        LinkRefused,
    )

    if args.cloud_command == "link":
        cfg = _config(args, "cloud_url")

        def show(code: DeviceCode) -> None:
            where = code.verification_uri_complete or code.verification_uri
            _emit(
                args,
                code.as_dict(),
                f"To link this bridge, open {code.verification_uri} and enter the code"
                f" {code.user_code}\n(or open {where}); the code is valid"
                f" {code.expires_in / 60:g} minutes. Waiting for the owner's answer…",
            )
            sys.stdout.flush()

        try:
            link = asyncio.run(admin.link_cloud(cfg, show))
        except LinkRefused as err:
            print(f"thermosmart-bridge: {err}", file=sys.stderr)
            return EXIT_USAGE
        except LinkDenied as err:
            print(f"thermosmart-bridge: {err}", file=sys.stderr)
            return EXIT_DENIED
        except LinkExpired as err:
            print(f"thermosmart-bridge: {err}", file=sys.stderr)
            return EXIT_EXPIRED
        except CloudLinkError as err:
            print(f"thermosmart-bridge: {err}; nothing was stored", file=sys.stderr)
            return EXIT_FAILURE
        except KeyboardInterrupt:
            print("thermosmart-bridge: linking stopped; nothing was stored", file=sys.stderr)
            return EXIT_FAILURE
        _emit(
            args,
            {"linked": True, **link},
            f"linked to {link['cloud_url']} as thermostat {link['thermostat']}",
        )
        return EXIT_OK
    cfg = _config(args)
    if args.cloud_command == "status":
        found = asyncio.run(admin.cloud_status(cfg))
        if found is None:
            _emit(args, {"linked": False}, "not linked to a cloud")
        else:
            _emit(
                args,
                {"linked": True, **found},
                f"linked to {found['cloud_url']} as thermostat {found['thermostat']}"
                f" since {_since(found['since'])}",
            )
        return EXIT_OK
    gone = asyncio.run(admin.unlink_cloud(cfg))
    if gone is None:
        print("not linked to a cloud", file=sys.stderr)
        return EXIT_FAILURE
    _emit(
        args,
        {"unlinked": gone["cloud_url"]},
        f"forgot the link to {gone['cloud_url']} and its credential on this bridge"
        " (the cloud keeps its side of the link)",
    )
    return EXIT_OK


def _cmd_ot(args: argparse.Namespace) -> int:
    from bridge.opentherm.decode import main as decode_main

    # a line that is not UTF-8 is reported as an invalid line, not a traceback
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    return decode_main(list(args.lines), stdin, sys.stdout)


def _run_sim(
    what: str, serve: Callable[..., Coroutine[Any, Any, None]], args: argparse.Namespace
) -> int:
    """Serve a simulator until Ctrl-C, saying where on stderr."""
    _setup_logging("info")
    print(f"Simulated {what} on {args.host}:{args.port}", file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, seed=args.seed, speed=args.speed))
    return EXIT_OK


def _cmd_sim_otgw(args: argparse.Namespace) -> int:
    from bridge.opentherm.sim.otgw_server import serve_sim_otgw

    return _run_sim("OpenTherm Gateway", serve_sim_otgw, args)


def _cmd_sim_modbus(args: argparse.Namespace) -> int:
    from bridge.opentherm.sim.modbus_server import serve_sim_modbus

    return _run_sim("Modbus OpenTherm gateway", serve_sim_modbus, args)


def _cmd_sim_unit(args: argparse.Namespace) -> int:
    from bridge.core.unit import check_unit_password
    from bridge.unit.protocol import UnitProtocolError, build_request_path
    from bridge.unit.sim.client import check_server_url, serve_sim_unit

    if not args.speed > 0:
        print("thermosmart-bridge sim-unit: --speed must be positive", file=sys.stderr)
        return EXIT_USAGE
    try:
        url = check_server_url(args.server)
        build_request_path(args.hardware_id, "00")
        check_unit_password(args.password)
    except (UnitProtocolError, ValueError) as err:
        print(f"thermosmart-bridge sim-unit: {err}", file=sys.stderr)
        return EXIT_USAGE
    _setup_logging("info")
    print(
        f"Simulated wall unit {args.hardware_id} (revision {args.revision}) polling {url}",
        file=sys.stderr,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve_sim_unit(
                str(url),
                hardware_id=args.hardware_id,
                password=args.password,
                revision=args.revision,
                seed=args.seed,
                speed=args.speed,
            )
        )
    return EXIT_OK


COMMANDS = {
    "run": _cmd_run,
    "pair": _cmd_pair,
    "token": _cmd_token,
    "oauth-client": _cmd_oauth_client,
    "unit": _cmd_unit,
    "cloud": _cmd_cloud,
    "ot": _cmd_ot,
    "sim-otgw": _cmd_sim_otgw,
    "sim-modbus": _cmd_sim_modbus,
    "sim-unit": _cmd_sim_unit,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as err:
        print(f"thermosmart-bridge: invalid configuration: {err}", file=sys.stderr)
        return EXIT_USAGE
