"""What passes between a host and one running command: output, sudo's prompt, stdin.

An :class:`Exchange` is the output sink of a :class:`~shoal.hosts.Process`: it shows the
output on the :class:`~shoal.deploy.pseudo_terminal.Pty` line by line as it arrives
(byte for byte in a remote terminal), hands each line to the run's log entry, keeps
stdout for the caller, and answers sudo.

sudo is run with ``-S -p PROMPT`` (:mod:`shoal.deploy.host.commands`): its prompt comes on
stderr (on the terminal's one stream in a remote terminal), and the password goes back on
the command's stdin, once. The prompt is taken out of what is shown and kept; a prompt
again after the password means sudo refused it: the command is stopped at once, rather
than left to ask three times. When there is a password to give, nothing else is written
to the command's stdin (not ``initial_input``, not the end of input) until sudo has been
answered or the command has printed something, so that sudo never reads them as the
password. (So a command that waits for its input before it prints anything, run by a
sudo that does not ask, NOPASSWD, waits: give such a host no ``sudo_password``.)

Pure logic around the sinks: no I/O of its own. Imports nothing from shoal but the
deployment's own modules and :mod:`shoal.hosts`' types.
"""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from shoal.deploy.loggers.base import RunEntry
    from shoal.deploy.pseudo_terminal import Pty
    from shoal.hosts import Process

__all__ = ["Exchange", "Lines"]

Stream = Literal["stdout", "stderr"]


class Lines:
    r"""Text cut into lines as it arrives; the newline (and a ``\r`` before it) dropped.

    >>> lines = Lines()
    >>> lines.feed("a\nb"), lines.feed("c\r\n"), lines.flush(), lines.flush()
    (['a'], ['bc'], None, None)
    """

    def __init__(self) -> None:
        self._rest = ""

    def feed(self, text: str) -> list[str]:
        """The lines that ``text`` completes."""
        *lines, self._rest = (self._rest + text).split("\n")
        return [line.removesuffix("\r") for line in lines]

    def flush(self) -> str | None:
        """The last line, if it had no newline."""
        rest, self._rest = self._rest, ""
        return rest.removesuffix("\r") or None


class _Stream:
    """One output stream: decoded for display, cut into lines."""

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.lines = Lines()


