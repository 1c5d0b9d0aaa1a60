"""The greenlet bridge: blocking code that waits on the loop, several at once on one thread."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from shoal import _loop
from shoal.deploy._bridge import bridged, call, wait

where: contextvars.ContextVar[str] = contextvars.ContextVar("where", default="top")


def test_wait_outside_a_bridge_uses_the_shared_loop() -> None:
    async def answer() -> int:
        return 42

    assert not bridged()
    assert wait(answer()) == 42


def test_gathered_calls_overlap_on_one_thread() -> None:
    # Each function waits for the other's event: they finish only if both run at once.
    threads: set[int] = set()

    async def scenario() -> list[str]:
        first, second = asyncio.Event(), asyncio.Event()

        def side(mine: asyncio.Event, theirs: asyncio.Event, name: str) -> str:
            assert bridged()
            threads.add(threading.get_ident())
            mine.set()
            wait(theirs.wait())
            return name

        both = asyncio.gather(call(side, first, second, "a"), call(side, second, first, "b"))
        return list(await asyncio.wait_for(both, 5))

    assert _loop.run(scenario()) == ["a", "b"]
    assert len(threads) == 1


def test_exceptions_reach_the_blocking_code_and_come_back_out() -> None:
    async def fail() -> None:
        raise ValueError("remote said no")

    def caught() -> str:
        try:
            wait(fail())
        except ValueError as exc:
            return f"caught {exc}"
        return "not raised"

    def uncaught() -> None:
        wait(fail())

    assert _loop.run(call(caught)) == "caught remote said no"
    with pytest.raises(ValueError, match="remote said no"):
        _loop.run(call(uncaught))


def test_context_variables_follow_the_function_into_what_it_waits_for() -> None:
    async def read() -> str:
        return where.get()

    def inner() -> tuple[str, str]:
        before = wait(read())
        where.set("inside")
        return before, wait(read())

    async def scenario() -> tuple[tuple[str, str], str]:
        where.set("caller")
        result = await call(inner)
        return result, where.get()

    assert _loop.run(scenario()) == (("caller", "inside"), "caller")


def test_cancelling_the_call_cancels_what_it_waits_for() -> None:
    async def scenario() -> str:
        started = asyncio.Event()
        blocked: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def forever() -> None:
            started.set()
            await blocked

        def hang_on_coroutine() -> None:
            wait(forever())

        task = asyncio.ensure_future(call(hang_on_coroutine))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return "cancelled" if blocked.cancelled() else "still waiting"

    assert _loop.run(scenario()) == "cancelled"
