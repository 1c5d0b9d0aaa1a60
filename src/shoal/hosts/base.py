"""The transport contract: what the engine asks of a way to reach nodes.

A :class:`Transport` opens one :class:`Connection` per node; the engine reuses that
connection for every command and copy to the node, and closes it at the end. Output
arrives as raw byte chunks through callbacks (the engine splits lines itself), so a
transport never decodes, buffers whole outputs or interprets what a node prints.

Errors: ``connect`` raises :class:`~shoal.errors.ConnectError` (or its subclasses
``AuthError``, ``HostKeyError``), ``run`` raises :class:`~shoal.errors.CommandTimeout`
when the timeout expires and ``ConnectError`` when the link drops; ``put`` and ``get``
raise :class:`~shoal.errors.CopyFailed` when the node (or this machine) refuses the copy
and ``ConnectError`` when the link drops. No transport lets an asyncssh or ``OSError``
type escape: each maps them, chained with ``from``. Copies follow the rules of
:mod:`shoal.hosts.copying` (a temporary name then a rename, no symlink followed where
they write, scp's permissions).

This module imports nothing from higher layers.
"""

from __future__ import annotations

import abc
import enum
import os
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from shoal.errors import UsageError

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "UNSET", "Connection", "ConnectOptions", "FileStat",
           "OutputSink", "Process", "Terminal", "Transport", "Unset"]

#: Receives one chunk of raw output bytes, in order, as it arrives.
OutputSink = Callable[[bytes], None]

#: Seconds to open and authenticate a connection when nothing else says.
DEFAULT_CONNECT_TIMEOUT: Final = 10.0


