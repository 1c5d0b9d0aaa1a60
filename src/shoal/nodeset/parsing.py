"""The node set scanner: text to terms, with the position of every fault.

:func:`scan` cuts an expression such as ``node[1-4]-ib,@rack2!node3`` into
:class:`Term` objects: the operator joining the term to what precedes it (``,`` union,
``!`` difference, ``&`` intersection, ``^`` symmetric difference), the literal pieces of
the node name pattern and one :class:`~shoal.nodeset.rangeset.RangeSet` per index slot.
It resolves nothing: groups (``@name``) and wildcards are terms like others, which
:mod:`shoal.nodeset.nodeset` evaluates.

The rules are ClusterShell 1.10's ``ParsingEngine``, quirks included, so that the same
input means the same thing: digits right before ``[`` or right after ``]`` join the range
(``node1[0-2]`` is ``node[10-12]``), digits elsewhere in a name are indexes (``da1c2``
has two), and whitespace is dropped around terms but kept inside names.

>>> [(t.op, t.pieces, [str(r) for r in t.rangesets]) for t in scan("n[1-3]-ib,da1c2!x")]
[(',', ('n', '-ib'), ['1-3']), (',', ('da', 'c', ''), ['1', '2']), ('!', ('x',), [])]

Every malformed expression raises :class:`~shoal.errors.NodeSetParseError` with the whole
expression and the 0-based position of the fault:

>>> scan("a[1-3]b[")
Traceback (most recent call last):
...
shoal.errors.NodeSetParseError: node set "a[1-3]b[": missing "]" at column 8

This module is pure: no I/O, no asyncio; it imports :mod:`shoal.errors`,
:mod:`shoal.nodeset.names` and :mod:`shoal.nodeset.rangeset` only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import product
from typing import NamedTuple

from shoal.errors import NodeSetParseError, NodeSetParseRangeError, RangeSetParseError
from shoal.nodeset.names import node_name
from shoal.nodeset.rangeset import _MAX_INDEX, RangeSet

__all__ = ["OPERATORS", "Term", "pattern_key", "scan", "scan_name"]

#: Operators between terms, evaluated strictly from left to right.
OPERATORS = ",!&^"

_ASCII_DIGITS = "0123456789"
_OP_RE = re.compile("[" + re.escape(OPERATORS) + "]")
_INDEX_RE = re.compile(r"(\d+)")  # \d as ClusterShell: any Unicode digit is an index


class Term(NamedTuple("Term", [("op", str), ("op_pos", int), ("pos", int),
                               ("pieces", "tuple[str, ...]"),
                               ("rangesets", "tuple[RangeSet, ...]")])):
    """One operand of a node set expression.

    ``pieces`` are the literal parts of the name around its index slots (one more than
    ``rangesets``); ``pos`` is where the term starts in the expression and ``op_pos``
    where its operator is (-1 for the first term). A named tuple declared by a call,
    not by annotations: the gateways' copy of this module has its annotations stripped.
    """

    __slots__ = ()

    @property
    def key(self) -> str:
        """The pattern key: pieces joined by ``%s``, literal ``%`` doubled."""
        return pattern_key(self.pieces)

    @property
    def is_group(self) -> bool:
        """Whether the term names groups (``@name``, ``@source:name``, ``@*``)."""
        return self.pieces[0].startswith("@")

    @property
    def has_wildcard(self) -> bool:
        """Whether the name holds ``*`` or ``?``, matched against all nodes."""
        return any("*" in p or "?" in p for p in self.pieces)

    def names(self) -> Iterator[str]:
        """The names the term writes, in order.

        >>> list(scan("n[1-2]-ib[0-1]")[0].names())
        ['n1-ib0', 'n1-ib1', 'n2-ib0', 'n2-ib1']
        """
        for indexes in product(*(rs.striter() for rs in self.rangesets)):
            yield node_name(self.pieces, indexes)


def pattern_key(pieces: tuple[str, ...]) -> str:
    """Pattern key of literal pieces, as ClusterShell names patterns (``node%s-ib``).

    >>> pattern_key(("node", "-ib")), pattern_key(("100%",))
    ('node%s-ib', '100%%')
    """
    return "%s".join(p.replace("%", "%%") for p in pieces)


class _Builder:
    """Pieces and range sets of one term as it is scanned."""

    def __init__(self) -> None:
        self.pieces = [""]
        self.rangesets: list[RangeSet] = []

    def literal(self, text: str) -> None:
        self.pieces[-1] += text

    def slot(self, rset: RangeSet) -> None:
        self.rangesets.append(rset)
        self.pieces.append("")


def scan_name(
    expr: str, start: int, stop: int, autostep: int | None, out: _Builder | None = None
) -> tuple[tuple[str, ...], tuple[RangeSet, ...]]:
    """Scan ``expr[start:stop]``, a name without brackets: its digit runs are indexes.

    >>> pieces, rsets = scan_name("node007-ib2", 0, 11, None)
    >>> pieces, [str(r) for r in rsets]
    (('node', '-ib', ''), ['007', '2'])
    """
    build = _Builder() if out is None else out
    text = expr[start:stop]
    if not text:
        raise NodeSetParseError(expr, start, "missing node name")
    at = start
    for i, part in enumerate(_INDEX_RE.split(text)):
        if i % 2 == 0:
            build.literal(part)
        else:
            build.slot(_index(expr, at, part, autostep))
        at += len(part)
    return tuple(build.pieces), tuple(build.rangesets)


def _index(expr: str, at: int, digits: str, autostep: int | None) -> RangeSet:
    """Range set of one index written in a name, padding kept (``007``)."""
    if len(digits.lstrip("0")) > 101:
        raise NodeSetParseRangeError(expr, at, f'index "{digits}" is too large')
    value = int(digits)
    pad = 0
    if value != 0:
        stripped = digits.lstrip("0")
        if len(stripped) < len(digits):
            pad = len(digits)
        value = int(stripped)
    elif len(digits) > 1:
        pad = len(digits)
    if value > _MAX_INDEX:
        raise NodeSetParseRangeError(expr, at, f'index "{digits}" is too large')
    return RangeSet.fromone(value, pad, autostep)


def _amend_leading(inner: str, digits: str) -> str:
    """Move digits written before ``[`` into the range: ``1[0-2]`` is ``[10-12]``.

    The text of each contiguous part gets the digits in front of each number, as in
    ClusterShell (which fails on a part ending at -1: so does this).
    """
    parts = []
    for part in RangeSet(inner).contiguous():
        if "-1" in part and "0" not in part:
            raise RangeSetParseError(inner, 0, f'bad range "{inner}" (digits before "[" '
                                     "cannot join a range ending at -1)")
        parts.append("-".join(digits + bound for bound in str(part).split("-")))
    return ",".join(parts)


def _amend_trailing(inner: str, digits: str) -> str:
    """Move digits written after ``]`` into the range: ``[1-2]0`` is ``[10-20/10]``."""
    out = []
    for elem in inner.split(","):
        shifted = "-".join(bound + digits for bound in elem.split("-"))
        out.append(shifted + "/1" + "0" * len(digits) if "-" in shifted else shifted)
    return ",".join(out)


def _next_op(expr: str, start: int, stop: int) -> int:
    found = _OP_RE.search(expr, start, stop)
    return -1 if found is None else found.start()


class _Brackets:
    """Finds the next ``[``, remembering the last answer (the scan only moves forward)."""

    def __init__(self, expr: str, stop: int) -> None:
        self.expr = expr
        self.stop = stop
        self.last = -1
        self.start = len(expr) + 1

    def find(self, start: int) -> int:
        if start >= self.start and (self.last < 0 or self.last >= start):
            return self.last
        self.start = start
        self.last = self.expr.find("[", start, self.stop)
        return self.last


def scan(expr: str, autostep: int | None = None) -> list[Term]:
    """Cut a node set expression into terms (see the module documentation).

    An empty or blank expression has no term.

    :raises NodeSetParseError: the expression is malformed.
    """
    stop = len(expr.rstrip())
    pos = len(expr) - len(expr.lstrip())
    terms: list[Term] = []
    brackets = _Brackets(expr, stop)
    next_op, next_op_pos = ",", -1
    while pos < stop:
        while expr[pos].isspace():
            pos += 1
        op, op_pos, start = next_op, next_op_pos, pos
        op_at = _next_op(expr, pos, stop)
        bra = brackets.find(pos)
        build = _Builder()
        if bra >= 0 and (op_at > bra or op_at < 0):
            sfx = pos
            while bra >= 0 and (op_at > bra or op_at < 0):
                sfx = _scan_bracket(expr, sfx, bra, stop, autostep, build)
                bra = brackets.find(sfx)
                op_at = _next_op(expr, sfx, stop)
            end = stop if op_at < 0 else op_at
            if op_at >= 0:
                next_op, next_op_pos = expr[op_at], op_at
                if op_at + 1 >= stop:
                    raise NodeSetParseError(expr, op_at, f'missing node set after "{expr[op_at]}"')
            rest = expr[sfx:end].rstrip()
            if rest:
                scan_name(expr, sfx, sfx + len(rest), autostep, build)
            pos = end + 1
        else:
            end = stop if op_at < 0 else op_at
            if op_at >= 0:
                next_op, next_op_pos = expr[op_at], op_at
                if op_at == pos:
                    raise NodeSetParseError(
                        expr, op_at, f'missing node set before "{expr[op_at]}"'
                    )
                if op_at + 1 >= stop:
                    raise NodeSetParseError(expr, op_at, f'missing node set after "{expr[op_at]}"')
            closing = expr.find("]", pos, end)
            if closing >= 0:
                raise NodeSetParseError(expr, closing, 'unexpected "]"')
            name = expr[pos:end].rstrip()
            scan_name(expr, pos, pos + len(name), autostep, build)
            pos = end + 1
        terms.append(Term(op, op_pos, start, tuple(build.pieces), tuple(build.rangesets)))
    return terms


def _scan_bracket(
    expr: str, pfx: int, bra: int, stop: int, autostep: int | None, build: _Builder
) -> int:
    """Scan ``prefix[range]`` starting at ``pfx`` (``[`` at ``bra``); return where it ends."""
    close = expr.find("]", bra + 1, stop)
    if close < 0:
        raise NodeSetParseError(expr, bra, 'missing "]"')
    stray = expr.find("]", pfx, bra)
    if stray >= 0:
        raise NodeSetParseError(expr, stray, 'unexpected "]"')
    inner, inner_at = expr[bra + 1 : close], bra + 1
    sfx = close + 1
    if sfx < stop:
        # a "]" before any "[" in the rest of the expression
        end_at = expr.find("]", sfx, stop)
        start_at = expr.find("[", sfx, stop)
        if end_at >= 0 and (start_at < 0 or end_at < start_at):
            raise NodeSetParseError(expr, end_at, 'unexpected "]"')
    moved = ""
    if sfx < stop:
        digits_end = sfx
        while digits_end < stop and expr[digits_end] in _ASCII_DIGITS:
            digits_end += 1
        if digits_end > sfx:
            if "/" in inner:
                raise NodeSetParseError(
                    expr, sfx, 'digits after "]" cannot follow a range with a step'
                )
            moved = expr[sfx:digits_end]
            inner = _amend_trailing(inner, moved)
            sfx = digits_end
    name_end = bra
    while name_end > pfx and expr[name_end - 1] in _ASCII_DIGITS:
        name_end -= 1
    if name_end < bra:
        lead = expr[name_end:bra]
        try:
            inner = _amend_leading(inner, lead)
        except RangeSetParseError as exc:
            raise _range_error(expr, inner_at, exc, moved) from None
        moved = lead + moved
    if name_end > pfx:
        scan_name(expr, pfx, name_end, autostep, build)
    if sfx < stop and expr[sfx] == "[":
        raise NodeSetParseError(expr, sfx, 'unexpected "[" right after "]"')
    try:
        rset = RangeSet(inner, autostep)
    except RangeSetParseError as exc:
        raise _range_error(expr, inner_at, exc, moved) from None
    build.slot(rset)
    return sfx


def _range_error(
    expr: str, at: int, exc: RangeSetParseError, moved: str
) -> NodeSetParseRangeError:
    """A range error inside brackets, as a node set error at its absolute position."""
    if not moved:
        return NodeSetParseRangeError(expr, at + exc.pos, exc.reason)
    return NodeSetParseRangeError(expr, at, f'{exc.reason}, after moving "{moved}" into the '
                                  "brackets")
