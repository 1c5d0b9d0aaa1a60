"""Synchronise a test with commands it runs on the nodes, by events rather than by time.

A :class:`Gate` holds remote commands until the test opens it (a lock they wait on); a
:class:`Signal` lets remote commands tell the test they got somewhere (a FIFO the test
reads). Both live in a directory the testbed's login user can reach.
"""

from __future__ import annotations

import fcntl
import os
import select
import time
from pathlib import Path


class Gate:
    """Closed until :meth:`open`: ``gate.command`` blocks on a node until then.

    The test holds an exclusive ``flock`` on a file; the remote command asks for a shared
    one, which the kernel grants the moment the test lets go, whenever the command came.
    """

    def __init__(self, directory: Path, name: str = "gate") -> None:
        self.path = directory / name
        self.path.touch()
        self.path.chmod(0o644)
        self._fd: int | None = os.open(self.path, os.O_RDONLY)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self.command = f"flock -s {self.path} true"

    def open(self) -> None:
        """Let every waiting command, and every later one, through."""
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases the lock
            self._fd = None


class Signal:
    """Remote commands run ``signal.command`` to say they got there; the test counts them."""

    def __init__(self, directory: Path, name: str = "signal") -> None:
        self.path = directory / name
        os.mkfifo(self.path, 0o622)
        self.path.chmod(0o622)  # the umask must not keep the login user out
        # Read and write: opening does not wait for a writer, and a writer that closes
        # never ends the stream for the ones still to come.
        self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
        self.command = f"echo >> {self.path}"

    def wait(self, count: int, deadline: float = 60.0) -> bool:
        """Whether ``count`` commands signalled within ``deadline`` seconds."""
        end = time.monotonic() + deadline
        seen = 0
        while seen < count:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self._fd], [], [], left)[0]:
                return False
            seen += os.read(self._fd, 4096).count(b"\n")
        return True

    def close(self) -> None:
        os.close(self._fd)
