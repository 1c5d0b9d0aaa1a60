"""clush's output formats, byte for byte, with no SSH: each method of Display on its own."""

from __future__ import annotations

import io
import json

import pytest

from shoal.cli.display import VERB_QUIET, VERB_STD, VERB_VERB, Display
from shoal.nodeset import NodeSet

SEP = "-" * 15
BLUE, RED, GREEN, BOLD, CYAN, RESET = "\033[94m", "\033[91m", "\033[92m", "\033[1m", "\033[96m", \
    "\033[0m"


def make(**options: object) -> tuple[Display, io.BytesIO, io.BytesIO]:
    out, err = io.BytesIO(), io.BytesIO()
    return Display(out, err, **options), out, err  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({}, b"node7: up\n", id="labelled"),
        pytest.param({"label": False}, b"up\n", id="no-label"),
        pytest.param({"color": True}, f"{BLUE}node7: {RESET}up\n".encode(), id="color"),
    ],
)
def test_line(options: dict[str, object], expected: bytes) -> None:
    display, out, err = make(**options)
    display.output("node7", b"up\n")
    assert (out.getvalue(), err.getvalue()) == (expected, b"")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({}, b"node7: oops\n", id="labelled"),
        pytest.param({"label": False}, b"oops\n", id="no-label"),
        pytest.param({"color": True}, f"{RED}node7: {RESET}oops\n".encode(), id="color"),
    ],
)
def test_error_line_goes_to_stderr(options: dict[str, object], expected: bytes) -> None:
    display, out, err = make(**options)
    display.output("node7", b"oops\n", error=True)
    assert (out.getvalue(), err.getvalue()) == (b"", expected)


def test_bytes_pass_through_unchanged() -> None:
    display, out, _ = make()
    display.output("n1", b"\xff\xfe\x00x\n")
    display.gathered(NodeSet("n[1-2]"), [b"\xc3(\n"])
    assert out.getvalue() == (b"n1: \xff\xfe\x00x\n" + f"{SEP}\nn[1-2] (2)\n{SEP}\n".encode()
                              + b"\xc3(\n")


@pytest.mark.parametrize(
    ("options", "nodes", "expected"),
    [
        pytest.param({}, "n[1-3]", f"{SEP}\nn[1-3] (3)\n{SEP}\na\nb\n", id="group"),
        pytest.param({}, "n1", f"{SEP}\nn1\n{SEP}\na\nb\n", id="one-node-no-count"),
        pytest.param({"verbosity": VERB_QUIET}, "n[1-3]", f"{SEP}\nn[1-3]\n{SEP}\na\nb\n",
                     id="quiet-no-count"),
        pytest.param({"node_count": False}, "n[1-3]", f"{SEP}\nn[1-3]\n{SEP}\na\nb\n",
                     id="node-count-off"),
        pytest.param({"label": False}, "n[1-3]", "a\nb\n", id="no-label"),
        pytest.param({"color": True}, "n[1-2]",
                     f"{BLUE}{SEP}\nn[1-2] (2)\n{SEP}{RESET}\na\nb\n", id="color"),
    ],
)
def test_block(options: dict[str, object], nodes: str, expected: str) -> None:
    display, out, _ = make(**options)
    display.gathered(NodeSet(nodes), [b"a\nb\n"])
    assert out.getvalue() == expected.encode()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({}, "n[1-2]: a\nn[1-2]: b\n", id="labelled"),
        pytest.param({"label": False}, "a\nb\n", id="no-label"),
        pytest.param({"color": True}, f"{BLUE}n[1-2]: {RESET}a\n{BLUE}n[1-2]: {RESET}b\n",
                     id="color"),
    ],
)
def test_labelled_lines(options: dict[str, object], expected: str) -> None:
    display, out, _ = make(**options)
    display.labelled_lines(NodeSet("n[1-2]"), [b"a", b"b"])
    assert out.getvalue() == expected.encode()


