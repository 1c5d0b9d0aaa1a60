"""``LocalHost``: this machine, as python-deployer's ``deployer.host.local``.

Commands run in local ``/bin/sh`` processes (python-deployer ran ``/bin/bash`` in a
pexpect terminal, which merged stderr into stdout with ``\\r\\n`` line ends); with a real
terminal behind the pty they get a new local pseudo-terminal, as there. The start path
is the working directory when this module was imported. sudo's password is the class's
``sudo_password``: python-deployer asked for it on the console once, here a class sets
it, or sudo must not ask.

Imports nothing from shoal but the deployment's own modules and :mod:`shoal.hosts`.
"""

from __future__ import annotations

import getpass
import os

from shoal.deploy.host.base import Host, check_interface
from shoal.hosts import Connection, LocalTransport

__all__ = ["LocalHost"]

_START_PATH = os.getcwd()


class LocalHost(Host):
    """This machine, for deployments that act locally and for tests."""

    slug = "localhost"
    address = "localhost"

    @property
    def username(self) -> str:  # type: ignore[override]
        """The user this process runs as."""
        return getpass.getuser()

    async def _open_connection(self) -> Connection:
        return await LocalTransport().connect(self.slug)

    async def get_start_path_async(self) -> str:
        """The working directory when shoal's deployment hosts were imported."""
        return _START_PATH

    async def get_ip_address_async(self, interface: str = "eth0") -> str:
        """``127.0.0.1``, whatever the interface, as python-deployer."""
        check_interface(interface)
        return "127.0.0.1"
