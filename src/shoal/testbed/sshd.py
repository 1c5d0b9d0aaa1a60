"""A real OpenSSH ``sshd`` on 127.0.0.1 that many host aliases lead to.

:func:`start` fills a directory with everything the testbed needs (an ed25519 host key and
user key, ``sshd_config``, ``authorized_keys``, an ``ssh_config`` with the aliases,
``known_hosts`` with the real host key, the sshd log and a ``testbed.json`` state file),
runs ``sshd -D -e`` on free loopback ports (one by default, ``listeners`` of them when
asked) and returns once sshd logs that it listens on each.
:func:`stop` ends it and removes those files; :func:`load` describes a running testbed
from its state file, from any process.

A testbed started with ``detach=False`` (the default, used by the pytest fixture) lives
in its starter's session and, when started from the main thread, gets SIGTERM when that
process dies, even by SIGKILL. ``detach=True`` (``shoal testbed up``) puts sshd in a
session of its own, so that it outlives the command that started it.

Only loopback is ever used. Imports nothing from shoal but :mod:`shoal.errors`,
:mod:`shoal.nodeset` and its own package.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pwd
import resource
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shoal.errors import TestbedError
from shoal.nodeset import fold
from shoal.testbed import config as cf
from shoal.testbed import sudo as sudo_rule
from shoal.testbed.tools import find_sshd, find_tool, run_tool, sshd_version
from shoal.testbed.user import can_read, login_user

__all__ = ["Testbed", "default_directory", "load", "running", "start", "stop"]

_READY_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0
#: Free ports to try when another program takes the probed one before sshd binds it.
_PORT_TRIES = 5
#: File descriptors sshd may use: 1,000 connections being set up hold one pipe each.
_NOFILE = 65536
_PR_SET_PDEATHSIG = 1
#: The sshd processes this process started, by pid, so that stop() reaps them.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Testbed:
    """A running loopback sshd and the files that tell clients how to reach it.

    Every alias in ``nodes`` (``node1``…``nodeN``) and ``gateways`` (``gw1``…``gwG``)
    leads to ``host``:``port`` through ``ssh_config``, which logs in as ``user`` with the
    private key ``identity`` and checks the host key strictly against ``known_hosts``.
    ``pid`` is the sshd listener. Its ``Host node* gw*`` patterns accept any name of that
    shape, even past N; ``down1``, ``down2``… are refused (nothing listens there).
    ``ports`` are all the ports sshd listens on, ``port`` first; ``known_hosts`` trusts
    its key on each (:func:`shoal.testbed.clients.spread_routes` spreads aliases over them).
    """

    __test__ = False  # not a pytest test class, whatever its name

    directory: Path
    host: str
    ports: tuple[int, ...]
    user: str
    identity: Path
    ssh_config: Path
    known_hosts: Path
    nodes: tuple[str, ...]
    gateways: tuple[str, ...]
    pid: int

    def ssh_command(self, alias: str, *command: str) -> list[str]:
        """The ``ssh`` argument list that runs ``command`` on ``alias`` through the testbed.

        >>> bed = Testbed(Path("/t"), "127.0.0.1", (2222,), "u", Path("/t/id"),
        ...               Path("/t/ssh_config"), Path("/t/known_hosts"), ("node1",), (), 1)
        >>> bed.ssh_command("node1", "hostname")
        ['ssh', '-F', '/t/ssh_config', 'node1', 'hostname']
        >>> bed
        Testbed(directory='/t', port=2222, user='u', nodes='node1', gateways='', pid=1)
        """
        return ["ssh", "-F", str(self.ssh_config), alias, *command]

    @property
    def port(self) -> int:
        """The first port, the one the testbed's own ``ssh_config`` leads to."""
        return self.ports[0]

    @property
    def nodeset(self) -> str:
        """The node aliases as a folded node set, ``node[1-N]``."""
        return fold(",".join(self.nodes))

    @property
    def gatewayset(self) -> str:
        """The gateway aliases as a folded node set, ``gw[1-G]`` (empty without gateways)."""
        return fold(",".join(self.gateways)) if self.gateways else ""

    def __repr__(self) -> str:
        # Folded: a repr that lists 1,000 aliases helps nobody.
        more = f", listeners={len(self.ports)}" if len(self.ports) > 1 else ""
        return (f"Testbed(directory={str(self.directory)!r}, port={self.port}{more}, "
                f"user={self.user!r}, nodes={self.nodeset!r}, gateways={self.gatewayset!r}, "
                f"pid={self.pid})")


