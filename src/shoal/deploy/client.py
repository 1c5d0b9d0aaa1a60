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
``run -s`` are the same: isolations always run concurrently in one process.

``run`` without an ACTION opens the interactive shell on this terminal; ``listen``
serves it on a private Unix socket (``--socket NAME``; the first free number by
default), ``connect --socket NAME`` and ``run --socket NAME`` attach to one,
``list-sessions`` lists them, ``telnet-server [--port PORT]`` serves it over telnet on
127.0.0.1 behind a one-time token (python-deployer listened on every interface and asked
for nothing). These live in :mod:`shoal.shell`, a layer above this one, looked up by name
when asked for (as the command line looks up its subcommands), so that a script that
only runs actions never loads the shell. The SCP shell is not there; asking for it is an
error (exit 2).
"""

from __future__ import annotations

import argparse
import importlib
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

#: the commands of the shell layer, and where they are (see the module docstring)
_SHELL_COMMANDS = ("listen", "connect", "telnet-server", "list-sessions")
_SHELL_ENTRY = ("shoal.shell.entry", "client_command")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one UsageError line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _parser(prog: str) -> _Parser:
    parser = _Parser(prog=prog, description="Run an action of this deployment tree.")
    parser.add_argument("--version", action="store_true", help="show version information")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    run = commands.add_parser("run", help="run an action, or open the shell")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("-s", "--single-threaded", action="store_true",
                      help="accepted; isolations always run concurrently in one process")
    mode.add_argument("--socket", metavar="SOCKET", help="attach to the shell served there")
    run.add_argument("--path", metavar="PATH", help="the node, as dotted child names")
    run.add_argument("--non-interactive", action="store_true",
                     help="never ask: take defaults, abort on a failed command")
    run.add_argument("--log", metavar="LOGFILE", help="write debug logging to this file")
    run.add_argument("--scp", action="store_true", help="not available in shoal")
    run.add_argument("action", nargs="?", metavar="ACTION")
    run.add_argument("parameters", nargs="*", metavar="PARAMETER")
    listen = commands.add_parser("listen", help="serve the shell on a Unix socket")
    listen.add_argument("--socket", metavar="SOCKET", help="its name or path")
    connect = commands.add_parser("connect", help="attach to a shell on a Unix socket")
    connect.add_argument("--socket", metavar="SOCKET", required=True, help="its name or path")
    telnet = commands.add_parser("telnet-server", help="serve the shell over telnet")
    telnet.add_argument("--port", type=int, default=2023, help="on 127.0.0.1 (2023)")
    for serving in (listen, telnet):
        serving.add_argument("--log", metavar="LOGFILE", help="write debug logging here")
        serving.add_argument("--non-interactive", action="store_true",
                             help="never ask: take defaults, abort on a failed command")
    commands.add_parser("list-sessions", help="list the shells served on Unix sockets")
    commands.add_parser("scp", help="not available in shoal")
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
    if options.command == "scp" or getattr(options, "scp", False):
        raise UsageError(f"{prog}: the SCP shell is not available in shoal")
    if options.command is None:
        raise UsageError(f"{prog}: give a command: run [--path PATH] ACTION [PARAMETER...] "
                         f"(see {prog} --help)")
    if getattr(options, "log", None):
        logging.basicConfig(filename=options.log, level=logging.DEBUG)
    if options.command in _SHELL_COMMANDS or options.action is None or options.socket:
        module, attribute = _SHELL_ENTRY
        command = getattr(importlib.import_module(module), attribute)
        return int(command(root, prog, options))
    env = make_env(root, interactive=not options.non_interactive and sys.stdin.isatty(),
                   extra_loggers=extra_loggers)
    path = f"{options.path}.{options.action}" if options.path else options.action
    return run_once(env, path, options.parameters, sys.stdout, sys.stderr)
