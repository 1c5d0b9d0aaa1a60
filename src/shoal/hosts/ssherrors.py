"""asyncssh's and the OS's exceptions turned into shoal's, in one place.

:func:`ssh_errors` wraps every asyncssh call of the SSH transport, so no asyncssh or
``OSError`` type reaches the layers above: they see :class:`~shoal.errors.HostError`
subclasses whose one-line reason names what failed, chained with ``from`` to the
original for debugging.

This module imports asyncssh: only :mod:`shoal.hosts.ssh` uses it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import asyncssh

from shoal.errors import (
    AuthError,
    CommandTimeout,
    ConnectError,
    HostError,
    HostKeyError,
)
from shoal.hosts.copying import os_reason

__all__ = ["reason", "ssh_errors"]


@contextmanager
def ssh_errors(node: str, doing: str = "", *, connect_timeout: float | None = None,
               command_timeout: float | None = None,
               refused_key: Callable[[], HostKeyError | None] | None = None,
               ) -> Iterator[None]:
    """Raise shoal's error for ``node`` in place of asyncssh's, the OS's or a timeout.

    Most specific first: a :class:`~shoal.errors.HostError` passes unchanged; a host key
    asyncssh could not verify becomes ``refused_key()`` (the policy's error, naming the
    fingerprint and the remedy) or a plain :class:`~shoal.errors.HostKeyError`; refused
    credentials an :class:`~shoal.errors.AuthError`; a timeout a
    :class:`~shoal.errors.CommandTimeout` when ``command_timeout`` is given, else a
    :class:`~shoal.errors.ConnectError` ("connect timed out after 10s" with
    ``connect_timeout``); any other asyncssh error, ``OSError`` or ``ValueError`` (how
    asyncssh reports a bad config value or key) a ``ConnectError``. Each is chained with
    ``from``; cancellation passes through.

    >>> try:
    ...     with ssh_errors("node7", "copy to /x failed"):
    ...         raise FileNotFoundError(2, "No such file or directory")
    ... except ConnectError as exc:
    ...     print(exc)
    node7: copy to /x failed: no such file or directory

    :param doing: what was under way, put before the reason ("cannot start SFTP").
    """
    prefix = f"{doing}: " if doing else ""
    try:
        yield
    except HostError:
        raise
    except asyncssh.HostKeyNotVerifiable as exc:
        error = refused_key() if refused_key is not None else None
        raise error or HostKeyError(node, None, f"{prefix}{reason(exc)}") from exc
    except asyncssh.PermissionDenied as exc:
        raise AuthError(node, f"{prefix}authentication failed: {reason(exc)}") from exc
    except (asyncio.TimeoutError, TimeoutError) as exc:
        if command_timeout is not None:
            raise CommandTimeout(node, command_timeout) from exc
        what = (f"connect timed out after {connect_timeout:g}s" if connect_timeout is not None
                else "timed out")
        raise ConnectError(node, f"{prefix}{what}") from exc
    except (asyncssh.Error, OSError, ValueError) as exc:
        raise ConnectError(node, f"{prefix}{reason(exc)}") from exc


def reason(exc: BaseException) -> str:
    """What went wrong, in lower-case words: ``connection refused``, not ``[Errno 111]…``.

    >>> reason(ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 1)"))
    'connection refused'
    """
    if isinstance(exc, asyncssh.Error):
        return exc.reason or type(exc).__name__
    if isinstance(exc, OSError):
        text = os_reason(exc)
        return f"{text}: {exc.filename}" if exc.filename else text
    return str(exc) or type(exc).__name__
