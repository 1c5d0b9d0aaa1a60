"""Fan-out benchmark: shoal against clush, pdsh, parallel-ssh, Fabric, Ansible and asyncssh.

One loopback testbed (:mod:`shoal.testbed`: a real OpenSSH sshd on 127.0.0.1 behind the
aliases ``node1``…``nodeN``) serves every client in the same run. Each client runs
``echo ok`` on H distinct aliases at fan-out F, in a subprocess of its own, with its
default settings except what it needs to reach the testbed (the ssh config, or port, user,
key and known_hosts where a client does not read ssh config). sshd listens on
:data:`LISTENERS` loopback ports, over which every client's aliases are spread by their
last digit (:func:`spread_target`, shared by the other benchmarks): one accept queue of
128 would drop the handshakes of a client that starts connections faster than sshd accepts
them, which N real machines would not. For each run the parent measures:

* wall time, from spawning the client to its exit;
* client CPU, user + sys of the client and every descendant (``os.wait4``; the ssh
  processes of clush, pdsh and Ansible included, and Ansible's ControlPersist masters,
  which outlive it: the parent is a child subreaper, ends them after the run and counts
  them too), reported per host;
* peak RSS: ``ru_maxrss`` of that process tree (taken by GNU time, see
  :func:`run_process`), i.e. its *largest single process*; and the peak of the *summed*
  RSS of the tree, sampled every 0.5 s (shared pages counted once per process, so an
  upper bound);
* sshd CPU per host (the listener's reaped children, from ``/proc``) and the logins sshd
  logged, which must equal H: every host is a connection of its own;
* the share of the machine other programs kept busy meanwhile (``/proc/stat``): a run
  above ``--max-other-load`` is measured again, up to 3 times, and the quietest kept.

A run is correct when the client reports H ``ok`` results and sshd saw H logins; anything
else prints a ``FAIL`` line and shows as FAIL in the table, never as a number. shoal is
measured twice: ``shoal run`` (the CLI, cold) and the library (``AsyncTask``): its first
run (cold, timed from process spawn) and then 10 runs over the open connections (warm,
per run). Either may not exist yet: an error there gives "n/a" and the run goes on.

Run (after ``./bootstrap setup``; the peers are the ``bench`` extra, pdsh and GNU time
come from apt)::

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/fanout_bench.py                         # prints the tables
    .venv/bin/python bench/fanout_bench.py --hosts 100,200,500,1000 --fanouts 64,256 --write
    .venv/bin/python bench/fanout_bench.py --hosts 100 --clients shoal,clush --repeat 3

``--write`` replaces the Fan-out section of bench/RESULTS.md. All traffic goes to the
testbed on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import importlib
import json
import logging
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from machine import describe

if TYPE_CHECKING:
    from shoal.testbed import Testbed

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SECTION_TITLE = "## Fan-out"
COMMAND = "echo ok"
WARM_RUNS = 10
SAMPLE_EVERY = 0.5
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")
_PR_SET_CHILD_SUBREAPER = 36
#: GNU time, which measures the peak RSS of the client's process tree (Debian: time).
TIME = "/usr/bin/time"

#: Every client, in table order. "shoal-lib" gives two rows: cold and warm.
CLIENTS = ("shoal", "shoal-lib", "asyncssh", "clush", "pdsh", "parallel-ssh", "fabric",
           "ansible")
LABELS = {
    "shoal": "shoal run",
    "shoal-lib": "shoal library, cold",
    "shoal-lib-warm": f"shoal library, warm (mean of {WARM_RUNS})",
    "asyncssh": "asyncssh loop",
    "clush": "clush",
    "pdsh": "pdsh",
    "parallel-ssh": "parallel-ssh",
    "fabric": "Fabric",
    "ansible": "Ansible ad-hoc",
}
#: Clients that fork the system ssh, and so negotiate what OpenSSH's ssh negotiates.
OPENSSH_CLIENTS = ("clush", "pdsh", "ansible")


# -- what a child needs to reach the testbed ------------------------------------------------


#: The loopback ports the benchmarks' testbed listens on. Each has an accept queue of
#: 128 connections (sshd's backlog, fixed in OpenSSH); a client that starts hundreds at
#: once (a tree's gateways: 64 each) overflows one, the kernel drops the handshakes and
#: the clients retry them 1, 3, 7… s later, where N real machines would each accept their
#: own. Spread over 8 (:func:`spread_target`), 2,000 nodes meet no such wait.
LISTENERS = 8


@dataclass(frozen=True)
class Target:
    """How to reach the testbed: the ssh config, and its contents for clients that need them.

    ``digit_ports`` is the port of an alias by its last digit (index 0 to 9), the one the
    config's ``Host`` blocks give it, for clients that read no ssh config (:meth:`port_of`).
    """

    ssh_config: str
    host: str
    digit_ports: tuple[int, ...]
    user: str
    identity: str
    known_hosts: str

    def port_of(self, alias: str) -> int:
        """The testbed port of ``alias`` (``node7``), as the ssh config routes it."""
        return self.digit_ports[int(alias[-1])]

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> Target:
        fields = json.loads(text)
        return cls(**{**fields, "digit_ports": tuple(fields["digit_ports"])})


def spread_target(bed: Testbed, directory: Path) -> Target:
    """How every client reaches ``bed``: client files in ``directory`` whose ``Host``
    blocks spread the aliases over its ports by their last digit
    (:func:`shoal.testbed.clients.spread_routes`), and that rule for the others."""
    from shoal.testbed.clients import client_files, spread_routes
    from shoal.testbed.config import listener_of

    files = client_files(directory, spread_routes(bed))
    return Target(ssh_config=str(files.ssh_config), host=bed.host,
                  digit_ports=tuple(bed.ports[listener_of(str(digit), len(bed.ports))]
                                    for digit in range(10)),
                  user=bed.user, identity=str(bed.identity), known_hosts=str(files.known_hosts))


def aliases(n: int) -> list[str]:
    """The first ``n`` testbed node aliases."""
    return [f"node{i}" for i in range(1, n + 1)]


# -- children: one per measured run; each writes a JSON report to --result -------------------


def child_asyncssh(target: Target, n: int, fanout: int) -> dict[str, Any]:
    """The floor for a Python client: asyncssh.connect + run per alias, under a semaphore."""
    import asyncssh

    async def main() -> dict[str, Any]:
        sem = asyncio.Semaphore(fanout)

        async def one(alias: str) -> str | None:
            async with sem:
                try:
                    async with asyncssh.connect(alias, config=[target.ssh_config]) as conn:
                        result = await conn.run(COMMAND, check=False)
                except (OSError, asyncssh.Error) as exc:
                    return f"{alias}: {exc!r}"
                if result.exit_status == 0 and result.stdout == "ok\n":
                    return None
                return f"{alias}: rc={result.exit_status} stdout={result.stdout!r}"

        problems = await asyncio.gather(*(one(a) for a in aliases(n)))
        errors = [p for p in problems if p is not None]
        return {"ok": n - len(errors), "errors": errors[:5]}

    return asyncio.run(main())


def child_parallel_ssh(target: Target, n: int, fanout: int) -> dict[str, Any]:
    """parallel-ssh (native client, libssh2): N host entries for 127.0.0.1, one per alias."""
    from pssh.clients import ParallelSSHClient
    from pssh.config import HostConfig

    # It reads no ssh config: the port, user and key come through host_config, and the
    # alias keeps the N entries apart (sshd's login count checks they are N connections).
    config = [HostConfig(user=target.user, port=target.port_of(alias),
                         private_key=target.identity, alias=alias) for alias in aliases(n)]
    client = ParallelSSHClient([target.host] * n, host_config=config, pool_size=fanout)
    output = client.run_command(COMMAND, stop_on_errors=False)
    client.join(output)
    ok: set[str] = set()
    errors: list[str] = []
    for host in output:
        lines = list(host.stdout) if host.exception is None and host.stdout else []
        if host.exception is None and host.exit_code == 0 and lines == ["ok"]:
            ok.add(str(host.alias))
        else:
            errors.append(f"{host.alias}: {host.exception!r} rc={host.exit_code} {lines!r}")
    return {"ok": len(ok), "errors": errors[:5]}


def child_fabric(target: Target, n: int, fanout: int) -> dict[str, Any]:
    """Fabric's ThreadingGroup over the aliases, ssh config loaded. It has no fan-out limit.

    Its output goes to stdout (Fabric's default), where the parent counts the "ok" lines:
    the GroupResult cannot be counted, since it is keyed by connections that compare equal
    when their aliases resolve to the same address, port and user (1 entry for N hosts).
    """
    from fabric import Config, ThreadingGroup
    from fabric.exceptions import GroupException

    del fanout  # Fabric starts one thread per host, all at once
    group = ThreadingGroup(*aliases(n), config=Config(runtime_ssh_path=target.ssh_config))
    errors: list[str] = []
    try:
        group.run(COMMAND)
    except GroupException as exc:
        errors = [f"{cxn.original_host}: {res!r}" for cxn, res in exc.result.items()
                  if isinstance(res, BaseException)]
    finally:
        group.close()
    return {"ok": None, "errors": errors[:5]}


def child_shoal_lib(target: Target, n: int, fanout: int) -> dict[str, Any]:
    """shoal's engine as a library: one cold run, then WARM_RUNS over the open connections."""
    from shoal.hosts import ConnectOptions
    from shoal.nodeset import NodeSet

    engine, ssh = load_shoal_modules()
    names = aliases(n)
    options = ConnectOptions(ssh_config=(Path(target.ssh_config),))

    async def main() -> dict[str, Any]:
        async with engine.AsyncTask(NodeSet(f"node[1-{n}]"), ssh.SSHTransport(options),
                                    fanout=fanout) as task:
            result = await task.run(COMMAND)
            cold_end = time.monotonic()
            cold_usage = resource.getrusage(resource.RUSAGE_SELF)
            ok, errors = count_results(result, names)
            warm_ok: list[int] = []
            start = time.monotonic()
            for _ in range(WARM_RUNS):
                result = await task.run(COMMAND)
                good, bad = count_results(result, names)
                warm_ok.append(good)
                errors += bad
            warm_wall = (time.monotonic() - start) / WARM_RUNS
        warm_usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "ok": ok, "errors": errors[:5], "cold_end": cold_end,
            "cold_cpu": cpu_seconds(cold_usage), "cold_maxrss": cold_usage.ru_maxrss,
            "warm_ok": min(warm_ok), "warm_wall": warm_wall,
            "warm_cpu": (cpu_seconds(warm_usage) - cpu_seconds(cold_usage)) / WARM_RUNS,
        }

    return asyncio.run(main())


