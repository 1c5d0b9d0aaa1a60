"""``shoal run`` and ``shoal copy``: clush's command line on shoal's engine.

The options are clush's (see ``shoal run --help``); ``shoal.conf`` gives the defaults
and the command line wins over it. This module turns the options into settings, a node
set, a transport and a :class:`~shoal.cli.display.Display`; :class:`Renderer` shows a
task's events and results in clush's formats, and :func:`perform` runs one action with
Ctrl-C wired to :meth:`~shoal.engine.AsyncTask.interrupt`. The interactive mode
(:mod:`shoal.cli.interactive`) reuses both.

asyncssh is imported only when an SSH transport is built, prompt_toolkit only by the
interactive mode.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import re
import shlex
import signal
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from shoal.cli.config import COLORS, RunConfig, load_config
from shoal.cli.display import VERB_QUIET, VERB_VERB, Display
from shoal.cli.progress import Progress
from shoal.engine import (
    AsyncTask,
    Event,
    Exited,
    Failed,
    NodeResult,
    Output,
    TaskResult,
)
from shoal.errors import UsageError
from shoal.hosts import TRANSPORTS, ConnectOptions, make_transport, raise_nofile_limit
from shoal.nodeset import NodeSet
from shoal.nodeset.nodeset import NO_GROUPS

__all__ = ["Layout", "RunArgs", "copy", "execute", "exit_status", "on_sigint", "parse_ssh_options",
           "perform", "run"]

#: Starts one action on a task (``task.run(...)``, ``task.copy(...)``…).
Start = Callable[[AsyncTask], Awaitable[TaskResult]]


@dataclass(frozen=True)
class RunArgs:
    """What the command line gave ``shoal run``; None or False: not given."""

    nodes: tuple[str, ...]
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
    conf: str | None
    nostdin: bool
    args: tuple[str, ...]


# -- settings, nodes, transport -----------------------------------------------------------


def settings(args: RunArgs) -> RunConfig:
    """``shoal.conf`` (or ``--conf``) with the command line's options over it."""
    verbosity = 2 if args.verbose else 0 if args.quiet else None
    return load_config(args.conf).replace(
        fanout=args.fanout, connect_timeout=args.connect_timeout,
        command_timeout=args.command_timeout, color=args.color, ssh_user=args.user,
        ssh_options=args.options, node_groups=args.groupsconf,
        transport=args.transport, verbosity=verbosity,
        maxrc=args.maxrc or None)


def _use_groups(args: RunArgs, config: RunConfig) -> None:
    """Point node groups at ``node_groups``/``--groupsconf`` and ``-s``, when given."""
    if not (config.node_groups or args.groupsource):
        return
    from shoal.nodeset import groups

    if config.node_groups:
        groups.set_std_group_resolver_config(config.node_groups)
    if args.groupsource:
        groups.std_group_resolver().default_source_name = args.groupsource


def _groups(names: tuple[str, ...]) -> NodeSet:
    """The nodes of the groups ``names`` (``-g rack[1-2]`` is ``@rack1,@rack2``)."""
    nodes = NodeSet()
    for name in NodeSet.fromlist(names, resolver=NO_GROUPS):
        nodes.update(NodeSet(f"@{name}"))
    return nodes


def select_nodes(args: RunArgs) -> NodeSet:
    """The nodes to run on: ``-w``, ``-g`` and ``-a``, less ``-x`` and ``-X``, then ``--pick``.

    :raises NodeSetParseError: a node set is malformed or names an unknown group.
    :raises UsageError: no node is left.
    """
    nodes = NodeSet.fromlist(args.nodes)
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


def _key_value(text: str, setting: str) -> tuple[str, str]:
    """``Key=Value`` or ``Key Value`` (an ssh ``-o`` setting) as a pair."""
    parts = re.split(r"\s*=\s*|\s+", setting.strip(), maxsplit=1)
    if len(parts) != 2 or not all(parts):
        raise UsageError(f'ssh options "{text}": "{setting}" is not Key=Value')
    return parts[0], parts[1]


