"""The README's demo: start a 50-node loopback testbed and show shoal run at work on it.

Every step is a command a user could type; each is printed, run, and its output shown.
The testbed stays up at the end so the printed commands can be tried by hand.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
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
    run = [SHOAL, "run", "-F", config]
    step("Run a command on all 50 nodes; identical outputs are gathered (-b)",
         *run, "-w", "node[1-50]", "-b", "echo hello from $(uname -s) as $(id -un)")
    step("Line mode, as clush: each line labelled with its node",
         *run, "-w", "node[1-4]", "-L", "echo up since $(cut -d. -f1 /proc/uptime)s")
    payload = Path(tempfile.mkdtemp(prefix="shoal-demo-")) / "motd"
    payload.write_text("deployed by shoal\n")
    payload.parent.chmod(0o755)
    step("Copy a file to every node over the open connections (SFTP)",
         SHOAL, "copy", "-F", config, "-w", "node[1-50]", str(payload), "--dest", "/tmp")
    step("Check it everywhere",
         *run, "-w", "node[1-50]", "-b", "md5sum /tmp/motd | cut -c1-8")
    step("Failures are reported per node: a node that is down (down1) and a command that"
         " fails on some nodes (its exit code is the client port modulo 3); -S exits with"
         " the largest return code",
         *run, "-w", "node[1-8],down1", "-b", "-S",
         'set -- $SSH_CONNECTION; echo rc=$(($2 % 3)); exit $(($2 % 3))', expect_rc=255)
    step("Node sets: fold names", SHOAL, "nodeset", "-f", *bed.nodes[:12:3], "node13")
    step("Count with set operations", SHOAL, "nodeset", "-c", "node[1-50]", "-x", "node[10-19]")
    step("Bad input: one line naming the expression and the column, exit status 2",
         *run, "-w", "node[1-", "true", expect_rc=2)
    tree(bed)
    deploy(bed)
    print(f"\n{BOLD}The testbed is still up:{RESET} try `ssh -F {config} node42 uptime`;"
          f" stop it with `{BIN}/shoal testbed down`.")


def tree(bed: object) -> None:
    """A propagation tree: the root reaches the nodes through gateways gw1 and gw2."""
    from shoal.testbed.clients import Route, client_files

    # The gateways log in as the testbed's user and ssh on from there: they need client
    # files of their own (keys readable by that user); the root uses the same config.
    folder = Path(tempfile.mkdtemp(prefix="shoal-demo-tree-"))
    folder.chmod(0o755)
    config = str(client_files(folder, [Route("node* gw*", bed)]).ssh_config)  # type: ignore[arg-type]
    step("A propagation tree: the root talks to 2 gateways, each runs its share of the"
         " nodes", SHOAL, "topology", "show", "--gateways", "gw[1-2]", "-w", "node[1-50]")
    step("The same run through the tree: the gateways need only python3 (shoal's code"
         " travels over ssh, checked by SHA-256) and send identical output up once",
         SHOAL, "run", "-F", config, "--gateways", "gw[1-2]", "-w", "node[1-50]", "-b",
         "echo hello from $(uname -s) as $(id -un)")


def deploy(bed: object) -> None:
    """Deployments as Python classes: examples/deploy_shop.py on the testbed's nodes."""
    import os

    os.environ["SHOP_SSH_CONFIG"] = str(bed.ssh_config)  # type: ignore[attr-defined]
    password = Path("/var/lib/shoal-testbed/sudo-password")
    if password.exists():  # the testbed's sudo rule, made when it runs as root
        os.environ["SHOP_SUDO_PASSWORD_FILE"] = str(password)
    shop = os.path.relpath(Path(__file__).resolve().parent.parent / "examples" / "deploy_shop.py")
    step("A deployment in sandbox mode: every command shown with its host and context,"
         " nothing run but a syntax check", SHOAL, "deploy", shop, "--sandbox",
         "--run", "Production.deploy", "v1")
    step("The same deployment for real: a database backup, then every web server at once"
         " (a ParallelNode array)", SHOAL, "deploy", shop, "--run", "Production.deploy", "v1")
    step("Results say which host did what", SHOAL, "deploy", shop,
         "--run", "Production.Status.uptime")


if __name__ == "__main__":
    main()