def default_directory() -> Path:
    """Where ``shoal testbed up`` keeps its files unless told otherwise: one per user."""
    return Path(tempfile.gettempdir()) / f"shoal-testbed-{os.getuid()}"


def start(
    directory: Path | str | None = None,
    nodes: int = 50,
    gateways: int = 4,
    user: str | None = None,
    *,
    port: int | None = None,
    listeners: int = 1,
    detach: bool = False,
    sshd: str | None = None,
    allow_from: tuple[str, ...] = (),
) -> Testbed:
    """Start a loopback sshd behind ``nodes`` node aliases and ``gateways`` gateway aliases.

    Returns once sshd has logged that it listens. On failure, everything it created is
    removed again. Run by root for its own account, it adds the sudo rule of
    :mod:`shoal.testbed.sudo`, which :func:`stop` removes.

    :param directory: where to keep the testbed's files. By default a fresh
        ``/tmp/shoal-testbed-XXXX`` (mode 0755), removed by :func:`stop`. A directory
        given is created if missing (and then removed by :func:`stop`); an existing one
        must be yours and not writable by others, and only the testbed's own files are
        removed from it. Logins are cheapest when the login user can read the directory;
        under a directory closed to it, root's sshd reads the keys in its stead.
    :param user: the account to log in as; by default ``shoal-test`` when run by root
        (created on first use, with empty shell start-up files), else the current user.
    :param port: the loopback port to listen on; by default a free one.
    :param listeners: how many loopback ports to listen on: ``port`` and free ones. Each
        has an accept queue of its own (a backlog of 128, fixed in OpenSSH), so that
        bursts of thousands of connections spread over them are not dropped.
    :param detach: let sshd outlive this process (``shoal testbed up``).
    :param sshd: the sshd program to run (default: ``sshd``, from /usr/sbin or ``PATH``).
    :param allow_from: loopback addresses logins must come from (default: any): a
        partition that only clients binding one of them can reach
        (:func:`shoal.testbed.config.sshd_config`).
    :raises TestbedError: sshd or ssh-keygen is missing, the directory or the account
        cannot be used, a testbed already runs in the directory, or sshd fails to start;
        the message ends with the first line sshd logged, or with the one that names a
        port it could not bind.
    """
    if nodes < 1 or gateways < 0 or listeners < 1:
        raise TestbedError(f"a testbed needs at least one node and one listener and no "
                           f"negative count (got nodes={nodes}, gateways={gateways}, "
                           f"listeners={listeners})")
    binary = find_sshd(sshd)
    keygen = find_tool("ssh-keygen", "openssh-client")
    account = login_user(user)
    path, made = _prepare_directory(directory)
    try:
        bed = _start_in(path, made, binary, keygen, account, nodes, gateways, port, listeners,
                        detach, allow_from)
    except BaseException:
        _remove_files(path, made)
        raise
    try:
        sudo_rule.install(bed.directory, bed.user)  # root, for its own account only
    except BaseException:
        stop(bed)
        raise
    return bed


def load(directory: Path | str) -> Testbed:
    """Describe the running testbed whose files are in ``directory``.

    :raises TestbedError: there is no testbed there, or its sshd no longer runs.
    """
    path = Path(os.path.abspath(directory))
    state = _read_state(path)
    if state is None:
        raise TestbedError(f"no testbed in {path}: start one with: shoal testbed up --dir {path}")
    bed = _from_state(state)
    if not _owned(bed.pid, state.get("started"), path):
        raise TestbedError(f"the testbed in {path} is not running (its sshd, pid {bed.pid}, "
                           f"is gone): clean up with: shoal testbed down --dir {path}")
    return bed


def stop(testbed: Testbed | Path | str) -> None:
    """Stop a testbed's sshd and remove the files it wrote.

    Sends SIGTERM to the sshd listener and waits for it to exit (SIGKILL after 10 s). The
    directory itself goes too when :func:`start` made it. Sessions still open end when
    their clients disconnect. Stopping a testbed that is already gone only removes what
    is left of its files; the login account stays, for the next testbed.
    """
    if isinstance(testbed, Testbed):
        path, pid = testbed.directory, testbed.pid
    else:
        path, pid = Path(os.path.abspath(testbed)), None
    state = _read_state(path)
    if state is not None and pid not in (None, state["pid"]):
        # Another testbed has started in the directory since: leave it alone.
        _terminate(pid, None, path)
        return
    started: int | None = None
    if state is not None:
        pid, started = state["pid"], state.get("started")
    if pid is not None:
        _terminate(pid, started, path)
    _remove_files(path, bool(state and state.get("made_directory")))
    sudo_rule.remove(path)


