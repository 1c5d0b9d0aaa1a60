"""Running one job's command on the targets a gateway reaches itself, under a fan-out bound.

A :class:`Launcher` says how a target's process starts: :class:`SSHLauncher` runs the
system ``ssh`` (shoal's settings, ``BatchMode=yes``, ``--`` before the node, built by
:mod:`shoal.hosts.sshargv`); :class:`LocalLauncher` runs ``sh -c COMMAND`` here with
``SHOAL_NODE`` set to the target's name, for tests and benchmarks without an sshd.

:class:`LocalJob` runs one command on its targets, at most ``fanout`` at once, each in a
process group of its own (so an abort kills the command and what it started), with a
per-target timeout. The job's standard input (:class:`Stdin`) is kept once for all its
targets: a target that starts late still reads it from the start. Each target ends with
one :class:`Outcome`: its return code (128 + N for signal N), a timeout, ``unreachable``
(``ssh`` exit status 255, with the last line ``ssh`` printed as the reason) or
``interrupted`` (aborted). Output reaches the caller raw, chunk by chunk.

Stopping a command behind ``ssh`` takes more than ending the local ``ssh``: without a
terminal, OpenSSH cannot signal the remote command, which runs on while it neither
reads nor writes. So each remote command first writes, on its stderr, the process id of
the remote shell sshd started for it (a session leader, whose process group holds the
command and what it starts); the line is taken out of the stderr before anything else
sees it. An abort or a timeout then ends that group with a second ``ssh`` (``TERM``,
``KILL`` after :data:`STOP_GRACE` seconds), as the local process group is killed.

A :class:`Watchdog` outlives the gateway by a moment: a tiny process that, when the
gateway dies, even by SIGKILL, kills the process groups of the targets still running
(each inherits one end of the watchdog's pipe, by which it finds them) and ends their
remote groups too. That costs nothing per target, where Linux's parent-death signal
would slow every fork (and reach only the target's first process).

Runs on the gateways: Python 3.6 and the standard library once annotations are
stripped; imports only :mod:`shoal.hosts.sshargv`, :mod:`shoal.hosts.sshfail` and
:mod:`shoal.hosts.placing` from shoal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import secrets
import shlex
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

from shoal.hosts.placing import FUNCTIONS, one_line
from shoal.hosts.sshargv import ssh_argv
from shoal.hosts.sshfail import why

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Sequence
    from typing import Protocol

    class Sink(Protocol):
        """Where :meth:`Stdin.pour` writes: a process's stdin (an asyncio StreamWriter)."""

        def write(self, data: bytes) -> None: ...

        async def drain(self) -> None: ...

        def close(self) -> None: ...

__all__ = ["RC_INTERRUPTED", "RC_UNREACHABLE", "STOP_GRACE", "Launcher", "LocalJob",
           "LocalLauncher", "Outcome", "SSHLauncher", "Stdin", "Watchdog", "copy_command",
           "die_with_parent", "rcopy_command"]

#: Return codes reported for targets that did not end by themselves.
RC_UNREACHABLE = 255
RC_INTERRUPTED = 130

#: Seconds a remote command has to end after SIGTERM before it gets SIGKILL.
STOP_GRACE = 2.0

