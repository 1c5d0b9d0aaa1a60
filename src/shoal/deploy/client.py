"""python-deployer's entry point: ``start(Root)`` at the bottom of a deployment script.

It reads python-deployer's command line::

    script.py run [-s | --single-threaded | --socket SOCKET] [--path PATH]
                  [--non-interactive] [--log LOGFILE] [--scp] [--] [ACTION PARAMETER...]
    script.py listen [--log LOGFILE] [--non-interactive] [--socket SOCKET]
    script.py connect (--socket SOCKET) [--path PATH] [--scp] [--] [ACTION PARAMETER...]
    script.py telnet-server [--port PORT] [--log LOGFILE] [--non-interactive]
    script.py list-sessions
    script.py scp
    script.py -h | --help
    script.py --version

``run ... ACTION PARAMETER...`` runs that action of the node at ``--path`` (dotted child
names) with the parameters as strings, prints its result and exits 0, or 1 if it failed;
it needs no terminal (python-deployer needed one, and printed nothing). ``run`` and
``run -s`` are the same: isolations always run concurrently in one process. The
interactive shell, the socket server and client, the telnet server and the SCP shell are
not there yet; asking for one is an error (exit 2).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from shoal import __version__
from shoal.deploy.node.base import Node
from shoal.deploy.runner import make_env, run_once
from shoal.errors import UsageError

__all__ = ["start"]

_LATER = ("listen", "connect", "telnet-server", "list-sessions", "scp")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one UsageError line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _parser(prog: str) -> _Parser:
    parser = _Parser(prog=prog, description="Run an action of this deployment tree.")
    parser.add_argument("--version", action="store_true", help="show version information")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    run = commands.add_parser("run", help="run an action (the shell comes later)")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("-s", "--single-threaded", action="store_true",
                      help="accepted; isolations always run concurrently in one process")
    mode.add_argument("--socket", metavar="SOCKET", help="not available yet")
    run.add_argument("--path", metavar="PATH", help="the node, as dotted child names")
    run.add_argument("--non-interactive", action="store_true",
                     help="never ask: take defaults, abort on a failed command")
    run.add_argument("--log", metavar="LOGFILE", help="write debug logging to this file")
    run.add_argument("--scp", action="store_true", help="not available yet")
    run.add_argument("action", nargs="?", metavar="ACTION")
    run.add_argument("parameters", nargs="*", metavar="PARAMETER")
    for name in _LATER:
        later = commands.add_parser(name, help="not available yet")
        later.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def start(root_node: type[Node] | Node, name: str = sys.argv[0],
          extra_loggers: Sequence[object] | None = None) -> NoReturn:
    """Run the command line in ``sys.argv`` on the tree of ``root_node``, then exit.

    :param root_node: the root node class (or instance).
    :param name: the program name shown in messages.
    :param extra_loggers: loggers attached besides the default one.
    """
    prog = os.path.basename(name)
    try:
        status = _main(root_node, prog, sys.argv[1:], list(extra_loggers or ()))
    except UsageError as exc:
        print(exc, file=sys.stderr)
        status = 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        status = 130
    sys.stdout.flush()
    sys.exit(status)


def _main(root_node: type[Node] | Node, prog: str, argv: list[str],
          extra_loggers: list[object]) -> int:
    options = _parser(prog).parse_args(argv)
    root = root_node() if isinstance(root_node, type) else root_node
    if options.version:
        kind = type(root)
        print(f"shoal {__version__} (python-deployer's command line); "
              f"root node {kind.__module__}.{kind.__qualname__}")
        return 0
    if options.command in _LATER:
        raise UsageError(f"{prog}: '{options.command}' is not available yet in shoal")
    if options.command is None:
        raise UsageError(f"{prog}: give a command: run [--path PATH] ACTION [PARAMETER...] "
                         f"(see {prog} --help)")
    if options.socket or options.scp:
        raise UsageError(f"{prog}: --socket and --scp are not available yet in shoal")
    if options.action is None:
        raise UsageError(f"{prog}: the interactive shell is not available yet: "
                         "name an ACTION to run")
    if options.log:
        logging.basicConfig(filename=options.log, level=logging.DEBUG)
    env = make_env(root, interactive=not options.non_interactive and sys.stdin.isatty(),
                   extra_loggers=extra_loggers)
    path = f"{options.path}.{options.action}" if options.path else options.action
    return run_once(env, path, options.parameters, sys.stdout, sys.stderr)
