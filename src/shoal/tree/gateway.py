"""The gateway: the process that runs on a gateway machine and speaks the channel on its
stdin and stdout.

:class:`Gateway` is the gateway's end of the channel (a
:class:`~shoal.tree.channel.Channel`). After ``STA`` it takes one ``CFG`` (its name, its
part of the topology and the :class:`Settings`), then jobs: each ``CTL`` names its
``job`` and ``target``, so several jobs run at once without mixing their stdin. A job's
targets are split with :mod:`shoal.tree.routing`: those this gateway reaches itself run
through :mod:`shoal.tree.workers` (``ssh``, or local processes), the others go to
next-level gateways (:mod:`shoal.tree.nexthop`), started on first use and kept for the
session. Each job's output is grouped by :mod:`shoal.tree.outbox` and flushed every
``gather_delay`` seconds; every target ends with one ``RET`` or ``TIM``.

A next-level gateway that cannot start, dies or stalls turns the targets it had been
given into ``RET status=lost`` (they may have run) or, when it never got them, hands
them to a live sibling, or reports them ``unreachable``; the reasons name it. When the
parent's stream ends or stalls, the gateway aborts every job, ends its subtree (child
gateways and target processes, by the process groups it started) and exits.

Faults (a malformed or unexpected message, a bad setting, an internal error) are
answered with ``ERR`` naming the message, and the gateway goes on; nothing but protocol
messages is written on stdout, and no traceback on the channel.

:func:`main` is the entry point of the code bundle's loader, of ``python -m
shoal.tree.gateway`` and of ``shoal gateway``.

Runs on the gateways: Python 3.6 and the standard library once annotations are
stripped; imports from shoal only :mod:`shoal.tree` modules, :mod:`shoal.nodeset`,
:mod:`shoal.engine.gather`, :mod:`shoal.hosts.sshargv`, :mod:`shoal.hosts.sshfail`,
:mod:`shoal.hosts.placing` and :mod:`shoal.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import stat
import sys
from typing import TYPE_CHECKING

from shoal.engine.gather import DEFAULT_MAX_OUTPUT
from shoal.errors import NodeSetError
from shoal.hosts.sshargv import FROM_CONFIG, login_args, option_args
from shoal.nodeset import NO_GROUPS, NodeSet
from shoal.tree.channel import Channel
from shoal.tree.messages import ACK, CFG, CTL, END, ERR, OUT, RET, SER, TIM
from shoal.tree.nexthop import NextHop, bundle_command
from shoal.tree.outbox import Outbox
from shoal.tree.routing import Router, Topology
from shoal.tree.workers import (
    RC_INTERRUPTED,
    LocalJob,
    LocalLauncher,
    Outcome,
    SSHLauncher,
    Stdin,
    Watchdog,
    copy_command,
    rcopy_command,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable
    from typing import Any

    from shoal.tree.channel import ByteReader, ByteWriter
    from shoal.tree.messages import Message
    from shoal.tree.workers import Launcher

__all__ = ["GATHER_STRETCH", "RC_LOST", "Gateway", "Settings", "main"]

logger = logging.getLogger(__name__)

#: the most ``gather_delay`` windows a ``gather`` job waits between two flushes
GATHER_STRETCH = 16

#: the return code of targets lost with their gateway, or never reached
RC_LOST = 255


class _Refused(Exception):
    """A message this gateway cannot act on: answered with ERR, the reason as text."""


def _number(value: Any, what: str, *, none: bool = False, positive: bool = True) -> Any:
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Refused("{} must be a number{}".format(what, " or null" if none else ""))
    if positive and value <= 0:
        raise _Refused(f"{what} must be more than 0")
    return value


def _typed(value: Any, kind: Any, what: str, *, none: bool = False) -> Any:
    if value is None and none:
        return None
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        names = {str: "text", bool: "true or false", int: "an integer", list: "a list"}
        raise _Refused("{} must be {}{}".format(what, names[kind], " or null" if none else ""))
    return value


_OPTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*\Z")


class Settings:
    """What the ``CFG`` payload's ``settings`` say, each key optional (defaults below).

    * ``gather_delay`` (0.25): seconds between two flushes of a job's output (for a
      ``gather`` job, the first wait: it doubles after each flush, to 16 times that);
    * ``heartbeat`` (5) and ``stall`` (30): seconds between heartbeats, and of silence
      after which a peer (the parent, a child gateway) is taken for dead; null: off;
    * ``transport`` (``"ssh"``): ``"local"`` runs each target's command here with
      ``sh -c``, ``SHOAL_NODE`` naming the target (tests, benchmarks);
    * ``ssh`` (``"ssh"``), ``ssh_options`` (``[[key, value], …]``, ``-o`` settings),
      ``ssh_config`` (a file, ``-F``), ``identities`` (files, ``-i``), ``known_hosts``,
      ``accept_new_host_keys`` (false), ``connect_timeout`` (seconds; null: no limit;
      absent: the ssh config decides), ``user``, ``port``: how ``ssh`` runs, always with
      ``BatchMode=yes`` and ``--`` before the node;
    * ``python`` (``"python3"``): the interpreter of next-level gateways (zero install);
    * ``gateway_command`` (null): the command that runs a next-level gateway instead,
      for installs that have shoal (``shoal gateway``); no code is sent then;
    * ``max_output`` (64 MiB): bytes of one target's output a ``gather`` job keeps.

    >>> s = Settings.from_dict({"transport": "local", "gather_delay": 0.1})
    >>> s.transport, s.gather_delay, s.stall
    ('local', 0.1, 30.0)
    >>> Settings.from_dict({"colour": 1})
    Traceback (most recent call last):
    ...
    shoal.tree.gateway._Refused: unknown setting: colour
    """

    __slots__ = ("accept_new_host_keys", "connect_timeout", "gateway_command",
                 "gather_delay", "heartbeat", "identities", "known_hosts", "max_output",
                 "port", "python", "raw", "ssh", "ssh_config", "ssh_options", "stall",
                 "transport", "user")

    def __init__(self) -> None:
        self.gather_delay = 0.25
        self.heartbeat: float | None = 5.0
        self.stall: float | None = 30.0
        self.transport = "ssh"
        self.ssh = "ssh"
        self.ssh_options: list[tuple[str, str]] = []
        self.ssh_config: str | None = None
        self.identities: list[str] = []
        self.known_hosts: str | None = None
        self.accept_new_host_keys = False
        self.connect_timeout: Any = FROM_CONFIG
        self.user: str | None = None
        self.port: int | None = None
        self.python = "python3"
        self.gateway_command: str | None = None
        self.max_output: int | None = DEFAULT_MAX_OUTPUT
        self.raw: dict[str, Any] = {}  #: the settings as received, for next-level gateways

    @classmethod
    def from_dict(cls, data: Any) -> Settings:
        """Settings from the ``CFG`` payload's ``settings``; raises :class:`_Refused`
        (one line naming the setting) for an unknown key or a bad value."""
        settings = cls()
        if data is None:
            return settings
        if not isinstance(data, dict):
            raise _Refused("settings must be an object")
        settings.raw = dict(data)
        for key, value in data.items():
            parse = _SETTINGS.get(key)
            if parse is None:
                raise _Refused(f"unknown setting: {key}")
            setattr(settings, key, parse(value, "setting " + key))
        return settings

    def launcher(self) -> Launcher:
        """How this gateway starts a process on a target (or a next-level gateway)."""
        if self.transport == "local":
            return LocalLauncher()
        args = option_args(self.ssh_options, config=self.ssh_config,
                           identities=self.identities, known_hosts=self.known_hosts,
                           accept_new_host_keys=self.accept_new_host_keys,
                           connect_timeout=self.connect_timeout)
        limit = self.connect_timeout if isinstance(self.connect_timeout, (int, float)) else None
        return SSHLauncher(self.ssh, args + login_args(self.user, self.port), limit)


def _options(value: Any, what: str) -> list[tuple[str, str]]:
    pairs = []
    for pair in _typed(value, list, what):
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(part, str) for part in pair)):
            raise _Refused(f"{what} must be a list of [key, value] pairs")
        key, text = pair
        if not _OPTION_NAME.match(key) or "\n" in text:
            raise _Refused(f"{what}: {key!r} is not an ssh option")
        pairs.append((key, text))
    return pairs


def _texts(value: Any, what: str) -> list[str]:
    items = _typed(value, list, what)
    if not all(isinstance(item, str) for item in items):
        raise _Refused(f"{what} must be a list of text")
    return list(items)


def _names(value: Any, what: str) -> list[str]:
    """The names of a copy's sources: one or more, each a plain file name."""
    names = _texts(value, what)
    if not names or any(name in ("", ".", "..") or "/" in name or "\0" in name
                        for name in names):
        raise _Refused(f"{what} must be a list of one or more file names")
    return names


