"""What each built-in command does (the table is :data:`shoal.shell.commands.BUILTINS`).

Each handler takes the session (a :class:`Shell`) and the words after the command's
name. Navigation and listings only inspect the tree, on the session's loop; anything
that may run a command or ask a question (``sandbox``, ``--run``, ``--connect``, a
query's value for ``--inspect``) runs as a job, so Ctrl-C and questions work as in any
action.
"""

from __future__ import annotations

import inspect
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from shoal import __version__
from shoal.deploy.inspection import Inspector, PathType
from shoal.deploy.node import Node, get_node_path
from shoal.errors import UsageError
from shoal.shell.adhoc import hosts_of, login_node, run_node
from shoal.shell.commands import BUILTINS, ActionCall, parse_action, parse_inspect, parse_path
from shoal.shell.inspect_text import in_columns, node_report, source_lines, trace_lines
from shoal.shell.navigation import ShellState, child_names, group_color, node_label
from shoal.shell.screen import Screen, paint
from shoal.shell.words import Word

__all__ = ["HANDLERS", "Shell", "welcome"]

T = TypeVar("T")


class Shell(Protocol):
    """What the handlers use of a session (:class:`~shoal.shell.session.ShellSession`)."""

    state: ShellState
    root: Node
    screen: Screen

    @property
    def columns(self) -> int: ...

    def say(self, text: str = "") -> None: ...

    def error(self, text: str) -> None: ...

    def stop(self) -> None: ...

    def leave_subshell(self) -> None: ...

    def env_for(self, node: Node, sandbox: bool = False) -> Any: ...

    async def ask_line(self, question: str, *, hidden: bool = False) -> str | None: ...

    async def choose(self, question: str, options: list[tuple[str, T]]) -> T | None: ...

    async def run_action(self, call: ActionCall) -> None: ...

    async def run_submitted(self, label: str, action: Any, *args: Any,
                            **kwargs: Any) -> tuple[bool, Any]: ...

    async def run_job(self, label: str, work: Callable[[], T],
                      cancel: Callable[[], None] | None = None) -> T: ...


def _no_operands(name: str, words: list[Word]) -> None:
    if words:
        raise UsageError(f"{name}: takes nothing after it (got {words[0].text!r})")


def _colored_name(node: Node) -> str:
    return paint(node_label(node), group_color(node))


def welcome(shell: Shell) -> None:
    """The first lines of a session."""
    shell.say(paint(f"shoal {__version__} deployment shell on {get_node_path(shell.root)}",
                    "cyan", bold=True)
              + paint(" — Tab completes, help lists the commands, Ctrl-D leaves", dim=True))


async def cd(shell: Shell, words: list[Word]) -> None:
    """``cd NODE...``: move (python-deployer's ``cd`` alone stays put)."""
    if words:
        shell.state.cd(parse_path(shell.state, words, "cd"))


async def ls(shell: Shell, words: list[Word]) -> None:
    """``ls [NODE...]``: child nodes and actions, in columns, coloured by group."""
    node = parse_path(shell.state, words, "ls")
    children = [(_colored_name(child), len(name)) for name, child in child_names(node, False)]
    actions = [(paint(a.name, a.node_group.color), len(a.name))
               for a in Inspector(node).get_actions(False)]
    if children:
        shell.say("Child nodes:")
        for line in in_columns(children, shell.columns, margin=2):
            shell.say(line)
    if actions:
        shell.say("Actions:")
        for line in in_columns(actions, shell.columns, margin=2):
            shell.say(line)
    if not children and not actions:
        shell.say(paint(f"{get_node_path(node)} has no child nodes and no actions", dim=True))


async def pwd(shell: Shell, words: list[Word]) -> None:
    """``pwd [NODE...]``: ``/Root.Child[slug]``, each part in its group's colour."""
    node = parse_path(shell.state, words, "pwd")
    parts = [_colored_name(n) for n in Inspector(node).get_path(PathType.NODE_ONLY)]
    shell.say(paint("/", "cyan") + paint(".", "cyan").join(parts))


