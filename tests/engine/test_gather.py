"""Output gathering on its own (no task, no sshd): lines and pieces, groups, rows, the cap."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.engine import PIECE_SIZE, Gatherer, LineRows, Splitter, Stream, TaskResult
from shoal.engine.results import NodeResult
from shoal.nodeset import NodeSet

P = PIECE_SIZE
#: 1 MB in 10,000 lines of 100 bytes, and 1 MB without a newline
LINES_1MB = b"".join(b"%099d\n" % i for i in range(10_000))
ONE_LINE_1MB = b"x" * 1_000_000


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def units(segments: list[bytes]) -> list[bytes]:
    """Segments as lines (with their newline) and pieces: what must not depend on chunks."""
    found: list[bytes] = []
    for segment in segments:
        if segment.endswith(b"\n"):
            found.extend(line + b"\n" for line in segment[:-1].split(b"\n"))
        else:
            found.append(segment)
    return found


def split(data: bytes, size: int) -> tuple[list[bytes], bytes | None]:
    splitter = Splitter()
    segments = [seg for chunk in chunked(data, size) for seg in splitter.feed(chunk)]
    return segments, splitter.end()


# -- Splitter ---------------------------------------------------------------------------------

LONG = b"a\n" + b"y" * (3 * P + 123) + b"\nshort\n" + b"z" * (2 * P) + b"\n" + b"tail"


@pytest.mark.parametrize("size", [1000, 7 * 1024 + 3, P - 1, P, P + 1, 3 * P, len(LONG)])
def test_long_lines_are_cut_at_the_same_offsets_whatever_the_chunks(size: int) -> None:
    segments, rest = split(LONG, size)
    assert b"".join(segments) + (rest or b"") == LONG
    assert rest == b"tail"
    pieces = [seg for seg in segments if not seg.endswith(b"\n")]
    assert pieces == [b"y" * P] * 3 + [b"z" * P]  # a line of exactly 2P leaves P + "\n"
    assert units(segments) == units(split(LONG, len(LONG))[0])


@pytest.mark.parametrize(
    ("data", "pieces", "rest"),
    [
        pytest.param(b"x" * P + b"\n", 0, None, id="piece-size-line-is-whole"),
        pytest.param(b"x" * (P + 1) + b"\n", 1, None, id="one-byte-more-is-cut"),
        pytest.param(b"x" * (2 * P), 1, b"x" * P, id="unfinished-keeps-at-most-a-piece"),
        pytest.param(b"x" * (10 * P + 1), 10, b"x", id="1-gb-style-stream"),
        pytest.param(b"", 0, None, id="nothing"),
        pytest.param(b"a\nb", 0, b"b", id="last-line-without-newline"),
    ],
)
def test_pieces_and_the_rest(data: bytes, pieces: int, rest: bytes | None) -> None:
    segments, got_rest = split(data, 4096)
    assert [len(seg) for seg in segments if not seg.endswith(b"\n")] == [P] * pieces
    assert got_rest == rest


def test_a_line_in_pieces_always_keeps_its_last_bytes_for_its_end() -> None:
    splitter = Splitter()
    assert splitter.feed(b"x" * (P + 1)) == [b"x" * P]
    assert splitter.feed(b"\n") == [b"x\n"]
    assert splitter.end() is None
    assert splitter.feed(b"y" * (2 * P) + b"y") == [b"y" * P, b"y" * P]
    assert splitter.end() == b"y"


# -- Gatherer ---------------------------------------------------------------------------------


@pytest.mark.parametrize("output", [LINES_1MB, ONE_LINE_1MB], ids=["lines", "one-line"])
def test_300_nodes_with_the_same_output_store_it_once(output: bytes) -> None:
    gatherer = Gatherer()
    sizes = [4096, 65536, 100_000, 8191, 1_000_000]
    nodes = [f"n{i}" for i in range(1, 301)]
    for i, node in enumerate(nodes):  # each node's output comes in chunks of its own
        for chunk in chunked(output, sizes[i % len(sizes)]):
            gatherer.add(node, "stdout", chunk)
        gatherer.end(node, 0)
    [group] = gatherer.groups()
    assert (str(group.nodes), group.rc, group.output) == ("n[1-300]", 0, output)
    assert gatherer.stored_bytes == len(output)


def test_nodes_running_at_once_share_what_they_printed_so_far() -> None:
    gatherer = Gatherer()
    for chunk in chunked(LINES_1MB, 65536):
        for i in range(1, 101):
            gatherer.add(f"n{i}", "stdout", chunk)
    # 100 nodes mid-way: the shared blocks, plus less than a block each still being filled
    assert gatherer.stored_bytes < len(LINES_1MB) + 100 * 8 * 1024


def ended(gatherer: Gatherer, outputs: dict[str, tuple[int | None, bytes]]) -> Gatherer:
    for node, (rc, out) in outputs.items():
        gatherer.add(node, "stdout", out)
        gatherer.end(node, rc)
    return gatherer


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        pytest.param({"n1": (0, b"b\n"), "n2": (0, b"a\n"), "n3": (0, b"a\n")},
                     [("n[2-3]", b"a\n"), ("n1", b"b\n")], id="larger-first"),
        pytest.param({"n2": (0, b"b\n"), "n1": (0, b"a\n")},
                     [("n1", b"a\n"), ("n2", b"b\n")], id="then-first-node"),
        pytest.param({"n1": (3, b"a\n"), "n2": (1, b"a\n"), "n3": (1, b"a\n"),
                      "n4": (0, b"z\n")},
                     [("n4", b"z\n"), ("n[2-3]", b"a\n"), ("n1", b"a\n")], id="rc-first"),
        pytest.param({"n1": (None, b"a\n"), "n2": (0, b"a\n")},
                     [("n1", b"a\n"), ("n2", b"a\n")], id="no-rc-before-rc-0"),
        pytest.param({"n1": (0, b"a"), "n2": (0, b"a\n"), "n3": (0, b"")},
                     [("n1", b"a"), ("n2", b"a\n")], id="bytes-exact-silent-left-out"),
    ],
)
def test_groups_in_clush_order(outputs: dict[str, tuple[int | None, bytes]],
                               expected: list[tuple[str, bytes]]) -> None:
    groups = ended(Gatherer(), outputs).groups()
    assert [(str(g.nodes), g.output) for g in groups] == expected


def test_merged_streams_keep_the_order_lines_came_in() -> None:
    gatherer = Gatherer(("stdout", "stderr"))
    for node in ("n1", "n2"):
        gatherer.add(node, "stdout", b"out1\n")
        gatherer.add(node, "stderr", b"err\n")
        gatherer.add(node, "stdout", b"out2\n")
        gatherer.end(node, 0)
    assert [(str(g.nodes), g.lines()) for g in gatherer.groups()] == [
        ("n[1-2]", [b"out1", b"err", b"out2"])]


def test_other_streams_are_ignored_and_failed_nodes_discarded() -> None:
    gatherer = Gatherer()
    gatherer.add("n1", "stderr", b"noise\n")
    gatherer.add("n1", "stdout", b"ok\n")
    gatherer.add("n2", "stdout", b"half")
    gatherer.discard("n2")
    gatherer.end("n1", 0)
    assert [(str(g.nodes), g.output) for g in gatherer.groups()] == [("n1", b"ok\n")]
    assert gatherer.stored_bytes == 3


def test_past_max_output_a_node_is_cut_and_the_others_go_on() -> None:
    gatherer = Gatherer(max_output=10)
    gatherer.add("n1", "stdout", b"0123456\n")
    gatherer.add("n1", "stdout", b"789abc\n")
    gatherer.add("n1", "stdout", b"more\n")
    gatherer.add("n2", "stdout", b"small\n")
    for node in ("n1", "n2"):
        gatherer.end(node, 0)
    assert [(str(g.nodes), g.output) for g in gatherer.groups()] == [
        ("n1", b"0123456\n78"), ("n2", b"small\n")]
    assert str(gatherer.cut) == "n1"


def test_output_that_stops_at_max_output_is_not_cut() -> None:
    gatherer = Gatherer(max_output=4)
    gatherer.add("n1", "stdout", b"abcd")
    gatherer.add("n1", "stdout", b"\n")  # the newline a task adds to a last line
    gatherer.add("n2", "stdout", b"abcd\nx")
    for node in ("n1", "n2"):
        gatherer.end(node, 0)
    assert [(str(g.nodes), g.output) for g in gatherer.groups()] == [("n[1-2]", b"abcd\n")]
    assert str(gatherer.cut) == "n2"


def test_a_huge_line_past_max_output_holds_only_the_cap() -> None:
    gatherer = Gatherer(max_output=3 * P)
    for _ in range(100):  # 100 pieces' worth of one line, never ended
        gatherer.add("n1", "stdout", b"x" * P)
    gatherer.end("n1", 0)
    assert gatherer.stored_bytes == 3 * P
    assert str(gatherer.cut) == "n1"


def test_diff_groups_add_silent_nodes_once_there_is_a_reference() -> None:
    gatherer = ended(Gatherer(), {"n1": (0, b""), "n2": (0, b"a\nb\n"), "n3": (0, b"a\nb\n"),
                                  "n4": (1, b"c\n"), "n5": (1, b"")})
    assert [(str(ns), lines) for ns, lines in gatherer.diff_groups()] == [
        ("n[2-3]", [b"a", b"b"]), ("n1", []), ("n4", [b"c"]), ("n5", [])]


def test_chunks_of_one_node_and_by_rc() -> None:
    gatherer = ended(Gatherer(), {"n1": (2, LINES_1MB), "n2": (0, b"")})
    assert b"".join(gatherer.chunks("n1")) == LINES_1MB
    assert (gatherer.chunks("n2"), gatherer.chunks("nobody")) == ([], [])
    assert [(rc, str(ns)) for rc, ns in gatherer.by_rc()] == [(0, "n2"), (2, "n1")]


def test_task_result_gather_builds_on_the_gatherer() -> None:
    result = TaskResult([NodeResult("n1", 0, b"x\nx"), NodeResult("n2", 0, b"x\nx"),
                         NodeResult("n3", None, b"lost", b"err")])
    assert [(str(ns), out) for ns, out in result.gather()] == [("n3", b"lost"),
                                                               ("n[1-2]", b"x\nx")]
    assert [(str(ns), out) for ns, out in result.gather("stderr")] == [("n3", b"err")]


# grouped input: a gateway's messages, each for a node set, against the same node by node

NAMES = [f"n{i}" for i in range(1, 9)]
_SUBSETS = st.sets(st.sampled_from(NAMES), min_size=1)
_PIECES = st.sampled_from([b"a\n", b"b", b"x" * 9 + b"\n", b"\n", b"c\nd"])
_STEPS = st.lists(st.one_of(
    st.tuples(st.just("add"), _SUBSETS, st.sampled_from(["stdout", "stderr"]), _PIECES),
    st.tuples(st.just("end"), _SUBSETS, st.sampled_from([None, 0, 1]), st.just(b"")),
    st.tuples(st.just("discard"), _SUBSETS, st.just(None), st.just(b"")),
), max_size=25)


def _shown(gatherer: Gatherer) -> tuple[object, ...]:
    return ([(str(g.nodes), g.rc, g.output) for g in gatherer.groups()],
            [(rc, str(nodes)) for rc, nodes in gatherer.by_rc()],
            [b"".join(gatherer.chunks(name)) for name in NAMES], str(gatherer.cut),
            [(str(nodes), lines) for nodes, lines in gatherer.diff_groups()])


@settings(max_examples=150, deadline=None)
@given(steps=_STEPS, merged=st.booleans(), cap=st.sampled_from([None, 12]))
def test_output_given_for_node_sets_gathers_as_given_node_by_node(
        steps: list[tuple[str, set[str], object, bytes]], merged: bool,
        cap: int | None) -> None:
    streams: tuple[Stream, ...] = ("stdout", "stderr") if merged else ("stdout",)
    grouped, single = (Gatherer(streams, max_output=cap) for _ in range(2))
    for op, names, arg, data in steps:
        nodes = NodeSet.fromlist(sorted(names))
        if op == "add":
            stream: Stream = "stdout" if arg == "stdout" else "stderr"
            grouped.add_group(nodes, stream, data)
            for name in nodes:
                single.add(name, stream, data)
        elif op == "end":
            rc = arg if isinstance(arg, int) else None
            half = len(nodes) // 2
            grouped.end_group(nodes[:half], rc)  # some of it set by set, some node by node
            for name in nodes[half:]:
                grouped.end(name, rc)
            for name in nodes:
                single.end(name, rc)
        else:
            for name in nodes:
                grouped.discard(name)
                single.discard(name)
    assert _shown(grouped) == _shown(single)


def test_a_node_set_is_stored_once_whatever_its_size() -> None:
    gatherer = Gatherer()
    everyone = NodeSet("n[1-100000]")
    gatherer.add_group(everyone, "stdout", b"same\n" * 1000)
    gatherer.end_group(NodeSet("n[1-99999]"), 0)
    gatherer.end("n100000", 2)
    gatherer.end("n5", 0)  # told again, node by node: nothing changes
    assert [(str(g.nodes), g.rc, len(g.output)) for g in gatherer.groups()] == [
        ("n[1-99999]", 0, 5000), ("n100000", 2, 5000)]
    assert gatherer.stored_bytes == 5000


# -- LineRows ---------------------------------------------------------------------------------


def shown(rows: Sequence[Sequence[tuple[object, bytes]]]) -> list[list[tuple[str, bytes]]]:
    return [[(str(nodes), line) for nodes, line in row] for row in rows]


def test_rows_wait_for_every_running_node() -> None:
    rows = LineRows(["n1", "n2", "n3"])
    rows.add("n1", "stdout", b"a\nb\n")
    rows.add("n3", "stdout", b"a\n")
    assert rows.ready() == []
    rows.add("n2", "stdout", b"z\n")
    assert shown(rows.ready()) == [[("n[1,3]", b"a"), ("n2", b"z")]]
    rows.end("n2")
    rows.end("n3")
    assert shown(rows.ready()) == [[("n1", b"b")]]
    assert rows.rest() == []


def test_a_long_line_in_pieces_is_one_row_line() -> None:
    rows = LineRows(["n1", "n2"])
    line = b"q" * (3 * P + 5)
    for node in ("n1", "n2"):
        for chunk in chunked(line + b"\nend", 10_000):
            rows.add(node, "stdout", chunk)
        rows.end(node)
    assert shown(rows.ready()) == [[("n[1-2]", line)], [("n[1-2]", b"end")]]


def test_rows_held_for_a_slow_node_count_against_max_output() -> None:
    rows = LineRows(["fast", "slow"], max_output=100)
    for _ in range(50):
        rows.add("fast", "stdout", b"0123456789\n")  # 550 bytes held for slow, cut at 100
    assert str(rows.cut) == "fast"
    rows.end("slow")
    assert len(rows.ready()) == 9  # 9 lines of 11 bytes, and one byte of the 10th
    rows.end("fast")
    assert shown(rows.ready()) == [[("fast", b"0")]]


def test_rows_shown_as_they_come_free_their_room() -> None:
    rows = LineRows(["n1"], max_output=100)
    for _ in range(1000):
        rows.add("n1", "stdout", b"0123456789\n")
        assert len(rows.ready()) == 1
    assert str(rows.cut) == ""
