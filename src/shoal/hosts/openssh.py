"""The ``openssh`` transport: the system ``ssh`` binary, for sites that need what only it does.

GSSAPI/Kerberos, smart cards through ``PKCS11Provider``, site-wide ``ProxyCommand``
wrappers or ``ControlMaster`` habits all work as they do for plain ``ssh``. Each node gets
one master connection (``ssh -M``, backgrounded once authenticated, ``-f``); every command
and copy of the node then runs over it through its control socket, so a node pays for
one login however many commands it runs.

Every ``-o`` setting goes to ``ssh`` as given, before the config files, so ``ssh``
honours it as on its own command line; the config files are read through one small file
that includes them all and then sets shoal's default ``ConnectTimeout`` (first value
wins, so a file's own value, or ``-o``'s, comes first). ``BatchMode`` forbids prompts, so
host keys are checked as ``StrictHostKeyChecking`` says, strictly unless told otherwise
(``ask`` refuses). Every ``ssh`` and ``scp`` call puts ``--`` before the node, so no node
name, however it got here, reaches their option parsers (``-oProxyCommand=…`` would run a
local command). Copies go through ``scp`` over the master into a private staging folder
beside their target, then into place by renames, as :mod:`shoal.hosts.copying` promises
(see :meth:`OpenSSHConnection.put` and :meth:`~OpenSSHConnection.get`). Limit: when a
command times out, the local ``ssh`` is killed, but OpenSSH offers no way to signal the
remote command without a terminal, so it may run on; the SSH transport has no such limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Literal

from shoal.errors import (
    AuthError,
    CommandTimeout,
    ConnectError,
    CopyFailed,
    HostError,
    HostKeyError,
    UsageError,
)
from shoal.hosts.base import (
    DEFAULT_CONNECT_TIMEOUT,
    UNSET,
    Connection,
    ConnectOptions,
    OutputSink,
    Transport,
)
from shoal.hosts.copying import CopyProblem, LocalSource, LocalTarget, copy_as, name_of, os_reason
from shoal.hosts.pipes import feed, pump
from shoal.hosts.placing import INSTALL, PREPARE
from shoal.hosts.sshargv import FROM_CONFIG, login_args, option_args, ssh_argv
from shoal.hosts.sshfail import why

__all__ = ["OpenSSHConnection", "OpenSSHTransport"]



class OpenSSHTransport(Transport):
    """Reach nodes with the system ``ssh`` and ``scp`` programs.

    >>> t = OpenSSHTransport(ConnectOptions(user="admin", port=2222))
    >>> t.ssh_args()[-4:], t.scp_args()[-4:]
    (['-l', 'admin', '-p', '2222'], ['-o', 'User=admin', '-P', '2222'])
    """

    files_per_node = 3  # a child ssh's stdin, stdout and stderr pipes

    def __init__(self, options: ConnectOptions | None = None, *, ssh: str = "ssh",
                 scp: str = "scp") -> None:
        self.options = options or ConnectOptions()
        ssh_path, scp_path = shutil.which(ssh), shutil.which(scp)
        if ssh_path is None or scp_path is None:
            raise UsageError(f"the openssh transport needs {ssh} and {scp} on PATH")
        self.ssh: str = ssh_path
        self.scp: str = scp_path
        self._sockets = tempfile.mkdtemp(prefix="shoal-mux-")  # short: sun_path is 108 bytes
        self._count = 0
        self._config = os.path.join(self._sockets, "ssh_config")
        with open(self._config, "w", encoding="utf-8") as file:
            file.write(_wrapper_config(self.options))

    def ssh_args(self) -> list[str]:
        """Options for every ``ssh`` call, from :class:`ConnectOptions`."""
        return self._common_args() + login_args(self.options.user, self.options.port)

    def scp_args(self) -> list[str]:
        """The same options for ``scp``, which spells user and port differently."""
        opts = self.options
        user = ["-o", f"User={opts.user}"] if opts.user is not None else []
        return self._common_args() + user + (["-P", str(opts.port)] if opts.port else [])

    def _common_args(self) -> list[str]:
        opts = self.options
        timeout: float | Literal["config"] | None = (
            FROM_CONFIG if opts.connect_timeout is UNSET else opts.connect_timeout)
        return option_args(opts.options, config=self._config,
                           identities=[str(identity) for identity in opts.identities],
                           known_hosts=None if opts.known_hosts is None else str(opts.known_hosts),
                           accept_new_host_keys=opts.accept_new_host_keys,
                           connect_timeout=timeout)

    async def connect(self, node: str) -> OpenSSHConnection:
        """Start ``node``'s master connection and wait until it is authenticated."""
        self._count += 1
        socket = os.path.join(self._sockets, str(self._count))
        argv = ssh_argv(self.ssh, [*self.ssh_args(), "-M", "-S", socket,
                                   "-o", "ControlPersist=yes", "-f", "-N"], node)
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        # UNSET: ssh applies the config's ConnectTimeout, or the wrapper's default.
        limit = None if self.options.connect_timeout is UNSET else self.options.connect_timeout
        try:
            _, err = await asyncio.wait_for(proc.communicate(), limit + 5 if limit else None)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise ConnectError(node, f"connect timed out after {limit:g}s") from None
        if proc.returncode != 0:
            raise _connect_error(node, err.decode("utf-8", "replace"), limit)
        return OpenSSHConnection(node, self, socket)

    async def close(self) -> None:
        """Remove the folder of control sockets."""
        shutil.rmtree(self._sockets, ignore_errors=True)


