"""Tests of :mod:`shoal.nodeset.rangeset` against ClusterShell 1.10.1's ``RangeSet``.

Every expected value in the tables below was printed by ClusterShell 1.10.1 itself (its
``RangeSet`` and ``RangeSetND`` classes) for the same input; error positions and reasons
are shoal's own (ClusterShell only rejects those inputs). The last tests check that large
sets stay range-based: they assert results only, never timings.
"""

from __future__ import annotations

import copy
import pickle
import sys
from collections.abc import Callable

import pytest

from shoal.errors import NodeSetParseError, RangeSetParseError
from shoal.nodeset.rangeset import AUTOSTEP_DISABLED, RangeSet, RangeSetND

# -- parsing, folding, expanding, counting ----------------------------------------------

#: expression, folded, count, expansion (None when long)
PARSE = [
    pytest.param("0", "0", 1, ["0"], id="zero"),
    pytest.param("5", "5", 1, ["5"], id="single"),
    pytest.param("1-5", "1-5", 5, ["1", "2", "3", "4", "5"], id="range"),
    pytest.param("1-5,7", "1-5,7", 6, ["1", "2", "3", "4", "5", "7"], id="range-and-single"),
    pytest.param("5,4,3,2,1", "1-5", 5, ["1", "2", "3", "4", "5"], id="unsorted"),
    pytest.param("1,1,1", "1", 1, ["1"], id="duplicates"),
    pytest.param("1-3,2-6", "1-6", 6, ["1", "2", "3", "4", "5", "6"], id="overlap"),
    pytest.param("1-3,4-6", "1-6", 6, ["1", "2", "3", "4", "5", "6"], id="adjacent"),
    pytest.param("3-3", "3", 1, ["3"], id="degenerate-range"),
    pytest.param("0-9,10-12", "0-12", 13, None, id="across-widths"),
    pytest.param("8-12", "8-12", 5, ["8", "9", "10", "11", "12"], id="across-widths-2"),
    pytest.param("99-101", "99-101", 3, ["99", "100", "101"], id="two-to-three-digits"),
    pytest.param("999-1001", "999-1001", 3, ["999", "1000", "1001"], id="three-to-four-digits"),
    pytest.param(
        "10-20/2", "10,12,14,16,18,20", 6, ["10", "12", "14", "16", "18", "20"], id="step"
    ),
    pytest.param("1-10/3", "1,4,7,10", 4, ["1", "4", "7", "10"], id="step-3"),
    pytest.param("0-100/25", "0,25,50,75,100", 5, ["0", "25", "50", "75", "100"], id="step-25"),
    pytest.param("1-2/5", "1", 1, ["1"], id="step-larger-than-range"),
    pytest.param(
        "1-9/1", "1-9", 9, ["1", "2", "3", "4", "5", "6", "7", "8", "9"], id="explicit-step-1"
    ),
    pytest.param("5/1", "5", 1, ["5"], id="single-step-1"),
    pytest.param("1-5,7,10-20/2,001-003", "1-5,7,10,12,14,16,18,20,001-003", 15, None, id="mixed"),
    pytest.param(
        "01-10",
        "01-10",
        10,
        ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10"],
        id="padded",
    ),
    pytest.param(
        "001-010",
        "001-010",
        10,
        ["001", "002", "003", "004", "005", "006", "007", "008", "009", "010"],
        id="padded-3",
    ),
    pytest.param("08-10", "08-10", 3, ["08", "09", "10"], id="padded-to-unpadded-same-width"),
    pytest.param(
        "01-05,1-5",
        "1-5,01-05",
        10,
        ["1", "2", "3", "4", "5", "01", "02", "03", "04", "05"],
        id="mixed-padding",
    ),
    pytest.param("1,01,001", "1,01,001", 3, ["1", "01", "001"], id="three-paddings"),
    pytest.param("00", "00", 1, ["00"], id="padded-zero"),
    pytest.param("000-002", "000-002", 3, ["000", "001", "002"], id="padded-zeros"),
    pytest.param("0,00,000", "0,00,000", 3, ["0", "00", "000"], id="zeros-of-each-width"),
    pytest.param("09-99", "09-99", 91, None, id="padded-run-2"),
    pytest.param("9,05,10", "9,05,10", 3, ["9", "05", "10"], id="mixed-sort"),
    pytest.param("010,10,0010", "10,010,0010", 3, ["10", "010", "0010"], id="ten-three-ways"),
    pytest.param("001-100", "001-100", 100, None, id="padded-run-to-unpadded"),
    pytest.param("-5", "-5", 1, ["-5"], id="negative"),
    pytest.param("-5--1", "-5--1", 5, ["-5", "-4", "-3", "-2", "-1"], id="negative-range"),
    pytest.param(
        "-3-3", "-3-3", 7, ["-3", "-2", "-1", "0", "1", "2", "3"], id="negative-to-positive"
    ),
    pytest.param(
        "-10--1",
        "-10--1",
        10,
        ["-10", "-9", "-8", "-7", "-6", "-5", "-4", "-3", "-2", "-1"],
        id="negative-across-widths",
    ),
    pytest.param("-0-3", "0-3", 4, ["0", "1", "2", "3"], id="minus-zero"),
    pytest.param("-0", "0", 1, ["0"], id="minus-zero-alone"),
    pytest.param("-20--10/5", "-20,-15,-10", 3, ["-20", "-15", "-10"], id="negative-step"),
    pytest.param("-1,1", "-1,1", 2, ["-1", "1"], id="negative-and-positive"),
    pytest.param("-5/2", "-5", 1, ["-5"], id="negative-single-step"),
    pytest.param(" 1-5 ", "1-5", 5, ["1", "2", "3", "4", "5"], id="outer-spaces"),
    pytest.param("1 - 5", "1-5", 5, ["1", "2", "3", "4", "5"], id="inner-spaces"),
    pytest.param("1, 2, 3", "1-3", 3, ["1", "2", "3"], id="spaces-after-commas"),
    pytest.param("1 -5", "1-5", 5, ["1", "2", "3", "4", "5"], id="space-before-dash"),
    pytest.param("\t1-2\n", "1-2", 2, ["1", "2"], id="tabs-newlines"),
    pytest.param("1-5/ 2", "1,3,5", 3, ["1", "3", "5"], id="space-in-step"),
    pytest.param("05 /1", "005", 1, ["005"], id="space-before-step-keeps-width"),
    pytest.param("+5", "5", 1, ["5"], id="plus-sign"),
    pytest.param("1_0", "10", 1, ["10"], id="underscore-digit"),
    pytest.param(
        "1-2-3", "-2-3", 6, ["-2", "-1", "0", "1", "2", "3"], id="three-dashes-first-ignored"
    ),
    pytest.param("1-8-2-4", "-8--4", 5, ["-8", "-7", "-6", "-5", "-4"], id="four-parts-negative"),
    pytest.param("0-00", "0", 1, ["0"], id="zero-to-double-zero"),
    pytest.param("1000000", "1000000", 1, ["1000000"], id="million"),
    pytest.param("1-1000000", "1-1000000", 1000000, None, id="million-range"),
    pytest.param(
        "99999999999999999999",
        "99999999999999999999",
        1,
        ["99999999999999999999"],
        id="twenty-digits",
    ),
    pytest.param(
        "0-1000000/100000",
        "0,100000,200000,300000,400000,500000,600000,700000,800000,900000,1000000",
        11,
        [
            "0",
            "100000",
            "200000",
            "300000",
            "400000",
            "500000",
            "600000",
            "700000",
            "800000",
            "900000",
            "1000000",
        ],
        id="big-step",
    ),
]


