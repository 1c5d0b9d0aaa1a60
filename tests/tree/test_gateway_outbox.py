"""A gateway's grouping of one job's output into messages, window by window (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from shoal.nodeset import NodeSet
from shoal.tree.messages import OUT, RET, SER, TIM, Message
from shoal.tree.outbox import MAX_MESSAGE, Outbox


def _expand(text: str) -> list[str]:
    return list(NodeSet(text))


def _summary(messages: Sequence[Message]) -> list[tuple[object, ...]]:
    found: list[tuple[object, ...]] = []
    for msg in messages:
        if isinstance(msg, (OUT, SER)):
            found.append((msg.TYPE, msg.nodes, msg.data))
        elif isinstance(msg, RET):
            found.append(("RET", msg.nodes, msg.retcode, msg.status, msg.data))
        elif isinstance(msg, TIM):
            found.append(("TIM", msg.nodes))
    return found


def test_gather_sends_nothing_until_targets_end_then_groups_them() -> None:
    box = Outbox(1, "gather")
    for i in range(1, 5):
        box.output(f"n{i}", "stdout", b"up\n" if i < 4 else b"down\n")
        box.output(f"n{i}", "stderr", b"warn\n")
    assert box.flush() == []
    for i in range(1, 4):
        box.ended(f"n{i}", 0)
    assert _summary(box.flush()) == [("OUT", "n[1-3]", b"up\n"), ("SER", "n[1-3]", b"warn\n"),
                                     ("RET", "n[1-3]", 0, "ok", "")]
    box.ended("n4", 1)
    assert _summary(box.flush()) == [("OUT", "n4", b"down\n"), ("SER", "n4", b"warn\n"),
                                     ("RET", "n4", 1, "ok", "")]
    assert box.empty


def test_gather_keeps_the_output_of_timeouts_and_drops_that_of_failures() -> None:
    box = Outbox(1, "gather")
    for node in ("n1", "n2", "n3"):
        box.output(node, "stdout", b"partial")
    box.ended("n1", 130, "timeout", "timed out")
    box.ended("n2", 255, "unreachable", "ssh: connect to host n2: refused")
    box.ended("n3", 130, "interrupted", "interrupted")
    assert _summary(box.flush()) == [
        ("OUT", "n1", b"partial"),
        ("RET", "n2", 255, "unreachable", "ssh: connect to host n2: refused"),
        ("RET", "n3", 130, "interrupted", "interrupted"),
        ("TIM", "n1")]


def test_stream_sends_each_windows_complete_lines_grouped_by_batch() -> None:
    box = Outbox(1, "stream")
    for node in ("n1", "n2", "n3"):
        box.output(node, "stdout", b"one\ntw")
    box.output("n3", "stdout", b"o\n")
    assert _summary(box.flush()) == [("OUT", "n[1-2]", b"one\n"), ("OUT", "n3", b"one\ntwo\n")]
    box.output("n1", "stdout", b"o\n")
    box.ended("n1", 0)
    box.output("n2", "stdout", b"o!")  # its last line has no newline
    box.ended("n2", 0)
    assert _summary(box.flush()) == [("OUT", "n1", b"two\n"), ("OUT", "n2", b"two!"),
                                     ("RET", "n[1-2]", 0, "ok", "")]


def test_stream_drops_what_an_unreachable_target_printed_in_this_window() -> None:
    box = Outbox(1, "stream")
    box.output("n1", "stderr", b"ssh: connect to host n1 port 22: Connection refused\r\n")
    box.ended("n1", 255, "unreachable", "ssh: connect to host n1 port 22: Connection refused")
    assert [m.TYPE for m in box.flush()] == ["RET"]


def test_raw_sends_each_targets_bytes_alone_and_long_outputs_in_pieces() -> None:
    box = Outbox(1, "raw")
    data = bytes(range(256)) * ((MAX_MESSAGE + 1000) // 256)
    box.output("n1", "stdout", data)
    box.output("n2", "stdout", data[:10])
    box.output("n3", "stdout", data[:10])  # the same bytes, and yet its own message
    assert box.urgent is False
    messages: list[Any] = box.flush()
    assert [(m.nodes, len(m.data)) for m in messages] == [
        ("n1", MAX_MESSAGE), ("n1", len(data) - MAX_MESSAGE), ("n2", 10), ("n3", 10)]
    assert b"".join(m.data for m in messages if m.nodes == "n1") == data


def test_relayed_ends_merge_with_this_gateways_and_output_passes_as_it_is() -> None:
    box = Outbox(1, "gather")
    box.output("n1", "stdout", b"same\n")
    box.ended("n1", 0)
    box.relay(OUT(msgid=17, job=1, nodes="m[1-9]", data=b"same\n"), _expand("m[1-9]"))
    box.relay(RET(msgid=18, job=1, nodes="m[1-9]", retcode=0), _expand("m[1-9]"))
    box.relay(TIM(msgid=19, job=1, nodes="m10"), ["m10"])
    messages = box.flush()
    assert _summary(messages) == [("OUT", "m[1-9],n1", b"same\n"),
                                  ("RET", "m[1-9],n1", 0, "ok", ""), ("TIM", "m10")]


def test_merged_output_keeps_each_nodes_pieces_in_order() -> None:
    box = Outbox(1, "stream")
    box.relay(OUT(job=1, nodes="a1", data=b"B\n"), ["a1"])  # a1 printed B, then A
    box.relay(OUT(job=1, nodes="a1", data=b"A\n"), ["a1"])
    box.relay(OUT(job=1, nodes="b1", data=b"B\n"), ["b1"])  # b1: B joins a1's B
    box.relay(OUT(job=1, nodes="b1", data=b"A\n"), ["b1"])  # then A joins a1's A
    box.relay(OUT(job=1, nodes="c1", data=b"A\n"), ["c1"])
    box.relay(OUT(job=1, nodes="c1", data=b"B\n"), ["c1"])  # c1's B after its A: a new one
    box.relay(OUT(job=1, nodes="a1", data=b"A\n"), ["a1"])  # a1's A again: after its first
    assert _summary(box.flush()) == [("OUT", "a1,b1", b"B\n"), ("OUT", "a1,b1,c1", b"A\n"),
                                     ("OUT", "c1", b"B\n"), ("OUT", "a1", b"A\n")]


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="no such mode"):
        Outbox(1, "burst")


def test_merged_gather_keeps_each_targets_streams_in_order_and_groups_by_both() -> None:
    box = Outbox(1, "gather", merge=True)
    for node in ("n1", "n2", "n3"):
        box.output(node, "stdout", b"one\nha")
        box.output(node, "stderr", b"err\n")
        box.output(node, "stdout", b"lf\n" if node != "n3" else b"LF\n")
        box.output(node, "stderr", b"no newline")
        box.ended(node, 0)
    assert _summary(box.flush()) == [
        ("OUT", "n[1-3]", b"one\n"), ("SER", "n[1-3]", b"err\n"),
        ("OUT", "n[1-2]", b"half\n"), ("SER", "n[1-2]", b"no newline"),
        ("OUT", "n3", b"haLF\n"), ("SER", "n3", b"no newline"),
        ("RET", "n[1-3]", 0, "ok", "")]


def test_merged_stream_sends_each_windows_lines_in_the_order_they_came() -> None:
    box = Outbox(1, "stream", merge=True)
    box.output("n1", "stderr", b"first\n")
    box.output("n1", "stdout", b"second\nthi")
    assert _summary(box.flush()) == [("SER", "n1", b"first\n"), ("OUT", "n1", b"second\n")]
    box.output("n1", "stdout", b"rd\n")
    box.output("n1", "stderr", b"last")
    box.ended("n1", 0)
    assert _summary(box.flush()) == [("OUT", "n1", b"third\n"), ("SER", "n1", b"last"),
                                     ("RET", "n1", 0, "ok", "")]
    assert box.empty
