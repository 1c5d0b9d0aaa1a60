"""The text of ``--inspect`` and ``--source-code``, and items laid out in columns.

As python-deployer's shell showed them: for a node its name and class, the classes it
derives from (shoal's own left out) and their files, its hosts per role, its
docstring, its actions and its child nodes by group; for a query its expression,
where it was written and the value of every step.

Pure: text in, lines out (reading the script's source for ``--source-code``).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from itertools import groupby
from typing import Any

from shoal.deploy.inspection import Inspector
from shoal.deploy.node import Node, get_node_path
from shoal.shell.navigation import child_names, group_color
from shoal.shell.screen import paint

__all__ = ["in_columns", "node_report", "source_lines", "trace_lines"]

_LABEL = 14


def in_columns(items: Iterable[tuple[str, int]], width: int, margin: int = 0) -> list[str]:
    """``(text, visible length)`` items in as many columns as fit in ``width``.

    >>> in_columns([("a", 1), ("bb", 2), ("c", 1)], 8)
    ['a  bb', 'c']
    """
    cells = list(items)
    if not cells:
        return []
    cell = max(length for _, length in cells) + 1
    per_line = max((width - margin) // cell, 1)
    lines = []
    for start in range(0, len(cells), per_line):
        row = cells[start:start + per_line]
        text = "".join(t + " " * (cell - n) for t, n in row[:-1]) + row[-1][0]
        lines.append(" " * margin + text)
    return lines


def _label(text: str) -> str:
    return paint(f"  {text:<{_LABEL - 2}}", "cyan")


def _own_classes(node: Node) -> list[type]:
    return [k for k in type(node).__mro__
            if k is not object and not k.__module__.startswith("shoal.")]


def node_report(node: Node, width: int) -> list[str]:
    """What ``--inspect`` shows about ``node``."""
    inspector = Inspector(node)
    lines = [_label("Node:") + paint(get_node_path(node), "yellow")
             + paint(f"  ({type(node).__name__})", dim=True)]
    classes = _own_classes(node)
    for title, texts in [("Classes:", [f"{k.__module__}.{k.__qualname__}" for k in classes]),
                         ("Files:", [_file_of(k) for k in classes])]:
        lines.append(_label(title) + (paint(texts[0], "red") if texts else "-"))
        lines += [" " * _LABEL + paint(text, "red") for text in texts[1:]]
    lines.append(_label("Hosts:") + ("" if node.hosts else "none"))
    for role, hosts in sorted(node.hosts.get_hosts_as_dict().items()):
        lines.append(" " * (_LABEL - 2) + paint(f'"{role}"', "yellow"))
        for number, host in enumerate(sorted(hosts, key=lambda h: h.slug), 1):
            lines.append(" " * _LABEL + paint(f"{number:3} {host.slug} "
                                              f"({getattr(host, 'address', '')})", "red"))
    doc = next((inspect.getdoc(k) for k in classes if k.__doc__), None)
    if doc:
        lines.append(_label("Docstring:") + doc.split("\n")[0])
        lines += [" " * _LABEL + text for text in doc.split("\n")[1:]]
    actions = [(paint(a.name, "red"), len(a.name)) for a in inspector.get_actions(False)]
    lines.append(_label("Actions:") + ("" if actions else "none"))
    lines += in_columns(actions, width, margin=_LABEL)
    children = [child for _, child in child_names(node, False)]
    lines.append(_label("Child nodes:") + ("" if children else "none"))

    def group_name(child: Node) -> str:
        return str(Inspector(child).get_group().name)

    for group, members in groupby(sorted(children, key=group_name), group_name):
        lines.append(" " * (_LABEL - 2) + paint(f'"{group}"', "yellow"))
        items = []
        for child in members:
            name = Inspector(child).get_name()
            text = name if child.parent is node else f"{name} -> {get_node_path(child)}"
            items.append((paint(text, group_color(child)), len(text)))
        lines += in_columns(items, width, margin=_LABEL)
    return lines


def _file_of(cls: type) -> str:
    try:
        return inspect.getsourcefile(cls) or "?"
    except TypeError:
        return "(built in)"


def trace_lines(node: Node, attribute: str, query: Any, result: Any) -> list[str]:
    """What ``--inspect`` shows about the query ``attribute`` of ``node``: its expression,
    where it was written, then each step with its value (``result`` is its trace)."""
    where = getattr(query, "_filename", None) or "?"
    line = getattr(query, "_line", None) or "?"
    lines = [_label("Node:") + paint(get_node_path(node), "yellow"),
             _label("Attribute:") + attribute,
             _label("Expression:") + paint(repr(query), "yellow"),
             _label("Written:") + f"{where}, line {line}",
             "", "Trace of the query (each step, then its value):"]
    for step, value in result.walk_through_subqueries():
        lines.append("  " + paint(repr(step), "cyan"))
        lines.append("      " + repr(value))
    return lines


def source_lines(cls: type) -> list[str]:
    """The source code of ``cls`` with line numbers, under the file name."""
    try:
        source, first = inspect.getsourcelines(cls)
    except (OSError, TypeError) as exc:
        return [paint(f"the source of {cls.__qualname__} is not available: {exc}", "red")]
    lines = [paint(f"# {_file_of(cls)}", dim=True)]
    for number, text in enumerate(source, first):
        lines.append(paint(f"{number:5} ", dim=True) + text.rstrip("\n"))
    return lines
