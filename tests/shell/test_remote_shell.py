"""The deployment shell served remotely (:func:`shoal.shell.main.serve`): over SSH to
asyncssh and OpenSSH clients (keys in authorized_keys only), over telnet behind the
one-time token, on a private Unix socket; several clients at once, one of them killed.

The server runs on an event loop of its own, in a thread, as ``shoal deploy --listen``
runs it; the clients run in the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import socket
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from support.processes import is_running, wait_gone
from support.shell_clients import TelnetClient, closed, keypair
from support.shell_pipe import plain
from support.shell_site import Site

from shoal.shell.attach import live_sessions
from shoal.shell.listen import Listen, parse_listen
from shoal.shell.main import serve
from shoal.shell.ssh_server import load_host_key

DEADLINE = 20.0


class Served:
    """:func:`serve` on ``listen`` in a thread; what it printed is in :attr:`out`."""

    def __init__(self, listen: Listen, **options: Any) -> None:
        self.out = io.StringIO()
        ready = threading.Event()

        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            listening = asyncio.Event()
            self.task = asyncio.ensure_future(serve(Site(), listen, out=self.out,
                                                    ready=listening, **options))
            waiter = asyncio.ensure_future(listening.wait())
            await asyncio.wait([waiter, self.task], return_when=asyncio.FIRST_COMPLETED)
            ready.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

        self._thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        self._thread.start()
        assert ready.wait(DEADLINE), "the server did not start"
        assert not self.task.done(), self.task.exception()

    @property
    def port(self) -> int:
        return int(re.findall(r"://127\.0\.0\.1:(\d+)", self.out.getvalue())[0])

    @property
    def token(self) -> str:
        return str(re.findall(r"telnet token: (\S+)", self.out.getvalue())[0])

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.task.cancel)
        self._thread.join(DEADLINE)


async def read_text(reader: Any, text: str, seen: list[str] | None = None) -> str:
    """What ``reader`` sends (escape codes left out) up to ``text``, within the deadline.

    :param seen: where to keep what was read, across calls.
    """
    kept = seen if seen is not None else []

    async def read() -> str:
        while text not in plain("".join(kept)):
            chunk = await reader.read(4096)
            if not chunk:
                raise AssertionError(f"closed before {text!r}; saw {plain(''.join(kept))!r}")
            kept.append(chunk.decode(errors="replace") if isinstance(chunk, bytes) else chunk)
        return plain("".join(kept))

    return await asyncio.wait_for(read(), DEADLINE)


# --- SSH -----------------------------------------------------------------------------

@pytest.fixture
def ssh_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
              ) -> Iterator[tuple[Served, Path, Path, Path]]:
    """The shell on SSH; yields it, the allowed key, a stranger's key and known_hosts."""
    _, allowed = keypair(tmp_path, "allowed")
    _, stranger = keypair(tmp_path, "stranger")
    authorized = tmp_path / "authorized_keys"
    authorized.write_bytes((tmp_path / "allowed.pub").read_bytes())
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the host key goes there
    served = Served(parse_listen("ssh://127.0.0.1:0"), authorized_keys=authorized)
    host_key = load_host_key(tmp_path / "state" / "shoal" / "shell_host_key")
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{served.port} {host_key.export_public_key().decode()}")
    try:
        yield served, allowed, stranger, known
    finally:
        served.stop()


def test_asyncssh_client_gets_a_session_with_its_terminal_size(
        ssh_shell: tuple[Served, Path, Path, Path]) -> None:
    served, allowed, stranger, known = ssh_shell

    async def scenario() -> str:
        options: dict[str, Any] = {"username": "ops", "known_hosts": str(known),
                                   "agent_path": None}
        with pytest.raises(asyncssh.PermissionDenied):
            await asyncssh.connect("127.0.0.1", served.port, client_keys=[str(stranger)],
                                   password=None, **options)
        async with asyncssh.connect("127.0.0.1", served.port, client_keys=[str(allowed)],
                                    **options) as conn:
            process = await conn.create_process(term_type="xterm", term_size=(100, 30))
            kept: list[str] = []
            await read_text(process.stdout, "Site > ", kept)
            process.stdin.write("size\r")
            await read_text(process.stdout, "30 rows, 100 columns", kept)
            process.stdin.write("hello 'from ssh'\r")
            seen = await read_text(process.stdout, "hello from ssh\n", kept)
            process.stdin.write("exit\r")
            done = await asyncio.wait_for(process.wait(), DEADLINE)
            assert done.exit_status == 0
            return seen

    assert "shoal 0.1.0 deployment shell on Site" in asyncio.run(scenario())


