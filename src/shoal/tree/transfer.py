"""Copies through the tree: one tar stream per copy, made at the root, read back safely.

A copy to nodes behind gateways travels as one tar stream, made once at the root and
sent down every link; an rcopy comes back as one tar stream per node. Both ends go
through the same walk as flat copies (:mod:`shoal.hosts.copying`), so the rules are the
same: sources read as scp reads them, names checked where they enter, nothing written
outside the destination, never through a symlink.

* :func:`make_tar` copies local sources into a tar archive (a :class:`TarTarget`).
* :class:`TarSource` reads a node's tar stream as the source of a copy. It refuses a
  stream that names a member with an absolute path or a ``..``, or a symlink that leads
  out of the archive.

Pure file work: no asyncio beyond the walk's own, no network. Imports :mod:`shoal.hosts`.
"""

from __future__ import annotations

import os
import posixpath
import tarfile
import tempfile
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import IO

from shoal.hosts.copying import (
    CHUNK,
    CopyProblem,
    Kind,
    LocalSource,
    Meta,
    Source,
    Target,
    Writer,
    copy_as,
    name_of,
)

__all__ = ["SPOOL_SIZE", "TarSource", "TarTarget", "make_tar", "spool"]

#: Bytes of a tar stream kept in memory before it goes to a temporary file.
SPOOL_SIZE = 1 << 20

#: Symlinks followed inside an archive before giving up (a loop).
_MAX_LINKS = 40


# -- writing: local files into a tar stream -------------------------------------------------


@dataclass
class _Dir:
    """A directory of the archive being written: its path, and what its entry will say."""

    path: str
    mode: int = 0o755
    times: tuple[float, float] | None = None
    made: bool = False
    names: dict[bytes, Kind] = field(default_factory=dict)


