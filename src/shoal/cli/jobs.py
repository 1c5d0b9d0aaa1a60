"""What ``shoal run`` asks every node to do: a command, a copy to the nodes, or from them.

A :class:`Job` starts one action on a task and says, at ``-v``, what it did once done.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shoal.cli.perform import Start
from shoal.cli.run_args import RunArgs
from shoal.errors import UsageError
from shoal.nodeset import NodeSet

__all__ = ["STDIN_SCRIPT", "Job", "make_job"]

#: What runs on each node when the commands come on stdin: the login user's shell, reading
#: them (clush runs ssh with no command, which does the same).
STDIN_SCRIPT = 'exec "${SHELL:-/bin/sh}" -s'


@dataclass(frozen=True)
class Job:
    """One action for every node, and what to tell about it at ``-v`` once it is done."""

    start: Start
    notes: Callable[[NodeSet], list[str]] = lambda done: []


def _stdin_data(args: RunArgs) -> bytes | None:
    """All of stdin when it is neither a terminal nor empty (clush forwards it), else None."""
    stream = sys.stdin.buffer
    if args.nostdin or "-" in args.nodes or stream.isatty():  # -w -: stdin held the nodes
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

    With no command and stdin not a terminal, stdin is a script that each node's shell
    reads (``echo uptime | shoal run -w …``), as with clush.

    :raises UsageError: a copy names no file, or there is no command and ``-n``.
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
    if sys.stdin.buffer.isatty():
        return None
    if args.nostdin or "-" in args.nodes:
        why = "-n" if args.nostdin else "-w - (nodes from stdin)"
        raise UsageError(f"no command given, and {why} leaves none to read from stdin: "
                         "give a COMMAND")
    # As clush: commands piped in with no COMMAND are a script for each node's shell.
    script = sys.stdin.buffer.read()
    return Job(lambda task: task.run(STDIN_SCRIPT, stdin=script))

