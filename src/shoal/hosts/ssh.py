"""The SSH transport on asyncssh: one authenticated connection per node, reused.

Each node's settings come from the ssh config files as OpenSSH resolves them (``Host``
blocks, ``HostName``, ``User``, ``Port``, ``IdentityFile``, ``ProxyJump``,
``UserKnownHostsFile``…); :class:`~shoal.hosts.base.ConnectOptions` overrides them.
What is the same for every node of a run is loaded once and shared: parsed known_hosts
files, private keys, the ``-o`` options. Host keys are checked strictly
(:mod:`shoal.hosts.hostkeys`).

Commands run in an SSH session channel whose output goes straight to the caller's sinks
as raw bytes: nothing is decoded or buffered here.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import signal
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import asyncssh

from shoal.errors import AuthError, CommandTimeout, ConnectError, CopyFailed, HostKeyError
from shoal.hosts.base import Connection, ConnectOptions, OutputSink, Transport
from shoal.hosts.copying import (
    CopyProblem,
    LocalSource,
    LocalTarget,
    copy_as,
    copy_into,
    name_of,
    os_reason,
)
from shoal.hosts.hostkeys import HostKeyPolicy
from shoal.hosts.sftp import SFTPSource, SFTPTarget
from shoal.hosts.sshconfig import HostBlocks

if TYPE_CHECKING:
    from collections.abc import Awaitable, Sequence

__all__ = ["PREFERRED_CIPHERS", "SSHConnection", "SSHTransport"]

#: Ciphers offered first, before asyncssh's defaults. AES-GCM runs in one hardware-backed
#: context per direction; asyncssh's chacha20-poly1305 builds two cipher objects per
#: packet, which costs a short command's connection about a third of its client CPU.
PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")

#: Bytes of stdin handed to a channel at a time, as its send buffer drains.
_INPUT_CHUNK = 65536

_DEFAULT_IDENTITIES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")
_GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"


class SSHTransport(Transport):
    """Reach nodes over SSH with asyncssh.

    >>> transport = SSHTransport(ConnectOptions(user="admin", connect_timeout=5))
    >>> transport.options.user
    'admin'
    """

    def __init__(self, options: ConnectOptions | None = None) -> None:
        self.options = options or ConnectOptions()
        self.host_keys = HostKeyPolicy(accept_new=self.options.accept_new_host_keys)
        self._local_user = getpass.getuser()
        self._keys: dict[tuple[str, ...], list[asyncssh.SSHKeyPair]] = {}
        self._option_dir: tempfile.TemporaryDirectory[str] | None = None
        self._jumps: dict[str, asyncio.Future[asyncssh.SSHClientConnection]] = {}
        self._config_paths = self._config_files()
        self._host_blocks = HostBlocks(self._config_paths)
        self._resolved: dict[tuple[Any, ...], tuple[
            asyncssh.SSHClientConnectionOptions, list[str], tuple[str, ...]]] = {}
        default_ciphers = asyncssh.encryption.get_default_encryption_algs()
        self._ciphers = [c.decode() for c in default_ciphers]
        self._ciphers.sort(key=lambda c: c not in PREFERRED_CIPHERS)

    async def connect(self, node: str) -> SSHConnection:
        """Open and authenticate a connection to ``node`` (an ssh config alias or address)."""
        return SSHConnection(node, await self._open(node))

    async def _open(self, node: str, user: str | None = None, port: int | None = None,
                    ) -> asyncssh.SSHClientConnection:
        client = _Client(node, self.host_keys)
        try:
            options, shared = self._options_for(node, client, user, port)
        except (OSError, ValueError) as exc:  # unreadable or malformed config files
            raise ConnectError(node, f"ssh config: {exc}") from exc
        if isinstance(options.tunnel, str) and options.tunnel.lower() != "none":
            shared["tunnel"] = await self._jump(options.tunnel, node)
        try:
            return await asyncssh.connect(node, options=options, **shared)
        except asyncssh.HostKeyNotVerifiable as exc:
            raise client.refused_key_error() or HostKeyError(node, None, str(exc)) from exc
        except asyncssh.PermissionDenied as exc:
            raise AuthError(node, f"authentication failed: {exc.reason}") from exc
        except asyncio.TimeoutError as exc:
            raise ConnectError(
                node, f"connect timed out after {self.options.connect_timeout:g}s") from exc
        except (asyncssh.Error, OSError) as exc:
            raise ConnectError(node, _reason(exc)) from exc
        except ValueError as exc:  # asyncssh reports bad config values and keys this way
            raise ConnectError(node, str(exc)) from exc

    async def _jump(self, spec: str, node: str) -> asyncssh.SSHClientConnection:
        """The connection to ProxyJump ``spec``, opened once and shared by the nodes behind it."""
        opening = self._jumps.get(spec)
        if opening is None or (opening.done() and (
                opening.cancelled() or opening.exception() is not None
                or opening.result().is_closed())):
            opening = asyncio.ensure_future(self._open_jump(spec))
            self._jumps[spec] = opening
        try:
            return await asyncio.shield(opening)
        except ConnectError as exc:
            raise ConnectError(node, f"via {spec}: {exc.reason}") from exc

    async def _open_jump(self, spec: str) -> asyncssh.SSHClientConnection:
        *before, last = spec.split(",")
        user, _, hostport = last.rpartition("@")
        host, _, port = hostport.partition(":")
        if before:
            # a chain a,b: reach b through a (b's own config is not consulted for a jump)
            via = await self._jump(",".join(before), host)
            return await asyncssh.connect(host, port=int(port) if port else (),
                                          username=user or (), tunnel=via,
                                          config=self._config_paths)
        return await self._open(host, user or None, int(port) if port else None)

    async def close(self) -> None:
        """Close ProxyJump connections and remove the file that holds the ``-o`` options."""
        jumps = [j.result() for j in self._jumps.values()
                 if j.done() and not j.cancelled() and j.exception() is None]
        self._jumps.clear()
        for jump in jumps:
            jump.close()
        await asyncio.gather(*(j.wait_closed() for j in jumps))
        if self._option_dir is not None:
            self._option_dir.cleanup()
            self._option_dir = None

    def _config_files(self) -> list[str]:
        paths = [str(Path(p).expanduser()) for p in self.options.ssh_config]
        if not paths:
            default = Path("~/.ssh/config").expanduser()
            paths = [str(default)] if os.access(default, os.R_OK) else []
        if self.options.options:
            # ssh -o settings come first, so they win over the files (first value wins).
            self._option_dir = tempfile.TemporaryDirectory(prefix="shoal-ssh-")
            path = Path(self._option_dir.name, "options")
            path.write_text("".join(f"{key} {value}\n" for key, value in self.options.options))
            paths.insert(0, str(path))
        return paths

    def _options_for(self, node: str, client: _Client, user: str | None, port: int | None,
                     ) -> tuple[asyncssh.SSHClientConnectionOptions, dict[str, Any]]:
        """asyncssh options for ``node`` (its config) and the run's shared keys and known_hosts.

        Nodes that match the same ``Host`` blocks share one resolution of the config
        (:mod:`shoal.hosts.sshconfig`); known_hosts files and private keys are read once
        per run, not once per connection.
        """
        user = user if user is not None else self.options.user
        port = port if port is not None else self.options.port
        signature = self._host_blocks.signature(node)
        key = (signature, user, port) if signature is not None else None
        cached = self._resolved.get(key) if key is not None else None
        if cached is None:
            cached = self._resolve(node, user, port)
            if key is not None:
                self._resolved[key] = cached
        options, known, identities = cached
        client.known_paths = known
        return options, {
            "client_factory": lambda: client,
            "known_hosts": self.host_keys.known_hosts(known),
            "client_keys": self._load_keys(identities or _DEFAULT_IDENTITIES),
        }

    def _resolve(self, node: str, user: str | None, port: int | None,
                 ) -> tuple[asyncssh.SSHClientConnectionOptions, list[str], tuple[str, ...]]:
        """Parse the config for ``node``: its options, known_hosts files and identities."""
        overrides: dict[str, Any] = {}
        if user is not None:
            overrides["username"] = user
        if port is not None:
            overrides["port"] = port
        options = asyncssh.SSHClientConnectionOptions(
            config=self._config_paths, host=node, known_hosts=b"", client_keys=None,
            encryption_algs=self._ciphers, connect_timeout=self.options.connect_timeout,
            **overrides)
        config = options.config
        if self.options.known_hosts is not None:
            known = [str(self.options.known_hosts)]
        else:
            user_files = cast("Sequence[str] | None", config.get("UserKnownHostsFile"))
            global_files = cast("Sequence[str] | None", config.get("GlobalKnownHostsFile"))
            known = [*(user_files if user_files is not None else ["~/.ssh/known_hosts"]),
                     *(global_files if global_files is not None else [_GLOBAL_KNOWN_HOSTS])]
        configured = tuple(cast("Sequence[str]", config.get("IdentityFile", ())))
        return options, known, tuple(str(p) for p in self.options.identities) + configured

    def _load_keys(self, identities: tuple[str, ...]) -> list[asyncssh.SSHKeyPair]:
        """Private keys from ``identities``, read once per run.

        Like ssh, a file that is missing, unreadable or protected by a passphrase is
        skipped: the agent may hold that key.
        """
        if identities not in self._keys:
            keys: list[asyncssh.SSHKeyPair] = []
            for name in identities:
                try:
                    keys.extend(asyncssh.load_keypairs(os.path.expanduser(name)))
                except (OSError, asyncssh.KeyImportError, asyncssh.KeyEncryptionError):
                    continue
            self._keys[identities] = keys
        return self._keys[identities]


class _Client(asyncssh.SSHClient):
    """Answers asyncssh's question about a key known_hosts does not list."""

    def __init__(self, node: str, policy: HostKeyPolicy) -> None:
        self._node = node
        self._policy = policy
        self.known_paths: list[str] = []
        self._refused: tuple[str, str, int, asyncssh.SSHKey] | None = None

    def validate_host_public_key(self, host: str, addr: str, port: int,
                                 key: asyncssh.SSHKey) -> bool:
        if self._policy.decide(host, addr, port, key, self.known_paths):
            return True
        self._refused = (host, addr, port, key)
        return False

    def refused_key_error(self) -> HostKeyError | None:
        if self._refused is None:
            return None
        host, addr, port, key = self._refused
        return self._policy.error(self._node, host, addr, port, key, self.known_paths)


