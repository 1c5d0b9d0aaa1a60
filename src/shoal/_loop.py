"""The event loop behind shoal's blocking API: one loop, in one thread, owns every connection.

Blocking calls (``Task.run``, deployment scripts' ``host.run``) hand their coroutine to
this loop and wait for the answer, so connections opened by one call are reused by the
next, whatever thread makes it.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run"]

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
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the shared loop and return its result, blocking this thread.

    Ctrl-C while waiting cancels the coroutine, then raises KeyboardInterrupt here.

    >>> async def answer() -> int:
    ...     return 42
    >>> run(answer())
    42
    """
    loop = _background_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise RuntimeError("blocking shoal call made from inside its own event loop")
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result()
    except KeyboardInterrupt:
        future.cancel()
        raise