class Exchange:
    """The sinks and the stdin of one command; see the module docstring.

    :param slug: the host, for the pty's lines.
    :param pty: where output is shown; None: shown nowhere.
    :param entry: the run's log entry, told each line.
    :param show_stdout: show stdout (python-deployer showed none for ``interactive=False``).
    :param terminal: the command runs in a remote terminal (one merged stream, shown raw).
    :param prompt: sudo's prompt to watch for; None: sudo is not used, or its prompt is
        left for the user to answer at the terminal.
    :param password: the answer to ``prompt``; None: a prompt is an error, except in a
        remote terminal, where it is shown for the user to answer (and not kept).
    :param stdin: written at once, or, when there is a password to give, once sudo is
        answered or the command has spoken (None: nothing).
    :param close_stdin: then end the command's input.
    """

    def __init__(self, slug: str, pty: Pty | None, entry: RunEntry | None, *,
                 show_stdout: bool = True, terminal: bool = False, prompt: str | None = None,
                 password: str | None = None, stdin: bytes | None = None,
                 close_stdin: bool = True) -> None:
        self._slug = slug
        self._pty = pty
        self._entry = entry
        self._show_stdout = show_stdout
        self._terminal = terminal
        self._prompt = prompt.encode() if prompt is not None else None
        self._password = password
        self._stdin = stdin
        self._close_stdin = close_stdin
        self._streams: dict[Stream, _Stream] = {"stdout": _Stream(), "stderr": _Stream()}
        self._captured = bytearray()
        self._held = b""  # the end of the watched stream that may begin a prompt
        self._eat_newline = False
        self._process: Process | None = None
        self._pending: list[bytes | None] = []  # written once the process is attached
        self._released = False
        #: how many times sudo asked
        self.prompts = 0
        #: why the command was stopped: "rejected" (wrong password), "no password"
        self.failure: str | None = None
        if self._prompt is None or password is None:  # nothing to wait for
            self._release()

    # -- the process side -----------------------------------------------------------------

    def attach(self, process: Process) -> None:
        """The command has started: send it what was waiting for it."""
        self._process = process
        pending, self._pending = self._pending, []
        for item in pending:
            self._send(item)

    def _send(self, data: bytes | None) -> None:
        """Write ``data`` to the command's stdin (None: close it), now or once attached."""
        if self._process is None:
            self._pending.append(data)
        elif data is None:
            self._process.write_eof()
        else:
            self._process.write(data)

    def _release(self) -> None:
        """Sudo is done with stdin: send ``initial_input`` and the end of input."""
        if self._released:
            return
        self._released = True
        if self._stdin:
            self._send(self._stdin)
        if self._close_stdin and not self._terminal:
            self._send(None)

    def stdout(self, data: bytes) -> None:
        """Sink for the command's stdout (its terminal in a remote terminal)."""
        if self._watched("stdout"):
            self._watch("stdout", data)
        else:
            self._pass("stdout", data)

    def stderr(self, data: bytes) -> None:
        """Sink for the command's stderr."""
        if self._watched("stderr"):
            self._watch("stderr", data)
        else:
            self._pass("stderr", data)

    def _watched(self, name: Stream) -> bool:
        """Whether sudo's prompt comes on ``name``."""
        return self._prompt is not None and (name == "stdout") == self._terminal

    def _pass(self, name: Stream, data: bytes) -> None:
        """Output past the prompt watch: kept (stdout) and shown; after a failure, dropped
        (sudo's last words once stopped)."""
        if not data or self.failure is not None:
            return
        if name == "stdout":
            self._release()
            self._captured += data
        self._show(name, data)

    def finish(self) -> str:
        """The command has ended: show what was held back; its stdout, as text.

        Bytes that are not UTF-8 come as surrogate escapes (``.encode("utf-8",
        "surrogateescape")`` gives them back).
        """
        held, self._held = self._held, b""
        self._pass("stdout" if self._terminal else "stderr", held)
        for name in ("stdout", "stderr"):
            stream = self._streams[name]
            tail = stream.decoder.decode(b"", final=True)
            lines = stream.lines.feed(tail) if tail else []
            last = stream.lines.flush()
            if self._terminal and tail:
                self._raw(tail)
            for line in [*lines, *([last] if last is not None else [])]:
                self._line(name, line, raw_shown=self._terminal)
        return self._captured.decode("utf-8", "surrogateescape")

    # -- sudo's prompt ------------------------------------------------------------------------

    def _watch(self, name: Stream, data: bytes) -> None:
        """Pass ``data`` on without sudo's prompts, each answered; hold back the end that
        may begin one."""
        assert self._prompt is not None
        buffer, self._held = self._eat(self._held + data), b""
        while (at := buffer.find(self._prompt)) >= 0:
            self._pass(name, buffer[:at])
            buffer = buffer[at + len(self._prompt):]
            self._prompted()
            buffer = self._eat(buffer)
        keep = next((n for n in range(min(len(buffer), len(self._prompt) - 1), 0, -1)
                     if self._prompt.startswith(buffer[-n:])), 0)
        self._held = buffer[len(buffer) - keep:]
        self._pass(name, buffer[:len(buffer) - keep])

    def _eat(self, data: bytes) -> bytes:
        """``data`` without the line end sudo writes in a terminal once it has read a
        password (shown, not kept, when the user typed it at the prompt shown)."""
        if not self._eat_newline or not data:
            return data
        self._eat_newline = False
        rest = data.removeprefix(b"\r\n").removeprefix(b"\n")
        if rest != data and self._password is None:
            self._raw("\r\n")
        return rest

    def _prompted(self) -> None:
        self.prompts += 1
        if self.failure is not None:
            return
        if self._password is None and self._terminal:
            self._raw(self._prompt.decode() if self._prompt else "")  # for the user to answer
            self._eat_newline = True
        elif self._password is None:
            self._fail("no password")
        elif self.prompts > 1:
            self._fail("rejected")
        else:
            self._send(f"{self._password}\n".encode())
            self._eat_newline = self._terminal
            self._release()

    def _fail(self, why: str) -> None:
        self.failure = why
        self._pending.clear()
        if self._process is not None:
            self._process.stop()

    # -- showing output -------------------------------------------------------------------------

    def _show(self, name: Stream, data: bytes) -> None:
        stream = self._streams[name]
        text = stream.decoder.decode(data)
        if self._terminal:
            self._raw(text)
        for line in stream.lines.feed(text):
            self._line(name, line, raw_shown=self._terminal)

    def _raw(self, text: str) -> None:
        if self._pty is not None:
            self._pty.write_raw(text)

    def _line(self, name: Stream, line: str, *, raw_shown: bool) -> None:
        if self._entry is not None:
            self._entry.output(name, line)
        if self._pty is not None and not raw_shown and (name == "stderr" or self._show_stdout):
            self._pty.write_line(self._slug, line, name)