def load_shoal_modules() -> tuple[Any, Any]:
    """The modules ``shoal.engine`` and ``shoal.hosts.ssh``, imported by name.

    They are being written: imported this way, this file lints the same (import order)
    whether they exist yet or not.
    """
    return importlib.import_module("shoal.engine"), importlib.import_module("shoal.hosts.ssh")


def count_results(result: object, names: Sequence[str]) -> tuple[int, list[str]]:
    """Count the nodes of a shoal task result whose command printed "ok" and exited 0.

    Accepts a mapping of node to result, or an iterable of results, where each result
    has ``node``, ``rc`` (or ``exit_status``) and ``stdout`` (str or bytes).
    """
    values = result.values() if hasattr(result, "values") else result
    if not isinstance(values, Iterable):
        raise TypeError(f"cannot read a task result of type {type(result).__name__}")
    ok: set[str] = set()
    errors: list[str] = []
    for item in values:
        node = str(getattr(item, "node", len(ok) + len(errors)))
        rc = getattr(item, "rc", getattr(item, "exit_status", None))
        out = getattr(item, "stdout", None)
        if isinstance(out, bytes):
            out = out.decode("utf-8", "replace")
        if rc == 0 and isinstance(out, str) and out.strip() == "ok":
            ok.add(node)
        else:
            errors.append(f"{node}: rc={rc} stdout={out!r} error={getattr(item, 'error', None)}")
    if not ok and not errors:
        raise TypeError(f"no node results in a task result of type {type(result).__name__}")
    unknown = ok - set(names)
    if unknown and all(isinstance(getattr(i, "node", None), str) for i in values):
        errors.append(f"results for nodes never asked for: {sorted(unknown)[:3]}")
    return len(ok), errors


