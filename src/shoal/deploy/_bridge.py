"""Blocking deployment code on shoal's one event loop, without a thread per host.

Deployment actions are plain blocking Python (``self.hosts.run("uptime")``), as in
python-deployer. Outside an array, a blocking call hands its coroutine to the shared loop
(:func:`shoal._loop.run`) and waits. Inside a ``ParallelNode`` array, each isolation's
action runs in a greenlet on the loop's own thread (:func:`call`): a blocking call there
switches back to the loop, which awaits the coroutine and resumes the greenlet with its
result, so every isolation waits on the loop at once. This is the bridge SQLAlchemy's
asyncio extension uses, for the same reason.

Code that blocks without going through :func:`wait` (``time.sleep``, a blocking socket)
holds up the whole loop while it runs; deployment code waits through shoal's API.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import greenlet

from shoal import _loop

__all__ = ["bridged", "call", "wait"]

T = TypeVar("T")


class _Bridged(greenlet.greenlet):
    """A greenlet that runs blocking code for :func:`call`; its parent awaits for it."""


def bridged() -> bool:
    """Whether the caller runs inside :func:`call`, on the loop's thread."""
    return isinstance(greenlet.getcurrent(), _Bridged)


def wait(coro: Coroutine[Any, Any, T], name: str = "this call") -> T:
    """Block until ``coro`` is done and return its result (or raise its exception).

    Inside :func:`call`, the greenlet yields to the loop; elsewhere the coroutine goes to
    the shared loop through :func:`shoal._loop.run`.
    """
    current = greenlet.getcurrent()
    if isinstance(current, _Bridged):
        assert current.parent is not None  # call() made it, as a child of the loop's greenlet
        result: T = current.parent.switch(coro)
        return result
    return _loop.run(coro, name)


async def call(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run the blocking ``function`` on this loop, awaiting whatever it :func:`wait`\\ s for.

    Several ``call``\\ s gathered run concurrently on one thread. The function starts in a
    copy of the caller's context variables; each coroutine it waits for runs in the
    function's own context, so a ``cd()`` it entered holds there too.
    """
    glet = _Bridged(function)
    glet.gr_context = contextvars.copy_context()
    loop = asyncio.get_running_loop()
    step = glet.switch(*args, **kwargs)
    while not glet.dead:
        task = glet.gr_context.copy().run(loop.create_task, step)
        try:
            value = await task
        except BaseException as exc:  # every outcome goes back into the greenlet
            step = glet.throw(exc)  # cancelling us cancelled the awaited task as well
        else:
            step = glet.switch(value)
    return step  # type: ignore[no-any-return]
