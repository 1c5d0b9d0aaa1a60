"""A real gateway process, driven over its stdin and stdout with the codec, as the root does."""

from __future__ import annotations

import base64
import io
import itertools
import os
import shutil
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.gates import Gate, Signal
from support.processes import is_running, wait_gone
from support.treepeer import GatewayPeer, ends, outputs

from shoal.testbed import Testbed
from shoal.tree.messages import ACK, CTL, ERR, HBT, OUT, RET, SER, TIM

LOCAL = {"transport": "local"}
#: no flush before the job is over: what a whole job sends, grouped once
SLOW = {"transport": "local", "gather_delay": 30}


def _names(count: int) -> str:
    return f"n[1-{count}]"


def _shell(job: int, target: str, command: str, **payload: object) -> CTL:
    return CTL(job=job, action="shell", target=target, data={"command": command, **payload})


@pytest.fixture
def peer() -> Iterator[GatewayPeer]:
    with GatewayPeer() as gateway:
        yield gateway


def test_identical_output_on_50_targets_is_one_out_and_one_ret(peer: GatewayPeer) -> None:
    peer.open(SLOW)
    msgid = peer.send(_shell(1, _names(50), "echo same; echo warn >&2"))
    assert peer.expect(ACK).ack == msgid
    messages = peer.job(1, _names(50))
    assert [(m.TYPE, m.nodes) for m in messages] == [
        ("OUT", "n[1-50]"), ("SER", "n[1-50]"), ("RET", "n[1-50]")]
    assert messages[0].data == b"same\n" and messages[1].data == b"warn\n"
    assert (messages[2].retcode, messages[2].status) == (0, "ok")
    assert peer.close() == 0


def test_distinct_output_is_one_out_per_target_and_return_codes_group(
        peer: GatewayPeer) -> None:
    peer.open(SLOW)
    peer.send(_shell(1, _names(50), 'echo "$SHOAL_NODE"; exit $(( ${SHOAL_NODE#n} % 2 ))'))
    messages = peer.job(1, _names(50))
    outs = [m for m in messages if isinstance(m, OUT)]
    assert len(outs) == 50
    assert outputs(messages) == {f"n{i}": f"n{i}\n".encode() for i in range(1, 51)}
    rets = {m.nodes: m.retcode for m in messages if isinstance(m, RET)}
    assert rets == {"n[1-49/2]": 1, "n[2-50/2]": 0} or rets == {
        "n[1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33,35,37,39,41,43,45,47,49]": 1,
        "n[2,4,6,8,10,12,14,16,18,20,22,24,26,28,30,32,34,36,38,40,42,44,46,48,50]": 0}


def test_gather_mode_flushes_finished_targets_every_gather_delay(
        peer: GatewayPeer, tmp_path: Path) -> None:
    gate = Gate(tmp_path)
    peer.open({"transport": "local", "gather_delay": 0.05})
    peer.send(_shell(1, _names(4), f'echo out; [ $SHOAL_NODE = n4 ] && {gate.command}; true'))
    peer.expect(ACK)
    early: list[Any] = []
    while len(ends(early)) < 3:  # n1-n3 come before n4, which waits for the gate
        early.append(peer.next())
    assert "n4" not in ends(early)
    assert "n4" not in outputs(early)
    gate.open()
    rest = peer.job(1, "n4")
    assert outputs(early + rest) == {f"n{i}": b"out\n" for i in range(1, 5)}


def test_a_gather_job_waits_twice_as_long_after_each_flush(peer: GatewayPeer) -> None:
    delay = 0.05
    peer.open({"transport": "local", "gather_delay": delay})
    # one target ends every 0.1 s for 3 s: every window has an end to send
    peer.send(_shell(1, _names(30), 'sleep $(awk "BEGIN { print ${SHOAL_NODE#n} / 10 }")'))
    peer.expect(ACK)
    flushes: list[float] = []  # when each batch of ends came
    ended: set[str] = set()
    while len(ended) < 30:
        msg = peer.next()
        if isinstance(msg, RET):
            flushes.append(time.monotonic())
            ended.update(ends([msg]))
    gaps = [later - earlier for earlier, later in itertools.pairwise(flushes)]
    # each wait twice the one before, to 16 windows (0.8 s); the last flush is the job's end
    for index, gap in enumerate(gaps[1:-1], start=2):
        assert gap >= 0.7 * delay * min(2 ** index, 16), (index, gaps)
    assert len(flushes) < 12, gaps  # not one per window (30 windows had an end)


