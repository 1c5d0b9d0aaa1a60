"""Reaching nodes: the transport contract and its implementations.

Layer 2: imports :mod:`shoal.errors` and :mod:`shoal.nodeset` only. asyncssh is imported
by the SSH transport module alone, so code that never opens an SSH link never loads it.
"""

from __future__ import annotations

from shoal.hosts.base import Connection, ConnectOptions, OutputSink, Transport

__all__ = [
    "ConnectOptions",
    "Connection",
    "OutputSink",
    "Transport",
]
