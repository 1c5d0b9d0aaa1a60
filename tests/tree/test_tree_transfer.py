"""The tar streams of tree copies: made with flat copies' rules, read back refusing escapes."""

from __future__ import annotations

import asyncio
import io
import os
import tarfile
from pathlib import Path

import pytest

from shoal.hosts.copying import CopyProblem, LocalTarget, copy_as
from shoal.tree.transfer import TarSource, make_tar, spool


def _tar(paths: list[Path]) -> io.BytesIO:
    file = io.BytesIO()
    asyncio.run(make_tar([os.fsencode(p) for p in paths], file))
    file.seek(0)
    return file


def _members(file: io.BytesIO) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=file) as tar:
        found = {m.name: m for m in tar.getmembers()}
    file.seek(0)
    return found


def _read_back(file: io.BytesIO, top: str, into: Path, name: str,
               preserve: bool = False) -> None:
    source = TarSource(file, f"/remote/{top}")
    try:
        asyncio.run(copy_as(source, f"/remote/{top}".encode(), LocalTarget(), os.fsencode(into),
                            name.encode(), preserve=preserve))
    finally:
        source.close()


def test_a_tree_goes_in_under_its_name_with_modes_and_times(tmp_path: Path) -> None:
    top = tmp_path / "app"
    (top / "conf").mkdir(parents=True)
    (top / "conf" / "a.conf").write_text("a\n")
    (top / "run.sh").write_text("#!/bin/sh\n")
    (top / "run.sh").chmod(0o750)
    os.utime(top / "run.sh", (1_000_000, 1_000_000))
    (top / "link").symlink_to("run.sh")  # a symlink to a file goes as that file, as scp
    single = tmp_path / "hosts"
    single.write_text("127.0.0.1 localhost\n")
    members = _members(_tar([top, single]))
    assert sorted(members) == ["app", "app/conf", "app/conf/a.conf", "app/link", "app/run.sh",
                               "hosts"]
    assert members["app/run.sh"].mode == 0o750 and members["app/run.sh"].mtime == 1_000_000
    assert members["app/link"].isreg() and members["app/link"].size == len("#!/bin/sh\n")
    # a directory's entry comes after its content, so that an extractor sets it last
    order = list(members)
    assert order.index("app/conf/a.conf") < order.index("app/conf") < order.index("app")


def test_a_symlink_to_a_directory_inside_a_source_is_refused_as_flat_copies_do(
        tmp_path: Path) -> None:
    top = tmp_path / "app"
    (top / "real").mkdir(parents=True)
    (top / "alias").symlink_to("real")
    with pytest.raises(CopyProblem, match=r"copy from .*/app/alias failed: a symlink to a "
                                          r"directory \(not followed\)"):
        _tar([top])


def test_read_back_as_name_dot_node_with_the_content_and_modes(tmp_path: Path) -> None:
    top = tmp_path / "logs"
    (top / "sub").mkdir(parents=True)
    (top / "sub" / "x.log").write_bytes(b"\xff binary\n" * 1000)
    (top / ".hidden").write_text("h")
    (top / "sub" / "x.log").chmod(0o640)
    out = tmp_path / "out"
    out.mkdir()
    _read_back(_tar([top]), "logs", out, "logs.node7", preserve=True)
    copy = out / "logs.node7"
    assert (copy / "sub" / "x.log").read_bytes() == b"\xff binary\n" * 1000
    assert (copy / ".hidden").read_text() == "h"
    assert (copy / "sub" / "x.log").stat().st_mode & 0o777 == 0o640


def _evil(*members: tarfile.TarInfo, data: bytes = b"x") -> io.BytesIO:
    file = io.BytesIO()
    with tarfile.open(fileobj=file, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            if member.isreg():
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
            else:
                tar.addfile(member)
    file.seek(0)
    return file


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize("members, fault", [
    pytest.param([_member("/etc/cron.d/evil")], "outside the copy", id="absolute"),
    pytest.param([_member("logs/../../evil")], "outside the copy", id="dot-dot"),
    pytest.param([_member("../evil")], "outside the copy", id="dot-dot-first"),
    pytest.param([_member("logs", tarfile.DIRTYPE),
                  _member("logs/out", tarfile.SYMTYPE, "/etc/shadow")],
                 "a symlink out of the copy", id="absolute-symlink"),
    pytest.param([_member("logs", tarfile.DIRTYPE),
                  _member("logs/out", tarfile.SYMTYPE, "../../etc/shadow")],
                 "a symlink out of the copy", id="escaping-symlink"),
])
def test_a_stream_naming_anything_outside_the_copy_is_refused_and_writes_nothing(
        tmp_path: Path, members: list[tarfile.TarInfo], fault: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(CopyProblem, match=fault) as caught:
        _read_back(_evil(*members), "logs", out, "logs.node1")
    assert caught.value.reason.startswith("copy from /remote/logs failed: ")
    assert not (tmp_path / "evil").exists()
    assert list(out.iterdir()) == []


def test_a_symlink_inside_the_stream_is_read_as_its_file(tmp_path: Path) -> None:
    file = _evil(_member("logs", tarfile.DIRTYPE), _member("logs/real"),
                 _member("logs/alias", tarfile.SYMTYPE, "real"), data=b"content")
    out = tmp_path / "out"
    out.mkdir()
    _read_back(file, "logs", out, "logs.n1")
    assert (out / "logs.n1" / "alias").read_bytes() == b"content"
    assert not (out / "logs.n1" / "alias").is_symlink()


def test_a_device_in_the_stream_is_refused_as_flat_copies_refuse_one(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(CopyProblem) as caught:
        _read_back(_evil(_member("logs", tarfile.DIRTYPE), _member("logs/dev", tarfile.CHRTYPE)),
                   "logs", out, "logs.n1")
    assert caught.value.reason == \
        "copy from /remote/logs/dev failed: not a regular file or directory"


def _archives(*streams: io.BytesIO, between: bytes = b"") -> io.BytesIO:
    """Archives one after the other, as a node's rcopy sends them."""
    return io.BytesIO(between.join(stream.getvalue() for stream in streams))


def test_a_later_archive_adds_its_members_and_its_links_to_folders_are_refused(
        tmp_path: Path) -> None:
    file = _archives(_evil(_member("logs", tarfile.DIRTYPE), _member("logs/a.log")),
                     _evil(_member("logs/zdir", tarfile.SYMTYPE, ".")))
    source = TarSource(file, "/remote/logs/")
    try:
        listing = asyncio.run(source.listdir(b"/remote/logs/"))
    finally:
        source.close()
    assert sorted((name, meta.kind) for name, meta in listing) == [(b"a.log", "file"),
                                                                  (b"zdir", "link")]
    out = tmp_path / "out"
    out.mkdir()
    file.seek(0)
    with pytest.raises(CopyProblem) as caught:
        _read_back(file, "logs", out, "logs.n1")
    assert caught.value.reason == \
        "copy from /remote/logs/zdir failed: a symlink to a directory (not followed)"


def test_bytes_after_an_archive_that_are_no_archive_are_a_damaged_stream() -> None:
    file = _archives(_evil(_member("logs/a.log")), io.BytesIO(b"\x01" * 512))
    with pytest.raises(CopyProblem, match="a damaged tar stream"):
        TarSource(file, "/remote/logs")


def test_a_damaged_stream_is_a_copy_problem(tmp_path: Path) -> None:
    with spool() as file:
        file.write(b"not a tar stream at all" * 100)
        file.seek(0)
        with pytest.raises(CopyProblem, match="a damaged tar stream"):
            TarSource(file, "/remote/x")