@pytest.mark.parametrize(("expr", "folded", "count", "expanded"), PARSE)
def test_parse_fold_count_expand(
    expr: str, folded: str, count: int, expanded: list[str] | None
) -> None:
    rset = RangeSet(expr)
    assert str(rset) == folded
    assert repr(rset) == folded
    assert len(rset) == count
    if expanded is not None:
        assert list(rset) == expanded
        assert list(rset.striter()) == expanded
        assert list(rset.intiter()) == [int(x) for x in expanded]
    assert RangeSet(folded) == rset  # the folded form parses back to the same set


#: expression, autostep, folded
AUTOSTEP = [
    pytest.param("1,3,5,7", 3, "1-7/2", id="1,3,5,7-auto3"),
    pytest.param("1,3,5,7", 4, "1-7/2", id="1,3,5,7-auto4"),
    pytest.param("1,3,5,7", 5, "1,3,5,7", id="1,3,5,7-auto5"),
    pytest.param("1,3,5,7", 2, "1-7/2", id="1,3,5,7-auto2"),
    pytest.param("1,3", 1, "1-3/2", id="1,3-auto1"),
    pytest.param("1,3", 2, "1-3/2", id="1,3-auto2"),
    pytest.param("1,3", 3, "1,3", id="1,3-auto3"),
    pytest.param("1-10/2", 3, "1-9/2", id="1-10/2-auto3"),
    pytest.param("1,3,5,7,8,9,20", 3, "1-7/2,8-9,20", id="1,3,5,7,8,9,20-auto3"),
    pytest.param("1,3,5,7,8,9,20", 2, "1-7/2,8-9,20", id="1,3,5,7,8,9,20-auto2"),
    pytest.param("1,2,3,10,11", 2, "1-3,10-11", id="1,2,3,10,11-auto2"),
    pytest.param("05,10", 2, "05-10/5", id="05,10-auto2"),
    pytest.param("01,03,05,07", 3, "01-07/2", id="01,03,05,07-auto3"),
    pytest.param("1-100/10,100-300/20", 2, "1-91/10,100-300/20", id="1-100/10,100-300/20-auto2"),
    pytest.param("0-20/5,21-23", 3, "0-20/5,21-23", id="0-20/5,21-23-auto3"),
    pytest.param("2,4,6,8,10,11,13,15", 3, "2-10/2,11,13,15", id="2,4,6,8,10,11,13,15-auto3"),
    pytest.param("1,3,5,06,08,010", 3, "1-5/2,06,08,010", id="1,3,5,06,08,010-auto3"),
    pytest.param("-9--1/2", 3, "-9--1/2", id="-9--1/2-auto3"),
    pytest.param("1-20/3", None, "1,4,7,10,13,16,19", id="1-20/3-autoNone"),
    pytest.param("1,4,7,10", 100, "1,4,7,10", id="1,4,7,10-auto100"),
    pytest.param("1,4,7,10", 4, "1-10/3", id="1,4,7,10-auto4"),
    pytest.param("1,4,7,10", 0, "1-10/3", id="1,4,7,10-auto0"),
    pytest.param("1,4,7,10", -3, "1-10/3", id="1,4,7,10-auto-3"),
]


@pytest.mark.parametrize(("expr", "autostep", "folded"), AUTOSTEP)
def test_autostep_fold(expr: str, autostep: int | None, folded: str) -> None:
    rset = RangeSet(expr, autostep=autostep)
    assert str(rset) == folded
    assert RangeSet(folded) == rset


def test_autostep_property() -> None:
    rset = RangeSet("1,3,5,7")
    assert rset.autostep is None
    rset.autostep = 3
    assert rset.autostep == 3
    assert str(rset) == "1-7/2"
    rset.autostep = AUTOSTEP_DISABLED
    assert rset.autostep is None
    assert str(rset) == "1,3,5,7"
    assert RangeSet("1,3,5", autostep=AUTOSTEP_DISABLED).autostep is None


# -- errors ----------------------------------------------------------------------------------

