"""The bridge's configuration: command-line flags and the config file.

Every flag of ``thermosmart-bridge run`` has a config-file key of the same
name (``--sim-speed`` is ``sim_speed``); flags given on the command line win
over the file. The file is YAML-free JSON or TOML (chosen by extension) so the
bridge needs no extra parser; it is validated with voluptuous and an invalid
file stops start-up with the key and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import ipaddress
import json
import math
import os
from pathlib import Path
import sys
import tomllib
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import voluptuous as vol

from bridge.core.release_key import MAX_KEY_FILE, parse_public_key
from bridge.opentherm.links.sim import MAX_SEED, SimUrlError, sim_options
from bridge.opentherm.links.unit import SCHEME as UNIT_SCHEME, parse_unit_url
from bridge.opentherm.modbus_maps import ProfileError, build_profiles
from bridge.opentherm.sim.house import PROFILE_NAMES

DEFAULT_PORT = 8722
DEFAULT_HOST = "0.0.0.0"  # noqa: S104 - the bridge serves the LAN by design
DEFAULT_BOILER = "sim://"
BOILER_SCHEMES = (
    "sim",
    "otgw+tcp",
    "socket",
    "otgw+serial",
    "modbus+tcp",
    "modbus+rtu",
    "onoff+modbus+tcp",
    "onoff+modbus+rtu",
    "thermosmart-unit",
)


class ConfigError(ValueError):
    """A configuration value that cannot be used; names the key and the rule."""

    def __init__(self, key: str, rule: str) -> None:
        super().__init__(f"{key}: {rule}")
        self.key = key
        self.rule = rule


def default_data_dir() -> Path:
    """``$THERMOSMART_DATA_DIR``, else the per-user data directory."""
    env = os.environ.get("THERMOSMART_DATA_DIR")
    if env:
        return Path(env)
    if sys.platform == "win32":  # pragma: no cover - the bridge targets Linux
        base = Path(os.environ.get("APPDATA", Path.home()))
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "thermosmart"


def _boiler_url(value: Any) -> str:
    if not isinstance(value, str) or "://" not in value:
        raise vol.Invalid("must be a boiler URL such as sim://, otgw+tcp://HOST:PORT")
    try:
        scheme = urlsplit(value).scheme
    except ValueError as err:  # "Invalid IPv6 URL"
        raise vol.Invalid(f"not a URL: {err}") from None
    if scheme not in BOILER_SCHEMES:
        raise vol.Invalid(f"unknown scheme {scheme!r}; use one of {', '.join(BOILER_SCHEMES)}")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _cloud_url(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise vol.Invalid("must be a URL such as https://cloud.example")
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as err:
        raise vol.Invalid(f"not a URL: {err}") from None
    if parts.scheme not in ("https", "http") or not hostname:
        raise vol.Invalid("must be an https:// URL with a host, such as https://cloud.example")
    if parts.query or parts.fragment or parts.username is not None:
        raise vol.Invalid("must be a base URL without user, query or fragment")
    if parts.scheme == "http" and not _is_loopback(hostname):
        raise vol.Invalid(
            "plain http:// is allowed only to a loopback address (127.0.0.0/8, ::1,"
            " localhost), for development; use https:// for any other host"
        )
    return value


def _timezone(value: Any) -> str:
    try:
        ZoneInfo(str(value))
    # OSError: a key that names a directory ("Europe") or is too long for a file name
    except (ZoneInfoNotFoundError, ValueError, OSError) as err:
        raise vol.Invalid(f"unknown time zone {value!r}") from err
    return str(value)


def _existing_file(value: Any) -> str:
    path = Path(str(value))
    try:
        found = path.is_file()
    except (OSError, ValueError):  # a name too long, or with a NUL (Python 3.11 raises)
        found = False
    if not found:
        raise vol.Invalid(f"file {value!r} does not exist")
    return str(path)


def read_public_key_file(path: str) -> bytes:
    """The raw Ed25519 public key in the file ``path`` (PEM or 32 raw bytes); ValueError
    saying why not."""
    try:
        with Path(path).open("rb") as file:
            data = file.read(MAX_KEY_FILE + 1)
    except (OSError, ValueError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise ValueError(f"cannot read {path!r}: {reason}") from None
    if len(data) > MAX_KEY_FILE:
        raise ValueError(f"{path!r} is larger than {MAX_KEY_FILE} bytes: not a public key")
    try:
        return parse_public_key(data)
    except ValueError as err:
        raise ValueError(f"{path!r}: {err}") from None


def _public_key_file(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise vol.Invalid("must be the path of an Ed25519 public key file")
    try:
        read_public_key_file(value)
    except ValueError as err:
        raise vol.Invalid(str(err)) from None
    return value


def _whole(low: int, high: int | None = None) -> Any:
    """An integer in low..high; true and false are not numbers here."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise vol.Invalid("must be a whole number")
        if value < low or (high is not None and value > high):
            raise vol.Invalid(f"must be {low}-{high}" if high is not None else f"must be >= {low}")
        return value

    return check


