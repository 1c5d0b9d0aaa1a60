"""Tests of :mod:`shoal.nodeset.nodeset` against ClusterShell 1.10.1's ``NodeSet``.

Every expected folded, expanded or counted value below was printed by ClusterShell 1.10.1
for the same input (``resolver=RESOLVER_NOGROUP``, or a ``GroupResolver`` over in-memory
``GroupSource`` objects holding the groups of :data:`GROUP_DATA`). Error positions and
reasons are shoal's own: ClusterShell only rejects those inputs. Groups are served by
:class:`DictResolver`, a small resolver over a dict. The last tests check that large sets
stay range-based: they assert results only, never timings.
"""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys

import pytest

from shoal.errors import (
    GroupSourceError,
    NodeSetError,
    NodeSetExternalError,
    NodeSetParseError,
    NodeSetParseRangeError,
    UnknownGroupError,
    UnknownGroupSourceError,
    UnknownGroupSourceInNodeSetError,
)
from shoal.nodeset.nodeset import (
    NO_GROUPS,
    GroupResolverProtocol,
    NodeSet,
    NodeSetBase,
    expand,
    fold,
    grouplist,
)
from shoal.nodeset.rangeset import RangeSet, RangeSetND


def nodes(expr: str = "", **kwargs: object) -> NodeSet:
    """A node set with group resolution off, as ClusterShell's RESOLVER_NOGROUP."""
    return NodeSet(expr, resolver=NO_GROUPS, **kwargs)  # type: ignore[arg-type]


# -- parsing, folding, counting ---------------------------------------------------------------

#: expression, folded, count
FOLD = [
    pytest.param("node1", "node1", 1, id="one-node"),
    pytest.param("node1,node2,node3", "node[1-3]", 3, id="three-nodes"),
    pytest.param("node3,node1,node2", "node[1-3]", 3, id="unsorted"),
    pytest.param("node[1-3]", "node[1-3]", 3, id="bracket"),
    pytest.param("node[1-3],node[2-5]", "node[1-5]", 5, id="overlap"),
    pytest.param("node[1-10/2]", "node[1,3,5,7,9]", 5, id="step"),
    pytest.param("node[1,3,5-7]", "node[1,3,5-7]", 5, id="list-in-bracket"),
    pytest.param("node[01-10]", "node[01-10]", 10, id="padded"),
    pytest.param("node[001-003],node[1-3]", "node[1-3,001-003]", 6, id="mixed-padding"),
    pytest.param("node[08-10]", "node[08-10]", 3, id="padded-to-unpadded"),
    pytest.param("node[9-11]", "node[9-11]", 3, id="across-widths"),
    pytest.param("node9,node10,node11", "node[9-11]", 3, id="across-widths-singles"),
    pytest.param("node09,node10", "node[09-10]", 2, id="padded-then-unpadded"),
    pytest.param("node8,node09", "node[8,09]", 2, id="unpadded-then-padded"),
    pytest.param("login", "login", 1, id="no-digits"),
    pytest.param("login,node1,admin", "admin,login,node1", 3, id="plain-names-sorted"),
    pytest.param("node", "node", 1, id="bare-name"),
    pytest.param("5", "5", 1, id="digits-only"),
    pytest.param("[1-3]", "[1-3]", 3, id="bracket-only"),
    pytest.param("007", "007", 1, id="padded-digits-only"),
    pytest.param("node1-ib0", "node1-ib0", 1, id="two-indexes-dash"),
    pytest.param("node[1-2]-ib0", "node[1-2]-ib0", 2, id="bracket-then-index"),
    pytest.param("node[1-2]-ib[0-1]", "node[1-2]-ib[0-1]", 4, id="two-brackets"),
    pytest.param("da1c2", "da1c2", 1, id="digits-2d"),
    pytest.param("da[1-2]c[1-3]", "da[1-2]c[1-3]", 6, id="2d"),
    pytest.param("da[1-2]c[1-3]p[1-2]", "da[1-2]c[1-3]p[1-2]", 12, id="3d"),
    pytest.param("da[1-2]c[1-3],da3c[1-3]", "da[1-3]c[1-3]", 9, id="2d-univariate-merge"),
    pytest.param("da[1-2]c[1-3],da3c[1-2]", "da[1-2]c[1-3],da3c[1-2]", 8, id="2d-multivariate"),
    pytest.param("a[1-3]b[1-2],a3b3", "a[1-2]b[1-2],a3b[1-3]", 7, id="2d-corner"),
    pytest.param("a[1-2]b[3-4],a[1-2]b[5]", "a[1-2]b[3-5]", 6, id="2d-extend-last-axis"),
    pytest.param("a1b1,a1b2,a2b1,a2b2", "a[1-2]b[1-2]", 4, id="2d-from-points"),
    pytest.param("a1b1,a2b2", "a1b1,a2b2", 2, id="2d-diagonal"),
    pytest.param("a[1-3]b[1-3]!a2b2", "a[1,3]b[1-3],a2b[1,3]", 8, id="2d-hole"),
    pytest.param("x[1-2]y[3-4]z", "x[1-2]y[3-4]z", 4, id="2d-suffix"),
    pytest.param("r[1-2]n[01-02]", "r[1-2]n[01-02]", 4, id="2d-padded"),
    pytest.param("node1[0-2]", "node[10-12]", 3, id="leading-digits"),
    pytest.param("node[1-2]0", "node[10,20]", 2, id="trailing-digits"),
    pytest.param("node1[0-2]5", "node[105,115,125]", 3, id="leading-and-trailing"),
    pytest.param("node0[1-9]", "node[01-09]", 9, id="leading-zero"),
    pytest.param(
        "n[01-10]0", "n[010,020,030,040,050,060,070,080,090,100]", 10, id="padded-trailing"
    ),
    pytest.param("n1[1-3/2]", "n[11,13]", 2, id="leading-digits-step"),
    pytest.param("  node1 , node2  ", "node[1-2]", 2, id="spaces-around"),
    pytest.param("node1 ,node2", "node[1-2]", 2, id="space-before-comma"),
    pytest.param("node%d", "node%d", 1, id="percent"),
    pytest.param("n[1-2]%x", "n[1-2]%x", 2, id="percent-suffix"),
    pytest.param("n٣", "n3", 1, id="unicode-digit"),
    pytest.param("n[ 1 - 3 ]", "n[1-3]", 3, id="spaces-in-brackets"),
    pytest.param("node[1-5]!node3", "node[1-2,4-5]", 4, id="difference"),
    pytest.param("node[1-5]&node[3-9]", "node[3-5]", 3, id="intersection"),
    pytest.param("node[1-5]^node[3-9]", "node[1-2,6-9]", 6, id="xor"),
    pytest.param("node[1-5]!node3,node3", "node[1-5]", 5, id="left-to-right-1"),
    pytest.param("node[1-5],node3!node[2-4]", "node[1,5]", 2, id="left-to-right-2"),
    pytest.param("node[1-5]&node[3-9]^node[4-12]", "node[3,6-12]", 8, id="left-to-right-3"),
    pytest.param("a,b!a", "b", 1, id="difference-plain"),
    pytest.param("a!b!c", "a", 1, id="difference-missing"),
    pytest.param("n[1-9]!n[2-8/2]", "n[1,3,5,7,9]", 5, id="difference-step"),
    pytest.param("n[1-5] ! n3", "n[1-2,4-5]", 4, id="spaces-around-operator"),
    pytest.param("", "", 0, id="empty"),
    pytest.param("   ", "", 0, id="blank"),
    pytest.param("@foo", "@foo", 1, id="at-sign-no-groups"),
    pytest.param("node*", "node*", 1, id="star-no-groups"),
    pytest.param("n[0-1000000]", "n[0-1000000]", 1000001, id="million"),
    pytest.param("n-[1-3]", "n-[1-3]", 3, id="dash-before-bracket"),
    pytest.param("n[-3--1]", "n[-3--1]", 3, id="negative-index"),
    pytest.param("n[-]5", "n5", 1, id="empty-range-with-trailing-digits"),
    pytest.param("n[]5", "n5", 1, id="empty-bracket-trailing-digit"),
    pytest.param("n[1-2,5]0", "n[10,20,50]", 3, id="trailing-digits-list"),
    pytest.param("n[1-3]0,x", "n[10,20,30],x", 4, id="trailing-digits-then-op"),
    # lists of plain names, folded in bulk (the parser's result, as one update per name)
    pytest.param("r1n,r2n,r1n1,r1n2", "r[1-2]n,r1n[1-2]", 4, id="list-1d-and-2d"),
    pytest.param("5,6,007,node,node3", "[5-6,007],node,node3", 5, id="list-digits-and-bare"),
    pytest.param("n3,n1,n1,n2,n1", "n[1-3]", 3, id="list-duplicates"),
    pytest.param(
        "a1b1c1,a1b1c2,a2b1c1,a2b1c2,a1b2c1", "a[1-2]b1c[1-2],a1b2c1", 5, id="list-3d"
    ),
    pytest.param("r1n01,r1n02,r2n01,r2n02,r3n1", "r[1-2]n[01-02],r3n1", 5, id="list-2d-padded"),
    pytest.param("a1b2,a1b3,a2b2,a2b3,a3b2", "a[1-2]b[2-3],a3b2", 5, id="list-2d-multivariate"),
    pytest.param("r0n0,r00n00,r0n00", "r0n[0,00],r00n00", 3, id="list-2d-zeros"),
    pytest.param(
        "x1,n" + "1" * 100, "n" + "1" * 100 + ",x1", 2, id="list-long-name-to-the-parser"
    ),
]


