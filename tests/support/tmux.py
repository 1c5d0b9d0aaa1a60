"""A private tmux server for tests that drive a real terminal program.

Each :class:`Tmux` runs its own tmux server on a socket in a temporary folder (never the
user's), so tests cannot touch each other's panes or anyone else's. Waiting is on screen
content with a deadline, polled from ``capture-pane``: there is no event to wait on for
"this text is on the screen", and the deadline turns a hang into a clear failure.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

DEADLINE = 20.0


class Tmux:
    """One tmux server with one window to start with, ``columns`` x ``rows``."""

    def __init__(self, folder: Path, *, columns: int = 120, rows: int = 40) -> None:
        self.socket = folder / "tmux.sock"
        self.columns, self.rows = columns, rows
        self.pids: list[int] = []  # the shell of each pane; the program is its child
        self._status: dict[str, Path] = {}

    def tmux(self, *args: str) -> str:
        """Run one tmux command on this server and return its output."""
        done = subprocess.run(["tmux", "-S", str(self.socket), "-f", "/dev/null", *args],
                              capture_output=True, text=True, timeout=DEADLINE, check=False)
        if done.returncode:
            raise AssertionError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def start(self, command: Sequence[str], *, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> str:
        """Start ``command`` in a new session; returns its pane id (``%N``)."""
        line = " ".join(shlex.quote(part) for part in command)
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        status = self.socket.parent / f"status-{len(self.pids)}"
        # tmux 3.3 does not report a dead pane's exit status: the shell writes it down.
        shell = (f"cd {shlex.quote(str(cwd or os.getcwd()))} && env {exports} {line}; "
                 f"echo $? > {shlex.quote(str(status))}.new && "
                 f"mv {shlex.quote(str(status))}.new {shlex.quote(str(status))}")
        pane = self.tmux("new-session", "-d", "-P", "-F", "#{pane_id}",
                         "-x", str(self.columns), "-y", str(self.rows),
                         "sh", "-c", shell).strip()
        self.tmux("set-option", "-t", pane, "remain-on-exit", "on")
        self.pids.append(int(self.tmux("display", "-p", "-t", pane, "#{pane_pid}")))
        self._status[pane] = status
        return pane

    def keys(self, pane: str, *keys: str, literal: bool = False) -> None:
        """Type ``keys`` (tmux key names such as ``Enter``, ``C-c``, ``Tab``, or text)."""
        self.tmux("send-keys", "-t", pane, *(["-l"] if literal else []), "--", *keys)

    def type(self, pane: str, text: str) -> None:
        """Type ``text`` literally, then Enter."""
        self.keys(pane, text, literal=True)
        self.keys(pane, "Enter")

    def screen(self, pane: str) -> str:
        """What the pane shows now (plus its scroll-back), trailing blanks trimmed."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", pane).rstrip()

    def wait_for(self, pane: str, text: str, *, deadline: float = DEADLINE) -> str:
        """Wait until ``text`` is on the pane; returns the screen, fails with it."""
        end = time.monotonic() + deadline
        while True:
            screen = self.screen(pane)
            if text in screen:
                return screen
            if time.monotonic() > end:
                raise AssertionError(f"{text!r} not on screen after {deadline} s:\n{screen}")
            time.sleep(0.05)  # polling the screen: tmux has no "text appeared" event

    def wait_prompt(self, pane: str, prompt: str, *, deadline: float = DEADLINE) -> str:
        """Wait until the pane's last line is ``prompt`` and nothing after it (a program
        waits for input there); returns the screen. Keys typed before that are echoed by
        the terminal itself, as in any shell, and garble the screen."""
        end = time.monotonic() + deadline
        while True:
            screen = self.screen(pane)
            if screen.splitlines() and screen.splitlines()[-1].rstrip() == prompt.rstrip():
                return screen
            if time.monotonic() > end:
                raise AssertionError(f"no {prompt!r} prompt after {deadline} s:\n{screen}")
            time.sleep(0.05)  # polling, as wait_for

    def exited(self, pane: str) -> int | None:
        """The pane program's exit status, or None while it runs."""
        try:
            return int(self._status[pane].read_text())
        except FileNotFoundError:
            return None

    def wait_exit(self, pane: str, *, deadline: float = DEADLINE) -> int:
        """Wait until the pane's program exits; returns its status."""
        end = time.monotonic() + deadline
        while (status := self.exited(pane)) is None:
            if time.monotonic() > end:
                raise AssertionError(f"still running after {deadline} s:\n{self.screen(pane)}")
            time.sleep(0.05)  # polling, as wait_for
        return status

    def close(self) -> None:
        """Stop the server and the programs it started."""
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"],
                       capture_output=True, check=False, timeout=DEADLINE)