def _number(low: float, high: float) -> Any:
    """A finite number in low..high (an integer too large for a float is out of range)."""

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise vol.Invalid("must be a number")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not low <= number <= high:  # NaN fails too
            raise vol.Invalid(f"must be a number from {low:g} to {high:g}")
        return number

    return check


RETENTION_SCHEMA = vol.Schema(
    {
        vol.Optional("raw_days", default=90): _whole(1, 3650),
        vol.Optional("hourly_days", default=730): _whole(1, 36500),
        vol.Optional("events_days", default=365): _whole(1, 3650),
        vol.Optional("egress_days", default=365): _whole(1, 3650),
    },
    extra=vol.PREVENT_EXTRA,
)


def _house(value: Any) -> str:
    if value not in PROFILE_NAMES:
        raise vol.Invalid(f"unknown house {value!r}; use one of {', '.join(PROFILE_NAMES)}")
    return str(value)


# no defaults here: the table holds what the owner wrote, so that a key the
# boiler URL also sets can be checked against it (bridge.opentherm.links.sim)
SIM_SCHEMA = vol.Schema(
    {
        vol.Optional("house"): _house,
        vol.Optional("seed"): _whole(0, MAX_SEED),
    },
    extra=vol.PREVENT_EXTRA,
)

CONFIG_SCHEMA = vol.Schema(
    {
        vol.Optional("data_dir"): vol.All(str, vol.Length(min=1)),
        vol.Optional("host", default=DEFAULT_HOST): vol.All(str, vol.Length(min=1)),
        vol.Optional("port", default=DEFAULT_PORT): _whole(0, 65535),
        vol.Optional("boiler", default=DEFAULT_BOILER): _boiler_url,
        vol.Optional("sim_speed", default=1.0): _number(0.1, 100_000),
        vol.Optional("zeroconf", default=True): bool,
        vol.Optional("zeroconf_interfaces"): [str],
        vol.Optional("allowed_hosts"): [vol.All(str, vol.Length(min=1, max=253))],
        vol.Optional("cloud_url"): _cloud_url,
        vol.Optional("cloud_ca_file"): _existing_file,
        vol.Optional("update_public_key_file"): _public_key_file,
        vol.Optional("tls_cert"): _existing_file,
        vol.Optional("tls_key"): _existing_file,
        vol.Optional("timezone", default="Europe/Amsterdam"): _timezone,
        vol.Optional("log_level", default="info"): vol.In(["debug", "info", "warning", "error"]),
        vol.Optional("retention", default={}): RETENTION_SCHEMA,
        vol.Optional("sim", default={}): SIM_SCHEMA,
        vol.Optional("modbus_profiles", default={}): {str: dict},
    },
    extra=vol.PREVENT_EXTRA,
)


