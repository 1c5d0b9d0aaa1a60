"""Copies through the tree: one tar stream per link, the same files as a flat copy.

Every node of the testbed is this machine, so copies to nodes go one node per run (two
copies into one folder at once would race); rcopies go to many at once, each into its own
``NAME.NODE``. The differential tests run a flat copy, then the same copy through a
gateway, each on a fresh copy of the same folder, and compare what they leave there,
their return codes and their stderr.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

from support.files import writable_folder
from support.treebed import TreeBed, one_level, routes, same_results

from shoal.engine import AsyncTask, TaskResult


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
    assert result["node1"].stderr == \
        b"copy to /nonexistent/dir failed: no such file or directory\n"


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


# -- flat and tree, side by side --------------------------------------------------------


Layout = dict[str, tuple[str, bytes | None, int]]


def _layout(path: Path) -> Layout:
    """What is under ``path``, symlinks not followed: kind, content (a file's, a
    symlink's target) and permission bits, by name."""
    found: Layout = {}
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            full = Path(root, name)
            st = full.lstat()
            if full.is_symlink():
                entry = ("link", os.fsencode(os.readlink(full)), 0)
            elif full.is_dir():
                entry = ("dir", None, st.st_mode & 0o777)
            else:
                entry = ("file", full.read_bytes(), st.st_mode & 0o777)
            found[str(full.relative_to(path))] = entry
    return found


def _side_by_side(treebed: TreeBed, folder: Path, setup: Callable[[Path], None],
                  act: Callable[[AsyncTask], Awaitable[TaskResult]]) -> tuple[TaskResult, Layout]:
    """Do ``act`` on node1 flat, then through gateway gw1, each time on ``folder`` laid
    out afresh by ``setup``; assert both end node1 alike and leave the same files. The
    flat run's result and layout, for the test to check."""
    runs = []
    for make in (lambda: treebed.flat("node1"),
                 lambda: treebed.tree("node1", one_level("gw1"))):
        shutil.rmtree(folder, ignore_errors=True)
        writable_folder(folder.parent, folder.name)
        setup(folder)

        async def run(make: Callable[[], AsyncTask] = make) -> TaskResult:
            async with make() as task:
                return await act(task)

        runs.append((asyncio.run(run()), _layout(folder)))
    (flat, flat_files), (tree, tree_files) = runs
    same_results(tree, flat)
    assert tree_files == flat_files
    return flat, flat_files


def _nothing(folder: Path) -> None:
    """Lay out nothing: the folder stays empty."""


def _a_file(folder: Path) -> None:
    (folder / "file").write_bytes(b"keep\n")
    (folder / "file").chmod(0o666)


def test_a_file_copied_to_a_name_that_does_not_exist_takes_that_name(
        treebed: TreeBed, shared_tmp_path: Path) -> None:
    _, single = _sources(shared_tmp_path)
    area = shared_tmp_path / "area"
    result, files = _side_by_side(treebed, area, _nothing,
                                  lambda task: task.copy([single], str(area / "renamed")))
    assert result["node1"].rc == 0 and result["node1"].stderr == b""
    assert [(name, kind, data) for name, (kind, data, _) in files.items()] == \
        [("renamed", "file", b"hello\n")]


def test_two_sources_into_a_file_are_refused_and_leave_it(
        treebed: TreeBed, shared_tmp_path: Path) -> None:
    top, single = _sources(shared_tmp_path)
    area = shared_tmp_path / "area"
    result, files = _side_by_side(treebed, area, _a_file,
                                  lambda task: task.copy([single, top], str(area / "file")))
    assert result["node1"].rc == 1
    assert result["node1"].stderr == f"copy to {area}/file failed: not a directory\n".encode()
    assert files == {"file": ("file", b"keep\n", 0o666)}


def test_a_destination_whose_folder_is_missing_is_refused(
        treebed: TreeBed, shared_tmp_path: Path) -> None:
    _, single = _sources(shared_tmp_path)
    area = shared_tmp_path / "area"
    result, files = _side_by_side(treebed, area, _nothing,
                                  lambda task: task.copy([single], str(area / "gone" / "x")))
    assert result["node1"].rc == 1
    assert result["node1"].stderr == \
        f"copy to {area}/gone/x failed: no such file or directory\n".encode()
    assert files == {}


def test_a_destination_ending_in_a_slash_must_be_a_folder(
        treebed: TreeBed, shared_tmp_path: Path) -> None:
    _, single = _sources(shared_tmp_path)
    area = shared_tmp_path / "area"
    result, files = _side_by_side(treebed, area, _nothing,
                                  lambda task: task.copy([single], f"{area}/gone/"))
    assert result["node1"].rc == 1
    assert result["node1"].stderr == f"copy to {area}/gone/ failed: no such directory\n".encode()
    assert files == {}


def _an_older_app(folder: Path) -> None:
    (folder / "app" / "conf.d").mkdir(parents=True)
    (folder / "app" / "conf.d" / "old.conf").write_bytes(b"old = 1\n")
    (folder / "app" / "run.sh").write_bytes(b"#!/bin/sh\necho old\n")
    for path in (folder / "app", folder / "app" / "conf.d"):
        path.chmod(0o777)
    for path in (folder / "app" / "conf.d" / "old.conf", folder / "app" / "run.sh"):
        path.chmod(0o666)


def test_a_folder_copied_over_one_merges_into_it(
        treebed: TreeBed, shared_tmp_path: Path) -> None:
    top, _ = _sources(shared_tmp_path)
    area = shared_tmp_path / "area"
    result, files = _side_by_side(treebed, area, _an_older_app,
                                  lambda task: task.copy([top], str(area)))
    assert result["node1"].rc == 0 and result["node1"].stderr == b""
    assert sorted(files) == ["app", "app/conf.d", "app/conf.d/a.conf", "app/conf.d/old.conf",
                             "app/data.bin", "app/run.sh"]
    assert files["app/run.sh"][1] == b"#!/bin/sh\necho run\n"  # replaced
    assert files["app/conf.d/old.conf"] == ("file", b"old = 1\n", 0o666)  # kept


def test_an_rcopy_reads_symlinks_as_a_flat_rcopy_does(
        treebed: TreeBed, shared_tmp_path: Path) -> None:
    (shared_tmp_path / "outside.txt").write_bytes(b"from outside the copy\n")
    good = shared_tmp_path / "good"
    good.mkdir()
    (good / "ok.log").write_bytes(b"fine\n")
    (good / "file").symlink_to(shared_tmp_path / "outside.txt")  # a file: its content
    (shared_tmp_path / "alias").symlink_to(good)  # a source named: followed
    bad = shared_tmp_path / "bad"
    (bad / "sub").mkdir(parents=True)
    (bad / "a.log").write_bytes(b"a\n")
    (bad / "sub" / "x.log").write_bytes(b"x\n")
    (bad / "zdir").symlink_to(good)  # a folder: refused, after sub/ (sorted first) is in
    for path in (good, bad, bad / "sub"):
        path.chmod(0o755)
    dest = shared_tmp_path / "dest"
    result, files = _side_by_side(
        treebed, dest, _nothing,
        lambda task: task.rcopy([str(shared_tmp_path / "alias"), str(bad)], dest))
    assert result["node1"].rc == 1
    assert result["node1"].stderr == \
        f"copy from {bad}/zdir failed: a symlink to a directory (not followed)\n".encode()
    assert {name: data for name, (_, data, _) in files.items()} == {
        "alias.node1": None, "alias.node1/ok.log": b"fine\n",
        "alias.node1/file": b"from outside the copy\n",
        "bad.node1": None, "bad.node1/sub": None, "bad.node1/sub/x.log": b"x\n"}
