"""TreeTask on the real sshd: the same results and events as a flat task, through gateways.

Every node here is reached by ``ssh`` from a gateway process that runs as the testbed's
login user; the flat task reaches the same nodes through the same ssh config.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.gates import Gate, Signal
from support.treebed import (
    MIXED,
    TreeBed,
    one_level,
    routes,
    same_results,
)

from shoal import testbed as tb
from shoal.cli.display import Display
from shoal.cli.render import Layout, Renderer
from shoal.engine import (
    AsyncTask,
    Event,
    Exited,
    Failed,
    Gatherer,
    GroupExited,
    GroupOutput,
    Output,
    Splitter,
    Started,
    TaskResult,
)
from shoal.errors import AuthError
from shoal.hosts import ConnectOptions
from shoal.hosts.ssh import SSHTransport
from shoal.nodeset import NodeSet
from shoal.testbed.clients import Route, client_files
from shoal.tree.driver import GatewayPool, SSHGatewayLauncher
from shoal.tree.task import Task, TreeTask


@pytest.mark.parametrize("live", [pytest.param(True, id="stream"),
                                  pytest.param(False, id="gather")])
def test_root_two_gateways_200_nodes_end_as_a_flat_run_does(treebed: TreeBed,
                                                            live: bool) -> None:
    async def both() -> None:
        async with treebed.tree("node[1-200]", one_level(), live=live) as tree:
            got = await tree.run(MIXED)
            assert sorted(c.gateway for c in tree.gateways.channels()) == ["gw1", "gw2"]
        async with treebed.flat("node[1-200]") as flat:
            want = await flat.run(MIXED)
        same_results(got, want)
        assert want["node9"].stdout.endswith(b"\xff\xfe no newline")
        assert (got["node2"].rc, got["node1"].rc) == (3, 0)

    asyncio.run(both())


def test_live_events_are_each_nodes_own_as_in_a_flat_run(treebed: TreeBed) -> None:
    async def events(task: AsyncTask) -> dict[str, list[Event]]:
        seen: dict[str, list[Event]] = {}

        def keep(event: Event) -> None:
            assert not isinstance(event, (GroupOutput, GroupExited))  # node by node here
            seen.setdefault(event.node, []).append(event)

        task.handlers.append(keep)
        async with task:
            await task.run(MIXED)
        return seen

    got = asyncio.run(events(treebed.tree("node[1-10]", one_level())))
    want = asyncio.run(events(treebed.flat("node[1-10]")))
    for node in want:
        kinds = [type(e) for e in got[node]]
        assert kinds[0] is Started and kinds[-1] in (Exited, Failed)
        for stream in ("stdout", "stderr"):
            assert b"".join(e.data for e in got[node] if isinstance(e, Output)
                            and e.stream == stream) == \
                b"".join(e.data for e in want[node] if isinstance(e, Output)
                         and e.stream == stream), (node, stream)
        assert got[node][-1] == want[node][-1]


def test_three_levels_and_nodes_outside_the_tree(treebed: TreeBed) -> None:
    topology = routes("admin: gw[1-2]\ngw1: gw3\ngw3: node[1-20]\ngw2: node[21-40]\n")
    command = "echo $SHOAL_ROLE; cat"

    async def both() -> None:
        # node41-45 are in no route: the root reaches them itself
        async with treebed.tree("node[1-45]", topology) as tree:
            got = await tree.run(command, stdin=b"through\n")
        async with treebed.flat("node[1-45]") as flat:
            want = await flat.run(command, stdin=b"through\n")
        same_results(got, want)
        assert got.ok and got["node3"].stdout == b"\nthrough\n"

    asyncio.run(both())


def test_channels_stay_open_from_one_action_to_the_next(treebed: TreeBed) -> None:
    with Task("node[1-20]", topology=one_level(), settings=treebed.settings(),
              launcher=treebed.launcher()) as task:
        first = task.run("echo one")
        tree = task.task
        assert isinstance(tree, TreeTask)
        channels = {c.gateway: (c, c.process.pid) for c in tree.gateways.channels()}
        second = task.run("echo two")
        assert {c.gateway: (c, c.process.pid) for c in tree.gateways.channels()} == channels
        assert [r.stdout for r in first.values()] == [b"one\n"] * 20
        assert [r.stdout for r in second.values()] == [b"two\n"] * 20
        assert len(channels) == 2


def test_two_jobs_on_one_channel_keep_their_own_stdin(treebed: TreeBed,
                                                      shared_tmp_path: Path) -> None:
    gate = Gate(shared_tmp_path)
    started = Signal(shared_tmp_path)
    command = f"{started.command}; {gate.command}; cat"

    async def concurrently() -> None:
        first = treebed.tree("node[1-10]", one_level("gw1"))
        pool: GatewayPool = first.gateways
        second = treebed.tree("node[1-10]", one_level("gw1"), gateways=pool)
        runs = [asyncio.ensure_future(first.run(command, stdin=b"first\n" * 1000)),
                asyncio.ensure_future(second.run(command, stdin=b"second\n" * 1000))]
        assert await asyncio.to_thread(started.wait, 20)  # both jobs at work at once
        assert len(pool.channels()) == 1
        gate.open()
        a, b = await asyncio.gather(*runs)
        await second.close()
        await first.close()
        assert {r.stdout for r in a.values()} == {b"first\n" * 1000}
        assert {r.stdout for r in b.values()} == {b"second\n" * 1000}

    try:
        asyncio.run(concurrently())
    finally:
        gate.open()
        started.close()


def test_fanout_is_global_across_the_gateways_and_the_direct_nodes(
        treebed: TreeBed, shared_tmp_path: Path) -> None:
    count, log, lock = (shared_tmp_path / name for name in ("count", "log", "lock"))
    count.write_text("0\n")
    for path in (count, log):
        path.touch()
        path.chmod(0o666)
    lock.touch()
    lock.chmod(0o666)
    step = (f"flock {lock} sh -c 'n=$(($(cat {count}) {{}} 1)); echo $n > {count}; "
            f"echo $n >> {log}'")
    command = f"{step.format('+')}; sleep 0.2; {step.format('-')}"

    async def run() -> None:
        # node[1-8] through gw1 and gw2, node[9-12] direct (outside the tree)
        async with treebed.tree("node[1-12]", routes("admin: gw[1-2]\ngw[1-2]: node[1-8]\n"),
                                fanout=3) as tree:
            assert (await tree.run(command)).ok

    asyncio.run(run())
    peaks = [int(line) for line in log.read_text().split()]
    assert len(peaks) == 24 and max(peaks) <= 3


@pytest.mark.parametrize("live", [True, False])
def test_a_timeout_ends_nodes_as_in_a_flat_run_without_waiting_for_them(
        treebed: TreeBed, live: bool) -> None:
    command = "case $SHOAL_ROLE in odd) sleep 600;; esac; echo done"

    async def both() -> None:
        async with treebed.tree("node[1-6]", one_level(), live=live) as tree:
            got = await tree.run(command, timeout=1.5)
        async with treebed.flat("node[1-6]") as flat:
            want = await flat.run(command, timeout=1.5)
        assert str(got.nodes("timeout")) == str(want.nodes("timeout")) == "node[2,4]"
        assert got["node2"].error is not None and want["node2"].error is not None
        assert got["node2"].error.reason == want["node2"].error.reason
        assert [got[n].stdout for n in ("node1", "node3")] == [b"done\n"] * 2

    asyncio.run(asyncio.wait_for(both(), 120))


def test_stdin_of_a_megabyte_reaches_every_node_whole(treebed: TreeBed) -> None:
    data = bytes(range(256)) * 4096

    async def run() -> None:
        async with treebed.tree("node[1-30]", one_level()) as tree:
            got = await tree.run("md5sum", stdin=data)
        digest = hashlib.md5(data).hexdigest().encode()
        assert {r.stdout.split()[0] for r in got.values()} == {digest}

    asyncio.run(run())


def test_output_kept_until_the_end_only_or_not_at_all(treebed: TreeBed) -> None:
    async def run(keep: bool | str) -> tuple[list[bytes], list[bytes]]:
        ended: list[bytes] = []

        def on(event: object) -> None:
            if isinstance(event, Exited) and event.result is not None:
                ended.append(event.result.stdout)

        async with treebed.tree("node[1-4]", one_level(), keep_output=keep,
                                handlers=[on], live=False) as tree:
            result = await tree.run("echo kept")
        return ended, [r.stdout for r in result.values()]

    assert asyncio.run(run("until_end")) == ([b"kept\n"] * 4, [b""] * 4)
    assert asyncio.run(run(False)) == ([b""] * 4, [b""] * 4)


def test_stream_yields_the_events_as_they_come(treebed: TreeBed) -> None:
    async def run() -> list[object]:
        async with treebed.tree("node[1-3]", one_level()) as tree:
            return [event async for event in tree.stream("echo hi")]

    events = asyncio.run(run())
    assert sorted(e.node for e in events if isinstance(e, Exited)) == ["node1", "node2",
                                                                       "node3"]
    assert {e.data for e in events if isinstance(e, Output)} == {b"hi\n"}


def test_targets_that_accept_logins_from_their_gateways_only_are_reached_through_them(
        treebed: TreeBed, shared_tmp_path: Path) -> None:
    # A second sshd lets the login user in from 127.0.0.2 only: the gateway's ssh binds
    # that address, the root's does not.
    with tb.running(nodes=5, gateways=0, allow_from=("127.0.0.2",)) as partition:
        root = client_files(shared_tmp_path / "root", [Route("part*", partition),
                                                       Route("gw*", treebed.bed)])
        gateway = client_files(shared_tmp_path / "gw", [Route("part*", partition, "127.0.0.2"),
                                                        Route("gw*", treebed.bed)])
        options = ConnectOptions(ssh_config=root.ssh_config)
        topology = routes("admin: gw1\ngw1: part[1-5]\n")

        async def both() -> tuple[TaskResult, TaskResult]:
            async with AsyncTask("part[1-5]", SSHTransport(options)) as flat:
                direct = await flat.run("echo hello")
            settings = treebed.settings(ConnectOptions(ssh_config=gateway.ssh_config))
            async with TreeTask("part[1-5]", SSHTransport(options), topology=topology,
                                settings=settings, launcher=SSHGatewayLauncher(options)) as tree:
                through = await tree.run("echo hello; echo ${SSH_CLIENT%% *}")
            return direct, through

        direct, through = asyncio.run(both())
    assert str(direct.nodes("unreachable")) == "part[1-5]"
    assert all(isinstance(r.error, AuthError) for r in direct.values()), direct["part1"].error
    assert through.ok
    assert {r.stdout for r in through.values()} == {b"hello\n127.0.0.2\n"}


def test_gathered_output_stays_grouped_at_the_root(treebed: TreeBed,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # -b through the tree: each OUT the gateways send is one event and one gathering
    # step here, whatever its node count; no node's output is split or stored on its own.
    nodes, output = 200, b"the same line, on every node\n" * 200
    counts = {"add": 0, "add_group": 0, "split": 0}

    def counted(name: str, original: Callable[..., Any], size: bool = False) -> Any:
        def wrapper(self: object, *args: Any) -> Any:
            counts[name] += len(args[-1]) if size else 1
            return original(self, *args)
        return wrapper

    monkeypatch.setattr(Gatherer, "add", counted("add", Gatherer.add))
    monkeypatch.setattr(Gatherer, "add_group", counted("add_group", Gatherer.add_group))
    monkeypatch.setattr(Splitter, "feed", counted("split", Splitter.feed, size=True))
    out = io.BytesIO()
    renderer = Renderer(Display(out, io.BytesIO()), Layout(gather=True),
                        NodeSet(f"node[1-{nodes}]"))
    events: list[Event] = []

    async def run() -> TaskResult:
        async with treebed.tree(f"node[1-{nodes}]", one_level(), live=False,
                                handlers=[renderer.handle, events.append],
                                settings=treebed.settings(gather_delay=1.0)) as tree:
            return await tree.run(f"printf '{output.decode()}'")

    result = asyncio.run(run())
    renderer.finish(result)
    assert out.getvalue() == (f"---------------\nnode[1-{nodes}] ({nodes})\n"
                              "---------------\n").encode() + output
    grouped = [e for e in events if isinstance(e, GroupOutput)]
    assert not any(isinstance(e, Output) for e in events)
    assert 2 <= len(grouped) <= nodes // 10  # a message per gateway and window
    assert counts["add"] == 0 and counts["add_group"] == len(grouped)
    assert counts["split"] <= len(grouped) * len(output)  # each distinct output once
    assert {r.stdout for r in result.values()} == {output}
    assert len({id(r.stdout) for r in result.values()}) <= len(grouped)  # shared, not copied
    assert sum(1 for e in events if isinstance(e, GroupExited)) <= len(grouped)
    assert all(e.grouped for e in events if isinstance(e, Exited))