def _choice(*allowed: str) -> Callable[[Any, str], str]:
    def parse(value: Any, what: str) -> str:
        if value not in allowed:
            raise _Refused("{} must be one of {}".format(what, ", ".join(allowed)))
        return str(value)
    return parse


def _port(value: Any, what: str) -> int | None:
    port = _typed(value, int, what, none=True)
    if port is None:
        return None
    if not 0 < port < 65536:
        raise _Refused(f"{what} must be a port number")
    return int(port)


_SETTINGS: dict[str, Callable[[Any, str], Any]] = {
    "gather_delay": lambda v, w: float(_number(v, w)),
    "heartbeat": lambda v, w: _number(v, w, none=True),
    "stall": lambda v, w: _number(v, w, none=True),
    "transport": _choice("ssh", "local"),
    "ssh": lambda v, w: _typed(v, str, w),
    "ssh_options": _options,
    "ssh_config": lambda v, w: _typed(v, str, w, none=True),
    "identities": _texts,
    "known_hosts": lambda v, w: _typed(v, str, w, none=True),
    "accept_new_host_keys": lambda v, w: _typed(v, bool, w),
    "connect_timeout": lambda v, w: _number(v, w, none=True),
    "user": lambda v, w: _typed(v, str, w, none=True),
    "port": _port,
    "python": lambda v, w: _typed(v, str, w),
    "gateway_command": lambda v, w: _typed(v, str, w, none=True),
    "max_output": lambda v, w: None if v is None else int(_number(v, w)),
}


