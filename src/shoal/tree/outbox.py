"""A gateway's outgoing output for one job, grouped over a time window.

The gateway tells a job's :class:`Outbox` what its targets print and how they end, and
takes messages out of it every ``gather_delay`` seconds (:meth:`Outbox.flush`). What
the messages group depends on the job's mode (docs/tree-protocol.md):

* ``gather`` (``-b``): nothing while a target runs; at each flush, the targets that
  ended since the last one, one ``OUT`` per distinct standard output with the folded
  node set, the same for ``SER``, one ``RET`` per distinct return code and status, one
  ``TIM`` for those that timed out. :class:`~shoal.engine.gather.Gatherer` does the
  grouping, so identical outputs are stored once.
* ``stream`` (line mode): at each flush, each target's complete lines since the last
  flush (cut by :class:`~shoal.engine.gather.Splitter`), one ``OUT``/``SER`` per
  distinct batch with the nodes that sent exactly it, then the ``RET``/``TIM`` of the
  targets that ended.
* ``raw`` (``rcopy``): each target's bytes as they came, one ``OUT`` per target.

With ``merge`` (clush ``-B``, in ``gather`` and ``stream`` mode) a target's stdout and
stderr are kept as one stream of whole lines in the order they came: the target's
messages go out in that order (``OUT``, ``SER``, ``OUT``…), and targets are grouped by
that whole sequence, so that the root shows them merged as a flat run does.

Messages a child gateway sent up for the job (already grouped there) go through
:meth:`Outbox.relay` into the same window: an output that several children (or this
gateway's own targets) sent alike goes up as one message, and so do their ends.

A target whose outcome is a failure has its output dropped in ``gather`` mode (its
reason says it all), and an ``unreachable`` one what this window holds of it in the
others (``ssh``'s complaint, which is the reason). No payload exceeds
:data:`MAX_MESSAGE` bytes; longer outputs go in several messages, in order.

Runs on the gateways: Python 3.6 once annotations are stripped; imports
:mod:`shoal.engine.gather`, :mod:`shoal.nodeset` and :mod:`shoal.tree.messages` from shoal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shoal.engine.gather import Gatherer, Splitter
from shoal.nodeset import NO_GROUPS, NodeSet
from shoal.tree.messages import OUT, RET, SER, TIM

if TYPE_CHECKING:
    from collections.abc import Iterable

    from shoal.tree.messages import Message

__all__ = ["MAX_MESSAGE", "MODES", "Outbox"]

#: the job modes
MODES = ("gather", "stream", "raw")

#: the largest payload of one OUT or SER this gateway sends (bytes)
MAX_MESSAGE = 4 * 1024 * 1024

#: bytes a stream or raw job may hold before it asks for an early flush
HOLD_LIMIT = 8 * 1024 * 1024

_KINDS = {"stdout": "OUT", "stderr": "SER"}


def _folded(names: Iterable[str]) -> str:
    """The folded node set of ``names`` (names or node set texts)."""
    return str(NodeSet.fromlist(list(names), resolver=NO_GROUPS))


def _pieces(chunks: Iterable[bytes]) -> list[bytes]:
    """``chunks`` joined into payloads of at most :data:`MAX_MESSAGE` bytes."""
    found: list[bytes] = []
    current = bytearray()
    for chunk in chunks:
        for start in range(0, len(chunk), MAX_MESSAGE):
            part = chunk[start:start + MAX_MESSAGE]
            if len(current) + len(part) > MAX_MESSAGE:
                found.append(bytes(current))
                current.clear()
            current += part
    if current:
        found.append(bytes(current))
    return found


class Outbox:
    """One job's output, grouped into messages a window at a time.

    >>> box = Outbox(7, "gather")
    >>> for node in ("n1", "n2", "n3"):
    ...     box.output(node, "stdout", b"same\\n")
    ...     box.ended(node, 0)
    >>> box.flush()
    [OUT(msgid=0, job=7, nodes='n[1-3]', data=b'same\\n'), RET(msgid=0, job=7, \
nodes='n[1-3]', retcode=0, status='ok', data='')]

    :param job: the job the messages belong to.
    :param mode: one of :data:`MODES`.
    :param max_output: bytes of output kept per target in ``gather`` mode (None: no limit).
    :param merge: keep each target's stdout and stderr in one stream, in order (``-B``).
    """

    def __init__(self, job: int, mode: str, *, max_output: int | None = None,
                 merge: bool = False) -> None:
        if mode not in MODES:
            raise ValueError(f"no such mode: {mode!r}")
        self.job = job
        self.mode = mode
        self.merge = merge and mode != "raw"
        self.max_output = max_output
        self._gatherers = {stream: Gatherer((stream,), max_output=max_output)
                           for stream in ("stdout", "stderr")} if (
            mode == "gather" and not self.merge) else {}
        # merge: each target's output in order, as runs of one stream (gather: all of it;
        # stream: this window's), and how much of it a gather job keeps
        self._runs: dict[str, list[tuple[str, bytearray]]] = {}
        self._sizes: dict[str, int] = {}
        self._splitters: dict[tuple[str, str], Splitter] = {}
        # stream and raw: (stream, node) -> what the node sent in this window
        self._window: dict[tuple[str, str], bytearray] = {}
        self._held = 0
        self._ended: list[str] = []  # gather: ended since the last flush, in order
        self._rets: dict[tuple[int, str, str], list[str]] = {}
        self._timeouts: list[str] = []
        # this window's output messages: (type, payload, node set texts), in order, with
        # the indexes of each (type, payload, node in raw mode), and each node's last one
        self._entries: list[tuple[str, bytes, list[str]]] = []
        self._by_key: dict[tuple[str, bytes, str], list[int]] = {}
        self._last: dict[str, int] = {}

    @property
    def urgent(self) -> bool:
        """Whether so much is held that the job should be flushed now."""
        return self._held >= HOLD_LIMIT

    @property
    def empty(self) -> bool:
        """Whether a flush would send nothing."""
        return not (self._window or self._ended or self._rets or self._timeouts
                    or self._entries or (self._runs and self.mode == "stream"))

    def output(self, node: str, stream: str, data: bytes) -> None:
        """``node`` printed ``data`` on ``stream`` (``"stdout"`` or ``"stderr"``)."""
        if not data:
            return
        if self.merge:
            for segment in self._splitter(stream, node).feed(data):
                self._run(node, stream, segment)
            return
        if self.mode == "gather":
            self._gatherers[stream].add(node, stream, data)  # type: ignore[arg-type]
            return
        if self.mode == "stream":
            key = (stream, node)
            splitter = self._splitters.get(key)
            if splitter is None:
                splitter = self._splitters[key] = Splitter()
            segments = splitter.feed(data)
            if not segments:
                return
            data = b"".join(segments)
        self._hold(stream, node, data)

    def _splitter(self, stream: str, node: str) -> Splitter:
        key = (stream, node)
        splitter = self._splitters.get(key)
        if splitter is None:
            splitter = self._splitters[key] = Splitter()
        return splitter

    def _run(self, node: str, stream: str, data: bytes) -> None:
        """Merge: ``data`` (whole lines, or a piece) after what ``node`` printed so far."""
        if self.mode == "gather" and self.max_output is not None:
            size = self._sizes.get(node, 0)
            data = data[:max(0, self.max_output - size)]
            self._sizes[node] = size + len(data)
            if not data:
                return
        runs = self._runs.setdefault(node, [])
        if runs and runs[-1][0] == stream:
            runs[-1][1].extend(data)
        else:
            runs.append((stream, bytearray(data)))
        if self.mode == "stream":
            self._held += len(data)

    def _hold(self, stream: str, node: str, data: bytes) -> None:
        self._window.setdefault((stream, node), bytearray()).extend(data)
        self._held += len(data)

    def ended(self, node: str, retcode: int, status: str = "ok", reason: str = "") -> None:
        """``node`` is over, with ``retcode``; ``status`` other than ``ok`` says why, with
        ``reason`` (``timeout`` sends ``TIM``)."""
        if status == "unreachable":  # what it printed is the reason (ssh's complaint)
            self._drop(node)
        else:
            self._close_lines(node)
        if self.mode == "gather":
            if status in ("ok", "timeout"):
                self._ended.append(node)
            else:
                for gatherer in self._gatherers.values():
                    gatherer.discard(node)
                self._runs.pop(node, None)
                self._sizes.pop(node, None)
        if status == "timeout":
            self._timeouts.append(node)
        else:
            self._rets.setdefault((retcode, status, reason), []).append(node)

    def _drop(self, node: str) -> None:
        """Forget what ``node`` printed and has not been sent yet (stream and raw)."""
        for stream in ("stdout", "stderr"):
            self._splitters.pop((stream, node), None)
            held = self._window.pop((stream, node), None)
            if held is not None:
                self._held -= len(held)
        for _, run in self._runs.pop(node, []):
            if self.mode == "stream":
                self._held -= len(run)

    def _close_lines(self, node: str) -> None:
        """Hand on the unfinished last lines of ``node`` (stream mode)."""
        for stream in ("stdout", "stderr"):
            splitter = self._splitters.pop((stream, node), None)
            rest = splitter.end() if splitter is not None else None
            if rest:
                if self.merge:
                    self._run(node, stream, rest)
                else:
                    self._hold(stream, node, rest)

    def relay(self, msg: Message, names: Iterable[str]) -> None:
        """A message a child gateway sent for this job, ``names`` its nodes: ``OUT`` and
        ``SER`` join this window's output (one message with the output of this
        gateway's nodes and other children's where it is the same), ``RET`` and ``TIM``
        its ends."""
        if isinstance(msg, RET):
            self._rets.setdefault((msg.retcode, msg.status, msg.data), []).append(msg.nodes)
        elif isinstance(msg, TIM):
            self._timeouts.append(msg.nodes)
        elif isinstance(msg, (OUT, SER)):
            self._add(msg.TYPE, msg.data, [msg.nodes], names)

    def _add(self, kind: str, data: bytes, texts: list[str], names: Iterable[str]) -> None:
        """Output ``data`` of nodes ``names`` (folded: ``texts``) into this window.

        It joins the last message of the same type and payload, unless one of the nodes
        has a later message in the window already (its output stays in order); else it
        opens a new one. In ``raw`` mode, each node's messages are its own.
        """
        names = list(names)
        floor = max((self._last.get(name, -1) for name in names), default=-1)
        key = (kind, data, texts[0] if self.mode == "raw" else "")
        slots = self._by_key.setdefault(key, [])
        if slots and slots[-1] > floor:
            index = slots[-1]
        else:
            index = len(self._entries)
            slots.append(index)
            self._entries.append((kind, data, []))
        self._entries[index][2].extend(texts)
        for name in names:
            self._last[name] = index

    def flush(self) -> list[Message]:
        """The messages of this window, in the order they must be sent: the output, then
        the ends (``RET``, ``TIM``)."""
        if self.mode == "gather":
            self._gathered()
        else:
            self._batches()
        found: list[Message] = []
        for kind, data, texts in self._entries:
            cls = OUT if kind == "OUT" else SER
            found.append(cls(job=self.job, nodes=_folded(texts), data=data))
        self._entries.clear()
        self._by_key.clear()
        self._last.clear()
        for (retcode, status, reason), names in self._rets.items():
            found.append(RET(job=self.job, nodes=_folded(names), retcode=retcode,
                             status=status, data=reason))
        self._rets.clear()
        if self._timeouts:
            found.append(TIM(job=self.job, nodes=_folded(self._timeouts)))
            self._timeouts.clear()
        return found

    def _gathered(self) -> None:
        if not self._ended:
            return
        if self.merge:
            for node in self._ended:
                self._sizes.pop(node, None)
            self._merged(self._ended)
            self._ended.clear()
            return
        for stream, gatherer in self._gatherers.items():
            for node in self._ended:
                gatherer.end(node)
            for group in gatherer.groups():
                names = list(group.nodes)
                for piece in _pieces(group.chunks()):
                    self._add(_KINDS[stream], piece, [str(group.nodes)], names)
            for node in self._ended:
                gatherer.discard(node)
        self._ended.clear()

    def _merged(self, names: Iterable[str]) -> None:
        """Merge: the nodes ``names`` grouped by their runs, each group's runs in order."""
        groups: dict[tuple[tuple[str, bytes], ...], list[str]] = {}
        for name in names:
            runs = tuple((stream, bytes(run)) for stream, run in self._runs.pop(name, []))
            groups.setdefault(runs, []).append(name)
        for runs, members in groups.items():
            text = _folded(members)
            for stream, data in runs:
                for piece in _pieces([data]):
                    self._add(_KINDS[stream], piece, [text], members)

    def _batches(self) -> None:
        if self.merge:
            self._merged(list(self._runs))
            self._held = 0
            return
        groups: dict[tuple[str, bytes], list[str]] = {}
        for (stream, node), held in self._window.items():
            if self.mode == "raw":
                for piece in _pieces([bytes(held)]):
                    self._add(_KINDS[stream], piece, [node], [node])
            else:
                groups.setdefault((stream, bytes(held)), []).append(node)
        self._window.clear()
        self._held = 0
        for stream in ("stdout", "stderr"):
            for (kind, data), names in groups.items():
                if kind == stream:
                    for piece in _pieces([data]):
                        self._add(_KINDS[stream], piece, names, names)