@contextlib.contextmanager
def running(
    nodes: int = 50,
    gateways: int = 4,
    *,
    directory: Path | str | None = None,
    user: str | None = None,
    listeners: int = 1,
    sshd: str | None = None,
    allow_from: tuple[str, ...] = (),
) -> Iterator[Testbed]:
    """A testbed for the duration of a ``with`` block (see :func:`start`)::

        with running(nodes=3) as bed:
            subprocess.run(bed.ssh_command("node3", "true"), check=True)
    """
    bed = start(directory, nodes=nodes, gateways=gateways, user=user, listeners=listeners,
                sshd=sshd, allow_from=allow_from)
    try:
        yield bed
    finally:
        stop(bed)


# -- the directory and its files ----------------------------------------------------------


def _prepare_directory(directory: Path | str | None) -> tuple[Path, bool]:
    """The absolute testbed directory, cleared of stale files, and whether we made it."""
    if directory is None:
        path = Path(tempfile.mkdtemp(prefix="shoal-testbed-"))
        path.chmod(0o755)  # sshd reads authorized_keys in it as the login user
        return path, True
    path = Path(os.path.abspath(directory))
    reason = cf.check_path(path)
    if reason is not None:
        raise TestbedError(f"cannot keep a testbed in {path}: {reason}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o755)
    except FileExistsError:
        pass
    else:
        path.chmod(0o755)
        return path, True
    # A directory that exists already: refuse what another user could tamper with, since
    # root's sshd reads its configuration from there.
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode):
        raise TestbedError(f"cannot keep a testbed in {path}: not a directory")
    if st.st_uid != os.geteuid():
        raise TestbedError(f"cannot keep a testbed in {path}: it belongs to uid {st.st_uid}, "
                           "not to you; remove it or choose another directory")
    if st.st_mode & stat.S_IWOTH:
        raise TestbedError(f"cannot keep a testbed in {path}: anyone can write to it; "
                           "choose a directory of its own")
    state = _read_state(path)
    if state is not None and _owned(state["pid"], state.get("started"), path):
        raise TestbedError(f"a testbed is already running in {path} (sshd pid {state['pid']}):"
                           f" stop it first with: shoal testbed down --dir {path}")
    made = bool(state and state.get("made_directory"))
    for name in cf.FILES:
        (path / name).unlink(missing_ok=True)
    return path, made


def _remove_files(path: Path, made: bool) -> None:
    """Remove the directory when the testbed made it, else only the files it wrote."""
    if made:
        shutil.rmtree(path, ignore_errors=True)
        return
    for name in cf.FILES:
        with contextlib.suppress(OSError):
            (path / name).unlink(missing_ok=True)


def _write(path: Path, text: str) -> None:
    """Write a file readable by all (the login user reads some), whatever the umask."""
    path.write_text(text)
    path.chmod(0o644)