async def find(shell: Shell, words: list[Word]) -> None:
    """``find [NODE...]``: every action below the node, as the words to type for it."""
    node = parse_path(shell.state, words, "find")

    def walk(current: Node, prefix: list[str]) -> None:
        for action in Inspector(current).get_actions(False):
            shell.say(" ".join([*prefix, paint(action.name, action.node_group.color)]))
        for name, child in child_names(current, False):
            if child.parent is current:  # a node linked from elsewhere is listed there
                walk(child, [*prefix, paint(name, group_color(child))])

    walk(node, [])


async def exit_(shell: Shell, words: list[Word]) -> None:
    """``exit``: leave the subshell, or the shell."""
    _no_operands("exit", words)
    if shell.state.parent is not None:
        shell.leave_subshell()
    else:
        shell.stop()


async def return_(shell: Shell, words: list[Word]) -> None:
    """``return``: leave the subshell."""
    _no_operands("return", words)
    shell.leave_subshell()


async def clear(shell: Shell, words: list[Word]) -> None:
    """``clear``: an empty screen."""
    _no_operands("clear", words)
    output = shell.screen.output
    output.erase_screen()
    output.cursor_goto(0, 0)
    output.flush()


async def help_(shell: Shell, words: list[Word]) -> None:
    """``help``: the built-in commands, and how to run actions."""
    _no_operands("help", words)
    width = max(len(f"{b.name} {b.usage}") for b in BUILTINS.values())
    for builtin in BUILTINS.values():
        if builtin.subshell_only and shell.state.parent is None:
            continue
        head = f"{builtin.name} {builtin.usage}".strip()
        shell.say(f"  {paint(f'{head:<{width}}', 'cyan')}  {builtin.summary}")
    action = "ACTION [ARGS]"
    shell.say(f"  {paint(f'{action:<{width}}', 'cyan')}  run an action here; "
              "CHILD ... ACTION [ARGS] below; . the default action")
    shell.say(paint("  Arguments are quoted as in sh; key=value is a keyword argument.",
                    dim=True))


async def version(shell: Shell, words: list[Word]) -> None:
    """``--version``: shoal's version, this host, the root node's class."""
    _no_operands("--version", words)
    kind = type(shell.root)
    for label, value in [("shoal version", __version__), ("host", socket.gethostname()),
                         ("root node", f"{kind.__module__}.{kind.__qualname__}")]:
        shell.say(f"  {paint(f'{label}:'.ljust(15), 'cyan')}{paint(value, 'red')}")


async def sandbox(shell: Shell, words: list[Word]) -> None:
    """``sandbox ACTION [ARGS]``: run it with every command only checked."""
    if not words:
        raise UsageError("sandbox: name the action to run in sandbox mode")
    await shell.run_action(parse_action(shell.state, words, sandbox=True))


async def inspect_(shell: Shell, words: list[Word]) -> None:
    """``--inspect [NODE...] [ATTRIBUTE]``: the node, or one of its attributes."""
    node, attribute = parse_inspect(shell.state, words)
    inspector = Inspector(node)
    if attribute is None:
        lines = node_report(node, shell.columns)
    elif inspector.has_query(attribute):
        query = inspector.get_query(attribute).query

        def trace() -> list[str]:
            env = shell.env_for(node, sandbox=True)
            isolation = env.console.select_node_isolation(env)
            return trace_lines(node, attribute, query, Inspector(isolation).trace_query(
                attribute))

        lines = await shell.run_job(f"--inspect {attribute}", trace)
    elif inspector.has_property(attribute):
        def value() -> list[str]:
            env = shell.env_for(node, sandbox=True)
            isolation = env.console.select_node_isolation(env)
            try:
                shown = repr(getattr(isolation, attribute))
            except Exception as exc:
                shown = paint(f"cannot be evaluated: {type(exc).__name__}: {exc}", "red")
            return [f"  {paint('Property:', 'cyan')} {attribute}",
                    f"  {paint('Node:', 'cyan')}     {get_node_path(node)}",
                    f"  {paint('Value:', 'cyan')}    {shown}"]

        lines = await shell.run_job(f"--inspect {attribute}", value)
    else:
        func = Inspector(shell.env_for(node)).get_action(attribute).func
        where = inspect.getsourcefile(func) or "?"
        line = inspect.getsourcelines(func)[1] if where != "?" else 0
        doc = (inspect.getdoc(func) or "").split("\n")
        signature = str(inspect.signature(func)).replace("(self, ", "(").replace(
            "(self)", "()")
        lines = [f"  {paint('Action:', 'cyan')}    {attribute}{signature}",
                 f"  {paint('Node:', 'cyan')}      {get_node_path(node)}",
                 f"  {paint('Defined:', 'cyan')}   {where}, line {line}",
                 *([f"  {paint('Docstring:', 'cyan')} {doc[0]}"] if doc[0] else [])]
    for text in lines:
        shell.say(text)


