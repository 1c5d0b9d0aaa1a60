"""Where the shell keeps its state: ``$XDG_STATE_HOME/shoal`` (``~/.local/state/shoal``).

The local shell's history is kept there, private (folder 0700, file 0600): the lines
typed name hosts and may hold arguments nobody else should read. Remote sessions keep
their history in memory, one each.
"""

from __future__ import annotations

import os
from pathlib import Path

from prompt_toolkit.history import FileHistory

__all__ = ["history_path", "open_history", "state_dir"]


def state_dir() -> Path:
    """``$XDG_STATE_HOME/shoal``, ``~/.local/state/shoal`` by default (not made here)."""
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "shoal"


def history_path() -> Path:
    """The local shell's history file."""
    return state_dir() / "deploy_history"


def open_history(path: Path | None = None) -> FileHistory:
    """The history at ``path`` (:func:`history_path`), its folder and file made private."""
    path = path or history_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    return FileHistory(str(path))