CHILDREN: dict[str, Callable[[Target, int, int], dict[str, Any]]] = {
    "asyncssh": child_asyncssh,
    "parallel-ssh": child_parallel_ssh,
    "fabric": child_fabric,
    "shoal-lib": child_shoal_lib,
}


# -- key-exchange probes (one connection each, in a child) -----------------------------------


class _Grep(logging.Handler):
    """Keeps the first match of a pattern in the log messages it sees."""

    def __init__(self, pattern: str) -> None:
        super().__init__(logging.DEBUG)
        self.pattern = re.compile(pattern)
        self.found: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        match = self.pattern.search(record.getMessage())
        if match and self.found is None:
            self.found = match[1]


def _listen_log(name: str, pattern: str) -> _Grep:
    grep = _Grep(pattern)
    logger = logging.getLogger(name)
    logger.addHandler(grep)
    logger.setLevel(logging.DEBUG)
    return grep


def probe_asyncssh(target: Target) -> dict[str, Any]:
    import asyncssh
    from asyncssh.kex import get_default_kex_algs

    asyncssh.set_debug_level(2)
    grep = _listen_log("asyncssh", r"Key exchange alg: (\S+)")

    async def main() -> None:
        async with asyncssh.connect("node1", config=[target.ssh_config]) as conn:
            await conn.run("true", check=True)

    asyncio.run(main())
    first = next(a.decode() for a in get_default_kex_algs() if not a.startswith(b"gss-"))
    return {"kex": grep.found, "first": first}


def probe_shoal_lib(target: Target) -> dict[str, Any]:
    import asyncssh
    from asyncssh.kex import get_default_kex_algs

    from shoal.hosts import ConnectOptions

    _, ssh = load_shoal_modules()
    asyncssh.set_debug_level(2)
    grep = _listen_log("asyncssh", r"Key exchange alg: (\S+)")

    async def main() -> None:
        transport = ssh.SSHTransport(ConnectOptions(ssh_config=(Path(target.ssh_config),)))
        conn = await transport.connect("node1")
        await conn.close()
        await transport.close()

    asyncio.run(main())
    first = next(a.decode() for a in get_default_kex_algs() if not a.startswith(b"gss-"))
    return {"kex": grep.found, "first": first}


def probe_fabric(target: Target) -> dict[str, Any]:
    import paramiko
    from fabric import Config, Connection

    grep = _listen_log("paramiko.transport", r"^Kex: (\S+)")
    with Connection("node1", config=Config(runtime_ssh_path=target.ssh_config)) as cxn:
        cxn.run("true", hide=True)
    left, right = socket.socketpair()
    with left, right:  # a transport never started, only asked for its defaults
        first = paramiko.Transport(left).get_security_options().kex[0]
    return {"kex": grep.found, "first": first}


def probe_parallel_ssh(target: Target) -> dict[str, Any]:
    from pssh.clients.native import SSHClient
    from ssh2.session import LIBSSH2_METHOD_KEX
    from ssh2.utils import version

    client = SSHClient(target.host, port=target.port_of("node1"), user=target.user,
                       pkey=target.identity, num_retries=1)
    kex = client.session.methods(LIBSSH2_METHOD_KEX)
    first = client.session.supported_algs(LIBSSH2_METHOD_KEX)[0]
    client.disconnect()
    return {"kex": kex, "first": first, "libssh2": version().decode()}


PROBES: dict[str, Callable[[Target], dict[str, Any]]] = {
    "asyncssh": probe_asyncssh,
    "shoal-lib": probe_shoal_lib,
    "fabric": probe_fabric,
    "parallel-ssh": probe_parallel_ssh,
}


