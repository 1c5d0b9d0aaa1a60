"""The deployment shell served over SSH, on asyncssh and prompt_toolkit's ``contrib.ssh``.

prompt_toolkit's server accepts every client without authentication; this one accepts only
public keys listed in an ``authorized_keys`` file, and nothing else (no passwords, no
keyboard-interactive). Its host key is made once and kept, so clients can pin it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import asyncssh
from prompt_toolkit.contrib.ssh import PromptToolkitSSHServer, PromptToolkitSSHSession
from prompt_toolkit.data_structures import Size

from shoal.errors import ConfigError
from shoal.shell.history import state_dir
from shoal.shell.listen import Listen

__all__ = ["default_host_key_path", "load_host_key", "serve_ssh"]

Interact = Callable[[PromptToolkitSSHSession], Coroutine[Any, Any, None]]


def default_host_key_path() -> Path:
    """``$XDG_STATE_HOME/shoal/shell_host_key`` (``~/.local/state`` by default)."""
    return state_dir() / "shell_host_key"


def load_host_key(path: Path) -> asyncssh.SSHKey:
    """The server's Ed25519 host key at ``path``, made (mode 0600) the first time."""
    try:
        return asyncssh.read_private_key(path)
    except FileNotFoundError:
        pass
    except (OSError, asyncssh.KeyImportError) as exc:
        raise ConfigError(str(path), None, f"shell host key not readable: {exc}") from None
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519", comment="shoal deployment shell")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(key.export_private_key())
    return key


class _Session(PromptToolkitSSHSession):
    """prompt_toolkit's session, with 80x24 for a client that gives no terminal size.

    ``ssh -tt`` from a script (stdin not a terminal) asks for a 0x0 terminal, in which
    prompt_toolkit would draw nothing at all.
    """

    def _get_size(self) -> Size:
        size = super()._get_size()
        return Size(rows=size.rows or 24, columns=size.columns or 80)

    def session_started(self) -> None:
        interact = self.interact

        async def then_exit(session: PromptToolkitSSHSession) -> None:
            try:
                await interact(session)
            finally:  # exit status 0, so that `ssh` exits 0 when the shell ends
                if self._chan is not None:
                    self._chan.exit(0)

        self.interact = then_exit
        super().session_started()


class _KeysOnly(PromptToolkitSSHServer):
    """prompt_toolkit's server with authentication required: public keys only."""

    def session_requested(self) -> _Session:
        return _Session(self.interact, enable_cpr=self.enable_cpr)

    def begin_auth(self, username: str) -> bool:
        return True  # every user must authenticate

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True


async def serve_ssh(interact: Interact, listen: Listen, authorized_keys: Path, *,
                    host_key: Path | None = None) -> asyncssh.SSHAcceptor:
    """Start serving ``interact`` (one call per client session) on ``listen``.

    :param authorized_keys: the clients' public keys, in OpenSSH's format.
    :raises ConfigError: the keys file or host key cannot be read.
    """
    try:
        keys = asyncssh.read_authorized_keys(str(authorized_keys))
    except (OSError, ValueError, asyncssh.KeyImportError) as exc:
        raise ConfigError(f"--authorized-keys {authorized_keys}", None,
                          getattr(exc, "strerror", None) or str(exc)) from None
    key = load_host_key(host_key or default_host_key_path())
    return await asyncssh.create_server(
        lambda: _KeysOnly(interact), listen.host, listen.port,
        server_host_keys=[key], authorized_client_keys=keys,
        # One client's session must not block the others: no agent, no X11, no forwarding.
        agent_forwarding=False, x11_forwarding=False, allow_scp=False,
        line_editor=False, encoding="utf-8")