#: expression, 0-based position of the fault, reason (ClusterShell rejects them all)
ERRORS = [
    pytest.param("5-2", 0, 'bad range "5-2" (start greater than end)', id="err-5-2"),
    pytest.param("1-", 0, 'bad range "1-" (missing number)', id="err-1-"),
    pytest.param("a", 0, 'bad number "a"', id="err-a"),
    pytest.param(
        "01-1", 0, 'bad range "01-1" (padded bounds must have the same length)', id="err-01-1"
    ),
    pytest.param(
        "1-05", 0, 'bad range "1-05" (padded bounds must have the same length)', id="err-1-05"
    ),
    pytest.param(
        "001-1000",
        0,
        'bad range "001-1000" (padded bounds must have the same length)',
        id="err-001-1000",
    ),
    pytest.param(
        "00-0", 0, 'bad range "00-0" (padded bounds must have the same length)', id="err-00-0"
    ),
    pytest.param(
        "09-100", 0, 'bad range "09-100" (padded bounds must have the same length)', id="err-09-100"
    ),
    pytest.param("5/2", 0, 'step without a range in "5/2"', id="err-5/2"),
    pytest.param("1-5/0", 4, 'bad step "0" in "1-5/0" (must be 1 or more)', id="err-1-5/0"),
    pytest.param("1-5/-1", 4, 'bad step "-1" in "1-5/-1" (must be 1 or more)', id="err-1-5/-1"),
    pytest.param("1-5/x", 4, 'bad step "x" in "1-5/x"', id="err-1-5/x"),
    pytest.param("1-5/", 4, 'bad range "1-5/" (missing step)', id="err-1-5/"),
    pytest.param("", 0, "empty range", id="err-empty"),
    pytest.param(" ", 1, "empty range", id="err-_"),
    pytest.param("1,", 2, "empty range", id="err-1,"),
    pytest.param(",1", 0, "empty range", id="err-,1"),
    pytest.param("1,,2", 2, "empty range", id="err-1,,2"),
    pytest.param("1-2-3-4-5", 0, 'bad range "1-2-3-4-5" (too many "-")', id="err-1-2-3-4-5"),
    pytest.param(
        "-01-3", 0, 'bad range "-01-3" (padded bounds must have the same length)', id="err--01-3"
    ),
    pytest.param("-05", 0, 'bad range "-05" (no zero padding in negative ranges)', id="err--05"),
    pytest.param("1-x", 2, 'bad number "x"', id="err-1-x"),
    pytest.param("x-1", 0, 'bad number "x"', id="err-x-1"),
    pytest.param("1.5", 0, 'bad number "1.5"', id="err-1.5"),
    pytest.param("1-2/2/2", 4, 'bad step "2/2" in "1-2/2/2"', id="err-1-2/2/2"),
    pytest.param("0x10", 0, 'bad number "0x10"', id="err-0x10"),
    pytest.param("2-1,5", 0, 'bad range "2-1" (start greater than end)', id="err-2-1,5"),
    pytest.param("1e3", 0, 'bad number "1e3"', id="err-1e3"),
    pytest.param("1--2", 0, 'bad range "1--2" (missing number)', id="err-1--2"),
    pytest.param("-", 0, 'bad range "-" (missing number)', id="err--"),
    pytest.param("--", 0, 'bad range "--" (missing number)', id="err---"),
    pytest.param("1-1e101", 2, 'bad number "1e101"', id="err-1-1e101"),
    pytest.param("1[2", 0, 'bad number "1[2"', id="err-1[2"),
]


@pytest.mark.parametrize(("expr", "pos", "reason"), ERRORS)
def test_parse_errors(expr: str, pos: int, reason: str) -> None:
    with pytest.raises(RangeSetParseError) as info:
        RangeSet(expr)
    assert info.value.expr == expr
    assert info.value.pos == pos
    assert info.value.reason == reason
    assert str(info.value) == f'range set "{expr}": {reason} at column {pos + 1}'
    assert isinstance(info.value, NodeSetParseError)
    assert isinstance(info.value, ValueError)


def test_index_too_large() -> None:
    with pytest.raises(RangeSetParseError, match="index too large"):
        RangeSet("1-1" + "0" * 101)
    top = 10**100
    assert str(RangeSet(f"{top - 2}-{top}")) == f"{top - 2}-{top}"


def test_empty_iterable_is_an_error_as_in_clustershell() -> None:
    with pytest.raises(RangeSetParseError, match="empty range"):
        RangeSet([])
    assert not RangeSet()
    assert not RangeSet(None)


# -- indexing ------------------------------------------------------------------------------------

GETITEM = [
    pytest.param("1-10", 0, "1", id="1-10@0"),
    pytest.param("1-10", 9, "10", id="1-10@9"),
    pytest.param("1-10", -1, "10", id="1-10@-1"),
    pytest.param("1-10", -10, "1", id="1-10@-10"),
    pytest.param("1-3,01-03", 3, "01", id="1-3,01-03@3"),
    pytest.param("1-3,01-03", -1, "03", id="1-3,01-03@-1"),
    pytest.param("-3-3", 0, "-3", id="-3-3@0"),
    pytest.param("9-11,08-10", 1, "08", id="9-11,08-10@1"),
    pytest.param("0-1000000", 1000000, "1000000", id="0-1000000@1000000"),
    pytest.param("1-10/3", 2, "7", id="1-10/3@2"),
]


@pytest.mark.parametrize(("expr", "index", "expected"), GETITEM)
def test_getitem(expr: str, index: int, expected: str) -> None:
    assert RangeSet(expr)[index] == expected