def test_stream_mode_sends_batches_of_complete_lines_as_they_come(
        peer: GatewayPeer, tmp_path: Path) -> None:
    gate = Gate(tmp_path)
    peer.open({"transport": "local", "gather_delay": 0.05})
    peer.send(_shell(1, _names(3), f"echo first; printf 'half'; {gate.command}; echo ' done'",
                     mode="stream"))
    peer.expect(ACK)
    first = peer.expect(OUT)  # before any target ends: grouped lines, no unfinished one
    assert (first.nodes, first.data) == ("n[1-3]", b"first\n")
    gate.open()
    messages = peer.job(1, _names(3))
    assert outputs([first, *messages]) == {f"n{i}": b"first\nhalf done\n" for i in range(1, 4)}


def test_two_jobs_at_once_keep_their_own_stdin(peer: GatewayPeer) -> None:
    peer.open(SLOW)
    peer.send(_shell(1, _names(3), "cat", stdin=True))
    peer.send(_shell(2, _names(3), "cat", stdin=True))
    peer.send(CTL(job=2, action="write", target=_names(3), data=b"two\n"))
    peer.send(CTL(job=1, action="write", target=_names(3), data=b"one\n"))
    peer.send(CTL(job=1, action="write", target=_names(3), data=b"more one\n"))
    peer.send(CTL(job=1, action="eof", target=_names(3)))
    one = peer.job(1, _names(3))
    peer.send(CTL(job=2, action="eof", target=_names(3)))
    two = peer.job(2, _names(3))
    assert outputs(one) == {f"n{i}": b"one\nmore one\n" for i in range(1, 4)}
    assert outputs(two) == {f"n{i}": b"two\n" for i in range(1, 4)}


def test_abort_kills_the_commands_and_reports_the_rest_interrupted(
        peer: GatewayPeer, tmp_path: Path) -> None:
    signal = Signal(tmp_path)
    pids = tmp_path / "pids"
    pids.mkdir()
    peer.open(LOCAL)
    peer.send(_shell(1, _names(6), f"echo $$ > {pids}/$SHOAL_NODE; {signal.command}; "
                                   "exec sleep 300", fanout=4))
    assert signal.wait(4)
    started = {path.name: int(path.read_text()) for path in pids.iterdir()}
    assert len(started) == 4 and all(is_running(pid) for pid in started.values())
    peer.send(CTL(job=1, action="abort", target=""))
    messages = peer.job(1, _names(6))
    assert set(ends(messages).values()) == {(130, "interrupted", "interrupted")}
    assert all(wait_gone(pid) for pid in started.values())
    assert len(list(pids.iterdir())) == 4  # the two waiting never started


def test_abort_of_some_targets_leaves_the_others_running(
        peer: GatewayPeer, tmp_path: Path) -> None:
    signal = Signal(tmp_path)
    gate = Gate(tmp_path)
    peer.open(LOCAL)
    peer.send(_shell(1, _names(3), f"{signal.command}; {gate.command}; echo done"))
    assert signal.wait(3)
    peer.send(CTL(job=1, action="abort", target="n2"))
    first = peer.job(1, "n2")
    gate.open()
    rest = peer.job(1, "n[1,3]")
    assert ends(first) == {"n2": (130, "interrupted", "interrupted")}
    assert ends(rest) == {"n1": (0, "ok", ""), "n3": (0, "ok", "")}
    assert outputs(rest) == {"n1": b"done\n", "n3": b"done\n"}


def test_targets_past_their_timeout_get_tim_and_their_output_so_far(
        peer: GatewayPeer) -> None:
    peer.open(LOCAL)
    peer.send(_shell(1, _names(3), 'echo before; [ $SHOAL_NODE = n2 ] || exec sleep 300',
                     timeout=1.0))
    messages = peer.job(1, _names(3))
    assert ends(messages) == {"n1": ("TIM",), "n2": (0, "ok", ""), "n3": ("TIM",)}
    assert [m.nodes for m in messages if isinstance(m, TIM)] == ["n[1,3]"]
    assert outputs(messages) == {f"n{i}": b"before\n" for i in range(1, 4)}


