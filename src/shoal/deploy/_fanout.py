"""Run several blocking functions at once on shoal's loop, one greenlet each.

Used by ``HostsContainer.run`` (one command on many hosts) and by ParallelNode arrays
(one action per isolation). Each function's failure is kept as its outcome, so one host
failing never stops the others; cancelling (Ctrl-C, or cancelling the task that runs the
whole action) reaches every function at the point where it waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from shoal.deploy._bridge import call, wait

__all__ = ["Outcome", "run_all"]

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What one function gave: its ``value``, or the ``error`` it raised."""

    value: T | None = None
    error: Exception | None = None


def _capture(function: Callable[[], T]) -> Outcome[T]:
    try:
        return Outcome(value=function())
    except Exception as exc:  # a failure of this function only; BaseException goes on
        return Outcome(error=exc)


def run_all(functions: Sequence[Callable[[], T]]) -> list[Outcome[T]]:
    """Run ``functions`` concurrently and return their outcomes, in the same order.

    A single function runs directly, without a greenlet of its own.
    """
    if len(functions) <= 1:
        return [_capture(f) for f in functions]

    async def gather() -> list[Outcome[T]]:
        return list(await asyncio.gather(*(call(_capture, f) for f in functions)))

    return wait(gather(), "run_all")
