"""Copies of files and directory trees that are safe at both ends: the walk transports share.

A copy reads a :class:`Source` and writes a :class:`Target`: this machine's file system
(:class:`LocalSource`, :class:`LocalTarget`) on one side, a node's SFTP server
(:mod:`shoal.hosts.sftp`) or this machine again on the other. Every copy keeps these
promises:

- **No truncated file under the real name.** A file is written under a temporary name
  in its target folder (``.NAME.shoal-XXXXXXXX``, created exclusively) and renamed over
  the real name once complete. A copy that fails or is interrupted removes its temporary
  file while it still can; a dead link may leave one behind, never a half-written NAME.
- **Nothing outside the target.** Names read from a source tree (a node's directory
  listing) are checked where they enter: ``.``, ``..`` and names holding ``/`` or NUL are
  refused. The copy never writes through a symlink: one at a file's name is replaced by
  the file, and one where a directory goes is an error (as rsync does). On this machine
  each name is opened relative to its open folder with ``O_NOFOLLOW`` and temporary files
  are created with ``O_EXCL``, so a symlink planted there, by a node or by a local user,
  is never followed.
- **Permissions as scp gives them.** A file or directory the copy creates gets its
  source's permission bits (read, write, execute for user, group and others; never the
  set-id bits) less the umask of the side that writes, whatever the replaced file had.
  With ``preserve`` (``-p``) it gets exactly those bits, and the access and modification
  times. A directory that exists already keeps its own, unless ``preserve``.
- **Sources read as scp reads them.** A source named is followed if it is a symlink. In a
  directory, a symlink to a file is copied as that file; a symlink to a directory is
  refused, as are other kinds of file (devices, sockets, FIFOs) and trees deeper than
  :data:`MAX_DEPTH` levels, so no loop and no symlink a node planted leads the copy
  elsewhere.

The files of a directory are copied :data:`WIDTH` at a time, to hide the round trips to a
node. The first failure ends a copy: the files under way stop and clean up as if
interrupted, and those renamed into place before stay, complete. A side that answers but
refuses raises :class:`CopyProblem`; a lost link raises whatever the side raises for it,
which its transport reports as a lost connection.

This module imports nothing from shoal, and no asyncssh.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import functools
import os
import secrets
import stat
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar, cast

__all__ = ["CHUNK", "MAX_DEPTH", "WIDTH", "CopyProblem", "Kind", "LocalSource", "LocalTarget",
           "Meta", "Source", "Target", "Writer", "copy_as", "copy_into", "kind_of", "name_of",
           "os_reason", "plain_name", "show"]

#: Directory levels a copy descends at most (scp's limit).
MAX_DEPTH = 64

#: Bytes read and written at a time.
CHUNK = 1 << 20

#: Files of one directory copied at once: each waits on round trips to the node.
WIDTH = 8

#: What is found at a name, symlinks not followed ("link": a symlink).
Kind = Literal["file", "dir", "link", "other"]

H = TypeVar("H")


@dataclass(frozen=True, slots=True)
class Meta:
    """What a copy keeps of a file: its kind, permission bits (``0o777`` at most), times."""

    kind: Kind
    mode: int = 0o644
    atime: float = 0.0
    mtime: float = 0.0

    @classmethod
    def of(cls, st: os.stat_result) -> Meta:
        """The metadata in an ``os.stat`` result."""
        return cls(kind_of(st.st_mode), stat.S_IMODE(st.st_mode) & 0o777, st.st_atime,
                   st.st_mtime)


def kind_of(mode: int) -> Kind:
    """The kind of file a ``st_mode`` describes.

    >>> kind_of(0o100644), kind_of(0o040755), kind_of(0o120777), kind_of(0o020666)
    ('file', 'dir', 'link', 'other')
    """
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    return "link" if stat.S_ISLNK(mode) else "other"


class CopyProblem(Exception):
    """A copy failed on a side that answers; ``reason`` is one line ready for the user.

    >>> str(CopyProblem("to", b"/etc/x", "permission denied"))
    'copy to /etc/x failed: permission denied'
    """

    def __init__(self, direction: Literal["to", "from"], path: bytes, reason: str) -> None:
        self.path = path
        self.reason = f"copy {direction} {show(path)} failed: {reason}"
        super().__init__(self.reason)


def show(path: bytes) -> str:
    r"""A path for a message: bytes that are not UTF-8 shown as escapes.

    >>> show(b"/tmp/caf\xc3\xa9"), show(b"/tmp/\xff")
    ('/tmp/café', '/tmp/\\xff')
    """
    return path.decode("utf-8", "backslashreplace")


def os_reason(exc: OSError) -> str:
    """``permission denied`` rather than ``[Errno 13] Permission denied: '/etc/x'``.

    An error with no errno of its own (``socket.gaierror``) gives its own text.

    >>> os_reason(PermissionError(13, "Permission denied"))
    'permission denied'
    """
    text = os.strerror(exc.errno) if exc.errno is not None and exc.errno > 0 else exc.strerror
    if text:
        return text[0].lower() + text[1:]
    return str(exc) or type(exc).__name__


def plain_name(name: bytes) -> bool:
    """Whether ``name`` names an entry of a folder and nothing else.

    >>> [plain_name(n) for n in (b"hosts.node1", b"..", b".", b"", b"a/b", b"a\\0")]
    [True, False, False, False, False, False]
    """
    return name not in (b"", b".", b"..") and b"/" not in name and b"\0" not in name


def name_of(path: bytes) -> bytes:
    """The name a copy of this machine's ``path`` takes in a folder, as scp names it.

    >>> name_of(b"/etc/hosts"), name_of(b"conf/"), name_of(b"/")
    (b'hosts', b'conf', b'')
    """
    return os.path.basename(os.path.abspath(path))


def _join(folder: bytes, name: bytes) -> bytes:
    return folder + name if folder.endswith(b"/") else folder + b"/" + name


# -- the two sides -------------------------------------------------------------------------


class Source(abc.ABC):
    """The side a copy reads. Paths are bytes; errors are :class:`CopyProblem` ("from")."""

    @abc.abstractmethod
    async def stat(self, path: bytes) -> Meta:
        """What ``path`` is, symlinks followed (so never a "link")."""

    @abc.abstractmethod
    async def listdir(self, path: bytes) -> list[tuple[bytes, Meta]]:
        """The names in the directory ``path`` as the side gives them (unchecked), each
        with what it is, symlinks not followed."""

    @abc.abstractmethod
    def read(self, path: bytes) -> AsyncGenerator[bytes, None]:
        """The content of the file ``path``, chunk by chunk."""


class Writer(abc.ABC):
    """A file being written under its temporary name."""

    @abc.abstractmethod
    async def write(self, data: bytes) -> None:
        """Append ``data``."""

    @abc.abstractmethod
    async def finish(self, mode: int | None, times: tuple[float, float] | None) -> None:
        """Set the permission bits and (access, modification) times if given, and close."""

    @abc.abstractmethod
    async def abort(self) -> None:
        """Close without finishing (the temporary file is removed after); never raises."""


class Target(abc.ABC, Generic[H]):
    """The side a copy writes; ``H`` is its handle on an open folder.

    Methods that take a folder and a name never follow a symlink at that name. Errors are
    :class:`CopyProblem` ("to").
    """

    @abc.abstractmethod
    async def stat(self, path: bytes) -> Meta | None:
        """What ``path`` is, symlinks followed; None if there is nothing there."""

    @abc.abstractmethod
    async def open_folder(self, path: bytes) -> H:
        """A handle on the existing folder ``path`` (a symlink to it is followed)."""

    @abc.abstractmethod
    async def lookup(self, folder: H, name: bytes) -> Kind | None:
        """What is at ``name`` in ``folder``; None: nothing."""

    @abc.abstractmethod
    async def make_dir(self, folder: H, name: bytes, mode: int) -> H:
        """Create the directory ``name`` in ``folder`` and open it."""

    @abc.abstractmethod
    async def enter_dir(self, folder: H, name: bytes) -> H:
        """Open the existing directory ``name`` of ``folder`` (not through a symlink)."""

    @abc.abstractmethod
    async def set_dir(self, handle: H, mode: int, times: tuple[float, float] | None) -> None:
        """Set an open directory's permission bits and, if given, its times."""

    @abc.abstractmethod
    async def close_folder(self, handle: H) -> None:
        """Release a handle from :meth:`open_folder`, :meth:`make_dir` or :meth:`enter_dir`."""

    @abc.abstractmethod
    async def create(self, folder: H, temp: bytes, mode: int, name: bytes) -> Writer | None:
        """Create the file ``temp`` in ``folder`` with ``mode``; None if the name is taken.

        ``name`` is the real name the file will take: messages name it.
        """

    @abc.abstractmethod
    async def rename(self, folder: H, old: bytes, new: bytes) -> None:
        """Rename ``old`` to ``new`` in ``folder`` at once, replacing a file at ``new``."""

    @abc.abstractmethod
    async def remove(self, folder: H, name: bytes) -> None:
        """Remove the file ``name`` from ``folder`` if it can; never raises."""

    @abc.abstractmethod
    def path(self, folder: H, name: bytes = b"") -> bytes:
        """The path of ``name`` in ``folder`` (of ``folder`` itself without a name)."""


