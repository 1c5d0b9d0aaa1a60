"""``HostContext``: the ``cd``, ``prefix`` and ``env`` a host's commands run in.

As python-deployer's, a context is a stack that ``with host.host_context.cd('/srv'):``
pushes on and pops off, nesting freely. Unlike python-deployer's (a list on the host
object, "not thread-safe" by its own comment), the stack lives in a context variable:
each ParallelNode isolation, greenlet or task sees the pushes made in its own flow of
control only, and blocking calls carry it to the event loop (:mod:`shoal._loop`,
:mod:`shoal.deploy._bridge`). All the :class:`~shoal.deploy.host.base.Host` objects of one
host class share one context, so a ``cd()`` entered on ``self.hosts`` holds for the same
hosts in a child node's action; :meth:`HostContext.copy` makes an independent one.

Pure: no I/O. Imports nothing from shoal.
"""

from __future__ import annotations

import contextlib
import contextvars
import posixpath
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

__all__ = ["ContextState", "HostContext"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class ContextState:
    """One moment of a context: the prefixes, the ``cd`` paths and the variables."""

    prefixes: tuple[str, ...] = ()
    #: ``(path, expand)`` for each ``cd``, outermost first
    paths: tuple[tuple[str, bool], ...] = ()
    #: ``(name, shell word)`` for each ``env``: the value quoted unless ``escape=False``
    env: tuple[tuple[str, str], ...] = ()


_EMPTY = ContextState()
_STATES: contextvars.ContextVar[Mapping[object, ContextState]] = contextvars.ContextVar(
    "shoal_host_contexts", default=MappingProxyType({}))


class HostContext:
    """A push/pop stack of the context in which a host's commands run.

    :param key: what the stack is shared by (a host class); by default this object alone.

    >>> ctx = HostContext()
    >>> with ctx.cd("/srv"), ctx.prefix("source env/bin/activate"), ctx.env("A", "x y"):
    ...     ctx.state
    ContextState(prefixes=('source env/bin/activate',), paths=(('/srv', False),), \
env=(('A', "'x y'"),))
    >>> ctx.state
    ContextState(prefixes=(), paths=(), env=())
    """

    def __init__(self, key: object = None, base: ContextState = _EMPTY) -> None:
        self._key = key if key is not None else object()
        self._base = base

    @property
    def state(self) -> ContextState:
        """The context as it stands here and now."""
        return _STATES.get().get(self._key, self._base)

    def copy(self) -> HostContext:
        """An independent context that starts as this one stands now."""
        return HostContext(base=self.state)

    def __repr__(self) -> str:
        state = self.state
        return (f"HostContext(prefixes={list(state.prefixes)!r}, path={list(state.paths)!r}, "
                f"env={list(state.env)!r})")

    @contextlib.contextmanager
    def _pushed(self, state: ContextState) -> Iterator[None]:
        token = _STATES.set(MappingProxyType({**_STATES.get(), self._key: state}))
        try:
            yield
        finally:
            _STATES.reset(token)

    def prefix(self, command: str) -> contextlib.AbstractContextManager[None]:
        """Run every command after ``command`` plus ``&&`` (in the ``with`` block)::

            with host.host_context.prefix('. env/bin/activate'):
                host.run('./manage.py migrate')
        """
        state = self.state
        return self._pushed(replace(state, prefixes=(*state.prefixes, command)))

    def cd(self, path: str, expand: bool = False) -> contextlib.AbstractContextManager[None]:
        """Run commands in ``path`` (nesting: relative paths join the ones outside).

        :param expand: expand a leading ``~`` to the home directory; without it, ``~`` is
            an ordinary name (as in python-deployer).
        """
        state = self.state
        return self._pushed(replace(state, paths=(*state.paths, (path, expand))))

    def env(self, variable: str, value: str | None,
            escape: bool = True) -> contextlib.AbstractContextManager[None]:
        """Export ``variable`` with ``value`` (None: empty) for commands in the block.

        :param escape: quote the value (``shlex.quote``); ``False`` inserts it as it is,
            so that it may use other variables (``$PATH:/opt/bin``).
        :raises ValueError: ``variable`` is not a shell variable name.
        """
        if not _NAME.fullmatch(variable):
            raise ValueError(f'env(): "{variable}" is not a shell variable name')
        word = shlex.quote(value or "") if escape else (value or "")
        state = self.state
        return self._pushed(replace(state, env=(*state.env, (variable, word))))

    def chdir(self, path: str) -> None:
        """Move to ``path`` for the rest of this flow of control (an SCP shell's ``cd``).

        Not for use inside a ``cd()`` block of the same context.
        """
        state = self.state
        joined = posixpath.join(*(p for p, _ in state.paths), path)
        _STATES.set(MappingProxyType({**_STATES.get(),
                                      self._key: replace(state, paths=((joined, False),))}))
