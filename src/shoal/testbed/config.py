"""The text of the testbed's files: ``sshd_config``, ``ssh_config`` and ``known_hosts``.

Pure: every function takes values and returns text; nothing here touches the disk or
starts a process (:mod:`shoal.testbed.sshd` does that). Imports nothing from shoal.

Two choices matter for heavy fan-out:

* The ``ssh_config`` is a dozen lines whatever the number of nodes (``Host node* gw*``).
  OpenSSH and asyncssh parse it again at every connection; a line per alias would cost
  real CPU across 1,000 connections.
* ``known_hosts`` trusts the host key under every name a client may look it up by, and
  only with the testbed's ports: OpenSSH and asyncssh both look up the address given by
  ``HostName`` (``[127.0.0.1]:PORT``); a client that keeps the alias looks up
  ``[node7]:PORT``. Any other key is refused (``StrictHostKeyChecking yes``).
* sshd may listen on several ports (``ListenAddress`` lines): each socket has its own
  accept queue, whose backlog OpenSSH fixes at 128. A burst of connections larger than
  that, all to one port, overflows it, and the kernel drops the handshakes that clients
  retry seconds later (1, 3, 7… s), where N real machines would each accept their own.
  :func:`spread_patterns` spreads the aliases over the ports by their last digit
  (:func:`listener_of`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "ALIAS_PATTERNS",
    "AUTHORIZED_KEYS",
    "FILES",
    "GATEWAY_PREFIX",
    "HOST",
    "HOST_KEY",
    "IDENTITY",
    "KNOWN_HOSTS",
    "LOG",
    "NODE_PREFIX",
    "PID_FILE",
    "SSHD_CONFIG",
    "SSH_CONFIG",
    "STATE_FILE",
    "check_path",
    "known_hosts",
    "listener_of",
    "spread_patterns",
    "ssh_config",
    "sshd_config",
]

#: The only address the testbed ever listens on or points clients to.
HOST = "127.0.0.1"
NODE_PREFIX = "node"
GATEWAY_PREFIX = "gw"
#: ssh_config ``Host`` patterns that cover every node and gateway alias.
ALIAS_PATTERNS = (f"{NODE_PREFIX}*", f"{GATEWAY_PREFIX}*")

# File names inside the testbed directory.
HOST_KEY = "host_ed25519"
IDENTITY = "id_ed25519"
AUTHORIZED_KEYS = "authorized_keys"
SSHD_CONFIG = "sshd_config"
SSH_CONFIG = "ssh_config"
KNOWN_HOSTS = "known_hosts"
LOG = "sshd.log"
PID_FILE = "sshd.pid"
STATE_FILE = "testbed.json"
#: Every file the testbed writes: :func:`shoal.testbed.stop` removes these and no others.
FILES = (
    HOST_KEY, f"{HOST_KEY}.pub", IDENTITY, f"{IDENTITY}.pub", AUTHORIZED_KEYS, SSHD_CONFIG,
    SSH_CONFIG, KNOWN_HOSTS, LOG, PID_FILE, STATE_FILE, f"{STATE_FILE}.tmp",
)

# Paths go into config files unquoted, where "%" starts a token and blanks split words.
_SAFE_PATH = re.compile(r"[A-Za-z0-9_./@+,:=-]+")


def check_path(directory: Path) -> str | None:
    """Why ``directory`` cannot be written into the config files, or ``None`` if it can.

    >>> check_path(Path("/tmp/shoal-testbed-0")) is None
    True
    >>> check_path(Path("/tmp/my beds"))
    'the path may hold only letters, digits and _./@+,:=- (no blanks, quotes or %)'
    """
    if _SAFE_PATH.fullmatch(str(directory)):
        return None
    return "the path may hold only letters, digits and _./@+,:=- (no blanks, quotes or %)"


def sshd_config(directory: Path, ports: Sequence[int], user: str, *, penalties_option: bool,
                keys_command: str | None = None, allow_from: tuple[str, ...] = ()) -> str:
    """The ``sshd_config`` of a testbed: loopback only, public keys only, sized for fan-out.

    :param ports: the loopback ports to listen on, one ``ListenAddress`` each.
    :param penalties_option: whether this sshd knows ``PerSourcePenalties`` (OpenSSH 9.8
        and later), which must be turned off: a test that drops connections on purpose
        (a refused host key) would otherwise get 127.0.0.1 blocked for the tests after it.
    :param keys_command: ``None`` when ``user`` can read ``authorized_keys`` (sshd opens
        it as that user). Else the ``cat`` program that a root sshd runs as root
        (``AuthorizedKeysCommand``) to read it in their stead: one process more per
        login, about 3 ms of CPU.
    :param allow_from: when given, ``user`` may log in from these loopback addresses only
        (``AllowUsers user@127.0.0.2``): a partition that only clients binding one of them
        (ssh ``BindAddress``, such as a tree's gateways) can reach.

    >>> text = sshd_config(Path("/t"), [2222, 2223], "u", penalties_option=False,
    ...                    allow_from=("127.0.0.2",))
    >>> [line for line in text.splitlines() if line.startswith(("AllowUsers", "Listen"))]
    ['ListenAddress 127.0.0.1:2222', 'ListenAddress 127.0.0.1:2223', 'AllowUsers u@127.0.0.2']
    >>> text = sshd_config(Path("/t"), [2222], "shoal-test", penalties_option=False)
    >>> [line for line in text.splitlines() if line.startswith("AuthorizedKeys")]
    ['AuthorizedKeysFile /t/authorized_keys']
    >>> text = sshd_config(Path("/t"), [2222], "shoal-test", penalties_option=False,
    ...                    keys_command="/usr/bin/cat")
    >>> [line for line in text.splitlines() if line.startswith("AuthorizedKeys")]
    ['AuthorizedKeysFile none', 'AuthorizedKeysCommand /usr/bin/cat /t/authorized_keys', \
'AuthorizedKeysCommandUser root']
    """
    penalties = "PerSourcePenalties no\n" if penalties_option else ""
    allowed = " ".join(f"{user}@{address}" for address in allow_from) or user
    listen = "".join(f"ListenAddress {HOST}:{port}\n" for port in ports)
    if keys_command is None:
        keys = f"AuthorizedKeysFile {directory}/{AUTHORIZED_KEYS}\n"
    else:
        keys = (f"AuthorizedKeysFile none\nAuthorizedKeysCommand {keys_command} "
                f"{directory}/{AUTHORIZED_KEYS}\nAuthorizedKeysCommandUser root\n")
    return f"""\
# shoal testbed: loopback only, public keys only, sized for heavy fan-out.
{listen}AddressFamily inet
HostKey {directory}/{HOST_KEY}
PidFile {directory}/{PID_FILE}
# The directory may live under /tmp: no ownership or mode checks.
{keys}StrictModes no
AllowUsers {allowed}
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
PermitRootLogin prohibit-password
UsePAM no
UseDNS no
PrintMotd no
PrintLastLog no
# 1,000 logins at once: no random early drop of unauthenticated connections, room for
# many channels per connection, a generous grace time when the machine is saturated, and
# sessions whose client vanished are reaped.
MaxStartups 10000
MaxSessions 1000
MaxAuthTries 6
LoginGraceTime 120
ClientAliveInterval 30
ClientAliveCountMax 4
TCPKeepAlive yes
# The post-quantum default (sntrup761x25519) costs a client ~80 ms of CPU per login on
# a small VM, and asyncssh cannot use it: benchmarks would compare key exchanges, not
# tools. Every client gets the same fast one.
KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org
{penalties}# Tests make one alias behave differently from the others with SetEnv SHOAL_*.
AcceptEnv SHOAL_*
X11Forwarding no
Subsystem sftp internal-sftp
# INFO or more: start() waits for the "Server listening on" line.
LogLevel INFO
"""


def ssh_config(directory: Path, port: int, user: str) -> str:
    """The client ``ssh_config`` that points every alias at the testbed.

    Its size does not depend on the number of nodes:

    ``down1``, ``down2``… lead to a loopback port where nothing listens (port 1): nodes
    that are down, for demos and tests, without a name lookup leaving the machine.

    >>> text = ssh_config(Path("/t"), 2222, "shoal-test")
    >>> text.splitlines()[1], len(text.splitlines())
    ('Host node* gw*', 18)
    """
    return f"""\
# shoal testbed: every node and gateway alias leads to the loopback sshd.
Host {" ".join(ALIAS_PATTERNS)}
    HostName {HOST}
    Port {port}
    User {user}
    IdentityFile {directory}/{IDENTITY}
    IdentitiesOnly yes
    UserKnownHostsFile {directory}/{KNOWN_HOSTS}
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    UpdateHostKeys no
    CheckHostIP no
    BatchMode yes

# down1, down2…: nothing listens there, the connection is refused.
Host down*
    HostName {HOST}
    Port 1
"""


def known_hosts(ports: Sequence[int], host_key: str) -> str:
    """The ``known_hosts`` lines that trust ``host_key`` (``"type base64"``) on the
    testbed, one per port: plain names, comma-separated, as OpenSSH, asyncssh and
    paramiko all read them (paramiko matches no wildcard, but finds ``[127.0.0.1]:PORT``).

    >>> print(known_hosts([2222, 2223], "ssh-ed25519 AAAAC3Nz"), end="")
    [127.0.0.1]:2222,[node*]:2222,[gw*]:2222 ssh-ed25519 AAAAC3Nz
    [127.0.0.1]:2223,[node*]:2223,[gw*]:2223 ssh-ed25519 AAAAC3Nz
    """
    lines = []
    for port in ports:
        names = ",".join([f"[{HOST}]:{port}", *(f"[{p}]:{port}" for p in ALIAS_PATTERNS)])
        lines.append(f"{names} {host_key}\n")
    return "".join(lines)


def listener_of(alias: str, listeners: int) -> int:
    """Which of ``listeners`` ports an alias ending in a digit is spread to: that digit
    modulo ``listeners`` (the rule :func:`spread_patterns` writes as ``Host`` patterns).

    >>> [listener_of(alias, 3) for alias in ("node1", "node10", "node12", "gw3")]
    [1, 0, 2, 0]
    """
    return int(alias[-1]) % listeners


def spread_patterns(listeners: int) -> list[str]:
    """ssh ``Host`` patterns per port: item ``i`` matches the node and gateway aliases
    that :func:`listener_of` gives port ``i`` (``*`` matches any run of characters,
    none included, so ``node*0`` matches ``node10`` and ``node0``). Only the last digit
    counts: past 10 listeners, the others get no alias.

    >>> spread_patterns(3)[1]
    'node*1 node*4 node*7 gw*1 gw*4 gw*7'
    >>> len(spread_patterns(1)[0].split()), len(spread_patterns(12))
    (20, 10)
    """
    return [" ".join(f"{prefix}*{digit}" for prefix in (NODE_PREFIX, GATEWAY_PREFIX)
                     for digit in range(10) if listener_of(str(digit), listeners) == index)
            for index in range(min(listeners, 10))]
