"""Errors that cross the layers: raised below, answered above, named once here."""

from __future__ import annotations


class StorageUnavailableError(Exception):
    """The database cannot take a write now (its disk is full or failing); nothing changed.

    The message says so in words an owner can act on; the API answers it with
    503 and the services keep running, so the bridge recovers by itself once
    the disk has room again.
    """
