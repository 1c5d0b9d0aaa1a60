"""``shoal run`` and ``shoal copy``: clush's command line on shoal's engine.

The options are clush's (see ``shoal run --help``); ``shoal.conf`` gives the defaults
and the command line wins over it. :func:`execute` turns the options into settings
(:mod:`shoal.cli.run_args`), a job (:mod:`shoal.cli.jobs`) and a task, and runs it
(:mod:`shoal.cli.perform`), or enters the interactive mode (:mod:`shoal.cli.interactive`).

asyncssh is imported only when an SSH transport is built, prompt_toolkit only by the
interactive mode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import click

from shoal.cli.config import COLORS
from shoal.cli.display import VERB_VERB, Display
from shoal.cli.jobs import Job, make_job
from shoal.cli.perform import exit_status, perform
from shoal.cli.render import Layout
from shoal.cli.run_args import (
    RunArgs,
    connect_options,
    make_display,
    select_nodes,
    settings,
    tree_topology,
    use_groups,
)
from shoal.engine import AsyncTask
from shoal.hosts import TRANSPORTS, make_transport, raise_nofile_limit
from shoal.nodeset import NodeSet

__all__ = ["copy", "execute", "run"]


async def _run_job(task: AsyncTask, job: Job, display: Display, layout: Layout,
                   maxrc: bool) -> int:
    async with task:
        result, interrupted = await perform(task, job.start, display, layout, task.nodes)
    done = NodeSet.fromlist([node for node, r in result.items() if r.ok])
    if done:
        for note in job.notes(done):
            display.message(note, VERB_VERB)
        display.flush()
    return exit_status(result, maxrc, interrupted)


def execute(args: RunArgs) -> int:
    """Do what ``args`` asks and return the exit status."""
    config = settings(args)
    use_groups(args, config)
    nodes = select_nodes(args)
    topology = tree_topology(args, config)
    layout = Layout.from_args(args)
    job = make_job(args)
    display = make_display(args, config)
    for warning in config.warnings:
        display.note(f"warning: {warning}")
    raise_nofile_limit(config.fd_max)  # as clush; the engine raises it further if a run needs
    options = connect_options(args, config)
    transport = make_transport(config.transport, options)
    task: AsyncTask
    if topology is not None:
        from shoal.cli.tree_run import tree_task

        task = tree_task(topology, nodes, transport, config=config, options=options,
                         keep_connections=job is None,
                         keep_output="until_end" if layout.json else False,
                         layout=layout, display=display)
    else:
        task = AsyncTask(nodes, transport, fanout=config.fanout,
                         command_timeout=config.command_timeout or None,
                         keep_connections=job is None,
                         keep_output="until_end" if layout.json else False,
                         max_output=config.max_output)
    if job is None:
        from shoal.cli.interactive import interact

        return asyncio.run(interact(task, display, layout, config.maxrc))
    return asyncio.run(_run_job(task, job, display, layout, config.maxrc))


# -- the commands --------------------------------------------------------------------------


_SELECT_AND_SHOW_OPTIONS = [
    click.option("-w", "nodes", multiple=True, metavar="NODES",
                 help="Nodes to run on (repeatable; -w - reads them from stdin)."),
    click.option("--hostfile", "--machinefile", "hostfile", multiple=True, metavar="FILE",
                 help="Nodes to run on, one node set per line (repeatable)."),
    click.option("-x", "exclude", multiple=True, metavar="NODES", help="Leave these nodes out."),
    click.option("-g", "--group", multiple=True, metavar="GROUP",
                 help="Run on the nodes of GROUP."),
    click.option("-X", "exgroup", multiple=True, metavar="GROUP",
                 help="Leave the nodes of GROUP out."),
    click.option("-a", "--all", "all_nodes", is_flag=True,
                 help="Run on all nodes of the group source."),
    click.option("--pick", type=click.IntRange(min=1), metavar="N",
                 help="Run on N nodes picked at random."),
    click.option("-s", "--groupsource", metavar="SOURCE", help="Group source to use."),
    click.option("--groupsconf", metavar="FILE", help="Read groups from FILE."),
    click.option("-b", "--dshbak", "gather", is_flag=True,
                 help="Gather nodes with the same output."),
    click.option("-B", "gatherall", is_flag=True, help="Like -b, standard error included."),
    click.option("-L", "line_mode", is_flag=True,
                 help="Order output by node; with -b, gather line by line."),
    click.option("-N", "no_label", is_flag=True, help="No node names before output."),
    click.option("-r", "--regroup", is_flag=True, help="Fold node sets using groups."),
    click.option("-q", "--quiet", is_flag=True, help="Print essential output only."),
    click.option("-v", "--verbose", is_flag=True, help="Print more (and output live with -b)."),
    click.option("-S", "--maxrc", is_flag=True, help="Exit with the largest return code."),
    click.option("--color", type=click.Choice(COLORS), help="Colour node names."),
    click.option("--diff", is_flag=True, help="Show differences between gathered outputs."),
    click.option("--json", "as_json", is_flag=True, help="One JSON line per node, as it ends."),
]

_COPY_OPTION = click.option("-c", "--copy", is_flag=True,
                            help="Copy the files named to the nodes.")

_COPY_AND_CONNECT_OPTIONS = [
    click.option("--rcopy", is_flag=True, help="Copy the files named from the nodes."),
    click.option("--dest", metavar="DIR", help="Where copies go (needed with --rcopy)."),
    click.option("-p", "preserve", is_flag=True, help="Copies keep times and modes."),
    click.option("-f", "--fanout", type=click.IntRange(min=1), metavar="N",
                 help="Nodes connecting or working at once."),
    click.option("-t", "--connect_timeout", type=click.FloatRange(min=0), metavar="S",
                 help="Seconds to connect (0: no limit; default: the ssh config's "
                      "ConnectTimeout, else 10)."),
    click.option("-u", "--command_timeout", type=click.FloatRange(min=0), metavar="S",
                 help="Seconds a command may run (0: no limit)."),
    click.option("-l", "--user", metavar="USER", help="Log in as USER."),
    click.option("-o", "--options", metavar='"SSH OPTIONS"',
                 help="ssh options: -oKey=Value, -p PORT, -i KEY, -F FILE."),
    click.option("-F", "--sshconfig", type=click.Path(exists=True, dir_okay=False),
                 metavar="FILE", help="ssh config file to read."),
    click.option("--accept-new-host-keys", is_flag=True,
                 help="Trust and record host keys never seen before."),
    click.option("--transport", type=click.Choice(TRANSPORTS),
                 help="How to reach nodes: ssh (asyncssh, the default), openssh (the system "
                      "ssh) or local (this machine)."),
    click.option("--topology", type=click.Path(dir_okay=False), metavar="FILE",
                 help="Reach nodes through the gateways of FILE (ClusterShell's topology.conf, "
                      "or .yaml)."),
    click.option("--gateways", metavar="NODES",
                 help="Reach nodes through these gateways (a one-level tree)."),
    click.option("--root-name", metavar="NAME",
                 help="This host's name in the topology (default: its host name)."),
    click.option("--conf", type=click.Path(dir_okay=False), metavar="FILE",
                 help="Read settings from FILE instead of shoal.conf."),
    click.option("-n", "--nostdin", is_flag=True, help="Do not send stdin to the nodes."),
]


def _options(copy_option: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options of ``run`` (``copy_option``: with -c) and ``copy``, in clush's order."""
    options = [*_SELECT_AND_SHOW_OPTIONS, *([_COPY_OPTION] if copy_option else []),
               *_COPY_AND_CONNECT_OPTIONS]

    def apply(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            func = option(func)
        return func

    return apply


_COPY_FLAGS = frozenset({"-c", "--copy", "--rcopy"})


def _copy_requested(command: click.Command, args: list[str]) -> bool:
    """Whether -c, --copy or --rcopy comes before the first word that is not an option."""
    valued = {name for param in command.params
              if isinstance(param, click.Option) and not param.is_flag for name in param.opts}
    words = iter(args)
    for word in words:
        if word in ("-", "--") or not word.startswith("-"):
            return False
        if word.startswith("--"):
            name = word.split("=", 1)[0]
            if name in _COPY_FLAGS:
                return True
            if name in valued and "=" not in word:
                next(words, None)
            continue
        for position, letter in enumerate(word[1:], 2):
            if f"-{letter}" in _COPY_FLAGS:
                return True
            if f"-{letter}" in valued:
                if position == len(word):
                    next(words, None)
                break
    return False


class _RunCommand(click.Command):
    """Reads options up to the command, as clush does; after -c/--copy/--rcopy, files to
    copy and options may come in any order."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if _copy_requested(self, args):
            ctx.allow_interspersed_args = True
        return super().parse_args(ctx, args)


_CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.command(cls=_RunCommand, context_settings={**_CONTEXT, "allow_interspersed_args": False},
               options_metavar="[OPTIONS]")
@_options(copy_option=True)
@click.argument("args", nargs=-1, metavar="[COMMAND]")
def run(**params: Any) -> None:
    """Run COMMAND on many nodes at once, like clush.

    \b
    Examples:
      shoal run -w 'node[1-50]' uptime            lines as they come: "node7: ..."
      shoal run -w 'node[1-50]' -b uname -r       identical outputs shown once
      shoal run -g web -x web3 -S 'systemctl is-active nginx'
      shoal run -w 'node[1-8]' --json 'df -h /'   one JSON line per node, as it ends
      tar c app | shoal run -w 'node[1-8]' 'tar x -C /srv'   stdin goes to every node
      shoal run -w 'node[1-8]' -c app.conf --dest /etc/app   (also: shoal copy)
      shoal run -w 'node[1-8]'                    interactive: a shoal> prompt

    \b
    Settings come from shoal.conf (~/.config/shoal/shoal.conf, /etc/shoal/shoal.conf);
    options win over it. Exit status: 0; with -S the largest return code (255: a node
    could not be reached or timed out); 2 for bad input; 130 after Ctrl-C.
    """
    click.get_current_context().exit(execute(RunArgs(**params)))


@click.command(context_settings=_CONTEXT, options_metavar="[OPTIONS]")
@_options(copy_option=False)
@click.argument("args", nargs=-1, required=True, metavar="FILE...")
def copy(**params: Any) -> None:
    """Copy files to many nodes at once (--rcopy: from them): shoal run --copy.

    \b
    Examples:
      shoal copy -w 'node[1-8]' app.conf --dest /etc/app
      shoal copy -w 'node[1-8]' --rcopy /var/log/app.log --dest logs/
                                      logs/app.log.node1 … logs/app.log.node8
    """
    click.get_current_context().exit(execute(RunArgs(copy=not params["rcopy"], **params)))
