"""``shoal deploy --attach unix:PATH`` and ``--sessions``: the client side of the Unix socket.

The local terminal goes into raw mode and becomes the remote shell's terminal: keystrokes
go out as ``input`` messages, window resizes as ``size`` messages, and ``output`` messages
are written to the screen (the protocol is in :mod:`shoal.shell.unix_server`).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import os
import signal
import sys
import termios
import tty
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from shoal.errors import UsageError
from shoal.shell.unix_server import MAX_MESSAGE, session_dir

__all__ = ["attach", "live_sessions"]


def _size(fd: int) -> tuple[int, int]:
    try:
        columns, rows = os.get_terminal_size(fd)
    except OSError:
        return 24, 80
    return rows or 24, columns or 80


@contextlib.contextmanager
def _raw(fd: int) -> Iterator[None]:
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    if not writer.is_closing():
        writer.write(json.dumps(message).encode() + b"\n")


async def attach(path: Path, *, keys: int = 0, screen: BinaryIO | None = None) -> int:
    """Attach this terminal (``keys`` fd, ``screen``) to the shell served at ``path``.

    :returns: 0 when the shell ended, 1 when the connection broke first.
    :raises UsageError: nothing serves ``path``.
    """
    out = screen or sys.stdout.buffer
    try:
        reader, writer = await asyncio.open_unix_connection(path, limit=MAX_MESSAGE)
    except OSError as exc:
        raise UsageError(f"--attach unix:{path}: {exc.strerror or exc}") from None
    loop = asyncio.get_running_loop()
    rows, columns = _size(out.fileno() if out.isatty() else keys)
    _send(writer, {"type": "hello", "term": os.environ.get("TERM", "xterm"),
                   "rows": rows, "columns": columns})
    decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def typed() -> None:
        data = os.read(keys, 4096)
        if not data:
            loop.remove_reader(keys)
            return
        _send(writer, {"type": "input", "data": decoder.decode(data)})

    def resized() -> None:
        rows, columns = _size(out.fileno() if out.isatty() else keys)
        _send(writer, {"type": "size", "rows": rows, "columns": columns})

    with _raw(keys):
        loop.add_reader(keys, typed)
        # A loop outside the main thread gets no signals: the size then stays as it was.
        with contextlib.suppress(ValueError, RuntimeError):
            loop.add_signal_handler(signal.SIGWINCH, resized)
        try:
            while line := await reader.readline():
                message = json.loads(line)
                if message.get("type") == "exit":
                    return 0
                if message.get("type") == "output" and isinstance(message.get("data"), str):
                    out.write(message["data"].encode())
                    out.flush()
            return 1
        finally:
            loop.remove_reader(keys)
            loop.remove_signal_handler(signal.SIGWINCH)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def live_sessions(folder: Path | None = None) -> list[Path]:
    """The sockets in ``folder`` (default :func:`session_dir`) that a shell answers on."""
    folder = folder or session_dir()
    found = []
    for path in sorted(folder.glob("*.sock")) if folder.is_dir() else ():
        try:
            _, writer = await asyncio.open_unix_connection(path)
        except OSError:
            continue
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        found.append(path)
    return found