def child_main(name: str, target: Target, n: int, fanout: int, result: Path) -> None:
    """Run one child or probe and write its JSON report (or the error) to ``result``."""
    try:
        if name.startswith("probe-"):
            report = PROBES[name.removeprefix("probe-")](target)
        else:
            report = CHILDREN[name](target, n, fanout)
    except BaseException as exc:
        result.write_text(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        raise
    result.write_text(json.dumps(report))


# -- the parent: processes, CPU, memory and sshd accounting ----------------------------------


def cpu_seconds(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def own_cpu() -> float:
    """CPU seconds this process has used (the RSS sampler included)."""
    return cpu_seconds(resource.getrusage(resource.RUSAGE_SELF))


def raise_nofile() -> tuple[int, int]:
    """Raise the open-files soft limit to the hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def become_subreaper() -> None:
    """Adopt the orphans of our children (Ansible's ssh masters), to end and count them."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def is_sshd(pid: int) -> bool:
    """Whether ``pid`` is one of sshd's processes (its name, readable even as a zombie)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().startswith("sshd")
    except OSError:
        return False


def children_of(pid: int) -> list[int]:
    """The live (or zombie) children of ``pid``, from /proc."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
    return found


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


class TreeRss:
    """Samples the summed RSS of our descendants, sshd's tree excepted, in a thread."""

    def __init__(self, exclude: int) -> None:
        self.exclude = exclude
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            self.peak = max(self.peak, self.sample())

    def sample(self) -> int:
        total, todo = 0, [p for p in children_of(os.getpid())
                          if p != self.exclude and not is_sshd(p)]
        while todo:
            pid = todo.pop()
            total += rss_bytes(pid)
            todo += children_of(pid)
        return total


@dataclass
class Process:
    """One finished client process and what the kernel said it used."""

    wall: float
    cpu: float
    maxrss_kib: int
    tree_rss: int
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    orphans: int
    started: float


def run_process(argv: Sequence[str], *, env: dict[str, str], cwd: Path, timeout: float,
                sshd_pid: int) -> Process:
    """Run ``argv`` to completion; account for it and every descendant, orphans included.

    The client runs under GNU time, whose ``%M`` is the ``ru_maxrss`` of the client's tree.
    Our own ``wait4`` could not give it: Linux credits an exec'ing process with the peak
    RSS of the memory it leaves, which after a fork from this interpreter is ours (a
    37 MiB floor under pdsh's few MiB). GNU time is small, so its floor is about 1 MiB.
    """
    out_path, err_path, rss_path = cwd / "stdout.txt", cwd / "stderr.txt", cwd / "maxrss.txt"
    timed = [TIME, "-f", "%M", "-o", str(rss_path), *argv]
    with out_path.open("wb") as out, err_path.open("wb") as err, TreeRss(sshd_pid) as tree:
        started = time.monotonic()
        proc = subprocess.Popen(timed, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=env, cwd=cwd, start_new_session=True)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    cpu = cpu_seconds(usage)
    maxrss = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        maxrss = int(rss_path.read_text().split()[-1])  # after "Command exited with …"
    orphans = reap_orphans(sshd_pid)
    for extra in orphans:
        cpu += cpu_seconds(extra)
        maxrss = max(maxrss, extra.ru_maxrss)
    return Process(wall=wall, cpu=cpu, maxrss_kib=maxrss, tree_rss=tree.peak,
                   returncode=proc.returncode, stdout=out_path.read_text(errors="replace"),
                   stderr=err_path.read_text(errors="replace"), timed_out=timed_out.is_set(),
                   orphans=len(orphans), started=started)


def reap_orphans(sshd_pid: int, grace: float = 10.0) -> list[resource.struct_rusage]:
    """End the client's processes that outlived it (adopted by us) and collect their usage.

    sshd's own processes, adopted when their parent ended first, are left to :class:`Sshd`.
    """
    pids = [p for p in children_of(os.getpid()) if p != sshd_pid and not is_sshd(p)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    usages: list[resource.struct_rusage] = []
    deadline = time.monotonic() + grace
    for pid in pids:
        while True:
            try:
                done, _, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done:
                usages.append(usage)
                break
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
    return usages


@dataclass
class Metered:
    """One client run, with what the server did meanwhile (:func:`metered_run`)."""

    proc: Process
    logins: int  #: logins sshd logged during the run
    server_cpu: float  #: CPU seconds of the server side
    other_load: float  #: share of the machine busy with neither the run, sshd nor us
    settled: bool  #: sshd's sessions ended after the client exited


def metered_run(sshd: Sshd, argv: Sequence[str], *, env: dict[str, str], cwd: Path,
                timeout: float, server_cpu: Callable[[], float] | None = None,
                during: contextlib.AbstractContextManager[Any] | None = None) -> Metered:
    """Run ``argv`` (:func:`run_process`) between two quiet points of ``sshd``, and
    account for the server and for other users' work on the machine meanwhile.

    :param server_cpu: the server side's CPU seconds so far (default: ``sshd.cpu``).
    :param during: a context (a sampler) entered around the run and the settling.
    """
    server = server_cpu or sshd.cpu
    sshd.quiesce()
    offset, server_before = sshd.log_size(), server()
    busy_before, self_before = machine_busy(), own_cpu()
    window = time.monotonic()
    with during or contextlib.nullcontext():
        proc = run_process(argv, env=env, cwd=cwd, timeout=timeout, sshd_pid=sshd.pid)
        settled = sshd.quiesce()
    logins = sshd.logins_since(offset)
    spent = server() - server_before
    # What the machine did besides the client, sshd and this script: other users' work.
    other = machine_busy() - busy_before - proc.cpu - spent - (own_cpu() - self_before)
    share = max(0.0, other) / ((time.monotonic() - window) * (os.cpu_count() or 1))
    return Metered(proc, logins, spent, share, settled)


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy in processes since boot (/proc/stat).

    Interrupt time is left out: loopback TCP runs there for the client and sshd alike,
    charged to no process. Time stolen by the hypervisor is in: it is others' work.
    """
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, _irq, _softirq, steal = (
            int(v) for v in f.readline().split()[1:9])
    return (user + nice + system + steal) / TICK


class Sshd:
    """The testbed's sshd, seen from outside: CPU of its reaped children, logins it logged.

    A session process whose parent ends first (a client that closes its connection at
    once) is adopted by this script, a subreaper: :meth:`quiesce` reaps those and counts
    them as sshd's, so they are neither lost nor charged to the next client.
    """

    def __init__(self, pid: int, log: Path) -> None:
        self.pid = pid
        self.log = log
        self.adopted_cpu = 0.0

    def cpu(self) -> float:
        """User + sys seconds of the listener, of the children it has reaped and of the
        adopted ones reaped here."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(v) for v in fields[11:15]) / TICK + self.adopted_cpu

    def adopted(self) -> list[int]:
        """sshd processes this script adopted and has not reaped yet."""
        return [p for p in children_of(os.getpid()) if p != self.pid and is_sshd(p)]

    def reap_adopted(self) -> None:
        for pid in self.adopted():
            with contextlib.suppress(ChildProcessError):
                done, _, usage = os.wait4(pid, os.WNOHANG)
                if done:
                    self.adopted_cpu += cpu_seconds(usage)

    def log_size(self) -> int:
        return self.log.stat().st_size

    def logins_since(self, offset: int) -> int:
        with self.log.open("rb") as f:
            f.seek(offset)
            return f.read().count(b"Accepted publickey for ")

    def quiesce(self, timeout: float = 60.0) -> bool:
        """Wait until every connection's process has ended and been reaped."""
        deadline = time.monotonic() + timeout
        while True:
            self.reap_adopted()
            if not children_of(self.pid) and not self.adopted():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


# -- how each client is started and how its output is checked --------------------------------


@dataclass
class Spec:
    """A client's command line, environment and working directory for one run."""

    argv: list[str]
    env: dict[str, str]
    count: Callable[[str], int | None]


def base_env() -> dict[str, str]:
    """The environment every client gets: ours, without an agent or a no-bytecode flag."""
    env = dict(os.environ)
    env.pop("SSH_AUTH_SOCK", None)  # no agent: every client offers only the testbed key
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode caches, as on a user's machine
    return env


def count_gathered(text: str) -> int:
    """Nodes whose output is exactly "ok" in clush ``-b`` output (header "nodes (count)")."""
    total = 0
    blocks = re.split(r"^-{15}\n(.*) \((\d+)\)\n-{15}\n", text, flags=re.MULTILINE)
    for i in range(1, len(blocks) - 2, 3):
        if blocks[i + 2].strip() == "ok":
            total += int(blocks[i + 1])
    return total


def count_prefixed(text: str) -> int:
    """Distinct nodes with a "node: ok" line (pdsh, clush without -b)."""
    return len(set(re.findall(r"^(node\d+): ok$", text, flags=re.MULTILINE)))


def count_ansible(text: str) -> int:
    """Distinct nodes reported "CHANGED | rc=0" with the output "ok" by ``ansible -m raw``."""
    return len(set(re.findall(r"^(node\d+) \| CHANGED \| rc=0 >>\nok$", text,
                              flags=re.MULTILINE)))


def count_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line == "ok")


def spec_for(client: str, target: Target, n: int, fanout: int, work: Path,
             result: Path) -> Spec:
    """How to start ``client`` on the first ``n`` aliases at ``fanout``, in ``work``."""
    env = base_env()
    nodes = f"node[1-{n}]"
    config = target.ssh_config
    if client == "shoal":
        return Spec([str(BIN / "shoal"), "run", "-F", config, "-f", str(fanout), "-w", nodes,
                     "-b", COMMAND], env,
                    lambda out: max(count_gathered(out), count_prefixed(out)))
    if client == "clush":
        return Spec([str(BIN / "clush"), "-f", str(fanout), "-w", nodes, "-o", f"-F {config}",
                     "-b", COMMAND], env, count_gathered)
    if client == "pdsh":
        # pdsh's ssh module passes -l%u (the local user by default), which beats the
        # config's User: the login user must be given.
        env.update(PDSH_RCMD_TYPE="ssh", PDSH_SSH_ARGS_APPEND=f"-F {config}")
        return Spec(["pdsh", "-l", target.user, "-f", str(fanout), "-w", nodes, COMMAND],
                    env, count_prefixed)
    if client == "ansible":
        inventory = work / "inventory.ini"
        inventory.write_text(f"[all]\nnode[1:{n}]\n\n[all:vars]\n"
                             f"ansible_ssh_common_args={shlex.quote('-F ' + config)}\n")
        # A fresh ControlPath directory per run: masters left by an earlier run (they
        # persist 60 s by default) would turn this run into a warm one.
        env.update(ANSIBLE_SSH_CONTROL_PATH_DIR=str(work / "cp"), ANSIBLE_NOCOLOR="1")
        return Spec([str(BIN / "ansible"), "all", "-i", str(inventory), "-m", "raw",
                     "-a", COMMAND, "-f", str(fanout)], env, count_ansible)
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", client,
            "--target", target.to_json(), "--n", str(n), "--fanout", str(fanout),
            "--result", str(result)]
    if client == "fabric":
        return Spec(argv, env, count_lines)
    return Spec(argv, env, lambda out: None)


# -- one measurement -------------------------------------------------------------------------


@dataclass
class Row:
    """One cell row of the table: a client at a host count and fan-out."""

    client: str
    hosts: int
    fanout: int
    wall: float | None = None
    cpu: float | None = None
    maxrss_kib: int | None = None
    tree_rss: int | None = None
    sshd_cpu: float | None = None
    failure: str | None = None  # "FAIL …": the client ran and was wrong
    unavailable: str | None = None  # "n/a (error …)": the client could not run at all
    reason: str = ""  # why the client failed, in its own words
    other_load: float | None = None  # share of the machine busy with others' work
    failed_runs: int = 0

    @property
    def good(self) -> bool:
        return self.wall is not None


@dataclass
class Bench:
    """Everything one benchmark run shares: the testbed, the options, the scratch space."""

    target: Target
    sshd: Sshd
    timeout: float
    scratch: Path
    unavailable: dict[str, str] = field(default_factory=dict)
    failures: int = 0
    _serial: int = 0

    def measure_quiet(self, client: str, n: int, fanout: int, max_other: float,
                      attempts: int = 3) -> list[Row]:
        """:meth:`measure`, repeated while other programs disturb it; the quietest run counts.

        A run is repeated (up to ``attempts`` runs in all) when other programs kept more
        than ``max_other`` of the machine busy. Failed runs that are not kept still show,
        as a count, in the row kept.
        """
        tried: list[list[Row]] = []
        while len(tried) < attempts:
            rows = self.measure(client, n, fanout)
            tried.append(rows)
            other = rows[0].other_load
            if other is None or other <= max_other or rows[0].unavailable:
                break
            print(f"{LABELS[client]} hosts={n} fanout={fanout}: other load {other:.0%} "
                  f"> {max_other:.0%}, measuring again", file=sys.stderr, flush=True)
        kept = min(tried, key=lambda rows: rows[0].other_load or 0.0)
        for row in kept:
            row.failed_runs = sum(r[0].failed_runs for r in tried)
        return kept

    def measure(self, client: str, n: int, fanout: int) -> list[Row]:
        """Run ``client`` once; one row (two for shoal-lib: cold and warm)."""
        self._serial += 1
        work = self.scratch / f"{self._serial:04d}-{client}-{n}-{fanout}"
        work.mkdir()
        result = work / "result.json"
        spec = spec_for(client, self.target, n, fanout, work, result)
        rows = [Row(client, n, fanout)]
        if client == "shoal-lib":
            rows.append(Row("shoal-lib-warm", n, fanout))
        run = metered_run(self.sshd, spec.argv, env=spec.env, cwd=work, timeout=self.timeout)
        proc, logins, sshd_cpu, settled = run.proc, run.logins, run.server_cpu, run.settled
        for row in rows:
            row.other_load = run.other_load
        report: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            report = json.loads(result.read_text())
        ok = spec.count(proc.stdout)
        if ok is None:
            ok = report.get("ok")
        problems: list[str] = []
        if proc.timed_out:
            problems.append(f"killed after {self.timeout:g}s")
        if proc.returncode != 0:
            problems.append(f"exit status {proc.returncode}")
        if ok != n:
            problems.append(f"{ok}/{n} ok")
        if logins != n:
            problems.append(f"sshd saw {logins} logins for {n} hosts")
        if client == "shoal-lib" and report.get("warm_ok") != n:
            problems.append(f"warm runs: {report.get('warm_ok')}/{n} ok at worst")
        if not settled:
            problems.append("sshd sessions still open 60 s after the client exited")
        if problems:
            detail = "; ".join(problems)
            why = report.get("error") or last_line(proc.stderr) or "; ".join(
                report.get("errors", [])[:2])
            if client in ("shoal", "shoal-lib") and not ok:
                # Not written yet, or not working at all: n/a, and the peers go on.
                for row in rows:
                    row.unavailable = f"n/a (error: {why or detail})"
                return rows
            print(f"FAIL {LABELS[client]} hosts={n} fanout={fanout}: {detail}"
                  f"{f' — {why}' if why else ''} (wall {proc.wall:.2f} s, output in {work})",
                  file=sys.stderr, flush=True)
            self.failures += 1
            for row in rows:
                row.failure = f"FAIL ({detail})"
                row.reason = why
                row.failed_runs = 1
            return rows
        cold = rows[0]
        cold.wall, cold.cpu = proc.wall, proc.cpu
        cold.maxrss_kib, cold.tree_rss = proc.maxrss_kib, proc.tree_rss
        cold.sshd_cpu = sshd_cpu
        if client == "shoal-lib":
            # The cold run ends inside the process: timed from spawn to its end (the
            # child's monotonic clock is the system's), CPU and RSS as of then.
            cold.wall = float(report["cold_end"]) - proc.started
            cold.cpu, cold.maxrss_kib = float(report["cold_cpu"]), int(report["cold_maxrss"])
            cold.tree_rss = cold.sshd_cpu = None
            warm = rows[1]
            warm.wall, warm.cpu = float(report["warm_wall"]), float(report["warm_cpu"])
            warm.maxrss_kib = proc.maxrss_kib
        return rows


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else ""


def best(rows: Sequence[Row]) -> Row:
    """The run with the best wall time, with the count of failed runs among all."""
    good = [r for r in rows if r.good]
    failed = sum(r.failed_runs for r in rows)
    chosen = min(good, key=lambda r: r.wall or 0.0) if good else rows[-1]
    chosen.failed_runs = failed
    return chosen


# -- kex, versions, limits -------------------------------------------------------------------


def run_text(argv: Sequence[str], env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False,
                          stdin=subprocess.DEVNULL, timeout=120)
    return proc.stdout + proc.stderr


def openssh_kex(target: Target) -> dict[str, Any]:
    """What the system ssh negotiates with the testbed, and its own first choice."""
    verbose = run_text(["ssh", "-v", "-F", target.ssh_config, "node1", "true"])
    match = re.search(r"kex: algorithm: (\S+)", verbose)
    settings = run_text(["ssh", "-G", "-F", target.ssh_config, "node1"])
    first = re.search(r"^kexalgorithms ([^,\s]+)", settings, flags=re.MULTILINE)
    return {"kex": match[1] if match else None, "first": first[1] if first else None}


def probe_kex(clients: Sequence[str], target: Target, scratch: Path) -> dict[str, str]:
    """The key exchange each client negotiates with the testbed (and would prefer)."""
    found: dict[str, str] = {}
    openssh: dict[str, Any] | None = None
    for client in clients:
        if client in OPENSSH_CLIENTS or client == "shoal":
            if openssh is None:
                openssh = openssh_kex(target)
            report = dict(openssh)
            if client == "shoal":
                report = {"kex": None, "first": None, "note": "as the shoal library"}
        else:
            result = scratch / f"probe-{client}.json"
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child",
                            f"probe-{client}", "--target", target.to_json(), "--n", "1",
                            "--fanout", "1", "--result", str(result)],
                           capture_output=True, env=base_env(), check=False, timeout=120)
            try:
                report = json.loads(result.read_text())
            except (OSError, ValueError):
                report = {"error": "the probe wrote no report"}
        if "error" in report:
            found[client] = f"n/a ({report['error'][:80]})"
        elif report.get("note"):
            found[client] = str(report["note"])
        else:
            found[client] = f"{report['kex']} (its first default: {report['first']})"
    return found


