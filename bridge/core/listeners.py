"""A list of listeners: add one (and get its remover), call them all.

A listener that raises is logged and the others are still called, so one
broken subscriber cannot stop the notifications of the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, ParamSpec

if TYPE_CHECKING:
    import logging

P = ParamSpec("P")


class Listeners(Generic[P]):
    """Listeners taking the arguments ``P``; failures are logged on ``logger`` with ``message``."""

    def __init__(self, logger: logging.Logger, message: str) -> None:
        self._logger = logger
        self._message = message
        self._listeners: list[Callable[P, None]] = []

    def add(self, listener: Callable[P, None]) -> Callable[[], None]:
        """Add ``listener``; returns a function that removes it (again: no-op)."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def notify(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Call every listener (those added meanwhile wait for the next call)."""
        for listener in list(self._listeners):
            try:
                listener(*args, **kwargs)
            except Exception:
                self._logger.exception(self._message)
