"""The local transport: every "node" is this machine, each command a local shell process.

For deployments that act on the local host, and for tests of the layers above that need
no SSH. A command sees ``SHOAL_NODE`` set to the node name it runs for.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import termios
from typing import TYPE_CHECKING, Any

from shoal.errors import CommandTimeout, ConnectError, CopyFailed
from shoal.hosts.base import Connection, FileStat, OutputSink, Process, Terminal, Transport
from shoal.hosts.copying import CopyProblem, LocalSource, LocalTarget, copy_as, copy_into, name_of
from shoal.hosts.pipes import feed, pump

if TYPE_CHECKING:
    from collections.abc import Awaitable, Coroutine
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

    async def start(self, command: str, *, stdout: OutputSink, stderr: OutputSink,
                    terminal: Terminal | None = None) -> Process:
        """Start ``command`` with ``/bin/sh -c``; see :meth:`Connection.start`.

        With ``terminal``, the shell runs in a new pseudo-terminal that is its
        controlling terminal, in a session of its own.
        """
        env = {**os.environ, "SHOAL_NODE": self.node}
        if terminal is None:
            try:
                proc = await asyncio.create_subprocess_shell(
                    command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE, start_new_session=True, env=env)
            except OSError as exc:
                raise ConnectError(self.node, f"cannot start a shell: {exc.strerror}") from exc
            assert proc.stdout and proc.stderr
            return _PipedProcess(proc, [pump(proc.stdout, stdout), pump(proc.stderr, stderr)])
        return await _TerminalProcess.spawn(self.node, command, env, terminal, stdout)

    async def stat(self, path: str, *, follow_symlinks: bool = True) -> FileStat:
        """``os.stat`` (or ``os.lstat``) of ``path``; see :meth:`Connection.stat`."""
        return _file_stat(os.stat(path, follow_symlinks=follow_symlinks))

    async def listdir(self, path: str) -> list[tuple[str, FileStat]]:
        """The directory ``path``, with each entry's ``lstat``; see :meth:`Connection.listdir`."""
        with os.scandir(path) as entries:
            return [(e.name, _file_stat(e.stat(follow_symlinks=False))) for e in entries]

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




def _file_stat(st: os.stat_result) -> FileStat:
    return FileStat(st.st_mode, st.st_size, st.st_uid, st.st_gid, st.st_atime, st.st_mtime)


class _PipedProcess(Process):
    """A local shell with pipes for stdin, stdout and stderr."""

    def __init__(self, proc: asyncio.subprocess.Process,
                 pumps: list[Coroutine[Any, Any, None]]) -> None:
        self._proc = proc
        self._pumps = asyncio.gather(*pumps)

    def write(self, data: bytes) -> None:
        stdin = self._proc.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.write(data)

    def write_eof(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()

    def resize(self, columns: int, rows: int) -> None:
        """No terminal: nothing to tell."""

    def stop(self) -> None:
        _kill(self._proc)

    async def wait(self) -> int:
        await asyncio.shield(self._pumps)
        rc = await self._proc.wait()
        return 128 - rc if rc < 0 else rc


class _TerminalProcess(Process):
    """A local shell whose stdin, stdout and stderr are a new pseudo-terminal."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int,
                 output: OutputSink) -> None:
        self._proc = proc
        self._master = master
        self._output = output
        self._drained: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().add_reader(master, self._read)

    @classmethod
    async def spawn(cls, node: str, command: str, env: dict[str, str], terminal: Terminal,
                    output: OutputSink) -> _TerminalProcess:
        """Open a pseudo-terminal of ``terminal``'s size and start the shell on it."""
        master, slave = os.openpty()
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ,
                        struct.pack("HHHH", terminal.rows, terminal.columns, 0, 0))
            os.set_blocking(master, False)
            proc = await asyncio.create_subprocess_shell(
                command, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                env={**env, "TERM": terminal.term}, preexec_fn=_take_terminal)
        except OSError as exc:
            os.close(master)
            raise ConnectError(node, f"cannot start a shell: {exc.strerror}") from exc
        finally:
            os.close(slave)
        return cls(proc, master, output)

    def _read(self) -> None:
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: every process holding the terminal has closed it
            data = b""
        if data:
            self._output(data)
            return
        asyncio.get_running_loop().remove_reader(self._master)
        os.close(self._master)
        self._master = -1
        self._drained.set_result(None)

    def write(self, data: bytes) -> None:
        if self._master >= 0:
            with contextlib.suppress(OSError):
                os.write(self._master, data)

    def write_eof(self) -> None:
        self.write(b"\x04")

    def resize(self, columns: int, rows: int) -> None:
        if self._master >= 0:
            fcntl.ioctl(self._master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

    def stop(self) -> None:
        _kill(self._proc)

    async def wait(self) -> int:
        await asyncio.shield(self._drained)
        rc = await self._proc.wait()
        return 128 - rc if rc < 0 else rc


def _take_terminal() -> None:
    """In the child, after ``setsid``: make its stdin, the new terminal, its controlling one."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
