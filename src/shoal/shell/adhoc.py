"""Nodes the shell makes on the fly, on the hosts of the current node: ``--run`` runs a
command on all of them, ``--connect`` logs in to one (chosen when there are several).

They are ordinary nodes, run as any action is: the same terminal, logger, failure
policy and Ctrl-C.
"""

from __future__ import annotations

from typing import Any

from shoal.deploy.host import Host
from shoal.deploy.node import Node, ParallelNode, isolate_one_only, suppress_action_result

__all__ = ["hosts_of", "login_node", "run_node"]


def hosts_of(node: Node) -> list[type[Host]]:
    """The host classes of ``node``, every role together, in slug order."""
    return sorted(node.hosts.get_hosts(), key=lambda host: host.slug)


def run_node(hosts: list[type[Host]], command: str, use_sudo: bool) -> Node:
    """A node whose default action runs ``command`` on every host of ``hosts`` at once."""

    class Run(Node):
        class Hosts:
            host = tuple(hosts)

        @suppress_action_result
        def __call__(self) -> Any:
            return self.hosts.sudo(command) if use_sudo else self.hosts.run(command)

    return Run()


def login_node(hosts: list[type[Host]]) -> Node:
    """A node whose default action opens a login shell on one of ``hosts``."""

    class Connect(ParallelNode):
        class Hosts:
            host = tuple(hosts)

        @suppress_action_result
        @isolate_one_only
        def __call__(self) -> Any:
            return self.host.start_interactive_shell()

    return Connect()
