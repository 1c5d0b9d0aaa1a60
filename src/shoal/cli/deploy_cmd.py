"""``shoal deploy FILE --run path.to.action [ARGS...]``: run one action of a deployment script.

The script is imported without running its ``__main__`` block; its root node is
``--root NAME``, else the module attribute ``root``, else the only node class that no
other node of the script contains. The result goes to stdout (one line per host for
results of several hosts), the log of commands to stderr; the exit status is 0 when the
action completed, 1 when it failed, 2 for bad input. ``--sandbox`` checks every command
(``sh -n``) without running it.

Without ``--run`` it opens the interactive shell on the root node (:mod:`shoal.shell`),
or serves it with ``--listen ssh://HOST:PORT --authorized-keys FILE``,
``--listen telnet://HOST:PORT`` (a one-time token; loopback unless ``--bind-any``) or
``--listen unix:PATH``; ``--attach unix:PATH`` joins a shell served on a Unix socket and
``--sessions`` lists those that answer (neither needs FILE).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from shoal.deploy.node.env import FAILURE_POLICIES
from shoal.deploy.runner import make_env, run_once
from shoal.deploy.script import find_root, load_script
from shoal.errors import UsageError
from shoal.shell.entry import open_shell


@click.command()
@click.argument("file", type=click.Path(dir_okay=False), required=False)
@click.argument("args", nargs=-1)
@click.option("--run", "action", metavar="PATH.TO.ACTION",
              help="Run this action (dotted path from the root node) and exit.")
@click.option("--root", metavar="NAME", help="The script's attribute that is the root node.")
@click.option("--sandbox", is_flag=True, help="Check every command without running it.")
@click.option("--non-interactive", is_flag=True,
              help="Never ask: take defaults, apply --on-failure.")
@click.option("--on-failure", type=click.Choice(FAILURE_POLICIES), default=None,
              help="A failed command: ask (on a terminal), abort the action, or skip it. "
                   "[default: ask on a terminal, else abort]")
@click.option("--listen", metavar="URL",
              help="Serve the shell: ssh://HOST:PORT, telnet://HOST:PORT or unix:PATH.")
@click.option("--authorized-keys", type=click.Path(dir_okay=False), metavar="FILE",
              help="The clients' public keys, for --listen ssh://.")
@click.option("--bind-any", is_flag=True, help="Allow --listen on an address that is not "
              "loopback (telnet is then readable on the network).")
@click.option("--attach", metavar="unix:PATH", help="Join a shell served on a Unix socket.")
@click.option("--sessions", is_flag=True, help="List the shells served on Unix sockets.")
@click.option("--panes", is_flag=True,
              help="Inside tmux: a pane per host while an array action runs.")
def deploy(file: str | None, args: tuple[str, ...], action: str | None, root: str | None,
           sandbox: bool, non_interactive: bool, on_failure: str | None,
           **shell: Any) -> None:
    """Open the shell on the deployment script FILE, or run one of its actions (--run)
    with ARGS as its arguments."""
    if action is None:
        if args:
            raise UsageError(f"shoal deploy: {args[0]!r}: arguments need --run PATH.TO.ACTION")
        click.get_current_context().exit(open_shell(
            file, root, non_interactive=non_interactive, **shell))
    if file is None:
        raise UsageError("shoal deploy: give FILE, the deployment script")
    module = load_script(file)
    node = find_root(module, root)()
    interactive = not non_interactive and sys.stdin.isatty()
    env = make_env(node, sandbox=sandbox, interactive=interactive,
                   on_failure=on_failure)  # type: ignore[arg-type]
    click.get_current_context().exit(run_once(env, action, list(args), sys.stdout, sys.stderr))
