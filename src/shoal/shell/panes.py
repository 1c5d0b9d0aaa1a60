"""``--panes``: inside tmux, a pane per isolation while an array action runs.

python-deployer's multi-window mode opened a tmux pane per host, each a client of its
socket server. Here each pane only shows: it runs ``cat`` on a FIFO in a private
folder (0700) and the shell writes the isolation's output there; when the isolation
ends the pane says so and closes on Enter. The shell's own pane keeps the running view
and the questions.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shlex
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

__all__ = ["Panes"]

_PANE = ('cat "$1"; printf "\\n[%s %s] press Enter to close this pane" "$2" "$(cat "$1.end")"; '
         'read _')


class _Feed:
    """One pane: a thread opens it (off the event loop that reports the isolation), then
    writes the lines queued for it into its FIFO."""

    def __init__(self, fifo: Path, name: str) -> None:
        self.fifo = fifo
        self._name = name
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._write, name="shoal-pane", daemon=True)
        self._thread.start()

    def _write(self) -> None:
        command = (f"sh -c {shlex.quote(_PANE)} sh {shlex.quote(str(self.fifo))} "
                   f"{shlex.quote(self._name)}")
        split = subprocess.run(["tmux", "split-window", "-d", command], capture_output=True,
                               check=False, timeout=10)
        if split.returncode:
            return  # no pane (tmux refused: too many, too small): its lines go nowhere
        subprocess.run(["tmux", "select-layout", "tiled"], capture_output=True, check=False,
                       timeout=10)
        with contextlib.suppress(OSError), open(self.fifo, "w") as out:  # waits for the pane
            while (line := self._lines.get()) is not None:
                out.write(line)
                out.flush()

    def put(self, line: str) -> None:
        self._lines.put(line)

    def end(self) -> None:
        self._lines.put(None)

    def abandon(self) -> None:
        """Let the writer go even if no pane ever opened the FIFO."""
        self.end()
        with contextlib.suppress(OSError):
            os.close(os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK))
        self._thread.join(timeout=2)


class Panes:
    """The panes of one session; a :class:`~shoal.shell.progress.RunState` observer."""

    def __init__(self) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="shoal-panes-"))  # mode 0700
        self._feeds: dict[str, _Feed] = {}
        self._lock = threading.Lock()
        self._count = 0

    def fork_started(self, name: str) -> None:
        """Open a pane for the isolation ``name``."""
        with self._lock:
            self._count += 1
            fifo = self._folder / f"pane{self._count}"
        os.mkfifo(fifo, 0o600)
        feed = _Feed(fifo, name)
        feed.put(f"\x1b[1m{name}\x1b[0m\n")
        with self._lock:
            self._feeds[name] = feed

    def fork_line(self, name: str, line: str) -> None:
        """A line of the isolation's output."""
        feed = self._feeds.get(name)
        if feed is not None:
            feed.put(line + "\n")

    def fork_finished(self, name: str, status: str) -> None:
        """The isolation ended: its pane says how."""
        with self._lock:
            feed = self._feeds.pop(name, None)
        if feed is not None:
            Path(f"{feed.fifo}.end").write_text(status)
            feed.end()

    def close(self) -> None:
        """Let every writer go and remove the folder (the session ends)."""
        with self._lock:
            feeds, self._feeds = list(self._feeds.values()), {}
        for feed in feeds:
            feed.abandon()
        shutil.rmtree(self._folder, ignore_errors=True)
