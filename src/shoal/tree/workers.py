"""Running one job's command on the targets a gateway reaches itself, under a fan-out bound.

A :class:`Launcher` says how a target's process starts: :class:`SSHLauncher` runs the
system ``ssh`` (shoal's settings, ``BatchMode=yes``, ``--`` before the node, built by
:mod:`shoal.hosts.sshargv`); :class:`LocalLauncher` runs ``sh -c COMMAND`` here with
``SHOAL_NODE`` set to the target's name, for tests and benchmarks without an sshd.

:class:`LocalJob` runs one command on its targets, at most ``fanout`` at once, each in a
process group of its own (so an abort kills the command and what it started), with a
per-target timeout; an ``ssh`` also dies with the gateway, even one killed with SIGKILL
(Linux's parent-death signal). The job's standard input (:class:`Stdin`) is kept once for all its
targets: a target that starts late still reads it from the start. Each target ends with
one :class:`Outcome`: its return code (128 + N for signal N), a timeout, ``unreachable``
(``ssh`` exit status 255, with the last line ``ssh`` printed as the reason) or
``interrupted`` (aborted). Output reaches the caller raw, chunk by chunk.

Runs on the gateways: Python 3.6 and the standard library once annotations are
stripped; imports only :mod:`shoal.hosts.sshargv` from shoal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shlex
import signal
from typing import TYPE_CHECKING

from shoal.hosts.sshargv import ssh_argv

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Sequence
    from typing import Protocol

    class Sink(Protocol):
        """Where :meth:`Stdin.pour` writes: a process's stdin (an asyncio StreamWriter)."""

        def write(self, data: bytes) -> None: ...

        async def drain(self) -> None: ...

        def close(self) -> None: ...

__all__ = ["RC_INTERRUPTED", "RC_UNREACHABLE", "Launcher", "LocalJob", "LocalLauncher",
           "Outcome", "SSHLauncher", "Stdin", "copy_command", "die_with_parent",
           "rcopy_command"]

#: Return codes reported for targets that did not end by themselves.
RC_UNREACHABLE = 255
RC_INTERRUPTED = 130

_CHUNK = 65536
_STDERR_TAIL = 4096  # bytes of a target's stderr kept for its reason
_SPARE_FILES = 64  # open files kept for the channel, child gateways and the rest


class Outcome:
    """How one target ended: ``status`` ``ok``, ``timeout``, ``unreachable`` or
    ``interrupted``, its return code, and a reason for the failures."""

    __slots__ = ("reason", "retcode", "status")

    def __init__(self, retcode: int, status: str = "ok", reason: str = "") -> None:
        self.retcode = retcode
        self.status = status
        self.reason = reason

    def __repr__(self) -> str:
        return f"Outcome({self.retcode!r}, {self.status!r}, {self.reason!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return (self.retcode, self.status, self.reason) == (other.retcode, other.status,
                                                             other.reason)

    __hash__ = None  # type: ignore[assignment]


class Launcher:
    """How a target's process starts; subclasses say which program runs."""

    #: the exit status that means "never reached the target" (None: there is none)
    unreachable_rc: int | None = None
    #: whether each process dies with the gateway, even one killed by SIGKILL (Linux's
    #: parent-death signal; it costs a slower fork)
    dies_with_gateway = False

    def argv(self, node: str, command: str) -> list[str]:
        """The program and arguments that run ``command`` on ``node``."""
        raise NotImplementedError

    def env(self, node: str) -> dict[str, str] | None:
        """The environment of ``node``'s process (None: this process's)."""
        return None

    def unreachable_reason(self, stderr_tail: bytes) -> str:
        """Why the target was not reached, from the end of what the process printed."""
        return "not reached"


class SSHLauncher(Launcher):
    """Run commands on targets with the system ``ssh``; exit status 255 means unreachable.

    >>> SSHLauncher("ssh", ["-o", "BatchMode=yes"]).argv("node1", "uptime")
    ['ssh', '-o', 'BatchMode=yes', '--', 'node1', 'uptime']
    """

    unreachable_rc = 255
    dies_with_gateway = True  # no ssh client outlives its gateway

    def __init__(self, ssh: str, args: Sequence[str]) -> None:
        self.ssh = ssh
        self.args = list(args)

    def argv(self, node: str, command: str) -> list[str]:
        return ssh_argv(self.ssh, self.args, node, [command])

    def unreachable_reason(self, stderr_tail: bytes) -> str:
        """The last line ``ssh`` printed (``ssh: connect to host … refused``)."""
        lines = [line.strip() for line in
                 stderr_tail.decode("utf-8", "replace").splitlines() if line.strip()]
        return lines[-1] if lines else "ssh exited with status 255"


