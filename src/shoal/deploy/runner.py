"""Running one action of a node tree from outside: by path, with string arguments.

What ``shoal deploy FILE --run path.to.action``, ``client.start()`` and the shell share:

* :func:`make_env` wraps a root node with a terminal, a logger, sandbox mode and the
  failure policy;
* :func:`resolve` finds the node and action a dotted path names (``Production.Web.deploy``;
  ``Web[web2]`` picks an isolation);
* :func:`check_arguments` refuses arguments that do not fit the action, before it runs;
* :func:`submit` starts the action in a greenlet on shoal's loop and returns a handle:
  ``.result()`` waits (Ctrl-C interrupts it everywhere), ``.cancel()`` interrupts it from
  any other thread — every isolation of every array stops where it waits;
* :func:`result_lines` formats a result for printing, saying which host gave what.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from shoal import _loop
from shoal.deploy._bridge import call
from shoal.deploy.exceptions import ActionException, ParallelActionException
from shoal.deploy.host_container import HostsResult
from shoal.deploy.inspection import Inspector
from shoal.deploy.loggers import DefaultLogger, LoggerInterface
from shoal.deploy.node.base import Node, get_node_path
from shoal.deploy.node.env import Env, EnvAction, FailurePolicy, ParallelActionResult
from shoal.deploy.pseudo_terminal import LabelledPty, Pty
from shoal.errors import UsageError

__all__ = ["check_arguments", "failure_lines", "make_env", "resolve", "result_lines", "run_once",
           "submit"]

_ISOLATION = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<index>[^\[\]]+)\]$")


def make_env(root: Node, *, pty: Pty | None = None, logger: LoggerInterface | None = None,
             sandbox: bool = False, interactive: bool | None = None,
             on_failure: FailurePolicy | None = None, log_to: TextIO | None = None,
             extra_loggers: Sequence[Any] = ()) -> Env:
    """An Env on ``root`` for one run from outside.

    :param pty: the terminal; by default this process's stdin, and stderr for command
        output (each line labelled with its host) and questions, so that stdout carries
        only results.
    :param logger: where commands are logged; by default a DefaultLogger on ``log_to``
        (stderr when None), so stdout carries only results.
    :param interactive: whether questions are asked; by default when stdin is a terminal.
    :param extra_loggers: loggers to attach to the default logger interface too.
    """
    if pty is None:
        if interactive is None:
            interactive = sys.stdin.isatty()
        pty = LabelledPty(stdin=sys.stdin, stdout=sys.stderr, interactive=interactive,
                          term_var=os.environ.get("TERM", ""))
    elif interactive is not None:
        pty.interactive = interactive
    if logger is None:
        logger = LoggerInterface()
        logger.attach(DefaultLogger(log_to if log_to is not None else sys.stderr))
        for extra in extra_loggers:
            logger.attach(extra)
    return Env(root, pty, logger, sandbox, on_failure=on_failure)


def resolve(env: Env, path: str) -> EnvAction:
    """The action (or property, or query) that ``path`` names below ``env``.

    Path parts are child names separated by dots; ``Name[slug]`` or ``Name[0]`` picks
    an isolation; the last part is the action (whose name may hold dots, as an alias
    can); a path that ends at a node with a default action (``__call__``) names it. The
    root's own name may lead the path.

    :raises UsageError: a part names nothing there (the message lists what there is).
    """
    parts = [p for p in path.split(".")] if path else []
    if any(not p for p in parts):
        raise UsageError(f"action path {path!r}: empty part")
    current: Env = env
    root_name = Inspector(env).get_name()
    if parts and parts[0] == root_name and not Inspector(env).has_childnode(root_name):
        parts = parts[1:]
    for position, part in enumerate(parts):
        inspector = Inspector(current)
        rest = ".".join(parts[position:])
        for kind in ("action", "property", "query"):
            if getattr(inspector, f"has_{kind}")(rest):
                found: EnvAction = getattr(inspector, f"get_{kind}")(rest)
                return found
        current = _child(current, part, path)
    default = Inspector(current).get_default_action()
    if default is not None:
        return default  # type: ignore[no-any-return]
    actions = ", ".join(a.name for a in Inspector(current).get_actions(False)) or "none"
    raise UsageError(f"action path {path!r}: {get_node_path(current)} is a node, not an "
                     f"action (its actions: {actions})")


def _child(env: Env, part: str, path: str) -> Env:
    match = _ISOLATION.match(part)
    name, index = (match["name"], match["index"]) if match else (part, None)
    inspector = Inspector(env)
    if not inspector.has_childnode(name):
        children = ", ".join(Inspector(c).get_name()
                             for c in inspector.get_childnodes(False)) or "none"
        actions = ", ".join(a.name for a in inspector.get_actions(False)) or "none"
        raise UsageError(f"action path {path!r}: {get_node_path(env)} has no child or "
                         f"action {name!r} (children: {children}; actions: {actions})")
    child: Env = inspector.get_childnode(name)
    if index is None:
        return child
    try:
        return child[int(index) if index.isdigit() else index]
    except KeyError:
        slugs = ", ".join(i[0] for i, _ in Inspector(child).iter_isolations("HOSTS_SLUG"))
        raise UsageError(f"action path {path!r}: {get_node_path(child)} has no isolation "
                         f"{index!r} (isolations: {slugs or 'none'})") from None


def check_arguments(action: EnvAction, args: tuple[Any, ...] | list[Any],
                    kwargs: dict[str, Any] | None = None) -> None:
    """Refuse arguments that ``action`` cannot take, before it runs.

    :raises UsageError: too many, too few, or unknown keyword arguments.
    """
    target = action.func
    if action.is_property or action.is_query:
        if args or kwargs:
            raise UsageError(f"{action!r} is a {'property' if action.is_property else 'query'}"
                             f": it takes no arguments")
        return
    signature = inspect.signature(target)
    try:
        signature.bind(None, *args, **(kwargs or {}))
    except TypeError as exc:
        wanted = str(signature).replace("(self, ", "(").replace("(self)", "()")
        raise UsageError(f"action {get_node_path(action.node)}.{action.name}{wanted}: "
                         f"{exc}") from None


def submit(action: EnvAction, *args: Any, **kwargs: Any) -> _loop.Submitted[Any]:
    """Start ``action(*args, **kwargs)`` in a greenlet on shoal's loop; return its handle.

    ``handle.result()`` blocks for the result (Ctrl-C cancels the action and waits until
    it has stopped); ``handle.cancel()`` does the same from another thread. Code of the
    action that blocks without going through shoal (``time.sleep``) holds up the loop.
    """
    return _loop.submit(call(action, *args, **kwargs), "submit")


def result_lines(result: Any) -> list[str]:
    """``result`` as lines to print: one per isolation or host, with its name."""
    if result is None:
        return []
    if isinstance(result, ParallelActionResult):
        return [f"{get_node_path(isolation)}: {_text(value)}"
                for isolation, value in result.items()]
    if isinstance(result, HostsResult):
        return [f"{slug}: {_text(output)}" for slug, output in result.items()]
    if isinstance(result, list | tuple):
        return [_text(item) for item in result]
    return [_text(result)]


def _text(value: Any) -> str:
    return value.rstrip("\n") if isinstance(value, str) else str(value)


def failure_lines(path: str, error: ActionException) -> list[str]:
    """An action's failure as lines to print: one per failed isolation, with its name."""
    if isinstance(error, ParallelActionException):
        return [f"{get_node_path(isolation)}: {failure}"
                for isolation, failure in error.failures.items()]
    return [f"{path}: {error}"]


def run_once(env: Env, path: str, args: list[str], out: TextIO, err: TextIO) -> int:
    """Run the action ``path`` with ``args``, print its result, return the exit status.

    The result goes to ``out`` (unless the action suppresses it), failures to ``err``:
    0 when the action completed, 1 when it failed.

    :raises UsageError: the path or the arguments do not fit.
    """
    action = resolve(env, path)
    check_arguments(action, args)
    try:
        result = submit(action, *args).result()
    except ActionException as exc:
        err.writelines(f"{line}\n" for line in failure_lines(path, exc))
        err.flush()
        return 1
    if not action.suppress_result:
        out.writelines(f"{line}\n" for line in result_lines(result))
        out.flush()
    return 0
