"""``print()`` in an action goes to the screen of the session that runs it.

python-deployer replaced ``sys.stdout`` with a proxy that found the current thread's
terminal. Here the proxy finds the session in a context variable, set where a job hands
its action to shoal's loop: the action's greenlets start in a copy of that context, so
every isolation of it prints to its session, and code outside any job prints where it
always did.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Iterator
from typing import Any, Protocol, TextIO

__all__ = ["printing_to", "route_prints"]


class _Writer(Protocol):
    def write(self, text: str) -> None: ...


_target: contextvars.ContextVar[_Writer | None] = contextvars.ContextVar(
    "shoal_shell_prints", default=None)


class _RoutedStdout:
    """``sys.stdout``: to the session of the running action, else to the one before."""

    def __init__(self, original: TextIO) -> None:
        self._original = original

    def write(self, text: str) -> int:
        target = _target.get()
        if target is None:
            return self._original.write(text)
        target.write(text)
        return len(text)

    def flush(self) -> None:
        if _target.get() is None:
            self._original.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding… of the real one
        return getattr(self._original, name)


def route_prints() -> None:
    """Put the proxy in ``sys.stdout`` (once)."""
    if not isinstance(sys.stdout, _RoutedStdout):
        sys.stdout = _RoutedStdout(sys.stdout)


@contextlib.contextmanager
def printing_to(target: _Writer) -> Iterator[None]:
    """Within the block (and in what it starts), ``print()`` writes to ``target``."""
    token = _target.set(target)
    try:
        yield
    finally:
        _target.reset(token)
