"""How a task's events and results are shown, in clush's formats.

:class:`Layout` is what clush's options (``-b``, ``-B``, ``-L``, ``--diff``, ``--json``)
choose; :class:`Renderer` takes a task's events as they come and its results at the end
and writes them through a :class:`~shoal.cli.display.Display`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shoal.cli.display import VERB_VERB, Display
from shoal.cli.progress import Progress
from shoal.engine import Event, Exited, Failed, NodeResult, Output, TaskResult
from shoal.errors import UsageError
from shoal.nodeset import NodeSet

if TYPE_CHECKING:
    from shoal.cli.run_args import RunArgs

__all__ = ["Layout", "LineRows", "Renderer"]


@dataclass(frozen=True)
class Layout:
    """How output is shown, as clush's options choose it."""

    gather: bool = False  #: -b, -B, --diff: grouped by identical output, at the end
    merge: bool = False  #: -B: standard error gathered with standard output
    by_node: bool = False  #: -L: ordered by node; with gather, line by line (-bL)
    diff: bool = False  #: --diff: differences between the gathered groups
    json: bool = False  #: --json: one JSON object per node, as each node ends

    @classmethod
    def from_args(cls, args: RunArgs) -> Layout:
        """The layout of ``-b``, ``-B``, ``-L``, ``--diff`` and ``--json``."""
        if args.diff and args.line_mode:
            raise UsageError("--diff does not go with -L")
        return cls(gather=args.gather or args.gatherall or args.diff, merge=args.gatherall,
                   by_node=args.line_mode, diff=args.diff, json=args.as_json)

    @property
    def live(self) -> bool:
        """Lines are shown as they arrive (clush's default)."""
        return not (self.gather or self.by_node or self.json)


#: One line number of -bL: each distinct line and the nodes that printed it there.
Row = dict[bytes, list[str]]


class LineRows:
    """``-bL``: the n-th lines of the nodes, grouped by content.

    Row n is ready once every node still running has printed its n-th line; a node that
    ends stops holding rows back.
    """

    def __init__(self, nodes: NodeSet) -> None:
        self._waiting = set(nodes)
        self._count: dict[str, int] = {}
        self._rows: deque[Row] = deque()
        self._shown = 0
        self._behind = len(self._waiting)  # waiting nodes without a line in the next row

    def add(self, node: str, line: bytes) -> None:
        """Record the next line of ``node``."""
        index = self._count.get(node, 0)
        self._count[node] = index + 1
        while len(self._rows) <= index - self._shown:
            self._rows.append({})
        self._rows[index - self._shown].setdefault(line, []).append(node)
        if index == self._shown and node in self._waiting:
            self._behind -= 1

    def finish(self, node: str) -> None:
        """``node`` ended: rows no longer wait for it."""
        if node in self._waiting:
            self._waiting.remove(node)
            if self._count.get(node, 0) <= self._shown:
                self._behind -= 1

    def ready(self) -> list[Row]:
        """The rows every waiting node has reached, taken out in order."""
        rows = []
        while self._rows and self._behind == 0:
            rows.append(self._rows.popleft())
            self._shown += 1
            self._behind = sum(1 for n in self._waiting if self._count.get(n, 0) <= self._shown)
        return rows

    def rest(self) -> list[Row]:
        """Every row not yet taken out."""
        rows = list(self._rows)
        self._rows.clear()
        return rows


def _lines(data: bytes) -> list[bytes]:
    """The lines of output gathered from events (it always ends with a newline)."""
    return data[:-1].split(b"\n")


def _diff_groups(done: TaskResult) -> list[tuple[NodeSet, list[bytes]]]:
    """``--diff``'s input as clush builds it: the ``-b`` groups of each return code, then,
    once there is a reference, that return code's nodes that printed nothing."""
    groups = done.gather()
    shown: list[tuple[NodeSet, list[bytes]]] = []
    for rc, nodes in done.by_rc():
        silent = nodes.copy()
        for group, out in groups:
            if done[group[0]].rc == rc:
                shown.append((group, _lines(out)))
                silent.difference_update(group)
        if silent and shown:
            shown.append((silent, []))
    return shown


