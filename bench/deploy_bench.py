"""Deployment benchmark: a ParallelNode.Array action of 3 commands; shoal, Fabric, pyinfra.

One loopback testbed (:mod:`shoal.testbed`, a real OpenSSH sshd on 127.0.0.1 behind the
aliases ``node1``…``nodeN``) serves every client in the same run; sshd listens on 8
loopback ports, over which every client's ssh config spreads the aliases by their last
digit (``fanout_bench.spread_target``), so that no accept queue of 128 drops the handshakes
of a client that starts connections faster than sshd accepts them. Each client runs the
same 3 steps — ``hostname``, ``uname -r``, ``test -d /tmp && echo ok`` — on H distinct
aliases, in a process of its own, the way its users write it:

* shoal: ``shoal deploy bench_deploy.py --run Steps.check --non-interactive``, where the
  script is a ``Node`` whose ``class Hosts: host = "node[1-H]"`` (a node-set expression, on
  an ``SSHHost`` subclass that names the testbed's ssh config) and whose
  ``ParallelNode.Array`` child ``Steps`` runs the 3 commands with ``self.host.run``;
* Fabric: the 3 commands as 3 ``ThreadingGroup.run`` calls over the H aliases;
* pyinfra: ``pyinfra -y -vvv inventory.py deploy.py``, the deploy being 3
  ``server.shell`` operations and the inventory the H aliases.

Every command's exit status is checked by the client (a non-zero exit fails it) and its
output by this script, per host and command from what the client printed: a run is
correct when it shows H × 3 expected outputs, exits 0 and sshd logged H logins (one
connection per host). Anything else is a ``FAIL`` line in the table, never a number.

Measured per run, as bench/fanout_bench.py does it (its process and sshd accounting are
reused): wall time from spawn to exit; client CPU (user + sys, the whole process tree) per
host; peak RSS (``ru_maxrss``, by GNU time); sshd CPU per host; the logins sshd logged;
and the share of the machine other programs kept busy (a run above ``--max-other-load`` is
measured again, up to 3 times, the quietest kept). Before the runs, each client's key
exchange with the testbed is probed, and each is shown to refuse a host whose key is not
in its known_hosts (strict host-key checking), on one host.

Run (after ``./bootstrap setup`` and ``.venv/bin/pip install -e '.[bench]'``)::

    .venv/bin/python bench/deploy_bench.py --hosts 20            # prints the table
    .venv/bin/python bench/deploy_bench.py --hosts 200 --write   # and updates RESULTS.md
    .venv/bin/python bench/deploy_bench.py --hosts 20 --profile  # and where shoal's time goes

``--write`` replaces the Deployment section of bench/RESULTS.md. All traffic goes to the
testbed on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import json
import os
import pstats
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fanout_bench import (
    BIN,
    LISTENERS,
    TIME,
    Sshd,
    Target,
    _listen_log,
    aliases,
    base_env,
    become_subreaper,
    clients_of,
    last_line,
    machine,
    metered_run,
    probe_fabric,
    raise_nofile,
    scratch_dir,
    spread_target,
    sshd_limits,
    version_of,
    write_section,
)

SECTION_TITLE = "## Deployment"
CORES = os.cpu_count() or 1
#: The 3 steps every client runs on every host, in order.
STEPS = ("hostname", "uname -r", "test -d /tmp && echo ok")
CLIENTS = ("shoal", "fabric", "pyinfra")
LABELS = {"shoal": "shoal deploy", "fabric": "Fabric", "pyinfra": "pyinfra"}
#: The path of the shoal action, and the prefix of its result lines (one per isolation).
SHOAL_ACTION = "Steps.check"
SHOAL_RESULT = re.compile(r"^Bench\.Steps\[(node\d+)\]: (.*)$", re.MULTILINE)
SHOAL_SEPARATOR = " | "

SHOAL_SCRIPT = '''\
"""The benchmark's deployment: {steps} on every host, one isolation per host."""

from shoal.deploy import Node, ParallelNode, SSHHost


class TestbedHost(SSHHost):
    config_filename = {config!r}


class Bench(Node):
    class Hosts:
        _host_class = TestbedHost
        host = {nodes!r}

    class Steps(ParallelNode.Array):
        def check(self):
            outputs = [self.host.run(command).strip() for command in {steps!r}]
            return {separator!r}.join(outputs)
