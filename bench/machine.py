"""What the benchmarks ran on, in one line for bench/RESULTS.md."""

from __future__ import annotations

import os
import platform


def describe(*extra: str) -> str:
    """``N cores, CPU model, Linux release, Python version`` and ``extra`` items."""
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    items = [f"{os.cpu_count()} cores", cpu, f"Linux {platform.release()}",
             f"Python {platform.python_version()}", *extra]
    return ", ".join(items)