SLICE = [
    pytest.param("1-10", slice(2, 5, None), "3-5", id="1-10[2:5]"),
    pytest.param("1-10", slice(None, None, 3), "1,4,7,10", id="1-10[::3]"),
    pytest.param("1-10", slice(None, None, -1), "1-10", id="1-10[::-1]"),
    pytest.param("1-10", slice(None, None, -3), "1,4,7,10", id="1-10[::-3]"),
    pytest.param("1-10", slice(-3, None, None), "8-10", id="1-10[-3:]"),
    pytest.param("1-10", slice(5, 2, None), "", id="1-10[5:2]"),
    pytest.param("1-10", slice(1, -1, 4), "2,6", id="1-10[1:-1:4]"),
    pytest.param("1-3,01-03", slice(2, 4, None), "3,01", id="1-3,01-03[2:4]"),
    pytest.param("1-3,01-03", slice(None, None, 2), "1,3,02", id="1-3,01-03[::2]"),
    pytest.param("0-99", slice(95, 200, None), "95-99", id="0-99[95:200]"),
    pytest.param("1-100", slice(10, 90, 20), "11,31,51,71", id="1-100[10:90:20]"),
    pytest.param("-5-5", slice(3, 8, None), "-2-2", id="-5-5[3:8]"),
    pytest.param("1-5", slice(None, None, None), "1-5", id="1-5[:]"),
    pytest.param("9-11,08-10", slice(1, 4, None), "08-10", id="9-11,08-10[1:4]"),
]


@pytest.mark.parametrize(("expr", "index", "folded"), SLICE)
def test_slice(expr: str, index: slice, folded: str) -> None:
    part = RangeSet(expr)[index]
    assert isinstance(part, RangeSet)
    assert str(part) == folded


INDEX = [
    pytest.param("1-10", "5", 0, None, 4, id="1-10:5:0:None"),
    pytest.param("01-10", "05", 0, None, 4, id="01-10:05:0:None"),
    pytest.param("1-10", 5, 0, None, 4, id="1-10:5:0:None"),
    pytest.param("1-3,01-03", "01", 0, None, 3, id="1-3,01-03:01:0:None"),
    pytest.param("-3-3", "0", 0, None, 3, id="-3-3:0:0:None"),
    pytest.param("9-11,08-10", "10", 0, None, 3, id="9-11,08-10:10:0:None"),
    pytest.param("1-10", "5", 2, 6, 4, id="1-10:5:2:6"),
    pytest.param("1-10", "5", -8, -2, 4, id="1-10:5:-8:-2"),
    pytest.param("0-1000000", "999999", 0, None, 999999, id="0-1000000:999999:0:None"),
]


@pytest.mark.parametrize(("expr", "elem", "start", "stop", "expected"), INDEX)
def test_index(expr: str, elem: str | int, start: int, stop: int | None, expected: int) -> None:
    rset = RangeSet(expr)
    assert rset.index(elem, start, stop) == expected
    assert rset[expected] == str(elem)


SPLIT = [
    pytest.param("1-5", 3, ["1-2", "3-4", "5"], id="1-5/3"),
    pytest.param("1-10", 3, ["1-4", "5-7", "8-10"], id="1-10/3"),
    pytest.param("1-2", 5, ["1", "2"], id="1-2/5"),
    pytest.param("1-10", 1, ["1-10"], id="1-10/1"),
    pytest.param("1-3,01-03", 2, ["1-3", "01-03"], id="1-3,01-03/2"),
    pytest.param("1-7", 7, ["1", "2", "3", "4", "5", "6", "7"], id="1-7/7"),
    pytest.param("0-99", 4, ["0-24", "25-49", "50-74", "75-99"], id="0-99/4"),
]


@pytest.mark.parametrize(("expr", "parts", "expected"), SPLIT)
def test_split(expr: str, parts: int, expected: list[str]) -> None:
    assert [str(part) for part in RangeSet(expr).split(parts)] == expected


CONTIGUOUS = [
    pytest.param("1-3,5,08-10", None, ["1-3", "5", "08-10"], id="1-3,5,08-10-None"),
    pytest.param("1-10", None, ["1-10"], id="1-10-None"),
    pytest.param("1,3,5", None, ["1", "3", "5"], id="1,3,5-None"),
    pytest.param("1-10/2", 3, ["1,3,5,7,9"], id="1-10/2-3"),
    pytest.param("8-12,007-010", None, ["8-12", "007-010"], id="8-12,007-010-None"),
    pytest.param("-5--3,-1-2", None, ["-5--3", "-1-2"], id="-5--3,-1-2-None"),
    pytest.param("1,2,01,02", None, ["1-2", "01-02"], id="1,2,01,02-None"),
]


@pytest.mark.parametrize(("expr", "autostep", "expected"), CONTIGUOUS)
def test_contiguous(expr: str, autostep: int | None, expected: list[str]) -> None:
    assert [str(part) for part in RangeSet(expr, autostep=autostep).contiguous()] == expected


SLICES = [
    pytest.param(
        "1-3,7,10-14/2", 3, [slice(1, 4, 1), slice(7, 8, 1), slice(10, 15, 2)], id="1-3,7,10-14/2-3"
    ),
    pytest.param(
        "1-3,7,10-14/2",
        None,
        [slice(1, 4, 1), slice(7, 8, 1), slice(10, 11, 1), slice(12, 13, 1), slice(14, 15, 1)],
        id="1-3,7,10-14/2-None",
    ),
    pytest.param("5", None, [slice(5, 6, None)], id="5-None"),
    pytest.param("01-03,5", None, [slice(5, 6, 1), slice(1, 4, 1)], id="01-03,5-None"),
    pytest.param("1,3,5,7", 2, [slice(1, 8, 2)], id="1,3,5,7-2"),
]


@pytest.mark.parametrize(("expr", "autostep", "expected"), SLICES)
def test_slices(expr: str, autostep: int | None, expected: list[slice]) -> None:
    assert list(RangeSet(expr, autostep=autostep).slices()) == expected


def test_getitem_errors() -> None:
    rset = RangeSet("1-3")
    with pytest.raises(IndexError):
        rset[3]
    with pytest.raises(IndexError):
        rset[-4]
    with pytest.raises(TypeError):
        rset["1"]  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("expr", "elem", "start", "stop"),
    [
        pytest.param("1-10", "11", 0, None, id="absent"),
        pytest.param("01-10", "5", 0, None, id="padding-differs"),
        pytest.param("1-10", "05", 0, None, id="padded-query"),
        pytest.param("1-10", "5", 5, None, id="before-start"),
        pytest.param("1-10", "5", 0, 4, id="after-stop"),
        pytest.param("1-10", "x", 0, None, id="not-an-index"),
    ],
)
def test_index_errors(expr: str, elem: str, start: int, stop: int | None) -> None:
    with pytest.raises(ValueError, match="is not in RangeSet"):
        RangeSet(expr).index(elem, start, stop)


