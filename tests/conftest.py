"""Test-wide fixtures.

Home Assistant's test plugin (loaded in the Python 3.13 environment) blocks
every socket. The bridge and cloud stand-in tests run real servers and talk
to them over loopback only: this fixture allows exactly that and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
import os

from hypothesis import settings
import pytest

try:
    import pytest_socket
except ImportError:  # the Python 3.11 environment has no Home Assistant plugin
    pytest_socket = None

# Hypothesis: "ci" (the default) keeps each property to a bounded number of
# examples and has no per-example deadline (the test machine is shared, and a
# slow example is not a failure); "fuzz" tries many more inputs for a long
# run: HYPOTHESIS_PROFILE=fuzz pytest tests/bridge/test_parsers_fuzz.py
settings.register_profile("ci", max_examples=100, deadline=None, print_blob=True)
settings.register_profile("fuzz", max_examples=20_000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

LOOPBACK_HOSTS = ["127.0.0.1", "::1", "localhost"]


@pytest.fixture(autouse=True)
def loopback_sockets(request: pytest.FixtureRequest) -> Iterator[None]:
    """Allow sockets, but connections to loopback addresses only."""
    if pytest_socket is None or request.node.get_closest_marker("ha_sockets_blocked"):
        yield
        return
    pytest_socket.socket_allow_hosts(LOOPBACK_HOSTS)
    pytest_socket.enable_socket()
    yield
