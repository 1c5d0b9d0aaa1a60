"""What ``shoal deploy FILE`` without ``--run`` does, and python-deployer's ``start()``
commands that need the shell: open it here, serve it, attach to one, list them.

Every bad option is one :class:`~shoal.errors.UsageError` line; the exit status is
returned (0, or 1 when an attached shell's connection broke).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

from shoal.deploy.node import Node
from shoal.deploy.script import find_root, load_script
from shoal.errors import UsageError
from shoal.shell.attach import attach as attach_to
from shoal.shell.attach import live_sessions
from shoal.shell.listen import parse_listen
from shoal.shell.main import run_local, serve
from shoal.shell.unix_server import private_socket_path, session_dir

__all__ = ["attach_socket", "list_sessions", "open_shell", "serve_root"]


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
        return serve_root(node, listen, authorized_keys=authorized_keys, bind_any=bind_any)
    run_local(node, interactive=not non_interactive, panes=panes)
    return 0


def serve_root(node: Node, listen: str, *, authorized_keys: str | None = None,
               bind_any: bool = False) -> int:
    """Serve the shell on ``node``'s tree at ``listen`` until Ctrl-C."""
    where = parse_listen(listen, bind_any=bind_any)
    if where.scheme == "unix":
        assert where.path is not None
        where = where._replace(path=private_socket_path(str(where.path)))
    keys = Path(authorized_keys).expanduser() if authorized_keys else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(node, where, authorized_keys=keys))
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
