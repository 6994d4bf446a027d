"""OpenTherm data-value formats (OpenTherm v2.2, section 5.1).

One encode and one decode function per format. Byte formats (flag8, u8, s8)
work on one byte (0-255); word formats (f8.8, u16, s16 and the paired byte
formats) work on the 16-bit data value, high byte (HB) first.

Decoding is exact and accepts every bit pattern. Encoding checks its input
and raises :class:`CodecError` (a :class:`ValueError`) with a message that names the format and the
allowed range; ``decode(encode(x)) == x`` for every representable ``x``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
import math
from typing import TypeVar


class Fmt(StrEnum):
    """The data formats, with the specification's names."""

    FLAG8 = "flag8"
    U8 = "u8"
    S8 = "s8"
    F8_8 = "f8.8"
    U16 = "u16"
    S16 = "s16"
    FLAG8_FLAG8 = "flag8/flag8"
    FLAG8_U8 = "flag8/u8"
    U8_U8 = "u8/u8"
    S8_S8 = "s8/s8"
    DAY_TIME = "special/u8"

    @property
    def is_byte(self) -> bool:
        """True for the one-byte formats (flag8, u8, s8)."""
        return self in _BYTE_FORMATS


class CodecError(ValueError):
    """A value that its format cannot carry (wrong type or out of range)."""


_BYTE_FORMATS = frozenset({Fmt.FLAG8, Fmt.U8, Fmt.S8})

#: The (HB, LB) byte formats of each paired format.
PAIR_PARTS: dict[Fmt, tuple[Fmt, Fmt]] = {
    Fmt.FLAG8_FLAG8: (Fmt.FLAG8, Fmt.FLAG8),
    Fmt.FLAG8_U8: (Fmt.FLAG8, Fmt.U8),
    Fmt.U8_U8: (Fmt.U8, Fmt.U8),
    Fmt.S8_S8: (Fmt.S8, Fmt.S8),
}

#: The smallest and largest f8.8 values: -128 and 127 + 255/256.
F8_8_MIN = -128.0
F8_8_MAX = 32767 / 256

_T = TypeVar("_T")

Flags8 = tuple[bool, bool, bool, bool, bool, bool, bool, bool]


