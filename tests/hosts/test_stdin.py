"""Stdin a command leaves unread: never a failure, on every transport, however it races.

``echo y | shoal run …`` and ``shoal run`` inside ``while read …; done < file`` send data
that the command may never read; the command often ends before its stdin has been
written. Many nodes, several rounds and a stdin larger than the SSH window make the race
with the end of the command happen on nearly every node.
"""

from __future__ import annotations

import asyncio

import pytest

from shoal.engine import AsyncTask
from shoal.hosts import ConnectOptions, LocalTransport, Transport
from shoal.hosts.openssh import OpenSSHTransport
from shoal.hosts.ssh import SSHTransport
from shoal.testbed import Testbed

#: the race is the SSH transport's; the others have fewer nodes (a process each)
NODES = {"ssh": "node[1-40]", "openssh": "node[1-12]", "local": "n[1-12]"}
ROUNDS = 3
#: larger than OpenSSH's 2 MiB channel window: some of it is still unsent at the end
BIG = bytes(range(256)) * (3 * 4096)
KINDS = list(NODES)


def _transport(kind: str, bed: Testbed) -> Transport:
    options = ConnectOptions(ssh_config=(bed.ssh_config,))
    if kind == "ssh":
        return SSHTransport(options)
    return OpenSSHTransport(options) if kind == "openssh" else LocalTransport()


def _rounds(kind: str, bed: Testbed, command: str, stdin: bytes) -> list[dict[str, object]]:
    """Run ``command`` ROUNDS times; per round, the nodes that did not end rc 0 with output."""

    async def scenario() -> list[dict[str, object]]:
        faults: list[dict[str, object]] = []
        async with AsyncTask(NODES[kind], _transport(kind, bed)) as task:
            for _ in range(ROUNDS):
                result = await task.run(command, stdin=stdin)
                faults.append({node: (r.rc, r.error.reason if r.error else None, r.stdout)
                               for node, r in result.items()
                               if (r.rc, r.error, r.stdout) != (0, None, b"ignored\n")})
        return faults

    return asyncio.run(scenario())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stdin", [pytest.param(b"y\n", id="two-bytes"),
                                   pytest.param(BIG, id="beyond-the-window")])
def test_unread_stdin_is_not_a_failure(kind: str, stdin: bytes, testbed: Testbed) -> None:
    assert _rounds(kind, testbed, "echo ignored", stdin) == [{}] * ROUNDS


@pytest.mark.parametrize("kind", KINDS)
def test_stdin_a_command_closes_early_is_not_a_failure(kind: str, testbed: Testbed) -> None:
    assert _rounds(kind, testbed, "exec 0<&-; echo ignored", BIG) == [{}] * ROUNDS


@pytest.mark.parametrize("kind", KINDS)
def test_big_stdin_still_arrives_whole(kind: str, testbed: Testbed) -> None:
    async def scenario() -> set[bytes]:
        async with AsyncTask("node[1-4]", _transport(kind, testbed)) as task:
            result = await task.run("cksum", stdin=BIG)
            assert result.ok, result.errors()
            return {r.stdout for r in result.values()}

    assert asyncio.run(scenario()) == {asyncio.run(_local_cksum())}


async def _local_cksum() -> bytes:
    proc = await asyncio.create_subprocess_exec(
        "cksum", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate(BIG)
    return out