def test_split_needs_a_positive_count() -> None:
    with pytest.raises(ValueError):
        list(RangeSet("1-3").split(0))
    assert list(RangeSet().split(3)) == []


def test_intervals() -> None:
    assert list(RangeSet("-2-1,9-11,02").intervals()) == [
        (0, -2, 0),
        (1, 0, 2),
        (1, 9, 10),
        (2, 2, 3),
        (2, 10, 12),
    ]


# -- set operations ---------------------------------------------------------------------

#: a, b, a | b, a & b, a - b, a ^ b
OPERATIONS = [
    pytest.param("1-10", "5-15", "1-15", "5-10", "1-4", "1-4,11-15", id="1-10 vs 5-15"),
    pytest.param("1-10", "20-30", "1-10,20-30", "", "1-10", "1-10,20-30", id="1-10 vs 20-30"),
    pytest.param("1-10", "3-4", "1-10", "3-4", "1-2,5-10", "1-2,5-10", id="1-10 vs 3-4"),
    pytest.param("01-10", "1-10", "1-9,01-10", "10", "01-09", "1-9,01-09", id="01-10 vs 1-10"),
    pytest.param(
        "1-5,01-05",
        "3-7,03-07",
        "1-7,01-07",
        "3-5,03-05",
        "1-2,01-02",
        "1-2,6-7,01-02,06-07",
        id="1-5,01-05 vs 3-7,03-07",
    ),
    pytest.param("-5-5", "0-10", "-5-10", "0-5", "-5--1", "-5--1,6-10", id="-5-5 vs 0-10"),
    pytest.param(
        "1-30/2",
        "1-30/3",
        "1,3-5,7,9-11,13,15-17,19,21-23,25,27-29",
        "1,7,13,19,25",
        "3,5,9,11,15,17,21,23,27,29",
        "3-5,9-11,15-17,21-23,27-29",
        id="1-30/2 vs 1-30/3",
    ),
    pytest.param("8-12", "9-11", "8-12", "9-11", "8,12", "8,12", id="8-12 vs 9-11"),
    pytest.param("1-3", "1-3", "1-3", "1-3", "", "", id="1-3 vs 1-3"),
    pytest.param("0,00,000", "00", "0,00,000", "00", "0,000", "0,000", id="0,00,000 vs 00"),
]


@pytest.mark.parametrize(("a", "b", "union", "inter", "diff", "xor"), OPERATIONS)
def test_operations(a: str, b: str, union: str, inter: str, diff: str, xor: str) -> None:
    ra, rb = RangeSet(a), RangeSet(b)
    assert str(ra | rb) == str(ra.union(rb)) == union
    assert str(ra & rb) == str(ra.intersection(rb)) == inter
    assert str(ra - rb) == str(ra.difference(rb)) == diff
    assert str(ra ^ rb) == str(ra.symmetric_difference(rb)) == xor
    assert ra == RangeSet(a) and rb == RangeSet(b)  # operands unchanged
    for method, op, expected in [
        ("update", "__ior__", union),
        ("intersection_update", "__iand__", inter),
        ("difference_update", "__isub__", diff),
        ("symmetric_difference_update", "__ixor__", xor),
    ]:
        left = RangeSet(a)
        getattr(left, method)(rb)
        assert str(left) == expected
        left = RangeSet(a)
        assert getattr(left, op)(rb) is left
        assert str(left) == expected
    assert ra.issubset(ra | rb) and (ra | rb).issuperset(rb)
    assert (ra & rb) <= ra and ra >= (ra & rb)
    assert ((ra - rb) < ra) == (len(ra - rb) < len(ra))


def test_operators_need_range_sets() -> None:
    rset = RangeSet("1-3")
    for op in ("__or__", "__and__", "__sub__", "__xor__"):
        assert getattr(rset, op)({"1"}) is NotImplemented
    with pytest.raises(TypeError):
        rset |= {"4"}
    with pytest.raises(TypeError):
        rset.issubset("1-3")  # type: ignore[arg-type]
    assert (rset == "1-3") is False
    assert rset != RangeSet("1-4")


def test_methods_take_iterables_and_expressions() -> None:
    rset = RangeSet("1-3")
    assert str(rset.union(["5", 7])) == "1-3,5,7"
    assert str(rset.difference("2")) == "1,3"
    assert str(rset.intersection(RangeSet("2-9"))) == "2-3"
    with pytest.raises(TypeError):
        rset.update("4-5")


def test_updaten_and_fromlist() -> None:
    rset = RangeSet("1")
    rset.updaten(["3-4", RangeSet("2"), 9, ["11", "12"]])
    assert str(rset) == "1-4,9,11-12"
    assert str(RangeSet.fromlist(["1-3", "5", RangeSet("9")])) == "1-3,5,9"
    assert str(RangeSet.fromlist(["1", "3", "5"], autostep=3)) == "1-5/2"
    assert RangeSet.fromlist([]) == RangeSet()


def test_difference_update_strict() -> None:
    rset = RangeSet("1-5")
    rset.difference_update(RangeSet("2-3"), strict=True)
    assert str(rset) == "1,4-5"
    with pytest.raises(KeyError):
        rset.difference_update(RangeSet("5-6"), strict=True)
    assert str(rset) == "1,4-5"


def test_many_small_updates_stay_exact() -> None:
    rset = RangeSet()
    for i in range(0, 2000, 2):
        rset.update(RangeSet(str(i)))
    for i in range(1, 2000, 4):
        rset.update(RangeSet(str(i)))
    for i in range(0, 2000, 8):
        rset.difference_update(RangeSet(str(i)))
    expected = {i for i in range(2000) if i % 2 == 0 or i % 4 == 1} - set(range(0, 2000, 8))
    assert list(rset.intiter()) == sorted(expected)


