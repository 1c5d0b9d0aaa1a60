"""Output benchmark: what large and repeated output costs ``shoal run`` (time, peak RSS).

Cases, each one ``shoal run --transport local`` in a process of its own (the local
transport runs the commands on this machine, so only the client's cost is measured):

* one node printing SIZE bytes without a newline (``head -c SIZE /dev/zero | tr '\\0' x``),
  in line mode and with ``-b``;
* NODES nodes each printing the same 1 MB with ``-b``: in 10,000 lines of 99 bytes and a
  newline, and in one line without a newline.

For each: the wall time from spawn to exit; the CPU time (user + sys) of the shoal process
and of the commands it ran (``head`` and ``tr``), which other work on the machine disturbs
far less than the wall time; the peak RSS of the shoal process (``ru_maxrss`` from
``os.wait4``; its commands are a few MiB); the bytes it wrote to stdout (read and counted
by this script, never stored) and the first line it wrote to stderr. A run that passes
``--timeout`` is killed and shows as ``>T``; with ``--repeat N`` each case runs N times
and the fastest run is kept.

Run (after ``./bootstrap setup``)::

    .venv/bin/python bench/output_bench.py                       # prints the table
    .venv/bin/python bench/output_bench.py --sizes 16M,64M --nodes 300 --repeat 3
    .venv/bin/python bench/output_bench.py --shoal /work/main/.venv/bin/shoal   # another build
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from machine import describe

BIN = Path(sys.executable).parent
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
#: 1 MB in 10,000 lines of 100 bytes (99 and a newline), or in one line without a newline.
SAME_LINES = "head -c 990000 /dev/zero | tr '\\0' x | fold -w 99; echo"
SAME_ONE_LINE = "head -c 1000000 /dev/zero | tr '\\0' x"


@dataclass(frozen=True)
class Case:
    """One ``shoal run``: what it is called in the table, its options and command."""

    name: str
    options: tuple[str, ...]
    command: str


@dataclass(frozen=True)
class Row:
    """How one case went."""

    case: Case
    wall: float | None  # None: killed at the timeout
    cpu: float
    rss_mib: float
    out_bytes: int
    err_line: str


def size(text: str) -> int:
    """``16M`` -> 16 MiB; suffixes K, M, G (powers of 1024)."""
    text = text.strip().upper()
    unit = text[-1:] if text[-1:] in UNITS else ""
    return int(text[:len(text) - len(unit)]) * UNITS[unit]


def cases(sizes: Sequence[str], nodes: int) -> list[Case]:
    """The cases to run, in the table's order."""
    found = []
    for text in sizes:
        command = f"head -c {size(text)} /dev/zero | tr '\\0' x"
        found.append(Case(f"1 node, {text} without newline, line mode", ("-w", "n1"), command))
        found.append(Case(f"1 node, {text} without newline, -b", ("-b", "-w", "n1"), command))
    if nodes:
        found.append(Case(f"{nodes} nodes, same 1 MB in lines, -b",
                          ("-b", "-w", f"n[1-{nodes}]"), SAME_LINES))
        found.append(Case(f"{nodes} nodes, same 1 MB without newline, -b",
                          ("-b", "-w", f"n[1-{nodes}]"), SAME_ONE_LINE))
    return found


def run_case(shoal: str, case: Case, timeout: float) -> Row:
    """Run ``case``, count what it writes, and take its time and peak RSS."""
    argv = [shoal, "run", "--transport", "local", *case.options, case.command]
    counted = [0]
    err = bytearray()

    def count(stream: object) -> None:
        while chunk := stream.read(1 << 20):  # type: ignore[attr-defined]
            counted[0] += len(chunk)

    def keep(stream: object) -> None:
        while chunk := stream.read(1 << 16):  # type: ignore[attr-defined]
            if len(err) < 4096:
                err.extend(chunk[:4096])

    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    readers = [threading.Thread(target=count, args=(proc.stdout,)),
               threading.Thread(target=keep, args=(proc.stderr,))]
    for reader in readers:
        reader.start()
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    killed = not killer.is_alive()
    killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    first = bytes(err).split(b"\n", 1)[0].decode(errors="replace")
    return Row(case, None if killed else wall, usage.ru_utime + usage.ru_stime,
               usage.ru_maxrss / 1024, counted[0], first)


def table(rows: Sequence[Row], timeout: float) -> list[str]:
    """The rows as a Markdown table."""
    lines = ["| case | wall s | CPU s | peak RSS MiB | stdout bytes | stderr |",
             "|---|---:|---:|---:|---:|---|"]
    for row in rows:
        wall = f">{timeout:.0f}" if row.wall is None else f"{row.wall:.2f}"
        note = f"`{row.err_line}`" if row.err_line else ""
        lines.append(f"| {row.case.name} | {wall} | {row.cpu:.2f} | {row.rss_mib:.0f} "
                     f"| {row.out_bytes:,} | {note} |")
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="16M,64M,1G",
                        help="output sizes of the one-node cases (default: 16M,64M,1G)")
    parser.add_argument("--nodes", type=int, default=300,
                        help="nodes of the same-output cases; 0 skips them (default: 300)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds before a run is killed (default: 600)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per case, the fastest kept (default: 1)")
    parser.add_argument("--shoal", default=str(BIN / "shoal"),
                        help="the shoal executable to measure (default: this venv's)")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M')} on {describe()}; {args.shoal}; load "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    for case in cases(args.sizes.split(","), args.nodes):
        runs = [run_case(args.shoal, case, args.timeout) for _ in range(args.repeat)]
        rows.append(min(runs, key=lambda row: float("inf") if row.wall is None else row.wall))
        print("\n".join(table(rows[-1:], args.timeout)[2:]), flush=True)
    print(f"\nload at the end {os.getloadavg()[0]:.2f}")
    print("\n".join(table(rows, args.timeout)))


if __name__ == "__main__":
    main()
