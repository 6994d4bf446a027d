"""The one error of the unit's protocol."""

from __future__ import annotations


class UnitProtocolError(ValueError):
    """A request, answer or calendar that breaks the unit's protocol.

    The message says what is wrong; it never contains the unit's password
    (nor the decrypted query, which carries it).
    """
