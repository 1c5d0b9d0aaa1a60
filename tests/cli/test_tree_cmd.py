"""``shoal run`` through a propagation tree prints what a flat run prints, byte for byte.

Each case runs the same command on the same nodes twice through shoal's real entry
point: flat, then with ``--gateways gw[1-2]`` or ``--topology FILE`` (gateways reach the
nodes with the same ssh config); stdout and the exit status must be the same.
"""

from __future__ import annotations

import asyncio
import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import Outcome, shoal
from support.gates import Gate, Signal
from support.treebed import MIXED, TreeBed, kill, one_level, wait_gone

from shoal.cli.display import Display
from shoal.cli.interactive import Session
from shoal.cli.progress import Progress
from shoal.cli.render import Layout

BIN = Path(sys.executable).parent
NODES = "node[1-10]"
GATEWAYS = ["--gateways", "gw[1-2]"]


def run(treebed: TreeBed, *args: str, tree: list[str] | None = None,
        stdin: bytes = b"") -> Outcome:
    return shoal("run", "-F", str(treebed.client.ssh_config), *(tree or []), *args,
                 stdin=stdin)


def both(treebed: TreeBed, *args: str, tree: list[str] = GATEWAYS,
         stdin: bytes = b"") -> tuple[Outcome, Outcome]:
    """The run flat and through the tree."""
    return run(treebed, *args, stdin=stdin), run(treebed, *args, tree=tree, stdin=stdin)


@pytest.mark.parametrize("options", [
    pytest.param(["-b"], id="gather"),
    pytest.param(["-L"], id="by-node"),
    pytest.param(["-b", "-L"], id="gather-by-line"),
    pytest.param(["--diff"], id="diff"),
    pytest.param(["-b", "-S"], id="maxrc"),
    pytest.param(["-b", "-N"], id="no-label"),
    pytest.param(["-b", "-q"], id="quiet"),
    pytest.param(["-b", "-r"], id="regroup"),
])
def test_gathered_output_is_byte_identical_to_a_flat_run(treebed: TreeBed,
                                                         options: list[str]) -> None:
    flat, tree = both(treebed, *options, "-w", NODES, MIXED)
    assert tree.out == flat.out and tree.out
    assert tree.status == flat.status
    assert sorted(tree.err.splitlines()) == sorted(flat.err.splitlines())


@pytest.mark.parametrize("options", [pytest.param([], id="lines"),
                                     pytest.param(["-N"], id="no-label"),
                                     pytest.param(["-b", "-v"], id="gather-verbose")])
def test_live_lines_are_those_of_a_flat_run(treebed: TreeBed, options: list[str]) -> None:
    # short lines: a line in pieces is labelled where other nodes' lines cut it, by timing
    command = ("echo common; echo role=$SHOAL_ROLE; echo warn-$SHOAL_ROLE >&2; "
               "case $SHOAL_ROLE in odd) exit 3;; esac")
    flat, tree = both(treebed, *options, "-S", "-w", NODES, command)
    assert sorted(tree.out.splitlines()) == sorted(flat.out.splitlines())
    assert sorted(tree.err.splitlines()) == sorted(flat.err.splitlines())
    assert tree.status == flat.status == 3


def test_stderr_gathered_with_stdout_keeps_the_order_each_node_printed_them(
        treebed: TreeBed) -> None:
    # the pauses are the workload's: each line leaves the node well after the one before,
    # so that the order its two streams arrive in is the order it wrote them
    pause = "sleep 0.3"
    command = "; ".join([
        "echo out1", pause, "echo err1 >&2", pause, "echo out2-$SHOAL_ROLE", pause,
        "echo err2 >&2", pause, "printf 'out3 no newline'", pause, "printf err3 >&2"])
    flat, tree = both(treebed, "-B", "-w", NODES, command)
    assert tree.out == flat.out
    assert b"out1\nerr1\nout2-odd\nerr2\nout3 no newline\nerr3\n" in flat.out


