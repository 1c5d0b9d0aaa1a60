"""The shoal command itself: errors from the command line are one line, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SHOAL = str(Path(sys.executable).parent / "shoal")


@pytest.mark.parametrize(("argv", "expected"), [
    (["run", "-f", "0", "-w", "n1", "true"],
     "shoal run: Invalid value for '-f' / '--fanout': 0 is not in the range x>=1. "
     "(see shoal run --help)\n"),
    (["nodeset", "--bogus"],
     "shoal nodeset: No such option '--bogus'. Did you mean '--contiguous'? "
     "(see shoal nodeset --help)\n"),
    (["nosuch"], "shoal: No such command 'nosuch'. (see shoal --help)\n"),
])
def test_usage_errors_are_one_line_and_exit_2(argv: list[str], expected: str) -> None:
    proc = subprocess.run([SHOAL, *argv], capture_output=True,
                          text=True)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", expected)
