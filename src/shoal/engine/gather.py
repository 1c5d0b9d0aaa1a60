"""Output gathering: the output of many nodes, grouped by identical content as it comes.

Pure: no asyncio, no I/O. The input is ``(node, stream, bytes)`` in any chunks, from a
task's :class:`~shoal.engine.events.Output` events or from a gateway's messages; the
output is groups of (:class:`~shoal.nodeset.NodeSet`, output), ordered as clush prints
them.

* :class:`Splitter` cuts one stream into whole lines, and lines longer than
  :data:`PIECE_SIZE` into pieces cut at fixed offsets from the line's start, so that no
  one holds more than a piece of an unfinished line and identical long lines still cut
  the same way.
* :class:`Gatherer` groups nodes by byte-identical output (clush's ``-b``, ``-B``, ``-L``
  and ``--diff``). As in ClusterShell's MsgTree, outputs are paths in a tree whose
  elements each hold a block of whole lines (about 8 KiB); a node points to the last
  element of its path. Nodes that print the same lines share their path: memory grows
  with the distinct outputs, not with the number of nodes.
* :class:`LineRows` groups the n-th lines of the nodes (``-bL``) and lets each row go as
  soon as every node still running has printed it.

What one node may have kept is capped (``max_output`` bytes, :data:`DEFAULT_MAX_OUTPUT`
unless told otherwise; None: no limit): past it the node's output is cut, the node is
listed in ``cut``, and the others go on.

>>> g = Gatherer()
>>> g.add("n1", "stdout", b"same\\n")
>>> g.add("n2", "stdout", b"sa")
>>> g.add("n2", "stdout", b"me\\n")
>>> g.add("n3", "stdout", b"other\\n")
>>> for node, rc in (("n1", 0), ("n2", 0), ("n3", 1)):
...     g.end(node, rc)
>>> [(str(group.nodes), group.rc, group.output) for group in g.groups()]
[('n[1-2]', 0, b'same\\n'), ('n3', 1, b'other\\n')]
>>> g.stored_bytes  # "same\\n" once for two nodes
11
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Iterator
from typing import Literal, TypeAlias

from shoal.nodeset import NodeSet

__all__ = ["DEFAULT_MAX_OUTPUT", "PIECE_SIZE", "Gatherer", "Group", "LineRows", "Splitter",
           "Stream"]

#: Bytes of output one node may have kept, unless told otherwise (64 MiB).
DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024

#: A line longer than this travels and is stored in pieces of this size.
PIECE_SIZE = 64 * 1024

#: A tree element closes at the first line end (or piece end) past this many bytes.
_BLOCK_SIZE = 8 * 1024

#: Where a node's output comes from.
Stream: TypeAlias = 'Literal["stdout", "stderr"]'

_STDOUT: tuple[Stream, ...] = ("stdout",)


class Splitter:
    """Cuts one stream of bytes into whole lines, and lines too long to wait for into pieces.

    :meth:`feed` returns segments in order: each either ends with a newline and holds one or
    more whole lines (the first may end a line whose pieces came before), or is a *piece*
    of :data:`PIECE_SIZE` bytes without a newline, from a line longer than that. Pieces
    are cut at fixed offsets from the line's start, whatever the chunks, and the splitter
    never holds more than :data:`PIECE_SIZE` bytes.

    >>> s = Splitter()
    >>> s.feed(b"a\\nb"), s.feed(b"c\\nd"), s.end()
    ([b'a\\n'], [b'bc\\n'], b'd')
    >>> [len(seg) for seg in s.feed(b"x" * (PIECE_SIZE * 2 + 5))], s.end()
    ([65536, 65536], b'xxxxx')
    """

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        # the unfinished line, after its pieces given so far: a piece is cut only once
        # more than PIECE_SIZE bytes are known, so a line under way always has some here
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The whole lines and pieces that ``data`` completes."""
        segments: list[bytes] = []
        if len(data) <= PIECE_SIZE:
            self._window(data, segments)
        else:  # in windows of PIECE_SIZE: only a window's first and last lines can be long
            view = memoryview(data)
            for start in range(0, len(data), PIECE_SIZE):
                self._window(bytes(view[start:start + PIECE_SIZE]), segments)
        return segments

    def _window(self, data: bytes, segments: list[bytes]) -> None:
        """Feed at most PIECE_SIZE bytes: lines between its first and last newline are short."""
        pending = self._pending
        first = data.find(b"\n")
        if first < 0:
            pending += data
            if len(pending) > PIECE_SIZE:  # at most one piece: both parts hold PIECE_SIZE
                segments.append(bytes(pending[:PIECE_SIZE]))
                del pending[:PIECE_SIZE]
            return
        last = data.rfind(b"\n")
        if not pending:
            segments.append(data if last == len(data) - 1 else data[:last + 1])
        elif len(pending) + first <= PIECE_SIZE:
            segments.append(bytes(pending) + data[:last + 1])
        else:  # the first line is long: one more piece, then its end with the others
            pending += data[:first]
            segments.append(bytes(pending[:PIECE_SIZE]))
            segments.append(bytes(pending[PIECE_SIZE:]) + data[first:last + 1])
        pending[:] = data[last + 1:]

    def copy(self) -> Splitter:
        """A splitter in the same state (the same unfinished line)."""
        other = Splitter()
        other._pending[:] = self._pending
        return other

    def end(self) -> bytes | None:
        """The stream ended: the rest of its unfinished last line, without a newline, or
        None when the stream ended with a newline (or was empty)."""
        if not self._pending:
            return None
        rest = bytes(self._pending)
        self._pending.clear()
        return rest


