"""Which ``Host`` blocks of the ssh config files apply to a node, to share work among nodes.

Resolving a node's ssh config with asyncssh parses every file again (about a millisecond
of CPU a node). Nodes that match the same ``Host`` blocks resolve to the same settings,
except for their own name, which asyncssh fills in per connection anyway; so one parse
serves them all. That holds only when nothing in the files depends on the name in
another way: files with ``Match``, ``Include`` or ``%`` tokens are parsed per node.
"""

from __future__ import annotations

import fnmatch
import os
import re

__all__ = ["HostBlocks"]

_KEYWORD = re.compile(r"\s*(\w+)\s*(?:=\s*|\s+)(.*)")
_NAME_DEPENDENT = {"match", "include"}


class HostBlocks:
    """The ``Host`` patterns of a list of ssh config files.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
    ...     _ = f.write("Host node* !node13\\n  Port 2222\\nHost *\\n  User admin\\n")
    ...     f.flush()
    ...     blocks = HostBlocks([f.name])
    ...     (blocks.signature("node1"), blocks.signature("node13"), blocks.signature("web"))
    ((0, 1), (1,), (1,))
    """

    def __init__(self, paths: list[str]) -> None:
        self._blocks: list[tuple[list[str], list[str]]] = []
        self.shareable = True
        for path in paths:
            if not self._read(path):
                self.shareable = False
                return

    def _read(self, path: str) -> bool:
        try:
            with open(os.path.expanduser(path), encoding="utf-8") as file:
                text = file.read()
        except (OSError, UnicodeDecodeError):
            return False  # let asyncssh report it, node by node
        if "%" in text:
            return False
        for raw in text.splitlines():
            match = _KEYWORD.match(raw)
            if match is None or raw.lstrip().startswith("#"):
                continue
            keyword, value = match[1].lower(), match[2]
            if keyword in _NAME_DEPENDENT:
                return False
            if keyword == "host":
                patterns = value.lower().split()
                self._blocks.append(([p for p in patterns if not p.startswith("!")],
                                     [p[1:] for p in patterns if p.startswith("!")]))
        return True

    def signature(self, node: str) -> tuple[int, ...] | None:
        """Indexes of the ``Host`` blocks that apply to ``node``; None: parse it alone."""
        if not self.shareable:
            return None
        name = node.lower()
        return tuple(
            i for i, (positive, negative) in enumerate(self._blocks)
            if any(fnmatch.fnmatchcase(name, p) for p in positive)
            and not any(fnmatch.fnmatchcase(name, p) for p in negative))
