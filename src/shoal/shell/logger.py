"""The shell's logger: each command as ``host $ command``, failures in red, and every
event told to the running job's :class:`~shoal.shell.progress.RunState`.

python-deployer's shell printed ``<slug> <command>`` and then ``SUCCESS``/``FAILED`` at
the right margin by moving the cursor up, over whatever came in between. Here a command
that succeeds gets no second line; one that fails gets ``host ✗ status N``, and an
action that fails shows why once: the command, host and status, or the error and where
in the script it was raised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shoal.deploy.exceptions import ActionException, ExecCommandFailed
from shoal.deploy.loggers import (
    FileCallback,
    FileEntry,
    ForkCallback,
    ForkEntry,
    Logger,
    RunCallback,
    RunEntry,
)
from shoal.shell.progress import RunState
from shoal.shell.screen import Screen, paint

__all__ = ["ShellLogger"]


def _slug(host: Any) -> str:
    return str(getattr(host, "slug", host))


class _Fork(ForkCallback):
    """One isolation: its own logger, which tells the job which fork did what."""

    def __init__(self, parent: ShellLogger, entry: ForkEntry, state: RunState | None) -> None:
        self._entry = entry
        self._state = state
        self._logger = _ForkLogger(parent, entry.fork_name, state)
        if state is not None:
            state.fork_started(entry.fork_name)

    def get_fork_logger(self) -> Logger:
        return self._logger

    def completed(self) -> None:
        if self._state is not None:  # the end of what the fork logger did not see
            self._state.fork_finished(self._entry.fork_name, None if self._entry.succeeded
                                      else self._entry.exception, final=True)


class _ForkLogger(Logger):
    """The logger of one isolation: prints as the shell's, and follows the isolation's
    action (it has ended when its outermost action group closes)."""

    def __init__(self, parent: ShellLogger, name: str, state: RunState | None) -> None:
        self._parent = parent
        self._name = name
        self._state = state
        self._depth = 0
        self._error: BaseException | None = None

    def enter_group(self, func_name: str, *args: Any, **kwargs: Any) -> None:
        self._depth += 1

    def leave_group(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._state is not None:
            self._state.fork_finished(self._name, self._error)

    def log_run(self, run_entry: RunEntry) -> RunCallback:
        self._error = None  # a command again: a retry, or the failure was handled
        if self._state is not None:
            self._state.fork_command(self._name, _slug(run_entry.host))
        return self._parent.log_run(run_entry)

    def log_file_opened(self, file_entry: FileEntry) -> FileCallback:
        return self._parent.log_file_opened(file_entry)

    def log_fork(self, fork_entry: ForkEntry) -> ForkCallback:
        return self._parent.log_fork(fork_entry)

    def log_exception(self, e: BaseException) -> None:
        self._error = e
        self._parent.log_exception(e)

    def log_msg(self, msg: str) -> None:
        self._parent.log_msg(msg)


class ShellLogger(Logger):
    """Prints to ``screen``; reports to the state ``job()`` returns (the running job's).

    :param color_of: the colour of a host's name (the terminal's, so they match).
    """

    def __init__(self, screen: Screen, job: Callable[[], RunState | None],
                 color_of: Callable[[str], str]) -> None:
        self._screen = screen
        self._job = job
        self._color_of = color_of

    def _host(self, host: Any) -> str:
        slug = _slug(host)
        return paint(slug, self._color_of(slug), bold=True)

    def log_fork(self, fork_entry: ForkEntry) -> ForkCallback:
        """An isolation starts: the view gets a row for it."""
        return _Fork(self, fork_entry, self._job())

    def log_run(self, run_entry: RunEntry) -> RunCallback:
        """Print ``host $ command``; a failure when it ends."""
        what = run_entry.command or "(interactive shell)"
        marks = ("(sandbox) " if run_entry.sandboxing else "") + (
            "(sudo) " if run_entry.use_sudo else "")
        self._screen.line(f"{self._host(run_entry.host)} {paint('$', dim=True)} "
                          f"{paint(marks + what, 'yellow')}")
        state = self._job()
        key = id(run_entry)
        if state is not None:
            state.command_started(key, _slug(run_entry.host), what)

        def completed() -> None:
            if state is not None:
                state.command_ended(key)
            if not run_entry.succeeded and run_entry.status_code != "unknown":
                took = f" in {run_entry.duration:.2f}s" if run_entry.duration else ""
                self._screen.line(f"{self._host(run_entry.host)} "
                                  f"{paint(f'✗ status {run_entry.status_code}{took}', 'red')}")

        return RunCallback(completed=completed)

    def log_file_opened(self, file_entry: FileEntry) -> FileCallback:
        """Print ``host open PATH (mode)``."""
        marks = "(sandbox) " if file_entry.sandboxing else ""
        where = file_entry.remote_path or ""
        if file_entry.local_path:
            where += f" ({file_entry.local_path})"
        self._screen.line(f"{self._host(file_entry.host)} {paint('open', dim=True)} "
                          f"{paint(f'{marks}{where} [{file_entry.mode}]', 'yellow')}")
        return FileCallback()

    def log_exception(self, e: BaseException) -> None:
        """Print why an action failed: the command, or the error and its traceback."""
        inner = e.inner_exception if isinstance(e, ActionException) else e
        if isinstance(inner, ExecCommandFailed):
            sudo = " (sudo)" if inner.use_sudo else ""
            self._screen.line(paint(f"FAILED {_slug(inner.host)}{sudo}: {inner.command} "
                                    f"(status {inner.status_code})", "red", bold=True))
            return
        trace = e.traceback if isinstance(e, ActionException) else ""
        if trace:
            self._screen.line("\n".join(paint(line, dim=True)
                                         for line in trace.rstrip("\n").splitlines()))
        self._screen.line(paint(f"{type(inner).__name__}: {inner}", "red", bold=True))

    def log_msg(self, msg: str) -> None:
        """Print ``msg``."""
        self._screen.line(msg)
