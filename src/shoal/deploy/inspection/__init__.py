"""Introspection of a node tree: its children, actions, queries, isolations and groups.

For the shell (``ls``, completion, ``--inspect``) and for actions that look around the
tree (every Git checkout of every project, say)::

    from shoal.deploy.inspection import Inspector
    from shoal.deploy.inspection.filters import HasAction, PublicOnly

    for node in Inspector(root).walk(HasAction("status") & PublicOnly):
        ...
"""

from __future__ import annotations

from shoal.deploy.inspection.inspector import Inspector, NodeIterator, PathType

__all__ = ["Inspector", "NodeIterator", "PathType"]
