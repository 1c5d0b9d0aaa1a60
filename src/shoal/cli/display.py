"""clush's output formats, written as bytes so any output passes through unchanged.

Plain (piped) output is byte for byte what ``clush`` prints for the same results:

* line mode: ``node7: line`` as lines arrive (``-N``: no label); a line too long to
  wait for comes in pieces and is written as they come, labelled once at its start;
* gathered (``-b``): a block per group of nodes with identical output and return code,
  headed by the folded node set and, for more than one node, its count::

      ---------------
      node[1-3] (3)
      ---------------
      output

  groups ordered by return code, then larger groups first, then by first node;
* ``-bL``: gathered, each line prefixed with the folded node set;
* ``-L``: gathered per node, in node order;
* ``--json``: one JSON object per node and line, as each node ends.

Output reaches this module as bytes that end with a newline, or as the piece of a line
that goes on later (:attr:`shoal.engine.Output.partial`).

On a terminal, labels are coloured as clush colours them. This module formats; it never
decides what ran. It imports nothing above :mod:`shoal.nodeset`.
"""

from __future__ import annotations

import base64
import difflib
import json
from collections.abc import Iterable
from typing import BinaryIO

from shoal.nodeset import NodeSet

__all__ = ["Display"]

SEP = b"-" * 15
_BLUE, _RED, _GREEN, _BOLD, _CYAN, _RESET = (
    b"\033[94m", b"\033[91m", b"\033[92m", b"\033[1m", b"\033[96m", b"\033[0m")

VERB_QUIET, VERB_STD, VERB_VERB = 0, 1, 2


