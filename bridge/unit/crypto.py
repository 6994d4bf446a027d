"""ARC4 and the unit's key.

The unit encrypts its polls, and the server its answers, with ARC4 (RC4)
under a key made of the unit's password followed by the master text
:data:`MASTER_KEY` from position ``len(password)`` on, so the key is always
24 ASCII characters.

A password is 1 to :data:`MAX_PASSWORD_LENGTH` printable ASCII characters:
the key construction is only defined up to the master text's length, and the
unit's firmware has no way to type anything else. Anything outside that is
refused with :class:`ValueError` (whose message never repeats the password).
"""

from __future__ import annotations

from bridge.core.unit import PASSWORD_MAX, check_unit_password

__all__ = ["MASTER_KEY", "MAX_PASSWORD_LENGTH", "arc4", "unit_key"]

#: The master text the unit's key is completed with.
MASTER_KEY = "MR1FGUGSq0YLnZpI2kjABw=="
#: The longest password a key can be made of (the master text's length).
MAX_PASSWORD_LENGTH = PASSWORD_MAX
assert len(MASTER_KEY) == MAX_PASSWORD_LENGTH


def arc4(key: bytes, data: bytes) -> bytes:
    """``data`` encrypted (or decrypted: ARC4 is symmetric) with ``key``."""
    if not 1 <= len(key) <= 256:
        raise ValueError("an ARC4 key has 1 to 256 bytes")
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) & 0xFF
        state[i], state[j] = state[j], state[i]
    out = bytearray(len(data))
    i = j = 0
    for n, byte in enumerate(data):
        i = (i + 1) & 0xFF
        j = (j + state[i]) & 0xFF
        state[i], state[j] = state[j], state[i]
        out[n] = byte ^ state[(state[i] + state[j]) & 0xFF]
    return bytes(out)


def unit_key(password: str) -> bytes:
    """The ARC4 key of a unit with ``password``: 24 ASCII bytes."""
    check_unit_password(password)
    return (password + MASTER_KEY[len(password) :]).encode("ascii")
