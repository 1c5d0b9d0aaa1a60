"""Nodes, their Env, role mappings and the action decorators (python-deployer's
``deployer.node``)."""

from __future__ import annotations

from shoal.deploy.node.base import (
    Action,
    IsolationIdentifierType,
    Node,
    NodeBase,
    ParallelNode,
    ParallelNodeBase,
    SimpleNode,
    SimpleNodeBase,
    get_node_path,
    iter_isolations,
    required_property,
)
from shoal.deploy.node.decorators import (
    alias,
    dont_isolate_yet,
    isolate_one_only,
    suppress_action_result,
)
from shoal.deploy.node.env import (
    FAILURE_POLICIES,
    Env,
    EnvAction,
    ParallelActionResult,
    SkippedTaskResult,
)
from shoal.deploy.node.role_mapping import ALL_HOSTS, DefaultRoleMapping, RoleMapping, map_roles

__all__ = [
    # nodes
    "Node",
    "NodeBase",
    "ParallelNode",
    "ParallelNodeBase",
    "SimpleNode",
    "SimpleNodeBase",
    "required_property",
    # running them
    "Action",
    "Env",
    "EnvAction",
    "FAILURE_POLICIES",
    "ParallelActionResult",
    "SkippedTaskResult",
    # isolations
    "IsolationIdentifierType",
    "get_node_path",
    "iter_isolations",
    # role mappings
    "ALL_HOSTS",
    "DefaultRoleMapping",
    "RoleMapping",
    "map_roles",
    # decorators
    "alias",
    "dont_isolate_yet",
    "isolate_one_only",
    "suppress_action_result",
]
