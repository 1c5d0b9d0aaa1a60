"""A task whose nodes are reached through a propagation tree: :class:`TreeTask`.

:class:`TreeTask` is an :class:`~shoal.engine.AsyncTask` with a topology: the same
methods, arguments, events and results, so that whatever shows an ``AsyncTask`` shows
it (``shoal run``'s renderer, ``--json``, the progress line). Each action is planned by
a :class:`~shoal.tree.routing.Router`: the nodes the root reaches itself run as with a
plain ``AsyncTask``; the others go, as one job per first-level gateway, down the
channels of a :class:`~shoal.tree.driver.GatewayPool`, which stay open from one action
to the next. ``fanout`` is global: each gateway gets its share of it, and the direct
nodes theirs (:meth:`~shoal.tree.routing.Plan.fanout`).

Gateways send output grouped: in ``live`` mode the lines of each window as they come
(expanded into per-node :class:`~shoal.engine.Output` events here, for line mode), else
each node's whole output once it ended (``-b``, ``-L``, ``--json``), which keeps uplink
bytes to the distinct outputs; that output stays grouped here too
(:class:`~shoal.engine.GroupCapture`): one event per message, whatever its node count,
and results that share the bytes of identical outputs. Copies travel as one tar stream
per link, made once here (:mod:`shoal.tree.transfer`); rcopies come back as one tar
stream per node and are read here with the same rules as flat copies.

Failures never hang an action nor stop it: a gateway that cannot start (refused, no
Python, garbage on its stdout) has its targets re-routed to a live sibling, or failed
with its reason; one that dies or stalls once it took a job on leaves that job's
unfinished nodes ``lost`` (:class:`~shoal.errors.NodeLost`): they may have run, and are
never run twice. :meth:`TreeTask.interrupt` sends ``abort`` down the tree.

:class:`Task` is the blocking face, as :class:`shoal.engine.Task` is AsyncTask's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import posixpath
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from shoal.engine.blocking import Task as _BlockingTask
from shoal.engine.capture import Capture, GroupCapture
from shoal.engine.events import Exited, Failed, Handler, Started
from shoal.engine.gather import DEFAULT_MAX_OUTPUT, Stream
from shoal.engine.results import NodeResult, TaskResult
from shoal.engine.task import DEFAULT_FANOUT, AsyncTask
from shoal.errors import (
    CommandTimeout,
    ConnectError,
    CopyFailed,
    HostError,
    InternalError,
    Interrupted,
    NodeLost,
    UsageError,
)
from shoal.hosts.base import Transport
from shoal.hosts.copying import CopyProblem, LocalTarget, copy_as, name_of, plain_name
from shoal.nodeset import NO_GROUPS, NodeSet
from shoal.tree.driver import (
    GatewayDown,
    GatewayLauncher,
    GatewayPool,
    RootChannel,
    SSHGatewayLauncher,
    TreeSettings,
)
from shoal.tree.messages import OUT, RET, SER, TIM
from shoal.tree.routing import Router, Topology
from shoal.tree.transfer import TarSource, make_tar, spool

__all__ = ["Task", "TreeTask"]

log = logging.getLogger(__name__)

#: Bytes of a tar stream read and sent at a time.
_TAR_CHUNK = 256 * 1024


# -- one node, across the steps of an action ------------------------------------------------


class _NodeRun:
    """One node's result while the gateways work on it: its events go out as they come.

    In line mode its output comes node by node (a :class:`~shoal.engine.Capture` of its
    own); else it comes grouped, for whole node sets, through the action's
    :class:`~shoal.engine.GroupCapture`.
    """

    __slots__ = ("capture", "ended", "result", "started", "task")

    def __init__(self, task: TreeTask, node: str) -> None:
        self.task = task
        self.result = NodeResult(node)
        self.capture = (Capture(node, task._emit, task.keep_output, task.max_output)
                        if task.live else None)
        self.started = False
        self.ended = False

    def start(self) -> None:
        if not self.started:
            self.started = True
            self.result.started = self.task._clock()
            self.task._emit(Started(self.result.node))

    def output(self, stream: Stream, data: bytes) -> None:
        """Output of this node alone (line mode; the root's own words in any mode)."""
        if self.capture is not None:
            (self.capture.stdout if stream == "stdout" else self.capture.stderr)(data)
        else:
            self.task._grouped.output(_one(self.result.node), stream, data)

    def exit(self, rc: int, grouped: bool = False) -> None:
        """The node ended with ``rc``; ``grouped``: its set's end was told already."""
        if self.ended:
            return
        self.ended = True
        self.result.rc = rc
        self.result.ended = self.task._clock()
        self.task._emit(Exited(self.result.node, rc, self._flush(grouped), grouped=grouped))

    def fail(self, error: HostError, closed: bool = False) -> None:
        """The node failed; ``closed``: its set's output was closed already."""
        if self.ended:
            return
        self.ended = True
        self.result.error = error
        self.result.ended = self.task._clock()
        self.task._emit(Failed(self.result.node, error, self._flush(closed)))

    def _flush(self, closed: bool) -> NodeResult:
        if self.capture is not None:
            return self.capture.flush(self.result)
        grouped = self.task._grouped
        if not closed:
            grouped.close(_one(self.result.node))
        return grouped.flush(self.result.node, self.result)


def _one(node: str) -> NodeSet:
    return NodeSet.fromlist([node], resolver=NO_GROUPS)


# -- one step of an action: what a gateway is asked to do -----------------------------------


@dataclass
class _Step:
    """One ``CTL`` a gateway gets for an action (a command, one copy, one rcopy source)."""

    action: Literal["shell", "copy", "rcopy"]
    payload: dict[str, Any]
    stdin: bytes | None = None
    #: copies: the local sources, put in one tar stream before the step goes out
    sources: tuple[bytes, ...] = ()
    #: rcopies: where the copies go, the name of each (``NAME.NODE``), the remote path
    folder: Path | None = None
    name: str = ""
    tar: IO[bytes] | None = field(default=None, repr=False)
    #: the tar stream could not be made: every node fails the step with this reason
    problem: str | None = None

    async def prepare(self) -> None:
        """Make the tar stream of a copy, once for every link."""
        if self.action != "copy" or self.tar is not None or self.problem is not None:
            return
        tar = tempfile.TemporaryFile()  # noqa: SIM115 - read by every link, closed by close()
        try:
            await make_tar(self.sources, tar)
        except CopyProblem as exc:
            tar.close()
            self.problem = exc.reason
            return
        tar.flush()
        self.tar = tar

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()
            self.tar = None


# -- one job on one channel -----------------------------------------------------------------


class _Job:
    """One step on one gateway's channel: the :class:`~shoal.tree.driver.JobSink` that
    turns the gateway's messages into the nodes' events."""

    def __init__(self, task: TreeTask, gateway: str, nodes: list[str], step: _Step,
                 final: bool, timeout: float | None, window: int | None = None) -> None:
        self.task = task
        self.gateway = gateway
        self.step = step
        self.final = final
        self.timeout = timeout
        self.runs = task._runs
        #: targets sent at most, ended or not (None: all at once)
        self.window = window if window is not None else len(nodes)
        self.first = nodes[:self.window]  #: the targets of the job's CTL
        self.queued = nodes[self.window:]  #: targets not sent yet: they may go elsewhere
        self.pending = set(self.first)  #: targets sent, not ended
        #: the nodes still waited for, or fewer: a superset of what ended one at a time
        self.waiting = NodeSet.fromlist(self.first, resolver=NO_GROUPS)
        #: targets never sent, and why, once the channel ended: for a sibling to take
        self.leftover: list[str] = []
        self.reason = ""
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._spools: dict[str, IO[bytes]] = {}
        self._reading: set[asyncio.Task[None]] = set()
        self.channel: RootChannel | None = None
        self.number = 0
        self._check()

    # -- JobSink --------------------------------------------------------------------------

    def acked(self, target: str) -> None:
        for node in NodeSet(target, resolver=NO_GROUPS):
            if node in self.pending:
                self.runs[node].start()

    def message(self, msg: OUT | SER | RET | TIM) -> None:
        if self.task.live:
            self._each(msg)
        else:
            self._grouped(msg)
        if self.queued and isinstance(msg, (RET, TIM)):
            self._refill()
        self._check()

    def _refill(self) -> None:
        """Send queued targets as the ones sent end, ``window`` under way at most (in
        batches of a quarter of it at least, or what is left)."""
        room = self.window - len(self.pending)
        if self.channel is None or self.task._interrupted or \
                room < min(len(self.queued), max(1, self.window // 4)):
            return
        batch = self.queued[:room]
        if self.channel.more(self.number, NodeSet.fromlist(batch, resolver=NO_GROUPS),
                             last=len(batch) == len(self.queued)):
            del self.queued[:room]
            self.pending.update(batch)
            self.waiting.update(NodeSet.fromlist(batch, resolver=NO_GROUPS))

    def interrupted(self) -> None:
        """The action is interrupted: targets not sent yet end so."""
        queued, self.queued = self.queued, []
        for node in queued:
            self.runs[node].fail(Interrupted(node))
        self._check()

    def _each(self, msg: OUT | SER | RET | TIM) -> None:
        """Line mode: each named node's output goes to its own capture."""
        nodes = [n for n in NodeSet(msg.nodes, resolver=NO_GROUPS) if n in self.pending]
        if isinstance(msg, OUT):
            if self.step.action == "rcopy":
                for node in nodes:
                    self._spool(node).write(msg.data)
            else:
                for node in nodes:
                    self.runs[node].output("stdout", msg.data)
        elif isinstance(msg, SER):
            for node in nodes:
                self.runs[node].output("stderr", msg.data)
        elif isinstance(msg, TIM):
            for node in nodes:
                self._fail(node, CommandTimeout(node, self.timeout or 0.0))
        else:
            for node in nodes:
                self._ended(node, msg)

    def _grouped(self, msg: OUT | SER | RET | TIM) -> None:
        """Gathered output: each message once for its node set, whatever its size."""
        nodes = self._mine(msg.nodes)
        if not nodes:
            return
        if isinstance(msg, OUT) and self.step.action == "rcopy":
            for node in nodes:
                self._spool(node).write(msg.data)
        elif isinstance(msg, (OUT, SER)):
            self.task._grouped.output(nodes, "stdout" if isinstance(msg, OUT) else "stderr",
                                      msg.data)
        elif isinstance(msg, TIM):
            self._over(nodes)
            for node in nodes:
                self._fail(node, CommandTimeout(node, self.timeout or 0.0), closed=True)
        elif msg.status != "ok":
            self._over(nodes)
            for node in nodes:
                self._ended(node, msg, closed=True)
        elif self.step.action == "rcopy" and msg.retcode == 0:
            self.waiting.difference_update(nodes)  # each node ends once its copy is read
            for node in nodes:
                self._ended(node, msg)
        else:
            rc = msg.retcode
            if rc != 0 and self.step.action != "shell":
                rc = CopyFailed.rc  # tar's 2 is a failed copy: 1, as scp and flat copies say
            if rc == 0 and not self.final:  # passed this step: on to the next
                self._over(nodes, closing=False)
                return
            self._over(nodes, rc)
            for node in nodes:
                self._exit(node, rc, grouped=True)

    def _mine(self, text: str) -> NodeSet:
        """The nodes of a message (folded ``text``) that this job still waits for."""
        nodes = NodeSet(text, resolver=NO_GROUPS)
        if nodes.issubset(self.waiting):
            return nodes
        return NodeSet.fromlist([n for n in nodes if n in self.pending], resolver=NO_GROUPS)

    def _over(self, nodes: NodeSet, rc: int | None = None, closing: bool = True) -> None:
        """``nodes`` leave the job; their output is over (``closing``): told to the
        action's grouped output, with their return code when they exited."""
        self.waiting.difference_update(nodes)
        self.pending.difference_update(nodes)
        if closing:
            self.task._grouped.close(nodes, rc)

    def refused(self, reason: str) -> None:
        self.pending.update(self.queued)
        self.queued = []
        for node in list(self.pending):
            self._fail(node, InternalError(node, _GatewayFault(
                f"gateway {self.gateway} refused the job: {reason}")))
        self._check()

    def lost(self, reason: str) -> None:
        self.task._router_dead(self.gateway)
        self.leftover, self.queued, self.reason = self.queued, [], reason
        for node in list(self.pending):
            self._fail(node, NodeLost(node, self.gateway, reason))
        self._check()

    # -- ends -----------------------------------------------------------------------------

    def _ended(self, node: str, msg: RET, closed: bool = False) -> None:
        status = msg.status
        if status == "ok":
            if self.step.action == "rcopy" and msg.retcode == 0:
                self.pending.discard(node)
                reading = asyncio.ensure_future(self._read_copy(node))
                self._reading.add(reading)
                reading.add_done_callback(self._copied)
                return
            self._exit(node, msg.retcode)
            return
        reason = msg.data or status
        error: HostError
        if status == "unreachable":
            error = ConnectError(node, reason)
        elif status == "interrupted":
            error = Interrupted(node)
        elif status == "lost":
            error = NodeLost(node, self.gateway, reason)
        else:
            error = InternalError(node, _GatewayFault(f"gateway {self.gateway}: {reason}"))
        self._fail(node, error, closed)

    def _exit(self, node: str, rc: int, grouped: bool = False) -> None:
        self.pending.discard(node)
        self._drop_spool(node)
        if rc != 0 and self.step.action != "shell":
            rc = CopyFailed.rc  # tar's 2 is a failed copy: 1, as scp and flat copies say
        if rc != 0 or self.final:
            self.runs[node].exit(rc, grouped)

    def _fail(self, node: str, error: HostError, closed: bool = False) -> None:
        self.pending.discard(node)
        self._drop_spool(node)
        self.runs[node].fail(error, closed)

    def fail_all(self, make: Callable[[str], HostError]) -> None:
        """End every node still pending with ``make(node)``."""
        for node in list(self.pending):
            self._fail(node, make(node))
        self._check()

    def _check(self) -> None:
        if not self.pending and not self.queued and not self._reading and \
                not self.done.done():
            self.done.set_result(None)

    # -- rcopy ----------------------------------------------------------------------------

    def _spool(self, node: str) -> IO[bytes]:
        file = self._spools.get(node)
        if file is None:
            file = self._spools[node] = spool()
        return file

    def _drop_spool(self, node: str) -> None:
        file = self._spools.pop(node, None)
        if file is not None:
            file.close()

    async def _read_copy(self, node: str) -> None:
        """Copy what the node sent (a tar stream) to ``FOLDER/NAME.NODE``."""
        step = self.step
        assert step.folder is not None
        run = self.runs[node]
        local = f"{step.name}.{node}"
        source = str(step.payload["source"])
        file = self._spools.pop(node, None) or spool()
        try:
            if not plain_name(os.fsencode(local)):
                raise CopyProblem("from", os.fsencode(source),
                                  f"{local!r} in {step.folder} is not a plain file name")
            file.seek(0)
            tar = TarSource(file, source)
            try:
                await copy_as(tar, os.fsencode(source), LocalTarget(), os.fsencode(step.folder),
                              os.fsencode(local), preserve=bool(step.payload["preserve"]))
            finally:
                tar.close()
        except CopyProblem as exc:
            run.output("stderr", f"{exc.reason}\n".encode())
            run.exit(CopyFailed.rc)
            return
        finally:
            file.close()
        if self.final:
            run.exit(0)

    def _copied(self, reading: asyncio.Task[None]) -> None:
        self._reading.discard(reading)
        if not reading.cancelled() and reading.exception() is not None:
            log.error("reading an rcopy failed", exc_info=reading.exception())
        self._check()


class _GatewayFault(Exception):
    """What a gateway reported as its own fault (status ``internal``), or refused."""


# -- the task -------------------------------------------------------------------------------


class TreeTask(AsyncTask):
    """Run commands and copies on many nodes, through the gateways of ``topology``.

    ::

        topology = gateways_topology("gw[1-2]")
        async with TreeTask("node[1-200]", topology=topology) as task:
            result = await task.run("uname -r")

    Arguments as for :class:`~shoal.engine.AsyncTask` (``transport`` reaches the nodes
    the root reaches itself), and:

    :param topology: the propagation tree, as seen from this host.
    :param live: events as output comes (line mode; gateways send each window's lines),
        node by node; False: each node's output once it ended (``-b``, ``-L``,
        ``--json``), the cheapest on the links and at the root: it comes as
        :class:`~shoal.engine.GroupOutput` events, one per distinct output and node set
        (in place of :class:`~shoal.engine.Output`), and a
        :class:`~shoal.engine.GroupExited` before the nodes' own ends. Results are the
        same either way; nodes that printed the same output share its bytes.
    :param merge: each node's stdout and stderr reach the events in the order the node
        printed them, line by line, as a flat task's do (clush ``-B``); otherwise a
        gateway sends a node's stdout, then its stderr.
    :param settings: heartbeats, stall time, grouping delay, the gateways' Python and
        the settings sent to them.
    :param launcher: how gateways start; default: the system ``ssh``.
    :param gateways: the channels to use (a pool shared with other tasks, which then
        share its gateways); default: a pool of this task's own, closed with it.
    :param diagnostics: receives the gateways' stderr and error lines, each prefixed
        with the gateway's name; default: this process's stderr.
    """

    def __init__(self, nodes: NodeSet | str | Iterable[str],
                 transport: Transport | None = None, *, topology: Topology,
                 fanout: int = DEFAULT_FANOUT, command_timeout: float | None = None,
                 handlers: Sequence[Handler] = (), keep_connections: bool = True,
                 keep_output: bool | Literal["until_end"] = True,
                 max_output: int | None = DEFAULT_MAX_OUTPUT, live: bool = True,
                 merge: bool = False, settings: TreeSettings | None = None,
                 launcher: GatewayLauncher | None = None,
                 gateways: GatewayPool | None = None,
                 diagnostics: Callable[[str], None] | None = None) -> None:
        super().__init__(nodes, transport, fanout=fanout, command_timeout=command_timeout,
                         handlers=handlers, keep_connections=keep_connections,
                         keep_output=keep_output, max_output=max_output)
        self.topology = topology
        self.live = live
        self.merge = merge
        self.settings = settings = settings or TreeSettings()
        self._own_pool = gateways is None
        if gateways is None:
            if settings.gateway_command is not None:
                command, payload = settings.gateway_command, b""
            else:
                from shoal.tree.nexthop import bundle_command

                command, payload = bundle_command(settings.python)
            gateways = GatewayPool(launcher or SSHGatewayLauncher(), bundle=payload,
                                   loader=command, config=self.gateway_config,
                                   settings=settings, diagnostics=diagnostics)
        elif launcher is not None:
            raise UsageError("give TreeTask a launcher or a pool of gateways, not both")
        self.gateways = gateways
        self._runs: dict[str, _NodeRun] = {}
        self._grouped = GroupCapture(self._emit, keep_output, max_output)
        self._jobs: set[_Job] = set()
        self._busy = False
        self._interrupted = False
        self._origin = 0.0
        self._router = Router(topology)
        self._tree_error: BaseException | None = None

    async def __aenter__(self) -> TreeTask:
        return self

    def gateway_config(self, gateway: str) -> dict[str, Any]:
        """The ``CFG`` payload of ``gateway``: its part of the tree and the settings."""
        settings = dict(self.settings.gateway_settings)
        settings.update(heartbeat=self.settings.beat, stall=self.settings.stall,
                        gather_delay=self.settings.gather_delay, python=self.settings.python,
                        gateway_command=self.settings.gateway_command)
        return {"topology": self.topology.part(gateway).to_dict(), "settings": settings}

    # -- actions -------------------------------------------------------------------------

    async def run(self, command: str, *, stdin: bytes | None = None,
                  timeout: float | None = None,
                  nodes: NodeSet | str | None = None) -> TaskResult:
        """Run ``command`` on every node (or on ``nodes``); see :meth:`AsyncTask.run`."""
        limit = self.command_timeout if timeout is None else timeout
        payload: dict[str, Any] = {"command": command, "timeout": limit,
                                   "stdin": stdin is not None,
                                   "mode": "stream" if self.live else "gather"}
        if self.merge:
            payload["merge"] = True
        step = _Step("shell", payload, stdin=stdin)
        return await self._tree(self._select(nodes), [step], limit, lambda direct: AsyncTask.run(
            self, command, stdin=stdin, timeout=timeout, nodes=direct))

    async def copy(self, sources: Sequence[Path | str], dest: str | None = None, *,
                   preserve: bool = False, nodes: NodeSet | str | None = None) -> TaskResult:
        """Copy local files or directories to every node, into ``dest`` or as ``dest``;
        see :meth:`AsyncTask.copy`, whose rules hold here too: the gateways' nodes get one
        tar stream per link, made once here, and put each copy in place as the
        ``openssh`` transport does (:func:`~shoal.tree.workers.copy_command`), so the same
        files land, and a refusal ends the node with the same return code and line on
        its stderr."""
        paths = [Path(s) for s in sources]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise UsageError(f"cannot copy {', '.join(missing)}: no such file or directory")
        into = dest is None or len(paths) > 1 or dest.endswith("/")
        groups: dict[str, list[bytes]] = {}
        for path in paths:
            target = dest if dest is not None else str(path.resolve().parent)
            groups.setdefault(target, []).append(os.fsencode(path))
        # a name twice (a/x and b/x): its last copy wins, as when flat copies go in turn
        steps = [_Step("copy", {"dest": target, "into": into, "preserve": preserve,
                                "names": list(dict.fromkeys(os.fsdecode(name_of(p))
                                                            for p in group))},
                       sources=tuple(group))
                 for target, group in groups.items()]
        try:
            return await self._tree(self._select(nodes), steps, None,
                                    lambda direct: AsyncTask.copy(
                                        self, sources, dest, preserve=preserve, nodes=direct))
        finally:
            for step in steps:
                step.close()

    async def rcopy(self, sources: Sequence[str], dest: Path | str, *,
                    preserve: bool = False,
                    nodes: NodeSet | str | None = None) -> TaskResult:
        """Copy remote files or directories from every node into the local ``dest``, as
        ``DEST/NAME.NODE``; see :meth:`AsyncTask.rcopy`. The gateways' nodes send tar
        streams (:func:`~shoal.tree.workers.rcopy_command`: symlinks read as scp reads
        them), read here by the walk of flat copies, so the same files land (nothing
        outside ``dest``) and a refusal says the same."""
        folder = Path(dest)
        if not folder.is_dir():
            raise UsageError(f"cannot copy into {folder}: not a directory")
        steps = []
        for source in sources:
            name = posixpath.basename(source.rstrip("/")) or "root"
            steps.append(_Step("rcopy", {"source": source, "dest_name": name,
                                         "preserve": preserve}, folder=folder, name=name))
        return await self._tree(self._select(nodes), steps, None, lambda direct: AsyncTask.rcopy(
            self, sources, dest, preserve=preserve, nodes=direct))

    def interrupt(self) -> None:
        """Stop the action under way: direct nodes as :meth:`AsyncTask.interrupt` does, and
        ``abort`` down every gateway's channel; unfinished nodes end ``interrupted``."""
        super().interrupt()
        if not self._busy:
            return
        self._interrupted = True
        for job in list(self._jobs):
            job.interrupted()
            if job.channel is not None and job.channel.alive:
                job.channel.abort_job(job.number)

    async def close(self) -> None:
        """Close the direct connections, and the gateways' channels if the pool is this
        task's own."""
        await super().close()
        if self._own_pool:
            await self.gateways.close()

    # -- the tree ------------------------------------------------------------------------

    def _clock(self) -> float:
        return time.monotonic() - self._origin

    def _emit(self, event: Any) -> None:
        super()._emit(event)
        if self._handler_error is not None and self._tree_error is None:
            self._tree_error = self._handler_error

    def _router_dead(self, gateway: str) -> None:
        if gateway not in self._router.dead:
            self._router.mark_dead(gateway)

    async def _tree(self, targets: list[str], steps: list[_Step], timeout: float | None,
                    direct: Callable[[NodeSet], Awaitable[TaskResult]]) -> TaskResult:
        """Do ``steps`` on ``targets``: the direct ones with ``direct``, the others through
        their gateways, each step on the nodes that passed the ones before."""
        if self._busy:
            raise UsageError("this task is already running an action")
        self._busy = True
        self._interrupted = False
        self._tree_error = None
        self._origin = time.monotonic()
        self._router = Router(self.topology)  # each action tries every gateway afresh
        selection = NodeSet.fromlist(targets, resolver=NO_GROUPS)
        plan = self._router.plan(selection)
        shares = plan.fanout(self.fanout)
        self._grouped = GroupCapture(self._emit, self.keep_output, self.max_output)
        self._runs = {node: _NodeRun(self, node) for node in selection - plan.direct}
        direct_result: TaskResult | None = None
        try:
            for node in plan.unreachable:
                self._runs[node].fail(ConnectError(node, "no live gateway leads to it"))
            for step in steps:
                await step.prepare()
            work: list[asyncio.Future[Any]] = [
                asyncio.ensure_future(self._through(gateway, list(part), shares[gateway],
                                                    steps, timeout))
                for gateway, part in plan.parts.items()]
            direct_part = None
            if plan.direct:
                direct_part = asyncio.ensure_future(self._direct(
                    direct, plan.direct, shares.get(plan.root, self.fanout)))
                work.append(direct_part)
            await self._settle(work)
            if direct_part is not None:
                direct_result = direct_part.result()
        finally:
            self._busy = False
        if self._tree_error is not None:
            raise self._tree_error
        results: list[NodeResult] = []
        for node in targets:
            run = self._runs.get(node)
            if run is None:
                assert direct_result is not None
                results.append(direct_result[node])
                continue
            if not run.ended:
                run.fail(Interrupted(node))
            results.append(run.result)
        self._runs = {}
        return TaskResult(results)

    async def _direct(self, direct: Callable[[NodeSet], Awaitable[TaskResult]], nodes: NodeSet,
                      share: int) -> TaskResult:
        """The direct nodes' part, ``share`` of the fan-out at work on them."""
        saved = self.fanout
        self.fanout = share
        try:
            return await direct(nodes)
        finally:
            self.fanout = saved

    async def _settle(self, work: list[asyncio.Future[Any]]) -> None:
        """Wait for every part; when one fails, or on cancellation (Ctrl-C from outside),
        stop the others and wait until their nodes ended before raising."""
        try:
            await asyncio.gather(*work)
        except BaseException:
            self.interrupt()
            await asyncio.gather(*work, return_exceptions=True)
            raise

    async def _through(self, gateway: str, nodes: list[str], share: int, steps: list[_Step],
                       timeout: float | None) -> None:
        """Do ``steps`` on ``nodes`` through ``gateway``; targets it never took on go to a
        live sibling, or fail with the reason when there is none."""
        for index, step in enumerate(steps):
            going = [n for n in nodes if not self._runs[n].ended]
            if not going:
                return
            if self._interrupted:
                for node in going:
                    self._runs[node].fail(Interrupted(node))
                return
            final = index == len(steps) - 1
            if step.problem is not None:
                for node in going:
                    run = self._runs[node]
                    run.start()
                    run.output("stderr", f"{step.problem}\n".encode())
                    run.exit(CopyFailed.rc)
                continue
            down = await self._job(gateway, going, share, step, final, timeout)
            if down is not None:
                await self._reroute(gateway, going, share, steps[index:], timeout, down)
                return

    async def _reroute(self, gateway: str, nodes: list[str], share: int, steps: list[_Step],
                       timeout: float | None, reason: str) -> None:
        """``gateway`` never took ``nodes`` on: hand them to its live siblings."""
        try:
            moved = self._router.reroute(gateway, NodeSet.fromlist(nodes, resolver=NO_GROUPS))
        except ValueError:  # not a first-level gateway's own targets: nowhere else to go
            moved = None
        if moved is None or not moved.parts:
            for node in nodes:
                self._runs[node].fail(ConnectError(node, f"gateway {gateway}: {reason}"))
            return
        for node in moved.stranded:
            self._runs[node].fail(ConnectError(node, f"gateway {gateway}: {reason}"))
        shares = moved.fanout(share)
        await asyncio.gather(*(self._through(sibling, list(part), shares[sibling], steps,
                                             timeout)
                               for sibling, part in moved.parts.items()))

    async def _job(self, gateway: str, nodes: list[str], share: int, step: _Step,
                   final: bool, timeout: float | None) -> str | None:
        """Do one step on ``nodes`` through ``gateway``; the reason when the gateway could
        not take it on (nothing ran: the nodes may go elsewhere), else None."""
        try:
            channel = await self.gateways.channel(gateway)
        except GatewayDown as exc:
            return exc.reason
        if self._interrupted:
            for node in nodes:
                self._runs[node].fail(Interrupted(node))
            return None
        # a command without stdin goes out a window at a time: twice the gateway's share
        # (one running, one waiting there), the rest as they end, so that targets a
        # gateway that dies never got go to a sibling
        window = 2 * share if step.action == "shell" and step.stdin is None else None
        job = _Job(self, gateway, nodes, step, final, timeout, window)
        payload = dict(step.payload)
        if step.action == "shell":
            payload["fanout"] = share
        if job.queued:
            payload["open"] = True
        try:
            job.number = channel.submit(step.action,
                                        NodeSet.fromlist(job.first, resolver=NO_GROUPS),
                                        payload, job)
        except GatewayDown as exc:
            return exc.reason
        job.channel = channel
        self._jobs.add(job)
        try:
            await self._feed(channel, job, step)
            await job.done
        finally:
            self._jobs.discard(job)
            channel.release(job.number)
        if job.leftover:  # the gateway died: what it never got goes elsewhere
            await self._reroute(gateway, job.leftover, share, [step], timeout, job.reason)
        return None

    async def _feed(self, channel: RootChannel, job: _Job, step: _Step) -> None:
        """Send the job's stdin (a command's, or a copy's tar stream), then its end."""
        try:
            if step.stdin is not None:
                await channel.write(job.number, step.stdin)
            elif step.tar is not None:
                fd = step.tar.fileno()
                offset = 0
                while chunk := os.pread(fd, _TAR_CHUNK, offset):
                    offset += len(chunk)
                    await channel.write(job.number, chunk)
                    if job.done.done():
                        return
            if step.stdin is not None or step.tar is not None:
                channel.eof(job.number)
        except OSError as exc:  # the link broke: the channel's end says the rest
            log.debug("[gw=%s] writing job %d: %s", job.gateway, job.number, exc)


# -- the blocking face ----------------------------------------------------------------------


class Task(_BlockingTask):
    """Run commands and copies through a propagation tree, blocking until each is done.

    ::

        with Task("node[1-200]", topology=gateways_topology("gw[1-2]")) as task:
            print(task.run("uptime").gather())

    Arguments as for :class:`TreeTask`. The gateways' channels stay open from one call
    to the next until :meth:`close`.
    """

    def __init__(self, nodes: NodeSet | str | Iterable[str],
                 transport: Transport | None = None, *, topology: Topology,
                 fanout: int = DEFAULT_FANOUT, command_timeout: float | None = None,
                 handlers: Sequence[Handler] = (), keep_connections: bool = True,
                 keep_output: bool | Literal["until_end"] = True,
                 max_output: int | None = DEFAULT_MAX_OUTPUT, live: bool = True,
                 merge: bool = False, settings: TreeSettings | None = None,
                 launcher: GatewayLauncher | None = None,
                 gateways: GatewayPool | None = None,
                 diagnostics: Callable[[str], None] | None = None) -> None:
        self.task = TreeTask(nodes, transport, topology=topology, fanout=fanout,
                             command_timeout=command_timeout, handlers=handlers,
                             keep_connections=keep_connections, keep_output=keep_output,
                             max_output=max_output, live=live, merge=merge, settings=settings,
                             launcher=launcher, gateways=gateways, diagnostics=diagnostics)