class Renderer:
    """Shows one action's events as they come and its results at the end, as clush does.

    :param stop: called when output can no longer be written (the reader of a pipe went
        away, as with ``| head``): there is no point in going on.
    """

    def __init__(self, display: Display, layout: Layout, nodes: NodeSet,
                 progress: Progress | None = None, stop: Callable[[], None] = lambda: None,
                 ) -> None:
        self.display = display
        self.layout = layout
        self.progress = progress
        self.stop = stop
        self.broken_pipe = False
        self._buffers: dict[str, bytearray] = {}
        self._json_done: set[str] = set()
        self._rows = LineRows(nodes) if layout.gather and layout.by_node else None

    def handle(self, event: Event) -> None:
        """Take one task event (a task handler)."""
        if self.progress is not None:
            self.progress.handle(event)
        if self.broken_pipe:
            return
        try:
            if self.layout.json:
                if isinstance(event, (Exited, Failed)) and event.result is not None:
                    self._json(event.result)
            elif isinstance(event, Output):
                self._output(event)
            elif isinstance(event, (Exited, Failed)):
                self._ended(event)
            self.display.flush()
        except BrokenPipeError:
            self.broken_pipe = True
            self.stop()

    def _clear(self) -> None:
        if self.progress is not None:
            self.progress.clear()

    def _print(self, event: Output) -> None:
        self._clear()
        for line in event.lines():
            self.display.line(event.node, line)

    def _output(self, event: Output) -> None:
        if event.stream == "stderr" and not self.layout.merge:
            self._clear()
            for line in event.lines():
                self.display.error_line(event.node, line)
        elif self._rows is not None:
            for line in event.lines():
                self._rows.add(event.node, line)
            self._show(self._rows.ready())
        elif self.layout.live:
            self._print(event)
        else:
            self._buffers.setdefault(event.node, bytearray()).extend(event.data)
            if self.display.verbosity >= VERB_VERB:
                self._print(event)

    def _ended(self, event: Exited | Failed) -> None:
        if self._rows is not None:
            self._rows.finish(event.node)
            self._show(self._rows.ready())
        if isinstance(event, Exited) and event.rc and self.layout.live:
            self._clear()
            self.display.exit_codes([(event.rc, NodeSet.fromlist([event.node]))])

    def _show(self, rows: list[Row]) -> None:
        """-bL rows: each line once, labelled by its nodes, bigger groups first."""
        for row in rows:
            self._clear()
            groups = sorted(((NodeSet.fromlist(nodes), line) for line, nodes in row.items()),
                            key=lambda group: (-len(group[0]), group[0][0]))
            for nodes, line in groups:
                self.display.labelled_lines(nodes, [line])

    def finish(self, result: TaskResult) -> None:
        """Show the end of the action: gathered output, return codes, nodes that failed."""
        self._clear()
        if self.layout.json:
            for r in result.values():  # nodes interrupted before they started
                if r.node not in self._json_done:
                    self._json(r)
        else:
            done = TaskResult([NodeResult(node, r.rc, bytes(self._buffers.get(node, b"")))
                               for node, r in result.items() if r.rc is not None])
            self._gathered(done)
            if not self.layout.live:
                self.display.exit_codes(done.by_rc())
            self.display.failures(result.errors())
        self.display.flush()

    def _gathered(self, done: TaskResult) -> None:
        """The output shown at the end, from the nodes whose command ran to its end."""
        if self._rows is not None:
            self._show(self._rows.rest())
        elif self.layout.diff:
            self.display.diff(_diff_groups(done))
        elif self.layout.gather:
            for nodes, out in done.gather():
                self.display.block(nodes, _lines(out))
        elif self.layout.by_node:
            for _, nodes in done.by_rc():
                for node in nodes:
                    if done[node].stdout:
                        self.display.labelled_lines(NodeSet.fromlist([node]),
                                                    _lines(done[node].stdout))

    def _json(self, r: NodeResult) -> None:
        self._json_done.add(r.node)
        self.display.json_result(r.node, rc=r.rc, stdout=r.stdout, stderr=r.stderr,
                                 error=r.error.reason if r.error else None,
                                 status=r.status, start=r.started, end=r.ended)