def test_diff_against_the_first_group() -> None:
    display, out, _ = make()
    display.diff([(NodeSet("n[1-3]"), [b"same", b"old"]), (NodeSet("n4"), [b"same", b"new"]),
                  (NodeSet("n5"), [])])
    assert out.getvalue().decode() == (
        "--- n[1-3] (3)\n+++ n4\n@@ -1,2 +1,2 @@\n same\n-old\n+new\n"
        "--- n[1-3] (3)\n+++ n5\n@@ -1,2 +0,0 @@\n-same\n-old\n")


def test_diff_in_color() -> None:
    display, out, _ = make(color=True)
    display.diff([(NodeSet("n1"), [b"old"]), (NodeSet("n2"), [b"new"])])
    assert out.getvalue().decode() == (
        f"{BOLD}--- n1{RESET}\n{BOLD}+++ n2{RESET}\n{CYAN}@@ -1 +1 @@{RESET}\n"
        f"{RED}-old{RESET}\n{GREEN}+new{RESET}\n")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({}, "shoal: n[1-2] (2): exited with exit code 1\n"
                         "shoal: n3: exited with exit code 7\n", id="standard"),
        pytest.param({"verbosity": VERB_QUIET}, "shoal: n[1-2]: exited with exit code 1\n"
                                                "shoal: n3: exited with exit code 7\n",
                     id="quiet-no-count"),
        pytest.param({"maxrc": True, "verbosity": VERB_QUIET}, "", id="maxrc-quiet-silent"),
        pytest.param({"maxrc": True}, "shoal: n[1-2] (2): exited with exit code 1\n"
                                      "shoal: n3: exited with exit code 7\n", id="maxrc"),
    ],
)
def test_exit_codes_skip_zero(options: dict[str, object], expected: str) -> None:
    display, out, err = make(**options)
    display.exit_codes([(0, NodeSet("n[4-5]")), (1, NodeSet("n[1-2]")), (7, NodeSet("n3"))])
    assert (out.getvalue(), err.getvalue().decode()) == (b"", expected)


def test_failures_fold_nodes_by_reason() -> None:
    display, _, err = make(verbosity=VERB_QUIET)
    display.failures([("connection refused", NodeSet("node[3,7]")),
                      ("command timed out after 5s", NodeSet("node9"))])
    assert err.getvalue() == (b"shoal: node[3,7]: connection refused\n"
                              b"shoal: node9: command timed out after 5s\n")


@pytest.mark.parametrize(
    ("level", "verbosity", "shown"),
    [(VERB_QUIET, VERB_QUIET, True), (VERB_STD, VERB_QUIET, False), (VERB_VERB, VERB_STD, False),
     (VERB_VERB, VERB_VERB, True)],
)
def test_message_and_note_follow_verbosity(level: int, verbosity: int, shown: bool) -> None:
    display, out, err = make(verbosity=verbosity, prog="clush")
    display.message("Working with nodes: n1", level)
    display.note("n1: exited with exit code 2", level)
    expected = (b"Working with nodes: n1\n", b"clush: n1: exited with exit code 2\n")
    assert (out.getvalue(), err.getvalue()) == (expected if shown else (b"", b""))


def test_json_result_text_and_base64() -> None:
    display, out, _ = make()
    display.json_result("n1", rc=0, stdout=b"caf\xc3\xa9\n", stderr=b"\xff\xfe", error=None,
                        status="ok", start=0.1234567, end=1.5)
    display.json_result("n2", rc=None, stdout=b"", stderr=b"", error="connection refused",
                        status="unreachable", start=0.0, end=0.25)
    first, second = out.getvalue().splitlines()
    assert json.loads(first) == {
        "node": "n1", "rc": 0, "stdout": "café\n", "stdout_base64": False, "stderr": "//4=",
        "stderr_base64": True, "error": None, "status": "ok", "start": 0.123457, "end": 1.5}
    assert list(json.loads(first)) == ["node", "rc", "stdout", "stdout_base64", "stderr",
                                       "stderr_base64", "error", "status", "start", "end"]
    assert json.loads(second)["error"] == "connection refused"
    assert json.loads(second)["rc"] is None