# -- single elements ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "elem", "expected"),
    [
        pytest.param("01-10", "05", True, id="padded-string"),
        pytest.param("01-10", "5", False, id="unpadded-string-in-padded"),
        pytest.param("1-10", 5, True, id="int"),
        pytest.param("01-10", 5, False, id="int-in-padded"),
        pytest.param("1-10", "05", False, id="padded-string-in-unpadded"),
        pytest.param("08-10", "10", True, id="same-width-unpadded"),
        pytest.param("-5-5", "-3", True, id="negative"),
        pytest.param("-5-5", -3, True, id="negative-int"),
        pytest.param("-5-5", "-03", False, id="padded-negative"),
        pytest.param("1-10", "x", False, id="garbage"),
        pytest.param("1-10", RangeSet("2-3"), True, id="subset"),
        pytest.param("1-10", RangeSet("9-11"), False, id="not-subset"),
    ],
)
def test_contains(expr: str, elem: object, expected: bool) -> None:
    assert (elem in RangeSet(expr)) is expected


def test_add_remove_discard() -> None:
    rset = RangeSet()
    rset.add(5)
    rset.add(7, pad=3)
    rset.add("08")
    rset.add("-2")
    rset.add(6)
    assert str(rset) == "-2,5-6,08,007"
    rset.remove("08")
    rset.remove(7, pad=3)
    with pytest.raises(KeyError):
        rset.remove(7)
    rset.discard(99)
    rset.discard("x")
    rset.discard(5)
    assert str(rset) == "-2,6"
    with pytest.raises(ValueError):
        rset.add("x")
    rset.clear()
    assert not rset and len(rset) == 0 and str(rset) == ""


def test_add_range() -> None:
    rset = RangeSet()
    rset.add_range(8, 12, pad=2)
    rset.add_range(1, 10, 4)
    assert str(rset) == "1,5,9,08-11"
    with pytest.raises(ValueError):
        rset.add_range(3, 3)
    with pytest.raises(ValueError):
        rset.add_range(1, 3, 0)


def test_fromone_and_fromindexes() -> None:
    assert str(RangeSet.fromone(7, pad=3)) == "007"
    assert str(RangeSet.fromone("07")) == "07"
    assert str(RangeSet.fromone(slice(1, 10, 3), 2)) == "01,04,07"
    with pytest.raises(ValueError, match="upper limit"):
        RangeSet.fromone(slice(None, 0))
    assert str(RangeSet.fromindexes(["3", "1", "2", "01", "10", "2"])) == "1-3,01,10"
    assert str(RangeSet.fromindexes(["-1", "0", "00"])) == "-1-0,00"
    assert str(RangeSet.fromindexes([])) == ""
    with pytest.raises(ValueError):
        RangeSet.fromindexes(["1-2"])


# -- padding, copies, misc ------------------------------------------------------------------------

#: expression, padding before, padding set, folded after
PADDING = [
    pytest.param("1-5", None, 3, "001-005", id="1-5-pad3"),
    pytest.param("1-5,01-03", 2, 3, "001-005", id="1-5,01-03-pad3"),
    pytest.param("1-3", None, None, "1-3", id="1-3-padNone"),
    pytest.param("001-003", 3, None, "1-3", id="001-003-padNone"),
    pytest.param("001-003", 3, 2, "01-03", id="001-003-pad2"),
    pytest.param("8-12", None, 2, "08-12", id="8-12-pad2"),
    pytest.param("1,01,001", 3, 2, "01", id="1,01,001-pad2"),
]


@pytest.mark.parametrize(("expr", "before", "pad", "after"), PADDING)
def test_padding(expr: str, before: int | None, pad: int | None, after: str) -> None:
    rset = RangeSet(expr)
    assert rset.padding == before
    rset.padding = pad
    assert str(rset) == after


def test_copy_is_independent() -> None:
    rset = RangeSet("1-5", autostep=3)
    for cpy in (rset.copy(), copy.copy(rset), RangeSet(rset, autostep=3)):
        assert cpy == rset and cpy.autostep == 3
        cpy.add(9)
        assert "9" not in rset


def test_pickle_round_trip() -> None:
    rset = RangeSet("1-5,01-03,-2", autostep=3)
    back = pickle.loads(pickle.dumps(rset))
    assert back == rset and back.autostep == 3


def test_dim_bool_hash() -> None:
    assert RangeSet("1").dim() == 1
    assert RangeSet().dim() == 0
    assert bool(RangeSet("0")) and not RangeSet()
    with pytest.raises(TypeError):
        hash(RangeSet("1"))


def test_iteration_from_iterable_of_ints_and_strings() -> None:
    assert str(RangeSet([3, 6, 8, 7, 1])) == "1,3,6-8"
    assert str(RangeSet(["1-3", "5", 9])) == "1-3,5,9"


# -- RangeSetND ----------------------------------------------------------------------------------

#: vectors, str() (one line per folded vector), count
ND = [
    pytest.param([["1-2", "1-3"]], "1-2; 1-3\n", 6, id="box"),
    pytest.param([["1-2", "1-3"], ["3", "1-3"]], "1-3; 1-3\n", 9, id="univariate"),
    pytest.param([["1-2", "1-2"], ["3", "1"]], "1-2; 1-2\n3; 1\n", 5, id="multivariate"),
    pytest.param(
        [["1", "1"], ["1", "2"], ["2", "1"], ["2", "2"]], "1-2; 1-2\n", 4, id="points-to-box"
    ),
    pytest.param([["1", "1"], ["2", "2"]], "1; 1\n2; 2\n", 2, id="diagonal"),
    pytest.param([["1-3", "1-3"], ["2", "2"]], "1-3; 1-3\n", 9, id="contained"),
    pytest.param(
        [["1-2", "1-2", "1-2"], ["3", "1-2", "1-2"]], "1-3; 1-2; 1-2\n", 12, id="3d-univariate"
    ),
    pytest.param(
        [["1-2", "1-2", "1"], ["1", "1", "2"]],
        "1; 1; 1-2\n2; 1-2; 1\n1; 2; 1\n",
        5,
        id="3d-multivariate",
    ),
    pytest.param([["01-02", "1"], ["1-2", "1"]], "1-2,01-02; 1\n", 4, id="padded-axis"),
    pytest.param(
        [["1-3", "1-3"], ["1-3", "4"], ["4", "1-4"]], "1-4; 1-4\n", 16, id="staircase-to-box"
    ),
]


