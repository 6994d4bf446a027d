"""The OpenTherm Gateway link on a real serial device: a pseudo-terminal.

The test holds the pty's master side and plays the gateway; the link opens
the slave side (/dev/pts/N) exactly as it opens /dev/ttyUSB0. Closing the
master is a serial port that disappears under the link.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import logging
import os
import pty
import tty

import pytest

from bridge.core.clock import SystemClock
from bridge.opentherm.frame import Frame, MsgType
from bridge.opentherm.links.base import LinkState
from bridge.opentherm.links.otgw import OtgwLink

LINK_LOGGER = "bridge.opentherm.links.otgw"


async def _until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


class PtyGateway:
    """The gateway's end of a pty: answers the link's commands and prints monitor lines."""

    def __init__(self) -> None:
        self.master, self._slave = pty.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        os.set_blocking(self.master, False)
        self.received: list[str] = []
        self._buffer = b""
        loop = asyncio.get_running_loop()
        loop.add_reader(self.master, self._readable)
        self.closed = False

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 1024)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EIO: nobody has the device open
            return
        self._buffer += data
        while b"\r" in self._buffer or b"\n" in self._buffer:
            line, _, self._buffer = self._buffer.replace(b"\n", b"\r").partition(b"\r")
            text = line.decode().strip()
            if not text:
                continue
            self.received.append(text)
            code, _, value = text.partition("=")
            if code == "PM":
                # answer the priority read with a boiler frame for that id
                frame = Frame(MsgType.READ_ACK, int(value), 0x2A80)
                self.write(f"{code}: {value}", f"B{frame.to_hex()}")
            elif code == "PR":
                self.write(f"PR: {value}=OpenTherm Gateway 6.5")
            else:
                self.write(f"{code}: {value}")

    def write(self, *lines: str) -> None:
        if not self.closed:
            os.write(self.master, "".join(f"{line}\r\n" for line in lines).encode())

    def close(self) -> None:
        if not self.closed:
            asyncio.get_running_loop().remove_reader(self.master)
            os.close(self.master)
            os.close(self._slave)
            self.closed = True


async def test_serial_link_reads_and_survives_the_port_disappearing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LINK_LOGGER)
    gateway = PtyGateway()
    link = OtgwLink.from_url(
        f"otgw+serial://{gateway.path}", clock=SystemClock(), backoff_min=0.05, backoff_max=0.1
    )
    try:
        await link.start()
        await _until(lambda: link.state is LinkState.CONNECTED)
        # garbage on the line is counted and survived
        gateway.write("\x00\xff garbage", "T8000")
        answer = await link.transact(Frame(MsgType.READ_DATA, 25), timeout=3)
        assert answer.msg_type is MsgType.READ_ACK
        assert answer.value == 0x2A80
        assert link.counters.garbage_lines >= 1
        assert "PM=25" in gateway.received
        # the serial port disappears (USB adapter unplugged)
        gateway.close()
        await _until(lambda: link.state is not LinkState.CONNECTED)
        attempts = link.counters.extra["connect_attempts"]
        # it keeps retrying with backoff (the pts number may even be reused by another
        # process meanwhile, so only the retrying is asserted, not the outcome)
        await _until(lambda: link.counters.extra["connect_attempts"] > attempts + 1)
    finally:
        await link.stop()
        gateway.close()
    warnings = [r for r in caplog.records if r.name == LINK_LOGGER and r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert gateway.path in warnings[0].getMessage()
