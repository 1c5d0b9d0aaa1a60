"""Node names that cannot pass for options or paths: the one check every node name meets.

A node name ends up on command lines (``ssh NAME``, ``scp NAME:path``) and in file names
(``--rcopy`` writes ``file.NAME``). A name that starts with ``-`` would be read as an
option (``-oProxyCommand=...``), and one holding ``/``, whitespace, a NUL or a control
character could point into another directory, split into two arguments or hide in a
log; an invisible format character (a zero-width space, a direction override) makes one
name look like another. :class:`~shoal.nodeset.NodeSet` refuses such names wherever it
builds names from text: expressions, :meth:`~shoal.nodeset.NodeSet.fromlist`, and the
answers of group sources (YAML group files, upcall output), so every entry point built on
node sets refuses them too.

It checks patterns, not names: the literal pieces of ``node[1-1000000]-ib`` are checked
once (index digits can hold none of those characters), so a million nodes cost one check.

>>> check_node_name("node7")
>>> check_node_name("-oProxyCommand=x")
Traceback (most recent call last):
...
shoal.errors.NodeNameError: node name "-oProxyCommand=x": must not start with "-"
>>> pattern_problem(("rack", "/n", ""), lead_negative=False)
'must not hold "/"'

This module is pure: no I/O, no asyncio. It imports nothing from shoal but
:mod:`shoal.errors`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from shoal.errors import NodeNameError
from shoal.nodeset.rangeset import _zip_exact

__all__ = ["check_node_name", "node_name", "pattern_problem"]

# "/", C0 and C1 control characters (NUL included), DEL, any Unicode whitespace, and the
# invisible format characters that make a name look like another one (zero-width spaces
# and joiners, direction marks and overrides, word joiners, the byte-order mark).
_INVISIBLE = "\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
_BAD = re.compile(rf"[/\s\x00-\x1f\x7f-\x9f{_INVISIBLE}]")


def _describe(char: str) -> str:
    """What is wrong with a node name holding ``char`` (one of :data:`_BAD`)."""
    shown = ascii(char)[1:-1]
    if char == "/":
        return 'must not hold "/"'
    if char == "\0":
        return "must not hold a NUL character"
    if char.isspace():
        return f'must not hold whitespace ("{shown}")'
    if re.fullmatch(f"[{_INVISIBLE}]", char):
        return f'must not hold an invisible character ("{shown}")'
    return f'must not hold a control character ("{shown}")'


def pattern_problem(pieces: Sequence[str], lead_negative: bool) -> str | None:
    """What is wrong with the names of a pattern, or None when they are fine.

    ``pieces`` are the literal parts of the names around their indexes (``("node",
    "-ib", "")`` for ``node[1-2]-ib[0-1]``); ``lead_negative`` tells whether a name may
    start with a negative index (no literal before the first index, and that index
    holds negative numbers).
    """
    if pieces[0].startswith("-") or (lead_negative and not pieces[0]):
        return 'must not start with "-"'
    for piece in pieces:
        found = _BAD.search(piece)
        if found is not None:
            return _describe(found.group())
    return None


def node_name(pieces: Sequence[str], indexes: Sequence[str]) -> str:
    """The node name of a pattern's pieces and one index per slot.

    >>> node_name(("da", "c", "-ib"), ["1", "07"])
    'da1c07-ib'
    """
    out = [pieces[0]]
    for index, piece in _zip_exact(indexes, pieces[1:]):
        out.append(index)
        out.append(piece)
    return "".join(out)


def check_node_name(name: str) -> None:
    """Refuse a node name that could pass for an option or a path.

    :raises NodeNameError: ``name`` starts with ``-``, or holds ``/``, whitespace, a NUL
        or another control character.
    """
    problem = pattern_problem((name,), lead_negative=False)
    if problem is not None:
        raise NodeNameError(name, problem)
