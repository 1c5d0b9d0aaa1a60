"""The loopback testbed: real logins over SSH, strict host keys, many aliases, clean stop."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import asyncssh
import pytest
from support.processes import is_running, wait_gone

from shoal import testbed as tb
from shoal.errors import TestbedError
from shoal.testbed.clients import client_files, spread_routes
from shoal.testbed.config import listener_of

pytestmark = pytest.mark.sshd

AS_ROOT = os.geteuid() == 0


def ssh(bed: tb.Testbed, alias: str, *command: str,
        config: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``command`` on ``alias`` with OpenSSH's ssh, through the testbed's config."""
    argv = bed.ssh_command(alias, *command)
    if config is not None:
        argv[2] = str(config)
    return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=60, check=False)


async def asyncssh_echo(config: Path, alias: str, text: str) -> str:
    """Log in to ``alias`` with asyncssh (default, strict host key checking); echo ``text``."""
    async with asyncssh.connect(alias, config=[str(config)]) as conn:
        result = await conn.run(f"echo {text}", check=True)
        return str(result.stdout).strip()


# -- logins through the session testbed ------------------------------------------------


def test_openssh_runs_hostname_on_node7(testbed: tb.Testbed) -> None:
    proc = ssh(testbed, "node7", "hostname")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.strip() == socket.gethostname()


def test_logs_in_as_the_login_user(testbed: tb.Testbed) -> None:
    proc = ssh(testbed, "node1", "id -un")
    assert proc.returncode == 0, proc.stderr
    expected = tb.LOGIN_USER if AS_ROOT else os.environ.get("USER", proc.stdout.strip())
    assert proc.stdout.strip() == testbed.user == expected


@pytest.mark.skipif(not AS_ROOT, reason="the dedicated login user is used only by root")
def test_login_user_has_empty_startup_files(testbed: tb.Testbed) -> None:
    proc = ssh(testbed, "node2", "cat ~/.profile ~/.bashrc ~/.bash_logout | wc -c")
    assert (proc.returncode, proc.stdout.strip()) == (0, "0"), proc.stderr


@pytest.mark.parametrize("alias", ["node1", "node50", "gw1", "gw4"])
def test_each_kind_of_alias_reaches_the_sshd(testbed: tb.Testbed, alias: str) -> None:
    proc = ssh(testbed, alias, "echo", alias)
    assert (proc.returncode, proc.stdout) == (0, f"{alias}\n"), proc.stderr


def test_testbed_describes_itself(testbed: tb.Testbed) -> None:
    assert testbed.host == "127.0.0.1"
    assert testbed.nodes == tuple(f"node{i}" for i in range(1, 51))
    assert testbed.gateways == ("gw1", "gw2", "gw3", "gw4")
    assert (testbed.nodeset, testbed.gatewayset) == ("node[1-50]", "gw[1-4]")
    assert testbed.ssh_command("node7", "true") == ["ssh", "-F", str(testbed.ssh_config),
                                                     "node7", "true"]
    assert repr(testbed).startswith(f"Testbed(directory='{testbed.directory}', "
                                    f"port={testbed.port}, ")
    assert tb.load(testbed.directory) == testbed


def test_files_have_the_modes_sshd_and_the_login_user_need(testbed: tb.Testbed) -> None:
    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(testbed.directory) == 0o755
    assert (mode(testbed.identity), testbed.identity.stat().st_uid) == (0o600, os.geteuid())
    assert mode(testbed.directory / "host_ed25519") == 0o600
    assert mode(testbed.directory / "authorized_keys") == 0o644


def test_asyncssh_logs_in_with_strict_host_keys(testbed: tb.Testbed) -> None:
    assert asyncio.run(asyncssh_echo(testbed.ssh_config, "node3", "ok")) == "ok"


