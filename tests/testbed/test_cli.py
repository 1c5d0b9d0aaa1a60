"""``shoal testbed up|down|status`` run as real processes: sshd outlives ``up``."""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.processes import is_running, wait_gone

from shoal import testbed as tb
from shoal.cli.app import cli
from shoal.errors import TestbedError
from shoal.testbed.config import STATE_FILE
from shoal.testbed.user import ensure_dedicated_user, remove_dedicated_user

pytestmark = pytest.mark.sshd


def shoal(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``shoal`` command line in a process of its own."""
    return subprocess.run([sys.executable, "-c", "from shoal.cli import main; main()", *args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=120, check=False)


def test_up_ssh_down(shared_tmp_path: Path) -> None:
    directory = shared_tmp_path / "bed"
    up = shoal("testbed", "up", "--nodes", "20", "--listeners", "2", "--dir", str(directory))
    assert up.returncode == 0, up.stderr
    lines = up.stdout.splitlines()
    assert lines[0] == f"started a testbed in {directory}"
    bed = tb.load(directory)
    assert len(bed.ports) == 2
    assert lines[1] == (f"sshd        127.0.0.1:{bed.ports[0]},{bed.ports[1]} (pid {bed.pid}), "
                        f"logging in as {bed.user}")
    assert "nodes       node[1-20] (20)" in lines
    assert "gateways    gw[1-4] (4)" in lines
    assert f"ssh_config  {directory}/ssh_config" in lines
    assert f"try         ssh -F {directory}/ssh_config node20 hostname" in lines
    assert f"stop        shoal testbed down --dir {directory}" in lines

    # The command has exited; its sshd runs on, in a session of its own.
    assert is_running(bed.pid)
    assert os.getsid(bed.pid) == bed.pid
    proc = subprocess.run(bed.ssh_command("node20", "true"), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr

    again = shoal("testbed", "up", "--dir", str(directory))
    assert again.stdout.splitlines() == [f"a testbed is already running in {directory}",
                                         *lines[1:]]
    resized = shoal("testbed", "up", "--nodes", "5", "--dir", str(directory))
    assert (resized.returncode, resized.stdout) == (1, "")
    assert resized.stderr == (f"shoal: a testbed with 20 nodes, 4 gateways and 2 listeners "
                              f"already runs in {directory}, not 5, 4 and 1: stop it first "
                              f"(shoal testbed down --dir {directory})\n")
    status = shoal("testbed", "status", "--dir", str(directory))
    assert (status.returncode, status.stdout.splitlines()) == (0, lines[1:])

    # A state file from before testbeds had several ports still leads to its sshd.
    state_file = directory / STATE_FILE
    state = json.loads(state_file.read_text())
    state["port"] = state.pop("ports")[0]
    state_file.write_text(json.dumps(state))
    assert tb.load(directory).ports == bed.ports[:1]

    down = shoal("testbed", "down", "--dir", str(directory))
    assert (down.returncode, down.stdout) == (
        0, f"stopped the testbed in {directory} (sshd pid {bed.pid})\n")
    assert not directory.exists()
    assert wait_gone(bed.pid, timeout=0)

    status = shoal("testbed", "status", "--dir", str(directory))
    assert status.returncode == 1
    assert status.stderr == (f"shoal: no testbed in {directory}: start one with: "
                             f"shoal testbed up --dir {directory}\n")
    down = shoal("testbed", "down", "--dir", str(directory))
    assert (down.returncode, down.stdout) == (0, f"no testbed in {directory}\n")


def test_a_testbed_whose_sshd_died_is_replaced_or_cleaned_up(shared_tmp_path: Path) -> None:
    directory = shared_tmp_path / "bed"
    assert shoal("testbed", "up", "--nodes", "2", "--dir", str(directory)).returncode == 0
    dead = tb.load(directory).pid
    os.kill(dead, signal.SIGKILL)
    assert wait_gone(dead)

    status = shoal("testbed", "status", "--dir", str(directory))
    assert status.returncode == 1
    assert status.stderr.startswith(f"shoal: the testbed in {directory} is not running")

    up = shoal("testbed", "up", "--nodes", "2", "--dir", str(directory))
    assert up.stdout.startswith(f"started a testbed in {directory}\n"), up.stderr
    alive = tb.load(directory).pid
    assert alive != dead
    os.kill(alive, signal.SIGKILL)
    assert wait_gone(alive)

    down = shoal("testbed", "down", "--dir", str(directory))
    assert down.stdout == (f"the testbed in {directory} had stopped already; "
                           "removed its files\n")
    assert not directory.exists()


def test_help_and_bad_usage() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["testbed", "--help"])
    assert result.exit_code == 0
    for command in ("up", "down", "status"):
        assert f"  {command} " in result.output
    result = runner.invoke(cli, ["testbed", "up", "--nodes", "0"])
    assert result.exit_code == 2
    assert "--nodes" in result.output


PURGE_USER = "shoal-purge-test"


def test_down_purge_removes_the_account_the_testbed_made(shared_tmp_path: Path) -> None:
    # Not the suite's own shoal-test account, which the session's testbed is using.
    remove_dedicated_user(PURGE_USER)
    entry = ensure_dedicated_user(PURGE_USER)
    home = Path(entry.pw_dir)
    directory = shared_tmp_path / "bed"
    up = shoal("testbed", "up", "--nodes", "2", "--user", PURGE_USER, "--dir", str(directory))
    assert up.returncode == 0, up.stderr
    bed = tb.load(directory)
    assert bed.user == PURGE_USER
    login = subprocess.run(bed.ssh_command("node1", "id -un"), capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=60, check=False)
    assert login.stdout == f"{PURGE_USER}\n", login.stderr

    down = shoal("testbed", "down", "--purge", "--dir", str(directory))
    assert down.returncode == 0, down.stderr
    assert down.stdout.splitlines() == [f"stopped the testbed in {directory} (sshd pid {bed.pid})",
                                        f"removed user {PURGE_USER} and its home"]
    with pytest.raises(KeyError):
        pwd.getpwnam(PURGE_USER)
    assert not home.exists()
    assert remove_dedicated_user(PURGE_USER) is False  # gone already: nothing to do


def test_purge_refuses_an_account_the_testbed_did_not_make() -> None:
    with pytest.raises(TestbedError, match="was not created by the testbed"):
        remove_dedicated_user("root")


def test_account_files_are_written_without_following_links(shared_tmp_path: Path) -> None:
    remove_dedicated_user(PURGE_USER)
    entry = ensure_dedicated_user(PURGE_USER)
    try:
        victim = shared_tmp_path / "victim"
        victim.write_text("precious\n")
        profile = Path(entry.pw_dir) / ".profile"
        profile.unlink()
        profile.symlink_to(victim)  # what the account itself could plant in its home
        ensure_dedicated_user(PURGE_USER)
        assert victim.read_text() == "precious\n"
        assert victim.stat().st_uid == 0
        assert not profile.is_symlink() and profile.read_text() == ""
        assert profile.stat().st_uid == entry.pw_uid
    finally:
        remove_dedicated_user(PURGE_USER)