def test_json_records_are_a_flat_runs_but_for_their_times(treebed: TreeBed) -> None:
    def records(outcome: Outcome) -> list[dict[str, object]]:
        found = [json.loads(line) for line in outcome.out.splitlines()]
        for record in found:
            assert record.pop("end") >= record.pop("start") >= 0
            if record["status"] == "unreachable":  # each ssh says it its own way
                assert record.pop("error")
        return sorted(found, key=lambda record: str(record["node"]))

    flat, tree = both(treebed, "--json", "-w", f"{NODES},down1", MIXED)
    assert records(tree) == records(flat)
    assert len(records(flat)) == 11
    assert tree.status == flat.status


def test_stdin_reaches_every_node_through_the_tree(treebed: TreeBed) -> None:
    flat, tree = both(treebed, "-b", "-w", NODES, "cat; echo $SHOAL_ROLE",
                      stdin=b"piped in\n" * 100)
    assert tree.out == flat.out and b"piped in" in tree.out


def test_a_topology_file_and_three_levels(treebed: TreeBed, tmp_path: Path) -> None:
    conf = tmp_path / "topology.conf"
    conf.write_text("[routes]\nadmin: gw[1-2]\ngw1: gw3\ngw3: node[1-5]\ngw2: node[6-10]\n")
    flat, tree = both(treebed, "-b", "-S", "-w", NODES, MIXED,
                      tree=["--topology", str(conf), "--root-name", "admin"])
    assert (tree.out, tree.status) == (flat.out, flat.status)


def test_timeouts_and_unreachable_nodes_say_the_same(treebed: TreeBed) -> None:
    command = "case $SHOAL_ROLE in odd) sleep 600;; esac; echo done"
    flat, tree = both(treebed, "-b", "-S", "-u", "1", "-w", f"{NODES},badnode1,gwdeny3",
                      command)
    assert (tree.out, tree.status) == (flat.out, flat.status)
    assert sorted(tree.err.splitlines()) == sorted(flat.err.splitlines()) == [
        b"shoal: badnode1: name or service not known",
        b"shoal: gwdeny3: authentication failed: Permission denied for user nobody on host "
        b"127.0.0.1",
        b"shoal: node[2,4]: command timed out after 1s"]


def test_several_ssh_config_files_are_refused_through_gateways(treebed: TreeBed,
                                                               tmp_path: Path) -> None:
    extra = tmp_path / "extra.conf"
    extra.write_text("Host other\n    Port 2222\n")
    got = run(treebed, "-o", f"-F {extra}", "-w", "node1", "true", tree=GATEWAYS)
    assert got.status == 2 and got.out == b""
    assert got.err == (f"shoal: -F: a run through gateways takes one ssh config file, not 2 "
                       f"({treebed.client.ssh_config}, {extra}): gateways run ssh -F FILE\n"
                       ).encode()


def test_copy_and_rcopy_through_the_tree(treebed: TreeBed, shared_tmp_path: Path) -> None:
    source = shared_tmp_path / "app.conf"
    source.write_text("key = value\n")
    into = shared_tmp_path / "into"
    into.mkdir()
    into.chmod(0o777)
    back = shared_tmp_path / "back"
    back.mkdir()
    copied = run(treebed, "-w", "node1", "-c", str(source), "--dest", str(into),
                 tree=["--gateways", "gw1"])
    assert (copied.status, copied.out, copied.err) == (0, b"", b"")
    assert (into / "app.conf").read_text() == "key = value\n"
    fetched = run(treebed, "-w", NODES, "--rcopy", str(into / "app.conf"), "--dest",
                  str(back), tree=GATEWAYS)
    assert (fetched.status, fetched.err) == (0, b"")
    assert sorted(p.name for p in back.iterdir()) == sorted(
        f"app.conf.node{i}" for i in range(1, 11))


def test_a_refusing_gateway_is_said_on_stderr_and_its_nodes_go_to_its_sibling(
        treebed: TreeBed) -> None:
    flat, tree = both(treebed, "-b", "-S", "-w", NODES, "echo ok",
                      tree=["--gateways", "gwdeny1,gw2"])
    assert (tree.out, tree.status) == (flat.out, flat.status) == (
        b"---------------\nnode[1-10] (10)\n---------------\nok\n", 0)
    assert b"gwdeny1: " in tree.err and b"Permission denied" in tree.err


