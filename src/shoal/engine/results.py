"""What a task leaves behind: one :class:`NodeResult` per node, gathered by output.

Gathering (clush's ``-b``) groups the nodes whose output is byte-identical, with a
:class:`~shoal.engine.gather.Gatherer`: memory grows with the size of the *distinct*
outputs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from shoal.engine.gather import Gatherer
from shoal.errors import CommandTimeout, HostError, InternalError, Interrupted, NodeLost
from shoal.nodeset import NodeSet

__all__ = ["NodeResult", "Status", "TaskResult"]

#: How a node ended: its command ran (whatever its return code), its command ran past the
#: timeout, the node could not be reached, its gateway died after taking its work on
#: (:class:`~shoal.errors.NodeLost`: it may have run), the task was interrupted first, or
#: shoal itself failed (a bug: :class:`~shoal.errors.InternalError`).
Status = Literal["ok", "timeout", "unreachable", "lost", "interrupted", "internal"]


@dataclass(slots=True)
class NodeResult:
    """How one node's action ended.

    >>> r = NodeResult("node1", rc=0, stdout=b"ok\\n")
    >>> (r.status, r.ok, r.text)
    ('ok', True, 'ok\\n')
    """

    node: str
    rc: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    error: HostError | None = None
    #: seconds from the start of the task to the node's start and end
    started: float = 0.0
    ended: float = 0.0
    #: the output passed the task's ``max_output``: ``stdout`` and ``stderr`` were cut there
    truncated: bool = False

    @property
    def status(self) -> Status:
        """``ok`` when the command ran to its end, else why not."""
        if self.error is None:
            return "ok"
        if isinstance(self.error, CommandTimeout):
            return "timeout"
        if isinstance(self.error, Interrupted):
            return "interrupted"
        if isinstance(self.error, InternalError):
            return "internal"
        if isinstance(self.error, NodeLost):
            return "lost"
        return "unreachable"

    @property
    def ok(self) -> bool:
        """The command ran and returned 0."""
        return self.error is None and self.rc == 0

    @property
    def text(self) -> str:
        """stdout decoded as UTF-8; bytes that are not UTF-8 become U+FFFD."""
        return self.stdout.decode("utf-8", "replace")


class TaskResult(Mapping[str, NodeResult]):
    """The results of one action on a node set, by node name, in node-set order.

    >>> res = TaskResult([NodeResult("n1", 0, b"a\\n"), NodeResult("n2", 0, b"a\\n"),
    ...                   NodeResult("n3", 1, b"b\\n")])
    >>> [(str(ns), out) for ns, out in res.gather()]
    [('n[1-2]', b'a\\n'), ('n3', b'b\\n')]
    >>> res.max_rc, str(res.failed)
    (1, 'n3')
    """

    def __init__(self, results: list[NodeResult]) -> None:
        self._results = {r.node: r for r in results}

    def __getitem__(self, node: str) -> NodeResult:
        return self._results[node]

    def __iter__(self) -> Iterator[str]:
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for r in self._results.values():
            counts[r.status] = counts.get(r.status, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in counts.items())
        return f"<TaskResult {len(self)} nodes: {summary}>"

    @property
    def max_rc(self) -> int:
        """The largest return code; 255 when a node did not finish (as clush ``-S``)."""
        return max((255 if r.error is not None else r.rc or 0
                    for r in self._results.values()), default=0)

    @property
    def ok(self) -> bool:
        """Every node ran its command and returned 0."""
        return all(r.ok for r in self._results.values())

    @property
    def failed(self) -> NodeSet:
        """Nodes that did not return 0: unreachable, timed out or non-zero."""
        return NodeSet.fromlist([n for n, r in self._results.items() if not r.ok])

    def nodes(self, status: Status) -> NodeSet:
        """The nodes that ended with ``status``."""
        return NodeSet.fromlist([n for n, r in self._results.items() if r.status == status])

    def by_rc(self) -> list[tuple[int, NodeSet]]:
        """Nodes grouped by return code, lowest first; nodes with no return code left out."""
        groups: dict[int, list[str]] = {}
        for node, r in self._results.items():
            if r.rc is not None:
                groups.setdefault(r.rc, []).append(node)
        return [(rc, NodeSet.fromlist(nodes)) for rc, nodes in sorted(groups.items())]

    def errors(self) -> list[tuple[str, NodeSet]]:
        """Nodes that failed, grouped by the reason, in node-set order of their first node."""
        groups: dict[str, list[str]] = {}
        for node, r in self._results.items():
            if r.error is not None:
                groups.setdefault(r.error.reason, []).append(node)
        return [(reason, NodeSet.fromlist(nodes)) for reason, nodes in groups.items()]

    def gather(self, stream: Literal["stdout", "stderr"] = "stdout",
               ) -> list[tuple[NodeSet, bytes]]:
        """Nodes grouped by byte-identical output, ordered as clush ``-b`` prints them.

        Groups are ordered by return code, then by size (largest first), then by their
        first node's name; nodes with no output are left out.
        """
        gatherer = Gatherer((stream,), max_output=None)
        for node, r in self._results.items():
            gatherer.add(node, stream, r.stdout if stream == "stdout" else r.stderr)
            gatherer.end(node, r.rc)
        return [(group.nodes, group.output) for group in gatherer.groups()]
