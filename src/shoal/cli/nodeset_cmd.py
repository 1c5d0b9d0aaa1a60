"""``shoal nodeset``: ClusterShell's ``nodeset``/``cluset`` command, same options, same output.

Options are read up to the first node set; after it, ``-i``/``-x``/``-X`` apply in order to
what came before (``shoal nodeset -f 'n[1-5]' -x n3 n7`` prints ``n[1-2,4-5,7]``), exactly as
ClusterShell's ``nodeset`` does. With no node set at all, node sets are read from stdin.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable, Iterable
from typing import Any

import click

from shoal.errors import UsageError
from shoal.nodeset import NodeSet, RangeSet
from shoal.nodeset.nodeset import NO_GROUPS

#: A NodeSet, or a RangeSet with -R: both follow the same set API, used duck-typed here.
AnySet = Any

#: --autostep values: a node count, a fraction of the set ("50%"), or "auto".
Autostep = int | float | str | None


class AutostepType(click.ParamType):  # type: ignore[type-arg]
    """A node count, a percentage such as ``50%``, or ``auto``."""

    name = "autostep"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value)
        if text == "auto":
            return text
        try:
            if text.endswith("%"):
                return float(text[:-1]) / 100.0
            return int(text)
        except ValueError:
            self.fail(f"{text!r} is not a node count, a percentage or 'auto'", param, ctx)


def _unescape(text: str) -> str:
    """Interpret backslash escapes (``\\n``, ``\\t``…) without evaluating anything."""
    try:
        return text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError as exc:
        raise UsageError(f'separator "{text}": bad escape sequence') from exc


def _read_stdin(cls: type[AnySet], autostep: int | None) -> AnySet:
    """Union of the node sets on stdin: several per line, ``#`` starts a comment."""
    acc = cls(autostep=autostep)
    for line in sys.stdin:
        for word in line.split("#", 1)[0].split():
            acc.update(cls(word, autostep=autostep))
    return acc


def _operand(cls: type[AnySet], value: str, autostep: int | None) -> AnySet:
    """One operand: ``-`` reads stdin, else one node set per line of ``value``."""
    if value == "-":
        return _read_stdin(cls, autostep)
    return cls.fromlist(value.splitlines(), autostep=autostep)


_OPERATIONS = {
    "-i": "intersection_update",
    "--intersection": "intersection_update",
    "-x": "difference_update",
    "--exclude": "difference_update",
    "-X": "symmetric_difference_update",
    "--xor": "symmetric_difference_update",
}


def _compute(xset: AnySet, args: list[str], autostep: int | None) -> None:
    """Add the first node set, then apply the node sets and operations after it, in order.

    The first argument is a node set even if it reads like an operation (after ``--``:
    ``shoal nodeset -f -- -x`` is about a node named ``-x``, which is refused).
    """
    cls = type(xset)
    args = list(args)
    first = True
    while args:
        arg = args.pop(0)
        method = None if first else _OPERATIONS.get(arg)
        first = False
        if method is None:
            xset.update(_operand(cls, arg, autostep))
            continue
        if not args:
            raise UsageError(f"option {arg} needs a node set after it")
        getattr(xset, method)(_operand(cls, args.pop(0), autostep))


def _groupsource_prefix(source: str | None, groupbase: bool) -> str:
    return f"@{source}:" if source and not groupbase else "@"


def _print_groups(source: str | None, level: int, xset: NodeSet | None, groupbase: bool) -> None:
    """Print groups of ``source``; with a node set, only the groups holding its nodes."""
    if xset is not None:
        for group, (gnodes, inodes) in sorted(xset.groups(source, groupbase).items()):
            if level == 1:
                click.echo(group)
            elif level == 2:
                click.echo(f"{group} {inodes}")
            else:
                click.echo(f"{group} {inodes} {len(inodes)}/{len(gnodes)}")
        return
    from shoal.nodeset.groups import std_group_resolver

    resolver = std_group_resolver()
    prefix = _groupsource_prefix(source, groupbase)
    # Group names may hold ranges ("rack[1-3]"): list them in node set order.
    names = NodeSet.fromlist(resolver.grouplist(source), resolver=NO_GROUPS)
    for name in names:
        label = f"{prefix}{name}"
        if level == 1:
            click.echo(label)
            continue
        nodes = NodeSet(label)
        click.echo(f"{label} {nodes}" if level == 2 else f"{label} {nodes} {len(nodes)}")


def _command_list(
    level: int, listall: bool, groupsource: str | None, xset: NodeSet | None, groupbase: bool
) -> None:
    """-l/-ll/-lll and -L/-LL/-LLL."""
    if not listall:
        _print_groups(groupsource, level, xset, groupbase)
        return
    # -L: every source; the default (or -s) source comes first and shows no prefix.
    from shoal.nodeset.groups import std_group_resolver

    for index, source in enumerate(std_group_resolver().sources()):
        _print_groups(None if index == 0 else source, level, xset, groupbase)


