"""Tree benchmark: shoal's propagation tree against shoal flat and ClusterShell's tree.

One loopback testbed (:mod:`shoal.testbed`: a real OpenSSH sshd on 127.0.0.1 behind the
aliases ``node1``…``nodeN`` and ``gw1``…``gwG``) serves every run. The gateways are aliases
of that same sshd: a gateway is a login of the testbed user that runs the gateway's code
and reaches its targets with the system ``ssh`` (as the testbed user, with the client files
of :mod:`shoal.testbed.clients`), so the root, the gateways, their ssh clients and sshd
all share this machine's cores. sshd listens on 8 loopback ports, and the client files that
every client reads (shoal flat and tree, clush, the gateways) spread the aliases over them
by their last digit (``fanout_bench.spread_target``): one port's accept queue (a backlog
of 128, fixed in OpenSSH) overflows under the 256 connections 4 gateways start at once, and
the handshakes the kernel drops wait for SYN retries (1, 3, 7… s) that N machines, each with
its own sshd, would not. Each run is a process of its own; four measurements:

1. **tree vs flat**: ``shoal run -b echo ok`` on N nodes, flat (asyncssh, the default)
   and through the G gateways of a topology.conf (``--topology``), at the same global
   fan-out (G × F);
2. **ClusterShell's tree**: ``clush --topology`` with the same file, fan-out F (clush
   gives every gateway the whole ``-f``: its issue #324), its gateways started as
   ``ssh GW python3 -m ClusterShell.Gateway -Bu`` with ClusterShell found through the
   ``PYTHONPATH`` clush propagates (``./bootstrap bench`` installs the root's version of
   ClusterShell into ``.venv/gateway-site``, readable by the testbed user);
3. **uplink bytes**: the bytes the root reads from its gateways' channels (a relay between
   the root and each gateway's ``ssh`` counts them) for output identical on every node
   and distinct on every node, as N grows; the gateways run their targets locally
   (``transport: local``: ``sh -c`` with ``SHOAL_NODE``), through the library
   (:class:`shoal.tree.TreeTask`);
4. **root RSS**: 10,000 nodes behind 20 gateways, local transport on the gateways, through
   the library; the peak RSS of the root's process (``ru_maxrss``).

Per run: wall time from spawn to exit; the client's CPU (user + sys of the root and every
descendant: its ``ssh`` to the gateways, clush's ssh processes) per node; the gateways'
CPU per node (their processes run under sshd as the testbed user: found below sshd's
listener by their interpreter, sampled every 50 ms from ``/proc``, with the ssh clients
they reaped); sshd's CPU per node without the gateways' (sshd's listener runs in a
``cpuacct`` cgroup of its own, so that a login whose parent ended first still counts); the
peak RSS of the client's largest process (GNU time); the share of the machine other
programs kept busy (``/proc/stat``). A run counts only if every node reports ``ok`` and
sshd logged one login per node and per gateway; anything else is a FAIL, never a number.

Run (after ``./bootstrap bench``, or ``./bootstrap setup`` and the bench step)::

    .venv/bin/python bench/tree_bench.py                       # prints the tables
    .venv/bin/python bench/tree_bench.py --nodes 200,1000,2000 --write
    .venv/bin/python bench/tree_bench.py --nodes 50 --rss-nodes 500   # a quick try

``--write`` replaces the Tree section of bench/RESULTS.md. All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pstats
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fanout_bench import (
    LISTENERS,
    TICK,
    Sshd,
    Target,
    base_env,
    children_of,
    count_gathered,
    fmt,
    last_line,
    machine,
    metered_run,
    probe_kex,
    raise_nofile,
    scratch_dir,
    spread_target,
    version_of,
    write_section,
)

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
#: Where ``./bootstrap bench`` installs ClusterShell for the gateways' python3.
GATEWAY_SITE = BIN.parent / "gateway-site"
SECTION_TITLE = "## Tree"
COMMAND = "echo ok"
#: Output that differs on every node (local transport: SHOAL_NODE names the target).
DISTINCT = 'echo ok "$SHOAL_NODE"'
#: How often the gateways' CPU is read.
GATEWAY_SAMPLE = 0.05

#: The runs over real logins, and the runs of the trees alone (targets run locally).
CLIENTS = ("shoal-flat", "shoal-tree", "clush-tree")
LOCAL_CLIENTS = ("shoal-tree-local", "clush-tree-local")
LABELS = {
    "shoal-flat": "shoal run, flat",
    "shoal-tree": "shoal run, tree",
    "clush-tree": "clush, tree",
    "shoal-tree-local": "shoal tree (library), local targets",
    "clush-tree-local": "clush tree, local targets",
    "uplink-identical": "shoal tree, identical output",
    "uplink-distinct": "shoal tree, distinct output",
    "rss": "shoal tree (library), local targets",
}

#: The ``ssh`` clush runs in the local-targets runs. clush gives it to its gateways with the
#: rest of its settings, and uses it itself: to a gateway (``gw…``) it is the real ssh;
#: to a node it skips ssh's options (those with a value too) and the node's name and runs
#: the command in this shell, as shoal's ``transport: local`` runs ``sh -c COMMAND``: one
#: shell per target either way.
STUB_SSH = """#!/bin/sh
for arg; do
    case $arg in gw[0-9]*) exec ssh "$@" ;; esac
done
while [ $# -gt 0 ]; do
    case $1 in
        -[BbcDEeFIiJLlmOopQRSWw]) shift 2 ;;
        -*) shift ;;
        *) shift; break ;;
    esac