def _port(text: str, value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise UsageError(f'ssh options "{text}": "{value}" is not a port number')
    return int(value)


def parse_ssh_options(text: str) -> ConnectOptions:
    """ssh's options as clush's ``-o`` takes them, turned into connection settings.

    ``-oKey=Value`` (or ``-o "Key Value"``), ``-p PORT``, ``-i KEY`` and ``-F FILE`` are
    understood; anything else is an error, not silently ignored.

    >>> opts = parse_ssh_options("-oPort=2222 -o 'User admin' -p22 -i /k -F /cfg")
    >>> opts.options, opts.port, opts.identities, opts.ssh_config
    ((('Port', '2222'), ('User', 'admin')), 22, (PosixPath('/k'),), (PosixPath('/cfg'),))

    :raises UsageError: an option is unknown, lacks its value or has a bad one.
    """
    try:
        words = iter(shlex.split(text))
    except ValueError as exc:
        raise UsageError(f'ssh options "{text}": {exc}') from exc
    pairs: list[tuple[str, str]] = []
    identities: list[Path] = []
    files: list[Path] = []
    port: int | None = None
    for word in words:
        flag, value = word[:2], word[2:] or next(words, "")
        if flag not in ("-o", "-p", "-i", "-F"):
            raise UsageError(f'ssh options "{text}": "{word}" is not supported '
                             "(use -oKey=Value, -p PORT, -i KEY or -F FILE)")
        if not value:
            raise UsageError(f'ssh options "{text}": {flag} needs a value')
        if flag == "-o":
            pairs.append(_key_value(text, value))
        elif flag == "-p":
            port = _port(text, value)
        else:
            (identities if flag == "-i" else files).append(Path(value).expanduser())
    return ConnectOptions(ssh_config=tuple(files), port=port, identities=tuple(identities),
                          options=tuple(pairs))


def connect_options(args: RunArgs, config: RunConfig) -> ConnectOptions:
    """How to reach nodes: ``-o`` (or ``ssh_options``), ``-F``, ``-l``, ``-t`` and the rest."""
    parsed = parse_ssh_options(config.ssh_options)
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


# -- what to do on the nodes ---------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One action for every node, and what to tell about it at ``-v`` once it is done."""

    start: Start
    notes: Callable[[NodeSet], list[str]] = lambda done: []


def _stdin_data(args: RunArgs) -> bytes | None:
    """All of stdin when it is neither a terminal nor empty (clush forwards it), else None."""
    stream = sys.stdin.buffer
    if args.nostdin or stream.isatty():
        return None
    return stream.read() or None


def _copy_job(args: RunArgs) -> Job:
    sources = list(args.args)
    dest = args.dest

    def notes(done: NodeSet) -> list[str]:
        return [f"`{src}' -> {done}:`{dest or Path(src).resolve().parent}'" for src in sources]

    return Job(lambda task: task.copy(sources, dest, preserve=args.preserve), notes)


def _rcopy_job(args: RunArgs) -> Job:
    sources = list(args.args)
    folders = {str(Path(src).absolute().parent) for src in sources}
    if args.dest is None and len(folders) > 1:
        raise UsageError("--rcopy of files from different folders needs --dest DIR")
    dest = args.dest or folders.pop()

    def notes(done: NodeSet) -> list[str]:
        return [f"{done}:`{src}' -> `{dest}'" for src in sources]

    return Job(lambda task: task.rcopy(sources, dest, preserve=args.preserve), notes)


def make_job(args: RunArgs) -> Job | None:
    """What ``args`` asks every node to do; None for the interactive mode.

    :raises UsageError: a copy names no file, or there is no command and no terminal.
    """
    if (args.copy or args.rcopy) and not args.args:
        raise UsageError("--copy and --rcopy need at least one file to copy")
    if args.copy:
        return _copy_job(args)
    if args.rcopy:
        return _rcopy_job(args)
    if args.args:
        command = " ".join(args.args)
        stdin = _stdin_data(args)
        return Job(lambda task: task.run(command, stdin=stdin))
    if not sys.stdin.buffer.isatty():
        raise UsageError("no command given, and the interactive mode needs a terminal: "
                         "give a COMMAND")
    return None


# -- showing events and results ------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """How output is shown, as clush's options choose it."""

    gather: bool = False  #: -b, -B, --diff: grouped by identical output, at the end
    merge: bool = False  #: -B: standard error gathered with standard output
    by_node: bool = False  #: -L: ordered by node; with gather, line by line (-bL)
    diff: bool = False  #: --diff: differences between the gathered groups
    json: bool = False  #: --json: one JSON object per node, as each node ends

    @classmethod
    def from_args(cls, args: RunArgs) -> Layout:
        """The layout of ``-b``, ``-B``, ``-L``, ``--diff`` and ``--json``."""
        if args.diff and args.line_mode:
            raise UsageError("--diff does not go with -L")
        return cls(gather=args.gather or args.gatherall or args.diff, merge=args.gatherall,
                   by_node=args.line_mode, diff=args.diff, json=args.as_json)

    @property
    def live(self) -> bool:
        """Lines are shown as they arrive (clush's default)."""
        return not (self.gather or self.by_node or self.json)


#: One line number of -bL: each distinct line and the nodes that printed it there.
Row = dict[bytes, list[str]]


class LineRows:
    """``-bL``: the n-th lines of the nodes, grouped by content.

    Row n is ready once every node still running has printed its n-th line; a node that
    ends stops holding rows back.
    """

    def __init__(self, nodes: NodeSet) -> None:
        self._waiting = set(nodes)
        self._count: dict[str, int] = {}
        self._rows: deque[Row] = deque()
        self._shown = 0
        self._behind = len(self._waiting)  # waiting nodes without a line in the next row

    def add(self, node: str, line: bytes) -> None:
        """Record the next line of ``node``."""
        index = self._count.get(node, 0)
        self._count[node] = index + 1
        while len(self._rows) <= index - self._shown:
            self._rows.append({})
        self._rows[index - self._shown].setdefault(line, []).append(node)
        if index == self._shown and node in self._waiting:
            self._behind -= 1

    def finish(self, node: str) -> None:
        """``node`` ended: rows no longer wait for it."""
        if node in self._waiting:
            self._waiting.remove(node)
            if self._count.get(node, 0) <= self._shown:
                self._behind -= 1

    def ready(self) -> list[Row]:
        """The rows every waiting node has reached, taken out in order."""
        rows = []
        while self._rows and self._behind == 0:
            rows.append(self._rows.popleft())
            self._shown += 1
            self._behind = sum(1 for n in self._waiting if self._count.get(n, 0) <= self._shown)
        return rows

    def rest(self) -> list[Row]:
        """Every row not yet taken out."""
        rows = list(self._rows)
        self._rows.clear()
        return rows


def _lines(data: bytes) -> list[bytes]:
    """The lines of output gathered from events (it always ends with a newline)."""
    return data[:-1].split(b"\n")


def _diff_groups(done: TaskResult) -> list[tuple[NodeSet, list[bytes]]]:
    """``--diff``'s input as clush builds it: the ``-b`` groups of each return code, then,
    once there is a reference, that return code's nodes that printed nothing."""
    groups = done.gather()
    shown: list[tuple[NodeSet, list[bytes]]] = []
    for rc, nodes in done.by_rc():
        silent = nodes.copy()
        for group, out in groups:
            if done[group[0]].rc == rc:
                shown.append((group, _lines(out)))
                silent.difference_update(group)
        if silent and shown:
            shown.append((silent, []))
    return shown


class Renderer:
    """Shows one action's events as they come and its results at the end, as clush does.

    :param stop: called when output can no longer be written (the reader of a pipe went
        away, as with ``| head``): there is no point in going on.
    """

    def __init__(self, display: Display, layout: Layout, nodes: NodeSet,
                 progress: Progress | None = None, stop: Callable[[], None] = lambda: None,
                 ) -> None:
        self.display = display
        self.layout = layout
        self.progress = progress
        self.stop = stop
        self.broken_pipe = False
        self._buffers: dict[str, bytearray] = {}
        self._json_done: set[str] = set()
        self._rows = LineRows(nodes) if layout.gather and layout.by_node else None

    def handle(self, event: Event) -> None:
        """Take one task event (a task handler)."""
        if self.progress is not None:
            self.progress.handle(event)
        if self.broken_pipe:
            return
        try:
            if self.layout.json:
                if isinstance(event, (Exited, Failed)) and event.result is not None:
                    self._json(event.result)
            elif isinstance(event, Output):
                self._output(event)
            elif isinstance(event, (Exited, Failed)):
                self._ended(event)
            self.display.flush()
        except BrokenPipeError:
            self.broken_pipe = True
            self.stop()

    def _clear(self) -> None:
        if self.progress is not None:
            self.progress.clear()

    def _print(self, event: Output) -> None:
        self._clear()
        for line in event.lines():
            self.display.line(event.node, line)

    def _output(self, event: Output) -> None:
        if event.stream == "stderr" and not self.layout.merge:
            self._clear()
            for line in event.lines():
                self.display.error_line(event.node, line)
        elif self._rows is not None:
            for line in event.lines():
                self._rows.add(event.node, line)
            self._show(self._rows.ready())
        elif self.layout.live:
            self._print(event)
        else:
            self._buffers.setdefault(event.node, bytearray()).extend(event.data)
            if self.display.verbosity >= VERB_VERB:
                self._print(event)

    def _ended(self, event: Exited | Failed) -> None:
        if self._rows is not None:
            self._rows.finish(event.node)
            self._show(self._rows.ready())
        if isinstance(event, Exited) and event.rc and self.layout.live:
            self._clear()
            self.display.exit_codes([(event.rc, NodeSet.fromlist([event.node]))])

    def _show(self, rows: list[Row]) -> None:
        """-bL rows: each line once, labelled by its nodes, bigger groups first."""
        for row in rows:
            self._clear()
            groups = sorted(((NodeSet.fromlist(nodes), line) for line, nodes in row.items()),
                            key=lambda group: (-len(group[0]), group[0][0]))
            for nodes, line in groups:
                self.display.labelled_lines(nodes, [line])

    def finish(self, result: TaskResult) -> None:
        """Show the end of the action: gathered output, return codes, nodes that failed."""
        self._clear()
        if self.layout.json:
            for r in result.values():  # nodes interrupted before they started
                if r.node not in self._json_done:
                    self._json(r)
        else:
            done = TaskResult([NodeResult(node, r.rc, bytes(self._buffers.get(node, b"")))
                               for node, r in result.items() if r.rc is not None])
            self._gathered(done)
            if not self.layout.live:
                self.display.exit_codes(done.by_rc())
            self.display.failures(result.errors())
        self.display.flush()

    def _gathered(self, done: TaskResult) -> None:
        """The output shown at the end, from the nodes whose command ran to its end."""
        if self._rows is not None:
            self._show(self._rows.rest())
        elif self.layout.diff:
            self.display.diff(_diff_groups(done))
        elif self.layout.gather:
            for nodes, out in done.gather():
                self.display.block(nodes, _lines(out))
        elif self.layout.by_node:
            for _, nodes in done.by_rc():
                for node in nodes:
                    if done[node].stdout:
                        self.display.labelled_lines(NodeSet.fromlist([node]),
                                                    _lines(done[node].stdout))

    def _json(self, r: NodeResult) -> None:
        self._json_done.add(r.node)
        self.display.json_result(r.node, rc=r.rc, stdout=r.stdout, stderr=r.stderr,
                                 error=r.error.reason if r.error else None,
                                 status=r.status, start=r.started, end=r.ended)


# -- running ------------------------------------------------------------------------------


@dataclass
class Sigint:
    """Whether Ctrl-C was pressed while :func:`on_sigint` was in force."""

    caught: bool = False


@contextmanager
def on_sigint(callback: Callable[[], None]) -> Iterator[Sigint]:
    """While inside, Ctrl-C (SIGINT) calls ``callback`` instead of raising KeyboardInterrupt."""
    loop = asyncio.get_running_loop()
    sigint = Sigint()

    def caught() -> None:
        sigint.caught = True
        callback()

    loop.add_signal_handler(signal.SIGINT, caught)
    try:
        yield sigint
    finally:
        loop.remove_signal_handler(signal.SIGINT)


async def perform(task: AsyncTask, start: Start, display: Display, layout: Layout,
                  nodes: NodeSet) -> tuple[TaskResult, bool]:
    """Start one action on ``task`` (working on ``nodes``) and show it as it runs and ends.

    Ctrl-C interrupts the action: what finished is still shown. Returns the result and
    whether Ctrl-C was pressed.

    :raises BrokenPipeError: the reader of standard output went away; the action was
        stopped then.
    """
    progress = None
    if display.err.isatty() and not layout.json and display.verbosity > VERB_QUIET:
        progress = Progress(display.err, len(nodes))
    renderer = Renderer(display, layout, nodes, progress, stop=task.interrupt)
    task.handlers[:] = [renderer.handle]
    with on_sigint(task.interrupt) as sigint:
        if progress is not None:
            progress.start()
        try:
            result = await start(task)
        finally:
            if progress is not None:
                progress.stop()
    if renderer.broken_pipe:
        raise BrokenPipeError("the reader of standard output went away")
    renderer.finish(result)
    return result, sigint.caught


def exit_status(result: TaskResult, maxrc: bool, interrupted: bool) -> int:
    """clush's exit status: 130 after Ctrl-C; with ``-S`` the largest return code (255 when
    a node could not be reached or timed out); else 0."""
    if interrupted:
        return 130
    if not maxrc:
        return 0
    return result.max_rc


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
    _use_groups(args, config)
    nodes = select_nodes(args)
    layout = Layout.from_args(args)
    job = make_job(args)
    display = make_display(args, config)
    raise_nofile_limit(config.fd_max)  # as clush; the engine raises it further if a run needs
    transport = make_transport(config.transport, connect_options(args, config))
    task = AsyncTask(nodes, transport, fanout=config.fanout,
                     command_timeout=config.command_timeout or None,
                     keep_connections=job is None, keep_output=layout.json)
    if job is None:
        from shoal.cli.interactive import interact

        return asyncio.run(interact(task, display, layout, config.maxrc))
    return asyncio.run(_run_job(task, job, display, layout, config.maxrc))


# -- the commands --------------------------------------------------------------------------


_SELECT_AND_SHOW_OPTIONS = [
    click.option("-w", "nodes", multiple=True, metavar="NODES",
                 help="Nodes to run on (repeatable)."),
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
    click.option("--dest", metavar="DIR", help="Where copies go."),
    click.option("-p", "preserve", is_flag=True, help="Copies keep times and modes."),
    click.option("-f", "--fanout", type=click.IntRange(min=1), metavar="N",
                 help="Nodes connecting or working at once."),
    click.option("-t", "--connect_timeout", type=click.FloatRange(min=0), metavar="S",
                 help="Seconds to connect (0: no limit)."),
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