_CHUNK = 65536
_STDERR_TAIL = 4096  # bytes of a target's stderr kept for its reason
_SPARE_FILES = 64  # open files kept for the channel, child gateways and the rest
_LEADER_WAIT = 5.0  # seconds an abort waits for a remote command to say its group
_LEADER_LINE = 4096  # bytes of stderr read before a remote command's group line, at most
_STOP_WAIT = 30.0  # seconds the ssh that ends a remote group may take


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
    #: the start of the line a target's :meth:`tracked` command writes first on its
    #: stderr, before its remote process group (None: nothing runs elsewhere)
    mark: bytes | None = None

    def argv(self, node: str, command: str) -> list[str]:
        """The program and arguments that run ``command`` on ``node``."""
        raise NotImplementedError

    def tracked(self, command: str) -> str:
        """``command`` as a target runs it: for a remote one, first saying on stderr the
        process group it runs in there (a line that starts with :attr:`mark`)."""
        return command

    def stop_argv(self, node: str, group: int) -> list[str]:
        """The program and arguments that end process group ``group`` on ``node``
        (``TERM``, then ``KILL`` after :data:`STOP_GRACE` seconds)."""
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

    def __init__(self, ssh: str, args: Sequence[str], limit: float | None = None) -> None:
        self.ssh = ssh
        self.args = list(args)
        self.limit = limit  #: the connect timeout in force, which a time-out names
        self._mark = "shoal-group-" + secrets.token_hex(8)
        self.mark = self._mark.encode()

    def argv(self, node: str, command: str) -> list[str]:
        return ssh_argv(self.ssh, self.args, node, [command])

    def tracked(self, command: str) -> str:
        """``command`` after a line on stderr with the pid of the shell sshd runs it in,
        which leads the session's process group (sshd makes it a session leader). A
        child ``sh`` prints it, so any login shell (csh too) runs the command as before.

        >>> SSHLauncher("ssh", []).tracked("uptime")  # doctest: +ELLIPSIS
        'sh -c \\'printf "shoal-group-... %d\\\\n" "$PPID" >&2\\'; uptime'
        """
        line = shlex.quote(f'printf "{self._mark} %d\\n" "$PPID" >&2')
        return f"sh -c {line}; {command}"

    def stop_argv(self, node: str, group: int) -> list[str]:
        """``ssh NODE sh -c '…'``: ``TERM`` to the group (continued if stopped), then
        ``KILL`` to what is left after :data:`STOP_GRACE` seconds."""
        script = ("kill -TERM -{g} 2>/dev/null || exit 0; kill -CONT -{g} 2>/dev/null; i=0; "
                  "while kill -0 -{g} 2>/dev/null; do "
                  "if [ $i -ge {n} ]; then kill -KILL -{g} 2>/dev/null; exit 0; fi; "
                  "sleep 0.1; i=$((i+1)); done").format(g=int(group), n=int(STOP_GRACE * 10))
        return self.argv(node, "sh -c " + shlex.quote(script))

    def unreachable_reason(self, stderr_tail: bytes) -> str:
        """Why, in the words a flat run uses (:func:`shoal.hosts.sshfail.why`)."""
        return why(stderr_tail.decode("utf-8", "replace"), self.limit)[1]


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


def copy_command(dest: str, names: Sequence[str], into: bool, preserve: bool) -> str:
    """The target's command that puts the copies of a tar stream on its stdin in place,
    as a flat copy through the ``openssh`` transport does (:mod:`shoal.hosts.placing`).

    ``names`` are the stream's top-level members, one a source, in the order they are
    placed; ``into``: ``dest`` must be a directory (several sources, or a ``dest`` ending
    in ``/``), else a single copy goes into ``dest`` when it is one, or becomes ``dest``.
    The stream is extracted into a private folder beside the targets, then each copy
    moves into place; a failure prints ``copy to TARGET failed: REASON`` on stderr and
    exits 1, as flat copies report it, the staging folder removed.

    GNU tar strips a leading ``/`` and refuses members with ``..`` by default (the copy
    then fails), and creates symlinks only after the other members, so a member cannot
    write through one; ``--no-same-owner`` keeps the login user as owner even for root,
    and ``--no-same-permissions`` applies the umask even for root (GNU tar's default for
    root is the archive's bits), as scp does.
    Without ``preserve``, files get the time of the copy (``-m``), as scp.

    >>> print(copy_command("/tmp/d x", ["a", "b"], True, False))  # doctest: +ELLIPSIS
    sh -c 'why() {...' sh '/tmp/d x' 1 0 a b
    """
    args = [dest, "1" if into else "0", "1" if preserve else "0", *names]
    return "sh -c {} sh {}".format(shlex.quote(_COPY), " ".join(shlex.quote(a) for a in args))


#: $1 the destination, $2 1 when it must be a directory, $3 1 to keep modes and times,
#: then the names of the copies in the tar stream on stdin. tar's first message says
#: why it failed, but for its notes that it strips a leading / or ../ from names.
_COPY = FUNCTIONS + " " + one_line("""
dest=$1 into=$2;
if [ "$3" = 1 ]; then keep=-p modes=--same-permissions;
else keep=-m modes=--no-same-permissions; fi; shift 3;
fail() {
  printf 'copy to %s failed: %s\\n' "$1" "$2" >&2;
  [ -z "$staging" ] || rm -rf -- "$staging"; exit 1;
};
staging=; locate "$dest" "$1" "$into" && stage || fail "$dest" "$fault";
if [ $# = 1 ]; then what=$target; else what=$dest; fi;
out=$(tar -x -f - --no-same-owner "$keep" "$modes" -C "$staging" 2>&1) ||
  fail "$what" "$(why "$(printf '%s\\n' "$out" | grep -v '^tar: Removing leading')" 1)";
for name in "$@"; do
  locate "$dest" "$name" "$into" || fail "$dest" "$fault";
  top=$target; fault=$(place "$staging/$name" "$target") || fail "$target" "$fault";
done;
rm -rf -- "$staging"
""")