def version_of(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """The version of each peer and of the SSH implementation under it."""
    openssh = run_text(["ssh", "-V"]).strip().split(",")[0]
    pdsh = run_text(["pdsh", "-V"]).splitlines()[0] if shutil.which("pdsh") else "missing"
    libssh2 = "?"
    with contextlib.suppress(ImportError):
        from ssh2.utils import version

        libssh2 = version().decode()
    return {
        "shoal": f"shoal {version_of('shoal')} (asyncssh {version_of('asyncssh')})",
        "shoal-lib": f"shoal {version_of('shoal')} (asyncssh {version_of('asyncssh')})",
        "asyncssh": f"asyncssh {version_of('asyncssh')}",
        "clush": f"ClusterShell {version_of('ClusterShell')} ({openssh})",
        "pdsh": f"{pdsh} ({openssh})",
        "parallel-ssh": f"parallel-ssh {version_of('parallel-ssh')} (ssh2-python "
                        f"{version_of('ssh2-python')}, libssh2 {libssh2}, gevent "
                        f"{version_of('gevent')})",
        "fabric": f"Fabric {version_of('fabric')} (paramiko {version_of('paramiko')}, "
                  f"invoke {version_of('invoke')})",
        "ansible": f"ansible-core {version_of('ansible-core')} ({openssh})",
    }


def sshd_limits(directory: Path, fanout: int) -> list[str]:
    """What the testbed's sshd_config allows, and whether it holds ``fanout`` connections."""
    text = (directory / "sshd_config").read_text()
    values = dict(re.findall(r"^(MaxStartups|MaxSessions|LoginGraceTime|KexAlgorithms) (\S+)",
                             text, flags=re.MULTILINE))
    notes = [f"{key} {value}" for key, value in sorted(values.items())]
    startups = int(values.get("MaxStartups", "10").split(":")[0])
    if startups < fanout:
        notes.append(f"WARNING: MaxStartups {startups} < fan-out {fanout}: sshd drops "
                     "connections beyond it while they authenticate")
    return notes


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    sshd = run_text(["/usr/sbin/sshd", "-V"]).strip().split(",")[0]
    return describe(f"{mem:.0f} GiB", f"sshd {sshd}")


# -- the table -------------------------------------------------------------------------------


def fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def table(rows: Sequence[Row]) -> list[str]:
    """The markdown table: one line per client × hosts × fan-out."""
    reference: dict[tuple[int, int], float] = {}
    for kind in ("shoal-lib", "shoal"):  # the CLI wins when both ran
        for row in rows:
            if row.client == kind and row.good and row.wall:
                reference[(row.hosts, row.fanout)] = row.wall
    lines = ["| client | hosts | fan-out | wall s | CPU ms/host | peak RSS MiB "
             "| tree RSS MiB | sshd CPU ms/host | other load | peer wall / shoal wall |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        label = LABELS[row.client]
        if row.unavailable or row.failure:
            text = (row.unavailable or row.failure or "").replace("|", "/")
            lines.append(f"| {label} | {row.hosts} | {row.fanout} | {text} "
                         "| — | — | — | — | — | — |")
            continue
        ref = reference.get((row.hosts, row.fanout))
        if row.client.startswith("shoal-lib-warm") or ref is None or row.wall is None:
            ratio = "—"
        else:
            ratio = f"{row.wall / ref:.2f}×"
        wall = fmt(row.wall, ".2f")
        if row.failed_runs:
            wall += f" (and {row.failed_runs} FAILED run{'s' * (row.failed_runs > 1)})"
        lines.append(
            f"| {label} | {row.hosts} | {row.fanout} | {wall} "
            f"| {fmt(None if row.cpu is None else row.cpu * 1e3 / row.hosts, '.1f')} "
            f"| {fmt(None if row.maxrss_kib is None else row.maxrss_kib / 1024, '.0f')} "
            f"| {fmt(None if row.tree_rss is None else row.tree_rss / 2**20, '.0f')} "
            f"| {fmt(None if row.sshd_cpu is None else row.sshd_cpu * 1e3 / row.hosts, '.1f')} "
            f"| {fmt(None if row.other_load is None else row.other_load * 100, '.0f')} % "
            f"| {ratio} |")
    return lines


def write_section(section: str, title: str = SECTION_TITLE) -> None:
    """Replace (or add) the section ``title`` (Fan-out) of bench/RESULTS.md, keeping the
    others."""
    path = HERE / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    start = text.find(title)
    if start >= 0:
        end = text.find("\n## ", start + 1)
        rest = text[end + 1:] if end >= 0 else ""
        text = text[:start] + section.rstrip("\n") + ("\n\n" + rest if rest else "\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


# -- main ------------------------------------------------------------------------------------


def int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def clients_of(known: Sequence[str]) -> Callable[[str], list[str]]:
    """An argparse type for a comma-separated choice among ``known``, in their order."""
    def client_list(text: str) -> list[str]:
        names = [v for v in text.split(",") if v]
        unknown = set(names) - set(known)
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown clients {sorted(unknown)}; "
                                             f"choose from {','.join(known)}")
        return [c for c in known if c in names]

    return client_list


client_list = clients_of(CLIENTS)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hosts", type=int_list, default=[100, 200, 500, 1000],
                        help="host counts, comma-separated (default 100,200,500,1000)")
    parser.add_argument("--fanouts", type=int_list, default=[64, 256],
                        help="fan-outs, comma-separated (default 64,256)")
    parser.add_argument("--clients", type=client_list, default=list(CLIENTS),
                        help=f"clients to measure (default all: {','.join(CLIENTS)})")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell; best wall kept")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds before a client run is killed (default 300)")
    parser.add_argument("--max-other-load", type=float, default=0.15,
                        help="measure a run again (up to 3 times) when other programs kept "
                             "more than this share of the machine busy (default 0.15)")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--fanout", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def check_tools(clients: Sequence[str]) -> None:
    """Fail early, with the fix, when a peer is not installed."""
    missing = []
    if not os.access(TIME, os.X_OK):
        missing.append(f"GNU time at {TIME} (apt-get install time)")
    if "pdsh" in clients and not shutil.which("pdsh"):
        missing.append("pdsh (apt-get install pdsh)")
    for client, dist in (("clush", "ClusterShell"), ("parallel-ssh", "parallel-ssh"),
                         ("fabric", "fabric"), ("ansible", "ansible-core")):
        if client in clients and version_of(dist) == "not installed":
            missing.append(f"{dist} (.venv/bin/pip install -e '.[bench]')")
    if missing:
        sys.exit("fanout_bench: missing " + ", ".join(missing))


