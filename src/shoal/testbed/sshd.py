"""A real OpenSSH ``sshd`` on 127.0.0.1 that many host aliases lead to.

:func:`start` makes a directory holding everything the testbed needs (host and user keys,
``sshd_config``, ``authorized_keys``, an ``ssh_config`` with the aliases, ``known_hosts``
with the real host key, the sshd log and a ``testbed.json`` state file), starts ``sshd -D``
on a free loopback port, and waits until it answers with an SSH banner. :func:`stop` ends it
and removes the directory. :func:`load` reads a running testbed back from its state file.

The ssh_config is a handful of lines whatever the number of nodes (``Host node* gw*``):
clients parse it at every connection, and a line per alias would cost real CPU at 1,000
connections. Host keys are checked strictly against the testbed's own ``known_hosts``.

Only loopback is ever used. This module imports nothing from shoal but :mod:`shoal.errors`.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from shoal.errors import TestbedError

__all__ = ["LOGIN_USER", "Testbed", "default_directory", "load", "running", "start", "stop"]

#: The account the testbed logs in as when run by root: its shell start-up files are empty.
LOGIN_USER = "shoal-test"
HOST = "127.0.0.1"
STATE_FILE = "testbed.json"
_READY_TIMEOUT = 15.0
_SBIN = "/usr/sbin:/usr/local/sbin:/sbin"
#: sshd processes started by this process, by pid, so that stop() can reap them.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Testbed:
    """A running loopback sshd and the files that describe how to reach it."""

    __test__ = False  # not a pytest test class, whatever its name

    directory: Path
    host: str
    port: int
    user: str
    identity: Path
    ssh_config: Path
    known_hosts: Path
    nodes: tuple[str, ...]
    gateways: tuple[str, ...]
    pid: int

    def ssh_command(self, alias: str, *command: str) -> list[str]:
        """The ``ssh`` argument list that runs ``command`` on ``alias`` through the testbed.

        >>> bed = Testbed(Path("/t"), HOST, 2222, "u", Path("/t/id"), Path("/t/ssh_config"),
        ...               Path("/t/known_hosts"), ("node1",), (), 1)
        >>> bed.ssh_command("node1", "hostname")
        ['ssh', '-F', '/t/ssh_config', 'node1', 'hostname']
        """
        return ["ssh", "-F", str(self.ssh_config), alias, *command]

    @property
    def nodeset(self) -> str:
        """The node aliases as a folded node set, ``node[1-N]``."""
        return f"node[1-{len(self.nodes)}]" if len(self.nodes) > 1 else ",".join(self.nodes)


def default_directory() -> Path:
    """Where ``shoal testbed up`` keeps its files unless told otherwise: one per user."""
    return Path(tempfile.gettempdir()) / f"shoal-testbed-{os.getuid()}"


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        first = (proc.stderr or proc.stdout).strip().splitlines()
        detail = first[0] if first else f"exit status {proc.returncode}"
        raise TestbedError(f"{what} failed: {detail}")


def _find_sshd(sshd: str | None) -> str:
    found = shutil.which(sshd or "sshd", path=f"{_SBIN}:{os.environ.get('PATH', '')}")
    if found is None:
        name = sshd or "sshd"
        raise TestbedError(f'no sshd found ("{name}"): install openssh-server '
                           "(apt-get install openssh-server)")
    return found


def _ensure_login_user() -> str:
    """As root, make sure the dedicated login user exists, with empty start-up files."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.getuid()).pw_name
    try:
        entry = pwd.getpwnam(LOGIN_USER)
    except KeyError:
        _run(["useradd", "--system", "--create-home", "--home-dir", f"/var/lib/{LOGIN_USER}",
              "--shell", "/bin/sh", LOGIN_USER], f"creating user {LOGIN_USER}")
        # A new account is locked ("!"): with PAM off, sshd refuses locked accounts even
        # for keys. "*" means "no password" without locking.
        _run(["usermod", "-p", "*", LOGIN_USER], f"unlocking user {LOGIN_USER}")
        entry = pwd.getpwnam(LOGIN_USER)
    home = Path(entry.pw_dir)
    home.mkdir(parents=True, exist_ok=True)
    for name in (".profile", ".bashrc", ".bash_logout"):
        rc = home / name
        if not rc.exists() or rc.stat().st_size:
            rc.write_text("")
        os.chown(rc, entry.pw_uid, entry.pw_gid)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    return LOGIN_USER


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _keygen(path: Path, comment: str) -> None:
    if not path.exists():
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
             f"ssh-keygen for {path.name}")


