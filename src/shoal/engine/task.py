"""A task: one action (a command, a copy) fanned out over a node set.

:class:`AsyncTask` keeps one connection per node and reuses it for every action it runs;
at most ``fanout`` nodes are connecting or working at once. Each node ends with a
:class:`~shoal.engine.results.NodeResult`: a return code, or the error that stopped it.
One node failing never stops the others; :meth:`AsyncTask.interrupt` stops them all and
still returns what finished.
"""

from __future__ import annotations

import asyncio
import logging
import os
import posixpath
import resource
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from shoal.engine.capture import Capture
from shoal.engine.events import Event, Exited, Failed, Handler, Started
from shoal.engine.gather import DEFAULT_MAX_OUTPUT
from shoal.engine.results import NodeResult, TaskResult
from shoal.errors import (
    ConnectError,
    CopyFailed,
    HostError,
    InternalError,
    Interrupted,
    UsageError,
)
from shoal.hosts.copying import plain_name
from shoal.hosts.limits import raise_nofile_limit
from shoal.nodeset import NodeSet

if TYPE_CHECKING:
    from shoal.hosts.base import Connection, Transport

__all__ = ["DEFAULT_FANOUT", "AsyncTask"]

log = logging.getLogger(__name__)

#: Nodes connecting or working at once, unless told otherwise (clush's default).
DEFAULT_FANOUT = 64

#: Open files kept for the process itself (interpreter, event loop, logs, terminal).
RESERVED_FILES = 64

#: What one node does once connected; returns the node's return code.
Action = Callable[["Connection", Capture], Awaitable[int]]


