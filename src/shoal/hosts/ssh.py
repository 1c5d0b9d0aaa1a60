"""The SSH transport on asyncssh: one authenticated connection per node, reused.

Each node's settings come from the ssh config files as OpenSSH resolves them (``Host``
blocks, ``HostName``, ``User``, ``Port``, ``IdentityFile``, ``ProxyJump``,
``UserKnownHostsFile``, ``StrictHostKeyChecking``, ``ConnectTimeout``…);
:class:`~shoal.hosts.base.ConnectOptions` overrides them, and its ``-o`` settings are
honoured or refused when the transport is built (:mod:`shoal.hosts.sshoptions`). What is
the same for every node of a run is loaded once and shared: parsed known_hosts files,
private keys, the ``-o`` options. Host keys are checked as ``StrictHostKeyChecking`` says,
strictly by default (:mod:`shoal.hosts.hostkeys`), and every ProxyJump hop, chains
included, is opened as a node is: same policy, known_hosts, keys and connect timeout.

Commands run in an SSH session channel whose output goes straight to the caller's sinks
as raw bytes: nothing is decoded or buffered here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import asyncssh

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
    FileStat,
    OutputSink,
    Process,
    Terminal,
    Transport,
)
from shoal.hosts.copying import (
    CopyProblem,
    LocalSource,
    LocalTarget,
    copy_as,
    copy_into,
    name_of,
)
from shoal.hosts.hostkeys import HostKeyPolicy
from shoal.hosts.sftp import SFTPSource, SFTPTarget, file_stat, list_directory
from shoal.hosts.sshconfig import HostBlocks
from shoal.hosts.ssherrors import reason as _reason
from shoal.hosts.ssherrors import ssh_errors
from shoal.hosts.sshoptions import check_options, host_key_mode, keep_strict_host_key_checking

if TYPE_CHECKING:
    from collections.abc import Awaitable, Sequence

__all__ = ["PREFERRED_CIPHERS", "SSHConnection", "SSHTransport"]

T = TypeVar("T")

#: Ciphers offered first, before asyncssh's defaults. AES-GCM runs in one hardware-backed
#: context per direction; asyncssh's chacha20-poly1305 builds two cipher objects per
#: packet, which costs a short command's connection about a third of its client CPU.
PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")

#: Bytes of stdin handed to a channel at a time, as its send buffer drains.
_INPUT_CHUNK = 65536

_DEFAULT_IDENTITIES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")
_GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"
_CONFIG_LINE = re.compile(r" line (\d+): (.*)$")


@dataclass(frozen=True)
class _Resolved:
    """One node's settings from the ssh config, shared by the nodes of the same blocks."""

    options: asyncssh.SSHClientConnectionOptions
    known_hosts: list[str]
    identities: tuple[str, ...]
    host_key_mode: str
    connect_timeout: float | None
    #: asyncssh.connect keywords on top of ``options``
    extra: dict[str, Any]