@contextlib.contextmanager
def scratch_dir(keep: Callable[[], bool], prefix: str = "shoal-fanout-",
                mode: int = 0o700) -> Iterator[Path]:
    """A directory for the runs' files, removed at the end unless ``keep()`` says not to.

    ``mode`` 0o755 lets the testbed's user read it (a tree's gateways read its files).
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(mode)
    try:
        yield path
    finally:
        if keep():
            print(f"the output of the failed runs is kept in {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def measure_all(bench: Bench, args: argparse.Namespace, warm_up_hosts: int) -> list[Row]:
    """Every client × hosts × fan-out, ``args.repeat`` times; the best run of each, in order."""
    # Warm-up, not timed: bytecode caches, and whether shoal is there at all.
    for client in args.clients:
        warm_up = bench.measure(client, warm_up_hosts, 10)
        if warm_up[0].unavailable:
            bench.unavailable[client] = warm_up[0].unavailable
            print(f"{LABELS[client]}: {warm_up[0].unavailable}; its rows are n/a",
                  file=sys.stderr, flush=True)
    runs: dict[tuple[str, int, int], list[Row]] = {}
    for _ in range(args.repeat):
        for n in args.hosts:
            for fanout in args.fanouts:
                for client in args.clients:
                    if client in bench.unavailable:
                        continue
                    for row in bench.measure_quiet(client, n, fanout, args.max_other_load):
                        runs.setdefault((row.client, n, fanout), []).append(row)
                        if row.good:
                            print(f"{LABELS[row.client]:>36} hosts={n:<5} fanout={fanout:<4} "
                                  f"wall {row.wall:7.2f} s  "
                                  f"cpu {(row.cpu or 0) * 1e3 / n:6.1f} ms/host  "
                                  f"other load {(row.other_load or 0) * 100:3.0f} %",
                                  flush=True)
    rows: list[Row] = []
    for n in args.hosts:
        for fanout in args.fanouts:
            for client in args.clients:
                kinds = [client, "shoal-lib-warm"] if client == "shoal-lib" else [client]
                for kind in kinds:
                    if client in bench.unavailable:
                        rows.append(Row(kind, n, fanout, unavailable=bench.unavailable[client]))
                    elif (kind, n, fanout) in runs:
                        rows.append(best(runs[(kind, n, fanout)]))
    return rows


def main() -> None:
    args = parse_args()
    if args.child:
        child_main(args.child, Target.from_json(args.target), args.n, args.fanout, args.result)
        return
    from shoal import testbed

    check_tools(args.clients)
    soft, hard = raise_nofile()
    become_subreaper()
    started = time.strftime("%Y-%m-%d %H:%M")
    nodes = max(args.hosts)
    benches: list[Bench] = []  # the one Bench, once made: the scratch dir asks it
    with testbed.running(nodes=nodes, gateways=0, listeners=LISTENERS) as bed, \
            scratch_dir(lambda: any(b.failures for b in benches)) as scratch:
        target = spread_target(bed, scratch / "client")
        limits = [f"open files: soft {soft}, hard {hard}",
                  *sshd_limits(bed.directory, max(args.fanouts))]
        print(f"testbed {bed!r}\nlimits: " + "; ".join(limits), flush=True)
        peer_versions = versions()
        kex = probe_kex(args.clients, target, scratch)
        for client in args.clients:
            print(f"{LABELS[client]}: {peer_versions[client]}; kex {kex[client]}", flush=True)
        bench = Bench(target, Sshd(bed.pid, bed.directory / "sshd.log"), args.timeout, scratch)
        benches.append(bench)

        rows = measure_all(bench, args, warm_up_hosts=min(10, nodes))
    lines = table(rows)
    print("\n".join(lines))
    if args.write:
        write_section(section(args, rows, lines, peer_versions, kex, limits, started))


def failure_notes(rows: Sequence[Row]) -> list[str]:
    """One line per failed measurement with the client's own words, for the section."""
    notes = []
    for row in rows:
        if row.failure and row.client != "shoal-lib-warm":
            detail = row.failure.removeprefix("FAIL (").removesuffix(")")
            said = f"; first error: “{row.reason}”" if row.reason else ""
            notes.append(f"- FAIL {LABELS[row.client]}, {row.hosts} hosts, fan-out "
                         f"{row.fanout}: {detail}{said}")
    return ["Failures:", "", *notes, ""] if notes else []


