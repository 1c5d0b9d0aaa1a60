"""What a task keeps of its nodes' output, and the output events it sends on.

Two ways in, one result per node (:class:`~shoal.engine.results.NodeResult`):

* :class:`Capture`: one node's output as it comes, in chunks, passed on as
  :class:`~shoal.engine.events.Output` events of whole lines (what
  :class:`~shoal.engine.AsyncTask` does for every node);
* :class:`GroupCapture`: output that arrives already grouped, a piece at a time for a
  whole node set (a propagation tree's gateways send each distinct output once, with the
  nodes that printed it). Each piece becomes one
  :class:`~shoal.engine.events.GroupOutput` event, whatever the number of nodes, and
  each node's result refers to the very pieces it printed: identical outputs share
  their bytes, they are never copied per node.

Both keep a node's output only as the task asks (``keep``: True, False, or
``"until_end"``: for the node's last event only), and at most ``limit`` bytes of it,
stdout and stderr together (None: no limit); past it the result says ``truncated``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Literal

from shoal.engine.events import Event, GroupExited, GroupOutput, Output
from shoal.engine.gather import Splitter, Stream
from shoal.engine.results import NodeResult
from shoal.nodeset import NodeSet

__all__ = ["Capture", "GroupCapture", "Keep"]

#: What a task keeps of each node's output: all (True), nothing (False), or only until
#: the node's last event (``"until_end"``).
Keep = bool | Literal["until_end"]

_STREAMS: tuple[Stream, Stream] = ("stdout", "stderr")


class Capture:
    """Passes one node's output on as :class:`Output` events of whole lines (or pieces of
    very long ones), and keeps it, up to ``limit`` bytes, when the task keeps output.

    >>> events = []
    >>> capture = Capture("n1", events.append, True, None)
    >>> capture.stdout(b"one\\ntw")
    >>> capture.flush(NodeResult("n1", rc=0)).stdout, [e.data for e in events]
    (b'one\\ntw', [b'one\\n', b'tw\\n'])
    """

    __slots__ = ("_emit", "_kept", "_room", "_splitters", "_until_end", "node", "truncated")

    def __init__(self, node: str, emit: Callable[[Event], None], keep: Keep,
                 limit: int | None) -> None:
        self.node = node
        self._emit = emit
        self._kept: dict[Stream, bytearray] | None = (
            {"stdout": bytearray(), "stderr": bytearray()} if keep else None)
        self._until_end = keep == "until_end"
        self._room = limit  # bytes that may still be kept; None: no limit
        self._splitters: dict[Stream, Splitter] = {"stdout": Splitter(), "stderr": Splitter()}
        self.truncated = False

    def stdout(self, data: bytes) -> None:
        """The node printed ``data`` on its standard output."""
        self._feed("stdout", data)

    def stderr(self, data: bytes) -> None:
        """The node printed ``data`` on its standard error."""
        self._feed("stderr", data)

    def _feed(self, stream: Stream, data: bytes) -> None:
        if self._kept is not None:
            self._keep(stream, data)
        for segment in self._splitters[stream].feed(data):
            self._emit(Output(self.node, stream, segment))

    def _keep(self, stream: Stream, data: bytes) -> None:
        assert self._kept is not None
        if self._room is not None:
            if len(data) > self._room:
                data = data[:self._room]
                self.truncated = True
            self._room -= len(data)
        self._kept[stream] += data

    def flush(self, result: NodeResult) -> NodeResult:
        """Emit the rest of a last line that lacked its newline, with one, and give the
        kept output: stored in ``result``, which is returned, or, when output is kept
        only until the end, in a copy of ``result`` for the node's last event."""
        for stream, splitter in self._splitters.items():
            rest = splitter.end()
            if rest is not None:
                self._emit(Output(self.node, stream, rest + b"\n"))
        if self._kept is None:
            return result
        shown = dataclasses.replace(result) if self._until_end else result
        shown.stdout = bytes(self._kept["stdout"])
        shown.stderr = bytes(self._kept["stderr"])
        shown.truncated = self.truncated
        self._kept = None
        return shown


