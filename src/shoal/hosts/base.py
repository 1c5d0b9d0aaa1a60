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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Connection", "ConnectOptions", "OutputSink", "Transport"]

#: Receives one chunk of raw output bytes, in order, as it arrives.
OutputSink = Callable[[bytes], None]


@dataclass(frozen=True)
class ConnectOptions:
    """How to reach nodes: built once per run and shared by every node.

    Anything left at its default comes from the ssh config file(s) (``Host`` blocks,
    ``HostName``, ``User``, ``Port``, ``IdentityFile``, ``ProxyJump``,
    ``UserKnownHostsFile``), as OpenSSH would resolve it.

    :param ssh_config: ssh config files to read; empty means ``~/.ssh/config`` if it exists.
    :param user: login user, overriding the config (``-l``).
    :param port: port, overriding the config.
    :param identities: private key files to offer, besides the agent and the config's.
    :param known_hosts: known_hosts file, overriding the config's ``UserKnownHostsFile``.
    :param accept_new_host_keys: trust and record a host key never seen before
        (OpenSSH's ``StrictHostKeyChecking=accept-new``); a *changed* key still fails.
    :param connect_timeout: seconds to open and authenticate a connection; None: no limit.
    :param options: ``-o Key=Value`` settings in ssh config syntax, applied first.
    """

    ssh_config: tuple[Path, ...] = ()
    user: str | None = None
    port: int | None = None
    identities: tuple[Path, ...] = ()
    known_hosts: Path | None = None
    accept_new_host_keys: bool = False
    connect_timeout: float | None = 10.0
    options: tuple[tuple[str, str], ...] = field(default=())


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
