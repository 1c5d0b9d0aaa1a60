"""``Host.open``: a remote file read whole on open, written whole and atomically on close.

python-deployer's ``RemoteFile`` streamed through SFTP (and, with ``use_sudo``, copied a
temporary file in the home directory into place with ``mv``). Here the content goes
through a local buffer: a file opened for reading is fetched on open, one opened for
writing is sent on close and lands under a temporary name, renamed over the real one
(:mod:`shoal.hosts.copying`), so a reader on the host never sees half a file. A file
that existed keeps its permission bits; a new one gets the host's default (``0666``
less its umask). The file is owned by whoever wrote it (root with ``use_sudo``).

As in python-deployer, a file not closed is closed (and saved) when it is garbage
collected, so ``host.open(path, 'w').write(text)`` works; errors then are only
printed, so prefer a ``with`` block.

In sandbox mode nothing is written; reads are real, except under sudo, which the
sandbox never runs: those read as empty, as all reads did in python-deployer.

Imports nothing from shoal but the deployment's own modules.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Iterator
from typing import IO, Any, AnyStr, Generic

from shoal.deploy import _bridge
from shoal.deploy.loggers.base import FileEntry

__all__ = ["RemoteFile", "check_mode"]

_MODES = {"r", "rb", "rt", "w", "wb", "wt", "a", "ab", "at"}


def check_mode(mode: str) -> None:
    """Refuse what a remote file cannot be: read and written at once, or exclusive.

    >>> check_mode("rb"); check_mode("w+")
    Traceback (most recent call last):
    ...
    ValueError: open(): mode 'w+' is not supported: use 'r', 'w' or 'a', with 'b' for bytes
    """
    if mode not in _MODES:
        raise ValueError(f"open(): mode {mode!r} is not supported: use 'r', 'w' or 'a', "
                         "with 'b' for bytes")


class RemoteFile(Generic[AnyStr]):
    """A remote file as returned by ``Host.open``: ``read``, ``readline``, ``write``,
    iteration, ``close``, and a context manager. Text modes use UTF-8.

    :param content: what the file holds now (for ``r`` and ``a``).
    :param save: sends the whole content to the host on close (None: nothing is saved).
    """

    def __init__(self, name: str, mode: str, content: bytes, entry: FileEntry,
                 save: Callable[[bytes], Awaitable[None]] | None) -> None:
        self.name = name
        self.mode = mode
        self._buffer = io.BytesIO(content)
        if mode.startswith("a"):
            self._buffer.seek(0, io.SEEK_END)
        self._file: IO[Any] = (self._buffer if "b" in mode else
                               io.TextIOWrapper(self._buffer, encoding="utf-8",
                                                write_through=True))
        self._entry = entry
        self._save = save
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    def _open_file(self) -> IO[Any]:
        if self._closed:
            raise ValueError(f"I/O operation on closed remote file {self.name}")
        return self._file

    def read(self, size: int = -1) -> AnyStr:
        """Up to ``size`` bytes (or characters), all that is left when negative."""
        data: AnyStr = self._open_file().read(size)
        return data

    def readline(self, size: int = -1) -> AnyStr:
        """The next line, with its newline."""
        line: AnyStr = self._open_file().readline(size)
        return line

    def readlines(self) -> list[AnyStr]:
        """The remaining lines."""
        lines: list[AnyStr] = self._open_file().readlines()
        return lines

    def __iter__(self) -> Iterator[AnyStr]:
        return iter(self._open_file())

    def write(self, data: AnyStr) -> int:
        """Add ``data`` (``str`` in text modes, ``bytes`` in binary ones)."""
        written: int = self._open_file().write(data)
        return written

    def close(self) -> None:
        """Send what was written to the host (atomically) and close; safe to call twice."""
        _bridge.wait(self.aclose(), "RemoteFile.aclose")

    async def aclose(self) -> None:
        """:meth:`close`, for code that runs on the event loop."""
        if self._closed:
            return
        self._closed = True
        try:
            self._file.flush()
            if self._save is not None:
                await self._save(self._buffer.getvalue())
        except BaseException:
            self._entry.complete(False)
            raise
        else:
            self._entry.complete(True)
        finally:
            self._entry.__exit__(None, None, None)

    def __del__(self) -> None:
        # python-deployer's ``host.open(path, 'wb').write(data)`` relies on this: the file
        # is saved when the last reference goes (at once, in CPython).
        if not getattr(self, "_closed", True):
            self.close()

    def __enter__(self) -> RemoteFile[AnyStr]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RemoteFile {self.name!r} mode={self.mode!r}{' closed' if self._closed else ''}>"
