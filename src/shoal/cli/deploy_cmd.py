"""``shoal deploy FILE --run path.to.action [ARGS...]``: run one action of a deployment script.

The script is imported without running its ``__main__`` block; its root node is
``--root NAME``, else the module attribute ``root``, else the only node class that no
other node of the script contains. The result goes to stdout (one line per host for
results of several hosts), the log of commands to stderr; the exit status is 0 when the
action completed, 1 when it failed, 2 for bad input. ``--sandbox`` checks every command
(``sh -n``) without running it. The interactive shell (no ``--run``) comes later.
"""

from __future__ import annotations

import sys

import click

from shoal.deploy.node.env import FAILURE_POLICIES
from shoal.deploy.runner import make_env, run_once
from shoal.deploy.script import find_root, load_script
from shoal.errors import UsageError


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
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
def deploy(file: str, args: tuple[str, ...], action: str | None, root: str | None,
           sandbox: bool, non_interactive: bool, on_failure: str | None) -> None:
    """Run an action of the deployment script FILE, with ARGS as its arguments."""
    if action is None:
        raise UsageError(f"shoal deploy {file}: the interactive shell is not available yet: "
                         "give --run PATH.TO.ACTION")
    module = load_script(file)
    node = find_root(module, root)()
    interactive = not non_interactive and sys.stdin.isatty()
    env = make_env(node, sandbox=sandbox, interactive=interactive,
                   on_failure=on_failure)  # type: ignore[arg-type]
    click.get_current_context().exit(run_once(env, action, list(args), sys.stdout, sys.stderr))
