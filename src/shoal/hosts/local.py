"""The local transport: every "node" is this machine, each command a local shell process.

For deployments that act on the local host, and for tests of the layers above that need
no SSH. A command sees ``SHOAL_NODE`` set to the node name it runs for.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import TYPE_CHECKING

from shoal.errors import CommandTimeout, ConnectError, CopyFailed
from shoal.hosts.base import Connection, OutputSink, Transport
from shoal.hosts.copying import CopyProblem, LocalSource, LocalTarget, copy_as, copy_into, name_of
from shoal.hosts.pipes import feed, pump

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from pathlib import Path

__all__ = ["LocalConnection", "LocalTransport"]



class LocalTransport(Transport):
    """Run every node's commands on this machine.

    >>> import asyncio
    >>> async def demo():
    ...     conn = await LocalTransport().connect("n1")
    ...     out = bytearray()
    ...     rc = await conn.run("echo $SHOAL_NODE", stdout=out.extend, stderr=out.extend)
    ...     return rc, bytes(out)
    >>> asyncio.run(demo())
    (0, b'n1\\n')
    """

    files_per_node = 3  # a child shell's stdin, stdout and stderr pipes

    async def connect(self, node: str) -> LocalConnection:
        """A connection for ``node``; nothing to open."""
        return LocalConnection(node)


class LocalConnection(Connection):
    """Local shell processes standing in for ``node``."""

    def __init__(self, node: str) -> None:
        self.node = node

    async def run(self, command: str, *, stdout: OutputSink, stderr: OutputSink,
                  stdin: bytes | None = None, timeout: float | None = None) -> int:
        """Run ``command`` with ``/bin/sh -c``; see :meth:`Connection.run`."""
        try:
            proc = await asyncio.create_subprocess_shell(
                command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, start_new_session=True,
                env={**os.environ, "SHOAL_NODE": self.node})
        except OSError as exc:
            raise ConnectError(self.node, f"cannot start a shell: {exc.strerror}") from exc
        assert proc.stdin and proc.stdout and proc.stderr
        feeding = asyncio.ensure_future(feed(proc.stdin, stdin))
        work = asyncio.gather(pump(proc.stdout, stdout), pump(proc.stderr, stderr),
                              proc.wait(), feeding)
        try:
            await asyncio.wait_for(asyncio.shield(work), timeout)
        except asyncio.TimeoutError:
            _kill(proc)
            await work
            raise CommandTimeout(self.node, timeout or 0.0) from None
        except asyncio.CancelledError:
            _kill(proc)
            await work
            raise
        rc = proc.returncode if proc.returncode is not None else 255
        return 128 - rc if rc < 0 else rc

    async def put(self, local: Path, remote: str, *, preserve: bool = False,
                  into: bool = False) -> None:
        """Copy ``local`` to the path ``remote`` on this machine; see :meth:`Connection.put`."""
        path = os.fsencode(local)
        await self._copy(copy_into(LocalSource(), path, LocalTarget(), os.fsencode(remote),
                                   name=name_of(path), preserve=preserve, into=into))

    async def get(self, remote: str, local: Path, *, preserve: bool = False) -> None:
        """Copy the path ``remote`` on this machine to ``local``; see :meth:`Connection.get`."""
        await self._copy(copy_as(LocalSource(), os.fsencode(remote), LocalTarget(),
                                 os.fsencode(local.parent), os.fsencode(local.name),
                                 preserve=preserve))

    async def _copy(self, copy: Awaitable[None]) -> None:
        try:
            await copy
        except CopyProblem as exc:
            raise CopyFailed(self.node, exc.reason) from exc

    async def close(self) -> None:
        """Nothing to close."""




def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