class AsyncTask:
    """Run commands and copies on many nodes at once, over connections kept open.

    ::

        async with AsyncTask("node[1-100]", fanout=64) as task:
            result = await task.run("uptime")
            for nodes, output in result.gather():
                print(nodes, output.decode())

    :param nodes: a node set, an expression (``"web[01-40]"``) or node names.
    :param transport: how to reach nodes; default: SSH with ``~/.ssh/config``.
    :param fanout: nodes connecting or working at once.
    :param command_timeout: seconds a command may run; None: no limit.
    :param handlers: callables that receive every :mod:`~shoal.engine.events` event; a
        handler that raises stops the action, and ``run`` raises its exception.
    :param keep_connections: keep connections open for the next action (the default);
        False closes each one as soon as its node is done, for one-shot runs.
    :param keep_output: store each node's output in its result (the default); False
        leaves results without output, for runs whose handlers see all they need;
        ``"until_end"`` keeps each node's output only until it ends: its
        :class:`~shoal.engine.events.Exited` or :class:`~shoal.engine.events.Failed`
        event's result has it, the task's results do not (for handlers that report node
        by node, such as ``shoal run --json``).
    :param max_output: bytes of output kept per node, stdout and stderr together
        (:data:`~shoal.engine.gather.DEFAULT_MAX_OUTPUT`, 64 MiB, unless told otherwise;
        None: no limit). Past it the kept output is cut and the node's result says so
        (``truncated``); handlers still get all of it as it comes, and the run goes on.
    """

    def __init__(self, nodes: NodeSet | str | Iterable[str],
                 transport: Transport | None = None, *, fanout: int = DEFAULT_FANOUT,
                 command_timeout: float | None = None, handlers: Sequence[Handler] = (),
                 keep_connections: bool = True,
                 keep_output: bool | Literal["until_end"] = True,
                 max_output: int | None = DEFAULT_MAX_OUTPUT) -> None:
        if fanout < 1:
            raise UsageError(f"fanout must be at least 1, not {fanout}")
        if max_output is not None and max_output < 0:
            raise UsageError(f"max_output must be 0 or more bytes (None: no limit), "
                             f"not {max_output}")
        self.nodes = nodes if isinstance(nodes, NodeSet) else (
            NodeSet(nodes) if isinstance(nodes, str) else NodeSet.fromlist(nodes))
        if transport is None:
            from shoal.hosts.ssh import SSHTransport
            transport = SSHTransport()
        self.transport = transport
        self.fanout = fanout
        self.command_timeout = command_timeout
        self.handlers = list(handlers)
        self.keep_connections = keep_connections
        self.keep_output = keep_output
        self.max_output = max_output
        self._connections: dict[str, Connection] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._workers: list[asyncio.Task[None]] = []
        self._keep_room = 0
        self._handler_error: BaseException | None = None
        self._room = self._file_room()

    async def __aenter__(self) -> AsyncTask:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- actions -------------------------------------------------------------------------

    async def run(self, command: str, *, stdin: bytes | None = None,
                  timeout: float | None = None,
                  nodes: NodeSet | str | None = None) -> TaskResult:
        """Run ``command`` on every node (or on ``nodes``, a subset) and wait for all.

        ``stdin`` is sent to every node's command. ``timeout`` overrides the task's
        command timeout for this run.
        """
        limit = self.command_timeout if timeout is None else timeout

        async def action(conn: Connection, capture: Capture) -> int:
            return await conn.run(command, stdout=capture.stdout, stderr=capture.stderr,
                                  stdin=stdin, timeout=limit)

        return await self._each(self._select(nodes), action)

    async def copy(self, sources: Sequence[Path | str], dest: str | None = None, *,
                   preserve: bool = False, nodes: NodeSet | str | None = None) -> TaskResult:
        """Copy local files or directories to every node, into ``dest``.

        As scp: into ``dest`` when it is a directory on the node, else as ``dest`` itself;
        with several sources, or a ``dest`` ending in ``/``, it must be a directory.
        ``dest`` defaults to each source's own directory, as clush ``--copy`` does (it must
        then exist on the node). Copies get their sources' permission bits less the node's
        umask, as with scp; ``preserve`` (``-p``) sets exactly those bits, and the times.
        Each file is written under a temporary name, then renamed
        (:mod:`shoal.hosts.copying`).

        A copy the node refuses (a missing folder, a denied permission, a full disk) ends
        that node as scp ends: with return code 1 (:attr:`~shoal.errors.CopyFailed.rc`) and
        the reason as a line of its stderr (``copy to /etc/app.conf failed: permission
        denied``); the first refusal ends the node's copy. A node that cannot be reached, or
        whose link drops, ends with its :class:`~shoal.errors.ConnectError` (``-S``: 255).
        A node interrupted in the middle of a copy says which on its stderr.
        """
        paths = [Path(s) for s in sources]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise UsageError(f"cannot copy {', '.join(missing)}: no such file or directory")
        into = dest is None or len(paths) > 1 or dest.endswith("/")

        async def action(conn: Connection, capture: Capture) -> int:
            for path in paths:
                target = dest if dest is not None else str(path.resolve().parent)
                rc = await _copying(capture, f"copy to {target}",
                                    conn.put(path, target, preserve=preserve, into=into))
                if rc:
                    return rc
            return 0

        return await self._each(self._select(nodes), action)

    async def rcopy(self, sources: Sequence[str], dest: Path | str, *,
                    preserve: bool = False,
                    nodes: NodeSet | str | None = None) -> TaskResult:
        """Copy remote files or directories from every node into the local ``dest``.

        Each copy is named after its node: ``/etc/hosts`` from node7 becomes
        ``DEST/hosts.node7``, as clush ``--rcopy`` names them. Nothing is written outside
        ``dest``, whatever the node is called or its files are named: a copy name that is
        not a plain file name fails that node, names in a directory the node sends are
        checked, and symlinks in ``dest`` are replaced or refused, never followed
        (:mod:`shoal.hosts.copying`). Failures end nodes as :meth:`copy` says.
        """
        folder = Path(dest)
        if not folder.is_dir():
            raise UsageError(f"cannot copy into {folder}: not a directory")
        names = [(source, posixpath.basename(source.rstrip("/")) or "root") for source in sources]

        async def action(conn: Connection, capture: Capture) -> int:
            for source, name in names:
                local = f"{name}.{conn.node}"
                rc = await _copying(capture, f"copy from {source}", _fetch(
                    conn, source, folder, local, preserve))
                if rc:
                    return rc
            return 0

        return await self._each(self._select(nodes), action)

    async def stream(self, command: str, *, stdin: bytes | None = None,
                     timeout: float | None = None) -> AsyncIterator[Event]:
        """Run ``command`` and yield its events as they happen.

        ::

            async for event in task.stream("dmesg"):
                if isinstance(event, Output):
                    ...
        """
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.handlers.append(queue.put_nowait)
        runner = asyncio.ensure_future(self.run(command, stdin=stdin, timeout=timeout))
        runner.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (event := await queue.get()) is not None:
                yield event
            runner.result()
        finally:
            self.handlers.remove(queue.put_nowait)
            if not runner.done():  # left early: stop the nodes and wait until they are
                self.interrupt()
                await asyncio.gather(runner, return_exceptions=True)

    def interrupt(self) -> None:
        """Stop the action under way: nodes not finished end with an ``interrupted`` error.

        Safe to call from a signal handler installed with ``loop.add_signal_handler``.
        """
        for worker in self._workers:
            worker.cancel()

    async def close(self) -> None:
        """Close every connection and release the transport."""
        conns = list(self._connections.values())
        self._connections.clear()
        await asyncio.gather(*(_quiet_close(c) for c in conns))
        if self._closing:
            await asyncio.gather(*self._closing)
        await self.transport.close()

    # -- the fan-out ---------------------------------------------------------------------

    def _file_room(self) -> int:
        """How many nodes may hold open files at once: raise the limit as far as needed.

        A run needs files for every node it keeps connected (all of them, with
        ``keep_connections``), or for ``fanout`` nodes at once. When the hard limit is
        lower, the fan-out shrinks to what fits and connections beyond that close after
        use, rather than nodes failing with "too many open files".
        """
        per = self.transport.files_per_node
        busy = len(self.nodes) if self.keep_connections else min(len(self.nodes), self.fanout)
        limit = raise_nofile_limit(per * busy + RESERVED_FILES)
        if limit == resource.RLIM_INFINITY:
            return busy
        room = max(1, (limit - RESERVED_FILES) // per)
        if room < busy:
            log.warning("open-files limit is %d (hard limit), %d wanted: at most %d nodes "
                        "connected at once; raise it with ulimit -Hn", limit,
                        per * busy + RESERVED_FILES, room)
        return room

    def _select(self, nodes: NodeSet | str | None) -> list[str]:
        if nodes is None:
            return list(self.nodes)
        chosen = nodes if isinstance(nodes, NodeSet) else NodeSet(nodes)
        return list(chosen)

    async def _each(self, nodes: list[str], action: Action) -> TaskResult:
        """Do ``action`` on every node, at most ``fanout`` at once, in node-set order."""
        if self._workers:
            raise UsageError("this task is already running an action")
        origin = time.monotonic()
        self._handler_error = None
        results = [NodeResult(node) for node in nodes]
        pending = iter(results)

        async def worker() -> None:
            for result in pending:
                await self._one(result, action, origin)

        width = min(self.fanout, self._room, len(results))
        # connections kept for later actions leave room for the ones at work
        if not self.keep_connections:
            self._keep_room = 0
        elif self._room >= len(self.nodes):
            self._keep_room = len(self.nodes)
        else:
            self._keep_room = self._room - width
        self._workers = [asyncio.create_task(worker()) for _ in range(width)]
        try:
            # interrupt() cancels workers: gather then returns and the results say so;
            # cancelling the caller instead propagates out of gather.
            await asyncio.gather(*self._workers, return_exceptions=True)
        finally:
            # cancelled from outside: stop the workers and wait until their nodes stopped
            for worker_task in self._workers:
                worker_task.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
            self._workers = []
        if self._closing:
            await asyncio.gather(*self._closing)
        if self._handler_error is not None:
            raise self._handler_error
        for result in results:
            if result.rc is None and result.error is None:
                result.error = Interrupted(result.node)
        return TaskResult(results)

    async def _one(self, result: NodeResult, action: Action, origin: float) -> None:
        node = result.node
        result.started = time.monotonic() - origin
        capture = Capture(node, self._emit, self.keep_output, self.max_output)
        try:
            conn = self._connections.get(node)
            if conn is None:
                conn = await self.transport.connect(node)
                self._connections[node] = conn
            self._emit(Started(node))
            rc = await action(conn, capture)
        except asyncio.CancelledError:
            self._fail(result, capture, Interrupted(node), origin)
            self._drop(node)
            raise
        except HostError as exc:
            self._fail(result, capture, exc, origin)
            if isinstance(exc, ConnectError):
                self._drop(node)
        except Exception as exc:  # a bug in shoal, not the node's fault: say so, loudly
            log.error("internal error on %s", node, exc_info=True)
            self._fail(result, capture, InternalError(node, exc), origin)
            self._drop(node)
        else:
            result.rc = rc
            result.ended = time.monotonic() - origin
            self._emit(Exited(node, rc, capture.flush(result)))
            if len(self._connections) > self._keep_room:
                self._drop(node)

    def _fail(self, result: NodeResult, capture: Capture, error: HostError,
              origin: float) -> None:
        """End ``result`` with ``error`` and say so."""
        result.error = error
        result.ended = time.monotonic() - origin
        self._emit(Failed(result.node, error, capture.flush(result)))

    def _drop(self, node: str) -> None:
        """Forget ``node``'s connection and close it in the background."""
        conn = self._connections.pop(node, None)
        if conn is not None:
            closing = asyncio.ensure_future(_quiet_close(conn))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    def _emit(self, event: Event) -> None:
        for handler in self.handlers:
            try:
                handler(event)
            except Exception as exc:
                if self._handler_error is None:
                    self._handler_error = exc
                    self.interrupt()


async def _copying(capture: Capture, what: str, copy: Awaitable[None]) -> int:
    """Do one copy for a node: 0, or the return code of a refusal, its reason on stderr."""
    try:
        await copy
    except CopyFailed as exc:
        capture.stderr(f"{exc.reason}\n".encode())
        return exc.rc
    except asyncio.CancelledError:
        capture.stderr(f"interrupted during {what}\n".encode())
        raise
    return 0


async def _fetch(conn: Connection, source: str, folder: Path, name: str,
                 preserve: bool) -> None:
    """Copy ``source`` from ``conn``'s node to ``folder/name``, if ``name`` names a file."""
    if not plain_name(os.fsencode(name)):
        raise CopyFailed(conn.node, f"copy from {source} failed: {name!r} in {folder} "
                                    "is not a plain file name")
    await conn.get(source, folder / name, preserve=preserve)


async def _quiet_close(conn: Connection) -> None:
    try:
        await conn.close()
    except (HostError, OSError) as exc:  # closing a dead link: nothing left to do
        log.debug("closing %s: %s", conn.node, exc)