@pytest.mark.parametrize(("expr", "folded", "count"), FOLD)
def test_fold_and_count(expr: str, folded: str, count: int) -> None:
    nset = nodes(expr)
    assert str(nset) == folded
    assert len(nset) == count
    assert nodes(folded) == nset  # the folded form parses back to the same set
    assert repr(nset) == f"NodeSet({folded!r})"


#: expression, names in iteration order
EXPAND = [
    pytest.param("node[1-3]", ["node1", "node2", "node3"], id="node[1-3]"),
    pytest.param("node[01-03]", ["node01", "node02", "node03"], id="node[01-03]"),
    pytest.param(
        "node[9-11],node[08-10]",
        ["node9", "node08", "node09", "node10", "node11"],
        id="node[9-11],node[08-10]",
    ),
    pytest.param("login,node[1-2]", ["login", "node1", "node2"], id="login,node[1-2]"),
    pytest.param("da[1-2]c[1-2]", ["da1c1", "da1c2", "da2c1", "da2c2"], id="da[1-2]c[1-2]"),
    pytest.param(
        "a[1-2]b[1-2]c[1-2]",
        ["a1b1c1", "a1b1c2", "a1b2c1", "a1b2c2", "a2b1c1", "a2b1c2", "a2b2c1", "a2b2c2"],
        id="a[1-2]b[1-2]c[1-2]",
    ),
    pytest.param("x[1-2]y[3-4]z", ["x1y3z", "x1y4z", "x2y3z", "x2y4z"], id="x[1-2]y[3-4]z"),
    pytest.param(
        "a[1-3]b[1-2],a3b3",
        ["a1b1", "a1b2", "a2b1", "a2b2", "a3b1", "a3b2", "a3b3"],
        id="a[1-3]b[1-2],a3b3",
    ),
    pytest.param("n[3,1,2]", ["n1", "n2", "n3"], id="n[3,1,2]"),
    pytest.param("b1,a1,c", ["a1", "b1", "c"], id="b1,a1,c"),
    pytest.param("n1-ib[0-1]", ["n1-ib0", "n1-ib1"], id="n1-ib[0-1]"),
    pytest.param("[1-3]", ["1", "2", "3"], id="[1-3]"),
    pytest.param("a%b[1-2]", ["a%b1", "a%b2"], id="a%b[1-2]"),
    pytest.param("r[1-2]n[1,01]", ["r1n1", "r1n01", "r2n1", "r2n01"], id="r[1-2]n[1,01]"),
    pytest.param("node[1-3]&node[2-9]", ["node2", "node3"], id="node[1-3]&node[2-9]"),
]


@pytest.mark.parametrize(("expr", "names"), EXPAND)
def test_expand(expr: str, names: list[str]) -> None:
    nset = nodes(expr)
    assert list(nset) == names
    assert list(nset.striter()) == names
    assert [str(one) for one in nset.nsiter()] == names
    assert [nset[i] for i in range(len(nset))] == names
    assert [nset.index(name) for name in names] == list(range(len(names)))
    assert NodeSet.fromlist(names, resolver=NO_GROUPS) == nset


def test_negative_indexes_expand_but_do_not_parse_back() -> None:
    # as in ClusterShell: "n-1" is the name "n-" with index 1, not "n" with index -1
    nset = nodes("n[-1-1]")
    assert list(nset) == ["n-1", "n0", "n1"]
    assert str(nodes(",".join(nset))) == "n[0-1],n-1"


def test_module_functions() -> None:
    assert expand("node[1-2],login") == ["login", "node1", "node2"]
    assert fold("node3,node1,node2,node2") == "node[1-3]"
    assert expand(nodes("a[1-2]")) == ["a1", "a2"]


# -- errors ---------------------------------------------------------------------------------------

#: expression, 0-based position of the fault, reason (ClusterShell rejects them all)
ERRORS = [
    pytest.param("node[1-", 4, 'missing "]"', id="err-node[1-"),
    pytest.param("node[5-2]", 5, 'bad range "5-2" (start greater than end)', id="err-node[5-2]"),
    pytest.param("a[1-3]b[", 7, 'missing "]"', id="err-a[1-3]b["),
    pytest.param("node[1-x]", 7, 'bad number "x"', id="err-node[1-x]"),
    pytest.param("node]", 4, 'unexpected "]"', id="err-node]"),
    pytest.param("node[]", 5, "empty range", id="err-node[]"),
    pytest.param("node[1-3]]", 9, 'unexpected "]"', id="err-node[1-3]]"),
    pytest.param("a]b[1]", 1, 'unexpected "]"', id="err-a]b[1]"),
    pytest.param("a[1],b]", 6, 'unexpected "]"', id="err-a[1],b]"),
    pytest.param("node[1-2][3-4]", 9, 'unexpected "[" right after "]"', id="err-node[1-2][3-4]"),
    pytest.param("node[1-2]0[3-4]", 10, 'unexpected "[" right after "]"', id="err-node[1-2]0[3-4]"),
    pytest.param(
        "n[1-3/2]0", 8, 'digits after "]" cannot follow a range with a step', id="err-n[1-3/2]0"
    ),
    pytest.param("a,,b", 2, 'missing node set before ","', id="err-a,,b"),
    pytest.param("a,", 1, 'missing node set after ","', id="err-a,"),
    pytest.param(",a", 0, 'missing node set before ","', id="err-,a"),
    pytest.param("a!", 1, 'missing node set after "!"', id="err-a!"),
    pytest.param("!a", 0, 'missing node set before "!"', id="err-!a"),
    pytest.param("a, ,b", 3, 'missing node set before ","', id="err-a, ,b"),
    pytest.param("n[1,,2]", 4, "empty range", id="err-n[1,,2]"),
    pytest.param(
        "n[01-1]", 2, 'bad range "01-1" (padded bounds must have the same length)', id="err-n[01-1]"
    ),
    pytest.param(
        "n0[1-10]",
        3,
        'bad range "01-010" (padded bounds must have the same length), after moving "0" into '
        "the brackets",
        id="err-n0[1-10]",
    ),
    pytest.param("n[1-2]0[", 7, 'unexpected "[" right after "]"', id="err-n[1-2]0["),
    pytest.param("n[1-5/0]", 6, 'bad step "0" in "1-5/0" (must be 1 or more)', id="err-n[1-5/0]"),
    pytest.param("n[1-5/x]", 6, 'bad step "x" in "1-5/x"', id="err-n[1-5/x]"),
    pytest.param("n[1[2]", 2, 'bad number "1[2"', id="err-n[1[2]"),
    pytest.param("x,n[5-2]", 4, 'bad range "5-2" (start greater than end)', id="err-x,n[5-2]"),
    pytest.param(
        "n[1-2]c[3-1]", 8, 'bad range "3-1" (start greater than end)', id="err-n[1-2]c[3-1]"
    ),
    pytest.param("web[01-0x]", 7, 'bad number "0x"', id="err-web[01-0x]"),
    pytest.param("n" + "1" * 102, 1, f'index "{"1" * 102}" is too large', id="err-index-too-large"),
    pytest.param(
        "n1,n2,n" + "9" * 102, 7, f'index "{"9" * 102}" is too large', id="err-list-index-too-large"
    ),
    pytest.param("n[1-3]&", 6, 'missing node set after "&"', id="err-n[1-3]&"),
    pytest.param("a^", 1, 'missing node set after "^"', id="err-a^"),
    pytest.param("a&&b", 2, 'missing node set before "&"', id="err-a&&b"),
    pytest.param("n[1-2]!", 6, 'missing node set after "!"', id="err-n[1-2]!"),
    pytest.param(
        "n1[-1]",
        3,
        'bad range "-1" (digits before "[" cannot join a range ending at -1)',
        id="err-n1[-1]",
    ),
]


