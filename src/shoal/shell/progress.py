"""What a running job is doing: its commands, its isolations (forks) and their output.

The shell's logger and terminal report here from shoal's loop; the running view reads
it from the session's loop, so every change holds the lock. At the end of an array
action, :meth:`RunState.summary` is the table of how each host ended.

Pure: no I/O.
"""

from __future__ import annotations

import threading
import time
from asyncio import CancelledError
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from shoal.shell.screen import paint

__all__ = ["STATUS_COLORS", "ForkObserver", "ForkState", "RunState"]

#: how each state of an isolation is coloured
STATUS_COLORS = {"running": "cyan", "done": "green", "failed": "red", "interrupted": "yellow"}


class ForkObserver(Protocol):
    """Told of each isolation as it goes (``--panes`` gives each one a pane)."""

    def fork_started(self, name: str) -> None: ...

    def fork_line(self, name: str, line: str) -> None: ...

    def fork_finished(self, name: str, status: str) -> None: ...


@dataclass
class ForkState:
    """One isolation of an array action (one host): ``running``, ``done``, ``failed`` or
    ``interrupted``; its last line of output; when it started and ended."""

    name: str
    started: float = field(default_factory=time.monotonic)
    status: str = "running"
    last: str = ""
    ended: float | None = None
    error: str = ""

    @property
    def elapsed(self) -> float:
        """Seconds it has run (or ran)."""
        return (self.ended or time.monotonic()) - self.started


class RunState:
    """The state of one job (see the module docstring).

    :param label: what runs (``Root.Web.deploy``).
    :param on_change: called (from any thread) after each change.
    """

    def __init__(self, label: str, on_change: Callable[[], None] | None = None,
                 observer: ForkObserver | None = None) -> None:
        self.label = label
        self.observer = observer
        self.started = time.monotonic()
        self.on_change = on_change
        self.interrupting = False
        self._lock = threading.Lock()
        self._forks: dict[str, ForkState] = {}
        self._commands: dict[int, tuple[str, str]] = {}
        self._host_fork: dict[str, str] = {}
        self.commands_run = 0

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    # -- reports ------------------------------------------------------------------------

    def fork_started(self, name: str) -> None:
        """An isolation ``name`` (``Root.Web[web1]``) is about to run."""
        with self._lock:
            self._forks[name] = ForkState(_label(name))
        if self.observer is not None:
            self.observer.fork_started(name)
        self._changed()

    def fork_command(self, name: str, host: str) -> None:
        """The isolation ``name`` runs a command on ``host``: its lines are the fork's."""
        with self._lock:
            self._host_fork[host] = name
            fork = self._forks.get(name)
            if fork is not None and fork.status != "running":
                fork.status, fork.ended, fork.error = "running", None, ""  # a retry
        self._changed()

    def fork_finished(self, name: str, error: BaseException | None,
                      final: bool = False) -> None:
        """The isolation's action returned (``error`` None) or raised ``error``.

        Seen live, a failure that was then skipped looks like a failure; the ``final``
        word (when every isolation has ended) settles it.
        """
        with self._lock:
            fork = self._forks.get(name)
            if fork is None or (fork.ended is not None and not final):
                return
            first = fork.ended is None
            fork.ended = fork.ended or time.monotonic()
            fork.error = ""
            if self.interrupting:
                fork.status = "interrupted"
            elif error is None:
                fork.status = "done"
            elif isinstance(error, (KeyboardInterrupt, CancelledError)):
                fork.status = "interrupted"
            else:
                fork.status = "failed"
                fork.error = str(error)
            status = fork.status
        if first and self.observer is not None:
            self.observer.fork_finished(name, status)
        self._changed()

    def stopped(self) -> None:
        """The job is over: an isolation still running was interrupted."""
        with self._lock:
            stopped = [name for name, fork in self._forks.items() if fork.ended is None]
            for name in stopped:
                self._forks[name].ended = time.monotonic()
                self._forks[name].status = "interrupted"
        if self.observer is not None:
            for name in stopped:
                self.observer.fork_finished(name, "interrupted")
        self._changed()

    def command_started(self, key: int, host: str, command: str) -> None:
        """A command started on ``host``."""
        with self._lock:
            self._commands[key] = (host, command)
            self.commands_run += 1
        self._changed()

    def command_ended(self, key: int) -> None:
        """The command ``key`` ended."""
        with self._lock:
            self._commands.pop(key, None)
        self._changed()

    def host_line(self, host: str, line: str) -> None:
        """``host`` printed ``line``."""
        with self._lock:
            name = self._host_fork.get(host, "")
            fork = self._forks.get(name)
            if fork is not None:
                fork.last = line
        if fork is not None and self.observer is not None:
            self.observer.fork_line(name, line)
        self._changed()

    # -- readings ---------------------------------------------------------------------

    def forks(self) -> list[ForkState]:
        """The isolations so far, in the order they started (copies)."""
        with self._lock:
            return [ForkState(**vars(f)) for f in self._forks.values()]

    def running_commands(self) -> list[tuple[str, str]]:
        """``(host, command)`` of each command running now."""
        with self._lock:
            return list(self._commands.values())

    def counts(self) -> dict[str, int]:
        """How many isolations are in each state."""
        counts = dict.fromkeys(STATUS_COLORS, 0)
        for fork in self.forks():
            counts[fork.status] += 1
        return counts

    def summary(self, width: int = 80) -> list[str]:
        """The table of how each isolation ended, then the totals (no forks: nothing)."""
        forks = self.forks()
        if not forks:
            return []
        name_width = max(4, *(len(f.name) for f in forks))
        rows = [paint(f"{'host':<{name_width}}  {'status':<11}  {'time':>7}  last output",
                      bold=True)]
        for fork in forks:
            detail = fork.error if fork.status == "failed" else fork.last
            room = max(width - name_width - 26, 10)
            if len(detail) > room:
                detail = detail[:room - 1] + "…"
            status = paint(f"{fork.status:<11}", STATUS_COLORS[fork.status])
            rows.append(f"{fork.name:<{name_width}}  {status}  {fork.elapsed:6.1f}s  {detail}")
        counts = self.counts()
        totals = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
        rows.append(f"{len(forks)} hosts: {totals}")
        return rows



def _label(fork_name: str) -> str:
    """The row label of an isolation: its slug, ``web1`` for ``Root.Web[web1]``."""
    if fork_name.endswith("]") and "[" in fork_name:
        return fork_name[fork_name.rindex("[") + 1:-1]
    return fork_name
