"""Talking to a running command (``Connection.start``) and reading file attributes
(``stat``, ``listdir``), on the asyncssh transport against the testbed and on the local one."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from shoal.errors import UsageError
from shoal.hosts import (
    Connection,
    ConnectOptions,
    FileStat,
    LocalTransport,
    Terminal,
    Transport,
)
from shoal.hosts.openssh import OpenSSHTransport
from shoal.hosts.ssh import SSHTransport
from shoal.testbed import Testbed

T = TypeVar("T")


@pytest.fixture(params=["ssh", "local"])
def make(request: pytest.FixtureRequest, testbed: Testbed) -> Callable[[], Transport]:
    def build() -> Transport:
        if request.param == "local":
            return LocalTransport()
        return SSHTransport(ConnectOptions(ssh_config=(testbed.ssh_config,)))
    return build


def on(make: Callable[[], Transport], scenario: Callable[[Connection], Awaitable[T]]) -> T:
    async def run() -> T:
        transport = make()
        conn = await transport.connect("node1")
        try:
            return await asyncio.wait_for(scenario(conn), 30)
        finally:
            await conn.close()
            await transport.close()
    return asyncio.run(run())


def test_stdin_is_written_as_the_command_runs(make: Callable[[], Transport]) -> None:
    async def scenario(conn: Connection) -> tuple[int, bytes, bytes]:
        out, err = bytearray(), bytearray()
        asked = asyncio.Event()

        def stdout(data: bytes) -> None:
            out.extend(data)
            if b"name?" in out:
                asked.set()

        proc = await conn.start("echo name?; read n; echo hi $n; echo oops >&2; cat",
                                stdout=stdout, stderr=err.extend)
        await asked.wait()  # the answer is written only once the question was seen
        proc.write(b"web\n")
        proc.write(b"rest")
        proc.write_eof()
        return await proc.wait(), bytes(out), bytes(err)

    assert on(make, scenario) == (0, b"name?\nhi web\nrest", b"oops\n")


def test_a_terminal_has_its_type_and_size_and_follows_resizes(
        make: Callable[[], Transport]) -> None:
    async def scenario(conn: Connection) -> tuple[int, bytes]:
        out = bytearray()
        resized = asyncio.Event()

        def stdout(data: bytes) -> None:
            out.extend(data)
            if b"first" in out:
                resized.set()

        proc = await conn.start(
            'tty >/dev/null && echo "$TERM $(stty size) first" && read x && stty size && '
            "echo err >&2",
            stdout=stdout, stderr=lambda data: out.extend(b"STDERR:" + data),
            terminal=Terminal("vt220", columns=91, rows=17))
        await resized.wait()
        proc.resize(120, 40)
        proc.write(b"go\r")
        return await proc.wait(), bytes(out)

    status, shown = on(make, scenario)
    assert status == 0
    lines = shown.replace(b"\r\n", b"\n").splitlines()
    assert lines[0] == b"vt220 17 91 first"
    assert lines[-2:] == [b"40 120", b"err"]  # stderr comes on the terminal, merged


def test_stop_kills_a_command_that_would_run_on(make: Callable[[], Transport]) -> None:
    async def scenario(conn: Connection) -> int:
        out = bytearray()
        started = asyncio.Event()

        def stdout(data: bytes) -> None:
            out.extend(data)
            started.set()

        proc = await conn.start("echo up; exec sleep 600", stdout=stdout,
                                stderr=out.extend)
        await started.wait()
        proc.stop()
        return await proc.wait()

    assert on(make, scenario) != 0


def test_stat_and_listdir(make: Callable[[], Transport], shared_tmp_path: Path) -> None:
    folder = shared_tmp_path / "d"
    folder.mkdir()
    (folder / "file").write_bytes(b"12345")
    (folder / "link").symlink_to("file")
    (folder / "caf\xe9".encode("latin-1").decode("utf-8", "surrogateescape")).write_bytes(b"")

    async def scenario(conn: Connection) -> tuple[FileStat, FileStat, dict[str, FileStat]]:
        followed = await conn.stat(str(folder / "link"))
        link = await conn.stat(str(folder / "link"), follow_symlinks=False)
        entries = dict(await conn.listdir(str(folder)))
        return followed, link, entries

    followed, link, entries = on(make, scenario)
    mine = os.stat(folder / "file")
    assert (followed.st_size, followed.st_uid, stat.S_ISREG(followed.st_mode)) == (
        5, mine.st_uid, True)
    assert int(followed.st_mtime) == int(mine.st_mtime)
    assert stat.S_ISLNK(link.st_mode)
    assert set(entries) == {"file", "link", "caf\udce9"}
    assert stat.S_ISLNK(entries["link"].st_mode) and entries["file"].st_size == 5


def test_stat_of_a_missing_file_is_file_not_found(make: Callable[[], Transport]) -> None:
    async def scenario(conn: Connection) -> None:
        await conn.stat("/no/such/file")

    with pytest.raises(FileNotFoundError) as caught:
        on(make, scenario)
    assert caught.value.filename == "/no/such/file"


def test_a_closed_directory_is_permission_denied(testbed: Testbed,
                                                 shared_tmp_path: Path) -> None:
    closed = shared_tmp_path / "closed"
    closed.mkdir(mode=0o700)  # root's, and testbed logins are not root
    (closed / "inside").write_text("")

    async def scenario(conn: Connection) -> list[type[BaseException]]:
        errors: list[type[BaseException]] = []
        for step in (conn.listdir(str(closed)), conn.stat(str(closed / "inside"))):
            try:
                await step
            except OSError as exc:
                errors.append(type(exc))
        return errors

    assert on(lambda: SSHTransport(ConnectOptions(ssh_config=(testbed.ssh_config,))),
              scenario) == [PermissionError, PermissionError]


def test_transports_without_it_say_so(testbed: Testbed) -> None:
    async def scenario(conn: Connection) -> None:
        await conn.start("true", stdout=print, stderr=print)

    with pytest.raises(UsageError, match="cannot start interactive commands"):
        on(lambda: OpenSSHTransport(ConnectOptions(ssh_config=(testbed.ssh_config,))),
           scenario)
