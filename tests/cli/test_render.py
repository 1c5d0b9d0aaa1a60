"""How ``shoal run`` writes output: lines too long to wait for, the output cap, and the
gatherer under the renderer; side by side with clush for long lines.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import support.cli as support_cli

from shoal.cli.display import Display
from shoal.cli.render import Layout, Renderer
from shoal.engine import PIECE_SIZE, Exited, NodeResult, Output, TaskResult
from shoal.nodeset import NodeSet
from shoal.testbed import Testbed

BIN = Path(sys.executable).parent
SEP = b"-" * 15
P = PIECE_SIZE


def shoal(*args: str) -> tuple[int, bytes, bytes]:
    """``shoal ARGS`` through its real entry point, in this process: status, out, err."""
    got = support_cli.shoal(*args)
    return got.status, got.out, got.err


def render(layout: Layout, events: list[Output | Exited], nodes: str = "n[1-2]",
           max_output: int | None = 1024) -> tuple[bytes, bytes]:
    """What the renderer writes for ``events``, then the end of a run where all returned 0."""
    out, err = io.BytesIO(), io.BytesIO()
    renderer = Renderer(Display(out, err), layout, NodeSet(nodes), max_output=max_output)
    for event in events:
        renderer.handle(event)
    renderer.finish(TaskResult([NodeResult(node, 0) for node in NodeSet(nodes)]))
    return out.getvalue(), err.getvalue()


# -- line mode --------------------------------------------------------------------------------


def test_a_line_in_pieces_is_labelled_once() -> None:
    pieces = [Output("n1", "stdout", b"x" * P), Output("n1", "stdout", b"x" * P),
              Output("n1", "stdout", b"yy\nnext\n")]
    out, _ = render(Layout(), pieces)
    assert out == b"n1: " + b"x" * 2 * P + b"yy\nn1: next\n"


def test_another_nodes_line_ends_an_unfinished_one_which_goes_on_under_a_new_label() -> None:
    events = [Output("n1", "stdout", b"aaa"), Output("n2", "stdout", b"b\n"),
              Output("n1", "stdout", b"ccc\n"), Output("n2", "stdout", b"dd"),
              Output("n1", "stdout", b"e\n"), Output("n2", "stdout", b"\n")]
    out, _ = render(Layout(), events)
    assert out == b"n1: aaa\nn2: b\nn1: ccc\nn2: dd\nn1: e\n"


def test_stderr_pieces_go_to_stderr_apart_from_stdout() -> None:
    events = [Output("n1", "stderr", b"err-"), Output("n1", "stdout", b"out\n"),
              Output("n1", "stderr", b"end\n")]
    assert render(Layout(), events) == (b"n1: out\n", b"n1: err-end\n")


def test_a_long_line_streams_through_shoal_run_byte_for_byte() -> None:
    status, out, err = shoal("run", "--transport", "local", "-w", "n1",
                             f"head -c {3 * P + 7} /dev/zero | tr '\\0' x; echo; echo end")
    assert (status, out, err) == (0, b"n1: " + b"x" * (3 * P + 7) + b"\nn1: end\n", b"")


# -- what is kept, and the cap ----------------------------------------------------------------


def test_gathered_output_past_max_output_is_cut_with_a_notice() -> None:
    events = [Output("n1", "stdout", b"x" * 2000 + b"\n"), Output("n2", "stdout", b"ok\n"),
              Exited("n1", 0), Exited("n2", 0)]
    out, err = render(Layout(gather=True), events)
    assert out == (SEP + b"\nn1\n" + SEP + b"\n" + b"x" * 1024 + b"\n"
                   + SEP + b"\nn2\n" + SEP + b"\nok\n")
    assert err == b"shoal: n1: output cut at 1 KiB (max_output)\n"


def test_output_that_stops_at_max_output_has_no_notice() -> None:
    events = [Output("n1", "stdout", b"x" * 1024), Output("n1", "stdout", b"\n"),
              Exited("n1", 0)]
    out, err = render(Layout(gather=True), events, nodes="n1")
    assert (out, err) == (SEP + b"\nn1\n" + SEP + b"\n" + b"x" * 1024 + b"\n", b"")


def test_by_node_output_is_cut_too_and_notices_fold_nodes() -> None:
    events = [Output("n1", "stdout", b"y" * 1500), Output("n2", "stdout", b"z" * 1500),
              Output("n1", "stdout", b"\n"), Output("n2", "stdout", b"\n"),
              Exited("n1", 0), Exited("n2", 0)]
    out, err = render(Layout(by_node=True), events)
    assert out == b"n1: " + b"y" * 1024 + b"\nn2: " + b"z" * 1024 + b"\n"
    assert err == b"shoal: n[1-2]: output cut at 1 KiB (max_output)\n"


def test_line_rows_past_max_output_are_cut() -> None:
    events = [Output("n1", "stdout", b"a\n" * 600), Exited("n1", 0), Exited("n2", 0)]
    out, err = render(Layout(gather=True, by_node=True), events)
    assert out == b"n1: a\n" * 512
    assert err == b"shoal: n1: output cut at 1 KiB (max_output)\n"


def test_shoal_conf_sets_max_output(tmp_path: Path) -> None:
    conf = tmp_path / "shoal.conf"
    conf.write_text("[Main]\nmax_output: 2K\n")
    command = "head -c 5000 /dev/zero | tr '\\0' x"
    status, out, err = shoal("run", "--conf", str(conf), "--transport", "local", "-b",
                             "-w", "n[1-2]", command)
    assert (status, out) == (0, SEP + b"\nn[1-2] (2)\n" + SEP + b"\n" + b"x" * 2048 + b"\n")
    assert err == b"shoal: n[1-2]: output cut at 2 KiB (max_output)\n"
    status, out, err = shoal("run", "--conf", str(conf), "--transport", "local", "--json",
                             "-w", "n1", command)
    record = json.loads(out)
    assert (record["stdout"], record["truncated"]) == ("x" * 2048, True)
    assert err == b"shoal: n1: output cut at 2 KiB (max_output)\n"
    conf.write_text("[Main]\nmax_output: 0\n")
    _, out, err = shoal("run", "--conf", str(conf), "--transport", "local", "--json",
                        "-w", "n1", command)
    assert (len(json.loads(out)["stdout"]), err) == (5000, b"")


@pytest.mark.parametrize("value", ["lots", "-1", "12X"])
def test_a_bad_max_output_is_one_line(value: str, tmp_path: Path) -> None:
    conf = tmp_path / "shoal.conf"
    conf.write_text(f"[Main]\nmax_output: {value}\n")
    status, _, err = shoal("run", "--conf", str(conf), "--transport", "local", "-w", "n1",
                           "true")
    reason = "must be 0 (no limit) or more" if value == "-1" else (
        "not a size in bytes (such as 65536, 64K, 64M or 1G)")
    assert (status, err.decode()) == (2, f'shoal: {conf} line 2: max_output "{value}": '
                                         f"{reason}\n")


# -- side by side with clush --------------------------------------------------------------------

#: a line of three pieces and a bit, then a short one, on each node
LONG_COMMAND = f"head -c {3 * P + 7} /dev/zero | tr '\\0' x; echo; echo end"


@pytest.mark.parametrize(
    ("options", "nodes"),
    [
        pytest.param([], "node1", id="lines"),
        pytest.param(["-b"], "node[1-3]", id="gather"),
        pytest.param(["-B"], "node[1-3]", id="gather-stderr"),
        pytest.param(["-L"], "node[1-3]", id="by-node"),
        pytest.param(["-b", "-L"], "node[1-3]", id="gather-by-line"),
    ],
)
def test_long_lines_same_output_as_clush(options: list[str], nodes: str,
                                         testbed: Testbed) -> None:
    clush = subprocess.run([str(BIN / "clush"), "-o", f"-F {testbed.ssh_config}", *options,
                            "-w", nodes, LONG_COMMAND], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=120, check=False)
    status, out, err = shoal("run", "-F", str(testbed.ssh_config), *options, "-w", nodes,
                             LONG_COMMAND)
    copies = 1 if {"-b", "-B"} & set(options) else len(NodeSet(nodes))
    assert clush.stdout.count(b"x") == (3 * P + 7) * copies  # the long line, whole
    assert (status, out, err) == (clush.returncode, clush.stdout, clush.stderr)
