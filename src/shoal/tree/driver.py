"""The root's end of the tree: one :class:`RootChannel` per first-level gateway.

A :class:`GatewayLauncher` says how a gateway's process starts on it
(:class:`SSHGatewayLauncher`: the system ``ssh``, as the ``openssh`` transport runs it;
:class:`LocalGatewayLauncher`: on this machine). :meth:`RootChannel.open` runs the
gateway's loader there (``python3 -c '<loader>'``), writes its code bundle on the
process's stdin, then speaks the channel over the same pipes: ``STA`` both ways, ``CFG``
and its ``ACK``. The gateway's stderr and its ``ERR`` messages reach :attr:`diagnostics`,
each line prefixed with the gateway's name (``gw1: …``).

Jobs (:meth:`RootChannel.submit`) each name their targets; the gateway's messages about a
job go to its :class:`JobSink`. When the channel ends before a job did (the gateway
died, stalled past ``stall`` seconds without a heartbeat, sent garbage or never came
up), the sink hears :meth:`JobSink.lost` with the reason, once. A :class:`GatewayPool`
keeps the channels of a session open across jobs and commands, so that a gateway is
bootstrapped once.

Imports :mod:`shoal.hosts` and the tree's protocol modules; no higher layer.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from shoal.errors import MessageProcessingError
from shoal.hosts.base import ConnectOptions
from shoal.hosts.sshargv import ssh_argv
from shoal.nodeset import NodeSet
from shoal.tree.channel import HEARTBEAT, STALL, Channel
from shoal.tree.messages import ACK, CFG, CTL, END, ERR, OUT, RET, SER, TIM, Message

__all__ = ["DEFAULT_GATHER_DELAY", "GatewayDown", "GatewayLauncher", "GatewayPool",
           "JobSink", "LocalGatewayLauncher", "RootChannel", "SSHGatewayLauncher",
           "TreeSettings"]

log = logging.getLogger(__name__)

#: Seconds a gateway waits between two flushes of grouped output, unless told otherwise.
DEFAULT_GATHER_DELAY = 0.1

#: Lines of a gateway's stderr kept to say why it failed.
_STDERR_TAIL = 5
#: Seconds to wait for a killed gateway's pipes to close.
_KILL_WAIT = 5.0
#: Bytes of stdin sent in one ``write`` message.
WRITE_CHUNK = 256 * 1024


@dataclass(frozen=True)
class TreeSettings:
    """How the root runs its gateways; one object shared by every channel of a session.

    :param heartbeat: seconds between heartbeats, both ways (at most a third of
        ``stall``: see :attr:`beat`).
    :param stall: seconds of silence after which a gateway is taken for dead, counted
        from the last byte it sent; before its first one (``ssh`` connecting, Python
        starting) it has :data:`~shoal.tree.channel.STARTUP` seconds if that is longer.
    :param gather_delay: seconds a gateway groups output before sending it up.
    :param python: the Python a gateway runs its loader with.
    :param gateway_command: the command that runs a gateway, for installs that have shoal
        (``shoal gateway``); no code is sent then. None: zero install, the loader run
        by ``python`` reads the gateway's code on its stdin.
    :param gateway_settings: settings for the gateways themselves, sent in ``CFG``
        (how they reach their own targets: ``ssh_options``, ``transport``…).
    """

    heartbeat: float = HEARTBEAT
    stall: float = STALL
    gather_delay: float = DEFAULT_GATHER_DELAY
    python: str = "python3"
    gateway_command: str | None = None
    gateway_settings: tuple[tuple[str, Any], ...] = ()

    @property
    def beat(self) -> float:
        """The heartbeat the links use: ``heartbeat``, or a third of ``stall`` when that is
        shorter, so that a healthy peer is never silent for ``stall`` seconds.

        >>> TreeSettings(heartbeat=5, stall=3).beat
        1.0
        """
        return min(self.heartbeat, self.stall / 3)


class GatewayDown(Exception):
    """A gateway's channel could not be opened or ended; ``reason`` says why, on one line."""

    def __init__(self, gateway: str, reason: str) -> None:
        self.gateway = gateway
        self.reason = reason
        super().__init__(f"{gateway}: {reason}")


