"""A gateway with next-level gateways: relaying, and children that fail, die or stall."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.gates import Gate, Signal
from support.processes import wait_gone
from support.treepeer import GatewayPeer, ends, outputs

from shoal.nodeset import NodeSet
from shoal.tree.messages import CTL, OUT, RET
from shoal.tree.routing import Group, Topology

#: a next-level gateway started from this checkout (no bundle)
CHILD = f"exec {shlex.quote(sys.executable)} -m shoal.tree.gateway"


def _topology(children: str, targets: str) -> dict[str, Any]:
    """gw, with the gateways ``children`` below it, which reach ``targets``."""
    leaves = Group(NodeSet(targets))
    return Topology("gw", [Group(NodeSet(children), [leaves])]).to_dict()


def _settings(**extra: object) -> dict[str, object]:
    return {"transport": "local", "gateway_command": CHILD, "gather_delay": 0.05, **extra}


def _shell(job: int, target: str, command: str, **payload: object) -> CTL:
    return CTL(job=job, action="shell", target=target, data={"command": command, **payload})


def test_targets_behind_a_child_gateway_come_back_grouped_with_the_direct_ones() -> None:
    with GatewayPeer() as peer:
        peer.open(_settings(gather_delay=30), _topology("gw2", "t[1-20]"))
        peer.send(_shell(1, "t[1-20],m[1-5]", "echo same; [ $SHOAL_NODE = t7 ] && exit 4; true"))
        messages = peer.job(1, "t[1-20],m[1-5]")
        expected = {node: b"same\n" for node in NodeSet("t[1-20],m[1-5]")}
        assert outputs(messages) == expected
        assert ends(messages) == {node: (4 if node == "t7" else 0, "ok", "")
                                  for node in NodeSet("t[1-20],m[1-5]")}
        # the child grouped its 20, this gateway its 5: the RETs merge by return code
        assert sorted((m.retcode, m.nodes) for m in messages if isinstance(m, RET)) == [
            (0, "m[1-5],t[1-6,8-20]"), (4, "t7")]
        # and the same output of both is one message
        assert [m.nodes for m in messages if isinstance(m, OUT)] == ["m[1-5],t[1-20]"]
        assert peer.close() == 0


def test_stdin_reaches_targets_behind_a_child_gateway() -> None:
    with GatewayPeer() as peer:
        peer.open(_settings(), _topology("gw2", "t[1-3]"))
        peer.send(_shell(1, "t[1-3],m1", "cat", stdin=True))
        peer.send(CTL(job=1, action="write", target="t[1-3],m1", data=b"hello "))
        peer.send(CTL(job=1, action="write", target="t[1-3],m1", data=b"tree\n"))
        peer.send(CTL(job=1, action="eof", target="t[1-3],m1"))
        assert outputs(peer.job(1, "t[1-3],m1")) == {
            node: b"hello tree\n" for node in ("t1", "t2", "t3", "m1")}


def test_a_child_gateway_that_cannot_start_makes_its_targets_unreachable() -> None:
    failing = "echo 'python3: command not found' >&2; exit 127"
    with GatewayPeer() as peer:
        peer.open(_settings(gateway_command=failing), _topology("gw2", "t[1-4]"))
        peer.send(_shell(1, "t[1-4],m1", "echo ran"))
        messages = peer.job(1, "t[1-4],m1")
        found = ends(messages)
        assert found.pop("m1") == (0, "ok", "")
        assert set(found.values()) == {
            (255, "unreachable", "gateway gw2: python3: command not found")}
        assert outputs(messages) == {"m1": b"ran\n"}
        # the dead gateway gets no more work: the next job does not wait for it
        peer.send(_shell(2, "t1", "true"))
        assert ends(peer.job(2, "t1"))["t1"][1] == "unreachable"


def test_a_sibling_takes_the_targets_of_a_child_gateway_that_never_started() -> None:
    only_gw3 = f'[ "$SHOAL_NODE" = gw2 ] && {{ echo refused >&2; exit 1; }}; {CHILD}'
    with GatewayPeer() as peer:
        peer.open(_settings(gateway_command=only_gw3), _topology("gw[2-3]", "t[1-6]"))
        peer.send(_shell(1, "t[1-6]", "echo $SHOAL_NODE"))
        messages = peer.job(1, "t[1-6]")
        assert outputs(messages) == {f"t{i}": f"t{i}\n".encode() for i in range(1, 7)}
        assert set(ends(messages).values()) == {(0, "ok", "")}


def _start_behind_child(peer: GatewayPeer, tmp_path: Path, **settings: object) -> list[int]:
    """A job whose 3 targets, behind gw2, run until killed; pids of the targets and of
    the child gateway (their parent) last."""
    ready = Signal(tmp_path)
    pids = tmp_path / "pids"
    pids.mkdir()
    peer.open(_settings(**settings), _topology("gw2", "t[1-3]"))
    peer.beat(0.2)
    peer.send(_shell(1, "t[1-3]", f"echo $$ > {pids}/$SHOAL_NODE; echo $PPID > {pids}/parent; "
                                  f"{ready.command}; exec sleep 300"))
    assert ready.wait(3)
    targets = [int((pids / f"t{i}").read_text()) for i in range(1, 4)]
    return [*targets, int((pids / "parent").read_text())]


def test_targets_of_a_child_gateway_killed_mid_run_are_lost(tmp_path: Path) -> None:
    with GatewayPeer() as peer:
        *targets, child = _start_behind_child(peer, tmp_path)
        try:
            os.kill(child, signal.SIGKILL)
            found = ends(peer.job(1, "t[1-3]"))
            assert {status for _, status, _ in found.values()} == {"lost"}
            assert all(reason.startswith("gateway gw2: ") for _, _, reason in found.values())
            assert peer.close() == 0  # this gateway goes on
            # the child's watchdog ended its targets
            assert [pid for pid in targets if not wait_gone(pid)] == []
        finally:
            for pid in targets:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def test_targets_of_a_stalled_child_gateway_are_lost_and_the_child_ends(
        tmp_path: Path) -> None:
    with GatewayPeer() as peer:
        *targets, child = _start_behind_child(peer, tmp_path, stall=2.0, heartbeat=0.2)
        os.kill(child, signal.SIGSTOP)
        found = ends(peer.job(1, "t[1-3]"))
        assert set(found.values()) == {
            (255, "lost", "gateway gw2: no data from the peer for 2s")}
        assert wait_gone(child)
        assert all(wait_gone(pid) for pid in targets)


def test_abort_goes_down_to_the_child_gateway(tmp_path: Path) -> None:
    with GatewayPeer() as peer:
        *targets, _ = _start_behind_child(peer, tmp_path)
        peer.send(CTL(job=1, action="abort", target="t[1-2]"))
        found = ends(peer.job(1, "t[1-2]"))
        assert set(found.values()) == {(130, "interrupted", "interrupted")}
        assert wait_gone(targets[0]) and wait_gone(targets[1])
        peer.send(CTL(job=1, action="abort", target=""))
        assert ends(peer.job(1, "t3")) == {"t3": (130, "interrupted", "interrupted")}


def test_closing_the_root_channel_ends_the_whole_subtree(tmp_path: Path) -> None:
    with GatewayPeer() as peer:
        pids = _start_behind_child(peer, tmp_path)
        assert peer.proc.stdin is not None
        peer.proc.stdin.close()
        assert peer.wait() == 1
        assert all(wait_gone(pid) for pid in pids)


def test_a_busy_child_is_not_taken_for_dead_while_heartbeats_flow(tmp_path: Path) -> None:
    gate = Gate(tmp_path)
    with GatewayPeer() as peer:
        peer.open(_settings(stall=2.0, heartbeat=0.2), _topology("gw2", "t1"))
        peer.beat(0.2)
        peer.send(_shell(1, "t1", f"{gate.command}; echo late"))
        # two stall periods and more in which nothing but heartbeats flows, every way
        with pytest.raises(subprocess.TimeoutExpired):
            peer.proc.wait(5.0)
        gate.open()
        assert outputs(peer.job(1, "t1")) == {"t1": b"late\n"}


def test_a_zero_install_chain_forwards_the_bundle_to_the_next_level() -> None:
    from shoal.tree.bundle import build_bundle, loader_command

    python = shutil.which("python3", path=os.defpath) or "python3"  # no shoal there
    bundle = build_bundle("shoal.tree.gateway")
    with GatewayPeer(loader_command(bundle, python), preamble=bundle.data) as peer:
        peer.open({"transport": "local", "python": python, "gather_delay": 30},
                  _topology("gw2", "t[1-10]"))
        peer.send(_shell(1, "t[1-10],m1", 'echo "$SHOAL_NODE" via $(ps -o args= -p $PPID | '
                                          "cut -c1-12)"))
        messages = peer.job(1, "t[1-10],m1")
        assert outputs(messages) == {node: f"{node} via {python[:12]}\n".encode()
                                     for node in NodeSet("t[1-10],m1")}
        assert set(ends(messages).values()) == {(0, "ok", "")}
        assert peer.close() == 0


def test_a_child_gateway_that_answers_garbage_is_unreachable_and_ended(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    garbage = f"echo $$ > {pid_file}; printf 'this is no channel\\n'; exec sleep 300"
    with GatewayPeer() as peer:
        peer.open(_settings(gateway_command=garbage), _topology("gw2", "t[1-2]"))
        peer.send(_shell(1, "t[1-2]", "true"))
        found = ends(peer.job(1, "t[1-2]"))
        assert {status for _, status, _ in found.values()} == {"unreachable"}
        reason = found["t1"][2]
        assert reason.startswith("gateway gw2: ") and "XML" in reason, reason
        assert wait_gone(int(pid_file.read_text()))
