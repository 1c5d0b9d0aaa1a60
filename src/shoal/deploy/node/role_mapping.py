"""Role mappings: which of a parent node's hosts a child node gets, under which roles.

::

    @map_roles(host="web")                        # the parent's 'web' hosts as 'host'
    @map_roles("web", "cache")                    # positional: all of them as 'host'
    @map_roles(master="db", everything=ALL_HOSTS)  # keyword: child role = parent role(s)
    @map_roles(ALL_HOSTS)                         # every host of the parent, as 'host'

A child with no mapping and no ``class Hosts:`` of its own takes its parent's roles as
they are. A mapping wins over the child's own ``class Hosts:``. A parent role that does
not exist maps to no host.

Differences from python-deployer: ``map_roles(ALL_HOSTS)`` (positional) works, and a
list of roles is accepted where a tuple was required.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from shoal.deploy.host import Host

__all__ = ["ALL_HOSTS", "DefaultRoleMapping", "RoleMapping", "map_roles"]

N = TypeVar("N", bound=type)
Roles = Mapping[str, tuple["type[Host]", ...]]


class _MappingFilter:
    """A marker in a mapping (:data:`ALL_HOSTS`)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


ALL_HOSTS = _MappingFilter("ALL_HOSTS")
"""Map every host of every role of the parent to this role."""

_Source = tuple[str, ...] | _MappingFilter


def _source(value: object) -> _Source:
    if isinstance(value, _MappingFilter):
        return value
    if isinstance(value, str):
        return (value,)
    if isinstance(value, tuple | list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise TypeError(f"map_roles: {value!r} is not a role name, a tuple of them or ALL_HOSTS")


class RoleMapping:
    """Maps the parent's roles to the child's; used as a decorator through :data:`map_roles`.

    >>> RoleMapping("web", master="db")
    map_roles(host=('web',), master=('db',))
    """

    def __init__(self, *host_mapping: str | _MappingFilter, **mappings: object) -> None:
        resolved: dict[str, _Source] = {}
        if host_mapping:
            if any(isinstance(v, _MappingFilter) for v in host_mapping):
                if len(host_mapping) != 1:
                    raise TypeError("map_roles: ALL_HOSTS cannot be combined with role names")
                resolved["host"] = ALL_HOSTS
            else:
                resolved["host"] = _source(tuple(host_mapping))
        if "host" in mappings and host_mapping:
            raise TypeError("map_roles: role 'host' given both by position and by name")
        resolved.update({role: _source(value) for role, value in mappings.items()})
        self._mappings = resolved

    def __repr__(self) -> str:
        return "map_roles(" + ", ".join(f"{k}={v!r}" for k, v in self._mappings.items()) + ")"

    def __call__(self, node_class: N) -> N:
        # Duck-typed: this module is below the nodes it maps (node.base imports it).
        if not (isinstance(node_class, type) and hasattr(node_class, "_node_type")):
            raise TypeError(f"map_roles applied to {node_class!r}, which is not a Node class")
        namespace: dict[str, Any] = {
            "Hosts": self, "__module__": node_class.__module__,
            "__qualname__": node_class.__qualname__, "__doc__": node_class.__doc__}
        made: N = type(node_class.__name__, (node_class,), namespace)  # type: ignore[assignment]
        return made

    def apply(self, parent_roles: Roles) -> dict[str, tuple[type[Host], ...]]:
        """The child's roles from the parent's ``{role: host classes}``."""
        every = _distinct(h for hosts in parent_roles.values() for h in hosts)
        return {
            role: every if source is ALL_HOSTS else _distinct(
                h for name in source for h in parent_roles.get(name, ()))  # type: ignore[union-attr]
            for role, source in self._mappings.items()
        }


map_roles = RoleMapping


class DefaultRoleMapping(RoleMapping):
    """No mapping: the child has its parent's roles as they are."""

    def apply(self, parent_roles: Roles) -> dict[str, tuple[type[Host], ...]]:
        return dict(parent_roles)


def _distinct(hosts: Any) -> tuple[type[Host], ...]:
    return tuple(dict.fromkeys(hosts))
