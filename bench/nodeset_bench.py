"""Node-set benchmark: shoal vs ClusterShell, same inputs, same run.

For N = 10^3 … 10^6 nodes and four inputs (1-D and 2-D, folded and fully expanded), each
implementation parses the input, folds it (``str``), expands it (``list``) and counts it
(``len``), in a fresh interpreter per measurement; the time of that work alone is taken
(best and median of ``--repeat`` runs; input building and imports are not timed). Then the
peak RSS of counting a folded 10^6-node set, and the start-up time of the CLIs
(``shoal nodeset -f a1 a2`` vs ClusterShell's ``nodeset -f a1 a2``).

Run: ``.venv/bin/python bench/nodeset_bench.py [--max-exp 6] [--repeat 3] [--write]``
(``--write`` replaces the node-set section of bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from machine import describe

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TIMEOUT = 300.0

CHILD = r"""
import json, resource, statistics, sys, time
impl, case, n, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if impl == "shoal":
    from shoal.nodeset import NodeSet
    from shoal.nodeset.nodeset import NO_GROUPS
    make = lambda text: NodeSet(text, resolver=NO_GROUPS)
else:
    from ClusterShell.NodeSet import NodeSet, RESOLVER_NOGROUP
    make = lambda text: NodeSet(text, resolver=RESOLVER_NOGROUP)
a = 10 ** (len(str(n)) // 2)          # 2-D: a x b = n
b = n // a
if case == "1d-folded":
    text = f"node[1-{n}]"
elif case == "1d-list":
    text = ",".join(f"node{i}" for i in range(1, n + 1))
elif case == "2d-folded":
    text = f"r[1-{a}]n[1-{b}]"
elif case == "2d-list":
    text = ",".join(f"r{i}n{j}" for i in range(1, a + 1) for j in range(1, b + 1))
elif case == "count-rss":
    nodes = make(f"node[1-{n}]")
    assert len(nodes) == n
    print(json.dumps({"rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
    sys.exit(0)
times = []
for _ in range(repeat):
    t0 = time.perf_counter()
    nodes = make(text)
    folded = str(nodes)
    names = list(nodes)
    count = len(nodes)
    times.append(time.perf_counter() - t0)
    assert count == n == len(names), (count, n, len(names))
print(json.dumps({"best": min(times), "median": statistics.median(times), "folded": folded[:60]}))
"""

CASES = ["1d-folded", "1d-list", "2d-folded", "2d-list"]


def measure(impl: str, case: str, n: int, repeat: int) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter."""
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, impl, case, str(n), str(repeat)],
                              capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"error": f">{TIMEOUT:g}s"}
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1]}
    return dict(json.loads(proc.stdout))