def _check_int(value: object, low: int, high: int, fmt: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CodecError(f"{fmt} needs an integer, got {value!r}")
    if not low <= value <= high:
        raise CodecError(f"{fmt} value {value} is outside {low}..{high}")
    return value


def _check_byte(byte: int) -> int:
    return _check_int(byte, 0, 0xFF, "byte")


def _check_word(word: int) -> int:
    return _check_int(word, 0, 0xFFFF, "16-bit data value")


# ---------------------------------------------------------------- flag8


def decode_flag8(byte: int) -> Flags8:
    """Eight flags, bit 0 first."""
    _check_byte(byte)
    return (
        bool(byte & 0x01),
        bool(byte & 0x02),
        bool(byte & 0x04),
        bool(byte & 0x08),
        bool(byte & 0x10),
        bool(byte & 0x20),
        bool(byte & 0x40),
        bool(byte & 0x80),
    )


def encode_flag8(bits: Sequence[bool]) -> int:
    """The byte for eight flags given bit 0 first."""
    if isinstance(bits, (str, bytes)) or not isinstance(bits, Sequence) or len(bits) != 8:
        raise CodecError(f"flag8 needs a sequence of 8 booleans, got {bits!r}")
    byte = 0
    for bit, flag in enumerate(bits):
        if not isinstance(flag, bool):
            raise CodecError(f"flag8 bit {bit} must be a boolean, got {flag!r}")
        if flag:
            byte |= 1 << bit
    return byte


# ---------------------------------------------------------------- u8 / s8


def decode_u8(byte: int) -> int:
    """An unsigned byte, 0..255."""
    return _check_byte(byte)


def encode_u8(value: int) -> int:
    """The byte for 0..255."""
    return _check_int(value, 0, 0xFF, "u8")


def decode_s8(byte: int) -> int:
    """A two's-complement byte, -128..127."""
    _check_byte(byte)
    return byte - 0x100 if byte & 0x80 else byte


def encode_s8(value: int) -> int:
    """The two's-complement byte for -128..127."""
    return _check_int(value, -0x80, 0x7F, "s8") & 0xFF


# ---------------------------------------------------------------- f8.8


def decode_f8_8(word: int) -> float:
    """A signed fixed-point value with 8 fraction bits (exact)."""
    _check_word(word)
    return (word - 0x10000 if word & 0x8000 else word) / 256


def encode_f8_8(value: float) -> int:
    """The f8.8 word nearest to ``value`` (ties to even).

    ``value`` must lie in -128..127.99609375 (= 32767/256).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CodecError(f"f8.8 needs a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise CodecError(f"f8.8 value {value} is not finite")
    if not F8_8_MIN <= value <= F8_8_MAX:
        raise CodecError(f"f8.8 value {value} is outside {F8_8_MIN}..{F8_8_MAX}")
    return round(value * 256) & 0xFFFF


# ---------------------------------------------------------------- u16 / s16


def decode_u16(word: int) -> int:
    """An unsigned 16-bit value."""
    return _check_word(word)


def encode_u16(value: int) -> int:
    """The word for 0..65535."""
    return _check_int(value, 0, 0xFFFF, "u16")


def decode_s16(word: int) -> int:
    """A two's-complement 16-bit value."""
    _check_word(word)
    return word - 0x10000 if word & 0x8000 else word


def encode_s16(value: int) -> int:
    """The two's-complement word for -32768..32767."""
    return _check_int(value, -0x8000, 0x7FFF, "s16") & 0xFFFF


# ---------------------------------------------------------------- paired bytes


def _pair(value: Sequence[_T], fmt: str) -> tuple[_T, _T]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise CodecError(f"{fmt} needs a pair (high byte, low byte), got {value!r}")
    return value[0], value[1]


def decode_flag8_flag8(word: int) -> tuple[Flags8, Flags8]:
    """HB flags and LB flags."""
    _check_word(word)
    return decode_flag8(word >> 8), decode_flag8(word & 0xFF)


def encode_flag8_flag8(value: Sequence[Sequence[bool]]) -> int:
    """The word for (HB flags, LB flags)."""
    hb, lb = _pair(value, "flag8/flag8")
    return encode_flag8(hb) << 8 | encode_flag8(lb)


def decode_flag8_u8(word: int) -> tuple[Flags8, int]:
    """HB flags and an LB number."""
    _check_word(word)
    return decode_flag8(word >> 8), word & 0xFF


def encode_flag8_u8(value: tuple[Sequence[bool], int]) -> int:
    """The word for (HB flags, LB 0..255)."""
    _pair(value, "flag8/u8")
    flags, number = value
    return encode_flag8(flags) << 8 | encode_u8(number)


def decode_u8_u8(word: int) -> tuple[int, int]:
    """Two unsigned bytes (HB, LB)."""
    _check_word(word)
    return word >> 8, word & 0xFF


def encode_u8_u8(value: Sequence[int]) -> int:
    """The word for (HB, LB), each 0..255."""
    hb, lb = _pair(value, "u8/u8")
    return encode_u8(hb) << 8 | encode_u8(lb)


def decode_s8_s8(word: int) -> tuple[int, int]:
    """Two two's-complement bytes (HB, LB)."""
    _check_word(word)
    return decode_s8(word >> 8), decode_s8(word & 0xFF)


def encode_s8_s8(value: Sequence[int]) -> int:
    """The word for (HB, LB), each -128..127."""
    hb, lb = _pair(value, "s8/s8")
    return encode_s8(hb) << 8 | encode_s8(lb)


# ---------------------------------------------------------------- day-time (ID 20)


@dataclass(frozen=True, slots=True)
class DayTime:
    """Day of week (1 = Monday .. 7 = Sunday, 0 = not given), hour, minute."""

    day_of_week: int
    hour: int
    minute: int


def decode_day_time(word: int) -> DayTime:
    """HB bits 7-5 day of week, bits 4-0 hour; LB minutes.

    Every bit pattern decodes (an hour of 24-31 or a minute above 59 comes
    out as sent); :func:`encode_day_time` accepts only real times.
    """
    _check_word(word)
    return DayTime(word >> 13, (word >> 8) & 0x1F, word & 0xFF)


def encode_day_time(value: DayTime) -> int:
    """The word for a day of week 0..7, an hour 0..23 and a minute 0..59."""
    if not isinstance(value, DayTime):
        raise CodecError(f"day-time needs a DayTime, got {value!r}")
    day = _check_int(value.day_of_week, 0, 7, "day of week")
    hour = _check_int(value.hour, 0, 23, "hour")
    minute = _check_int(value.minute, 0, 59, "minute")
    return day << 13 | hour << 8 | minute