def test_hundreds_of_concurrent_logins_succeed(testbed: tb.Testbed) -> None:
    """MaxStartups and MaxSessions let a 300-wide fan-out in at once, none dropped."""
    aliases = [f"node{i % 50 + 1}" for i in range(300)]

    async def main() -> list[str]:
        return await asyncio.gather(*(asyncssh_echo(testbed.ssh_config, a, a)
                                      for a in aliases))

    assert asyncio.run(main()) == aliases


# -- host keys ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["[127.0.0.1]:{port}", "[node7]:{port}", "[gw2]:{port}"])
def test_known_hosts_trusts_the_key_under_each_name(testbed: tb.Testbed, name: str) -> None:
    """OpenSSH and asyncssh look up [127.0.0.1]:PORT; a client keeping the alias, [node7]:PORT."""
    lookup = name.format(port=testbed.port)
    found = subprocess.run(["ssh-keygen", "-F", lookup, "-f", str(testbed.known_hosts)],
                           capture_output=True, text=True, check=False)
    assert found.returncode == 0, found.stderr
    host = lookup[1:].split("]")[0]
    keys = asyncssh.match_known_hosts(str(testbed.known_hosts), host, "", testbed.port)[0]
    assert len(keys) == 1


@pytest.mark.parametrize("name", ["127.0.0.1", "[127.0.0.1]:{other}", "[web1]:{port}"])
def test_known_hosts_trusts_nothing_else(testbed: tb.Testbed, name: str) -> None:
    lookup = name.format(port=testbed.port, other=testbed.port + 1)
    found = subprocess.run(["ssh-keygen", "-F", lookup, "-f", str(testbed.known_hosts)],
                           capture_output=True, text=True, check=False)
    assert found.returncode == 1


@pytest.fixture
def wrong_key_config(testbed: tb.Testbed, tmp_path: Path) -> Path:
    """A copy of the testbed's ssh_config whose known_hosts holds another key, same names."""
    key = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                   check=True)
    wrong = testbed.known_hosts.read_text().split()[0] + " " + " ".join(
        Path(f"{key}.pub").read_text().split()[:2])
    known = tmp_path / "known_hosts"
    known.write_text(wrong + "\n")
    config = tmp_path / "ssh_config"
    config.write_text(testbed.ssh_config.read_text().replace(str(testbed.known_hosts),
                                                             str(known)))
    return config


def test_openssh_refuses_a_different_host_key(testbed: tb.Testbed,
                                              wrong_key_config: Path) -> None:
    proc = ssh(testbed, "node2", "true", config=wrong_key_config)
    assert proc.returncode == 255
    assert "Host key verification failed" in proc.stderr


def test_asyncssh_refuses_a_different_host_key(testbed: tb.Testbed,
                                               wrong_key_config: Path) -> None:
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        asyncio.run(asyncssh_echo(wrong_key_config, "node2", "ok"))


# -- testbeds of their own ------------------------------------------------------------------


def test_200_aliases_share_a_config_of_constant_size(testbed: tb.Testbed,
                                                     shared_tmp_path: Path) -> None:
    with tb.running(nodes=200, gateways=4, directory=shared_tmp_path / "bed") as bed:
        assert bed.nodeset == "node[1-200]"
        lines = bed.ssh_config.read_text().splitlines()
        assert len(lines) == len(testbed.ssh_config.read_text().splitlines()) < 20
        for alias in ("node1", "node57", "node123", "node200", "gw1", "gw4"):
            proc = ssh(bed, alias, "echo", alias)
            assert (proc.returncode, proc.stdout) == (0, f"{alias}\n"), proc.stderr

        async def main() -> list[str]:
            return await asyncio.gather(*(asyncssh_echo(bed.ssh_config, a, a)
                                          for a in ("node2", "node199", "gw3")))

        assert asyncio.run(main()) == ["node2", "node199", "gw3"]