def _payload(data: Any, action: str) -> dict[str, Any]:
    """A job's ``CTL`` payload, checked: every key known, of the right type, defaults
    filled in."""
    if not isinstance(data, dict):
        raise _Refused(f"the payload of {action} must be an object")
    known = _ACTIONS[action]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise _Refused(f"{action}: unknown key {unknown[0]}")
    checked = {}
    for key, (parse, default) in known.items():
        if key not in data:
            if default is _REQUIRED:
                raise _Refused(f"{action}: {key} is missing")
            checked[key] = default
        else:
            checked[key] = parse(data[key], f"{action}: {key}")
    return checked


def _at_least_one(value: Any, what: str) -> int:
    count = _typed(value, int, what)
    if count < 1:
        raise _Refused(f"{what} must be 1 or more")
    return int(count)


_REQUIRED = object()
_fanout = (_at_least_one, 64)
_timeout = (lambda v, w: _number(v, w, none=True), None)
_preserve = (lambda v, w: _typed(v, bool, w), False)
_ACTIONS: dict[str, dict[str, tuple[Callable[[Any, str], Any], Any]]] = {
    "shell": {"command": (lambda v, w: _typed(v, str, w), _REQUIRED), "timeout": _timeout,
              "stdin": (lambda v, w: _typed(v, bool, w), False),
              "mode": (_choice("gather", "stream"), "gather"), "fanout": _fanout,
              "merge": (lambda v, w: _typed(v, bool, w), False),
              "open": (lambda v, w: _typed(v, bool, w), False)},
    "copy": {"dest": (lambda v, w: _typed(v, str, w), _REQUIRED),
             "names": (_names, _REQUIRED), "into": (lambda v, w: _typed(v, bool, w), False),
             "preserve": _preserve, "timeout": _timeout, "fanout": _fanout},
    "rcopy": {"source": (lambda v, w: _typed(v, str, w), _REQUIRED),
              "dest_name": (lambda v, w: _typed(v, str, w), ""), "preserve": _preserve,
              "timeout": _timeout, "fanout": _fanout},
}


class _Job:
    """One job's state on this gateway."""

    def __init__(self, job: int, action: str, payload: dict[str, Any], outbox: Outbox,
                 names: list[str]) -> None:
        self.id = job
        self.action = action
        self.payload = payload
        self.outbox = outbox
        self.pending = set(names)  # targets without their RET or TIM yet
        self.targets = set(names)  # every target it was given
        self.open = bool(payload.get("open"))  # more targets may come (CTL more)
        self.aborted: set[str] = set()
        self.stdin: Stdin | None = None
        self.local: LocalJob | None = None
        self.parts: list[_Part] = []  # what next-level gateways run of it
        self.starting = True  # until its CTL is acknowledged: it may not end before
        # windows (of gather_delay) between two flushes, and how many passed since the last
        self.every = 1
        self.ticks = 0


