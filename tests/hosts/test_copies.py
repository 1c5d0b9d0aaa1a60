"""Copies on every transport: permissions, atomic replacement, symlinks, full disks, names.

What the three transports share runs against each of them (``kind``); what only the walk
of :mod:`shoal.hosts.copying` can be made to meet (names no real file system holds, a
copy stopped half-way) drives the walk directly, with a test double for the source side
only and real SFTP or local files for the side it writes.
"""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import asyncssh
import pytest
from support.files import writable_folder

from shoal.errors import CopyFailed
from shoal.hosts import Connection, ConnectOptions, LocalTransport, Transport
from shoal.hosts.copying import (
    CopyProblem,
    LocalTarget,
    Meta,
    Source,
    Target,
    copy_as,
)
from shoal.hosts.openssh import OpenSSHTransport
from shoal.hosts.sftp import SFTPTarget
from shoal.hosts.ssh import SSHTransport
from shoal.testbed import Testbed

T = TypeVar("T")
H = TypeVar("H")
KINDS = ["ssh", "openssh", "local"]


def _transport(kind: str, bed: Testbed) -> Transport:
    options = ConnectOptions(ssh_config=(bed.ssh_config,))
    if kind == "ssh":
        return SSHTransport(options)
    return OpenSSHTransport(options) if kind == "openssh" else LocalTransport()


def _on_node(kind: str, bed: Testbed, work: Callable[[Connection], Awaitable[T]]) -> T:
    async def scenario() -> T:
        transport = _transport(kind, bed)
        conn = await transport.connect("node1")
        try:
            return await work(conn)
        finally:
            await conn.close()
            await transport.close()

    return asyncio.run(scenario())


def put(kind: str, bed: Testbed, local: Path, remote: Path, **options: bool) -> None:
    _on_node(kind, bed, lambda conn: conn.put(local, str(remote), **options))


def get(kind: str, bed: Testbed, remote: Path, local: Path, **options: bool) -> None:
    _on_node(kind, bed, lambda conn: conn.get(str(remote), local, **options))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def area(shared_tmp_path: Path) -> Path:
    """A folder on "the node" that the testbed's login user may write into."""
    return writable_folder(shared_tmp_path, "area")


