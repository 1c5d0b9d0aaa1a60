"""``SSHHost``: a host reached over SSH, as python-deployer's ``deployer.host.ssh``.

The class attributes say how to connect; shoal's SSH transport (:mod:`shoal.hosts.ssh`,
on asyncssh) does it, so ``address`` may be an alias of the ssh config file and every
``Host`` block applies (``HostName``, ``User``, ``Port``, ``IdentityFile``,
``ProxyJump``…), which python-deployer read four keywords of. What differs:

* Host keys are checked against the user's known_hosts files (the config's
  ``UserKnownHostsFile``), strictly: an unknown key fails the connection with its
  fingerprint. python-deployer loaded no known_hosts file and accepted any key by
  default. ``reject_unknown_hosts`` is True by default; ``False`` trusts a host's key
  the first time it is seen and records it (OpenSSH's ``accept-new``), and a key that
  differs from the recorded one is still refused.
* ``port`` is None by default: the config's ``Port``, else 22 (python-deployer's 22
  always overrode the config).
* Logins are by key or agent; ``password`` is only the sudo password. ``rsa_key`` (a key
  in a string) is refused: put it in a file (``key_filename``) or the agent.

Imports nothing from shoal but the deployment's own modules, :mod:`shoal.errors` and
:mod:`shoal.hosts`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from shoal.deploy.exceptions import ConnectionFailedException, ExecCommandFailed
from shoal.deploy.host import connections
from shoal.deploy.host.base import Host
from shoal.errors import HostError, HostKeyError, UsageError
from shoal.hosts import Connection, ConnectOptions
from shoal.hosts.ssh import SSHTransport

__all__ = ["SSHHost"]


class SSHHost(Host):
    """A host reached over SSH; declare one per machine::

        class WebServer(SSHHost):
            slug = 'web1'
            address = 'web1.example.com'   # or an alias of ~/.ssh/config
            username = 'deploy'
            sudo_password = '...'
    """

    #: the host name, address or ssh config alias to connect to
    address = "example.com"
    #: the port (None: the ssh config's, else 22)
    port: int | None = None
    #: private key file(s) to offer, besides the agent's and the config's
    key_filename: str | Sequence[str] | None = None
    #: not supported: a key in a string (use ``key_filename`` or the agent)
    rsa_key: str | None = None
    rsa_key_password: str | None = None
    #: the ssh config file to read (missing: none)
    config_filename = "~/.ssh/config"
    #: seconds to connect and log in
    timeout = 10
    #: seconds between keep-alive messages when the link is quiet (0: none)
    keepalive_interval = 30
    #: refuse hosts whose key is not known yet (False: trust and record it the first time)
    reject_unknown_hosts = True

    def connect_options(self) -> ConnectOptions:
        """The transport settings these attributes stand for.

        :raises ConnectionFailedException: ``rsa_key`` is set.
        """
        if self.rsa_key:
            raise ConnectionFailedException(
                f"{self.slug or self.address}: rsa_key (a private key in a string) is not "
                "supported: put the key in a file and name it in key_filename, or add it to "
                "the agent")
        config = os.path.expanduser(self.config_filename) if self.config_filename else None
        keys = self.key_filename or ()
        return ConnectOptions(
            ssh_config=(config,) if config and os.path.isfile(config) else (),
            user=self.username or None, port=self.port or None,
            identities=(keys,) if isinstance(keys, str) else tuple(keys),
            accept_new_host_keys=not self.reject_unknown_hosts,
            connect_timeout=float(self.timeout) if self.timeout else None,
            options=((("ServerAliveInterval", str(int(self.keepalive_interval))),)
                     if self.keepalive_interval else ()))

    async def _open_connection(self) -> Connection:
        who = self.slug or self.address
        try:
            transport = connections.transport(self.connect_options(), SSHTransport)
            return await transport.connect(self.address)
        except HostKeyError as exc:
            hint = ("" if not self.reject_unknown_hosts or "CHANGED" in exc.reason else
                    f"; or, to trust it on first use, set reject_unknown_hosts = False on "
                    f"{type(self).__name__}")
            raise ConnectionFailedException(
                f"{who}: could not connect to {self.address}: {exc.reason}{hint}") from exc
        except (HostError, UsageError) as exc:
            reason = exc.reason if isinstance(exc, HostError) else str(exc)
            raise ConnectionFailedException(
                f"{who}: could not connect to {self.address}: {reason}") from exc

    async def _command_directory(self) -> str | None:
        """None without a ``cd()``: a session starts in the login directory, the start path
        (which saves asking for it)."""
        return await self.getcwd_async() if self.host_context.state.paths else None

    async def get_start_path_async(self) -> str:
        """The login directory (usually the home directory), asked once per connection."""
        link = await self._link()
        if "start" not in link.facts:
            status, out, err = await self._capture("pwd")
            if status or not out.startswith("/"):
                raise ExecCommandFailed("pwd", self, False, status, err or out)
            link.facts["start"] = out.strip()
        return link.facts["start"]
