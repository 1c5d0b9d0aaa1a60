"""Deployment hosts on the testbed, and what the tests watch on it (logins, processes)."""

from __future__ import annotations

import fcntl
import itertools
import os
import pty
import select
import struct
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from shoal.deploy.host import SSHHost
from shoal.testbed import Testbed

_names = itertools.count(1)


def node_class(bed: Testbed, alias: str = "node1", **attributes: Any) -> type[SSHHost]:
    """A new SSHHost class for ``alias`` of the testbed: a class of its own, so a connection
    of its own (connections are kept per host class)."""
    number = next(_names)
    body = {"slug": f"{alias}-{number}", "address": alias,
            "config_filename": str(bed.ssh_config), **attributes}
    return type(f"Node{number}", (SSHHost,), body)


def logins(bed: Testbed) -> int:
    """How many logins the testbed's sshd has accepted so far."""
    return (bed.directory / "sshd.log").read_bytes().count(b"Accepted publickey for ")


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (a process the tests started), found through /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def serving(bed: Testbed, client_port: int) -> int:
    """The sshd process (below the testbed's listener) that holds the connection coming
    from ``client_port``."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
        if int(local, 16) == bed.port and int(remote, 16) == client_port:
            inodes.add(f"socket:[{fields[9]}]")
    for pid in descendants(bed.pid):
        with suppress(OSError):
            if inodes & {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}:
                return pid
    raise AssertionError(f"no sshd process holds the connection from port {client_port}")


def process_texts(pid: int) -> bytes:
    """The command line and environment of ``pid`` (empty once it is gone)."""
    text = b""
    for name in ("cmdline", "environ"):
        with suppress(OSError):
            text += Path(f"/proc/{pid}/{name}").read_bytes() + b"\n"
    return text


@contextmanager
def terminal(rows: int = 30, columns: int = 100) -> Iterator[tuple[int, IO[str], IO[str]]]:
    """A local pseudo-terminal: its master side (the keyboard and screen of the test), and
    its slave side as an input and an output file, to give a Pty."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    stdin = os.fdopen(slave, "r")
    stdout = os.fdopen(os.dup(slave), "w", buffering=1)
    try:
        yield master, stdin, stdout
    finally:
        stdin.close()
        stdout.close()
        os.close(master)


def read_until(master: int, wanted: bytes, timeout: float = 20.0) -> bytes:
    """What the terminal shows until ``wanted`` appears (``AssertionError`` after ``timeout``)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"{wanted!r} not shown within {timeout}s; shown: {seen!r}"
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            seen += os.read(master, 4096)
    return seen
