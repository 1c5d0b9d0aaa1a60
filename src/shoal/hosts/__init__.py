"""Reaching nodes: the transport contract and its implementations.

Layer 2: imports :mod:`shoal.errors` and :mod:`shoal.nodeset` only. asyncssh is imported
by the SSH transport's modules alone (``ssh`` and its ``sshoptions``, ``ssherrors`` and
``sftp``), so code that never opens an SSH link never loads it. Copies on every transport
share one walk, :mod:`~shoal.hosts.copying`.
"""

from __future__ import annotations

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
    Unset,
)
from shoal.hosts.choose import TRANSPORTS, make_transport
from shoal.hosts.limits import raise_nofile_limit
from shoal.hosts.local import LocalConnection, LocalTransport

__all__ = [
    # the contract
    "ConnectOptions",
    "Connection",
    "OutputSink",
    "Transport",
    # talking to a running command, reading file attributes
    "FileStat",
    "Process",
    "Terminal",
    # settings not given
    "DEFAULT_CONNECT_TIMEOUT",
    "UNSET",
    "Unset",
    # implementations (the SSH ones live in shoal.hosts.ssh and .openssh), by name
    "LocalConnection",
    "LocalTransport",
    "TRANSPORTS",
    "make_transport",
    # limits
    "raise_nofile_limit",
]
