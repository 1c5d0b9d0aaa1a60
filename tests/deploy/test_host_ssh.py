"""What only SSHHost does: one reused connection per host class, host keys, the ssh
config, lost connections, and a remote terminal with the keystrokes."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from support.deploy_hosts import logins, node_class, read_until, serving, terminal
from support.processes import wait_gone

from shoal import _loop
from shoal.deploy._bridge import call
from shoal.deploy.exceptions import ConnectionFailedException
from shoal.deploy.host import SSHHost
from shoal.deploy.pseudo_terminal import DummyPty, Pty
from shoal.errors import HostKeyError
from shoal.testbed import Testbed


def test_an_alias_of_the_ssh_config_is_enough(testbed: Testbed) -> None:
    host = node_class(testbed, "node7")()
    assert host.run("echo $SSH_CONNECTION | cut -d' ' -f3") == "127.0.0.1\n"
    assert host.get_start_path() == f"/var/lib/{testbed.user}"


def test_one_connection_per_host_class_serves_every_call(testbed: Testbed,
                                                         shared_tmp_path: Path) -> None:
    cls = node_class(testbed)
    before = logins(testbed)
    first, second = cls(), cls()  # two objects of one class (two nodes' containers)
    ports = {first.run("echo ${SSH_CONNECTION%% *} ${SSH_CONNECTION#* }") for _ in range(3)}
    second.run("true")
    second.exists("/etc/passwd")
    second.stat("/etc/passwd")
    second.listdir("/")
    (shared_tmp_path / "f").write_text("x")
    with first.open(str(shared_tmp_path / "f")) as file:
        assert file.read() == b"x"
    ports.add(second.run("echo ${SSH_CONNECTION%% *} ${SSH_CONNECTION#* }"))
    assert len(ports) == 1  # the same client port every time: one connection
    assert logins(testbed) - before == 1
    other = node_class(testbed)()
    other.run("true")
    assert logins(testbed) - before == 2  # another host class, another connection


def test_isolations_that_start_together_share_one_connection(testbed: Testbed) -> None:
    cls = node_class(testbed)
    before = logins(testbed)

    async def scenario() -> list[str]:
        return list(await asyncio.gather(*(call(cls().run, "echo ${SSH_CONNECTION#* }")
                                           for _ in range(8))))

    assert len(set(_loop.run(scenario()))) == 1
    assert logins(testbed) - before == 1


def test_a_lost_connection_is_opened_again(testbed: Testbed) -> None:
    cls = node_class(testbed)
    host = cls()
    host.run("true")
    # kill the sshd process that serves this connection
    port = int(host.run("echo ${SSH_CONNECTION#* }").split()[0])
    server = serving(testbed, port)
    os.kill(server, 9)
    assert wait_gone(server)
    before = logins(testbed)
    assert host.run("echo again") == "again\n"
    assert logins(testbed) - before == 1


def test_an_unknown_host_key_is_refused_with_its_fingerprint(testbed: Testbed,
                                                             tmp_path: Path) -> None:
    config, known = _config_with_empty_known_hosts(testbed, tmp_path)
    cls = type("Stranger", (SSHHost,), {"slug": "stranger", "address": "node1",
                                        "config_filename": str(config)})
    with pytest.raises(ConnectionFailedException) as caught:
        cls().run("true")
    cause = caught.value.__cause__
    assert isinstance(cause, HostKeyError) and cause.fingerprint is not None
    message = str(caught.value)
    assert message.startswith("stranger: could not connect to node1: host key for ")
    assert cause.fingerprint in message
    assert "set reject_unknown_hosts = False on Stranger" in message
    assert known.read_text() == ""


def test_reject_unknown_hosts_false_trusts_a_new_key_once_then_checks_it(
        testbed: Testbed, tmp_path: Path) -> None:
    config, known = _config_with_empty_known_hosts(testbed, tmp_path)
    trusting = type("Newcomer", (SSHHost,), {"address": "node1", "reject_unknown_hosts": False,
                                             "config_filename": str(config)})
    assert trusting().run("echo in") == "in\n"
    recorded = known.read_text()
    assert recorded.startswith(f"[127.0.0.1]:{testbed.port} ssh-ed25519 ")
    # a different key for that name now: refused, even when new keys are trusted
    known.write_text(recorded.split()[0] + " ssh-ed25519 "
                     "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")
    # (timeout=11: settings of their own, so a transport that reads known_hosts afresh)
    changed = type("Changed", (SSHHost,), {"address": "node1", "reject_unknown_hosts": False,
                                           "config_filename": str(config), "timeout": 11})
    with pytest.raises(ConnectionFailedException, match="has CHANGED"):
        changed().run("true")


def test_an_rsa_key_in_a_string_is_refused_clearly(testbed: Testbed) -> None:
    with pytest.raises(ConnectionFailedException, match=r"rsa_key .* is not supported"):
        node_class(testbed, rsa_key="-----BEGIN RSA PRIVATE KEY-----")().run("true")


def test_a_real_terminal_gets_a_remote_one_and_the_keystrokes(testbed: Testbed) -> None:
    with terminal(rows=21, columns=77) as (keyboard, stdin, stdout):
        host = node_class(testbed)(pty=Pty(stdin, stdout, interactive=True, term_var="vt100"))
        answer: list[str] = []

        async def scenario() -> None:
            work = asyncio.ensure_future(call(
                lambda: answer.append(host.run(
                    'tty >/dev/null && stty size && printf "name? " && read n && '
                    'echo "hello $n, TERM=$TERM"'))))
            screen = await asyncio.to_thread(read_until, keyboard, b"name? ")
            assert b"21 77" in screen
            os.write(keyboard, b"web\r")
            await work

        _loop.run(scenario())
        assert answer[0].replace("\r", "").splitlines() == [
            "21 77", "name? web", "hello web, TERM=vt100"]
    # and without a real terminal: no remote one
    plain = node_class(testbed)(pty=DummyPty())
    assert plain.run("tty", ignore_exit_status=True) == "not a tty\n"


def _config_with_empty_known_hosts(testbed: Testbed, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the testbed's ssh config whose known_hosts file is empty."""
    known = tmp_path / "known_hosts"
    known.write_text("")
    config = tmp_path / "ssh_config"
    config.write_text(testbed.ssh_config.read_text().replace(str(testbed.known_hosts),
                                                             str(known)))
    return config, known