class _Kept:
    """The pieces one node printed, as :class:`GroupCapture` keeps them."""

    __slots__ = ("chunks", "room", "truncated")

    def __init__(self, limit: int | None) -> None:
        self.chunks: dict[Stream, list[bytes]] = {"stdout": [], "stderr": []}
        self.room = limit
        self.truncated = False


class GroupCapture:
    """Output given a piece at a time for whole node sets: one :class:`GroupOutput` event
    per piece, and, when output is kept, each node's result made of the pieces it got.

    ::

        capture = GroupCapture(task_emit, keep=True, limit=None)
        capture.output(NodeSet("n[1-500]"), "stdout", b"same\\n")
        capture.close(NodeSet("n[1-500]"), 0)  # GroupExited(n[1-500], 0)
        result = capture.flush("n7", NodeResult("n7", rc=0))

    A node's kept output refers to the pieces themselves: one piece is its result's
    ``stdout`` as it stands, several are joined once for every node that got the same
    ones. :meth:`close` ends the last lines as :class:`Capture` does (a ``b"\\n"`` piece
    for the nodes whose output stopped mid-line; it is not kept).

    >>> events = []
    >>> capture = GroupCapture(events.append, True, None)
    >>> piece = b"same\\n"
    >>> capture.output(NodeSet("n[1-3]"), "stdout", piece)
    >>> capture.flush("n2", NodeResult("n2", rc=0)).stdout is piece
    True
    """

    def __init__(self, emit: Callable[[Event], None], keep: Keep, limit: int | None) -> None:
        self._emit = emit
        self._keep = bool(keep)
        self._until_end = keep == "until_end"
        self._limit = limit
        self._kept: dict[str, _Kept] = {}
        self._joined: dict[tuple[bytes, ...], bytes] = {}
        # the nodes whose output on each stream stops mid-line for now
        self._open: dict[Stream, NodeSet] = {stream: NodeSet() for stream in _STREAMS}

    def output(self, nodes: NodeSet, stream: Stream, data: bytes) -> None:
        """Every node of ``nodes`` printed ``data`` on ``stream``: one event for the set."""
        if not data or not nodes:
            return
        if data.endswith(b"\n"):
            if self._open[stream]:
                self._open[stream].difference_update(nodes)
        else:
            self._open[stream].update(nodes)
        self._emit(GroupOutput(nodes, stream, data))
        if self._keep:
            for node in nodes:
                self._add(node, stream, data)

    def _add(self, node: str, stream: Stream, data: bytes) -> None:
        kept = self._kept.get(node)
        if kept is None:
            kept = self._kept[node] = _Kept(self._limit)
        if kept.room is not None:
            if len(data) > kept.room:
                data = data[:kept.room]
                kept.truncated = True
            kept.room -= len(data)
        if data:
            kept.chunks[stream].append(data)

    def close(self, nodes: NodeSet, rc: int | None = None) -> None:
        """The output of ``nodes`` is over: their unfinished last lines end (a ``b"\\n"``
        piece), and with ``rc`` (they exited: not failed) a :class:`GroupExited` says so."""
        for stream in _STREAMS:
            unfinished = self._open[stream]
            if unfinished:
                ending = unfinished.intersection(nodes)
                if ending:
                    unfinished.difference_update(ending)
                    self._emit(GroupOutput(ending, stream, b"\n"))
        if rc is not None and nodes:
            self._emit(GroupExited(nodes, rc))

    def flush(self, node: str, result: NodeResult) -> NodeResult:
        """Give ``node``'s kept output: stored in ``result``, which is returned, or, when
        output is kept only until the end, in a copy of ``result``."""
        kept = self._kept.pop(node, None) if self._keep else None
        if kept is None:
            return result
        shown = dataclasses.replace(result) if self._until_end else result
        shown.stdout = self._join(kept.chunks["stdout"])
        shown.stderr = self._join(kept.chunks["stderr"])
        shown.truncated = kept.truncated
        return shown

    def _join(self, chunks: list[bytes]) -> bytes:
        """``chunks`` as one bytes object, shared by every node that got the same pieces."""
        if not chunks:
            return b""
        if len(chunks) == 1:
            return chunks[0]
        key = tuple(chunks)  # the pieces' hashes are cached, their equality is identity
        joined = self._joined.get(key)
        if joined is None:
            joined = self._joined[key] = b"".join(chunks)
        return joined
