"""Node sets and range sets, compatible with ClusterShell.

Pure layer: parses, folds and combines text; its only I/O is reading group
files and running group-source upcalls (in :mod:`shoal.nodeset.groups`, which is
imported on first use so that plain node sets never pay for it). Node names that
could pass for options or paths are refused (:mod:`shoal.nodeset.names`).
It imports nothing from the other shoal layers but :mod:`shoal.errors`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shoal.nodeset.names import check_node_name
from shoal.nodeset.nodeset import NO_GROUPS, NodeSet, NodeSetBase, expand, fold, grouplist
from shoal.nodeset.rangeset import AUTOSTEP_DISABLED, RangeSet, RangeSetND

if TYPE_CHECKING:
    from shoal.nodeset.groups import GroupResolver, GroupSource, std_group_resolver

__all__ = [
    # groups
    "GroupResolver",
    "GroupSource",
    "grouplist",
    "std_group_resolver",
    # node names
    "check_node_name",
    # node sets
    "NO_GROUPS",
    "NodeSet",
    "NodeSetBase",
    "expand",
    "fold",
    # range sets
    "AUTOSTEP_DISABLED",
    "RangeSet",
    "RangeSetND",
]

_LAZY = {"GroupResolver", "GroupSource", "std_group_resolver"}


def __getattr__(name: str) -> Any:
    """Load the group machinery (config files, YAML) only when it is asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module 'shoal.nodeset' has no attribute {name!r}")
    value = getattr(importlib.import_module("shoal.nodeset.groups"), name)
    globals()[name] = value
    return value