class _Element:
    """A block of one or more nodes' output, after the blocks of its parents."""

    __slots__ = ("children", "data", "parent")

    def __init__(self, data: bytes, parent: _Element | None) -> None:
        self.data = data
        self.parent = parent
        self.children: dict[bytes, _Element] | None = None

    def blocks(self) -> list[bytes]:
        """The blocks from the root's first child down to this element."""
        found = []
        elem: _Element | None = self
        while elem is not None and elem.parent is not None:
            found.append(elem.data)
            elem = elem.parent
        found.reverse()
        return found


class Group:
    """Nodes whose output is byte-identical, and that output, from a :class:`Gatherer`."""

    __slots__ = ("_element", "nodes", "rc")

    def __init__(self, nodes: NodeSet, rc: int | None, element: _Element) -> None:
        self.nodes = nodes  #: the nodes, folded
        self.rc = rc  #: their return code (None: they ended without one)
        self._element = element

    def __repr__(self) -> str:
        return f"<Group {self.nodes} rc={self.rc} {len(self.output)} bytes>"

    def chunks(self) -> list[bytes]:
        """The output, in the blocks it is stored in (joined, they are :attr:`output`)."""
        return self._element.blocks()

    @property
    def output(self) -> bytes:
        """The output, whole."""
        return b"".join(self.chunks())

    def lines(self) -> list[bytes]:
        """The lines of the output, without their newlines."""
        return _lines(self.output)


def _union(names: list[str], sets: list[NodeSet]) -> NodeSet:
    """The node set of ``names`` and ``sets`` together."""
    found = NodeSet.fromlist(names)
    for nodes in sets:
        found.update(nodes)
    return found


def _lines(data: bytes) -> list[bytes]:
    """The lines of ``data``; a last line without its newline counts."""
    return data[:-1].split(b"\n") if data.endswith(b"\n") else data.split(b"\n")


def _within(limit: int | None, used: int, data: bytes) -> bytes:
    """The part of ``data`` that fits when ``used`` bytes of ``limit`` are taken, and the
    newline right after it (it ends the last line kept: output that stops at the limit
    is not cut)."""
    if limit is None or used + len(data) <= limit:
        return data
    room = max(0, limit - used)
    return data[:room + 1] if data[room:room + 1] == b"\n" and used <= limit else data[:room]


