"""``shoal run`` through a propagation tree: the :class:`~shoal.tree.TreeTask` of a run.

When the run has a topology (``--topology``, ``--gateways``, ``topology`` in shoal.conf),
:func:`tree_task` builds the task that reaches the nodes through it. The gateways reach
their own targets as the root does: the same ssh settings (``-o``, ``-F``, ``-l``,
``-t``…) travel to them in ``CFG``, and ``--transport local`` runs gateways and
targets on this machine. shoal.conf's ``heartbeat``, ``stall`` and ``gather_delay``
tune the links. Everything else (output, exit status, the interactive loop)
is the same as for a flat run: the task is an :class:`~shoal.engine.AsyncTask`.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from shoal.cli.config import RunConfig
from shoal.cli.display import VERB_VERB, Display
from shoal.cli.render import Layout
from shoal.errors import UsageError
from shoal.hosts import UNSET, ConnectOptions, Transport
from shoal.nodeset import NodeSet
from shoal.tree.driver import LocalGatewayLauncher, SSHGatewayLauncher, TreeSettings
from shoal.tree.routing import Topology
from shoal.tree.task import TreeTask

__all__ = ["gateway_settings", "tree_task"]


def gateway_settings(options: ConnectOptions, transport: str,
                     max_output: int | None) -> tuple[tuple[str, Any], ...]:
    """The settings a gateway gets in ``CFG`` to reach its targets as the root does.

    A gateway runs ``ssh -F FILE``: one ssh config file, which ``ssh`` cannot include
    more of from its command line, so several ``-F`` are refused here (a wrapper file
    that includes them would be written on every gateway's disk).

    >>> gateway_settings(ConnectOptions(ssh_config=["/a.conf", "/b.conf"]), "ssh", None)
    Traceback (most recent call last):
    ...
    shoal.errors.UsageError: -F: a run through gateways takes one ssh config file, not 2 \
(/a.conf, /b.conf): gateways run ssh -F FILE

    >>> dict(gateway_settings(ConnectOptions(user="ops", port=2222,
    ...                                      options=[("Compression", "yes")]), "ssh", None))
    {'transport': 'ssh', 'max_output': None, 'ssh_options': [['Compression', 'yes']], \
'identities': [], 'accept_new_host_keys': False, 'user': 'ops', 'port': 2222}
    """
    settings: dict[str, Any] = {"transport": "local" if transport == "local" else "ssh",
                                "max_output": max_output}
    settings["ssh_options"] = [[key, value] for key, value in options.options]
    if len(options.ssh_config) > 1:
        raise UsageError(f"-F: a run through gateways takes one ssh config file, not "
                         f"{len(options.ssh_config)} "
                         f"({', '.join(str(p) for p in options.ssh_config)}): "
                         f"gateways run ssh -F FILE")
    if options.ssh_config:
        settings["ssh_config"] = str(options.ssh_config[0])
    settings["identities"] = [str(path) for path in options.identities]
    if options.known_hosts is not None:
        settings["known_hosts"] = str(options.known_hosts)
    settings["accept_new_host_keys"] = options.accept_new_host_keys
    if options.connect_timeout is not UNSET:
        settings["connect_timeout"] = options.connect_timeout
    if options.user is not None:
        settings["user"] = options.user
    if options.port is not None:
        settings["port"] = options.port
    return tuple(settings.items())


def _diagnostics(stream: BinaryIO) -> Any:
    def write(line: str) -> None:
        stream.write(line.encode("utf-8", "replace") + b"\n")
        stream.flush()
    return write


def tree_task(topology: Topology, nodes: NodeSet, transport: Transport, *,
              config: RunConfig, options: ConnectOptions, keep_connections: bool,
              keep_output: bool | str, layout: Layout, display: Display) -> TreeTask:
    """The task of a run through ``topology``, with ``config``'s settings.

    Gateways send each node's whole output once it ended unless lines must show as they
    come (line mode, or ``-v`` with ``-b``), which spares the links and the root; with
    ``-B`` they keep each node's stdout and stderr in the order it printed them.
    """
    launcher = LocalGatewayLauncher() if config.transport == "local" else \
        SSHGatewayLauncher(options)
    settings = TreeSettings(heartbeat=config.heartbeat, stall=config.stall,
                            gather_delay=config.gather_delay,
                            gateway_settings=gateway_settings(options, config.transport,
                                                              config.max_output))
    live = layout.live or (display.verbosity >= VERB_VERB and not layout.json)
    return TreeTask(nodes, transport, topology=topology, fanout=config.fanout,
                    command_timeout=config.command_timeout or None,
                    keep_connections=keep_connections,
                    keep_output="until_end" if keep_output == "until_end" else bool(keep_output),
                    max_output=config.max_output, live=live, merge=layout.merge,
                    settings=settings,
                    launcher=launcher, diagnostics=_diagnostics(display.err))