class LocalLauncher(Launcher):
    """Run each target's command here with ``sh -c``, ``SHOAL_NODE`` naming the target.

    >>> LocalLauncher().argv("n1", "echo $SHOAL_NODE")
    ['sh', '-c', 'echo $SHOAL_NODE']
    """

    def argv(self, node: str, command: str) -> list[str]:
        return ["sh", "-c", command]

    def env(self, node: str) -> dict[str, str] | None:
        env = dict(os.environ)
        env["SHOAL_NODE"] = node
        return env


def copy_command(dest: str, preserve: bool) -> str:
    """The target's command that extracts the tar stream on its stdin into ``dest``.

    GNU tar strips a leading ``/`` and refuses members with ``..`` by default, and creates
    symlinks only after the other members, so a member cannot write through one;
    ``--no-same-owner`` keeps the login user as owner even for root. Without
    ``preserve``, files get the time of the copy (``-m``) and the umask's modes, as scp.

    >>> copy_command("/tmp/d x", False)
    "tar -x -f - --no-same-owner -m -C '/tmp/d x'"
    """
    keep = "-p" if preserve else "-m"
    return f"tar -x -f - --no-same-owner {keep} -C {shlex.quote(dest)}"


def rcopy_command(source: str) -> str:
    """The target's command that writes a tar stream of ``source`` on its stdout.

    The archive holds the last component of ``source`` (``/etc/hosts`` -> ``hosts``),
    with modes and times (the root applies them or not).

    >>> rcopy_command("/etc/ssh/")
    'tar -c -f - -C /etc ssh'
    >>> rcopy_command("-x")
    'tar -c -f - -C . ./-x'
    """
    trimmed = source.rstrip("/") or "/"
    folder, name = os.path.split(trimmed)
    if not name:  # "/" itself
        folder, name = "/", "."
    if name.startswith("-"):
        name = "./" + name
    return "tar -c -f - -C {} {}".format(shlex.quote(folder or "."), shlex.quote(name))


class Stdin:
    """A job's standard input, kept once for every target that will read it.

    Chunks are kept while a target may still start (it reads from the start); once none
    can, the chunks every started target has read are dropped.
    """

    def __init__(self, waiting: int) -> None:
        self._chunks: list[bytes] = []
        self._base = 0  # the index of _chunks[0] in the whole stream
        self._eof = False
        self._waiting = waiting  # targets that may still start reading
        self._readers: dict[int, int] = {}  # reader key -> index of its next chunk
        self._next_key = 0
        self._changed: asyncio.Future[None] | None = None
        self.size = 0  #: bytes held

    @property
    def eof(self) -> bool:
        """Whether the input is closed."""
        return self._eof

    def write(self, data: bytes) -> None:
        """Append ``data`` for every target (ignored after :meth:`close`)."""
        if self._eof or not data:
            return
        self._chunks.append(data)
        self.size += len(data)
        self._trim()
        self._wake()

    def close(self) -> None:
        """End the input: readers see the end once they have read what came before."""
        self._eof = True
        self._wake()

    def attach(self) -> int:
        """A target starts reading: the key of its place in the stream, for :meth:`pour`."""
        key = self._next_key
        self._next_key += 1
        self._readers[key] = self._base
        self.released()
        return key

    def expect(self, count: int) -> None:
        """``count`` more targets may start reading (from the start)."""
        self._waiting += count

    def released(self) -> None:
        """One target that could have started reading never will (it was dropped, or it
        started: :meth:`attach`), so what the others have read may go."""
        self._waiting -= 1
        self._trim()

    def _wake(self) -> None:
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)
        self._changed = None

    def _trim(self) -> None:
        if self._waiting > 0:
            return
        low = min(self._readers.values(), default=self._base + len(self._chunks))
        drop = low - self._base
        if drop > 0:
            self.size -= sum(len(chunk) for chunk in self._chunks[:drop])
            del self._chunks[:drop]
            self._base = low

    async def pour(self, key: int, writer: Sink) -> None:
        """Write the input to ``writer`` from reader ``key``'s place on, as it comes, then
        close it. A reader that goes away early (a command that does not read its stdin)
        is not an error."""
        try:
            while True:
                index = self._readers[key]
                if index < self._base + len(self._chunks):
                    writer.write(self._chunks[index - self._base])
                    self._readers[key] = index + 1
                    await writer.drain()
                elif self._eof:
                    break
                else:
                    if self._changed is None:
                        self._changed = asyncio.get_event_loop().create_future()
                    await asyncio.shield(self._changed)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self.detach(key)
            writer.close()

    def detach(self, key: int) -> None:
        """Reader ``key`` reads no more."""
        self._readers.pop(key, None)
        self._trim()


