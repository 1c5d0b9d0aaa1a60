"""How a task's events and results are shown, in clush's formats.

:class:`Layout` is what clush's options (``-b``, ``-B``, ``-L``, ``--diff``, ``--json``)
choose; :class:`Renderer` takes a task's events as they come and its results at the end
and writes them through a :class:`~shoal.cli.display.Display`. Grouping is the engine's
(:mod:`shoal.engine.gather`): the renderer feeds it output as it comes, asks it for the
groups and writes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shoal.cli.display import VERB_VERB, Display
from shoal.cli.progress import Progress
from shoal.engine import (
    DEFAULT_MAX_OUTPUT,
    Event,
    Exited,
    Failed,
    Gatherer,
    GroupExited,
    GroupOutput,
    LineRows,
    NodeResult,
    Output,
    Splitter,
    Stream,
    TaskResult,
)
from shoal.errors import UsageError
from shoal.nodeset import NodeSet

if TYPE_CHECKING:
    from shoal.cli.run_args import RunArgs

__all__ = ["Layout", "Renderer"]


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


class Renderer:
    """Shows one action's events as they come and its results at the end, as clush does.

    :param stop: called when output can no longer be written (the reader of a pipe went
        away, as with ``| head``): there is no point in going on.
    :param max_output: bytes of one node's output kept for the end (-b, -B, -L, --diff)
        or for rows not shown yet (-bL); the rest is cut, and the end says so.
    """

    def __init__(self, display: Display, layout: Layout, nodes: NodeSet,
                 progress: Progress | None = None, stop: Callable[[], None] = lambda: None,
                 max_output: int | None = DEFAULT_MAX_OUTPUT) -> None:
        self.display = display
        self.layout = layout
        self.progress = progress
        self.stop = stop
        self.max_output = max_output
        self.broken_pipe = False
        self._json_done: set[str] = set()
        self._json_cut: list[str] = []
        streams: tuple[Stream, ...] = ("stdout", "stderr") if layout.merge else ("stdout",)
        self._rows = (LineRows(nodes, streams, max_output=max_output)
                      if layout.gather and layout.by_node else None)
        self._gatherer = (Gatherer(streams, max_output=max_output)
                          if self._rows is None and not layout.live and not layout.json
                          else None)
        # grouped output shown node by node: each node's unfinished line, by stream
        self._splitters: dict[tuple[str, Stream], Splitter] = {}

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
            elif isinstance(event, GroupOutput):
                self._group_output(event)
            elif isinstance(event, GroupExited):
                if self._gatherer is not None:
                    self._gatherer.end_group(event.nodes, event.rc)
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
        self.display.output(event.node, event.data)

    def _output(self, event: Output) -> None:
        if event.stream == "stderr" and not self.layout.merge:
            self._clear()
            self.display.output(event.node, event.data, error=True)
        elif self._rows is not None:
            self._rows.add(event.node, event.stream, event.data)
            self._show(self._rows.ready())
        elif self._gatherer is not None:
            self._gatherer.add(event.node, event.stream, event.data)
            if self.display.verbosity >= VERB_VERB:
                self._print(event)
        else:
            self._print(event)

    def _group_output(self, event: GroupOutput) -> None:
        """Output of a node set at once: gathered once for the set; shown or held per node
        where clush shows each node's lines (stderr without -B, -bL, line mode)."""
        if self._gatherer is not None and (event.stream == "stdout" or self.layout.merge):
            self._gatherer.add_group(event.nodes, event.stream, event.data)
        elif self._rows is not None and (event.stream == "stdout" or self.layout.merge):
            for node in event.nodes:
                self._rows.add(node, event.stream, event.data)
            self._show(self._rows.ready())
        else:
            for node in event.nodes:
                key = (node, event.stream)
                splitter = self._splitters.get(key)
                if splitter is None:
                    splitter = self._splitters[key] = Splitter()
                for segment in splitter.feed(event.data):
                    self._output(Output(node, event.stream, segment))

    def _ended(self, event: Exited | Failed) -> None:
        if self._splitters:
            self._splitters.pop((event.node, "stdout"), None)
            self._splitters.pop((event.node, "stderr"), None)
        if self._rows is not None:
            self._rows.end(event.node)
            self._show(self._rows.ready())
        if self._gatherer is not None:
            if isinstance(event, Exited):
                if not event.grouped:  # else told with its set's GroupExited
                    self._gatherer.end(event.node, event.rc)
            else:  # only the output of commands that ran to their end is shown
                self._gatherer.discard(event.node)
        if isinstance(event, Exited) and event.rc and self.layout.live:
            self._clear()
            self.display.exit_codes([(event.rc, NodeSet.fromlist([event.node]))])

    def _show(self, rows: list[list[tuple[NodeSet, bytes]]]) -> None:
        """-bL rows: each line once, labelled by its nodes, in the order given."""
        for row in rows:
            self._clear()
            for nodes, line in row:
                self.display.labelled_lines(nodes, [line])

    def finish(self, result: TaskResult) -> None:
        """Show the end of the action: gathered output, return codes, nodes that failed."""
        self._clear()
        if self.layout.json:
            for r in result.values():  # nodes interrupted before they started
                if r.node not in self._json_done:
                    self._json(r)
            cut = NodeSet.fromlist(self._json_cut)
        else:
            self._gathered()
            if not self.layout.live:
                self.display.exit_codes(result.by_rc())
            self.display.failures(result.errors())
            cut = (self._rows.cut if self._rows is not None else
                   self._gatherer.cut if self._gatherer is not None else NodeSet())
        if self.max_output is not None:
            self.display.cut(cut, self.max_output)
        self.display.flush()

    def _gathered(self) -> None:
        """The output shown at the end, from the nodes whose command ran to its end."""
        if self._rows is not None:
            self._show(self._rows.rest())
        elif self._gatherer is None:
            return
        elif self.layout.diff:
            self.display.diff(self._gatherer.diff_groups())
        elif self.layout.gather:
            for group in self._gatherer.groups():
                self.display.gathered(group.nodes, group.chunks())
        else:  # -L
            for _, nodes in self._gatherer.by_rc():
                for node in nodes:
                    chunks = self._gatherer.chunks(node)
                    if chunks:
                        self.display.labelled(NodeSet.fromlist([node]), chunks)

    def _json(self, r: NodeResult) -> None:
        self._json_done.add(r.node)
        if r.truncated:
            self._json_cut.append(r.node)
        self.display.json_result(r.node, rc=r.rc, stdout=r.stdout, stderr=r.stderr,
                                 error=r.error.reason if r.error else None,
                                 status=r.status, start=r.started, end=r.ended,
                                 truncated=r.truncated)