_SSHD_CONFIG = """\
# shoal testbed: loopback only, public keys only, sized for heavy fan-out.
ListenAddress {host}:{port}
HostKey {dir}/host_ed25519
PidFile {dir}/sshd.pid
# Keys are read by a root-owned command, so the directory may live anywhere (a 0700
# pytest tmp dir included) without the login user needing to traverse it.
AuthorizedKeysFile none
AuthorizedKeysCommand /bin/cat {dir}/authorized_keys
AuthorizedKeysCommandUser {keys_user}
AllowUsers {user}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
UseDNS no
PrintMotd no
PrintLastLog no
StrictModes no
MaxStartups 4096
MaxSessions 1024
MaxAuthTries 10
LoginGraceTime 60
TCPKeepAlive yes
AllowTcpForwarding yes
X11Forwarding no
Subsystem sftp internal-sftp
LogLevel INFO
"""

_SSH_CONFIG = """\
# shoal testbed: every node and gateway alias leads to the loopback sshd.
Host {patterns}
    HostName {host}
    Port {port}
    User {user}
    IdentityFile {dir}/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile {dir}/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
"""


def _write_files(directory: Path, port: int, user: str) -> None:
    _keygen(directory / "host_ed25519", "shoal-testbed-host")
    _keygen(directory / "id_ed25519", "shoal-testbed-user")
    values = {"host": HOST, "port": port, "user": user, "dir": directory,
              "patterns": "node* gw*", "keys_user": pwd.getpwuid(os.geteuid()).pw_name}
    (directory / "sshd_config").write_text(_SSHD_CONFIG.format(**values))
    (directory / "ssh_config").write_text(_SSH_CONFIG.format(**values))
    pub = (directory / "id_ed25519.pub").read_text()
    keys = directory / "authorized_keys"
    keys.write_text(pub)
    keys.chmod(0o644)
    host_key = (directory / "host_ed25519.pub").read_text().split()[:2]
    (directory / "known_hosts").write_text(f"[{HOST}]:{port} {' '.join(host_key)}\n")


