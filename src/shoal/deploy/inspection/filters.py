"""Filters for :meth:`Inspector.walk <shoal.deploy.inspection.Inspector.walk>`.

Combine them with ``&``, ``|`` and ``~``::

    Inspector(node).walk(HasAction("deploy") & PublicOnly & ~InGroup(Staging))
"""

from __future__ import annotations

from typing import Any

from shoal.deploy.groups import Group

__all__ = [
    "Filter",
    "HasAction",
    "InGroup",
    "IsInstance",
    "PrivateOnly",
    "PublicOnly",
]


class Filter:
    """Base of the node filters: ``_filter(node)`` says whether to keep ``node``."""

    def _filter(self, node: Any) -> bool:
        raise NotImplementedError

    def __and__(self, other: Filter) -> Filter:
        return _And(self, other)

    def __or__(self, other: Filter) -> Filter:
        return _Or(self, other)

    def __invert__(self) -> Filter:
        return _Not(self)


class _And(Filter):
    def __init__(self, first: Filter, second: Filter) -> None:
        self.first, self.second = first, second

    def _filter(self, node: Any) -> bool:
        return self.first._filter(node) and self.second._filter(node)

    def __repr__(self) -> str:
        return f"{self.first!r} & {self.second!r}"


class _Or(Filter):
    def __init__(self, first: Filter, second: Filter) -> None:
        self.first, self.second = first, second

    def _filter(self, node: Any) -> bool:
        return self.first._filter(node) or self.second._filter(node)

    def __repr__(self) -> str:
        return f"{self.first!r} | {self.second!r}"


class _Not(Filter):
    def __init__(self, inner: Filter) -> None:
        self.inner = inner

    def _filter(self, node: Any) -> bool:
        return not self.inner._filter(node)

    def __repr__(self) -> str:
        return f"~{self.inner!r}"


def _name(node: Any) -> str:
    from shoal.deploy.inspection.inspector import Inspector

    return Inspector(node).get_name()


class _PublicOnly(Filter):
    def _filter(self, node: Any) -> bool:
        return not _name(node).startswith("_")

    def __repr__(self) -> str:
        return "PublicOnly"


class _PrivateOnly(Filter):
    def _filter(self, node: Any) -> bool:
        return _name(node).startswith("_")

    def __repr__(self) -> str:
        return "PrivateOnly"


PublicOnly = _PublicOnly()
"""Nodes whose name does not start with ``_``."""

PrivateOnly = _PrivateOnly()
"""Nodes whose name starts with ``_``."""


class IsInstance(Filter):
    """Nodes of this node class (or a subclass)."""

    def __init__(self, node_class: type) -> None:
        self.node_class = node_class

    def _filter(self, node: Any) -> bool:
        return isinstance(node, self.node_class)

    def __repr__(self) -> str:
        return f"IsInstance({self.node_class.__name__})"


class HasAction(Filter):
    """Nodes that have an action of this name."""

    def __init__(self, action_name: str) -> None:
        self.action_name = action_name

    def _filter(self, node: Any) -> bool:
        from shoal.deploy.inspection.inspector import Inspector

        return Inspector(node).has_action(self.action_name)

    def __repr__(self) -> str:
        return f"HasAction({self.action_name!r})"


class InGroup(Filter):
    """Nodes in this group (their own, or their closest ancestor's)."""

    def __init__(self, group: type[Group]) -> None:
        if not (isinstance(group, type) and issubclass(group, Group)):
            raise TypeError(f"InGroup() takes a Group subclass, not {group!r}")
        self.group = group

    def _filter(self, node: Any) -> bool:
        from shoal.deploy.inspection.inspector import Inspector

        return Inspector(node).get_group() is self.group

    def __repr__(self) -> str:
        return f"InGroup({self.group.name})"
