"""The loopback testbed: real logins over SSH, strict host keys, many aliases, clean stop."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import asyncssh
import pytest

from shoal import testbed as tb
from shoal.errors import TestbedError


def ssh(bed: tb.Testbed, alias: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(bed.ssh_command(alias, *command), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)


def test_plain_openssh_logs_in_through_an_alias(testbed: tb.Testbed) -> None:
    proc = ssh(testbed, "node7", "hostname")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == socket.gethostname()


def test_login_user_has_empty_startup_files(testbed: tb.Testbed) -> None:
    proc = ssh(testbed, "node1", "id -un; cat ~/.profile ~/.bashrc | wc -c")
    assert proc.returncode == 0, proc.stderr
    user, size = proc.stdout.split()
    expected = tb.LOGIN_USER if os.geteuid() == 0 else os.environ.get("USER", user)
    assert user == expected == testbed.user
    assert size == "0"


@pytest.mark.parametrize("alias", ["node1", "node50", "gw1", "gw4"])
def test_every_alias_reaches_the_sshd(testbed: tb.Testbed, alias: str) -> None:
    proc = ssh(testbed, alias, "echo", alias)
    assert (proc.returncode, proc.stdout) == (0, f"{alias}\n"), proc.stderr


def test_description_matches_what_was_asked(testbed: tb.Testbed) -> None:
    assert testbed.nodes == tuple(f"node{i}" for i in range(1, 51))
    assert testbed.gateways == ("gw1", "gw2", "gw3", "gw4")
    assert testbed.nodeset == "node[1-50]"
    assert testbed.host == "127.0.0.1"
    assert tb.load(testbed.directory) == testbed


def test_ssh_config_stays_small_for_many_nodes() -> None:
    with tb.running(nodes=200, gateways=0) as bed:
        assert len(bed.ssh_config.read_text().splitlines()) < 20
        for alias in ("node1", "node100", "node200"):
            assert ssh(bed, alias, "true").returncode == 0


def test_asyncssh_accepts_the_key_strictly(testbed: tb.Testbed) -> None:
    async def main() -> str:
        async with asyncssh.connect("node3", config=[str(testbed.ssh_config)]) as conn:
            result = await conn.run("echo ok", check=True)
            return str(result.stdout)

    assert asyncio.run(main()) == "ok\n"


def _other_known_hosts(bed: tb.Testbed, tmp_path: Path) -> Path:
    """A known_hosts naming the testbed's address with a key that is not its own."""
    key = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    fake = " ".join(Path(f"{key}.pub").read_text().split()[:2])
    path = tmp_path / "known_hosts"
    path.write_text(f"[{bed.host}]:{bed.port} {fake}\n")
    return path


def test_openssh_refuses_a_different_host_key(testbed: tb.Testbed, tmp_path: Path) -> None:
    known = _other_known_hosts(testbed, tmp_path)
    proc = subprocess.run(
        [*testbed.ssh_command("node2")[:-1], "-o", f"UserKnownHostsFile={known}", "node2",
         "true"], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in proc.stderr


def test_asyncssh_refuses_a_different_host_key(testbed: tb.Testbed, tmp_path: Path) -> None:
    known = _other_known_hosts(testbed, tmp_path)

    async def main() -> None:
        async with asyncssh.connect("node2", config=[str(testbed.ssh_config)],
                                    known_hosts=str(known)):
            pass

    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        asyncio.run(main())


def test_hundreds_of_concurrent_logins_succeed(testbed: tb.Testbed) -> None:
    """MaxStartups and MaxSessions let a 300-wide fan-out in at once."""

    async def one(alias: str) -> str:
        async with asyncssh.connect(alias, config=[str(testbed.ssh_config)]) as conn:
            return str((await conn.run(f"echo {alias}", check=True)).stdout).strip()

    async def main() -> list[str]:
        return await asyncio.gather(*(one(f"node{i % 50 + 1}") for i in range(300)))

    assert asyncio.run(main()) == [f"node{i % 50 + 1}" for i in range(300)]


def test_missing_sshd_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TestbedError) as exc:
        tb.start(tmp_path / "bed", nodes=1, sshd="no-such-sshd")
    assert str(exc.value) == ('no sshd found ("no-such-sshd"): install openssh-server '
                              "(apt-get install openssh-server)")


def test_sshd_that_dies_at_start_is_reported(tmp_path: Path) -> None:
    with pytest.raises(TestbedError, match=r"^sshd failed to start on 127\.0\.0\.1:\d+"):
        tb.start(tmp_path / "bed", nodes=1, sshd="/bin/false")


def test_cli_up_ssh_down(tmp_path: Path) -> None:
    directory = tmp_path / "bed"
    shoal = [sys.executable, "-c", "from shoal.cli import main; main()", "testbed"]
    up = subprocess.run([*shoal, "up", "--nodes", "20", "--dir", str(directory)],
                        capture_output=True, text=True, timeout=60)
    assert up.returncode == 0, up.stderr
    assert "node[1-20] (20)" in up.stdout
    assert f"ssh -F {directory}/ssh_config node20 hostname" in up.stdout
    bed = tb.load(directory)
    assert ssh(bed, "node20", "true").returncode == 0
    again = subprocess.run([*shoal, "up", "--dir", str(directory)], capture_output=True,
                           text=True, timeout=60)
    assert again.stdout.startswith(f"a testbed is already running in {directory}")
    down = subprocess.run([*shoal, "down", "--dir", str(directory)], capture_output=True,
                          text=True, timeout=60)
    assert down.returncode == 0, down.stderr
    assert not directory.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(bed.pid, 0)
    status = subprocess.run([*shoal, "status", "--dir", str(directory)], capture_output=True,
                            text=True, timeout=60)
    assert status.returncode == 1
    assert status.stderr.startswith(f"shoal: no testbed in {directory}")