class _NodeState:
    """What a :class:`Gatherer` holds for one node, or for a node set that printed alike
    (``nodes``: the set, None for one node)."""

    __slots__ = ("cut", "element", "ended", "nodes", "pending", "rc", "size", "splitters")

    def __init__(self, root: _Element, nodes: NodeSet | None = None) -> None:
        self.element = root  # the last closed block of the node's output
        self.pending = bytearray()  # the block being filled
        self.splitters: dict[Stream, Splitter] = {}
        self.size = 0  # bytes taken
        self.rc: int | None = None
        self.ended = False
        self.cut = False  # past max_output: the rest is dropped
        self.nodes = nodes

    def copy(self, nodes: NodeSet | None) -> _NodeState:
        """The same output so far, for ``nodes`` (part of this state's set)."""
        other = _NodeState(self.element, nodes)
        other.pending = bytearray(self.pending)
        other.splitters = {stream: s.copy() for stream, s in self.splitters.items()}
        other.size, other.rc, other.ended, other.cut = self.size, self.rc, self.ended, self.cut
        return other


class Gatherer:
    """Nodes grouped by byte-identical output, as they print (clush ``-b``, ``-B``, ``-L``).

    :param streams: the streams gathered; with both, a node's lines on either come in
        the order they are added (clush ``-B``). Output on other streams is ignored.
    :param max_output: bytes one node's output may take (None: no limit); the rest is cut
        and the node listed in :attr:`cut`.

    Nodes with identical output share its storage: :attr:`stored_bytes` counts what the
    gatherer holds, whatever the number of nodes. Output that arrives already grouped
    (a gateway's) is given once for its whole node set (:meth:`add_group`,
    :meth:`end_group`): the gatherer then keeps one state for the set, not one per node,
    and splits it only where later pieces name part of it.

    >>> g = Gatherer()
    >>> g.add_group(NodeSet("n[1-1000]"), "stdout", b"same\\n")
    >>> g.end_group(NodeSet("n[1-999]"), 0)
    >>> g.end_group(NodeSet("n1000"), 1)
    >>> [(str(group.nodes), group.rc, group.output) for group in g.groups()]
    [('n[1-999]', 0, b'same\\n'), ('n1000', 1, b'same\\n')]
    """

    def __init__(self, streams: Collection[Stream] = _STDOUT, *,
                 max_output: int | None = DEFAULT_MAX_OUTPUT) -> None:
        self.streams = frozenset(streams)
        self.max_output = max_output
        self._root = _Element(b"", None)
        self._nodes: dict[str, _NodeState] = {}
        self._sets: list[_NodeState] = []  # states of node sets, disjoint from _nodes
        self._covered = NodeSet()  # every node a set state was made for (or more)
        # ended set states by (rc, element, cut): a set that ends alike joins the one there
        self._alike: dict[tuple[int | None, _Element, bool], _NodeState] = {}
        self._cut: list[str | NodeSet] = []
        self.stored_bytes = 0  #: bytes held: the distinct blocks and the blocks being filled

    def _state(self, node: str) -> _NodeState:
        state = self._nodes.get(node)
        if state is None:
            state = self._take(node)
            if state is None:
                state = _NodeState(self._root)
            self._nodes[node] = state
        return state

    def _take(self, node: str) -> _NodeState | None:
        """The state of ``node``, taken out of the set state that holds it, if one does."""
        if not self._sets:
            return None
        one = NodeSet.fromlist([node])
        for state in self._sets:
            if state.nodes is not None and state.nodes.issuperset(one):
                part = self._split(state, one)
                self._sets.remove(part)
                part.nodes = None
                return part
        return None

    def _split(self, state: _NodeState, part: NodeSet) -> _NodeState:
        """The state of ``part``, nodes of set state ``state``: ``state`` itself when it is
        all of it, else a copy that ``state`` no longer covers."""
        assert state.nodes is not None
        if len(part) == len(state.nodes):
            return state
        state.nodes.difference_update(part)
        other = state.copy(part)
        self.stored_bytes += len(other.pending)
        self._sets.append(other)
        return other

    def _states(self, nodes: NodeSet) -> list[tuple[_NodeState, str | None]]:
        """The states that cover ``nodes`` exactly, split where needed (new nodes get one
        set state together), each with its node's name if it is a single node's."""
        found: list[tuple[_NodeState, str | None]] = []
        rest = nodes.copy()
        if not self._nodes and (not self._sets or rest.isdisjoint(self._covered)):
            self._covered.update(rest)  # nodes never seen: one new state, nothing to split
            state = _NodeState(self._root, rest)
            self._sets.append(state)
            return [(state, None)]
        for state in list(self._sets):
            assert state.nodes is not None
            common = state.nodes.intersection(rest)
            if common:
                found.append((self._split(state, common), None))
                rest.difference_update(common)
                if not rest:
                    return found
        if self._nodes:
            names = ([name for name in rest if name in self._nodes]
                     if len(rest) <= len(self._nodes) else
                     [name for name in self._nodes if name in rest])
            if names:
                found.extend((self._nodes[name], name) for name in names)
                rest.difference_update(NodeSet.fromlist(names))
        if rest:
            self._covered.update(rest)
            state = _NodeState(self._root, rest)
            self._sets.append(state)
            found.append((state, None))
        return found

    def add(self, node: str, stream: Stream, data: bytes) -> None:
        """``node`` printed ``data`` on ``stream``."""
        if stream not in self.streams or not data:
            return
        self._feed(self._state(node), node, stream, data)

    def add_group(self, nodes: NodeSet, stream: Stream, data: bytes) -> None:
        """Every node of ``nodes`` printed ``data`` on ``stream``: stored once for the set,
        whatever its size (each node's output as with :meth:`add`)."""
        if stream not in self.streams or not data or not nodes:
            return
        for state, name in self._states(nodes):
            self._feed(state, name, stream, data)

    def _feed(self, state: _NodeState, node: str | None, stream: Stream, data: bytes) -> None:
        """Add ``data`` to the output of ``state`` (of ``node``, or of its set)."""
        if state.cut:
            return
        kept = _within(self.max_output, state.size, data)
        if len(kept) < len(data):
            state.cut = True
            if state.nodes is not None:
                self._cut.append(state.nodes.copy())
            else:
                assert node is not None  # a single node's state comes with its name
                self._cut.append(node)
        state.size += len(kept)
        splitter = state.splitters.get(stream)
        if splitter is None:
            splitter = state.splitters[stream] = Splitter()
        for segment in splitter.feed(kept):
            self._push(state, segment)

    def _push(self, state: _NodeState, segment: bytes) -> None:
        """Add whole lines or a piece to the node's blocks, closing the blocks it fills."""
        pending = state.pending
        start = 0
        while len(segment) - start >= _BLOCK_SIZE - len(pending):
            if segment.endswith(b"\n"):  # the block closes at a line end
                close = segment.find(b"\n", start + _BLOCK_SIZE - len(pending) - 1) + 1
            else:  # or at the end of a piece
                close = len(segment)
            self._close(state, bytes(pending) + segment[start:close])
            self.stored_bytes -= len(pending)
            pending.clear()
            start = close
        pending += segment[start:]
        self.stored_bytes += len(segment) - start

    def _close(self, state: _NodeState, block: bytes) -> None:
        parent = state.element
        if parent.children is None:
            parent.children = {}
        child = parent.children.get(block)
        if child is None:
            child = parent.children[block] = _Element(block, parent)
            self.stored_bytes += len(block)
        state.element = child

    def end(self, node: str, rc: int | None = None) -> None:
        """``node``'s output is complete; ``rc`` (its return code) orders its group."""
        self._finish(self._state(node), rc)

    def end_group(self, nodes: NodeSet, rc: int | None = None) -> None:
        """The output of every node of ``nodes`` is complete, each with return code ``rc``."""
        if nodes:
            for state, _ in self._states(nodes):
                self._finish(state, rc)

    def _finish(self, state: _NodeState, rc: int | None) -> None:
        for splitter in state.splitters.values():
            rest = splitter.end()
            if rest:
                state.pending += rest
                self.stored_bytes += len(rest)
        state.splitters.clear()
        if state.pending:
            self._close(state, bytes(state.pending))
            self.stored_bytes -= len(state.pending)
            state.pending.clear()
        state.rc = rc
        state.ended = True
        if state.nodes is not None:
            self._join(state)

    def _join(self, state: _NodeState) -> None:
        """An ended set state joins one that ended alike, so that the set states stay as
        few as the distinct outputs (each gateway's window brings a new node set)."""
        key = (state.rc, state.element, state.cut)
        alike = self._alike.get(key)
        if alike is None or alike is state or not alike.nodes or not alike.ended or \
                alike.rc != state.rc or alike.element is not state.element or \
                alike.cut != state.cut or alike.pending or alike not in self._sets:
            self._alike[key] = state
            return
        assert state.nodes is not None
        alike.nodes.update(state.nodes)
        self._sets.remove(state)

    def discard(self, node: str) -> None:
        """Forget ``node`` (one that failed, whose output is not shown)."""
        state = self._nodes.pop(node, None) or self._take(node)
        if state is not None:
            self.stored_bytes -= len(state.pending)

    @property
    def cut(self) -> NodeSet:
        """The nodes whose output passed ``max_output`` and was cut."""
        found = NodeSet.fromlist([n for n in self._cut if isinstance(n, str)])
        for nodes in self._cut:
            if not isinstance(nodes, str):
                found.update(nodes)
        return found

    def _of(self, node: str) -> _NodeState | None:
        """The state that holds ``node``'s output, its own or its set's."""
        state = self._nodes.get(node)
        if state is None and self._sets:
            one = NodeSet.fromlist([node])
            state = next((s for s in self._sets
                          if s.nodes is not None and s.nodes.issuperset(one)), None)
        return state

    def chunks(self, node: str) -> list[bytes]:
        """What ``node`` printed so far, in blocks (empty for a node that printed nothing)."""
        state = self._of(node)
        if state is None:
            return []
        blocks = state.element.blocks()
        return [*blocks, bytes(state.pending)] if state.pending else blocks

    def _ended(self) -> Iterator[tuple[_NodeState, list[str], list[NodeSet]]]:
        """Each ended state with its nodes: names (one node) or a node set."""
        for node, state in self._nodes.items():
            if state.ended:
                yield state, [node], []
        for state in self._sets:
            if state.ended and state.nodes:
                yield state, [], [state.nodes]

    def groups(self) -> list[Group]:
        """The nodes that ended with output, grouped by byte-identical output and return
        code, ordered as clush ``-b`` prints them: by return code (None first), larger
        groups first, then by first node."""
        found: dict[tuple[int, _Element], tuple[int | None, list[str], list[NodeSet]]] = {}
        for state, names, sets in self._ended():
            if state.element is not self._root:
                key = (-1 if state.rc is None else state.rc, state.element)
                _, have, have_sets = found.setdefault(key, (state.rc, [], []))
                have.extend(names)
                have_sets.extend(sets)
        groups = [Group(_union(names, sets), rc, element)
                  for (_, element), (rc, names, sets) in found.items()]
        groups.sort(key=lambda g: (-1 if g.rc is None else g.rc, -len(g.nodes), g.nodes[0]))
        return groups

    def by_rc(self) -> list[tuple[int, NodeSet]]:
        """The nodes that ended with a return code, by return code, lowest first."""
        found: dict[int, tuple[list[str], list[NodeSet]]] = {}
        for state, names, sets in self._ended():
            if state.rc is not None:
                have, have_sets = found.setdefault(state.rc, ([], []))
                have.extend(names)
                have_sets.extend(sets)
        return [(rc, _union(*found[rc])) for rc in sorted(found)]

    def diff_groups(self) -> list[tuple[NodeSet, list[bytes]]]:
        """``--diff``'s input as clush builds it: the groups of each return code, then,
        once there is a reference, that return code's nodes that printed nothing."""
        groups = self.groups()
        shown: list[tuple[NodeSet, list[bytes]]] = []
        for rc, nodes in self.by_rc():
            silent = nodes.copy()
            for group in groups:
                if group.rc == rc:
                    shown.append((group.nodes, group.lines()))
                    silent.difference_update(group.nodes)
            if silent and shown:
                shown.append((silent, []))
        return shown


