"""Logging of what a deployment does: python-deployer's ``deployer.loggers``.

A :class:`LoggerInterface` is the set of loggers a run reports to; each :class:`Logger`
overrides the hooks it cares about. Every command a host runs is one :class:`RunEntry`
(host, command, sudo, sandbox, interactive, exit status, duration); every remote file
opened is one :class:`FileEntry`. :class:`DefaultLogger` prints each command and how it
ended. Commands are logged as the user wrote them, never with sudo's plumbing: no
password ever reaches a logger.

Imports nothing from shoal.
"""

from __future__ import annotations

from shoal.deploy.loggers.base import (
    Actions,
    DummyLoggerInterface,
    FileCallback,
    FileEntry,
    ForkCallback,
    ForkEntry,
    Logger,
    LoggerInterface,
    RunCallback,
    RunEntry,
)
from shoal.deploy.loggers.default import DefaultLogger

__all__ = [
    # the interface and the loggers
    "DefaultLogger",
    "DummyLoggerInterface",
    "Logger",
    "LoggerInterface",
    # what loggers are told
    "Actions",
    "FileCallback",
    "FileEntry",
    "ForkCallback",
    "ForkEntry",
    "RunCallback",
    "RunEntry",
]
