"""Copies through the tree: one tar stream per link, the same files as a flat copy.

Every node of the testbed is this machine, so copies to nodes go one node per run (two
copies into one folder at once would race); rcopies go to many at once, each into its own
``NAME.NODE``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from support.files import writable_folder
from support.treebed import TreeBed, one_level, routes

from shoal.engine import TaskResult


def _tree(path: Path) -> dict[str, tuple[bytes | None, int, int]]:
    """What is under ``path``: content (None for a folder), mode and mtime, by name."""
    found = {}
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            full = Path(root, name)
            st = full.stat()
            found[str(full.relative_to(path))] = (
                None if full.is_dir() else full.read_bytes(), st.st_mode & 0o777,
                int(st.st_mtime))
    return found


def _sources(folder: Path) -> tuple[Path, Path]:
    top = folder / "app"
    (top / "conf.d").mkdir(parents=True)
    (top / "conf.d" / "a.conf").write_bytes(b"a = 1\n")
    (top / "run.sh").write_bytes(b"#!/bin/sh\necho run\n")
    (top / "run.sh").chmod(0o704)  # unusual, and readable by the login user
    (top / "data.bin").write_bytes(bytes(range(256)) * 2000)
    for path in (top / "conf.d" / "a.conf", top / "run.sh", top / "data.bin"):
        os.utime(path, (1_500_000_000, 1_500_000_000))
    single = folder / "motd"
    single.write_bytes(b"hello\n")
    os.chmod(folder, 0o755)
    return top, single


def test_copy_through_the_tree_lays_out_what_a_flat_copy_does(
        treebed: TreeBed, shared_tmp_path: Path) -> None:
    top, single = _sources(shared_tmp_path)
    topology = routes("admin: gw[1-2]\ngw1: node1\ngw2: gw3\ngw3: node2\n")
    into = {name: writable_folder(shared_tmp_path, name) for name in ("tree1", "tree3",
                                                                      "flat")}

    async def copies() -> list[TaskResult]:
        async with treebed.tree("node[1-3]", topology) as tree:
            results = [await tree.copy([top, single], str(into["tree1"]), preserve=True,
                                       nodes="node1"),
                       await tree.copy([top, single], str(into["tree3"]), preserve=True,
                                       nodes="node2")]
        async with treebed.flat("node3") as flat:
            results.append(await flat.copy([top, single], str(into["flat"]), preserve=True))
        return results

    for result in asyncio.run(copies()):
        assert result.ok, result
    want = _tree(into["flat"])
    assert want["app/run.sh"][1:] == (0o704, 1_500_000_000)
    assert _tree(into["tree1"]) == want  # one level
    assert _tree(into["tree3"]) == want  # through gw2 and gw3


def test_a_refused_copy_fails_the_node_with_the_return_code_of_scp(
        treebed: TreeBed, shared_tmp_path: Path) -> None:
    _, single = _sources(shared_tmp_path)

    async def copy() -> TaskResult:
        async with treebed.tree("node1", one_level("gw1")) as tree:
            return await tree.copy([single], "/nonexistent/dir")

    result = asyncio.run(copy())
    assert result["node1"].rc == 1 and result["node1"].error is None
    assert b"/nonexistent/dir" in result["node1"].stderr


def test_rcopy_through_the_tree_brings_back_what_a_flat_rcopy_does(
        treebed: TreeBed, shared_tmp_path: Path) -> None:
    top, single = _sources(shared_tmp_path)
    tree_dest, flat_dest = (shared_tmp_path / name for name in ("tree", "flat"))
    tree_dest.mkdir()
    flat_dest.mkdir()

    async def rcopies() -> tuple[TaskResult, TaskResult]:
        async with treebed.tree("node[1-12]", one_level()) as tree:
            got = await tree.rcopy([str(top), str(single)], tree_dest, preserve=True)
        async with treebed.flat("node[1-12]") as flat:
            want = await flat.rcopy([str(top), str(single)], flat_dest, preserve=True)
        return got, want

    got, want = asyncio.run(rcopies())
    assert got.ok and want.ok
    assert sorted(p.name for p in tree_dest.iterdir()) == \
        sorted(p.name for p in flat_dest.iterdir())
    assert len(list(tree_dest.iterdir())) == 24  # app.node1 … motd.node12
    assert _tree(tree_dest) == _tree(flat_dest)


def test_an_rcopy_that_fails_on_the_node_ends_it_with_1_and_writes_nothing(
        treebed: TreeBed, tmp_path: Path) -> None:
    async def rcopy() -> TaskResult:
        async with treebed.tree("node[1-2]", one_level("gw1")) as tree:
            return await tree.rcopy(["/nonexistent/file"], tmp_path)

    result = asyncio.run(rcopy())
    assert [r.rc for r in result.values()] == [1, 1]
    assert list(tmp_path.iterdir()) == []


def test_an_rcopy_of_a_symlink_out_of_the_copy_is_refused(
        treebed: TreeBed, shared_tmp_path: Path, tmp_path: Path) -> None:
    top = shared_tmp_path / "logs"
    top.mkdir()
    (top / "ok.log").write_text("fine\n")
    (top / "evil").symlink_to("/etc/hostname")
    top.chmod(0o755)

    async def rcopy() -> TaskResult:
        async with treebed.tree("node1", one_level("gw1")) as tree:
            return await tree.rcopy([str(top)], tmp_path)

    result = asyncio.run(rcopy())
    assert result["node1"].rc == 1
    assert result["node1"].stderr == (
        f"copy from {top} failed: 'logs/evil' in the tar stream is a symlink out of the "
        "copy\n").encode()
    assert list(tmp_path.iterdir()) == []