done
eval "$*"
"""


def node_names(n: int) -> str:
    return f"node[1-{n}]"


def gateway_names(g: int) -> str:
    return f"gw[1-{g}]"


# -- children: the library runs (uplink bytes, root RSS) and the byte-counting relay ------


@dataclass(frozen=True)
class LibraryRun:
    """What a library child runs: N nodes behind G gateways, local targets."""

    ssh_config: str
    nodes: int
    gateways: int
    fanout: int
    distinct: bool
    counts: str  # the folder the relays write their byte counts into ("": no relay)

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> LibraryRun:
        return cls(**json.loads(text))


def child_library(spec: LibraryRun) -> dict[str, Any]:
    """One ``-b``-style run (output kept per node) through ``spec.gateways`` gateways."""
    from shoal.cli.tree_run import gateway_settings
    from shoal.hosts import ConnectOptions
    from shoal.tree.driver import SSHGatewayLauncher, TreeSettings
    from shoal.tree.task import TreeTask
    from shoal.tree.topology import gateways_topology

    options = ConnectOptions(ssh_config=(Path(spec.ssh_config),))
    settings = TreeSettings(gateway_settings=gateway_settings(options, "local", None))
    launcher = (counting_launcher(options, Path(spec.counts)) if spec.counts
                else SSHGatewayLauncher(options))
    command = DISTINCT if spec.distinct else COMMAND

    async def main() -> dict[str, Any]:
        start = time.monotonic()
        async with TreeTask(node_names(spec.nodes), topology=gateways_topology(
                gateway_names(spec.gateways)), fanout=spec.fanout, live=False,
                settings=settings, launcher=launcher) as task:
            result = await task.run(command)
            run_wall = time.monotonic() - start
        errors: list[str] = []
        ok = 0
        for node in result:
            item = result[node]
            want = f"ok {node}\n" if spec.distinct else "ok\n"
            if item.rc == 0 and item.stdout == want.encode():
                ok += 1
            elif len(errors) < 5:
                errors.append(f"{node}: rc={item.rc} stdout={item.stdout[:80]!r} "
                              f"error={item.error}")
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"ok": ok, "errors": errors, "run_wall": run_wall,
                "maxrss_kib": usage.ru_maxrss}

    return asyncio.run(main())


def counting_launcher(options: Any, counts: Path) -> Any:
    """A launcher that starts each gateway's ``ssh`` behind a relay counting the bytes it
    hands the root (the gateway's channel: its stdout) into ``counts/GATEWAY``."""
    from shoal.tree.driver import SSHGatewayLauncher

    class Counting(SSHGatewayLauncher):
        def argv(self, gateway: str, command: str) -> list[str]:
            return [sys.executable, str(Path(__file__).resolve()), "--relay",
                    str(counts / gateway), "--", *super().argv(gateway, command)]

    return Counting(options)


#: How an output message starts on the wire (docs/tree-protocol.md), counted by the relay.
OUT_TAG = b'<message type="OUT"'


def relay_main(count_file: Path, argv: Sequence[str]) -> int:
    """Run ``argv`` with our stdin and stderr; copy its stdout to ours, counting its bytes
    and its ``OUT`` messages into ``count_file`` ("BYTES OUTS")."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    source, total, outs, tail = proc.stdout.fileno(), 0, 0, b""
    while chunk := os.read(source, 1 << 16):
        total += len(chunk)
        seen = tail + chunk
        outs += seen.count(OUT_TAG)
        tail = seen[-(len(OUT_TAG) - 1):]  # a tag cut in two is counted once
        view = memoryview(chunk)
        while view:
            view = view[os.write(1, view):]
    status = proc.wait()
    count_file.write_text(f"{total} {outs}")
    return status if status >= 0 else 128 - status


# -- the gateways' CPU: processes under sshd, read from /proc -------------------------------


def proc_stat(pid: int) -> tuple[int, float, float] | None:
    """The parent of ``pid``, the user + sys seconds of it alone, and of it with the
    children it reaped; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = [int(v) for v in fields[11:15]]
    return int(fields[1]), sum(ticks[:2]) / TICK, sum(ticks) / TICK


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


class ServerCPU:
    """The CPU of sshd and of everything it starts, orphans included: sshd's listener in a
    cgroup of its own (cgroup v1 ``cpuacct``; its processes' children stay in it whoever
    reaps them). A login whose parent ended first (clush's gateways, whose root kills
    its ssh) then counts too, where sshd's own reaped-children figures would miss it."""

    ROOT = Path("/sys/fs/cgroup/cpuacct")

    def __init__(self, sshd_pid: int) -> None:
        self.path = self.ROOT / f"shoal-tree-bench-{os.getpid()}"
        self.path.mkdir()
        (self.path / "cgroup.procs").write_text(str(sshd_pid))

    def usage(self) -> float:
        """CPU seconds of the group so far."""
        return int((self.path / "cpuacct.usage").read_text()) / 1e9

    def close(self) -> None:
        """Hand what is left back to the parent group and remove the group."""
        with contextlib.suppress(OSError):
            for pid in (self.path / "cgroup.procs").read_text().split():
                with contextlib.suppress(OSError):
                    (self.ROOT / "cgroup.procs").write_text(pid)
            self.path.rmdir()


class GatewayMeter:
    """The CPU of the gateway processes below sshd's listener, sampled in a thread.

    A gateway is the first Python interpreter on a branch of sshd's process tree (the
    targets run ``echo``). Until ``expected`` of them are found, each sample walks the
    tree; then it reads only their ``/proc/PID/stat``, whose last value before they exit
    counts (what a gateway does after its last sample is lost: at most one period of it).
    """

    def __init__(self, sshd_pid: int, expected: int) -> None:
        self.sshd_pid = sshd_pid
        self.expected = expected
        self.cpu: dict[int, float] = {}  # with the children it reaped (ssh, shells)
        self.own: dict[int, float] = {}  # the gateway's Python alone
        self._live: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> GatewayMeter:
        if self.expected:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.expected:
            self._thread.join()

    @property
    def found(self) -> int:
        return len(self.cpu)

    def _loop(self) -> None:
        while not self._stop.wait(GATEWAY_SAMPLE):
            if len(self.cpu) < self.expected:
                self._discover()
            for pid in list(self._live):
                stat = proc_stat(pid)
                if stat is None:
                    self._live.discard(pid)
                else:
                    _, self.own[pid], self.cpu[pid] = stat

    def _discover(self) -> None:
        todo = children_of(self.sshd_pid)
        while todo:
            pid = todo.pop()
            if pid in self.cpu:
                continue
            if comm(pid).startswith("python"):
                stat = proc_stat(pid)
                if stat is not None:
                    _, self.own[pid], self.cpu[pid] = stat
                    self._live.add(pid)
            else:
                todo += children_of(pid)


# -- one measured run ------------------------------------------------------------------------


@dataclass
class Spec:
    """A run: its command line and environment, and how many ``ok`` nodes its output has."""

    argv: list[str]
    env: dict[str, str]
    count: Callable[[str, dict[str, Any]], int | None]
    logins: int  # sshd logins it must make: one per node it reaches itself, per gateway
    gateways: int  # gateway processes expected below sshd


@dataclass
class Row:
    """One measured run."""

    kind: str
    nodes: int
    gateways: int
    fanout: int
    wall: float | None = None
    cpu: float | None = None
    gateway_cpu: float | None = None
    gateway_own: float | None = None  # the gateways' Python alone
    sshd_cpu: float | None = None
    maxrss_kib: int | None = None
    other_load: float | None = None
    uplink: int | None = None  # bytes the root read from its gateways
    outs: int | None = None  # OUT messages among them
    report: dict[str, Any] | None = None
    failure: str | None = None
    reason: str = ""
    attempts: int = 1

    @property
    def good(self) -> bool:
        return self.wall is not None and self.failure is None


@dataclass
class Bench:
    """The testbed, the files every run shares and the options."""

    target: Target  # its ssh_config: the client files, which root and gateways read
    topologies: Path  # topology.conf files, one per gateway count
    sshd: Sshd
    server: ServerCPU
    timeout: float
    scratch: Path
    max_other: float
    attempts: int
    failures: int = 0
    _serial: int = 0

    def stub_ssh(self) -> Path:
        """The stub ``ssh`` of the local-targets runs (:data:`STUB_SSH`)."""
        path = self.topologies / "stub-ssh"
        if not path.exists():
            path.write_text(STUB_SSH)
            path.chmod(0o755)
        return path

    def topology(self, gateways: int, n: int) -> Path:
        """The topology.conf of a one-level tree: this host → G gateways → the N nodes
        of the run (no more: clush's cost grows with the file's node count)."""
        path = self.topologies / f"topology-{gateways}-{n}.conf"
        if not path.exists():
            root = socket.gethostname().split(".")[0]  # clush's root: the short name
            path.write_text(f"[routes]\n{root}: {gateway_names(gateways)}\n"
                            f"{gateway_names(gateways)}: {node_names(n)}\n")
            path.chmod(0o644)
        return path

    def spec(self, kind: str, n: int, gateways: int, fanout: int, work: Path) -> Spec:
        """How to start the run ``kind`` on N nodes; ``fanout`` is per gateway."""
        env = base_env()
        config = self.target.ssh_config
        nodes = node_names(n)
        total = str(fanout * gateways)
        if kind == "shoal-flat":
            return Spec([str(BIN / "shoal"), "run", "-F", config, "-f", total, "-w", nodes,
                         "-b", COMMAND], env, lambda out, _: count_gathered(out), n, 0)
        if kind == "shoal-tree":
            return Spec([str(BIN / "shoal"), "run", "-F", config, "--topology",
                         str(self.topology(gateways, n)), "-f", total, "-w", nodes, "-b",
                         COMMAND], env, lambda out, _: count_gathered(out), n + gateways,
                        gateways)
        if kind.startswith("clush-tree"):
            # clush starts its gateways as `ssh GW PYTHONPATH=… python3 -m
            # ClusterShell.Gateway`: the PYTHONPATH it runs with, and the interpreter named
            # here (else the basename of its own: the venv's "python").
            env.update(PYTHONPATH=str(GATEWAY_SITE), CLUSTERSHELL_GW_PYTHON_EXECUTABLE="python3")
            local = kind == "clush-tree-local"
            # Its gateways get ssh_path with the rest of its settings: the stub, locally.
            stub = ["-O", f"ssh_path={self.stub_ssh()}"] if local else []
            return Spec([str(BIN / "clush"), "--topology", str(self.topology(gateways, n)), "-o",
                         f"-F {config}", *stub, "-f", str(fanout), "-w", nodes, "-b",
                         COMMAND], env, lambda out, _: count_gathered(out),
                        gateways if local else n + gateways, gateways)
        counts = ""
        if kind.startswith("uplink"):
            counts_dir = work / "counts"
            counts_dir.mkdir()
            counts = str(counts_dir)
        run = LibraryRun(ssh_config=config, nodes=n, gateways=gateways,
                         fanout=fanout * gateways, distinct=kind == "uplink-distinct",
                         counts=counts)
        return Spec([sys.executable, str(Path(__file__).resolve()), "--child", run.to_json(),
                     "--result", str(work / "result.json")], env,
                    lambda _, report: report.get("ok"), gateways, gateways)

    def measure(self, kind: str, n: int, gateways: int, fanout: int) -> Row:
        """Run ``kind`` until other programs kept the machine quiet enough (at most
        ``attempts`` runs); the quietest run counts."""
        tried: list[Row] = []
        while len(tried) < self.attempts:
            row = self.measure_once(kind, n, gateways, fanout)
            tried.append(row)
            if row.other_load is None or row.other_load <= self.max_other:
                break
            if len(tried) < self.attempts:
                print(f"{LABELS[kind]} nodes={n}: other load {row.other_load:.0%} > "
                      f"{self.max_other:.0%}, measuring again", file=sys.stderr, flush=True)
        good = [r for r in tried if r.good] or tried
        kept = min(good, key=lambda r: r.other_load or 0.0)
        kept.attempts = len(tried)
        return kept

    def measure_once(self, kind: str, n: int, gateways: int, fanout: int) -> Row:
        self._serial += 1
        work = self.scratch / f"{self._serial:04d}-{kind}-{n}"
        work.mkdir()
        work.chmod(0o755)
        spec = self.spec(kind, n, gateways, fanout, work)
        row = Row(kind, n, gateways, fanout)
        meter = GatewayMeter(self.sshd.pid, spec.gateways)
        run = metered_run(self.sshd, spec.argv, env=spec.env, cwd=work, timeout=self.timeout,
                          server_cpu=self.server.usage, during=meter)
        proc, logins, server, settled = run.proc, run.logins, run.server_cpu, run.settled
        row.other_load = run.other_load
        report: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            report = json.loads((work / "result.json").read_text())
        ok = spec.count(proc.stdout, report)
        problems: list[str] = []
        if proc.timed_out:
            problems.append(f"killed after {self.timeout:g}s")
        if proc.returncode != 0:
            problems.append(f"exit status {proc.returncode}")
        if ok != n:
            problems.append(f"{ok}/{n} ok")
        if logins != spec.logins:
            problems.append(f"sshd saw {logins} logins, not {spec.logins}")
        if meter.found != spec.gateways:
            problems.append(f"{meter.found} gateway processes seen, not {spec.gateways}")
        if not settled:
            problems.append("sshd sessions still open 60 s after the client exited")
        if problems:
            detail = "; ".join(problems)
            why = report.get("error") or last_line(proc.stderr) or "; ".join(
                report.get("errors", [])[:2])
            print(f"FAIL {LABELS[kind]} nodes={n}: {detail}{f' — {why}' if why else ''} "
                  f"(wall {proc.wall:.2f} s, output in {work})", file=sys.stderr, flush=True)
            self.failures += 1
            row.failure, row.reason = f"FAIL ({detail})", why
            return row
        row.wall, row.cpu, row.maxrss_kib = proc.wall, proc.cpu, proc.maxrss_kib
        gateways_cpu = sum(meter.cpu.values())
        row.gateway_cpu = gateways_cpu if spec.gateways else None
        row.gateway_own = sum(meter.own.values()) if spec.gateways else None
        row.sshd_cpu = server - gateways_cpu  # the server's group holds the gateways
        row.report = report
        if kind.startswith("uplink"):
            counts = [[int(v) for v in p.read_text().split()]
                      for p in (work / "counts").iterdir()]
            row.uplink = sum(c[0] for c in counts) if len(counts) == gateways else None
            row.outs = sum(c[1] for c in counts)
            if row.uplink is None:
                row.failure = f"FAIL ({len(counts)} of {gateways} relays reported)"
        if kind == "rss":
            row.maxrss_kib = int(report["maxrss_kib"])
        return row


def child_main(spec_text: str, result: Path) -> None:
    """Run a library child and write its JSON report (or the error) to ``result``."""
    try:
        report = child_library(LibraryRun.from_json(spec_text))
    except BaseException as exc:
        result.write_text(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        raise
    result.write_text(json.dumps(report))


# -- the tables ------------------------------------------------------------------------------


def per_node(value: float | None, n: int, scale: float = 1e3) -> str:
    return fmt(None if value is None else value * scale / n, ".1f")


def mib(kib: int | None) -> str:
    return fmt(None if kib is None else kib / 1024, ".0f")


def wall_text(row: Row) -> str:
    return fmt(row.wall, ".2f")


def find(rows: Sequence[Row], kind: str, n: int) -> Row | None:
    return next((r for r in rows if r.kind == kind and r.nodes == n), None)


def ratio(top: Row | None, bottom: Row | None) -> float | None:
    if top is None or bottom is None or not top.good or not bottom.good:
        return None
    assert top.wall is not None and bottom.wall is not None
    return top.wall / bottom.wall


def run_table(rows: Sequence[Row], kinds: Sequence[str] = CLIENTS) -> list[str]:
    """Walls and costs of the ``kinds`` runs, with tree / flat and clush / shoal tree."""
    lines = ["| run | nodes | gateways | fan-out | wall s | client CPU ms/node "
             "| gateways CPU ms/node | of which their Python | sshd CPU ms/node "
             "| peak RSS MiB | other load | tree / flat | clush tree / shoal tree |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        if row.kind not in kinds:
            continue
        gws = str(row.gateways) if row.kind != "shoal-flat" else "—"
        fanout = (f"{row.fanout}/gw" if row.kind.startswith("clush")
                  else f"{row.fanout * row.gateways}")
        if not row.good:
            lines.append(f"| {LABELS[row.kind]} | {row.nodes} | {gws} | {fanout} "
                         f"| {(row.failure or '').replace('|', '/')} | — | — | — | — | — "
                         "| — | — | — |")
            continue
        flat = find(rows, "shoal-flat", row.nodes)
        tree = find(rows, row.kind.replace("clush", "shoal"), row.nodes)
        tree_flat = ratio(row, flat) if row.kind == "shoal-tree" else None
        clush_tree = ratio(row, tree) if row.kind.startswith("clush") else None
        lines.append(
            f"| {LABELS[row.kind]} | {row.nodes} | {gws} | {fanout} | {wall_text(row)} "
            f"| {per_node(row.cpu, row.nodes)} | {per_node(row.gateway_cpu, row.nodes)} "
            f"| {per_node(row.gateway_own, row.nodes)} "
            f"| {per_node(row.sshd_cpu, row.nodes)} | {mib(row.maxrss_kib)} "
            f"| {fmt(None if row.other_load is None else row.other_load * 100, '.0f')} % "
            f"| {fmt(tree_flat, '.2f')}{'×' * (tree_flat is not None)} "
            f"| {fmt(clush_tree, '.2f')}{'×' * (clush_tree is not None)} |")
    return lines


def uplink_table(rows: Sequence[Row]) -> list[str]:
    lines = ["| nodes | gateways | identical: uplink bytes | bytes/node | OUT messages "
             "| wall s | distinct: uplink bytes | bytes/node | OUT messages | wall s |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    sizes = sorted({r.nodes for r in rows if r.kind.startswith("uplink")})
    for n in sizes:
        cells: list[str] = []
        gateways = "—"
        for kind in ("uplink-identical", "uplink-distinct"):
            row = find(rows, kind, n)
            if row is None or not row.good or row.uplink is None:
                text = "—" if row is None else (row.failure or "FAIL").replace("|", "/")
                cells += [text, "—", "—", "—"]
                continue
            gateways = str(row.gateways)
            cells += [f"{row.uplink:,}", f"{row.uplink / n:.1f}", str(row.outs),
                      wall_text(row)]
        lines.append(f"| {n} | {gateways} | " + " | ".join(cells) + " |")
    return lines


def rss_table(rows: Sequence[Row]) -> list[str]:
    lines = ["| nodes | gateways | fan-out | wall s | root RSS MiB | client CPU ms/node "
             "| gateways CPU ms/node | other load |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        if row.kind != "rss":
            continue
        if not row.good:
            lines.append(f"| {row.nodes} | {row.gateways} | {row.fanout * row.gateways} "
                         f"| {(row.failure or '').replace('|', '/')} | — | — | — | — |")
            continue
        lines.append(f"| {row.nodes} | {row.gateways} | {row.fanout * row.gateways} "
                     f"| {wall_text(row)} | {mib(row.maxrss_kib)} "
                     f"| {per_node(row.cpu, row.nodes)} "
                     f"| {per_node(row.gateway_cpu, row.nodes)} "
                     f"| {fmt(None if row.other_load is None else row.other_load * 100, '.0f')}"
                     " % |")
    return lines


def breakdown(rows: Sequence[Row], n: int) -> list[str]:
    """Where the CPU of the runs at ``n`` nodes went, per node: the cores are the limit."""
    lines = []
    for kind in (*CLIENTS, *LOCAL_CLIENTS):
        row = find(rows, kind, n)
        if row is None or not row.good or row.cpu is None or row.sshd_cpu is None:
            continue
        parts = [f"client {row.cpu * 1e3 / n:.1f}"]
        total = row.cpu + row.sshd_cpu
        if row.gateway_cpu is not None and row.gateway_own is not None:
            parts.append(f"gateways {row.gateway_cpu * 1e3 / n:.1f} (their Python "
                         f"{row.gateway_own * 1e3 / n:.1f}, the processes they ran "
                         f"{(row.gateway_cpu - row.gateway_own) * 1e3 / n:.1f})")
            total += row.gateway_cpu
        parts.append(f"sshd {row.sshd_cpu * 1e3 / n:.1f}")
        cores = os.cpu_count() or 1
        lines.append(f"- {LABELS[kind]}: " + " + ".join(parts) + f" = {total * 1e3 / n:.1f} "
                     f"ms/node; {total:.1f} s of CPU in all, {total / cores:.1f} s on "
                     f"{cores} cores, for a wall of {row.wall:.1f} s")
    return lines


def short(path: str) -> str:
    """A source file's name from the package down (``shoal/tree/task.py``)."""
    for marker in ("/src/", "/site-packages/", "/lib/python3."):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return tail.split("/", 1)[1] if marker == "/lib/python3." else tail
    return path


def profile_root(bench: Bench, n: int, gateways: int, fanout: int) -> list[str]:
    """``shoal run`` through the tree once more under cProfile (not timed): what its root
    spends, as markdown list lines."""
    work = bench.scratch / f"profile-{n}"
    work.mkdir()
    work.chmod(0o755)
    spec = bench.spec("shoal-tree", n, gateways, fanout, work)
    out = work / "root.prof"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), *spec.argv],
                   env=spec.env, cwd=work, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=bench.timeout, check=False)
    wall = time.monotonic() - started
    try:
        stats: Any = pstats.Stats(str(out))
    except (OSError, TypeError, EOFError):
        return [f"- the profiled run wrote no profile (see {work})"]
    entries = [(f"{short(file)}:{name}", tt, ct) for (file, _, name), (_, _, tt, ct, _)
               in stats.stats.items()]
    total = stats.total_tt
    waiting = sum(tt for name, tt, _ in entries if "epoll" in name)
    ours = sorted((e for e in entries if e[0].startswith("shoal/") and e[2] < 0.8 * total),
                  key=lambda e: -e[2])
    own: list[tuple[str, float, float]] = []
    for entry in ours:  # a function that only wraps the one before it says nothing more
        if not own or entry[2] < 0.95 * own[-1][2]:
            own.append(entry)
    own = own[:6]
    hot = sorted(entries, key=lambda e: -e[1])[:6]
    mine = sorted((e for e in entries if e[0].startswith("shoal/")), key=lambda e: -e[1])[:6]
    return [
        f"- `shoal run --topology` at {n} nodes under cProfile: {wall:.1f} s wall, "
        f"{total:.2f} s profiled, of which {waiting:.2f} s waiting in epoll (for the "
        "gateways)",
        "- its largest shoal functions (cumulative): " + "; ".join(
            f"`{name}` {ct:.2f} s" for name, _, ct in own),
        "- its largest functions (own time): " + "; ".join(
            f"`{name}` {tt:.2f} s" for name, tt, _ in hot),
        "- its largest shoal functions (own time): " + "; ".join(
            f"`{name}` {tt:.2f} s" for name, tt, _ in mine),
    ]


@dataclass
class Goal:
    text: str
    value: str
    met: bool | None


def goals(rows: Sequence[Row], args: argparse.Namespace) -> list[Goal]:
    """The issue's four goals, each with what was measured."""
    found: list[Goal] = []
    at = 1000 if 1000 in args.nodes else max(args.nodes)
    tree_flat = ratio(find(rows, "shoal-tree", at), find(rows, "shoal-flat", at))
    found.append(Goal(f"shoal tree wall ≤ 1.15 × flat at {at} nodes",
                      fmt(tree_flat, ".2f") + "×" * (tree_flat is not None),
                      None if tree_flat is None else tree_flat <= 1.15))
    for suffix, what in (("", ""), ("-local", ", targets local (the trees' own cost)")):
        clush = [ratio(find(rows, "clush-tree" + suffix, n), find(rows, "shoal-tree" + suffix, n))
                 for n in args.nodes]
        known = [c for c in clush if c is not None]
        measured = ", ".join(f"{n}: {fmt(c, '.2f')}{'×' * (c is not None)}"
                             for n, c in zip(args.nodes, clush, strict=True))
        found.append(Goal(f"shoal tree ≥ 3 × faster than ClusterShell's tree{what}",
                          measured, None if len(known) != len(clush) else min(known) >= 3.0))
    ident = [find(rows, "uplink-identical", n) for n in args.nodes]
    sizes = [(r.nodes, r.uplink) for r in ident if r is not None and r.good and r.uplink]
    if len(sizes) >= 2:
        (n0, b0), (n1, b1) = sizes[0], sizes[-1]
        growth = b1 / b0
        found.append(Goal(f"identical output: uplink bytes nearly constant as nodes grow "
                          f"{n1 / n0:g}× (at most 2×)", f"{growth:.2f}×", growth <= 2.0))
    else:
        found.append(Goal("identical output: uplink bytes nearly constant", "—", None))
    rss = find(rows, "rss", args.rss_nodes)
    value = None if rss is None or not rss.good or rss.maxrss_kib is None \
        else rss.maxrss_kib / 1024
    found.append(Goal(f"root RSS ≤ 150 MiB at {args.rss_nodes} nodes behind "
                      f"{args.rss_gateways} gateways", fmt(value, ".0f") + " MiB",
                      None if value is None else value <= 150))
    return found


def goal_table(found: Sequence[Goal]) -> list[str]:
    lines = ["| goal | measured | met |", "|---|---|---|"]
    for goal in found:
        met = "n/a" if goal.met is None else "yes" if goal.met else "**no**"
        lines.append(f"| {goal.text} | {goal.value} | {met} |")
    return lines


# -- main ------------------------------------------------------------------------------------


def int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--nodes", type=int_list, default=[200, 1000, 2000],
                        help="node counts, comma-separated (default 200,1000,2000)")
    parser.add_argument("--gateways", type=int, default=4,
                        help="gateways of the tree (default 4)")
    parser.add_argument("--fanout", type=int, default=64,
                        help="fan-out per gateway: shoal's global -f is this × gateways, "
                             "clush's -f this (default 64)")
    parser.add_argument("--rss-nodes", type=int, default=10000,
                        help="nodes of the root RSS run (default 10000)")
    parser.add_argument("--rss-gateways", type=int, default=20,
                        help="gateways of the root RSS run (default 20)")
    parser.add_argument("--parts", default="runs,local,uplink,rss",
                        help="what to measure: runs (tree, flat, clush), local (the trees "
                             "with local targets), uplink, rss (default all)")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds before a run is killed (default 900)")
    parser.add_argument("--max-other-load", type=float, default=0.15,
                        help="measure a run again when other programs kept more than this "
                             "share of the machine busy (default 0.15)")
    parser.add_argument("--attempts", type=int, default=2,
                        help="runs at most per measurement, the quietest kept (default 2)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="run shoal's tree once more at N nodes under cProfile and "
                             "report where its root spends (default: not)")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--relay", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def check_tools() -> None:
    """Fail early, with the fix, when something the runs need is missing."""
    missing = []
    if not (BIN / "clush").exists():
        missing.append("clush (.venv/bin/pip install -e '.[bench]')")
    if not (GATEWAY_SITE / "ClusterShell").is_dir():
        missing.append(f"ClusterShell for the gateways in {GATEWAY_SITE} (./bootstrap bench)")
    if not os.access("/usr/bin/time", os.X_OK):
        missing.append("GNU time (apt-get install time)")
    if missing:
        sys.exit("tree_bench: missing " + ", ".join(missing))


def show(row: Row) -> None:
    if row.good:
        extra = f"  uplink {row.uplink:,} B" if row.uplink is not None else ""
        extra += f"  RSS {row.maxrss_kib / 1024:.0f} MiB" if row.kind == "rss" and \
            row.maxrss_kib else ""
        print(f"{LABELS[row.kind]:>36} nodes={row.nodes:<6} wall {row.wall:7.2f} s  "
              f"cpu {(row.cpu or 0) * 1e3 / row.nodes:6.1f} ms/node  "
              f"gw {(row.gateway_cpu or 0) * 1e3 / row.nodes:6.1f} ms/node  "
              f"other load {(row.other_load or 0) * 100:3.0f} %{extra}", flush=True)


def measure_all(bench: Bench, args: argparse.Namespace) -> list[Row]:
    parts = set(args.parts.split(","))
    rows: list[Row] = []
    # Warm-up, not kept: bytecode caches, the gateways' interpreters and the peers.
    kinds = [*(CLIENTS if "runs" in parts else ()),
             *(LOCAL_CLIENTS if "local" in parts else ())]
    for kind in kinds:
        bench.measure_once(kind, min(10, min(args.nodes)), 2, 4)
    for n in args.nodes:
        for kind in kinds:
            rows.append(bench.measure(kind, n, args.gateways, args.fanout))
            show(rows[-1])
        if "uplink" in parts:
            for kind in ("uplink-identical", "uplink-distinct"):
                rows.append(bench.measure(kind, n, args.gateways, args.fanout))
                show(rows[-1])
    if "rss" in parts:
        rows.append(bench.measure("rss", args.rss_nodes, args.rss_gateways, args.fanout))
        show(rows[-1])
    return rows


def main() -> None:
    args = parse_args()
    if args.relay:
        sys.exit(relay_main(args.relay, args.rest))
    if args.child:
        child_main(args.child, args.result)
        return
    from shoal import testbed

    check_tools()
    # No subreaper (fanout_bench's is for Ansible's masters): the clients here leave no
    # process behind, and a gateway whose login ended first is the server's (its cgroup).
    raise_nofile()
    started = time.strftime("%Y-%m-%d %H:%M")
    load_before = os.getloadavg()
    benches: list[Bench] = []
    gateways = max(args.gateways, args.rss_gateways)
    with testbed.running(nodes=max(args.nodes), gateways=gateways,
                         listeners=LISTENERS) as bed, \
            scratch_dir(lambda: any(b.failures for b in benches), "shoal-tree-bench-",
                        0o755) as scratch:
        target = spread_target(bed, scratch / "client")
        print(f"testbed {bed!r}", flush=True)
        kex = probe_kex(["shoal-lib", "clush"], target, scratch)
        server = ServerCPU(bed.pid)
        try:
            bench = Bench(target, scratch, Sshd(bed.pid, bed.directory / "sshd.log"), server,
                          args.timeout, scratch, args.max_other_load, args.attempts)
            benches.append(bench)
            rows = measure_all(bench, args)
            profile = profile_root(bench, args.profile, args.gateways, args.fanout) \
                if args.profile else []
        finally:
            server.close()
    load_after = os.getloadavg()
    found = goals(rows, args)
    at = 1000 if 1000 in args.nodes else max(args.nodes)
    tables = [run_table(rows), run_table(rows, LOCAL_CLIENTS), uplink_table(rows),
              rss_table(rows), goal_table(found), breakdown(rows, at) + profile]
    for lines in tables:
        print("\n".join(lines) + "\n")
    if args.write:
        write_section(section(args, rows, tables, kex, started, load_before, load_after, at),
                      SECTION_TITLE)


#: What the tables show and why, true whatever the numbers of a run.
NOTES = [
    "Notes:",
    "",
    "- A tree adds an OpenSSH client process per target on its gateway, here on the same "
    "2 cores (\"the processes they ran\"); flat shoal does the client side in its own "
    "process (asyncssh). On gateways of their own that CPU would run beside the root's.",
    "- A gateway starts each target's ssh with no Python code in the child (a watchdog "
    "process, not a `preexec_fn`, ends the targets of a gateway that dies), so that the "
    "child is vforked: \"their Python\" is what shoal's gateway code itself costs per node.",
    "- With output identical everywhere, a gateway sends one `OUT` (and one `RET`) per "
    "flush that has ends in it. The root sends a command to each gateway a window at a "
    "time (twice its share of `-f`), so that the targets not sent yet can go to a sibling "
    "if the gateway dies, and sends more as it hears of ends (a quarter of a window at a "
    "time): the OUT column grows with the gateways' targets divided by that quarter, not "
    "with the nodes. A job that has all its targets (200 nodes: 50 per gateway) waits "
    "twice as long after each flush, up to 16 × `gather_delay`.",
    "- The gateways' code bundle is built once for each state of shoal's sources and kept in "
    "`~/.cache/shoal`: a run reads it, and the profile above holds no build.",
]


def section(args: argparse.Namespace, rows: Sequence[Row], tables: Sequence[list[str]],
            kex: dict[str, str], started: str, load_before: tuple[float, ...],
            load_after: tuple[float, ...], at: int) -> str:
    """The Tree section of RESULTS.md."""
    runs, local, uplink, rss, goal_lines, spent = tables
    command = (f".venv/bin/python bench/tree_bench.py --nodes "
               f"{','.join(map(str, args.nodes))} --gateways {args.gateways} --fanout "
               f"{args.fanout} --rss-nodes {args.rss_nodes} --rss-gateways "
               f"{args.rss_gateways}{f' --profile {args.profile}' if args.profile else ''} "
               "--write")
    failures = [f"- {LABELS[r.kind]}, {r.nodes} nodes: {r.failure}"
                f"{f'; first error: “{r.reason}”' if r.reason else ''}"
                for r in rows if not r.good]
    retried = sum(r.attempts - 1 for r in rows)
    return "\n".join([
        f"{SECTION_TITLE} (`bench/tree_bench.py`)",
        "",
        f"Run {started} on {machine()}; load average {load_before[0]:.1f} at the start, "
        f"{load_after[0]:.1f} at the end (the 2 cores are shared with other work: "
        "compare ratios within this run).",
        f"Command: `{command}`. Versions: shoal {version_of('shoal')} (asyncssh "
        f"{version_of('asyncssh')}), ClusterShell {version_of('ClusterShell')} on the root "
        "and on the gateways. Key exchange: shoal flat "
        f"{kex.get('shoal-lib', '?')}; OpenSSH (shoal's root → gateways → targets, clush) "
        f"{kex.get('clush', '?')}.",
        "",
        "One loopback testbed: a real OpenSSH sshd on 127.0.0.1 plays every node and every "
        "gateway (aliases `node1`…, `gw1`…); a gateway is a login of the testbed user that "
        "runs the gateway's code and reaches its targets with the system ssh, so root, "
        "gateways, their ssh clients and sshd all share the same 2 cores. sshd listens on "
        f"{LISTENERS} loopback ports and every client's ssh config spreads the aliases over "
        "them by their last digit, since one port's accept queue (a backlog of 128, fixed "
        "in OpenSSH) overflowed under the connections the gateways start at once: 4,318 "
        "dropped handshakes (`nstat` TcpExtListenOverflows) in one 2,000-node shoal tree "
        "run, whose last nodes then waited for SYN retries until 74 s (73 dropped for shoal "
        "flat, none for clush's tree), a wait that N machines with an sshd each do not have. "
        "Each run is "
        "`-b echo ok` in a process of its own. Client CPU: user + sys of the root and its "
        "descendants (shoal's ssh to the gateways, clush's ssh processes). Gateways CPU: "
        "the gateways' processes under sshd with the ssh clients they reaped (sampled "
        f"every {GATEWAY_SAMPLE * 1e3:.0f} ms from /proc). sshd CPU: the server side "
        "(sshd's listener in a cgroup of its own, so that every login counts, one whose "
        "parent ended first included) without the gateways. Peak RSS: the client's "
        "largest process (`ru_maxrss`). "
        "Other load: the share of the machine busy with neither the run, sshd nor this "
        "script. Every number is from a run in which every node printed `ok` and sshd "
        "logged one login per node and per gateway; other runs show FAIL. Fan-out: "
        f"shoal's `-f` is global ({args.gateways} gateways × {args.fanout}, flat and tree "
        f"alike); clush runs `-f {args.fanout}` on each gateway (its issue #324), the "
        "same number of commands at once. The tree is `topology.conf` with this host → "
        f"gw[1-{args.gateways}] → the nodes, for shoal (`--topology`) and clush alike; "
        "clush's gateways find ClusterShell through the PYTHONPATH it propagates.",
        "",
        *runs,
        "",
        "The trees alone: the same runs with the targets run on the gateways themselves, "
        "one shell per target (shoal: `transport: local`, i.e. `sh -c`, through the "
        "library; clush: `-O ssh_path=STUB`, a shell script that skips ssh's options and "
        "runs the command), so that neither sshd nor ssh clients are in the numbers, only "
        "the root, the gateways and one login per gateway.",
        "",
        *local,
        "",
        "Uplink bytes: what the root read from its gateways' channels (a relay between "
        "the root and each gateway's ssh counts its stdout), the channel's start "
        "included, for `echo ok` (identical) and `echo ok \"$SHOAL_NODE\"` (distinct) "
        f"through {args.gateways} gateways that run their targets locally "
        "(`transport: local`), with the library (`TreeTask`, output gathered as `-b`).",
        "",
        *uplink,
        "",
        f"Root RSS: {args.rss_nodes} nodes behind {args.rss_gateways} gateways (logins of "
        "the testbed), the targets `sh -c` processes on the gateways (`transport: local`), "
        "through the library (`TreeTask`, each node's output kept as `-b` does); RSS is "
        "the root process's `ru_maxrss`.",
        "",
        *rss,
        "",
        "Goals (issue 9):",
        "",
        *goal_lines,
        "",
        f"Where the CPU went at {at} nodes (the runs share 2 cores, so a wall cannot be "
        "shorter than the CPU of everything it ran divided by 2):",
        "",
        *spent,
        "",
        *NOTES,
        "",
        *(["Failures:", "", *failures, ""] if failures else []),
        f"Runs measured again for other load over {args.max_other_load:.0%}: {retried}.",
        "",
    ])


if __name__ == "__main__":
    main()
