"""The deployment shell served on a Unix socket, for ``shoal deploy --attach``.

python-deployer's listen/connect workflow, made private: the socket lives in a directory
only its owner may enter (0700, checked, never a symlink), is itself 0600, and a peer of
another uid is turned away even if it gets there. Messages are JSON lines, never pickle:

- client → server: ``{"type": "hello", "term": "xterm", "rows": 24, "columns": 80}`` first,
  then ``{"type": "input", "data": TEXT}`` and ``{"type": "size", "rows": R, "columns": C}``;
- server → client: ``{"type": "output", "data": TEXT}``, and ``{"type": "exit"}`` last.

Each client gets its own prompt_toolkit application session; one client's crash or
disconnect ends only its own session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import stat
import struct
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TextIO, cast

from prompt_toolkit.application import create_app_session
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from shoal.errors import UsageError

__all__ = ["MAX_MESSAGE", "UnixSession", "private_socket_path", "serve_unix", "session_dir"]

MAX_MESSAGE = 1 << 20  # one JSON line; input is typed, output is a screen or so
Interact = Callable[["UnixSession"], Coroutine[Any, Any, None]]


def session_dir() -> Path:
    """Where sessions live by default: ``$XDG_RUNTIME_DIR/shoal``, else ``/tmp/shoal-UID``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "shoal" if runtime else Path(f"/tmp/shoal-{os.getuid()}")


def _private_folder(folder: Path) -> None:
    try:
        folder.mkdir(mode=0o700, parents=False)
    except FileExistsError:
        pass
    except OSError as exc:
        raise UsageError(f"socket folder {folder}: {exc.strerror}") from None
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode):
        raise UsageError(f"socket folder {folder}: not a directory (a symlink?)")
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise UsageError(f"socket folder {folder}: must be yours and private (mode 0700), "
                         f"is mode {stat.S_IMODE(info.st_mode):04o} of uid {info.st_uid}")


def private_socket_path(text: str) -> Path:
    """The socket path for ``unix:TEXT``: a bare name goes in :func:`session_dir`.

    The folder is made 0700 if missing, and refused if anyone else may enter it.
    """
    path = Path(text).expanduser() if "/" in text else session_dir() / f"{text}.sock"
    _private_folder(path.parent)
    return path


class _Screen:
    """A text stream whose writes become ``output`` messages."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self.encoding = "utf-8"

    def write(self, data: str) -> None:
        if not self._writer.is_closing():
            self._writer.write(_line({"type": "output", "data": data.replace("\n", "\r\n")}))

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def _int(message: dict[str, Any], key: str, default: int) -> int:
    value = message.get(key, default)
    return value if isinstance(value, int) and 0 < value < 10_000 else default


class UnixSession:
    """One attached client: its terminal type and size, and a way to end it."""

    def __init__(self, hello: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        term = hello.get("term")
        self.term = term if isinstance(term, str) and term.isprintable() else "xterm"
        self.size = Size(rows=_int(hello, "rows", 24), columns=_int(hello, "columns", 80))
        self.screen = cast(TextIO, _Screen(writer))


async def _serve_one(interact: Interact, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
    try:
        if not _same_user(writer):
            return
        hello = await _read(reader)
        if hello is None or hello.get("type") != "hello":
            return
        session = UnixSession(hello, writer)
        output = Vt100_Output(session.screen, lambda: session.size, term=session.term)
        with create_pipe_input() as keys, create_app_session(input=keys, output=output) as app:
            shell = asyncio.ensure_future(interact(session))
            typing = asyncio.ensure_future(_relay(reader, keys, session, app))
            await asyncio.wait([shell, typing], return_when=asyncio.FIRST_COMPLETED)
            for task in (typing, shell):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if not writer.is_closing():
            writer.write(_line({"type": "exit"}))
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _relay(reader: asyncio.StreamReader, keys: Any, session: UnixSession,
                 app: Any) -> None:
    while (message := await _read(reader)) is not None:
        if message.get("type") == "input" and isinstance(message.get("data"), str):
            keys.send_text(message["data"])
        elif message.get("type") == "size":
            session.size = Size(rows=_int(message, "rows", session.size.rows),
                                columns=_int(message, "columns", session.size.columns))
            if app.app is not None:
                app.app._on_resize()  # prompt_toolkit's own servers do this on a resize


async def _read(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next message, or None at the end, on a broken line or one that is not JSON."""
    try:
        line = await reader.readline()
        message = json.loads(line) if line else None
    except (ValueError, ConnectionError):
        return None
    return message if isinstance(message, dict) else None


def _same_user(writer: asyncio.StreamWriter) -> bool:
    sock = writer.get_extra_info("socket")
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return bool(uid == os.getuid())


async def serve_unix(interact: Interact, path: Path) -> asyncio.AbstractServer:
    """Serve ``interact`` on the socket ``path`` (see :func:`private_socket_path`).

    A stale socket left by a server that died is replaced; a live one is refused.
    """
    if path.is_socket():
        try:
            _, probe = await asyncio.open_unix_connection(path)
        except (ConnectionRefusedError, FileNotFoundError):
            path.unlink()
        else:
            probe.close()
            with contextlib.suppress(ConnectionError):
                await probe.wait_closed()
            raise UsageError(f"unix:{path}: another shell already serves it")
    old = os.umask(0o177)
    try:
        server = await asyncio.start_unix_server(
            lambda r, w: _serve_one(interact, r, w), path, limit=MAX_MESSAGE)
    finally:
        os.umask(old)
    path.chmod(0o600)
    return server
