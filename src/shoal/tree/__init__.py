"""Tree mode: commands relayed through gateways over an XML message channel.

Layer 4: imports :mod:`shoal.nodeset`, :mod:`shoal.hosts` and :mod:`shoal.engine`. The
protocol (docs/tree-protocol.md) is three modules that also run on the gateways,
standard library only: :mod:`~shoal.tree.messages` (one class per message type),
:mod:`~shoal.tree.codec` (the XML stream, sans-I/O) and :mod:`~shoal.tree.channel`
(:class:`Channel`, the asyncio base of both ends). :mod:`~shoal.tree.bundle` packs the
gateway's code for a zero-install start. :mod:`~shoal.tree.routing` (also on gateways)
decides which gateway carries which targets; :mod:`~shoal.tree.topology` reads the files.
The root's side, :class:`~shoal.tree.task.TreeTask` (and its blocking face ``Task``) over
:mod:`~shoal.tree.driver`'s channels, loads on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from shoal.errors import MessageProcessingError
from shoal.tree.bundle import Bundle, build_bundle, loader_command
from shoal.tree.channel import Channel
from shoal.tree.codec import Decoder, Encoder
from shoal.tree.messages import (
    ACK,
    CFG,
    CTL,
    END,
    ERR,
    HBT,
    MESSAGE_TYPES,
    OUT,
    PROTOCOL_VERSION,
    RET,
    SER,
    STA,
    TIM,
    Message,
)
from shoal.tree.routing import Group, Hop, Plan, Reroute, Route, Router, Topology, split_fanout

__all__ = [
    # messages
    "ACK",
    "CFG",
    "CTL",
    "END",
    "ERR",
    "HBT",
    "MESSAGE_TYPES",
    "Message",
    "OUT",
    "PROTOCOL_VERSION",
    "RET",
    "SER",
    "STA",
    "TIM",
    # the stream
    "Channel",
    "Decoder",
    "Encoder",
    "MessageProcessingError",
    # zero-install gateways
    "Bundle",
    "build_bundle",
    "loader_command",
    # routing
    "Group",
    "Hop",
    "Plan",
    "Reroute",
    "Route",
    "Router",
    "Topology",
    "split_fanout",
    # the root's side: tasks through the tree, their channels (loaded on first use)
    "GatewayDown",
    "GatewayLauncher",
    "GatewayPool",
    "LocalGatewayLauncher",
    "RootChannel",
    "SSHGatewayLauncher",
    "Task",
    "TreeSettings",
    "TreeTask",
]

#: the root's names, by module: imported on first use, so that a gateway (and anything
#: that only speaks the protocol) never loads the engine
_ROOT = {
    "GatewayDown": "shoal.tree.driver",
    "GatewayLauncher": "shoal.tree.driver",
    "GatewayPool": "shoal.tree.driver",
    "LocalGatewayLauncher": "shoal.tree.driver",
    "RootChannel": "shoal.tree.driver",
    "SSHGatewayLauncher": "shoal.tree.driver",
    "Task": "shoal.tree.task",
    "TreeSettings": "shoal.tree.driver",
    "TreeTask": "shoal.tree.task",
}


def __getattr__(name: str) -> Any:
    """Import a name of the root's side from its module on first use (PEP 562)."""
    module = _ROOT.get(name)
    if module is None:
        raise AttributeError(f"module 'shoal.tree' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
