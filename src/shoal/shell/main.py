"""Starting the shell: on this terminal, or served to remote clients.

:func:`run_local` runs one session on this process's terminal, with the history file.
:func:`serve` serves sessions on a ``--listen`` address until interrupted: SSH (keys in
an ``authorized_keys`` file), telnet (a one-time token, printed as ``telnet token:
TOKEN``) or a private Unix socket (for ``--attach``). Every client gets a session of
its own on the one node tree; a session that fails ends alone, with a line in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from shoal.deploy.node import Node
from shoal.errors import UsageError
from shoal.shell.history import open_history
from shoal.shell.listen import Listen
from shoal.shell.session import SessionOptions, ShellSession
from shoal.shell.ssh_server import serve_ssh
from shoal.shell.telnet_server import TokenTelnetServer, new_token
from shoal.shell.unix_server import serve_unix

__all__ = ["run_local", "serve"]

log = logging.getLogger(__name__)


def run_local(root: Node, *, interactive: bool = True, panes: bool = False,
              history: Path | None = None) -> None:
    """Run the shell on this terminal until ``exit`` or Ctrl-D.

    :raises UsageError: stdin or stdout is not a terminal.
    """
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("the deployment shell needs a terminal; to run an action without "
                         "one, name it (shoal deploy FILE --run PATH.TO.ACTION, or: "
                         "SCRIPT run ACTION)")
    options = SessionOptions(interactive=interactive, history=open_history(history),
                             panes=panes)

    async def main() -> None:
        session = ShellSession(root, options)
        loop = asyncio.get_running_loop()
        # Between two prompts the terminal is not in raw mode: Ctrl-C is then a signal.
        loop.add_signal_handler(signal.SIGINT, session.interrupt)
        try:
            await session.run()
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    asyncio.run(main())


def _guarded(root: Node, name: Callable[[Any], str],
             interactive: bool = True) -> Callable[[Any], Any]:
    """The ``interact`` coroutine a server calls per client: a session of its own."""
    async def interact(client: Any) -> None:
        who = name(client)
        log.info("[client=%s] session starts", who)
        try:
            await ShellSession(root, SessionOptions(interactive=interactive,
                                                    name=who)).run()
        except Exception:  # this client's session only; the server and the others go on
            log.exception("[client=%s] session failed", who)
        finally:
            log.info("[client=%s] session ends", who)

    return interact


def _numbered(kind: str) -> Callable[[Any], str]:
    """Names for a server's clients, in the log: ``ssh #1``, ``ssh #2``…"""
    counter = itertools.count(1)
    return lambda _client: f"{kind} #{next(counter)}"


async def serve(root: Node, listen: Listen, *, authorized_keys: Path | None = None,
                interactive: bool = True, out: TextIO | None = None,
                ready: asyncio.Event | None = None) -> None:
    """Serve the shell on ``listen`` until cancelled.

    :param authorized_keys: the clients' keys (required for ``ssh://``).
    :param interactive: whether sessions ask questions (False: defaults are taken).
    :param out: where to say where it listens (and the telnet token); stdout by default.
    :param ready: set once the server listens.
    :raises UsageError: ``ssh://`` without ``authorized_keys``.
    """
    out = out or sys.stdout
    stop = asyncio.Event()
    if listen.scheme == "ssh":
        if authorized_keys is None:
            raise UsageError(f"--listen {listen}: an SSH listener needs --authorized-keys FILE")
        acceptor = await serve_ssh(_guarded(root, _numbered("ssh"), interactive), listen,
                                   authorized_keys)
        port = acceptor.sockets[0].getsockname()[1]
        print(f"serving the deployment shell on ssh://{listen.host}:{port}", file=out,
              flush=True)
        closer: Callable[[], Any] = acceptor.close
    elif listen.scheme == "telnet":
        token = new_token()
        server = TokenTelnetServer(
            _guarded(root, lambda c: f"telnet {c.addr[0]}:{c.addr[1]}", interactive),
            listen, token)
        task = asyncio.ensure_future(server.serve())
        await server.listening.wait()
        assert server.address is not None
        if not listen.loopback:
            print(f"warning: telnet is not encrypted, and {listen.host} serves the network",
                  file=sys.stderr, flush=True)
        print(f"serving the deployment shell on telnet://{listen.host}:{server.address[1]}",
              file=out)
        print(f"telnet token: {token}", file=out, flush=True)
        closer = task.cancel
    else:
        assert listen.path is not None
        unix = await serve_unix(_guarded(root, _numbered("unix"), interactive), listen.path)
        print(f"serving the deployment shell on unix:{listen.path} "
              f"(shoal deploy --attach unix:{listen.path})", file=out, flush=True)
        closer = unix.close
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        closer()
        if listen.scheme == "unix" and listen.path is not None:
            with contextlib.suppress(FileNotFoundError):
                listen.path.unlink()