async def source_code(shell: Shell, words: list[Word]) -> None:
    """``--source-code [NODE...]``: the source of the node's class (one of its bases,
    chosen, when it has several of its own)."""
    node = parse_path(shell.state, words, "--source-code")
    named: dict[str, type] = {}  # decorators subclass a node under its own name: once each
    for k in type(node).__mro__:
        if issubclass(k, Node) and not k.__module__.startswith("shoal."):
            named.setdefault(f"{k.__module__}.{k.__qualname__}", k)
    classes = list(named.values())
    if not classes:
        raise UsageError(f"--source-code: {get_node_path(node)} is one of shoal's own nodes")
    chosen = await shell.choose("Which class?", list(named.items()))
    if chosen is not None:
        for line in source_lines(chosen):
            shell.say(line)


def _hosts_or_fail(node: Node, command: str) -> list[Any]:
    hosts = hosts_of(node)
    if not hosts:
        raise UsageError(f"{command}: {get_node_path(node)} has no hosts")
    return hosts


async def run_command(shell: Shell, words: list[Word], use_sudo: bool = False) -> None:
    """``--run [NODE...]``: ask for a command, run it on every host of the node."""
    name = "--run-with-sudo" if use_sudo else "--run"
    node = parse_path(shell.state, words, name)
    hosts = _hosts_or_fail(node, name)
    shell.say(f"The command will run on {len(hosts)} host{'s' if len(hosts) > 1 else ''}:")
    for host in hosts:
        shell.say(f"   - {host.slug} ({getattr(host, 'address', '')})")
    await shell.screen.drain()
    command = await shell.ask_line(paint("[SUDO] Enter command: " if use_sudo
                                         else "Enter command: ", "cyan"))
    if not command or not command.strip():
        return
    runner = shell.env_for(run_node(hosts, command, use_sudo))
    await shell.run_submitted(f"{name} {command}", Inspector(runner).get_default_action())


async def run_with_sudo(shell: Shell, words: list[Word]) -> None:
    """``--run-with-sudo [NODE...]``: as ``--run``, with sudo."""
    await run_command(shell, words, use_sudo=True)


async def connect(shell: Shell, words: list[Word]) -> None:
    """``--connect [NODE...]``: a login shell on a host of the node, in a real terminal."""
    node = parse_path(shell.state, words, "--connect")
    hosts = _hosts_or_fail(node, "--connect")
    login = shell.env_for(login_node(hosts))
    await shell.run_submitted(f"--connect {get_node_path(node)}",
                              Inspector(login).get_default_action())


#: the handler of each built-in command
HANDLERS: dict[str, Callable[[Shell, list[Word]], Awaitable[None]]] = {
    "cd": cd, "clear": clear, "exit": exit_, "find": find, "help": help_, "ls": ls,
    "pwd": pwd, "return": return_, "sandbox": sandbox, "--connect": connect,
    "--inspect": inspect_, "--run": run_command, "--run-with-sudo": run_with_sudo,
    "--source-code": source_code, "--version": version,
}
