"""``shoal topology``: the propagation tree, drawn (``show``) and explained (``explain``).

Both read the tree as ``shoal run`` does: ``--topology FILE``, ``--gateways NODES`` or
shoal.conf's ``topology``, seen from ``--root-name`` or this host, and route with the same
code (:mod:`shoal.tree.routing`), so what they print is what a run does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from shoal.cli.config import COLORS, load_config
from shoal.cli.run_args import set_groups
from shoal.errors import UsageError
from shoal.nodeset import NodeSet
from shoal.tree.routing import Group, Route, Router, Topology
from shoal.tree.topology import resolve_topology

__all__ = ["explain", "show", "topology"]

_CONTEXT = {"help_option_names": ["-h", "--help"]}

_TREE_OPTIONS = [
    click.option("--topology", "file", type=click.Path(dir_okay=False), metavar="FILE",
                 help="The topology file (ClusterShell's topology.conf, or .yaml)."),
    click.option("--gateways", metavar="NODES", help="A one-level tree of these gateways."),
    click.option("--root-name", metavar="NAME",
                 help="This host's name in the topology (default: its host name)."),
    click.option("--conf", type=click.Path(dir_okay=False), metavar="FILE",
                 help="Read settings from FILE instead of shoal.conf."),
    click.option("--groupsconf", type=click.Path(dir_okay=False), metavar="FILE",
                 help="Read groups from FILE."),
    click.option("-s", "--groupsource", metavar="SOURCE", help="Group source to use."),
    click.option("--color", type=click.Choice(COLORS), help="Colour node sets."),
]


def _tree_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_TREE_OPTIONS):
        func = option(func)
    return func


class _Out:
    """Lines to standard output, node sets in bold when colour is on."""

    def __init__(self, color: str | None) -> None:
        self.color = color == "always" or (color in (None, "auto") and sys.stdout.isatty()
                                           and "NO_COLOR" not in os.environ)

    def nodes(self, text: object) -> str:
        return click.style(str(text), bold=True) if self.color else str(text)

    def line(self, text: str) -> None:
        click.echo(text, color=self.color)


def _load(file: str | None, gateways: str | None, root_name: str | None, conf: str | None,
          groupsconf: str | None, groupsource: str | None) -> Topology:
    """The tree asked for, as ``shoal run`` finds it."""
    config = load_config(conf)
    set_groups(groupsconf or config.node_groups, groupsource)
    found = resolve_topology(file or (None if gateways else config.topology), gateways,
                             root_name)
    if found is None:
        raise UsageError("no topology: give --topology FILE or --gateways NODES, or set "
                         "topology in shoal.conf")
    return found


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def _where(topology: Topology, group: Group) -> str:
    """Where a group was written: ``topology.conf line 3``."""
    source = topology.source or "the topology"
    return source if group.line is None else f"{source} line {group.line}"


def _root_line(topology: Topology, out: _Out) -> str:
    if len(topology.peers) == 1:
        return f"{out.nodes(topology.root)} (this host)"
    return f"{out.nodes(topology.peers)} (this host: {topology.root})"


def _draw(groups: tuple[Group, ...], label: Callable[[Group], str | None], out: _Out,
          prefix: str = "") -> None:
    """One line per group with a label (None: left out), drawn as ClusterShell draws trees."""
    shown = [(group, text) for group in groups if (text := label(group)) is not None]
    for index, (group, text) in enumerate(shown):
        last = index == len(shown) - 1
        out.line(f"{prefix}{'`- ' if last else '|- '}{out.nodes(group.nodes)}: {text}")
        _draw(group.children, label, out, prefix + ("   " if last else "|  "))


def _whole(group: Group) -> str:
    if group.rest:
        return f"{_count(len(group.nodes), 'gateway')}, for every other node"
    if group.children:
        return f"{_count(len(group.nodes), 'gateway')}, {_count(len(group.below), 'node')} below"
    return _count(len(group.nodes), "node")


def _by_count(carried: dict[str, NodeSet], group: Group) -> str:
    """``7 on gw1, 6 on gw[2-3]``: the gateways of ``group``, folded by how much they carry."""
    counts: dict[int, list[str]] = {}
    for gateway in group.nodes:
        if gateway in carried:
            counts.setdefault(len(carried[gateway]), []).append(gateway)
    return ", ".join(f"{count} on {NodeSet.fromlist(names)}"
                     for count, names in sorted(counts.items(), reverse=True))


def _show_targets(topology: Topology, targets: NodeSet, fanout: int | None, out: _Out) -> None:
    router = Router(topology)
    plan = router.plan(targets)
    carried = router.distribute(targets)

    def label(group: Group) -> str | None:
        itself = targets & group.nodes
        if not group.has_gateways:
            return _count(len(itself), "target") if itself else None
        parts = [_by_count(carried, group)] if any(gw in carried for gw in group.nodes) else []
        if itself:
            parts.append(f"{itself} {'itself' if len(itself) == 1 else 'themselves'} a target")
        return "; ".join(parts) or None

    direct = f", {len(plan.direct)} direct: {plan.direct}" if plan.direct else ""
    out.line(f"{_root_line(topology, out)}: {_count(len(targets), 'target')}{direct}")
    _draw(topology.groups, label, out)
    if fanout is not None:
        shares = plan.fanout(fanout)
        listed = ", ".join(f"{share} {'direct' if key == topology.root else f'on {key}'}"
                           for key, share in shares.items())
        out.line(f"fan-out {fanout}: {listed}")


@click.group(context_settings=_CONTEXT)
def topology() -> None:
    """Show the propagation tree and how each node is reached through it.

    \b
    The tree comes from --topology FILE (ClusterShell's topology.conf, or YAML), from
    --gateways NODES (one level), or from shoal.conf's topology key.
    """


@topology.command(context_settings=_CONTEXT, short_help="Draw the tree, with node counts.")
@_tree_options
@click.option("-w", "nodes", multiple=True, metavar="NODES",
              help="Show how these nodes would be reached (repeatable).")
@click.option("-x", "exclude", multiple=True, metavar="NODES", help="Leave these nodes out.")
@click.option("-f", "--fanout", type=click.IntRange(min=1), metavar="N",
              help="With -w: how a fan-out of N is shared.")
def show(file: str | None, gateways: str | None, root_name: str | None, conf: str | None,
         groupsconf: str | None, groupsource: str | None, color: str | None,
         nodes: tuple[str, ...], exclude: tuple[str, ...], fanout: int | None) -> None:
    """Draw the tree with its node counts; with -w, how much each gateway would carry.

    \b
    Examples:
      shoal topology show --topology /etc/clustershell/topology.conf
      shoal topology show --gateways 'gw[1-4]' -w 'node[1-1000]' -f 64
    """
    tree = _load(file, gateways, root_name, conf, groupsconf, groupsource)
    out = _Out(color)
    if nodes:
        targets = NodeSet.fromlist(nodes) - NodeSet.fromlist(exclude)
        _show_targets(tree, targets, fanout, out)
        return
    if fanout is not None or exclude:
        raise UsageError("-f and -x go with -w NODES")
    gateway_count = len(tree.gateways())
    out.line(f"{_root_line(tree, out)}: {_count(gateway_count, 'gateway')}, "
             f"{_count(len(tree.nodes()) - len(tree.peers), 'node')} in the tree")
    _draw(tree.groups, _whole, out)
    rest = tree.rest()
    others = f"through {rest.nodes}" if rest is not None else "directly"
    out.line(f"nodes not in the tree are reached {others}")


def _explain(tree: Topology, route: Route, out: _Out) -> None:
    node = route.node
    path = " -> ".join([tree.root, *(hop.gateway for hop in route.hops), node])
    if node == tree.root:
        out.line(f"{out.nodes(node)}: this host")
        return
    if route.direct:
        if node in tree.peers:
            why = f"in this host's own group, {tree.peers}"
        elif route.group is None:
            why = "not in the topology"
        else:
            kind = "a gateway, " if route.group.has_gateways else ""
            why = f"{kind}{_where(tree, route.group)}"
        out.line(f"{out.nodes(node)}: {path}, directly ({why})")
        return
    out.line(f"{out.nodes(node)}: {path}")
    for hop in route.hops:
        other = f"if it fails: {hop.alternatives}" if hop.alternatives else \
            "no other gateway if it fails"
        among = f" in {hop.group.nodes}" if len(hop.group.nodes) > 1 else ""
        out.line(f"  {out.nodes(hop.gateway)}: gateway{among} ({_where(tree, hop.group)}); "
                 f"{other}")
    if route.group is not None:
        out.line(f"  {out.nodes(node)}: listed at {_where(tree, route.group)}")
    else:
        out.line(f"  {out.nodes(node)}: not in the topology: {route.hops[0].gateway}'s group "
                 "takes every other node")


@topology.command(context_settings=_CONTEXT,
                  short_help="Print the route to nodes, and the alternatives.")
@_tree_options
@click.option("-w", "nodes", multiple=True, metavar="NODES",
              help="The run's nodes: route NODE as shoal run -w NODES would (repeatable).")
@click.argument("node", nargs=-1, required=True, metavar="NODE...")
def explain(file: str | None, gateways: str | None, root_name: str | None, conf: str | None,
            groupsconf: str | None, groupsource: str | None, color: str | None,
            nodes: tuple[str, ...], node: tuple[str, ...]) -> None:
    """Print the route to each NODE: the gateway chosen at each level, and the others.

    \b
    Examples:
      shoal topology explain --topology topology.conf 'node42'
      shoal topology explain --gateways 'gw[1-4]' -w 'node[1-100]' node42
    """
    tree = _load(file, gateways, root_name, conf, groupsconf, groupsource)
    out = _Out(color)
    explained = NodeSet.fromlist(node)
    targets = NodeSet.fromlist(nodes) | explained
    for index, route in enumerate(Router(tree).explain_all(explained, targets)):
        if index:
            out.line("")
        _explain(tree, route, out)
