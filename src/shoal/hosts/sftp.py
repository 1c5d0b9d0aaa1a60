"""A node's files over SFTP, as the two sides of a copy (:mod:`shoal.hosts.copying`).

The SFTP client must be started with ``path_encoding=None``: paths and the names of a
listing stay bytes, as the node has them. A refusal the server reports (a status reply)
becomes a :class:`~shoal.hosts.copying.CopyProblem` with a plain reason; OpenSSH's
server says only "Failure" for a full disk or a read-only file system, so the file
system is asked which; :func:`file_stat` and :func:`list_directory`, for callers that read
a node's files directly, raise an ``OSError`` with its errno instead. A lost link raises
asyncssh's own error, for the transport.

Only :mod:`shoal.hosts.ssh` imports this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat
from collections.abc import AsyncGenerator, Awaitable, Iterable, Iterator
from typing import Literal, TypeVar, cast

import asyncssh

from shoal.hosts.base import FileStat
from shoal.hosts.copying import CHUNK, CopyProblem, Kind, Meta, Source, Target, Writer, kind_of

__all__ = ["SFTPSource", "SFTPTarget", "file_stat", "list_directory"]

T = TypeVar("T")

#: Seconds given to removing a temporary file or closing a handle after a failure.
CLEANUP_TIMEOUT = 5.0

_OPEN_READ = asyncssh.FXF_READ
_OPEN_NEW = asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_EXCL

#: The reasons of status replies, by the exception asyncssh raises for them.
_REASONS: tuple[tuple[type[asyncssh.SFTPError], str], ...] = (
    (asyncssh.SFTPNoSuchFile, "no such file or directory"),
    (asyncssh.SFTPNoSuchPath, "no such file or directory"),
    (asyncssh.SFTPPermissionDenied, "permission denied"),
    (asyncssh.SFTPFileAlreadyExists, "file exists"),
    (asyncssh.SFTPNotADirectory, "not a directory"),
    (asyncssh.SFTPFileIsADirectory, "is a directory"),
    (asyncssh.SFTPWriteProtect, "read-only file system"),
    (asyncssh.SFTPNoSpaceOnFilesystem, "no space left on device"),
    (asyncssh.SFTPQuotaExceeded, "disk quota exceeded"),
    (asyncssh.SFTPOpUnsupported, "not supported by the node's SFTP server"),
)

#: Errors that mean the link is gone, not that the node refused.
_LOST = (asyncssh.SFTPConnectionLost, asyncssh.SFTPNoConnection)


def _meta(attrs: asyncssh.SFTPAttrs) -> Meta:
    mode = attrs.permissions
    if mode is None:
        return Meta("other")
    return Meta(kind_of(mode), stat.S_IMODE(mode) & 0o777, float(attrs.atime or 0),
                float(attrs.mtime or 0))


#: The ``OSError`` each refusal becomes where a caller reads a node's files directly.
_ERRNOS: tuple[tuple[type[asyncssh.SFTPError], int], ...] = (
    (asyncssh.SFTPNoSuchFile, errno.ENOENT),
    (asyncssh.SFTPNoSuchPath, errno.ENOENT),
    (asyncssh.SFTPPermissionDenied, errno.EACCES),
    (asyncssh.SFTPNotADirectory, errno.ENOTDIR),
    (asyncssh.SFTPFileIsADirectory, errno.EISDIR),
)


def _file_stat(attrs: asyncssh.SFTPAttrs) -> FileStat:
    return FileStat(attrs.permissions or 0, attrs.size or 0, attrs.uid or 0, attrs.gid or 0,
                    float(attrs.atime or 0), float(attrs.mtime or 0))


def _os_error(exc: asyncssh.SFTPError, path: bytes) -> OSError:
    """The ``OSError`` for the status reply ``exc`` about ``path``; a lost link is raised."""
    if isinstance(exc, _LOST):
        raise exc
    number = next((n for kind, n in _ERRNOS if isinstance(exc, kind)), errno.EIO)
    reason = os.strerror(number) if number != errno.EIO else (exc.reason or "failed")
    return OSError(number, reason, os.fsdecode(path))


async def file_stat(sftp: asyncssh.SFTPClient, path: bytes, *,
                    follow_symlinks: bool = True) -> FileStat:
    """``stat`` (or ``lstat``) of ``path``; a refusal raises ``OSError`` with its errno."""
    try:
        attrs = await (sftp.stat(path) if follow_symlinks else sftp.lstat(path))
    except asyncssh.SFTPError as exc:
        raise _os_error(exc, path) from exc
    return _file_stat(attrs)


async def list_directory(sftp: asyncssh.SFTPClient, path: bytes) -> list[tuple[str, FileStat]]:
    """The names in ``path`` but ``.`` and ``..``, with their ``lstat``; raises as
    :func:`file_stat`."""
    try:
        entries = await sftp.readdir(path)
    except asyncssh.SFTPError as exc:
        raise _os_error(exc, path) from exc
    return [(os.fsdecode(e.filename), _file_stat(e.attrs)) for e in entries
            if e.filename not in (b".", b"..", ".", "..")]


def _join(folder: bytes, name: bytes) -> bytes:
    return folder + name if folder.endswith(b"/") else folder + b"/" + name


class _Side:
    """What both sides share: the client, and turning status replies into reasons."""

    def __init__(self, sftp: asyncssh.SFTPClient) -> None:
        self._sftp = sftp

    async def problem(self, direction: Literal["to", "from"], path: bytes,
                      exc: asyncssh.SFTPError, folder: bytes | None = None) -> CopyProblem:
        """The :class:`CopyProblem` for the status reply ``exc``, to raise from it.

        A lost link is no refusal: ``exc`` is raised again as it is, for the transport.
        ``folder`` is where a write failed, for its file system to say why.
        """
        if isinstance(exc, _LOST):
            raise exc
        for kind, reason in _REASONS:
            if isinstance(exc, kind):
                return CopyProblem(direction, path, reason)
        if isinstance(exc, asyncssh.SFTPFailure) and folder is not None:
            return CopyProblem(direction, path, await self._why(folder))
        text = exc.reason if exc.reason and exc.reason != "Failure" else "failed"
        return CopyProblem(direction, path, f"the node's SFTP server said {text!r}")

    async def _why(self, folder: bytes) -> str:
        """Why a write in ``folder`` failed without a reason: a full or read-only disk?"""
        try:
            vfs = await self._sftp.statvfs(folder)
        except asyncssh.SFTPError:
            vfs = None
        if vfs is not None and vfs.flags & 1:  # ST_RDONLY
            return "read-only file system"
        if vfs is not None and vfs.bavail == 0:
            return "no space left on device"
        return "the node's SFTP server gave no reason (\"Failure\")"


class SFTPSource(_Side, Source):
    """A node's files, read over SFTP."""

    async def stat(self, path: bytes) -> Meta:
        """See :meth:`Source.stat`."""
        try:
            return _meta(await self._sftp.stat(path))
        except asyncssh.SFTPError as exc:
            raise await self.problem("from", path, exc) from exc

    async def listdir(self, path: bytes) -> list[tuple[bytes, Meta]]:
        """See :meth:`Source.listdir`."""
        try:
            entries = await self._sftp.readdir(path)
        except asyncssh.SFTPError as exc:
            raise await self.problem("from", path, exc) from exc
        return [(os.fsencode(e.filename), _meta(e.attrs)) for e in entries]

    async def read(self, path: bytes) -> AsyncGenerator[bytes, None]:
        """See :meth:`Source.read`: requests of the server's largest size, several at once."""
        try:
            file = await self._sftp.open(path, _OPEN_READ, encoding=None, block_size=None)
        except asyncssh.SFTPError as exc:
            raise await self.problem("from", path, exc) from exc
        size = self._sftp.limits.max_read_len
        try:
            offset = 0
            while True:
                try:
                    blocks = await _at_once(
                        file.read(size, at) for at in range(offset, offset + CHUNK, size))
                except asyncssh.SFTPError as exc:
                    raise await self.problem("from", path, exc) from exc
                chunk = b"".join(_contiguous(cast("list[bytes]", blocks), size))
                if not chunk:
                    break
                offset += len(chunk)  # after a short read, the rest is asked for again
                yield chunk
        finally:
            await _quietly(file.close())