class _Part:
    """The targets of a job given to one next-level gateway, as its job ``job``."""

    __slots__ = ("gateway", "job", "pending", "share")

    def __init__(self, gateway: str, job: int, pending: set[str], share: int) -> None:
        self.gateway = gateway
        self.job = job  # the job's number on that gateway's channel
        self.pending = pending  # targets without their RET or TIM yet
        self.share = share  # its fan-out share


class _HopStdin:
    """A job's stdin poured into a next-level gateway as ``CTL write`` and ``eof``: what
    :meth:`~shoal.tree.workers.Stdin.pour` writes to."""

    def __init__(self, hop: NextHop, job: int, target: str) -> None:
        self.hop = hop
        self.job = job
        self.target = target

    def write(self, data: bytes) -> None:
        self.hop.submit(CTL(job=self.job, action="write", target=self.target, data=data))

    async def drain(self) -> None:
        try:
            await self.hop.drain()
        except OSError as exc:
            raise BrokenPipeError(str(exc)) from exc

    def close(self) -> None:
        self.hop.submit(CTL(job=self.job, action="eof", target=self.target, data={}))


class Gateway(Channel):
    """The gateway's end of its parent's channel; see the module documentation.

    ``reader`` and ``writer`` carry the parent's stream (this process's stdin and
    stdout in :func:`main`). Its ``STA`` says its process id.
    """

    announce_pid = True

    def __init__(self, reader: ByteReader, writer: ByteWriter) -> None:
        super().__init__(reader, writer)  # CFG's heartbeat and stall hold from then on
        self.name: str | None = None  #: the name this gateway goes by (from CFG)
        self.settings = Settings()
        self.router: Router | None = None
        self.topology: Topology | None = None
        self.jobs: dict[int, _Job] = {}
        self.hops: dict[str, NextHop] = {}
        self._parts: dict[tuple[str, int], tuple[_Job, _Part]] = {}  # (gateway, its job)
        self._last_job = 0
        self._launcher: Launcher | None = None
        self._watchdog: Watchdog | None = None  # started with the first own targets
        self._flusher: asyncio.Future[None] | None = None
        self._background: set[asyncio.Future[None]] = set()
        self._over: asyncio.Future[None] | None = None  # set once the channel is over

    # the parent's messages

    async def recv(self, msg: Message) -> None:
        """Act on one of the parent's messages: ``CFG``, ``CTL`` or ``END``."""
        try:
            if isinstance(msg, CFG):
                self._configure(msg)
            elif isinstance(msg, CTL):
                self._control(msg)
            elif isinstance(msg, END):
                return
            elif isinstance(msg, ERR):
                logger.warning("the parent refused a message: %s", msg.reason)
                return
            else:
                raise _Refused(f"a gateway takes no {msg.TYPE}")
        except _Refused as exc:
            self.send(ERR(reason=str(exc), about=msg.msgid))
            return
        except Exception as exc:  # a fault of this gateway: said on the channel, not raised
            logger.debug("internal error on %s", msg.TYPE, exc_info=True)
            self.send(ERR(reason=f"internal error: {type(exc).__name__}: {exc}",
                          about=msg.msgid))
            return
        self.send(ACK(ack=msg.msgid))

    def _configure(self, msg: CFG) -> None:
        if self.name is not None:
            raise _Refused("already configured (CFG came twice)")
        data = msg.data
        if not isinstance(data, dict) or set(data) - {"topology", "settings"}:
            raise _Refused('CFG takes an object with "topology" and "settings"')
        settings = Settings.from_dict(data.get("settings"))
        topology = None
        if data.get("topology") is not None:
            try:
                topology = Topology.from_dict(data["topology"])
            except ValueError as exc:
                raise _Refused(str(exc)) from exc
            if topology.root != msg.gateway:
                raise _Refused(f'the topology is rooted at "{topology.root}", not at this '
                               f'gateway "{msg.gateway}"')
        self.name = msg.gateway
        self.settings = settings
        self.topology = topology
        self.router = Router(topology) if topology is not None else None
        self._launcher = settings.launcher()
        self.heartbeat = settings.heartbeat
        self.stall = settings.stall
        self._flusher = asyncio.ensure_future(self._flush_every(settings.gather_delay))

    def _control(self, msg: CTL) -> None:
        if self.name is None:
            raise _Refused("CTL before CFG")
        if msg.action in _ACTIONS:
            self._start_job(msg)
            return
        job = self.jobs.get(msg.job)
        if msg.action not in ("write", "eof", "abort", "more"):
            raise _Refused(f"no such action: {msg.action}")
        if job is None:
            if 0 < msg.job <= self._last_job:
                return  # a job that is over: nothing left to act on
            raise _Refused(f"no job {msg.job}")
        if msg.action == "write":
            if not isinstance(msg.data, bytes):
                raise _Refused("write takes bytes")
            if job.stdin is not None:
                job.stdin.write(msg.data)
        elif msg.action == "eof":
            if job.stdin is not None:
                job.stdin.close()
        elif msg.action == "more":
            self._more(job, msg)
        else:
            self._abort(job, msg.target)

    # jobs

    def _start_job(self, msg: CTL) -> None:
        if msg.job in self.jobs or msg.job <= 0:
            raise _Refused(f"job {msg.job} already exists" if msg.job > 0
                           else "job numbers start at 1")
        payload = _payload(msg.data, msg.action)
        targets = _targets(msg.target)
        mode = {"shell": payload.get("mode"), "copy": "gather", "rcopy": "raw"}[msg.action]
        outbox = Outbox(msg.job, mode or "gather", max_output=self.settings.max_output,
                        merge=bool(payload.get("merge")))
        if payload.get("open") and payload.get("stdin"):
            raise _Refused("shell: a job with stdin takes all its targets at once")
        job = _Job(msg.job, msg.action, payload, outbox, list(targets))
        self.jobs[msg.job] = job
        self._last_job = max(self._last_job, msg.job)
        self._route(job, targets, first=True)
        # after the ACK: a job that is over at once (every target unreachable) ends then
        asyncio.get_event_loop().call_soon(self._started, job)

    def _route(self, job: _Job, targets: NodeSet, first: bool) -> None:
        """Start ``targets`` of ``job``: here, through next-level gateways, or none."""
        payload = job.payload
        if self.router is not None:
            plan = self.router.plan(targets)
            direct, parts, unreachable = plan.direct, plan.parts, plan.unreachable
            shares = plan.fanout(payload["fanout"])
            own = shares.get(plan.root, 1)
        else:
            direct, parts, unreachable = targets, {}, NodeSet(resolver=NO_GROUPS)
            own, shares = payload["fanout"], {}
        if first and (job.action == "copy" or payload.get("stdin")):
            job.stdin = Stdin(waiting=len(direct) + len(parts))
        for name in unreachable:
            self._ended(job, name, Outcome(RC_LOST, "unreachable",
                                           "no live gateway to reach it"))
        for gateway, part in parts.items():
            self._give(job, gateway, part, shares.get(gateway, 1))
        if direct:
            if job.local is None:
                self._run_here(job, direct, own)
            else:
                job.local.add(direct)

    def _more(self, job: _Job, msg: CTL) -> None:
        """More targets for an open job; ``last``: no more after these."""
        if not job.open:
            raise _Refused(f"job {job.id} takes no more targets")
        data = msg.data
        if not isinstance(data, dict) or set(data) - {"last"} or \
                not isinstance(data.get("last", False), bool):
            raise _Refused('more takes an object with "last" (true or false)')
        targets = _targets(msg.target) if msg.target else NodeSet(resolver=NO_GROUPS)
        names = set(targets)
        if names & job.targets:
            raise _Refused(f"job {job.id} has {_fold(names & job.targets)} already")
        job.targets |= names
        job.pending |= names
        if data.get("last", False):
            job.open = False
        self._route(job, targets, first=False)
        self._check_done(job)

    def _started(self, job: _Job) -> None:
        job.starting = False
        self._check_done(job)

    def _command(self, job: _Job) -> str:
        payload = job.payload
        if job.action == "shell":
            return str(payload["command"])
        if job.action == "copy":
            return copy_command(payload["dest"], payload["names"], payload["into"],
                                payload["preserve"])
        return rcopy_command(payload["source"])

    def _run_here(self, job: _Job, targets: NodeSet, fanout: int) -> None:
        assert self._launcher is not None

        def on_output(node: str, stream: str, data: bytes) -> None:
            job.outbox.output(node, stream, data)
            if job.outbox.urgent:
                self._flush(job)

        if self._watchdog is None:
            self._watchdog = Watchdog.start()
        job.local = LocalJob(self._launcher, list(targets), self._command(job),
                             on_output=self._guarded(on_output),
                             on_done=self._guarded(lambda n, o: self._ended(job, n, o)),
                             fanout=fanout, timeout=job.payload["timeout"], stdin=job.stdin,
                             throttle=self._room, watchdog=self._watchdog)
        job.local.start()

    async def _room(self) -> None:
        """Wait while the parent's stream has more waiting to go out than it should, or
        until the channel is over (a parent that stopped reading is taken for dead)."""
        if self.done:
            return
        if self._over is None:
            self._over = asyncio.get_event_loop().create_future()
        drain = asyncio.ensure_future(self.drain())
        await asyncio.wait([drain, self._over], return_when=asyncio.FIRST_COMPLETED)
        if drain.done():
            if not drain.cancelled():
                drain.exception()  # an OSError: the parent is gone, the channel's end says so
        else:
            drain.cancel()

    def _guarded(self, callback: Callable[..., None]) -> Callable[..., None]:
        """``callback``, its exceptions turned into ``ERR`` rather than lost in a task."""
        def run(*args: Any) -> None:
            try:
                callback(*args)
            except Exception as exc:
                logger.debug("internal error", exc_info=True)
                self.send(ERR(reason=f"internal error: {type(exc).__name__}: {exc}"))
        return run

    def _ended(self, job: _Job, node: str, outcome: Outcome) -> None:
        """``node`` of ``job`` is over (a target of this gateway's own)."""
        if node not in job.pending:
            return
        job.pending.discard(node)
        job.outbox.ended(node, outcome.retcode, outcome.status, outcome.reason)
        self._check_done(job)

    def _check_done(self, job: _Job) -> None:
        """Flush a job whose every target is over, at once, and forget it."""
        if (not job.pending and not job.starting and not job.open
                and self.jobs.get(job.id) is job):
            self._flush(job)
            del self.jobs[job.id]
            if job.stdin is not None:
                job.stdin.close()  # what still pours it into next-level gateways stops
            if job.local is not None:  # remote commands it stopped may still be ending
                self._spawn(job.local.wait())

    def _flush(self, job: _Job) -> None:
        for msg in job.outbox.flush():
            self.send(msg)

    async def _flush_every(self, delay: float) -> None:
        """Flush each job's output every ``delay`` seconds; a ``gather`` job's wait doubles
        after each flush, up to :data:`GATHER_STRETCH` windows, once it has all its
        targets: nothing shows its output before the end, so its messages only move the
        root's progress, and a long run sends a few of them, not one per window. While
        the job is open, the root sends more targets as it hears of ends: no waiting then."""
        while not self.done:
            await asyncio.sleep(delay)
            for job in list(self.jobs.values()):
                job.ticks += 1
                if job.outbox.empty or job.ticks < job.every:
                    continue
                self._flush(job)
                job.ticks = 0
                if job.outbox.mode == "gather" and not job.open:  # open: the root sends
                    job.every = min(job.every * 2, GATHER_STRETCH)  # more as targets end
            try:
                await self.drain()
            except OSError:
                return

    def _abort(self, job: _Job, target: str) -> None:
        if not target:  # all of the job, and all it could still be given
            job.open = False
        chosen = set(_targets(target)) & job.pending if target else set(job.pending)
        job.aborted |= chosen
        if job.local is not None:
            job.local.abort(chosen)
        for part in job.parts:
            names = chosen & part.pending
            hop = self.hops.get(part.gateway)
            if names and hop is not None:
                hop.submit(CTL(job=part.job, action="abort", target=_fold(names), data={}))
        self._check_done(job)  # a job closed with nothing left under way ends now

    # next-level gateways

    def _hop(self, gateway: str) -> NextHop:
        hop = self.hops.get(gateway)
        if hop is not None:
            return hop
        assert self.topology is not None and self._launcher is not None
        settings = self.settings
        if settings.gateway_command is not None:
            command, preamble = settings.gateway_command, b""
        else:
            command, preamble = bundle_command(settings.python)
        config = {"topology": self.topology.part(gateway).to_dict(), "settings": settings.raw}
        hop = NextHop(gateway, self._launcher, command, preamble, config,
                      on_message=self._guarded(self._from_hop),
                      on_lost=self._guarded(self._hop_lost), throttle=self._room,
                      heartbeat=settings.heartbeat, stall=settings.stall)
        self.hops[gateway] = hop
        hop.launch()
        return hop

    def _give(self, job: _Job, gateway: str, targets: NodeSet, share: int) -> None:
        """Give ``targets`` of ``job`` to the next-level ``gateway``, as a job of its
        own there (a sibling taking over from a dead gateway may have one already)."""
        names = set(targets) - job.aborted
        if not names:
            if job.stdin is not None:
                job.stdin.released()
            return
        hop = self._hop(gateway)
        hop.jobs += 1
        part = _Part(gateway, hop.jobs, names, share)
        job.parts.append(part)
        self._parts[(gateway, part.job)] = (job, part)
        payload = dict(job.payload, fanout=share)
        target = _fold(names)
        if not hop.submit(CTL(job=part.job, action=job.action, target=target, data=payload)):
            self._undelivered(job, part, f"gateway {gateway}: gone")
            return
        if job.stdin is not None:
            self._spawn(self._pour(job, hop, part.job, target))

    async def _pour(self, job: _Job, hop: NextHop, child_job: int, target: str) -> None:
        """Forward ``job``'s stdin to ``hop`` once it is ready (its part counts as one
        reader until then)."""
        stdin = job.stdin
        assert stdin is not None
        if not await hop.wait_ready():
            return  # _undelivered accounts for the part
        await stdin.pour(stdin.attach(), _HopStdin(hop, child_job, target))

    def _from_hop(self, hop: NextHop, msg: Message) -> None:
        """A message a next-level gateway sent up."""
        if isinstance(msg, ERR):
            ctl = hop.refused(msg.about)
            msg.about = None
            msg.msgid = 0
            found = self._parts.get((hop.name, ctl.job)) if ctl is not None else None
            if found is None:
                self.send(msg)
                return
            job, part = found
            for name in sorted(part.pending):
                self._relayed_end(job, part, name)
                job.outbox.ended(name, RC_LOST, "internal", msg.reason)
            self._check_done(job)
            return
        if not isinstance(msg, (OUT, SER, RET, TIM)):
            self.send(ERR(reason=f"{hop.name}: unexpected {msg.TYPE}"))
            return
        found = self._parts.get((hop.name, msg.job))
        if found is None:
            return
        job, part = found
        names = set(_targets(msg.nodes))
        mine = names & part.pending
        if not mine:
            return  # nodes that are over (or never were its): nothing more of them counts
        msg.job = job.id
        if mine != names:
            msg.nodes = _fold(mine)
        job.outbox.relay(msg, mine)
        if isinstance(msg, (RET, TIM)):
            for name in mine:
                self._relayed_end(job, part, name)
            self._check_done(job)
        elif job.outbox.urgent:
            self._flush(job)

    def _relayed_end(self, job: _Job, part: _Part, name: str) -> None:
        if name in part.pending:
            part.pending.discard(name)
            job.pending.discard(name)
        if not part.pending:
            self._parts.pop((part.gateway, part.job), None)
            hop = self.hops.get(part.gateway)
            if hop is not None:
                hop.forget(part.job)

    def _hop_lost(self, hop: NextHop, reason: str) -> None:
        """A next-level gateway is gone: its targets are lost, or go elsewhere if it never
        had them."""
        if self.hops.get(hop.name) is hop:
            del self.hops[hop.name]
        if self.router is not None:
            self.router.mark_dead(hop.name)
        for job in list(self.jobs.values()):
            for part in [p for p in job.parts if p.gateway == hop.name and p.pending]:
                if hop.ready:
                    for name in sorted(part.pending):
                        self._relayed_end(job, part, name)
                        job.outbox.ended(name, RC_LOST, "lost", reason)
                    self._check_done(job)
                else:
                    self._undelivered(job, part, reason)
        # a child that never got going has nothing of its own to clean up: no grace
        self._spawn(hop.shutdown() if hop.ready else hop.shutdown(grace=0))

    def _spawn(self, work: Awaitable[None]) -> None:
        """Run ``work`` in a task this gateway keeps until it is over."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _undelivered(self, job: _Job, part: _Part, reason: str) -> None:
        """The gateway of ``part`` never got it: a sibling takes it, else it is
        unreachable."""
        names = set(part.pending)
        part.pending.clear()
        self._parts.pop((part.gateway, part.job), None)
        interrupted = names & job.aborted
        for name in sorted(interrupted):
            self._ended(job, name, Outcome(RC_INTERRUPTED, "interrupted", "interrupted"))
        stranded = names - interrupted
        if stranded and self.router is not None:
            try:
                reroute = self.router.reroute(part.gateway, NodeSet.fromlist(
                    sorted(stranded), resolver=NO_GROUPS))
            except ValueError:
                reroute = None
            if reroute is not None:
                stranded = set(reroute.stranded)
                shares = reroute.fanout(part.share) if reroute.parts else {}
                if job.stdin is not None:
                    job.stdin.expect(len(reroute.parts))
                for sibling, targets in reroute.parts.items():
                    self._give(job, sibling, targets, shares.get(sibling, 1))
        if job.stdin is not None:
            job.stdin.released()
        for name in sorted(stranded):
            self._ended(job, name, Outcome(RC_LOST, "unreachable", reason))
        self._check_done(job)

    # the end

    async def on_closed(self, reason: str | None) -> None:
        """The parent's channel is over: abort every job, end the subtree."""
        if reason is not None:
            logger.debug("the parent's channel ended: %s", reason)
        if self._flusher is not None:
            self._flusher.cancel()
        if self._over is not None and not self._over.done():
            self._over.set_result(None)
        for job in list(self.jobs.values()):
            if job.local is not None:
                job.local.abort()
        await asyncio.gather(*(hop.shutdown() for hop in list(self.hops.values())),
                             *list(self._background), return_exceptions=True)
        waits = [job.local.wait() for job in list(self.jobs.values()) if job.local is not None]
        await asyncio.gather(*waits)
        if self._watchdog is not None:
            self._watchdog.close()


