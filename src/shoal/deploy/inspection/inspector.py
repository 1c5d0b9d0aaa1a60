"""The :class:`Inspector`: reflection on a node, or on an ``Env`` (then its answers are
Envs too, ready to run)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from shoal.deploy.groups import Group
from shoal.deploy.node.base import (
    Action,
    EnvBase,
    IsolationIdentifierType,
    Node,
    get_node_path,
    iter_isolations,
)
from shoal.deploy.query import QueryResult

__all__ = ["Inspector", "NodeIterator", "PathType"]


class _NodeFilter(Protocol):
    def _filter(self, node: Any) -> bool: ...


class PathType:
    """How :meth:`Inspector.get_path` names the nodes on the way from the root."""

    NAME_ONLY = "NAME_ONLY"
    """A tuple of names."""

    NODE_AND_NAME = "NODE_AND_NAME"
    """A tuple of ``(node, name)``."""

    NODE_ONLY = "NODE_ONLY"
    """A tuple of nodes."""


def _definition_order(cls: type) -> dict[str, int]:
    """Each attribute name of ``cls`` with its place: bases' first, each in the order its
    class body wrote it (an override keeps the place of what it overrides)."""
    names: dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        names.update(dict.fromkeys(vars(klass)))
    return {name: i for i, name in enumerate(names)}


class Inspector:
    """Reflection on ``node``, a :class:`~shoal.deploy.node.Node` or an ``Env``.

    Given an ``Env``, nodes and actions come back wrapped in that Env (child nodes as
    Envs, actions callable), and :meth:`trace_query` is available.
    """

    def __init__(self, node: Node | EnvBase) -> None:
        if isinstance(node, EnvBase):
            self.env: EnvBase | None = node
            self.node: Node = node._node
        elif isinstance(node, Node):
            self.env = None
            self.node = node
        else:
            raise TypeError(f"Inspector() takes a Node or an Env, not {node!r}")

    def __repr__(self) -> str:
        return f"Inspector(node={get_node_path(self.node)})"

    def _wrap(self, node: Node) -> Any:
        return self.env._wrap_node(node) if self.env is not None else node  # type: ignore[attr-defined]

    def _wrap_action(self, action: Action, auto_evaluate: bool = True) -> Any:
        if self.env is None:
            return action
        return self.env._wrap_action(action, auto_evaluate)  # type: ignore[attr-defined]

    # -- isolations ---------------------------------------------------------------------

    @property
    def is_isolated(self) -> bool:
        """Whether the node is one isolation (or needs none)."""
        return self.node._node_is_isolated

    def iter_isolations(self, identifier_type: str = IsolationIdentifierType.INT_TUPLES
                        ) -> Iterator[tuple[tuple[Any, ...], Any]]:
        """Yield ``(identifier, isolation)`` for every isolation of the node."""
        for identifier, node in iter_isolations(self.node, identifier_type):
            yield identifier, self._wrap(node)

    def get_isolation(self, identifier: tuple[Any, ...],
                      identifier_type: str = IsolationIdentifierType.INT_TUPLES) -> Any:
        """The isolation with this identifier; :class:`AttributeError` if there is none."""
        for key, node in self.iter_isolations(identifier_type):
            if key == identifier:
                return node
        raise AttributeError(f"{self.node!r} has no isolation {identifier!r}")

    def get_isolation_identifier(self) -> str | None:
        """The slug naming this isolation in its array (None outside arrays)."""
        return self.node._node_isolation_identifier

    # -- members ------------------------------------------------------------------------

    def _members(self, include_private: bool, keep: Callable[[Any], bool]) -> list[tuple[
            str, Any]]:
        order = _definition_order(type(self.node))
        found = []
        for name in sorted(order, key=order.__getitem__):
            if name.startswith("__") or name in ("parent", "hosts", "host"):
                continue
            if not include_private and name.startswith("_"):
                continue
            attr = getattr(self.node, name, None)
            if keep(attr):
                found.append((name, attr))
        return found

    def get_childnodes(self, include_private: bool = True, verify_parent: bool = True
                       ) -> list[Any]:
        """The child nodes, in the order they were defined.

        :param include_private: include children whose name starts with ``_``.
        :param verify_parent: only nodes whose parent is this node.
        """
        def child(attr: Any) -> bool:
            return isinstance(attr, Node) and (not verify_parent or attr.parent is self.node)

        return [self._wrap(n) for _, n in self._members(include_private, child)]

    def has_childnode(self, name: str) -> bool:
        """Whether the node has a child called ``name``."""
        return any(Inspector(c).get_name() == name for c in self.get_childnodes())

    def get_childnode(self, name: str) -> Any:
        """The child called ``name``; :class:`AttributeError` if there is none."""
        for child in self.get_childnodes():
            if Inspector(child).get_name() == name:
                return child
        raise AttributeError(f"{self.node!r} has no child node {name!r}")

    def _actions(self, include_private: bool, kind: Callable[[Action], bool],
                 auto_evaluate: bool = True) -> list[Any]:
        def keep(attr: Any) -> bool:
            return isinstance(attr, Action) and kind(attr)

        found = sorted((a for _, a in self._members(include_private, keep)),
                       key=lambda a: a.name)
        return [self._wrap_action(a, auto_evaluate) for a in found]

    def get_actions(self, include_private: bool = True) -> list[Any]:
        """The actions, alphabetically (aliases included, under their own names)."""
        return self._actions(include_private, lambda a: not (a.is_property or a.is_query))

    def has_action(self, name: str) -> bool:
        """Whether the node has an action called ``name``."""
        return any(a.name == name for a in self.get_actions())

    def get_action(self, name: str) -> Any:
        """The action called ``name``; :class:`AttributeError` if there is none."""
        for action in self.get_actions():
            if action.name == name:
                return action
        raise AttributeError(f"{self.node!r} has no action {name!r}")

    def get_default_action(self) -> Any:
        """The node's default action (its ``__call__``), or None if it has none."""
        if not self.is_callable():
            return None
        return self._wrap_action(self.node.__call__)  # type: ignore[operator]

    def get_properties(self, include_private: bool = True) -> list[Any]:
        """The properties, alphabetically, as actions (not evaluated)."""
        return self._actions(include_private, lambda a: a.is_property, auto_evaluate=False)

    def has_property(self, name: str) -> bool:
        """Whether ``name`` is a property of the node."""
        return any(p.name == name for p in self.get_properties())

    def get_property(self, name: str) -> Any:
        """The property called ``name``; :class:`AttributeError` if there is none."""
        for prop in self.get_properties():
            if prop.name == name:
                return prop
        raise AttributeError(f"{self.node!r} has no property {name!r}")

    def get_queries(self, include_private: bool = True) -> list[Any]:
        """The query attributes, alphabetically, as actions (not evaluated)."""
        return self._actions(include_private, lambda a: a.is_query, auto_evaluate=False)

    def has_query(self, name: str) -> bool:
        """Whether ``name`` is a query attribute of the node."""
        return any(q.name == name for q in self.get_queries())

    def get_query(self, name: str) -> Any:
        """The query attribute called ``name``; :class:`AttributeError` if there is none."""
        for query in self.get_queries():
            if query.name == name:
                return query
        raise AttributeError(f"{self.node!r} has no query {name!r}")

    def suppress_result_for_action(self, name: str) -> bool:
        """Whether the action's result is not to be printed."""
        return bool(self.get_action(name).suppress_result)

    def trace_query(self, name: str) -> QueryResult:
        """Evaluate the query attribute ``name`` with the trace of every sub-query (an
        Env inspector only: queries need an Env to run in)."""
        if self.env is None:
            raise TypeError("trace_query() needs an Inspector on an Env")
        result: QueryResult = self.get_query(name)(return_query_result=True)
        return result

    # -- place in the tree --------------------------------------------------------------

    def get_name(self) -> str:
        """The node's name: its attribute name in its parent, or its class name."""
        return self.node._node_name or type(self.node).__name__

    def get_full_name(self) -> str:
        """The node's class name."""
        return type(self.node).__name__

    def get_path(self, path_type: str = PathType.NAME_ONLY) -> tuple[Any, ...]:
        """The way from the root to this node, as :class:`PathType` says."""
        parts: list[Any] = []
        node: Node | None = self.node
        while node is not None:
            name = Inspector(node).get_name()
            wrapped = self._wrap(node)
            parts.append({PathType.NAME_ONLY: name, PathType.NODE_ONLY: wrapped,
                          PathType.NODE_AND_NAME: (wrapped, name)}[path_type])
            node = node.parent
        return tuple(reversed(parts))

    def get_root(self) -> Any:
        """The root node of the tree."""
        node = self.node
        while node.parent is not None:
            node = node.parent
        return self._wrap(node)

    def get_parent(self) -> Any:
        """The parent node; :class:`AttributeError` at the root."""
        if self.node.parent is None:
            raise AttributeError(f"{self.node!r} is the root: it has no parent")
        return self._wrap(self.node.parent)

    def get_group(self) -> type[Group]:
        """The node's group: its own, else its closest ancestor's, else :class:`Group`."""
        node: Node | None = self.node
        while node is not None:
            if node.node_group is not None:
                return node.node_group
            node = node.parent
        return Group

    def is_callable(self) -> bool:
        """Whether the node has a default action (``__call__``)."""
        return callable(self.node)

    # -- walking ------------------------------------------------------------------------

    def _walk(self) -> Iterator[Any]:
        seen: set[str] = set()
        todo: list[Node] = [self.node]
        while todo:
            node = todo.pop(0)
            seen.add(get_node_path(node))
            yield self._wrap(node)
            for child in Inspector(node).get_childnodes(verify_parent=False):
                if get_node_path(child) not in seen:
                    todo.append(child)

    def walk(self, filter: _NodeFilter | None = None) -> NodeIterator:
        """Every node from this one down, breadth first (arrays are not split).

        :param filter: a :mod:`~shoal.deploy.inspection.filters` filter.
        """
        return NodeIterator(self._walk).filter(filter)