#: Reasons of errors in a range or an index: NodeSetParseRangeError, as ClusterShell's.
RANGE_REASONS = ("bad ", "empty range", "index ")


@pytest.mark.parametrize(("expr", "pos", "reason"), ERRORS)
def test_parse_errors(expr: str, pos: int, reason: str) -> None:
    with pytest.raises(NodeSetParseError) as info:
        nodes(expr)
    # range errors at their column in the whole expression
    ranged = reason.startswith(RANGE_REASONS)
    assert type(info.value) is (NodeSetParseRangeError if ranged else NodeSetParseError)
    assert info.value.expr == expr
    assert info.value.pos == pos
    assert info.value.reason == reason
    assert str(info.value) == f'node set "{expr}": {reason} at column {pos + 1}'
    assert "\n" not in str(info.value)


def test_errors_in_updates_name_the_operand() -> None:
    nset = nodes("n[1-3]")
    with pytest.raises(NodeSetParseError) as info:
        nset.update("m[1-")
    assert (info.value.expr, info.value.pos) == ("m[1-", 1)
    assert str(nset) == "n[1-3]"
    with pytest.raises(TypeError):
        nset.update(["n4"])  # type: ignore[arg-type]


# -- indexing -----------------------------------------------------------------------------------

GETITEM = [
    pytest.param("node[1-10]", 0, "node1", id="node[1-10]@0"),
    pytest.param("node[1-10]", -1, "node10", id="node[1-10]@-1"),
    pytest.param("a,b,c", 1, "b", id="a,b,c@1"),
    pytest.param("login,node[1-3]", 2, "node2", id="login,node[1-3]@2"),
    pytest.param("node[1-3],node[01-03]", 3, "node01", id="node[1-3],node[01-03]@3"),
    pytest.param("da[1-2]c[1-3]", 4, "da2c2", id="da[1-2]c[1-3]@4"),
    pytest.param("da[1-2]c[1-3],da3c1", -1, "da3c1", id="da[1-2]c[1-3],da3c1@-1"),
    pytest.param("a[1-3]b[1-2],a3b3", 5, "a3b2", id="a[1-3]b[1-2],a3b3@5"),
    pytest.param("n[0-1000000]", 999999, "n999999", id="n[0-1000000]@999999"),
    pytest.param("x[1-2]y[3-4]z", 1, "x1y4z", id="x[1-2]y[3-4]z@1"),
]


@pytest.mark.parametrize(("expr", "index", "expected"), GETITEM)
def test_getitem(expr: str, index: int, expected: str) -> None:
    assert nodes(expr)[index] == expected


SLICE = [
    pytest.param("node[1-10]", slice(2, 5, None), "node[3-5]", id="node[1-10][2:5]"),
    pytest.param("node[1-10]", slice(None, None, 3), "node[1,4,7,10]", id="node[1-10][::3]"),
    pytest.param("node[1-10]", slice(None, None, -1), "node[1-10]", id="node[1-10][::-1]"),
    pytest.param("node[1-10]", slice(None, None, -3), "node[1,4,7,10]", id="node[1-10][::-3]"),
    pytest.param("node[1-10]", slice(-3, None, None), "node[8-10]", id="node[1-10][-3:]"),
    pytest.param("a,b,c,d", slice(1, 3, None), "b,c", id="a,b,c,d[1:3]"),
    pytest.param("a,b,n[1-5]", slice(1, 4, None), "b,n[1-2]", id="a,b,n[1-5][1:4]"),
    pytest.param("a,b,n[1-5]", slice(None, None, 2), "a,n[1,3,5]", id="a,b,n[1-5][::2]"),
    pytest.param("a[1-3],b[1-3]", slice(2, 5, None), "a3,b[1-2]", id="a[1-3],b[1-3][2:5]"),
    pytest.param("a[1-3],b[1-3]", slice(1, None, 2), "a2,b[1,3]", id="a[1-3],b[1-3][1::2]"),
    pytest.param(
        "da[1-2]c[1-3]", slice(1, 5, None), "da1c[2-3],da2c[1-2]", id="da[1-2]c[1-3][1:5]"
    ),
    pytest.param("da[1-2]c[1-3]", slice(None, None, 2), "da1c[1,3],da2c2", id="da[1-2]c[1-3][::2]"),
    pytest.param("n[1-5],m", slice(4, None, None), "n[4-5]", id="n[1-5],m[4:]"),
    pytest.param("n[1-10]", slice(5, 2, None), "", id="n[1-10][5:2]"),
    pytest.param("n[1-3],m[1-3],p[1-3]", slice(2, 8, 3), "m3,n3", id="n[1-3],m[1-3],p[1-3][2:8:3]"),
]


@pytest.mark.parametrize(("expr", "index", "folded"), SLICE)
def test_slice(expr: str, index: slice, folded: str) -> None:
    part = nodes(expr)[index]
    assert isinstance(part, NodeSet)
    assert str(part) == folded


INDEX = [
    pytest.param("node[0-9,20]", "node20", 10, id="node[0-9,20]:node20"),
    pytest.param("login,node[1-3]", "node2", 2, id="login,node[1-3]:node2"),
    pytest.param("node[1-3],node[01-03]", "node02", 4, id="node[1-3],node[01-03]:node02"),
    pytest.param("da[1-2]c[1-3]", "da2c1", 3, id="da[1-2]c[1-3]:da2c1"),
    pytest.param("a[1-3]b[1-2],a3b3", "a3b3", 6, id="a[1-3]b[1-2],a3b3:a3b3"),
    pytest.param("b,a,c", "c", 2, id="b,a,c:c"),
    pytest.param("n[0-1000000]", "n999999", 999999, id="n[0-1000000]:n999999"),
    pytest.param("n[1-3]-ib[0-1]", "n2-ib1", 3, id="n[1-3]-ib[0-1]:n2-ib1"),
]


@pytest.mark.parametrize(("expr", "node", "expected"), INDEX)
def test_index(expr: str, node: str, expected: int) -> None:
    nset = nodes(expr)
    assert nset.index(node) == expected
    assert nset.index(nodes(node)) == expected
    assert nset[expected] == node


SPLIT = [
    pytest.param("foo[1-5]", 3, ["foo[1-2]", "foo[3-4]", "foo5"], id="foo[1-5]/3"),
    pytest.param("a,b,c,d,e", 2, ["a,b,c", "d,e"], id="a,b,c,d,e/2"),
    pytest.param(
        "n[1-10],m[1-2]", 4, ["m[1-2],n1", "n[2-4]", "n[5-7]", "n[8-10]"], id="n[1-10],m[1-2]/4"
    ),
    pytest.param(
        "da[1-2]c[1-3]", 4, ["da1c[1-2]", "da1c3,da2c1", "da2c2", "da2c3"], id="da[1-2]c[1-3]/4"
    ),
    pytest.param("n[1-2]", 5, ["n1", "n2"], id="n[1-2]/5"),
    pytest.param("n[1-7]", 1, ["n[1-7]"], id="n[1-7]/1"),
]


@pytest.mark.parametrize(("expr", "parts", "expected"), SPLIT)
def test_split(expr: str, parts: int, expected: list[str]) -> None:
    assert [str(part) for part in nodes(expr).split(parts)] == expected


