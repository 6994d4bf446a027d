"""The boiler side of an OpenTherm conversation, as the simulators see it."""

from __future__ import annotations

from typing import Protocol

from bridge.opentherm.frame import Frame


class OpenThermSlave(Protocol):
    """Something that answers OpenTherm master requests like a boiler."""

    def handle(self, request: Frame) -> Frame | None:
        """Answer one master request; None means the slave stays silent."""
