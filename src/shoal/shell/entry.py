"""What ``shoal deploy FILE`` without ``--run`` does, and python-deployer's ``start()``
commands that need the shell: open it here, serve it, attach to one, list them.

Every bad option is one :class:`~shoal.errors.UsageError` line; the exit status is
returned (0, or 1 when an attached shell's connection broke).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from shoal.deploy.inspection import Inspector
from shoal.deploy.node import Node, get_node_path
from shoal.deploy.script import find_root, load_script
from shoal.errors import UsageError
from shoal.shell.attach import attach as attach_to
from shoal.shell.attach import live_sessions
from shoal.shell.listen import parse_listen
from shoal.shell.main import run_local, serve
from shoal.shell.unix_server import private_socket_path, session_dir

__all__ = ["attach_socket", "client_command", "list_sessions", "node_at", "open_shell",
           "serve_root"]


def open_shell(file: str | None, root: str | None = None, *, non_interactive: bool = False,
               listen: str | None = None, authorized_keys: str | None = None,
               bind_any: bool = False, attach: str | None = None, sessions: bool = False,
               panes: bool = False) -> int:
    """``shoal deploy [FILE] [--listen URL | --attach unix:PATH | --sessions]``.

    :raises UsageError: options that do not go together, a missing FILE, no terminal.
    """
    if authorized_keys is not None and not (listen or "").startswith("ssh://"):
        raise UsageError("shoal deploy: --authorized-keys goes with --listen ssh://HOST:PORT")
    if bind_any and listen is None:
        raise UsageError("shoal deploy: --bind-any goes with --listen URL")
    if sessions:
        return list_sessions()
    if attach is not None:
        if not attach.startswith("unix:") or len(attach) == len("unix:"):
            raise UsageError(f"--attach {attach!r}: expected unix:PATH")
        return attach_socket(attach[len("unix:"):])
    if file is None:
        raise UsageError("shoal deploy: give FILE, the deployment script")
    if panes and not os.environ.get("TMUX"):
        raise UsageError("shoal deploy: --panes needs tmux: run shoal inside a tmux session")
    node = find_root(load_script(file), root)()
    if listen is not None:
        return serve_root(node, listen, authorized_keys=authorized_keys, bind_any=bind_any,
                          interactive=not non_interactive)
    run_local(node, interactive=not non_interactive, panes=panes)
    return 0


def client_command(root: Node, prog: str, options: argparse.Namespace) -> int:
    """python-deployer's ``start()`` commands that need the shell (see
    :mod:`shoal.deploy.client`): ``run`` without an action, ``run --socket``, ``listen``,
    ``connect``, ``telnet-server`` and ``list-sessions``."""
    command = options.command
    if command == "list-sessions":
        return list_sessions()
    if command == "connect" or (command == "run" and options.socket):
        if command == "run" and options.action is not None:
            raise UsageError(f"{prog}: run --socket opens the shell there; to run "
                             f"{options.action!r}, type it in the shell")
        return attach_socket(options.socket)
    interactive = not options.non_interactive
    if command == "listen":
        name = options.socket or _free_socket_name()
        return serve_root(root, f"unix:{name}", interactive=interactive)
    if command == "telnet-server":
        return serve_root(root, f"telnet://127.0.0.1:{options.port}", interactive=interactive)
    run_local(node_at(root, options.path, prog), interactive=interactive)
    return 0


def node_at(root: Node, path: str | None, prog: str) -> Node:
    """The node at the dotted ``path`` of child names below ``root`` (``--path``).

    :raises UsageError: a name that is not a child there.
    """
    node = root
    for name in (path or "").split(".") if path else ():
        inspector = Inspector(node)
        if not inspector.has_childnode(name):
            children = ", ".join(Inspector(c).get_name()
                                 for c in inspector.get_childnodes(False)) or "none"
            raise UsageError(f"{prog}: --path {path!r}: {get_node_path(node)} has no child "
                             f"node {name!r} (children: {children})")
        node = inspector.get_childnode(name)
    return node


def _free_socket_name() -> str:
    """The first of ``0``, ``1``… that no shell answers on, as python-deployer chose."""
    taken = {path.name for path in asyncio.run(live_sessions())}
    return next(str(n) for n in range(1000) if f"{n}.sock" not in taken)


def serve_root(node: Node, listen: str, *, authorized_keys: str | None = None,
               bind_any: bool = False, interactive: bool = True) -> int:
    """Serve the shell on ``node``'s tree at ``listen`` until Ctrl-C."""
    where = parse_listen(listen, bind_any=bind_any)
    if where.scheme == "unix":
        assert where.path is not None
        where = where._replace(path=private_socket_path(str(where.path)))
    keys = Path(authorized_keys).expanduser() if authorized_keys else None

    async def until_stopped() -> None:
        serving = asyncio.ensure_future(serve(node, where, authorized_keys=keys,
                                              interactive=interactive))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):  # stop cleanly: the socket goes too
            loop.add_signal_handler(signum, serving.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await serving

    asyncio.run(until_stopped())
    return 0


def attach_socket(text: str) -> int:
    """Attach this terminal to the shell at the socket ``text`` (a path, or a name in
    the sessions folder)."""
    path = Path(text).expanduser() if "/" in text else session_dir() / f"{text}.sock"
    return asyncio.run(attach_to(path))


def list_sessions() -> int:
    """Print the sockets where a shell answers, one a line."""
    for path in asyncio.run(live_sessions()):
        print(path)
    sys.stdout.flush()
    return 0