def rcopy_command(source: str) -> str:
    """The target's command that writes a tar stream of ``source`` on its stdout, for the
    root to read as a flat copy reads the node's files (:class:`~shoal.tree.transfer.TarSource`).

    The stream holds the last component of ``source`` (``/etc/hosts`` -> ``hosts``), with
    modes and times (the root applies them or not), read as scp reads: ``source`` is
    followed if it is a symlink, and so is a symlink in it to a file (the file's content
    goes, even from outside the copy). A symlink to a directory goes as a symlink to
    ``.``, which the root refuses as flat copies do (``a symlink to a directory (not
    followed)``); it comes in a second archive after the first, with a tar of its own.
    A missing ``source`` fails with the words of a flat copy, other failures with tar's
    or find's.

    >>> print(rcopy_command("/etc/ssh/"))  # doctest: +ELLIPSIS
    sh -c '[ -e "$3" ]...' sh /etc ssh /etc/ssh/
    >>> print(rcopy_command("-x"))  # doctest: +ELLIPSIS
    sh -c '...' sh . ./-x -x
    """
    trimmed = source.rstrip("/") or "/"
    folder, name = os.path.split(trimmed)
    if not name:  # "/" itself
        folder, name = "/", "."
    if name.startswith("-"):
        name = "./" + name
    args = [folder or ".", name, source]
    return "sh -c {} sh {}".format(shlex.quote(_RCOPY),
                                   " ".join(shlex.quote(a) for a in args))


#: $1 the folder, $2 the name of the source in it, $3 the source as named. The first
#: find's status comes back on fd 4: sh has no pipefail.
_RCOPY = one_line("""
[ -e "$3" ] || { printf 'copy from %s failed: no such file or directory\\n' "$3" >&2; exit 1; };
cd -- "$1" || exit 1;
exec 3>&1;
found=$( { { find -H "$2" ! \\( -type l -xtype d \\) -print0; echo $? >&4; } |
  tar -c -f - -h --hard-dereference --no-recursion --null -T - >&3; } 4>&1 ) || exit 1;
[ "$found" = 0 ] || exit 1;
find -H "$2" -type l -xtype d -print0 |
  tar -c -f - -b 1 --no-recursion --null -T - --transform 's,.*,.,sRH'
""")


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


class _Leader:
    """Takes a remote command's group line (``MARK PID``) out of its stderr."""

    __slots__ = ("_head", "group", "known", "mark")

    def __init__(self, mark: bytes) -> None:
        self.mark = mark + b" "
        self.group: int | None = None  #: the remote process group, once said
        self.known = asyncio.get_event_loop().create_future()  # set once the line is read
        self._head: bytearray | None = bytearray()  # stderr before the line; None: past it

    def feed(self, data: bytes) -> bytes:
        """What of ``data`` goes on as the target's stderr."""
        head = self._head
        if head is None:
            return data
        head += data
        passed = bytearray()
        while True:
            end = head.find(b"\n")
            if end < 0:
                if len(head) > _LEADER_LINE:  # no such line is coming: give up on it
                    return self._past(passed)
                return bytes(passed)
            line = bytes(head[:end])
            del head[:end + 1]
            if line.startswith(self.mark) and line[len(self.mark):].isdigit():
                self.group = int(line[len(self.mark):])
                return self._past(passed)
            passed += line + b"\n"  # a login script's words, before the command's line

    def end(self) -> bytes:
        """The rest: what stderr held when it ended without the line."""
        return self._past(bytearray())

    def _past(self, passed: bytearray) -> bytes:
        if self._head is not None:
            passed += self._head
            self._head = None
        if not self.known.done():
            self.known.set_result(None)
        return bytes(passed)


_WATCHDOG = """
import json, os, signal, subprocess, sys
me, pipe = os.getpid(), "pipe:[%d]" % os.fstat(0).st_ino
remote, rest, bye = {}, b"", False
while True:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    lines = (rest + chunk).split(b"\\n")
    rest = lines.pop()
    for line in lines:
        op, _, arg = line.partition(b" ")
        if op == b"=":
            group, _, argv = arg.partition(b" ")
            remote[int(group)] = json.loads(argv.decode())
        elif op == b"-":
            remote.pop(int(arg), None)
        elif op == b"bye":
            bye = True
if bye:
    sys.exit(0)
groups = set()
for pid in os.listdir("/proc"):
    if not pid.isdigit() or int(pid) == me:
        continue
    try:
        for fd in os.listdir("/proc/%s/fd" % pid):
            if os.readlink("/proc/%s/fd/%s" % (pid, fd)) == pipe:
                groups.add(os.getpgid(int(pid)))
                break
    except OSError:
        continue
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
stops = []
for argv in remote.values():
    try:
        stops.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    except OSError:
        pass
for stop in stops:
    try:
        stop.wait(float(sys.argv[1]))
    except subprocess.TimeoutExpired:
        stop.kill()
"""