def _open_files(wanted: int) -> int:
    """Raise the soft open-files limit towards ``wanted`` (never past the hard limit, never
    lower); the open files allowed now, ``wanted`` when that is enough."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return wanted
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


class LocalJob:
    """One command run on targets this gateway reaches itself.

    :param launcher: how each target's process starts.
    :param nodes: the targets, in the order they start.
    :param command: the command (a shell command line on the target).
    :param on_output: gets ``(node, stream, data)`` for each chunk of output.
    :param on_done: gets ``(node, outcome)`` once for each target, when it is over.
    :param fanout: targets running at once, at least 1.
    :param timeout: seconds each target may run (None: no limit).
    :param stdin: the job's input, or None for an empty one.
    :param throttle: awaited after each chunk of output handed on: the reading waits
        while it does (the way out is full).
    """

    def __init__(self, launcher: Launcher, nodes: Iterable[str], command: str, *,
                 on_output: Callable[[str, str, bytes], None],
                 on_done: Callable[[str, Outcome], None], fanout: int = 64,
                 timeout: float | None = None, stdin: Stdin | None = None,
                 throttle: Callable[[], Awaitable[None]] | None = None) -> None:
        self.launcher = launcher
        self.throttle = throttle
        self.nodes = list(nodes)
        self.command = command
        self.on_output = on_output
        self.on_done = on_done
        self.fanout = max(1, fanout)
        self.timeout = timeout
        self.stdin = stdin
        self._pending = list(reversed(self.nodes))  # popped from the end: first node first
        self._running: dict[str, asyncio.subprocess.Process] = {}
        self._aborted: set[str] = set()
        self._done: set[str] = set()
        self._tasks: set[asyncio.Future[None]] = set()
        self._finished: asyncio.Future[None] | None = None

    @property
    def running(self) -> dict[str, int]:
        """The targets running now, with their process ids (each leads its group)."""
        return {node: proc.pid for node, proc in self._running.items()}

    def start(self) -> None:
        """Start the first targets; the others start as these end."""
        # three pipes a target; what the limit cannot hold waits its turn
        allowed = _open_files(3 * self.fanout + _SPARE_FILES)
        self.fanout = max(1, min(self.fanout, (allowed - _SPARE_FILES) // 3))
        self._finished = asyncio.get_event_loop().create_future()
        self._fill()
        self._check_finished()

    async def wait(self) -> None:
        """Wait until every target has its outcome."""
        assert self._finished is not None, "start() first"
        await asyncio.shield(self._finished)

    def abort(self, nodes: Iterable[str] | None = None) -> None:
        """Stop ``nodes`` (None: every target): running ones are killed, the others
        never start; all end ``interrupted``."""
        chosen = set(self.nodes) if nodes is None else set(nodes) & set(self.nodes)
        chosen -= self._done
        self._aborted |= chosen
        for node in chosen:
            proc = self._running.get(node)
            if proc is not None:
                _kill_group(proc)
        keep = []
        for node in self._pending:
            if node in chosen:
                self._report(node, Outcome(RC_INTERRUPTED, "interrupted", "interrupted"))
                if self.stdin is not None:
                    self.stdin.released()
            else:
                keep.append(node)
        self._pending = keep
        self._check_finished()

    def _fill(self) -> None:
        while self._pending and len(self._tasks) < self.fanout:
            node = self._pending.pop()
            task = asyncio.ensure_future(self._run(node))
            self._tasks.add(task)
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[None]) -> None:
        self._tasks.discard(task)
        self._fill()
        self._check_finished()

    def _check_finished(self) -> None:
        if (not self._pending and not self._tasks and self._finished is not None
                and not self._finished.done()):
            self._finished.set_result(None)

    def _report(self, node: str, outcome: Outcome) -> None:
        if node not in self._done:
            self._done.add(node)
            self.on_done(node, outcome)

    async def _run(self, node: str) -> None:
        """Run the command for ``node``, and report how it ended, whatever happens."""
        try:
            outcome = await self._process(node)
        except asyncio.CancelledError:
            outcome = Outcome(RC_INTERRUPTED, "interrupted", "interrupted")
        except OSError as exc:  # the program could not start (no ssh, no sh, no fds)
            program = self.launcher.argv(node, self.command)[0]
            outcome = Outcome(RC_UNREACHABLE, "unreachable",
                              f"cannot start {program}: {exc.strerror or exc}")
        if node in self._aborted:
            outcome = Outcome(RC_INTERRUPTED, "interrupted", "interrupted")
        self._report(node, outcome)

    async def _process(self, node: str) -> Outcome:
        stdin = self.stdin
        pipe = asyncio.subprocess.PIPE
        key = stdin.attach() if stdin is not None else None
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.launcher.argv(node, self.command),
                stdin=pipe if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=pipe, stderr=pipe, env=self.launcher.env(node),
                start_new_session=True,
                preexec_fn=die_with_parent if self.launcher.dies_with_gateway else None)
        except BaseException:
            if stdin is not None and key is not None:
                stdin.detach(key)
            raise
        self._running[node] = proc
        tail = bytearray()
        assert proc.stdout is not None and proc.stderr is not None

        def on_stderr(data: bytes) -> None:
            tail.extend(data[-_STDERR_TAIL:])
            del tail[:-_STDERR_TAIL]
            self.on_output(node, "stderr", data)

        work = [asyncio.ensure_future(_pump(proc.stdout, lambda d: self.on_output(
                    node, "stdout", d), self.throttle)),
                asyncio.ensure_future(_pump(proc.stderr, on_stderr, self.throttle))]
        if stdin is not None and key is not None:
            assert proc.stdin is not None
            work.append(asyncio.ensure_future(stdin.pour(key, proc.stdin)))
        timed_out = False
        try:
            if node in self._aborted:  # aborted while it was starting
                _kill_group(proc)
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), self.timeout)
            except asyncio.TimeoutError:
                timed_out = True
                _kill_group(proc)
                await proc.wait()
            await asyncio.gather(*work[:2])
        finally:
            self._running.pop(node, None)
            for task in work:
                task.cancel()
            if proc.returncode is None:
                _kill_group(proc)
        if timed_out:
            return Outcome(RC_INTERRUPTED, "timeout", "timed out")
        rc = proc.returncode
        assert rc is not None
        if rc < 0:
            return Outcome(128 - rc)
        if rc == self.launcher.unreachable_rc:
            return Outcome(rc, "unreachable", self.launcher.unreachable_reason(bytes(tail)))
        return Outcome(rc)


async def _pump(pipe: asyncio.StreamReader, sink: Callable[[bytes], None],
                throttle: Callable[[], Awaitable[None]] | None) -> None:
    """Hand everything the process writes on ``pipe`` to ``sink``, chunk by chunk, waiting
    on ``throttle`` after each (the process then waits on its full pipe)."""
    while True:
        chunk = await pipe.read(_CHUNK)
        if not chunk:
            return
        sink(chunk)
        if throttle is not None:
            await throttle()


def _prctl() -> Callable[..., int] | None:
    """Linux's ``prctl`` from the C library, or None where there is none."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None


_PRCTL = _prctl()
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child process before it runs its program: be killed when this process dies,
    even by SIGKILL (Linux), so that no target outlives its gateway."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """Kill the process group ``proc`` leads: it and what it started, even once it has
    exited itself (its group lives while a member does, so its id is not reused)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
