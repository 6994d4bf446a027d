"""Modbus device addresses: the target of a Modbus URL and its query parameters.

``modbus+tcp://HOST[:PORT]?unit=1&timeout=1.0`` or
``modbus+rtu:///dev/ttyUSB0?unit=1&baudrate=9600&parity=N&stopbits=1&bytesize=8``
(the schemes are the caller's: the boiler link and the relay link each
have their own). :func:`parse_target` checks every parameter and raises
:class:`ModbusUrlError` naming the bad one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
import math
from typing import Literal, TypeVar
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "BAUDRATES",
    "DEFAULT_IO_TIMEOUT",
    "DEFAULT_TCP_PORT",
    "ModbusTarget",
    "ModbusUrlError",
    "ParamParser",
    "int_param",
    "name_param",
    "parse_target",
]

DEFAULT_TCP_PORT = 502
DEFAULT_IO_TIMEOUT = 1.0
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)


class ModbusUrlError(ValueError):
    """A boiler URL for a Modbus adapter that is malformed or has a bad parameter."""


@dataclass(frozen=True, slots=True)
class ModbusTarget:
    """Where a Modbus device is and how to talk to it."""

    transport: Literal["tcp", "rtu"]
    host: str
    """The TCP host, or the serial device path for RTU."""
    port: int = DEFAULT_TCP_PORT
    unit: int = 1
    timeout: float = DEFAULT_IO_TIMEOUT
    """Seconds to wait for one Modbus answer."""
    baudrate: int = 9600
    parity: str = "N"
    stopbits: int = 1
    bytesize: int = 8

    def describe(self) -> str:
        """A short human name for logs (``tcp://host:502 unit 1``)."""
        where = f"{self.host}:{self.port}" if self.transport == "tcp" else self.host
        return f"{self.transport}://{where} unit {self.unit}"


ParamParser = Callable[[str, str], object]


def int_param(low: int, high: int) -> ParamParser:
    """A parameter that takes a whole number from ``low`` to ``high``."""

    def parse(name: str, text: str) -> int:
        if not text.isdigit():
            raise ModbusUrlError(f"{name}={text!r}: must be a whole number {low}-{high}")
        value = int(text)
        if not low <= value <= high:
            raise ModbusUrlError(f"{name}={value}: must be between {low} and {high}")
        return value

    return parse


def _choice_param(choices: Iterable[object]) -> ParamParser:
    allowed = {str(c): c for c in choices}

    def parse(name: str, text: str) -> object:
        key = text.upper() if name == "parity" else text
        if key not in allowed:
            raise ModbusUrlError(f"{name}={text!r}: must be one of {', '.join(allowed)}")
        return allowed[key]

    return parse


def _timeout_param(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ModbusUrlError(f"{name}={text!r}: must be a number of seconds") from None
    if not math.isfinite(value) or not 0.05 <= value <= 30:
        raise ModbusUrlError(f"{name}={text!r}: must be between 0.05 and 30 seconds")
    return value


def name_param(name: str, text: str) -> str:
    """A parameter that takes any non-empty text (a profile name)."""
    if not text:
        raise ModbusUrlError(f"{name}: must not be empty")
    return text


_COMMON_PARAMS: dict[str, ParamParser] = {"timeout": _timeout_param}
_TCP_PARAMS: dict[str, ParamParser] = {**_COMMON_PARAMS, "unit": int_param(0, 255)}
_RTU_PARAMS: dict[str, ParamParser] = {
    **_COMMON_PARAMS,
    "unit": int_param(1, 247),
    "baudrate": _choice_param(BAUDRATES),
    "parity": _choice_param(["N", "E", "O"]),
    "stopbits": _choice_param([1, 2]),
    "bytesize": _choice_param([7, 8]),
}


_T = TypeVar("_T", int, float, str)


def _take(values: dict[str, object], name: str, default: _T) -> _T:
    value = values.pop(name, default)
    if not isinstance(value, type(default)):
        raise TypeError(f"{name} parsed to {type(value).__name__}")
    return value


def parse_target(
    url: str, schemes: Mapping[str, Literal["tcp", "rtu"]], extra: Mapping[str, ParamParser]
) -> tuple[ModbusTarget, dict[str, object]]:
    """Split a Modbus URL into its target and the values of ``extra`` parameters.

    ``schemes`` maps each accepted URL scheme to its transport. Every query
    parameter is checked; an unknown or repeated one is an error.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise ModbusUrlError(f"{url!r}: {err}") from None
    transport = schemes.get(parts.scheme)
    if transport is None:
        raise ModbusUrlError(f"{url!r}: the scheme must be one of {', '.join(schemes)}")
    if parts.fragment or parts.username or parts.password:
        raise ModbusUrlError(f"{url!r}: no user, password or #fragment allowed")
    allowed = {**(_TCP_PARAMS if transport == "tcp" else _RTU_PARAMS), **extra}
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ModbusUrlError(f"{url!r}: malformed query {parts.query!r}") from None
    values: dict[str, object] = {}
    for name, text in pairs:
        if name not in allowed:
            raise ModbusUrlError(
                f"{url!r}: unknown parameter {name!r} (allowed: {', '.join(sorted(allowed))})"
            )
        if name in values:
            raise ModbusUrlError(f"{url!r}: parameter {name!r} given twice")
        values[name] = allowed[name](name, text)
    if transport == "tcp":
        if not parts.hostname:
            raise ModbusUrlError(f"{url!r}: a host is required ({parts.scheme}://HOST:PORT)")
        if parts.path not in ("", "/"):
            raise ModbusUrlError(f"{url!r}: a TCP address has no path")
        if port == 0:
            raise ModbusUrlError(f"{url!r}: port 0 is not a port")
        target = ModbusTarget(
            "tcp",
            parts.hostname,
            port=DEFAULT_TCP_PORT if port is None else port,
            unit=_take(values, "unit", 1),
            timeout=_take(values, "timeout", DEFAULT_IO_TIMEOUT),
        )
    else:
        if parts.netloc or not parts.path or parts.path == "/":
            raise ModbusUrlError(
                f"{url!r}: give the serial device as a path ({parts.scheme}:///dev/ttyUSB0)"
            )
        target = ModbusTarget(
            "rtu",
            parts.path,
            port=0,
            unit=_take(values, "unit", 1),
            timeout=_take(values, "timeout", DEFAULT_IO_TIMEOUT),
            baudrate=_take(values, "baudrate", 9600),
            parity=_take(values, "parity", "N"),
            stopbits=_take(values, "stopbits", 1),
            bytesize=_take(values, "bytesize", 8),
        )
    return target, values
