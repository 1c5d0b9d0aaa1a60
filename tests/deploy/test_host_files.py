"""Files and questions on an SSHHost (a testbed alias) and on LocalHost: exists, stat,
listdir, paths, open (text and binary, read and write), put_file, get_file, the sandbox."""

from __future__ import annotations

import os
import pwd
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.deploy_hosts import node_class
from support.files import writable_folder

from shoal.deploy.exceptions import ExecCommandFailed
from shoal.deploy.host import Host, LocalHost, Stat
from shoal.deploy.loggers import FileCallback, FileEntry, Logger, LoggerInterface
from shoal.deploy.pseudo_terminal import DummyPty

MakeHost = Callable[..., Host]


class Files(Logger):
    def __init__(self) -> None:
        self.entries: list[FileEntry] = []

    def log_file_opened(self, file_entry: FileEntry) -> FileCallback:
        self.entries.append(file_entry)
        return FileCallback()


@pytest.fixture(params=["ssh", "local"])
def make_host(request: pytest.FixtureRequest) -> MakeHost:
    """Builds a host of a class of its own: a testbed node, or this machine."""
    def make(logger: LoggerInterface | None = None, **attributes: Any) -> Host:
        if request.param == "ssh":
            cls: type[Host] = node_class(request.getfixturevalue("testbed"), **attributes)
        else:
            cls = type("Here", (LocalHost,), {"slug": "here", **attributes})
        return cls(pty=DummyPty(), logger=logger)
    return make


@pytest.fixture
def folder(shared_tmp_path: Path) -> Path:
    """A directory every host may write in, with a file, a subdirectory and a symlink."""
    path = writable_folder(shared_tmp_path, "files")
    (path / "file.txt").write_text("line 1\nline 2\n")
    (path / "sub").mkdir()
    (path / "link").symlink_to("file.txt")
    return path


def test_exists_has_command_and_paths(make_host: MakeHost, folder: Path) -> None:
    host = make_host()
    assert host.exists(str(folder / "file.txt")) and host.exists(str(folder / "sub"))
    assert not host.exists(str(folder / "missing")) and not host.exists("/etc/passwd/x")
    assert host.has_command("sh") and not host.has_command("no-such-command-here")
    home = host.get_home_directory()
    assert home.startswith("/") and home == host.run("cd && pwd").strip()
    assert host.get_home_directory("root") == "/root"
    with host.host_context.cd(str(folder)):
        assert host.getcwd() == str(folder)
        assert host.exists("file.txt")
        assert host.expand_path("sub/../file.txt") == str(folder / "file.txt")
        assert host.expand_path("~/x") == f"{home}/x"
    with pytest.raises(ValueError, match="is not a user name"):
        host.get_home_directory("x; rm -rf /")


def test_stat_and_listdir(make_host: MakeHost, folder: Path) -> None:
    host = make_host()
    with host.host_context.cd(str(folder)):
        found = host.stat("file.txt")
        link = host.stat("link")
        names = host.listdir()
        entries = {s.filename: s for s in host.listdir_stat("")}
        with pytest.raises(FileNotFoundError):
            host.stat("missing")
    assert isinstance(found, Stat) and found.filename == "file.txt"
    assert (found.st_size, found.is_file, found.is_dir) == (14, True, False)
    assert found.st_uid == os.stat(folder / "file.txt").st_uid
    assert not link.is_file and stat.S_ISLNK(link.st_mode)  # lstat, as python-deployer's SFTP
    assert sorted(names) == ["file.txt", "link", "sub"]
    assert entries["sub"].is_dir and entries["file.txt"].st_size == 14


def test_ip_address_of_an_interface(make_host: MakeHost) -> None:
    host = make_host()
    assert host.get_ip_address("lo") == "127.0.0.1"
    with pytest.raises(ValueError, match="is not an interface name"):
        host.get_ip_address("lo; reboot")
    if not isinstance(host, LocalHost):  # LocalHost answers 127.0.0.1 for any, as before
        with pytest.raises(ExecCommandFailed):
            host.get_ip_address("nosuch0")


def test_open_reads_and_writes_text_and_bytes(make_host: MakeHost, folder: Path) -> None:
    interface, files = LoggerInterface(), Files()
    interface.attach(files)
    host = make_host(logger=interface)
    with host.host_context.cd(str(folder)):
        with host.open("file.txt", "r") as text:
            assert (text.readline(), list(text)) == ("line 1\n", ["line 2\n"])
        assert host.open("file.txt").read() == b"line 1\nline 2\n"  # 'rb' by default
        with host.open("new.txt", "w") as new:
            new.write("héllo\n")
            assert not (folder / "new.txt").exists()  # written whole, on close
        with host.open("data.bin", "wb") as data:
            data.write(bytes(range(256)))
        host.open("new.txt", "a").write("more\n")  # saved as the file object goes
        with pytest.raises(FileNotFoundError):
            host.open("missing", "r")
        with pytest.raises(IsADirectoryError):
            host.open("sub", "r")
        with pytest.raises(ValueError, match=re.escape("mode 'r+' is not supported")):
            host.open("file.txt", "r+")
    assert (folder / "new.txt").read_text() == "héllo\nmore\n"
    assert (folder / "data.bin").read_bytes() == bytes(range(256))
    assert stat.S_IMODE((folder / "data.bin").stat().st_mode) == 0o644  # 0666 less the umask
    assert [(e.mode, e.remote_path, e.succeeded) for e in files.entries][:3] == [
        ("r", str(folder / "file.txt"), True), ("rb", str(folder / "file.txt"), True),
        ("w", str(folder / "new.txt"), True)]


