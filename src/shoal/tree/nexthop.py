"""A gateway's link to a next-level gateway: start it, configure it, hand it jobs.

:class:`NextHop` is the parent's end of the channel to a child gateway (a
:class:`~shoal.tree.channel.Channel`, as the root's driver is). It starts the child's
process through a :class:`~shoal.tree.workers.Launcher` (``ssh CHILD python3 -c
LOADER`` and the gateway's own code bundle on its stdin, or a command given in the
settings for installs that have shoal), exchanges ``STA``, sends ``CFG`` (the child's
part of the topology and the same settings) and, once the child acknowledges it, the
jobs queued for it. Until then nothing of a job has reached the child: its targets may
still go to a sibling.

The child's messages go to the ``on_message`` callback; when the link ends for any
reason (the child could not start, died, stalled, or the parent closed it),
``on_lost`` is called once with a reason that names the child, the last line the child
printed on its stderr where there is one. :meth:`NextHop.close` ends the child: its
stdin closes (the child then kills its own subtree and exits), and its process group
is killed if it has not gone within a grace period.

Runs on the gateways: Python 3.6 and the standard library once annotations are
stripped.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import shlex
import signal
from typing import TYPE_CHECKING

from shoal.errors import MessageProcessingError
from shoal.tree.channel import Channel
from shoal.tree.loader import current, loader_command
from shoal.tree.messages import ACK, CFG, CTL, END, ERR
from shoal.tree.workers import die_with_parent

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import Any

    from shoal.tree.messages import Message
    from shoal.tree.workers import Launcher

__all__ = ["CLOSE_GRACE", "NextHop", "bundle_command"]

#: seconds a child gateway has to exit once its stdin is closed, before it is killed
CLOSE_GRACE = 5.0

_STDERR_TAIL = 4096

#: the actions that start a job (the others act on one)
_STARTS = ("shell", "copy", "rcopy")


def bundle_command(python: str) -> tuple[str, bytes]:
    """The command that starts a zero-install gateway with ``python``, and the bytes to
    send on its stdin first: the code bundle this gateway was started from, or, in a
    gateway run from an installed shoal, one built now."""
    bundle = current()
    if bundle is None:
        # Root-side code (Python 3.10+), kept out of the bundle: found by name, not by
        # an import statement the bundle's builder would follow.
        bundle = importlib.import_module("shoal.tree.bundle").build_bundle()
    return " ".join(shlex.quote(arg) for arg in loader_command(bundle, python)), bundle.data


class NextHop(Channel):
    """The link from this gateway to the child gateway ``name``.

    :param name: the child's name (as the topology writes it).
    :param launcher: how its process starts (``ssh`` or local).
    :param command: the command that runs a gateway on it.
    :param preamble: bytes written to its stdin before the channel (the code bundle).
    :param config: the ``CFG`` payload for it.
    :param on_message: gets each of its ``OUT``, ``SER``, ``RET``, ``TIM``, ``ERR``.
    :param on_lost: gets ``(hop, reason)`` once, when the link is over.
    :param throttle: awaited after each message handed on (reading waits meanwhile).
    """

    def __init__(self, name: str, launcher: Launcher, command: str, preamble: bytes,
                 config: Any, *, on_message: Callable[[NextHop, Message], None],
                 on_lost: Callable[[NextHop, str], None], heartbeat: float | None,
                 stall: float | None,
                 throttle: Callable[[], Awaitable[None]] | None = None) -> None:
        super().__init__(_Unset(), _Unset(), heartbeat=heartbeat, stall=stall)
        self.name = name
        self.launcher = launcher
        self.command = command
        self.preamble = preamble
        self.config = config
        self.on_message = on_message
        self.on_lost = on_lost
        self.throttle = throttle
        #: the child acknowledged its CFG: what it is sent now may run there
        self.ready = False
        #: the last job number used on this link (each link numbers its own jobs)
        self.jobs = 0
        self.process: asyncio.subprocess.Process | None = None
        self._queue: list[CTL] = []
        self._started: dict[int, CTL] = {}  # msgid -> a job's first CTL, sent
        self._msgids: dict[int, int] = {}  # job -> the msgid of its first CTL
        self._cfg_id = 0
        self._tail = bytearray()
        self._lost = False
        self._starter: asyncio.Future[None] | None = None
        self._stderr: asyncio.Future[None] | None = None
        self._ready_waiters: list[asyncio.Future[bool]] = []

    def launch(self) -> None:
        """Start the child in the background; :attr:`ready` once it is configured."""
        self._starter = asyncio.ensure_future(self._launch())

    async def _launch(self) -> None:
        try:
            pipe = asyncio.subprocess.PIPE
            self.process = await asyncio.create_subprocess_exec(
                *self.launcher.argv(self.name, self.command), stdin=pipe, stdout=pipe,
                stderr=pipe, env=self.launcher.env(self.name), start_new_session=True,
                preexec_fn=die_with_parent)
        except OSError as exc:
            program = self.launcher.argv(self.name, self.command)[0]
            self._lose(f"cannot start {program}: {exc.strerror or exc}")
            return
        assert self.process.stdin and self.process.stdout and self.process.stderr
        self.reader = self.process.stdout
        self.writer = self.process.stdin
        self._stderr = asyncio.ensure_future(self._read_stderr(self.process.stderr))
        self.writer.write(self.preamble)
        try:
            await self.start()
        except MessageProcessingError as exc:
            await self._gone(exc.fault)
            return
        except (OSError, asyncio.CancelledError) as exc:
            await self._gone(str(exc) or type(exc).__name__)
            return
        self._cfg_id = self.send(CFG(gateway=self.name, data=self.config))

    async def _read_stderr(self, pipe: asyncio.StreamReader) -> None:
        while True:
            chunk = await pipe.read(65536)
            if not chunk:
                return
            self._tail.extend(chunk[-_STDERR_TAIL:])
            del self._tail[:-_STDERR_TAIL]

    def submit(self, ctl: CTL) -> bool:
        """Send ``ctl`` now if the child is ready, else queue it; False if the link is
        over (the caller deals with its targets)."""
        if self._lost:
            return False
        if self.ready:
            self._send_ctl(ctl)
        else:
            self._queue.append(ctl)
        return True

    def _send_ctl(self, ctl: CTL) -> None:
        msgid = self.send(ctl)
        if ctl.action in _STARTS:
            self._started[msgid] = ctl
            self._msgids[ctl.job] = msgid

    def forget(self, job: int) -> None:
        """Job ``job`` of this link is over: no ``ERR`` about it matters any more."""
        msgid = self._msgids.pop(job, None)
        if msgid is not None:
            self._started.pop(msgid, None)

    def refused(self, about: int | None) -> CTL | None:
        """The job the child refused, if ``about`` (an ``ERR``'s) names one it was sent."""
        ctl = self._started.pop(about, None) if about is not None else None
        if ctl is not None:
            self._msgids.pop(ctl.job, None)
        return ctl

    def unsent(self) -> list[CTL]:
        """Take back the queued messages that never reached the child."""
        queued, self._queue = self._queue, []
        return queued

    async def wait_ready(self) -> bool:
        """Wait until the child is configured (True) or the link is over (False)."""
        if self.ready or self._lost:
            return self.ready
        waiter: asyncio.Future[bool] = asyncio.get_event_loop().create_future()
        self._ready_waiters.append(waiter)
        return await waiter

    async def recv(self, msg: Message) -> None:
        """Hand the child's messages on; its CFG's ACK makes the link ready."""
        if isinstance(msg, ACK):
            if msg.ack == self._cfg_id and not self.ready:
                self.ready = True
                for ctl in self.unsent():
                    self._send_ctl(ctl)
                self._wake(True)
            return
        if isinstance(msg, END):
            return
        if isinstance(msg, ERR):
            if msg.about is not None and msg.about == self._cfg_id:
                self._lose(f"refused its configuration: {msg.reason}")
                self.abort("it refused its configuration")
                return
            msg.reason = f"{self.name}: {msg.reason}"
        self.on_message(self, msg)
        if self.throttle is not None:  # the child waits while the way up is full
            await self.throttle()

    async def on_closed(self, reason: str | None) -> None:
        """The link is over: the child is lost (even a clean END ends its jobs)."""
        await self._gone(reason or "it ended its channel")

    async def _gone(self, reason: str) -> None:
        """The link is over for ``reason``: wait for the child's exit status and stderr
        briefly, then tell ``on_lost``."""
        if self._lost:
            return
        proc = self.process
        if proc is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), 1.0)
            line = self._last_line()
            if line and (proc.returncode not in (None, 0) or not self.ready):
                reason = line
        self._lose(reason)

    def _last_line(self) -> str:
        lines = [line.strip() for line in
                 self._tail.decode("utf-8", "replace").splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def _lose(self, reason: str) -> None:
        if self._lost:
            return
        self._lost = True
        self._wake(False)
        self.on_lost(self, f"gateway {self.name}: {reason}")

    def _wake(self, ready: bool) -> None:
        for waiter in self._ready_waiters:
            if not waiter.done():
                waiter.set_result(ready)
        self._ready_waiters.clear()

    async def shutdown(self, grace: float = CLOSE_GRACE) -> None:
        """End the child: close its stdin (it then kills its own subtree and exits; a
        stopped one is continued first), give it ``grace`` seconds, then kill its
        process group."""
        proc = self.process
        if self._starter is not None and not self._starter.done():
            self._starter.cancel()
        if not self.done:
            self.abort("closed by its parent")
        if proc is None:
            self._lose("closed by its parent")
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        _signal_group(proc, signal.SIGCONT)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), grace)
        _signal_group(proc, signal.SIGKILL)
        await proc.wait()
        self._lose("closed by its parent")


def _signal_group(proc: asyncio.subprocess.Process, signum: int) -> None:
    """Send ``signum`` to the process group ``proc`` leads, if it still has members."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


class _Unset:
    """The reader and writer of a link whose process has not started yet."""

    async def read(self, n: int) -> bytes:
        return b""

    def write(self, data: bytes) -> None:
        raise OSError("the gateway has not started")

    async def drain(self) -> None:
        return None