def test_openssh_client_runs_an_array_action(ssh_shell: tuple[Served, Path, Path, Path]) -> None:
    served, allowed, _, known = ssh_shell

    async def scenario() -> str:
        ssh = await asyncio.create_subprocess_exec(
            "ssh", "-tt", "-F", "/dev/null", "-p", str(served.port), "-i", str(allowed),
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes",
            "ops@127.0.0.1", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env={**os.environ, "TERM": "xterm"})
        assert ssh.stdin and ssh.stdout
        kept: list[str] = []
        await read_text(ssh.stdout, "Site > ", kept)
        ssh.stdin.write(b"Web slow 1\r")
        seen = await read_text(ssh.stdout, "Site.Web[local2]: slept", kept)
        ssh.stdin.write(b"exit\r")
        assert await asyncio.wait_for(ssh.wait(), DEADLINE) == 0
        return seen

    seen = asyncio.run(scenario())
    assert "local1: tick 1" in seen and "local2: tick 1" in seen


# --- telnet --------------------------------------------------------------------------

@pytest.fixture
def telnet_shell() -> Iterator[Served]:
    served = Served(parse_listen("telnet://127.0.0.1:0"))
    try:
        yield served
    finally:
        served.stop()


@contextlib.asynccontextmanager
async def telnet(port: int) -> AsyncIterator[TelnetClient]:
    client = TelnetClient(*await asyncio.open_connection("127.0.0.1", port))
    try:
        yield client
    finally:
        client.writer.close()
        with contextlib.suppress(ConnectionError):
            await client.writer.wait_closed()


async def logged_in(client: TelnetClient, token: str) -> list[str]:
    """Answer the token question; what was read until the prompt."""
    kept: list[str] = []
    await read_text(client, "telnet token:", kept)
    client.writer.write(token.encode() + b"\r")
    await read_text(client, "Site > ", kept)
    return kept


def test_telnet_no_token_a_wrong_token_and_the_right_one(telnet_shell: Served) -> None:
    token = telnet_shell.token
    assert len(token) >= 20

    async def scenario() -> tuple[str, str, str]:
        async with telnet(telnet_shell.port) as silent:
            asked = await read_text(silent, "telnet token:")
        async with telnet(telnet_shell.port) as wrong:
            await read_text(wrong, "telnet token:")
            wrong.writer.write(b"not-the-token\r")
            refused = plain((await closed(wrong)).decode(errors="replace"))
        async with telnet(telnet_shell.port) as right:
            kept = await logged_in(right, token)
            right.writer.write(b"hello telnet\r")
            greeted = await read_text(right, "hello telnet\n", kept)
        return asked, refused, greeted

    asked, refused, greeted = asyncio.run(scenario())
    assert "Site >" not in asked
    assert "wrong token" in refused and "Site >" not in refused
    assert "shoal 0.1.0 deployment shell on Site" in greeted


def test_two_clients_at_once_one_killed_mid_action(telnet_shell: Served) -> None:
    async def scenario() -> tuple[list[int], str]:
        async with telnet(telnet_shell.port) as first, telnet(telnet_shell.port) as second:
            doomed = await logged_in(first, telnet_shell.token)
            kept = await logged_in(second, telnet_shell.token)
            first.writer.write(b"Web slow 60\r")
            while len(pids := re.findall(r"local\d: pid (\d+)", plain("".join(doomed)))) < 2:
                chunk = await asyncio.wait_for(first.read(4096), DEADLINE)
                assert chunk, "closed before both hosts started"
                doomed.append(chunk.decode(errors="replace"))
            sock = first.writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            first.writer.transport.abort()  # a reset, as from a client that crashed
            second.writer.write(b"cd Web\r")
            await read_text(second, "Site.Web > ", kept)
            second.writer.write(b"slow 1\r")
            seen = await read_text(second, "Site.Web[local2]: slept", kept)
            return [int(p) for p in pids], seen

    pids, seen = asyncio.run(scenario())
    assert "Site.Web[local1]: slept" in seen  # the other session, its own place in the tree
    # The killed client's action was stopped with its session, on both hosts.
    assert all(wait_gone(pid) for pid in pids), [p for p in pids if is_running(p)]


# --- Unix socket ---------------------------------------------------------------------

def test_unix_socket_session_and_the_list_of_sessions(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    path = runtime / "shoal" / "deploy.sock"
    (runtime / "shoal").mkdir(mode=0o700)
    served = Served(parse_listen(f"unix:{path}"))

    async def scenario() -> str:
        assert await live_sessions() == [path]
        assert path.stat().st_mode & 0o777 == 0o600
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(json.dumps({"type": "hello", "term": "xterm", "rows": 30,
                                 "columns": 90}).encode() + b"\n")

        class Output:
            async def read(self, _: int) -> str:
                line = await reader.readline()
                if not line:
                    return ""
                message = json.loads(line)
                return str(message.get("data", "<exit>" if message["type"] == "exit" else ""))

        output, kept = Output(), list[str]()
        await read_text(output, "Site > ", kept)
        for line in ("size", "exit"):
            writer.write(json.dumps({"type": "input", "data": line + "\r"}).encode() + b"\n")
        seen = await read_text(output, "<exit>", kept)
        writer.close()
        return seen

    try:
        seen = asyncio.run(scenario())
    finally:
        served.stop()
    assert "30 rows, 90 columns" in seen