def test_ctrl_c_interrupts_the_run_through_the_tree(treebed: TreeBed, shared_tmp_path: Path,
                                                   tmp_path: Path) -> None:
    # -f 2 is one command at a time on each gateway: node8 and node9 (slow) start once
    # node6 and node7 have ended; they say so, then run on until Ctrl-C.
    conf = tmp_path / "topology.conf"
    conf.write_text("[routes]\nadmin: gw[1-2]\ngw1: node[6,8]\ngw2: node[7,9]\n")
    started = Signal(shared_tmp_path)
    command = f"case $SHOAL_ROLE in slow) {started.command}; sleep 600;; *) echo hi;; esac"
    with subprocess.Popen(
            [str(BIN / "shoal"), "run", "-F", str(treebed.client.ssh_config), "--topology",
             str(conf), "--root-name", "admin", "-f", "2", "-b", "-w", "node[6-9]", command],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            assert started.wait(2, 60), "the slow nodes never started"
        finally:
            started.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert out.decode() == "---------------\nnode[6-7] (2)\n---------------\nhi\n"
    assert err == b"shoal: node[8-9]: interrupted\n"


def test_the_interactive_loop_keeps_its_gateways_from_one_command_to_the_next(
        treebed: TreeBed) -> None:
    out, err = io.BytesIO(), io.BytesIO()
    display = Display(out, err)

    async def session() -> list[int]:
        async with treebed.tree(NODES, one_level(), keep_connections=True) as task:
            loop = Session(task, display, Layout(gather=True), maxrc=False)
            await loop.handle("echo first")
            pids = sorted(c.process.pid for c in task.gateways.channels())
            await loop.handle("@node[1-3]")
            await loop.handle("echo second")
            assert sorted(c.process.pid for c in task.gateways.channels()) == pids
            return pids

    assert len(asyncio.run(session())) == 2
    assert out.getvalue().decode().endswith(
        "---------------\nnode[1-3] (3)\n---------------\nsecond\n")
    assert "node[1-10] (10)\n---------------\nfirst\n" in out.getvalue().decode()


def test_a_stalled_gateway_is_dead_after_the_stall_set_in_shoal_conf(
        shared_tmp_path: Path, tmp_path: Path) -> None:
    # --transport local: gateways and their targets run here; a target's parent is its
    # gateway, which is how the test finds the pid to stop (shoal run does not show the
    # pid a gateway's STA says).
    conf = tmp_path / "shoal.conf"
    conf.write_text("[Main]\nheartbeat: 0.5\nstall: 6\n")
    folder = shared_tmp_path / "pids"
    folder.mkdir()
    started, gate = Signal(shared_tmp_path), Gate(shared_tmp_path)
    command = (f"echo $PPID > {folder}/$SHOAL_NODE.ppid; {started.command}; {gate.command}; "
               "echo done")
    gateway = 0
    with subprocess.Popen(
            [str(BIN / "shoal"), "run", "--conf", str(conf), "--transport", "local",
             "--gateways", "gw1,gw2", "-b", "-S", "-w", "n[1-4]", command],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            assert started.wait(4, 60), "the nodes never started"
            gateway = int((folder / "n1.ppid").read_text())
            kill(gateway, signal.SIGSTOP)
            gate.open()  # gw1's nodes end now, but gw1 cannot say so
            out, err = proc.communicate(timeout=60)
        finally:
            gate.open()
            started.close()
            if gateway:
                kill(gateway, signal.SIGCONT)
    assert proc.returncode == 255
    assert out.decode() == "---------------\nn[3-4] (2)\n---------------\ndone\n"
    assert err.decode() == "shoal: n[1-2]: lost with gateway gw1: no data from the peer for 6s\n"
    assert wait_gone([gateway]) == []


def test_progress_counts_the_nodes_behind_gateways_as_it_does_flat_ones(
        treebed: TreeBed) -> None:
    async def run() -> tuple[str, str]:
        counts = []
        for task in (treebed.tree("node[1-20],down1", one_level()),
                     treebed.flat("node[1-20],down1")):
            progress = Progress(io.BytesIO(), total=21)
            task.handlers.append(progress.handle)
            async with task:
                await task.run("echo x")
            counts.append(progress.text())
        return counts[0], counts[1]

    tree, flat = asyncio.run(run())
    assert tree == flat == "shoal: 21/21 done, 1 failed, 0 running"
