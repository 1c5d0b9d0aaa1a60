"""Where a shell session is in the node tree, and how words move it.

A :class:`ShellState` holds the current node, the one before the last ``cd`` (for
``cd -``) and, in a subshell, the state to return to. :func:`step` reads one path word
as python-deployer's shell did: ``.`` (here), ``-`` (the previous node), ``/`` (the
root), ``..`` (the parent), ``:slug`` (an isolation; ``:a:b`` for nested arrays) or the
name of a child node.

Pure: nodes are only inspected, never run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from shoal.deploy.inspection import Inspector
from shoal.deploy.node import IsolationIdentifierType, Node, get_node_path
from shoal.errors import UsageError

__all__ = ["ShellState", "child_names", "describe", "group_color", "isolation_names", "node_label",
           "step"]

@dataclass(eq=False)
class ShellState:
    """The place of one session: ``node``, ``previous`` (``cd -``) and, in a subshell,
    ``parent`` (the state ``exit`` returns to)."""

    node: Node
    previous: Node | None = None
    parent: ShellState | None = field(default=None, repr=False)

    def cd(self, node: Node) -> None:
        """Move to ``node``, remembering where we were."""
        if node is not self.node:
            self.previous, self.node = self.node, node

    def subshell(self, node: Node) -> ShellState:
        """The state of a subshell on ``node``, which returns to this one."""
        return ShellState(node, parent=self)

    @property
    def root(self) -> Node:
        """The root of the current node's tree."""
        root: Node = Inspector(self.node).get_root()
        return root


def node_label(node: Node) -> str:
    """The node's name, with ``[slug]`` when it is an isolation."""
    inspector = Inspector(node)
    identifier = inspector.get_isolation_identifier()
    name = inspector.get_name()
    return f"{name}[{identifier}]" if identifier is not None else name


def child_names(node: Node, include_private: bool = True) -> Iterator[tuple[str, Node]]:
    """``(name, child)`` for each child node, in definition order."""
    for child in Inspector(node).get_childnodes(include_private=include_private):
        yield Inspector(child).get_name(), child


def isolation_names(node: Node) -> Iterator[tuple[str, Node]]:
    """``(":slug", isolation)`` for each isolation of a node that is not isolated yet."""
    if Inspector(node).is_isolated:
        return
    for identifier, isolation in Inspector(node).iter_isolations(
            IsolationIdentifierType.HOSTS_SLUG):
        if identifier:
            yield ":" + ":".join(identifier), isolation


def describe(node: Node) -> str:
    """What there is at ``node``, for messages: its children and its actions."""
    children = ", ".join(name for name, _ in child_names(node, False)) or "none"
    actions = ", ".join(a.name for a in Inspector(node).get_actions(False)) or "none"
    return f"children: {children}; actions: {actions}"


def step(state: ShellState, node: Node, word: str) -> Node | None:
    """The node ``word`` leads to from ``node``, or None if it names no node there.

    :raises UsageError: a special word that cannot be followed here (``..`` at the
        root, ``-`` before any ``cd``, an isolation that does not exist).
    """
    inspector = Inspector(node)
    if word == ".":
        return node
    if word == "-":
        if state.previous is None:
            raise UsageError("cd -: no previous node yet")
        return state.previous
    if word == "/":
        root: Node = inspector.get_root()
        return root
    if word == "..":
        if node.parent is None:
            raise UsageError(f"..: {get_node_path(node)} is the root: it has no parent")
        return node.parent
    if word.startswith(":"):
        return _isolation(node, word)
    for name, child in child_names(node):
        if name == word:
            return child
    return None


def _isolation(node: Node, word: str) -> Node:
    found = dict(isolation_names(node))
    if word in found:
        return found[word]
    where = get_node_path(node)
    if not found:
        raise UsageError(f"{word}: {where} has no isolations (it is not a ParallelNode "
                         "array, or is one isolation already)")
    raise UsageError(f"{word}: {where} has no isolation {word[1:]!r} "
                     f"(isolations: {', '.join(n[1:] for n in found)})")


def group_color(node: Any) -> str | None:
    """The terminal colour name of the node's group (None: the default colour)."""
    color: str | None = Inspector(node).get_group().color
    return color