def test_garbage_from_the_parent_gets_err_and_the_gateway_goes_on(peer: GatewayPeer) -> None:
    peer.open(SLOW)
    faults = [
        b'<message type="XYZ" msgid="10"></message>\n',
        b'<message type="CTL" msgid="11" job="x" action="shell" target="n1"></message>\n',
        b'<message type="CTL" msgid="12" job="1" action="shell" target="n1">!!!!</message>\n',
        b'<message type="CTL" msgid="13" job="1" action="shell" target="n1">'
        + base64.b64encode(b"[1, 2]") + b"</message>\n",
        b'<message type="CTL" msgid="14" job="1" action="launch" target="n1">'
        + base64.b64encode(b"{}") + b"</message>\n",
        b'<message type="CTL" msgid="15" job="1" action="shell" target="-oProxyCommand=x">'
        + base64.b64encode(b'{"command": "true"}') + b"</message>\n",
        b'<message type="CTL" msgid="16" job="1" action="shell" target="n1">'
        + base64.b64encode(b'{"command": "true", "fanout": 0}') + b"</message>\n",
        b'<message type="CTL" msgid="17" job="9" action="write" target="n1"></message>\n',
        b'<message type="OUT" msgid="18" job="1" nodes="n1"></message>\n',
    ]
    for fault in faults:
        peer.write(fault)
    errors = [peer.expect(ERR) for _ in faults]
    assert [e.about for e in errors] == list(range(10, 19))
    reasons = [e.reason for e in errors]
    assert "XYZ" in reasons[0] and "job" in reasons[1]
    assert reasons[3] == "the payload of shell must be an object"
    assert reasons[4] == "no such action: launch"
    assert reasons[5] == 'node name "-oProxyCommand=x": must not start with "-"'
    assert reasons[6] == "shell: fanout must be 1 or more"
    assert reasons[7] == "no job 9"
    assert reasons[8] == "a gateway takes no OUT"
    peer.encoder.last_msgid = 18
    peer.send(_shell(1, "n1", "echo alive"))
    assert outputs(peer.job(1, "n1")) == {"n1": b"alive\n"}
    assert b"Traceback" not in bytes(peer.stderr)


def test_a_bad_configuration_is_refused_and_a_good_one_then_taken(peer: GatewayPeer) -> None:
    from shoal import __version__
    from shoal.tree.messages import CFG, PROTOCOL_VERSION, STA

    peer.write(peer.encoder.header())
    peer.send(STA(protocol=PROTOCOL_VERSION, shoal=__version__))
    peer.expect(STA)
    peer.send(_shell(1, "n1", "true"))
    assert peer.expect(ERR).reason == "CTL before CFG"
    peer.send(CFG(gateway="gw", data={"settings": {"transport": "telepathy"}}))
    assert peer.expect(ERR).reason == "setting transport must be one of ssh, local"
    peer.send(CFG(gateway="gw", data={"settings": {"colour": "blue"}}))
    assert peer.expect(ERR).reason == "unknown setting: colour"
    peer.send(CFG(gateway="gw", data={"topology": {"version": 1, "root": "other",
                                                   "groups": []}, "settings": LOCAL}))
    assert peer.expect(ERR).reason == ('the topology is rooted at "other", not at this '
                                       'gateway "gw"')
    msgid = peer.send(CFG(gateway="gw", data={"settings": LOCAL}))
    assert peer.expect(ACK).ack == msgid
    peer.send(_shell(1, "n1", "echo ok"))
    assert outputs(peer.job(1, "n1")) == {"n1": b"ok\n"}


def test_the_gateway_sends_heartbeats() -> None:
    with GatewayPeer() as peer:
        peer.open({"transport": "local", "heartbeat": 0.1})
        msg = peer.inbox.get(timeout=10)
        while msg is not None and not isinstance(msg, HBT):
            msg = peer.inbox.get(timeout=10)
        assert isinstance(msg, HBT)


def _long_job(peer: GatewayPeer, tmp_path: Path, settings: dict[str, Any]) -> list[int]:
    """Start 3 targets that run until killed; their pids."""
    signal = Signal(tmp_path)
    pids = tmp_path / "pids"
    pids.mkdir()
    peer.open(settings)
    peer.send(_shell(1, _names(3), f"echo $$ > {pids}/$SHOAL_NODE; {signal.command}; "
                                   "exec sleep 300"))
    assert signal.wait(3)
    return [int(path.read_text()) for path in pids.iterdir()]