def test_a_rewritten_file_keeps_its_mode_and_is_replaced_whole(make_host: MakeHost,
                                                              folder: Path) -> None:
    target = folder / "script.sh"
    target.write_text("old\n")
    target.chmod(0o750)
    before = target.stat().st_ino
    host = make_host()
    with host.open(str(target), "w") as file:
        file.write("#!/bin/sh\necho new\n")
    assert target.read_text() == "#!/bin/sh\necho new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    assert target.stat().st_ino != before  # a new file renamed over the old one
    assert sorted(p.name for p in folder.iterdir()) == ["file.txt", "link", "script.sh", "sub"]


def test_put_and_get_files(make_host: MakeHost, folder: Path, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"\x00\xffpayload" * 1000)
    host = make_host()
    host.put_file(str(source), str(folder / "copy.bin"))
    assert (folder / "copy.bin").read_bytes() == source.read_bytes()
    host.get_file(str(folder / "file.txt"), str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "line 1\nline 2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.txt", "source.bin"]


def test_the_sandbox_writes_nothing_but_reads(make_host: MakeHost, folder: Path,
                                              tmp_path: Path) -> None:
    source = tmp_path / "source.txt"
    source.write_text("new content\n")
    host = make_host()
    with host.open(str(folder / "file.txt"), "w", sandbox=True) as file:
        file.write("overwritten")
    with host.open(str(folder / "made.txt"), "wb", sandbox=True) as file:
        file.write(b"x")
    host.put_file(str(source), str(folder / "put.txt"), sandbox=True)
    host.get_file(str(folder / "file.txt"), str(tmp_path / "got.txt"), sandbox=True)
    assert host.open(str(folder / "file.txt"), "r", sandbox=True).read() == "line 1\nline 2\n"
    assert sorted(p.name for p in folder.iterdir()) == ["file.txt", "link", "sub"]
    assert (folder / "file.txt").read_text() == "line 1\nline 2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.txt"]
    assert isinstance(host.pty, DummyPty)
    assert f"[sandbox] {host.slug}: would write 11 bytes to {folder}/file.txt" in (
        host.pty.get_output())


def test_writing_where_the_login_user_may_not_is_an_os_error(
        request: pytest.FixtureRequest, shared_tmp_path: Path) -> None:
    host = node_class(request.getfixturevalue("testbed"))()
    assert pwd.getpwuid(shared_tmp_path.stat().st_uid).pw_name == "root"
    with pytest.raises(OSError, match="permission denied"), \
            host.open(str(shared_tmp_path / "x"), "w") as file:
        file.write("no")
    assert list(shared_tmp_path.iterdir()) == []


def test_with_sudo_files_are_read_and_replaced_as_root(shared_tmp_path: Path) -> None:
    # LocalHost as root: sudo asks nothing, so the whole sudo path of open() runs.
    folder = shared_tmp_path
    kept = folder / "kept"
    kept.write_text("old")
    kept.chmod(0o600)
    os.chown(kept, 65534, 65534)
    host = LocalHost()
    with host.open(str(kept), "r", use_sudo=True) as file:
        assert file.read() == "old"
    with host.open(str(kept), "w", use_sudo=True) as file:
        file.write("new")
    with host.open(str(folder / "made"), "wb", use_sudo=True) as file:
        file.write(b"\x00\xff")
    host.put_file(str(kept), str(folder / "put"), use_sudo=True)
    host.get_file(str(folder / "made"), str(folder / "got"), use_sudo=True)
    found = kept.stat()
    assert (kept.read_text(), stat.S_IMODE(found.st_mode), found.st_uid) == ("new", 0o600, 65534)
    assert (folder / "made").read_bytes() == (folder / "got").read_bytes() == b"\x00\xff"
    assert stat.S_IMODE((folder / "made").stat().st_mode) == 0o644
    assert (folder / "put").read_text() == "new"
    assert sorted(p.name for p in folder.iterdir()) == ["got", "kept", "made", "put"]


def test_exists_where_the_login_user_may_not_look(request: pytest.FixtureRequest,
                                                  shared_tmp_path: Path) -> None:
    closed = shared_tmp_path / "closed"
    closed.mkdir(mode=0o700)
    (closed / "file").write_text("")
    host = node_class(request.getfixturevalue("testbed"))()
    assert not host.exists(str(closed / "file"), use_sudo=False)
    assert not host.exists(str(closed / "file"), sandbox=True)  # the sandbox runs no sudo
    # with sudo, but no password to give it: sudo cannot answer either
    assert not host.exists(str(closed / "file"))