CONTIGUOUS = [
    pytest.param("n[1-3,5],m", ["m", "n[1-3]", "n5"], id="n[1-3,5],m"),
    pytest.param("n[1-3,01-03]", ["n[1-3]", "n[01-03]"], id="n[1-3,01-03]"),
    pytest.param(
        "da[1-2,4]c[1-3,5]",
        ["da[1-2]c[1-3]", "da[1-2]c5", "da4c[1-3]", "da4c5"],
        id="da[1-2,4]c[1-3,5]",
    ),
    pytest.param("a,b", ["a", "b"], id="a,b"),
    pytest.param("n[1-10/2]", ["n1", "n3", "n5", "n7", "n9"], id="n[1-10/2]"),
]


@pytest.mark.parametrize(("expr", "expected"), CONTIGUOUS)
def test_contiguous(expr: str, expected: list[str]) -> None:
    assert [str(part) for part in nodes(expr).contiguous()] == expected


def test_indexing_errors() -> None:
    nset = nodes("n[1-3],m")
    with pytest.raises(IndexError):
        nset[4]
    with pytest.raises(IndexError):
        nset[-5]
    with pytest.raises(TypeError):
        nset["n1"]  # type: ignore[call-overload]
    with pytest.raises(IndexError):
        nset[1:3:-1]
    with pytest.raises(ValueError, match="single node"):
        nset.index("n[1-2]")
    with pytest.raises(ValueError, match="not in nodeset"):
        nset.index("n4")
    with pytest.raises(ValueError, match="not in nodeset"):
        nset.index("n3", 0, 2)
    assert nset.index("n3", -2) == 3
    with pytest.raises(ValueError):
        list(nset.split(0))


# -- fold_axis and autostep -----------------------------------------------------------------------

#: expression, fold_axis, folded
FOLD_AXIS = [
    pytest.param("da[1-2]c[1-3]", (0,), "da[1-2]c1,da[1-2]c2,da[1-2]c3", id="da[1-2]c[1-3][0]"),
    pytest.param("da[1-2]c[1-3]", (1,), "da1c[1-3],da2c[1-3]", id="da[1-2]c[1-3][1]"),
    pytest.param("da[1-2]c[1-3]", (-1,), "da1c[1-3],da2c[1-3]", id="da[1-2]c[1-3][-1]"),
    pytest.param("da[1-2]c[1-3]", (0, 1), "da[1-2]c[1-3]", id="da[1-2]c[1-3][0, 1]"),
    pytest.param("da[1-2]c[1-3]", (), "da1c1,da2c1,da1c2,da2c2,da1c3,da2c3", id="da[1-2]c[1-3][]"),
    pytest.param(
        "da[1-2]c[1-3]p[1-2]",
        (1,),
        "da1c[1-3]p1,da2c[1-3]p1,da1c[1-3]p2,da2c[1-3]p2",
        id="da[1-2]c[1-3]p[1-2][1]",
    ),
    pytest.param(
        "da[1-2]c[1-3]p[1-2]",
        (0, 2),
        "da[1-2]c1p[1-2],da[1-2]c2p[1-2],da[1-2]c3p[1-2]",
        id="da[1-2]c[1-3]p[1-2][0, 2]",
    ),
    pytest.param("n[1-3]", (0,), "n[1-3]", id="n[1-3][0]"),
    pytest.param("n[1-3]", (1,), "n1,n2,n3", id="n[1-3][1]"),
    pytest.param("n[1-3]", (-1,), "n[1-3]", id="n[1-3][-1]"),
    pytest.param(
        "n[1-3],da[1-2]c[1-3]", (1,), "da1c[1-3],da2c[1-3],n1,n2,n3", id="n[1-3],da[1-2]c[1-3][1]"
    ),
    pytest.param(
        "da[1-2]c[1-3],da3c[1-2]",
        (0,),
        "da[1-2]c1,da[1-2]c2,da[1-2]c3,da3c1,da3c2",
        id="da[1-2]c[1-3],da3c[1-2][0]",
    ),
    pytest.param(
        "da[1-2]c[1-3]", (5,), "da1c1,da2c1,da1c2,da2c2,da1c3,da2c3", id="da[1-2]c[1-3][5]"
    ),
]


@pytest.mark.parametrize(("expr", "axis", "folded"), FOLD_AXIS)
def test_fold_axis(expr: str, axis: tuple[int, ...], folded: str) -> None:
    nset = nodes(expr)
    nset.fold_axis = axis
    assert str(nset) == folded
    assert str(nodes(expr, fold_axis=axis)) == folded
    assert nset.copy().fold_axis == axis


#: expression, autostep, folded
AUTOSTEP = [
    pytest.param("n[1,3,5,7]", 3, "n[1-7/2]", id="n[1,3,5,7]-auto3"),
    pytest.param("n[1,3,5,7]", 5, "n[1,3,5,7]", id="n[1,3,5,7]-auto5"),
    pytest.param("n[2,4,6,8]", 2, "n[2-8/2]", id="n[2,4,6,8]-auto2"),
    pytest.param("n[01,03,05]", 3, "n[01-05/2]", id="n[01,03,05]-auto3"),
    pytest.param("n[1-10/2],m[1-2]", 3, "m[1-2],n[1-9/2]", id="n[1-10/2],m[1-2]-auto3"),
    pytest.param("da[1,3,5]c[1-2]", 3, "da[1-5/2]c[1-2]", id="da[1,3,5]c[1-2]-auto3"),
    pytest.param("da[1,3,5]c[2,4,6]", 3, "da[1-5/2]c[2-6/2]", id="da[1,3,5]c[2,4,6]-auto3"),
    pytest.param("n[1,3,5,7,8,9,20]", 2, "n[1-7/2,8-9,20]", id="n[1,3,5,7,8,9,20]-auto2"),
    pytest.param("n[1,3,5,7]", None, "n[1,3,5,7]", id="n[1,3,5,7]-autoNone"),
    pytest.param("n1,n3,n5,n7", 3, "n[1-7/2]", id="list-n1,n3,n5,n7-auto3"),
    pytest.param("r1n1,r1n3,r1n5,r2n1,r2n3,r2n5", 3, "r[1-2]n[1-5/2]", id="list-2d-auto3"),
    pytest.param("r1n1,r3n1,r5n1,r2n2", 3, "r[1-5/2]n1,r2n2", id="list-2d-multivariate-auto3"),
    pytest.param("r1n1,r3n1,r5n1,r2n2", None, "r[1,3,5]n1,r2n2", id="list-2d-multivariate"),
]


@pytest.mark.parametrize(("expr", "autostep", "folded"), AUTOSTEP)
def test_autostep(expr: str, autostep: int | None, folded: str) -> None:
    assert str(nodes(expr, autostep=autostep)) == folded
    nset = nodes(expr)
    nset.autostep = autostep
    assert nset.autostep == autostep
    assert str(nset) == folded


def test_autostep_is_inherited_from_operands() -> None:
    nset = nodes()
    nset.update(nodes("n[1,3,5]", autostep=3))
    assert str(nset) == "n[1-5/2]"
    nset.update("n7")
    assert str(nset) == "n[1-7/2]"
    nset.autostep = None
    assert str(nset) == "n[1,3,5,7]"


# -- fromlist ------------------------------------------------------------------------------------

#: names, folded
FROMLIST = [
    pytest.param(["n3", "n1", "n2"], "n[1-3]", id="1d"),
    pytest.param(["n1", "n01", "n001", "n10"], "n[1,01,10,001]", id="mixed-padding"),
    pytest.param(["r1n1", "r1n2", "r2n1", "r2n2"], "r[1-2]n[1-2]", id="2d-box"),
    pytest.param(["r1n1", "r2n2"], "r1n1,r2n2", id="2d-diagonal"),
    pytest.param(["login", "admin", "login"], "admin,login", id="plain"),
    pytest.param(["n1-ib0", "n2-ib0", "n2-ib1"], "n[1-2]-ib0,n2-ib1", id="index-suffix"),
    pytest.param(["web[1-3]", "web5", "db1,db2"], "db[1-2],web[1-3,5]", id="expressions"),
    pytest.param(["ab1", " n1 ", "n2"], "ab1,n[1-2]", id="whitespace-around"),
    pytest.param(["n%1", "n%2"], "n%[1-2]", id="percent"),
    pytest.param(["", "n1", ""], "n1", id="empty-strings"),
    pytest.param(["123", "124", "0123"], "[123-124,0123]", id="digits-only"),
    pytest.param(["n[1-5]!n3", "n3"], "n[1-5]", id="operators"),
    pytest.param(["x1y2z3", "x1y2z4", "x2y2z3", "x2y2z4"], "x[1-2]y2z[3-4]", id="3d"),
    pytest.param(["n٣", "n4"], "n[3-4]", id="unicode-digit"),
    pytest.param(
        [
            "n1",
            "n1111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111",
        ],
        "n[1,1111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111]",
        id="long-index",
    ),
]