class NodeIterator:
    """The nodes :meth:`Inspector.walk` yields, with filtering and bulk calls."""

    def __init__(self, node_iterator_func: Callable[[], Iterator[Any]]) -> None:
        self._iterator_func = node_iterator_func

    def __iter__(self) -> Iterator[Any]:
        return self._iterator_func()

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def filter(self, filter: _NodeFilter | None) -> NodeIterator:
        """The nodes that pass ``filter`` (all of them when None)."""
        if filter is None:
            return self
        keep = filter

        def filtered() -> Iterator[Any]:
            return (n for n in self if keep._filter(n))

        return NodeIterator(filtered)

    def prefer_isolation(self, index: Any) -> NodeIterator:
        """Nodes not yet isolated replaced by their isolation ``index`` (dropped when they
        have none); isolated nodes as they are."""
        def preferred() -> Iterator[Any]:
            for node in self:
                if Inspector(node).is_isolated:
                    yield node
                    continue
                try:
                    yield node[index]
                except KeyError:
                    continue

        return NodeIterator(preferred)

    def call_action(self, name: str, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Call the action ``name`` on every isolation of every node (Envs only); yields
        the results."""
        for node in self:
            for _, isolation in Inspector(node).iter_isolations():
                yield getattr(isolation, name)(*args, **kwargs)
