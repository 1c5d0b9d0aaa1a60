"""The engine on the real loopback sshd: fan-out, reuse, failures, huge output, interrupts."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.processes import wait_gone

from shoal.engine import AsyncTask, Event, Exited, Failed, Output, Started, Task
from shoal.errors import UsageError
from shoal.hosts import ConnectOptions, LocalTransport
from shoal.hosts.ssh import SSHTransport
from shoal.nodeset import NodeSet
from shoal.testbed import Testbed


def ssh(config: Path, connect_timeout: float = 10.0) -> SSHTransport:
    return SSHTransport(ConnectOptions(ssh_config=(config,), connect_timeout=connect_timeout))


def config_with(bed: Testbed, tmp_path: Path, extra: str) -> Path:
    """The testbed's ssh config preceded by ``extra`` (first value wins in ssh_config)."""
    path = tmp_path / "ssh_config"
    path.write_text(extra + "\n" + bed.ssh_config.read_text()
                    .replace("Host node* gw*", "Host node* gw* dead* mute*"))
    return path


def test_500_aliases_one_gathered_group(testbed: Testbed) -> None:
    async def scenario() -> list[tuple[NodeSet, bytes]]:
        async with AsyncTask("node[1-500]", ssh(testbed.ssh_config), fanout=128) as task:
            result = await task.run("echo ok")
            assert result.ok and len(result) == 500
            return result.gather()

    assert [(str(ns), out) for ns, out in asyncio.run(scenario())] == [("node[1-500]", b"ok\n")]


def test_every_node_ends_with_a_status_while_the_rest_finish(
        testbed: Testbed, tmp_path: Path, closed_port: int, silent_port: int) -> None:
    config = config_with(testbed, tmp_path, f"Host dead*\n    Port {closed_port}\n"
                                            f"Host mute*\n    Port {silent_port}\n")

    async def scenario() -> AsyncTask:
        task = AsyncTask("node[1-5],dead[1-3],mute[1-2],down1",
                         ssh(config, connect_timeout=1.0), fanout=4, command_timeout=1.0)
        async with task:
            result = await task.run("case $SHOAL_ROLE in slow) sleep 60;; esac; echo ok")
            assert str(result.nodes("ok")) == "node[1-5]"
            assert str(result.nodes("unreachable")) == "dead[1-3],down1,mute[1-2]"
            assert result.max_rc == 255
            reasons = {reason: str(nodes) for reason, nodes in result.errors()}
            assert reasons["connection refused"] == "dead[1-3],down1"
            assert reasons["connect timed out after 1s"] == "mute[1-2]"
            assert {n for n, r in result.items() if r.error is None} == set(NodeSet("node[1-5]"))
        return task

    asyncio.run(scenario())


def test_commands_that_never_end_time_out_per_node(testbed: Testbed, tmp_path: Path,
                                                    shared_tmp_path: Path) -> None:
    config = config_with(testbed, tmp_path, "Host node2 node4\n    SetEnv SHOAL_ROLE=slow\n")
    pids = _pid_file(shared_tmp_path)

    async def scenario() -> None:
        async with AsyncTask("node[1-5]", ssh(config), command_timeout=1.0) as task:
            result = await task.run(f"case $SHOAL_ROLE in slow) sleep 60.5 & echo $! >> {pids}; "
                                    "wait;; esac; echo ok")
            assert str(result.nodes("timeout")) == "node[2,4]"
            assert str(result.nodes("ok")) == "node[1,3,5]"
            assert str(result["node2"].error) == "node2: command timed out after 1s"
            again = await task.run("echo again")  # timed-out nodes keep their connection
            assert again.ok

    asyncio.run(scenario())
    assert _gone(pids, count=2, deadline=20.0)  # the server killed the commands