class OpenSSHConnection(Connection):
    """A node's master connection, reached through its control socket."""

    def __init__(self, node: str, transport: OpenSSHTransport, socket: str) -> None:
        self.node = node
        self._transport = transport
        self._socket = socket
        self._mux = ["-o", "ControlMaster=no", "-S", socket]

    async def run(self, command: str, *, stdout: OutputSink, stderr: OutputSink,
                  stdin: bytes | None = None, timeout: float | None = None) -> int:
        """Run ``command`` over the master connection; see :meth:`Connection.run`."""
        t = self._transport
        proc = await asyncio.create_subprocess_exec(
            *ssh_argv(t.ssh, t.ssh_args() + self._mux, self.node, [command]),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        assert proc.stdin and proc.stdout and proc.stderr
        errors = bytearray()

        def on_stderr(data: bytes) -> None:
            errors.extend(data[-4096:])
            del errors[:-4096]
            stderr(data)

        work = asyncio.gather(pump(proc.stdout, stdout), pump(proc.stderr, on_stderr),
                              feed(proc.stdin, stdin), proc.wait())
        try:
            await asyncio.wait_for(asyncio.shield(work), timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await work
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise CommandTimeout(self.node, timeout or 0.0) from None
        rc = proc.returncode if proc.returncode is not None else 255
        if rc == 255 and not os.path.exists(self._socket):
            raise ConnectError(self.node, "connection lost")
        return rc

    async def put(self, local: Path, remote: str, *, preserve: bool = False,
                  into: bool = False) -> None:
        """Copy ``local`` (recursively) to ``remote`` with ``scp``; see :meth:`Connection.put`.

        The node makes a private folder beside the target (``mktemp -d``); scp writes
        there, and the node then renames each file into place (``mv``), replacing a
        symlink at its name rather than following it: the sh of :mod:`shoal.hosts.placing`,
        which tree copies run too. The node needs ``sh``, ``awk``, ``mktemp`` and ``mv``,
        as any POSIX system has.
        """
        name = os.fsdecode(name_of(os.fsencode(local)))
        out = await self._script(PREPARE, f"copy to {remote}", remote, name,
                                 "1" if into else "0")
        staging, target = [*out.splitlines(), "", ""][:2]
        try:
            await self._scp(str(local), f"{self.node}:{staging}/copy", preserve,
                            f"copy to {target}")
        except CopyFailed as exc:
            free = await self._remove(staging)
            if exc.reason.endswith(": failure") and free == "0":  # scp's word for ENOSPC too
                raise CopyFailed(self.node, f"copy to {target} failed: no space left on device"
                                 ) from exc
            raise
        except BaseException:  # interrupted too: the staging folder goes, if it still can
            await self._remove(staging)
            raise
        await self._script(INSTALL, f"copy to {target}", f"{staging}/copy", target, staging)

    async def get(self, remote: str, local: Path, *, preserve: bool = False) -> None:
        """Copy ``remote`` (recursively) to exactly ``local``; see :meth:`Connection.get`.

        scp writes into a private folder made beside ``local``; the copy then moves into
        place as :mod:`shoal.hosts.copying` writes (temporary names, no symlink followed,
        names checked), so whatever the node sends stays inside ``local``'s folder.
        """
        folder, name = os.fsencode(local.parent), os.fsencode(local.name)
        try:
            staging = tempfile.mkdtemp(prefix=b".shoal-", dir=folder)
        except OSError as exc:
            raise CopyFailed(self.node, f"copy to {local} failed: {os_reason(exc)}") from exc
        try:
            staged = os.path.join(staging, b"copy")
            await self._scp(f"{self.node}:{remote}", os.fsdecode(staged), preserve,
                            f"copy from {remote}")
            await copy_as(LocalSource(), staged, LocalTarget(), folder, name, preserve=preserve)
        except CopyProblem as exc:
            raise CopyFailed(self.node, exc.reason) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    async def close(self) -> None:
        """Stop the master connection; safe to call twice."""
        if not os.path.exists(self._socket):
            return
        t = self._transport
        proc = await asyncio.create_subprocess_exec(
            *ssh_argv(t.ssh, [*t.ssh_args(), "-S", self._socket, "-O", "exit"], self.node),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)
        await proc.wait()

    async def _scp(self, source: str, target: str, preserve: bool, what: str) -> None:
        """Run scp over the master; ``what`` (``copy to X``) names it in errors."""
        if "/" in self.node:  # scp would take node:path for a local path
            raise CopyFailed(self.node, f"{what} failed: scp cannot name a node with a '/'")
        t = self._transport
        proc = await asyncio.create_subprocess_exec(
            t.scp, "-q", "-r", *(["-p"] if preserve else []), *t.scp_args(),
            "-o", "ControlMaster=no", "-o", f"ControlPath={self._socket}", "--", source, target,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        try:
            _, err = await proc.communicate()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        if proc.returncode == 255 and not os.path.exists(self._socket):
            raise ConnectError(self.node, "connection lost")
        if proc.returncode != 0:  # scp's first line says why, the others what it gave up
            raise CopyFailed(self.node, f"{what} failed: {_reason(err, 'scp failed', 0)}")

    async def _remove(self, staging: str) -> str:
        """Remove a staging folder if the node can; the KiB its file system has left."""
        try:
            return (await asyncio.wait_for(self._script(_REMOVE, "cleanup", staging),
                                           _CLEANUP_TIMEOUT)).strip()
        except (HostError, OSError, asyncio.TimeoutError):
            return ""

    async def _script(self, script: str, what: str, *args: str) -> str:
        """Run the POSIX sh ``script`` with ``args`` on the node; its output, or CopyFailed."""
        if any("\n" in arg for arg in args):
            raise CopyFailed(self.node, f"{what} failed: a name with a newline in it")
        out, err = bytearray(), bytearray()
        command = " ".join(["sh", "-s", "--", *(shlex.quote(arg) for arg in args)])
        rc = await self.run(command, stdout=out.extend, stderr=err.extend,
                            stdin=script.encode())
        if rc != 0:
            reason = _reason(bytes(out + err), "sh failed", -1)
            raise CopyFailed(self.node, f"{what} failed: {reason}")
        return out.decode("utf-8", "surrogateescape")


#: $1 a staging folder left by a copy that failed; prints the KiB left on its disk first.
_REMOVE = """\
df -P -- "$1" 2>/dev/null | awk 'NR == 2 { print $4 }'
rm -rf -- "$1"
"""

#: Seconds given to removing a staging folder after a failed or interrupted copy.
_CLEANUP_TIMEOUT = 5.0


def _reason(output: bytes, default: str, line: int) -> str:
    """The reason in a line a tool printed (0: the first, -1: the last), such as
    ``permission denied`` from ``mv: cannot move 'a' to 'b': Permission denied``."""
    lines = output.decode("utf-8", "replace").strip().splitlines()
    if not lines:
        return default
    reason = lines[line].rsplit(": ", 1)[-1].strip()
    return reason[0].lower() + reason[1:] if reason else default


def _wrapper_config(options: ConnectOptions) -> str:
    """The ssh config that includes the run's files, then gives shoal's defaults."""
    files = [str(p) for p in options.ssh_config] or ["~/.ssh/config", "/etc/ssh/ssh_config"]
    includes = "".join(f'Include "{path}"\n' for path in files)
    return (f"# shoal: the run's ssh config files, then its defaults (first value wins)\n"
            f"{includes}Host *\n    ConnectTimeout {DEFAULT_CONNECT_TIMEOUT:g}\n")


def _connect_error(node: str, stderr: str, limit: float | None) -> ConnectError:
    """The error for a master connection that failed, from what ``ssh`` printed."""
    kind, reason, fingerprint = why(stderr, limit)
    if kind == "auth":
        return AuthError(node, reason)
    if kind == "hostkey":
        return HostKeyError(node, fingerprint, reason)
    return ConnectError(node, reason)


