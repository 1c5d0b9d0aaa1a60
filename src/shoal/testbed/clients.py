"""ssh client files for the testbed's login user, so that a process logged in can ssh on.

A gateway of a propagation tree runs as the testbed's login user (``shoal-test`` when the
tests run as root) and reaches its targets with the system ``ssh``. The testbed's own
client files belong to whoever started it: the private key is closed to the login user.
:func:`client_files` writes a set of its own into a directory: copies of the keys owned
by the login user (0600), one ``known_hosts`` and an ``ssh_config`` (owned by the caller:
``ssh`` reads a config file only from its own user or root, so the root of a tree and
its gateways can share the one file) whose ``Host``
blocks (:class:`Route`) point alias patterns at testbeds, optionally from a chosen
loopback source address (``BindAddress``), which a partition's sshd may require
(:func:`shoal.testbed.start`'s ``allow_from``), and at one of their ports:
:func:`spread_routes` spreads the aliases over all the ports of a testbed that listens on
several (:func:`shoal.testbed.start`'s ``listeners``), so that a burst of connections
fills several accept queues, not one.

Only loopback is ever used. Imports nothing from shoal but its own package.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shoal.testbed import config as cf
from shoal.testbed.sshd import Testbed

__all__ = ["ClientFiles", "Route", "client_files", "route_block", "spread_routes"]


@dataclass(frozen=True)
class Route:
    """Aliases matching ``patterns`` (ssh ``Host`` patterns) lead to ``bed``'s sshd, on
    ``port`` (one of ``bed.ports``; default: its first), connecting from ``bind_address``
    (a 127.x address) when one is given."""

    patterns: str
    bed: Testbed
    bind_address: str | None = None
    port: int | None = None


@dataclass(frozen=True)
class ClientFiles:
    """The files :func:`client_files` wrote; ``ssh_config`` is the one to give ``ssh -F``."""

    directory: Path
    ssh_config: Path
    known_hosts: Path


def route_block(route: Route, identity: Path, known_hosts: Path) -> str:
    """The ``Host`` block of ``route``, logging in with ``identity``.

    >>> bed = Testbed(Path("/t"), "127.0.0.1", (2222, 2223), "u", Path("/t/id"),
    ...               Path("/t/ssh_config"), Path("/t/known_hosts"), ("node1",), (), 1)
    >>> text = route_block(Route("part*", bed, "127.0.0.2"), Path("/c/id0"), Path("/c/kh"))
    >>> text.splitlines()[:3]
    ['Host part*', '    HostName 127.0.0.1', '    Port 2222']
    >>> [line.strip() for line in text.splitlines() if "Bind" in line]
    ['BindAddress 127.0.0.2']
    >>> text = route_block(Route("node*1", bed, port=2223), Path("/c/id0"), Path("/c/kh"))
    >>> text.splitlines()[2]
    '    Port 2223'
    """
    bind = f"    BindAddress {route.bind_address}\n" if route.bind_address else ""
    return f"""\
Host {route.patterns}
    HostName {route.bed.host}
    Port {route.bed.port if route.port is None else route.port}
    User {route.bed.user}
{bind}    IdentityFile {identity}
    IdentitiesOnly yes
    UserKnownHostsFile {known_hosts}
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    UpdateHostKeys no
    CheckHostIP no
    BatchMode yes
"""


def spread_routes(bed: Testbed, bind_address: str | None = None) -> list[Route]:
    """Routes that spread ``bed``'s node and gateway aliases over its ports by their last
    digit (:func:`shoal.testbed.config.spread_patterns`): ``node1``, ``node11``… to one
    port, ``node2``, ``node12``… to the next, round the ports.

    >>> bed = Testbed(Path("/t"), "127.0.0.1", (2222, 2223, 2224), "u", Path("/t/id"),
    ...               Path("/t/ssh_config"), Path("/t/known_hosts"), ("node1",), (), 1)
    >>> [(route.patterns.split()[:3], route.port) for route in spread_routes(bed)]
    [(['node*0', 'node*3', 'node*6'], 2222), (['node*1', 'node*4', 'node*7'], 2223), \
(['node*2', 'node*5', 'node*8'], 2224)]
    """
    return [Route(patterns, bed, bind_address, bed.ports[index])
            for index, patterns in enumerate(cf.spread_patterns(len(bed.ports)))]


def client_files(directory: Path | str, routes: Sequence[Route],
                 user: str | None = None, preamble: str = "") -> ClientFiles:
    """Write ssh client files for ``user`` into ``directory`` (created, mode 0700, theirs).

    :param routes: the ``Host`` blocks, in order (the first that matches an alias wins).
    :param user: who will run ``ssh`` with them; default: the login user of the first
        route's testbed.
    :param preamble: ssh config text put before the blocks (its values win), such as
        ``SetEnv`` for some aliases.
    """
    path = Path(directory)
    owner = pwd.getpwnam(user or routes[0].bed.user)
    path.mkdir(mode=0o700, exist_ok=True)
    _give(path, owner, 0o700)
    known_hosts = path / cf.KNOWN_HOSTS
    blocks = []
    hosts_lines = []
    identities: dict[Testbed, Path] = {}  # one copy per testbed, however many routes
    for route in routes:
        identity = identities.get(route.bed)
        if identity is None:
            identity = identities[route.bed] = path / f"{cf.IDENTITY}.{len(identities)}"
            identity.write_bytes(route.bed.identity.read_bytes())
            _give(identity, owner, 0o600)
            hosts_lines.append(route.bed.known_hosts.read_text())
        blocks.append(route_block(route, identity, known_hosts))
    known_hosts.write_text("".join(hosts_lines))
    _give(known_hosts, owner, 0o644)
    ssh_config = path / cf.SSH_CONFIG
    ssh_config.write_text("# shoal testbed: client files of the login user\n" + preamble
                          + "\n".join(blocks))
    ssh_config.chmod(0o644)  # ours: ssh reads a config only from its user or root
    return ClientFiles(path, ssh_config, known_hosts)


def _give(path: Path, owner: pwd.struct_passwd, mode: int) -> None:
    """Make ``path`` belong to ``owner`` with ``mode`` (chown only when we may)."""
    path.chmod(mode)
    if os.geteuid() == 0:
        os.chown(path, owner.pw_uid, owner.pw_gid)