class Unset(enum.Enum):
    """The type of :data:`UNSET`: a setting that was not given, as opposed to None ("off")."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


#: Not given: the ssh config decides, else shoal's default.
UNSET: Final = Unset.UNSET

PathLike = str | Path


def _path(value: PathLike) -> Path:
    """``value`` with ``~`` expanded, made absolute: ssh resolves a relative ``Include``
    under ``~/.ssh``, and a gateway runs in another folder."""
    return Path(os.path.abspath(Path(value).expanduser()))


def _paths(value: PathLike | Sequence[PathLike]) -> tuple[Path, ...]:
    if isinstance(value, str | Path):
        return (_path(value),)
    return tuple(_path(v) for v in value)


@dataclass(frozen=True, init=False)
class ConnectOptions:
    """How to reach nodes: built once per run and shared by every node.

    Anything left at its default comes from the ssh config file(s) (``Host`` blocks,
    ``HostName``, ``User``, ``Port``, ``IdentityFile``, ``ProxyJump``,
    ``UserKnownHostsFile``, ``StrictHostKeyChecking``, ``ConnectTimeout``…), as OpenSSH
    would resolve it. Paths may be given as ``str`` or :class:`~pathlib.Path` (one or a
    sequence); they are stored as tuples of expanded paths.

    >>> ConnectOptions(ssh_config="~/cfg", identities=["/k1", Path("/k2")]).identities
    (PosixPath('/k1'), PosixPath('/k2'))

    :param ssh_config: ssh config files to read; empty means ``~/.ssh/config`` if it exists.
    :param user: login user, overriding the config (``-l``).
    :param port: port, overriding the config.
    :param identities: private key files to offer, besides the agent and the config's.
    :param known_hosts: known_hosts file, overriding the config's ``UserKnownHostsFile``.
    :param accept_new_host_keys: trust and record a host key never seen before
        (OpenSSH's ``StrictHostKeyChecking=accept-new``), whatever the config says; a
        *changed* key still fails.
    :param connect_timeout: seconds to open and authenticate a connection; None: no limit;
        :data:`UNSET`: the ssh config's ``ConnectTimeout`` (``-o`` included), else
        :data:`DEFAULT_CONNECT_TIMEOUT`.
    :param options: ``-o Key=Value`` settings in ssh config syntax; they win over the
        files (each transport honours them or refuses them when it is built).
    """

    ssh_config: tuple[Path, ...]
    user: str | None
    port: int | None
    identities: tuple[Path, ...]
    known_hosts: Path | None
    accept_new_host_keys: bool
    connect_timeout: float | Unset | None
    options: tuple[tuple[str, str], ...]

    def __init__(self, *, ssh_config: PathLike | Sequence[PathLike] = (),
                 user: str | None = None, port: int | None = None,
                 identities: PathLike | Sequence[PathLike] = (),
                 known_hosts: PathLike | None = None, accept_new_host_keys: bool = False,
                 connect_timeout: float | Unset | None = UNSET,
                 options: Sequence[tuple[str, str]] = ()) -> None:
        # Frozen: fields are set once, here, with paths normalised to tuples of Paths.
        values = {
            "ssh_config": _paths(ssh_config), "user": user, "port": port,
            "identities": _paths(identities),
            "known_hosts": _path(known_hosts) if known_hosts is not None else None,
            "accept_new_host_keys": accept_new_host_keys, "connect_timeout": connect_timeout,
            "options": tuple((str(k), str(v)) for k, v in options),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_ssh_options(cls, text: str) -> ConnectOptions:
        """ssh's options as clush's ``-o`` (and ``shoal.conf``'s ``ssh_options``) take them.

        ``-oKey=Value`` (or ``-o "Key Value"``), ``-p PORT``, ``-i KEY`` and ``-F FILE`` are
        understood; anything else is an error, not silently ignored. ``-o`` settings are
        kept as pairs for the transport, which honours or refuses each one.

        >>> opts = ConnectOptions.from_ssh_options(
        ...     "-oPort=2222 -o 'User admin' -p22 -i /k -F /cfg")
        >>> opts.options, opts.port, opts.identities, opts.ssh_config
        ((('Port', '2222'), ('User', 'admin')), 22, (PosixPath('/k'),), (PosixPath('/cfg'),))

        :raises UsageError: an option is unknown, lacks its value or has a bad one.
        """
        try:
            words = iter(shlex.split(text))
        except ValueError as exc:
            raise UsageError(f'ssh options "{text}": {exc}') from exc
        pairs: list[tuple[str, str]] = []
        identities: list[str] = []
        files: list[str] = []
        port: int | None = None
        for word in words:
            flag, value = word[:2], word[2:] or next(words, "")
            if flag not in ("-o", "-p", "-i", "-F"):
                raise UsageError(f'ssh options "{text}": "{word}" is not supported '
                                 "(use -oKey=Value, -p PORT, -i KEY or -F FILE)")
            if not value:
                raise UsageError(f'ssh options "{text}": {flag} needs a value')
            if flag == "-o":
                pairs.append(_key_value(text, value))
            elif flag == "-p":
                port = _port(text, value)
            else:
                (identities if flag == "-i" else files).append(value)
        return cls(ssh_config=tuple(files), port=port, identities=tuple(identities),
                   options=tuple(pairs))


def _key_value(text: str, setting: str) -> tuple[str, str]:
    """``Key=Value`` or ``Key Value`` (an ssh ``-o`` setting) as a pair."""
    parts = re.split(r"\s*=\s*|\s+", setting.strip(), maxsplit=1)
    if len(parts) != 2 or not all(parts):
        raise UsageError(f'ssh options "{text}": "{setting}" is not Key=Value')
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", parts[0]):  # "-o -oKey=Value"
        raise UsageError(f'ssh options "{text}": "{parts[0]}" is not an ssh option name '
                         "(write -oKey=Value)")
    return parts[0], parts[1]


def _port(text: str, value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise UsageError(f'ssh options "{text}": "{value}" is not a port number')
    return int(value)


@dataclass(frozen=True)
class Terminal:
    """A pseudo-terminal to run a command in: its type (``TERM``) and size."""

    term: str = "xterm"
    columns: int = 80
    rows: int = 24


@dataclass(frozen=True)
class FileStat:
    """What a node says about one of its files, named as :func:`os.stat` names it."""

    st_mode: int
    st_size: int
    st_uid: int
    st_gid: int
    st_atime: float
    st_mtime: float


class Process(abc.ABC):
    """A command started with :meth:`Connection.start`, talked to while it runs.

    Its output goes to the sinks given to ``start`` as it arrives; nothing is written to
    its stdin but what :meth:`write` sends, until :meth:`write_eof`.
    """

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Send ``data`` to the command's stdin (or terminal); ignored once it has ended."""

    @abc.abstractmethod
    def write_eof(self) -> None:
        """Close the command's stdin (without a terminal; with one, send Ctrl-D yourself)."""

    @abc.abstractmethod
    def resize(self, columns: int, rows: int) -> None:
        """Tell the command's terminal its new size (no-op without a terminal)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Kill the command and drop its channel; :meth:`wait` returns soon after."""

    @abc.abstractmethod
    async def wait(self) -> int:
        """Wait until the command has ended and its output is delivered; its exit status.

        A command killed by a signal returns 128 + the signal number.
        :raises ~shoal.errors.ConnectError: the link dropped first.
        """


class Connection(abc.ABC):
    """An open link to one node, reused for all its commands and copies."""

    #: the node name as the user wrote it (an alias, not the resolved address)
    node: str

    @abc.abstractmethod
    async def run(
        self,
        command: str,
        *,
        stdout: OutputSink,
        stderr: OutputSink,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> int:
        """Run ``command`` through the node's shell and return its exit status.

        Output chunks go to ``stdout``/``stderr`` as they arrive. ``stdin`` is written then
        closed (None: the command gets an empty, closed stdin). A command killed by a
        signal returns 128 + the signal number, as a shell reports it. On timeout the
        remote command is stopped and :class:`~shoal.errors.CommandTimeout` raised; the
        connection stays usable when the transport can keep it.
        """

    @abc.abstractmethod
    async def put(self, local: Path, remote: str, *, preserve: bool = False,
                  into: bool = False) -> None:
        """Copy a local file or directory (recursively) to ``remote`` on the node.

        As scp: into ``remote`` when it is a directory, else as ``remote`` itself. With
        ``into``, ``remote`` must be a directory (several sources, or a destination
        ending in ``/``). ``preserve``: permission bits and times exactly (``-p``).
        """

    @abc.abstractmethod
    async def get(self, remote: str, local: Path, *, preserve: bool = False) -> None:
        """Copy a remote file or directory (recursively) from the node to exactly ``local``.

        ``local``'s folder must exist; a file at ``local`` is replaced (a symlink there
        too, never followed), a directory there takes in a directory's content.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the link; safe to call twice."""

    async def start(self, command: str, *, stdout: OutputSink, stderr: OutputSink,
                    terminal: Terminal | None = None) -> Process:
        """Start ``command`` through the node's shell and return at once, to talk to it.

        With ``terminal`` it runs in a pseudo-terminal of that type and size, where its
        stderr comes merged into ``stdout``; without, it has pipes. For commands that need
        input as they run (a password prompt, keystrokes); :meth:`run` does the rest.

        :raises UsageError: this transport cannot (the default).
        :raises ~shoal.errors.ConnectError: the link is gone.
        """
        raise UsageError(f"the {type(self).__name__} transport cannot start interactive "
                         "commands")

    async def stat(self, path: str, *, follow_symlinks: bool = True) -> FileStat:
        """What the node says about ``path`` (a symlink's target unless ``follow_symlinks``).

        :raises OSError: the node refused: :class:`FileNotFoundError`,
            :class:`PermissionError`, :class:`NotADirectoryError`…, with ``filename``.
        :raises UsageError: this transport cannot read file attributes (the default).
        :raises ~shoal.errors.ConnectError: the link is gone.
        """
        raise UsageError(f"the {type(self).__name__} transport cannot read file attributes")

    async def listdir(self, path: str) -> list[tuple[str, FileStat]]:
        """The names in the directory ``path`` (not ``.``, ``..``) with their ``lstat``.

        Names the node holds in another encoding than UTF-8 come with surrogate escapes
        (``os.fsdecode``). Raises as :meth:`stat`.
        """
        raise UsageError(f"the {type(self).__name__} transport cannot list directories")


class Transport(abc.ABC):
    """A way to reach nodes (asyncssh, the system ``ssh`` binary, local processes)."""

    #: Open files one node may hold at most, connection and work under way together (a
    #: socket and a file being copied; pipes to a child process): the engine sizes the
    #: open-files limit, and its fan-out when that limit cannot grow, from it.
    files_per_node: int = 2

    @abc.abstractmethod
    async def connect(self, node: str) -> Connection:
        """Open and authenticate a connection to ``node`` within the connect timeout."""

    async def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release what the transport holds beyond its connections (agent, caches)."""