'''

PYINFRA_INVENTORY = '''\
hosts = ({names!r}, {{
    "ssh_config_file": {config!r},
    "ssh_known_hosts_file": {known_hosts!r},
    "ssh_strict_host_key_checking": "yes",
}})
'''

PYINFRA_DEPLOY = '''\
from pyinfra.operations import server

for step in {steps!r}:
    server.shell(name=step, commands=[step])
'''


def expected_outputs() -> tuple[str, ...]:
    """What the 3 steps print on any testbed alias: this machine's name and kernel, "ok"."""
    return (socket.gethostname(), os.uname().release, "ok")


# -- children: Fabric's run and the probes, each writes a JSON report to --result ----------


def child_fabric(target: Target, n: int) -> dict[str, Any]:
    """The 3 steps as 3 ``ThreadingGroup.run`` calls; the output goes to stdout (counted there).

    Fabric auto-adds unknown host keys and loads no known_hosts file; the testbed's is
    loaded and unknown keys refused through each connection's paramiko client.
    """
    from fabric import Config, ThreadingGroup
    from fabric.exceptions import GroupException
    from paramiko import RejectPolicy

    group = ThreadingGroup(*aliases(n), config=Config(runtime_ssh_path=target.ssh_config))
    for cxn in group:
        cxn.client.load_host_keys(target.known_hosts)
        cxn.client.set_missing_host_key_policy(RejectPolicy())
    errors: list[str] = []
    try:
        for step in STEPS:
            group.run(step)
    except GroupException as exc:
        errors = [f"{cxn.original_host}: {res!r}" for cxn, res in exc.result.items()
                  if isinstance(res, BaseException)]
        raise SystemExit(f"fabric: {step!r} failed: {'; '.join(errors[:3])}") from exc
    finally:
        group.close()
    return {}


def _kex_probe(logger: str, pattern: str, connect: Callable[[], None],
               first: str) -> dict[str, Any]:
    """Connect once with ``connect`` and find the key exchange in the ``logger`` log."""
    grep = _listen_log(logger, pattern)
    connect()
    return {"kex": grep.found, "first": first}


def probe_shoal(target: Target) -> dict[str, Any]:
    """The key exchange of a shoal.deploy SSHHost with the testbed."""
    import asyncssh
    from asyncssh.kex import get_default_kex_algs

    from shoal.deploy import SSHHost

    asyncssh.set_debug_level(2)
    host = type("Probe", (SSHHost,), {"slug": "node1", "address": "node1",
                                      "config_filename": target.ssh_config})()
    first = next(a.decode() for a in get_default_kex_algs() if not a.startswith(b"gss-"))
    return _kex_probe("asyncssh", r"Key exchange alg: (\S+)",
                      lambda: host.run("true", interactive=False, silent=True), first)


def probe_pyinfra(target: Target) -> dict[str, Any]:
    """The key exchange of pyinfra's SSH client (paramiko) with the testbed."""
    import paramiko
    from pyinfra.connectors.sshuserclient.client import SSHClient

    def connect() -> None:
        client = SSHClient()
        client.connect("node1", _pyinfra_ssh_config_file=target.ssh_config,  # type: ignore[no-untyped-call]
                       _pyinfra_ssh_strict_host_key_checking="yes",
                       allow_agent=False, look_for_keys=False)
        client.exec_command("true")[1].channel.recv_exit_status()
        client.close()

    left, right = socket.socketpair()
    with left, right:  # a transport never started, only asked for its defaults
        first = paramiko.Transport(left).get_security_options().kex[0]
    return _kex_probe("paramiko.transport", r"^Kex: (\S+)", connect, first)


PROBES: dict[str, Callable[[Target], dict[str, Any]]] = {
    "shoal": probe_shoal, "fabric": probe_fabric, "pyinfra": probe_pyinfra}


async def _in_loop(function: Callable[[], None]) -> None:
    function()


def child_profile(target: Target, n: int, out: Path) -> None:
    """Run the shoal client in this process under cProfile; the stats go to ``out``.

    Two profilers, as shoal works on two threads: the main one (imports, loading the
    script, the click command) and shoal's event loop, where the isolations run. Their
    stats are added up. They count each thread's CPU time (``time.thread_time``), not
    the time spent waiting for the server.
    """
    from shoal import _loop

    spec = spec_for("shoal", target, n, out.parent, out)
    main_thread = cProfile.Profile(time.thread_time)
    loop_thread = cProfile.Profile(time.thread_time)
    _loop.run(_in_loop(loop_thread.enable))
    main_thread.enable()
    try:
        from shoal.cli import main as shoal_main

        sys.argv = ["shoal", *spec.argv[1:]]
        shoal_main()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        main_thread.disable()
        _loop.run(_in_loop(loop_thread.disable))
        stats = pstats.Stats(main_thread)
        stats.add(loop_thread)
        stats.dump_stats(out)


def child_main(args: argparse.Namespace) -> None:
    """Run one child (``fabric``, ``probe-CLIENT``) and write its JSON report to --result,
    or (``profile``) the shoal client under cProfile."""
    target = Target.from_json(args.target)
    if args.child == "profile":
        child_profile(target, args.n, args.result)
        return
    try:
        if args.child.startswith("probe-"):
            report = PROBES[args.child.removeprefix("probe-")](target)
        else:
            report = child_fabric(target, args.n)
    except BaseException as exc:
        args.result.write_text(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        raise
    args.result.write_text(json.dumps(report))


# -- how each client is started, and how its output is checked --------------------------


@dataclass
class Spec:
    """A client's command line and environment for one run, and its output checker."""

    argv: list[str]
    env: dict[str, str]
    #: (stdout, stderr) → {host: number of steps whose output was as expected}
    check: Callable[[str, str], dict[str, int]]


def check_shoal(stdout: str, stderr: str) -> dict[str, int]:
    """Per host, the steps whose output is right, from ``Bench.Steps[nodeK]: a | b | c``."""
    del stderr
    wanted = expected_outputs()
    done: dict[str, int] = {}
    for host, line in SHOAL_RESULT.findall(stdout):
        outputs = line.split(SHOAL_SEPARATOR)
        done[host] = sum(a == b for a, b in zip(outputs, wanted, strict=False))
    return done


def check_fabric(stdout: str, stderr: str) -> dict[str, int]:
    """Fabric prints outputs without a host name: each expected line must appear H times.

    Its results cannot say which host printed what (a GroupResult is keyed by
    connections that compare equal when their aliases resolve to one address), so
    the count is per step: the hosts are "host1"… up to the smallest step count.
    """
    del stderr
    lines = stdout.splitlines()
    counts = [lines.count(value) for value in expected_outputs()]
    return {f"host{i}": sum(c >= i for c in counts) for i in range(1, max(counts, default=0) + 1)}


def check_pyinfra(stdout: str, stderr: str) -> dict[str, int]:
    """Per host, the steps that printed the right output (``-vvv``) and ended in Success."""
    del stdout
    wanted = expected_outputs()
    done: dict[str, int] = {}
    sections = re.split(r"^--> Starting operation: (.*?) ?$", stderr, flags=re.MULTILINE)
    for name, body in zip(sections[1::2], sections[2::2], strict=True):
        if name not in STEPS:
            continue
        value = wanted[STEPS.index(name)]
        # "[node1]  vm": host names are padded to one width; commands are "[node1] >>> …"
        printed = {host for host, out in re.findall(r"^\[(node\d+)\] +(.*)$", body,
                                                    flags=re.MULTILINE) if out == value}
        for host in re.findall(r"^ +\[(node\d+)\] +Success$", body, flags=re.MULTILINE):
            if host in printed:
                done[host] = done.get(host, 0) + 1
    return done


def spec_for(client: str, target: Target, n: int, work: Path, result: Path) -> Spec:
    """How to start ``client`` on the first ``n`` aliases, with its files in ``work``."""
    env = base_env()
    if client == "shoal":
        script = work / "bench_deploy.py"
        script.write_text(SHOAL_SCRIPT.format(config=target.ssh_config, nodes=f"node[1-{n}]",
                                              steps=STEPS, separator=SHOAL_SEPARATOR))
        return Spec([str(BIN / "shoal"), "deploy", str(script), "--run", SHOAL_ACTION,
                     "--non-interactive"], env, check_shoal)
    if client == "pyinfra":
        inventory, deploy = work / "inventory.py", work / "deploy.py"
        inventory.write_text(PYINFRA_INVENTORY.format(
            names=aliases(n), config=target.ssh_config, known_hosts=target.known_hosts))
        deploy.write_text(PYINFRA_DEPLOY.format(steps=STEPS))
        return Spec([str(BIN / "pyinfra"), "-y", "-vvv", str(inventory), str(deploy)], env,
                    check_pyinfra)
    return Spec([sys.executable, str(Path(__file__).resolve()), "--child", client,
                 "--target", target.to_json(), "--n", str(n), "--result", str(result)],
                env, check_fabric)


# -- one measurement --------------------------------------------------------------------


@dataclass
class Row:
    """One client's run on H hosts: its figures, or why it failed."""

    client: str
    hosts: int
    wall: float = 0.0
    cpu: float = 0.0
    maxrss_kib: int = 0
    sshd_cpu: float = 0.0
    logins: int = 0
    steps_ok: int = 0
    other_load: float = 0.0
    failure: str = ""  # "FAIL (…)": the client ran and was wrong
    reason: str = ""  # the client's own words
    failed_runs: int = 0
    work: Path | None = None  # where its files and output are

    @property
    def good(self) -> bool:
        return not self.failure


@dataclass
class Bench:
    """What every measurement shares: the testbed, the timeout, the scratch directory."""

    target: Target
    sshd: Sshd
    timeout: float
    scratch: Path
    failures: int = 0
    _serial: int = 0

    def run(self, client: str, n: int, target: Target | None = None) -> Row:
        """Run ``client`` once on ``n`` hosts (against ``target``, else the testbed)."""
        self._serial += 1
        work = self.scratch / f"{self._serial:03d}-{client}-{n}"
        work.mkdir()
        result = work / "result.json"
        spec = spec_for(client, target or self.target, n, work, result)
        run = metered_run(self.sshd, spec.argv, env=spec.env, cwd=work, timeout=self.timeout)
        proc, settled = run.proc, run.settled
        row = Row(client, n, wall=proc.wall, cpu=proc.cpu, maxrss_kib=proc.maxrss_kib,
                  sshd_cpu=run.server_cpu, logins=run.logins, work=work,
                  other_load=run.other_load)
        done = spec.check(proc.stdout, proc.stderr)
        row.steps_ok = sum(done.values())
        problems: list[str] = []
        if proc.timed_out:
            problems.append(f"killed after {self.timeout:g}s")
        if proc.returncode != 0:
            problems.append(f"exit status {proc.returncode}")
        if row.steps_ok != n * len(STEPS) or len(done) != n:
            problems.append(f"{row.steps_ok}/{n * len(STEPS)} steps right on {len(done)} hosts")
        if row.logins != n:
            problems.append(f"sshd saw {row.logins} logins for {n} hosts")
        if not settled:
            problems.append("sshd sessions still open 60 s after the client exited")
        if problems:
            report: dict[str, Any] = {}
            with contextlib.suppress(OSError, ValueError):
                report = json.loads(result.read_text())
            row.failure = f"FAIL ({'; '.join(problems)})"
            row.reason = report.get("error") or last_line(proc.stderr)
            row.failed_runs = 1
        return row

    def measure(self, client: str, n: int, max_other: float, attempts: int = 3) -> Row:
        """:meth:`run`, again while others disturb it (up to ``attempts``); the quietest
        run counts, failed runs among them are counted in it."""
        tried: list[Row] = []
        while len(tried) < attempts:
            row = self.run(client, n)
            tried.append(row)
            if row.failure:
                self.failures += 1
                print(f"FAIL {LABELS[client]} hosts={n}: {row.failure} — {row.reason} "
                      f"(output in {self.scratch})", file=sys.stderr, flush=True)
            if row.other_load <= max_other:
                break
            print(f"{LABELS[client]} hosts={n}: other load {row.other_load:.0%} > "
                  f"{max_other:.0%}, measuring again", file=sys.stderr, flush=True)
        good = [r for r in tried if r.good]
        kept = min(good or tried, key=lambda r: r.other_load)
        kept.failed_runs = sum(r.failed_runs for r in tried)
        return kept

    def refuses_unknown_keys(self, client: str) -> str:
        """Whether ``client`` refuses the testbed when its key is unknown (one host)."""
        directory = Path(tempfile.mkdtemp(prefix="strict-", dir=self.scratch))
        empty = directory / "known_hosts"
        empty.touch()
        config = directory / "ssh_config"
        config.write_text(re.sub(r"(?m)^(\s*UserKnownHostsFile) .*$", rf"\1 {empty}",
                                 Path(self.target.ssh_config).read_text()))
        row = self.run(client, 1, dataclasses.replace(
            self.target, ssh_config=str(config), known_hosts=str(empty)))
        assert row.work is not None
        said = "".join(f.read_text(errors="replace") for f in row.work.glob("*.txt"))
        said += "".join(f.read_text() for f in row.work.glob("result.json"))
        if row.logins or row.steps_ok or empty.read_text().strip():
            return f"NO ({row.logins} logins, {row.steps_ok} steps with an unknown key)"
        if not re.search(r"host key|known_hosts", said, flags=re.IGNORECASE):
            return f"unclear (it failed, but not over the host key: {row.reason})"
        return "yes"


def best(rows: Sequence[Row]) -> Row:
    """The run with the best wall time; the failed runs of all counted in it."""
    good = [r for r in rows if r.good]
    chosen = min(good, key=lambda r: r.wall) if good else rows[-1]
    chosen.failed_runs = sum(r.failed_runs for r in rows)
    return chosen


# -- kex, versions, profile -------------------------------------------------------------


def probe_kex(clients: Sequence[str], target: Target, scratch: Path) -> dict[str, str]:
    """The key exchange each client negotiates with the testbed (and would prefer)."""
    found: dict[str, str] = {}
    for client in clients:
        result = scratch / f"probe-{client}.json"
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child",
                        f"probe-{client}", "--target", target.to_json(), "--n", "1",
                        "--result", str(result)],
                       capture_output=True, env=base_env(), check=False, timeout=120)
        try:
            report = json.loads(result.read_text())
        except (OSError, ValueError):
            report = {"error": "the probe wrote no report"}
        found[client] = (f"n/a ({report['error'][:80]})" if "error" in report else
                         f"{report['kex']} (its first default: {report['first']})")
    return found


def versions() -> dict[str, str]:
    return {
        "shoal": f"shoal {version_of('shoal')} (asyncssh {version_of('asyncssh')}, greenlet "
                 f"{version_of('greenlet')})",
        "fabric": f"Fabric {version_of('fabric')} (paramiko {version_of('paramiko')}, "
                  f"invoke {version_of('invoke')})",
        "pyinfra": f"pyinfra {version_of('pyinfra')} (paramiko {version_of('paramiko')}, "
                   f"gevent {version_of('gevent')})",
    }


def profile_shoal(bench: Bench, n: int, top: int = 15) -> list[str]:
    """Run the shoal client once more under cProfile: its CPU by file, and its top functions.

    Both by own time (``tottime``); paths are shortened to the package's.
    """
    work = bench.scratch / f"profile-{n}"
    work.mkdir()
    stats_file = work / "shoal.prof"
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "profile",
                           "--target", bench.target.to_json(), "--n", str(n),
                           "--result", str(stats_file)],
                          env=base_env(), cwd=work, capture_output=True, text=True, check=False,
                          timeout=bench.timeout)
    done = check_shoal(proc.stdout, proc.stderr)
    if proc.returncode != 0 or sum(done.values()) != n * len(STEPS):
        return [f"profiled run FAILED (exit {proc.returncode}, {sum(done.values())} steps): "
                f"{last_line(proc.stderr)}"]
    return summarise_profile(stats_file, n, top)


def summarise_profile(stats_file: Path, n: int, top: int = 15) -> list[str]:
    """The CPU of a profile of ``n`` hosts: shares by package, the top files and functions."""
    profile = pstats.Stats(str(stats_file))
    stats: dict[tuple[str, int, str], tuple[Any, ...]] = profile.stats  # type: ignore[attr-defined]
    by_file: dict[str, float] = {}
    functions: list[tuple[float, int, str]] = []
    for (path, line, name), (_, calls, own, _, _) in stats.items():
        where = short_path(path)
        by_file[where] = by_file.get(where, 0.0) + own
        functions.append((own, calls, f"{where}:{line}({name})" if line else name))
    total = sum(by_file.values())
    by_package: dict[str, float] = {}
    for where, own in by_file.items():
        package = where.split("/")[0] if "/" in where else "stdlib and imports"
        if where == "<built-in>":
            package = "C calls (sockets, crypto, builtins)"
        elif package == "shoal":
            package = "shoal (all its modules)"
        elif package in ("logging", "re", "importlib", "json", "concurrent", "email"):
            package = "stdlib and imports"
        by_package[package] = by_package.get(package, 0.0) + own
    shares = ", ".join(f"{name} {own / total:.0%}" for name, own in
                       sorted(by_package.items(), key=lambda i: -i[1])[:6])
    lines = [f"{total * 1e3:.0f} ms of CPU in all ({total * 1e3 / n:.1f} ms/host, profiler "
             f"overhead included); shares: {shares}; by file:"]
    lines += [f"{own * 1e3:8.1f} ms  {where}"
              for where, own in sorted(by_file.items(), key=lambda i: -i[1])[:top]]
    lines.append("by function (own time, calls):")
    lines += [f"{own * 1e3:8.1f} ms  {calls:7d}  {name}"
              for own, calls, name in sorted(functions, reverse=True)[:top]]
    return lines


def short_path(path: str) -> str:
    """``path`` from its package on (``asyncssh/connection.py``, ``shoal/deploy/node/env.py``,
    ``asyncio/events.py``); ``<built-in>`` for C functions."""
    if path == "~":
        return "<built-in>"
    for root in (*sys.path[1:], str(Path(__file__).resolve().parents[1] / "src")):
        if root and path.startswith(root.rstrip("/") + "/"):
            return path[len(root.rstrip("/")) + 1:]
    return path


# -- the table and the section ----------------------------------------------------------


def table(rows: Sequence[Row]) -> list[str]:
    shoal = next((r for r in rows if r.client == "shoal" and r.good), None)
    lines = ["| client | hosts | wall s | CPU ms/host | peak RSS MiB | sshd CPU ms/host "
             "| CPU-bound wall s | logins | steps right | other load | peer wall / shoal wall |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        label = LABELS[row.client]
        if not row.good:
            lines.append(f"| {label} | {row.hosts} | {row.failure.replace('|', '/')} "
                         "| — | — | — | — | — | — | — | — |")
            continue
        ratio = f"{row.wall / shoal.wall:.2f}×" if shoal else "—"
        wall = f"{row.wall:.2f}"
        if row.failed_runs:
            wall += f" (and {row.failed_runs} FAILED run{'s' * (row.failed_runs > 1)})"
        lines.append(f"| {label} | {row.hosts} | {wall} | {row.cpu * 1e3 / row.hosts:.1f} "
                     f"| {row.maxrss_kib / 1024:.0f} | {row.sshd_cpu * 1e3 / row.hosts:.1f} "
                     f"| {(row.cpu + row.sshd_cpu) / CORES:.2f} | {row.logins} "
                     f"| {row.steps_ok}/{row.hosts * len(STEPS)} "
                     f"| {row.other_load * 100:.0f} % | {ratio} |")
    return lines


def bound_notes(rows: Sequence[Row]) -> list[str]:
    """How far the testbed lets shoal go: the ratios if the shoal client used no CPU."""
    shoal = next((r for r in rows if r.client == "shoal" and r.good), None)
    peers = [r for r in rows if r.client != "shoal" and r.good]
    if shoal is None or not peers or not shoal.sshd_cpu:
        return []
    floor = shoal.sshd_cpu / CORES
    ratios = ", ".join(f"{LABELS[r.client]} {r.wall / floor:.2f}×" for r in peers)
    cpu = ", ".join(f"{LABELS[r.client]} {r.cpu / shoal.cpu:.2f}×" for r in peers)
    return [f"- The bound: the server side runs on the same {CORES} cores, and its CPU is "
            "the same whichever client drives it. Had the shoal client used no CPU at "
            f"all, its run could not take less than its sshd CPU / {CORES} cores = "
            f"{floor:.2f} s, so the best wall ratios this testbed allows are: {ratios}. "
            "The CPU-bound wall column is (client + sshd CPU) / cores: a wall close to "
            "it means the machine was saturated, not waiting. Against servers on other "
            "machines, the client's own CPU is what a wide run spends here; per host, "
            f"peer / shoal: {cpu}."]


def section(args: argparse.Namespace, rows: Sequence[Row], about: dict[str, dict[str, str]],
            limits: Sequence[str], load: tuple[str, str], started: str,
            profile: Sequence[str]) -> str:
    command = (f".venv/bin/python bench/deploy_bench.py --hosts {args.hosts} --repeat "
               f"{args.repeat}{' --profile' * args.profile} --write")
    clients = ["| client | version | key exchange with the testbed | refuses an unknown "
               "host key |", "|---|---|---|---|"]
    for client in args.clients:
        info = about[client]
        clients.append(f"| {LABELS[client]} | {info['version']} | {info['kex']} "
                       f"| {info['strict']} |")
    failures = [f"- FAIL {LABELS[r.client]}: {r.failure}; first error: “{r.reason}”"
                for r in rows if not r.good]
    shown_profile = (["", "Where the shoal client's CPU goes (cProfile of one more run, the "
                      "CPU time of its two threads, by own time; not a timed run):", "",
                      "```",
                      *profile, "```"] if profile else [])
    return "\n".join([
        f"{SECTION_TITLE} (`bench/deploy_bench.py`)",
        "",
        f"Run {started} on {machine()}.",
        f"Command: `{command}`. Load average (1, 5, 15 min) at the start {load[0]}, at the "
        f"end {load[1]}: the 2 cores are shared with other work, whose share during each "
        "run is the “other load” column (a run above "
        f"{args.max_other_load:.0%} is measured again, up to 3 times, the quietest kept).",
        "",
        f"Each client runs the same 3 steps (`{'`, `'.join(STEPS)}`) on H distinct aliases "
        "of one loopback testbed (real OpenSSH sshd on 127.0.0.1), in a process of its "
        "own, as its users write it: shoal as `shoal deploy SCRIPT --run Steps.check "
        "--non-interactive`, the script a `Node` with `class Hosts: host = "
        "\"node[1-H]\"` and a `ParallelNode.Array` child whose action runs the 3 commands "
        "with `self.host.run`; Fabric as 3 `ThreadingGroup.run` calls; pyinfra as "
        "`pyinfra -y -vvv inventory.py deploy.py` with 3 `server.shell` operations. "
        "Each exit status is checked by the client, each output by the benchmark (per "
        "host and step: shoal's result lines, pyinfra's `-vvv` output; Fabric prints "
        "outputs without host names, so there per step), and the run counts only with "
        "H × 3 right outputs, exit 0 and H logins in the sshd log. CPU is user + sys of "
        "the client's process tree, interpreter start-up and imports included; peak RSS "
        "is `ru_maxrss`; sshd CPU is the server side, on the same 2 cores. Ratio = peer "
        "wall / shoal wall; above 1 means shoal is faster; best wall of "
        f"{args.repeat} run{'s' * (args.repeat > 1)}.",
        "",
        *table(rows),
        "",
        *(["Failures:", "", *failures, ""] if failures else []),
        *clients,
        "",
        "Notes:",
        "",
        "- Parallelism is each client's default: shoal runs every isolation at once (one "
        "greenlet each on one event loop), Fabric starts a thread per host, pyinfra "
        "runs 20 hosts per core at once (40 here) in gevent greenlets. Fabric and pyinfra "
        "end each step on every host before the next one starts; shoal's isolations go "
        "through the 3 steps independently.",
        "- Host keys: shoal and pyinfra check them against the testbed's known_hosts as "
        "configured (pyinfra needs `ssh_strict_host_key_checking: yes`: its default, "
        "`accept-new`, overrides the ssh config's `StrictHostKeyChecking yes`). Fabric "
        "always auto-adds unknown keys and loads no known_hosts; here each connection's "
        "paramiko client loads the testbed's and gets `RejectPolicy`. The last column "
        "shows each client failing, with no login, on one host whose key is not known.",
        "- shoal's `run` logs every command with its duration and shows its output on "
        "stderr; Fabric prints every output; pyinfra with `-vvv` prints commands and "
        "outputs. Each client thus shows what it ran, as its users would see it.",
        *bound_notes(rows),
        "",
        "Limits: " + "; ".join(limits) + ".",
        *shown_profile,
        "",
    ])


# -- main -------------------------------------------------------------------------------


client_list = clients_of(CLIENTS)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hosts", type=int, default=200, help="host count (default 200)")
    parser.add_argument("--clients", type=client_list, default=list(CLIENTS),
                        help=f"clients to measure (default all: {','.join(CLIENTS)})")
    parser.add_argument("--repeat", type=int, default=1, help="runs per client; best wall kept")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds before a client run is killed (default 300)")
    parser.add_argument("--max-other-load", type=float, default=0.15,
                        help="measure a run again (up to 3 times) when other programs kept "
                             "more than this share of the machine busy (default 0.15)")
    parser.add_argument("--profile", action="store_true",
                        help="then profile one more shoal run (cProfile) and show its top "
                             "functions")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def check_tools(clients: Sequence[str]) -> None:
    """Fail early, with the fix, when something the runs need is not installed."""
    missing = [] if os.access(TIME, os.X_OK) else [f"GNU time at {TIME} (apt-get install time)"]
    missing += [f"{dist} (.venv/bin/pip install -e '.[bench]')"
                for client, dist in (("fabric", "fabric"), ("pyinfra", "pyinfra"))
                if client in clients and version_of(dist) == "not installed"]
    if missing:
        sys.exit("deploy_bench: missing " + ", ".join(missing))


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    args = parse_args()
    if args.child:
        child_main(args)
        return
    from shoal import testbed

    check_tools(args.clients)
    soft, hard = raise_nofile()
    become_subreaper()
    started, load_start = time.strftime("%Y-%m-%d %H:%M"), load_average()
    benches: list[Bench] = []
    with testbed.running(nodes=args.hosts, gateways=0, listeners=LISTENERS) as bed, \
            scratch_dir(lambda: any(b.failures for b in benches), "shoal-deploy-bench-") as scratch:
        target = spread_target(bed, scratch / "client")
        limits = [f"open files: soft {soft}, hard {hard}",
                  *sshd_limits(bed.directory, args.hosts)]
        print(f"testbed {bed!r}; load average {load_start}\nlimits: " + "; ".join(limits),
              flush=True)
        bench = Bench(target, Sshd(bed.pid, bed.directory / "sshd.log"), args.timeout, scratch)
        benches.append(bench)
        kex, version = probe_kex(args.clients, target, scratch), versions()
        about: dict[str, dict[str, str]] = {}
        for client in args.clients:
            warm_up = bench.run(client, min(10, args.hosts))  # not kept: bytecode caches
            if warm_up.failure:
                print(f"{LABELS[client]} warm-up: {warm_up.failure} — {warm_up.reason}",
                      file=sys.stderr, flush=True)
            about[client] = {"version": version[client], "kex": kex[client],
                             "strict": bench.refuses_unknown_keys(client)}
            print(f"{LABELS[client]}: {version[client]}; kex {kex[client]}; refuses an "
                  f"unknown host key: {about[client]['strict']}", flush=True)
        runs: dict[str, list[Row]] = {}
        for _ in range(args.repeat):
            for client in args.clients:
                row = bench.measure(client, args.hosts, args.max_other_load)
                runs.setdefault(client, []).append(row)
                if row.good:
                    print(f"{LABELS[client]:>14} hosts={args.hosts} wall {row.wall:7.2f} s  "
                          f"cpu {row.cpu * 1e3 / args.hosts:6.1f} ms/host  other load "
                          f"{row.other_load * 100:3.0f} %", flush=True)
        rows = [best(runs[client]) for client in args.clients]
        profile = profile_shoal(bench, args.hosts) if args.profile else []
    lines = table(rows)
    print("\n".join([*lines, *profile]))
    if args.write:
        write_section(section(args, rows, about, limits, (load_start, load_average()),
                              started, profile), SECTION_TITLE)


if __name__ == "__main__":
    main()