class Watchdog:
    """A process that ends this one's targets when this one dies, even by SIGKILL.

    It runs ``python -I -S -c …`` in a session of its own (a signal to this process's
    group spares it), its stdin the read end of a pipe whose only write end this process
    holds. Every target inherits that read end too (:attr:`fd`, for ``pass_fds``): no
    step between a target's start and its being watched, nothing written per target.
    When the pipe ends without :meth:`close` (this process died), the watchdog kills the
    process group of every process that holds the read end (Linux's ``/proc`` says
    which), then runs the commands that end the remote groups it was told of
    (:meth:`remote`). :meth:`start` gives None where no Python can be run: targets are
    then not watched.
    """

    def __init__(self, process: subprocess.Popen[bytes], fd: int, writer: int) -> None:
        self.process = process
        self.fd = fd  #: the pipe's read end, for every target to inherit
        self._writer: int | None = writer

    @classmethod
    def start(cls) -> Watchdog | None:
        """A running watchdog, or None if it cannot start."""
        if not sys.executable:
            return None
        reader, writer = os.pipe()  # neither inheritable: targets get the reader by name
        try:
            process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _WATCHDOG, str(_STOP_WAIT)], stdin=reader,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError:
            os.close(reader)
            os.close(writer)
            return None
        return cls(process, reader, writer)

    def _say(self, line: bytes) -> None:
        if self._writer is None:
            return
        try:
            os.write(self._writer, line)
        except OSError:  # it died: nothing more to tell it
            self._end()

    def remote(self, group: int, argv: Sequence[str]) -> None:
        """Run ``argv`` (it ends the remote side of target group ``group``) if this
        process dies while the target runs."""
        self._say(b"= %d %s\n" % (group, json.dumps(list(argv)).encode()))

    def forget(self, group: int) -> None:
        """Target group ``group`` is over: its remote side needs no ending."""
        self._say(b"- %d\n" % group)

    def close(self) -> None:
        """End the watchdog, every target over: it exits and kills nothing."""
        self._say(b"bye\n")
        self._end()

    def _end(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(OSError):
                os.close(self._writer)
            self._writer = None
            with contextlib.suppress(OSError):
                os.close(self.fd)


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
    :param watchdog: ends the targets should this process die (each inherits its
        :attr:`Watchdog.fd`).
    """

    def __init__(self, launcher: Launcher, nodes: Iterable[str], command: str, *,
                 on_output: Callable[[str, str, bytes], None],
                 on_done: Callable[[str, Outcome], None], fanout: int = 64,
                 timeout: float | None = None, stdin: Stdin | None = None,
                 throttle: Callable[[], Awaitable[None]] | None = None,
                 watchdog: Watchdog | None = None) -> None:
        self.launcher = launcher
        self.throttle = throttle
        self.watchdog = watchdog
        self.nodes = list(nodes)
        self.command = command
        self.on_output = on_output
        self.on_done = on_done
        self.fanout = max(1, fanout)
        self.timeout = timeout
        self.stdin = stdin
        self._pending = list(reversed(self.nodes))  # popped from the end: first node first
        self._running: dict[str, asyncio.subprocess.Process] = {}
        self._leaders: dict[str, _Leader] = {}
        self._aborted: set[str] = set()
        self._done: set[str] = set()
        self._stopped: set[str] = set()
        self._tasks: set[asyncio.Future[None]] = set()
        self._stops: set[asyncio.Future[None]] = set()
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

    def add(self, nodes: Iterable[str]) -> None:
        """More targets, started after those given so far (none given twice)."""
        known = set(self.nodes)
        more = [node for node in nodes if node not in known]
        self.nodes.extend(more)
        self._pending[:0] = reversed(more)  # popped from the end: after the others
        if self._finished is not None and self._finished.done():
            self._finished = asyncio.get_event_loop().create_future()
        self._fill()
        self._check_finished()

    async def wait(self) -> None:
        """Wait until every target has its outcome, and the remote commands stopped have
        been ended."""
        assert self._finished is not None, "start() first"
        await asyncio.shield(self._finished)
        while self._stops:
            await asyncio.gather(*list(self._stops))

    def abort(self, nodes: Iterable[str] | None = None) -> None:
        """Stop ``nodes`` (None: every target): running ones are killed, the others
        never start; all end ``interrupted``."""
        chosen = set(self.nodes) if nodes is None else set(nodes) & set(self.nodes)
        chosen -= self._done
        self._aborted |= chosen
        for node in chosen:
            proc = self._running.get(node)
            if proc is not None:
                self._stop(node, proc)
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
        launcher = self.launcher
        try:
            proc = await asyncio.create_subprocess_exec(
                *launcher.argv(node, launcher.tracked(self.command)),
                stdin=pipe if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=pipe, stderr=pipe, env=launcher.env(node), start_new_session=True,
                pass_fds=(self.watchdog.fd,) if self.watchdog is not None else ())
        except BaseException:
            if stdin is not None and key is not None:
                stdin.detach(key)
            raise
        leader = _Leader(launcher.mark) if launcher.mark is not None else None
        if leader is not None:
            self._leaders[node] = leader
        self._running[node] = proc
        tail = bytearray()
        assert proc.stdout is not None and proc.stderr is not None

        def on_stderr(data: bytes) -> None:
            if leader is not None and leader.group is None:
                data = leader.feed(data)
                if leader.group is not None and self.watchdog is not None:
                    self.watchdog.remote(proc.pid, launcher.stop_argv(node, leader.group))
                if not data:
                    return
            tail.extend(data[-_STDERR_TAIL:])
            del tail[:-_STDERR_TAIL]
            self.on_output(node, "stderr", data)

        async def stderr() -> None:
            assert proc.stderr is not None
            await _pump(proc.stderr, on_stderr, self.throttle)
            rest = leader.end() if leader is not None else b""
            if rest:
                on_stderr(rest)

        work = [asyncio.ensure_future(_pump(proc.stdout, lambda d: self.on_output(
                    node, "stdout", d), self.throttle)),
                asyncio.ensure_future(stderr())]
        if stdin is not None and key is not None:
            assert proc.stdin is not None
            work.append(asyncio.ensure_future(stdin.pour(key, proc.stdin)))
        timed_out = False
        try:
            if node in self._aborted:  # aborted while it was starting
                self._stop(node, proc)
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), self.timeout)
            except asyncio.TimeoutError:
                timed_out = True
                self._stop(node, proc)
                await proc.wait()
            await asyncio.gather(*work[:2])
        finally:
            self._running.pop(node, None)
            for task in work:
                task.cancel()
            if proc.returncode is None:
                self._stop(node, proc)
            known = self._leaders.pop(node, None) if node not in self._stopped else None
            if known is not None and self.watchdog is not None:
                self.watchdog.forget(proc.pid)
        if timed_out:
            return Outcome(RC_INTERRUPTED, "timeout", "timed out")
        rc = proc.returncode
        assert rc is not None
        if rc < 0:
            return Outcome(128 - rc)
        if rc == self.launcher.unreachable_rc:
            return Outcome(rc, "unreachable", self.launcher.unreachable_reason(bytes(tail)))
        return Outcome(rc)

    def _stop(self, node: str, proc: asyncio.subprocess.Process) -> None:
        """End ``node``'s command: its local process group, and the remote one behind
        ``ssh`` (in the background: :meth:`wait` waits for it)."""
        leader = self._leaders.get(node)
        if leader is None:
            _kill_group(proc)
            return
        if node in self._stopped:
            return
        self._stopped.add(node)
        stop = asyncio.ensure_future(self._stop_remote(node, proc, leader))
        self._stops.add(stop)
        stop.add_done_callback(self._stops.discard)

    async def _stop_remote(self, node: str, proc: asyncio.subprocess.Process,
                           leader: _Leader) -> None:
        """Learn the remote group (a command that just started may not have said it yet),
        kill the local ``ssh``, then end the remote group with another ``ssh``."""
        try:
            if leader.group is None and proc.returncode is None:
                exited = asyncio.ensure_future(proc.wait())
                await asyncio.wait([leader.known, exited], timeout=_LEADER_WAIT,
                                   return_when=asyncio.FIRST_COMPLETED)
                exited.cancel()
            _kill_group(proc)
            if leader.group is not None:
                await _run_quietly(self.launcher.stop_argv(node, leader.group), _STOP_WAIT)
        finally:
            self._leaders.pop(node, None)
            if self.watchdog is not None:
                self.watchdog.forget(proc.pid)


async def _run_quietly(argv: list[str], limit: float) -> None:
    """Run ``argv`` with no input or output, killed if it takes over ``limit`` seconds."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return
    try:
        await asyncio.wait_for(proc.wait(), limit)
    except asyncio.TimeoutError:
        _kill_group(proc)
        await proc.wait()


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
