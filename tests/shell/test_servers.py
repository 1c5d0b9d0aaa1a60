"""The shell servers: SSH with authorized keys only, telnet behind a one-time token.

A tiny prompt_toolkit application stands in for the deployment shell: it asks a name and
greets it, so each test sees the client's keystrokes reach a real prompt and come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from prompt_toolkit import print_formatted_text
from prompt_toolkit.shortcuts import PromptSession
from support.shell_clients import TelnetClient, closed, keypair, read_until

from shoal import _loop
from shoal.errors import ConfigError
from shoal.shell.listen import parse_listen
from shoal.shell.ssh_server import load_host_key, serve_ssh
from shoal.shell.telnet_server import TokenTelnetServer, new_token


async def greet(_session: Any) -> None:
    name: str = await PromptSession().prompt_async("name? ")
    print_formatted_text(f"hello {name}")


# --- SSH -------------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def ssh_server(tmp_path: Path) -> AsyncIterator[tuple[int, Path, Path]]:
    _, allowed = keypair(tmp_path, "allowed")
    keypair(tmp_path, "stranger")
    authorized = tmp_path / "authorized_keys"
    authorized.write_bytes((tmp_path / "allowed.pub").read_bytes())
    server = await serve_ssh(greet, parse_listen("ssh://127.0.0.1:0"), authorized,
                             host_key=tmp_path / "state" / "host_key")
    try:
        yield server.sockets[0].getsockname()[1], allowed, tmp_path / "stranger"
    finally:
        server.close()
        await server.wait_closed()


def test_ssh_serves_an_authorized_key_and_refuses_another(tmp_path: Path) -> None:
    async def scenario() -> str:
        async with ssh_server(tmp_path) as (port, allowed, stranger):
            host_key = load_host_key(tmp_path / "state" / "host_key")
            known = asyncssh.import_known_hosts(
                f"[127.0.0.1]:{port} {host_key.export_public_key().decode()}")
            with pytest.raises(asyncssh.PermissionDenied):
                await asyncssh.connect("127.0.0.1", port, username="anyone", known_hosts=known,
                                       client_keys=[str(stranger)], agent_path=None,
                                       password=None)
            async with asyncssh.connect("127.0.0.1", port, username="anyone",
                                        known_hosts=known, client_keys=[str(allowed)],
                                        agent_path=None) as conn:
                process = await conn.create_process(term_type="xterm", term_size=(80, 24))
                await read_until(process.stdout, "name?")
                process.stdin.write("ada\r")
                seen: str = await read_until(process.stdout, "hello ada")
                return seen

    assert "hello ada" in _loop.run(scenario())


def test_the_host_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "host_key"
    first = load_host_key(path)
    assert (path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    assert load_host_key(path).export_public_key() == first.export_public_key()


def test_an_unreadable_authorized_keys_file_is_one_line(tmp_path: Path) -> None:
    async def scenario() -> None:
        await serve_ssh(greet, parse_listen("ssh://127.0.0.1:0"), tmp_path / "missing",
                        host_key=tmp_path / "host_key")

    with pytest.raises(ConfigError, match=r"^--authorized-keys .*missing: "):
        _loop.run(scenario())


def test_openssh_client_with_a_terminal(tmp_path: Path) -> None:
    async def scenario() -> bytes:
        async with ssh_server(tmp_path) as (port, allowed, _):
            host_key = load_host_key(tmp_path / "state" / "host_key")
            known = tmp_path / "known_hosts"
            known.write_text(f"[127.0.0.1]:{port} {host_key.export_public_key().decode()}")
            ssh = await asyncio.create_subprocess_exec(
                "ssh", "-tt", "-F", "/dev/null", "-p", str(port), "-i", str(allowed),
                "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes",
                "anyone@127.0.0.1", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env={**os.environ, "TERM": "xterm"})
            assert ssh.stdin and ssh.stdout
            await read_until(ssh.stdout, b"name?")
            ssh.stdin.write(b"grace\r")
            seen: bytes = await read_until(ssh.stdout, b"hello grace")
            assert await asyncio.wait_for(ssh.wait(), 10) == 0
            return seen

    assert b"hello grace" in _loop.run(scenario())


# --- telnet ----------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def telnet_server(token: str) -> AsyncIterator[int]:
    server = TokenTelnetServer(greet, parse_listen("telnet://127.0.0.1:0"), token)
    task = asyncio.ensure_future(server.serve())
    await server.listening.wait()
    assert server.address
    try:
        yield server.address[1]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def telnet(port: int) -> AsyncIterator[TelnetClient]:
    client = TelnetClient(*await asyncio.open_connection("127.0.0.1", port))
    try:
        yield client
    finally:
        client.writer.close()
        with contextlib.suppress(ConnectionError):
            await client.writer.wait_closed()


def test_telnet_wants_the_token_before_the_prompt() -> None:
    token = new_token()

    async def scenario() -> tuple[bytes, bytes, bytes]:
        async with telnet_server(token) as port:
            async with telnet(port) as right:
                await read_until(right, b"telnet token:")
                right.writer.write(token.encode() + b"\r")
                await read_until(right, b"name?")
                right.writer.write(b"linus\r")
                greeted = await read_until(right, b"hello linus")
            async with telnet(port) as wrong:
                await read_until(wrong, b"telnet token:")
                wrong.writer.write(b"guess\r")
                refused = await closed(wrong)
            async with telnet(port) as silent:
                asked = await read_until(silent, b"telnet token:")
            return greeted, refused, asked

    greeted, refused, asked = _loop.run(scenario())
    assert b"hello linus" in greeted
    assert b"wrong token" in refused and b"name?" not in refused
    assert b"name?" not in asked


def test_telnet_token_is_typed_not_echoed() -> None:
    token = new_token()

    async def scenario() -> bytes:
        async with telnet_server(token) as port, telnet(port) as client:
            await read_until(client, b"telnet token:")
            client.writer.write(token.encode() + b"\r")
            seen: bytes = await read_until(client, b"name?")
            return seen

    assert token.encode() not in _loop.run(scenario())


def test_two_telnet_clients_one_killed_the_other_carries_on() -> None:
    token = new_token()

    async def scenario() -> bytes:
        async with telnet_server(token) as port, telnet(port) as first, telnet(port) as second:
            for client in (first, second):
                await read_until(client, b"telnet token:")
                client.writer.write(token.encode() + b"\r")
                await read_until(client, b"name?")
            sock = first.writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            first.writer.transport.abort()  # a reset, as from a client that crashed
            second.writer.write(b"still here\r")
            seen: bytes = await read_until(second, b"hello still here")
            return seen

    assert b"hello still here" in _loop.run(scenario())


@pytest.mark.parametrize(("text", "message"), [
    ("telnet://0.0.0.0:23", "0.0.0.0 is not a loopback address; add --bind-any"),
    ("ssh://web1:22", "host 'web1' is not an IP address"),
    ("unix:", "a unix socket needs a path"),
    ("http://127.0.0.1:80", "expected ssh://HOST:PORT, telnet://HOST:PORT or unix:PATH"),
    ("ssh://127.0.0.1:99999", "port '99999' is not a number from 0 to 65535"),
])
def test_bad_listen_addresses_are_one_line(text: str, message: str) -> None:
    from shoal.errors import UsageError
    with pytest.raises(UsageError, match=rf"^--listen '{text}': {message}"):
        parse_listen(text)


def test_bind_any_allows_the_network_address() -> None:
    assert not parse_listen("telnet://0.0.0.0:2323", bind_any=True).loopback