class SSHConnection(Connection):
    """One authenticated asyncssh connection to a node."""

    def __init__(self, node: str, conn: asyncssh.SSHClientConnection) -> None:
        self.node = node
        self._conn = conn
        self._sftp: asyncssh.SFTPClient | None = None

    async def run(self, command: str, *, stdout: OutputSink, stderr: OutputSink,
                  stdin: bytes | None = None, timeout: float | None = None) -> int:
        """Run ``command`` in a new session channel; see :meth:`Connection.run`."""
        session = _Session(stdout, stderr)
        try:
            chan, _ = await self._conn.create_session(lambda: session, command, encoding=None)
        except asyncssh.ChannelOpenError as exc:
            raise ConnectError(self.node, f"cannot open a session: {exc.reason}") from exc
        except (asyncssh.Error, OSError) as exc:
            raise ConnectError(self.node, f"connection lost: {_reason(exc)}") from exc
        session.send_input(chan, stdin or b"")
        try:
            await asyncio.wait_for(asyncio.shield(session.done), timeout)
        except asyncio.TimeoutError:
            _stop(chan)
            raise CommandTimeout(self.node, timeout or 0.0) from None
        except asyncio.CancelledError:
            _stop(chan)
            raise
        if session.error is not None:
            raise ConnectError(self.node, f"connection lost: {_reason(session.error)}")
        return session.returncode()

    async def put(self, local: Path, remote: str, *, preserve: bool = False,
                  into: bool = False) -> None:
        """Copy ``local`` (recursively) to ``remote`` over SFTP; see :meth:`Connection.put`."""
        target = SFTPTarget(await self._sftp_client())
        path = os.fsencode(local)
        await self._copy(copy_into(LocalSource(), path, target, os.fsencode(remote),
                                   name=name_of(path), preserve=preserve, into=into))

    async def get(self, remote: str, local: Path, *, preserve: bool = False) -> None:
        """Copy ``remote`` (recursively) to ``local`` over SFTP; see :meth:`Connection.get`."""
        source = SFTPSource(await self._sftp_client())
        await self._copy(copy_as(source, os.fsencode(remote), LocalTarget(),
                                 os.fsencode(local.parent), os.fsencode(local.name),
                                 preserve=preserve))

    async def _copy(self, copy: Awaitable[None]) -> None:
        """Do ``copy``: a refusal fails the copy, a lost link the connection."""
        try:
            await copy
        except CopyProblem as exc:
            raise CopyFailed(self.node, exc.reason) from exc
        except (asyncssh.Error, OSError) as exc:
            raise ConnectError(self.node, f"connection lost: {_reason(exc)}") from exc

    async def close(self) -> None:
        """Close the SFTP session and the connection; safe to call twice."""
        if self._sftp is not None:
            self._sftp.exit()
            self._sftp = None
        self._conn.close()
        await self._conn.wait_closed()

    async def _sftp_client(self) -> asyncssh.SFTPClient:
        if self._sftp is None:
            try:
                # paths stay bytes, as the node has them (shoal.hosts.sftp)
                self._sftp = await self._conn.start_sftp_client(path_encoding=None)
            except (asyncssh.Error, OSError) as exc:
                raise ConnectError(self.node, f"cannot start SFTP: {_reason(exc)}") from exc
        return self._sftp


