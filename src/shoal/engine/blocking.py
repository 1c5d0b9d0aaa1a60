"""The blocking face of :class:`~shoal.engine.task.AsyncTask`: same code, plain calls.

Each call runs on shoal's one background event loop (:mod:`shoal._loop`), which owns the
connections, so a second ``run`` reuses what the first one opened. Handlers are called
on that loop's thread; the caller's context variables go with each call. Ctrl-C during a
call interrupts it and returns once its nodes are stopped.
"""

from __future__ import annotations

import queue
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from shoal import _loop
from shoal.engine.gather import DEFAULT_MAX_OUTPUT
from shoal.engine.task import DEFAULT_FANOUT, AsyncTask

if TYPE_CHECKING:
    from shoal.engine.events import Event, Handler
    from shoal.engine.results import TaskResult
    from shoal.hosts.base import Transport
    from shoal.nodeset import NodeSet

__all__ = ["Task"]


class Task:
    """Run commands and copies on many nodes, blocking until each action is done.

    ::

        with Task("node[1-100]") as task:
            print(task.run("uptime").gather())

    Arguments as for :class:`~shoal.engine.task.AsyncTask`.
    """

    def __init__(self, nodes: NodeSet | str | Iterable[str],
                 transport: Transport | None = None, *, fanout: int = DEFAULT_FANOUT,
                 command_timeout: float | None = None, handlers: Sequence[Handler] = (),
                 keep_connections: bool = True,
                 keep_output: bool | Literal["until_end"] = True,
                 max_output: int | None = DEFAULT_MAX_OUTPUT) -> None:
        self.task = AsyncTask(nodes, transport, fanout=fanout,
                              command_timeout=command_timeout, handlers=handlers,
                              keep_connections=keep_connections, keep_output=keep_output,
                              max_output=max_output)

    def __enter__(self) -> Task:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(self, command: str, *, stdin: bytes | None = None, timeout: float | None = None,
            nodes: NodeSet | str | None = None) -> TaskResult:
        """Run ``command`` on every node; see :meth:`AsyncTask.run`."""
        return _loop.run(self.task.run(command, stdin=stdin, timeout=timeout, nodes=nodes),
                         "AsyncTask.run")

    def copy(self, sources: Sequence[Path | str], dest: str | None = None, *,
             preserve: bool = False, nodes: NodeSet | str | None = None) -> TaskResult:
        """Copy local files to every node; see :meth:`AsyncTask.copy`."""
        return _loop.run(self.task.copy(sources, dest, preserve=preserve, nodes=nodes),
                         "AsyncTask.copy")

    def rcopy(self, sources: Sequence[str], dest: Path | str, *, preserve: bool = False,
              nodes: NodeSet | str | None = None) -> TaskResult:
        """Copy remote files from every node; see :meth:`AsyncTask.rcopy`."""
        return _loop.run(self.task.rcopy(sources, dest, preserve=preserve, nodes=nodes),
                         "AsyncTask.rcopy")

    def stream(self, command: str, *, stdin: bytes | None = None,
               timeout: float | None = None) -> Iterator[Event]:
        """Run ``command`` and yield its events as they happen; see :meth:`AsyncTask.stream`.

        Leaving the loop early (``break``, an exception, Ctrl-C) interrupts the command and
        waits until its nodes are stopped.
        """
        events: queue.SimpleQueue[Event | None] = queue.SimpleQueue()

        async def pump() -> None:
            try:
                async for event in self.task.stream(command, stdin=stdin, timeout=timeout):
                    events.put(event)
            finally:
                events.put(None)

        pumping = _loop.submit(pump(), "AsyncTask.stream")
        try:
            while (event := events.get()) is not None:
                yield event
            pumping.result()  # what the run raised, if it raised
        finally:
            pumping.cancel()

    def interrupt(self) -> None:
        """Stop the action under way; see :meth:`AsyncTask.interrupt`. Safe from any thread."""
        _loop.call_soon(self.task.interrupt)

    def close(self) -> None:
        """Close every connection."""
        _loop.run(self.task.close(), "AsyncTask.close")