@pytest.mark.parametrize(("names", "folded"), FROMLIST)
def test_fromlist(names: list[str], folded: str) -> None:
    assert str(NodeSet.fromlist(names, resolver=NO_GROUPS)) == folded


def test_fromlist_of_node_sets_and_autostep() -> None:
    nset = NodeSet.fromlist([nodes("a[1-2]"), "a5", nodes("b1")], autostep=2, resolver=NO_GROUPS)
    assert str(nset) == "a[1-2,5],b1"
    assert nset.autostep == 2
    assert str(NodeSet.fromlist(["n1", "n3", "n5"], autostep=3)) == "n[1-5/2]"
    assert str(NodeSet.fromlist([])) == ""
    with pytest.raises(NodeSetParseError):
        NodeSet.fromlist(["n1", "n[2-"], resolver=NO_GROUPS)


def test_fromlist_of_many_names() -> None:
    names = [f"r{r}n{n:02d}" for r in range(1, 201) for n in range(1, 51)]
    names += [f"node{i}" for i in range(100_000, 0, -1)]
    names += ["login", "node0x", "node7"]
    nset = NodeSet.fromlist(names, resolver=NO_GROUPS)
    assert str(nset) == "login,node[1-100000],node0x,r[1-200]n[01-50]"
    assert len(nset) == 110_002


# -- set operations ------------------------------------------------------------------------------

#: a, b, a | b, a & b, a - b, a ^ b
OPERATIONS = [
    pytest.param(
        "n[1-10]",
        "n[5-15]",
        "n[1-15]",
        "n[5-10]",
        "n[1-4]",
        "n[1-4,11-15]",
        id="n[1-10] vs n[5-15]",
    ),
    pytest.param(
        "n[1-5],login",
        "n[3-8],admin",
        "admin,login,n[1-8]",
        "n[3-5]",
        "login,n[1-2]",
        "admin,login,n[1-2,6-8]",
        id="n[1-5],login vs n[3-8],admin",
    ),
    pytest.param(
        "da[1-2]c[1-3]",
        "da2c[2-4]",
        "da2c[1-4],da1c[1-3]",
        "da2c[2-3]",
        "da1c[1-3],da2c1",
        "da1c[1-3],da2c[1,4]",
        id="da[1-2]c[1-3] vs da2c[2-4]",
    ),
    pytest.param("a,b,c", "b,c,d", "a,b,c,d", "b,c", "a", "a,d", id="a,b,c vs b,c,d"),
    pytest.param(
        "n[01-10]",
        "n[1-10]",
        "n[1-9,01-10]",
        "n10",
        "n[01-09]",
        "n[1-9,01-09]",
        id="n[01-10] vs n[1-10]",
    ),
    pytest.param(
        "n[1-5]", "m[1-5]", "m[1-5],n[1-5]", "", "n[1-5]", "m[1-5],n[1-5]", id="n[1-5] vs m[1-5]"
    ),
    pytest.param(
        "da[1-3]c[1-3]",
        "da2c2",
        "da[1-3]c[1-3]",
        "da2c2",
        "da[1,3]c[1-3],da2c[1,3]",
        "da[1,3]c[1-3],da2c[1,3]",
        id="da[1-3]c[1-3] vs da2c2",
    ),
]


@pytest.mark.parametrize(("a", "b", "union", "inter", "diff", "xor"), OPERATIONS)
def test_operations(a: str, b: str, union: str, inter: str, diff: str, xor: str) -> None:
    na, nb = nodes(a), nodes(b)
    assert str(na | nb) == str(na.union(b)) == union
    assert str(na & nb) == str(na.intersection(b)) == inter
    assert str(na - nb) == str(na.difference(b)) == diff
    assert str(na ^ nb) == str(na.symmetric_difference(b)) == xor
    assert str(nodes(f"{a},{b}")) == union
    if "," not in b:  # operators apply from left to right, term by term
        assert str(nodes(f"{a}&{b}")) == inter
        assert str(nodes(f"{a}!{b}")) == diff
        assert str(nodes(f"{a}^{b}")) == xor
    assert na == nodes(a) and nb == nodes(b)  # operands unchanged
    for method, op, expected in [
        ("update", "__ior__", union),
        ("intersection_update", "__iand__", inter),
        ("difference_update", "__isub__", diff),
        ("symmetric_difference_update", "__ixor__", xor),
    ]:
        left = nodes(a)
        getattr(left, method)(b)
        assert str(left) == expected
        left = nodes(a)
        assert getattr(left, op)(nb) is left
        assert str(left) == expected
    assert na.issubset(na | nb) and (na | nb).issuperset(b)
    assert (na & nb) <= na and na >= (na & nb)
    assert (na - nb < na) == (len(na - nb) < len(na))


def test_operators_need_node_sets() -> None:
    nset = nodes("n[1-3]")
    for op in ("__or__", "__and__", "__sub__", "__xor__"):
        assert getattr(nset, op)("n1") is NotImplemented
    with pytest.raises(TypeError):
        nset |= "n4"
    with pytest.raises(TypeError):
        assert nset < "n[1-4]"  # type: ignore[operator]
    assert (nset == "n[1-3]") is False


def test_membership_and_comparisons() -> None:
    nset = nodes("n[1-3],login,da[1-2]c[1-2]")
    assert "n2" in nset and "n[1-3]" in nset and "n[2-4]" not in nset
    assert "login" in nset and "admin" not in nset
    assert nodes("da1c2") in nset and "da3c1" not in nset
    assert 5 not in nset
    assert nset.issuperset("n1,login") and nodes("n1").issubset(nset)
    assert nset == nodes("login,n[1-3],da[1-2]c[1-2]")
    assert nset != nodes("n[1-3]")
    assert nodes("n1") < nset and nset > nodes("n1") and not nset < nset
    with pytest.raises(TypeError):
        hash(nset)


def test_add_remove_clear_updaten() -> None:
    nset = nodes("blue[1-50]")
    nset.remove("blue[36-40]")
    assert str(nset) == "blue[1-35,41-50]"
    with pytest.raises(KeyError):
        nset.remove("blue40")
    with pytest.raises(KeyError):
        nset.remove("red1")
    with pytest.raises(KeyError):
        nset.difference_update("blue1,login", strict=True)
    nset.difference_update("red1,blue1")
    nset.add("login")
    nset.updaten(["a1", nodes("a2")])
    assert str(nset) == "a[1-2],blue[2-35,41-50],login"
    nset.difference_update("login")
    assert "login" not in nset
    nset.clear()
    assert not nset and len(nset) == 0 and str(nset) == ""


def test_copy_is_independent() -> None:
    nset = nodes("n[1-3],da[1-2]c1,login", autostep=3, fold_axis=[0])
    for cpy in (nset.copy(), copy.copy(nset), NodeSet(nset, resolver=NO_GROUPS)):
        assert cpy == nset
        cpy.update("n9,da3c3,admin")
        assert "n9" not in nset and "da3c3" not in nset and "admin" not in nset
    assert nset.copy().autostep == 3


def test_pickle_and_deepcopy() -> None:
    nset = NodeSet("n[1-3],da[1-2]c1,login", resolver=DictResolver(GROUP_DATA), autostep=3)
    back = pickle.loads(pickle.dumps(nset))
    assert back == nset and back.autostep == 3
    assert str(NodeSet("@web", resolver=NO_GROUPS) | back) == "@web,da[1-2]c1,login,n[1-3]"
    back.update("@web")  # no resolver after unpickling, as ClusterShell
    assert "@web" in back
    deep = copy.deepcopy(nset)
    deep.update("@web")
    assert "web4" in deep and "web4" not in nset