class _Session(asyncssh.SSHClientSession[bytes]):
    """Sends output chunks to the sinks, feeds the command its stdin, records how it ended.

    Stdin goes out a chunk at a time as the channel's send buffer drains, so a node holds
    at most one chunk beyond the SSH window, not a copy of all of stdin. A command may
    end without reading all of it (``echo y | shoal run … true``): the rest is dropped,
    which is no error.
    """

    def __init__(self, stdout: OutputSink, stderr: OutputSink) -> None:
        self._stdout = stdout
        self._stderr = stderr
        self._chan: asyncssh.SSHClientChannel[bytes] | None = None
        self._input = memoryview(b"")
        self._paused = False
        self.status: int | None = None
        self.signal: str | None = None
        self.error: Exception | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def send_input(self, chan: asyncssh.SSHClientChannel[bytes], data: bytes) -> None:
        """Write ``data`` to the command's stdin as the channel takes it, then EOF."""
        self._chan = chan
        self._input = memoryview(data)
        self._write_input()

    def _write_input(self) -> None:
        while self._chan is not None and not self._paused:
            if self._chan.is_closing():  # the command has ended: what it left unread is dropped
                self._chan = None
            elif self._input:
                chunk, self._input = self._input[:_INPUT_CHUNK], self._input[_INPUT_CHUNK:]
                self._chan.write(bytes(chunk))  # pause_writing() when the send buffer fills
            else:
                self._chan.write_eof()
                self._chan = None

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._write_input()

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        if datatype == asyncssh.EXTENDED_DATA_STDERR:
            self._stderr(data)
        else:
            self._stdout(data)

    def exit_status_received(self, status: int) -> None:
        self.status = status

    def exit_signal_received(self, signal: str, core_dumped: bool, msg: str,
                             lang: str) -> None:
        self.signal = signal

    def connection_lost(self, exc: Exception | None) -> None:
        self._chan = None
        self.error = exc
        if not self.done.done():
            self.done.set_result(None)

    def returncode(self) -> int:
        """The exit status as a shell reports it: 128 + N for a command killed by signal N."""
        if self.status is not None:
            return self.status
        if self.signal is not None:
            number = getattr(signal, f"SIG{self.signal}", None)
            return 128 + int(number) if number is not None else 255
        return 255  # the server closed the channel without an exit status


def _stop(chan: asyncssh.SSHClientChannel[bytes]) -> None:
    """Ask the server to kill a command we gave up on, and close its channel."""
    with contextlib.suppress(asyncssh.Error, OSError):  # the link may be gone already
        chan.send_signal("KILL")
    chan.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncssh.Error):
        return exc.reason or type(exc).__name__
    if isinstance(exc, OSError):
        return os_reason(exc)  # "connection refused", not "[Errno 111] Connect call failed"
    return str(exc) or type(exc).__name__
