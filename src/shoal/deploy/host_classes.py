"""Host classes from a node-set expression, for ``class Hosts: web = "web[01-40]"``.

Each name of the expanded node set (groups resolved through shoal's group sources)
becomes a subclass of a base host class (:class:`~shoal.deploy.host.SSHHost` unless told
otherwise) whose ``slug`` and ``address`` are the name, so an alias of the ssh config
works as it does for ``shoal run``. The same name on the same base gives the same class
every time, so a host named in two roles or two nodes is one host.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from shoal.nodeset import NodeSet

if TYPE_CHECKING:
    from shoal.deploy.host import Host

__all__ = ["host_classes"]

_lock = threading.Lock()
_made: dict[tuple[type[Host], str], type[Host]] = {}


def host_classes(expression: str, base: type[Host] | None = None) -> tuple[type[Host], ...]:
    """One host class per name of the node set ``expression``, in node-set order.

    :param base: the class each host class derives from (its user, ssh config, sudo
        password…); :class:`~shoal.deploy.host.SSHHost` when None.
    :raises NodeSetParseError: the expression is malformed, names an unknown group or a
        name that could pass for an option.
    :raises GroupSourceError: a group source failed to answer.
    """
    if base is None:
        from shoal.deploy.host import SSHHost

        base = SSHHost
    names = list(NodeSet(expression))
    with _lock:
        return tuple(_class_for(base, name) for name in names)


def _class_for(base: type[Host], name: str) -> type[Host]:
    """The host class for ``name`` on ``base``, made on first use (the caller holds the lock)."""
    made = _made.get((base, name))
    if made is None:
        namespace = {"slug": name, "address": name, "__module__": base.__module__,
                     "__qualname__": name, "__doc__": f"The host {name} (from a node set)."}
        made = _made[(base, name)] = type(name, (base,), namespace)
    return made
