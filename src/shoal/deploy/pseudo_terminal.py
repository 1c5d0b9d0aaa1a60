"""The terminal hosts write to: python-deployer's ``deployer.pseudo_terminal``.

A :class:`Pty` wraps an input and an output stream, says whether someone is there to
answer (``interactive``) and how large the terminal is. Hosts write a command's output
to it line by line (:meth:`Pty.write_line`), or byte for byte when the command runs in a
remote terminal (:meth:`Pty.write_raw`); a shell gives each host its own prefix by
overriding them. :class:`DummyPty` reads prepared input and keeps the output, for tests.

Imports nothing from shoal.
"""

from __future__ import annotations

import fcntl
import io
import struct
import sys
import termios
from collections.abc import Callable
from typing import IO

__all__ = ["DummyPty", "Pty"]


def _is_tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed, or not a real file
        return False


class Pty:
    """A terminal around a stdin/stdout pair (``sys.__stdin__``/``sys.__stdout__`` by default).

    :param interactive: whether questions may be asked; ``False``: take the defaults. A
        command run with ``interactive=True`` gets a remote terminal and the keystrokes
        only when this is ``True`` *and* ``stdin`` is a real terminal.
    :param term_var: the ``TERM`` that remote commands see (none set when empty).
    """

    def __init__(self, stdin: IO[str] | None = None, stdout: IO[str] | None = None,
                 interactive: bool = True, term_var: str = "") -> None:
        self._stdin = stdin if stdin is not None else sys.__stdin__
        self._stdout = stdout if stdout is not None else sys.__stdout__
        self._term_var = term_var
        self.interactive = interactive
        #: Called (from any thread) when the terminal's size changes; hosts set it while a
        #: command runs in a remote terminal.
        self.set_ssh_channel_size: Callable[[], None] | None = None
        #: Whether a command has the terminal (one at a time; the others run without).
        self.terminal_in_use = False

    @property
    def stdin(self) -> IO[str]:
        """The input stream."""
        assert self._stdin is not None, "no stdin: give one"
        return self._stdin

    @property
    def stdout(self) -> IO[str]:
        """The output stream."""
        assert self._stdout is not None, "no stdout: give one"
        return self._stdout

    def is_terminal(self, shell: bool = False) -> bool:
        """Whether keystrokes can be forwarded: interactive, with a real terminal as stdin.

        ``shell`` is True when an interactive login asks (``start_interactive_shell``),
        False for a command's ``interactive=True``: a shell may grant one and not the other.
        """
        return self.interactive and self._stdin is not None and _is_tty(self._stdin)

    def get_size(self) -> tuple[int, int]:
        """The terminal's size as ``(rows, columns)``; ``(24, 80)`` when stdout is no terminal."""
        if _is_tty(self.stdout):
            rows, cols, _, _ = struct.unpack(
                "HHHH", fcntl.ioctl(self.stdout.fileno(), termios.TIOCGWINSZ, bytes(8)))
            if rows and cols:
                return rows, cols
        return 24, 80

    def get_width(self) -> int:
        """The number of columns."""
        return self.get_size()[1]

    def get_height(self) -> int:
        """The number of rows."""
        return self.get_size()[0]

    def set_term_var(self, value: str) -> None:
        """Set the ``TERM`` remote commands see."""
        self._term_var = value

    def get_term_var(self) -> str:
        """The ``TERM`` remote commands see ("" : none)."""
        return self._term_var

    def set_size(self, rows: int, cols: int) -> None:
        """Set the terminal's size (when its window is elsewhere) and pass it on."""
        if _is_tty(self.stdout):
            fcntl.ioctl(self.stdout.fileno(), termios.TIOCSWINSZ,
                        struct.pack("HHHH", rows, cols, 0, 0))
            self.trigger_resize()

    def trigger_resize(self) -> None:
        """Tell the command running in a remote terminal, if any, the size has changed."""
        if self.set_ssh_channel_size is not None:
            self.set_ssh_channel_size()

    def write_line(self, host: str, line: str, stream: str = "stdout") -> None:
        """Show one line of output (without its newline) of a command on ``host``.

        ``stream`` is ``"stdout"`` or ``"stderr"``; stderr lines are marked ``[stderr]``.
        A shell overrides this to prefix lines with the host.
        """
        prefix = "[stderr] " if stream == "stderr" else ""
        self.stdout.write(f"{prefix}{line}\n")
        self.stdout.flush()

    def write_raw(self, text: str) -> None:
        """Show output of a command that runs in a remote terminal, exactly as it came."""
        self.stdout.write(text)
        self.stdout.flush()


class LabelledPty(Pty):
    """A :class:`Pty` that labels each output line with its host, as ``shoal run`` does.

    What ``shoal deploy --run`` and ``start()`` use: the hosts of an array speak at
    once, and bare lines (python-deployer's way) would not say whose they are.

    >>> import io
    >>> pty = LabelledPty(stdout=io.StringIO())
    >>> pty.write_line("web1", "ready")
    >>> pty.write_line("web2", "disk full", "stderr")
    >>> print(pty.stdout.getvalue(), end="")
    web1: ready
    web2: [stderr] disk full
    """

    def write_line(self, host: str, line: str, stream: str = "stdout") -> None:
        super().write_line(host, f"{host}: {'[stderr] ' if stream == 'stderr' else ''}{line}")


class DummyPty(Pty):
    """A :class:`Pty` with no terminal: it reads ``input_data`` and keeps its output.

    >>> pty = DummyPty()
    >>> pty.write_line("web1", "hello")
    >>> pty.get_output(), pty.interactive, pty.get_size()
    ('hello\\n', False, (40, 80))
    """

    def __init__(self, input_data: str = "") -> None:
        self._output = io.StringIO()
        self._size = (40, 80)
        super().__init__(io.StringIO(input_data), self._output, interactive=False)

    def get_size(self) -> tuple[int, int]:
        """The size set with :meth:`set_size`, ``(40, 80)`` at first."""
        return self._size

    def set_size(self, rows: int, cols: int) -> None:
        """Record the new size and pass it on."""
        self._size = (rows, cols)
        self.trigger_resize()

    def get_output(self) -> str:
        """Everything written to this terminal so far."""
        return self._output.getvalue()