class TarTarget(Target[_Dir]):
    """A copy's target that is a tar archive written to ``file``.

    Files are spooled until complete (a tar header names the size first), then written
    as one member under their real name. A directory's entry comes after its content,
    with the permission bits and times the copy gives it, so that an extractor sets them
    last. Member times and modes are the sources' (``-p`` decides at the other end
    whether to keep them).
    """

    def __init__(self, file: IO[bytes]) -> None:
        # closed by close(), once every source is in
        self._tar = tarfile.open(fileobj=file, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115
        self._root = _Dir("")

    def close(self) -> None:
        """Write the end of the archive (the file stays open)."""
        self._tar.close()

    def _info(self, path: str, kind: Kind, mode: int,
              times: tuple[float, float] | None) -> tarfile.TarInfo:
        info = tarfile.TarInfo(path)
        info.type = tarfile.DIRTYPE if kind == "dir" else tarfile.REGTYPE
        info.mode = mode
        info.mtime = int(times[1]) if times is not None else 0
        info.uname = info.gname = ""
        return info

    async def stat(self, path: bytes) -> Meta | None:
        """The archive's top: a directory (see :meth:`Target.stat`)."""
        return Meta("dir") if path == b"" else None

    async def open_folder(self, path: bytes) -> _Dir:
        """The archive's top (see :meth:`Target.open_folder`)."""
        return self._root

    async def lookup(self, folder: _Dir, name: bytes) -> Kind | None:
        """What the archive holds at ``name`` in ``folder`` so far."""
        return folder.names.get(name)

    async def make_dir(self, folder: _Dir, name: bytes, mode: int) -> _Dir:
        """A directory whose entry is written when it is closed."""
        folder.names[name] = "dir"
        return _Dir(self.path(folder, name).decode("utf-8", "surrogateescape"), mode,
                    made=True)

    async def enter_dir(self, folder: _Dir, name: bytes) -> _Dir:
        """Not met: each source goes into the archive once."""
        raise CopyProblem("to", self.path(folder, name), "already in the archive")

    async def set_dir(self, handle: _Dir, mode: int,
                      times: tuple[float, float] | None) -> None:
        """Record the bits and times of the directory's entry."""
        handle.mode, handle.times = mode, times

    async def close_folder(self, handle: _Dir) -> None:
        """Write a directory's entry, after its content."""
        if handle.made:
            self._tar.addfile(self._info(handle.path, "dir", handle.mode, handle.times))

    async def create(self, folder: _Dir, temp: bytes, mode: int,
                     name: bytes) -> Writer | None:
        """A member under the real name ``name``, written once complete."""
        return _TarWriter(self, folder, name, mode)

    async def rename(self, folder: _Dir, old: bytes, new: bytes) -> None:
        """Nothing to do: members are written under their real name."""

    async def remove(self, folder: _Dir, name: bytes) -> None:
        """Nothing to do: a member is written only once complete."""

    def path(self, folder: _Dir, name: bytes = b"") -> bytes:
        """The member path of ``name`` in ``folder``."""
        base = folder.path.encode("utf-8", "surrogateescape")
        if not name:
            return base
        return base + b"/" + name if base else name

    def add_file(self, folder: _Dir, name: bytes, mode: int,
                 times: tuple[float, float] | None, data: IO[bytes], size: int) -> None:
        """Write a complete file as a member."""
        folder.names[name] = "file"
        path = self.path(folder, name).decode("utf-8", "surrogateescape")
        info = self._info(path, "file", mode, times)
        info.size = size
        self._tar.addfile(info, data)


class _TarWriter(Writer):
    """One file on its way into the archive, spooled until it is complete."""

    def __init__(self, target: TarTarget, folder: _Dir, name: bytes, mode: int) -> None:
        self._target = target
        self._folder = folder
        self._name = name
        self._mode = mode
        self._spool: IO[bytes] = spool()
        self._size = 0

    async def write(self, data: bytes) -> None:
        self._spool.write(data)
        self._size += len(data)

    async def finish(self, mode: int | None, times: tuple[float, float] | None) -> None:
        self._spool.seek(0)
        try:
            self._target.add_file(self._folder, self._name,
                                  self._mode if mode is None else mode, times, self._spool,
                                  self._size)
        finally:
            self._spool.close()

    async def abort(self) -> None:
        self._spool.close()


async def make_tar(paths: Sequence[bytes], file: IO[bytes]) -> None:
    """Write the local ``paths`` (files or directory trees) into ``file`` as a tar archive,
    each under its own name (scp's: :func:`~shoal.hosts.copying.name_of`), with its
    permission bits and times.

    :raises CopyProblem: a source cannot be read, as a flat copy would say it.
    """
    target = TarTarget(file)
    try:
        for path in paths:
            await copy_as(LocalSource(), path, target, b"", name_of(path), preserve=True)
    finally:
        target.close()


# -- reading: a node's tar stream as the source of a copy -----------------------------------


@dataclass(frozen=True)
class _Entry:
    meta: Meta
    member: tarfile.TarInfo | None  # None: a directory the archive implies
    tar: tarfile.TarFile | None = None  # the archive that holds it


class TarSource(Source):
    """A node's tar stream in ``file`` (seekable), read as the source of a copy of
    ``what``, the node's path of the source (``"/var/log/app"``).

    The walk names paths as the node has them: ``what`` itself is the stream's top
    member (its last component), so the errors of the walk name the node's files, as
    those of a flat copy do. The stream may hold several archives one after the other
    (:func:`~shoal.tree.workers.rcopy_command` sends its symlinks to directories in a
    second one); a later member replaces an earlier one of the same name.

    Member names are checked when the stream is opened: one that is absolute or holds
    ``..`` fails the copy, and so does a symlink that leads out of the archive. Other
    kinds of member (devices, FIFOs, hard links) are refused by the walk, as flat copies
    refuse such files.

    :raises CopyProblem: the stream is damaged or holds a name it may not.
    """

    def __init__(self, file: IO[bytes], what: str) -> None:
        self._what = os.fsencode(what)
        self._source = what
        self._top = posixpath.basename(what.rstrip("/"))
        self._entries: dict[str, _Entry] = {"": _Entry(Meta("dir", 0o755), None)}
        self._children: dict[str, list[str]] = {"": []}
        self._tars: list[tarfile.TarFile] = []
        try:
            while True:
                # closed by close(), with the others
                tar = tarfile.open(fileobj=file, mode="r:")  # noqa: SIM115
                self._tars.append(tar)
                members = tar.getmembers()
                if not members and len(self._tars) > 1:  # tarfile reads no archive there
                    raise tarfile.ReadError("bytes after the archive that are no archive")
                for member in members:
                    self._add(member, tar)
                if not _next_archive(file, tar.offset):
                    break
        except (tarfile.TarError, OSError, EOFError) as exc:
            self.close()
            raise CopyProblem("from", self._what, f"a damaged tar stream ({exc})") from exc
        except CopyProblem:
            self.close()
            raise

    def _refuse(self, reason: str) -> CopyProblem:
        return CopyProblem("from", self._what, reason)

    def _add(self, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        name = member.name
        parts = name.split("/")
        if name.startswith("/") or ".." in parts:
            raise self._refuse(f"the tar stream names {name!r}, outside the copy")
        path = "/".join(part for part in parts if part not in ("", "."))
        kind: Kind
        if member.isreg():
            kind = "file"
        elif member.isdir():
            kind = "dir"
        elif member.issym():
            kind = "link"
            self._link(path, member.linkname)
        else:  # a device, a FIFO, a hard link: the walk refuses it, as flat copies do
            kind = "other"
        if not path:
            raise self._refuse(f"the tar stream names {name!r}, not a file in the copy")
        self._imply(posixpath.dirname(path))
        if path not in self._entries:
            self._children[posixpath.dirname(path)].append(path)
        self._entries[path] = _Entry(Meta(kind, member.mode & 0o777, member.mtime,
                                          member.mtime), member, tar)
        self._children.setdefault(path, [])

    def _imply(self, folder: str) -> None:
        """Make ``folder`` and its parents directories, if the archive did not say so."""
        if folder in self._entries:
            return
        self._imply(posixpath.dirname(folder))
        self._entries[folder] = _Entry(Meta("dir", 0o755), None)
        self._children[posixpath.dirname(folder)].append(folder)
        self._children[folder] = []

    def close(self) -> None:
        """Release the archives (the file stays open)."""
        for tar in self._tars:
            tar.close()

    def _link(self, path: str, link: str) -> str:
        """Where the symlink ``path`` to ``link`` leads in the archive; refused out of it."""
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), link))
        if link.startswith("/") or joined == ".." or joined.startswith("../"):
            raise self._refuse(f"{path!r} in the tar stream is a symlink out of the copy")
        return "" if joined == "." else joined

    def _resolve(self, path: str) -> tuple[str, _Entry]:
        """The path and entry ``path`` leads to, symlinks followed, never out of the
        archive."""
        for _ in range(_MAX_LINKS):
            entry = self._entries.get(path)
            if entry is None:
                raise self._refuse(f"no {path!r} in the tar stream")
            if entry.meta.kind != "link":
                return path, entry
            assert entry.member is not None
            path = self._link(path, entry.member.linkname)
        raise self._refuse(f"{path!r} in the tar stream: too many levels of symlinks")

    def _name(self, path: bytes) -> str:
        """The member a path of the copy names: ``what`` is the top member, a path under
        it one under that (``b"/var/log/app/./x/"`` is ``"app/x"``)."""
        text = path.decode("utf-8", "surrogateescape")
        rest = text[len(self._source):]
        if not text.startswith(self._source) or \
                not (rest.startswith("/") or self._source.endswith("/") or not rest):
            raise self._refuse(f"{text!r} is not in the copy")
        rest = rest.strip("/")
        name = posixpath.normpath(posixpath.join(self._top, rest)).strip("/")
        return "" if name == "." else name

    async def stat(self, path: bytes) -> Meta:
        """See :meth:`Source.stat`."""
        return self._resolve(self._name(path))[1].meta

    async def listdir(self, path: bytes) -> list[tuple[bytes, Meta]]:
        """See :meth:`Source.listdir`."""
        folder, entry = self._resolve(self._name(path))
        if entry.meta.kind != "dir":
            raise self._refuse(f"{folder!r} in the tar stream is not a directory")
        return [(os.fsencode(posixpath.basename(name)), self._entries[name].meta)
                for name in self._children[folder]]

    async def read(self, path: bytes) -> AsyncGenerator[bytes, None]:
        """See :meth:`Source.read`."""
        entry = self._resolve(self._name(path))[1]
        member, tar = entry.member, entry.tar
        assert member is not None and tar is not None
        data = tar.extractfile(member)
        if data is None:
            raise self._refuse(f"{member.name!r} in the tar stream is not a file")
        with data:
            while chunk := data.read(CHUNK):
                yield chunk


def _next_archive(file: IO[bytes], offset: int) -> bool:
    """Whether another archive follows the one whose end marker is at ``offset``: past
    the zero blocks that end it, the file holds more (then read from there)."""
    file.seek(offset)
    while block := file.read(tarfile.BLOCKSIZE):
        if block.count(0) != len(block):
            file.seek(-len(block), os.SEEK_CUR)
            return True
    return False


def spool() -> IO[bytes]:
    """A file for a tar stream on its way: memory first, a temporary file past
    :data:`SPOOL_SIZE`."""
    return tempfile.SpooledTemporaryFile(SPOOL_SIZE)

