"""The event loop behind shoal's blocking API: one loop, in one thread, owns every connection.

Blocking calls (``Task.run``, deployment scripts' ``host.run``) hand their coroutine to
this loop and wait for the answer, so connections opened by one call are reused by the
next, whatever thread makes it. The caller's context variables go with the coroutine
(a ``cd()`` or ``env()`` set in a deployment script holds on the loop too).

A child made by ``fork()`` does not inherit the loop's thread: it starts a loop of its
own on its first blocking call, and leaves the parent's alone.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import contextvars
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

__all__ = ["Submitted", "call_soon", "run", "submit"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="shoal-loop", daemon=True)
            thread.start()
            atexit.register(_stop, loop, thread)
            _loop = loop
        return _loop


def _stop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    if thread.is_alive():  # not in a forked child, where the thread does not exist
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


def _forget_after_fork() -> None:
    """In a forked child: the parent's loop thread is not there, so start afresh."""
    global _loop, _lock
    _loop = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def run(coro: Coroutine[Any, Any, T], name: str = "this call") -> T:
    """Run ``coro`` on the shared loop with the caller's context; block until it is done.

    Ctrl-C while waiting cancels the coroutine and waits for it to finish cancelling (its
    nodes stopped, its connections closed) before KeyboardInterrupt is raised here; a
    second Ctrl-C stops waiting.

    :param name: the async twin to name when this is called from the loop itself.
    :raises RuntimeError: called from code running on shoal's loop, where blocking would
        hang it: await ``name`` instead.

    >>> async def answer() -> int:
    ...     return 42
    >>> run(answer())
    42
    """
    return submit(coro, name).result()


class Submitted(Generic[T]):
    """A coroutine handed to the shared loop: wait for its result, or cancel it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> None:
        self._loop = loop
        self._done: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._task: asyncio.Task[T] | None = None
        self._started = threading.Event()
        context = contextvars.copy_context()

        def start() -> None:
            self._task = context.run(loop.create_task, coro)  # runs in a copy of `context`
            self._task.add_done_callback(self._settle)
            self._started.set()

        loop.call_soon_threadsafe(start)

    def result(self) -> T:
        """Block until the coroutine is done and return its result (Ctrl-C: see :func:`run`)."""
        try:
            return self._done.result()
        except KeyboardInterrupt:
            with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C: stop waiting
                self.cancel()
            raise

    def cancel(self) -> None:
        """Cancel the coroutine and wait until it has finished cancelling."""
        self._started.wait()
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        concurrent.futures.wait([self._done])

    def _settle(self, task: asyncio.Task[T]) -> None:
        """Hand the finished task's outcome to the waiting thread."""
        if task.cancelled():
            self._done.cancel()
            self._done.set_running_or_notify_cancel()  # wakes wait(), which cancel() alone does not
        elif (error := task.exception()) is not None:
            self._done.set_exception(error)
        else:
            self._done.set_result(task.result())


def call_soon(callback: Callable[[], object]) -> None:
    """Call ``callback`` on the shared loop's thread soon; returns at once."""
    _background_loop().call_soon_threadsafe(callback)


def submit(coro: Coroutine[Any, Any, T], name: str = "this call") -> Submitted[T]:
    """Start ``coro`` on the shared loop with the caller's context and return at once.

    :raises RuntimeError: as :func:`run`.
    """
    loop = _background_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise RuntimeError(f"blocking shoal call made on shoal's own event loop: "
                           f"await {name} instead")
    return Submitted(loop, coro)