class Display:
    """Writes results in clush's formats.

    :param out: binary stream for standard output (``sys.stdout.buffer``).
    :param err: binary stream for errors and node stderr.
    :param label: prefix lines with node names, head blocks (clush's default; ``-N`` off).
    :param color: colour labels (``--color``, default: when both streams are terminals).
    :param node_count: show ``(N)`` after node sets of more than one node.
    :param verbosity: 0 quiet (``-q``), 1 standard, 2 verbose (``-v``).
    :param maxrc: ``-S``: return codes are expected, so "exited with" notes need verbosity 1.
    :param regroup: ``-r``: show node sets folded with groups (``@rack1``).
    :param groupsource: group source for ``regroup``.
    :param prog: name in error lines ("shoal: node7: …").
    """

    def __init__(
        self,
        out: BinaryIO,
        err: BinaryIO,
        *,
        label: bool = True,
        color: bool = False,
        node_count: bool = True,
        verbosity: int = VERB_STD,
        maxrc: bool = False,
        regroup: bool = False,
        groupsource: str | None = None,
        prog: str = "shoal",
    ) -> None:
        self.out = out
        self.err = err
        self.label = label
        self.color = color
        self.node_count = node_count
        self.verbosity = verbosity
        self.maxrc = maxrc
        self.regroup = regroup
        self.groupsource = groupsource
        self.prog = prog.encode()
        #: per destination (False: out, True: err), the node whose line is unfinished there
        self._open: dict[bool, str | None] = {False: None, True: None}
        #: (destination, node) whose unfinished line another node's output ended early
        self._broken: set[tuple[bool, str]] = set()

    # -- pieces ---------------------------------------------------------------------------

    def _paint(self, code: bytes, text: bytes) -> bytes:
        return code + text + _RESET if self.color else text

    def nodes_text(self, nodes: NodeSet) -> bytes:
        """The node set as shown in labels and headers (folded, or regrouped with ``-r``)."""
        text = nodes.regroup(self.groupsource) if self.regroup else str(nodes)
        return text.encode()

    def _with_count(self, nodes: NodeSet) -> bytes:
        text = self.nodes_text(nodes)
        if self.verbosity >= VERB_STD and self.node_count and len(nodes) > 1:
            text += b" (%d)" % len(nodes)
        return text

    def header(self, nodes: NodeSet) -> bytes:
        """The three-line block header of ``-b`` (empty with ``-N``)."""
        if not self.label:
            return b""
        return self._paint(_BLUE, SEP + b"\n" + self._with_count(nodes) + b"\n" + SEP) + b"\n"

    # -- line mode ------------------------------------------------------------------------

    def output(self, node: str, data: bytes, *, error: bool = False) -> None:
        """Output of ``node`` as it arrives, each line labelled, to stdout (or stderr).

        ``data`` ends with a newline, or is a piece of a line that goes on in a later
        call for ``node``: the label is written only at the start of a line. When another
        node's output comes first, the unfinished line ends there and goes on later
        under a label of its own.
        """
        if (error, node) in self._broken:
            self._broken.discard((error, node))
            if data.startswith(b"\n"):  # the line ended early already ends here
                data = data[1:]
                if not data:
                    return
        stream = self.err if error else self.out
        opened = self._open[error]
        head = b""
        if opened is not None and opened != node:
            head = b"\n"
            self._broken.add((error, opened))
        if self.label:
            prefix = self._paint(_RED if error else _BLUE, node.encode() + b": ")
            data = _labelled(prefix, data, at_start=opened != node)
        stream.write(head + data)
        self._open[error] = None if data.endswith(b"\n") else node

    # -- gathered -------------------------------------------------------------------------

    def gathered(self, nodes: NodeSet, chunks: Iterable[bytes]) -> None:
        """One ``-b`` block: header, then the output, given in chunks, with a newline at
        its end if it lacks one."""
        self.out.write(self.header(nodes))
        last = b"\n"
        for chunk in chunks:
            if chunk:
                self.out.write(chunk)
                last = chunk[-1:]
        if last != b"\n":
            self.out.write(b"\n")

    def labelled_lines(self, nodes: NodeSet, lines: list[bytes]) -> None:
        """``-bL`` and ``-L``: every line prefixed with the node set."""
        if lines:
            self.labelled(nodes, [b"\n".join(lines) + b"\n"])

    def labelled(self, nodes: NodeSet, chunks: Iterable[bytes]) -> None:
        """``-L``: output given in chunks, every line prefixed with the node set (a last
        line without its newline gets one)."""
        prefix = self._paint(_BLUE, self.nodes_text(nodes) + b": ") if self.label else b""
        at_start = True
        for chunk in chunks:
            if chunk:
                self.out.write(_labelled(prefix, chunk, at_start))
                at_start = chunk.endswith(b"\n")
        if not at_start:
            self.out.write(b"\n")

    def diff(self, groups: Iterable[tuple[NodeSet, list[bytes]]]) -> None:
        """``--diff``: unified diff of each group's output against the first group's."""
        reference: tuple[bytes, list[str]] | None = None
        for nodes, lines in groups:
            name = self._with_count(nodes)
            text = [line.decode("utf-8", "ignore") for line in lines]
            if reference is None:
                reference = (name, text)
                continue
            ref_name, ref_text = reference
            for row in difflib.unified_diff(ref_text, text, fromfile=ref_name.decode(),
                                            tofile=name.decode(), lineterm=""):
                data = row.encode()
                if row.startswith(("---", "+++")):
                    data = self._paint(_BOLD, data.rstrip())
                elif row.startswith("@@"):
                    data = self._paint(_CYAN, data)
                elif row.startswith("+"):
                    data = self._paint(_GREEN, data)
                elif row.startswith("-"):
                    data = self._paint(_RED, data)
                self.out.write(data + b"\n")

    def json_result(self, node: str, *, rc: int | None, stdout: bytes, stderr: bytes,
                    error: str | None, status: str, start: float, end: float,
                    truncated: bool = False) -> None:
        """``--json``: one node's result as one line of JSON.

        Keys: node, rc, stdout, stdout_base64, stderr, stderr_base64, error, status, start,
        end, and ``truncated`` (true) only when the output was cut at ``max_output``.
        Output that is not valid UTF-8 comes as base64 with ``stdout_base64`` (or
        ``stderr_base64``) true; ``start`` and ``end`` are seconds from the start of the run.
        """
        record: dict[str, object] = {"node": node, "rc": rc}
        record.update(_output_fields("stdout", stdout))
        record.update(_output_fields("stderr", stderr))
        record.update(error=error, status=status, start=round(start, 6), end=round(end, 6))
        if truncated:
            record["truncated"] = True
        self.out.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")

    # -- status notes ---------------------------------------------------------------------

    def message(self, text: str, level: int = VERB_QUIET) -> None:
        """An informative line on standard output, shown when verbosity reaches ``level``."""
        if self.verbosity >= level:
            self.out.write(text.encode(errors="replace") + b"\n")

    def note(self, text: str, level: int = VERB_QUIET) -> None:
        """An error or status line on stderr, shown when verbosity reaches ``level``."""
        if self.verbosity >= level:
            self.err.write(self.prog + b": " + text.encode(errors="replace") + b"\n")

    def exit_codes(self, by_rc: Iterable[tuple[int, NodeSet]]) -> None:
        """clush's ``exited with exit code N`` lines for non-zero return codes."""
        level = VERB_STD if self.maxrc else VERB_QUIET
        for rc, nodes in by_rc:
            if rc == 0:
                continue
            shown = self.nodes_text(nodes)
            if self.verbosity > VERB_QUIET and len(nodes) > 1:
                shown += b" (%d)" % len(nodes)
            self.note(f"{shown.decode()}: exited with exit code {rc}", level)

    def failures(self, errors: Iterable[tuple[str, NodeSet]]) -> None:
        """The nodes that failed, folded by reason: ``shoal: node[3,7]: connection refused``."""
        for reason, nodes in errors:
            self.note(f"{self.nodes_text(nodes).decode()}: {reason}")

    def cut(self, nodes: NodeSet, limit: int) -> None:
        """The nodes whose output was cut: ``shoal: node7: output cut at 64 MiB (max_output)``."""
        if nodes:
            self.note(f"{self.nodes_text(nodes).decode()}: output cut at {_size(limit)} "
                      "(max_output)")

    def flush(self) -> None:
        """Flush both streams."""
        self.out.flush()
        self.err.flush()


def _labelled(prefix: bytes, data: bytes, at_start: bool) -> bytes:
    """``data`` with ``prefix`` at the start of each of its lines (at its very start only
    when ``at_start``: else it goes on with a line already begun)."""
    if not prefix:
        return data
    if data.endswith(b"\n"):
        body = data[:-1].replace(b"\n", b"\n" + prefix) + b"\n"
    else:
        body = data.replace(b"\n", b"\n" + prefix)
    return prefix + body if at_start else body


def _size(count: int) -> str:
    """``count`` bytes in the largest binary unit that divides it: ``64 MiB``."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count} bytes"


def _output_fields(name: str, data: bytes) -> dict[str, object]:
    """``name`` as text when ``data`` is UTF-8, else as base64 with ``name_base64`` true."""
    try:
        return {name: data.decode("utf-8"), f"{name}_base64": False}
    except UnicodeDecodeError:
        return {name: base64.b64encode(data).decode("ascii"), f"{name}_base64": True}
