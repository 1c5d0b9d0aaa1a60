"""Node sets: ``node[1-10/2],web[01-03]``, folded, expanded and combined like ClusterShell.

A :class:`NodeSet` maps node name patterns (``node%s``, ``da%sc%s``) to range sets of
their indexes, so ``n[1-100000000]`` costs a few integers and ``len()`` never expands it.
It follows the set API with operators, and :func:`str` folds exactly as ClusterShell 1.10
(``nodeset -f``); iteration (``nodeset -e``) is lazy.

>>> nodes = NodeSet("node[1-10/2],web[01-03]")
>>> str(nodes), len(nodes)
('node[1,3,5,7,9],web[01-03]', 8)
>>> nodes.update("node2")
>>> nodes.difference_update("web02")
>>> print(nodes)
node[1-3,5,7,9],web[01,03]
>>> list(NodeSet("da[1-2]c[1-2]"))
['da1c1', 'da1c2', 'da2c1', 'da2c2']

Expressions combine terms with ``,`` (union), ``!`` (difference), ``&`` (intersection)
and ``^`` (symmetric difference), strictly from left to right. ``@group``,
``@source:group``, ``@*`` (all nodes) and ``@source:*`` ask a group resolver (see
:class:`GroupResolverProtocol`), by default :func:`shoal.nodeset.groups.std_group_resolver`,
which is imported only when an expression first needs it; ``resolver=NO_GROUPS`` takes
``@`` literally. A malformed expression raises :class:`~shoal.errors.NodeSetParseError`
with the column of the fault, a node name that could pass for an option or a path its
subclass :class:`~shoal.errors.NodeNameError` (see :mod:`shoal.nodeset.names`).

>>> expand("n[1-3]!n2"), fold("n1,n2,n3,m7")
(['n1', 'n3'], 'm7,n[1-3]')
>>> try:
...     NodeSet("node[5-2]")
... except NodeSetParseError as exc:
...     print(exc.pos, exc.reason)
5 bad range "5-2" (start greater than end)

:class:`NodeSetBase` does the set arithmetic on patterns and never parses;
:class:`NodeSet` adds expressions and groups, as in ClusterShell.

This module is pure: no I/O, no asyncio. It imports :mod:`shoal.errors` and the
:mod:`shoal.nodeset` range set, parsing and names modules; group sources are reached only
through a resolver object (the standard one from :mod:`shoal.nodeset.groups`, imported on
first use; that module imports nothing of this one).
"""

from __future__ import annotations

import enum
import fnmatch
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache, reduce
from itertools import chain, islice, product
from typing import TYPE_CHECKING, Final, Literal, TypeAlias, TypeVar, overload

from shoal.errors import (
    GroupSourceError,
    GroupSourceNoUpcallError,
    NodeNameError,
    NodeSetExternalError,
    NodeSetParseError,
    NoGroupSourceError,
    UnknownGroupError,
    UnknownGroupSourceError,
    UnknownGroupSourceInNodeSetError,
)
from shoal.nodeset.names import node_name, pattern_problem
from shoal.nodeset.parsing import _ASCII_DIGITS, Term, pattern_key, scan
from shoal.nodeset.rangeset import (
    AUTOSTEP_DISABLED,
    RangeSet,
    RangeSetND,
    _index_bounds,
    _split_slices,
    _zip_exact,
)

if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object  # a plain base where typing has no Protocol (Python 3.6, the gateways)

__all__ = [
    "NO_GROUPS",
    "GroupResolverProtocol",
    "NodeSet",
    "NodeSetBase",
    "expand",
    "fold",
    "grouplist",
]


class GroupResolverProtocol(Protocol):
    """What a node set asks a group resolver (ClusterShell's ``GroupResolver`` API).

    ``namespace`` is a group source name; ``None`` means the default source. Group and
    node answers are node set expressions, parsed with the same resolver. An unknown
    group raises :class:`~shoal.errors.UnknownGroupError`, an unknown source
    :class:`~shoal.errors.UnknownGroupSourceError`, a failing source
    :class:`~shoal.errors.GroupSourceError`.
    """

    @property
    def default_source_name(self) -> str | None:
        """Name of the default group source."""

    def sources(self) -> list[str]:
        """Names of all group sources, the default first."""

    def group_nodes(self, group: str, namespace: str | None = None) -> list[str]:
        """Node set expressions of the nodes of ``group``."""

    def all_nodes(self, namespace: str | None = None) -> list[str]:
        """Node set expressions of all the nodes of a source.

        :class:`~shoal.errors.GroupSourceNoUpcallError` when the source cannot tell:
        node sets then take the union of its groups.
        """

    def grouplist(self, namespace: str | None = None) -> list[str]:
        """Group names of a source (they may hold ranges)."""

    def has_node_groups(self, namespace: str | None = None) -> bool:
        """Whether the source finds the groups of a node itself."""

    def node_groups(self, node: str, namespace: str | None = None) -> list[str]:
        """Groups holding ``node`` (asked only when :meth:`has_node_groups` is true)."""


class _NoGroups(enum.Enum):
    NO_GROUPS = "NO_GROUPS"

    def __repr__(self) -> str:
        return "NO_GROUPS"


#: Pass as ``resolver`` to take ``@name`` as a plain node name: no group resolution.
NO_GROUPS: Final = _NoGroups.NO_GROUPS

#: What ``resolver=`` accepts: a resolver, NO_GROUPS, or None for the standard one.
ResolverArg: TypeAlias = "GroupResolverProtocol | Literal[_NoGroups.NO_GROUPS] | None"

#: Index sets of one pattern: None for a name without index.
_RSet: TypeAlias = "RangeSet | RangeSetND | None"

#: Groups nested deeper than this are reported as an error (a loop in practice).
_MAX_GROUP_DEPTH = 64

#: Names built at once when iterating (a list per chunk).
_CHUNK = 2048

# A name fromlist() may take apart itself: no operator, bracket, group, wildcard, "%",
# whitespace, control or non-ASCII character, no "/" and no "-" in front (those go
# through the full parser, which also refuses names that could pass for options or
# paths). The characters are listed (not a negated class of Unicode ranges, slow to
# compile).
_PLAIN_CHARS = "".join(re.escape(c) for c in map(chr, range(0x21, 0x7F)) if c not in "[],!&^@*?%/")
_PLAIN_NAME = re.compile(f"(?!-)[{_PLAIN_CHARS}]+")
_PLAIN_PREFIX = re.compile(f"(?!-)[{_PLAIN_CHARS.replace('0123456789', '')}]*")
# An expression that is only plain names joined by ",": parsed in bulk by _fold_plain().
_PLAIN_LIST = re.compile(f"(?!-)[{_PLAIN_CHARS}]+(?:,(?!-)[{_PLAIN_CHARS}]+)*")
_DIGIT_RUNS = re.compile(r"([0-9]+)")