@pytest.mark.parametrize(("vectors", "folded", "count"), ND)
def test_nd_fold(vectors: list[list[str]], folded: str, count: int) -> None:
    rnd = RangeSetND(vectors)
    assert str(rnd) == folded
    assert len(rnd) == count
    assert rnd.dim() == len(vectors[0])
    rebuilt = RangeSetND.frompoints(list(rnd))
    assert str(rebuilt) == folded


#: a, b, a | b, a & b, a - b, a ^ b
ND_OPS = [
    pytest.param(
        [["1-3", "1-3"]],
        [["2", "2"]],
        "1-3; 1-3\n",
        "2; 2\n",
        "1,3; 1-3\n2; 1,3\n",
        "1,3; 1-3\n2; 1,3\n",
    ),
    pytest.param(
        [["1-2", "1-2"]],
        [["2-3", "2-3"]],
        "2; 1-3\n1; 1-2\n3; 2-3\n",
        "2; 2\n",
        "1; 1-2\n2; 1\n",
        "1; 1-2\n2; 1,3\n3; 2-3\n",
    ),
    pytest.param([["1-2", "1"]], [["1-2", "2"]], "1-2; 1-2\n", "", "1-2; 1\n", "1-2; 1-2\n"),
    pytest.param(
        [["1-5", "1-5"]],
        [["1-5", "3"]],
        "1-5; 1-5\n",
        "1-5; 3\n",
        "1-5; 1-2,4-5\n",
        "1-5; 1-2,4-5\n",
    ),
]


@pytest.mark.parametrize(("a", "b", "union", "inter", "diff", "xor"), ND_OPS)
def test_nd_operations(
    a: list[list[str]], b: list[list[str]], union: str, inter: str, diff: str, xor: str
) -> None:
    ra, rb = RangeSetND(a), RangeSetND(b)
    assert str(ra | rb) == union
    assert str(ra & rb) == inter
    assert str(ra - rb) == diff
    assert str(ra ^ rb) == xor
    assert (ra & rb) <= ra and ra >= (ra & rb)
    assert (ra | rb) == (rb | ra)
    left = RangeSetND(a)
    left -= rb
    assert str(left) == diff


def test_nd_indexing_and_iteration() -> None:
    rnd = RangeSetND([["1-2", "1-3"], ["3", "1"]])
    assert list(rnd) == [
        ("1", "1"),
        ("1", "2"),
        ("1", "3"),
        ("2", "1"),
        ("2", "2"),
        ("2", "3"),
        ("3", "1"),
    ]
    assert rnd[4] == ("2", "2")
    assert rnd[-1] == ("3", "1")
    assert str(rnd[1:5]) == "1; 2-3\n2; 1-2\n"
    assert rnd.index(("2", "3")) == 5
    assert rnd.index((2, 3)) == 5
    with pytest.raises(ValueError):
        rnd.index(("3", "3"))
    with pytest.raises(TypeError):
        rnd.index("23")
    with pytest.raises(IndexError):
        rnd[7]
    assert [str(x) for x in rnd.contiguous()] == ["1-2; 1-3\n", "3; 1\n"]
    assert rnd.pads() == (0, 0)
    assert RangeSetND([["1-2", "01-03"]]).pads() == (0, 2)
    assert ("3", "1") in rnd and ("3", "2") not in rnd
    assert RangeSetND([["1", "1-2"]]) in rnd


def test_nd_from_integers_and_range_sets() -> None:
    assert str(RangeSetND([(0, 4), (0, 5), (1, 4), (1, 5)])) == "0-1; 4-5\n"
    assert str(RangeSetND([(1, 4)], pads=[3, 2])) == "001; 04\n"
    rs = RangeSet("1-3")
    rnd = RangeSetND([[rs, RangeSet("7")]])
    rs.add(9)
    assert str(rnd) == "1-3; 7\n"  # copied by default
    with pytest.raises(ValueError):
        RangeSetND([["1", "2"], ["1", "2", "3"]])


def test_nd_fromgroups() -> None:
    rnd = RangeSetND.fromgroups({("1",): ["1", "2"], ("2",): ["2", "1"], ("3",): ["1"]})
    assert str(rnd) == "1-2; 1-2\n3; 1\n"
    assert len(RangeSetND.fromgroups({})) == 0
    with pytest.raises(ValueError):
        RangeSetND.fromgroups({(): ["1"]})


def test_nd_fromgroups_axis_autostep() -> None:
    # a box folds with the autostep of its axes, a multivariate fold with the set's one
    box: dict[tuple[str, ...], list[str]] = {("1",): ["1", "3", "5"]}
    multi: dict[tuple[str, ...], list[str]] = {("1",): ["1", "3", "5"], ("2",): ["3"]}
    assert str(RangeSetND.fromgroups(box, 3)) == "1; 1-5/2\n"
    assert str(RangeSetND.fromgroups(multi, 3)) == "1; 1-5/2\n2; 3\n"
    parsed = RangeSetND.fromgroups(box, None, 3)  # as the node set parser leaves it
    assert parsed.autostep is None
    assert str(parsed) == "1; 1-5/2\n"
    assert str(RangeSetND.fromgroups(multi, None, 3)) == "1; 1,3,5\n2; 3\n"
    assert str(RangeSetND.fromgroups(box, 3, None)) == "1; 1,3,5\n"