def startup(argv: list[str], runs: int) -> tuple[float, float]:
    """Best and median wall time of ``argv`` over ``runs`` runs (after one warm-up)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure with bytecode caches, as users run
    subprocess.run(argv, capture_output=True, env=env, check=True)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, env=env, check=True)
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def machine() -> str:
    import ClusterShell

    return describe(f"ClusterShell {ClusterShell.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-exp", type=int, default=6, help="largest N is 10^this")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--startup-runs", type=int, default=30)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    rows = ["| input | N | ClusterShell (best / median) | shoal (best / median) | ratio |",
            "|---|---:|---:|---:|---:|"]
    large_ratios: list[float] = []  # lower bounds when ClusterShell timed out
    for exp in range(3, args.max_exp + 1):
        n = 10 ** exp
        for case in CASES:
            res = {impl: measure(impl, case, n, args.repeat) for impl in ("clustershell", "shoal")}
            cells = []
            for impl in ("clustershell", "shoal"):
                r = res[impl]
                cells.append(str(r["error"]) if "error" in r else
                             f"{fmt_time(float(r['best']))} / {fmt_time(float(r['median']))}")
            cs, sh = res["clustershell"], res["shoal"]
            if "error" in sh:
                ratio = "—"
                value = 0.0
            elif "error" in cs:
                value = TIMEOUT / float(sh["best"])
                ratio = f"> {value:.0f}×"
            else:
                value = float(cs["best"]) / float(sh["best"])
                ratio = f"{value:.1f}×"
            if exp >= 5:
                large_ratios.append(value)
            rows.append(f"| {case} | 10^{exp} | {cells[0]} | {cells[1]} | {ratio} |")
            print(rows[-1], flush=True)

    rss = {impl: measure(impl, "count-rss", 10**6, 1) for impl in ("clustershell", "shoal")}
    rss_row = (f"| count a folded 10^6-node set | "
               f"{int(rss['clustershell'].get('rss_kib', 0)) / 1024:.1f} MiB | "
               f"{int(rss['shoal'].get('rss_kib', 0)) / 1024:.1f} MiB |")
    print(rss_row)

    cs_start = startup([str(BIN / "nodeset"), "-f", "a1", "a2"], args.startup_runs)
    sh_start = startup([str(BIN / "shoal"), "nodeset", "-f", "a1", "a2"], args.startup_runs)
    start_row = (f"| `nodeset -f a1 a2` | {fmt_time(cs_start[0])} / {fmt_time(cs_start[1])} | "
                 f"{fmt_time(sh_start[0])} / {fmt_time(sh_start[1])} | "
                 f"{cs_start[1] / sh_start[1]:.2f}× |")
    print(start_row)

    shoal_rss = int(rss["shoal"].get("rss_kib", 0)) / 1024
    goals: list[tuple[str, str, bool | None]] = [
        ("shoal ≥ 2× faster at 10^5 and 10^6 nodes, every input",
         f"least ratio {min(large_ratios, default=0.0):.1f}×",
         bool(large_ratios) and min(large_ratios) >= 2),
        ("start-up no slower than ClusterShell's `nodeset`",
         f"ratio {cs_start[1] / sh_start[1]:.2f}×", sh_start[1] <= cs_start[1]),
        ("folded 10^6-node set counted in < 40 MiB", f"{shoal_rss:.1f} MiB",
         0 < shoal_rss < 40),
    ]
    if not large_ratios:
        goals[0] = (goals[0][0], "not measured (`--max-exp` below 5)", None)
    goal_rows = [f"| {goal} | {value} | {'—' if ok is None else 'met' if ok else 'NOT met'} |"
                 for goal, value, ok in goals]
    print("\n".join(goal_rows))
    load_after = os.getloadavg()[0]

    section = "\n".join([
        "## Node sets (`bench/nodeset_bench.py`)",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M')} on {machine()}; load average (1 min) "
        f"{load_before:.1f} at the start, {load_after:.1f} at the end (other users' work).",
        f"Command: `.venv/bin/python bench/nodeset_bench.py --max-exp {args.max_exp} "
        f"--repeat {args.repeat} --write`. "
        "Each cell parses, folds, expands and counts the input once per repeat, in a fresh "
        "interpreter; ratio = ClusterShell time / shoal time (best runs), above 1 means "
        f"shoal is faster. `>{TIMEOUT:g}s`: ClusterShell did not finish its repeats in "
        "that time, so the ratio is a lower bound.",
        "",
        *rows,
        "",
        "| peak RSS of the whole process | ClusterShell | shoal |",
        "|---|---:|---:|",
        rss_row,
        "",
        "| start-up, 30 runs (best / median) | ClusterShell | shoal | ratio (median) |",
        "|---|---:|---:|---:|",
        start_row,
        "",
        "| goal | measured | |",
        "|---|---:|---|",
        *goal_rows,
        "",
    ])
    if args.write:
        write_section(section)


def write_section(section: str) -> None:
    """Replace (or add) the node-set section of bench/RESULTS.md, keeping the others."""
    path = HERE / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    start = text.find("## Node sets")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


if __name__ == "__main__":
    main()