def _banner(port: int) -> bool:
    """True when an SSH server answers on the port."""
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as sock:
            return sock.recv(64).startswith(b"SSH-2.0-")
    except OSError:
        return False


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Wait until sshd answers on ``port``; fail with its log if it exits first."""
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _CHILDREN.pop(proc.pid, None)
            lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
            detail = lines[-1] if lines else f"exit status {proc.returncode}"
            raise TestbedError(f"sshd failed to start on {HOST}:{port}: {detail}")
        if _banner(port):
            return
        time.sleep(0.02)  # polling a port that is not open yet: nothing to wait on
    proc.kill()
    proc.wait()
    raise TestbedError(f"sshd did not answer on {HOST}:{port} within {_READY_TIMEOUT:g}s")


def start(
    directory: Path | str | None = None,
    nodes: int = 50,
    gateways: int = 4,
    *,
    detach: bool = False,
    sshd: str | None = None,
) -> Testbed:
    """Start a loopback sshd with ``nodes`` node aliases and ``gateways`` gateway aliases.

    :param directory: where to keep its files (created); a fresh temporary one by default.
    :param detach: let sshd outlive this process (``shoal testbed up``); otherwise it is
        in this process's session and dies with it when not stopped.
    :param sshd: the sshd binary to use (default: ``sshd`` from /usr/sbin or ``PATH``).
    :raises TestbedError: sshd is missing, or fails to start or answer.
    """
    if nodes < 1 or gateways < 0:
        raise TestbedError(f"need at least one node (got nodes={nodes}, gateways={gateways})")
    binary = _find_sshd(sshd)
    user = _ensure_login_user()
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="shoal-testbed-"))
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
    log = directory / "sshd.log"
    for _attempt in range(3):  # a free port can be taken between probe and bind
        port = _free_port()
        _write_files(directory, port, user)
        with log.open("wb") as log_file:
            proc = subprocess.Popen(
                [binary, "-D", "-e", "-f", str(directory / "sshd_config")],
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                start_new_session=detach,
            )
        _CHILDREN[proc.pid] = proc
        try:
            _wait_ready(proc, port, log)
            break
        except TestbedError:
            if "Address already in use" not in log.read_text(errors="replace"):
                raise
    bed = Testbed(
        directory=directory, host=HOST, port=port, user=user,
        identity=directory / "id_ed25519", ssh_config=directory / "ssh_config",
        known_hosts=directory / "known_hosts",
        nodes=tuple(f"node{i}" for i in range(1, nodes + 1)),
        gateways=tuple(f"gw{i}" for i in range(1, gateways + 1)),
        pid=proc.pid,
    )
    state = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(bed).items()}
    state["nodes"], state["gateways"] = len(bed.nodes), len(bed.gateways)
    (directory / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
    return bed


def load(directory: Path | str) -> Testbed:
    """Describe the testbed whose files are in ``directory``.

    :raises TestbedError: there is no testbed there, or its sshd is no longer running.
    """
    directory = Path(directory)
    try:
        state = json.loads((directory / STATE_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise TestbedError(f"no testbed in {directory}: start one with `shoal testbed up`") \
            from exc
    bed = Testbed(
        directory=Path(state["directory"]), host=state["host"], port=int(state["port"]),
        user=state["user"], identity=Path(state["identity"]),
        ssh_config=Path(state["ssh_config"]), known_hosts=Path(state["known_hosts"]),
        nodes=tuple(f"node{i}" for i in range(1, int(state["nodes"]) + 1)),
        gateways=tuple(f"gw{i}" for i in range(1, int(state["gateways"]) + 1)),
        pid=int(state["pid"]),
    )
    if not _alive(bed.pid):
        raise TestbedError(f"the testbed in {directory} is not running (sshd pid {bed.pid} "
                           "is gone): `shoal testbed down` cleans it up")
    return bed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(testbed: Testbed | Path | str) -> None:
    """Stop the testbed's sshd (and the sessions it serves) and remove its directory.

    Stopping one that is already gone only removes what is left of its files.
    """
    directory = testbed.directory if isinstance(testbed, Testbed) else Path(testbed)
    pid: int | None = testbed.pid if isinstance(testbed, Testbed) else None
    if pid is None:
        with contextlib.suppress(OSError, ValueError, KeyError):
            pid = int(json.loads((directory / STATE_FILE).read_text())["pid"])
    if pid is not None and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        _reap(pid)
    shutil.rmtree(directory, ignore_errors=True)


def _reap(pid: int) -> None:
    """Wait for ``pid`` to exit: as its parent if we are, else by watching it go."""
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.wait()
        return
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)  # not our child: no way to block on its exit
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def running(nodes: int = 50, gateways: int = 4,
            directory: Path | str | None = None) -> Iterator[Testbed]:
    """A testbed for the duration of a ``with`` block::

        with running(nodes=3) as bed:
            subprocess.run(bed.ssh_command("node3", "true"), check=True)
    """
    bed = start(directory, nodes=nodes, gateways=gateways)
    try:
        yield bed
    finally:
        stop(bed)
