"""``shoal copy`` and ``shoal run -c/--rcopy`` failures, side by side with clush.

A copy a node refuses ends that node as clush's scp does (exit code 1, ``-S`` exits 1, not
255) with one line that says why; ``--rcopy`` without ``--dest`` is refused rather than
writing beside the source path.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import shoal

from shoal.testbed import Testbed

BIN = Path(sys.executable).parent


def err_lines(*args: str) -> tuple[int, list[str]]:
    """``shoal ARGS``: exit status and stderr lines, sorted."""
    got = shoal(*args)
    return got.status, sorted(got.err.decode().splitlines())


def clush(config: Path, *args: str) -> int:
    """clush's exit status for ``clush ARGS`` on the same nodes through the same config."""
    return subprocess.run([str(BIN / "clush"), "-o", f"-F {config}", *args],
                          stdin=subprocess.DEVNULL, capture_output=True, check=False,
                          timeout=120).returncode


@pytest.mark.parametrize("options", [pytest.param([], id="plain"),
                                     pytest.param(["-S"], id="maxrc")])
@pytest.mark.parametrize(("nodes", "refused", "down"), [
    pytest.param("node[1-2]", ["node1", "node2"], [], id="reachable"),
    pytest.param("node1,down1", ["node1"], ["down1"], id="one-unreachable"),
])
def test_a_refused_copy_exits_as_clush_and_says_why_per_node(
        options: list[str], nodes: str, refused: list[str], down: list[str],
        testbed: Testbed, tmp_path: Path) -> None:
    source = tmp_path / "app.conf"
    source.write_text("x\n")
    args = [*options, "-w", nodes, "-c", str(source), "--dest", "/nonexistent/dir"]
    status, err = err_lines("run", "-F", str(testbed.ssh_config), *args)
    assert status == clush(testbed.ssh_config, *args)
    assert err == sorted(
        [f"{node}: copy to /nonexistent/dir failed: no such file or directory" for node in refused]
        + [f"shoal: {node}: exited with exit code 1" for node in refused]
        + [f"shoal: {node}: connection refused" for node in down])


def test_rcopy_without_dest_is_refused(testbed: Testbed, tmp_path: Path) -> None:
    # clush writes beside the source path: as root, /etc/hostname.node1
    source = tmp_path / "hostname"
    source.write_text("x\n")
    assert err_lines("copy", "-F", str(testbed.ssh_config), "-w", "node1", "--rcopy",
                     str(source)) == (2, ["shoal: --rcopy needs --dest DIR: the folder the "
                                          "copies go to"])
    assert [p.name for p in tmp_path.iterdir()] == ["hostname"]
