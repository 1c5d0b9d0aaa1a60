"""Splitting a shell line into words: POSIX-style quoting, and ``key=value`` arguments.

python-deployer split the line on single spaces, so an argument could hold no space and
there were no keyword arguments. Here a line splits as ``sh`` would split it: blanks
separate words; ``'...'`` keeps everything literally, ``"..."`` too except that ``\\"``
and ``\\\\`` stand for ``"`` and ``\\``, and a backslash outside quotes keeps the next
character. A word whose *unquoted* start is ``name=`` (``name`` a Python identifier) is
a keyword argument; quote the ``=`` (``'a=b'``, ``a\\=b``) to pass it as a positional one.

Pure: no I/O, nothing from shoal but :mod:`shoal.errors`.

>>> [w.text for w in split_line('deploy "v 1.2" force=yes')]
['deploy', 'v 1.2', 'force=yes']
>>> split_line('deploy force=yes')[1].keyword
'force'
>>> split_line("x 'a=b'")[1].keyword is None
True
"""

from __future__ import annotations

import re
from typing import NamedTuple

from shoal.errors import UsageError

__all__ = ["LineSyntaxError", "Word", "quote", "split_line", "split_partial"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BLANKS = " \t"
_SAFE = re.compile(r"[A-Za-z0-9_@%+,./:\[\]-]+")


class LineSyntaxError(UsageError):
    """The line cannot be split: an unclosed quote, or a backslash at its very end."""

    def __init__(self, what: str, column: int) -> None:
        self.column = column
        super().__init__(f"bad quoting at column {column}: {what}")


class Word(NamedTuple):
    """One word of a line: its ``text`` with the quoting removed, where it ``start``\\ s
    in the line (0-based), and the ``keyword`` it names (``key=value``), if any."""

    text: str
    start: int
    keyword: str | None = None

    @property
    def value(self) -> str:
        """The text after ``key=`` for a keyword argument, else the whole text."""
        return self.text[len(self.keyword) + 1:] if self.keyword is not None else self.text


class _Scan(NamedTuple):
    words: list[Word]
    #: the word being typed at the end (None after a blank), and the quote still open
    last: Word | None
    quote: str | None


def _scan(line: str, strict: bool) -> _Scan:
    words: list[Word] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _BLANKS:
            i += 1
        if i >= n:
            return _Scan(words, None, None)
        start = i
        text: list[str] = []
        plain_prefix: list[str] = []  # the word's unquoted beginning, to find `key=`
        keyword: str | None = None
        quoted_yet = False
        quote: str | None = None
        while i < n and (quote is not None or line[i] not in _BLANKS):
            char = line[i]
            if quote is None and char in "'\"":
                quote, quote_at = char, i
                quoted_yet = True
                i += 1
                continue
            if quote is not None and char == quote:
                quote = None
                i += 1
                continue
            if char == "\\" and quote != "'":
                if i + 1 >= n:
                    if strict:
                        raise LineSyntaxError("a backslash ends the line", i + 1)
                    i += 1
                    break
                following = line[i + 1]
                if quote == '"' and following not in '"\\':
                    text.append(char + following)  # in double quotes, \x stays \x
                else:
                    text.append(following)
                quoted_yet = True
                i += 2
                continue
            if (char == "=" and quote is None and not quoted_yet and keyword is None
                    and _IDENTIFIER.fullmatch("".join(plain_prefix))):
                keyword = "".join(plain_prefix)
            text.append(char)
            if not quoted_yet:
                plain_prefix.append(char)
            i += 1
        word = Word("".join(text), start, keyword)
        if quote is not None:
            if strict:
                raise LineSyntaxError(f"this {quote} is never closed", quote_at + 1)
            return _Scan(words, word, quote)
        if i >= n:
            return _Scan(words, word, None)
        words.append(word)


def split_line(line: str) -> list[Word]:
    """The words of ``line``.

    :raises LineSyntaxError: a quote is not closed, or the line ends in a backslash.

    >>> [w.text for w in split_line("a\\\\ b 'c d' x")]
    ['a b', 'c d', 'x']
    >>> split_line("say 'hello")
    Traceback (most recent call last):
    ...
    shoal.shell.words.LineSyntaxError: bad quoting at column 5: this ' is never closed
    """
    scan = _scan(line, strict=True)
    return [*scan.words, *([scan.last] if scan.last is not None else [])]


def split_partial(line: str) -> tuple[list[Word], Word | None]:
    """The complete words of a line still being typed, and the word under the cursor at
    its end (None when the line ends in a blank); never raises.

    >>> words, last = split_partial("cd Web 'ap")
    >>> [w.text for w in words], last.text
    (['cd', 'Web'], 'ap')
    >>> split_partial("cd ")[1] is None
    True
    """
    scan = _scan(line, strict=False)
    return scan.words, scan.last


def quote(text: str) -> str:
    """``text`` as one word of a line (quoted only when it has to be).

    >>> quote("web1"), quote("a b"), quote("it's")
    ('web1', "'a b'", "'it'\\\\''s'")
    """
    if text and _SAFE.fullmatch(text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"