@pytest.fixture
def small_disk(shared_tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB file system anyone may write to: a disk that fills up half-way."""
    path = shared_tmp_path / "small"
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0777", "tmpfs",
                              str(path)], capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


@pytest.mark.parametrize("kind", KINDS)
def test_copies_keep_their_source_permissions_without_p(kind: str, testbed: Testbed,
                                                        area: Path, tmp_path: Path) -> None:
    # a 0600 key in a 0700 folder used to arrive 0644 in 0755, readable by everyone
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    (keys / "id").write_text("secret\n")
    (keys / "id").chmod(0o600)
    (keys / "run").write_text("#!/bin/sh\n")
    (keys / "run").chmod(0o755)
    put(kind, testbed, keys, area)
    back = tmp_path / "back"
    back.mkdir()
    get(kind, testbed, area / "keys", back / "keys.node1")
    for copy in (area / "keys", back / "keys.node1"):
        assert [_mode(copy), _mode(copy / "id"), _mode(copy / "run")] == [0o700, 0o600, 0o755]
        assert (copy / "id").read_text() == "secret\n"


@pytest.mark.parametrize("kind", KINDS)
def test_p_keeps_modes_and_times(kind: str, testbed: Testbed, area: Path,
                                 tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f").write_text("x")
    (tree / "f").chmod(0o640)
    for path in (tree / "f", tree):
        os.utime(path, (1e9, 1e9))
    put(kind, testbed, tree, area, preserve=True)
    back = tmp_path / "back"
    back.mkdir()
    get(kind, testbed, area / "tree", back / "tree.node1", preserve=True)
    for copy in (area / "tree", back / "tree.node1"):
        assert _mode(copy / "f") == 0o640
        assert (copy / "f").stat().st_mtime == copy.stat().st_mtime == 1e9


@pytest.mark.parametrize("kind", KINDS)
def test_a_copy_replaces_files_by_a_rename_never_through_a_symlink(
        kind: str, testbed: Testbed, area: Path, tmp_path: Path) -> None:
    (area / "app.conf").write_text("old\n")
    (area / "app.conf").chmod(0o666)
    before = (area / "app.conf").stat().st_ino
    victim = area / "victim"
    victim.write_text("victim\n")
    victim.chmod(0o666)
    (area / "link").symlink_to(victim)
    for name in ("app.conf", "link"):
        (tmp_path / name).write_text(f"new {name}\n")
        put(kind, testbed, tmp_path / name, area)
    assert (area / "app.conf").read_text() == "new app.conf\n"
    assert (area / "app.conf").stat().st_ino != before  # a new file, not the old one rewritten
    assert not (area / "link").is_symlink()
    assert (area / "link").read_text() == "new link\n"
    assert victim.read_text() == "victim\n"
    assert sorted(os.listdir(area)) == ["app.conf", "link", "victim"]  # no temporary left


@pytest.mark.parametrize("kind", KINDS)
def test_a_tree_merges_into_the_one_already_there(kind: str, testbed: Testbed, area: Path,
                                                  tmp_path: Path) -> None:
    there = area / "tree"
    there.mkdir(mode=0o777)
    there.chmod(0o777)
    for name, text in (("keep", "kept\n"), ("f", "old\n")):
        (there / name).write_text(text)
        (there / name).chmod(0o666)
    before = (there / "f").stat().st_ino
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "f").write_text("new\n")
    (tree / "sub" / "g").write_text("g\n")
    put(kind, testbed, tree, area)
    assert {p.relative_to(there).as_posix(): p.read_text() for p in there.rglob("*")
            if p.is_file()} == {"keep": "kept\n", "f": "new\n", "sub/g": "g\n"}
    assert (there / "f").stat().st_ino != before
    assert _mode(there) == 0o777  # an existing directory keeps its mode without -p


@pytest.mark.parametrize("kind", KINDS)
def test_a_copy_from_a_node_never_follows_a_symlink_planted_in_dest(
        kind: str, testbed: Testbed, area: Path, tmp_path: Path) -> None:
    (area / "hosts").write_text("from the node\n")
    (area / "tree").mkdir()
    (area / "tree" / "f").write_text("f\n")
    dest, victim, victim_dir = tmp_path / "dest", tmp_path / "victim", tmp_path / "victim-dir"
    for folder in (dest, victim_dir):
        folder.mkdir()
    victim.write_text("victim\n")
    (dest / "hosts.node1").symlink_to(victim)
    (dest / "tree.node1").symlink_to(victim_dir)
    get(kind, testbed, area / "hosts", dest / "hosts.node1")
    assert not (dest / "hosts.node1").is_symlink()
    assert (dest / "hosts.node1").read_text() == "from the node\n"
    with pytest.raises(CopyFailed, match=r"tree\.node1 failed: is a symlink \(not followed\)$"):
        get(kind, testbed, area / "tree", dest / "tree.node1")
    assert victim.read_text() == "victim\n"
    assert list(victim_dir.iterdir()) == []


@pytest.mark.parametrize("kind", KINDS)
def test_symlinks_in_a_tree_from_a_node_become_files_or_are_refused(
        kind: str, testbed: Testbed, area: Path, tmp_path: Path) -> None:
    # a node's symlinks never become symlinks here: a later name could write through one
    tree = area / "tree"
    tree.mkdir()
    (area / "secret").write_text("pointed at\n")
    (tree / "file-link").symlink_to(area / "secret")
    get(kind, testbed, tree, tmp_path / "tree.node1")
    copy = tmp_path / "tree.node1" / "file-link"
    assert (copy.is_symlink(), copy.read_text()) == (False, "pointed at\n")
    (tree / "dir-link").symlink_to(area)
    refused = r"a symlink to a directory \(not followed\)" if kind != "openssh" else (
        r"not a regular file")  # scp's own words
    with pytest.raises(CopyFailed, match=rf" failed: {refused}$"):
        get(kind, testbed, tree, tmp_path / "again.node1")


@pytest.mark.parametrize("kind", KINDS)
def test_a_full_disk_fails_the_copy_and_keeps_the_old_file(
        kind: str, testbed: Testbed, area: Path, small_disk: Path, tmp_path: Path) -> None:
    big = tmp_path / "data"
    big.write_bytes(os.urandom(1 << 20))
    for old in (small_disk / "data", small_disk / "data.node1"):
        old.write_text("old\n")
        old.chmod(0o666)
    with pytest.raises(CopyFailed, match=r"data failed: no space left on device$"):
        put(kind, testbed, big, small_disk)
    (area / "data").write_bytes(big.read_bytes())
    with pytest.raises(CopyFailed, match=r" failed: no space left on device$"):
        get(kind, testbed, area / "data", small_disk / "data.node1")
    assert [p.read_text() for p in (small_disk / "data", small_disk / "data.node1")] == [
        "old\n", "old\n"]
    assert sorted(os.listdir(small_disk)) == ["data", "data.node1"]  # no temporary left


@pytest.mark.parametrize("kind", KINDS)
def test_a_tree_that_fills_the_disk_leaves_whole_files_and_no_temporary(
        kind: str, testbed: Testbed, small_disk: Path, tmp_path: Path) -> None:
    many = tmp_path / "many"
    many.mkdir()
    chunk = os.urandom(48 << 10)
    for i in range(12):  # 576 KiB for 256: some files are under way when the disk fills
        (many / f"f{i:02}").write_bytes(chunk)
    with pytest.raises(CopyFailed, match=r" failed: no space left on device$"):
        put(kind, testbed, many, small_disk)
    left = {p.name: p.stat().st_size for p in small_disk.rglob("*") if p.is_file()}
    assert {name: size for name, size in left.items()
            if name.startswith(".") or size != len(chunk)} == {}
    assert [p.name for p in small_disk.iterdir()] in (["many"], [])


@pytest.mark.parametrize("kind", KINDS)
def test_refusals_are_copy_failures_that_say_why(kind: str, testbed: Testbed, area: Path,
                                                 tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    (area / "file").write_text("x")
    cases: list[tuple[Callable[[], None], str]] = [
        (lambda: put(kind, testbed, tmp_path / "f", Path("/nonexistent/dir")),
         r"copy to /nonexistent/dir failed: no such file or directory"),
        (lambda: put(kind, testbed, tmp_path / "f", area / "missing", into=True),
         rf"copy to {area}/missing failed: no such directory"),
        (lambda: put(kind, testbed, tmp_path / "d", area / "file"),
         rf"copy to {area}/file failed: not a directory"),
        (lambda: get(kind, testbed, Path("/nonexistent"), tmp_path / "x"),
         r"copy from /nonexistent failed: no such file or directory"),
    ]
    if kind != "local":  # the login user may not write there; root may
        where = "/etc" if kind == "openssh" else "/etc/f"  # mktemp -d in /etc fails first
        cases.append((lambda: put(kind, testbed, tmp_path / "f", Path("/etc")),
                      rf"copy to {where} failed: permission denied"))
    for copy, message in cases:
        with pytest.raises(CopyFailed, match=rf"^node1: {message}$"):
            copy()


# -- the walk itself -------------------------------------------------------------------------


class _Tree(Source):
    """A directory "tree" whose listing is given (names no file system holds), whose files
    hold a first chunk, then wait at ``gate`` if there is one, then end."""

    def __init__(self, listing: list[bytes], gate: asyncio.Event | None = None) -> None:
        self.listing = listing
        self.gate = gate
        self.reading = asyncio.Event()

    async def stat(self, path: bytes) -> Meta:
        return Meta("dir" if path == b"tree" else "file", 0o644)

    async def listdir(self, path: bytes) -> list[tuple[bytes, Meta]]:
        return [(name, Meta("file")) for name in self.listing]

    async def read(self, path: bytes) -> AsyncGenerator[bytes, None]:
        yield b"new" * 100_000
        self.reading.set()
        if self.gate is not None:
            await self.gate.wait()
        yield b"end\n"


@pytest.mark.parametrize("name", [b"../escape", b"a/b", b"nul\0"])
def test_names_a_listing_holds_are_checked_where_they_enter(name: bytes,
                                                            tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    tree = _Tree([b".", b"..", b"fine", name])

    with pytest.raises(CopyProblem, match="its listing holds a bad name"):
        asyncio.run(copy_as(tree, b"tree", LocalTarget(), os.fsencode(dest), b"tree.node1"))
    written = {p.relative_to(tmp_path) for p in tmp_path.rglob("*")}
    assert written - {Path("dest/tree.node1/fine")} == {Path("dest"), Path("dest/tree.node1")}


@pytest.mark.parametrize("name", [b"..", b"a/b", b""])
def test_the_name_of_a_copy_must_be_plain(name: bytes, tmp_path: Path) -> None:
    with pytest.raises(CopyProblem, match="not a plain file name"):
        asyncio.run(copy_as(_Tree([]), b"file", LocalTarget(), os.fsencode(tmp_path), name))


async def _interrupted(target: Target[H], folder: bytes,
                       stop: Callable[[], None] | None = None) -> None:
    """Copy a file over ``folder/data``; cancel it half-way (or ``stop`` the link there)."""
    tree = _Tree([], gate=asyncio.Event())
    copy = asyncio.ensure_future(copy_as(tree, b"data", target, folder, b"data"))
    await tree.reading.wait()
    if stop is None:
        copy.cancel()
    else:
        stop()
        assert tree.gate is not None
        tree.gate.set()
    with pytest.raises((asyncio.CancelledError, asyncssh.Error)):
        await copy


def test_an_interrupted_copy_leaves_the_old_file_whole(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("old\n")
    asyncio.run(_interrupted(LocalTarget(), os.fsencode(tmp_path)))
    assert os.listdir(tmp_path) == ["data"]
    assert (tmp_path / "data").read_text() == "old\n"


@pytest.mark.parametrize("dead_link", [False, True], ids=["interrupted", "dead-link"])
def test_an_sftp_copy_stopped_half_way_leaves_the_old_file_whole(
        dead_link: bool, testbed: Testbed, area: Path) -> None:
    (area / "data").write_text("old\n")
    (area / "data").chmod(0o666)

    async def scenario() -> None:
        async with asyncssh.connect("node1", config=[str(testbed.ssh_config)]) as conn:
            sftp = await conn.start_sftp_client(path_encoding=None)
            await _interrupted(SFTPTarget(sftp), os.fsencode(area),
                               conn.abort if dead_link else None)

    asyncio.run(scenario())
    assert (area / "data").read_text() == "old\n"
    left = sorted(os.listdir(area))
    if dead_link:  # nobody left to remove the temporary file: it stays, beside the old one
        assert left[1:] == ["data"] and left[0].startswith(".data.shoal-")
    else:
        assert left == ["data"]
