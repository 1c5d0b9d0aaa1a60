"""The README's demo runs end to end: testbed up, real SSH login, node sets, a bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from shoal import testbed as tb

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_and_leaves_a_working_testbed(tmp_path: Path) -> None:
    # TMPDIR gives the demo's default testbed directory a private place for this test.
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    directory = tmp_path / f"shoal-testbed-{os.getuid()}"
    try:
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py")], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "hello from" in proc.stdout
        assert f"as {tb.load(directory).user}" in proc.stdout
        assert "node[1,4,7,10,13]" in proc.stdout
        assert "---------------\nnode[1-50] (50)\n---------------\nhello from Linux" in proc.stdout
        assert "shoal: down1: connection refused" in proc.stdout
        assert 'shoal: node set "node[1-": missing "]" at column 5' in proc.stdout
        bed = tb.load(directory)
        login = subprocess.run(bed.ssh_command("node42", "echo up"), capture_output=True,
                               text=True, stdin=subprocess.DEVNULL, timeout=60)
        assert login.stdout == "up\n"
    finally:
        tb.stop(directory)
    assert not directory.exists()