class SFTPTarget(_Side, Target[bytes]):
    """A node's file system, written over SFTP; a folder's handle is its path.

    SFTP has no open folders: names are checked with ``lstat`` just before they are used,
    which is as far as a node's own users can be kept from racing the copy.
    """

    async def stat(self, path: bytes) -> Meta | None:
        """See :meth:`Target.stat`."""
        try:
            return _meta(await self._sftp.stat(path))
        except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
            return None
        except asyncssh.SFTPError as exc:
            raise await self.problem("to", path, exc) from exc

    async def open_folder(self, path: bytes) -> bytes:
        """See :meth:`Target.open_folder`."""
        meta = await self.stat(path)
        if meta is None or meta.kind != "dir":
            raise CopyProblem("to", path, "no such directory" if meta is None
                              else "not a directory")
        return path

    async def lookup(self, folder: bytes, name: bytes) -> Kind | None:
        """See :meth:`Target.lookup`."""
        path = _join(folder, name)
        try:
            attrs = await self._sftp.lstat(path)
        except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
            return None
        except asyncssh.SFTPError as exc:
            raise await self.problem("to", path, exc) from exc
        return "other" if attrs.permissions is None else kind_of(attrs.permissions)

    async def make_dir(self, folder: bytes, name: bytes, mode: int) -> bytes:
        """See :meth:`Target.make_dir`."""
        path = _join(folder, name)
        try:
            await self._sftp.mkdir(path, asyncssh.SFTPAttrs(permissions=mode))
        except asyncssh.SFTPError as exc:
            raise await self.problem("to", path, exc, folder) from exc
        return path

    async def enter_dir(self, folder: bytes, name: bytes) -> bytes:
        """See :meth:`Target.enter_dir`: the walk has just looked it up."""
        return _join(folder, name)

    async def set_dir(self, handle: bytes, mode: int,
                      times: tuple[float, float] | None) -> None:
        """See :meth:`Target.set_dir`."""
        try:
            await self._sftp.setstat(handle, _attrs(mode, times))
        except asyncssh.SFTPError as exc:
            raise await self.problem("to", handle, exc, handle) from exc

    async def close_folder(self, handle: bytes) -> None:
        """Nothing to release: the handle is a path."""

    async def create(self, folder: bytes, temp: bytes, mode: int,
                     name: bytes) -> Writer | None:
        """See :meth:`Target.create`: an exclusive open, which no symlink satisfies."""
        path = _join(folder, temp)
        try:
            file = await self._sftp.open(path, _OPEN_NEW, asyncssh.SFTPAttrs(permissions=mode),
                                         encoding=None, block_size=None)
        except asyncssh.SFTPError as exc:
            # OpenSSH's server says "Failure" for EEXIST too
            if isinstance(exc, asyncssh.SFTPFailure) and await self.lookup(folder, temp):
                return None
            raise await self.problem("to", _join(folder, name), exc, folder) from exc
        return _SFTPWriter(self, file, _join(folder, name), folder,
                           self._sftp.limits.max_write_len)

    async def rename(self, folder: bytes, old: bytes, new: bytes) -> None:
        """See :meth:`Target.rename`: OpenSSH's ``posix-rename`` extension."""
        source, path = _join(folder, old), _join(folder, new)
        try:
            try:
                await self._sftp.posix_rename(source, path)
            except asyncssh.SFTPOpUnsupported:
                # a server without it: plain rename refuses an existing name
                with contextlib.suppress(asyncssh.SFTPNoSuchFile):
                    await self._sftp.remove(path)
                await self._sftp.rename(source, path)
        except asyncssh.SFTPError as exc:
            raise await self.problem("to", path, exc, folder) from exc

    async def remove(self, folder: bytes, name: bytes) -> None:
        """See :meth:`Target.remove`; gives up after :data:`CLEANUP_TIMEOUT`."""
        await _quietly(self._sftp.remove(_join(folder, name)))

    def path(self, folder: bytes, name: bytes = b"") -> bytes:
        """See :meth:`Target.path`."""
        return _join(folder, name) if name else folder