# -- the walk ------------------------------------------------------------------------------


async def copy_into(source: Source, src: bytes, target: Target[H], dest: bytes, *,
                    name: bytes, preserve: bool = False, into: bool = False) -> None:
    """Copy ``src`` as scp does: into ``dest`` when it is a folder, else as ``dest`` itself.

    ``name`` is the name of the copy inside a folder. With ``into``, ``dest`` must be a
    folder (several sources, or a destination that says so): it is never taken as the
    new name, which would have each source overwrite the one before.
    """
    found = await target.stat(dest)
    if found is not None and found.kind == "dir":
        await copy_as(source, src, target, dest, name, preserve=preserve)
    elif into:
        raise CopyProblem("to", dest, "no such directory" if found is None else "not a directory")
    else:
        folder, new = os.path.split(dest)
        parent = await target.stat(folder or b".")
        if parent is None or parent.kind != "dir":
            raise CopyProblem("to", dest, "no such file or directory" if parent is None
                              else "not a directory")
        await copy_as(source, src, target, folder or b".", new, preserve=preserve)


async def copy_as(source: Source, src: bytes, target: Target[H], folder: bytes, name: bytes, *,
                  preserve: bool = False) -> None:
    """Copy ``src`` to exactly ``name`` in ``folder``, which must exist.

    A file there is replaced; a directory there takes in a directory's content.
    """
    if not plain_name(name):
        raise CopyProblem("to", _join(folder, name), "not a plain file name")
    meta = await source.stat(src)
    handle = await target.open_folder(folder)
    try:
        await _copy(source, src, meta, target, handle, name, preserve, 0)
    finally:
        await target.close_folder(handle)


