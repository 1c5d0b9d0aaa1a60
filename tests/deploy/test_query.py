"""Q queries as pure expressions: every operator, reversed forms, literals, traces, errors."""

from __future__ import annotations

from typing import Any

import pytest

from shoal.deploy.exceptions import ActionException, QueryException
from shoal.deploy.node import Env, Node
from shoal.deploy.query import Q, Query


class Values:
    a, b, s, items, flag, none = 7, 2, "x", {"k": "v", 2: "two"}, True, None

    def f(self, x: Any, y: Any = 0, *, z: Any = 0) -> Any:
        return (x, y, z)


def value(query: Query) -> Any:
    return query._execute_query(Values()).result


@pytest.mark.parametrize("query, expected, text", [
    pytest.param(Q.a + 1, 8, "Q.a + 1", id="add"),
    pytest.param(1 + Q.a, 8, "1 + Q.a", id="radd"),
    pytest.param(Q.a - Q.b, 5, "Q.a - Q.b", id="sub"),
    pytest.param(10 - Q.a, 3, "10 - Q.a", id="rsub"),
    pytest.param(Q.a * 3, 21, "Q.a * 3", id="mul"),
    pytest.param(3 * Q.a, 21, "3 * Q.a", id="rmul"),
    pytest.param(Q.a / Q.b, 3.5, "Q.a / Q.b", id="truediv"),
    pytest.param(14 / Q.a, 2.0, "14 / Q.a", id="rtruediv"),
    pytest.param(Q.a // Q.b, 3, "Q.a // Q.b", id="floordiv"),
    pytest.param(15 // Q.a, 2, "15 // Q.a", id="rfloordiv"),
    pytest.param(Q.a % Q.b, 1, "Q.a % Q.b", id="mod"),
    pytest.param(Q("%s-%s") % (Q.a, Q.s), "7-x", "'%s-%s' % (Q.a, Q.s)", id="mod-tuple"),
    pytest.param(10 % Q.a, 3, "10 % Q.a", id="rmod"),
    pytest.param(Q.b ** 3, 8, "Q.b ** 3", id="pow"),
    pytest.param(2 ** Q.b, 4, "2 ** Q.b", id="rpow"),
    pytest.param(-Q.a, -7, "-Q.a", id="neg"),
    pytest.param(Q.flag & Q.s, "x", "Q.flag & Q.s", id="and"),
    pytest.param(Q.none | Q.s, "x", "Q.none | Q.s", id="or"),
    pytest.param(False | Q.a, 7, "False | Q.a", id="ror"),
    pytest.param(True & Q.a, 7, "True & Q.a", id="rand"),
    pytest.param(~Q.flag, False, "~Q.flag", id="invert"),
    pytest.param(Q.a == 7, True, "Q.a == 7", id="eq"),
    pytest.param(Q.a != 7, False, "Q.a != 7", id="ne"),
    pytest.param(Q.a < Q.b, False, "Q.a < Q.b", id="lt"),
    pytest.param(Q.a <= 7, True, "Q.a <= 7", id="le"),
    pytest.param(Q.a > Q.b, True, "Q.a > Q.b", id="gt"),
    pytest.param(3 >= Q.a, False, "Q.a <= 3", id="reflected-comparison"),  # noqa: SIM300
    pytest.param(Q.items["k"], "v", "Q.items['k']", id="item"),
    pytest.param(Q.items[Q.b], "two", "Q.items[Q.b]", id="item-query-key"),
    pytest.param(Q.f(Q.a, y=Q.b, z=3), (7, 2, 3), "Q.f(Q.a, y=Q.b, z=3)", id="call-kwargs"),
    pytest.param(Q([Q.a, Q.b]), [7, 2], "[Q.a, Q.b]", id="list"),
    pytest.param(Q((Q.a,)), (7,), "(Q.a,)", id="tuple"),
    pytest.param(Q({Q.s: Q.a}), {"x": 7}, "{Q.s: Q.a}", id="dict"),
    pytest.param(Q("%(n)s") % {"n": Q.a}, "7", "'%(n)s' % {'n': Q.a}", id="mod-dict"),
    pytest.param(Q("plain"), "plain", "'plain'", id="literal"),
])
def test_operators(query: Query, expected: Any, text: str) -> None:
    assert value(query) == expected
    assert repr(query) == text


def test_a_query_has_no_truth_value_before_evaluation() -> None:
    with pytest.raises(TypeError, match="no truth value"):
        bool(Q.a == 1)
    with pytest.raises(TypeError, match=r"combine queries with & | ~"):
        if Q.a:
            pass


def test_special_names_are_not_queries() -> None:
    with pytest.raises(AttributeError):
        Q.__wrapped__  # noqa: B018
    assert {Q.a: 1}  # hashable: queries may be dict keys


def test_the_trace_lists_every_sub_query() -> None:
    trace = (Q.a + Q.b * 2)._execute_query(Values())
    assert [(repr(q), v) for q, v in trace.walk_through_subqueries()][1:] == [
        ("Q.a", 7), ("Q", trace.subqueries[1].subqueries[0].subqueries[0].result),
        ("Q.b", 2), ("2", 2), ("Q.b * 2", 4), ("Q.a + Q.b * 2", 11)]


def test_a_query_remembers_where_it_was_written() -> None:
    query = Q.a + 1
    assert query._filename == __file__
    assert query._line is not None and query._line > 0


class Outer(Node):
    name = "outer"

    class Middle(Node):
        name = "middle"

        class Inner(Node):
            from_outer = Q.parent("Outer").name
            from_middle = Q.parent("Middle").name
            from_base = Q.parent("Node").name  # any base class name: the closest ancestor
            nowhere = Q.parent("Elsewhere").name
            parent_of_root = Q.parent.parent.parent.parent


def test_parent_by_class_name_starts_above_the_node() -> None:
    inner = Env(Outer()).Middle.Inner
    assert inner.from_outer == "outer"
    assert inner.from_middle == "middle"
    assert inner.from_base == "middle"


def test_errors_name_the_node_the_attribute_and_the_expression() -> None:
    inner = Env(Outer()).Middle.Inner
    with pytest.raises(ActionException) as caught:
        _ = inner.nowhere
    error = caught.value.inner_exception
    assert isinstance(error, QueryException)
    assert error.attr_name == "nowhere"
    assert "<Node Outer.Middle.Inner>.nowhere = Q.parent('Elsewhere').name (" in str(error)
    assert str(error).endswith("LookupError: Env(Outer.Middle.Inner) has no ancestor called "
                               "'Elsewhere'")
    with pytest.raises(ActionException, match=r"Env\(Outer\) is the root: it has no parent"):
        _ = inner.parent_of_root