def test_nd_autostep_like_clustershell() -> None:
    # a box keeps the autostep of its vectors, a multivariate fold uses the set's one
    rnd = RangeSetND([["1,3,5", "1"], ["1,3,5", "2"]], autostep=3)
    assert str(rnd) == "1-5/2; 1-2\n"
    rnd.update(RangeSetND([["7", "5"]]))
    assert str(rnd) == "1-5/2; 1-2\n7; 5\n"
    # ClusterShell's copy() has no autostep of its own: the next fold drops it
    cpy = rnd.copy()
    assert cpy.autostep is None
    assert str(cpy) == "1-5/2; 1-2\n7; 5\n"
    cpy.update(RangeSetND([["9", "9"]]))
    assert str(cpy) == "1,3,5; 1-2\n7; 5\n9; 9\n"
    # and intersection_update() rebuilds the axes without it
    box = RangeSetND([["1,3,5", "1-2"]], autostep=3)
    box.intersection_update(RangeSetND([["1-9", "1"]]))
    assert str(box) == "1,3,5; 1\n"


def test_nd_veclist_and_copy() -> None:
    rnd = RangeSetND([["1-2", "1"]])
    rnd.veclist = [[RangeSet("5"), RangeSet("6")]]
    assert str(rnd) == "5; 6\n"
    assert [[str(r) for r in vec] for vec in rnd.vectors()] == [["5", "6"]]
    assert rnd == copy.copy(rnd)
    assert rnd != RangeSetND([["5", "7"]])
    assert RangeSetND().dim() == 0 and not RangeSetND()


# -- large sets stay range-based (results only, never timings) ----------------------------------


def test_hundred_million_range() -> None:
    rset = RangeSet("1-100000000")
    assert len(rset) == 100_000_000
    assert str(rset) == "1-100000000"
    assert rset[-1] == "100000000"
    assert rset[12_345_677] == "12345678"
    assert rset.index("99999999") == 99_999_998
    assert "50000000" in rset and "050000000" not in rset
    assert str(rset[10:20]) == "11-20"
    assert [str(p) for p in rset.split(4)] == [
        "1-25000000",
        "25000001-50000000",
        "50000001-75000000",
        "75000001-100000000",
    ]
    assert str(rset - RangeSet("2-99999999")) == "1,100000000"
    assert str(rset ^ RangeSet("0-1")) == "0,2-100000000"
    assert list(rset.intervals()) == [(w, max(1, 10 ** (w - 1)), 10**w) for w in range(1, 9)] + [
        (9, 100_000_000, 100_000_001)
    ]


def test_huge_indexes() -> None:
    rset = RangeSet("0-5," + "9" * 60)
    assert str(rset) == "0-5," + "9" * 60
    assert "9" * 60 in rset and "1" + "0" * 60 not in rset
    assert str(rset & RangeSet("5-6," + "9" * 60)) == "5," + "9" * 60


def test_more_indexes_than_len_can_tell_is_an_error() -> None:
    # len() cannot go past sys.maxsize: such a set is refused when parsed, on one line.
    text = f"1-{sys.maxsize},{sys.maxsize + 2}"
    with pytest.raises(RangeSetParseError) as info:
        RangeSet(text)
    assert str(info.value) == f'range set "{text}": more than {sys.maxsize} indexes at column 1'
    assert len(RangeSet(f"1-{sys.maxsize}")) == sys.maxsize


def test_padded_hundred_million() -> None:
    rset = RangeSet("000000000-099999999")
    assert len(rset) == 100_000_000
    assert rset.padding == 9
    assert str(rset) == "000000000-099999999"
    assert rset[1234] == "000001234"


def test_large_nd_stays_boxes() -> None:
    rnd = RangeSetND([["1-100000", "1-100000"]])
    assert len(rnd) == 10**10
    rnd.difference_update(RangeSetND([["50000", "50000"]]))
    assert len(rnd) == 10**10 - 1
    assert ("50000", "49999") in rnd and ("50000", "50000") not in rnd


# -- the set API as ClusterShell's (its own tests run in test_clustershell_suite.py) ------------


@pytest.mark.parametrize(
    ("operation", "empties"),
    [
        pytest.param(lambda r: r.__isub__(r), True, id="isub"),
        pytest.param(lambda r: r.difference_update(r), True, id="difference-update"),
        pytest.param(lambda r: r.__ixor__(r), True, id="ixor"),
        pytest.param(lambda r: r.symmetric_difference_update(r), True, id="xor-update"),
        pytest.param(lambda r: r.__ior__(r), False, id="ior"),
        pytest.param(lambda r: r.__iand__(r), False, id="iand"),
    ],
)
def test_in_place_operations_with_itself(operation: Callable[[RangeSet], object],
                                         empties: bool) -> None:
    # A few intervals (the splice fast path) and many (the full merge).
    for text in ("1-5,9,07", "1-5,9,07," + ",".join(str(n) for n in range(100, 140, 2))):
        rset = RangeSet(text)
        operation(rset)
        want = RangeSet() if empties else RangeSet(text)
        assert (rset, len(rset)) == (want, len(want))


def test_isdisjoint_pop_and_autostep_accessors() -> None:
    rset = RangeSet("1-3,05")
    assert rset.isdisjoint(RangeSet("4,5")) and rset.isdisjoint(["5"])
    assert not rset.isdisjoint(RangeSet("3")) and not rset.isdisjoint(["05"])
    assert [rset.pop() for _ in range(4)] == ["1", "2", "3", "05"]
    with pytest.raises(KeyError):
        rset.pop()
    assert RangeSet("-2,4").pop() == "-2"
    rset = RangeSet("1-9/2")
    assert rset.get_autostep() is None
    rset.set_autostep(3)
    assert (rset.get_autostep(), str(rset)) == (3, "1-9/2")
    nd = RangeSetND([["1-2", "3"]])
    nd.set_autostep(4)
    assert nd.get_autostep() == 4 == nd.autostep
    assert nd.isdisjoint(RangeSetND([["3", "3"]]))
    assert not nd.isdisjoint(RangeSetND([["2", "3"]]))
