"""Terminal colours by termcolor's names, written only to a terminal."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["colored", "is_terminal"]

_COLORS = {"grey": 30, "red": 31, "green": 32, "yellow": 33, "blue": 34, "magenta": 35,
           "cyan": 36, "white": 37}
_ATTRS = {"bold": 1, "dark": 2, "underline": 4, "blink": 5, "reverse": 7, "concealed": 8}


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is a terminal (False for anything without ``isatty``)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def colored(text: str, color: str | None = None, attrs: Iterable[str] = (), *,
            enabled: bool = True) -> str:
    """``text`` in ``color`` with ``attrs`` (termcolor's names); plain when not ``enabled``.

    >>> colored("ok", "green")
    '\\x1b[32mok\\x1b[0m'
    >>> colored("ok", "green", enabled=False)
    'ok'
    """
    codes = [_ATTRS[a] for a in attrs]
    if color is not None:
        codes.insert(0, _COLORS[color])
    if not enabled or not codes:
        return text
    return f"\x1b[{';'.join(map(str, codes))}m{text}\x1b[0m"
