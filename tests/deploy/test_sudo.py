"""sudo with a password on the testbed: answered on the channel, never on a command line,
in a process's environment, in the output or in a log; refused passwords fail fast.

The testbed's sudo rule (``shoal.testbed.sudo``) lets its account run ``id -u``,
``whoami`` and ``sleep 60`` as root or nobody, with its password, and nothing else.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.deploy_hosts import descendants, node_class, process_texts, read_until, terminal

from shoal import _loop
from shoal.deploy._bridge import call
from shoal.deploy.exceptions import ExecCommandFailed
from shoal.deploy.host import NOT_SURE_IN_SANDBOX, LocalHost, SudoPasswordError
from shoal.deploy.loggers import DefaultLogger, LoggerInterface
from shoal.deploy.pseudo_terminal import DummyPty, Pty
from shoal.testbed import Testbed
from shoal.testbed import sudo as testbed_sudo


@pytest.fixture
def password(testbed: Testbed) -> str:
    return testbed_sudo.password()


def within(seconds: float, coro: object) -> object:
    """Run ``coro`` on the shared loop; a hang fails the test instead of stopping it."""
    return _loop.run(asyncio.wait_for(coro, seconds))  # type: ignore[arg-type]


def test_sudo_runs_as_root_or_as_the_user_named(testbed: Testbed, password: str) -> None:
    host = node_class(testbed, sudo_password=password)(pty=DummyPty())
    assert host.sudo("id -u") == "0\n"
    assert host.sudo("whoami", user="nobody", interactive=False) == "nobody\n"
    assert host.run("id -u", use_sudo=True) == "0\n"
    assert host.run("id -u") != "0\n"


def test_the_rule_is_not_root_for_anything_else(testbed: Testbed, password: str) -> None:
    rule = testbed_sudo.rule_path(testbed.directory)
    assert rule.read_text().splitlines()[-1] == (
        f'{testbed.user} ALL=(root, nobody) /usr/bin/id -u, /usr/bin/whoami "", '
        "/usr/bin/sleep 60")
    assert oct(rule.stat().st_mode) == "0o100440"
    host = node_class(testbed, sudo_password=password)()
    for command in ("cat /etc/shadow", "id -u && id -u", "sleep 1"):
        with pytest.raises(ExecCommandFailed) as caught:
            host.sudo(command, interactive=False)
        assert not isinstance(caught.value, SudoPasswordError)
        assert caught.value.use_sudo


def test_the_password_defaults_to_python_deployers_password(testbed: Testbed,
                                                            password: str) -> None:
    host = node_class(testbed, password=password)()
    assert host.sudo_password == password
    assert host.sudo("id -u") == "0\n"


def test_a_wrong_password_fails_at_once_with_a_clear_error(testbed: Testbed) -> None:
    host = node_class(testbed, sudo_password="not-the-password")(pty=DummyPty())
    with pytest.raises(SudoPasswordError) as caught:
        within(30, host.sudo_async("id -u", ignore_exit_status=True))
    error = caught.value
    assert str(error) == f"{host.slug}: sudo refused the password (sudo_password) " \
                         "(command: id -u)"
    assert (error.command, error.host, error.use_sudo) == ("id -u", host, True)
    assert "not-the-password" not in host.pty.get_output()  # type: ignore[attr-defined]


def test_a_prompt_with_no_password_to_give_is_an_error(testbed: Testbed) -> None:
    host = node_class(testbed)()
    with pytest.raises(SudoPasswordError, match="the host has no sudo_password"):
        within(30, host.sudo_async("id -u"))


def test_the_sandbox_sends_no_password(testbed: Testbed) -> None:
    host = node_class(testbed, sudo_password="wrong: sudo would refuse it")()
    assert host.sudo("id -u", sandbox=True) == NOT_SURE_IN_SANDBOX


def test_the_password_is_on_no_command_line_environment_output_or_log(
        testbed: Testbed, password: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logged = io.StringIO()
    interface = LoggerInterface()
    interface.attach(DefaultLogger(logged))
    host = node_class(testbed, sudo_password=password)(pty=DummyPty(), logger=interface)
    before = set(descendants(testbed.pid))

    async def scenario() -> tuple[bytes, str]:
        running = asyncio.ensure_future(call(host.sudo, "sleep 60", ignore_exit_status=True))
        seen, sleeper = b"", None
        deadline = time.monotonic() + 30
        while sleeper is None:  # the command runs: sudo has read the password
            assert time.monotonic() < deadline, "sudo sleep 60 did not start"
            await asyncio.sleep(0.05)  # polling /proc for the remote processes
            for pid in set(descendants(testbed.pid)) - before:
                text = process_texts(pid)
                seen += text
                if text.startswith(b"sleep\x0060\x00"):
                    sleeper = pid
        for pid in set(descendants(testbed.pid)) - before:  # every process, sleep included
            seen += process_texts(pid)
        os.kill(sleeper, signal.SIGKILL)  # it runs as root: the test is root, its user not
        return seen, await running

    seen, result = _loop.run(scenario())
    assert b"sudo\x00-S\x00-p\x00" in seen  # the command lines were read, sudo's too
    assert password.encode() not in seen
    assert result == ""
    texts = [logged.getvalue(), host.pty.get_output(), result,  # type: ignore[attr-defined]
             *(record.getMessage() for record in caplog.records)]
    assert "sleep 60" in logged.getvalue()
    assert all(password not in text for text in texts)


def test_at_a_real_terminal_the_password_is_typed_for_you_and_not_echoed(
        testbed: Testbed, password: str) -> None:
    with terminal() as (keyboard, stdin, stdout):
        host = node_class(testbed, sudo_password=password)(pty=Pty(stdin, stdout))
        assert within(30, call(host.sudo, "id -u")) == "0\r\n"
        shown = read_until(keyboard, b"0\r\n")
    assert password.encode() not in shown and b"[sudo] password" not in shown


def test_at_a_real_terminal_with_no_password_the_user_answers(testbed: Testbed,
                                                              password: str) -> None:
    with terminal() as (keyboard, stdin, stdout):
        host = node_class(testbed)(pty=Pty(stdin, stdout))

        async def scenario() -> object:
            work = asyncio.ensure_future(call(host.sudo, "whoami", user="nobody"))
            await asyncio.to_thread(read_until, keyboard, b"[sudo] password (shoal ")
            os.write(keyboard, f"{password}\r".encode())
            return await work

        assert within(30, scenario()) == "nobody\r\n"


def test_local_sudo_as_root_asks_nothing() -> None:
    assert os.geteuid() == 0  # the tests run as root, as the testbed's sudo rule needs
    assert LocalHost().sudo("id -u") == "0\n"


@pytest.mark.sshd
def test_testbed_up_adds_the_rule_and_down_removes_it(shared_tmp_path: Path) -> None:
    directory = shared_tmp_path / "bed"
    rule = testbed_sudo.rule_path(directory)
    shoal = [sys.executable, "-c", "from shoal.cli import main; main()", "testbed"]
    up = subprocess.run([*shoal, "up", "--nodes", "1", "--gateways", "0", "--dir",
                         str(directory)], capture_output=True, text=True, timeout=120,
                        stdin=subprocess.DEVNULL, check=False)
    try:
        assert up.returncode == 0, up.stderr
        assert rule.is_file() and oct(rule.stat().st_mode) == "0o100440"
        check = subprocess.run(["visudo", "-cf", str(rule)], capture_output=True, text=True,
                               check=False)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        down = subprocess.run([*shoal, "down", "--dir", str(directory)], capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert down.returncode == 0, down.stderr
    assert not rule.exists()
    assert testbed_sudo.PASSWORD_FILE.stat().st_mode & 0o077 == 0  # root's alone
