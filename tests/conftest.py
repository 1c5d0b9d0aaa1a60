"""Session-wide fixtures: one real OpenSSH sshd on 127.0.0.1 for every SSH test.

A test that takes the ``testbed`` fixture is marked ``sshd`` (the marker pyproject.toml
registers), so ``pytest -m "not sshd"`` runs everything that needs no sshd.
"""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal import testbed as tb


@pytest.fixture(autouse=True)
def _sys_path_restored() -> Iterator[None]:
    """Undo what a test added to ``sys.path``: a deployment script loaded in-process puts
    its folder first, as ``python script.py`` does, and a script named ``tree.py`` there
    would shadow the test package ``tree`` for every later test."""
    saved = list(sys.path)
    yield
    sys.path[:] = saved

#: fixtures of propagation trees on the testbed (``treebed``)
pytest_plugins = ["support.treebed"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the ``testbed`` fixture with ``sshd``."""
    for item in items:
        if "testbed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.sshd)


@pytest.fixture(scope="session")
def testbed() -> Iterator[tb.Testbed]:
    """A loopback sshd behind node1…node50 and gw1…gw4, stopped when the session ends.

    Log in with ``testbed.ssh_command("node7", "hostname")`` (OpenSSH) or
    ``asyncssh.connect("node7", config=[str(testbed.ssh_config)])``. The sshd dies with
    the test process even if that is killed.
    """
    with tb.running(nodes=50, gateways=4) as bed:
        yield bed


@pytest.fixture
def shared_tmp_path() -> Iterator[Path]:
    """A fresh directory under /tmp that the testbed's login user can read (mode 0755).

    pytest's ``tmp_path`` is closed to other users (0700), so the ``shoal-test`` account
    that testbed logins use cannot read files there; use this one for testbed directories
    and files a remote command must see. Removed after the test.
    """
    path = Path(tempfile.mkdtemp(prefix="shoal-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback TCP port that accepts connections and never says a word.

    The listening socket's backlog completes the TCP handshake without any accept(), so
    an SSH client connects and then waits forever for the server's version line.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        yield listener.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A loopback TCP port where nothing listens: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
