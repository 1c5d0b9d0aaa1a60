"""The deployment shell served over telnet, for old clients, behind a one-time token.

Telnet has no authentication and no encryption, so this server binds loopback unless told
otherwise (:func:`shoal.shell.listen.parse_listen`), and a client gets a prompt only after
typing the token printed when the server starts; a wrong token closes the connection.
(python-deployer's telnet server listened on every interface and let anyone in.)
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from prompt_toolkit.contrib.telnet import TelnetServer
from prompt_toolkit.contrib.telnet.server import TelnetConnection
from prompt_toolkit.shortcuts import PromptSession

from shoal.shell.listen import Listen

__all__ = ["TokenTelnetServer", "new_token"]

Interact = Callable[[TelnetConnection], Coroutine[Any, Any, None]]


def new_token() -> str:
    """A fresh token: 128 random bits, in letters and digits a terminal types easily."""
    return secrets.token_urlsafe(16)


class TokenTelnetServer(TelnetServer):
    """prompt_toolkit's telnet server, bound where ``listen`` says, asking for ``token`` first."""

    def __init__(self, interact: Interact, listen: Listen, token: str) -> None:
        super().__init__(host=listen.host, port=listen.port, interact=self._checked)
        self._interact = interact
        self._token = token
        self.listening = asyncio.Event()
        self.address: tuple[str, int] | None = None

    def _create_socket(self, host: str, port: int) -> socket.socket:  # type: ignore[override]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(16)
        self.address = sock.getsockname()[:2]
        return sock

    async def serve(self) -> None:
        """Serve until cancelled; :attr:`listening` is set once the socket is bound."""
        await self.run(ready_cb=self.listening.set)

    async def _checked(self, connection: TelnetConnection) -> None:
        try:
            answer: str = await PromptSession().prompt_async("telnet token: ", is_password=True)
        except (EOFError, KeyboardInterrupt):
            return
        if not hmac.compare_digest(answer.strip().encode(), self._token.encode()):
            connection.send("wrong token\n")
            return
        await self._interact(connection)