async def _copy(source: Source, src: bytes, meta: Meta, target: Target[H], folder: H,
                name: bytes, preserve: bool, depth: int) -> None:
    if meta.kind == "file":
        await _copy_file(source, src, meta, target, folder, name, preserve)
    elif meta.kind == "dir":
        await _copy_dir(source, src, meta, target, folder, name, preserve, depth)
    else:
        raise CopyProblem("from", src, "not a regular file or directory")


async def _copy_dir(source: Source, src: bytes, meta: Meta, target: Target[H], folder: H,
                    name: bytes, preserve: bool, depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise CopyProblem("from", src, f"more than {MAX_DEPTH} levels of directories")
    found = await target.lookup(folder, name)
    if found is None:
        # owner rwx while the copy fills it; the source's bits once it is done
        handle = await target.make_dir(folder, name, meta.mode | 0o700)
        fix = meta.mode & 0o700 != 0o700
    elif found == "dir":
        handle = await target.enter_dir(folder, name)
        fix = False
    else:
        reason = "is a symlink (not followed)" if found == "link" else "not a directory"
        raise CopyProblem("to", target.path(folder, name), reason)
    try:
        files: list[Callable[[], Awaitable[None]]] = []
        for entry, found_meta in sorted(await source.listdir(src), key=lambda e: e[0]):
            if entry in (b".", b".."):
                continue
            if not plain_name(entry):
                raise CopyProblem("from", src, f"its listing holds a bad name {show(entry)!r}")
            child = _join(src, entry)
            what = found_meta if found_meta.kind != "link" else await source.stat(child)
            if found_meta.kind == "link" and what.kind == "dir":
                raise CopyProblem("from", child, "a symlink to a directory (not followed)")
            if what.kind == "dir":
                await _copy_dir(source, child, what, target, handle, entry, preserve, depth + 1)
            else:
                files.append(functools.partial(_copy, source, child, what, target, handle,
                                               entry, preserve, depth + 1))
        await _together(files)
        if preserve or fix:
            await target.set_dir(handle, meta.mode, (meta.atime, meta.mtime) if preserve else None)
    finally:
        await target.close_folder(handle)


async def _together(jobs: Iterable[Callable[[], Awaitable[None]]]) -> None:
    """Run ``jobs``, :data:`WIDTH` at a time: the first failure stops the others, then is
    raised; a job stopped this way cleans up as an interrupted one does."""
    pending = iter(jobs)

    async def worker() -> None:
        for job in pending:
            await job()

    workers = [asyncio.ensure_future(worker()) for _ in range(WIDTH)]
    try:
        done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
    finally:  # cancelled too: every job ends before the walk goes on
        for running in workers:
            running.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    for finished in done:
        if not finished.cancelled() and finished.exception() is not None:
            raise cast(BaseException, finished.exception())


async def _copy_file(source: Source, src: bytes, meta: Meta, target: Target[H], folder: H,
                     name: bytes, preserve: bool) -> None:
    for _ in range(3):
        temp = b"." + name[:200] + b".shoal-" + secrets.token_hex(4).encode()
        try:
            writer = await target.create(folder, temp, meta.mode, name)
        except asyncio.CancelledError:  # the node may have made it before the answer came
            await _to_the_end(target.remove(folder, temp))
            raise
        if writer is not None:
            break
    else:
        raise CopyProblem("to", target.path(folder, name), "no free temporary name beside it")
    try:
        async with contextlib.aclosing(source.read(src)) as chunks:
            async for chunk in chunks:
                await writer.write(chunk)
        await writer.finish(meta.mode if preserve else None,
                            (meta.atime, meta.mtime) if preserve else None)
        try:
            await target.rename(folder, temp, name)
        except CopyProblem:
            if await target.lookup(folder, name) == "dir":  # say so, whatever the side said
                raise CopyProblem("to", target.path(folder, name), "is a directory") from None
            raise
    except BaseException:  # interrupted too: the temporary file goes, if it still can
        await _to_the_end(_discard(writer, target, folder, temp))
        raise


async def _discard(writer: Writer, target: Target[H], folder: H, temp: bytes) -> None:
    await writer.abort()
    await target.remove(folder, temp)


async def _to_the_end(cleanup: Awaitable[None]) -> None:
    """Await ``cleanup`` to its end even if cancelled meanwhile (a sibling's failure or
    Ctrl-C while a failed file cleans up), then let the cancellation through.

    Cleanups are bounded: a node's is given up after a few seconds.
    """
    task = asyncio.ensure_future(cleanup)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    task.result()
    if cancelled:
        raise asyncio.CancelledError


# -- this machine --------------------------------------------------------------------------


class LocalSource(Source):
    """This machine's files, read as scp reads them (symlinks followed)."""

    async def stat(self, path: bytes) -> Meta:
        """See :meth:`Source.stat`."""
        try:
            return Meta.of(os.stat(path))
        except OSError as exc:
            raise CopyProblem("from", path, os_reason(exc)) from exc

    async def listdir(self, path: bytes) -> list[tuple[bytes, Meta]]:
        """See :meth:`Source.listdir`."""
        try:
            with os.scandir(path) as entries:
                return [(e.name, Meta.of(e.stat(follow_symlinks=False))) for e in entries]
        except OSError as exc:
            raise CopyProblem("from", path, os_reason(exc)) from exc

    async def read(self, path: bytes) -> AsyncGenerator[bytes, None]:
        """See :meth:`Source.read`; gives the event loop a turn after each chunk."""
        try:
            with open(path, "rb", buffering=0) as file:
                while chunk := file.read(CHUNK):
                    yield chunk
                    await asyncio.sleep(0)
        except OSError as exc:
            raise CopyProblem("from", path, os_reason(exc)) from exc


@dataclass(frozen=True, slots=True)
class _Folder:
    fd: int
    path: bytes


class LocalTarget(Target[_Folder]):
    """This machine's file system, written through open folders, never through a symlink."""

    async def stat(self, path: bytes) -> Meta | None:
        """See :meth:`Target.stat`."""
        try:
            return Meta.of(os.stat(path))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise CopyProblem("to", path, os_reason(exc)) from exc

    async def open_folder(self, path: bytes) -> _Folder:
        """See :meth:`Target.open_folder`."""
        try:
            return _Folder(os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), path)
        except OSError as exc:
            raise CopyProblem("to", path, os_reason(exc)) from exc

    async def lookup(self, folder: _Folder, name: bytes) -> Kind | None:
        """See :meth:`Target.lookup`."""
        try:
            return kind_of(os.stat(name, dir_fd=folder.fd, follow_symlinks=False).st_mode)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CopyProblem("to", self.path(folder, name), os_reason(exc)) from exc

    async def make_dir(self, folder: _Folder, name: bytes, mode: int) -> _Folder:
        """See :meth:`Target.make_dir`."""
        try:
            os.mkdir(name, mode, dir_fd=folder.fd)
        except OSError as exc:
            raise CopyProblem("to", self.path(folder, name), os_reason(exc)) from exc
        return await self.enter_dir(folder, name)

    async def enter_dir(self, folder: _Folder, name: bytes) -> _Folder:
        """See :meth:`Target.enter_dir`."""
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        path = self.path(folder, name)
        try:
            return _Folder(os.open(name, flags, dir_fd=folder.fd), path)
        except OSError as exc:
            raise CopyProblem("to", path, os_reason(exc)) from exc

    async def set_dir(self, handle: _Folder, mode: int,
                      times: tuple[float, float] | None) -> None:
        """See :meth:`Target.set_dir`."""
        try:
            os.chmod(handle.fd, mode)
            if times is not None:
                os.utime(handle.fd, times)
        except OSError as exc:
            raise CopyProblem("to", handle.path, os_reason(exc)) from exc

    async def close_folder(self, handle: _Folder) -> None:
        """See :meth:`Target.close_folder`."""
        os.close(handle.fd)

    async def create(self, folder: _Folder, temp: bytes, mode: int,
                     name: bytes) -> Writer | None:
        """See :meth:`Target.create`: ``O_EXCL`` and ``O_NOFOLLOW``."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        path = self.path(folder, name)
        try:
            return _LocalWriter(os.open(temp, flags, mode, dir_fd=folder.fd), path)
        except FileExistsError:
            return None
        except OSError as exc:
            raise CopyProblem("to", path, os_reason(exc)) from exc

    async def rename(self, folder: _Folder, old: bytes, new: bytes) -> None:
        """See :meth:`Target.rename`; a symlink at ``new`` is replaced, not followed."""
        try:
            os.replace(old, new, src_dir_fd=folder.fd, dst_dir_fd=folder.fd)
        except OSError as exc:
            raise CopyProblem("to", self.path(folder, new), os_reason(exc)) from exc

    async def remove(self, folder: _Folder, name: bytes) -> None:
        """See :meth:`Target.remove`."""
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=folder.fd)

    def path(self, folder: _Folder, name: bytes = b"") -> bytes:
        """See :meth:`Target.path`."""
        return _join(folder.path, name) if name else folder.path


class _LocalWriter(Writer):
    def __init__(self, fd: int, path: bytes) -> None:
        self._fd: int | None = fd
        self._path = path

    async def write(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as exc:
            raise CopyProblem("to", self._path, os_reason(exc)) from exc

    async def finish(self, mode: int | None, times: tuple[float, float] | None) -> None:
        assert self._fd is not None
        fd, self._fd = self._fd, None
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            if times is not None:
                os.utime(fd, times)
        except OSError as exc:
            raise CopyProblem("to", self._path, os_reason(exc)) from exc
        finally:
            os.close(fd)

    async def abort(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
