"""Host-key policy for the SSH transport: OpenSSH's ``StrictHostKeyChecking`` modes.

asyncssh checks a server's key against the ``known_hosts`` files the ssh config names.
When the key is not among them it asks the client object (``validate_host_public_key``);
:class:`HostKeyPolicy` answers there, in the mode of that connection, as OpenSSH does:

* ``yes`` (the default, and ``ask``: a run never prompts): refuse; the error names the
  fingerprint and the way to accept it;
* ``accept-new``: trust a key for a host that has no entry yet and append it to the
  known_hosts file; a key that *differs* from a recorded one is refused;
* ``no``: as ``accept-new``, and a changed key is let through too, with a warning in the
  log (its old entry is left as it is).

Parsed known_hosts files are cached per path for the life of the policy (one run), so
1,000 connections read the file once, not 1,000 times.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import asyncssh

from shoal.errors import HostKeyError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["DEFAULT_KNOWN_HOSTS", "HOST_KEY_MODES", "HostKeyPolicy", "known_hosts_name"]

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")

#: The modes of :meth:`HostKeyPolicy.decide`, strictest first.
HOST_KEY_MODES = ("yes", "accept-new", "no")

log = logging.getLogger(__name__)


def known_hosts_name(host: str, port: int) -> str:
    """The name OpenSSH writes in known_hosts for ``host`` on ``port``.

    >>> known_hosts_name("web1", 22), known_hosts_name("127.0.0.1", 2222)
    ('web1', '[127.0.0.1]:2222')
    """
    return host if port == 22 else f"[{host}]:{port}"


class HostKeyPolicy:
    """Decides on keys that known_hosts does not vouch for; shared by one run's connections."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[str, ...], asyncssh.SSHKnownHosts] = {}
        self._accepted: set[tuple[str, bytes]] = set()

    def known_hosts(self, paths: Sequence[str] | None) -> asyncssh.SSHKnownHosts:
        """The parsed known_hosts files ``paths`` (read once); empty when none is readable.

        Never None: asyncssh takes None as "check no host key at all".
        """
        key = tuple(str(Path(p).expanduser()) for p in paths or ())
        if key not in self._parsed:
            readable = [p for p in key if os.path.isfile(p) and os.access(p, os.R_OK)]
            self._parsed[key] = (asyncssh.read_known_hosts(readable) if readable
                                 else asyncssh.import_known_hosts(""))
        return self._parsed[key]

    def decide(self, host: str, addr: str, port: int, key: asyncssh.SSHKey,
               paths: Sequence[str] | None, mode: str = "yes", node: str = "") -> bool:
        """Whether to trust ``key`` for ``host`` although known_hosts does not list it.

        :param mode: ``yes``, ``accept-new`` or ``no`` (see the module docstring).
        :param node: the node name, for the log line of a changed key let through.
        """
        name = known_hosts_name(host, port)
        if (name, key.public_data) in self._accepted:
            return True  # recorded by this run, after its known_hosts files were read
        if mode == "yes":
            return False
        if self._recorded_keys(host, addr, port, paths):
            if mode != "no":
                return False
            # Not recorded, so it is let through (and logged) at each connection.
            log.warning("[node=%s] host key for %s has CHANGED (now %s %s); connecting "
                        "anyway as StrictHostKeyChecking=no says", node or host, name,
                        key.get_algorithm(), key.get_fingerprint())
            return True
        target = Path(paths[0] if paths else DEFAULT_KNOWN_HOSTS).expanduser()
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        line = f"{name} {key.export_public_key('openssh').decode('ascii').strip()}\n"
        with target.open("a", encoding="ascii") as file:
            file.write(line)
        self._accepted.add((name, key.public_data))
        return True

    def error(self, node: str, host: str, addr: str, port: int, key: asyncssh.SSHKey,
              paths: Sequence[str] | None) -> HostKeyError:
        """The error for a key that was refused: its fingerprint and what to do about it."""
        name = known_hosts_name(host, port)
        shown = f"{key.get_algorithm()} {key.get_fingerprint()}"
        fingerprint = key.get_fingerprint()
        if self._recorded_keys(host, addr, port, paths):
            where = Path(paths[0] if paths else DEFAULT_KNOWN_HOSTS).expanduser()
            return HostKeyError(
                node, fingerprint,
                f"host key for {name} has CHANGED (now {shown}): someone may be "
                f"intercepting the connection; if the change is expected, remove the old "
                f'key with: ssh-keygen -f {where} -R "{name}"')
        return HostKeyError(
            node, fingerprint,
            f"host key for {name} is not known ({shown}); check it, then trust it with "
            f"--accept-new-host-keys")

    def _recorded_keys(self, host: str, addr: str, port: int,
                       paths: Sequence[str] | None) -> bool:
        known = self.known_hosts(paths)
        trusted, ca_keys, *_ = known.match(host, addr, port)
        return bool(trusted or ca_keys)