def test_when_the_parent_closes_stdin_the_gateway_kills_its_targets_and_exits(
        tmp_path: Path) -> None:
    with GatewayPeer() as peer:
        pids = _long_job(peer, tmp_path, LOCAL)
        assert peer.proc.stdin is not None
        peer.proc.stdin.close()
        assert peer.wait() == 1  # the stream ended without END
        assert all(wait_gone(pid) for pid in pids)


def test_when_the_parent_stalls_the_gateway_kills_its_targets_and_exits(
        tmp_path: Path) -> None:
    with GatewayPeer() as peer:
        pids = _long_job(peer, tmp_path, {"transport": "local", "stall": 3.0})
        assert peer.wait() == 1  # the test never sends a heartbeat
        assert all(wait_gone(pid) for pid in pids)


def test_shoal_gateway_runs_the_same_gateway() -> None:
    shoal = shutil.which("shoal", path=os.path.dirname(sys.executable))
    assert shoal is not None
    with GatewayPeer([shoal, "gateway"]) as peer:
        peer.open(SLOW)
        peer.send(_shell(1, _names(2), "echo via cli"))
        assert outputs(peer.job(1, _names(2))) == {"n1": b"via cli\n", "n2": b"via cli\n"}
        assert peer.close() == 0


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_000_000_000
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_copy_extracts_the_stream_written_to_the_job(peer: GatewayPeer, tmp_path: Path) -> None:
    peer.open(SLOW)
    data = _tar({"tree/a": b"alpha\n", "tree/b": b"beta\n" * 10_000})
    peer.send(CTL(job=1, action="copy", target="n1", data={"dest": str(tmp_path),
                                                           "names": ["tree"],
                                                           "preserve": True}))
    for start in range(0, len(data), 7000):
        peer.send(CTL(job=1, action="write", target="n1", data=data[start:start + 7000]))
    peer.send(CTL(job=1, action="eof", target="n1"))
    assert ends(peer.job(1, "n1")) == {"n1": (0, "ok", "")}
    assert (tmp_path / "tree" / "a").read_bytes() == b"alpha\n"
    assert (tmp_path / "tree" / "b").read_bytes() == b"beta\n" * 10_000
    assert (tmp_path / "tree" / "a").stat().st_mtime == 1_000_000_000


_NOT_NAMES = "copy: names must be a list of one or more file names"


@pytest.mark.parametrize("names, reason", [
    pytest.param([], _NOT_NAMES, id="none"),
    pytest.param(["../etc"], _NOT_NAMES, id="dot-dot"),
    pytest.param(["a/b"], _NOT_NAMES, id="a-path"),
    pytest.param(["."], _NOT_NAMES, id="dot"),
    pytest.param("tree", "copy: names must be a list", id="not-a-list"),
])
def test_a_copy_whose_names_are_not_file_names_is_refused(
        peer: GatewayPeer, tmp_path: Path, names: object, reason: str) -> None:
    peer.open(SLOW)
    peer.send(CTL(job=1, action="copy", target="n1", data={"dest": str(tmp_path),
                                                           "names": names}))
    assert peer.expect(ERR).reason == reason
    assert list(tmp_path.iterdir()) == []


def test_rcopy_sends_each_targets_tar_stream_for_that_node_alone(
        peer: GatewayPeer, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "big").write_bytes(os.urandom(300_000))
    peer.open(LOCAL)
    peer.send(CTL(job=1, action="rcopy", target=_names(2),
                  data={"source": str(tmp_path / "src"), "dest_name": "src"}))
    messages = peer.job(1, _names(2))
    assert all(m.nodes in ("n1", "n2") for m in messages if isinstance(m, OUT))
    for node, stream in outputs(messages).items():
        with tarfile.open(fileobj=io.BytesIO(stream)) as tar:
            member = tar.extractfile("src/big")
            assert member is not None, node
            assert member.read() == (tmp_path / "src" / "big").read_bytes()


