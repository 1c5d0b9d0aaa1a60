"""The progress line of ``shoal run``: how many nodes are done, failed and still running.

It goes to stderr when stderr is a terminal, appears only once a run has lasted about a
second (short runs never flash it), is redrawn a few times a second, and is erased before
any output is written, so it never mixes with what nodes print. Piped runs never see it.
"""

from __future__ import annotations

import asyncio
from typing import BinaryIO

from shoal.engine import Event, Exited, Failed, Started

__all__ = ["Progress"]

_ERASE = b"\r\033[K"


class Progress:
    """Counts a task's events and keeps a one-line summary of them on ``stream``.

    >>> import io
    >>> progress = Progress(io.BytesIO(), total=3)
    >>> for event in (Started("n1"), Started("n2"), Exited("n1", 0)):
    ...     progress.handle(event)
    >>> progress.text()
    'shoal: 1/3 done, 0 failed, 1 running'

    :param stream: a terminal (``sys.stderr.buffer``).
    :param total: the number of nodes of the run.
    :param delay: seconds before the line first appears.
    :param interval: seconds between redraws.
    """

    def __init__(self, stream: BinaryIO, total: int, *, prog: str = "shoal",
                 delay: float = 1.0, interval: float = 1 / 3) -> None:
        self.stream = stream
        self.total = total
        self.prog = prog
        self.delay = delay
        self.interval = interval
        self.done = 0
        self.failed = 0
        self._running: set[str] = set()
        self._shown = False
        self._timer: asyncio.TimerHandle | None = None

    def handle(self, event: Event) -> None:
        """Count one task event (a task handler)."""
        if isinstance(event, Started):
            self._running.add(event.node)
        elif isinstance(event, Exited):
            self._running.discard(event.node)
            self.done += 1
        elif isinstance(event, Failed):
            self._running.discard(event.node)
            self.failed += 1

    def text(self) -> str:
        """The line as it reads now; nodes that failed count as done."""
        ended = self.done + self.failed
        return (f"{self.prog}: {ended}/{self.total} done, {self.failed} failed, "
                f"{len(self._running)} running")

    def start(self) -> None:
        """Draw the line after ``delay``, then every ``interval``, on the running loop."""
        self._timer = asyncio.get_running_loop().call_later(self.delay, self._tick)

    def _tick(self) -> None:
        self.draw()
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def draw(self) -> None:
        """Write the line over the previous one."""
        self.stream.write(b"\r" + self.text().encode() + b"\033[K")
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Erase the line, if shown, so that output can be written; the next tick redraws it."""
        if self._shown:
            self.stream.write(_ERASE)
            self.stream.flush()
            self._shown = False

    def stop(self) -> None:
        """Stop redrawing and erase the line."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.clear()
