"""Groups put nodes in categories (``production``, ``staging``…) with a name and a colour.

The shell shows a node's name in its group's colour; a node without a group of its own
belongs to the group of its closest ancestor. Groups change nothing else.

::

    from shoal.deploy.groups import production

    class Root(Node):
        @production
        class Live(Node):
            ...

This module imports nothing from shoal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

__all__ = [
    # the base
    "Group",
    "set_group",
    # built-in groups
    "Beta",
    "Local",
    "Other",
    "Production",
    "Staging",
    "Utility",
    # their decorators
    "beta",
    "local",
    "other",
    "production",
    "staging",
    "utility",
]

N = TypeVar("N", bound=type)


class _GroupBase(type):
    """Gives every group class a ``name``: its own class name."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> _GroupBase:
        namespace["name"] = name
        return super().__new__(mcs, name, bases, namespace)


class Group(metaclass=_GroupBase):
    """A category of nodes. ``name`` is the class name; ``color`` a terminal colour name.

    Colours are termcolor's names: grey, red, green, yellow, blue, magenta, cyan, white;
    None shows the default colour.

    >>> class Lab(Group):
    ...     color = "blue"
    >>> Lab.name, Lab.color
    ('Lab', 'blue')
    """

    name: ClassVar[str]
    color: ClassVar[str | None] = None


def set_group(group: type[Group]) -> Callable[[N], N]:
    """A class decorator that puts a node (and, by default, its children) in ``group``.

    It returns a subclass of the node with ``node_group = group``, so the node keeps its
    name, module and documentation.

    >>> from shoal.deploy.node import Node
    >>> @set_group(Staging)
    ... class Acceptance(Node):
    ...     pass
    >>> Acceptance.node_group.name
    'Staging'
    """
    if not (isinstance(group, type) and issubclass(group, Group)):
        raise TypeError(f"set_group() takes a Group subclass, not {group!r}")

    def group_setter(node: N) -> N:
        namespace = {"node_group": group, "__module__": node.__module__,
                     "__qualname__": node.__qualname__, "__doc__": node.__doc__}
        made: N = type(node)(node.__name__, (node,), namespace)
        return made

    return group_setter


class Production(Group):
    """Live systems."""

    color = "red"


class Staging(Group):
    """Systems that mirror production for a last check."""

    color = "yellow"


class Beta(Group):
    """Systems open to early users."""

    color = "green"


class Local(Group):
    """This machine, or a development set-up."""

    color = "green"


class Other(Group):
    """Anything else."""

    color = "white"


class Utility(Group):
    """Tools and helpers rather than systems."""

    color = "magenta"


production = set_group(Production)
staging = set_group(Staging)
beta = set_group(Beta)
local = set_group(Local)
other = set_group(Other)
utility = set_group(Utility)
