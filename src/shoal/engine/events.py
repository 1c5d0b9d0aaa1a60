"""What a task reports while it runs: one small immutable event per thing that happened.

Events reach handlers (plain callables) in the order they happen on each node, and can be
read as an async iterator (:meth:`~shoal.engine.AsyncTask.stream`). Output comes as
:class:`Output` events that each carry one or more *complete* lines, so a node that
prints 100 MB costs a handler one call per chunk, not one per line. A line longer than
:data:`~shoal.engine.gather.PIECE_SIZE` comes in pieces of that size, so that no line,
however long, is held whole on its way to a handler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from shoal.engine.gather import Stream
from shoal.engine.results import NodeResult
from shoal.errors import HostError

__all__ = ["Event", "Exited", "Failed", "Handler", "Output", "Started", "Stream"]


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
    """

    node: str
    rc: int
    result: NodeResult | None = field(default=None, compare=False, repr=False)


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


Event = Started | Output | Exited | Failed

#: Receives every event of a task, synchronously, on the task's event loop.
Handler = Callable[[Event], None]