def test_100_mb_from_one_node_while_others_finish(testbed: Testbed, tmp_path: Path) -> None:
    config = config_with(testbed, tmp_path, "Host node1\n    SetEnv SHOAL_ROLE=big\n")
    command = ("case $SHOAL_ROLE in big) head -c 100000000 /dev/zero | tr '\\0' x "
               "| fold -w 99;; *) echo small;; esac")
    seen = {"lines": 0, "events": 0}

    def count(event: Event) -> None:
        if isinstance(event, Output) and event.node == "node1":
            seen["events"] += 1
            seen["lines"] += event.data.count(b"\n")

    async def scenario() -> None:
        # no cap: all 100 MB kept (the default keeps 64 MiB, tests/engine/test_output.py)
        async with AsyncTask("node[1-10]", ssh(config), handlers=[count],
                             max_output=None) as task:
            result = await task.run(command)
            assert result.ok
            out = result["node1"].stdout  # fold leaves the last "x" without a newline
            assert (len(out), out[-3:]) == (100_000_000 + 100_000_000 // 99, b"x\nx")
            gathered = result.gather()
            assert [str(ns) for ns, _ in gathered] == ["node[2-10]", "node1"]
            assert gathered[0][1] == b"small\n"

    asyncio.run(scenario())
    assert seen["lines"] == 100_000_000 // 99 + 1
    assert seen["events"] < seen["lines"] // 10  # whole-line chunks, not one call per line


def test_invalid_utf8_is_kept_as_bytes(testbed: Testbed) -> None:
    with Task("node[1-3]", ssh(testbed.ssh_config)) as task:
        result = task.run(r"printf 'caf\351\n'")
    assert result["node2"].stdout == b"caf\xe9\n"
    assert result["node2"].text == "caf\ufffd\n"


def test_connections_are_reused_across_runs(testbed: Testbed) -> None:
    with Task("node[1-20]", ssh(testbed.ssh_config), fanout=8) as task:
        first = task.run("echo $SSH_CONNECTION")
        second = task.run("echo $SSH_CONNECTION")
    assert all(first[n].stdout == second[n].stdout for n in first)
    assert len({r.stdout for r in first.values()}) == 20  # 20 distinct connections


#: Runs a task in a process whose open-files limit (soft and hard) is argv[1]; prints JSON.
_LIMITED = """
import json, resource, sys
from pathlib import Path
from shoal.engine import Task
from shoal.hosts import ConnectOptions, LocalTransport
from shoal.hosts.ssh import SSHTransport
limit, kind, nodes, fanout, command, runs = sys.argv[1:7]
resource.setrlimit(resource.RLIMIT_NOFILE, (int(limit), int(limit)))
transport = (LocalTransport() if kind == "local" else
             SSHTransport(ConnectOptions(ssh_config=(Path(kind),), connect_timeout=60)))
with Task(nodes, transport, fanout=int(fanout)) as task:
    results = [task.run(command) for _ in range(int(runs))]
print(json.dumps([{n: [r.status, r.stdout.decode()] for n, r in res.items()}
                  for res in results]))
"""


def _limited(limit: int, kind: str, nodes: str, fanout: int, command: str,
             runs: int = 1) -> tuple[list[dict[str, list[str]]], str]:
    done = subprocess.run(
        [sys.executable, "-c", _LIMITED, str(limit), kind, nodes, str(fanout), command,
         str(runs)], capture_output=True, check=True, timeout=300)
    return json.loads(done.stdout), done.stderr.decode()


def test_a_low_hard_limit_shrinks_the_fanout_instead_of_failing_nodes() -> None:
    # 100 local shells started at once hold 300 pipes until their output is read: more
    # than 200 files allow. The task runs as many as fit, and every node succeeds.
    [result], err = _limited(200, "local", "n[1-100]", 100, "echo ok")
    assert {tuple(v) for v in result.values()} == {("ok", "ok\n")}
    assert len(result) == 100
    assert "open-files limit is 200 (hard limit), 364 wanted: at most 45 nodes" in err


def test_a_low_hard_limit_closes_connections_it_cannot_keep(testbed: Testbed) -> None:
    # 150 connections kept open need more than 120 files: those that do not fit close
    # after use, and the next run opens them again.
    first, second = _limited(120, str(testbed.ssh_config), "node[1-150]", 20,
                             "echo $SSH_CONNECTION", runs=2)[0]
    assert {v[0] for v in [*first.values(), *second.values()]} == {"ok"}
    assert len(first) == len(second) == 150
    kept = [n for n in first if first[n][1] == second[n][1]]
    assert 1 <= len(kept) <= (120 - 64) // 2 - 20


def test_a_dropped_connection_fails_that_node_and_reconnects_next_time(
        testbed: Testbed) -> None:
    with Task("node[1-3]", ssh(testbed.ssh_config)) as task:
        # the session's sshd process is the shell's parent: killing it drops the link
        dropped = task.run("kill -9 $PPID", nodes="node2")
        assert dropped["node2"].status == "unreachable"
        assert dropped["node2"].error is not None
        assert dropped["node2"].error.reason.startswith("connection lost")
        assert task.run("echo back").ok


def test_events_arrive_in_order_per_node(testbed: Testbed) -> None:
    async def scenario() -> list[Event]:
        async with AsyncTask("node[1-4]", ssh(testbed.ssh_config)) as task:
            return [e async for e in task.stream("echo a; echo b >&2; printf c")]

    events = asyncio.run(scenario())
    for node in NodeSet("node[1-4]"):
        mine = [e for e in events if e.node == node]
        assert mine[0] == Started(node)
        assert mine[-1] == Exited(node, 0)
        outputs = {(e.stream, e.data) for e in mine if isinstance(e, Output)}
        assert outputs == {("stdout", b"a\n"), ("stderr", b"b\n"), ("stdout", b"c\n")}


def test_stdin_goes_to_every_node(testbed: Testbed) -> None:
    with Task("node[1-5]", ssh(testbed.ssh_config)) as task:
        result = task.run("tr a-z A-Z", stdin=b"hello\n")
    assert [(str(ns), out) for ns, out in result.gather()] == [("node[1-5]", b"HELLO\n")]


def test_interrupt_stops_the_rest_and_keeps_what_finished() -> None:
    async def scenario() -> None:
        task = AsyncTask("n[1-4]", LocalTransport(), fanout=4)

        def on_event(event: Event) -> None:
            if isinstance(event, Exited) and event.node == "n1":
                task.interrupt()

        task.handlers.append(on_event)
        command = 'if [ "$SHOAL_NODE" = n1 ]; then echo done; else sleep 60; fi'
        result = await asyncio.wait_for(task.run(command), 30)
        assert result["n1"].rc == 0 and result["n1"].stdout == b"done\n"
        assert str(result.nodes("interrupted")) == "n[2-4]"
        assert {r.error.reason for r in result.values() if r.error} == {"interrupted"}

    asyncio.run(scenario())


def test_interrupt_over_ssh_kills_remote_commands(testbed: Testbed,
                                                  shared_tmp_path: Path) -> None:
    marker = shared_tmp_path / "alive"
    pids = _pid_file(shared_tmp_path)

    async def scenario() -> None:
        started: set[str] = set()
        task = AsyncTask("node[1-3]", ssh(testbed.ssh_config))

        def on_event(event: Event) -> None:
            if isinstance(event, Output):
                started.add(event.node)
                if len(started) == 3:
                    task.interrupt()

        task.handlers.append(on_event)
        async with task:
            result = await task.run(f"sleep 61.25 & echo $! >> {pids}; echo up; wait; "
                                    f"touch {marker}")
            assert str(result.nodes("interrupted")) == "node[1-3]"

    asyncio.run(scenario())
    # the remote sleeps die (the server runs the "loopback" nodes on this machine)
    assert _gone(pids, count=3, deadline=20.0)
    assert not marker.exists()


def _pid_file(directory: Path) -> Path:
    """A file the remote commands (the testbed's login user) append their pids to."""
    path = directory / "pids"
    path.touch()
    path.chmod(0o666)
    return path


def _gone(pids: Path, count: int, deadline: float) -> bool:
    """Whether the ``count`` processes listed in ``pids`` all exit within ``deadline`` s."""
    end = time.monotonic() + deadline
    found = [int(pid) for pid in pids.read_text().split()]
    assert len(found) == count, found
    return all(wait_gone(pid, max(0.0, end - time.monotonic())) for pid in found)


def test_copy_and_rcopy_name_files_after_nodes(testbed: Testbed, shared_tmp_path: Path,
                                               tmp_path: Path) -> None:
    source = tmp_path / "motd"
    source.write_text("hello\n")
    source.chmod(0o640)
    remote = shared_tmp_path / "dest"
    remote.mkdir()
    remote.chmod(0o777)
    back = tmp_path / "back"
    back.mkdir()
    with Task("node[1-3]", ssh(testbed.ssh_config)) as task:
        assert task.copy([source], str(remote), preserve=True).ok
        assert task.rcopy([f"{remote}/motd"], back).ok
    assert sorted(p.name for p in back.iterdir()) == ["motd.node1", "motd.node2", "motd.node3"]
    assert (back / "motd.node2").read_text() == "hello\n"
    assert (remote / "motd").stat().st_mode & 0o777 == 0o640


def test_failed_events_carry_the_error(testbed: Testbed, closed_port: int) -> None:
    events: list[Event] = []
    transport = SSHTransport(ConnectOptions(ssh_config=(testbed.ssh_config,),
                                            port=closed_port))
    with Task("node[1-2]", transport, handlers=[events.append]) as task:
        result = task.run("true")
    assert result.max_rc == 255
    assert sorted(str(e.error) for e in events if isinstance(e, Failed)) == [
        "node1: connection refused", "node2: connection refused"]


def test_a_handler_that_raises_stops_the_run() -> None:
    def explode(event: Event) -> None:
        if isinstance(event, Output):
            raise BrokenPipeError("reader gone")

    async def scenario() -> None:
        task = AsyncTask("n[1-3]", LocalTransport(), handlers=[explode])
        with pytest.raises(BrokenPipeError, match="reader gone"):
            await asyncio.wait_for(task.run("echo hi; sleep 60"), 30)
        assert (await task.run("true")).ok  # no output, no exception: the task goes on

    asyncio.run(scenario())


def test_fanout_must_be_positive() -> None:
    with pytest.raises(UsageError, match="fanout must be at least 1"):
        AsyncTask("n1", LocalTransport(), fanout=0)