def test_aliases_spread_over_three_listeners(shared_tmp_path: Path) -> None:
    """Each port has its own accept queue: spread client files lead every alias to the port
    of its last digit, with the host key trusted there, for ssh's Host patterns and ours."""
    with tb.running(nodes=30, gateways=4, listeners=3, directory=shared_tmp_path / "bed") as bed:
        assert len(set(bed.ports)) == 3 and bed.port == bed.ports[0]
        assert repr(bed).startswith(f"Testbed(directory='{bed.directory}', port={bed.port}, "
                                    "listeners=3, ")
        assert tb.load(bed.directory) == bed
        assert bed.ssh_config.read_text().count("Port ") == 2  # its own: the first, down*
        files = client_files(shared_tmp_path / "client", spread_routes(bed))
        aliases = [*bed.nodes, *bed.gateways, "node0", "node100", "gw10"]
        for alias in aliases:
            settings = subprocess.run(["ssh", "-G", "-F", str(files.ssh_config), alias],
                                      capture_output=True, text=True, check=True).stdout
            assert f"\nport {bed.ports[listener_of(alias, 3)]}\n" in settings, alias
        for alias in ("node3", "node1", "node12", "gw4", "gw2"):  # ports 0, 1, 2, 1, 2
            proc = ssh(bed, alias, "echo $SSH_CONNECTION", config=files.ssh_config)
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout.split()[2:] == [bed.host, str(bed.ports[listener_of(alias, 3)])]

        async def asyncssh_port(alias: str) -> int:
            async with asyncssh.connect(alias, config=[str(files.ssh_config)]) as conn:
                assert (await conn.run("true", check=True)).exit_status == 0
                return int(conn.get_extra_info("peername")[1])

        for alias in ("node3", "node11", "node2"):
            assert asyncio.run(asyncssh_port(alias)) == bed.ports[listener_of(alias, 3)]
        for port in bed.ports:
            found = subprocess.run(["ssh-keygen", "-F", f"[127.0.0.1]:{port}", "-f",
                                    str(files.known_hosts)], capture_output=True, check=False)
            assert found.returncode == 0


def test_stop_ends_sshd_and_removes_the_directory_it_made() -> None:
    bed = tb.start(nodes=1, gateways=0)
    assert bed.directory.name.startswith("shoal-testbed-")
    assert is_running(bed.pid)
    tb.stop(bed)
    assert not is_running(bed.pid)
    assert not bed.directory.exists()
    tb.stop(bed)  # again: nothing left to do


def test_stop_keeps_a_directory_it_did_not_make(shared_tmp_path: Path) -> None:
    (shared_tmp_path / "keep.txt").write_text("mine")
    bed = tb.start(shared_tmp_path, nodes=1)
    tb.stop(str(shared_tmp_path))
    assert not is_running(bed.pid)
    assert [p.name for p in shared_tmp_path.iterdir()] == ["keep.txt"]


def test_stopping_an_old_testbed_spares_the_next_one_in_its_directory(
        shared_tmp_path: Path) -> None:
    old = tb.start(shared_tmp_path, nodes=1)
    tb.stop(old)
    new = tb.start(shared_tmp_path, nodes=1)
    tb.stop(old)
    assert tb.load(shared_tmp_path) == new
    tb.stop(new)
    assert not is_running(new.pid)


def test_a_directory_holds_one_running_testbed(testbed: tb.Testbed) -> None:
    with pytest.raises(TestbedError, match=r"^a testbed is already running in /\S+ \(sshd pid"):
        tb.start(testbed.directory)
    assert tb.load(testbed.directory) == testbed


def test_sshd_dies_with_the_process_that_started_it(shared_tmp_path: Path) -> None:
    """Not detached (the fixture's case): killing the starter, even by SIGKILL, ends sshd."""
    code = ("import sys\n"
            "from shoal import testbed\n"
            f"print(testbed.start({str(shared_tmp_path / 'bed')!r}, nodes=1).pid, flush=True)\n"
            "sys.stdin.read()\n")  # blocks until killed
    starter = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert starter.stdout is not None
    pid = int(starter.stdout.readline())
    assert is_running(pid)
    starter.kill()
    starter.wait()
    starter.stdout.close()
    assert starter.stdin is not None
    starter.stdin.close()
    assert wait_gone(pid)
    tb.stop(shared_tmp_path / "bed")
    assert not (shared_tmp_path / "bed").exists()


