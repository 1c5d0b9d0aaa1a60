"""The default logger: each command as ``<slug> <command>``, then how it ended.

As python-deployer's ``deployer.loggers.default.DefaultLogger``, in colour when its
stream is a terminal. The end of a command is a line of its own (``SUCCESS`` or
``FAILED``, the exit status and the time taken): python-deployer moved the cursor up to
write it beside the command, over whatever output came in between.

Imports nothing from shoal but :mod:`shoal.deploy.loggers` and the deployment exceptions.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from shoal.deploy.exceptions import ActionException, ExecCommandFailed
from shoal.deploy.loggers.base import (
    FileCallback,
    FileEntry,
    ForkCallback,
    ForkEntry,
    Logger,
    RunCallback,
    RunEntry,
)

__all__ = ["DefaultLogger"]

_COLOURS = {"green": 32, "yellow": 33, "red": 31, "host": 1}


def _slug(host: Any) -> str:
    return str(getattr(host, "slug", host))


class _Fork(ForkCallback):
    def __init__(self, logger: DefaultLogger) -> None:
        self._logger = logger

    def get_fork_logger(self) -> Logger:
        return self._logger


class DefaultLogger(Logger):
    """Print every command, file and action to ``stdout`` (``sys.stdout`` when None).

    :param print_group: print the action a command runs in above it.
    """

    def __init__(self, stdout: IO[str] | None = None, print_group: bool = True) -> None:
        self._stdout = stdout
        self._group: list[str] = []
        self.print_group = print_group

    @property
    def stdout(self) -> IO[str]:
        """Where this logger prints: the stream given, else the current ``sys.stdout``."""
        return self._stdout if self._stdout is not None else sys.stdout

    def _colour(self, text: str, colour: str) -> str:
        try:
            tty = self.stdout.isatty()
        except (AttributeError, ValueError):
            tty = False
        return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m" if tty else text

    def _print(self, *parts: str) -> None:
        self.stdout.write("".join(parts))
        self.stdout.flush()

    def enter_group(self, func_name: str, *args: Any, **kwargs: Any) -> None:
        """Remember the action, to print above its commands."""
        call = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
        self._group.append(f"{func_name}({call})")

    def leave_group(self) -> None:
        """Forget the last action."""
        self._group.pop()

    def _print_start(self, host: Any, what: str, use_sudo: bool, sandboxing: bool) -> None:
        if use_sudo:
            what = f"(sudo) {what}"
        if sandboxing:
            what = f"(sandbox) {what}"
        if self._group and self.print_group:
            self._print(" >  ".join(self._colour(g, "green") for g in self._group), "\n")
        slug = self._colour(f"{_slug(host):>20}", "host")
        self._print(f"{slug} {self._colour(what, 'yellow')}\n")

    def _print_end(self, host: Any, success: bool | None, detail: str) -> None:
        status = (self._colour("SUCCESS", "green") if success
                  else self._colour("FAILED", "red"))
        self._print(f"{_slug(host):>20} {status}{detail}\n")

    def log_run(self, run_entry: RunEntry) -> RunCallback:
        """Print ``<slug> <command>``, then its status when it ends."""
        self._print_start(run_entry.host, run_entry.command or "(interactive shell)",
                          run_entry.use_sudo, run_entry.sandboxing)

        def completed() -> None:
            status = "" if run_entry.succeeded else f" (status {run_entry.status_code})"
            took = f" in {run_entry.duration:.2f}s" if run_entry.duration is not None else ""
            self._print_end(run_entry.host, run_entry.succeeded, status + took)

        return RunCallback(completed=completed)

    def log_file_opened(self, file_entry: FileEntry) -> FileCallback:
        """Print the file, its mode and paths, then whether it was used whole."""
        self._print_start(file_entry.host, "Opening file", file_entry.use_sudo,
                          file_entry.sandboxing)
        if file_entry.mode:
            self._print(f"  Mode: {file_entry.mode}\n")
        if file_entry.local_path:
            self._print(f"  Local path: {file_entry.local_path}\n")
        if file_entry.remote_path:
            self._print(f"  Remote path: {file_entry.remote_path}\n")
        return FileCallback(file_closed=lambda: self._print_end(
            file_entry.host, file_entry.succeeded, ""))

    def log_fork(self, fork_entry: ForkEntry) -> ForkCallback:
        """Print the fork; the fork logs to a logger of its own, starting in this group."""
        self._print(self._colour("Forking ", "green"),
                    self._colour(f"<{fork_entry.fork_name}>", "yellow"), "\n")
        fork = DefaultLogger(self._stdout, self.print_group)
        fork._group = self._group[:]
        return _Fork(fork)

    def log_exception(self, e: BaseException) -> None:
        """Print what failed: a command's host, status and command line, else the error
        (an action's with its traceback)."""
        if isinstance(e, ActionException):
            if not isinstance(e.inner_exception, ExecCommandFailed):
                self._print("-" * 79, "\n", e.traceback.rstrip(), "\n", "-" * 79, "\n")
                return
            e = e.inner_exception
        if isinstance(e, ExecCommandFailed):
            self._print("\n", self._colour("FAILED !!", "red"), "\n",
                        f"Command:     {e.command}\n", f"Host:        {_slug(e.host)}\n",
                        f"Status code: {e.status_code}\n\n")
        else:
            self._print(f"\n{e}\n\n")

    def log_msg(self, msg: str) -> None:
        """Print ``msg``."""
        self._print(f"{msg}\n")
