"""The Unix-socket shell: private folder, JSON lines, one session per client, --attach."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit import print_formatted_text
from prompt_toolkit.shortcuts import PromptSession

from shoal import _loop
from shoal.errors import UsageError
from shoal.shell.attach import attach, live_sessions
from shoal.shell.unix_server import private_socket_path, serve_unix


async def greet(_session: Any) -> None:
    name: str = await PromptSession().prompt_async("name? ")
    print_formatted_text(f"hello {name}")


@contextlib.asynccontextmanager
async def serving(path: Path) -> AsyncIterator[Path]:
    server = await serve_unix(greet, path)
    try:
        yield path
    finally:
        server.close()
        await server.wait_closed()


class Client:
    """A JSON-lines client, as ``--attach`` speaks it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.screen = reader, writer, ""

    @classmethod
    async def open(cls, path: Path) -> Client:
        client = cls(*await asyncio.open_unix_connection(path))
        client.send(type="hello", term="xterm", rows=24, columns=80)
        return client

    def send(self, **message: Any) -> None:
        self.writer.write(json.dumps(message).encode() + b"\n")

    async def until(self, text: str) -> str:
        async def read() -> str:
            while text not in self.screen:
                line = await self.reader.readline()
                if not line:
                    raise AssertionError(f"closed before {text!r}; saw {self.screen!r}")
                message = json.loads(line)
                if message["type"] == "output":
                    self.screen += message["data"]
                elif message["type"] == "exit":
                    self.screen += "<exit>"
            return self.screen

        return await asyncio.wait_for(read(), 10)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def test_a_client_gets_its_own_prompt_and_an_exit(tmp_path: Path) -> None:
    async def scenario() -> str:
        async with serving(tmp_path / "s.sock") as path:
            client = await Client.open(path)
            await client.until("name?")
            client.send(type="input", data="ada\r")
            seen = await client.until("<exit>")
            await client.close()
            return seen

    assert "hello ada" in _loop.run(scenario())


def test_socket_and_folder_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "sessions"
    path = private_socket_path(f"{folder}/deploy.sock")

    async def scenario() -> tuple[int, int]:
        async with serving(path):
            return path.stat().st_mode & 0o777, folder.stat().st_mode & 0o777

    assert _loop.run(scenario()) == (0o600, 0o700)


def test_a_folder_others_may_enter_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "open"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    with pytest.raises(UsageError, match=r"must be yours and private \(mode 0700\), is mode 0755"):
        private_socket_path(f"{folder}/deploy.sock")
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    with pytest.raises(UsageError, match="not a directory"):
        private_socket_path(f"{link}/deploy.sock")


def test_a_live_socket_is_not_taken_over_and_a_stale_one_is(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"

    async def scenario() -> str:
        async with serving(path):
            with pytest.raises(UsageError, match="another shell already serves it"):
                await serve_unix(greet, path)
        path.unlink(missing_ok=True)
        with socket.socket(socket.AF_UNIX) as dead:  # a socket file nobody listens on
            dead.bind(str(path))
        async with serving(path):
            client = await Client.open(path)
            seen = await client.until("name?")
            await client.close()
            return seen

    assert "name?" in _loop.run(scenario())


def test_one_client_killed_or_talking_garbage_leaves_the_other_alone(tmp_path: Path) -> None:
    async def scenario() -> str:
        async with serving(tmp_path / "s.sock") as path:
            first, second, third = [await Client.open(path) for _ in range(3)]
            for client in (first, second, third):
                await client.until("name?")
            first.writer.transport.abort()
            third.writer.write(b"this is not json\n")
            with contextlib.suppress(AssertionError):
                await third.until("<never>")  # the server hangs up on it
            second.send(type="input", data="grace\r")
            seen = await second.until("<exit>")
            await second.close()
            await third.close()
            return seen

    assert "hello grace" in _loop.run(scenario())


class Screen:
    """A binary stream that remembers what was written, for attach()."""

    def __init__(self) -> None:
        self.data = b""
        self.changed = asyncio.Event()

    def write(self, data: bytes) -> int:
        self.data += data
        self.changed.set()
        return len(data)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    async def until(self, text: bytes) -> None:
        async def wait() -> None:
            while text not in self.data:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), 10)


def test_attach_relays_keys_and_screen_and_lists_the_session(tmp_path: Path) -> None:
    folder = tmp_path / "sessions"
    path = private_socket_path(f"{folder}/one.sock")

    async def scenario() -> tuple[int, bytes, list[Path]]:
        async with serving(path):
            sessions = await live_sessions(folder)
            keys, typing = os.pipe()
            screen = Screen()
            try:
                attached = asyncio.ensure_future(attach(path, keys=keys, screen=screen))  # type: ignore[arg-type]
                await screen.until(b"name?")
                os.write(typing, b"linus\r")
                status = await asyncio.wait_for(attached, 10)
            finally:
                os.close(typing)
                os.close(keys)
            return status, screen.data, sessions

    status, seen, sessions = _loop.run(scenario())
    assert status == 0 and b"hello linus" in seen
    assert sessions == [path]


def test_attach_to_nothing_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^--attach unix:.*nothing.sock: "):
        _loop.run(attach(tmp_path / "nothing.sock"))
