"""One connection per host class, opened once on the event loop and reused by every call.

python-deployer shared one paramiko client per host class among all threads
(``SSHBackend``); here the :class:`Link` of a host class lives on the event loop that
opened it (the shared loop of :mod:`shoal._loop`, where blocking calls and ParallelNode
isolations run alike). Isolations that need the same host at the same moment wait for
one connection attempt, not one each. A link whose connection failed or was lost is
forgotten, so that the next call opens a new one.

Imports nothing from shoal but :mod:`shoal.hosts`.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from shoal.hosts import Connection, ConnectOptions, Transport

__all__ = ["Link", "close_all", "forget", "link", "transport"]


@dataclass(eq=False)
class Link:
    """An open connection to one host, with what was learnt about the host through it."""

    connection: Connection
    #: answers that do not change while the connection lasts (start path, home)
    facts: dict[str, str] = field(default_factory=dict)


_links: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                  dict[object, asyncio.Future[Link]]] = weakref.WeakKeyDictionary()
_transports: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                       dict[object, Transport]] = weakref.WeakKeyDictionary()


def _loop_links() -> dict[object, asyncio.Future[Link]]:
    return _links.setdefault(asyncio.get_running_loop(), {})


async def link(key: object, opener: Callable[[], Awaitable[Connection]]) -> Link:
    """The link for ``key`` (a host class), opened with ``opener`` if there is none yet.

    Callers that ask at once share one attempt; a failed attempt is not kept, and raises
    what ``opener`` raised for each of them.
    """
    links = _loop_links()
    opening = links.get(key)
    if opening is None or (opening.done() and (opening.cancelled()
                                               or opening.exception() is not None)):
        async def open_link() -> Link:
            return Link(await opener())

        opening = asyncio.ensure_future(open_link())
        links[key] = opening
    return await asyncio.shield(opening)


def forget(key: object, lost: Link) -> None:
    """Drop ``lost`` (its connection failed): the next :func:`link` for ``key`` reconnects."""
    links = _loop_links()
    opening = links.get(key)
    if (opening is not None and opening.done() and not opening.cancelled()
            and opening.exception() is None and opening.result() is lost):
        del links[key]


def transport(options: ConnectOptions, make: Callable[[ConnectOptions], Transport]) -> Transport:
    """The transport built by ``make`` for ``options``, one per loop for equal options.

    Host classes with the same settings share its parsed ssh config, keys and known hosts.
    """
    made = _transports.setdefault(asyncio.get_running_loop(), {})
    if options not in made:
        made[options] = make(options)
    return made[options]


async def close_all() -> None:
    """Close every connection and transport opened on the running loop."""
    loop = asyncio.get_running_loop()
    openings = list(_links.pop(loop, {}).values())
    links = [o.result() for o in openings
             if o.done() and not o.cancelled() and o.exception() is None]
    await asyncio.gather(*(lk.connection.close() for lk in links), return_exceptions=True)
    transports = list(_transports.pop(loop, {}).values())
    await asyncio.gather(*(t.close() for t in transports), return_exceptions=True)
