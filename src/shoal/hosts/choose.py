"""Transports by name, as ``--transport`` and ``shoal.conf`` spell them."""

from __future__ import annotations

from shoal.errors import UsageError
from shoal.hosts.base import ConnectOptions, Transport

__all__ = ["TRANSPORTS", "make_transport"]

#: The names ``make_transport`` accepts; ``ssh`` (asyncssh) is the default.
TRANSPORTS = ("ssh", "openssh", "local")


def make_transport(name: str, options: ConnectOptions | None = None) -> Transport:
    """The transport called ``name``, reaching nodes as ``options`` say.

    Only the chosen one's module is imported: asyncssh loads for ``ssh`` alone.
    """
    if name == "ssh":
        from shoal.hosts.ssh import SSHTransport

        return SSHTransport(options)
    if name == "openssh":
        from shoal.hosts.openssh import OpenSSHTransport

        return OpenSSHTransport(options)
    if name == "local":
        from shoal.hosts.local import LocalTransport

        return LocalTransport()
    raise UsageError(f'unknown transport "{name}": choose {", ".join(TRANSPORTS[:-1])} '
                     f"or {TRANSPORTS[-1]}")
