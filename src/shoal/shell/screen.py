"""A session's screen: text from any thread, printed in order above whatever runs.

Hosts, loggers and console questions write from shoal's loop and from worker threads;
the session's terminal belongs to its own event loop. :class:`Screen` takes writes from
anywhere, and prints each complete line on the session's loop: straight to the output
when no prompt_toolkit application runs, else above it (``run_in_terminal``), so the
running view or question stays whole below the text.

The line being written and not ended yet (a console question, a progress bar redrawn
with ``\\r``) is kept back as :attr:`Screen.partial`: the running view shows it, and a
question takes it as its prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable

from prompt_toolkit.application import in_terminal
from prompt_toolkit.application.current import get_app_session
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.output import Output

__all__ = ["Screen", "ansi_style", "paint", "to_ansi"]

_CODES = {"grey": 30, "red": 31, "green": 32, "yellow": 33, "blue": 34, "magenta": 35,
          "cyan": 36, "white": 37}


def paint(text: str, color: str | None = None, *, bold: bool = False, dim: bool = False) -> str:
    """``text`` in a terminal colour (termcolor's names, as groups give them).

    >>> paint("web1", "red", bold=True)
    '\\x1b[31;1mweb1\\x1b[0m'
    >>> paint("plain")
    'plain'
    """
    codes = ([str(_CODES[color])] if color else []) + (["1"] if bold else []) + (
        ["2"] if dim else [])
    return f"\x1b[{';'.join(codes)}m{text}\x1b[0m" if codes else text


def ansi_style(color: str | None) -> str:
    """prompt_toolkit's style for a termcolor colour name (a group's colour).

    >>> ansi_style("red"), ansi_style("grey"), ansi_style(None)
    ('fg:ansired', 'fg:ansiblack', '')
    """
    if color is None:
        return ""
    return "fg:" + {"grey": "ansiblack", "white": "ansigray"}.get(color, f"ansi{color}")


def to_ansi(fragments: StyleAndTextTuples) -> str:
    """prompt_toolkit's ``(style, text)`` fragments as text with colour codes (the
    ``fg:ansiNAME`` and ``bold`` styles the shell uses).

    >>> to_ansi([("fg:ansired bold", "web1"), ("", " > ")])
    '\\x1b[31;1mweb1\\x1b[0m > '
    """
    out = []
    for style, text, *_ in fragments:
        words = style.split()
        color = next((w[len("fg:ansi"):] for w in words if w.startswith("fg:ansi")), None)
        color = {"gray": "white", "black": "grey", "brightblack": None}.get(
            color or "", color)
        out.append(paint(text, color if color in _CODES else None, bold="bold" in words,
                         dim=style.endswith("brightblack")))
    return "".join(out)


class Screen:
    """The output of one session (see the module docstring).

    Make it in the session's context (its prompt_toolkit app session current), on the
    session's event loop.
    """

    def __init__(self) -> None:
        self._app_session = get_app_session()
        self._loop = asyncio.get_running_loop()
        self._context = contextvars.copy_context()
        self._lock = threading.Lock()
        self._chunks: list[tuple[str, str]] = []  # (kind, text), in order
        self._scheduled = False
        self._partial = ""
        self._closed = False
        self._ready: list[str] = []  # complete text, waiting for the writer
        self._writer: asyncio.Task[None] | None = None
        #: called on the loop when :attr:`partial` changes (the view redraws)
        self.on_partial: Callable[[], None] | None = None

    @property
    def output(self) -> Output:
        """The session's prompt_toolkit output."""
        return self._app_session.output

    @property
    def partial(self) -> str:
        """The line written so far and not ended, as it shows (after its last ``\\r``)."""
        return self._partial.rpartition("\r")[2]

    def write(self, text: str) -> None:
        """Print ``text`` (ANSI colours allowed), going on from the line not ended yet, as
        a stream does; safe from any thread."""
        self._queue("stream", text)

    def line(self, text: str = "") -> None:
        """Print ``text`` as a line of its own: a host's or the shell's, never joined to
        the line a question or progress bar is writing (that one stays below)."""
        self._queue("line", text + "\n")

    def write_raw(self, text: str) -> None:
        """Print ``text`` exactly as it is, as a remote terminal sent it."""
        self._queue("raw", text)

    def _queue(self, kind: str, text: str) -> None:
        if not text:
            return
        with self._lock:
            if self._closed:
                return
            self._chunks.append((kind, text))
            if self._scheduled:
                return
            self._scheduled = True
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody looks any more
            self._loop.call_soon_threadsafe(self._flush, context=self._context)

    async def drain(self) -> None:
        """Wait until everything written so far is on the screen (but :attr:`partial`)."""
        self._flush()
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def take_partial(self) -> str:
        """Print what is queued, then take back the line not ended (a question's text)."""
        await self.drain()
        partial, self._partial = self.partial, ""
        return partial

    async def end_line(self) -> None:
        """End the line not ended yet, if any (a job is over), and wait until it shows."""
        await self.drain()
        if self._partial:
            partial, self._partial = self.partial, ""
            self._ready.append(partial + "\r\n")
            self._start_writer()
            await self.drain()

    def close(self) -> None:
        """Print nothing more (the session is over)."""
        with self._lock:
            self._closed = True
            self._chunks.clear()
        self._ready.clear()

    def _flush(self) -> None:
        """Hand every complete line queued to the writer; keep the rest as partial."""
        with self._lock:
            chunks, self._chunks = self._chunks, []
            self._scheduled = False
        before = self._partial
        for kind, text in chunks:
            if kind == "raw":
                self._ready.append(self._partial + text)
                self._partial = ""
                continue
            if kind == "line":
                lines, rest = text[:-1], self._partial
            else:
                lines, sep, rest = (self._partial + text).rpartition("\n")
                if not sep:
                    self._partial = rest
                    continue
            self._ready.append(lines.replace("\r\n", "\n").replace("\n", "\r\n") + "\r\n")
            self._partial = rest
        if self._ready:
            self._start_writer()
        if self._partial != before and self.on_partial is not None:
            self.on_partial()

    def _start_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = self._context.copy().run(self._loop.create_task, self._write_out())

    async def _write_out(self) -> None:
        """Print the ready text, above the running application if there is one."""
        output = self._app_session.output
        while self._ready:
            text = "".join(self._ready)
            self._ready.clear()
            async with in_terminal():
                output.write_raw(text)
                output.flush()
