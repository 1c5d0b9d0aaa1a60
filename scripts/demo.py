"""The README's demo: start the loopback testbed and show shoal at work on it.

Every step is a command a user could type; each is printed, run, and its output shown.
The testbed stays up at the end so the printed commands can be tried by hand.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
SHOAL = str(BIN / "shoal")
BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def step(title: str, *argv: str, expect_rc: int = 0) -> str:
    """Print and run one command; stop the demo if it does not exit as expected."""
    print(f"\n{BOLD}# {title}{RESET}")
    shown = [a if a != SHOAL else "shoal" for a in argv]
    print(f"{DIM}${RESET} {shlex.join(shown)}", flush=True)
    proc = subprocess.run(argv, capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    sys.stdout.write(proc.stderr)
    if proc.returncode != expect_rc:
        print(f"demo: command exited with {proc.returncode}, expected {expect_rc}", file=sys.stderr)
        sys.exit(1)
    return proc.stdout


def main() -> None:
    from shoal import testbed

    step("Start a loopback sshd with 50 node aliases", SHOAL, "testbed", "up", "--nodes", "50")
    bed = testbed.load(testbed.default_directory())
    config = str(bed.ssh_config)
    step("Plain OpenSSH reaches every alias, host key checked strictly",
         "ssh", "-F", config, "node7", "echo hello from $(hostname) as $(id -un)")
    step("Fold names into a node set", SHOAL, "nodeset", "-f", *bed.nodes[:12:3], "node13")
    step("Expand a node set", SHOAL, "nodeset", "-e", "node[1-3,10]")
    step("Count with set operations", SHOAL, "nodeset", "-c", "node[1-50]", "-x", "node[10-19]")
    step("Several dimensions fold per axis", SHOAL, "nodeset", "-f", "da[1-2]c[1-3]", "da3c[1-2]")
    step("Split the testbed into 3 batches", SHOAL, "nodeset", "--split", "3", "-f", "node[1-50]")
    step("Bad input: one line naming the expression and the column, exit status 2",
         SHOAL, "nodeset", "-f", "node[1-", expect_rc=2)
    print(f"\n{BOLD}The testbed is still up:{RESET} try `ssh -F {config} node42 uptime`;"
          f" stop it with `{BIN}/shoal testbed down`.")


if __name__ == "__main__":
    main()
