"""The log entries and the logger base classes of :mod:`shoal.deploy.loggers`.

A :class:`LoggerInterface` is the set of loggers a run reports to; each :class:`Logger`
overrides the hooks it cares about. Every command a host runs is one :class:`RunEntry`
(host, command, sudo, sandbox, interactive, exit status, duration), opened with
:meth:`LoggerInterface.log_run` as a context manager; every remote file opened is one
:class:`FileEntry`. Commands are logged as the user wrote them (with their ``prefix()``
parts), never with sudo's plumbing: no password ever reaches a logger.

As in python-deployer, a logger's state (the group stack of :class:`DefaultLogger`) is
not shared safely between concurrent isolations: give each its own with
:meth:`LoggerInterface.log_fork`.

Imports nothing from shoal.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

__all__ = [
    "Actions",
    "DummyLoggerInterface",
    "FileCallback",
    "FileEntry",
    "ForkCallback",
    "ForkEntry",
    "Logger",
    "LoggerInterface",
    "RunCallback",
    "RunEntry",
]


class Actions:
    """The kinds of log entries (``entry_type``)."""

    Run = "run"
    Open = "open"
    Fork = "fork"


class RunCallback:
    """What a logger returns from :meth:`Logger.log_run`, told how the command goes."""

    def __init__(self, completed: Any = None) -> None:
        if completed is not None:
            self.completed = completed  # type: ignore[method-assign]

    def completed(self) -> None:
        """The command has ended (its entry's ``status_code`` and ``duration`` are set)."""

    def output(self, stream: str, line: str) -> None:
        """One line the command printed on ``stream`` (``"stdout"``/``"stderr"``), as it came."""


class FileCallback:
    """What a logger returns from :meth:`Logger.log_file_opened`."""

    def __init__(self, file_closed: Any = None) -> None:
        if file_closed is not None:
            self.file_closed = file_closed  # type: ignore[method-assign]

    def file_closed(self) -> None:
        """The file is closed (its entry's ``succeeded`` is set)."""


class ForkCallback:
    """What a logger returns from :meth:`Logger.log_fork`."""

    def completed(self) -> None:
        """The fork has ended."""

    def get_fork_logger(self) -> Logger:
        """The logger for the fork; by default one that logs nothing."""
        return Logger()


class Logger:
    """A logger: override the hooks you need; each does nothing by default."""

    def enter_group(self, func_name: str, *args: Any, **kwargs: Any) -> None:
        """An action ``func_name(*args, **kwargs)`` starts."""

    def leave_group(self) -> None:
        """The last action entered has ended."""

    def log_fork(self, fork_entry: ForkEntry) -> ForkCallback:
        """Work forks into ``fork_entry.fork_name`` (an isolation)."""
        return ForkCallback()

    def log_run(self, run_entry: RunEntry) -> RunCallback:
        """A command starts on ``run_entry.host``."""
        return RunCallback()

    def log_file_opened(self, file_entry: FileEntry) -> FileCallback:
        """A remote file is opened (or copied)."""
        return FileCallback()

    def log_exception(self, e: BaseException) -> None:
        """An action failed with ``e``."""

    def log_msg(self, msg: str) -> None:
        """A message for the log."""


class RunEntry:
    """One command on one host, as the loggers see it; a context manager around the run.

    ``status_code`` is ``'unknown'`` until the command ends, as in python-deployer;
    ``duration`` (seconds) is set when the entry closes.
    """

    entry_type = Actions.Run

    def __init__(self, loggers: list[Logger], host: Any = None, command: str | None = None,
                 use_sudo: bool = False, sandboxing: bool = False, interactive: bool = False,
                 shell: bool = False) -> None:
        self.host = host
        self.command = command
        self.use_sudo = use_sudo
        self.sandboxing = sandboxing
        self.interactive = interactive
        self.shell = shell
        self.status_code: int | str = "unknown"
        self.duration: float | None = None
        self._loggers = loggers
        self._callbacks: list[RunCallback] = []
        self._started = 0.0

    def set_status_code(self, status_code: int) -> None:
        """Record the command's exit status."""
        self.status_code = status_code

    @property
    def succeeded(self) -> bool:
        """Whether the command exited with status 0."""
        return self.status_code == 0

    def output(self, stream: str, line: str) -> None:
        """Pass one line of the command's output to the loggers."""
        for callback in self._callbacks:
            callback.output(stream, line)

    def __enter__(self) -> RunEntry:
        self._started = time.monotonic()
        self._callbacks = [logger.log_run(self) for logger in self._loggers]
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.duration = time.monotonic() - self._started
        for callback in self._callbacks:
            callback.completed()


class FileEntry:
    """One remote file opened (or copied) on a host; a context manager around its use."""

    entry_type = Actions.Open

    def __init__(self, loggers: list[Logger], host: Any, mode: str | None = None,
                 remote_path: str | None = None, local_path: str | None = None,
                 use_sudo: bool = False, sandboxing: bool = False) -> None:
        self.host = host
        self.mode = mode
        self.remote_path = remote_path
        self.local_path = local_path
        self.use_sudo = use_sudo
        self.sandboxing = sandboxing
        self.succeeded: bool | None = None  # not known yet
        self._loggers = loggers
        self._callbacks: list[FileCallback] = []

    def complete(self, succeeded: bool = True) -> None:
        """Record whether the file was read or written whole."""
        self.succeeded = succeeded

    def __enter__(self) -> FileEntry:
        self._callbacks = [logger.log_file_opened(self) for logger in self._loggers]
        return self

    def __exit__(self, *exc_info: object) -> None:
        for callback in self._callbacks:
            callback.file_closed()


class ForkEntry:
    """Work forked into ``fork_name`` (an isolation of a ParallelNode)."""

    entry_type = Actions.Fork

    def __init__(self, loggers: list[Logger], fork_name: str) -> None:
        self.fork_name = fork_name
        self.succeeded: bool | None = None
        self.exception: BaseException | None = None
        self._callbacks = [logger.log_fork(self) for logger in loggers]

    def set_succeeded(self) -> None:
        """The fork ended well."""
        self.succeeded = True
        for callback in self._callbacks:
            callback.completed()

    def set_failed(self, exception: BaseException) -> None:
        """The fork failed with ``exception``."""
        self.succeeded = False
        self.exception = exception
        for callback in self._callbacks:
            callback.completed()

    def get_logger_interface(self) -> LoggerInterface:
        """A new interface with each logger's logger for the fork."""
        interface = LoggerInterface()
        for callback in self._callbacks:
            interface.attach(callback.get_fork_logger())
        return interface


class LoggerInterface:
    """The loggers a run reports to; entries go to those attached when they open."""

    def __init__(self) -> None:
        self.loggers: list[Logger] = []

    def attach(self, logger: Logger) -> None:
        """Report to ``logger`` too."""
        self.loggers.append(logger)

    def detach(self, logger: Logger) -> None:
        """Stop reporting to ``logger``."""
        self.loggers.remove(logger)

    @contextlib.contextmanager
    def attach_in_block(self, logger: Logger) -> Iterator[None]:
        """Report to ``logger`` for the duration of a ``with`` block."""
        self.attach(logger)
        try:
            yield
        finally:
            self.detach(logger)

    @contextlib.contextmanager
    def group(self, func_name: str, *args: Any, **kwargs: Any) -> Iterator[None]:
        """An action ``func_name(*args, **kwargs)``, for the duration of a ``with`` block."""
        loggers = self.loggers[:]
        for logger in loggers:
            logger.enter_group(func_name, *args, **kwargs)
        try:
            yield
        finally:
            for logger in loggers:
                logger.leave_group()

    def log_fork(self, fork_name: str) -> ForkEntry:
        """Work forks into ``fork_name``: the entry gives the fork its own interface."""
        return ForkEntry(self.loggers[:], fork_name)

    def log_run(self, host: Any = None, command: str | None = None, use_sudo: bool = False,
                sandboxing: bool = False, interactive: bool = False,
                shell: bool = False) -> RunEntry:
        """The entry of a command about to run, to use as a context manager."""
        return RunEntry(self.loggers[:], host, command, use_sudo, sandboxing, interactive,
                        shell)

    def log_file(self, host: Any, mode: str | None = None, remote_path: str | None = None,
                 local_path: str | None = None, use_sudo: bool = False,
                 sandboxing: bool = False) -> FileEntry:
        """The entry of a remote file about to be opened, to use as a context manager."""
        return FileEntry(self.loggers[:], host, mode, remote_path, local_path, use_sudo,
                         sandboxing)

    def log_exception(self, e: BaseException) -> None:
        """Tell every logger an action failed with ``e``."""
        for logger in self.loggers:
            logger.log_exception(e)

    def log_msg(self, msg: str) -> None:
        """Tell every logger ``msg``."""
        for logger in self.loggers:
            logger.log_msg(msg)


class DummyLoggerInterface(LoggerInterface):
    """An interface with no loggers (what a host gets when given none)."""
