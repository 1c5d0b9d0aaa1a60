"""What a task reports while it runs: one small immutable event per thing that happened.

Events reach handlers (plain callables) in the order they happen on each node, and can be
read as an async iterator (:meth:`~shoal.engine.AsyncTask.stream`). Output comes as
:class:`Output` events that each carry one or more *complete* lines, so a node that
prints 100 MB costs a handler one call per chunk, not one per line. A line longer than
:data:`~shoal.engine.gather.PIECE_SIZE` comes in pieces of that size, so that no line,
however long, is held whole on its way to a handler.

Output that arrives already grouped (a propagation tree's gateways send each distinct
output once, with the node set that printed it) comes instead as :class:`GroupOutput`
events, one per piece and node set, whatever the number of nodes, and the ends of those
nodes as one :class:`GroupExited` per set before each node's own :class:`Exited`: a
handler that gathers (clush ``-b``) does its work once per distinct output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from shoal.engine.gather import Stream
from shoal.engine.results import NodeResult
from shoal.errors import HostError
from shoal.nodeset import NodeSet

__all__ = ["Event", "Exited", "Failed", "GroupExited", "GroupOutput", "Handler", "Output",
           "Started", "Stream"]


@dataclass(frozen=True, slots=True)
class Started:
    """The node's connection is up and its action begins."""

    node: str


@dataclass(frozen=True, slots=True)
class Output:
    """Complete lines the node printed on ``stream``; ``data`` ends with a newline.

    The first line may end one whose pieces came before. A *piece* (:attr:`partial`) is
    :data:`~shoal.engine.gather.PIECE_SIZE` bytes of a longer line, without a newline:
    the line goes on in the node's next Output on the same stream. A last line that
    lacked its newline gets one.

    >>> Output("node1", "stdout", b"a\\nb\\n").lines()
    [b'a', b'b']
    >>> Output("node1", "stdout", b"xxx").partial
    True
    """

    node: str
    stream: Stream
    data: bytes

    @property
    def partial(self) -> bool:
        """``data`` is a piece of a line that goes on in a later event."""
        return not self.data.endswith(b"\n")

    def lines(self) -> list[bytes]:
        """The lines (or the piece), without their newlines."""
        return self.data[:-1].split(b"\n") if not self.partial else [self.data]


@dataclass(frozen=True, slots=True)
class Exited:
    """The node's command ended with return code ``rc`` (or its copy ended: ``rc`` 0).

    ``result`` is the node's complete :class:`~shoal.engine.results.NodeResult` (output
    included, when the task keeps it), for handlers that report node by node.
    ``grouped``: the node's output came as :class:`GroupOutput` and its end was told
    already by a :class:`GroupExited` of its set (a gatherer has nothing more to do).
    """

    node: str
    rc: int
    result: NodeResult | None = field(default=None, compare=False, repr=False)
    grouped: bool = field(default=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Failed:
    """The node could not finish: unreachable, refused, timed out or lost.

    ``error`` is a :class:`~shoal.errors.ConnectError` (or a subclass) or a
    :class:`~shoal.errors.CommandTimeout`; its ``reason`` says what happened. ``result``
    is the node's complete :class:`~shoal.engine.results.NodeResult`, as for
    :class:`Exited`.
    """

    node: str
    error: HostError
    result: NodeResult | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class GroupOutput:
    """A piece of output that every node of ``nodes`` printed alike on ``stream``.

    It comes in place of those nodes' :class:`Output` events (a propagation tree's
    gathered output), so it costs a handler one call per distinct output, not one per
    node. Pieces of a node's output come in order, but need not end at a line end; as
    with :class:`Output`, a last line that lacked its newline gets one (a piece of
    ``b"\\n"`` for the nodes concerned, once their output is over).

    >>> str(GroupOutput(NodeSet("n[1-3]"), "stdout", b"same\\n").nodes)
    'n[1-3]'
    """

    nodes: NodeSet
    stream: Stream
    data: bytes


@dataclass(frozen=True, slots=True)
class GroupExited:
    """Every node of ``nodes`` ended with return code ``rc``: told once for the set, before
    each node's own :class:`Exited` (whose ``grouped`` is then true)."""

    nodes: NodeSet
    rc: int


Event = Started | Output | GroupOutput | GroupExited | Exited | Failed

#: Receives every event of a task, synchronously, on the task's event loop.
Handler = Callable[[Event], None]
