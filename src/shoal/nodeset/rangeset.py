"""Range sets: sets of node indexes written ``1-5,7,10-20/2,001-003``, as in ClusterShell.

:class:`RangeSet` holds one-dimensional indexes and :class:`RangeSetND` vectors of them
(``da[1-2]c[1-3]`` has two axes). Both follow the Python set API with its operators, fold
to the same text as ClusterShell 1.10 and parse the same input.

An index is a string: ``"1"`` and ``"01"`` are distinct, ``"08-10"`` holds ``"08"``,
``"09"`` and ``"10"``. Indexes sort by string length, then by value, negative ones first.
Internally a set is, per string width, a sorted list of disjoint integer intervals, so
``RangeSet("1-1000000")`` costs a few intervals, not a million strings; only iteration
produces strings, lazily.

>>> r = RangeSet("1-5,7,10-20/2,001-003")
>>> str(r), len(r)
('1-5,7,10,12,14,16,18,20,001-003', 15)
>>> RangeSet("1-3") | RangeSet("4,6")
1-4,6

This module is pure: no I/O, no asyncio. It imports nothing from shoal but
:mod:`shoal.errors`.
"""

from __future__ import annotations

import bisect
import enum
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import reduce
from itertools import product
from operator import mul
from typing import Final, TypeAlias, TypeVar, overload

from shoal.errors import RangeSetParseError

__all__ = ["AUTOSTEP_DISABLED", "RangeSet", "RangeSetND"]

#: Pass as ``autostep`` to turn the ``a-b/step`` notation off even where it would be inherited.
AUTOSTEP_DISABLED = 10**100

#: Bucket of negative indexes (string widths are >= 1, so it sorts first).
_NEG = 0

#: Largest index accepted, as ClusterShell (``> 1e100`` is rejected).
_MAX_INDEX = 1e100

# Modes of _combine(): which interval memberships survive.
_UNION, _INTER, _DIFF, _XOR = 0, 1, 2, 3


def _ndigits(value: int) -> int:
    """Number of decimal digits of a non-negative integer."""
    return len(str(value))


def _fmt(width: int) -> str:
    """printf format of the indexes of one width bucket."""
    return "%d" if width == _NEG else f"%0{width}d"


_A = TypeVar("_A")
_B = TypeVar("_B")


def _is_digits(text: str) -> bool:
    """Whether ``text`` is ASCII digits only, one at least (``isdigit() and isascii()``,
    which Python 3.6 lacks)."""
    return bool(text) and not text.strip("0123456789")


def _zip_exact(first: Sequence[_A], second: Sequence[_B]) -> Iterator[tuple[_A, _B]]:
    """``zip(first, second, strict=True)`` for sequences, in a form Python 3.6 runs.

    >>> list(_zip_exact("ab", [1, 2]))
    [('a', 1), ('b', 2)]
    """
    if len(first) != len(second):
        raise ValueError(f"zip(): lengths {len(first)} and {len(second)} differ")
    return zip(first, second)  # noqa: B905  (checked above; no strict= before 3.10)


def _elem(text: str) -> tuple[int, int] | None:
    """(bucket, value) of a canonical index string (``"7"``, ``"007"``, ``"-3"``), else None."""
    if _is_digits(text):
        return len(text), int(text)
    digits = text[1:]
    if text[:1] == "-" and _is_digits(digits) and digits[0] != "0":
        return _NEG, -int(digits)
    return None


def _split_range(start: int, stop: int, pad: int) -> Iterator[tuple[int, int, int]]:
    """Split ``range(start, stop)`` zero-padded to ``pad`` into (bucket, start, stop) pieces."""
    if start < 0:
        yield _NEG, start, min(stop, 0)
        start = 0
    if start >= stop:
        return
    width = max(pad, _ndigits(start))
    while start < stop:
        end = min(stop, 10**width)
        yield width, start, end
        start = end
        width += 1


def _normalize(pairs: list[tuple[int, int]]) -> list[int]:
    """Sorted flat boundaries ``[s0, e0, s1, e1, ...]`` of the union of [s, e) pairs."""
    pairs.sort()
    flat: list[int] = []
    for start, stop in pairs:
        if flat and start <= flat[-1]:
            if stop > flat[-1]:
                flat[-1] = stop
        else:
            flat.append(start)
            flat.append(stop)
    return flat


def _runs(values: list[int]) -> list[int]:
    """Flat boundaries of a sorted list of integers (duplicates allowed)."""
    if not values:
        return []
    first, last = values[0], values[-1]
    if last - first + 1 == len(values) and values == [*range(first, last + 1)]:
        return [first, last + 1]
    flat = [first]
    prev = first
    for value in values:
        if value > prev + 1:
            flat.append(prev + 1)
            flat.append(value)
        prev = value
    flat.append(prev + 1)
    return flat


def _combine(a: list[int], b: list[int], mode: int) -> list[int]:
    """Union, intersection, difference or symmetric difference of two boundary lists."""
    if not b:
        return [] if mode == _INTER else list(a)
    if not a:
        return list(b) if mode in (_UNION, _XOR) else []
    out: list[int] = []
    i = j = 0
    na, nb = len(a), len(b)
    ina = inb = cur = False
    while i < na or j < nb:
        if j >= nb or (i < na and a[i] < b[j]):
            x = a[i]
            i += 1
            ina = not ina
        elif i >= na or b[j] < a[i]:
            x = b[j]
            j += 1
            inb = not inb
        else:
            x = a[i]
            i += 1
            j += 1
            ina = not ina
            inb = not inb
        if mode == _UNION:
            new = ina or inb
        elif mode == _INTER:
            new = ina and inb
        elif mode == _DIFF:
            new = ina and not inb
        else:
            new = ina != inb
        if new != cur:
            out.append(x)
            cur = new
    return out


def _splice(flat: list[int], start: int, stop: int, add: bool) -> None:
    """Add (or remove) ``[start, stop)`` to (from) a boundary list, in place."""
    lo = bisect.bisect_left(flat, start)  # boundaries before start
    hi = bisect.bisect_right(flat, stop)  # boundaries up to stop
    new = []
    # Even counts mean "outside an interval" at that point.
    if (lo % 2 == 0) == add:
        new.append(start)
    if (hi % 2 == 0) == add:
        new.append(stop)
    flat[lo:hi] = new


def _count(flat: list[int]) -> int:
    """Number of integers in a boundary list."""
    return sum(flat[1::2]) - sum(flat[0::2])