class _SFTPWriter(Writer):
    def __init__(self, side: _Side, file: asyncssh.SFTPClientFile, path: bytes,
                 folder: bytes, size: int) -> None:
        self._side = side
        self._file: asyncssh.SFTPClientFile | None = file
        self._path = path
        self._folder = folder
        self._size = size
        self._offset = 0

    async def write(self, data: bytes) -> None:
        file, size = self._file, self._size
        assert file is not None
        try:
            await _at_once(file.write(data[at:at + size], self._offset + at)
                           for at in range(0, len(data), size))
        except asyncssh.SFTPError as exc:
            raise await self._side.problem("to", self._path, exc, self._folder) from exc
        self._offset += len(data)

    async def finish(self, mode: int | None, times: tuple[float, float] | None) -> None:
        assert self._file is not None
        file, self._file = self._file, None
        try:
            if mode is not None:
                await file.setstat(_attrs(mode, times))
            await file.close()
        except asyncssh.SFTPError as exc:
            await _quietly(file.close())
            raise await self._side.problem("to", self._path, exc, self._folder) from exc

    async def abort(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            await _quietly(file.close())


def _attrs(mode: int, times: tuple[float, float] | None) -> asyncssh.SFTPAttrs:
    if times is None:
        return asyncssh.SFTPAttrs(permissions=mode)
    return asyncssh.SFTPAttrs(permissions=mode, atime=int(times[0]), mtime=int(times[1]))


async def _at_once(steps: Iterable[Awaitable[T]]) -> list[T]:
    """The results of ``steps``, run at once.

    asyncssh's own parallel reads and writes leave their requests running when the call
    is cancelled (they then fail on a closed file, unseen); here a failure or a
    cancellation cancels the other steps and waits for them first.
    """
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        return await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _contiguous(blocks: list[bytes], size: int) -> Iterator[bytes]:
    """The blocks read at successive offsets, up to the first short one (an end of file,
    or a server that gave less than asked).

    >>> list(_contiguous([b"ab", b"c", b"de"], 2))
    [b'ab', b'c']
    """
    for block in blocks:
        yield block
        if len(block) < size:
            return


async def _quietly(step: Awaitable[object]) -> None:
    """Await ``step`` for cleanup: errors and a silent link are not the copy's failure."""
    with contextlib.suppress(asyncssh.Error, OSError, asyncio.TimeoutError):
        await asyncio.wait_for(step, CLEANUP_TIMEOUT)