# -- starting a gateway's process -----------------------------------------------------------


class GatewayLauncher(abc.ABC):
    """How a command starts on a gateway, its stdin and stdout being the channel."""

    @abc.abstractmethod
    def argv(self, gateway: str, command: str) -> list[str]:
        """The local program and arguments that run the shell ``command`` on ``gateway``."""

    async def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release what the launcher holds (temporary files)."""


class SSHGatewayLauncher(GatewayLauncher):
    """Start gateways with the system ``ssh``, as the ``openssh`` transport reaches nodes
    (the same settings from :class:`~shoal.hosts.ConnectOptions`, ``BatchMode``, ``--``
    before the gateway's name)."""

    def __init__(self, options: ConnectOptions | None = None, *, ssh: str = "ssh") -> None:
        from shoal.hosts.openssh import OpenSSHTransport

        self._transport = OpenSSHTransport(options, ssh=ssh)

    def argv(self, gateway: str, command: str) -> list[str]:
        """``ssh [shoal's settings] -- GATEWAY COMMAND``."""
        return ssh_argv(self._transport.ssh, self._transport.ssh_args(), gateway, [command])

    async def close(self) -> None:
        """Remove the transport's temporary files."""
        await self._transport.close()


class LocalGatewayLauncher(GatewayLauncher):
    """Run every gateway on this machine (tests, benchmarks, a local fan-out).

    >>> LocalGatewayLauncher().argv("gw1", "python3 -c pass")
    ['/bin/sh', '-c', 'python3 -c pass']
    """

    def argv(self, gateway: str, command: str) -> list[str]:
        """``/bin/sh -c COMMAND``."""
        return ["/bin/sh", "-c", command]


# -- one job's messages ---------------------------------------------------------------------


class JobSink(Protocol):
    """What hears about one job on a channel."""

    def acked(self, target: str) -> None:
        """The gateway took ``target`` (folded) of the job on: its first ``CTL``, or a
        ``more``, was acknowledged."""

    def message(self, msg: OUT | SER | RET | TIM) -> None:
        """Output, an end or a timeout of some of the job's targets."""

    def refused(self, reason: str) -> None:
        """The gateway refused the job's ``CTL`` (it answered ``ERR``): nothing ran."""

    def lost(self, reason: str) -> None:
        """The channel ended before the job did; ``reason`` says why."""


@dataclass
class _Job:
    sink: JobSink
    msgid: int  # of the CTL that started it
    target: str  # its first targets, folded
    more: dict[int, str] = field(default_factory=dict)  # msgid -> targets, of its CTL more


# -- the channel ----------------------------------------------------------------------------


class RootChannel(Channel):
    """The root's channel to one first-level gateway, over the pipes of its ``process``.

    Build it with :meth:`launch`, which starts the process, then :meth:`open` it.

    :param gateway: the gateway's name (as the topology says it, and ``CFG`` tells it).
    :param process: the local process whose stdin and stdout carry the channel (``ssh``,
        or the gateway itself), started with three pipes.
    :param bundle: the bytes its loader reads on stdin before the channel begins.
    :param config: the ``CFG`` payload: ``{"topology": …, "settings": …}``.
    :param diagnostics: receives each line the gateway prints on stderr or sends as ``ERR``,
        prefixed with its name.
    """

    def __init__(self, gateway: str, process: asyncio.subprocess.Process, *, bundle: bytes,
                 config: dict[str, Any], settings: TreeSettings = TreeSettings(),
                 diagnostics: Callable[[str], None] | None = None) -> None:
        assert process.stdin and process.stdout and process.stderr
        super().__init__(process.stdout, process.stdin, heartbeat=settings.beat,
                         stall=settings.stall)
        self.gateway = gateway
        self.process = process
        self.bundle = bundle
        self.config = config
        self.settings = settings
        self.diagnostics = diagnostics or _to_stderr
        self._jobs: dict[int, _Job] = {}
        self._next_job = 0
        self._cfg_msgid = 0
        self._configured: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stderr_tail: deque[str] = deque(maxlen=_STDERR_TAIL)
        self._stderr_task = asyncio.ensure_future(self._read_stderr(process.stderr))
        self._exited = asyncio.ensure_future(process.wait())
        self._opened = False
        self._stalled = False

    @classmethod
    async def launch(cls, gateway: str, launcher: GatewayLauncher, loader: str, *,
                     bundle: bytes, config: dict[str, Any],
                     settings: TreeSettings = TreeSettings(),
                     diagnostics: Callable[[str], None] | None = None) -> RootChannel:
        """Start ``loader`` (the shell command that runs the gateway's loader) on
        ``gateway`` and return the channel over its pipes, not opened yet.

        :raises GatewayDown: the local program could not be run.
        """
        argv = launcher.argv(gateway, loader)
        try:
            process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise GatewayDown(gateway, f"cannot run {argv[0]}: {exc.strerror}") from exc
        return cls(gateway, process, bundle=bundle, config=config, settings=settings,
                   diagnostics=diagnostics)

    @property
    def pid(self) -> int | None:
        """The gateway's process id on the gateway, as its ``STA`` says (None: not said)."""
        value = self.peer.pid if self.peer is not None else None
        return value if value is not None and value > 0 else None

    @property
    def alive(self) -> bool:
        """Whether the channel is up and configured, and has not ended."""
        return self._opened and not self.done and not self.closing

    async def open(self) -> None:
        """Send the gateway's code, exchange ``STA`` and have ``CFG`` acknowledged.

        :raises GatewayDown: the gateway could not be started, refused, stalled, ended or
            spoke another protocol; the reason names what happened.
        """
        self.writer.write(self.bundle)
        try:
            await self.start()
            self._cfg_msgid = self.send(CFG(gateway=self.gateway, data=self.config))
            await self.drain()
            await self._configured
        except (MessageProcessingError, OSError) as exc:
            if not self.done:
                self.abort(self._why(str(exc)))
            await self.wait_closed()
            raise GatewayDown(self.gateway, self.reason or str(exc)) from exc
        if self.done:
            await self.wait_closed()
            raise GatewayDown(self.gateway, self.reason or "the gateway ended the channel")
        self._opened = True

    def submit(self, action: str, target: NodeSet, data: Any, sink: JobSink) -> int:
        """Send a job's ``CTL`` and return the job's number; ``sink`` hears about it.

        :raises GatewayDown: the channel has ended.
        """
        if self.done or self.closing:
            raise GatewayDown(self.gateway, self.reason or "the channel is closed")
        self._next_job += 1
        job = self._next_job
        text = str(target)
        msgid = self.send(CTL(job=job, action=action, target=text, data=data))
        self._jobs[job] = _Job(sink, msgid, text)
        return job

    async def write(self, job: int, data: bytes) -> None:
        """Send ``data`` for the job's stdin, in pieces, waiting for room as it goes."""
        target = self._target(job)
        for start in range(0, len(data), WRITE_CHUNK):
            if job not in self._jobs or self.done:
                return
            self.send(CTL(job=job, action="write", target=target,
                          data=data[start:start + WRITE_CHUNK]))
            await self.drain()

    def eof(self, job: int) -> None:
        """Close the job's stdin."""
        if job in self._jobs and not self.done:
            self.send(CTL(job=job, action="eof", target=self._target(job)))

    def more(self, job: int, target: NodeSet, last: bool) -> bool:
        """Give an open job (``open`` in its payload) more targets; ``last``: no more after
        these. The sink hears :meth:`JobSink.acked` for them once the gateway has them.
        False: the channel is over, nothing was sent."""
        if job not in self._jobs or self.done or self.closing:
            return False
        text = str(target)
        msgid = self.send(CTL(job=job, action="more", target=text, data={"last": last}))
        self._jobs[job].more[msgid] = text
        return True

    def abort_job(self, job: int, target: NodeSet | None = None) -> None:
        """Ask the gateway to stop the job on ``target`` (by default all of it, and all
        an open job could still be given)."""
        if job in self._jobs and not self.done:
            self.send(CTL(job=job, action="abort", target="" if target is None else str(target)))

    def release(self, job: int) -> None:
        """Forget a job that ended: later messages about it are ignored."""
        self._jobs.pop(job, None)

    def _target(self, job: int) -> str:
        """The target named in a job's later ``CTL``s: all of the job's."""
        return self._jobs[job].target

    # -- the peer's messages ------------------------------------------------------------

    async def recv(self, msg: Message) -> None:
        """Route one of the gateway's messages."""
        if isinstance(msg, (OUT, SER, RET, TIM)):
            job = self._jobs.get(msg.job)
            if job is not None:
                job.sink.message(msg)
            else:
                log.debug("[gw=%s] %s for unknown job %d", self.gateway, msg.TYPE, msg.job)
        elif isinstance(msg, ACK):
            self._acked(msg.ack)
        elif isinstance(msg, ERR):
            self._error(msg)
        elif not isinstance(msg, END):
            log.debug("[gw=%s] unexpected %s", self.gateway, msg.TYPE)

    def _acked(self, msgid: int) -> None:
        if msgid == self._cfg_msgid:
            if not self._configured.done():
                self._configured.set_result(None)
            return
        for job in self._jobs.values():
            if job.msgid == msgid:
                job.sink.acked(job.target)
                return
            text = job.more.pop(msgid, None)
            if text is not None:
                job.sink.acked(text)
                return

    def _error(self, msg: ERR) -> None:
        self.diagnostics(f"{self.gateway}: {msg.reason}")
        if msg.about is None:
            return
        if msg.about == self._cfg_msgid:
            self.abort(f"refused its configuration: {msg.reason}")
            return
        for number, job in list(self._jobs.items()):
            if job.msgid == msg.about or msg.about in job.more:
                self._jobs.pop(number)
                job.sink.refused(msg.reason)
                return

    async def on_fault(self, error: MessageProcessingError) -> None:
        """A message of the gateway's was refused: say so, prefixed with its name."""
        self.diagnostics(f"{self.gateway}: refused a message from it: {error}")

    async def on_stall(self) -> None:
        """The gateway sent nothing for ``stall`` seconds: it is dead, its process goes now."""
        self._stalled = True
        await super().on_stall()

    async def on_closed(self, reason: str | None) -> None:
        """The channel ended: the gateway's process goes, every job not done is lost."""
        # a stalled gateway will not exit by itself; one that ended its stream soon does
        await self._stop_process(0.0 if self._stalled else self.settings.stall)
        reason = self._why(reason) if reason is not None else None
        if reason is not None:
            self.reason = reason
        if not self._configured.done():  # open() sees the channel done
            self._configured.set_result(None)
        jobs, self._jobs = self._jobs, {}
        for job in jobs.values():
            job.sink.lost(reason or "the gateway ended the channel")

    def _why(self, reason: str | None) -> str:
        """The reason the channel ended, with the gateway's last words when they say more."""
        text = reason or "the gateway ended the channel"
        last = self._stderr_tail[-1] if self._stderr_tail else None
        if self.peer is None and last:  # never got going: what it printed says why
            return last
        if text.startswith("the peer's stream ended") and self._exited.done():
            status = self._exited.result()
            text = ("the gateway's process was killed by signal "
                    f"{signal.Signals(-status).name}" if status < 0 else
                    f"the gateway's process exited with status {status}")
            if last:
                text += f" ({last})"
        return text

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            if text:
                self._stderr_tail.append(text)
                self.diagnostics(f"{self.gateway}: {text}")

    async def _stop_process(self, grace: float) -> None:
        """Close the process's stdin and give it ``grace`` seconds to exit, then kill its
        process group (the local shell and what it started, stopped or not).

        The wait ends once the pipes are closed: a process that escaped the group and
        holds them is given up after :data:`_KILL_WAIT` seconds, with a warning.
        """
        proc = self.process
        if proc.stdin is not None:
            proc.stdin.close()
        if not await _within(self._exited, grace):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            if not await _within(self._exited, _KILL_WAIT):
                log.warning("[gw=%s] pipes of process %d still open after SIGKILL",
                            self.gateway, proc.pid)
        await _within(self._stderr_task, 1.0)

    async def aclose(self) -> None:
        """End the channel cleanly (``END`` both ways) and wait for the gateway to exit."""
        if not self.done:
            await self.close()
            try:
                await asyncio.wait_for(self.wait_closed(), self.settings.stall)
            except asyncio.TimeoutError:
                self.abort("the gateway did not end the channel")
        await self.wait_closed()


async def _within(future: asyncio.Future[Any], seconds: float) -> bool:
    """Whether ``future`` is done within ``seconds`` (it is not cancelled otherwise)."""
    if not future.done():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(future), seconds)
    return future.done()


