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
(``ask`` refuses). Limit: when a command times out, the local ``ssh`` is killed, but
OpenSSH offers no way to signal the remote command without a terminal, so it may run
on; the SSH transport has no such limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from shoal.errors import AuthError, CommandTimeout, ConnectError, HostKeyError, UsageError
from shoal.hosts.base import (
    DEFAULT_CONNECT_TIMEOUT,
    UNSET,
    Connection,
    ConnectOptions,
    OutputSink,
    Transport,
)
from shoal.hosts.pipes import feed, pump

__all__ = ["OpenSSHConnection", "OpenSSHTransport"]

_FINGERPRINT = re.compile(r"(SHA256:[A-Za-z0-9+/=]+)")


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
        opts = self.options
        user = ["-l", opts.user] if opts.user is not None else []
        return self._common_args() + user + (["-p", str(opts.port)] if opts.port else [])

    def scp_args(self) -> list[str]:
        """The same options for ``scp``, which spells user and port differently."""
        opts = self.options
        user = ["-o", f"User={opts.user}"] if opts.user is not None else []
        return self._common_args() + user + (["-P", str(opts.port)] if opts.port else [])

    def _common_args(self) -> list[str]:
        opts = self.options
        # shoal's own settings first (ssh keeps the first value), then -o, then the files
        args = ["-o", "BatchMode=yes"]
        if opts.accept_new_host_keys:
            args += ["-o", "StrictHostKeyChecking=accept-new"]
        if opts.connect_timeout is None:
            args += ["-o", "ConnectTimeout=none"]
        elif opts.connect_timeout is not UNSET:
            args += ["-o", f"ConnectTimeout={max(1, round(opts.connect_timeout))}"]
        if opts.known_hosts is not None:
            args += ["-o", f"UserKnownHostsFile={opts.known_hosts}"]
        for key, value in opts.options:
            args += ["-o", f"{key}={value}"]
        args += ["-F", self._config]
        for identity in opts.identities:
            args += ["-i", str(identity)]
        return args

    async def connect(self, node: str) -> OpenSSHConnection:
        """Start ``node``'s master connection and wait until it is authenticated."""
        self._count += 1
        socket = os.path.join(self._sockets, str(self._count))
        argv = [self.ssh, *self.ssh_args(), "-M", "-S", socket, "-o", "ControlPersist=yes",
                "-f", "-N", node]
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
            t.ssh, *t.ssh_args(), *self._mux, self.node, "--", command,
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

    async def put(self, local: Path, remote: str, *, preserve: bool = False) -> None:
        """Copy ``local`` (recursively) to ``remote`` with ``scp`` over the master."""
        await self._scp(str(local), f"{self.node}:{remote}", preserve, f"copy to {remote}")

    async def get(self, remote: str, local: Path, *, preserve: bool = False) -> None:
        """Copy ``remote`` (recursively) to ``local`` with ``scp`` over the master."""
        await self._scp(f"{self.node}:{remote}", str(local), preserve, f"copy from {remote}")

    async def close(self) -> None:
        """Stop the master connection; safe to call twice."""
        if not os.path.exists(self._socket):
            return
        t = self._transport
        proc = await asyncio.create_subprocess_exec(
            t.ssh, *t.ssh_args(), "-S", self._socket, "-O", "exit", self.node,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)
        await proc.wait()

    async def _scp(self, source: str, target: str, preserve: bool, what: str) -> None:
        t = self._transport
        proc = await asyncio.create_subprocess_exec(
            t.scp, "-q", "-r", *(["-p"] if preserve else []), *t.scp_args(),
            "-o", "ControlMaster=no", "-o", f"ControlPath={self._socket}", source, target,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        if proc.returncode != 0:
            last = err.decode("utf-8", "replace").strip().splitlines()
            raise ConnectError(self.node, f"{what} failed: {last[-1] if last else 'scp failed'}")


def _wrapper_config(options: ConnectOptions) -> str:
    """The ssh config that includes the run's files, then gives shoal's defaults."""
    files = [str(p) for p in options.ssh_config] or ["~/.ssh/config", "/etc/ssh/ssh_config"]
    includes = "".join(f'Include "{path}"\n' for path in files)
    return (f"# shoal: the run's ssh config files, then its defaults (first value wins)\n"
            f"{includes}Host *\n    ConnectTimeout {DEFAULT_CONNECT_TIMEOUT:g}\n")


def _connect_error(node: str, stderr: str, limit: float | None) -> ConnectError:
    """The error for a master connection that failed, from what ``ssh`` printed."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    text = " ".join(lines)
    last = lines[-1] if lines else "ssh failed"
    if "Permission denied" in text:
        return AuthError(node, f"authentication failed: {last}")
    if "host key" in text.lower() or "HOST IDENTIFICATION HAS CHANGED" in text:
        found = _FINGERPRINT.search(text)
        return HostKeyError(node, found[1] if found else None,
                            f"{last} (trust a new key with --accept-new-host-keys)")
    reason = last.rsplit(": ", 1)[-1] if ": " in last else last
    if "timed out" in text and limit is not None:
        reason = f"connect timed out after {limit:g}s"
    return ConnectError(node, reason[0].lower() + reason[1:] if reason else "ssh failed")


