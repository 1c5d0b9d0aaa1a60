"""The shell's command table, and what a typed line means.

A line is either a built-in command (``cd``, ``ls``, ``--inspect``…, see
:data:`BUILTINS`) or an action to run: ``ACTION [ARGS]``, ``CHILD ... ACTION [ARGS]``
(path words first, as in ``cd``), ``.`` for the current node's default action, or a
path to a node that has one. Arguments are strings; ``key=value`` words are keyword
arguments (:mod:`shoal.shell.words`).

Pure: :func:`parse` looks at the node tree and returns what to do, running nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shoal.deploy.inspection import Inspector
from shoal.deploy.node import Node, get_node_path
from shoal.errors import UsageError
from shoal.shell.navigation import ShellState, describe, step
from shoal.shell.words import Word, split_line

__all__ = ["BUILTINS", "ActionCall", "Builtin", "BuiltinCall", "parse", "parse_action",
           "parse_inspect", "parse_path"]


@dataclass(frozen=True)
class Builtin:
    """A built-in command: its ``name``, its operands (``usage``), what it does, and what
    its operands are (``operands``: ``""`` none, ``"path"`` node words, ``"action"`` an
    action line, ``"inspect"`` node words and an attribute), for parsing and completion."""

    name: str
    usage: str
    summary: str
    operands: str = ""
    subshell_only: bool = False


_TABLE = [
    Builtin("cd", "NODE...", "go to a node: child names, .. (parent), / (root), - (back), "
            ":slug (an isolation)", "path"),
    Builtin("clear", "", "clear the screen (also Ctrl-L)"),
    Builtin("exit", "", "leave the shell, or the subshell (also Ctrl-D)"),
    Builtin("find", "[NODE...]", "every action below the node, as you would type it", "path"),
    Builtin("help", "", "this list"),
    Builtin("ls", "[NODE...]", "the child nodes and actions of the node", "path"),
    Builtin("pwd", "[NODE...]", "the path of the node", "path"),
    Builtin("return", "", "leave the subshell", subshell_only=True),
    Builtin("sandbox", "ACTION [ARGS]", "run an action in sandbox mode: commands are "
            "shown and checked (sh -n), nothing runs", "action"),
    Builtin("--connect", "[NODE...]", "log in to a host of the node, in a real terminal; "
            "exit the login to come back", "path"),
    Builtin("--inspect", "[NODE...] [ATTRIBUTE]", "the node (class, files, hosts per role, "
            "actions, children) or one attribute (a query with each step's value)",
            "inspect"),
    Builtin("--run", "[NODE...]", "ask for a command, run it on every host of the node",
            "path"),
    Builtin("--run-with-sudo", "[NODE...]", "the same, with sudo", "path"),
    Builtin("--source-code", "[NODE...]", "the source code of the node's class", "path"),
    Builtin("--version", "", "shoal's version, this host, the root node's class"),
]

#: built-in commands by name
BUILTINS: dict[str, Builtin] = {b.name: b for b in _TABLE}


@dataclass(frozen=True)
class BuiltinCall:
    """A built-in command with the words after its name."""

    builtin: Builtin
    words: list[Word]


@dataclass(frozen=True)
class ActionCall:
    """An action to run: on ``node``, ``action`` (None: the node's default action), with
    these arguments, in sandbox mode or not."""

    node: Node
    action: str | None
    args: tuple[str, ...] = ()
    kwargs: dict[str, str] = field(default_factory=dict)
    sandbox: bool = False

    @property
    def label(self) -> str:
        """``Root.Web.deploy``, for messages."""
        path = get_node_path(self.node)
        return f"{path}.{self.action}" if self.action else path


def parse(state: ShellState, line: str) -> BuiltinCall | ActionCall | None:
    """What ``line`` asks for (None for an empty line).

    :raises UsageError: bad quoting, or words that name nothing (one line, saying what
        there is).
    """
    words = split_line(line)
    if not words:
        return None
    builtin = BUILTINS.get(words[0].text)
    if builtin is not None and (not builtin.subshell_only or state.parent is not None):
        return BuiltinCall(builtin, words[1:])
    return parse_action(state, words)


def parse_path(state: ShellState, words: list[Word], command: str) -> Node:
    """The node that the path ``words`` lead to from the current node.

    :raises UsageError: a word names no node (``command`` starts the message).
    """
    node = state.node
    for word in words:
        found = step(state, node, word.text)
        if found is None:
            raise UsageError(f"{command}: {get_node_path(node)} has no child node "
                             f"{word.text!r} ({describe(node)})")
        node = found
    return node


def parse_action(state: ShellState, words: list[Word], sandbox: bool = False) -> ActionCall:
    """The action that ``words`` name (path words, then the action and its arguments).

    :raises UsageError: no such node or action, a keyword argument before the action, or
        a node with no default action.
    """
    node = state.node
    for position, word in enumerate(words):
        if word.keyword is None:
            found = step(state, node, word.text)
            if found is not None:
                node = found
                continue
            if Inspector(node).has_action(word.text):
                rest = words[position + 1:]
                args = tuple(w.text for w in rest if w.keyword is None)
                kwargs = {w.keyword: w.value for w in rest if w.keyword is not None}
                return ActionCall(node, word.text, args, kwargs, sandbox)
        raise UsageError(f"{word.text}: {get_node_path(node)} has no child node or action "
                         f"{word.text!r} ({describe(node)})")
    if not Inspector(node).is_callable():
        raise UsageError(f"{get_node_path(node)} is a node: name one of its actions "
                         f"({describe(node)})")
    return ActionCall(node, None, (), {}, sandbox)


def parse_inspect(state: ShellState, words: list[Word]) -> tuple[Node, str | None]:
    """The node (and attribute: an action, query, property or other member) that
    ``--inspect`` words name.

    :raises UsageError: a word names nothing there.
    """
    node = state.node
    for position, word in enumerate(words):
        found = step(state, node, word.text)
        if found is not None:
            node = found
            continue
        if position == len(words) - 1 and _is_attribute(node, word.text):
            return node, word.text
        raise UsageError(f"--inspect: {get_node_path(node)} has no child node or attribute "
                         f"{word.text!r} ({describe(node)})")
    return node, None


def _is_attribute(node: Node, name: str) -> bool:
    inspector = Inspector(node)
    return (inspector.has_action(name) or inspector.has_query(name)
            or inspector.has_property(name))