def _format(fmt: str, value: object) -> str:
    try:
        return fmt % (value,)
    except (TypeError, ValueError) as exc:
        raise UsageError(f'output format "{fmt}": {exc}') from exc


def _fold_axis(axis: str) -> tuple[int, ...]:
    """Turn a 1-based ``--axis`` range set into 0-based axis indexes (``-1`` = last axis)."""
    if axis.startswith("-"):
        return (int(axis),)
    return tuple(x - 1 for x in RangeSet(axis).intiter() if x > 0)


@click.command(
    context_settings={"allow_interspersed_args": False, "help_option_names": ["-h", "--help"]},
    options_metavar="[COMMAND] [OPTIONS]",
)
@click.option("-c", "--count", is_flag=True, help="Show the number of nodes.")
@click.option("-e", "--expand", is_flag=True, help="Expand to separate nodes.")
@click.option("-f", "--fold", is_flag=True, help="Fold into one node set.")
@click.option("-l", "--list", "list_", count=True, help="List groups (-ll, -lll: more detail).")
@click.option("-L", "--list-all", "listall", count=True, help="List groups of all sources.")
@click.option("-r", "--regroup", is_flag=True, help="Fold using node groups.")
@click.option("--index", "index", metavar="NODE", help="Print the index of NODE in the set.")
@click.option("--groupsources", "--list-sources", "groupsources", is_flag=True,
              help="List the active group sources.")
@click.option("-i", "--intersection", "and_nodes", multiple=True, metavar="NODESET",
              help="Intersect with NODESET.")
@click.option("-x", "--exclude", "sub_nodes", multiple=True, metavar="NODESET",
              help="Exclude NODESET.")
@click.option("-X", "--xor", "xor_nodes", multiple=True, metavar="NODESET",
              help="Symmetric difference with NODESET.")
@click.option("-a", "--all", "all_", is_flag=True, help="Start from all nodes of the group source.")
@click.option("-s", "--groupsource", metavar="SOURCE", help="Group source to use by default.")
@click.option("--groupsconf", metavar="FILE", type=click.Path(dir_okay=False),
              help="Read groups from FILE instead of groups.conf.")
@click.option("-G", "--groupbase", is_flag=True, help='Hide the group source prefix ("@group").')
@click.option("-R", "--rangeset", is_flag=True, help="Work on range sets (1,5,18-31).")
@click.option("--autostep", type=AutostepType(), metavar="N|N%|auto",
              help="Fold as a-b/step when at least N nodes follow the step.")
@click.option("-S", "--separator", default=" ", show_default=False,
              help="Separator between expanded nodes (default: space).")
@click.option("-O", "--output-format", "fmt", default="%s", metavar="FORMAT",
              help="Output format (default: %s).")
@click.option("-I", "--slice", "slice_rangeset", metavar="RANGESET",
              help="Keep only the nodes at these indexes.")
