"""Copies fanned out by the engine: how a refused copy, a bad name or an interrupt ends a node."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shoal.engine import AsyncTask, Event, Output, Started, Task
from shoal.errors import NodeNameError
from shoal.hosts import ConnectOptions, LocalTransport
from shoal.hosts.ssh import SSHTransport
from shoal.testbed import Testbed


def ssh(bed: Testbed) -> SSHTransport:
    return SSHTransport(ConnectOptions(ssh_config=(bed.ssh_config,)))


def test_a_refused_copy_ends_its_node_with_rc_1_and_the_reason(testbed: Testbed,
                                                               tmp_path: Path) -> None:
    source = tmp_path / "app.conf"
    source.write_text("x")
    with Task("node[1-2]", ssh(testbed)) as task:
        result = task.copy([source], "/nonexistent/dir")
        assert [(r.rc, r.error, r.stderr) for r in result.values()] == [
            (1, None, b"copy to /nonexistent/dir failed: no such file or directory\n")] * 2
        assert (result.max_rc, str(result.failed)) == (1, "node[1-2]")
        assert task.run("true").ok  # the node stays reachable: its link is kept


def test_several_sources_to_a_missing_folder_is_an_error_not_a_rename(
        testbed: Testbed, shared_tmp_path: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).write_text(name)
    area = shared_tmp_path / "area"
    area.mkdir(mode=0o777)
    area.chmod(0o777)
    missing = area / "missing"
    with Task("node1", ssh(testbed)) as task:
        several = task.copy([tmp_path / "a", tmp_path / "b"], str(missing))
        slash = task.copy([tmp_path / "a"], f"{missing}/")
    for result in (several, slash):
        assert (result["node1"].rc, result["node1"].stderr) == (
            1, f"copy to {missing}{'/' if result is slash else ''} failed: "
               "no such directory\n".encode())
    assert list(area.iterdir()) == []


def test_rcopy_never_writes_outside_dest_whatever_the_node_is_called(tmp_path: Path) -> None:
    # The node name is refused where it enters; rcopy's own check of the copy's name
    # ("hosts.NODE" must be a plain file name) stays behind it, tested in tests/hosts.
    source = tmp_path / "hosts"
    source.write_text("x")
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(NodeNameError, match=r'node name "\.\./evil": must not hold "/"'):
        AsyncTask(["../evil", "good"], LocalTransport())

    async def scenario() -> dict[str, int | None]:
        async with AsyncTask(["good"], LocalTransport()) as task:
            result = await task.rcopy([str(source)], dest)
        return {node: r.rc for node, r in result.items()}

    assert asyncio.run(scenario()) == {"good": 0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest", "hosts"]
    assert [p.name for p in dest.iterdir()] == ["hosts.good"]


def test_a_node_interrupted_in_a_copy_says_which(testbed: Testbed, tmp_path: Path) -> None:
    source = tmp_path / "app.conf"
    source.write_text("x")
    lines: list[bytes] = []

    async def scenario() -> str:
        task = AsyncTask("node1", ssh(testbed))

        def watch(event: Event) -> None:
            if isinstance(event, Started):  # the copy starts now: stop it at its first step
                asyncio.get_running_loop().call_soon(task.interrupt)
            elif isinstance(event, Output):
                lines.append(event.data)

        task.handlers.append(watch)
        async with task:
            result = await task.copy([source], "/tmp")
        return result["node1"].status

    assert asyncio.run(scenario()) == "interrupted"
    assert lines == [b"interrupted during copy to /tmp\n"]