def _targets(text: str) -> NodeSet:
    """The node set ``text`` from the wire: parsed without groups, names checked."""
    try:
        return NodeSet(text, resolver=NO_GROUPS)
    except NodeSetError as exc:
        raise _Refused(str(exc)) from exc


def _fold(names: Iterable[str]) -> str:
    return str(NodeSet.fromlist(sorted(names), resolver=NO_GROUPS))


class _Pipes:
    """This process's stdin and stdout as the channel's byte streams; fds 0 and 1 are
    pointed at /dev/null so that nothing else writes into the channel."""

    @staticmethod
    async def open() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """The reader and writer; raises ValueError if stdin or stdout is no pipe."""
        for fd, name in ((0, "stdin"), (1, "stdout")):
            mode = os.fstat(fd).st_mode
            if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
                raise ValueError(f"{name} is not a pipe")
        loop = asyncio.get_event_loop()
        channel_in = os.fdopen(os.dup(0), "rb", buffering=0)
        channel_out = os.fdopen(os.dup(1), "wb", buffering=0)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.close(null)
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), channel_in)
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, channel_out)
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
        return reader, writer


async def _serve() -> int:
    loop = asyncio.get_event_loop()
    try:
        reader, writer = await _Pipes.open()
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"shoal gateway: {exc} (the tree protocol runs on pipes; a root or a "
                         "parent gateway starts the gateway)\n")
        return 2
    gateway = Gateway(reader, writer)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        loop.add_signal_handler(signum, gateway.abort,
                                f"stopped by signal {signum}")
    try:
        await gateway.start()
    except Exception as exc:  # the handshake failed: ERR and END are on their way
        logger.debug("handshake failed: %s", exc)
    await gateway.wait_closed()
    with contextlib.suppress(OSError):
        await writer.drain()
    writer.close()
    return 0 if gateway.reason is None else 1


def main() -> int:
    """Run a gateway on this process's stdin and stdout until its parent goes; the exit
    status (0: the channel ended cleanly)."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="shoal gateway: %(message)s")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_serve())
    finally:
        loop.close()


if __name__ == "__main__":
    sys.exit(main())
