"""Gateways that fail never hang a run nor stop it, and every node ends with a status.

A gateway that never takes its targets on (it refuses the login, has no Python, prints
garbage) hands them to a live sibling, or fails them with its reason; one that dies or
stalls once it did leaves them ``lost``: they may have run, and never run twice.
Processes are found by the pids they wrote, never by name, and gateways by the pid their
``STA`` says.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.gates import Gate, Signal
from support.treebed import (
    DEADLINE,
    ReplacedLauncher,
    TreeBed,
    kill,
    one_level,
    read_pids,
    routes,
    wait_gone,
)

from shoal.engine import Failed, Output, TaskResult
from shoal.errors import NodeLost
from shoal.tree.driver import TreeSettings
from shoal.tree.task import TreeTask

NODES = "node[1-10]"
#: gw1 and gw2 share the nodes: gw1 carries node[1-5], gw2 node[6-10]
SHARED = "gw1,gw2"


def _run(task: TreeTask, command: str) -> TaskResult:
    async def run() -> TaskResult:
        async with task:
            return await asyncio.wait_for(task.run(command), DEADLINE)

    return asyncio.run(run())


@pytest.mark.parametrize("broken, replacement, said", [
    pytest.param("gwdeny1", None, "Permission denied", id="refused-login"),
    pytest.param("gw1", "exec nosuchpython3 -c pass", "nosuchpython3: not found",
                 id="no-python"),
    pytest.param("gw1", "printf 'garbage <<<\\n\\0\\377'; cat >/dev/null", "not well-formed",
                 id="garbage"),
])
def test_a_gateway_that_never_comes_up_hands_its_targets_to_its_sibling(
        treebed: TreeBed, broken: str, replacement: str | None, said: str) -> None:
    lines: list[str] = []
    launcher = ReplacedLauncher(treebed.options, {broken: replacement} if replacement else {})
    task = treebed.tree(NODES, one_level(f"{broken},gw2"), launcher=launcher,
                        diagnostics=lines.append)
    result = _run(task, "echo ok")
    assert result.ok and {r.stdout for r in result.values()} == {b"ok\n"}
    if said != "not well-formed":  # garbage is not a line of the gateway's stderr
        assert any(line.startswith(f"{broken}: ") and said in line for line in lines), lines


@pytest.mark.parametrize("broken, replacement, said", [
    pytest.param("gwdeny1", None, "Permission denied (publickey)", id="refused-login"),
    pytest.param("gw1", "exec nosuchpython3 -c pass", "nosuchpython3: not found",
                 id="no-python"),
    pytest.param("gw1", "printf 'garbage <<<\\n'; cat >/dev/null", "not well-formed XML",
                 id="garbage"),
])
def test_a_gateway_alone_that_never_comes_up_fails_its_targets_with_its_reason(
        treebed: TreeBed, broken: str, replacement: str | None, said: str) -> None:
    launcher = ReplacedLauncher(treebed.options, {broken: replacement} if replacement else {})
    task = treebed.tree(NODES, one_level(broken), launcher=launcher, diagnostics=[].append)
    result = _run(task, "echo ok")
    assert str(result.nodes("unreachable")) == NODES
    reasons = {r.error.reason for r in result.values() if r.error is not None}
    assert len(reasons) == 1
    reason = reasons.pop()
    assert reason.startswith(f"gateway {broken}: ") and said in reason, reason


def _blocked(treebed: TreeBed, folder: Path, gate: Gate, started: Signal) -> str:
    """A command (run locally: it knows its node) that records its pid, says it started,
    waits at the gate, then records that it ran to its end."""
    return (f"echo $$ > {folder}/$SHOAL_NODE.pid; {started.command}; {gate.command}; "
            f"echo $SHOAL_NODE >> {folder}/ran; echo done")


@pytest.fixture
def blocked(treebed: TreeBed, shared_tmp_path: Path,
            ) -> Iterator[tuple[Path, Gate, Signal, str]]:
    folder = shared_tmp_path / "pids"
    folder.mkdir()
    folder.chmod(0o777)
    gate, started = Gate(shared_tmp_path), Signal(shared_tmp_path)
    yield folder, gate, started, _blocked(treebed, folder, gate, started)
    gate.open()
    started.close()


def _local(treebed: TreeBed, **changes: Any) -> TreeSettings:
    """Settings of a tree whose gateways run their targets here, as their children."""
    return treebed.settings(gateway_settings={"transport": "local"}, **changes)


@pytest.mark.parametrize("how", [pytest.param(signal.SIGKILL, id="kill-9"),
                                 pytest.param(signal.SIGSTOP, id="kill-STOP")])
def test_a_gateway_that_dies_or_stalls_mid_run_leaves_its_nodes_lost_never_run_twice(
        treebed: TreeBed, blocked: tuple[Path, Gate, Signal, str],
        how: signal.Signals) -> None:
    folder, gate, started, command = blocked
    failed: set[str] = set()
    gw1_done = asyncio.Event()

    def on(event: object) -> None:
        if isinstance(event, Failed):
            failed.add(event.node)
            if failed >= {f"node{i}" for i in range(1, 6)}:
                gw1_done.set()

    task = treebed.tree(NODES, one_level(SHARED), diagnostics=[].append, handlers=[on],
                        settings=_local(treebed, heartbeat=0.5, stall=6.0))

    async def scenario() -> tuple[TaskResult, TaskResult]:
        async with task:
            running = asyncio.ensure_future(task.run(command))
            assert await asyncio.to_thread(started.wait, 10, DEADLINE)
            gateway = _pids(task)["gw1"]
            kill(gateway, how)
            try:
                # gw1's nodes end lost while they still wait at the gate
                await asyncio.wait_for(gw1_done.wait(), DEADLINE)
            finally:
                kill(gateway, signal.SIGCONT)  # a stopped gateway now sees its root gone
            # a stopped gw1, continued, sees its root gone: it ends its targets and exits;
            # a killed one's watchdog ends them
            pids = read_pids(folder, "pid")
            mine = [pids[f"node{i}"] for i in range(1, 6)]
            assert await asyncio.to_thread(wait_gone, [gateway, *mine]) == []
            gate.open()
            first = await asyncio.wait_for(running, DEADLINE)
            again = await asyncio.wait_for(task.run("echo again"), DEADLINE)
            return first, again

    first, again = asyncio.run(asyncio.wait_for(scenario(), 3 * DEADLINE))
    assert str(first.nodes("lost")) == "node[1-5]"
    assert str(first.nodes("ok")) == "node[6-10]"
    error = first["node1"].error
    assert isinstance(error, NodeLost) and error.gateway == "gw1"
    if how == signal.SIGSTOP:
        assert error.reason == "lost with gateway gw1: no data from the peer for 6s"
    ran = (folder / "ran").read_text().split()
    assert sorted(ran) == sorted(f"node{i}" for i in range(6, 11))  # gw1's never ended
    assert again.ok  # gw1 started afresh


def test_targets_a_dead_gateway_never_got_go_to_its_sibling_and_none_runs_twice(
        treebed: TreeBed, blocked: tuple[Path, Gate, Signal, str]) -> None:
    # -f 2: each gateway runs one command at a time and is sent two; gw1's three others
    # (of node[1-5]) are still at the root when it dies
    folder, gate, started, command = blocked
    lost: set[str] = set()
    two_lost = asyncio.Event()

    def on(event: object) -> None:
        if isinstance(event, Failed):
            lost.add(event.node)
            if len(lost) == 2:
                two_lost.set()

    task = treebed.tree(NODES, one_level(SHARED), fanout=2, diagnostics=[].append,
                        handlers=[on], settings=_local(treebed))

    async def scenario() -> TaskResult:
        async with task:
            running = asyncio.ensure_future(task.run(command))
            assert await asyncio.to_thread(started.wait, 2, DEADLINE)  # node1 and node6
            kill(_pids(task)["gw1"], signal.SIGKILL)
            await asyncio.wait_for(two_lost.wait(), DEADLINE)
            # node1 ran on gw1: its watchdog ends it before the gate opens
            assert await asyncio.to_thread(wait_gone, [read_pids(folder, "pid")["node1"]]) == []
            gate.open()
            return await asyncio.wait_for(running, DEADLINE)

    result = asyncio.run(asyncio.wait_for(scenario(), 3 * DEADLINE))
    assert str(result.nodes("lost")) == "node[1-2]"  # sent to gw1: they may have run
    assert str(result.nodes("ok")) == "node[3-10]"
    ran = (folder / "ran").read_text().split()
    assert sorted(ran) == sorted(f"node{i}" for i in range(3, 11))  # each once


def test_a_short_stall_keeps_healthy_gateways_and_finds_a_stopped_one_in_time(
        treebed: TreeBed, blocked: tuple[Path, Gate, Signal, str]) -> None:
    # stall 2 s with the heartbeat left at 5 s: the links beat at a third of the stall
    _, gate, started, command = blocked
    failed: set[str] = set()
    any_failed, gw1_done = asyncio.Event(), asyncio.Event()

    def on(event: object) -> None:
        if isinstance(event, Failed):
            failed.add(event.node)
            any_failed.set()
            if failed >= {f"node{i}" for i in range(1, 6)}:
                gw1_done.set()

    task = treebed.tree(NODES, one_level(SHARED), diagnostics=[].append, handlers=[on],
                        settings=_local(treebed, heartbeat=5.0, stall=2.0))

    async def scenario() -> tuple[TaskResult, float]:
        loop = asyncio.get_running_loop()
        async with task:
            running = asyncio.ensure_future(task.run(command))
            assert await asyncio.to_thread(started.wait, 10, DEADLINE)
            with pytest.raises(asyncio.TimeoutError):  # three stall times, nothing lost
                await asyncio.wait_for(any_failed.wait(), 6.0)
            gateway = _pids(task)["gw1"]
            kill(gateway, signal.SIGSTOP)
            stopped = loop.time()
            try:
                await asyncio.wait_for(gw1_done.wait(), DEADLINE)
                found = loop.time() - stopped
            finally:
                kill(gateway, signal.SIGCONT)
            gate.open()
            return await asyncio.wait_for(running, DEADLINE), found

    result, found = asyncio.run(asyncio.wait_for(scenario(), 3 * DEADLINE))
    assert found <= 2.0 + 2.0  # the stall time, and some room on a loaded machine
    assert str(result.nodes("lost")) == "node[1-5]"
    assert str(result.nodes("ok")) == "node[6-10]"
    error = result["node1"].error
    assert error is not None
    assert error.reason == "lost with gateway gw1: no data from the peer for 2s"


def test_interrupt_sends_abort_down_the_tree_and_leaves_no_process_behind(
        treebed: TreeBed, shared_tmp_path: Path) -> None:
    # three levels, the targets behind ssh; `sleep 300` neither reads nor writes, so
    # ending the ssh clients alone would leave it running on the targets
    folder = shared_tmp_path / "pids"
    folder.mkdir()
    folder.chmod(0o777)
    started = Signal(shared_tmp_path)
    command = (f"sleep 300 & echo $$ $! >> {folder}/pids; {started.command}; wait; "
               f"echo $$ >> {folder}/ran")
    topology = routes("admin: gw[1-2]\ngw1: gw3\ngw3: node[1-5]\ngw2: node[6-10]\n")
    task = treebed.tree(NODES, topology)

    async def scenario() -> TaskResult:
        async with task:
            running = asyncio.ensure_future(task.run(command))
            assert await asyncio.to_thread(started.wait, 10, DEADLINE)
            task.interrupt()
            return await asyncio.wait_for(running, DEADLINE)

    try:
        result = asyncio.run(scenario())
    finally:
        started.close()
    assert str(result.nodes("interrupted")) == NODES
    pids = [int(pid) for pid in (folder / "pids").read_text().split()]
    assert len(pids) == 20 and wait_gone(pids) == []  # each shell and its sleep
    assert not (folder / "ran").exists()


@pytest.mark.parametrize("transport", ["local", "ssh"])
def test_a_gateway_whose_root_link_dies_ends_its_targets(
        treebed: TreeBed, shared_tmp_path: Path, transport: str) -> None:
    folder = shared_tmp_path / "pids"
    folder.mkdir()
    folder.chmod(0o777)
    started = Signal(shared_tmp_path)
    command = (f"sleep 300 & echo $$ $! >> {folder}/pids; {started.command}; wait; "
               f"echo $$ >> {folder}/ran")
    settings = _local(treebed) if transport == "local" else treebed.settings()
    task = treebed.tree(NODES, one_level("gw1"), settings=settings)

    async def scenario() -> tuple[TaskResult, int]:
        async with task:
            running = asyncio.ensure_future(task.run(command))
            assert await asyncio.to_thread(started.wait, 10, DEADLINE)
            gateway = _pids(task)["gw1"]
            (channel,) = task.gateways.channels()
            kill(channel.process.pid, signal.SIGKILL)  # the ssh we started to gw1
            return await asyncio.wait_for(running, DEADLINE), gateway

    try:
        result, gateway = asyncio.run(scenario())
    finally:
        started.close()
    assert str(result.nodes("lost")) == NODES
    pids = [int(pid) for pid in (folder / "pids").read_text().split()]
    assert len(pids) == 20 and wait_gone([gateway, *pids]) == []
    assert not (folder / "ran").exists()


def test_a_gateway_killed_9_leaves_no_remote_process_behind(
        treebed: TreeBed, shared_tmp_path: Path) -> None:
    # gw1 cannot end its ssh targets itself: its watchdog does, with the remote groups
    # they said. A target's "ready" on stderr comes after that word on the same stream:
    # once the root has it, gw1 has read the target's group.
    folder = shared_tmp_path / "pids"
    folder.mkdir()
    folder.chmod(0o777)
    command = (f"sleep 300 & echo $$ $! >> {folder}/pids; echo ready >&2; wait; "
               f"echo $$ >> {folder}/ran")
    ready: set[str] = set()
    all_ready = asyncio.Event()

    def on(event: object) -> None:
        if isinstance(event, Output) and event.data == b"ready\n":
            ready.add(event.node)
            if len(ready) == 5:
                all_ready.set()

    task = treebed.tree("node[1-5]", one_level("gw1"), diagnostics=[].append, handlers=[on])

    async def scenario() -> TaskResult:
        async with task:
            running = asyncio.ensure_future(task.run(command))
            await asyncio.wait_for(all_ready.wait(), DEADLINE)
            kill(_pids(task)["gw1"], signal.SIGKILL)
            return await asyncio.wait_for(running, DEADLINE)

    result = asyncio.run(scenario())
    assert str(result.nodes("lost")) == "node[1-5]"
    pids = [int(pid) for pid in (folder / "pids").read_text().split()]
    assert len(pids) == 10 and wait_gone(pids) == []
    assert not (folder / "ran").exists()


def _pids(task: TreeTask) -> dict[str, int]:
    """The pid of each first-level gateway, as its STA said it."""
    found = {channel.gateway: channel.pid for channel in task.gateways.channels()}
    assert None not in found.values(), found
    return {gateway: pid for gateway, pid in found.items() if pid is not None}


def test_a_target_the_gateway_cannot_reach_fails_with_the_words_of_a_flat_run(
        treebed: TreeBed) -> None:
    targets = "badnode1,gwdeny3,node1"  # a name nobody knows, a login sshd refuses

    async def both() -> tuple[TaskResult, TaskResult]:
        async with treebed.tree(targets, one_level("gw1")) as tree:
            through = await asyncio.wait_for(tree.run("echo ok"), DEADLINE)
        async with treebed.flat(targets) as flat:
            direct = await asyncio.wait_for(flat.run("echo ok"), DEADLINE)
        return through, direct

    through, direct = asyncio.run(both())
    assert str(through.nodes("unreachable")) == "badnode1,gwdeny3"
    for node in ("badnode1", "gwdeny3"):
        assert str(through[node].error) == str(direct[node].error), node
    assert str(direct["badnode1"].error) == "badnode1: name or service not known"
