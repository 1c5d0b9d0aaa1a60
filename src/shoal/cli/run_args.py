"""What the command line of ``shoal run`` and ``shoal copy`` gave, turned into settings.

:class:`RunArgs` holds the options as click parsed them; the functions here turn them
into the run's settings (``shoal.conf`` under the options), its node set, how to reach
the nodes and the display. Nothing here touches the network.
"""

from __future__ import annotations

import dataclasses
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shoal.cli.config import RunConfig, load_config
from shoal.cli.display import Display
from shoal.errors import ConfigError, NodeSetParseError, UsageError
from shoal.hosts import ConnectOptions
from shoal.nodeset import NodeSet
from shoal.nodeset.nodeset import NO_GROUPS

if TYPE_CHECKING:
    from shoal.tree.routing import Topology

__all__ = ["RunArgs", "connect_options", "make_display", "read_node_file", "select_nodes",
           "set_groups", "settings", "tree_topology", "use_groups"]


@dataclass(frozen=True)
class RunArgs:
    """What the command line gave ``shoal run``; None or False: not given."""

    nodes: tuple[str, ...]
    hostfile: tuple[str, ...]
    exclude: tuple[str, ...]
    group: tuple[str, ...]
    exgroup: tuple[str, ...]
    all_nodes: bool
    pick: int | None
    groupsource: str | None
    groupsconf: str | None
    gather: bool
    gatherall: bool
    line_mode: bool
    no_label: bool
    regroup: bool
    quiet: bool
    verbose: bool
    maxrc: bool
    color: str | None
    diff: bool
    as_json: bool
    copy: bool
    rcopy: bool
    dest: str | None
    preserve: bool
    fanout: int | None
    connect_timeout: float | None
    command_timeout: float | None
    user: str | None
    options: str | None
    sshconfig: str | None
    accept_new_host_keys: bool
    transport: str | None
    topology: str | None
    gateways: str | None
    root_name: str | None
    conf: str | None
    nostdin: bool
    args: tuple[str, ...]


def settings(args: RunArgs) -> RunConfig:
    """``shoal.conf`` (or ``--conf``) with the command line's options over it."""
    verbosity = 2 if args.verbose else 0 if args.quiet else None
    return load_config(args.conf).replace(
        fanout=args.fanout, connect_timeout=args.connect_timeout,
        command_timeout=args.command_timeout, color=args.color, ssh_user=args.user,
        ssh_options=args.options, node_groups=args.groupsconf,
        transport=args.transport, verbosity=verbosity,
        maxrc=args.maxrc or None)


def use_groups(args: RunArgs, config: RunConfig) -> None:
    """Point node groups at ``node_groups``/``--groupsconf`` and ``-s``, when given."""
    set_groups(config.node_groups, args.groupsource)


def set_groups(groupsconf: str | None, groupsource: str | None) -> None:
    """Read node groups from ``groupsconf``, ``groupsource`` the default source, when given."""
    if not (groupsconf or groupsource):
        return
    from shoal.nodeset import groups

    if groupsconf:
        groups.set_std_group_resolver_config(groupsconf)
    if groupsource:
        groups.std_group_resolver().default_source_name = groupsource


def tree_topology(args: RunArgs, config: RunConfig) -> Topology | None:
    """The propagation tree of the run, None for none: ``--topology FILE``, ``--gateways
    NODES`` or shoal.conf's ``topology``, seen from ``--root-name`` or this host.

    Set groups up first (:func:`use_groups`): routes may name groups.

    :raises ConfigError: the topology file is malformed (names the file and the line).
    :raises UsageError: ``--topology`` and ``--gateways`` together, or ``--root-name``
        with neither.
    """
    from shoal.tree.topology import resolve_topology

    file = args.topology or (None if args.gateways else config.topology)
    return resolve_topology(file, args.gateways, args.root_name)


def _groups(names: tuple[str, ...]) -> NodeSet:
    """The nodes of the groups ``names`` (``-g rack[1-2]`` is ``@rack1,@rack2``)."""
    nodes = NodeSet()
    for name in NodeSet.fromlist(names, resolver=NO_GROUPS):
        nodes.update(NodeSet(f"@{name}"))
    return nodes


def select_nodes(args: RunArgs) -> NodeSet:
    """The nodes to run on: ``-w``, ``--hostfile``, ``-g`` and ``-a``, less ``-x`` and ``-X``,
    then ``--pick``. ``-w -`` reads node sets from stdin, as a host file.

    :raises NodeSetParseError: a node set is malformed or names an unknown group.
    :raises ConfigError: a line of a host file is (names the file and the line).
    :raises UsageError: no node is left, or a host file cannot be read.
    """
    nodes = NodeSet.fromlist([n for n in args.nodes if n != "-"])
    if "-" in args.nodes:
        nodes.update(read_node_file(sys.stdin.read(), "stdin"))
    for path in args.hostfile:
        nodes.update(read_node_file(_read_text(path), path))
    nodes.update(_groups(args.group))
    if args.all_nodes:
        nodes.update(NodeSet.fromall())
    nodes.difference_update(NodeSet.fromlist(args.exclude))
    nodes.difference_update(_groups(args.exgroup))
    if not nodes:
        raise UsageError("no node to run on: name some with -w NODES, -g GROUP or -a")
    if args.pick is not None and args.pick < len(nodes):
        nodes = NodeSet.fromlist(random.sample(list(nodes), args.pick))
    return nodes


def read_node_file(text: str, source: str) -> NodeSet:
    """The nodes of a host file: one node set per line, ``#`` to the end of a line a comment.

    >>> str(read_node_file("web[1-3]  # the front\\n\\n# db\\ndb1,db2\\n", "hosts"))
    'db[1-2],web[1-3]'

    :raises ConfigError: a line is not a node set; names ``source`` and the line.
    """
    nodes = NodeSet()
    for number, line in enumerate(text.splitlines(), 1):
        expression = line.split("#", 1)[0].strip()
        if expression:
            try:
                nodes.update(NodeSet(expression))
            except NodeSetParseError as exc:
                raise ConfigError(source, number, str(exc)) from exc
    return nodes


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as file:
            return file.read()
    except OSError as exc:
        raise UsageError(f"host file {path}: cannot read: {exc.strerror}") from exc


def connect_options(args: RunArgs, config: RunConfig) -> ConnectOptions:
    """How to reach nodes: ``-o`` (or ``ssh_options``), ``-F``, ``-l``, ``-t`` and the rest."""
    parsed = ConnectOptions.from_ssh_options(config.ssh_options)
    files = (Path(args.sshconfig),) if args.sshconfig else ()
    return dataclasses.replace(
        parsed, ssh_config=files + parsed.ssh_config, user=config.ssh_user,
        connect_timeout=config.connect_timeout or None,
        accept_new_host_keys=args.accept_new_host_keys)


def make_display(args: RunArgs, config: RunConfig) -> Display:
    """A display on standard output and error, coloured as ``--color`` and clush decide."""
    out = sys.stdout.buffer
    err = sys.stderr.buffer
    color = config.color == "always" or (
        config.color == "auto" and out.isatty() and (args.gatherall or err.isatty())
        and "NO_COLOR" not in os.environ)
    return Display(out, err, label=not args.no_label, color=color,
                   node_count=config.node_count, verbosity=config.verbosity,
                   maxrc=config.maxrc, regroup=args.regroup, groupsource=args.groupsource)

