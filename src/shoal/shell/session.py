"""One shell session: a prompt on a node tree, and the jobs it runs.

A :class:`ShellSession` belongs to one terminal, the local one or a remote client's,
and runs in that terminal's prompt_toolkit app session and event loop. It has its own
place in the tree, history, screen and :class:`~shoal.shell.terminal.ShellPty`, so
sessions served side by side never share anything but the node tree and shoal's
connections.

Actions run as *jobs*: the action goes to shoal's loop (:func:`shoal.deploy.runner.submit`,
every isolation a greenlet there), and the session's loop drives the terminal until it
ends, in one of three modes:

* the running view (:mod:`shoal.shell.view`) below the output; Ctrl-C interrupts the
  action on every host;
* a question (the console helpers, the retry/skip/abort prompt) as a prompt of its own;
* an interactive login with the keyboard handed to it (:mod:`shoal.shell.terminal`).

Bad input is one line and the prompt comes back; so does a failed or interrupted action.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from prompt_toolkit import PromptSession
from prompt_toolkit.application import get_app_session
from prompt_toolkit.formatted_text import ANSI, StyleAndTextTuples
from prompt_toolkit.history import History, InMemoryHistory
from prompt_toolkit.input.vt100 import Vt100Input

from shoal._loop import Submitted
from shoal.deploy.exceptions import ActionException
from shoal.deploy.inspection import Inspector, PathType
from shoal.deploy.loggers import LoggerInterface
from shoal.deploy.node import Env, EnvAction, Node
from shoal.deploy.runner import check_arguments, failure_lines, make_env, result_lines, submit
from shoal.errors import ShoalError, UsageError
from shoal.shell.commands import ActionCall, BuiltinCall, parse
from shoal.shell.completion import ShellCompleter
from shoal.shell.handlers import HANDLERS, welcome
from shoal.shell.logger import ShellLogger
from shoal.shell.navigation import ShellState, group_color, node_label
from shoal.shell.panes import Panes
from shoal.shell.prints import printing_to, route_prints
from shoal.shell.progress import RunState
from shoal.shell.screen import Screen, ansi_style, paint, to_ansi
from shoal.shell.terminal import ShellPty
from shoal.shell.view import make_view

__all__ = ["JobInterrupted", "SessionOptions", "ShellSession"]

log = logging.getLogger(__name__)

T = TypeVar("T")

class JobInterrupted(ShoalError):
    """Ctrl-C stopped a job (on every host)."""


@dataclass(frozen=True)
class SessionOptions:
    """How a session behaves: ``interactive`` (questions asked; False: defaults taken,
    failures abort), ``history`` (None: kept in memory only), ``panes`` (a tmux pane per
    host during array actions), ``name`` (for logs)."""

    interactive: bool = True
    history: History | None = None
    panes: bool = False
    name: str = "local"


@dataclass(eq=False)
class _Question:
    hidden: bool
    answer: concurrent.futures.Future[str | None] = field(
        default_factory=concurrent.futures.Future)


@dataclass(eq=False)
class _TakeTerminal:
    given: concurrent.futures.Future[bool] = field(default_factory=concurrent.futures.Future)


@dataclass(eq=False)
class _Job:
    """A running job: what it does, its requests to the terminal, how to interrupt it."""

    state: RunState
    cancel: Callable[[], None] | None
    requests: asyncio.Queue[_Question | _TakeTerminal] = field(default_factory=asyncio.Queue)
    terminal_given: bool = False
    live: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    resize: Callable[[], None] | None = None
    #: keys typed while no question was asked yet: the next answer
    typed: list[str] = field(default_factory=list)


class _Submission:
    """An action handed to shoal's loop once its job has started (so that the job hears
    of everything it does), and cancelled there on Ctrl-C."""

    def __init__(self, action: EnvAction, args: tuple[Any, ...],
                 kwargs: dict[str, Any], screen: Screen) -> None:
        self._call = (action, args, kwargs)
        self._screen = screen
        self._lock = threading.Lock()
        self._handle: Submitted[Any] | None = None
        self._cancelled = False

    def run(self) -> Any:
        """Submit the action and wait for its result (in the job's thread)."""
        action, args, kwargs = self._call
        with self._lock:
            if self._cancelled:
                raise concurrent.futures.CancelledError()
            with printing_to(self._screen):  # the action's print() comes here
                self._handle = submit(action, *args, **kwargs)
        return self._handle.result()

    def cancel(self) -> None:
        """Interrupt the action everywhere, and wait until it has stopped."""
        with self._lock:
            self._cancelled = True
            handle = self._handle
        if handle is not None:
            handle.cancel()


def _in_thread(work: Callable[[], T]) -> asyncio.Future[T]:
    """Run ``work`` in a thread of its own; a future of its outcome on this loop.

    A thread each (not a shared pool): jobs of many sessions wait at once.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def body() -> None:
        try:
            value, error = work(), None
        except BaseException as exc:  # handed to the waiting session
            value, error = None, exc
        with contextlib.suppress(RuntimeError):  # the session's loop is gone: nobody waits
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=body, name="shoal-shell-job", daemon=True).start()
    return future


class ShellSession:
    """A shell on the tree of ``root``; make it in the session's context and loop, then
    ``await run()``."""

    def __init__(self, root: Node, options: SessionOptions | None = None) -> None:
        self.options = options or SessionOptions()
        self.root = root
        self.state = ShellState(root)
        self.screen = Screen()
        self._job: _Job | None = None
        self._app_session = get_app_session()
        self._output = self._app_session.output  # made now, on the real stdout, before...
        route_prints()  # ... print() in actions is routed to their session's screen
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        term = os.environ.get("TERM", "xterm")
        self.pty = ShellPty(self, self.screen, interactive=self.options.interactive,
                            term=term)
        self.logger = LoggerInterface()
        self.logger.attach(ShellLogger(self.screen, lambda: self._job.state
                                       if self._job is not None else None, self.pty.color_of))
        self._history = self.options.history or InMemoryHistory()
        #: keys typed while a job ran, not taken by a question: the next line
        self._typed: list[str] = []
        self._panes = Panes() if self.options.panes else None
        self._done = False

    # -- the prompt ---------------------------------------------------------------------

    def prompt_fragments(self) -> StyleAndTextTuples:
        """The prompt: the node's path, each part in its group's colour, then ``>``."""
        fragments: StyleAndTextTuples = []
        for node in Inspector(self.state.node).get_path(PathType.NODE_ONLY):
            if fragments:
                fragments.append(("", "."))
            fragments.append((ansi_style(group_color(node)), node_label(node)))
        if self.state.parent is not None:
            fragments.insert(0, ("fg:ansibrightblack", "(subshell) "))
        fragments.append(("fg:ansicyan", " > "))
        return fragments

    async def run(self) -> None:
        """Read and run lines until ``exit`` or Ctrl-D at the top."""
        prompt: PromptSession[str] = PromptSession(
            history=self._history, completer=ShellCompleter(lambda: self.state),
            complete_while_typing=False,
            complete_in_thread=False)
        welcome(self)
        try:
            while not self._done:
                await self.screen.drain()
                ahead, self._typed = "".join(self._typed), []
                if "\n" in ahead:  # a whole line typed while the last one ran
                    line, _, rest = ahead.partition("\n")
                    self._typed.extend(rest)
                    self.screen.line(to_ansi(self.prompt_fragments()) + line)
                    await self.execute(line)
                    continue
                try:
                    line = await prompt.prompt_async(self.prompt_fragments, default=ahead)
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    if self.state.parent is None:
                        break
                    self.leave_subshell()
                    continue
                await self.execute(line)
        finally:
            self.screen.close()
            self.pty.close()
            if self._panes is not None:
                self._panes.close()

    def stop(self) -> None:
        """End the session after the current line."""
        self._done = True

    def leave_subshell(self) -> None:
        """Go back to the shell that opened this subshell."""
        if self.state.parent is not None:
            self.state = self.state.parent
            self.say(paint("back from the subshell", dim=True))

    async def execute(self, line: str) -> None:
        """Run one line; bad input and failures print one line and return."""
        try:
            command = parse(self.state, line)
            if isinstance(command, BuiltinCall):
                await HANDLERS[command.builtin.name](self, command.words)
            elif isinstance(command, ActionCall):
                await self.run_action(command)
        except ShoalError as exc:
            self.error(str(exc))
        except Exception as exc:  # a fault of shoal's: one line, the rest in the log
            log.exception("[session=%s] %r failed", self.options.name, line)
            self.error(f"internal error: {type(exc).__name__}: {exc}")
        await self.screen.end_line()

    # -- output ---------------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        """Print one line."""
        self.screen.line(text)

    def error(self, text: str) -> None:
        """Print one line of bad news."""
        self.screen.line(paint(text, "red"))

    @property
    def columns(self) -> int:
        """The width of the session's terminal."""
        return self.size()[1]

    # -- questions asked by the shell itself (on the session's loop) --------------------

    async def ask_line(self, question: str, *, hidden: bool = False,
                       default: str = "") -> str | None:
        """A line typed in answer to ``question`` (None: Ctrl-C or Ctrl-D)."""
        try:
            answer: str = await PromptSession[str]().prompt_async(
                ANSI(question), is_password=hidden, default=default)
        except (KeyboardInterrupt, EOFError):
            return None
        return answer

    async def choose(self, question: str, options: list[tuple[str, T]]) -> T | None:
        """One of ``options`` (``(label, value)``), picked by number (None: no choice)."""
        if len(options) == 1:
            return options[0][1]
        self.say(paint(question, "cyan"))
        for number, (label, _) in enumerate(options, 1):
            self.say(f"{number:6}  {label}")
        while True:
            await self.screen.drain()
            answer = await self.ask_line(paint(f"  {question} [1-{len(options)}]: ", "cyan"))
            if answer is None:
                return None
            if answer.strip().isdigit() and 1 <= int(answer) <= len(options):
                return options[int(answer) - 1][1]
            self.error(f"{answer.strip()!r}: type a number from 1 to {len(options)}")

    # -- running actions ----------------------------------------------------------------

    def env_for(self, node: Node, sandbox: bool = False) -> Any:
        """An Env on ``node`` with this session's terminal and logger."""
        return make_env(node, pty=self.pty, logger=self.logger, sandbox=sandbox,
                        interactive=self.options.interactive)

    async def run_action(self, call: ActionCall) -> None:
        """Run an action as a job; print its result (a returned node opens a subshell)."""
        env = self.env_for(call.node, call.sandbox)
        action: EnvAction = (getattr(env, call.action) if call.action is not None
                             else Inspector(env).get_default_action())
        check_arguments(action, call.args, call.kwargs)
        label = ("sandbox " if call.sandbox else "") + call.label
        ok, result = await self.run_submitted(label, action, *call.args, **call.kwargs)
        if not ok:
            return
        if isinstance(result, Env):
            node: Node = Inspector(result).node
            self.state = self.state.subshell(node)
            self.say(paint(f"subshell on {node_label(node)} (exit or Ctrl-D to come back)",
                           "cyan"))
            return
        if not action.suppress_result:
            for line in result_lines(result):
                self.say(line)

    async def run_submitted(self, label: str, action: EnvAction, *args: Any,
                            **kwargs: Any) -> tuple[bool, Any]:
        """Run ``action`` on shoal's loop as a job: ``(True, result)``, or ``(False, None)``
        when it failed (the failures printed, one line each)."""
        submission = _Submission(action, args, kwargs, self.screen)
        try:
            return True, await self.run_job(label, submission.run, submission.cancel)
        except ActionException as exc:
            for line in failure_lines(label, exc):
                self.error(line)
            return False, None

    async def run_job(self, label: str, work: Callable[[], T],
                      cancel: Callable[[], None] | None = None) -> T:
        """Run ``work`` in a thread while this session drives the terminal.

        :param cancel: interrupts ``work`` (Ctrl-C); None: it cannot be interrupted.
        :returns: what ``work`` returned (an array's table of hosts printed first).
        :raises JobInterrupted: Ctrl-C stopped it.
        :raises: what ``work`` raised.
        """
        if self._job is not None:
            raise UsageError("a job is running already")
        job = _Job(RunState(label, observer=self._panes), cancel)
        self._job = job
        waiter = _in_thread(work)
        try:
            await self._drive(job, waiter)
            try:
                result = waiter.result()
            except (concurrent.futures.CancelledError, asyncio.CancelledError):
                self._finish(job)
                raise JobInterrupted(f"interrupted: {label} (stopped on every host)") from None
            except BaseException:
                self._finish(job)
                raise
            self._finish(job)
            return result
        finally:
            self._typed.extend(job.typed)
            if not waiter.done():  # the session itself is going away: stop the work too
                self.interrupt()
            self._job = None

    def _finish(self, job: _Job) -> None:
        job.state.stopped()
        for line in job.state.summary(self.columns):
            self.say(line)

    async def _drive(self, job: _Job, waiter: asyncio.Future[Any]) -> None:
        """Show the running view, answer questions, hand over the terminal, until done."""
        while not waiter.done():
            view = make_view(job.state, self.screen, self.interrupt, job.typed)
            job.state.on_change = self._redraw(view)
            self.screen.on_partial = view.invalidate
            showing = asyncio.ensure_future(view.run_async())
            request = asyncio.ensure_future(job.requests.get())
            try:
                await asyncio.wait([waiter, request, showing],
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                job.state.on_change = None
                self.screen.on_partial = None
                if not showing.done() and view.future is not None and not view.future.done():
                    view.exit()
                with contextlib.suppress(Exception):
                    await showing
                if not request.done():
                    request.cancel()
            if request.done() and not request.cancelled():
                await self._serve(job, request.result(), waiter)
            if self._app_session.input.closed:  # the client has gone: so does its job
                self.interrupt()
                await self._orphaned(job, waiter)
        while not job.requests.empty():  # asked as the job ended: nobody will answer
            self._refuse(job.requests.get_nowait())

    async def _orphaned(self, job: _Job, waiter: asyncio.Future[Any]) -> None:
        """Nobody is at the terminal any more: refuse what the job asks until it stops."""
        while not waiter.done():
            request = asyncio.ensure_future(job.requests.get())
            await asyncio.wait([waiter, request], return_when=asyncio.FIRST_COMPLETED)
            if request.done():
                self._refuse(request.result())
            else:
                request.cancel()

    def _redraw(self, view: Any) -> Callable[[], None]:
        """A callback that redraws ``view`` soon, from any thread."""
        def redraw() -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                self._loop.call_soon_threadsafe(view.invalidate)

        return redraw

    @staticmethod
    def _refuse(request: _Question | _TakeTerminal) -> None:
        if isinstance(request, _Question):
            request.answer.set_result(None)
        else:
            request.given.set_result(False)

    async def _serve(self, job: _Job, request: _Question | _TakeTerminal,
                     waiter: asyncio.Future[Any]) -> None:
        if isinstance(request, _Question):
            await self._question(job, request, waiter)
        elif job.terminal_given:
            request.given.set_result(False)
        else:
            await self._login(job, request, waiter)

    async def _question(self, job: _Job, question: _Question,
                        waiter: asyncio.Future[Any]) -> None:
        text = await self.screen.take_partial()
        ahead = "".join(job.typed)
        job.typed.clear()
        if "\n" in ahead:  # answered before it was asked
            early, _, rest = ahead.partition("\n")
            job.typed.extend(rest)
            self.say(text + ("*" * len(early) if question.hidden else early))
            question.answer.set_result(early)
            return
        asking = asyncio.ensure_future(self.ask_line(text, hidden=question.hidden,
                                                     default=ahead))
        await asyncio.wait([asking, waiter], return_when=asyncio.FIRST_COMPLETED)
        if not asking.done():
            asking.cancel()
            question.answer.set_result(None)
            return
        answer = asking.result()
        if answer is None:  # Ctrl-C or Ctrl-D at a question: the action stops
            self.interrupt()
        question.answer.set_result(answer)

    async def _login(self, job: _Job, request: _TakeTerminal,
                     waiter: asyncio.Future[Any]) -> None:
        """Hand the keyboard to an interactive login until it gives it back."""
        job.terminal_given = True
        job.live.clear()
        job.released.clear()
        await self.screen.drain()
        request.given.set_result(True)
        live = asyncio.ensure_future(job.live.wait())
        await asyncio.wait([live, waiter], return_when=asyncio.FIRST_COMPLETED)
        live.cancel()
        if job.live.is_set():
            await self._forward_keys(job, waiter)
        job.terminal_given = False

    async def _forward_keys(self, job: _Job, waiter: asyncio.Future[Any]) -> None:
        keyboard = self._app_session.input
        master = self.pty.keyboard_master
        gone = asyncio.Event()

        def typed() -> None:
            if isinstance(keyboard, Vt100Input):
                data = keyboard.stdin_reader.read()
            else:
                data = "".join(key.data for key in keyboard.read_keys())
            if data:
                os.write(master, data.encode("utf-8", "surrogateescape"))
            elif keyboard.closed:
                gone.set()

        released = asyncio.ensure_future(job.released.wait())
        ended = asyncio.ensure_future(gone.wait())
        size = self.size()
        with keyboard.raw_mode(), keyboard.attach(typed):
            while not (released.done() or waiter.done() or ended.done()):
                await asyncio.wait([released, waiter, ended], timeout=0.2,
                                   return_when=asyncio.FIRST_COMPLETED)
                # Polled: a remote client's resize reaches only a running application.
                if self.size() != size and job.resize is not None:
                    size = self.size()
                    job.resize()
        for task in (released, ended):
            task.cancel()
        if gone.is_set():
            self.interrupt()

    def interrupt(self) -> None:
        """Ctrl-C: stop the running job on every host (in the background)."""
        job = self._job
        if job is None or job.state.interrupting:
            return
        job.state.interrupting = True
        if job.cancel is not None:
            threading.Thread(target=job.cancel, name="shoal-shell-cancel", daemon=True).start()

    # -- the terminal's owner (called from other threads) -------------------------------

    def _post(self, request: _Question | _TakeTerminal) -> bool:
        job = self._job
        if job is None:
            return False
        try:
            self._loop.call_soon_threadsafe(job.requests.put_nowait, request)
        except RuntimeError:  # the session's loop is gone
            return False
        return True

    def ask(self, hidden: bool) -> str | None:
        """The answer to the question on screen, typed at this session's prompt."""
        if threading.get_ident() == self._thread:
            raise RuntimeError("a question asked on the shell's own loop would hang it")
        question = _Question(hidden)
        if not self._post(question):
            return None
        return question.answer.result()

    def take_terminal(self) -> bool:
        """Give the keyboard to a login (first come; the running view steps aside)."""
        request = _TakeTerminal()
        if not self._post(request):
            return False
        try:
            return request.given.result(timeout=10)
        except concurrent.futures.TimeoutError:
            return False

    def terminal_live(self, resize: Callable[[], None] | None) -> None:
        """The login reads the keyboard now, or has stopped."""
        job = self._job
        if job is None:
            return

        def tell() -> None:
            job.resize = resize
            (job.live if resize is not None else job.released).set()

        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(tell)

    def size(self) -> tuple[int, int]:
        """The terminal's ``(rows, columns)``."""
        size = self._output.get_size()
        return size.rows or 24, size.columns or 80

    def host_line(self, host: str, line: str) -> None:
        """Tell the running view what ``host`` printed."""
        job = self._job
        if job is not None:
            job.state.host_line(host, line)
