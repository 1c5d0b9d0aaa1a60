"""Session-wide fixtures: one real OpenSSH sshd on 127.0.0.1 for every SSH test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shoal import testbed as tb


@pytest.fixture(scope="session")
def testbed() -> Iterator[tb.Testbed]:
    """A loopback sshd with 50 node aliases and 4 gateway aliases, stopped at the end."""
    with tb.running(nodes=50, gateways=4) as bed:
        yield bed
