"""Clients for the shell's servers, shared by the server and remote-shell tests: key
pairs, reading a stream up to a marker with a deadline, and a minimal telnet client."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncssh

IAC, DO, WILL, SB, SE = 255, 253, 251, 250, 240
TTYPE, NAWS = 24, 31


def keypair(folder: Path, name: str) -> tuple[asyncssh.SSHKey, Path]:
    key = asyncssh.generate_private_key("ssh-ed25519")
    path = folder / name
    key.write_private_key(path)
    path.chmod(0o600)  # OpenSSH ignores a private key others can read
    key.write_public_key(folder / f"{name}.pub")
    return key, path


async def read_until(reader: Any, marker: Any, deadline: float = 10) -> Any:
    """What ``reader`` sends up to and including ``marker``, within ``deadline`` seconds."""
    async def read() -> Any:
        seen = marker[:0]
        while marker not in seen:
            chunk = await reader.read(4096)
            if not chunk:
                raise AssertionError(f"closed before {marker!r}; saw {seen!r}")
            seen += chunk
        return seen

    return await asyncio.wait_for(read(), deadline)


class TelnetClient:
    """Just enough of a telnet client: answers TTYPE and NAWS, passes the rest through."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def read(self, n: int) -> bytes:
        data = await self.reader.read(n)
        out = bytearray()
        i = 0
        while i < len(data):
            if data[i] == IAC and i + 2 < len(data) and data[i + 1] == DO:
                option = data[i + 2]
                self.writer.write(bytes([IAC, WILL, option]))
                if option == TTYPE:
                    self.writer.write(bytes([IAC, SB, TTYPE, 0]) + b"xterm" + bytes([IAC, SE]))
                elif option == NAWS:
                    self.writer.write(bytes([IAC, SB, NAWS, 0, 80, 0, 24, IAC, SE]))
                i += 3
            elif data[i] == IAC and i + 1 < len(data) and data[i + 1] in (WILL, 254, 252):
                i += 3
            elif data[i] == IAC and i + 1 < len(data) and data[i + 1] == SB:
                i = data.index(bytes([IAC, SE]), i) + 2
            else:
                out.append(data[i])
                i += 1
        return bytes(out) if out or not data else b"\0"  # \0: negotiation only, not closed


async def closed(client: TelnetClient) -> bytes:
    async def read() -> bytes:
        seen = b""
        while chunk := await client.read(4096):
            seen += chunk
        return seen

    return await asyncio.wait_for(read(), 10)
