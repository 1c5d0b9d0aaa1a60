"""Deployments as Python classes: python-deployer's model on shoal's engine.

A python-deployer script ports by renaming its imports from ``deployer.`` to
``shoal.deploy.``: the submodules keep python-deployer's paths (``shoal.deploy.node``,
``.host``, ``.query``, ``.groups``, ``.client``, ``.utils``, ``.exceptions``,
``.console``, ``.inspection``, ``.loggers``, ``.pseudo_terminal``), and the names most
scripts use are here too::

    from shoal.deploy import Node, ParallelNode, SSHHost, Q, map_roles, start

Layer 5: imports the layers below (``shoal.hosts``, ``shoal.nodeset``, ``shoal.errors``)
and never ``shoal.shell`` or ``shoal.cli``. docs/deploy.md is the guide,
docs/porting-from-python-deployer.md lists every difference.
"""

from __future__ import annotations

from shoal.deploy.client import start
from shoal.deploy.console import Console, NoInput
from shoal.deploy.exceptions import (
    ActionException,
    ConnectionFailedException,
    DeployerException,
    ExecCommandFailed,
    ParallelActionException,
    QueryException,
)
from shoal.deploy.groups import (
    Beta,
    Group,
    Local,
    Other,
    Production,
    Staging,
    Utility,
    beta,
    local,
    other,
    production,
    set_group,
    staging,
    utility,
)
from shoal.deploy.host import Host, HostContext, LocalHost, SSHHost
from shoal.deploy.host_classes import host_classes
from shoal.deploy.host_container import HostContainer, HostsContainer, HostsResult
from shoal.deploy.inspection import Inspector
from shoal.deploy.node import (
    ALL_HOSTS,
    Env,
    IsolationIdentifierType,
    Node,
    ParallelActionResult,
    ParallelNode,
    SimpleNode,
    SkippedTaskResult,
    alias,
    dont_isolate_yet,
    isolate_one_only,
    map_roles,
    required_property,
    suppress_action_result,
)
from shoal.deploy.query import Q
from shoal.deploy.utils import esc1, esc2, indent

__all__ = [
    # nodes
    "ALL_HOSTS",
    "Node",
    "ParallelNode",
    "SimpleNode",
    "map_roles",
    "required_property",
    # decorators
    "alias",
    "dont_isolate_yet",
    "isolate_one_only",
    "suppress_action_result",
    # running
    "Env",
    "IsolationIdentifierType",
    "ParallelActionResult",
    "SkippedTaskResult",
    "start",
    # hosts
    "Host",
    "HostContainer",
    "HostContext",
    "HostsContainer",
    "HostsResult",
    "LocalHost",
    "SSHHost",
    "host_classes",
    # queries, console, inspection
    "Console",
    "Inspector",
    "NoInput",
    "Q",
    # groups
    "Beta",
    "Group",
    "Local",
    "Other",
    "Production",
    "Staging",
    "Utility",
    "beta",
    "local",
    "other",
    "production",
    "set_group",
    "staging",
    "utility",
    # errors
    "ActionException",
    "ConnectionFailedException",
    "DeployerException",
    "ExecCommandFailed",
    "ParallelActionException",
    "QueryException",
    # shell helpers
    "esc1",
    "esc2",
    "indent",
]