def test_ssh_targets_on_the_testbed_and_an_unreachable_one(
        testbed: Testbed, closed_port: int) -> None:
    settings = {"ssh_config": str(testbed.ssh_config), "gather_delay": 30}
    with GatewayPeer() as peer:
        peer.open(settings)
        peer.send(_shell(1, "node[1-3]", "echo $((6*7)); exit 3"))
        messages = peer.job(1, "node[1-3]")
        assert [(m.TYPE, m.nodes) for m in messages] == [("OUT", "node[1-3]"),
                                                          ("RET", "node[1-3]")]
        assert messages[0].data == b"42\n" and messages[1].retcode == 3
    with GatewayPeer() as peer:
        peer.open({**settings, "port": closed_port})
        peer.send(_shell(1, "127.0.0.1", "true"))
        messages = peer.job(1, "127.0.0.1")
        retcode, status, reason = ends(messages)["127.0.0.1"]
        assert (retcode, status) == (255, "unreachable")
        assert reason == "connection refused"  # in the words of a flat run
        assert not [m for m in messages if isinstance(m, SER)]  # the reason says it


#: a gateway's interpreter: the system's python3, where shoal is not installed
SYSTEM_PYTHON = shutil.which("python3", path=os.defpath) or "python3"


def test_the_bundle_loader_runs_the_gateway_on_a_python_without_shoal() -> None:
    from shoal.tree.bundle import build_bundle, loader_command

    bundle = build_bundle("shoal.tree.gateway")
    with GatewayPeer(loader_command(bundle, SYSTEM_PYTHON), preamble=bundle.data) as peer:
        peer.open(SLOW)
        peer.send(_shell(1, _names(50), "echo zero install"))
        messages = peer.job(1, _names(50))
        assert [(m.TYPE, m.nodes) for m in messages] == [("OUT", "n[1-50]"),
                                                          ("RET", "n[1-50]")]
        assert peer.close() == 0
        assert bytes(peer.stderr) == b""


def _peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def test_a_root_that_stops_reading_holds_the_targets_back_not_the_gateways_memory(
        tmp_path: Path) -> None:
    size = 40 * 1024 * 1024
    with GatewayPeer() as peer:
        peer.open({"transport": "local", "gather_delay": 0.05})
        peer.reading.clear()
        peer.send(_shell(1, _names(2), f"head -c {size} /dev/zero; touch {tmp_path}/$SHOAL_NODE",
                         mode="stream"))
        # the gateway would have read it all by now if it did not wait for the root
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            assert not list(tmp_path.iterdir())
            time.sleep(0.1)
        peer.reading.set()
        messages = peer.job(1, _names(2))
        assert {node: len(data) for node, data in outputs(messages).items()} == {
            "n1": size, "n2": size}
        assert sorted(path.name for path in tmp_path.iterdir()) == ["n1", "n2"]
        assert _peak_rss_mib(peer.proc.pid) < 100  # 80 MiB went through


def test_an_open_job_takes_more_targets_until_the_last_ones(peer: GatewayPeer) -> None:
    peer.open(LOCAL)
    peer.send(_shell(1, "n[1-2]", "echo $SHOAL_NODE", open=True, fanout=1))
    assert isinstance(peer.expect(ACK), ACK)
    first = ends(peer.job(1, "n[1-2]"))  # they end; the job stays open
    more = peer.send(CTL(job=1, action="more", target="n[3-4]", data={"last": False}))
    assert peer.expect(ACK).ack == more
    twice = peer.send(CTL(job=1, action="more", target="n4,n5", data={"last": False}))
    assert peer.expect(ERR).about == twice  # n4 was given already: nothing done
    last = peer.send(CTL(job=1, action="more", target="n5", data={"last": True}))
    assert peer.expect(ACK).ack == last
    rest = peer.job(1, "n[3-5]")
    assert {**first, **ends(rest)} == {f"n{i}": (0, "ok", "") for i in range(1, 6)}
    assert outputs(rest) == {f"n{i}": f"n{i}\n".encode() for i in range(3, 6)}
    closed = peer.send(CTL(job=1, action="more", target="n6", data={"last": True}))
    assert peer.expect(ACK).ack == closed  # a job that is over: nothing to act on
    peer.send(_shell(2, "n1", "true"))
    refused = peer.send(CTL(job=2, action="more", target="n2", data={"last": True}))
    error = next(m for m in iter(peer.next, None) if isinstance(m, ERR))
    assert error.about == refused and error.reason == "job 2 takes no more targets"
    assert peer.close() == 0
