# Deployment trees are dynamic: an action's self is an Env, a child read on a node is a
# node, not its class, and ParallelNode.Array is made at run time. mypy sees the classes.
# mypy: disable-error-code="name-defined, misc, no-any-return, attr-defined, call-arg"
# mypy: disable-error-code="arg-type, comparison-overlap, index, valid-type"
"""The deployment model on real hosts: the testbed's sshd behind node aliases.

Roles from node-set expressions, arrays whose isolations are shown to run at the same
time, contexts and their quoting, sudo with a password, sandbox runs that leave the hosts
untouched, failure policies with a failing host, queries, file transfer, logging and
interrupting an array.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support.deploy_hosts import descendants, process_texts
from support.gates import Gate, Signal

from shoal.deploy import (
    ActionException,
    Env,
    Node,
    ParallelActionException,
    ParallelNode,
    Q,
    SkippedTaskResult,
    SSHHost,
    map_roles,
)
from shoal.deploy.host_container import HostsResult, silent_pty
from shoal.deploy.loggers import DefaultLogger, LoggerInterface
from shoal.deploy.pseudo_terminal import Pty
from shoal.deploy.runner import submit
from shoal.testbed import Testbed
from shoal.testbed import sudo as sudo_rule


@pytest.fixture
def work(shared_tmp_path: Path, testbed: Testbed) -> Path:
    """A directory the testbed's login user may write in."""
    path = shared_tmp_path / "work"
    path.mkdir()
    shutil.chown(path, user=testbed.user)
    return path


@pytest.fixture
def site(testbed: Testbed, work: Path) -> type[Node]:
    """A tree on node1-3 (web) and node4 (db); a class of its own for every test."""
    base = type("Testbed", (SSHHost,), {"config_filename": str(testbed.ssh_config),
                                        "sudo_password": sudo_rule.password()})
    gate, signal = Gate(work), Signal(work, "started")

    class Site(Node):
        class Hosts:
            _host_class = base
            web = "node[1-3]"
            db = "node4"

        root = str(work)
        gate_command = gate.command
        signal_command = signal.command

        @map_roles(host="web", db="db")
        class Web(ParallelNode.Array):
            code = Q.parent.root + "/code"
            banner = Q("%s in %s") % (Q.host.slug, Q.code)

            def held(self) -> tuple[str, int]:
                self.host.run(f"{self.parent.signal_command} && {self.parent.gate_command}",
                              interactive=False)
                return self.host.slug, threading.get_ident()

            def mark(self) -> str:
                # fails on node2 until its flag exists; creates it on the way
                flag = f"{self.parent.root}/flag-{self.host.slug}"
                return self.host.run(f"test {self.host.slug} != node2 || test -e {flag} || "
                                     f"{{ touch {flag}; false; }} && echo ok-{self.host.slug}",
                                     interactive=False).strip()

            def sleepy(self) -> None:
                self.host.run(f"{self.parent.signal_command} && sleep 60", interactive=False)

        class Status(Node):
            def pwd(self) -> HostsResult:
                return self.hosts.run("pwd", interactive=False)

        def contexts(self) -> HostsResult:
            with self.hosts.cd("/"), self.hosts.env("GREETING", "it's $HOME"), \
                    self.hosts.cd(self.root), self.hosts.prefix("export SUFFIX=!"):
                return self.hosts.filter("db").run('echo "$(pwd) $GREETING$SUFFIX"',
                                                   interactive=False)

        def carried(self) -> HostsResult:
            with self.hosts.cd(self.root):
                return self.Status.pwd()

    Site.gate, Site.signal = gate, signal
    return Site


def env_of(site: type[Node], **kwargs: Any) -> Env:
    return Env(site(), silent_pty(), **kwargs)


def test_roles_from_node_sets_and_inheritance(site: type[Node]) -> None:
    env = env_of(site)
    assert [h.slug for h in env.hosts] == ["node1", "node2", "node3", "node4"]
    assert [h.address for h in env.hosts.filter("db")] == ["node4"]
    result = env.Status.pwd()
    assert result.hosts == ["node1", "node2", "node3", "node4"]
    assert len(set(result)) == 1 and result[0].startswith("/")


def test_an_array_runs_its_isolations_at_the_same_time(site: type[Node]) -> None:
    # Each command tells the test it started, then waits at a closed gate: the test sees
    # all three start before any may finish, so they were running at once.
    env = env_of(site)
    handle = submit(env.Web.held)
    try:
        assert site.signal.wait(3, deadline=30)
    finally:
        site.gate.open()
    result = handle.result()
    assert sorted(slug for slug, _ in result) == ["node1", "node2", "node3"]
    assert len({thread for _, thread in result}) == 1  # one thread: greenlets on the loop


def test_contexts_nest_quote_and_carry_into_child_actions(site: type[Node],
                                                          work: Path) -> None:
    env = env_of(site)
    assert env.contexts() == [f"{work} it's $HOME!\n"]
    assert list(env.carried()) == [f"{work}\n"] * 4
    odd = work / "a dir; with 'quotes'"
    odd.mkdir()
    shutil.chown(odd, user=env.hosts[0].username or "shoal-test")

    class Odd(site):
        def where(self) -> str:
            with self.hosts.filter("db").cd(str(odd)):
                return self.hosts.filter("db")[0].run("pwd", interactive=False)

    assert Env(Odd(), silent_pty()).where() == f"{odd}\n"


def test_queries_read_the_isolation(site: type[Node], work: Path) -> None:
    web = env_of(site).Web
    assert web["node2"].banner == f"node2 in {work}/code"
    assert [h.slug for h in web[0].hosts.filter("db")] == ["node4"]