def test_nd_patterns_with_set_operations() -> None:
    nset = nodes("a[1-3]b[1-3]")
    nset.difference_update("a2b2")
    assert str(nset) == "a[1,3]b[1-3],a2b[1,3]"
    nset.update("a2b2")
    assert str(nset) == "a[1-3]b[1-3]"
    nset.symmetric_difference_update("a[3-4]b[1-3]")
    assert str(nset) == "a[1-2,4]b[1-3]"
    nset.intersection_update("a[2-9]b2")
    assert str(nset) == "a[2,4]b2"


# -- groups --------------------------------------------------------------------------------------

#: groups of the "local" (default) and "other" sources
GROUP_DATA: dict[str, dict[str, str]] = {
    "local": {
        "web": "web[1-4]",
        "db": "db[1-2]",
        "all2": "@web,@db",
        "rack1": "web[1-2],db1",
        "rack2": "web[3-4],db2",
        "x": "n[1-10]",
        "odd": "n[1-9/2]",
        "nest": "@rack1!web1",
        "empty": "",
    },
    "other": {"g1": "o[1-3]", "g2": "o4", "web": "w[1-2]"},
}


class DictResolver:
    """A group resolver over a dict of sources: ``{source: {group: nodes}}``."""

    def __init__(self, data: dict[str, dict[str, str]], *, reverse: bool = False) -> None:
        self.data = data
        self.reverse = reverse
        self._default = next(iter(data), None)
        self.calls: list[tuple[str, str, str | None]] = []

    @property
    def default_source_name(self) -> str | None:
        return self._default

    def sources(self) -> list[str]:
        return list(self.data)

    def _source(self, namespace: str | None) -> dict[str, str]:
        name = namespace or self._default
        if name is None:
            raise UnknownGroupError("*", None)
        if name not in self.data:
            raise UnknownGroupSourceError(name)
        return self.data[name]

    def group_nodes(self, group: str, namespace: str | None = None) -> list[str]:
        self.calls.append(("map", group, namespace))
        groups = self._source(namespace)
        if group not in groups:
            raise UnknownGroupError(group, namespace or self._default)
        return [groups[group]] if groups[group] else []

    def all_nodes(self, namespace: str | None = None) -> list[str]:
        self.calls.append(("all", "*", namespace))
        groups = self._source(namespace)
        return [groups[name] for name in sorted(groups) if groups[name]]

    def grouplist(self, namespace: str | None = None) -> list[str]:
        return list(self._source(namespace))

    def has_node_groups(self, namespace: str | None = None) -> bool:
        return self.reverse

    def node_groups(self, node: str, namespace: str | None = None) -> list[str]:
        self.calls.append(("reverse", node, namespace))
        groups = self._source(namespace)
        return [
            name for name, text in groups.items() if text and node in NodeSet(text, resolver=self)
        ]


def grouped(expr: str, resolver: GroupResolverProtocol | None = None) -> NodeSet:
    return NodeSet(expr, resolver=resolver or DictResolver(GROUP_DATA))


#: expression, folded (ClusterShell with the same groups)
GROUPS = [
    pytest.param("@web", "web[1-4]", id="@web"),
    pytest.param("@local:web", "web[1-4]", id="@local:web"),
    pytest.param("@other:web", "w[1-2]", id="@other:web"),
    pytest.param("@all2", "db[1-2],web[1-4]", id="@all2"),
    pytest.param("@rack[1-2]", "db[1-2],web[1-4]", id="@rack[1-2]"),
    pytest.param("@x!@odd", "n[2,4,6,8,10]", id="@x!@odd"),
    pytest.param("@nest", "db1,web2", id="@nest"),
    pytest.param("@other:g[1-2]", "o[1-4]", id="@other:g[1-2]"),
    pytest.param("n[1-20]&@x", "n[1-10]", id="n[1-20]&@x"),
    pytest.param("@web,@db!db2", "db1,web[1-4]", id="@web,@db!db2"),
    pytest.param("@x^n[5-15]", "n[1-4,11-15]", id="@x^n[5-15]"),
    pytest.param("@other:*", "o[1-4],w[1-2]", id="@other:*"),
    pytest.param("@@other", "g[1-2],web", id="@@other"),
    pytest.param("@empty", "", id="@empty"),
    pytest.param("@empty,n1", "n1", id="@empty,n1"),
    pytest.param(" @web , @db ", "db[1-2],web[1-4]", id=" @web , @db "),
    pytest.param("@web!web[2-3]", "web[1,4]", id="@web!web[2-3]"),
]


@pytest.mark.parametrize(("expr", "folded"), GROUPS)
def test_groups_in_expressions(expr: str, folded: str) -> None:
    assert str(grouped(expr)) == folded


#: node set, group source, noprefix, regroup(), groups() as folded strings
REGROUP = [
    pytest.param(
        "web[1-3],db1",
        None,
        False,
        "@rack1,web3",
        {
            "@all2": ("db[1-2],web[1-4]", "db1,web[1-3]"),
            "@db": ("db[1-2]", "db1"),
            "@nest": ("db1,web2", "db1,web2"),
            "@rack1": ("db1,web[1-2]", "db1,web[1-2]"),
            "@web": ("web[1-4]", "web[1-3]"),
            "@rack2": ("db2,web[3-4]", "web3"),
        },
        id="web[1-3],db1-None-False",
    ),
    pytest.param(
        "n[1-10],web[1-4],db[1-2]",
        None,
        False,
        "@all2,@x",
        {
            "@all2": ("db[1-2],web[1-4]", "db[1-2],web[1-4]"),
            "@db": ("db[1-2]", "db[1-2]"),
            "@nest": ("db1,web2", "db1,web2"),
            "@rack1": ("db1,web[1-2]", "db1,web[1-2]"),
            "@rack2": ("db2,web[3-4]", "db2,web[3-4]"),
            "@odd": ("n[1,3,5,7,9]", "n[1,3,5,7,9]"),
            "@x": ("n[1-10]", "n[1-10]"),
            "@web": ("web[1-4]", "web[1-4]"),
        },
        id="n[1-10],web[1-4],db[1-2]-None-False",
    ),
    pytest.param(
        "web[1-4]",
        None,
        False,
        "@web",
        {
            "@all2": ("db[1-2],web[1-4]", "web[1-4]"),
            "@rack1": ("db1,web[1-2]", "web[1-2]"),
            "@web": ("web[1-4]", "web[1-4]"),
            "@nest": ("db1,web2", "web2"),
            "@rack2": ("db2,web[3-4]", "web[3-4]"),
        },
        id="web[1-4]-None-False",
    ),
    pytest.param(
        "n[2-3],web1",
        None,
        False,
        "n[2-3],web1",
        {
            "@x": ("n[1-10]", "n[2-3]"),
            "@odd": ("n[1,3,5,7,9]", "n3"),
            "@all2": ("db[1-2],web[1-4]", "web1"),
            "@rack1": ("db1,web[1-2]", "web1"),
            "@web": ("web[1-4]", "web1"),
        },
        id="n[2-3],web1-None-False",
    ),
    pytest.param(
        "o[1-4],web1",
        "other",
        False,
        "@other:g[1-2],web1",
        {"@other:g1": ("o[1-3]", "o[1-3]"), "@other:g2": ("o4", "o4")},
        id="o[1-4],web1-other-False",
    ),
    pytest.param(
        "o[1-4],web1",
        "other",
        True,
        "@g[1-2],web1",
        {"@g1": ("o[1-3]", "o[1-3]"), "@g2": ("o4", "o4")},
        id="o[1-4],web1-other-True",
    ),
    pytest.param(
        "n[1-9/2],n2",
        None,
        False,
        "@odd,n2",
        {"@odd": ("n[1,3,5,7,9]", "n[1,3,5,7,9]"), "@x": ("n[1-10]", "n[1-3,5,7,9]")},
        id="n[1-9/2],n2-None-False",
    ),
]