def _keygen(keygen: str, path: Path, comment: str) -> str:
    """Generate an ed25519 key pair (private part 0600) and return its public key."""
    run_tool([keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
             f"ssh-keygen for {path}")
    return " ".join(Path(f"{path}.pub").read_text().split()[:2])


def _start_in(path: Path, made: bool, binary: str, keygen: str, account: pwd.struct_passwd,
              nodes: int, gateways: int, port: int | None, listeners: int, detach: bool,
              allow_from: tuple[str, ...] = ()) -> Testbed:
    """Write the keys and configuration into ``path`` and run sshd until it listens."""
    user = account.pw_name
    host_key = _keygen(keygen, path / cf.HOST_KEY, "shoal-testbed host")
    user_key = _keygen(keygen, path / cf.IDENTITY, "shoal-testbed user")
    _write(path / cf.AUTHORIZED_KEYS, f"{user_key} shoal-testbed user\n")
    keys_command = None
    if not can_read(path / cf.AUTHORIZED_KEYS, account):
        if os.geteuid() != 0:
            raise TestbedError(f"{path / cf.AUTHORIZED_KEYS} is not readable by you: "
                               "open the directories on the way to it (chmod u+rx)")
        # A directory closed to the login user (pytest's tmp_path): root's sshd reads
        # the keys for it, which costs a process per login.
        keys_command = find_tool("cat", "coreutils")
    if os.geteuid() == 0:
        # Privilege separation: sshd refuses to start as root without this directory.
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
    penalties = sshd_version(binary) >= (9, 8)
    attempt = 0
    while True:
        attempt += 1
        free = _free_ports(listeners if port is None else listeners - 1, port)
        chosen = free if port is None else (port, *free)
        _write(path / cf.SSHD_CONFIG, cf.sshd_config(path, chosen, user,
                                                     penalties_option=penalties,
                                                     keys_command=keys_command,
                                                     allow_from=allow_from))
        _write(path / cf.SSH_CONFIG, cf.ssh_config(path, chosen[0], user))
        _write(path / cf.KNOWN_HOSTS, cf.known_hosts(chosen, host_key))
        proc = _launch(binary, path, detach)
        try:
            _wait_listening(proc, path / cf.LOG, chosen)
            bed = Testbed(
                directory=path, host=cf.HOST, ports=chosen, user=user,
                identity=path / cf.IDENTITY, ssh_config=path / cf.SSH_CONFIG,
                known_hosts=path / cf.KNOWN_HOSTS,
                nodes=tuple(f"{cf.NODE_PREFIX}{i}" for i in range(1, nodes + 1)),
                gateways=tuple(f"{cf.GATEWAY_PREFIX}{i}" for i in range(1, gateways + 1)),
                pid=proc.pid,
            )
            _write_state(bed, made)
            return bed
        except BaseException as exc:
            _terminate(proc.pid, None, path)  # if it still runs: nothing may outlive a failure
            # A free port can be taken between the probe and sshd's bind: take others (the
            # one given stays: when it is the one taken, every try fails alike).
            if not (attempt < _PORT_TRIES and isinstance(exc, TestbedError)
                    and "Address already in use" in str(exc)
                    and (port is None or f"Bind to port {port} " not in str(exc))):
                raise


# -- the state file -------------------------------------------------------------------------


def _write_state(bed: Testbed, made: bool) -> None:
    """Record the testbed in ``testbed.json``, whole or not at all (``status`` may read it)."""
    state = {
        "directory": str(bed.directory), "host": bed.host, "ports": list(bed.ports),
        "user": bed.user, "nodes": len(bed.nodes), "gateways": len(bed.gateways), "pid": bed.pid,
        "started": _start_time(bed.pid), "made_directory": made,
    }
    tmp = bed.directory / f"{cf.STATE_FILE}.tmp"
    _write(tmp, json.dumps(state, indent=2) + "\n")
    tmp.replace(bed.directory / cf.STATE_FILE)


def _read_state(path: Path) -> dict[str, Any] | None:
    """The state recorded in ``path``, or ``None`` when there is none or it is damaged."""
    try:
        state = json.loads((path / cf.STATE_FILE).read_text())
        if "ports" not in state and isinstance(state.get("port"), int):
            state["ports"] = [state.pop("port")]  # written before testbeds had several
        for key, kind in (("directory", str), ("host", str), ("ports", list), ("user", str),
                          ("nodes", int), ("gateways", int), ("pid", int)):
            if not isinstance(state[key], kind):
                return None
        if not state["ports"] or not all(isinstance(p, int) for p in state["ports"]):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return dict(state)


def _from_state(state: dict[str, Any]) -> Testbed:
    """The :class:`Testbed` a state file describes."""
    path = Path(state["directory"])
    return Testbed(
        directory=path, host=state["host"], ports=tuple(state["ports"]), user=state["user"],
        identity=path / cf.IDENTITY, ssh_config=path / cf.SSH_CONFIG,
        known_hosts=path / cf.KNOWN_HOSTS,
        nodes=tuple(f"{cf.NODE_PREFIX}{i}" for i in range(1, state["nodes"] + 1)),
        gateways=tuple(f"{cf.GATEWAY_PREFIX}{i}" for i in range(1, state["gateways"] + 1)),
        pid=state["pid"],
    )


# -- the sshd process -----------------------------------------------------------------------


def _free_ports(count: int, taken: int | None = None) -> tuple[int, ...]:
    """``count`` distinct loopback ports nobody listens on right now, ``taken`` excluded."""
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        while len(ports) < count:
            # Held open until all are chosen, so that the kernel hands out each once.
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((cf.HOST, 0))
            if sock.getsockname()[1] != taken:
                ports.append(int(sock.getsockname()[1]))
        return tuple(ports)


def _child_setup(detach: bool) -> Callable[[], None]:
    """What the forked child does before it becomes sshd.

    It raises the file limit for 1,000 connections, and unless detached asks the kernel
    for SIGTERM when its parent dies. That signal follows the parent *thread*, so it is
    asked for only when starting from the main thread.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = _NOFILE if hard == resource.RLIM_INFINITY else min(hard, _NOFILE)
    prctl: Callable[..., int] | None = None
    if not detach and sys.platform == "linux" and threading.current_thread() is \
            threading.main_thread():
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    parent = os.getpid()

    def setup() -> None:
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
            if os.getppid() != parent:  # the parent died before the request
                os._exit(1)

    return setup


def _launch(binary: str, path: Path, detach: bool) -> subprocess.Popen[bytes]:
    """Run ``sshd -D -e`` on the testbed's config, logging to ``sshd.log``."""
    with (path / cf.LOG).open("wb") as log:
        proc = subprocess.Popen(
            [binary, "-D", "-e", "-f", str(path / cf.SSHD_CONFIG)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/",
            start_new_session=detach, preexec_fn=_child_setup(detach),
        )
    _CHILDREN[proc.pid] = proc
    return proc


def _first_line(log: bytes, returncode: int) -> str:
    """The first line sshd logged, or its exit status when it logged nothing."""
    lines = log.decode("utf-8", "replace").strip().splitlines()
    return lines[0] if lines else f"exit status {returncode}"


def _wait_listening(proc: subprocess.Popen[bytes], log_path: Path,
                    ports: Sequence[int]) -> None:
    """Wait until sshd logs "Server listening on" for each port; fail with its log if it
    exits first, or with its words as soon as it cannot bind one of them."""
    deadline = time.monotonic() + _READY_TIMEOUT
    where = f"{cf.HOST}:{','.join(map(str, ports))}"
    log = b""
    with log_path.open("rb") as stream:
        while True:
            log += stream.read()
            if log.count(b"Server listening on ") == len(ports):
                return
            complete = log[: log.rfind(b"\n") + 1].decode("utf-8", "replace")
            failed = next((line for line in complete.splitlines()
                           if line.startswith("Bind to port ")), None)
            if failed is not None:  # the caller ends sshd, which may run on the others
                raise TestbedError(f"sshd failed to start on {where}: {failed}")
            if proc.poll() is not None:
                log += stream.read()
                _CHILDREN.pop(proc.pid, None)
                raise TestbedError(f"sshd failed to start on {where}: "
                                   f"{_first_line(log, proc.returncode)}")
            left = deadline - time.monotonic()
            if left <= 0:
                _terminate(proc.pid, None, log_path.parent)
                raise TestbedError(f"sshd did not listen on {where} within "
                                   f"{_READY_TIMEOUT:g}s: see its log, {log_path}")
            # Blocks until sshd exits, waking every 10 ms to read what it logged.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=min(0.01, left))


def _start_time(pid: int) -> int | None:
    """When the live process ``pid`` started (clock ticks after boot); ``None`` if gone.

    A zombie counts as gone: a detached sshd's new parent may never reap it.
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # from field 3, the state
    return None if fields[0] in ("Z", "X") else int(fields[19])


def _owned(pid: int, started: int | None, path: Path) -> bool:
    """Whether ``pid`` is still the testbed's sshd, and not a process that reused its pid."""
    if pid in _CHILDREN:
        return _CHILDREN[pid].poll() is None
    if started is not None or not _alive(pid, None):
        return _alive(pid, started)
    with contextlib.suppress(OSError):
        return str(path / cf.SSHD_CONFIG).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    return False


def _terminate(pid: int, started: int | None, path: Path) -> None:
    """SIGTERM the testbed's sshd and wait for it to exit; SIGKILL it if it lingers."""
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        return
    if not _owned(pid, started, path):
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if _wait_gone(pid, started):
            return


def _wait_gone(pid: int, started: int | None) -> bool:
    """Wait until ``pid`` (not our child) exits; ``False`` if it outlives the timeout."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # gone already, or a kernel without pidfds: poll /proc instead
        deadline = time.monotonic() + _STOP_TIMEOUT
        while _alive(pid, started) and time.monotonic() < deadline:
            time.sleep(0.01)
    else:
        try:
            select.select([pidfd], [], [], _STOP_TIMEOUT)  # readable once it has exited
        finally:
            os.close(pidfd)
    return not _alive(pid, started)


def _alive(pid: int, started: int | None) -> bool:
    """Whether ``pid`` runs and, when ``started`` is known, is the process that started then."""
    now = _start_time(pid)
    return now is not None and started in (None, now)
