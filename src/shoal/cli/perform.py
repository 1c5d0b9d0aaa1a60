"""Running one action on a task while it is shown: Ctrl-C, progress, exit status.

:func:`perform` starts an action with Ctrl-C wired to
:meth:`~shoal.engine.AsyncTask.interrupt` and a :class:`~shoal.cli.render.Renderer`
showing it; :func:`exit_status` is clush's exit status of the result. ``shoal run`` and
its interactive mode share both.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from shoal.cli.display import VERB_QUIET, Display
from shoal.cli.progress import Progress
from shoal.cli.render import Layout, Renderer
from shoal.engine import AsyncTask, TaskResult
from shoal.nodeset import NodeSet

__all__ = ["Sigint", "Start", "exit_status", "on_sigint", "perform"]

#: Starts one action on a task (``task.run(...)``, ``task.copy(...)``…).
Start = Callable[[AsyncTask], Awaitable[TaskResult]]


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
    renderer = Renderer(display, layout, nodes, progress, stop=task.interrupt,
                        max_output=task.max_output)
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