class SSHTransport(Transport):
    """Reach nodes over SSH with asyncssh.

    >>> transport = SSHTransport(ConnectOptions(user="admin", connect_timeout=5))
    >>> transport.options.user
    'admin'

    :raises UsageError: an ``-o`` setting that this transport does not honour, or a bad
        value for one it does; the message names it (and the alternative).
    """

    def __init__(self, options: ConnectOptions | None = None) -> None:
        self.options = options or ConnectOptions()
        check_options(self.options.options)
        keep_strict_host_key_checking()
        self.host_keys = HostKeyPolicy()
        self._keys: dict[tuple[str, ...], list[asyncssh.SSHKeyPair]] = {}
        self._option_dir: tempfile.TemporaryDirectory[str] | None = None
        self._jumps: dict[str, asyncio.Future[asyncssh.SSHClientConnection]] = {}
        self._config_paths = self._config_files()
        self._host_blocks = HostBlocks(self._config_paths)
        self._resolved: dict[tuple[Any, ...], _Resolved] = {}
        default_ciphers = asyncssh.encryption.get_default_encryption_algs()
        self._ciphers = [c.decode() for c in default_ciphers]
        self._ciphers.sort(key=lambda c: c not in PREFERRED_CIPHERS)

    async def connect(self, node: str) -> SSHConnection:
        """Open and authenticate a connection to ``node`` (an ssh config alias or address)."""
        return SSHConnection(node, await self._open(node))

    async def _open(self, node: str, user: str | None = None, port: int | None = None,
                    tunnel: asyncssh.SSHClientConnection | None = None,
                    through: tuple[str, ...] = ()) -> asyncssh.SSHClientConnection:
        """Connect to ``node`` as its config says, or through ``tunnel`` (the hops before it).

        ``through`` holds the ProxyJump specs being opened on the way to ``node``: a spec
        met again is a loop in the config, an error rather than a wait on itself.
        """
        with ssh_errors(node, "ssh config"):  # unreadable or malformed config files
            settings = self._settings_for(node, user, port)
        client = _Client(node, self.host_keys, settings.known_hosts, settings.host_key_mode)
        spec = settings.options.tunnel
        if tunnel is None and isinstance(spec, str):
            tunnel = await self._jump(spec, node, through)
        with ssh_errors(node, connect_timeout=settings.connect_timeout,
                        refused_key=client.refused_key_error):
            return await asyncssh.connect(
                node, options=settings.options, client_factory=lambda: client,
                known_hosts=self.host_keys.known_hosts(settings.known_hosts),
                client_keys=self._load_keys(settings.identities or _DEFAULT_IDENTITIES),
                connect_timeout=settings.connect_timeout,
                **({"tunnel": tunnel} if tunnel is not None else {}), **settings.extra)

    async def _jump(self, spec: str, node: str, through: tuple[str, ...] = (),
                    ) -> asyncssh.SSHClientConnection:
        """The connection to ProxyJump ``spec`` for ``node``; a failed hop is named.

        The error keeps its kind (a host key refused at a hop is a ``HostKeyError`` with
        the fingerprint), its node becomes ``node`` and its reason says ``via HOP``.
        """
        if spec in through:
            raise ConnectError(node, f"ProxyJump loops: {' -> '.join((*through, spec))}")
        try:
            return await self._hop(spec, (*through, spec))
        except HostError as exc:
            raise _via(exc, node) from exc

    async def _hop(self, spec: str, through: tuple[str, ...]) -> asyncssh.SSHClientConnection:
        """The connection to ProxyJump ``spec``, opened once and shared by the nodes behind it."""
        opening = self._jumps.get(spec)
        if opening is None or (opening.done() and (
                opening.cancelled() or opening.exception() is not None
                or opening.result().is_closed())):
            opening = asyncio.ensure_future(self._open_jump(spec, through))
            self._jumps[spec] = opening
        return await asyncio.shield(opening)

    async def _open_jump(self, spec: str, through: tuple[str, ...],
                         ) -> asyncssh.SSHClientConnection:
        """Open the last hop of ``spec`` (``[user@]host[:port]``, comma-separated) through the rest.

        Each hop is opened as a node is (its config, host-key policy, keys and timeout),
        except that a chain's ``ProxyJump`` is the hops before it, as with ``ssh -J``.
        """
        *before, last = spec.split(",")
        user, _, hostport = last.strip().rpartition("@")
        host, _, port = hostport.partition(":")
        if port and not port.isdigit():
            raise ConnectError(host, f'ProxyJump "{spec}": "{port}" is not a port number')
        via = await self._hop(",".join(before), through) if before else None
        return await self._open(host, user or None, int(port) if port else None, via, through)

    async def close(self) -> None:
        """Close ProxyJump connections and remove the file that holds the ``-o`` options."""
        jumps = [j.result() for j in self._jumps.values()
                 if j.done() and not j.cancelled() and j.exception() is None]
        self._jumps.clear()
        for jump in jumps:
            jump.close()
        await asyncio.gather(*(j.wait_closed() for j in jumps))
        self._remove_options()

    def _config_files(self) -> list[str]:
        paths = [str(p) for p in self.options.ssh_config]
        if not paths:
            default = Path("~/.ssh/config").expanduser()
            paths = [str(default)] if os.access(default, os.R_OK) else []
        if self.options.options:
            # ssh -o settings come first, so they win over the files (first value wins).
            self._option_dir = tempfile.TemporaryDirectory(prefix="shoal-ssh-")
            path = Path(self._option_dir.name, "options")
            path.write_text("".join(f"{key} {value}\n" for key, value in self.options.options))
            self._check_values(str(path))
            paths.insert(0, str(path))
        return paths

    def _check_values(self, path: str) -> None:
        """Parse the ``-o`` settings alone, so a bad value is one error, not one per node."""
        try:
            asyncssh.SSHClientConnectionOptions(config=[path], host="", known_hosts=None,
                                                client_keys=None)
        except ValueError as exc:
            self._remove_options()
            found = _CONFIG_LINE.search(str(exc))
            if found is None:
                raise UsageError(f"ssh options: {exc}") from exc
            key, value = self.options.options[int(found[1]) - 1]
            raise UsageError(f'ssh option "{key}={value}": {found[2]}') from exc

    def _remove_options(self) -> None:
        if self._option_dir is not None:
            self._option_dir.cleanup()
            self._option_dir = None

    def _settings_for(self, node: str, user: str | None, port: int | None) -> _Resolved:
        """``node``'s settings: its config as asyncssh parses it, and what shoal reads there.

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
        return cached

    def _resolve(self, node: str, user: str | None, port: int | None) -> _Resolved:
        """Parse the config for ``node``: asyncssh's options, and the keys shoal decides."""
        overrides: dict[str, Any] = {}
        if user is not None:
            overrides["username"] = user
        if port is not None:
            overrides["port"] = port
        options = asyncssh.SSHClientConnectionOptions(
            config=self._config_paths, host=node, known_hosts=b"", client_keys=None,
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
        return _Resolved(
            options=options, known_hosts=known,
            identities=tuple(str(p) for p in self.options.identities) + configured,
            host_key_mode=self._host_key_mode(node, config.get("StrictHostKeyChecking")),
            connect_timeout=self._connect_timeout(config.get("ConnectTimeout")),
            # the config's Ciphers, when it names some, else shoal's preferred order
            extra={} if config.get("Ciphers") else {"encryption_algs": self._ciphers})

    def _host_key_mode(self, node: str, configured: object) -> str:
        """``accept-new`` when asked, else the config's StrictHostKeyChecking, else ``yes``."""
        if self.options.accept_new_host_keys:
            return "accept-new"
        if configured is None:
            return "yes"
        mode = host_key_mode(str(configured))
        if mode is None:
            raise ConnectError(node, f'ssh config: StrictHostKeyChecking "{configured}" is '
                                     "not yes, accept-new, no or ask")
        return mode

    def _connect_timeout(self, configured: object) -> float | None:
        """The options' connect timeout, else the config's ConnectTimeout, else the default."""
        if self.options.connect_timeout is not UNSET:
            return self.options.connect_timeout
        if isinstance(configured, int):
            return float(configured) or None  # ConnectTimeout 0: no limit, as in OpenSSH
        return DEFAULT_CONNECT_TIMEOUT

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


def _via(exc: HostError, node: str) -> HostError:
    """``exc`` of a ProxyJump hop as ``node``'s error, of the same kind, naming the hop."""
    reason = f"via {exc.node}: {exc.reason}"
    if isinstance(exc, HostKeyError):
        return HostKeyError(node, exc.fingerprint, reason)
    if isinstance(exc, AuthError):
        return AuthError(node, reason)
    return ConnectError(node, reason)


class _Client(asyncssh.SSHClient):
    """Answers asyncssh's question about a key known_hosts does not list."""

    def __init__(self, node: str, policy: HostKeyPolicy, known_paths: list[str],
                 mode: str) -> None:
        self._node = node
        self._policy = policy
        self._known_paths = known_paths
        self._mode = mode
        self._refused: tuple[str, str, int, asyncssh.SSHKey] | None = None

    def validate_host_public_key(self, host: str, addr: str, port: int,
                                 key: asyncssh.SSHKey) -> bool:
        if self._policy.decide(host, addr, port, key, self._known_paths, self._mode,
                               self._node):
            return True
        self._refused = (host, addr, port, key)
        return False

    def refused_key_error(self) -> HostKeyError | None:
        """The policy's error for the key refused during this connection, if one was."""
        if self._refused is None:
            return None
        host, addr, port, key = self._refused
        return self._policy.error(self._node, host, addr, port, key, self._known_paths)


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

    async def start(self, command: str, *, stdout: OutputSink, stderr: OutputSink,
                    terminal: Terminal | None = None) -> Process:
        """Start ``command`` in a new session channel; see :meth:`Connection.start`."""
        session = _Session(stdout, stderr)
        pty: dict[str, Any] = {"request_pty": False}
        if terminal is not None:
            pty = {"request_pty": "force", "term_type": terminal.term,
                   "term_size": (terminal.columns, terminal.rows)}
        try:
            chan, _ = await self._conn.create_session(lambda: session, command, encoding=None,
                                                      **pty)
        except asyncssh.ChannelOpenError as exc:
            raise ConnectError(self.node, f"cannot open a session: {exc.reason}") from exc
        except (asyncssh.Error, OSError) as exc:
            raise ConnectError(self.node, f"connection lost: {_reason(exc)}") from exc
        return _Process(self.node, chan, session)

    async def stat(self, path: str, *, follow_symlinks: bool = True) -> FileStat:
        """``path``'s attributes over SFTP; see :meth:`Connection.stat`."""
        sftp = await self._sftp_client()
        return await self._files(file_stat(sftp, os.fsencode(path),
                                           follow_symlinks=follow_symlinks))

    async def listdir(self, path: str) -> list[tuple[str, FileStat]]:
        """The directory ``path`` over SFTP; see :meth:`Connection.listdir`."""
        sftp = await self._sftp_client()
        return await self._files(list_directory(sftp, os.fsencode(path)))

    async def _files(self, step: Awaitable[T]) -> T:
        """Await an SFTP read: a refusal stays an ``OSError``, a lost link fails the node."""
        try:
            return await step
        except (asyncssh.Error, ConnectionError) as exc:
            raise ConnectError(self.node, f"connection lost: {_reason(exc)}") from exc

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


class _Process(Process):
    """A command in a session channel, its stdin written as the caller goes."""

    def __init__(self, node: str, chan: asyncssh.SSHClientChannel[bytes],
                 session: _Session) -> None:
        self._node = node
        self._chan = chan
        self._session = session

    def write(self, data: bytes) -> None:
        if not self._chan.is_closing():
            self._chan.write(data)

    def write_eof(self) -> None:
        if not self._chan.is_closing():
            self._chan.write_eof()

    def resize(self, columns: int, rows: int) -> None:
        if not self._chan.is_closing():
            with contextlib.suppress(asyncssh.Error, OSError):  # a command without a PTY
                self._chan.change_terminal_size(columns, rows)

    def stop(self) -> None:
        _stop(self._chan)

    async def wait(self) -> int:
        await asyncio.shield(self._session.done)
        if self._session.error is not None:
            raise ConnectError(self._node, f"connection lost: {_reason(self._session.error)}")
        return self._session.returncode()


def _stop(chan: asyncssh.SSHClientChannel[bytes]) -> None:
    """Ask the server to kill a command we gave up on, and close its channel."""
    with contextlib.suppress(asyncssh.Error, OSError):  # the link may be gone already
        chan.send_signal("KILL")
    chan.close()
