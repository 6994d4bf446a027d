"""Register maps of Modbus OpenTherm gateways, as data.

A :class:`ModbusProfile` says where a gateway keeps each OpenTherm data-id:
the holding register, whether the bridge reads or writes it, how the
register encodes the value (``tenth``: the value times ten, ``raw``: the
integer itself, ``f8.8``: the OpenTherm fixed-point bits, ``bytes``: the
OpenTherm high and low byte as they are), and whether it is signed. Coils
carry single ID 0 status flags. Status registers report the gateway's own
OpenTherm error count and "communication failed" flag.

The built-in profile ``setecna`` is the SETECNA MB-OTG map. Items the
manual leaves uncertain are settings of the profile: the register write
function (0x06, the manual's "0x05" being a probable typo, or 0x10), the
readable coils mirroring the slave flags (none by default, as the manual
does not list them) and the "not used" value the gateway shows for data it
does not have (0x8000 by default). Register numbers are Modbus protocol
addresses (the number on the wire), as the manual writes them.

Custom profiles come from the configuration file::

    modbus_profiles:
      mygateway:
        base: setecna               # optional: start from a built-in profile
        register_write_function: 16
        not_used: [0x8000, 0x7FFF]
        registers:
          12: null                  # drop an entry of the base profile
          30: {id: 24, access: write, scale: tenth, signed: true, min: -20, max: 50}
        coils:
          0: fault                  # slave flags: read
          3: flame
          48: ch_enable             # master flags: written from ID 0
        status: {error_count: 22, comm_failed: 23}

:func:`build_profile` and :func:`build_profiles` check such a mapping and
raise :class:`ProfileError` naming the key and the rule it breaks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
import math
from typing import Any

import voluptuous as vol

from bridge.opentherm import formats


class Access(StrEnum):
    """What the bridge does with a register."""

    READ = "read"
    WRITE = "write"
    READWRITE = "readwrite"


class Scale(StrEnum):
    """How a holding register encodes a value."""

    TENTH = "tenth"
    RAW = "raw"
    F88 = "f8.8"
    BYTES = "bytes"


class OtFormat(StrEnum):
    """The OpenTherm data format of the value carried in a frame."""

    F88 = "f8.8"
    U16 = "u16"
    S16 = "s16"
    BYTES = "bytes"


# ID 0 status flags: name -> bit. Master flags are the high byte, slave flags the low byte.
MASTER_FLAGS: dict[str, int] = {
    "ch_enable": 0,
    "dhw_enable": 1,
    "cooling_enable": 2,
    "otc_active": 3,
    "ch2_enable": 4,
    "summer_mode": 5,
    "dhw_blocking": 6,
}
SLAVE_FLAGS: dict[str, int] = {
    "fault": 0,
    "ch_active": 1,
    "dhw_active": 2,
    "flame": 3,
    "cooling_active": 4,
    "ch2_active": 5,
    "diagnostic": 6,
}

REGISTER_WRITE_FUNCTIONS = (6, 16)
COIL_WRITE_FUNCTIONS = (5, 15)


class ProfileError(ValueError):
    """A register map that breaks a rule; ``path`` names the offending key."""

    def __init__(self, path: str, rule: str) -> None:
        super().__init__(f"{path}: {rule}")
        self.path = path
        self.rule = rule


@dataclass(frozen=True, slots=True)
class RegisterMap:
    """One holding register and the OpenTherm data-id it carries.

    ``minimum``/``maximum`` (in the value's unit, e.g. degrees C) bound what
    the bridge writes; every writable register that is not ``bytes`` has them.
    """

    address: int
    data_id: int
    access: Access
    scale: Scale
    signed: bool
    ot_format: OtFormat
    minimum: float | None = None
    maximum: float | None = None

    @property
    def readable(self) -> bool:
        """True if the bridge reads this register."""
        return self.access in (Access.READ, Access.READWRITE)

    @property
    def writable(self) -> bool:
        """True if the bridge writes this register."""
        return self.access in (Access.WRITE, Access.READWRITE)


@dataclass(frozen=True, slots=True)
class CoilMap:
    """One coil carrying one ID 0 flag: a master flag (written) or a slave flag (read)."""

    address: int
    flag: str

    @property
    def master(self) -> bool:
        """True for a master flag (high byte of ID 0), which the bridge writes."""
        return self.flag in MASTER_FLAGS

    @property
    def bit(self) -> int:
        """The flag's bit in its byte of ID 0."""
        return MASTER_FLAGS[self.flag] if self.master else SLAVE_FLAGS[self.flag]


@dataclass(frozen=True, slots=True)
class ModbusProfile:
    """The register map of one kind of Modbus OpenTherm gateway."""

    name: str
    registers: tuple[RegisterMap, ...]
    coils: tuple[CoilMap, ...] = ()
    error_count_register: int | None = None
    comm_failed_register: int | None = None
    not_used: frozenset[int] = frozenset({0x8000})
    register_write_function: int = 6
    coil_write_function: int = 5

    def read_register(self, data_id: int) -> RegisterMap | None:
        """The register the bridge reads for ``data_id``, if any."""
        return next((r for r in self.registers if r.data_id == data_id and r.readable), None)

    def write_register(self, data_id: int) -> RegisterMap | None:
        """The register the bridge writes for ``data_id``, if any."""
        return next((r for r in self.registers if r.data_id == data_id and r.writable), None)

    @property
    def master_coils(self) -> tuple[CoilMap, ...]:
        """Coils written from the master flags of ID 0."""
        return tuple(c for c in self.coils if c.master)

    @property
    def slave_coils(self) -> tuple[CoilMap, ...]:
        """Coils read into the slave flags of ID 0."""
        return tuple(c for c in self.coils if not c.master)

    @property
    def status_registers(self) -> tuple[int, ...]:
        """The gateway status registers the profile has, in address order."""
        regs = (self.error_count_register, self.comm_failed_register)
        return tuple(sorted(r for r in regs if r is not None))


# --------------------------------------------------------------------------
# Conversions: register <-> number <-> OpenTherm data value
# --------------------------------------------------------------------------


def _s16(raw: int) -> int:
    return raw - 0x10000 if raw & 0x8000 else raw


def ot_to_number(fmt: OtFormat, value: int) -> float:
    """The number an OpenTherm data value stands for (not for ``bytes``)."""
    if fmt is OtFormat.F88:
        return formats.decode_f8_8(value)
    if fmt is OtFormat.S16:
        return float(formats.decode_s16(value))
    if fmt is OtFormat.U16:
        return float(formats.decode_u16(value))
    raise ValueError("a byte pair is not a number")


def number_to_ot(fmt: OtFormat, number: float) -> int | None:
    """The OpenTherm data value for ``number``, or None if the format cannot hold it."""
    if not math.isfinite(number):
        return None
    try:
        if fmt is OtFormat.F88:
            return formats.encode_f8_8(number)
        if fmt is OtFormat.S16:
            return formats.encode_s16(round(number))
        if fmt is OtFormat.U16:
            return formats.encode_u16(round(number))
    except formats.CodecError:
        return None
    raise ValueError("a byte pair is not a number")


def register_to_number(reg: RegisterMap, raw: int) -> float:
    """The number a register value stands for (not for ``bytes``)."""
    if reg.scale is Scale.F88:
        return _s16(raw) / 256
    whole = _s16(raw) if reg.signed else raw
    if reg.scale is Scale.TENTH:
        return whole / 10
    if reg.scale is Scale.RAW:
        return float(whole)
    raise ValueError("a byte pair is not a number")


def number_to_register(reg: RegisterMap, number: float) -> int | None:
    """The register value for ``number``, or None if the register cannot hold it."""
    if not math.isfinite(number):
        return None
    if reg.scale is Scale.F88:
        scaled = number * 256
        low, high = -0x8000, 0x7FFF
    else:
        scaled = number * 10 if reg.scale is Scale.TENTH else number
        low, high = (-0x8000, 0x7FFF) if reg.signed else (0, 0xFFFF)
    # compare before rounding: a finite number times 256 may be infinite
    if not low - 0.5 <= scaled <= high + 0.5:
        return None
    whole = round(scaled)
    if not low <= whole <= high:
        return None
    return whole & 0xFFFF


def decode_register(reg: RegisterMap, raw: int) -> int | None:
    """The OpenTherm data value for a register value; None if it does not fit the format."""
    if reg.scale is Scale.BYTES:
        return raw & 0xFFFF
    if reg.ot_format is OtFormat.BYTES:  # raw or scaled value passed through as a byte pair
        return raw & 0xFFFF
    return number_to_ot(reg.ot_format, register_to_number(reg, raw))


def encode_register(reg: RegisterMap, value: int) -> int | None:
    """The register value for an OpenTherm data value (no clamping); None if it does not fit."""
    if reg.scale is Scale.BYTES or reg.ot_format is OtFormat.BYTES:
        return value & 0xFFFF
    return number_to_register(reg, ot_to_number(reg.ot_format, value))


def clamp_write(reg: RegisterMap, value: int) -> tuple[int, int]:
    """Bound an OpenTherm value the bridge writes to ``reg``.

    Returns the register value to write and the OpenTherm value it stands
    for (what the WRITE-ACK carries). The value is clamped to the register's
    ``minimum``/``maximum``, so nothing negative or absurd is ever written.
    """
    if reg.scale is Scale.BYTES or reg.ot_format is OtFormat.BYTES:
        return value & 0xFFFF, value & 0xFFFF
    if reg.minimum is None or reg.maximum is None:
        raise ValueError(f"register {reg.address} has no bounds for writing")
    number = min(max(ot_to_number(reg.ot_format, value), reg.minimum), reg.maximum)
    raw = number_to_register(reg, number)
    if raw is None:  # bounds are checked against the register when the profile is built
        raise ValueError(f"register {reg.address} cannot hold {number}")
    written = number_to_ot(reg.ot_format, register_to_number(reg, raw))
    if written is None:
        raise ValueError(f"data-id {reg.data_id} cannot carry {number}")
    return raw, written


# --------------------------------------------------------------------------
# The built-in profile
# --------------------------------------------------------------------------


def _r(
    address: int, data_id: int, scale: Scale, ot: OtFormat, *, signed: bool = False
) -> RegisterMap:
    return RegisterMap(address, data_id, Access.READ, scale, signed, ot)


def _w(address: int, data_id: int, low: float, high: float) -> RegisterMap:
    return RegisterMap(
        address,
        data_id,
        Access.WRITE,
        Scale.TENTH,
        signed=False,
        ot_format=OtFormat.F88,
        minimum=low,
        maximum=high,
    )


SETECNA = ModbusProfile(
    name="setecna",
    registers=(
        _r(2, 3, Scale.BYTES, OtFormat.BYTES),  # slave config / member id
        _r(3, 5, Scale.BYTES, OtFormat.BYTES),  # fault flags / OEM fault code
        _r(4, 6, Scale.BYTES, OtFormat.BYTES),  # remote boiler parameter flags
        _r(5, 15, Scale.BYTES, OtFormat.BYTES),  # max capacity kW / min modulation %
        _r(6, 17, Scale.TENTH, OtFormat.F88),  # relative modulation %
        _r(7, 18, Scale.TENTH, OtFormat.F88),  # CH water pressure bar
        _r(8, 25, Scale.TENTH, OtFormat.F88, signed=True),  # flow temperature
        _r(9, 26, Scale.TENTH, OtFormat.F88, signed=True),  # DHW temperature
        _r(10, 27, Scale.TENTH, OtFormat.F88, signed=True),  # outside temperature
        _r(11, 28, Scale.TENTH, OtFormat.F88, signed=True),  # return temperature
        _r(12, 33, Scale.TENTH, OtFormat.S16, signed=True),  # exhaust temperature
        _r(13, 35, Scale.BYTES, OtFormat.BYTES),  # fan speed
        _r(14, 36, Scale.TENTH, OtFormat.F88),  # flame current
        _r(15, 48, Scale.BYTES, OtFormat.BYTES),  # DHW setpoint bounds s8/s8
        _r(16, 49, Scale.BYTES, OtFormat.BYTES),  # max CH setpoint bounds s8/s8
        _r(17, 120, Scale.RAW, OtFormat.U16),  # burner hours
        _r(18, 121, Scale.RAW, OtFormat.U16),  # CH pump hours
        _w(25, 1, 0.0, 100.0),  # CH setpoint x10 (550 = 55 C)
        _w(26, 56, 0.0, 100.0),  # DHW setpoint x10
        _w(27, 14, 0.0, 100.0),  # max relative modulation x10 (1000 = full power)
    ),
    coils=(CoilMap(48, "ch_enable"),),
    error_count_register=22,
    comm_failed_register=23,
)

BUILTIN_PROFILES: dict[str, ModbusProfile] = {SETECNA.name: SETECNA}


# --------------------------------------------------------------------------
# Profiles from configuration
# --------------------------------------------------------------------------


#: More digits than any address or register value needs (int() refuses past 4300).
_MAX_DIGITS = 10


def _strict_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        text = value.strip() if isinstance(value, str) else ""
        # ASCII digits only: str.isdigit() also passes "²" and reads "٣" as 3
        if text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS:
            return int(text)
        raise vol.Invalid("must be a whole number")
    return value


def _address(value: Any) -> int:
    number = _strict_int(value)
    if not 0 <= number <= 0xFFFF:
        raise vol.Invalid("must be a Modbus address 0-65535")
    return number


def _optional_address(value: Any) -> int | None:
    return None if value is None else _address(value)


def _word(value: Any) -> int:
    number = _strict_int(value)
    if not 0 <= number <= 0xFFFF:
        raise vol.Invalid("must be a 16-bit register value 0-65535")
    return number


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise vol.Invalid("must be a finite number")
    try:
        number = float(value)  # an integer past 1e308 raises OverflowError
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise vol.Invalid("must be a finite number")
    return number


def _data_id(value: Any) -> int:
    number = _strict_int(value)
    if not 1 <= number <= 255:
        raise vol.Invalid("must be an OpenTherm data-id 1-255 (ID 0 is carried by coils)")
    return number


def _choice(options: list[str]) -> vol.In:
    return vol.In(options, msg=f"must be one of {', '.join(options)}")


REGISTER_SCHEMA = vol.Schema(
    {
        vol.Required("id"): _data_id,
        vol.Required("access"): _choice([a.value for a in Access]),
        vol.Optional("scale", default=Scale.RAW.value): _choice([s.value for s in Scale]),
        vol.Optional("signed", default=False): vol.Boolean(),
        vol.Optional("ot"): _choice([f.value for f in OtFormat]),
        vol.Optional("min"): _number,
        vol.Optional("max"): _number,
    },
    extra=vol.PREVENT_EXTRA,
)


def _keyed(entry_schema: Any, what: str) -> Any:
    """A validator for a mapping of address -> entry (None removes a base entry)."""

    def validate(value: Any) -> dict[int, Any]:
        if not isinstance(value, Mapping):
            raise vol.Invalid(f"must be a mapping of {what} address to entry")
        out: dict[int, Any] = {}
        for key, entry in value.items():
            try:
                address = _address(key)
            except vol.Invalid as err:
                raise vol.Invalid(f"{what} address {err.msg}", path=[key]) from None
            if address in out:
                raise vol.Invalid(f"{what} {address} is listed twice", path=[key])
            if entry is None:
                out[address] = None
                continue
            try:
                out[address] = entry_schema(entry)
            except vol.Invalid as err:  # MultipleInvalid too: prepend() reaches every error
                err.prepend([key])
                raise
        return out

    return validate


_FLAG_NAMES = sorted(MASTER_FLAGS) + sorted(SLAVE_FLAGS)


def _flag(value: Any) -> str:
    if not isinstance(value, str) or (value not in MASTER_FLAGS and value not in SLAVE_FLAGS):
        raise vol.Invalid(f"must be an ID 0 flag name: {', '.join(_FLAG_NAMES)}")
    return str(value)


def _not_used(value: Any) -> frozenset[int]:
    values = value if isinstance(value, list | tuple) else [value]
    return frozenset(_word(v) for v in values)


PROFILE_SCHEMA = vol.Schema(
    {
        vol.Optional("base"): _choice(sorted(BUILTIN_PROFILES)),
        vol.Optional("registers", default=dict): _keyed(REGISTER_SCHEMA, "register"),
        vol.Optional("coils", default=dict): _keyed(_flag, "coil"),
        vol.Optional("status"): vol.Schema(
            {
                vol.Optional("error_count"): _optional_address,
                vol.Optional("comm_failed"): _optional_address,
            },
            extra=vol.PREVENT_EXTRA,
        ),
        vol.Optional("not_used"): _not_used,
        vol.Optional("register_write_function"): vol.In(
            REGISTER_WRITE_FUNCTIONS, msg="must be 6 (write single register) or 16 (write multiple)"
        ),
        vol.Optional("coil_write_function"): vol.In(
            COIL_WRITE_FUNCTIONS, msg="must be 5 (write single coil) or 15 (write multiple)"
        ),
    },
    extra=vol.PREVENT_EXTRA,
)
"""The schema of one entry under ``modbus_profiles`` in the configuration file."""


def _format_path(prefix: str, path: list[Any]) -> str:
    return ".".join([prefix, *(str(p) for p in path)])


def _register_from(address: int, entry: Mapping[str, Any], where: str) -> RegisterMap:
    scale = Scale(entry["scale"])
    signed = bool(entry["signed"])
    default_ot = {
        Scale.TENTH: OtFormat.F88,
        Scale.F88: OtFormat.F88,
        Scale.BYTES: OtFormat.BYTES,
        Scale.RAW: OtFormat.S16 if signed else OtFormat.U16,
    }[scale]
    ot = OtFormat(entry["ot"]) if "ot" in entry else default_ot
    access = Access(entry["access"])
    if scale is Scale.BYTES and ot is not OtFormat.BYTES:
        raise ProfileError(f"{where}.ot", "a bytes register carries a byte pair: ot must be bytes")
    if scale is Scale.BYTES and signed:
        raise ProfileError(f"{where}.signed", "a bytes register has no sign")
    reg = RegisterMap(address, entry["id"], access, scale, signed, ot)
    bounded = ot is not OtFormat.BYTES
    has_bounds = "min" in entry or "max" in entry
    if not reg.writable or not bounded:
        if has_bounds:
            raise ProfileError(
                f"{where}.{'min' if 'min' in entry else 'max'}",
                "bounds apply only to writable registers holding a number",
            )
        return reg
    for key in ("min", "max"):
        if key not in entry:
            raise ProfileError(
                f"{where}.{key}", "required for a writable register (the bridge clamps writes)"
            )
    low, high = entry["min"], entry["max"]
    if low > high:
        raise ProfileError(f"{where}.min", f"must not exceed max ({high})")
    for key, bound in (("min", low), ("max", high)):
        if number_to_register(reg, bound) is None:
            raise ProfileError(f"{where}.{key}", f"{bound} does not fit the register")
        if number_to_ot(ot, bound) is None:
            raise ProfileError(f"{where}.{key}", f"{bound} does not fit the {ot.value} format")
    return RegisterMap(address, reg.data_id, access, scale, signed, ot, low, high)


def build_profile(
    name: str,
    data: Mapping[str, Any],
    *,
    builtins: Mapping[str, ModbusProfile] = BUILTIN_PROFILES,
    where: str = "modbus_profiles",
) -> ModbusProfile:
    """Check a profile mapping (as in the configuration file) and build it.

    Raises :class:`ProfileError` whose message starts with the key's path,
    e.g. ``modbus_profiles.mygw.registers.25.scale: must be one of ...``.
    """
    prefix = f"{where}.{name}"
    if not isinstance(data, Mapping):
        raise ProfileError(prefix, "must be a mapping with registers, coils, status")
    try:
        conf = PROFILE_SCHEMA(dict(data))
    except vol.MultipleInvalid as err:
        first = err.errors[0]
        rule = "is not a known key" if first.msg == "extra keys not allowed" else first.msg
        raise ProfileError(_format_path(prefix, first.path), rule) from None

    base = builtins[conf["base"]] if "base" in conf else None
    registers: dict[int, RegisterMap] = {r.address: r for r in base.registers} if base else {}
    for address, entry in conf["registers"].items():
        if entry is None:
            registers.pop(address, None)
        else:
            registers[address] = _register_from(address, entry, f"{prefix}.registers.{address}")
    coils: dict[int, CoilMap] = {c.address: c for c in base.coils} if base else {}
    for address, flag in conf["coils"].items():
        if flag is None:
            coils.pop(address, None)
        else:
            coils[address] = CoilMap(address, flag)

    status = conf.get("status", {})
    error_count = base.error_count_register if base else None
    comm_failed = base.comm_failed_register if base else None
    if "error_count" in status:
        error_count = status["error_count"]
    if "comm_failed" in status:
        comm_failed = status["comm_failed"]

    seen_read: dict[int, int] = {}
    seen_write: dict[int, int] = {}
    for address in sorted(registers):
        reg = registers[address]
        for seen, used in ((seen_read, reg.readable), (seen_write, reg.writable)):
            if used and reg.data_id in seen:
                raise ProfileError(
                    f"{prefix}.registers.{address}.id",
                    f"data-id {reg.data_id} is already mapped to register {seen[reg.data_id]}",
                )
            if used:
                seen[reg.data_id] = address
    if error_count is not None and error_count == comm_failed:
        raise ProfileError(f"{prefix}.status.comm_failed", "must differ from error_count")
    for key, address in (("error_count", error_count), ("comm_failed", comm_failed)):
        if address is not None and address in registers:
            raise ProfileError(
                f"{prefix}.status.{key}", f"register {address} already carries a data-id"
            )
    flags_seen: dict[str, int] = {}
    for address in sorted(coils):
        flag = coils[address].flag
        if flag in flags_seen:
            raise ProfileError(
                f"{prefix}.coils.{address}", f"flag {flag} is already on coil {flags_seen[flag]}"
            )
        flags_seen[flag] = address

    return ModbusProfile(
        name=name,
        registers=tuple(registers[a] for a in sorted(registers)),
        coils=tuple(coils[a] for a in sorted(coils)),
        error_count_register=error_count,
        comm_failed_register=comm_failed,
        not_used=conf.get("not_used", base.not_used if base else frozenset({0x8000})),
        register_write_function=conf.get(
            "register_write_function", base.register_write_function if base else 6
        ),
        coil_write_function=conf.get(
            "coil_write_function", base.coil_write_function if base else 5
        ),
    )


def build_profiles(
    config: Mapping[str, Any] | None, *, where: str = "modbus_profiles"
) -> dict[str, ModbusProfile]:
    """The built-in profiles plus those of a ``modbus_profiles`` mapping.

    A custom profile may not reuse a built-in name.
    """
    profiles = dict(BUILTIN_PROFILES)
    if config is None:
        return profiles
    if not isinstance(config, Mapping):
        raise ProfileError(where, "must be a mapping of profile name to profile")
    for name, data in config.items():
        if (
            not isinstance(name, str)
            or not name
            or not name.replace("-", "").replace("_", "").isalnum()
        ):
            raise ProfileError(f"{where}.{name}", "a profile name is letters, digits, - and _")
        if name in BUILTIN_PROFILES:
            raise ProfileError(f"{where}.{name}", "is a built-in profile; choose another name")
        profiles[name] = build_profile(name, data, where=where)
    return profiles
