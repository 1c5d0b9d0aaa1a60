"""Property and differential tests: shoal's node sets against Python sets and ClusterShell.

Hypothesis generates range sets and node sets (1-D to 3-D, padded or not, with steps,
several prefixes); each property is checked on shoal alone (fold∘expand is identity,
operators agree with Python set operations) and against ClusterShell's own classes for
the same input (same folded text, same expansion, same count, same index and slices).
"""

from __future__ import annotations

from random import Random

import ClusterShell.NodeSet as cs_nodeset
import ClusterShell.RangeSet as cs_rangeset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.nodeset import NodeSet, RangeSet, RangeSetND
from shoal.nodeset.nodeset import NO_GROUPS, _Evaluator

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
#: ClusterShell folds long n-D name lists in quadratic time: fewer, smaller examples.
SLOW = settings(SETTINGS, max_examples=80)


def cs_nodes(expr: str) -> cs_nodeset.NodeSet:
    """ClusterShell's NodeSet with group resolution off, as shoal's NO_GROUPS."""
    return cs_nodeset.NodeSet(expr, resolver=cs_nodeset.RESOLVER_NOGROUP)


def shoal_nodes(expr: str) -> NodeSet:
    return NodeSet(expr, resolver=NO_GROUPS)


@st.composite
def ranges(draw: st.DrawFn, max_value: int = 120, max_span: int = 40) -> str:
    """One range set expression: "3", "1-5", "01-10", "0-20/3", joined by commas."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, max_value))
        kind = draw(st.sampled_from(["one", "range", "step"]))
        pad = draw(st.sampled_from([0, 0, 2, 3]))
        if kind == "one":
            parts.append(f"{start:0{pad}d}" if pad else str(start))
            continue
        stop = draw(st.integers(start, start + max_span))
        if pad:
            width = max(pad, len(str(stop)))
            text = f"{start:0{width}d}-{stop:0{width}d}"
        else:
            text = f"{start}-{stop}"
        if kind == "step":
            text += f"/{draw(st.integers(1, 5))}"
        parts.append(text)
    return ",".join(parts)


@st.composite
def nodesets(draw: st.DrawFn) -> str:
    """A node set expression of one or more patterns, 1 to 3 dimensions."""
    patterns = []
    for _ in range(draw(st.integers(1, 3))):
        dims = draw(st.integers(1, 3))
        prefix = draw(st.sampled_from(["node", "n", "da", "web-", "r"]))
        text = prefix
        for axis in range(dims):
            # Keep n-D sets small: sizes multiply across axes.
            text += f"[{draw(ranges(12, 6) if dims > 1 else ranges())}]"
            if axis < dims - 1:
                text += draw(st.sampled_from(["c", "p", "-", "s"]))
        if draw(st.booleans()):
            text += draw(st.sampled_from(["-ib", "", "x"]))
        patterns.append(text)
    return ",".join(patterns)


# -- shoal alone ------------------------------------------------------------------------


@SETTINGS
@given(nodesets())
def test_fold_of_expand_is_identity(expr: str) -> None:
    nodes = shoal_nodes(expr)
    names = list(nodes)
    again = NodeSet.fromlist(names, resolver=NO_GROUPS)
    assert again == nodes
    assert str(again) == str(nodes)
    assert len(nodes) == len(names) == len(set(names))
    assert shoal_nodes(str(nodes)) == nodes


@SETTINGS
@given(nodesets(), nodesets())
def test_operators_agree_with_python_sets(left: str, right: str) -> None:
    a, b = shoal_nodes(left), shoal_nodes(right)
    sa, sb = set(a), set(b)
    assert set(a | b) == sa | sb
    assert set(a & b) == sa & sb
    assert set(a - b) == sa - sb
    assert set(a ^ b) == sa ^ sb
    if "," not in right:
        # Operators apply left to right: "x,y!z" is (x | y) - z.
        assert set(shoal_nodes(f"{left}!{right}")) == sa - sb
    assert (a <= b) == (sa <= sb)


@SETTINGS
@given(ranges(), ranges())
def test_rangeset_operators_agree_with_python_sets(left: str, right: str) -> None:
    a, b = RangeSet(left), RangeSet(right)
    sa, sb = set(a.striter()), set(b.striter())
    assert set((a | b).striter()) == sa | sb
    assert set((a & b).striter()) == sa & sb
    assert set((a - b).striter()) == sa - sb
    assert set((a ^ b).striter()) == sa ^ sb
    assert len(a) == len(sa)


# -- against ClusterShell ---------------------------------------------------------------


@SETTINGS
@given(ranges())
def test_rangeset_matches_clustershell(expr: str) -> None:
    ours, theirs = RangeSet(expr), cs_rangeset.RangeSet(expr)
    assert str(ours) == str(theirs)
    assert list(ours.striter()) == list(theirs.striter())
    assert len(ours) == len(theirs)


@SETTINGS
@given(ranges(), st.integers(2, 6))
def test_rangeset_autostep_matches_clustershell(expr: str, autostep: int) -> None:
    ours = RangeSet(expr, autostep=autostep)
    theirs = cs_rangeset.RangeSet(expr, autostep=autostep)
    assert str(ours) == str(theirs)


@SETTINGS
@given(nodesets())
def test_nodeset_matches_clustershell(expr: str) -> None:
    ours, theirs = shoal_nodes(expr), cs_nodes(expr)
    assert str(ours) == str(theirs)
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)


@SETTINGS
@given(nodesets(), nodesets(), st.sampled_from([",", "!", "&", "^"]))
def test_operator_expressions_match_clustershell(left: str, right: str, op: str) -> None:
    expr = f"{left}{op}{right}"
    assert str(shoal_nodes(expr)) == str(cs_nodes(expr))


@SETTINGS
@given(nodesets(), st.data())
def test_index_and_slices_match_clustershell(expr: str, data: st.DataObject) -> None:
    ours, theirs = shoal_nodes(expr), cs_nodes(expr)
    size = len(theirs)
    i = data.draw(st.integers(-size, size - 1))
    assert ours[i] == theirs[i]
    start = data.draw(st.integers(0, size))
    stop = data.draw(st.integers(start, size + 2))
    step = data.draw(st.integers(1, 4))
    assert str(ours[start:stop:step]) == str(theirs[start:stop:step])
    name = theirs[i]
    assert ours.index(name) == theirs.index(name)


@SLOW
@given(nodesets(), st.integers(1, 7))
def test_split_matches_clustershell(expr: str, parts: int) -> None:
    ours = [str(x) for x in shoal_nodes(expr).split(parts)]
    theirs = [str(x) for x in cs_nodes(expr).split(parts)]
    assert ours == theirs


def _state(rset: object) -> object:
    """What a parsed pattern holds, autostep included (before folding may change it)."""
    if rset is None:
        return None
    assert isinstance(rset, (RangeSet, RangeSetND))
    inner = getattr(rset, "_inner", None)  # autostep of the vectors' axes (n-D)
    return type(rset).__name__, rset.autostep, inner, list(rset), str(rset)


@SLOW
@given(
    st.lists(nodesets(), min_size=1, max_size=2),
    st.sampled_from([None, 2, 3]),
    st.randoms(use_true_random=False),
    st.integers(1, 150),
)
def test_name_list_expression_matches_clustershell(
    exprs: list[str], autostep: int | None, rnd: Random, size: int
) -> None:
    """A list of plain names ("n1,n3,r1n2,…", folded in bulk) parses as in ClusterShell,
    and as shoal's term-by-term parser (spaces around the names turn the bulk path off)."""
    names = [name for expr in exprs for name in cs_nodes(expr)]
    names = rnd.sample(names, min(size, len(names)))  # any subset, any order: n-D shapes
    names += names[: size % 4]  # and duplicates
    expr = ",".join(names)
    ours = NodeSet(expr, autostep=autostep, resolver=NO_GROUPS)
    theirs = cs_nodeset.NodeSet(expr, autostep=autostep, resolver=cs_nodeset.RESOLVER_NOGROUP)
    assert str(ours) == str(theirs)
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)
    bulk = _Evaluator(NO_GROUPS, autostep).parse(expr)
    terms = _Evaluator(NO_GROUPS, autostep).parse(" , ".join(names))
    assert {k: _state(r) for k, r in bulk._patterns.items()} == {
        k: _state(r) for k, r in terms._patterns.items()
    }
    assert str(NodeSet(bulk)) == str(NodeSet(terms))


@SLOW
@given(st.lists(nodesets(), min_size=1, max_size=3))
def test_fromlist_of_names_matches_clustershell(exprs: list[str]) -> None:
    names = [name for expr in exprs for name in cs_nodes(expr)]
    ours = NodeSet.fromlist(names, resolver=NO_GROUPS)
    theirs = cs_nodeset.NodeSet.fromlist(names, resolver=cs_nodeset.RESOLVER_NOGROUP)
    assert str(ours) == str(theirs)