#: One line number of -bL: each distinct line and the nodes that printed it there.
_Row: TypeAlias = "dict[bytes, list[str]]"

#: A -bL row as shown: (nodes, line), larger groups first, then by first node.
Row: TypeAlias = "list[tuple[NodeSet, bytes]]"


class LineRows:
    """``-bL``: the n-th lines of the nodes, grouped by content, as soon as they are ready.

    Row n is ready once every node still running has printed its n-th line; a node that
    ends stops holding rows back. Lines held for rows not ready yet count against the
    node's ``max_output``, as does a line not finished yet.

    >>> rows = LineRows(["n1", "n2"])
    >>> rows.add("n1", "stdout", b"up\\nfirst\\n")
    >>> rows.ready()
    []
    >>> rows.add("n2", "stdout", b"up\\n")
    >>> [[(str(nodes), line) for nodes, line in row] for row in rows.ready()]
    [[('n[1-2]', b'up')]]
    >>> rows.end("n2")
    >>> [[(str(nodes), line) for nodes, line in row] for row in rows.ready()]
    [[('n1', b'first')]]

    :param nodes: the nodes that will print.
    :param streams: the streams gathered, as for :class:`Gatherer`.
    :param max_output: bytes one node may have held, as for :class:`Gatherer`.
    """

    def __init__(self, nodes: Iterable[str], streams: Collection[Stream] = _STDOUT, *,
                 max_output: int | None = DEFAULT_MAX_OUTPUT) -> None:
        self.streams = frozenset(streams)
        self.max_output = max_output
        self._waiting = set(nodes)
        self._count: dict[str, int] = {}
        self._rows: deque[_Row] = deque()
        self._shown = 0
        self._behind = len(self._waiting)  # waiting nodes without a line in the next row
        self._splitters: dict[tuple[str, str], Splitter] = {}
        self._partial: dict[tuple[str, str], bytearray] = {}
        self._held: dict[str, int] = {}  # bytes of each node's rows not taken out yet
        self._cut: set[str] = set()

    def add(self, node: str, stream: Stream, data: bytes) -> None:
        """``node`` printed ``data`` on ``stream``."""
        if stream not in self.streams or not data or node in self._cut:
            return
        held = self._held.get(node, 0)
        kept = _within(self.max_output, held, data)
        if len(kept) < len(data):
            self._cut.add(node)
        self._held[node] = held + len(kept)
        key = (node, stream)
        splitter = self._splitters.setdefault(key, Splitter())
        for segment in splitter.feed(kept):
            if not segment.endswith(b"\n"):  # a piece of a long line
                self._partial.setdefault(key, bytearray()).extend(segment)
                continue
            lines = segment[:-1].split(b"\n")
            partial = self._partial.pop(key, None)
            if partial is not None:
                lines[0] = bytes(partial) + lines[0]
            for line in lines:
                self._line(node, line)

    def _line(self, node: str, line: bytes) -> None:
        """Record the next line of ``node``."""
        index = self._count.get(node, 0)
        self._count[node] = index + 1
        while len(self._rows) <= index - self._shown:
            self._rows.append({})
        self._rows[index - self._shown].setdefault(line, []).append(node)
        if index == self._shown and node in self._waiting:
            self._behind -= 1

    def end(self, node: str) -> None:
        """``node`` ended: its last line is complete, and rows no longer wait for it."""
        for stream in sorted(self.streams):
            key = (node, stream)
            splitter = self._splitters.pop(key, None)
            rest = splitter.end() if splitter is not None else None
            partial = self._partial.pop(key, None)
            if rest is not None:
                self._held[node] = self._held.get(node, 0) + 1  # the newline it lacked
                self._line(node, bytes(partial or b"") + rest)
        if node in self._waiting:
            self._waiting.remove(node)
            if self._count.get(node, 0) <= self._shown:
                self._behind -= 1

    @property
    def cut(self) -> NodeSet:
        """The nodes whose held output passed ``max_output`` and was cut."""
        return NodeSet.fromlist(self._cut)

    def ready(self) -> list[Row]:
        """The rows every waiting node has reached, taken out in order."""
        rows = []
        while self._rows and self._behind == 0:
            rows.append(self._release(self._rows.popleft()))
            self._shown += 1
            self._behind = sum(1 for n in self._waiting if self._count.get(n, 0) <= self._shown)
        return rows

    def rest(self) -> list[Row]:
        """Every row not yet taken out."""
        rows = [self._release(row) for row in self._rows]
        self._rows.clear()
        return rows

    def _release(self, row: _Row) -> Row:
        """A row taken out: its lines no longer count against their nodes' limits."""
        for line, nodes in row.items():
            for node in nodes:
                self._held[node] -= len(line) + 1
        groups = [(NodeSet.fromlist(nodes), line) for line, nodes in row.items()]
        groups.sort(key=lambda group: (-len(group[0]), group[0][0]))
        return groups