# -- clear errors ---------------------------------------------------------------------------


def test_missing_sshd_is_a_clear_error(shared_tmp_path: Path) -> None:
    with pytest.raises(TestbedError) as exc:
        tb.start(shared_tmp_path / "bed", nodes=1, sshd="/nonexistent/sbin/sshd")
    assert str(exc.value) == ("no sshd found at /nonexistent/sbin/sshd: install openssh-server "
                              "(apt-get install openssh-server) or give the path of an sshd")
    assert not (shared_tmp_path / "bed").exists()


@pytest.mark.parametrize("listeners", [1, 2])
def test_busy_port_is_a_clear_error(shared_tmp_path: Path, listeners: int) -> None:
    """With several listeners, sshd would run on the ports it could bind: the testbed
    refuses to start without all of them."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(TestbedError) as exc:
            tb.start(shared_tmp_path / "bed", nodes=1, port=port, listeners=listeners)
    ports = rf"{port}" if listeners == 1 else rf"{port},\d+"
    assert re.fullmatch(rf"sshd failed to start on 127\.0\.0\.1:{ports}: Bind to port "
                        rf"{port} on 127\.0\.0\.1 failed: Address already in use\.",
                        str(exc.value))
    assert not (shared_tmp_path / "bed").exists()


def test_sshd_that_exits_at_once_is_reported(shared_tmp_path: Path) -> None:
    with pytest.raises(TestbedError, match=r"^sshd failed to start on 127\.0\.0\.1:\d+: "
                                           r"exit status 1$"):
        tb.start(shared_tmp_path / "bed", nodes=1, sshd="/bin/false")
    assert not (shared_tmp_path / "bed").exists()


@pytest.mark.skipif(not AS_ROOT, reason="only root logs in as another user")
def test_directory_closed_to_the_login_user_still_works(tmp_path: Path) -> None:
    """Under pytest's 0700 tmp_path, root's sshd reads the keys for shoal-test."""
    with tb.running(nodes=1, directory=tmp_path / "bed") as bed:
        assert "AuthorizedKeysCommand " in (bed.directory / "sshd_config").read_text()
        proc = ssh(bed, "node1", "id -un")
        assert (proc.returncode, proc.stdout) == (0, "shoal-test\n"), proc.stderr
    assert not (tmp_path / "bed").exists()


def test_session_testbed_reads_keys_as_the_login_user(testbed: tb.Testbed) -> None:
    """The cheaper way, one process less per login, wherever the directory allows it."""
    config = (testbed.directory / "sshd_config").read_text()
    assert f"AuthorizedKeysFile {testbed.directory}/authorized_keys\n" in config


def test_directory_anyone_can_write_is_refused(shared_tmp_path: Path) -> None:
    shared_tmp_path.chmod(0o777)
    with pytest.raises(TestbedError, match="anyone can write to it"):
        tb.start(shared_tmp_path, nodes=1)


def test_path_that_config_files_cannot_hold_is_refused(shared_tmp_path: Path) -> None:
    with pytest.raises(TestbedError, match=r"^cannot keep a testbed in /\S+/my beds: the path"):
        tb.start(shared_tmp_path / "my beds", nodes=1)


@pytest.mark.skipif(not AS_ROOT, reason="without root the only possible user is oneself")
def test_unknown_login_user_is_refused() -> None:
    with pytest.raises(TestbedError, match=r'^no user "nosuchuser-shoal" on this machine'):
        tb.start(nodes=1, user="nosuchuser-shoal")


def test_no_nodes_is_refused() -> None:
    with pytest.raises(TestbedError, match="needs at least one node"):
        tb.start(nodes=0)
    with pytest.raises(TestbedError, match=r"one listener .*listeners=0\)$"):
        tb.start(listeners=0)
