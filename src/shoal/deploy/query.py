"""Queries: lazy expressions on the node tree, written as class attributes of nodes.

``Q`` stands for the node the attribute is read from (its :class:`~shoal.deploy.node.Env`,
so ``Q.hosts``, ``Q.host``, ``Q.console``, child nodes, properties and other queries are
all reachable). An expression built on ``Q`` is evaluated each time the attribute is read
through an ``Env``::

    class Site(Node):
        root = "/srv/shop"

        class Web(ParallelNode.Array):
            code_dir = Q.parent.root + "/code"            # "/srv/shop/code"
            banner = Q("%s on %s") % (Q.code_dir, Q.host.slug)
            big = Q.parent.workers > 8                     # comparisons stay lazy too

Operators: attribute, item and call access (arguments may be queries), ``%`` ``+`` ``-``
``*`` ``/`` ``//`` ``**`` and their reversed forms, unary ``-``, comparisons ``==`` ``!=``
``<`` ``<=`` ``>`` ``>=``, and ``&`` ``|`` ``~`` for *and*, *or*, *not* (Python's own
``and``/``or``/``not`` cannot be overloaded). ``Q.parent`` is the parent node and
``Q.parent("Name")`` the closest ancestor whose class (or a base of it) is called
``Name``. ``Q(value)`` makes a literal; tuples, lists and dicts are resolved item by item.

A query has no truth value before it is evaluated: ``if Q.x:`` in a class body raises
:class:`TypeError` rather than being silently true. Queries should have no side effects.

This module imports nothing from shoal.

>>> class Box:
...     width, height, name = 3, 4, "box"
>>> ((Q.width * Q.height) + 1)._execute_query(Box()).result
13
>>> (Q("%s is %sx%s") % (Q.name, Q.width, Q.height))._execute_query(Box()).result
'box is 3x4'
>>> (Q.width < Q.height)._execute_query(Box()).result
True
>>> Q.parent("Site").root
Q.parent('Site').root
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

__all__ = ["Q", "Query", "QueryResult"]

_HERE = __file__


class QueryResult:
    """The value of a query together with the results of its sub-queries, for tracing."""

    def __init__(self, query: Query, result: Any, subqueries: list[QueryResult] | None = None):
        self.query = query
        self.result = result
        self.subqueries = subqueries or []

    def __repr__(self) -> str:
        return f"QueryResult(query={self.query!r}, result={self.result!r})"

    def walk_through_subqueries(self) -> Iterator[tuple[Query, Any]]:
        """Yield ``(query, value)`` for every sub-query, innermost first, then this one."""
        for sub in self.subqueries:
            yield from sub.walk_through_subqueries()
        yield self.query, self.result


class Query:
    """A lazy expression; build one from :data:`Q` rather than with this class.

    ``_filename`` and ``_line`` say where the expression was written, for errors and for
    the shell's ``--inspect``.
    """

    _filename: str | None = None
    _line: int | None = None

    def __init__(self) -> None:
        frame = sys._getframe(1)
        while frame.f_back is not None and frame.f_code.co_filename == _HERE:
            frame = frame.f_back
        self._filename = frame.f_code.co_filename
        self._line = frame.f_lineno

    def _execute_query(self, instance: Any) -> QueryResult:
        """Evaluate on ``instance`` (the node's ``Env``) and return the traced result."""
        raise NotImplementedError

    def __getattr__(self, name: str) -> Query:
        if name.startswith("__") and name.endswith("__"):
            # copy, pickle, inspect and doctest probe special names: never a query.
            raise AttributeError(name)
        return AttrGetter(self, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Query:
        return Call(self, args, kwargs)

    def __getitem__(self, key: Any) -> Query:
        return ItemGetter(self, key)

    @property
    def parent(self) -> Parent:
        """The parent node of this query's value."""
        return Parent(self)

    def __bool__(self) -> NoReturn:
        raise TypeError(f"the query {self!r} has no truth value before it is evaluated; "
                        "combine queries with & | ~ instead of and/or/not")

    __hash__ = object.__hash__  # __eq__ builds a query; queries stay usable as dict keys

    def __repr__(self) -> str:
        return "Query(...)"

    def __invert__(self) -> Query:
        return Invert(self)

    def __neg__(self) -> Query:
        return Negate(self)

    def __add__(self, other: Any) -> Query:
        return Operator(self, other, operator.add, "+")

    def __radd__(self, other: Any) -> Query:
        return Operator(other, self, operator.add, "+")

    def __sub__(self, other: Any) -> Query:
        return Operator(self, other, operator.sub, "-")

    def __rsub__(self, other: Any) -> Query:
        return Operator(other, self, operator.sub, "-")

    def __mul__(self, other: Any) -> Query:
        return Operator(self, other, operator.mul, "*")

    def __rmul__(self, other: Any) -> Query:
        return Operator(other, self, operator.mul, "*")

    def __truediv__(self, other: Any) -> Query:
        return Operator(self, other, operator.truediv, "/")

    def __rtruediv__(self, other: Any) -> Query:
        return Operator(other, self, operator.truediv, "/")

    def __floordiv__(self, other: Any) -> Query:
        return Operator(self, other, operator.floordiv, "//")

    def __rfloordiv__(self, other: Any) -> Query:
        return Operator(other, self, operator.floordiv, "//")

    def __mod__(self, other: Any) -> Query:
        return Operator(self, other, operator.mod, "%")

    def __rmod__(self, other: Any) -> Query:
        return Operator(other, self, operator.mod, "%")

    def __pow__(self, other: Any) -> Query:
        return Operator(self, other, operator.pow, "**")

    def __rpow__(self, other: Any) -> Query:
        return Operator(other, self, operator.pow, "**")

    def __and__(self, other: Any) -> Query:
        return Operator(self, other, _and, "&")

    def __rand__(self, other: Any) -> Query:
        return Operator(other, self, _and, "&")

    def __or__(self, other: Any) -> Query:
        return Operator(self, other, _or, "|")

    def __ror__(self, other: Any) -> Query:
        return Operator(other, self, _or, "|")

    def __eq__(self, other: Any) -> Query:  # type: ignore[override]
        return Operator(self, other, operator.eq, "==")

    def __ne__(self, other: Any) -> Query:  # type: ignore[override]
        return Operator(self, other, operator.ne, "!=")

    def __lt__(self, other: Any) -> Query:
        return Operator(self, other, operator.lt, "<")

    def __le__(self, other: Any) -> Query:
        return Operator(self, other, operator.le, "<=")

    def __gt__(self, other: Any) -> Query:
        return Operator(self, other, operator.gt, ">")

    def __ge__(self, other: Any) -> Query:
        return Operator(self, other, operator.ge, ">=")


def _and(a: Any, b: Any) -> Any:
    return a and b


def _or(a: Any, b: Any) -> Any:
    return a or b


def _resolve(value: Any) -> Query:
    """``value`` as a query: queries as they are, containers item by item, else a literal."""
    if isinstance(value, Query):
        return value
    if isinstance(value, tuple):
        return Tuple(value)
    if isinstance(value, list):
        return List(value)
    if isinstance(value, dict):
        return Dict(value)
    return Static(value)


class Tuple(Query):
    """A tuple whose items may be queries: ``Q("%s/%s") % (Q.a, Q.b)``."""

    kind: type = tuple

    def __init__(self, items: tuple[Any, ...] | list[Any]) -> None:
        super().__init__()
        self.items = [_resolve(i) for i in items]

    def _execute_query(self, instance: Any) -> QueryResult:
        parts = [i._execute_query(instance) for i in self.items]
        return QueryResult(self, self.kind(p.result for p in parts), parts)

    def __repr__(self) -> str:
        inner = ", ".join(map(repr, self.items))
        return f"({inner},)" if len(self.items) == 1 else f"({inner})"


class List(Tuple):
    """A list whose items may be queries."""

    kind = list

    def __repr__(self) -> str:
        return f"[{', '.join(map(repr, self.items))}]"


class Dict(Query):
    """A dict whose keys and values may be queries: ``Q("%(x)s") % {"x": Q.a}``."""

    def __init__(self, items: dict[Any, Any]) -> None:
        super().__init__()
        self.items = [(_resolve(k), _resolve(v)) for k, v in items.items()]

    def _execute_query(self, instance: Any) -> QueryResult:
        pairs = [(k._execute_query(instance), v._execute_query(instance)) for k, v in self.items]
        return QueryResult(self, {k.result: v.result for k, v in pairs},
                           [part for pair in pairs for part in pair])

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in self.items) + "}"


class Invert(Query):
    """``~query``: logical *not* of the value."""

    def __init__(self, subquery: Query) -> None:
        super().__init__()
        self.subquery = subquery

    def _execute_query(self, instance: Any) -> QueryResult:
        part = self.subquery._execute_query(instance)
        return QueryResult(self, not part.result, [part])

    def __repr__(self) -> str:
        return f"~{self.subquery!r}"


class Negate(Query):
    """``-query``: the value negated."""

    def __init__(self, subquery: Query) -> None:
        super().__init__()
        self.subquery = subquery

    def _execute_query(self, instance: Any) -> QueryResult:
        part = self.subquery._execute_query(instance)
        return QueryResult(self, -part.result, [part])

    def __repr__(self) -> str:
        return f"-{self.subquery!r}"


class Operator(Query):
    """Two queries (or values) with an operator between them."""

    def __init__(self, part1: Any, part2: Any, function: Callable[[Any, Any], Any],
                 symbol: str) -> None:
        super().__init__()
        self.part1 = _resolve(part1)
        self.part2 = _resolve(part2)
        self.operator = function
        self.operator_str = symbol

    def _execute_query(self, instance: Any) -> QueryResult:
        part1 = self.part1._execute_query(instance)
        part2 = self.part2._execute_query(instance)
        return QueryResult(self, self.operator(part1.result, part2.result), [part1, part2])

    def __repr__(self) -> str:
        return f"{self.part1!r} {self.operator_str} {self.part2!r}"


class ItemGetter(Query):
    """``query[key]``; the key may be a query."""

    def __init__(self, subquery: Query, key: Any) -> None:
        super().__init__()
        self.subquery = subquery
        self.key = _resolve(key)

    def _execute_query(self, instance: Any) -> QueryResult:
        part = self.subquery._execute_query(instance)
        key = self.key._execute_query(instance)
        return QueryResult(self, part.result[key.result], [part, key])

    def __repr__(self) -> str:
        return f"{self.subquery!r}[{self.key!r}]"


class Static(Query):
    """A literal value."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value

    def _execute_query(self, instance: Any) -> QueryResult:
        return QueryResult(self, self.value, [])

    def __repr__(self) -> str:
        # The value, not Q(value): Q.a["k"] reads better than Q.a[Q("k")].
        return repr(self.value)


class AttrGetter(Query):
    """``query.name``."""

    def __init__(self, subquery: Query, attrname: str) -> None:
        super().__init__()
        self.subquery = subquery
        self.attrname = attrname

    def _execute_query(self, instance: Any) -> QueryResult:
        part = self.subquery._execute_query(instance)
        return QueryResult(self, getattr(part.result, self.attrname), [part])

    def __repr__(self) -> str:
        return f"{self.subquery!r}.{self.attrname}"


class Call(Query):
    """``query(*args, **kwargs)``; arguments may be queries."""

    def __init__(self, subquery: Query, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.subquery = subquery
        self.args = [_resolve(a) for a in args]
        self.kwargs = {k: _resolve(v) for k, v in kwargs.items()}

    def _execute_query(self, instance: Any) -> QueryResult:
        part = self.subquery._execute_query(instance)
        args = [a._execute_query(instance) for a in self.args]
        kwargs = {k: v._execute_query(instance) for k, v in self.kwargs.items()}
        value = part.result(*[a.result for a in args], **{k: v.result for k, v in kwargs.items()})
        return QueryResult(self, value, [part, *args, *kwargs.values()])

    def __repr__(self) -> str:
        words = [*map(repr, self.args), *(f"{k}={v!r}" for k, v in self.kwargs.items())]
        return f"{self.subquery!r}({', '.join(words)})"


class Parent(Query):
    """``query.parent``, and ``query.parent("Name")`` for the closest ancestor so named."""

    def __init__(self, subquery: Query) -> None:
        super().__init__()
        self.subquery = subquery

    def __call__(self, parent_name: str) -> Query:
        return FindParentByName(self.subquery, parent_name)

    def _execute_query(self, instance: Any) -> QueryResult:
        part = self.subquery._execute_query(instance)
        parent = part.result.parent
        if parent is None:
            raise AttributeError(f"{part.result!r} is the root: it has no parent")
        return QueryResult(self, parent, [part])

    def __repr__(self) -> str:
        return f"{self.subquery!r}.parent"


class FindParentByName(Query):
    """The closest ancestor (not the node itself) whose class or a base is ``parent_name``."""

    def __init__(self, subquery: Query, parent_name: str) -> None:
        super().__init__()
        self.subquery = subquery
        self.parent_name = parent_name

    def _execute_query(self, instance: Any) -> QueryResult:
        part = self.subquery._execute_query(instance)
        node = part.result.parent
        while node is not None:
            if any(c.__name__ == self.parent_name for c in type(node._node).__mro__):
                return QueryResult(self, node, [part])
            node = node.parent
        raise LookupError(f"{part.result!r} has no ancestor called {self.parent_name!r}")

    def __repr__(self) -> str:
        return f"{self.subquery!r}.parent({self.parent_name!r})"


class _Identity(Query):
    """``Q`` itself: the node the query is read from; ``Q(value)`` makes a literal."""

    def _execute_query(self, instance: Any) -> QueryResult:
        return QueryResult(self, instance, [])

    def __call__(self, value: Any) -> Query:
        return _resolve(value)

    def __repr__(self) -> str:
        return "Q"


Q = _Identity()
"""The node a query is read from; the start of every query expression."""
