"""Tab completion: commands, nodes, isolations, actions, and an action's keywords.

What is offered depends on the words before the cursor, read as the shell would run
them (:mod:`shoal.shell.commands`): after ``cd`` only path words, after ``--inspect``
also actions, queries and properties, after an action its keyword arguments
(``name=``). Each candidate is shown as python-deployer showed it: nodes in their
group's colour, actions marked ``*``, queries ``?``, properties ``@``, built-in commands
in cyan; names starting with ``_`` only once a ``_`` is typed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from shoal.deploy.inspection import Inspector
from shoal.deploy.node import Env, Node
from shoal.errors import UsageError
from shoal.shell.commands import BUILTINS
from shoal.shell.navigation import ShellState, child_names, group_color, isolation_names, step
from shoal.shell.screen import ansi_style
from shoal.shell.words import Word, quote, split_partial

__all__ = ["ShellCompleter", "candidates"]

def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n")[0]


def _nodes(state: ShellState, node: Node, prefix: str) -> Iterator[Completion]:
    private = prefix.startswith("_")
    specials = [("..", node.parent is not None), ("/", node.parent is not None),
                ("-", state.previous is not None)]
    for word, possible in specials:
        if possible and prefix and word.startswith(prefix):
            yield Completion(word + " ", display=word, display_meta="node")
    for name, isolation in isolation_names(node):
        if name.startswith(prefix):
            yield Completion(name + " ", display=[(ansi_style(group_color(isolation)), name)],
                             display_meta="isolation")
    for name, child in child_names(node, include_private=private):
        if name.startswith(prefix):
            yield Completion(quote(name) + " ", display=[(ansi_style(group_color(child)), name)],
                             display_meta=_first_line(type(child).__doc__) or "node")


def _members(node: Node, prefix: str, kinds: Iterable[str]) -> Iterator[Completion]:
    private = prefix.startswith("_")
    inspector = Inspector(node)
    marks = {"actions": "*", "queries": "?", "properties": "@"}
    for kind in kinds:
        for member in getattr(inspector, f"get_{kind}")(include_private=private):
            if member.name.startswith(prefix):
                yield Completion(quote(member.name) + " ",
                                 display=[(ansi_style(member.node_group.color),
                                           member.name + marks[kind])],
                                 display_meta=kind[:-1] if kind != "queries" else "query")


def _keywords(node: Node, action: str, given: list[Word], prefix: str) -> Iterator[Completion]:
    func = Inspector(Env(node)).get_action(action).func
    taken = {w.keyword for w in given}
    for parameter in list(inspect.signature(func).parameters.values())[1:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        name = parameter.name
        if name not in taken and f"{name}=".startswith(prefix):
            default = ("" if parameter.default is parameter.empty
                       else f"default {parameter.default!r}")
            yield Completion(f"{name}=", display=f"{name}=", display_meta=default)


def _walk(state: ShellState, words: list[Word]) -> tuple[Node, int] | None:
    """The node the leading path words reach, and how many words that took."""
    node = state.node
    for count, word in enumerate(words):
        try:
            found = step(state, node, word.text) if word.keyword is None else None
        except UsageError:
            return None
        if found is None:
            return node, count
        node = found
    return node, len(words)


def _after_path(state: ShellState, words: list[Word], prefix: str,
                kinds: Iterable[str]) -> Iterator[Completion]:
    walked = _walk(state, words)
    if walked is None:
        return
    node, used = walked
    if used == len(words):
        yield from _nodes(state, node, prefix)
        yield from _members(node, prefix, kinds)
        return
    if "actions" in kinds and Inspector(node).has_action(words[used].text):
        yield from _keywords(node, words[used].text, words[used + 1:], prefix)


def candidates(state: ShellState, line: str) -> tuple[list[Completion], int]:
    """What can complete ``line`` (the text before the cursor), and where the word being
    completed starts (as a negative offset from the cursor)."""
    words, last = split_partial(line)
    prefix = last.text if last is not None else ""
    start = -(len(line) - last.start) if last is not None else 0
    found: list[Completion] = []
    if not words:
        for name, builtin in BUILTINS.items():
            if name.startswith(prefix) and (not builtin.subshell_only or state.parent):
                found.append(Completion(name + " ", display=[("fg:ansicyan", name)],
                                        display_meta=builtin.summary))
        if prefix and ".".startswith(prefix) and Inspector(state.node).is_callable():
            found.append(Completion(". ", display=".", display_meta="the default action"))
        found += _after_path(state, words, prefix, ["actions"])
    else:
        command = BUILTINS.get(words[0].text)
        if command is None or (command.subshell_only and state.parent is None):
            found += _after_path(state, words, prefix, ["actions"])
        elif command.operands == "path":
            found += _after_path(state, words[1:], prefix, [])
        elif command.operands == "action":
            found += _after_path(state, words[1:], prefix, ["actions"])
        elif command.operands == "inspect":
            found += _after_path(state, words[1:], prefix, ["actions", "queries", "properties"])
    return [Completion(c.text, start, c.display, c.display_meta) for c in found], start


class ShellCompleter(Completer):
    """Completes the line of the session whose state ``state()`` gives."""

    def __init__(self, state: Callable[[], ShellState]) -> None:
        self._state = state

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterator[Completion]:
        """The candidates for the word before the cursor."""
        found, _ = candidates(self._state(), document.text_before_cursor)
        yield from found

    def __repr__(self) -> str:
        return "ShellCompleter()"
