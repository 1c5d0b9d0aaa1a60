"""Moving bytes to and from a local child process, for the transports that run programs."""

from __future__ import annotations

import asyncio

from shoal.hosts.base import OutputSink

__all__ = ["feed", "pump"]

_CHUNK = 65536


async def feed(pipe: asyncio.StreamWriter, data: bytes | None) -> None:
    """Write ``data`` to the child's stdin, then close it (a command that stops reading
    early is not an error)."""
    try:
        if data:
            pipe.write(data)
            await pipe.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        pipe.close()


async def pump(pipe: asyncio.StreamReader, sink: OutputSink) -> None:
    """Pass everything the child writes on ``pipe`` to ``sink``, chunk by chunk."""
    while chunk := await pipe.read(_CHUNK):
        sink(chunk)