def _to_stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# -- the channels of a session --------------------------------------------------------------


class GatewayPool:
    """The open channels of a session, one per first-level gateway, opened on first use.

    A gateway whose channel ended is started afresh the next time it is asked for.

    :param launcher: how gateways start.
    :param bundle: the gateways' code, as their loader reads it.
    :param loader: the shell command that runs the loader.
    :param config: the ``CFG`` payload for a gateway, by its name.
    """

    def __init__(self, launcher: GatewayLauncher, *, bundle: bytes, loader: str,
                 config: Callable[[str], dict[str, Any]],
                 settings: TreeSettings = TreeSettings(),
                 diagnostics: Callable[[str], None] | None = None) -> None:
        self.launcher = launcher
        self.bundle = bundle
        self.loader = loader
        self.config = config
        self.settings = settings
        self.diagnostics = diagnostics
        self._channels: dict[str, RootChannel] = {}
        self._opening: dict[str, asyncio.Future[RootChannel]] = {}

    def __contains__(self, gateway: object) -> bool:
        channel = self._channels.get(gateway) if isinstance(gateway, str) else None
        return channel is not None and channel.alive

    def channels(self) -> list[RootChannel]:
        """The channels open now."""
        return [c for c in self._channels.values() if c.alive]

    async def channel(self, gateway: str) -> RootChannel:
        """The open channel to ``gateway``, opening it if needed (once, whoever asks).

        :raises GatewayDown: it could not be opened.
        """
        current = self._channels.get(gateway)
        if current is not None and current.alive:
            return current
        opening = self._opening.get(gateway)
        if opening is None:
            opening = asyncio.ensure_future(self._open(gateway))
            self._opening[gateway] = opening
            opening.add_done_callback(lambda _: self._opening.pop(gateway, None))
        return await asyncio.shield(opening)

    async def _open(self, gateway: str) -> RootChannel:
        channel = await RootChannel.launch(gateway, self.launcher, self.loader,
                                           bundle=self.bundle, config=self.config(gateway),
                                           settings=self.settings, diagnostics=self.diagnostics)
        await channel.open()
        self._channels[gateway] = channel
        return channel

    async def close(self) -> None:
        """End every channel and release the launcher."""
        for opening in list(self._opening.values()):
            with contextlib.suppress(GatewayDown, asyncio.CancelledError):
                await opening
        channels, self._channels = list(self._channels.values()), {}
        await asyncio.gather(*(c.aclose() for c in channels), return_exceptions=True)
        await self.launcher.close()