@pytest.mark.parametrize(("expr", "source", "noprefix", "regrouped", "groups"), REGROUP)
def test_regroup_and_groups(
    expr: str,
    source: str | None,
    noprefix: bool,
    regrouped: str,
    groups: dict[str, tuple[str, str]],
) -> None:
    nset = grouped(expr)
    assert nset.regroup(source, noprefix=noprefix) == regrouped
    found = {k: (str(v[0]), str(v[1])) for k, v in nset.groups(source, noprefix).items()}
    assert found == groups
    assert list(found) == list(groups)  # ClusterShell's order: as the nodes find them


def test_regroup_with_reverse_upcall() -> None:
    resolver = DictResolver(GROUP_DATA, reverse=True)
    assert grouped("web[1-3],db1", resolver).regroup() == "@rack1,web3"
    assert any(call[0] == "reverse" for call in resolver.calls)
    assert grouped("n[1-10],web[1-4],db[1-2]", resolver).regroup() == "@all2,@x"


def test_regroup_overlap_and_nothing_to_regroup() -> None:
    nset = grouped("web[1-4],db[1-2]")
    assert nset.regroup() == "@all2"
    assert nset.regroup(overlap=True) == "@all2"
    assert grouped("zz[1-3]").regroup() == "zz[1-3]"


#: expression, 0-based position, reason
GROUP_ERRORS = [
    pytest.param("@nosuchgroup", 0, 'no group "nosuchgroup" in group source "local"', id="unknown"),
    pytest.param(
        "n1,@nosuchgroup",
        3,
        'no group "nosuchgroup" in group source "local"',
        id="unknown-second-term",
    ),
    pytest.param("@other:g9", 0, 'no group "g9" in group source "other"', id="unknown-in-source"),
    pytest.param("@nosrc:g", 0, 'unknown group source "nosrc"', id="unknown-source"),
    pytest.param("@", 0, 'missing group name in "@"', id="at-alone"),
    pytest.param("n1,@other:", 3, 'missing group name in "@other:"', id="source-no-group"),
    pytest.param("@rack[1-4]", 0, 'no group "rack2" in group source "local"', id="range-of-groups"),
    pytest.param("x!@bad", 2, 'in group "@bad" ("n[1-"): missing "]"', id="bad-group-content"),
    pytest.param(
        "@loop", 0, 'in group "@loop" ("@loop"): group "@loop" includes itself', id="loop"
    ),
    pytest.param(
        "@outer",
        0,
        'in group "@outer" ("@nosuchgroup"): no group "nosuchgroup" in group source "local"',
        id="nested-unknown",
    ),
]


@pytest.mark.parametrize(("expr", "pos", "reason"), GROUP_ERRORS)
def test_group_errors(expr: str, pos: int, reason: str) -> None:
    data = {
        "local": {**GROUP_DATA["local"], "bad": "n[1-", "loop": "@loop", "outer": "@nosuchgroup"},
        "other": GROUP_DATA["other"],
    }
    del data["local"]["rack2"]
    with pytest.raises(NodeSetParseError) as info:
        grouped(expr, DictResolver(data))
    assert (info.value.expr, info.value.pos, info.value.reason) == (expr, pos, reason)


def test_failing_source_is_not_a_parse_error() -> None:
    class Failing(DictResolver):
        def group_nodes(self, group: str, namespace: str | None = None) -> list[str]:
            raise GroupSourceError("local", 'upcall "map" exited with 1')

    with pytest.raises(GroupSourceError):
        grouped("@web", Failing(GROUP_DATA))


def test_no_groups_takes_names_literally() -> None:
    resolver = DictResolver(GROUP_DATA)
    nset = NodeSet("@web,n*,@other:g1", resolver=NO_GROUPS)
    assert str(nset) == "@other:g1,@web,n*"
    assert resolver.calls == []
    with pytest.raises(NodeSetExternalError):
        nset.regroup()
    with pytest.raises(NodeSetExternalError):
        NodeSet.fromall(resolver=NO_GROUPS)


def test_resolver_is_asked_only_for_groups_and_wildcards() -> None:
    resolver = DictResolver(GROUP_DATA)
    assert str(NodeSet("n[1-3],login", resolver=resolver)) == "login,n[1-3]"
    assert resolver.calls == []


@pytest.mark.parametrize(
    ("expr", "folded"),
    [
        pytest.param("web*", "web[1-4]", id="star"),
        pytest.param("n?", "n[1-9]", id="question-mark"),
        pytest.param("n*!n1", "n[2-10]", id="star-then-difference"),
        pytest.param("@other:*!o2", "o[1,3-4],w[1-2]", id="source-all"),
        pytest.param("nomatch*", "", id="no-match"),
        pytest.param("db[1-2]*", "db[1-2]", id="wildcard-after-range"),
    ],
)
def test_wildcards_match_all_nodes(expr: str, folded: str) -> None:
    assert str(grouped(expr)) == folded


def test_wildcard_without_group_source() -> None:
    with pytest.raises(NodeSetParseError) as info:
        NodeSet("a1,n*", resolver=DictResolver({}))
    assert info.value.pos == 3
    assert "cannot expand wildcards" in info.value.reason


def test_fromall() -> None:
    resolver = DictResolver(GROUP_DATA)
    assert str(NodeSet.fromall(resolver=resolver)) == "db[1-2],n[1-10],web[1-4]"
    assert str(NodeSet.fromall("other", resolver=resolver)) == "o[1-4],w[1-2]"
    with pytest.raises(UnknownGroupSourceError):
        NodeSet.fromall("nosrc", resolver=resolver)


def test_groups_keep_their_source_when_nested() -> None:
    data = {"local": {"g": "l1"}, "other": {"g": "o1", "both": "@g,o2"}}
    assert str(grouped("@other:both", DictResolver(data))) == "o[1-2]"
    nset = grouped("o[1-2]", DictResolver(data))
    assert nset.regroup("other") == "@other:both"


def test_real_group_resolver() -> None:
    from shoal.nodeset.groups import GroupResolver, GroupSource

    resolver: GroupResolverProtocol = GroupResolver(
        [GroupSource("local", {"web": "web[1-4]", "db": ["db1", "db2"], "all": "@web,@db"})]
    )
    assert str(NodeSet("@all!web2", resolver=resolver)) == "db[1-2],web[1,3-4]"
    assert NodeSet("web[1-4],db1", resolver=resolver).regroup() == "@web,db1"