@lru_cache(maxsize=4096)
def _pieces(key: str) -> tuple[str, ...]:
    """Literal pieces of a pattern key (``node%s-ib`` -> ``("node", "-ib")``)."""
    pieces = [""]
    i = 0
    while i < len(key):
        char = key[i]
        if char == "%":
            if key[i + 1] == "s":
                pieces.append("")
            else:
                pieces[-1] += "%"
            i += 2
        else:
            pieces[-1] += char
            i += 1
    return tuple(pieces)


def _split_plain(prefix: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(pieces, indexes) of a plain name prefix holding digits, None if not plain."""
    if not _PLAIN_NAME.fullmatch(prefix):
        return None
    parts = _DIGIT_RUNS.split(prefix)
    return tuple(parts[0::2]), tuple(parts[1::2])


def _fold_plain(
    names: Iterable[str | NodeSetBase], autostep: int | None, parsed: bool = False
) -> tuple[list[tuple[str, _RSet]], list[str | NodeSetBase]]:
    """Range sets of plain node names, grouped by pattern and folded at once.

    Names are grouped by their pattern (the name with its digit runs as slots); the
    indexes of each pattern become one :class:`RangeSet`, or one :class:`RangeSetND`
    built from the index vectors grouped by all their indexes but the last, so a million
    names cost a few passes over lists, not a million set updates. Returns the
    ``(pattern key, index set)`` pairs and, in their order, the items left to
    :meth:`NodeSet.update`: node sets, names that are not plain (operators, brackets,
    groups, wildcards, ``%``, ``/``, a leading ``-``, whitespace, non-ASCII…) and names
    of more than 100 characters (whose indexes may be too large).

    With ``parsed``, n-D sets are as the parser leaves them (the union of one-vector
    terms): no autostep of their own, ``autostep`` for the axes of their vectors.
    """
    simple: dict[str, list[str]] = {}  # digit-free prefix -> indexes after it
    # pieces -> index vectors, grouped by all indexes but the last
    multi: dict[tuple[str, ...], dict[tuple[str, ...], list[str]]] = {}
    slots: dict[str, tuple[list[str], list[str], str]] = {}  # prefix with digits
    unsafe: set[str] = set()
    other: list[str | NodeSetBase] = []
    simple_get = simple.get
    slots_get = slots.get
    for item in names:
        if not isinstance(item, str):
            other.append(item)
            continue
        prefix = item.rstrip(_ASCII_DIGITS)
        indexes = simple_get(prefix)
        if indexes is not None:
            indexes.append(item[len(prefix) :])  # "" stands for the bare prefix
            continue
        slot = slots_get(prefix)
        if slot is None:
            if prefix in unsafe:
                other.append(item)
                continue
            if _PLAIN_PREFIX.fullmatch(prefix):
                simple[prefix] = [item[len(prefix) :]]
                continue
            found = _split_plain(prefix)
            if found is None:
                unsafe.add(prefix)
                other.append(item)
                continue
            pieces, vector = found
            # where "prefix<digits>" and "prefix" alone go
            slot = slots[prefix] = (
                multi.setdefault((*pieces, ""), {}).setdefault(vector, []),
                multi.setdefault(pieces, {}).setdefault(vector[:-1], []),
                vector[-1],
            )
        if len(item) > 100:
            other.append(item)
        elif len(item) > len(prefix):
            slot[0].append(item[len(prefix) :])
        else:
            slot[1].append(slot[2])
    built: list[tuple[str, _RSet]] = []
    for prefix, indexes in simple.items():
        if "" in indexes:
            if prefix:
                built.append((prefix, None))
            indexes = [i for i in indexes if i]
        if indexes and max(map(len, indexes)) > 100:
            other.extend(prefix + i for i in indexes if len(i) > 100)
            indexes = [i for i in indexes if len(i) <= 100]
        if indexes:
            built.append((prefix + "%s", RangeSet.fromindexes(indexes, autostep)))
    for pieces, groups in multi.items():
        groups = {head: lasts for head, lasts in groups.items() if lasts}
        if not groups:
            continue
        if len(pieces) == 2:
            built.append((pattern_key(pieces), RangeSet.fromindexes(groups[()], autostep)))
        else:
            rset = (RangeSetND.fromgroups(groups, None, autostep) if parsed
                    else RangeSetND.fromgroups(groups, autostep))
            built.append((pattern_key(pieces), rset))
    return built, other


def _check_names(pieces: tuple[str, ...], axes: Sequence[RangeSet], expr: str | None = None,
                 pos: int = 0) -> None:
    """Refuse the names of a pattern (one range set per index) that could pass for options
    or paths; the error names the first such node."""
    # A name starts with its first index only without a literal before it; negative
    # indexes come first in a range set.
    lead_negative = not pieces[0] and bool(axes) and axes[0][0].startswith("-")
    problem = pattern_problem(pieces, lead_negative)
    if problem is not None:
        raise NodeNameError(node_name(pieces, [rs[0] for rs in axes]), problem, expr, pos)


def _zip_all(rows: list[list[RangeSet]]) -> Iterator[tuple[RangeSet, ...]]:
    """``zip(*rows, strict=True)``, in a form Python 3.6 runs."""
    if len({len(row) for row in rows}) > 1:
        raise ValueError("zip(): rows of different lengths")
    return zip(*rows)  # noqa: B905  (checked above; zip has no strict= before 3.10)


def _axes(rset: _RSet) -> list[RangeSet]:
    """The indexes of each axis of a pattern's range set."""
    if rset is None:
        return []
    if isinstance(rset, RangeSet):
        return [rset]
    return [reduce(RangeSet.union, axis) for axis in _zip_all(list(rset.vectors()))]


def _fold_axes(value: Iterable[int | str]) -> tuple[int, ...]:
    """Axis numbers of a ``fold_axis`` value.

    :raises TypeError: the value is not an iterable of axis numbers.
    """
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        return tuple(int(axis) for axis in value)
    except (TypeError, ValueError):
        raise TypeError(f"fold_axis must be None or axis numbers, not {value!r}") from None


def _copy_rset(rset: _RSet) -> _RSet:
    return None if rset is None else rset.copy()


_NS = TypeVar("_NS", bound="NodeSetBase")

#: What the set methods take: a node set, an expression (NodeSet only) or None (no node).
Operand: TypeAlias = "str | NodeSetBase | None"


class NodeSetBase:
    """Set arithmetic on node name patterns, with no parsing: the base of :class:`NodeSet`.

    A node set is a mapping of patterns (``node%s-ib``, literal ``%`` doubled) to the
    :class:`RangeSet` (one index) or :class:`RangeSetND` (several) of their indexes, or
    to None for a name without index. ``NodeSetBase(pattern, rangeset)`` holds one
    pattern; ``copy_rangeset=False`` hands ``rangeset`` over instead of copying it.
    The set methods and operators take other node sets (or None: no node); only
    :class:`NodeSet` reads expressions. This is ClusterShell's ``NodeSetBase``.

    :raises ValueError: ``rangeset`` without ``pattern``, or a pattern whose number of
        ``%s`` differs from the number of indexes.
    :raises NodeNameError: the names of ``pattern`` could pass for options or paths.

    >>> nsb = NodeSetBase("node%s-ipmi", RangeSet("1-5,7"))
    >>> str(nsb), len(nsb)
    ('node[1-5,7]-ipmi', 6)
    >>> str(NodeSetBase("node%s-ib%s", RangeSetND([["1-5,7", "1-2"]])))
    'node[1-5,7]-ib[1-2]'
    """

    __slots__ = ("_autostep", "_fold_axis", "_patterns")

    __hash__ = None  # type: ignore[assignment]  # mutable, like set

    def __init__(
        self,
        pattern: str | None = None,
        rangeset: RangeSet | RangeSetND | None = None,
        copy_rangeset: bool = True,
        autostep: float | None = None,
        fold_axis: Iterable[int | str] | None = None,
    ) -> None:
        self._patterns: dict[str, _RSet] = {}
        self._autostep: int | None = None
        if autostep is not None:
            self._autostep = min(int(autostep), AUTOSTEP_DISABLED)
        self._fold_axis = None if fold_axis is None else _fold_axes(fold_axis)
        if pattern:
            pieces = _pieces(pattern)
            dim = 0 if rangeset is None else rangeset.dim() or len(pieces) - 1
            if dim != len(pieces) - 1:
                raise ValueError(f'pattern "{pattern}" has {len(pieces) - 1} "%s" for '
                                 f"{dim} indexes")
            _check_names(pieces, _axes(rangeset))
            self._add(pattern, rangeset, copy_rangeset)
        elif rangeset is not None:
            raise ValueError("missing pattern")

    def _blank(self: _NS) -> _NS:
        """An empty set of the same class (and group resolver)."""
        return type(self)()

    def _new(self: _NS) -> _NS:
        """An empty set of the same class, with the same autostep."""
        inst = self._blank()
        inst._autostep = self._autostep
        return inst

    def _operand(self, other: Operand) -> NodeSetBase:
        """The node set an operand stands for (None: no node); no expression here."""
        if isinstance(other, NodeSetBase):
            return other
        if other is None:
            return NodeSetBase()
        raise TypeError(f"unsupported {type(self).__name__} operand {type(other).__name__}")

    def _add(self, key: str, rset: _RSet, copy: bool = True) -> None:
        """Add the nodes of one pattern (``rset`` copied unless ``copy`` is false)."""
        have = self._patterns.get(key, False)
        if have is False:
            if rset is not None and copy:
                rset = rset.copy()
                if self._autostep is not None:
                    rset.autostep = self._autostep
            self._patterns[key] = rset
        elif isinstance(have, RangeSet) and isinstance(rset, RangeSet):  # noqa: SIM114 (one call, two types)
            have.update(rset)
        elif isinstance(have, RangeSetND) and isinstance(rset, RangeSetND):
            have.update(rset)
        elif have is not None or rset is not None:
            raise ValueError(f'pattern "{key}" with different numbers of indexes')

    # -- properties ----------------------------------------------------------------------

    @property
    def autostep(self) -> int | None:
        """Autostep of this set (see :class:`NodeSet`); setting it applies to all."""
        return self._autostep

    @autostep.setter
    def autostep(self, value: float | None) -> None:
        self._autostep = None if value is None else min(int(value), AUTOSTEP_DISABLED)
        for rset in self._patterns.values():
            if rset is not None:
                rset.autostep = self._autostep

    def get_autostep(self) -> int | None:
        """The autostep (ClusterShell's getter of :attr:`autostep`)."""
        return self.autostep

    def set_autostep(self, value: float | None) -> None:
        """Set the autostep (ClusterShell's setter of :attr:`autostep`)."""
        self.autostep = value

    @property
    def fold_axis(self) -> tuple[int, ...] | None:
        """Axes of multi-dimensional names that :func:`str` folds (None: all of them).

        0-based, negative from the end; the other axes are expanded. Any iterable of
        axis numbers may be assigned (``range(2)``, ``RangeSet("0-1")``).

        :raises TypeError: the value is not None nor an iterable of axis numbers.
        """
        return self._fold_axis

    @fold_axis.setter
    def fold_axis(self, value: Iterable[int | str] | None) -> None:
        self._fold_axis = None if value is None else _fold_axes(value)

    # -- copies and pickles --------------------------------------------------------------

    def copy(self: _NS) -> _NS:
        """A new node set with the same nodes, autostep, ``fold_axis`` (and resolver)."""
        cpy = self._new()
        cpy._patterns = {key: _copy_rset(rset) for key, rset in self._patterns.items()}
        cpy._fold_axis = self._fold_axis
        return cpy

    __copy__ = copy

    def __deepcopy__(self: _NS, memo: dict[int, object]) -> _NS:
        return self.copy()

    def __getstate__(self) -> dict[str, object]:
        """Pickled state: the nodes, autostep and fold_axis (a resolver is not kept)."""
        return {"patterns": self._patterns, "autostep": self._autostep,
                "fold_axis": self._fold_axis}

    def __setstate__(self, state: dict[str, object]) -> None:
        self._patterns = state["patterns"]  # type: ignore[assignment]
        self._autostep = state["autostep"]  # type: ignore[assignment]
        self._fold_axis = state["fold_axis"]  # type: ignore[assignment]

    # -- size, iteration and text --------------------------------------------------------

    def __len__(self) -> int:
        return sum(1 if rset is None else len(rset) for rset in self._patterns.values())

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def _sorted(self) -> list[tuple[str, _RSet]]:
        return sorted(self._patterns.items(), key=lambda item: item[0])

    def __iter__(self) -> Iterator[str]:
        """Iterate over the node names, pattern by pattern (lazily)."""
        return chain.from_iterable(_names(key, rset) for key, rset in self._sorted())

    striter = __iter__

    def nsiter(self: _NS) -> Iterator[_NS]:
        """Iterate over the nodes, each as a one-node set."""
        for key, rset in self._sorted():
            if rset is None:
                yield self._single(key, None)
            elif isinstance(rset, RangeSet):
                for index in rset.striter():
                    yield self._single(key, RangeSet.fromone(index))
            else:
                for vec in rset:
                    yield self._single(key, RangeSetND([vec]))

    def _single(self: _NS, key: str, rset: _RSet) -> _NS:
        inst = self._blank()
        inst._patterns[key] = rset
        return inst

    def contiguous(self: _NS) -> Iterator[_NS]:
        """Iterate over contiguous parts: one pattern, contiguous indexes each.

        >>> [str(ns) for ns in NodeSet("n[1-3,5],m").contiguous()]
        ['m', 'n[1-3]', 'n5']
        """
        for key, rset in self._sorted():
            if rset is None:
                yield self._single(key, None)
            else:
                for part in rset.contiguous():
                    yield self._single(key, part)

    def __str__(self) -> str:
        out: list[str] = []
        fold_axis = self._fold_axis
        for key, rset in self._sorted():
            pieces = _pieces(key)
            if rset is None:
                out.append(pieces[0])
            elif isinstance(rset, RangeSet):
                if fold_axis is None or any(-1 <= x < 1 for x in fold_axis):
                    text = str(rset)
                    if len(rset) > 1:
                        text = f"[{text}]"
                    out.append(pieces[0] + text + pieces[1])
                else:
                    out.extend(pieces[0] + index + pieces[1] for index in rset.striter())
            else:
                out.extend(self._fold_nd(pieces, rset))
        return ",".join(out)

    def _fold_nd(self, pieces: tuple[str, ...], rset: RangeSetND) -> Iterator[str]:
        """Folded names of an n-D pattern, expanding the axes not in ``fold_axis``."""
        dim = rset.dim()
        if self._fold_axis is None:
            axes = set(range(dim))
        else:
            axes = {x % dim for x in self._fold_axis if -dim <= x < dim}
        for vec in rset.vectors():
            combos: list[list[str]] = []
            for axis, rs in enumerate(vec):
                if len(rs) > 1:
                    texts = list(rs.striter()) if axis not in axes else [f"[{rs}]"]
                else:
                    texts = [str(rs)]
                # ClusterShell lets the last axis vary slowest when it expands several.
                combos = [[*c, t] for t in texts for c in combos or [[]]]
            for combo in combos:
                yield node_name(pieces, combo)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    # -- indexing -------------------------------------------------------------------------

    def _extract_slice(self, index: slice) -> tuple[int, int, int]:
        """ClusterShell's slice bounds (a negative step only without start and stop)."""
        length = len(self)
        if index.start is None:
            start = 0
        elif index.start < 0:
            start = max(0, length + index.start)
        else:
            start = index.start
        if index.stop is None:
            stop = sys.maxsize
        elif index.stop < 0:
            stop = max(0, length + index.stop)
        else:
            stop = index.stop
        if index.step is None:
            step = 1
        elif index.step < 0:
            if index.start is not None or index.stop is not None:
                raise IndexError("illegal start and stop when negative step is used")
            shift = (length - index.step - 1) % -index.step
            if shift > 0:
                start += shift
            step = -index.step
        else:
            step = index.step
        if not all(isinstance(x, int) for x in (start, stop, step)):
            raise TypeError("slice indices must be integers")
        return start, stop, step

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self: _NS, index: slice) -> _NS: ...

    def __getitem__(self: _NS, index: int | slice) -> str | _NS:
        """The name at a position, or a node set for a ``slice``.

        >>> ns = NodeSet("n[1-10]")
        >>> ns[0], ns[-1], ns[2:5], ns[::4]
        ('n1', 'n10', NodeSet('n[3-5]'), NodeSet('n[1,5,9]'))
        """
        if isinstance(index, slice):
            return self._slice(index)
        if not isinstance(index, int):
            raise TypeError(f"{type(self).__name__} indices must be integers")
        pos = index
        if pos < 0:
            pos += len(self)
            if pos < 0:
                raise IndexError(f"{index} out of range")
        base = 0
        for key, rset in self._sorted():
            count = 1 if rset is None else len(rset)
            if pos < base + count:
                pieces = _pieces(key)
                if rset is None:
                    return pieces[0]
                if isinstance(rset, RangeSet):
                    return pieces[0] + rset[pos - base] + pieces[1]
                return node_name(pieces, rset[pos - base])
            base += count
        raise IndexError(f"{index} out of range")

    def _slice(self: _NS, index: slice) -> _NS:
        inst = self._blank()  # parts keep their own autostep
        start, stop, step = self._extract_slice(index)
        nxt = start
        if stop <= nxt:
            return inst
        base = 0
        for key, rset in self._sorted():
            if rset is not None:
                count = len(rset)
                offset = nxt - base
                if offset >= count:
                    base += count
                    continue
                num = min(stop - nxt, count - offset)
                inst._add(key, rset[offset : offset + num : step])
            else:
                count = num = 1
                if nxt > base:
                    base += count
                    continue
                inst._add(key, None)
            nxt += num
            if (nxt - start) % step:
                nxt = start + ((nxt - start) // step + 1) * step
            if nxt >= stop:
                break
            base += count
        inst._autostep = self._autostep
        return inst

    def index(self, node: Operand, start: int = 0, stop: int | None = None) -> int:
        """Position of one node in iteration order, like ``list.index()``.

        :raises ValueError: ``node`` is not one node of this set (or not within
            ``start:stop``, which may be negative).

        >>> NodeSet("node[0-9,20]").index("node20")
        10
        """
        other = self._operand(node)
        if len(other) != 1:
            raise ValueError("index() argument must be a single node")
        okey, orset = next(iter(other._patterns.items()))
        found = None
        base = 0
        for key, rset in self._sorted():
            if key == okey:
                found = _rank(rset, orset)
                if found is not None:
                    found += base
                break
            base += 1 if rset is None else len(rset)
        if found is None:
            raise ValueError(f"'{other}' is not in nodeset")
        if start != 0 or stop is not None:
            lo, hi = _index_bounds(len(self), start, stop)
            if not lo <= found < hi:
                raise ValueError(f"'{other}' is not in nodeset")
        return found

    def split(self: _NS, nbr: int) -> Iterator[_NS]:
        """Split into at most ``nbr`` node sets whose sizes differ by one at most.

        >>> [str(ns) for ns in NodeSet("foo[1-5]").split(3)]
        ['foo[1-2]', 'foo[3-4]', 'foo5']
        """
        for part in _split_slices(len(self), nbr):
            yield self._slice(part)

    # -- set operations ------------------------------------------------------------------

    def update(self, other: Operand) -> None:
        """Add the nodes of ``other``."""
        for key, rset in self._operand(other)._patterns.items():
            self._add(key, rset)

    union_update = update

    def add(self, other: Operand) -> None:
        """Add nodes (same as :meth:`update`)."""
        self.update(other)

    def updaten(self, others: Iterable[Operand]) -> None:
        """Add the nodes of several node sets."""
        for other in others:
            self.update(other)

    def clear(self) -> None:
        """Remove every node."""
        self._patterns.clear()

    def pop(self) -> str:
        """Remove the first node (in iteration order) and return its name.

        :raises KeyError: the set is empty.

        >>> ns = NodeSet("n[1-3]")
        >>> ns.pop(), ns
        ('n1', NodeSet('n[2-3]'))
        """
        for first in self.nsiter():
            self.difference_update(first)
            return str(first)
        raise KeyError("pop from an empty node set")

    def intersection_update(self, other: Operand) -> None:
        """Keep only the nodes also in ``other``."""
        ns = self._operand(other)
        if ns is self:
            return
        kept: dict[str, _RSet] = {}
        for key, orset in ns._patterns.items():
            rset = self._patterns.get(key)
            if isinstance(rset, RangeSet) and isinstance(orset, RangeSet):
                common: _RSet = rset.intersection(orset)
            elif isinstance(rset, RangeSetND) and isinstance(orset, RangeSetND):
                common = rset.intersection(orset)
            else:
                if rset is None and orset is None and key in self._patterns:
                    kept[key] = None
                continue
            if common:
                kept[key] = common
        self._patterns = kept

    def difference_update(self, other: Operand, strict: bool = False) -> None:
        """Remove the nodes of ``other``.

        :raises KeyError: ``strict`` is true and a node of ``other`` is not in this set.
        """
        ns = self._operand(other)
        purge = []
        for key, orset in list(ns._patterns.items()):
            rset = self._patterns.get(key)
            if isinstance(rset, RangeSet) and isinstance(orset, RangeSet):  # noqa: SIM114 (one call, two types)
                rset.difference_update(orset, strict)
            elif isinstance(rset, RangeSetND) and isinstance(orset, RangeSetND):
                rset.difference_update(orset, strict)
            elif key in self._patterns:
                purge.append(key)
                continue
            elif strict:
                raise KeyError(key)
            else:
                continue
            if not rset:
                purge.append(key)
        for key in purge:
            self._patterns.pop(key, None)

    def remove(self, other: Operand) -> None:
        """Remove nodes.

        :raises KeyError: one of them is not in this set.
        """
        self.difference_update(other, strict=True)

    def symmetric_difference_update(self, other: Operand) -> None:
        """Keep the nodes in exactly one of the two sets."""
        ns = self._operand(other)
        purge = []
        for key, rset in list(self._patterns.items()):
            orset = ns._patterns.get(key)
            if isinstance(rset, RangeSet) and isinstance(orset, RangeSet):  # noqa: SIM114 (one call, two types)
                rset.symmetric_difference_update(orset)
            elif isinstance(rset, RangeSetND) and isinstance(orset, RangeSetND):
                rset.symmetric_difference_update(orset)
            elif key in ns._patterns:
                purge.append(key)
        for key, orset in list(ns._patterns.items()):
            if key not in self._patterns:
                self._add(key, orset)
        for key, rset in self._patterns.items():
            if rset is not None and not rset:
                purge.append(key)
        for key in purge:
            self._patterns.pop(key, None)

    def union(self: _NS, other: Operand) -> _NS:
        """New node set with the nodes of both."""
        cpy = self.copy()
        cpy.update(other)
        return cpy

    def intersection(self: _NS, other: Operand) -> _NS:
        """New node set with the nodes common to both."""
        cpy = self.copy()
        cpy.intersection_update(other)
        return cpy

    def difference(self: _NS, other: Operand) -> _NS:
        """New node set with the nodes of this set that are not in ``other``."""
        cpy = self.copy()
        cpy.difference_update(other)
        return cpy

    def symmetric_difference(self: _NS, other: Operand) -> _NS:
        """New node set with the nodes in exactly one of the two."""
        cpy = self.copy()
        cpy.symmetric_difference_update(other)
        return cpy

    def __or__(self: _NS, other: object) -> _NS:
        if not isinstance(other, NodeSetBase):
            return NotImplemented
        return self.union(other)

    def __and__(self: _NS, other: object) -> _NS:
        if not isinstance(other, NodeSetBase):
            return NotImplemented
        return self.intersection(other)

    def __sub__(self: _NS, other: object) -> _NS:
        if not isinstance(other, NodeSetBase):
            return NotImplemented
        return self.difference(other)

    def __xor__(self: _NS, other: object) -> _NS:
        if not isinstance(other, NodeSetBase):
            return NotImplemented
        return self.symmetric_difference(other)

    def _check(self, other: object) -> NodeSetBase:
        if not isinstance(other, NodeSetBase):
            raise TypeError("Binary operation only permitted between NodeSet")
        return other

    def __ior__(self: _NS, other: object) -> _NS:
        self.update(self._check(other))
        return self

    def __iand__(self: _NS, other: object) -> _NS:
        self.intersection_update(self._check(other))
        return self

    def __isub__(self: _NS, other: object) -> _NS:
        self.difference_update(self._check(other))
        return self

    def __ixor__(self: _NS, other: object) -> _NS:
        self.symmetric_difference_update(self._check(other))
        return self

    # -- comparisons -----------------------------------------------------------------------

    def issuperset(self, other: Operand) -> bool:
        """Whether every node of ``other`` is in this set."""
        for key, orset in self._operand(other)._patterns.items():
            rset = self._patterns.get(key)
            if isinstance(rset, RangeSet) and isinstance(orset, RangeSet):  # noqa: SIM114 (one call, two types)
                if not rset.issuperset(orset):
                    return False
            elif isinstance(rset, RangeSetND) and isinstance(orset, RangeSetND):
                if not rset.issuperset(orset):
                    return False
            elif key not in self._patterns:
                return False
        return True

    def issubset(self, other: Operand) -> bool:
        """Whether every node of this set is in ``other``."""
        return self._operand(other).issuperset(self)

    def isdisjoint(self, other: Operand) -> bool:
        """Whether the two sets have no node in common.

        >>> NodeSet("n[1-3]").isdisjoint("n[4-5]"), NodeSet("n[1-3]").isdisjoint("n3")
        (True, False)
        """
        return not self.intersection(other)

    def __contains__(self, other: object) -> bool:
        """Whether a node (name or expression) or every node of a node set is here.

        >>> "n2" in NodeSet("n[1-3]"), "n[2-4]" in NodeSet("n[1-3]")
        (True, False)
        """
        if not isinstance(other, (str, NodeSetBase)):
            return False
        return self.issuperset(other)

    __le__ = issubset
    __ge__ = issuperset

    def __lt__(self, other: NodeSetBase) -> bool:
        return len(self) < len(self._check(other)) and self.issubset(other)

    def __gt__(self, other: NodeSetBase) -> bool:
        return len(self) > len(self._check(other)) and self.issuperset(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NodeSetBase):
            return NotImplemented
        return len(self) == len(other) and self.issuperset(other)


class NodeSet(NodeSetBase):
    """Set of node names with ranges: ``NodeSet("node[1-10/2],web[01-03]")``.

    ``nodes`` is a node set expression or another node set. ``autostep`` is the
    number of indexes at equal distance from which :func:`str` writes ``a-b/step``
    (``None``: inherit from the operands, off by default; :data:`AUTOSTEP_DISABLED`: off).
    ``resolver`` answers ``@group`` (see the module documentation). ``fold_axis``
    (0-based, negative from the end) limits the axes of multi-dimensional names that
    :func:`str` folds; the others are expanded.

    The set methods (``update``, ``difference_update``, ``in``…) take a node set, an
    expression or None (no node); the operators (``|``, ``-``, ``&``, ``^``) take node
    sets only.

    :raises NodeSetParseError: ``nodes`` is malformed or names an unknown group; its
        subclass :class:`~shoal.errors.NodeNameError` for a name that could pass for an
        option or a path (see :mod:`shoal.nodeset.names`).
    :raises GroupSourceError: a group source failed to answer.

    >>> ns = NodeSet("node[1-5]") - NodeSet("node3")
    >>> ns, len(ns), ns[0], ns.index("node4")
    (NodeSet('node[1-2,4-5]'), 4, 'node1', 2)
    >>> str(NodeSet("n[2,4,6,8]", autostep=3))
    'n[2-8/2]'
    """

    __slots__ = ("_resolver",)

    def __init__(
        self,
        nodes: str | NodeSetBase | None = None,
        autostep: float | None = None,
        resolver: ResolverArg = None,
        fold_axis: Iterable[int | str] | None = None,
    ) -> None:
        super().__init__(autostep=autostep, fold_axis=fold_axis)
        self._resolver: ResolverArg = resolver
        if nodes is not None:
            self.update(nodes)

    # -- construction --------------------------------------------------------------------

    @classmethod
    def fromlist(
        cls,
        nodelist: Iterable[str | NodeSetBase],
        autostep: float | None = None,
        resolver: ResolverArg = None,
    ) -> NodeSet:
        """New node set, union of node names, expressions or node sets.

        Plain names (``node17``, ``r3n12``) are grouped by pattern and their indexes
        turned into ranges at once, so a million names take about a second; anything
        else goes through the parser.

        :raises NodeSetParseError: an expression is malformed, or a name could pass
            for an option or a path (:class:`~shoal.errors.NodeNameError`).

        >>> print(NodeSet.fromlist(["n3", "n1", "n2", "r1n1", "r2n1", "web[1-2]"]))
        n[1-3],r[1-2]n1,web[1-2]
        """
        inst = cls(autostep=autostep, resolver=resolver)
        built, other = _fold_plain(nodelist, inst._autostep)
        for key, rset in built:
            inst._add(key, rset, copy=False)
        inst.updaten(other)
        return inst

    @classmethod
    def fromall(
        cls,
        groupsource: str | None = None,
        autostep: float | None = None,
        resolver: ResolverArg = None,
    ) -> NodeSet:
        """New node set of all the nodes of a group source (``nodeset -a``).

        The source's own answer (an ``all`` upcall or group), else the union of its
        groups, as ClusterShell.

        :raises NodeSetExternalError: ``resolver`` is :data:`NO_GROUPS`;
            :class:`~shoal.errors.NoGroupSourceError` when there is no group source at all.
        :raises UnknownGroupSourceError: there is no such source.
        :raises GroupSourceError: the source failed or cannot tell its nodes.
        """
        inst = cls(autostep=autostep, resolver=resolver)
        try:
            words = _all_nodes(inst._need_resolver(), groupsource)
        except UnknownGroupError as exc:  # no source at all
            raise NoGroupSourceError("no group source is configured: cannot list all "
                                     "nodes") from exc
        evaluator = _Evaluator(resolver, inst._autostep)
        for word in words:
            # Nested groups are looked up in the same source.
            inst.update(evaluator.parse(word, groupsource))
        return inst

    def _need_resolver(self) -> GroupResolverProtocol:
        resolver = _get_resolver(self._resolver)
        if resolver is None:
            raise NodeSetExternalError("this node set resolves no group (resolver=NO_GROUPS)")
        return resolver

    def _operand(self, other: Operand) -> NodeSetBase:
        """A node set operand: parsed when it is an expression."""
        if isinstance(other, str):
            return _Evaluator(self._resolver, self._autostep).parse(other)
        return super()._operand(other)

    def _blank(self) -> NodeSet:
        return type(self)(resolver=self._resolver)

    def __setstate__(self, state: dict[str, object]) -> None:
        """Unpickled node sets resolve no group (as ClusterShell's)."""
        super().__setstate__(state)
        self._resolver = NO_GROUPS

    # -- groups ------------------------------------------------------------------------------

    def _groups2(
        self, groupsource: str | None, autostep: float | None
    ) -> dict[str, tuple[int, NodeSet]]:
        """Groups holding nodes of this set: name -> (how many of them, group nodes)."""
        resolver = self._need_resolver()
        try:
            allgroups: list[str] | None = _grouplist(resolver, groupsource)
        except GroupSourceError:
            allgroups = None
        found: dict[str, tuple[int, NodeSet]] = {}
        evaluator = _Evaluator(self._resolver, None if autostep is None else int(autostep))

        def group_nodes(group: str) -> NodeSet:
            # Nested groups are looked up in the same source (ClusterShell uses the
            # default source here, which loses them).
            return evaluator.parse(",".join(resolver.group_nodes(group, groupsource)),
                                   groupsource)

        if resolver.has_node_groups(groupsource) and (
            not allgroups or len(allgroups) >= len(self)
        ):
            # Ask the source for the groups of each node.
            for node in self:
                for group in resolver.node_groups(node, groupsource):
                    if group in found:
                        count, nodes = found[group]
                        found[group] = (count + 1, nodes)
                    else:
                        found[group] = (1, group_nodes(group))
            return found
        if not allgroups:
            return found
        # Intersect with every group; order them as ClusterShell finds them (node by node).
        order = []
        for rank, group in enumerate(allgroups):
            try:
                members = group_nodes(group)
            except UnknownGroupError:
                continue
            common = self.intersection(members)
            if common:
                order.append((self._first_position(common), rank, group, len(common), members))
        for *_where, group, count, members in sorted(order, key=lambda item: item[:2]):
            found[group] = (count, members)
        return found

    def _first_position(self, part: NodeSet) -> int:
        """Position in this set of the first node of ``part`` (a subset of it)."""
        key, rset = part._sorted()[0]
        base = 0
        for okey, orset in self._sorted():
            if okey == key:
                break
            base += 1 if orset is None else len(orset)
        first: _RSet = None
        if isinstance(rset, RangeSet):
            first = RangeSet.fromone(next(rset.striter()))
        elif isinstance(rset, RangeSetND):
            first = RangeSetND([next(iter(rset))])
        offset = _rank(self._patterns[key], first)
        assert offset is not None
        return base + offset

    def groups(
        self, groupsource: str | None = None, noprefix: bool = False
    ) -> dict[str, tuple[NodeSet, NodeSet]]:
        """Groups holding nodes of this set: ``"@name"`` -> (group nodes, nodes of ours).

        Names are ``@source:name`` when ``groupsource`` is given, unless ``noprefix``.

        :raises NodeSetExternalError: ``resolver`` is :data:`NO_GROUPS`.
        """
        result = {}
        for group, (_count, nodes) in self._groups2(groupsource, self._autostep).items():
            name = f"@{groupsource}:{group}" if groupsource and not noprefix else f"@{group}"
            result[name] = (NodeSet(nodes, resolver=self._resolver), self.intersection(nodes))
        return result

    def regroup(
        self,
        groupsource: str | None = None,
        autostep: float | None = None,
        overlap: bool = False,
        noprefix: bool = False,
    ) -> str:
        """Fold using the groups of a source: ``@rack1,node9`` (``nodeset -r``).

        Whole groups replace their nodes, largest first; without ``overlap``, a group
        is used only if none of its nodes is already covered.

        :raises NodeSetExternalError: ``resolver`` is :data:`NO_GROUPS`.
        """
        groups = self._groups2(groupsource, autostep)
        if not groups:
            return str(self)
        fulls = [(count, name) for name, (count, nodes) in groups.items() if count == len(nodes)]
        rest = NodeSet(self, resolver=NO_GROUPS)
        regrouped = NodeSet(resolver=NO_GROUPS)
        for _count, name in sorted(fulls, key=lambda x: (-x[0], x[1])):
            nodes = groups[name][1]
            if not overlap and nodes not in rest:
                continue
            regrouped.update(f"@{groupsource}:{name}" if groupsource and not noprefix
                             else f"@{name}")
            rest.difference_update(nodes)
            if not rest:
                return str(regrouped)
        if regrouped:
            return f"{regrouped},{rest}"
        return str(rest)


def _rank(rset: _RSet, orset: _RSet) -> int | None:
    """Position of the single node of ``orset`` in ``rset`` (same pattern), or None."""
    if rset is None or orset is None:
        return 0 if rset is None and orset is None else None
    try:
        if isinstance(rset, RangeSet) and isinstance(orset, RangeSet):
            return rset.index(next(orset.striter()))
        if isinstance(rset, RangeSetND) and isinstance(orset, RangeSetND):
            return rset.index(next(iter(orset)))
    except ValueError:
        return None
    return None


def _names(key: str, rset: _RSet) -> Iterable[str]:
    """Node names of one pattern, in order, built from precomputed pieces.

    Names come in lists of about :data:`_CHUNK` chained together: building a list at once
    is much faster than yielding names one by one. With several indexes, a list is built
    as one string of names joined by a separator, then split: the names are made in C.
    """
    pieces = _pieces(key)
    if rset is None:
        return (pieces[0],)
    if isinstance(rset, RangeSet):
        return chain.from_iterable(_chunks_1d(pieces[0], pieces[1], rset))
    return chain.from_iterable(_chunks_nd(pieces, rset))


def _separator(text: str) -> str:
    """A character that is not in ``text``: ``","`` (never in a node name) if possible.

    >>> _separator("node"), ord(_separator("a,b"))
    (',', 0)
    """
    if "," not in text:
        return ","
    # Among len(text) + 1 characters, one at least is not in text.
    return next(char for char in map(chr, range(len(text) + 1)) if char not in text)


def _chunks_1d(head: str, tail: str, rset: RangeSet) -> Iterator[list[str]]:
    # One index per name: formatting in a comprehension is as fast as joining and splitting.
    for width, start, stop in rset.intervals():
        if width >= 2:
            limit = min(stop, 10 ** (width - 1))
            if start < limit:  # zero-padded indexes
                fmt = f"{pattern_key((head,))}%0{width}d{pattern_key((tail,))}"
                for first in range(start, limit, _CHUNK):
                    yield list(map(fmt.__mod__, range(first, min(first + _CHUNK, limit))))
                start = limit
        for first in range(start, stop, _CHUNK):
            yield [f"{head}{i}{tail}" for i in range(first, min(first + _CHUNK, stop))]


def _chunks_nd(pieces: tuple[str, ...], rset: RangeSetND) -> Iterator[list[str]]:
    sep = _separator("".join(pieces))
    for vec in rset.vectors():
        axes = [list(rs.striter()) for rs in vec]
        tails = [index + pieces[-1] for index in axes[-1]]
        middles = [[index + piece for index in axis]
                   for axis, piece in _zip_exact(axes[:-1], pieces[1:-1])]
        heads = map("".join, product([pieces[0]], *middles))
        if len(tails) >= _CHUNK:
            parts = [tails[i : i + _CHUNK] for i in range(0, len(tails), _CHUNK)]
            for head in heads:
                glue = sep + head
                for part in parts:
                    yield (head + glue.join(part)).split(sep)
        else:
            # Names of several heads per list.
            per = _CHUNK // len(tails)
            while True:
                block = list(islice(heads, per))
                if not block:
                    break
                yield sep.join([head + (sep + head).join(tails) for head in block]).split(sep)


def _grouplist(resolver: GroupResolverProtocol, source: str | None) -> list[str]:
    """Group names of a source, ranges expanded, in node set order."""
    names = NodeSet(resolver=NO_GROUPS)
    for text in resolver.grouplist(source):
        names.update(text)
    return list(names)


def grouplist(namespace: str | None = None, resolver: ResolverArg = None) -> list[str]:
    """The group names of a source (default: the default one), ranges expanded, sorted.

    Names have no ``@``. ``resolver`` defaults to the standard one.

    :raises NodeSetExternalError: ``resolver`` is :data:`NO_GROUPS`.
    :raises UnknownGroupSourceError: there is no such source.
    :raises GroupSourceError: the source cannot list its groups or failed.
    """
    spec = _get_resolver(resolver)
    if spec is None:
        raise NodeSetExternalError("no group resolver (resolver=NO_GROUPS) to list groups")
    return _grouplist(spec, namespace)


def _all_nodes(resolver: GroupResolverProtocol, source: str | None) -> list[str]:
    """All nodes of a source, as node set words: its own answer, else the union of its
    groups (ClusterShell's fallback when a source has no ``all`` upcall).

    :raises UnknownGroupError: there is no group source at all.
    :raises GroupSourceNoUpcallError: the source can neither tell all its nodes nor list
        its groups.
    """
    try:
        return resolver.all_nodes(source)
    except GroupSourceNoUpcallError as exc:
        try:
            groups = _grouplist(resolver, source)
        except GroupSourceNoUpcallError:
            raise GroupSourceNoUpcallError(exc.source, 'no "all" upcall and no "list" '
                                           "upcall to find all nodes") from None
    words: list[str] = []
    for group in groups:
        try:
            words.extend(resolver.group_nodes(group, source))
        except UnknownGroupError:
            continue  # listed, but gives nothing: an empty group
    return words


def _get_resolver(spec: ResolverArg) -> GroupResolverProtocol | None:
    """The resolver to ask: None for NO_GROUPS, the standard one when not given."""
    if spec is NO_GROUPS:
        return None
    if spec is None:
        from shoal.nodeset.groups import std_group_resolver

        return std_group_resolver()
    return spec


class _Evaluator:
    """Evaluates scanned terms: resolves groups and wildcards, applies the operators."""

    def __init__(self, resolver: ResolverArg, autostep: int | None) -> None:
        self.spec = resolver
        self.autostep = autostep
        self._resolver: GroupResolverProtocol | None = None
        self._all_nodes: dict[str | None, set[str]] = {}

    def resolver(self) -> GroupResolverProtocol | None:
        if self._resolver is None and self.spec is not NO_GROUPS:
            self._resolver = _get_resolver(self.spec)
        return self._resolver

    def parse(
        self,
        expr: str,
        namespace: str | None = None,
        stack: tuple[tuple[str, str], ...] = (),
        wildcards: bool = True,
    ) -> NodeSet:
        """Node set of an expression (group contents are parsed in ``namespace``)."""
        acc = NodeSet(resolver=self.spec)
        if _PLAIN_LIST.fullmatch(expr):
            # Only plain names (a long "node1,node2,..." list): no term, group or wildcard
            # to resolve, so fold the names in bulk, as the terms would fold one by one.
            built, other = _fold_plain(expr.split(","), self.autostep, parsed=True)
            if not other:
                for key, rset in built:
                    acc._add(key, rset, copy=False)
                return acc
        batch: list[NodeSet] = []
        for term in scan(expr, self.autostep):
            operand = self._operand(expr, term, namespace, stack, wildcards)
            if term.op == ",":
                batch.append(operand)
                continue
            _union_all(acc, batch)
            batch = []
            if term.op == "!":
                acc.difference_update(operand)
            elif term.op == "&":
                acc.intersection_update(operand)
            else:
                acc.symmetric_difference_update(operand)
        _union_all(acc, batch)
        return acc

    def _operand(
        self,
        expr: str,
        term: Term,
        namespace: str | None,
        stack: tuple[tuple[str, str], ...],
        wildcards: bool,
    ) -> NodeSet:
        literal = NodeSet(resolver=self.spec)
        rsets = term.rangesets
        if not rsets:
            literal._patterns[term.key] = None
        elif len(rsets) == 1:
            literal._patterns[term.key] = rsets[0]
        else:
            literal._patterns[term.key] = RangeSetND([list(rsets)], None, self.autostep,
                                                     copy_rangeset=False)
        if self.spec is NO_GROUPS or not (term.is_group or (wildcards and term.has_wildcard)):
            _check_names(term.pieces, rsets, expr, term.pos)
            return literal
        resolver = self.resolver()
        assert resolver is not None
        if term.is_group:
            return self._groups(expr, term, literal, resolver, namespace, stack, wildcards)
        return self._wildcards(expr, term, literal, resolver, namespace, stack)

    def _groups(
        self,
        expr: str,
        term: Term,
        names: NodeSet,
        resolver: GroupResolverProtocol,
        namespace: str | None,
        stack: tuple[tuple[str, str], ...],
        wildcards: bool,
    ) -> NodeSet:
        """Nodes of the groups a term names (``@rack[1-2]`` names two)."""
        result = NodeSet(resolver=self.spec)
        for name in names:
            source, group = namespace, name[1:]
            if ":" in group:
                source, group = group.split(":", 1)
            if not group:
                raise NodeSetParseError(expr, term.pos, f'missing group name in "{name}"')
            ident = (source or "", group)
            if ident in stack or len(stack) >= _MAX_GROUP_DEPTH:
                raise NodeSetParseError(expr, term.pos, f'group "{name}" includes itself')
            try:
                if group == "*":
                    words = _all_nodes(resolver, source)
                elif group.startswith("@"):
                    words = _grouplist(resolver, name[2:])
                else:
                    words = resolver.group_nodes(group, source)
            except UnknownGroupSourceError as exc:
                raise UnknownGroupSourceInNodeSetError(expr, term.pos, exc.source) from exc
            except UnknownGroupError as exc:
                raise NodeSetParseError(expr, term.pos, str(exc)) from exc
            content = ",".join(words)
            if not content:
                continue
            try:
                nodes = self.parse(content, source, (*stack, ident), wildcards)
            except NodeNameError as exc:
                # Named after the innermost group that holds it.
                raise (exc if exc.where else exc.within(f'group "{name}"')) from None
            except NodeSetParseError as exc:
                raise NodeSetParseError(
                    expr, term.pos, f'in group "{name}" ("{exc.expr}"): {exc.reason}'
                ) from exc
            _union_all(result, [nodes])
        return result

    def _wildcards(
        self,
        expr: str,
        term: Term,
        masks: NodeSet,
        resolver: GroupResolverProtocol,
        namespace: str | None,
        stack: tuple[tuple[str, str], ...],
    ) -> NodeSet:
        """Nodes of the source matching a term with ``*`` or ``?`` (``node*``)."""
        everyone = self._all_nodes.get(namespace)
        if everyone is None:
            try:
                words = _all_nodes(resolver, namespace)
                everyone = set(self.parse(",".join(words), namespace, stack, wildcards=False))
            except (UnknownGroupError, UnknownGroupSourceError) as exc:
                raise NodeSetParseError(
                    expr, term.pos, f'cannot expand wildcards of "{masks}": {exc}'
                ) from exc
            except NodeNameError as exc:
                raise (exc if exc.where else exc.within("all nodes")) from None
            except NodeSetParseError as exc:
                raise NodeSetParseError(
                    expr, term.pos, f'in all nodes ("{exc.expr}"): {exc.reason}'
                ) from exc
            self._all_nodes[namespace] = everyone
        left = set(everyone)
        matched: list[str] = []
        for mask in masks:
            hits = fnmatch.filter(left, mask)
            left.difference_update(hits)
            matched.extend(hits)
        return NodeSet.fromlist(matched, self.autostep, NO_GROUPS)


def _union_all(acc: NodeSet, others: list[NodeSet]) -> None:
    """Add several node sets at once (range sets of a pattern are merged in one go)."""
    if len(others) == 1:
        acc.update(others[0])
        return
    flat: dict[str, list[RangeSet]] = {}
    for other in others:
        for key, rset in other._patterns.items():
            if isinstance(rset, RangeSet):
                flat.setdefault(key, []).append(rset)
            else:
                acc._add(key, rset)
    for key, rsets in flat.items():
        have = acc._patterns.get(key)
        if isinstance(have, RangeSet):
            have.updaten(rsets)
        else:
            merged = RangeSet(autostep=rsets[0].autostep)
            merged.updaten(rsets)
            acc._add(key, merged, copy=False)


def expand(pat: str | NodeSetBase) -> list[str]:
    """The node names of an expression, in order.

    >>> expand("node[1-2],login")
    ['login', 'node1', 'node2']
    """
    return list(NodeSet(pat))


def fold(pat: str | NodeSetBase) -> str:
    """The folded form of an expression (duplicates dropped, ranges joined).

    >>> fold("node3,node1,node2,node2")
    'node[1-3]'
    """
    return str(NodeSet(pat))