def _split_slices(length: int, nbr: int) -> Iterator[slice]:
    """Slices cutting ``length`` items into at most ``nbr`` parts of sizes differing by one
    at most, larger parts first (``split()`` of range sets and node sets).

    >>> list(_split_slices(5, 3))
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    if nbr <= 0:
        raise ValueError("split() needs a positive number of parts")
    size, left = divmod(length, nbr)
    begin = 0
    for i in range(min(nbr, length)):
        part = size + int(i < left)
        yield slice(begin, begin + part)
        begin += part


def _index_bounds(length: int, start: int, stop: int | None) -> tuple[int, int]:
    """``list.index()``-like normalized start/stop bounds (of range sets and node sets)."""
    if start < 0:
        start = max(0, length + start)
    if stop is None:
        stop = length
    elif stop < 0:
        stop = max(0, length + stop)
    return start, stop


def _thresh(autostep: int | None) -> float:
    """Autostep as the step count the fold compares against (infinite when off)."""
    return float("inf") if autostep is None else autostep - 1


class RangeSet:
    """Mutable set of node indexes (strings), folded as ``1-5,7,10-20/2``.

    ``pattern`` is a range set expression, an iterable of indexes or expressions (joined
    with ``,``) or another :class:`RangeSet`. ``autostep`` is the number of indexes at equal
    distance from which :func:`str` writes ``a-b/step`` (``None``: never).

    Zero padding is part of an index: ``"01"`` and ``"1"`` are two elements, and a set may
    mix widths (``"1-2,001-002"``). Iteration yields strings in ClusterShell's order (width,
    then value, negative indexes first).

    :raises RangeSetParseError: ``pattern`` is malformed (``.pos`` is the 0-based column).

    >>> RangeSet("0-8/2")
    0,2,4,6,8
    >>> RangeSet("0-8/2", autostep=3)
    0-8/2
    >>> list(RangeSet("08-10"))
    ['08', '09', '10']
    >>> RangeSet([3, 6, 8, 7, 1])
    1,3,6-8
    >>> try:
    ...     RangeSet("1,5-2")
    ... except RangeSetParseError as exc:
    ...     print(exc.pos, exc.reason)
    2 bad range "5-2" (start greater than end)
    """

    __slots__ = ("_autostep", "_b", "_len")

    __hash__ = None  # type: ignore[assignment]  # mutable, like set

    def __init__(
        self,
        pattern: str | Iterable[str | int] | RangeSet | None = None,
        autostep: int | None = None,
    ) -> None:
        self._b: dict[int, list[int]] = {}
        self._len = 0
        self._autostep: int | None = None
        self.autostep = autostep
        if pattern is None:
            return
        if isinstance(pattern, RangeSet):
            self._b = {key: list(flat) for key, flat in pattern._b.items()}
            self._len = pattern._len
            return
        if not isinstance(pattern, str):
            pattern = ",".join(str(item) for item in pattern)
        self._parse(pattern)

    # -- construction -------------------------------------------------------------------

    def _parse(self, pattern: str) -> None:
        """Parse comma-separated ``a-b/step`` ranges into this (empty) set."""
        pieces: dict[int, list[tuple[int, int]]] = {}
        offset = 0
        most = 0  # at least as many as the indexes
        for raw in pattern.split(","):
            stripped = raw.strip()
            where = offset + len(raw) - len(raw.lstrip())
            offset += len(raw) + 1
            start, stop, step, pad = _parse_subrange(pattern, stripped, where)
            _collect(pieces, start, stop, step, pad)
            most += stop - start
        self._b = {key: _normalize(pairs) for key, pairs in pieces.items()}
        self._len = -1
        if most > sys.maxsize and sum(map(_count, self._b.values())) > sys.maxsize:
            # len() could not tell the size
            raise RangeSetParseError(pattern, 0, f"more than {sys.maxsize} indexes")

    @classmethod
    def fromlist(
        cls, rnglist: Iterable[str | int | Iterable[str | int]], autostep: int | None = None
    ) -> RangeSet:
        """New range set, union of range set expressions, indexes or sets.

        >>> RangeSet.fromlist(["1-3", "5", RangeSet("9")])
        1-3,5,9
        """
        inst = cls(autostep=autostep)
        inst.updaten(rnglist)
        return inst

    @classmethod
    def fromone(
        cls, index: str | int | slice, pad: int = 0, autostep: int | None = None
    ) -> RangeSet:
        """New range set of one index, or of one ``slice`` of integers.

        An integer is zero-padded to ``pad`` digits; a string keeps its own padding.

        >>> RangeSet.fromone(7, pad=3), RangeSet.fromone("07"), RangeSet.fromone(slice(1, 10, 3))
        (007, 07, 1,4,7)
        """
        inst = cls(autostep=autostep)
        if isinstance(index, slice):
            if not index.stop:
                raise ValueError(f"Invalid range upper limit ({index.stop})")
            inst.add_range(index.start or 0, index.stop, index.step or 1, pad)
        elif isinstance(index, int) and index >= 0:
            inst._b[max(pad, _ndigits(index))] = [index, index + 1]
            inst._len = 1
        else:
            inst.add(index, pad)
        return inst

    @classmethod
    def fromindexes(cls, indexes: Iterable[str], autostep: int | None = None) -> RangeSet:
        """New range set from single index strings (``"7"``, ``"007"``, ``"-2"``), fast.

        Meant for long lists: values are grouped, sorted and turned into intervals at once.

        :raises ValueError: a string is not a single index.

        >>> RangeSet.fromindexes(["3", "1", "2", "01", "10"])
        1-3,01,10
        """
        inst = cls(autostep=autostep)
        texts = indexes if isinstance(indexes, list) else list(indexes)
        inst._len = -1
        if texts and all(map(_is_digits, texts)):
            # Non-negative indexes. Sorting keeps the input order when it is sorted
            # already (the usual case), and without zero padding the total length is
            # that of the values' natural widths: then the intervals come in one go.
            values = sorted(map(int, texts))
            natural = 0
            low = 0
            width = 1
            while low < len(values):
                high = bisect.bisect_left(values, 10**width, low)
                natural += width * (high - low)
                low = high
                width += 1
            if natural == sum(map(len, texts)):
                flat = _runs(values)
                pieces: dict[int, list[tuple[int, int]]] = {}
                for i in range(0, len(flat), 2):
                    _collect(pieces, flat[i], flat[i + 1], 1, 0)
                inst._merge(pieces)
                return inst
        by_width: dict[int, list[str]] = {}
        for text in set(texts):
            elem = _elem(text)
            if elem is None:
                raise ValueError(f'"{text}" is not an index')
            by_width.setdefault(elem[0], []).append(text)
        for key, texts in by_width.items():
            inst._b[key] = _runs(sorted(map(int, texts)))
        return inst

    # -- properties -----------------------------------------------------------------------

    @property
    def autostep(self) -> int | None:
        """Least number of indexes at equal distance written ``a-b/step`` (None: never)."""
        return self._autostep

    @autostep.setter
    def autostep(self, value: float | None) -> None:
        if value is None or value >= AUTOSTEP_DISABLED:
            self._autostep = None
        else:
            self._autostep = int(value)

    def get_autostep(self) -> int | None:
        """The autostep (ClusterShell's getter of :attr:`autostep`)."""
        return self._autostep

    def set_autostep(self, value: float | None) -> None:
        """Set the autostep (ClusterShell's setter of :attr:`autostep`)."""
        self.autostep = value

    @property
    def padding(self) -> int | None:
        """Width of the widest zero-padded index, None when no index is padded.

        Setting it re-pads every index to at least that width (None means 1).

        >>> r = RangeSet("1-3,05")
        >>> r.padding
        2
        >>> r.padding = 3
        >>> r
        001-003,005
        """
        result = None
        for key, flat in self._b.items():
            if key >= 2 and flat and flat[0] < 10 ** (key - 1):
                result = key if result is None else max(result, key)
        return result

    @padding.setter
    def padding(self, value: int | None) -> None:
        pad = 1 if value is None else value
        pairs: list[tuple[int, int]] = []
        for flat in self._b.values():
            pairs.extend(_zip_exact(flat[0::2], flat[1::2]))
        merged = _normalize(pairs)
        self._b = {}
        self._len = -1
        for start, stop in _zip_exact(merged[0::2], merged[1::2]):
            self.add_range(start, stop, 1, pad)

    def dim(self) -> int:
        """Number of dimensions: 1, or 0 when empty (as :meth:`RangeSetND.dim`)."""
        return int(bool(self))

    # -- size and iteration ----------------------------------------------------------------

    def __len__(self) -> int:
        if self._len < 0:
            self._len = sum(_count(flat) for flat in self._b.values())
        return self._len

    def __bool__(self) -> bool:
        return bool(self._b)

    def _keys(self) -> list[int]:
        return sorted(self._b)

    def intervals(self) -> Iterator[tuple[int, int, int]]:
        """Iterate over ``(width, start, stop)``: runs of indexes ``range(start, stop)``.

        Each index of a run is written ``"%0*d" % (width, value)``; width 0 marks negative
        indexes. Runs come in iteration order.

        >>> list(RangeSet("1-3,9-11,02").intervals())
        [(1, 1, 4), (1, 9, 10), (2, 2, 3), (2, 10, 12)]
        """
        for key in self._keys():
            flat = self._b[key]
            for i in range(0, len(flat), 2):
                yield key, flat[i], flat[i + 1]

    def striter(self) -> Iterator[str]:
        """Iterate over the indexes as strings, zero padding included.

        >>> list(RangeSet("9-10,-1,01").striter())
        ['-1', '9', '01', '10']
        """
        for key, start, stop in self.intervals():
            yield from map(_fmt(key).__mod__, range(start, stop))

    __iter__ = striter

    def intiter(self) -> Iterator[int]:
        """Iterate over the indexes as integers (padding dropped), in iteration order.

        >>> list(RangeSet("9-10,01").intiter())
        [9, 1, 10]
        """
        for _key, start, stop in self.intervals():
            yield from range(start, stop)

    # -- folding ----------------------------------------------------------------------------

    def _segments(self) -> Iterator[tuple[int, int, int, bool]]:
        """(start, stop, digit count, zero-padded?) runs in iteration order."""
        for key, start, stop in self.intervals():
            if key < 2:
                yield start, stop, key, False
                continue
            limit = 10 ** (key - 1)
            if start < limit:
                yield start, min(stop, limit), key, True
            if stop > limit:
                yield max(start, limit), stop, key, False

    def _walk(self, mid: float, end: float) -> Iterator[tuple[int, int, int | None, int]]:
        """Fold into (start, stop, step, pad) slices, exactly as ClusterShell does.

        A run keeps the padding class of its first index: a padded run takes only indexes
        of the same width, an unpadded run only unpadded ones. A step other than 1 is kept
        when the run spans at least ``mid`` steps (``end`` for the last run; ClusterShell
        uses two thresholds for :meth:`contiguous`).
        """
        first: int | None = None  # first index of the current run
        run_padded = False
        run_width = 0
        step: int | None = None
        last = 0
        for seg_start, seg_stop, width, padded in self._segments():
            idx = seg_start
            while idx < seg_stop:
                if first is None:
                    first, run_padded, run_width, step, last = idx, padded, width, None, idx
                else:
                    pad_break = width != run_width if run_padded else padded
                    step_break = not pad_break and step is not None and step != idx - last
                    if pad_break or step_break:
                        pad = run_width if run_padded else 0
                        cur = 1 if step is None else step
                        if step is None or step == 1 or last - first >= mid * step:
                            yield first, last + 1, cur, pad
                            first, run_padded, run_width = idx, padded, width
                        else:
                            for j in range(first, last + 1 if pad_break else last - cur + 1, cur):
                                yield j, j + 1, 1, pad
                            if pad_break:
                                first, run_padded, run_width = idx, padded, width
                            else:
                                first = last
                        step = idx - last if step_break else None
                    else:
                        step = idx - last
                    last = idx
                if step == 1 and idx + 1 < seg_stop:
                    # The rest of this segment extends the run one by one: jump to its end.
                    last = idx = seg_stop - 1
                idx += 1
        if first is not None:
            pad = run_width if run_padded else 0
            if step is None or step == 1 or last - first >= end * step:
                yield first, last + 1, step, pad
            else:
                for j in range(first, last + 1, step):
                    yield j, j + 1, 1, pad

    def _folded(self) -> Iterator[tuple[int, int, int | None, int]]:
        thresh = _thresh(self._autostep)
        return self._walk(thresh, thresh)

    def __str__(self) -> str:
        parts = []
        for start, stop, step, pad in self._folded():
            first = str(start).zfill(pad)
            if start + 1 == stop:
                parts.append(first)
            elif step == 1:
                parts.append(f"{first}-{str(stop - 1).zfill(pad)}")
            else:
                parts.append(f"{first}-{str(stop - 1).zfill(pad)}/{step}")
        return ",".join(parts)

    # As in ClusterShell, the folded string is a valid expression of the same set.
    __repr__ = __str__

    def slices(self) -> Iterator[slice]:
        """Iterate over the folded ranges as ``slice`` objects (padding not given).

        >>> list(RangeSet("1-3,7,10-14/2", autostep=3).slices())
        [slice(1, 4, 1), slice(7, 8, 1), slice(10, 15, 2)]
        """
        for start, stop, step, _pad in self._folded():
            yield slice(start, stop, step)

    def contiguous(self) -> Iterator[RangeSet]:
        """Iterate over the contiguous parts, each as a new :class:`RangeSet`.

        >>> [str(r) for r in RangeSet("1-3,5,08-10").contiguous()]
        ['1-3', '5', '08-10']
        """
        for start, stop, step, pad in self._walk(float("inf"), _thresh(self._autostep)):
            part = RangeSet()
            part.add_range(start, stop, step or 1, pad)
            yield part

    # -- indexing ----------------------------------------------------------------------------

    def _at(self, pos: int) -> tuple[int, int]:
        """(bucket, value) of the element at position ``0 <= pos < len``."""
        for key in self._keys():
            flat = self._b[key]
            for i in range(0, len(flat), 2):
                size = flat[i + 1] - flat[i]
                if pos < size:
                    return key, flat[i] + pos
                pos -= size
        raise IndexError(pos)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> RangeSet: ...

    def __getitem__(self, index: int | slice) -> str | RangeSet:
        """The index at a position (a string), or a :class:`RangeSet` for a ``slice``.

        >>> r = RangeSet("1-10")
        >>> r[0], r[-1], r[2:5], r[::3]
        ('1', '10', 3-5, 1,4,7,10)
        """
        if isinstance(index, slice):
            return self._slice(index)
        if not isinstance(index, int):
            raise TypeError(f"{type(self).__name__} indices must be integers")
        length = len(self)
        pos = index + length if index < 0 else index
        if not 0 <= pos < length:
            raise IndexError("list index out of range")
        return self._str_at(pos)

    def _str_at(self, pos: int) -> str:
        key, value = self._at(pos)
        return _fmt(key) % value

    def _slice(self, index: slice) -> RangeSet:
        """The elements at the positions of a slice, as a new set (same autostep)."""
        inst = RangeSet()
        inst._autostep = self._autostep
        span = range(*index.indices(len(self)))
        if span.step < 0:
            span = span[::-1]
        if not span:
            return inst
        lo, hi, step = span.start, span[-1] + 1, span.step
        pieces: dict[int, list[tuple[int, int]]] = {}
        base = 0
        for key, start, stop in self.intervals():
            size = stop - start
            if base + size > lo and base < hi:
                first = max(lo, base)
                if step > 1:
                    first += (lo - first) % step
                last = min(hi, base + size)
                if first < last:
                    _collect(pieces, start + first - base, start + last - base, step, key)
            base += size
            if base >= hi:
                break
        inst._b = {key: _normalize(pairs) for key, pairs in pieces.items()}
        inst._len = -1
        return inst

    def _rank(self, key: int, value: int) -> int:
        """Position of a member element."""
        pos = 0
        for k in self._keys():
            flat = self._b[k]
            if k < key:
                pos += _count(flat)
                continue
            i = bisect.bisect_right(flat, value)
            pos += _count(flat[: i - 1]) + value - flat[i - 1]
            break
        return pos

    def index(self, elem: str | int, start: int = 0, stop: int | None = None) -> int:
        """Position of ``elem`` in iteration order, like ``list.index()``.

        A string keeps its padding (``"05"`` is not ``"5"``); ``start`` and ``stop`` limit
        the search and may be negative.

        :raises ValueError: ``elem`` is not in the set (or not within ``start:stop``).

        >>> RangeSet("1-10").index("5"), RangeSet("01-10").index("05")
        (4, 4)
        """
        found = _elem(elem if isinstance(elem, str) else str(elem))
        if found is None or not self._has(*found):
            raise ValueError(f"{elem} is not in RangeSet")
        pos = self._rank(*found)
        if start != 0 or stop is not None:
            lo, hi = _index_bounds(len(self), start, stop)
            if not lo <= pos < hi:
                raise ValueError(f"{elem} is not in RangeSet")
        return pos

    def split(self, nbr: int) -> Iterator[RangeSet]:
        """Split into at most ``nbr`` sets of sizes differing by one at most.

        >>> [str(r) for r in RangeSet("1-5").split(3)]
        ['1-2', '3-4', '5']
        """
        for part in _split_slices(len(self), nbr):
            yield self._slice(part)

    # -- single elements ----------------------------------------------------------------------

    def _has(self, key: int, value: int) -> bool:
        flat = self._b.get(key)
        return flat is not None and bisect.bisect_right(flat, value) % 2 == 1

    def _elem_of(self, element: str | int, pad: int) -> tuple[int, int] | None:
        if isinstance(element, str):
            return _elem(element)
        value = int(element)
        if value < 0:
            return _NEG, value
        return max(pad, _ndigits(value)), value

    def __contains__(self, element: object) -> bool:
        """Whether an index (string or integer) or every index of a set is in this set.

        >>> "05" in RangeSet("01-10"), "5" in RangeSet("01-10"), 5 in RangeSet("1-10")
        (True, False, True)
        """
        if isinstance(element, RangeSet):
            return element.issubset(self)
        found = _elem(str(element))
        return found is not None and self._has(*found)

    def add_range(self, start: int, stop: int, step: int = 1, pad: int = 0) -> None:
        """Add ``range(start, stop, step)``, each index zero-padded to ``pad`` digits.

        >>> r = RangeSet()
        >>> r.add_range(8, 12, pad=2)
        >>> r
        08-11
        """
        if start >= stop:
            raise ValueError("please provide ordered node index ranges")
        if step <= 0 or pad < 0:
            raise ValueError("step must be positive and pad not negative")
        pieces: dict[int, list[tuple[int, int]]] = {}
        _collect(pieces, start, stop, step, pad)
        self._merge(pieces)

    def _merge(self, pieces: dict[int, list[tuple[int, int]]]) -> None:
        for key, pairs in pieces.items():
            self._b[key] = _combine(self._b.get(key, []), _normalize(pairs), _UNION)
        self._len = -1

    def add(self, element: str | int, pad: int = 0) -> None:
        """Add one index: a string (its padding kept) or an integer padded to ``pad``.

        :raises ValueError: the string is not an index.
        """
        found = self._elem_of(element, pad)
        if found is None:
            raise ValueError(f'"{element}" is not an index')
        if not self._has(*found):
            self._merge({found[0]: [(found[1], found[1] + 1)]})

    def remove(self, element: str | int, pad: int = 0) -> None:
        """Remove one index.

        :raises KeyError: it is not in the set.
        """
        found = self._elem_of(element, pad)
        if found is None or not self._has(*found):
            raise KeyError(element)
        self._drop(*found)

    def discard(self, element: str | int, pad: int = 0) -> None:
        """Remove one index if present."""
        try:
            found = self._elem_of(element, pad)
        except (TypeError, ValueError):
            return
        if found is not None and self._has(*found):
            self._drop(*found)

    def _drop(self, key: int, value: int) -> None:
        flat = _combine(self._b[key], [value, value + 1], _DIFF)
        if flat:
            self._b[key] = flat
        else:
            del self._b[key]
        self._len = -1

    def clear(self) -> None:
        """Remove every index."""
        self._b = {}
        self._len = 0

    def pop(self) -> str:
        """Remove the first index (in iteration order) and return it.

        :raises KeyError: the set is empty.

        >>> r = RangeSet("3-5")
        >>> r.pop(), r
        ('3', 4-5)
        """
        if not self._b:
            raise KeyError("pop from an empty RangeSet")
        key = min(self._b)
        value = self._b[key][0]
        self._drop(key, value)
        return _fmt(key) % value

    def copy(self) -> RangeSet:
        """A new set with the same indexes and autostep."""
        cpy = RangeSet()
        cpy._b = {key: list(flat) for key, flat in self._b.items()}
        cpy._len = self._len
        cpy._autostep = self._autostep
        return cpy

    __copy__ = copy

    # -- whole-set operations -------------------------------------------------------------------

    @staticmethod
    def _coerce(other: object) -> RangeSet:
        if isinstance(other, RangeSet):
            return other
        if isinstance(other, str):
            return RangeSet(other)
        if isinstance(other, Iterable):
            inst = RangeSet()
            for item in other:
                inst.add(item)
            return inst
        raise TypeError("Binary operation only permitted between sets")

    def _apply(self, other: RangeSet, mode: int) -> None:
        if other is self:  # r -= r: the loops below would change what they walk
            if mode in (_DIFF, _XOR):
                self.clear()
            return
        if mode in (_UNION, _DIFF) and sum(map(len, other._b.values())) <= 16:
            # A few intervals into a large set: splice them in, no full merge.
            for key, oflat in other._b.items():
                mine = self._b.get(key)
                if mine is None:
                    if mode == _UNION:
                        self._b[key] = list(oflat)
                    continue
                for i in range(0, len(oflat), 2):
                    _splice(mine, oflat[i], oflat[i + 1], mode == _UNION)
                if not mine:
                    del self._b[key]
            self._len = -1
            return
        keys = set(self._b) | set(other._b) if mode in (_UNION, _XOR) else set(self._b)
        result = {}
        for key in keys:
            flat = _combine(self._b.get(key, []), other._b.get(key, []), mode)
            if flat:
                result[key] = flat
        self._b = result
        self._len = -1

    def update(self, iterable: Iterable[str | int] | RangeSet) -> None:
        """Add every index of another set or iterable of indexes."""
        if isinstance(iterable, str):
            raise TypeError("update() takes a set or an iterable of indexes, not a string")
        self._apply(self._coerce(iterable), _UNION)

    union_update = update

    def updaten(self, rangesets: Iterable[str | int | Iterable[str | int]]) -> None:
        """Add the union of several sets, range set expressions or indexes, at once.

        >>> r = RangeSet("1")
        >>> r.updaten(["3-4", RangeSet("2"), 9])
        >>> r
        1-4,9
        """
        pieces: dict[int, list[tuple[int, int]]] = {}
        for rng in rangesets:
            if isinstance(rng, RangeSet):
                src = rng
            elif isinstance(rng, int):
                src = RangeSet.fromone(rng)
            else:
                src = RangeSet(rng)
            for key, flat in src._b.items():
                pieces.setdefault(key, []).extend(_zip_exact(flat[0::2], flat[1::2]))
        for key, pairs in pieces.items():
            mine = self._b.get(key)
            if mine:
                pairs.extend(_zip_exact(mine[0::2], mine[1::2]))
            self._b[key] = _normalize(pairs)
        self._len = -1

    def intersection_update(self, other: Iterable[str | int] | RangeSet) -> None:
        """Keep only the indexes also in ``other``."""
        self._apply(self._coerce(other), _INTER)

    def difference_update(
        self, other: Iterable[str | int] | RangeSet, strict: bool = False
    ) -> None:
        """Remove the indexes of ``other``.

        :raises KeyError: ``strict`` is true and an index of ``other`` is not in this set.
        """
        rset = self._coerce(other)
        if strict and not rset.issubset(self):
            raise KeyError(rset.difference(self)[0])
        self._apply(rset, _DIFF)

    def symmetric_difference_update(self, other: Iterable[str | int] | RangeSet) -> None:
        """Keep the indexes in exactly one of the two sets."""
        self._apply(self._coerce(other), _XOR)

    def union(self, other: Iterable[str | int] | RangeSet) -> RangeSet:
        """New set with the indexes of both sets."""
        cpy = self.copy()
        cpy.update(other)
        return cpy

    def intersection(self, other: Iterable[str | int] | RangeSet) -> RangeSet:
        """New set with the indexes common to both sets."""
        cpy = self.copy()
        cpy.intersection_update(other)
        return cpy

    def difference(self, other: Iterable[str | int] | RangeSet) -> RangeSet:
        """New set with the indexes of this set that are not in ``other``."""
        cpy = self.copy()
        cpy.difference_update(other)
        return cpy

    def symmetric_difference(self, other: Iterable[str | int] | RangeSet) -> RangeSet:
        """New set with the indexes in exactly one of the two sets."""
        cpy = self.copy()
        cpy.symmetric_difference_update(other)
        return cpy

    def __or__(self, other: object) -> RangeSet:
        if not isinstance(other, RangeSet):
            return NotImplemented
        return self.union(other)

    def __and__(self, other: object) -> RangeSet:
        if not isinstance(other, RangeSet):
            return NotImplemented
        return self.intersection(other)

    def __sub__(self, other: object) -> RangeSet:
        if not isinstance(other, RangeSet):
            return NotImplemented
        return self.difference(other)

    def __xor__(self, other: object) -> RangeSet:
        if not isinstance(other, RangeSet):
            return NotImplemented
        return self.symmetric_difference(other)

    def _check(self, other: object) -> RangeSet:
        if not isinstance(other, RangeSet):
            raise TypeError("Binary operation only permitted between RangeSet")
        return other

    def __ior__(self, other: object) -> RangeSet:
        self._apply(self._check(other), _UNION)
        return self

    def __iand__(self, other: object) -> RangeSet:
        self._apply(self._check(other), _INTER)
        return self

    def __isub__(self, other: object) -> RangeSet:
        self._apply(self._check(other), _DIFF)
        return self

    def __ixor__(self, other: object) -> RangeSet:
        self._apply(self._check(other), _XOR)
        return self

    # -- comparisons ------------------------------------------------------------------------------

    def issubset(self, other: RangeSet) -> bool:
        """Whether every index of this set is in ``other``."""
        other = self._check(other)
        for key, flat in self._b.items():
            if _combine(flat, other._b.get(key, []), _DIFF):
                return False
        return True

    def issuperset(self, other: RangeSet) -> bool:
        """Whether every index of ``other`` is in this set."""
        return self._check(other).issubset(self)

    def isdisjoint(self, other: Iterable[str | int] | RangeSet) -> bool:
        """Whether the two sets have no index in common.

        >>> RangeSet("1-3").isdisjoint(RangeSet("4-5")), RangeSet("1-3").isdisjoint(["3"])
        (True, False)
        """
        return not self.intersection(other)

    __le__ = issubset
    __ge__ = issuperset

    def __lt__(self, other: RangeSet) -> bool:
        return len(self) < len(self._check(other)) and self.issubset(other)

    def __gt__(self, other: RangeSet) -> bool:
        return len(self) > len(self._check(other)) and self.issuperset(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RangeSet):
            return NotImplemented
        return self._b == other._b

    def _signature(self) -> tuple[tuple[int, tuple[int, ...]], ...]:
        """Hashable snapshot of the content (equal sets, equal signatures)."""
        return tuple((key, tuple(self._b[key])) for key in self._keys())


def _collect(
    pieces: dict[int, list[tuple[int, int]]], start: int, stop: int, step: int, pad: int
) -> None:
    """Add ``range(start, stop, step)`` padded to ``pad`` to per-bucket [s, e) pairs."""
    for key, lo, hi in _split_range(start, stop, pad):
        if step == 1:
            pieces.setdefault(key, []).append((lo, hi))
        else:
            first = lo + (start - lo) % step
            if first < hi:
                pieces.setdefault(key, []).extend((v, v + 1) for v in range(first, hi, step))


def _parse_subrange(pattern: str, sub: str, where: int) -> tuple[int, int, int, int]:
    """Parse one stripped ``a-b/step`` part at column ``where``: (start, stop, step, pad).

    Follows ClusterShell's checks and its use of ``int()``, so that the same inputs are
    accepted, with the same meaning, and the same ones rejected.
    """

    def fail(pos: int, reason: str) -> RangeSetParseError:
        return RangeSetParseError(pattern, pos, reason)

    if not sub:
        raise fail(where, "empty range")
    if "/" in sub:
        base, step_text = sub.split("/", 1)
        step_at = where + len(base) + 1
        try:
            step = int(step_text)
        except ValueError:
            if not step_text.strip():
                raise fail(step_at, f'bad range "{sub}" (missing step)') from None
            raise fail(step_at, f'bad step "{step_text}" in "{sub}"') from None
    else:
        base, step, step_at = sub, 1, where
    neg_begin = neg_end = False
    parts = base.split("-")
    offsets = []
    at = where
    for part in parts:
        offsets.append(at + len(part) - len(part.lstrip()))
        at += len(part) + 1
    if len(parts) == 1:
        if step != 1:
            raise fail(where, f'step without a range in "{sub}"')
        begin = end = base
        begin_at = end_at = where
    elif len(parts) == 2:
        begin, end = parts[0].strip(), parts[1].strip()
        begin_at, end_at = offsets
        if not begin:  # "-5": a single negative index
            begin, begin_at = end, end_at
            neg_begin = neg_end = True
    elif len(parts) == 3:  # "-0-3" (what precedes the first "-" is ignored, as ClusterShell)
        begin, end = parts[1].strip(), parts[2].strip()
        begin_at, end_at = offsets[1], offsets[2]
        neg_begin = True
    elif len(parts) == 4:  # "-8--4"
        begin, end = parts[1].strip(), parts[3].strip()
        begin_at, end_at = offsets[1], offsets[3]
        neg_begin = neg_end = True
    else:
        raise fail(where, f'bad range "{sub}" (too many "-")')

    def number(text: str, pos: int) -> int:
        try:
            return int(text)
        except ValueError:
            if not text:
                raise fail(where, f'bad range "{sub}" (missing number)') from None
            raise fail(pos, f'bad number "{text}"') from None

    pad = 0
    if number(begin, begin_at) != 0:
        begins = begin.lstrip("0")
        if len(begins) < len(begin):
            pad = len(begin)
        start = number(begins, begin_at)
    else:
        if len(begin) > 1:
            pad = len(begin)
        start = 0
    ends = end.lstrip("0") if number(end, end_at) != 0 else end
    endpad = len(end) if len(ends) < len(end) else 0
    if (pad > 0 or endpad > 0) and len(begin) != len(end):
        raise fail(where, f'bad range "{sub}" (padded bounds must have the same length)')
    stop = number(ends, end_at)
    if pad > 0 and neg_begin:
        raise fail(where, f'bad range "{sub}" (no zero padding in negative ranges)')
    if stop > _MAX_INDEX:
        raise fail(where, f'bad range "{sub}" (index too large)')
    first = -start if neg_begin else start
    last = -stop if neg_end else stop
    if first > last:
        raise fail(where, f'bad range "{sub}" (start greater than end)')
    if step < 1:
        raise fail(step_at, f'bad step "{step}" in "{sub}" (must be 1 or more)')
    return first, last + 1, step, pad


# -- N dimensions ---------------------------------------------------------------------------------

#: One axis of a vector while folding: (indexes, first, last) with ClusterShell's ordering.
_Axis: TypeAlias = "tuple[frozenset[str], str, str]"


def _sortkey(text: str) -> tuple[int, int | str]:
    """ClusterShell's order of index strings: width then value, negative ones first."""
    if text.startswith("-"):
        return -len(text), int(text)
    return len(text), text


def _vkey(vec: tuple[_Axis, ...]) -> tuple[int, tuple[tuple[int, str, str], ...]]:
    """Sort key of a vector: larger first, then larger axes, lower first and last indexes."""
    size = 1
    for axis in vec:
        size *= len(axis[0])
    return -size, tuple((-len(s), first, last) for s, first, last in vec)


def _axis_union(a: _Axis, b: _Axis) -> _Axis:
    first = min(a[1], b[1], key=_sortkey)
    last = max(a[2], b[2], key=_sortkey)
    return a[0] | b[0], first, last


def _try_merge(v1: tuple[_Axis, ...], v2: tuple[_Axis, ...]) -> tuple[_Axis, ...] | None:
    """Merged vector when the two differ on one axis at most (ClusterShell's rule)."""
    new = []
    ndiff = 0
    for a, b in _zip_exact(v1, v2):
        sa, sb = a[0], b[0]
        if sa == sb:
            new.append(a)
            continue
        ndiff += 1
        if ndiff > 1:
            return None
        if sa.isdisjoint(sb):
            new.append(_axis_union(a, b))
        elif sa > sb:
            new.append(a)
        elif sa < sb:
            new.append(b)
        else:
            return None
    return tuple(new)


def _fold_points(points: list[tuple[str, ...]]) -> list[tuple[_Axis, ...]]:
    """ClusterShell's multivariate fold of distinct points: merge vectors pass after pass.

    The first pass on single points only joins neighbours (in string order) that differ on
    one axis, so it is done here in one linear walk; later passes follow the original
    algorithm: sort, merge in O(n) "easy" passes while they change anything, then full
    O(n^2) passes until nothing changes.
    """
    points.sort()
    lines: list[tuple[_Axis, ...]] = []
    changed = False
    base = points[0]
    axis = -1  # axis along which the current line grows, -1 while it is one point
    values = [base[0]]
    for point in points[1:]:
        if axis < 0:
            diff = [i for i, (x, y) in enumerate(_zip_exact(base, point)) if x != y]
            if len(diff) == 1:
                axis = diff[0]
                values = [base[axis], point[axis]]
                changed = True
                continue
        elif all(x == y for i, (x, y) in enumerate(_zip_exact(base, point)) if i != axis):
            values.append(point[axis])
            continue
        lines.append(_line(base, axis, values))
        base, axis = point, -1
    lines.append(_line(base, axis, values))

    veclist = lines
    full = not changed
    while True:
        veclist.sort(key=_vkey)
        changed = False
        if full:
            alive = [True] * len(veclist)
            for i in range(len(veclist)):
                if not alive[i]:
                    continue
                item = veclist[i]
                for j in range(i + 1, len(veclist)):
                    if alive[j]:
                        merged = _try_merge(item, veclist[j])
                        if merged is not None:
                            item = merged
                            alive[j] = False
                            changed = True
                veclist[i] = item
            veclist = [v for v, keep in _zip_exact(veclist, alive) if keep]
        else:
            out = []
            item = veclist[0]
            for other in veclist[1:]:
                merged = _try_merge(item, other)
                if merged is None:
                    out.append(item)
                    item = other
                else:
                    item = merged
                    changed = True
            out.append(item)
            veclist = out
        if not changed:
            if full:
                return veclist
            full = True


def _line(base: tuple[str, ...], axis: int, values: list[str]) -> tuple[_Axis, ...]:
    """Vector of single indexes but along ``axis``, which holds ``values``."""
    vec = []
    for i, text in enumerate(base):
        if i == axis:
            vec.append((frozenset(values), min(values, key=_sortkey), max(values, key=_sortkey)))
        else:
            vec.append((frozenset((text,)), text, text))
    return tuple(vec)


Box: TypeAlias = "list[RangeSet]"


class _Same(enum.Enum):
    """Type of :data:`_SAME`, a default meaning "the same as another argument"."""

    SAME = "SAME"


_SAME: Final = _Same.SAME


def _box_and(a: Sequence[RangeSet], b: Sequence[RangeSet]) -> Box | None:
    out = []
    for x, y in _zip_exact(a, b):
        z = x.intersection(y)
        if not z:
            return None
        out.append(z)
    return out


def _box_sub(a: Box, b: Sequence[RangeSet]) -> list[Box]:
    """``a - b`` as disjoint boxes."""
    inter = _box_and(a, b)
    if inter is None:
        return [a]
    out = []
    rest = list(a)
    for i in range(len(a)):
        diff = rest[i].difference(b[i])
        if diff:
            out.append([*rest[:i], diff, *rest[i + 1 :]])
        rest[i] = inter[i]
    return out


def _consolidate(boxes: list[Box]) -> list[Box]:
    """Merge disjoint boxes equal on every axis but one (keeps the list short)."""
    if len(boxes) < 2:
        return boxes
    dim = len(boxes[0])
    changed = True
    while changed:
        changed = False
        for axis in range(dim):
            groups: dict[tuple[object, ...], Box] = {}
            for box in boxes:
                sig = tuple(rs._signature() for i, rs in enumerate(box) if i != axis)
                have = groups.get(sig)
                if have is None:
                    groups[sig] = box
                else:
                    have[axis] = have[axis].union(box[axis])
                    changed = True
            boxes = list(groups.values())
    return boxes


def _boxes_from_points(points: Iterable[Sequence[str]], dim: int) -> list[Box]:
    """Disjoint boxes holding exactly the given points (tuples of index strings)."""
    if dim == 1:
        rs = RangeSet.fromindexes([p[0] for p in points])
        return [[rs]] if rs else []
    groups: dict[tuple[str, ...], list[str]] = {}
    for point in points:
        groups.setdefault(tuple(point[:-1]), []).append(point[-1])
    return _boxes_from_groups(groups, dim)


def _boxes_from_groups(groups: Mapping[tuple[str, ...], Iterable[str]], dim: int) -> list[Box]:
    """Disjoint boxes from last indexes grouped by the other ones (``dim`` >= 2)."""
    by_last: dict[tuple[object, ...], tuple[RangeSet, list[tuple[str, ...]]]] = {}
    for prefix, lasts in groups.items():
        rs = RangeSet.fromindexes(lasts)
        if not rs:
            continue
        sig = rs._signature()
        have = by_last.get(sig)
        if have is None:
            by_last[sig] = (rs, [prefix])
        else:
            have[1].append(prefix)
    boxes = []
    for rs, prefixes in by_last.values():
        for sub in _boxes_from_points(prefixes, dim - 1):
            boxes.append([*sub, rs.copy()])
    return boxes


class RangeSetND:
    """Set of index vectors, folded as ClusterShell folds ``da[1-2]c[1-3]``.

    ``args`` is a list of vectors, each a list of range set expressions, of
    :class:`RangeSet` objects or of integers (zero-padded to ``pads``). The set is the union
    of the vectors' cartesian products. :func:`str` gives one ``"a; b"`` line per folded
    vector, exactly as ClusterShell: a single vector when the set is a box, else
    ClusterShell's multivariate merge.

    >>> r = RangeSetND([["1-2", "1-3"], ["3", "1-3"]])
    >>> print(r, end="")
    1-3; 1-3
    >>> len(r), r.dim()
    (9, 2)
    >>> print(RangeSetND([["1-2", "1-2"], ["3", "1"]]), end="")
    1-2; 1-2
    3; 1

    Autostep works at two levels, as in ClusterShell: :attr:`autostep` applies to vectors
    built by a multivariate fold, while a box keeps the autostep of the vectors it was
    made of. ClusterShell loses the set's autostep in :meth:`copy` and the axes' one in
    :meth:`intersection_update`; so does this class, to fold the same.
    """

    __slots__ = ("_autostep", "_boxes", "_dim", "_folded", "_inner", "_pending")

    __hash__ = None  # type: ignore[assignment]  # mutable, like set

    def __init__(
        self,
        args: Iterable[Sequence[str | int | RangeSet]] | None = None,
        pads: Sequence[int] | None = None,
        autostep: int | None = None,
        copy_rangeset: bool = True,
    ) -> None:
        self._boxes: list[Box] = []  # disjoint boxes
        self._pending: list[Box] = []  # boxes added since the last normalization
        self._folded: list[Box] | None = None
        self._dim = 0
        self._autostep: int | None = None
        self._inner: int | None = None  # autostep of the axes of the vectors
        self.autostep = autostep
        if args is None:
            return
        first = True
        for vec in args:
            if not vec:
                continue
            box: Box = []
            for i, item in enumerate(vec):
                if isinstance(item, RangeSet):
                    rs = item.copy() if copy_rangeset else item
                elif isinstance(item, str):
                    rs = RangeSet(item, autostep=autostep)
                else:
                    rs = RangeSet.fromone(item, pads[i] if pads else 0, autostep)
                box.append(rs)
            if first:
                self._inner = box[0].autostep
                first = False
            self._push(box)

    @classmethod
    def frompoints(
        cls, points: Iterable[Sequence[str]], autostep: int | None = None
    ) -> RangeSetND:
        """New set from index vectors (``("1", "07")``), grouped into boxes at once.

        >>> print(RangeSetND.frompoints([("1", "1"), ("1", "2"), ("2", "1"), ("2", "2")]), end="")
        1-2; 1-2
        """
        inst = cls(autostep=autostep)
        pts = set(map(tuple, points))
        if pts:
            inst._dim = len(next(iter(pts)))
            if any(len(p) != inst._dim for p in pts):
                raise ValueError("all vectors must have the same number of indexes")
            inst._boxes = _consolidate(_boxes_from_points(pts, inst._dim))
        return inst

    @classmethod
    def fromgroups(
        cls,
        groups: Mapping[tuple[str, ...], Iterable[str]],
        autostep: int | None = None,
        axis_autostep: int | _Same | None = _SAME,
    ) -> RangeSetND:
        """New set from last indexes grouped by the others: ``{("1",): ["1", "2"]}``.

        The fastest way to build a set from many vectors: ``{("1",): ["1", "2"],
        ("2",): ["1", "2"]}`` holds ``(1, 1)``, ``(1, 2)``, ``(2, 1)`` and ``(2, 2)``.
        ``axis_autostep`` is the autostep of the axes of the vectors (what a single box
        folds with), ``autostep`` by default; ``autostep`` is that of the set (what a
        multivariate fold uses). The node set parser leaves ``None`` and its autostep.

        >>> print(RangeSetND.fromgroups({("1",): ["1", "2"], ("2",): ["2", "1"]}), end="")
        1-2; 1-2
        """
        inst = cls(autostep=autostep)
        if not isinstance(axis_autostep, _Same):
            inst._inner = axis_autostep
        dims = {len(prefix) for prefix in groups}
        if len(dims) > 1:
            raise ValueError("all vectors must have the same number of indexes")
        if dims:
            inst._dim = dims.pop() + 1
            if inst._dim < 2:
                raise ValueError("fromgroups() needs vectors of two indexes or more")
            inst._boxes = _consolidate(_boxes_from_groups(groups, inst._dim))
            if not inst._boxes:
                inst._dim = 0
        return inst

    # -- state ------------------------------------------------------------------------------

    def _push(self, box: Box) -> None:
        if any(not rs for rs in box):
            return
        if self._dim and len(box) != self._dim:
            raise ValueError(f"vector of {len(box)} indexes in a set of {self._dim} dimensions")
        self._dim = len(box)
        self._pending.append(box)
        self._folded = None

    def _norm(self) -> list[Box]:
        """The disjoint boxes, once pending vectors are merged in."""
        if self._pending:
            pending, self._pending = self._pending, []
            points = []
            boxes = self._boxes
            for box in pending:
                if all(len(rs) == 1 for rs in box):
                    points.append(box)
                    continue
                pieces = [box]
                for old in boxes:
                    pieces = [p for piece in pieces for p in _box_sub(piece, old)]
                boxes = boxes + pieces
            if points:
                keep = {
                    vec
                    for vec in (tuple(rs._str_at(0) for rs in box) for box in points)
                    if not any(all(v in o for v, o in _zip_exact(vec, old)) for old in boxes)
                }
                boxes = boxes + _boxes_from_points(keep, self._dim)
            self._boxes = _consolidate(boxes)
        if not self._boxes:
            self._dim = 0
        return self._boxes

    def _set_boxes(self, boxes: list[Box]) -> None:
        self._boxes = _consolidate([b for b in boxes if all(b)])
        self._pending = []
        self._folded = None
        if not self._boxes:
            self._dim = 0

    @staticmethod
    def _apply_autostep(boxes: list[Box], autostep: int | None) -> None:
        for box in boxes:
            for rs in box:
                rs.autostep = autostep

    def _fold(self) -> list[Box]:
        """The folded vectors, as ClusterShell would list them."""
        if self._folded is None:
            boxes = self._norm()
            if len(boxes) <= 1:
                folded = [[rs.copy() for rs in box] for box in boxes]
                autostep = self._inner
            else:
                axes = [reduce(RangeSet.union, (b[i] for b in boxes)) for i in range(self._dim)]
                if reduce(mul, map(len, axes)) == len(self):
                    folded = [axes]
                    autostep = self._inner
                else:
                    points: list[tuple[str, ...]] = []
                    for box in boxes:
                        points.extend(product(*(list(rs.striter()) for rs in box)))
                    folded = [
                        [RangeSet.fromindexes(axis[0]) for axis in vec]
                        for vec in _fold_points(points)
                    ]
                    # ClusterShell builds these vectors with the set's autostep.
                    autostep = self._inner = self._autostep
            self._apply_autostep(folded, autostep)
            self._folded = folded
        return self._folded

    # -- properties ---------------------------------------------------------------------------

    @property
    def autostep(self) -> int | None:
        """Autostep of every axis (see :attr:`RangeSet.autostep`)."""
        return self._autostep

    @autostep.setter
    def autostep(self, value: float | None) -> None:
        self._autostep = None if value is None or value >= AUTOSTEP_DISABLED else int(value)
        self._inner = self._autostep
        self._apply_autostep(self._folded or [], self._autostep)

    def get_autostep(self) -> int | None:
        """The autostep (ClusterShell's getter of :attr:`autostep`)."""
        return self._autostep

    def set_autostep(self, value: float | None) -> None:
        """Set the autostep (ClusterShell's setter of :attr:`autostep`)."""
        self.autostep = value

    @property
    def veclist(self) -> list[list[RangeSet]]:
        """The folded vectors (do not modify them); assigning replaces the content."""
        return self._fold()

    @veclist.setter
    def veclist(self, value: Iterable[Sequence[RangeSet]]) -> None:
        self._boxes = []
        self._pending = []
        self._folded = None
        self._dim = 0
        first = True
        for vec in value:
            if first and vec:
                self._inner = vec[0].autostep
                first = False
            self._push([rs.copy() for rs in vec])

    def vectors(self) -> Iterator[list[RangeSet]]:
        """Iterate over the folded vectors of :class:`RangeSet`."""
        return iter(self._fold())

    def dim(self) -> int:
        """Number of dimensions, 0 when empty."""
        return self._dim if self else 0

    def pads(self) -> tuple[int, ...]:
        """Widest zero padding of each axis (0 when none)."""
        vecs = self._fold()
        return tuple(
            max(vec[i].padding or 0 for vec in vecs) for i in range(len(vecs[0]))
        ) if vecs else ()

    def fold(self) -> None:
        """Fold now (folding otherwise happens when first needed)."""
        self._fold()

    # -- size and iteration ------------------------------------------------------------------

    def __len__(self) -> int:
        return sum(reduce(mul, map(len, box)) for box in self._norm())

    def __bool__(self) -> bool:
        return bool(self._norm())

    def __str__(self) -> str:
        return "".join("; ".join(map(str, vec)) + "\n" for vec in self._fold())

    def __repr__(self) -> str:
        return f"RangeSetND({[[str(rs) for rs in vec] for vec in self._fold()]!r})"

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        """Iterate over the index vectors (tuples of strings) of the folded vectors."""
        for vec in self._fold():
            yield from product(*(list(rs.striter()) for rs in vec))

    def iter_padding(self) -> Iterator[tuple[tuple[str, ...], list[int | None]]]:
        """Iterate over (vector, widest padding of each axis of its folded vector)."""
        for vec in self._fold():
            pads = [rs.padding for rs in vec]
            for ivec in product(*(list(rs.striter()) for rs in vec)):
                yield ivec, pads

    @overload
    def __getitem__(self, index: int) -> tuple[str, ...]: ...

    @overload
    def __getitem__(self, index: slice) -> RangeSetND: ...

    def __getitem__(self, index: int | slice) -> tuple[str, ...] | RangeSetND:
        """The vector at a position, or a :class:`RangeSetND` for a ``slice``."""
        if isinstance(index, slice):
            span = range(*index.indices(len(self)))
            return RangeSetND.frompoints(map(self._vector_at, span), autostep=self._autostep)
        if not isinstance(index, int):
            raise TypeError(f"{type(self).__name__} indices must be integers")
        length = len(self)
        pos = index + length if index < 0 else index
        if not 0 <= pos < length:
            raise IndexError(f"{index} out of range")
        return self._vector_at(pos)

    def _vector_at(self, pos: int) -> tuple[str, ...]:
        for vec in self._fold():
            size = reduce(mul, map(len, vec))
            if pos >= size:
                pos -= size
                continue
            out = []
            for rs in reversed(vec):
                pos, rem = divmod(pos, len(rs))
                out.append(rs._str_at(rem))
            return tuple(reversed(out))
        raise IndexError(pos)

    def index(
        self, elem: Sequence[str | int], start: int = 0, stop: int | None = None
    ) -> int:
        """Position of an index vector in iteration order, like ``list.index()``.

        :raises TypeError: ``elem`` is not a vector.
        :raises ValueError: it is not in the set.

        >>> RangeSetND([["1-2", "1-3"]]).index(("2", "1"))
        3
        """
        if isinstance(elem, str) or not hasattr(elem, "__iter__"):
            raise TypeError(f"{type(self).__name__}.index() argument must be a vector of indexes")
        target = tuple(str(e) for e in elem)
        base = 0
        for vec in self._fold():
            size = reduce(mul, map(len, vec))
            if len(target) == len(vec) and all(
                t in rs for t, rs in _zip_exact(target, vec)
            ):
                pos = 0
                for t, rs in _zip_exact(target, vec):
                    pos = pos * len(rs) + rs.index(t)
                pos += base
                if start != 0 or stop is not None:
                    lo, hi = _index_bounds(len(self), start, stop)
                    if not lo <= pos < hi:
                        break
                return pos
            base += size
        raise ValueError(f"{elem} is not in RangeSetND")

    def contiguous(self) -> Iterator[RangeSetND]:
        """Iterate over contiguous parts (each axis split into contiguous ranges)."""
        veclist = self._fold()
        if not veclist:
            return
        for axis in range(len(veclist[0])):
            veclist = [
                [*vec[:axis], part, *vec[axis + 1 :]]
                for vec in veclist
                for part in vec[axis].contiguous()
            ]
        for vec in veclist:
            yield RangeSetND([vec])

    # -- set operations ----------------------------------------------------------------------------

    def copy(self) -> RangeSetND:
        """A new set with copies of the vectors.

        As in ClusterShell, the copy has no autostep of its own (:attr:`autostep` is
        None) but its vectors keep theirs until it changes.
        """
        cpy = RangeSetND()
        boxes = self._norm()
        cpy._boxes = [[rs.copy() for rs in box] for box in boxes]
        cpy._dim = self._dim
        cpy._inner = self._inner
        if len(boxes) > 1 and (self._folded is not None or self._autostep is not None):
            # The copy keeps the folded vectors, and so their autostep, until it changes.
            cpy._folded = [[rs.copy() for rs in vec] for vec in self._fold()]
            cpy._inner = self._inner
        return cpy

    __copy__ = copy

    def _check(self, other: object) -> RangeSetND:
        if not isinstance(other, RangeSetND):
            raise TypeError("Binary operation only permitted between RangeSetND")
        return other

    def update(self, other: RangeSetND | Iterable[Sequence[RangeSet]]) -> None:
        """Add the vectors of another set (or of an iterable of vectors of RangeSet)."""
        vecs = other._norm() if isinstance(other, RangeSetND) else other
        if not self._boxes and not self._pending:  # empty (not normalizing at each update)
            self._inner = self._autostep
        for vec in vecs:
            self._push([rs.copy() for rs in vec])

    union_update = update

    def intersection_update(self, other: RangeSetND) -> None:
        """Keep only the vectors also in ``other``."""
        if other is self:
            return
        out = []
        for a in self._norm():
            for b in other._norm():
                box = _box_and(a, b)
                if box is not None:
                    out.append(box)
        self._set_boxes(out)
        self._inner = None  # ClusterShell rebuilds the vectors with no autostep

    def difference_update(self, other: RangeSetND, strict: bool = False) -> None:
        """Remove the vectors of ``other``.

        :raises KeyError: ``strict`` is true and a vector of ``other`` is not in this set.
        """
        if strict and not other.issubset(self):
            raise KeyError(other.difference(self)[0])
        boxes = [[rs.copy() for rs in box] for box in self._norm()]
        for b in list(other._norm()):
            boxes = [piece for box in boxes for piece in _box_sub(box, b)]
        self._set_boxes(boxes)

    def symmetric_difference_update(self, other: RangeSetND) -> None:
        """Keep the vectors in exactly one of the two sets."""
        extra = other.difference(self)
        self.difference_update(other)
        self.update(extra)

    def union(self, other: RangeSetND) -> RangeSetND:
        """New set with the vectors of both sets."""
        cpy = self.copy()
        cpy.update(other)
        return cpy

    def intersection(self, other: RangeSetND) -> RangeSetND:
        """New set with the vectors common to both sets."""
        cpy = self.copy()
        cpy.intersection_update(other)
        return cpy

    def difference(self, other: RangeSetND) -> RangeSetND:
        """New set with the vectors of this set that are not in ``other``."""
        cpy = self.copy()
        cpy.difference_update(other)
        return cpy

    def symmetric_difference(self, other: RangeSetND) -> RangeSetND:
        """New set with the vectors in exactly one of the two sets."""
        cpy = self.copy()
        cpy.symmetric_difference_update(other)
        return cpy

    def __or__(self, other: object) -> RangeSetND:
        if not isinstance(other, RangeSetND):
            return NotImplemented
        return self.union(other)

    def __and__(self, other: object) -> RangeSetND:
        if not isinstance(other, RangeSetND):
            return NotImplemented
        return self.intersection(other)

    def __sub__(self, other: object) -> RangeSetND:
        if not isinstance(other, RangeSetND):
            return NotImplemented
        return self.difference(other)

    def __xor__(self, other: object) -> RangeSetND:
        if not isinstance(other, RangeSetND):
            return NotImplemented
        return self.symmetric_difference(other)

    def __ior__(self, other: object) -> RangeSetND:
        self.update(self._check(other))
        return self

    def __iand__(self, other: object) -> RangeSetND:
        self.intersection_update(self._check(other))
        return self

    def __isub__(self, other: object) -> RangeSetND:
        self.difference_update(self._check(other))
        return self

    def __ixor__(self, other: object) -> RangeSetND:
        self.symmetric_difference_update(self._check(other))
        return self

    # -- comparisons -------------------------------------------------------------------------------

    def __contains__(self, element: object) -> bool:
        """Whether a vector (tuple of indexes) or every vector of a set is in this set."""
        if isinstance(element, RangeSetND):
            return element.issubset(self)
        if isinstance(element, (str, int)):
            vec: tuple[object, ...] = (element,)
        elif isinstance(element, Iterable):
            vec = tuple(element)
        else:
            return False
        return any(
            len(box) == len(vec) and all(str(v) in rs for v, rs in _zip_exact(vec, box))
            for box in self._norm()
        )

    def issubset(self, other: RangeSetND) -> bool:
        """Whether every vector of this set is in ``other``."""
        other = self._check(other)
        return not self.difference(other)

    def issuperset(self, other: RangeSetND) -> bool:
        """Whether every vector of ``other`` is in this set."""
        return self._check(other).issubset(self)

    def isdisjoint(self, other: RangeSetND) -> bool:
        """Whether the two sets have no vector in common."""
        return not self.intersection(self._check(other))

    __le__ = issubset
    __ge__ = issuperset

    def __lt__(self, other: RangeSetND) -> bool:
        return len(self) < len(self._check(other)) and self.issubset(other)

    def __gt__(self, other: RangeSetND) -> bool:
        return len(self) > len(self._check(other)) and self.issuperset(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RangeSetND):
            return NotImplemented
        return len(self) == len(other) and self.issubset(other)
