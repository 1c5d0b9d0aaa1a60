"""Drive a real :class:`~shoal.shell.session.ShellSession` without a terminal.

The session runs in a thread of its own, on its own event loop, reading keys from a
prompt_toolkit pipe input and writing to a VT100 output kept in memory, as the style
guide's shell tests do. :meth:`PipeShell.wait_for` waits on that output (woken by each
write, with a deadline), reading it with the terminal's escape codes left out.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from typing import Any

from prompt_toolkit.application import create_app_session
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from shoal.shell.session import SessionOptions, ShellSession

DEADLINE = 20.0
_ESCAPES = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-Za-z]|[=>78])")


def plain(text: str) -> str:
    """``text`` without terminal escape codes and carriage returns."""
    return _ESCAPES.sub("", text).replace("\r", "")


class _Screen:
    """What the session writes: kept, and waited on."""

    encoding = "utf-8"

    def __init__(self) -> None:
        self._parts: list[str] = []
        self.changed = threading.Condition()

    def write(self, data: str) -> int:
        with self.changed:
            self._parts.append(data)
            self.changed.notify_all()
        return len(data)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True

    def text(self) -> str:
        with self.changed:
            return "".join(self._parts)


class PipeShell:
    """A shell session on ``root`` fed by :meth:`type` and read by :meth:`wait_for`."""

    def __init__(self, root: Any, *, rows: int = 40, columns: int = 120,
                 interactive: bool = True) -> None:
        self.screen = _Screen()
        self.size = Size(rows=rows, columns=columns)
        self._ready = threading.Event()
        self._mark = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, args=(root, interactive),
                                        name="pipe-shell", daemon=True)
        self._thread.start()
        assert self._ready.wait(DEADLINE), "the shell did not start"

    def _main(self, root: Any, interactive: bool) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            output = Vt100_Output(self.screen, lambda: self.size, term="xterm",  # type: ignore[arg-type]
                                  enable_cpr=False)  # no terminal answers cursor queries
            with create_pipe_input() as keys, create_app_session(input=keys, output=output):
                self._keys = keys
                self.session = ShellSession(root, SessionOptions(interactive=interactive))
                self._ready.set()
                await self.session.run()

        try:
            asyncio.run(main())
        except BaseException as exc:  # the test sees it in close()
            self.error = exc
            self._ready.set()

    def keys(self, text: str) -> None:
        """Type ``text`` as it is (``\\x03`` is Ctrl-C, ``\\t`` Tab, ``\\x04`` Ctrl-D)."""
        self.loop.call_soon_threadsafe(self._keys.send_text, text)

    def type(self, line: str) -> None:
        """Type ``line``, then Enter; later waits see only what comes after it."""
        self._mark = len(plain(self.screen.text()))
        self.keys(line + "\r")

    def output(self) -> str:
        """Everything shown since the last :meth:`type`, escape codes left out."""
        return plain(self.screen.text())[self._mark:]

    def wait_for(self, text: str, deadline: float = DEADLINE) -> str:
        """Wait until ``text`` shows after the last :meth:`type`; returns that output."""
        end = time.monotonic() + deadline
        with self.screen.changed:
            while text not in (seen := self.output()):
                left = end - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    raise AssertionError(f"{text!r} not shown within {deadline} s:\n{seen}")
                self.screen.changed.wait(left)
        return seen

    def wait_prompt(self, prompt: str = " > ", deadline: float = DEADLINE) -> str:
        """Wait until the prompt is back after the output of the last line."""
        end = time.monotonic() + deadline
        with self.screen.changed:
            while True:
                seen = self.output()
                lines = [line for line in seen.split("\n") if line.strip()]
                if len(lines) > 1 and lines[-1].rstrip().endswith(prompt.rstrip()):
                    return seen
                left = end - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    raise AssertionError(f"no prompt within {deadline} s:\n{seen}")
                self.screen.changed.wait(left)

    def run(self, line: str) -> str:
        """Type ``line`` and return what it printed once the prompt is back."""
        self.type(line)
        return self.wait_prompt()

    def close(self) -> None:
        """Ctrl-D, and wait for the session to end."""
        if self._thread.is_alive():
            self.keys("\x04")
            self._thread.join(DEADLINE)
        assert not self._thread.is_alive(), "the shell did not end on Ctrl-D"
        if self.error is not None:
            raise self.error
