"""The exceptions of python-deployer's ``deployer.exceptions``, with the same names and fields."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ActionException",
    "ConnectionFailedException",
    "DeployerException",
    "ExecCommandFailed",
    "ParallelActionException",
    "QueryException",
]


class DeployerException(Exception):
    """Base of every deployment error."""


class ExecCommandFailed(DeployerException):
    """A command ended with a non-zero exit status on ``host``."""

    def __init__(self, command: str, host: Any, use_sudo: bool, status_code: int,
                 result: str | None = None) -> None:
        self.command = command
        self.host = host
        self.use_sudo = use_sudo
        self.status_code = status_code
        self.result = result
        slug = getattr(host, "slug", host)
        sudo = " (sudo)" if use_sudo else ""
        super().__init__(f"{slug}: command{sudo} exited with status {status_code}: {command}")


class QueryException(DeployerException):
    """A ``Q`` query could not be evaluated on ``node`` for its attribute ``attr_name``."""

    def __init__(self, node: Any, attr_name: str, query: Any,
                 inner_exception: BaseException) -> None:
        self.node = node
        self.attr_name = attr_name
        self.query = query
        self.inner_exception = inner_exception
        filename, line = getattr(query, "_filename", None), getattr(query, "_line", None)
        where = f" ({filename}, line {line})" if filename else ""
        error = f"{type(inner_exception).__name__}: {inner_exception}"
        super().__init__(f"{node!r}.{attr_name} = {query!r}{where}: {error}")


class ActionException(DeployerException):
    """An action raised ``inner_exception``; ``traceback`` is its formatted traceback."""

    def __init__(self, inner_exception: BaseException, traceback: str) -> None:
        self.inner_exception = inner_exception
        self.traceback = traceback
        super().__init__(str(inner_exception))


class ConnectionFailedException(DeployerException):
    """The connection to a host could not be opened."""


class ParallelActionException(ActionException):
    """An action failed in some isolations of a ParallelNode array.

    The other isolations ran to their end first. ``failures`` maps each failed isolation
    (its ``Env``) to its :class:`ActionException`; ``result`` holds what the others
    returned (a ``ParallelActionResult``). ``inner_exception`` and ``traceback`` are the
    first failure's, as python-deployer re-raised the first error.
    """

    def __init__(self, failures: dict[Any, ActionException], result: Any,
                 total: int) -> None:
        first = next(iter(failures.values()))
        super().__init__(first.inner_exception, first.traceback)
        self.failures = failures
        self.result = result
        where = "; ".join(f"{isolation!r}: {error}" for isolation, error in failures.items())
        self.args = (f"{len(failures)} of {total} isolations failed: {where}",)

    def __str__(self) -> str:
        return str(self.args[0])
