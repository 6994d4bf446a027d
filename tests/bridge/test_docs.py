"""docs/bridge.md against the code: the commands and flags, the config keys.

Both sides are read for real: the command tables of docs/bridge.md against
the ``--help`` of ``thermosmart-bridge`` and ``thermosmart-cloud``, and the
config key table against the config loader (its schema, its defaults) and a
bridge started from a file that sets each key. A change to either side that
the other does not follow fails here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
import json
from pathlib import Path
import re
from typing import Any

import pytest
import voluptuous as vol

from bridge import cli as bridge_cli
from bridge.admin import DB_FILE
from bridge.config import CONFIG_SCHEMA, BridgeConfig, ConfigError, build, validate
from bridge.core.clock import VirtualClock
from bridge.core.release_key import RELEASE_PUBLIC_KEY_PEM
from bridge.daemon import Bridge
from bridge.opentherm.links.factory import make_link
from bridge.opentherm.links.sim import SimLink, sim_options
from bridge.opentherm.sim.scaled_clock import ScaledClock
from cloud_stub import cli as cloud_cli

from .conftest import virtual_bridge

DOC = Path(__file__).resolve().parents[2] / "docs" / "bridge.md"
PROGRAMS: dict[str, Callable[[list[str]], int]] = {
    "thermosmart-bridge": bridge_cli.main,
    "thermosmart-cloud": cloud_cli.main,
}
FLAG = re.compile(r"--[a-z][a-z0-9-]*")


def _rows(text: str) -> Iterator[list[str]]:
    """The cells of every Markdown table row (header and separator rows included)."""
    for line in text.splitlines():
        if line.startswith("|") and line.rstrip().endswith("|"):
            yield [cell.strip() for cell in line.strip().strip("|").split(" | ")]


def _table(*header: str) -> list[list[str]]:
    """The body rows of the first table of docs/bridge.md whose header is ``header``."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if next(_rows(line), None) == list(header):
            body: list[list[str]] = []
            for row_line in lines[i + 2 :]:
                row = next(_rows(row_line), None)
                if row is None:
                    return body
                body.append(row)
            return body
    raise AssertionError(f"docs/bridge.md has no table headed {header}")


def _code(cell: str) -> str:
    match = re.fullmatch(r"`([^`]*)`", cell.split(" (", maxsplit=1)[0].strip())
    return match.group(1) if match else ""


# -- commands ------------------------------------------------------------------


def documented_commands() -> dict[tuple[str, ...], set[str]]:
    """(program, subcommand…) -> the flags docs/bridge.md shows for it."""
    commands: dict[tuple[str, ...], set[str]] = {}
    for cells in _rows(DOC.read_text(encoding="utf-8")):
        text = _code(cells[0])
        words = text.split()
        if not words or words[0] not in PROGRAMS:
            continue
        path = [words[0]]
        for word in words[1:]:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            path.append(word)
        commands.setdefault(tuple(path), set()).update(FLAG.findall(text))
    return commands