@click.option("--split", "maxsplit", type=int, metavar="N", help="Split into N subsets.")
@click.option("--contiguous", is_flag=True, help="Split into contiguous subsets.")
@click.option("--axis", metavar="RANGESET", help="Fold along these axes only (1..n).")
@click.option("--pick", type=int, metavar="N", help="Pick N nodes at random.")
@click.option("-q", "--quiet", is_flag=True, help="Print essential output only.")
@click.argument("nodesets", nargs=-1)
def nodeset(
    count: bool,
    expand: bool,
    fold: bool,
    list_: int,
    listall: int,
    regroup: bool,
    index: str | None,
    groupsources: bool,
    and_nodes: tuple[str, ...],
    sub_nodes: tuple[str, ...],
    xor_nodes: tuple[str, ...],
    all_: bool,
    groupsource: str | None,
    groupsconf: str | None,
    groupbase: bool,
    rangeset: bool,
    autostep: Autostep,
    separator: str,
    fmt: str,
    slice_rangeset: str | None,
    maxsplit: int | None,
    contiguous: bool,
    axis: str | None,
    pick: int | None,
    quiet: bool,
    nodesets: tuple[str, ...],
) -> None:
    """Fold, expand, count and combine node sets, like ClusterShell's nodeset.

    \b
    Examples:
      shoal nodeset -f node1 node2 node3      node[1-3]
      shoal nodeset -e 'node[1-3]'            node1 node2 node3
      shoal nodeset -c 'node[1-10/2]'         5
      shoal nodeset -f 'n[1-9]' -x 'n[4-5]'   n[1-3,6-9]
    """
    ctx = click.get_current_context()
    commands = [count, expand, fold, bool(list_), bool(listall), regroup, groupsources,
                index is not None]
    if sum(commands) == 0:
        raise click.UsageError("no command given: use one of -c, -e, -f, -l, -L, -r", ctx)
    if sum(commands) > 1:
        raise click.UsageError("only one command at a time", ctx)
    if (all_ or regroup) and rangeset:
        raise click.UsageError("-a/-r work on node sets, not with -R", ctx)
    if maxsplit is not None and contiguous:
        raise click.UsageError("--split and --contiguous do not go together", ctx)
    if axis and (not fold or rangeset):
        raise click.UsageError("--axis works only with -f on node sets", ctx)
    if index is not None and pick:
        raise click.UsageError("--index and --pick do not go together", ctx)

    if groupsource and rangeset and not quiet:
        click.echo(f'WARNING: option group source "{groupsource}" ignored', err=True)
    if groupsconf or groupsource or groupsources:
        # Group machinery (config files, YAML) loads only when groups are asked for.
        from shoal.nodeset import groups

        if groupsconf:
            groups.set_std_group_resolver_config(groupsconf)
        if groupsource:
            groups.std_group_resolver().default_source_name = groupsource
        if groupsources:
            suffix = "" if quiet else " (default)"
            for source in groups.std_group_resolver().sources():
                click.echo(f"{source}{suffix}")
                suffix = ""
            return

    # A fraction or "auto" is computed once the set is known; meanwhile fold plainly.
    step = autostep if isinstance(autostep, int) else None
    cls: type[NodeSet] | type[RangeSet] = RangeSet if rangeset else NodeSet
    xset: AnySet = cls(autostep=step)
    if all_:
        assert isinstance(xset, NodeSet)
        xset.update(NodeSet.fromall())
    if not nodesets and not all_ and not (list_ or listall):
        xset.update(_read_stdin(cls, step))
    if not xset and (and_nodes or sub_nodes or xor_nodes) and not quiet:
        click.echo("WARNING: empty left operand for set operation", err=True)
    for method, operands in (
        ("intersection_update", and_nodes),
        ("difference_update", sub_nodes),
        ("symmetric_difference_update", xor_nodes),
    ):
        for value in operands:
            getattr(xset, method)(
                _read_stdin(cls, step) if value == "-" else cls(value, autostep=step)
            )
    _compute(xset, list(nodesets), step)

    if list_ or listall:
        assert isinstance(xset, NodeSet)
        has_filter = bool(nodesets or all_ or and_nodes or sub_nodes or xor_nodes)
        _command_list(list_ + listall, bool(listall), groupsource,
                      xset if has_filter else None, groupbase)
        return

    sep = _unescape(separator)
    if slice_rangeset:
        sliced = cls()
        for sli in RangeSet(slice_rangeset).slices():
            sliced.update(xset[sli])
        xset = sliced
    if autostep == "auto":
        xset.autostep = max(3, len(xset))
    elif isinstance(autostep, float):
        xset.autostep = math.ceil(len(xset) * autostep)
    if axis:
        assert isinstance(xset, NodeSet)
        xset.fold_axis = _fold_axis(axis)
    if pick and pick < len(xset):
        keep = random.sample(list(xset), pick)
        xset.intersection_update(cls(",".join(str(x) for x in keep)))

    if index is not None:
        try:
            position = xset.index(index)
        except ValueError as exc:
            raise UsageError(f'--index "{index}": not in the node set') from exc
        click.echo(_format(fmt, position))
        return

    show: Callable[[AnySet], str]
    if expand:
        def show(part: AnySet) -> str:
            return sep.join(_format(fmt, name) for name in part.striter())
    elif fold:
        if isinstance(xset, NodeSet) and fmt != "%s":
            # Format each node, then fold the formatted names (ClusterShell #277).
            xset = NodeSet.fromlist((_format(fmt, name) for name in xset),
                                    autostep=xset.autostep)
            show = str
        else:
            def show(part: AnySet) -> str:
                return _format(fmt, part)
    elif regroup:
        def show(part: AnySet) -> str:
            assert isinstance(part, NodeSet)
            return _format(fmt, part.regroup(groupsource, noprefix=groupbase))
    else:
        def show(part: AnySet) -> str:
            return _format(fmt, len(part))

    parts: Iterable[AnySet]
    if not xset or ((maxsplit is None or maxsplit <= 1) and not contiguous):
        parts = [xset]
    elif contiguous:
        parts = xset.contiguous()
    else:
        parts = xset.split(maxsplit or 1)
    out = sys.stdout
    for part in parts:
        out.write(show(part) + "\n")