def test_default_resolver_is_loaded_only_for_groups() -> None:
    code = (
        "import sys\n"
        "from shoal.nodeset.nodeset import NodeSet\n"
        "assert str(NodeSet('n[1-3]!n2')) == 'n[1,3]'\n"
        "NodeSet.fromlist(['a1', 'a2'])\n"
        "assert 'shoal.nodeset.groups' not in sys.modules\n"
        "try:\n"
        "    NodeSet('@web')\n"
        "except Exception:\n"
        "    pass\n"
        "assert 'shoal.nodeset.groups' in sys.modules\n"
        "assert 'asyncio' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_default_resolver_is_the_standard_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from shoal.nodeset import groups

    resolver = groups.GroupResolver([groups.GroupSource("local", {"web": "web[1-2]"})])
    monkeypatch.setattr(groups, "std_group_resolver", lambda: resolver)
    assert str(NodeSet("@web")) == "web[1-2]"
    assert fold("@web,x1") == "web[1-2],x1"


# -- large sets stay range-based (results only, never timings) -----------------------------------


def test_hundred_million_nodes() -> None:
    nset = NodeSet("n[1-100000000]")
    assert len(nset) == 100_000_000
    assert str(nset) == "n[1-100000000]"
    assert nset[-1] == "n100000000"
    assert nset.index("n99999999") == 99_999_998
    assert "n50000000" in nset
    assert str(nset[5:10]) == "n[6-10]"
    nset.difference_update("n[2-99999999]")
    assert str(nset) == "n[1,100000000]"


def test_large_two_dimensional_set() -> None:
    nset = NodeSet("r[1-10000]n[1-10000]")
    assert len(nset) == 100_000_000
    assert str(nset) == "r[1-10000]n[1-10000]"
    assert nset[-1] == "r10000n10000"
    assert nset[12_345] == "r2n2346"
    assert nset.index("r2n2346") == 12_345
    nset.difference_update("r[2-10000]n[1-10000]")
    assert str(nset) == "r1n[1-10000]"


def test_large_expression_of_many_terms() -> None:
    expr = ",".join(f"n{i}" for i in range(0, 40_000, 2))
    nset = NodeSet(expr, resolver=NO_GROUPS)
    assert len(nset) == 20_000
    assert nset[-1] == "n39998"
    nset.update(",".join(f"n{i}" for i in range(1, 40_000, 2)))
    assert str(nset) == "n[0-39999]"


def test_large_two_dimensional_expression_of_many_terms() -> None:
    names = [f"r{r}n{n}" for r in range(1, 101) for n in range(1, 201)]
    names.reverse()
    # Plain names are folded in bulk; spaces around them make the parser take them one by
    # one (each a one-vector term): both stay linear.
    for expr in (",".join(names), " , ".join(names)):
        nset = NodeSet(expr, resolver=NO_GROUPS)
        assert str(nset) == "r[1-100]n[1-200]"
        assert len(nset) == 20_000
        assert nset[-1] == "r100n200"


def test_expansion_of_names_holding_the_separator() -> None:
    # Names are built as joined strings, then split: on "," unless a name holds one (no
    # parsed name can; an unpickled state could).
    nset = nodes()
    nset.__setstate__({"patterns": {"a,%s": RangeSet("1-2,01"), "b,%sc%s": RangeSetND(
        [["1-2", "3"]])}, "autostep": None, "fold_axis": None})
    assert list(nset) == ["a,1", "a,2", "a,01", "b,1c3", "b,2c3"]


def test_iteration_is_lazy() -> None:
    names = iter(NodeSet("n[1-100000000]"))
    assert [next(names) for _ in range(3)] == ["n1", "n2", "n3"]
    names = iter(NodeSet("r[1-10000]n[1-10000]"))
    assert next(names) == "r1n1"


# -- the ClusterShell API (its own tests run in test_clustershell_suite.py) ------------------------


@pytest.mark.parametrize("expr", ["n[1-5],m", "n[1-40/2],m[1-3]c[1-2]"])
def test_in_place_operations_with_itself(expr: str) -> None:
    for operation in ("__isub__", "difference_update", "__ixor__",
                      "symmetric_difference_update"):
        nset = nodes(expr)
        getattr(nset, operation)(nset)
        assert (len(nset), str(nset)) == (0, "")
    for operation in ("__ior__", "__iand__", "update", "intersection_update"):
        nset = nodes(expr)
        getattr(nset, operation)(nset)
        assert nset == nodes(expr)


def test_set_methods_take_none_as_no_node() -> None:
    nset = nodes("n[1-5]")
    for method in ("update", "difference_update", "symmetric_difference_update"):
        getattr(nset, method)(None)
        assert str(nset) == "n[1-5]"
    assert str(nset.union(None)) == str(nset.difference(None)) == "n[1-5]"
    assert str(nset.symmetric_difference(None)) == "n[1-5]"
    assert not nset.intersection(None)
    assert nset.issuperset(None) and not nset.issubset(None)
    assert nodes().issubset(None)
    nset.intersection_update(None)
    assert not nset


def test_isdisjoint_pop_and_autostep_accessors() -> None:
    nset = nodes("n[1-3],a1b[1-2]")
    assert nset.isdisjoint("n[4-5]") and nset.isdisjoint(nodes("a2b1"))
    assert not nset.isdisjoint("n3")
    assert [nset.pop() for _ in range(len(nset))] == ["a1b1", "a1b2", "n1", "n2", "n3"]
    with pytest.raises(KeyError):
        nset.pop()
    nset = nodes("n[1-9/2]")
    assert nset.get_autostep() is None
    nset.set_autostep(3)
    assert (nset.get_autostep(), str(nset)) == (3, "n[1-9/2]")


def test_nodesetbase_does_arithmetic_without_parsing() -> None:
    base = NodeSetBase("foo%sbar", RangeSet("1-100,200"))
    assert (str(base), len(base), repr(base)) == ("foo[1-100,200]bar", 101,
                                                  "NodeSetBase('foo[1-100,200]bar')")
    other = base.copy()
    other.add(NodeSetBase("foo%sbar", RangeSet("201")))
    assert (str(base), str(other)) == ("foo[1-100,200]bar", "foo[1-100,200-201]bar")
    assert type(other) is NodeSetBase and type(base | other) is NodeSetBase
    assert str(NodeSetBase("da%sc%s", RangeSetND([["1-2", "3"]]))) == "da[1-2]c3"
    assert str(NodeSetBase("login")) == "login"
    assert isinstance(nodes("n1"), NodeSetBase)
    assert nodes("foo[1-100,200]bar") == base and base == nodes("foo[1-100,200]bar")
    mixed = nodes("foo1bar,x")
    mixed.difference_update(base)
    assert str(mixed) == "x"
    with pytest.raises(TypeError):
        base.update("foo1bar")  # no expressions: that is NodeSet's job
    with pytest.raises(ValueError, match="missing pattern"):
        NodeSetBase(None, RangeSet("1-10"))
    with pytest.raises(ValueError, match='has 2 "%s" for 1 indexes'):
        NodeSetBase("a%sb%s", RangeSet("1"))


def test_grouplist() -> None:
    resolver = DictResolver({"local": {"r[1-2]": "n1", "db": "n2"}, "other": {"x": "o1"}})
    assert grouplist(resolver=resolver) == ["db", "r1", "r2"]
    assert grouplist("other", resolver) == ["x"]
    with pytest.raises(NodeSetExternalError):
        grouplist(resolver=NO_GROUPS)


@pytest.mark.parametrize(
    ("value", "folded"),
    [
        pytest.param(None, "a[1-2]b[1-2]", id="none"),
        pytest.param(range(1), "a[1-2]b1,a[1-2]b2", id="range"),
        pytest.param(RangeSet("1"), "a1b[1-2],a2b[1-2]", id="rangeset"),
        pytest.param([-1], "a1b[1-2],a2b[1-2]", id="negative"),
    ],
)
def test_fold_axis_takes_axis_numbers(value: object, folded: str) -> None:
    nset = nodes("a[1-2]b[1-2]")
    nset.fold_axis = value  # type: ignore[assignment]
    assert str(nset) == folded
    assert nset.fold_axis is None or isinstance(nset.fold_axis, tuple)


@pytest.mark.parametrize("value", [0, "0-1", [0, "x"], 1.5])
def test_bad_fold_axis_is_refused_when_set(value: object) -> None:
    nset = nodes("a[1-2]b[1-2]")
    with pytest.raises(TypeError, match="fold_axis must be None or axis numbers"):
        nset.fold_axis = value  # type: ignore[assignment]
    with pytest.raises(TypeError):
        NodeSet("a1b1", fold_axis=value)  # type: ignore[arg-type]


def test_errors_are_caught_under_clustershell_s_classes() -> None:
    # ClusterShell's NodeSetParseRangeError, NodeSetExternalError, GroupResolverSourceError
    # and GroupSourceNoUpcall have shoal classes a caller catches the same way.
    with pytest.raises(NodeSetParseRangeError):
        nodes("n[1-x]")
    with pytest.raises(NodeSetExternalError, match="resolves no group"):
        NodeSet.fromall(resolver=NO_GROUPS)
    with pytest.raises(NodeSetExternalError, match="no group source is configured"):
        NodeSet.fromall(resolver=DictResolver({}))
    with pytest.raises(NodeSetExternalError, match="resolves no group"):
        nodes("n1").groups()
    assert issubclass(GroupSourceError, NodeSetExternalError)
    assert issubclass(NodeSetExternalError, NodeSetError)
    assert issubclass(NodeSetParseError, NodeSetError)
    resolver = DictResolver(GROUP_DATA)
    for error in (UnknownGroupSourceError, NodeSetParseError):
        with pytest.raises(error) as info:
            NodeSet("n1,@nosrc:g", resolver=resolver)
        assert isinstance(info.value, UnknownGroupSourceInNodeSetError)
        assert (info.value.source, info.value.pos) == ("nosrc", 3)
        assert str(info.value) == 'node set "n1,@nosrc:g": unknown group source "nosrc" at column 4'
