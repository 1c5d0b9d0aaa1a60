"""The terminal that actions see in the shell: a :class:`~shoal.deploy.pseudo_terminal.Pty`
whose output is the session's screen and whose input is the session's keyboard.

* A line of output from a host (``write_line``) is printed as ``slug: line``, the slug in
  a colour of its own, stderr in red, and told to the running view.
* A question (``stdin.readline()`` from the console helpers) becomes a prompt of the
  session (:meth:`Owner.ask`), with line editing; with the terminal's echo turned off
  (the console's password questions do that) it hides what is typed.
* An interactive login (``start_interactive_shell``: ``--connect``) gets a real terminal:
  the session hands its keyboard over (:meth:`Owner.take_terminal`), and the host reads
  the keystrokes from the slave side of a pseudo-terminal pair whose master side the
  session feeds. Commands run with ``interactive=True`` get no terminal in the shell:
  their output comes as lines, with the host's name, even when many hosts run at once.

The session behind it is an :class:`Owner`: the local terminal and every remote client
alike, so each session has its own.
"""

from __future__ import annotations

import os
import pty
import termios
import threading
from collections.abc import Callable
from typing import IO, Protocol, cast

from shoal.deploy.pseudo_terminal import Pty
from shoal.shell.screen import Screen, paint

__all__ = ["HOST_COLORS", "Owner", "ShellPty"]

#: colours given to hosts in turn, as clush does
HOST_COLORS = ("cyan", "green", "yellow", "blue", "magenta")


class Owner(Protocol):
    """What a :class:`ShellPty` asks of its session; every method may be called from
    any thread but the session's own."""

    def ask(self, hidden: bool) -> str | None:
        """A line typed in answer to the question on screen (None: no answer will come)."""

    def take_terminal(self) -> bool:
        """Give the keyboard to an interactive login; False if it cannot be given."""

    def terminal_live(self, resize: Callable[[], None] | None) -> None:
        """The login reads keystrokes now (``resize`` tells it the size changed), or has
        stopped (None)."""

    def size(self) -> tuple[int, int]:
        """The session's terminal size: ``(rows, columns)``."""

    def host_line(self, host: str, line: str) -> None:
        """A host printed ``line`` (for the running view)."""


class _Keyboard:
    """The pty's stdin: lines come from the session; the file number is the slave side of
    a pseudo-terminal that the session feeds while a login runs."""

    encoding = "utf-8"

    def __init__(self, owner: Owner) -> None:
        self._owner = owner
        self._lock = threading.Lock()
        self._pair: tuple[int, int] | None = None

    def _fds(self) -> tuple[int, int]:
        with self._lock:
            if self._pair is None:
                self._pair = pty.openpty()
            return self._pair

    @property
    def master(self) -> int:
        """The side the session writes keystrokes to."""
        return self._fds()[0]

    def fileno(self) -> int:
        """The side a login reads keystrokes from."""
        return self._fds()[1]

    def isatty(self) -> bool:
        """A terminal: questions and logins may use it."""
        return True

    def readline(self) -> str:
        """The answer to the question on screen, with its newline (``""``: none came)."""
        hidden = False
        if self._pair is not None:
            hidden = not termios.tcgetattr(self._pair[1])[3] & termios.ECHO
        answer = self._owner.ask(hidden)
        return "" if answer is None else answer + "\n"

    def close(self) -> None:
        """Close the pseudo-terminal pair, if it was opened."""
        with self._lock:
            pair, self._pair = self._pair, None
        for fd in pair or ():
            os.close(fd)


class _ScreenStream:
    """The pty's stdout: text written goes to the session's screen."""

    encoding = "utf-8"

    def __init__(self, screen: Screen) -> None:
        self._screen = screen

    def write(self, text: str) -> int:
        self._screen.write(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


class ShellPty(Pty):
    """The terminal of one shell session (see the module docstring).

    :param owner: the session.
    :param screen: its screen.
    :param interactive: whether questions are asked (False: their defaults are taken).
    :param term: the ``TERM`` the session's terminal has.
    """

    def __init__(self, owner: Owner, screen: Screen, *, interactive: bool = True,
                 term: str = "xterm") -> None:
        self._owner = owner
        self._screen = screen
        self._keyboard = _Keyboard(owner)
        self._colors: dict[str, str] = {}
        self._resize: Callable[[], None] | None = None
        super().__init__(stdin=cast(IO[str], self._keyboard),
                         stdout=cast(IO[str], _ScreenStream(screen)),
                         interactive=interactive, term_var=term)

    @property
    def keyboard_master(self) -> int:
        """Where the session writes keystrokes for a login (see the module docstring)."""
        return self._keyboard.master

    @property
    def set_ssh_channel_size(self) -> Callable[[], None] | None:
        """Set by a host while a login reads the keyboard; the session is told."""
        return self._resize

    @set_ssh_channel_size.setter
    def set_ssh_channel_size(self, resize: Callable[[], None] | None) -> None:
        self._resize = resize
        if hasattr(self, "_owner"):
            self._owner.terminal_live(resize)

    def color_of(self, host: str) -> str:
        """The colour of ``host``'s name: one each, in turn."""
        if host not in self._colors:
            self._colors[host] = HOST_COLORS[len(self._colors) % len(HOST_COLORS)]
        return self._colors[host]

    def is_terminal(self, shell: bool = False) -> bool:
        """A terminal only for an interactive login, and only one at a time."""
        return shell and self.interactive and self._owner.take_terminal()

    def get_size(self) -> tuple[int, int]:
        """The session's terminal size."""
        return self._owner.size()

    def set_size(self, rows: int, cols: int) -> None:
        """The size is the session's own; a login is told when it changes."""
        self.trigger_resize()

    def write_line(self, host: str, line: str, stream: str = "stdout") -> None:
        """Print ``host: line``; the host in its colour, stderr in red."""
        sandboxed = f"[sandbox] {host}: "
        if line.startswith(sandboxed):  # the host names itself; once is enough
            line = "[sandbox] " + line[len(sandboxed):]
        text = paint(line, "red") if stream == "stderr" else line
        self._screen.line(f"{paint(host, self.color_of(host), bold=True)}: {text}")
        self._owner.host_line(host, line)

    def write_raw(self, text: str) -> None:
        """Print a login's output exactly as it comes."""
        self._screen.write_raw(text)

    def close(self) -> None:
        """Release the pseudo-terminal pair."""
        self._keyboard.close()
