"""User interaction from an action: ``self.console`` (questions, lists, progress bars).

::

    class Site(Node):
        def deploy(self):
            if self.console.confirm("Deploy to production?", default=False):
                ...

When the run is not interactive (``--non-interactive``, or no terminal), a question
with a default takes it at once and prints ``[non interactive] 'answer'``; a question
without one is still read, and end of input raises :class:`NoInput`.

Questions asked from several isolations running at once are asked one at a time, and
the other isolations keep running while the user answers.

Differences from python-deployer: input is read a line at a time (the terminal edits
it, so any text is accepted, not only ASCII); colours are written only to a terminal;
``select_node`` offers a numbered list instead of the shell's completion.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import random
import termios
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from shoal.deploy._bridge import bridged, wait
from shoal.deploy._style import colored, is_terminal

if TYPE_CHECKING:
    from shoal.deploy.pseudo_terminal import Pty

__all__ = ["Console", "NoInput", "ProgressBar", "ProgressBarSteps"]

T = TypeVar("T")


class NoInput(Exception):
    """No answer came: end of input, or the question was cancelled."""


_locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
#: Whether this flow of control holds the console already (a choice() asks an input()).
_holding: contextvars.ContextVar[bool] = contextvars.ContextVar("shoal_console", default=False)


@contextlib.contextmanager
def _one_question_at_a_time() -> Iterator[None]:
    """Hold the console for one question while isolations run at once."""
    if not bridged() or _holding.get():
        yield
        return
    loop = asyncio.get_running_loop()
    lock = _locks.setdefault(loop, asyncio.Lock())
    wait(lock.acquire())
    token = _holding.set(True)
    try:
        yield
    finally:
        _holding.reset(token)
        lock.release()


def _off_the_loop(read: Callable[[], T]) -> T:
    """``read()``; in an isolation, on a thread of its own, so the loop keeps running.

    The thread is a daemon: if the run is cancelled while it waits for a line, it does
    not keep shoal from exiting.
    """
    if not bridged():
        return read()
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)  # type: ignore[arg-type]

    def reader() -> None:
        try:
            value = read()
        except BaseException as exc:  # handed to the waiting isolation
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, value, None)

    async def answer() -> T:
        return await future

    threading.Thread(target=reader, name="shoal-console", daemon=True).start()
    return wait(answer())


class Console:
    """Questions and output helpers on a :class:`~shoal.deploy.pseudo_terminal.Pty`."""

    def __init__(self, pty: Pty) -> None:
        self._pty = pty

    @property
    def pty(self) -> Pty:
        """The terminal of this console."""
        return self._pty

    @property
    def is_interactive(self) -> bool:
        """False when questions should take their defaults without asking."""
        return bool(self._pty.interactive)

    def _color(self, text: str, color: str | None = None, attrs: Iterable[str] = ()) -> str:
        return colored(text, color, attrs, enabled=is_terminal(self._pty.stdout))

    def _write(self, text: str) -> None:
        self._pty.stdout.write(text)
        self._pty.stdout.flush()

    def _read_line(self, hidden: bool) -> str:
        stdin = self._pty.stdin

        def read() -> str:
            if hidden and is_terminal(stdin):
                fd = stdin.fileno()
                before = termios.tcgetattr(fd)
                quiet = list(before)
                quiet[3] &= ~termios.ECHO
                termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
                try:
                    line = str(stdin.readline())
                finally:
                    termios.tcsetattr(fd, termios.TCSADRAIN, before)
                    self._write("\n")
            else:
                line = str(stdin.readline())
            if not line:
                raise NoInput("end of input")
            return line.rstrip("\r\n")

        return _off_the_loop(read)

    def input(self, label: str, is_password: bool = False,
              answers: Sequence[str] | None = None, default: str | None = None) -> str:
        """Ask for a line of text.

        :param is_password: do not echo what is typed.
        :param answers: the accepted answers (asked again until one is given).
        :param default: the answer when the user just presses Enter.
        :raises NoInput: end of input.
        """
        answers_text = f" [{','.join(answers)}]" if answers else ""
        default_text = f" (default={default})" if default is not None else ""
        question = self._color(f"  {label}{answers_text}{default_text}: ", "cyan")
        with _one_question_at_a_time():
            while True:
                self._write(question)
                if not self.is_interactive and default is not None:
                    self._write(f"[non interactive] {default!r}\n")
                    value = default
                else:
                    value = self._read_line(is_password)
                    if not value and default is not None:
                        value = default
                if value and (not answers or value in answers):
                    return value
                self._write("Invalid answer.\n")
                if not self.is_interactive and default is not None:
                    raise NoInput(f"{label}: the default {default!r} is not an accepted answer")

    def choice(self, question: str, options: Sequence[tuple[str, T]],
               allow_random: bool = False, default: T | None = None) -> T:
        """Ask to pick one of ``options``, a list of ``(label, value)``, by number.

        :param allow_random: offer ``random`` (the default then, and the non-interactive
            answer).
        :raises NoInput: no options, or end of input.
        """
        if not options:
            raise NoInput(f"{question}: no options to choose from")
        if allow_random and default is not None:
            raise ValueError("choice(): give allow_random or default, not both")
        options = sorted(options, key=lambda o: o[0])
        default_text: str | None = None
        if allow_random:
            default_text = "random"
        elif default is not None:
            values = [v for _, v in options]
            if default not in values:
                raise ValueError(f"choice(): the default {default!r} is not an option")
            default_text = str(values.index(default) + 1)
        with _one_question_at_a_time():
            while True:
                self._write(self._color(f"  {question}\n", "cyan"))
                self.lesspipe(f"{i + 1:10} {label}" for i, (label, _) in enumerate(options))
                answer = self.input(question, default=default_text)
                if allow_random and answer == "random":
                    return random.choice(options)[1]
                if answer.isdigit() and 1 <= int(answer) <= len(options):
                    return options[int(answer) - 1][1]
                self.warning("Invalid input")

    def confirm(self, question: str, default: bool | None = None) -> bool:
        """Ask a yes/no question; True for ``y``/``yes``."""
        answer = ""
        while answer not in ("y", "yes", "n", "no"):
            answer = self.input(f"{question} [y/n]",
                                default=None if default is None else ("y" if default else "n"))
        return answer in ("y", "yes")

    def select_node(self, root_node: Any, prompt: str = "Select a node",
                    filter: Callable[[Any], bool] | None = None) -> Any:
        """Ask to pick a node below ``root_node`` (an Env), then one of its isolations.

        :param filter: keep only the nodes for which it returns True.
        """
        from shoal.deploy.inspection import Inspector

        nodes = [n for n in Inspector(root_node).walk() if filter is None or filter(n)]
        options = [(".".join(Inspector(n).get_path()), n) for n in nodes]
        return self.select_node_isolation(self.choice(prompt, options))

    def select_node_isolation(self, node: Any) -> Any:
        """Ask which isolation of ``node`` (an Env) to use; the only one is used at once."""
        from shoal.deploy.inspection import Inspector
        from shoal.deploy.node.base import IsolationIdentifierType

        options = [(" ".join(f"{h.slug} ({h.address})" for h in hosts), isolation)
                   for hosts, isolation in Inspector(node).iter_isolations(
                       IsolationIdentifierType.HOST_TUPLES)]
        if len(options) > 1:
            return self.choice("Choose a host", options, allow_random=True)
        if not options:
            raise NoInput(f"{node!r} has no isolation to choose")
        return options[0][1]

    def lesspipe(self, line_iterator: Iterable[str]) -> None:
        """Print lines a page at a time on an interactive terminal (``q`` quits), else all."""
        page = self._pty.get_size()[0] - 1
        paging = self.is_interactive and is_terminal(self._pty.stdout)
        for count, line in enumerate(line_iterator, 1):
            self._write(f"{line}\n")
            if paging and count % page == 0:
                self._write(self._color("  Press enter to continue (q to quit)...", "cyan"))
                if self._read_line(False).strip() == "q":
                    return

    def in_columns(self, item_iterator: Iterable[str | tuple[str, int]],
                   margin_left: int = 0) -> Iterator[str]:
        """Lay items out in columns that fit the terminal; yields the lines.

        An item is a string or ``(text, visible length)`` for text with colour codes.
        """
        items = [(i, len(i)) if isinstance(i, str) else i for i in item_iterator]
        if not items:
            return
        width = max(length for _, length in items) + 1
        per_line = max((self._pty.get_size()[1] - margin_left) // width, 1)
        for start in range(0, len(items), per_line):
            row = items[start:start + per_line]
            cells = [text + " " * (width - length) for text, length in row[:-1]]
            yield " " * margin_left + "".join(cells) + row[-1][0]

    def warning(self, text: str) -> None:
        """Print a warning."""
        self._write(self._color("*** ", "yellow") + self._color("WARNING: ", "red")
                    + self._color(text, "red", ["bold"]) + self._color(" ***\n", "yellow"))

    def progress_bar(self, message: str, expected: int | None = None,
                     clear_on_finish: bool = False, format_str: str | None = None
                     ) -> ProgressBar:
        """A progress bar, as a context manager; call ``.next()`` for each step done."""
        return ProgressBar(self._pty, message, expected=expected,
                           clear_on_finish=clear_on_finish, format_str=format_str)

    def progress_bar_with_steps(self, message: str, steps: ProgressBarSteps,
                                format_str: str | None = None) -> ProgressBar:
        """A progress bar through named ``steps``; call ``.set_progress(n)``."""
        return ProgressBar(self._pty, message, steps=steps, format_str=format_str)


class ProgressBarSteps:
    """Named steps for :meth:`Console.progress_bar_with_steps`: ``{1: "Resolving", ...}``."""

    def __init__(self, steps: dict[int, str]) -> None:
        for key, value in steps.items():
            if not isinstance(key, int) or not isinstance(value, str):
                raise TypeError(f"ProgressBarSteps: {key!r}: {value!r} is not int: str")
        self._steps = dict(steps)

    def get_step_description(self, step: int) -> str:
        """The name of ``step`` (empty if it has none)."""
        return self._steps.get(step, "")

    def get_steps_count(self) -> int:
        """The number of the last step."""
        return max(self._steps)


class ProgressBar:
    """A progress line, redrawn in place on a terminal and written once elsewhere."""

    interval = 0.1  # seconds between two redraws from next()

    def __init__(self, pty: Pty, message: str, expected: int | None = None,
                 steps: ProgressBarSteps | None = None, clear_on_finish: bool = False,
                 format_str: str | None = None) -> None:
        if expected and steps:
            raise ValueError("ProgressBar: give expected or steps, not both")
        self._pty = pty
        self._live = is_terminal(pty.stdout)
        self.message = message
        self.counter = 0
        self.steps = steps
        self.expected = steps.get_steps_count() if steps is not None else expected
        self.clear_on_finish = clear_on_finish
        self.done = False
        self.start_time = time.monotonic()
        self.end_time: float | None = None
        self._last_print = 0.0
        if format_str:
            self.format_str = format_str
        elif self.expected:
            self.format_str = ("%(message)s: %(counter)s/%(expected)s [%(percentage)s completed]"
                               "  [%(duration)s] [%(status)s]")
        else:
            self.format_str = "%(message)s: %(counter)s [%(duration)s] [%(status)s]"

    def __enter__(self) -> ProgressBar:
        self._print()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.done = True
        self.end_time = time.monotonic()
        if self.clear_on_finish and self._live:
            self._pty.stdout.write("\r\x1b[K")
        elif not self.clear_on_finish:
            self._print()
            self._pty.stdout.write("\n")
        self._pty.stdout.flush()

    def _text(self) -> str:
        percentage = f"{self.counter * 100 // self.expected}%" if self.expected else "??"
        seconds = int((self.end_time or time.monotonic()) - self.start_time)
        status = ("DONE" if self.done else
                  self.steps.get_step_description(self.counter) if self.steps else "")
        return self.format_str % {
            "message": self.message, "counter": self.counter, "expected": self.expected,
            "percentage": percentage,
            "duration": f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}",
            "status": colored(status, "green", enabled=self._live),
        }

    def _print(self) -> None:
        if self._live:
            self._pty.stdout.write(f"\r\x1b[K{self._text()}\r")
            self._pty.stdout.flush()
        elif self.done:
            self._pty.stdout.write(self._text())
        self._last_print = time.monotonic()

    def next(self) -> None:
        """Count one more step done."""
        self.set_progress(self.counter + 1, rewrite=False)

    def set_progress(self, value: int, rewrite: bool = True) -> None:
        """Set the counter to ``value``; redraw now unless ``rewrite`` is False (then at
        most every :attr:`interval` seconds)."""
        self.counter = value
        if rewrite or time.monotonic() - self._last_print > self.interval:
            self._print()