def test_sudo_with_a_password(site: type[Node]) -> None:
    db = env_of(site).hosts.filter("db")
    assert db.sudo("id -u", interactive=False) == ["0\n"]
    assert db[0].sudo("whoami", user="nobody", interactive=False) == "nobody\n"


def test_sandbox_writes_nothing(site: type[Node], work: Path, testbed: Testbed,
                                tmp_path: Path) -> None:
    local = tmp_path / "local.txt"
    local.write_text("content\n")

    class Changes(site):
        def change(self) -> str:
            host = self.hosts.filter("db")[0]
            host.run(f"mkdir {self.root}/made && touch {self.root}/made/file")
            host.sudo("id -u")
            with host.open(f"{self.root}/opened.txt", "w") as file:
                file.write("written\n")
            host.put_file(str(local), f"{self.root}/put.txt")
            host.get_file("/etc/hostname", str(tmp_path / "got.txt"))
            self.Web.mark()
            return host.run("echo $((1+1))")

    pty = silent_pty()
    assert Env(Changes(), pty, is_sandbox=True).change() == "<Not sure in sandbox>"
    listing = testbed.ssh_command("node4", f"ls -A {work}")
    assert subprocess.run(listing, capture_output=True, text=True, check=True).stdout == (
        "gate\nstarted\n")
    assert not (tmp_path / "got.txt").exists()
    shown = pty.get_output()
    # every command with its host, its directory and its context, nothing run
    assert re.search(rf"\[sandbox\] node4: cd /\S+ && \(mkdir {work}/made && touch "
                     rf"{work}/made/file\)", shown)
    assert f"[sandbox] node4: would write 8 bytes to {work}/opened.txt" in shown
    assert "[sandbox] node4: cd " in shown and "sudo -S" in shown  # shown, never run


def test_a_sandboxed_command_that_does_not_parse_fails(site: type[Node]) -> None:
    class Bad(site):
        def broken(self) -> None:
            self.hosts.filter("db").run("if then fi")

    with pytest.raises(ActionException, match="node4: command exited with status 2"):
        Env(Bad(), silent_pty(), is_sandbox=True).broken()


def test_abort_names_the_failing_host_and_keeps_the_others_results(site: type[Node]) -> None:
    with pytest.raises(ParallelActionException) as caught:
        env_of(site).Web.mark()
    error = caught.value
    assert [repr(i) for i in error.failures] == ["Env(Site.Web[node2])"]
    assert sorted(error.result) == ["ok-node1", "ok-node3"]
    assert "node2: command exited with status 1" in str(error)


def test_skip_policy_goes_on_without_the_failing_host(site: type[Node]) -> None:
    result = env_of(site, on_failure="skip").Web.mark()
    values = {i.host.slug: v for i, v in result.items()}
    assert values["node1"] == "ok-node1" and values["node3"] == "ok-node3"
    assert isinstance(values["node2"], SkippedTaskResult)


def test_interactive_policy_asks_and_retries_the_failing_host(site: type[Node]) -> None:
    out = io.StringIO()
    pty = Pty(stdin=io.StringIO("2\n"), stdout=out, interactive=True)  # 2: Retry
    result = Env(site(), pty).Web.mark()
    assert sorted(result) == ["ok-node1", "ok-node2", "ok-node3"]
    shown = out.getvalue()
    assert shown.count("Continue?") == 2  # the question, and its input line
    assert "node2: 'test node2 != node2" in shown


def test_every_command_is_logged_with_host_duration_and_status(site: type[Node]) -> None:
    out = io.StringIO()
    logger = LoggerInterface()
    logger.attach(DefaultLogger(out))
    with pytest.raises(ParallelActionException):
        Env(site(), silent_pty(), logger).Web.mark()
    lines = out.getvalue().splitlines()
    assert any(re.fullmatch(r" +node2 FAILED \(status 1\) in \d+\.\d\ds", line)
               for line in lines)
    assert sum("SUCCESS in " in line for line in lines) == 2
    assert "Forking <Site.Web[node1]>" in lines


def test_file_transfer(site: type[Node], work: Path, tmp_path: Path) -> None:
    local = tmp_path / "local.txt"
    local.write_text("payload\n")
    host = env_of(site).hosts.filter("db")[0]
    host.put_file(str(local), f"{work}/remote.txt")
    assert (work / "remote.txt").read_text() == "payload\n"
    with host.open(f"{work}/remote.txt", "a") as file:
        file.write("more\n")
    with host.open(f"{work}/remote.txt", "r") as file:
        assert file.read() == "payload\nmore\n"
    host.get_file(f"{work}/remote.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "payload\nmore\n"
    assert host.exists(f"{work}/remote.txt") and not host.exists(f"{work}/nothing")
    assert host.stat(f"{work}/remote.txt").st_size == 13
    assert "remote.txt" in host.listdir(str(work))


def sleeps(testbed: Testbed) -> list[int]:
    return [pid for pid in descendants(testbed.pid) if b"sleep\x0060" in process_texts(pid)]


def test_cancelling_an_array_stops_every_isolation(site: type[Node],
                                                   testbed: Testbed) -> None:
    handle = submit(env_of(site).Web.sleepy)
    assert site.signal.wait(3, deadline=30)
    handle.cancel()
    with pytest.raises(BaseException) as caught:
        handle.result()
    assert type(caught.value).__name__ == "CancelledError"
    deadline = time.monotonic() + 20
    while sleeps(testbed) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling a condition with a deadline
    assert sleeps(testbed) == []