def section(args: argparse.Namespace, rows: Sequence[Row], lines: Sequence[str],
            peer_versions: dict[str, str], kex: dict[str, str], limits: Sequence[str],
            started: str) -> str:
    """The Fan-out section of RESULTS.md."""
    command = (f".venv/bin/python bench/fanout_bench.py --hosts "
               f"{','.join(map(str, args.hosts))} --fanouts "
               f"{','.join(map(str, args.fanouts))} --repeat {args.repeat} --write")
    reference = ("`shoal run`" if any(r.client == "shoal" and r.good for r in rows)
                 else "the shoal library's cold run" if any(
                     r.client == "shoal-lib" and r.good for r in rows) else "none yet")
    clients = ["| client | version | key exchange with the testbed |", "|---|---|---|"]
    for client in args.clients:
        clients.append(f"| {LABELS[client]} | {peer_versions[client]} | {kex[client]} |")
    return "\n".join([
        f"{SECTION_TITLE} (`bench/fanout_bench.py`)",
        "",
        f"Run {started} on {machine()}.",
        f"Command: `{command}`. Each client runs `{COMMAND}` on H distinct aliases of one "
        "loopback testbed (real OpenSSH sshd on 127.0.0.1), at fan-out F, in a process of "
        "its own, best wall of the repeats. CPU is user + sys of the client and all its "
        "descendants (the ssh processes of clush, pdsh and Ansible, and Ansible's "
        "ControlPersist masters), including interpreter start-up and imports. Peak RSS is "
        "the largest single process of that tree (`ru_maxrss`); tree RSS is the peak of "
        f"the summed RSS of all of them, sampled every {SAMPLE_EVERY:g} s (shared pages "
        "counted per process). sshd CPU is the server side, on the same 2 cores, "
        "session processes that outlived their parent included (they are not the "
        "client's). Other "
        "load is the share of the machine busy with neither the client, sshd nor this "
        "script during the run (other users' work: a high one makes that wall unreliable). "
        "Ratio = "
        "peer wall / shoal wall at the same H and F, against "
        f"{reference}; above 1 means shoal is faster. Every number is from a run that "
        "returned H `ok` results "
        "and H logins in the sshd log; other runs show FAIL.",
        "",
        *lines,
        "",
        *failure_notes(rows),
        "Notes:",
        "",
        "- Fabric has no fan-out limit: `ThreadingGroup` starts a thread (and paramiko one "
        "more) per host, all at once; its rows at each fan-out are separate runs of the "
        "same thing.",
        "- parallel-ssh reads no ssh config: it gets 127.0.0.1, port, user and key per host "
        "through `host_config`, one entry per alias; it and Fabric do not check host keys "
        "by default (Fabric auto-adds them), the others check them against the testbed's "
        "known_hosts.",
        "- pdsh needs `-l USER`: its ssh module passes `-l` with the local user, which "
        "beats the config's `User`.",
        "- Ansible runs with its defaults: `-C`, ControlMaster=auto, ControlPersist=60s "
        "(a fresh ControlPath directory per run, so that no run reuses another's masters).",
        "- The asyncssh loop calls `asyncssh.connect(alias, config=[…])` per host, which "
        "builds its options (ssh config, key, known_hosts) for every connection; shoal "
        "builds them once per run.",
        f"- shoal library: cold = its first `AsyncTask.run`, timed from process spawn; warm "
        f"= the mean of {WARM_RUNS} more runs over the open connections (no login: sshd "
        "saw H logins in all). Its sshd CPU cannot be split between them.",
        "",
        *clients,
        "",
        "Limits: " + "; ".join(limits) + ". The testbed's sshd_config allows far more than "
        "256 connections being set up at once; sshd's listen backlog (128 per socket, fixed "
        f"in OpenSSH) does not, so sshd listens on {LISTENERS} loopback ports and every "
        "client's aliases are spread over them by their last digit (the ssh config's Host "
        "blocks; parallel-ssh gets each alias's port). When more connections still arrive "
        "at once than sshd accepts, the kernel drops or resets some (SYN cookies), and a "
        "client that opens all N at once (Fabric) then sees banner timeouts and resets, as "
        "it would not against N real machines.",
        "",
    ])


if __name__ == "__main__":
    main()
