"""shoal: run commands, copies and deployments on many machines at once over SSH.

The package exports its entry points only; each layer lives in its own subpackage
(``shoal.nodeset``, ``shoal.testbed``, ``shoal.cli``) with its own public face.
Names are imported on first use, so ``import shoal`` stays cheap for the CLI.

>>> from shoal import NodeSet
>>> str(NodeSet("node[1-3],node5"))
'node[1-3,5]'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from shoal.errors import (
        ConfigError,
        GroupSourceError,
        NodeSetParseError,
        ShoalError,
        UsageError,
    )
    from shoal.nodeset import NodeSet, RangeSet

__all__ = [
    # errors
    "ConfigError",
    "GroupSourceError",
    "NodeSetParseError",
    "ShoalError",
    "UsageError",
    # node sets
    "NodeSet",
    "RangeSet",
    # version
    "__version__",
]

_LAZY = {
    "ConfigError": "shoal.errors",
    "GroupSourceError": "shoal.errors",
    "NodeSetParseError": "shoal.errors",
    "ShoalError": "shoal.errors",
    "UsageError": "shoal.errors",
    "NodeSet": "shoal.nodeset",
    "RangeSet": "shoal.nodeset",
}


def __getattr__(name: str) -> Any:
    """Import an exported name from its layer on first use (PEP 562)."""
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'shoal' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