@dataclass(frozen=True, kw_only=True)
class BridgeConfig:
    """The validated configuration of one bridge."""

    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    boiler: str = DEFAULT_BOILER
    sim_speed: float = 1.0
    zeroconf: bool = True
    zeroconf_interfaces: list[str] | None = None
    allowed_hosts: list[str] | None = None
    cloud_url: str | None = None
    cloud_ca_file: str | None = None
    update_public_key_file: str | None = None
    """Trust this Ed25519 key for update manifests instead of the project's release key."""
    tls_cert: str | None = None
    tls_key: str | None = None
    timezone: str = "Europe/Amsterdam"
    log_level: str = "info"
    retention: dict[str, int] = field(default_factory=dict)
    sim: dict[str, Any] = field(default_factory=dict)
    modbus_profiles: dict[str, dict[str, Any]] = field(default_factory=dict)


def _path_of(err: vol.Invalid) -> str:
    return ".".join(str(p) for p in err.path) or "(top level)"


def validate(raw: dict[str, Any]) -> BridgeConfig:
    """Validate a merged config dict; raise :class:`ConfigError` naming the key."""
    try:
        data = CONFIG_SCHEMA(raw)
    except vol.MultipleInvalid as err:
        first = err.errors[0]
        msg = first.error_message
        if msg == "extra keys not allowed":
            msg = "unknown key"
        raise ConfigError(_path_of(first), msg) from err
    except vol.Invalid as err:
        raise ConfigError(_path_of(err), err.error_message) from err
    if ("tls_cert" in data) != ("tls_key" in data):
        raise ConfigError("tls_cert", "tls_cert and tls_key must be given together")
    if urlsplit(data["boiler"]).scheme == "sim":
        try:
            sim_options(data["boiler"], data["sim"])
        except SimUrlError as err:
            text = str(err)
            if text.startswith("[sim] "):
                key, _, rule = text.removeprefix("[sim] ").partition(": ")
                if not rule:  # "[sim] house = 'x' disagrees with …"
                    key, rule = key.split(" ", 1)[0], text.removeprefix("[sim] ")
                raise ConfigError(f"sim.{key}", rule) from err
            raise ConfigError("boiler", text) from err
    if urlsplit(data["boiler"]).scheme == UNIT_SCHEME:
        try:
            parse_unit_url(data["boiler"])
        except ValueError as err:
            raise ConfigError("boiler", str(err)) from err
    try:
        build_profiles(data["modbus_profiles"])
    except ProfileError as err:
        raise ConfigError(err.path, err.rule) from err
    data_dir = Path(data.pop("data_dir")) if "data_dir" in data else default_data_dir()
    return BridgeConfig(data_dir=data_dir, **data)


def load_file(path: Path) -> dict[str, Any]:
    """Read a config file (``.json`` or ``.toml``)."""
    try:
        content = path.read_bytes()
    except OSError as err:
        raise ConfigError("config", f"cannot read {path}: {err.strerror}") from err
    kind = path.suffix or "TOML"
    try:
        text = content.decode("utf-8")
        if path.suffix == ".json":
            data: Any = json.loads(text)
        else:
            data = tomllib.loads(text)
    # UnicodeDecodeError and TOMLDecodeError are ValueErrors
    except ValueError as err:
        raise ConfigError("config", f"{path} is not valid {kind}: {err}") from err
    except RecursionError:
        # both parsers recurse once per level of nesting
        raise ConfigError("config", f"{path} is not valid {kind}: nested too deeply") from None
    if not isinstance(data, dict):
        raise ConfigError("config", f"{path} must hold a table of keys")
    return data


def build(file: Path | None, flags: dict[str, Any]) -> BridgeConfig:
    """The configuration from an optional file overlaid with the given flags."""
    raw: dict[str, Any] = load_file(file) if file is not None else {}
    raw.update({k: v for k, v in flags.items() if v is not None})
    return validate(raw)