def _help(capsys: pytest.CaptureFixture[str], program: str, path: list[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        PROGRAMS[program]([*path, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def real_commands(capsys: pytest.CaptureFixture[str]) -> dict[tuple[str, ...], set[str]]:
    """(program, subcommand…) -> the flags its ``--help`` lists, for every leaf and root."""
    commands: dict[tuple[str, ...], set[str]] = {}

    def walk(program: str, path: list[str]) -> None:
        text = _help(capsys, program, path)
        flags: set[str] = set()
        subcommands: list[str] = []
        section = ""
        for line in text.splitlines():
            if line and not line.startswith(" "):
                section = line
                continue
            if section.startswith("options") and re.match(r"^ {2}-", line):
                flags.update(FLAG.findall(re.split(r"\s{2,}", line.strip())[0]))
            elif section.startswith("positional") and (m := re.match(r"^ {4}([a-z][\w-]*)", line)):
                subcommands.append(m.group(1))
        flags.discard("--help")
        if not subcommands or not path or flags:
            commands[(program, *path)] = flags
        for name in subcommands:
            walk(program, [*path, name])

    for program in PROGRAMS:
        walk(program, [])
    return commands


def test_cli_help_and_the_doc_list_the_same_commands_and_flags(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    documented = documented_commands()
    real = real_commands(capsys)
    assert ("thermosmart-bridge", "run") in documented, "the command table was not found"
    assert sorted(documented) == sorted(real), "commands differ between --help and the doc"
    for command, flags in real.items():
        assert documented[command] == flags, f"{' '.join(command)}: flags differ"


def test_every_run_flag_sets_its_documented_config_key() -> None:
    keys = set(documented_keys())
    parser = bridge_cli._parser()
    values = {"--no-zeroconf": [], "--log-level": ["info"]}
    for flag in documented_commands()[("thermosmart-bridge", "run")] - {"--config"}:
        parsed = vars(parser.parse_args(["run", flag, *values.get(flag, ["1"])]))
        dests = [k for k, v in parsed.items() if v is not None and k != "command"]
        assert len(dests) == 1, (flag, dests)
        assert dests[0] in keys, f"{flag} sets {dests[0]!r}, which docs/bridge.md does not list"


# -- config keys ---------------------------------------------------------------


def documented_keys() -> dict[str, str]:
    """Key -> its default cell, from the key table of docs/bridge.md."""
    return {_code(cells[0]): cells[1] for cells in _table("key", "default", "meaning")}


def loader_keys() -> set[str]:
    """Every key the config loader accepts, nested tables as ``table.key``."""
    keys: set[str] = set()
    for marker, value in CONFIG_SCHEMA.schema.items():
        name = str(marker.schema)
        if isinstance(value, vol.Schema):
            keys.update(f"{name}.{sub.schema}" for sub in value.schema)
        else:
            keys.add(name)
    return keys


@dataclass(frozen=True)
class Key:
    """What a key changes: ``effect`` reads it from the config or the running bridge."""

    value: Any
    effect: Callable[[BridgeConfig, Bridge | None], Any]
    expected: Any = None
    running: bool = False


def _tls(tmp: Path) -> str:
    (tmp / "cert.pem").write_text("not read before start", encoding="utf-8")
    return str(tmp / "cert.pem")


def _public_key(tmp: Path) -> str:
    (tmp / "release.pub").write_bytes(RELEASE_PUBLIC_KEY_PEM)
    return str(tmp / "release.pub")


def _keys(tmp: Path) -> dict[str, Key]:
    """For every documented key: a value other than the default and where it shows."""

    def world(b: Bridge | None) -> Any:
        return b.link.world if b is not None and isinstance(b.link, SimLink) else None

    def retention(name: str) -> Callable[[BridgeConfig, Bridge | None], Any]:
        return lambda _c, b: getattr(b.db.retention, name).days if b else None

    return {
        "data_dir": Key(
            str(tmp / "elsewhere"),
            lambda _c, b: (b.config.data_dir / DB_FILE).is_file() if b else None,
            expected=True,
            running=True,
        ),
        "host": Key("127.0.0.2", lambda c, _b: c.host),
        "port": Key(8999, lambda c, _b: c.port),
        "boiler": Key(
            "otgw+tcp://127.0.0.1:1", lambda c, _b: make_link(c.boiler, VirtualClock()).kind, "otgw"
        ),
        "sim_speed": Key(60, lambda c, _b: getattr(Bridge(c).clock, "speed", 1.0), 60.0),
        "zeroconf": Key(False, lambda c, _b: c.zeroconf),
        "zeroconf_interfaces": Key(["127.0.0.1"], lambda c, _b: c.zeroconf_interfaces),
        "allowed_hosts": Key(
            ["thermostat.home.example"],
            lambda _c, b: b.host_policy.configured if b else None,
            running=True,
        ),
        "cloud_url": Key("https://cloud.example", lambda c, _b: c.cloud_url),
        "cloud_ca_file": Key(_tls(tmp), lambda c, _b: c.cloud_ca_file),
        "update_public_key_file": Key(_public_key(tmp), lambda c, _b: c.update_public_key_file),
        "tls_cert": Key(_tls(tmp), lambda c, _b: c.tls_cert),
        "tls_key": Key(_tls(tmp), lambda c, _b: c.tls_key),
        "timezone": Key(
            "Europe/Brussels",
            lambda _c, b: b.thermostat.state.timezone if b else None,
            running=True,
        ),
        "log_level": Key("debug", lambda c, _b: c.log_level),
        "retention.raw_days": Key(7, retention("raw_samples"), running=True),
        "retention.hourly_days": Key(8, retention("hourly_aggregates"), running=True),
        "retention.events_days": Key(9, retention("events"), running=True),
        "retention.egress_days": Key(10, retention("egress_log"), running=True),
        "sim.house": Key(
            "underfloor",
            lambda _c, b: world(b).profile.name,
            running=True,
        ),
        "sim.seed": Key(
            5,
            lambda _c, b: world(b).seed,
            running=True,
        ),
        "modbus_profiles": Key(
            {"mine": {"base": "setecna", "register_write_function": 16}},
            lambda c, _b: c.modbus_profiles,
        ),
    }


def _literal(cell: str) -> Any:
    """A default cell as a value: `8722` -> 8722, `true` -> True, none -> None."""
    text = _code(cell)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _nested(raw: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    table, _, sub = key.partition(".")
    if sub:
        raw.setdefault(table, {})[sub] = value
    else:
        raw[key] = value
    return raw


def _file(tmp: Path, raw: dict[str, Any]) -> Path:
    path = tmp / "bridge.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


BASE = {"host": "127.0.0.1", "port": 0, "zeroconf": False}


def test_the_doc_lists_every_config_key_the_loader_accepts(tmp_path: Path) -> None:
    assert set(documented_keys()) == loader_keys()
    assert set(_keys(tmp_path)) == loader_keys(), "a key without a check of what it changes"


async def test_every_documented_default_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("THERMOSMART_DATA_DIR", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    defaults = validate({})
    async with virtual_bridge(tmp_path) as (bridge, _clock):
        for key, cell in documented_keys().items():
            check = _keys(tmp_path)[key]
            if key == "data_dir":
                continue
            if key == "sim_speed":
                actual: Any = 1.0
                assert not isinstance(Bridge(defaults).clock, ScaledClock)
            elif key.startswith("sim."):
                opts = sim_options(defaults.boiler, defaults.sim)
                actual = {"sim.house": opts.profile, "sim.seed": opts.seed}[key]
                assert check.effect(defaults, bridge) == actual, key
            elif check.running:
                actual = check.effect(defaults, bridge)
            else:
                actual = check.effect(defaults, None)
            if key == "boiler":
                actual = defaults.boiler
            if key == "modbus_profiles":
                actual = defaults.modbus_profiles or None
            assert actual == _literal(cell), f"{key}: the doc says {cell}, the default is {actual}"


def test_the_documented_data_dir_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cell = documented_keys()["data_dir"]
    assert re.findall(r"`([^`]*)`", cell) == [
        "$THERMOSMART_DATA_DIR",
        "$XDG_DATA_HOME/thermosmart",
        "~/.local/share/thermosmart",
    ]
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("THERMOSMART_DATA_DIR", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert validate({}).data_dir == tmp_path / "home" / ".local" / "share" / "thermosmart"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert validate({}).data_dir == tmp_path / "xdg" / "thermosmart"
    monkeypatch.setenv("THERMOSMART_DATA_DIR", str(tmp_path / "own"))
    assert validate({}).data_dir == tmp_path / "own"


@pytest.mark.parametrize("key", sorted(documented_keys()))
async def test_every_documented_key_changes_what_it_says(tmp_path: Path, key: str) -> None:
    check = _keys(tmp_path)[key]
    raw = _nested(json.loads(json.dumps(BASE)), key, check.value)
    if key in ("tls_cert", "tls_key"):
        raw["tls_cert"] = raw["tls_key"] = check.value
    if key == "data_dir":
        raw.pop("data_dir")
    config = build(_file(tmp_path, raw), {})
    expected = check.value if check.expected is None else check.expected
    if check.running:
        extra = {k: v for k, v in raw.items() if k not in BASE}
        if key == "data_dir":
            extra = {"data_dir": check.value}
        async with virtual_bridge(tmp_path, **extra) as (bridge, _clock):
            assert check.effect(bridge.config, bridge) == expected
    else:
        assert check.effect(config, None) == expected


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"sim": {"house": "no_such_house"}}, "sim.house"),
        ({"sim": {"seed": -1}}, "sim.seed"),
        ({"sim": {"colour": "red"}}, "sim.colour"),
        ({"boiler": "sim://?profile=underfloor", "sim": {"house": "new_build"}}, "sim.house"),
        ({"boiler": "sim://?seed=2", "sim": {"seed": 3}}, "sim.seed"),
    ],
)
def test_a_bad_sim_table_is_a_config_error(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate(raw)
    assert err.value.key == key


def test_the_sim_table_and_the_url_agreeing_is_fine() -> None:
    config = validate(
        {"boiler": "sim://?profile=underfloor&seed=4", "sim": {"house": "underfloor"}}
    )
    assert sim_options(config.boiler, config.sim).seed == 4
    assert sim_options(config.boiler, config.sim).profile == "underfloor"


def test_the_sim_table_of_a_real_boiler_is_checked_but_unused() -> None:
    config = validate({"boiler": "otgw+tcp://127.0.0.1:1", "sim": {"house": "underfloor"}})
    assert make_link(config.boiler, VirtualClock(), sim=config.sim).kind == "otgw"
    with pytest.raises(ConfigError):
        validate({"boiler": "otgw+tcp://127.0.0.1:1", "sim": {"house": "castle"}})


def test_every_documented_boiler_url_passes_the_config_check() -> None:
    urls = [url for cells in _table("URL", "adapter") for url in re.findall(r"`([^`]+)`", cells[0])]
    assert any(u.startswith("onoff+modbus+rtu://") for u in urls)
    for url in urls:
        concrete = url.replace("HOST", "127.0.0.1").replace("PORT", "1").replace("coil=N", "coil=1")
        config = validate({"boiler": concrete})
        assert make_link(config.boiler, VirtualClock()).kind, url
